-- revision: 6f708192a3b4
-- down_revision: [4d5e6f708192, 5e6f708192a3]
-- message: merge billing into main
-- create_date: 2026-11-06T09:00:00Z

-- +upgrade
-- a merge only joins branches; nothing to run

-- +downgrade
-- a merge only joins branches; nothing to undo
