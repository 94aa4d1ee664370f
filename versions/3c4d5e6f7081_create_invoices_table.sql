-- revision: 3c4d5e6f7081
-- down_revision: 1a2b3c4d5e6f
-- branch_labels: [billing]
-- message: create invoices table
-- create_date: 2026-11-03T09:00:00Z

-- +upgrade
CREATE TABLE invoices (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    total_cents BIGINT NOT NULL DEFAULT 0,
    issued_on DATE NOT NULL
);

-- +downgrade
DROP TABLE invoices;
