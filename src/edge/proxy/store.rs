//! The D1 adapter for the key pool: every SQL string the proxy path runs, and the rows it reads.
//!
//! Reads are a window of a provider's active keys ([`load_window`]) and the change feed ([`poll`], see
//! [`crate::pool::read_feed`]). Writes are single atomic statements that set `updated_at` from D1's own clock, so the
//! feed shows them to every isolate. A cooldown is recomputed inside SQLite from the row as it is at that moment, with
//! the same arithmetic as [`crate::cooldown::after_rate_limit`]: the end never moves earlier, and a streak counted by
//! another isolate is not lost. Numbers are bound as JS numbers (exact to 2^53), never as D1's 32-bit integer type.

use crate::pool::{parse_model_coolings, FeedRow, Poll, PoolKey, Removal, Secret, ROWS_PER_POLL};
use crate::edge::d1::num;
use crate::recheck;
use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{D1Database, Result};

#[derive(Deserialize)]
struct KeyRow {
    id: String,
    key: String,
    model_coolings: Option<String>,
}

impl KeyRow {
    fn into_pool_key(self) -> PoolKey {
        PoolKey { coolings: parse_model_coolings(self.model_coolings.as_deref()), id: self.id, secret: Secret::new(self.key) }
    }
}

#[derive(Deserialize)]
struct Clock {
    now: f64,
}

/// D1's clock: every write sets `updated_at` from it, and the change feed's cursor is read from it.
pub const DB_NOW_SQL: &str = "CAST(strftime('%s', 'now') AS INTEGER)";

/// A window of `provider`'s active keys: those whose id follows `pivot`, wrapping around to the smallest ids, at most
/// `limit`. Returns the keys, whether they are all of the provider's active keys, and D1's clock before they were
/// read (the change feed's cursor for them).
pub async fn load_window(db: &D1Database, provider: &str, pivot: &str, limit: usize) -> Result<(Vec<PoolKey>, bool, u64)> {
    const AFTER: &str = "SELECT id, key, model_coolings FROM keys WHERE provider = ?1 AND status = 'active' AND id >= ?2 ORDER BY id LIMIT ?3";
    const BEFORE: &str = "SELECT id, key, model_coolings FROM keys WHERE provider = ?1 AND status = 'active' AND id < ?2 ORDER BY id LIMIT ?3";
    let params = |limit: usize| [JsValue::from_str(provider), JsValue::from_str(pivot), num(limit as u64)];
    let results = db
        .batch(vec![db.prepare(format!("SELECT {DB_NOW_SQL} AS now")), db.prepare(AFTER).bind(&params(limit))?])
        .await?;
    let mut results = results.into_iter();
    let now_s = results.next().and_then(|r| r.results::<Clock>().ok()).and_then(|rows| rows.first().map(|c| c.now as u64)).unwrap_or(0);
    let mut keys: Vec<PoolKey> = match results.next() {
        Some(rows) => rows.results::<KeyRow>()?.into_iter().map(KeyRow::into_pool_key).collect(),
        None => Vec::new(),
    };
    if keys.len() < limit {
        let wrapped = db.prepare(BEFORE).bind(&params(limit - keys.len()))?.all().await?.results::<KeyRow>()?;
        keys.extend(wrapped.into_iter().map(KeyRow::into_pool_key));
    }
    let complete = keys.len() < limit;
    Ok((keys, complete, now_s))
}

#[derive(Deserialize)]
struct FeedRowFields {
    id: String,
    provider: String,
    key: String,
    status: String,
    model_coolings: Option<String>,
}

#[derive(Deserialize)]
struct RemovalFields {
    provider: String,
    key_id: Option<String>,
}

/// One look at the change feed from `cursor_s`: D1's clock, the key rows written since (at most one more than
/// [`ROWS_PER_POLL`]), and the removals since. Three statements in one round trip; when nothing changed, no row is
/// read but the clock.
pub async fn poll(db: &D1Database, cursor_s: u64) -> Result<Poll> {
    let rows_sql = "SELECT id, provider, key, status, model_coolings FROM keys WHERE updated_at >= ?1 ORDER BY updated_at LIMIT ?2";
    let removals_sql = "SELECT provider, key_id FROM key_removals WHERE removed_at >= ?1";
    let results = db
        .batch(vec![
            db.prepare(format!("SELECT {DB_NOW_SQL} AS now")),
            db.prepare(rows_sql).bind(&[num(cursor_s), num((ROWS_PER_POLL + 1) as u64)])?,
            db.prepare(removals_sql).bind(&[num(cursor_s)])?,
        ])
        .await?;
    let mut results = results.into_iter();
    let db_now_s = results.next().and_then(|r| r.results::<Clock>().ok()).and_then(|rows| rows.first().map(|c| c.now as u64)).unwrap_or(cursor_s);
    let rows = match results.next() {
        Some(rows) => rows
            .results::<FeedRowFields>()?
            .into_iter()
            .map(|r| FeedRow { id: r.id, provider: r.provider, key: r.key, status: r.status, model_coolings: r.model_coolings })
            .collect(),
        None => Vec::new(),
    };
    let removals = match results.next() {
        Some(rows) => rows.results::<RemovalFields>()?.into_iter().map(|r| Removal { provider: r.provider, key_id: r.key_id }).collect(),
        None => Vec::new(),
    };
    Ok(Poll { db_now_s, rows, removals })
}

