-- 001_init.sql - the first leadsync ledger schema.
--
-- Applied by ls_ledger_open() inside one transaction that also sets
-- PRAGMA user_version = 1. Times are unix milliseconds, passed in by the
-- caller.

-- Key/value facts: the sync cursor, the table it belongs to, the last run.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Every row seen in the Azure table: its content hash decides whether a
-- re-read row is new, changed or unchanged.
CREATE TABLE rows (
    partition_key TEXT NOT NULL,
    row_key       TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    timestamp     TEXT,
    lead_id       TEXT,
    first_seen    INTEGER NOT NULL,
    last_seen     INTEGER NOT NULL,
    PRIMARY KEY (partition_key, row_key)
) WITHOUT ROWID;

-- One line per lead: the highest stage it reached, do-not-contact.
CREATE TABLE leads (
    lead_id    TEXT PRIMARY KEY NOT NULL,
    max_stage  INTEGER NOT NULL DEFAULT 0,
    dnc        INTEGER NOT NULL DEFAULT 0 CHECK (dnc IN (0, 1)),
    first_seen INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- One delivery per (sink, row version). Rows are never deleted, so the
-- rowid only grows and orders a lead's deliveries.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    sink            TEXT NOT NULL,
    lead_id         TEXT NOT NULL,
    delivery_id     TEXT NOT NULL,
    payload         TEXT, -- NULL once purged
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'dead', 'superseded')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    last_status     INTEGER,
    last_error      TEXT,
    UNIQUE (sink, delivery_id)
);

-- What is due for a sink, in order.
CREATE INDEX outbox_pending ON outbox (sink, next_attempt_at, id) WHERE state = 'pending';
-- A lead's deliveries per sink: coalescing, one-per-lead, dead letters.
CREATE INDEX outbox_lead ON outbox (sink, lead_id, state);

-- Leads delivered at least once to a sink (lead.created vs lead.updated).
CREATE TABLE sink_leads (
    sink               TEXT NOT NULL,
    lead_id            TEXT NOT NULL,
    first_delivered_at INTEGER NOT NULL,
    last_delivery_id   TEXT,
    PRIMARY KEY (sink, lead_id)
) WITHOUT ROWID;

-- One line per run, for status.
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    mode        TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    exit_code   INTEGER,
    summary     TEXT
);
