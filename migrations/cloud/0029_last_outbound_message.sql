-- What we last said in a conversation (its last outbound message that is not a timeline event),
-- read for every conversation a batch of incoming messages lands in: is this a reply to a
-- reminder? Through `messages_timeline` that read walked back over every customer message since
-- our last one — all of them in a conversation we never answered — and a burst's processing
-- spent more time there than on any other statement (issue 13). This index holds only our
-- messages, so the read is one step.
CREATE INDEX messages_last_outbound ON messages(conversation_id, created_at, id) WHERE direction = 'outbound' AND kind <> 'event';
