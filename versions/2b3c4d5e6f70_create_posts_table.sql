-- revision: 2b3c4d5e6f70
-- down_revision: 1a2b3c4d5e6f
-- message: create posts table
-- create_date: 2026-11-02T09:00:00Z

-- +upgrade
CREATE TABLE posts (
    id INTEGER PRIMARY KEY,
    author_id INTEGER NOT NULL REFERENCES users (id),
    title VARCHAR(200) NOT NULL,
    body TEXT NOT NULL
);

-- +downgrade
DROP TABLE posts;
