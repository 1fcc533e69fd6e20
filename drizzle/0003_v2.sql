CREATE TABLE `blobs` (
	`digest` text PRIMARY KEY NOT NULL,
	`size` integer NOT NULL,
	`key` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `manifest_references` (
	`repository_id` integer NOT NULL,
	`manifest_digest` text NOT NULL,
	`child_digest` text NOT NULL,
	`kind` text NOT NULL,
	PRIMARY KEY(`repository_id`, `manifest_digest`, `child_digest`),
	FOREIGN KEY (`repository_id`,`manifest_digest`) REFERENCES `manifests`(`repository_id`,`digest`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `manifest_references_child_idx` ON `manifest_references` (`child_digest`);--> statement-breakpoint
CREATE TABLE `manifests` (
	`repository_id` integer NOT NULL,
	`digest` text NOT NULL,
	`media_type` text NOT NULL,
	`content` blob NOT NULL,
	`subject` text,
	`artifact_type` text,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`repository_id`, `digest`),
	FOREIGN KEY (`repository_id`) REFERENCES `repositories`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `manifests_subject_idx` ON `manifests` (`repository_id`,`subject`);--> statement-breakpoint
CREATE TABLE `repository_blobs` (
	`repository_id` integer NOT NULL,
	`digest` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`repository_id`, `digest`),
	FOREIGN KEY (`repository_id`) REFERENCES `repositories`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`digest`) REFERENCES `blobs`(`digest`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `upload_sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`repository` text NOT NULL,
	`offset` integer NOT NULL,
	`chunks` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `upload_sessions_updated_idx` ON `upload_sessions` (`updated_at`);--> statement-breakpoint
PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_tags` (
	`repository_id` integer NOT NULL,
	`name` text NOT NULL,
	`image_id` text,
	`metadata` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`repository_id`, `name`),
	FOREIGN KEY (`repository_id`) REFERENCES `repositories`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
INSERT INTO `__new_tags`("repository_id", "name", "image_id", "metadata", "updated_at") SELECT "repository_id", "name", "image_id", "metadata", "updated_at" FROM `tags`;--> statement-breakpoint
DROP TABLE `tags`;--> statement-breakpoint
ALTER TABLE `__new_tags` RENAME TO `tags`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE INDEX `tags_image_idx` ON `tags` (`image_id`);