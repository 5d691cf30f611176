-- Tables of the admin site and of the per-key usage figures. Idempotent (IF NOT EXISTS); nothing here touches the
-- `keys` table, so a database shared with the original TypeScript one-balance keeps working with both.

-- Failed admin logins per client, for the login throttle: 5 failures within 15 minutes close the door until the
-- window ends. `client` is a keyed hash (HMAC under a key derived from AUTH_KEY) of the address in
-- cf-connecting-ip, never the address itself. Rows of closed windows are deleted when the next failure is written.
CREATE TABLE IF NOT EXISTS `admin_login_failures` (
  `client` text PRIMARY KEY NOT NULL,
  `failures` integer NOT NULL,
  `window_start_s` integer NOT NULL
);

-- Sessions ended with "Log out" before their expiry (sessions are signed tokens, so a logout must be remembered
-- until the token would have expired anyway). `nonce` is the token's random part; rows past `expires_at` are
-- deleted at the next logout.
CREATE TABLE IF NOT EXISTS `admin_revoked_sessions` (
  `nonce` text PRIMARY KEY NOT NULL,
  `expires_at` integer NOT NULL
);

-- Request figures per key, added to in batches by every isolate (at most one write per USAGE_FLUSH_SECONDS per
-- isolate). A key without a row has never been counted. Deleting a key deletes its row. No secondary index: on D1
-- every index on a changed column costs one more row written per update, and the free plan has 100,000 a day.
--   requests: upstream attempts made with the key; successes: 2xx; rate_limited: 429; errors: every other failure
--   (other statuses, time-outs, network errors). last_error: the verdict label and status, e.g. "invalid_key 401".
CREATE TABLE IF NOT EXISTS `key_usage` (
  `key_id` text PRIMARY KEY NOT NULL,
  `requests` integer DEFAULT 0 NOT NULL,
  `successes` integer DEFAULT 0 NOT NULL,
  `rate_limited` integer DEFAULT 0 NOT NULL,
  `errors` integer DEFAULT 0 NOT NULL,
  `last_used_at` integer,
  `last_error` text,
  `last_error_at` integer,
  `updated_at` integer DEFAULT (strftime('%s', 'now')) NOT NULL
);
