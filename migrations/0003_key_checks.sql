-- Scheduled re-checks of keys that are out of the pool (blocked, or exhausted: cooling for every model).
-- A key leaving the pool gets check_after = now + 1 h; each failed probe doubles the wait, up to a day.
-- Rows of the original project get NULL here, which means "due now".
ALTER TABLE `keys` ADD COLUMN `check_after` integer;
ALTER TABLE `keys` ADD COLUMN `check_failures` integer DEFAULT 0 NOT NULL;
ALTER TABLE `keys` ADD COLUMN `last_checked_at` integer;
ALTER TABLE `keys` ADD COLUMN `last_check_result` text;
CREATE INDEX IF NOT EXISTS `keys_check_after_idx` ON `keys` (`check_after`);
