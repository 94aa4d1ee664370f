SELECT $$ body; $$; SELECT $tag$ x $tag$;
SELECT $a$ never closed
