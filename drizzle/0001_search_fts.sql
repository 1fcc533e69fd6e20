-- Full-text search over repositories (drizzle-kit cannot express FTS5 virtual tables, so this is a
-- custom migration). The trigram tokenizer gives case-insensitive substring matching, like the
-- original's LIKE '%term%', with bm25 ranking. It is an external-content table kept in step with
-- `repositories` by triggers, so every create/rename/delete updates the index in the same
-- transaction.
CREATE VIRTUAL TABLE `repositories_fts` USING fts5(full_name, description, content='repositories', content_rowid='id', tokenize='trigram');
--> statement-breakpoint
CREATE TRIGGER `repositories_fts_ai` AFTER INSERT ON `repositories` BEGIN
  INSERT INTO repositories_fts(rowid, full_name, description) VALUES (new.id, new.full_name, new.description);
END;
--> statement-breakpoint
CREATE TRIGGER `repositories_fts_ad` AFTER DELETE ON `repositories` BEGIN
  INSERT INTO repositories_fts(repositories_fts, rowid, full_name, description) VALUES ('delete', old.id, old.full_name, old.description);
END;
--> statement-breakpoint
CREATE TRIGGER `repositories_fts_au` AFTER UPDATE OF full_name, description ON `repositories` BEGIN
  INSERT INTO repositories_fts(repositories_fts, rowid, full_name, description) VALUES ('delete', old.id, old.full_name, old.description);
  INSERT INTO repositories_fts(rowid, full_name, description) VALUES (new.id, new.full_name, new.description);
END;
