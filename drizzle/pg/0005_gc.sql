CREATE TABLE "leases" (
	"name" text PRIMARY KEY NOT NULL,
	"holder" text NOT NULL,
	"expires_at" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "blobs" ADD COLUMN "used_at" bigint;--> statement-breakpoint
ALTER TABLE "images" ADD COLUMN "used_at" bigint;--> statement-breakpoint
CREATE INDEX "blobs_key_idx" ON "blobs" USING btree ("key");--> statement-breakpoint
CREATE INDEX "images_layer_key_idx" ON "images" USING btree ("layer_key");--> statement-breakpoint
CREATE INDEX "repository_blobs_digest_idx" ON "repository_blobs" USING btree ("digest");