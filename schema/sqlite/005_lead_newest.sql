-- 005_lead_newest.sql - each lead's newest row version.
--
-- A lead's newest click wins: of two rows of one lead, the newer is the one
-- with the later Timestamp, then CreatedTime, then PartitionKey and RowKey
-- (decided in one place, ls_row_version_compare). The sync engine keeps the
-- newest version it has recorded for each lead here, so a row that shows up
-- late - older than a version already queued or delivered - is recorded but
-- never replaces the newer state at a sink that wants the newest state only.
ALTER TABLE leads ADD COLUMN newest_timestamp TEXT;
ALTER TABLE leads ADD COLUMN newest_created_time TEXT;
ALTER TABLE leads ADD COLUMN newest_partition_key TEXT;
ALTER TABLE leads ADD COLUMN newest_row_key TEXT;

-- A ledger from before this migration: the row with the latest Timestamp
-- of each lead (the service's Timestamps compare as text). CreatedTime was
-- not kept; it stays NULL and so does not decide for these rows.
UPDATE leads SET newest_timestamp = n.timestamp, newest_partition_key = n.partition_key,
                 newest_row_key = n.row_key
  FROM (SELECT lead_id, max(timestamp) AS timestamp, partition_key, row_key
          FROM rows WHERE lead_id IS NOT NULL AND timestamp IS NOT NULL
         GROUP BY lead_id) AS n
 WHERE n.lead_id = leads.lead_id;
