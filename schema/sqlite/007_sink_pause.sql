-- 007_sink_pause.sql - a sink's pause, kept across runs.
--
-- When a receiver throttles (an API limit: Salesforce REQUEST_LIMIT_EXCEEDED,
-- Dataverse 429, Marketo 606/607/615, HubSpot 429) or cannot be reached, the
-- delivery engine pauses the whole sink: nothing goes to it before `until`,
-- and no delivery counts an attempt for it (only a lead's own rejection
-- makes a dead letter). The pause lives here, not in memory, so runs a few
-- minutes apart (a CronJob) keep honouring it and keep growing it; `status`
-- shows until when and why. A delivery the receiver accepts ends it (the row
-- is deleted).
--   until    unix ms: the sink sends nothing before then
--   reason   the receiver's answer, one line, no secrets
--   streak   pauses in a row without a delivery in between (1-based): the
--            engine's backoff grows with it
--   since    unix ms: when the streak began

CREATE TABLE sink_pause (
    sink       TEXT PRIMARY KEY NOT NULL,
    until      INTEGER NOT NULL,
    reason     TEXT NOT NULL,
    streak     INTEGER NOT NULL DEFAULT 1 CHECK (streak >= 1),
    since      INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