/// The JSON path of a model's entry in `model_coolings`. Model names reaching here hold no `"` or control
/// characters (the request parser refuses them).
pub fn model_path(model: &str) -> String {
    format!("$.\"{model}\"")
}

/// Cools (key, model) atomically: `?3` is the end the hint asked for, `?4` the daily reset the streak rule sends
/// the key to, `?5` the streak threshold, `?6` now, `?7` the streak step (1 for a rate limit, 0 for exhaustion).
/// Bound numbers arrive as JS numbers; they are cast to INTEGER once, in `p`, so the row keeps integer columns.
const COOL_SQL: &str = "
UPDATE keys SET
  model_coolings = json_set(c.doc, c.path, json_object('end_at', c.new_end, 'total_seconds', c.old_total + c.added, 'streak', c.new_streak)),
  total_cooling_seconds = keys.total_cooling_seconds + c.added,
  updated_at = CAST(strftime('%s', 'now') AS INTEGER)
FROM (
  SELECT id AS cid, path, doc, now_s, new_end, new_streak, old_total, max(0, new_end - max(old_end, now_s)) AS added FROM (
    SELECT id, path, doc, now_s, old_end, old_total,
      CASE WHEN step > 0 AND old_streak + step >= threshold THEN max(old_end, hint_end, reset_at) ELSE max(old_end, hint_end) END AS new_end,
      CASE WHEN step > 0 AND old_streak + step >= threshold THEN 0 ELSE old_streak + step END AS new_streak
    FROM (
      SELECT id, path, doc, hint_end, reset_at, threshold, now_s, step,
        CAST(COALESCE(json_extract(doc, path || '.end_at'), 0) AS INTEGER) AS old_end,
        CAST(COALESCE(json_extract(doc, path || '.total_seconds'), 0) AS INTEGER) AS old_total,
        CAST(COALESCE(json_extract(doc, path || '.streak'), 0) AS INTEGER) AS old_streak
      FROM (
        SELECT id, ?2 AS path,
          CAST(?3 AS INTEGER) AS hint_end, CAST(?4 AS INTEGER) AS reset_at, CAST(?5 AS INTEGER) AS threshold,
          CAST(?6 AS INTEGER) AS now_s, CAST(?7 AS INTEGER) AS step,
          CASE WHEN json_valid(model_coolings) THEN
            CASE WHEN json_type(model_coolings) = 'object' THEN model_coolings ELSE '{}' END
          ELSE '{}' END AS doc
        FROM keys WHERE id = ?1
      )
    )
  )
) AS c
WHERE keys.id = c.cid";

/// Parameters of one cooldown write.
pub struct CoolWrite<'a> {
    /// Key row id.
    pub key_id: &'a str,
    /// Model entry (`"*"` for all models).
    pub model: &'a str,
    /// The end the hint asked for.
    pub until_s: u64,
    /// The provider's next daily reset.
    pub daily_reset_s: u64,
    /// `CONSECUTIVE_429_THRESHOLD`.
    pub threshold: u32,
    /// 1 for a rate limit, 0 for exhaustion.
    pub streak_step: u32,
    /// Now, unix seconds.
    pub now_s: u64,
}

/// Writes a cooldown (see [`COOL_SQL`]).
pub async fn cool(db: &D1Database, write: &CoolWrite<'_>) -> Result<()> {
    db.prepare(COOL_SQL)
        .bind(&[
            JsValue::from_str(write.key_id),
            JsValue::from_str(&model_path(write.model)),
            num(write.until_s),
            num(write.daily_reset_s),
            num(u64::from(write.threshold)),
            num(write.now_s),
            num(u64::from(write.streak_step)),
        ])?
        .run()
        .await?;
    Ok(())
}

/// Ends a 429 streak after a success; touches nothing when there is no streak.
pub async fn clear_streak(db: &D1Database, key_id: &str, model: &str) -> Result<()> {
    db.prepare(
        "UPDATE keys SET model_coolings = json_set(model_coolings, ?2 || '.streak', 0), updated_at = CAST(strftime('%s', 'now') AS INTEGER)
         WHERE id = ?1 AND json_valid(model_coolings) AND COALESCE(json_extract(model_coolings, ?2 || '.streak'), 0) > 0",
    )
    .bind(&[JsValue::from_str(key_id), JsValue::from_str(&model_path(model))])?
    .run()
    .await?;
    Ok(())
}

/// Marks a key blocked (reversible on the admin page) and schedules its first re-check.
pub async fn block(db: &D1Database, key_id: &str, now_s: u64) -> Result<()> {
    db.prepare(
        "UPDATE keys SET status = 'blocked', updated_at = CAST(strftime('%s', 'now') AS INTEGER), check_after = CAST(?2 AS INTEGER), check_failures = 0
         WHERE id = ?1 AND status <> 'blocked'",
    )
    .bind(&[JsValue::from_str(key_id), num(now_s.saturating_add(recheck::FIRST_CHECK_AFTER_S))])?
    .run()
    .await?;
    Ok(())
}

/// Schedules the first re-check of a key that just left the pool for spend exhaustion.
pub async fn schedule_check(db: &D1Database, key_id: &str, now_s: u64) -> Result<()> {
    db.prepare("UPDATE keys SET check_after = CAST(?2 AS INTEGER), check_failures = 0 WHERE id = ?1")
        .bind(&[JsValue::from_str(key_id), num(now_s.saturating_add(recheck::FIRST_CHECK_AFTER_S))])?
        .run()
        .await?;
    Ok(())
}
