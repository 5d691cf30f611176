//! Per-key usage figures at the edge: the isolate's tally (policy in `crate::usage_tally`), counted by the attempt
//! loop and written to D1 in `ctx.wait_until`, never on a request's critical path, at most once per
//! `USAGE_FLUSH_SECONDS` per isolate. The admin page also writes the pending tally (awaited) before it reads the
//! figures, so what it shows includes this isolate's latest requests.

use super::admin::add_usage;
use crate::usage_tally::{Batch, Tally};
use crate::verdict::Verdict;
use std::cell::RefCell;
use worker::{console_error, Context, Env};

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
