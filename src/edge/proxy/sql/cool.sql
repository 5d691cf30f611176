-- One cooldown of one (key, model) pair, computed inside SQLite from the row as it stands: the same arithmetic as
-- crate::cooldown::after_rate_limit (its module docs hold the recipe, and tests/fixtures/cooldown/streak-cases.json
-- the cases both are tested on). Included by src/edge/proxy/store.rs; run by tests/e2e/cool-sql.test.mjs.
-- ?1 key id, ?2 JSON path of the entry ($."<model>"), ?3 the end the hint asked for (unix s), ?4 the provider's next
-- daily reset (unix s), ?5 CONSECUTIVE_429_THRESHOLD, ?6 now (unix ms), ?7 the quota window ('unknown', 'minute',
-- 'day'), ?8 when the attempt was sent (unix ms), ?9 1 when this isolate knows the 429 is an echo (the pair was
-- cooling when sent, or another attempt on it was in flight), else 0.
UPDATE keys SET
  model_coolings = json_set(c.doc, c.path, json_object(
    'end_at', c.new_end, 'total_seconds', c.old_total + c.added, 'streak', c.new_streak, 'at_ms', max(c.old_at_ms, c.now_ms))),
  total_cooling_seconds = keys.total_cooling_seconds + c.added,
  cooling_until = max(keys.cooling_until, c.new_end),
  updated_at = CAST(strftime('%s', 'now') AS INTEGER)
FROM (
  SELECT cid, path, doc, now_ms, new_end, new_streak, old_total, old_at_ms, max(0, new_end - max(old_end, now_s)) AS added
  FROM (
    SELECT cid, path, doc, now_ms, now_s, old_end, old_total, old_at_ms,
      CASE WHEN daily THEN max(old_end, hint_end, reset_at) ELSE max(old_end, hint_end) END AS new_end,
      CASE WHEN daily THEN 0 WHEN step THEN old_streak + 1 ELSE old_streak END AS new_streak
    FROM (
      SELECT *, (win = 'day' OR (step AND old_streak + 1 >= threshold)) AS daily
      FROM (
        SELECT *, (win = 'unknown' AND NOT (echo = 1 OR old_at_ms > sent_at_ms OR old_end * 1000 > sent_at_ms)) AS step
        FROM (
          SELECT cid, path, doc, hint_end, reset_at, threshold, now_ms, now_ms / 1000 AS now_s, win, sent_at_ms, echo,
            CAST(COALESCE(json_extract(doc, path || '.end_at'), 0) AS INTEGER) AS old_end,
            CAST(COALESCE(json_extract(doc, path || '.total_seconds'), 0) AS INTEGER) AS old_total,
            CAST(COALESCE(json_extract(doc, path || '.streak'), 0) AS INTEGER) AS old_streak,
            CAST(COALESCE(json_extract(doc, path || '.at_ms'), 0) AS INTEGER) AS old_at_ms
          FROM (
            SELECT id AS cid, ?2 AS path,
              CAST(?3 AS INTEGER) AS hint_end, CAST(?4 AS INTEGER) AS reset_at, CAST(?5 AS INTEGER) AS threshold,
              CAST(?6 AS INTEGER) AS now_ms, ?7 AS win, CAST(?8 AS INTEGER) AS sent_at_ms, CAST(?9 AS INTEGER) AS echo,
              CASE WHEN json_valid(model_coolings) THEN
                CASE WHEN json_type(model_coolings) = 'object' THEN model_coolings ELSE '{}' END
              ELSE '{}' END AS doc
            FROM keys WHERE id = ?1
          )
        )
      )
    )
  )
) AS c
WHERE keys.id = c.cid
