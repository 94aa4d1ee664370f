-- revision: 5e6f708192a3
-- down_revision: 2b3c4d5e6f70
-- message: add published_at to posts
-- create_date: 2026-11-05T09:00:00Z

-- +upgrade
ALTER TABLE posts ADD COLUMN published_at TIMESTAMP NULL;

-- +downgrade
ALTER TABLE posts DROP COLUMN published_at;
