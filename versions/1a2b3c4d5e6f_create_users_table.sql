-- revision: 1a2b3c4d5e6f
-- down_revision: null
-- message: create users table
-- create_date: 2026-11-01T09:00:00Z

-- +upgrade
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email VARCHAR(255) NOT NULL UNIQUE,
    name VARCHAR(255) NOT NULL
);

-- +downgrade
DROP TABLE users;
