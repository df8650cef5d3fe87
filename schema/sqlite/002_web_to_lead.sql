-- 002_web_to_lead.sql - the Web-to-Lead sink's record of its posts.
--
-- Salesforce Web-to-Lead cannot deduplicate: every post creates a lead. The
-- outbox learns of a post only when the delivery engine commits its batch,
-- after the post; a crash in between would post the lead again on the next
-- run. So the sink (worker/sinks/sink_web_to_lead.c, through its own
-- connection) marks a lead here, committed before its form goes out:
--   posting   the request may be on its way: outcome unknown
--   created   answered 2xx/3xx: the lead exists in Salesforce
--   unknown   the form went out and no usable answer came (or an error
--             status): it may or may not exist
--   requeued  a human re-queued its dead letter (`leadsync retry`): post it
-- A provable non-send (connection refused, DNS, TLS before the body) deletes
-- the mark. A later delivery of a lead marked posting or unknown is not
-- posted: it becomes a dead letter saying the outcome is unknown.

CREATE TABLE web_to_lead_posts (
    lead_id     TEXT PRIMARY KEY NOT NULL,
    delivery_id TEXT NOT NULL,
    state       TEXT NOT NULL
                CHECK (state IN ('posting', 'created', 'unknown', 'requeued')),
    status      INTEGER, -- HTTP status of the answer, NULL when none
    posted_at   INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- `leadsync retry` turns dead letters back into pending deliveries: for a
-- Web-to-Lead sink, in the same transaction, a lead whose post is not known
-- to have created it is marked re-queued, so a human can force it through.
CREATE TRIGGER web_to_lead_requeue
AFTER UPDATE OF state ON outbox
WHEN OLD.state = 'dead' AND NEW.state = 'pending'
     AND (NEW.sink = 'web_to_lead' OR substr(NEW.sink, 1, 12) = 'web_to_lead:')
BEGIN
    UPDATE web_to_lead_posts SET state = 'requeued', updated_at = NEW.updated_at
     WHERE lead_id = NEW.lead_id AND state IN ('posting', 'unknown');
END;
