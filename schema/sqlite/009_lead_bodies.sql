-- 009_lead_bodies.sql - a row version's lead body is stored once.
--
-- The outbox held the lead body (the JSON payload, personal data) in every
-- delivery: once per sink, and SQLite rewrote it with the row on every state
-- change (delivered, retry, dead letter). The body now lives here, once per
-- delivery id (one row version), and the outbox refers to it by that id; a
-- delivery's state changes rewrite a short row.
--   delivery_id  the row version, as in outbox.delivery_id (any sink)
--   lead_id      whose body it is, for `leadsync forget`
--   payload      the JSON text as enqueued; NULL once purged or erased
-- `leadsync purge` empties a body once none of its deliveries is pending or
-- a dead letter, and all were last updated before the cut-off.
CREATE TABLE bodies (
    id          INTEGER PRIMARY KEY,
    delivery_id TEXT NOT NULL UNIQUE,
    lead_id     TEXT NOT NULL,
    payload     TEXT
);

-- Existing deliveries keep their bodies: one per delivery id that still had
-- a payload in any sink's delivery (a purged one stays without).
INSERT INTO bodies (delivery_id, lead_id, payload)
SELECT delivery_id, min(lead_id), max(payload) FROM outbox
 WHERE payload IS NOT NULL
 GROUP BY delivery_id
 ORDER BY min(id);

-- The outbox, rebuilt without the payload. Its state check is written as
-- comparisons: SQLite builds a temporary index for an IN list of more than
-- two values each time it checks one, which cost more than the update that
-- a delivery's state change is.
CREATE TABLE outbox_new (
    id              INTEGER PRIMARY KEY,
    sink            TEXT NOT NULL,
    lead_id         TEXT NOT NULL,
    delivery_id     TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state = 'pending' OR state = 'delivered' OR state = 'dead'
                           OR state = 'superseded'),
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    last_status     INTEGER,
    last_error      TEXT,
    UNIQUE (sink, delivery_id)
);
INSERT INTO outbox_new (id, sink, lead_id, delivery_id, state, attempts, created_at, updated_at,
                        next_attempt_at, last_status, last_error)
SELECT id, sink, lead_id, delivery_id, state, attempts, created_at, updated_at, next_attempt_at,
       last_status, last_error
  FROM outbox;
DROP TABLE outbox; -- its indexes and trigger with it
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_pending ON outbox (sink, next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX outbox_lead ON outbox (sink, lead_id, state);

-- 008's trigger, unchanged, on the new table.
CREATE TRIGGER sink_posts_requeue
AFTER UPDATE OF state ON outbox
WHEN OLD.state = 'dead' AND NEW.state = 'pending'
BEGIN
    UPDATE sink_posts SET state = 'requeued', updated_at = NEW.updated_at
     WHERE sink = NEW.sink AND lead_id = NEW.lead_id AND state IN ('posting', 'unknown');
END;
