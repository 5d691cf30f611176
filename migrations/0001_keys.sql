-- The pool of provider API keys. Column names, types and index names are those of the original TypeScript
-- one-balance, so this migration is a no-op on a database that already holds its `keys` table (IF NOT EXISTS),
-- and an existing deployment can switch to this Worker on the same D1 database.
--
-- model_coolings: JSON object {"<model>": {"end_at": <unix s>, "total_seconds": <int>, "streak": <int>}}.
--   `end_at` is when the key may serve that model again; `total_seconds` is the seconds it has cooled for that model
--   over its life; `streak` (added by this Worker, absent in old rows = 0) counts consecutive 429s with no success.
--   The entry "*" cools the key for every model (spend or credit exhausted).
CREATE TABLE IF NOT EXISTS `keys` (
  `id` text PRIMARY KEY NOT NULL,
  `key` text NOT NULL,
  `provider` text NOT NULL,
  `model_coolings` text,
  `total_cooling_seconds` integer DEFAULT 0 NOT NULL,
  `status` text DEFAULT 'active' NOT NULL,
  `remark` text,
  `created_at` integer DEFAULT (strftime('%s', 'now')) NOT NULL,
  `updated_at` integer DEFAULT (strftime('%s', 'now')) NOT NULL
);

CREATE UNIQUE INDEX IF NOT EXISTS `provider_key_unq_idx` ON `keys` (`provider`, `key`);
CREATE INDEX IF NOT EXISTS `provider_status_created_at_idx` ON `keys` (`provider`, `status`, `created_at`);
CREATE INDEX IF NOT EXISTS `total_cooling_seconds_idx` ON `keys` (`total_cooling_seconds`);
