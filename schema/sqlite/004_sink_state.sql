-- 004_sink_state.sql - what the ledger keeps per sink, in typed tables
-- instead of string-keyed meta entries.
--
--   sink_counts  deliveries an inline sink made (it keeps no outbox rows),
--                summed into the sink's delivered count by `status`; was
--                meta "inline_delivered:<sink>" = "<n>"
--   sink_usage   the API usage the sink's receiver last reported, for
--                `status` (another process); was meta
--                "api_usage:<sink>" = "<used>/<limit> <unix seconds>"
--
-- Existing values move over; meta keeps only the sync cursor and its table.

CREATE TABLE sink_counts (
    sink             TEXT PRIMARY KEY NOT NULL,
    inline_delivered INTEGER NOT NULL DEFAULT 0 CHECK (inline_delivered >= 0)
) WITHOUT ROWID;

CREATE TABLE sink_usage (
    sink        TEXT PRIMARY KEY NOT NULL,
    used        INTEGER NOT NULL,
    quota       INTEGER NOT NULL, -- the limit the receiver reported
    reported_at INTEGER NOT NULL  -- unix SECONDS
) WITHOUT ROWID;

INSERT INTO sink_counts (sink, inline_delivered)
SELECT substr(key, 18), max(CAST(value AS INTEGER), 0) FROM meta
 WHERE key >= 'inline_delivered:' AND key < 'inline_delivered;';

-- A value not of the form "<used>/<limit> <seconds>" is dropped: `status`
-- ignored it already, and the next round stores a fresh one.
INSERT INTO sink_usage (sink, used, quota, reported_at)
SELECT substr(key, 11),
       CAST(substr(value, 1, instr(value, '/') - 1) AS INTEGER),
       CAST(substr(value, instr(value, '/') + 1, instr(value, ' ') - instr(value, '/') - 1)
            AS INTEGER),
       CAST(substr(value, instr(value, ' ') + 1) AS INTEGER)
  FROM meta
 WHERE key >= 'api_usage:' AND key < 'api_usage;'
   AND value GLOB '[0-9]*/[0-9]* [0-9]*'
   AND value NOT GLOB '*[^0-9/ ]*';

DELETE FROM meta
 WHERE (key >= 'inline_delivered:' AND key < 'inline_delivered;')
    OR (key >= 'api_usage:' AND key < 'api_usage;');
