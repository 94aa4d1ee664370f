-- revision: aaa
-- down_revision: null
-- +upgrade
SELECT 1;   

