DROP TRIGGER IF EXISTS messages_not_empty;
DROP TABLE IF EXISTS messages;
