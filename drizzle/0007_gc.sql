CREATE TABLE `leases` (
	`name` text PRIMARY KEY NOT NULL,
	`holder` text NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `blobs` ADD `used_at` integer;--> statement-breakpoint
CREATE INDEX `blobs_key_idx` ON `blobs` (`key`);--> statement-breakpoint
ALTER TABLE `images` ADD `used_at` integer;--> statement-breakpoint
CREATE INDEX `images_layer_key_idx` ON `images` (`layer_key`);--> statement-breakpoint
CREATE INDEX `repository_blobs_digest_idx` ON `repository_blobs` (`digest`);