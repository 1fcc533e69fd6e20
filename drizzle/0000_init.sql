CREATE TABLE `images` (
	`id` text PRIMARY KEY NOT NULL,
	`parent` text,
	`json` blob NOT NULL,
	`ancestry` text NOT NULL,
	`state` text NOT NULL,
	`layer_size` integer,
	`layer_key` text,
	`checksums` text,
	`files` text,
	`diff` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `images_parent_idx` ON `images` (`parent`);--> statement-breakpoint
CREATE TABLE `repositories` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`namespace` text NOT NULL,
	`name` text NOT NULL,
	`full_name` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`private` integer DEFAULT false NOT NULL,
	`index_images` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `repositories_full_name_idx` ON `repositories` (`full_name`);--> statement-breakpoint
CREATE TABLE `tags` (
	`repository_id` integer NOT NULL,
	`name` text NOT NULL,
	`image_id` text NOT NULL,
	`metadata` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`repository_id`, `name`),
	FOREIGN KEY (`repository_id`) REFERENCES `repositories`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `tags_image_idx` ON `tags` (`image_id`);