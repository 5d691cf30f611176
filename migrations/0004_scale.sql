-- The pool at scale (many isolates, up to a million keys, the free plan's row budgets). Idempotent; the original
-- project's `keys` table keeps working with both Workers.

-- Bounded pools: an isolate reads a window of a provider's active keys starting at a random id, through this index.
CREATE INDEX IF NOT EXISTS `keys_provider_status_id_idx` ON `keys` (`provider`, `status`, `id`);

-- The change feed: every write to a key row sets `updated_at` from D1's clock, and an isolate polls the rows
-- changed since its last look through this index (no row read when nothing changed).
CREATE INDEX IF NOT EXISTS `keys_updated_at_idx` ON `keys` (`updated_at`);

-- Deleted rows leave nothing to poll: their removal is written here (`key_id` NULL: many keys of the provider at
-- once, reload it). The scheduled re-check deletes rows older than a day.
CREATE TABLE IF NOT EXISTS `key_removals` (
  `id` integer PRIMARY KEY,
  `provider` text NOT NULL,
  `key_id` text,
  `removed_at` integer NOT NULL
);
CREATE INDEX IF NOT EXISTS `key_removals_removed_at_idx` ON `key_removals` (`removed_at`);

-- No query reads keys by total_cooling_seconds, and the index cost a row written on every cooldown.
DROP INDEX IF EXISTS `total_cooling_seconds_idx`;

-- The scheduled re-check finds due keys through `keys_check_after_idx` (`check_after <= now`); blocked rows of the
-- original project have no date yet, which means "due now".
UPDATE `keys` SET `check_after` = 0 WHERE `check_after` IS NULL AND `status` = 'blocked';
