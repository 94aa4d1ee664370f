-- revision: nm1
-- down_revision: null
-- message: near misses of both markers

-- +upgrade
CREATE TABLE users_v2 (id INTEGER PRIMARY KEY);
-- upgrade the users table to v2
-- downgrade path is lossy
  -- +downgrade
DROP TABLE users_v2;
-- +Downgrade
--+downgrade
-- ++downgrade
-- +downgrade -- trailing note
-- migrate:down
-- +goose Down
-- +UP
