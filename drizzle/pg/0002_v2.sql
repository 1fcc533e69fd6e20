CREATE TABLE "blobs" (
	"digest" text PRIMARY KEY NOT NULL,
	"size" bigint NOT NULL,
	"key" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "manifest_references" (
	"repository_id" integer NOT NULL,
	"manifest_digest" text NOT NULL,
	"child_digest" text NOT NULL,
	"kind" text NOT NULL,
	CONSTRAINT "manifest_references_repository_id_manifest_digest_child_digest_pk" PRIMARY KEY("repository_id","manifest_digest","child_digest")
);
--> statement-breakpoint
CREATE TABLE "manifests" (
	"repository_id" integer NOT NULL,
	"digest" text NOT NULL,
	"media_type" text NOT NULL,
	"content" "bytea" NOT NULL,
	"subject" text,
	"artifact_type" text,
	"created_at" bigint NOT NULL,
	CONSTRAINT "manifests_repository_id_digest_pk" PRIMARY KEY("repository_id","digest")
);
--> statement-breakpoint
CREATE TABLE "repository_blobs" (
	"repository_id" integer NOT NULL,
	"digest" text NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "repository_blobs_repository_id_digest_pk" PRIMARY KEY("repository_id","digest")
);
--> statement-breakpoint
CREATE TABLE "upload_sessions" (
	"id" text PRIMARY KEY NOT NULL,
	"repository" text NOT NULL,
	"offset" bigint NOT NULL,
	"chunks" integer NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "tags" ALTER COLUMN "image_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "tags" ADD COLUMN "manifest_digest" text;--> statement-breakpoint
ALTER TABLE "manifest_references" ADD CONSTRAINT "manifest_references_repository_id_manifest_digest_manifests_repository_id_digest_fk" FOREIGN KEY ("repository_id","manifest_digest") REFERENCES "public"."manifests"("repository_id","digest") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "manifests" ADD CONSTRAINT "manifests_repository_id_repositories_id_fk" FOREIGN KEY ("repository_id") REFERENCES "public"."repositories"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "repository_blobs" ADD CONSTRAINT "repository_blobs_repository_id_repositories_id_fk" FOREIGN KEY ("repository_id") REFERENCES "public"."repositories"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "repository_blobs" ADD CONSTRAINT "repository_blobs_digest_blobs_digest_fk" FOREIGN KEY ("digest") REFERENCES "public"."blobs"("digest") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "manifest_references_child_idx" ON "manifest_references" USING btree ("child_digest");--> statement-breakpoint
CREATE INDEX "manifests_subject_idx" ON "manifests" USING btree ("repository_id","subject");--> statement-breakpoint
CREATE INDEX "upload_sessions_updated_idx" ON "upload_sessions" USING btree ("updated_at");