/* nested /* comment */ still; */ SELECT 1;
-- line comment;
