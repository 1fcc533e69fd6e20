-- Substring lookups served by pg_trgm GIN indexes (drizzle-kit cannot create extensions or
-- operator-class indexes, hence this custom migration). pg_trgm ships with PostgreSQL
-- (postgresql-contrib) and is a trusted extension: the database owner may create it.
-- Search (PgMetaStore.search) matches `lower(column) ILIKE '%term%'` on the full name and the
-- description; the indexes serve terms of 3+ characters (shorter ones scan, as SQLite's LIKE does).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
--> statement-breakpoint
CREATE INDEX "repositories_full_name_trgm_idx" ON "repositories" USING gin (lower("full_name") gin_trgm_ops);
--> statement-breakpoint
CREATE INDEX "repositories_description_trgm_idx" ON "repositories" USING gin (lower("description") gin_trgm_ops);
--> statement-breakpoint
-- PgMetaStore.repositoriesListingImage: `index_images LIKE '%<image id>%'` finds the candidate
-- repositories (SQLite's instr() pre-filter) before the exact JSON test.
CREATE INDEX "repositories_index_images_trgm_idx" ON "repositories" USING gin ("index_images" gin_trgm_ops);
