-- revision: 4d5e6f708192
-- down_revision: 3c4d5e6f7081
-- depends_on: [2b3c4d5e6f70]
-- message: add payments for sponsored posts
-- create_date: 2026-11-04T09:00:00Z

-- +upgrade
-- Payments pay for sponsored posts, so this billing revision needs the posts
-- table from the main branch: hence depends_on.
CREATE TABLE payments (
    id INTEGER PRIMARY KEY,
    invoice_id INTEGER NOT NULL REFERENCES invoices (id),
    post_id INTEGER NOT NULL REFERENCES posts (id),
    amount_cents BIGINT NOT NULL
);

-- +downgrade
DROP TABLE payments;
