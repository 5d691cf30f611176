//! The D1 adapter for the key pool: every SQL string the proxy path runs, and the rows it reads.
//!
//! Reads are a window of a provider's active keys ([`load_window`]) and the change feed ([`poll`], see
//! [`crate::pool::read_feed`]). Writes are single atomic statements that set `updated_at` from D1's own clock, so the
//! feed shows them to every isolate. A cooldown is recomputed inside SQLite from the row as it is at that moment, with
//! the same arithmetic as [`crate::cooldown::after_rate_limit`]: the end never moves earlier, and a streak counted by
//! another isolate is not lost. Numbers are bound as JS numbers (exact to 2^53), never as D1's 32-bit integer type.

use crate::pool::{parse_model_coolings, poll_from_json, Poll, PoolKey, Secret, WindowStart, ROWS_PER_POLL};
use crate::edge::d1::{cooling_until_of, num, DB_NOW};
use crate::cooldown::CoolInput;
use crate::recheck;
use crate::verdict::SHORT_WINDOW_MAX_S;
use serde::Deserialize;
use wasm_bindgen::{JsCast, JsValue};
use worker::{D1Database, Error, Result};

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

/// One statement reading D1's clock and a window of `provider`'s active keys as one JSON array, `[now, rows]`:
/// the keys whose id is `from` the pivot in id order, then the smallest ids (`wrap`), at most `?3` in all (`?1`
/// provider, `?2` pivot). Each run is an index range read lazily, so no more than `?3` rows are read, and SQLite
/// runs a `UNION ALL` left to right. The rows cross into wasm as a single string for serde_json, where `results()`
/// would have serde-wasm-bindgen read every field of every row from JS.
fn window_sql(from: &str, wrap: &str) -> String {
    let run = |op: &str| {
        format!("SELECT * FROM (SELECT id, key, model_coolings FROM keys WHERE provider = ?1 AND status = 'active' AND id {op} ?2 ORDER BY id LIMIT ?3)")
    };
    format!(
        "SELECT {DB_NOW} AS now, (SELECT json_group_array(json_object('id', id, 'key', key, 'model_coolings', model_coolings)) FROM
           ({} UNION ALL {} LIMIT ?3)) AS rows",
        run(from),
        run(wrap)
    )
}

/// A window of `provider`'s active keys: those whose id follows `start`, wrapping around to the smallest ids, at most
/// `limit`, in that order. Returns the keys, whether they are all of the provider's active keys, and D1's clock when
/// they were read (the change feed's cursor for them). One round trip.
pub async fn load_window(db: &D1Database, provider: &str, start: &WindowStart, limit: usize) -> Result<(Vec<PoolKey>, bool, u64)> {
    let (pivot, from, wrap) = match start {
        WindowStart::At(pivot) => (pivot, ">=", "<"),
        WindowStart::After(id) => (id, ">", "<="),
    };
    let params = [JsValue::from_str(provider), JsValue::from_str(pivot), num(limit as u64)];
    let rows = db.prepare(window_sql(from, wrap)).bind(&params)?.raw_js_value().await?;
    let row = rows.first().and_then(|row| row.dyn_ref::<js_sys::Array>()).ok_or_else(|| Error::RustError("the key window query returned no row".into()))?;
    let now_s = row.get(0).as_f64().unwrap_or(0.0) as u64;
    let json = row.get(1).as_string().ok_or_else(|| Error::RustError("the key window query returned no JSON".into()))?;
    let mut rows: Vec<KeyRow> = serde_json::from_str(&json).map_err(|error| Error::RustError(format!("the key window's JSON: {error}")))?;
    // SQLite does not promise that `json_group_array` keeps its subquery's order: the window's order is restored
    // here (the ids past the pivot, then the wrapped ones; `ORDER BY id` compares bytes, as `str` does).
    let wrapped = |id: &str| match start {
        WindowStart::At(pivot) => id < pivot.as_str(),
        WindowStart::After(pivot) => id <= pivot.as_str(),
    };
    rows.sort_by(|a, b| (wrapped(&a.id), &a.id).cmp(&(wrapped(&b.id), &b.id)));
    let complete = rows.len() < limit;
    Ok((rows.into_iter().map(KeyRow::into_pool_key).collect(), complete, now_s))
}

