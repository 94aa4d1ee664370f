SELECT "a\"; SELECT `b``c`; SELECT E'\'';
