//! The D1 adapter for the key pool: every SQL string the proxy path runs, and the rows it reads.
//!
//! Writes are single atomic statements. A cooldown is recomputed inside SQLite from the row as it is at that moment,
//! with the same arithmetic as [`crate::cooldown::after_rate_limit`]: the end never moves earlier, and a streak
//! counted by another isolate is not lost. Numbers are bound as JS numbers (exact to 2^53), never as D1's 32-bit
//! integer type.

use crate::pool::{parse_model_coolings, PoolKey, Secret};
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

/// Every active key of `provider`, with its per-model state. No cap: a pool of 100,000 keys loads whole.
pub async fn load_active_keys(db: &D1Database, provider: &str) -> Result<Vec<PoolKey>> {
    let rows = db
        .prepare("SELECT id, key, model_coolings FROM keys WHERE provider = ?1 AND status = 'active'")
        .bind(&[JsValue::from_str(provider)])?
        .all()
        .await?
        .results::<KeyRow>()?;
    Ok(rows
        .into_iter()
        .map(|row| PoolKey {
            coolings: parse_model_coolings(row.model_coolings.as_deref()),
            id: row.id,
            secret: Secret::new(row.key),
        })
        .collect())
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
  updated_at = c.now_s
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
pub async fn clear_streak(db: &D1Database, key_id: &str, model: &str, now_s: u64) -> Result<()> {
    db.prepare(
        "UPDATE keys SET model_coolings = json_set(model_coolings, ?2 || '.streak', 0), updated_at = CAST(?3 AS INTEGER)
         WHERE id = ?1 AND json_valid(model_coolings) AND COALESCE(json_extract(model_coolings, ?2 || '.streak'), 0) > 0",
    )
    .bind(&[JsValue::from_str(key_id), JsValue::from_str(&model_path(model)), num(now_s)])?
    .run()
    .await?;
    Ok(())
}

/// Marks a key blocked (reversible on the admin page) and schedules its first re-check.
pub async fn block(db: &D1Database, key_id: &str, now_s: u64) -> Result<()> {
    db.prepare(
        "UPDATE keys SET status = 'blocked', updated_at = CAST(?2 AS INTEGER), check_after = CAST(?3 AS INTEGER), check_failures = 0
         WHERE id = ?1 AND status <> 'blocked'",
    )
    .bind(&[JsValue::from_str(key_id), num(now_s), num(now_s.saturating_add(recheck::FIRST_CHECK_AFTER_S))])?
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
