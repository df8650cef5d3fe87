-- 003_sink_names.sql - sinks are known by name.
--
-- A LEADSYNC_SINKS entry may name its sink (sales=salesforce): the outbox,
-- sink_leads and the meta counters then hold that name. The ledger records
-- each configured sink's kind at open, so what depends on the kind does not
-- read it out of the name.
CREATE TABLE sinks (
    name TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL
) WITHOUT ROWID;

-- 002's trigger, for a Web-to-Lead sink under any name.
DROP TRIGGER web_to_lead_requeue;
CREATE TRIGGER web_to_lead_requeue
AFTER UPDATE OF state ON outbox
WHEN OLD.state = 'dead' AND NEW.state = 'pending'
     AND (NEW.sink = 'web_to_lead' OR substr(NEW.sink, 1, 12) = 'web_to_lead:'
          OR NEW.sink IN (SELECT name FROM sinks WHERE kind = 'web_to_lead'))
BEGIN
    UPDATE web_to_lead_posts SET state = 'requeued', updated_at = NEW.updated_at
     WHERE lead_id = NEW.lead_id AND state IN ('posting', 'unknown');
END;
