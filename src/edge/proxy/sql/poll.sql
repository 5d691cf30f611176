-- One look at the change feed (crate::pool::feed) from the cursor ?1 (D1's clock at the isolate's last look, unix s):
-- one row holding D1's clock, the key rows written at or after the cursor (at most ?2: ROWS_PER_POLL + 1) as a JSON
-- array of [id, provider, key, status, model_coolings], and the removals as a JSON array of [provider, key_id] (NULL
-- when they were not read). Included by src/edge/proxy/store.rs; run by tests/scale/feed-sql.test.mjs.
--
-- D1 bills rows read, and every index range read costs one row even when it finds nothing (SQLite's rows-read
-- counter counts the seek). Two range reads (keys, then removals) made a nothing-changed poll read 2 rows: 1,440 an
-- isolate-hour at one poll every 5 s. So the removals are read only when they can hold news:
--   - when a key row changed: an admin's delete also writes `updated_at` of one surviving row (see delete_keys in
--     src/edge/admin/store.rs), so a deletion always shows here as a changed row;
--   - once a minute (the first poll whose clock is in a later minute than its cursor), from the start of the cursor's
--     minute: for a deletion that left no row to touch (the last keys of the table). Every poll since the previous
--     such look had its cursor in that minute, so nothing is skipped.
-- A nothing-changed poll reads 1 row (the seek of keys_updated_at_idx), 2 once a minute: 780 an isolate-hour.
-- The scalar subqueries run only in the CASE branch taken. ?1 is bound as a JS number (a double in SQLite), hence
-- the CASTs before integer division.
SELECT
  CAST(strftime('%s', 'now') AS INTEGER) AS now,
  json_group_array(json_array(c.id, c.provider, c.key, c.status, c.model_coolings)) AS changed,
  CASE
    WHEN CAST(?1 AS INTEGER) / 60 < CAST(strftime('%s', 'now') AS INTEGER) / 60 THEN (
      SELECT json_group_array(json_array(r.provider, r.key_id)) FROM key_removals AS r
      WHERE r.removed_at >= CAST(?1 AS INTEGER) / 60 * 60)
    WHEN count(*) > 0 THEN (
      SELECT json_group_array(json_array(r.provider, r.key_id)) FROM key_removals AS r WHERE r.removed_at >= ?1)
  END AS removals
FROM (SELECT id, provider, key, status, model_coolings FROM keys WHERE updated_at >= ?1 ORDER BY updated_at LIMIT ?2) AS c
