-- When a key's last cooldown ends (the latest `end_at` of its `model_coolings`, 0 for none), kept by every write
-- that changes a cooldown, so the admin site counts and lists cooling keys through an index instead of reading
-- every key's JSON. Rows written by the original project after this migration keep 0 until this Worker writes them
-- (their cooldowns end within a day). D1 applies each migration once.
ALTER TABLE `keys` ADD COLUMN `cooling_until` integer DEFAULT 0 NOT NULL;
CREATE INDEX IF NOT EXISTS `keys_provider_status_cooling_idx` ON `keys` (`provider`, `status`, `cooling_until`);

-- Rows cooling now (written by earlier versions or by the original project) get their end at once.
UPDATE `keys` SET `cooling_until` = (
  SELECT max(CAST(json_extract(c.value, '$.end_at') AS INTEGER)) FROM json_each(`keys`.`model_coolings`) AS c WHERE c.type = 'object')
WHERE json_valid(`model_coolings`) AND json_type(`model_coolings`) = 'object' AND (
  SELECT max(CAST(json_extract(c.value, '$.end_at') AS INTEGER)) FROM json_each(`keys`.`model_coolings`) AS c WHERE c.type = 'object'
) > CAST(strftime('%s', 'now') AS INTEGER);
