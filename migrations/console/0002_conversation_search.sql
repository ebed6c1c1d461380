-- One full-text document per conversation (the text of all its messages), keyed by the
-- conversation's rowid, so the inbox finds "the newest conversations mentioning colour" from at
-- most one hit per conversation instead of one per message: a word found in 100k messages cost
-- ~45 ms through message_search, ~3 ms this way. Kept up to date by the sync engine for the
-- conversations each pulled page touches (store.rs); message_search still finds single messages.
CREATE VIRTUAL TABLE conversation_search USING fts5(body, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');

INSERT INTO conversation_search (rowid, body)
SELECT c.rowid, group_concat(m.body, ' ')
FROM conversations c JOIN messages m ON m.conversation_id = c.id
GROUP BY c.id;
