//! Per-key usage figures at the edge: the isolate's tally (policy in `crate::usage_tally`), counted by the attempt
//! loop and written to D1 in `ctx.wait_until`, never on a request's critical path, at most once per
//! `USAGE_FLUSH_SECONDS` per isolate. The admin page also writes the pending tally (awaited) before it reads the
//! figures, so what it shows includes this isolate's latest requests.

use crate::edge::d1::{num, text};
use crate::usage_tally::{Batch, Tally};
use crate::verdict::Verdict;
use std::cell::RefCell;
use worker::{console_error, Context, D1Database, Env, Result};

thread_local! {
    static TALLY: RefCell<Tally> = RefCell::new(Tally::default());
}

/// Counts one upstream attempt with `key_id` (`status`: the upstream's, when it answered).
pub fn count(key_id: &str, verdict: Verdict, status: Option<u16>, now_s: u64) {
    TALLY.with(|tally| tally.borrow_mut().count(key_id, verdict, status, now_s));
}

/// Writes the tally in the background when a flush is due.
pub fn maybe_flush(env: &Env, ctx: &Context, interval_s: u32, now_s: u64) {
    let Some(batch) = TALLY.with(|tally| tally.borrow_mut().take_if_due(now_s, u64::from(interval_s))) else { return };
    let env = env.clone();
    ctx.wait_until(async move { write(&env, batch, now_s).await });
}

/// Writes whatever is pending now, and waits for it.
pub async fn flush_now(env: &Env, now_s: u64) {
    let batch = TALLY.with(|tally| {
        let mut tally = tally.borrow_mut();
        (tally.pending() > 0).then(|| tally.take(now_s))
    });
    if let Some(batch) = batch {
        write(env, batch, now_s).await;
    }
}

async fn write(env: &Env, batch: Batch, now_s: u64) {
    let result = match env.d1("DB") {
        Ok(db) => add_usage(&db, &batch, now_s).await,
        Err(error) => Err(error),
    };
    if let Err(error) = result {
        console_error!("writing usage figures of {} keys to D1 failed (kept for the next flush): {error}", batch.0.len());
        TALLY.with(|tally| tally.borrow_mut().restore(batch));
    }
}

/// Adds a usage batch to `key_usage`: one upsert for every key in it; keys deleted meanwhile are skipped.
async fn add_usage(db: &D1Database, batch: &Batch, now_s: u64) -> Result<()> {
    let sql = "INSERT INTO key_usage (key_id, requests, successes, rate_limited, errors, last_used_at, last_error, last_error_at, updated_at)
      SELECT json_extract(j.value, '$.id'), json_extract(j.value, '$.requests'), json_extract(j.value, '$.successes'),
             json_extract(j.value, '$.rate_limited'), json_extract(j.value, '$.errors'), json_extract(j.value, '$.last_used_at'),
             json_extract(j.value, '$.last_error'), json_extract(j.value, '$.last_error_at'), ?2
      FROM json_each(?1) AS j WHERE json_extract(j.value, '$.id') IN (SELECT id FROM keys)
      ON CONFLICT (key_id) DO UPDATE SET
        requests = key_usage.requests + excluded.requests,
        successes = key_usage.successes + excluded.successes,
        rate_limited = key_usage.rate_limited + excluded.rate_limited,
        errors = key_usage.errors + excluded.errors,
        last_used_at = max(COALESCE(key_usage.last_used_at, 0), COALESCE(excluded.last_used_at, 0)),
        last_error = CASE WHEN excluded.last_error IS NOT NULL AND excluded.last_error_at >= COALESCE(key_usage.last_error_at, 0)
                          THEN excluded.last_error ELSE key_usage.last_error END,
        last_error_at = CASE WHEN excluded.last_error IS NOT NULL AND excluded.last_error_at >= COALESCE(key_usage.last_error_at, 0)
                             THEN excluded.last_error_at ELSE key_usage.last_error_at END,
        updated_at = excluded.updated_at";
    db.prepare(sql).bind(&[text(&batch.to_json()), num(now_s)])?.run().await?;
    Ok(())
}