/// The change feed's poll (see `sql/poll.sql`): one statement, one row; 1 row read when nothing changed.
const POLL_SQL: &str = include_str!("sql/poll.sql");

#[derive(Deserialize)]
struct PollFields {
    now: f64,
    changed: String,
    removals: Option<String>,
}

/// One look at the change feed from `cursor_s` (see [`POLL_SQL`]): D1's clock, the key rows written since (at most
/// one more than [`ROWS_PER_POLL`]), and the removals since when they can hold news.
pub async fn poll(db: &D1Database, cursor_s: u64) -> Result<Poll> {
    let row = db.prepare(POLL_SQL).bind(&[num(cursor_s), num((ROWS_PER_POLL + 1) as u64)])?.first::<PollFields>(None).await?;
    let Some(row) = row else { return Ok(Poll { db_now_s: cursor_s, rows: Vec::new(), removals: Vec::new() }) };
    poll_from_json(row.now as u64, &row.changed, row.removals.as_deref()).map_err(|error| worker::Error::RustError(format!("the change feed's row: {error}")))
}

/// The JSON path of a model's entry in `model_coolings`. Model names reaching here hold no `"` or control
/// characters (the request parser refuses them).
pub fn model_path(model: &str) -> String {
    format!("$.\"{model}\"")
}

/// Cools (key, model) atomically, recomputing the entry from the row as it stands (see `sql/cool.sql`).
const COOL_SQL: &str = include_str!("sql/cool.sql");

/// Parameters of one cooldown write.
pub struct CoolWrite<'a> {
    /// Key row id.
    pub key_id: &'a str,
    /// Model entry (`"*"` for all models).
    pub model: &'a str,
    /// What the pure plan decided from, bound as it is.
    pub input: &'a CoolInput,
    /// `CONSECUTIVE_429_THRESHOLD`.
    pub threshold: u32,
}

/// Writes a cooldown (see [`COOL_SQL`]).
pub async fn cool(db: &D1Database, write: &CoolWrite<'_>) -> Result<()> {
    let input = write.input;
    db.prepare(COOL_SQL)
        .bind(&[
            JsValue::from_str(write.key_id),
            JsValue::from_str(&model_path(write.model)),
            num(input.until_s),
            num(input.daily_reset_s),
            num(u64::from(write.threshold)),
            num(input.now_ms),
            JsValue::from_str(input.window.label()),
            num(input.sent_at_ms),
            num(u64::from(input.cooling_at_send || input.overlapped)),
        ])?
        .run()
        .await?;
    Ok(())
}

/// After a success: ends the pair's 429 streak and any day-long rest (see [`crate::key_update::parked`]); touches
/// nothing when there is neither.
pub async fn served(db: &D1Database, key_id: &str, model: &str, now_s: u64) -> Result<()> {
    const SERVED_DOC: &str = "json_set(model_coolings, ?2 || '.streak', 0, ?2 || '.end_at',
           CASE WHEN CAST(COALESCE(json_extract(model_coolings, ?2 || '.end_at'), 0) AS INTEGER) > ?4 THEN ?3
                ELSE json_extract(model_coolings, ?2 || '.end_at') END)";
    let sql = format!(
        "UPDATE keys SET model_coolings = {SERVED_DOC}, cooling_until = {}, updated_at = {DB_NOW}
         WHERE id = ?1 AND json_valid(model_coolings) AND (
           COALESCE(json_extract(model_coolings, ?2 || '.streak'), 0) > 0
           OR CAST(COALESCE(json_extract(model_coolings, ?2 || '.end_at'), 0) AS INTEGER) > ?4)",
        cooling_until_of(SERVED_DOC)
    );
    db.prepare(sql)
        .bind(&[JsValue::from_str(key_id), JsValue::from_str(&model_path(model)), num(now_s), num(now_s.saturating_add(SHORT_WINDOW_MAX_S))])?
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
