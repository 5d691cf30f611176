-- Admin pages that read about (offset + page size) rows, whatever the size of the pool. Idempotent; the original
-- project's `keys` table keeps working with both Workers (its queries by provider and status use the new index).

-- The active and blocked tabs list newest first (`created_at DESC, id`): this index's own order, so a page walks
-- it from the start of the tab instead of sorting the tab. It covers everything the original's
-- `provider_status_created_at_idx` (provider, status, created_at) served, which goes.
CREATE INDEX IF NOT EXISTS `keys_provider_status_created_idx` ON `keys` (`provider`, `status`, `created_at` DESC, `id`);
DROP INDEX IF EXISTS `provider_status_created_at_idx`;

-- The cooling tab lists the cooldowns that end first (`cooling_until, id`) and counts through the same range.
-- Same columns as the index it replaces plus the key's id (which never changes), so no more rows written.
CREATE INDEX IF NOT EXISTS `keys_provider_status_cooling_id_idx` ON `keys` (`provider`, `status`, `cooling_until`, `id`);
DROP INDEX IF EXISTS `keys_provider_status_cooling_idx`;
