-- 006_report_facts.sql - what `leadsync report` counts, kept per row and
-- free of personal data except the customer's country (which `leadsync
-- forget` clears): the row's offer, source and action, its own funnel stage
-- (1 initial interest, 2 trial, 3 active, 4 do-not-contact, 0 unknown) and
-- whether it is a Microsoft validation lead. The sync engine fills them
-- for every new or changed row.
ALTER TABLE rows ADD COLUMN offer_id TEXT;
ALTER TABLE rows ADD COLUMN source TEXT;
ALTER TABLE rows ADD COLUMN action TEXT;
ALTER TABLE rows ADD COLUMN stage INTEGER;
ALTER TABLE rows ADD COLUMN country TEXT;
ALTER TABLE rows ADD COLUMN is_test INTEGER;

-- Rows recorded before this migration: the facts from a payload the outbox
-- still holds (a purged or inline-delivered row stays unknown).
UPDATE rows
   SET offer_id = p.offer_id, source = p.source, action = p.action, country = p.country,
       is_test = p.is_test,
       stage = CASE p.action WHEN 'PLT' THEN 1 WHEN 'StartTestDrive' THEN 2
                             WHEN 'INS' THEN 3 WHEN 'Create' THEN 3 WHEN 'DNC' THEN 4
                             ELSE 0 END
  FROM (SELECT json_extract(payload, '$.partitionKey') AS pk,
               json_extract(payload, '$.rowKey') AS rk,
               json_extract(payload, '$.offerId') AS offer_id,
               json_extract(payload, '$.source') AS source,
               json_extract(payload, '$.action') AS action,
               json_extract(payload, '$.customer.country') AS country,
               json_extract(payload, '$.isTest') AS is_test
          FROM outbox
         WHERE payload IS NOT NULL AND json_valid(payload)
         GROUP BY pk, rk) AS p
 WHERE rows.partition_key = p.pk AND rows.row_key = p.rk;
