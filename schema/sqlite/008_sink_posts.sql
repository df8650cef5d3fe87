-- 008_sink_posts.sql - post marks and a daily post count for any sink whose
-- receiver cannot deduplicate (Salesforce Web-to-Lead: every post creates a
-- lead), kept per sink and written through the ledger's own connection
-- (ls_ledger.h, "A sink's posts"). Replaces 002's web_to_lead_posts, its
-- trigger that named one sink kind, and the meta entry
-- "sink.web_to_lead.posts" = "YYYY-MM-DD N".
--
-- sink_posts: a mark is committed, durably, before the request goes out; the
-- outbox learns of the post only when the delivery engine commits its batch,
-- after the post, so a crash in between leaves the mark to say so:
--   posting   the request may be on its way: outcome unknown
--   created   answered 2xx/3xx: the receiver has it
--   unknown   the request went out and no usable answer came (or an error
--             status): the receiver may or may not have it
--   requeued  a human re-queued its dead letter (`leadsync retry`): post it
-- A provable non-send deletes the mark. A later delivery of a lead marked
-- posting or unknown is not posted: it becomes a dead letter saying the
-- outcome is unknown.
CREATE TABLE sink_posts (
    sink        TEXT NOT NULL,
    lead_id     TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    state       TEXT NOT NULL
                CHECK (state IN ('posting', 'created', 'unknown', 'requeued')),
    status      INTEGER, -- HTTP status of the answer, NULL when none
    posted_at   INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (sink, lead_id)
) WITHOUT ROWID;

-- sink_day_posts: the posts a sink made on one UTC day, raised in the same
-- transaction as the mark, so a daily limit survives restarts and crashes.
CREATE TABLE sink_day_posts (
    sink  TEXT PRIMARY KEY NOT NULL,
    day   TEXT NOT NULL, -- YYYY-MM-DD, UTC
    posts INTEGER NOT NULL CHECK (posts >= 0)
) WITHOUT ROWID;

-- The sinks that kept 002's marks: every Web-to-Lead sink the ledger knows
-- (by kind, or by an unnamed id), else the unnamed "web_to_lead".
CREATE TEMP TABLE w2l_sinks AS
SELECT name AS sink FROM sinks WHERE kind = 'web_to_lead'
 UNION SELECT DISTINCT sink FROM outbox
        WHERE sink = 'web_to_lead' OR substr(sink, 1, 12) = 'web_to_lead:';
INSERT INTO temp.w2l_sinks (sink)
SELECT 'web_to_lead' WHERE NOT EXISTS (SELECT 1 FROM temp.w2l_sinks);

INSERT INTO sink_posts (sink, lead_id, delivery_id, state, status, posted_at, updated_at)
SELECT s.sink, p.lead_id, p.delivery_id, p.state, p.status, p.posted_at, p.updated_at
  FROM web_to_lead_posts p, temp.w2l_sinks s;

-- A count not of the form "YYYY-MM-DD N" is dropped (it read as 0 before).
INSERT INTO sink_day_posts (sink, day, posts)
SELECT s.sink, substr(m.value, 1, 10), CAST(substr(m.value, 12) AS INTEGER)
  FROM meta m, temp.w2l_sinks s
 WHERE m.key = 'sink.web_to_lead.posts'
   AND m.value GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9]*'
   AND substr(m.value, 12) NOT GLOB '*[^0-9]*';

DROP TABLE temp.w2l_sinks;
DELETE FROM meta WHERE key = 'sink.web_to_lead.posts';
DROP TRIGGER web_to_lead_requeue;
DROP TABLE web_to_lead_posts;

-- `leadsync retry` turns dead letters back into pending deliveries; in the
-- same transaction, a lead whose post is not known to have reached that
-- sink's receiver is marked re-queued, so a human can force it through.
CREATE TRIGGER sink_posts_requeue
AFTER UPDATE OF state ON outbox
WHEN OLD.state = 'dead' AND NEW.state = 'pending'
BEGIN
    UPDATE sink_posts SET state = 'requeued', updated_at = NEW.updated_at
     WHERE sink = NEW.sink AND lead_id = NEW.lead_id AND state IN ('posting', 'unknown');
END;
