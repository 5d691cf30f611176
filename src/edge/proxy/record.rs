//! Recording at the edge: a key update decided by [`crate::key_update`] is applied to the isolate's pool at once and
//! written to D1 in `ctx.wait_until`, after the response, with one atomic statement (see [`super::store`]).

use super::key_cache::{self, SharedPool};
use super::store;
use crate::key_update::KeyUpdate;
use worker::{console_error, Context, Env};

/// Applies `update` about `key_id` to the isolate's cache now and to D1 after the response.
#[allow(clippy::too_many_arguments)]
pub fn apply(ctx: &Context, env: &Env, provider: &str, pool: &SharedPool, key_id: &str, update: KeyUpdate, threshold: u32, now_s: u64) {
    match update {
        KeyUpdate::Nothing => {}
        KeyUpdate::Cool { model, state, until_s, daily_reset_s, streak_step, schedule_check } => {
            key_cache::learn(provider, pool, |p| p.learn_state(key_id, &model, state, now_s));
            let (env, key_id) = (env.clone(), key_id.to_string());
            ctx.wait_until(async move {
                let write = store::CoolWrite { key_id: &key_id, model: &model, until_s, daily_reset_s, threshold, streak_step, now_s };
                match env.d1("DB") {
                    Ok(db) => {
                        report(store::cool(&db, &write).await, "a cooldown");
                        if schedule_check {
                            report(store::schedule_check(&db, &key_id, now_s).await, "a re-check date");
                        }
                    }
                    Err(e) => report(Err(e), "a cooldown"),
                }
            });
        }
        KeyUpdate::ClearStreak { model, state } => {
            key_cache::learn(provider, pool, |p| p.learn_state(key_id, &model, state, now_s));
            let (env, key_id) = (env.clone(), key_id.to_string());
            ctx.wait_until(async move {
                match env.d1("DB") {
                    Ok(db) => report(store::clear_streak(&db, &key_id, &model).await, "a streak reset"),
                    Err(e) => report(Err(e), "a streak reset"),
                }
            });
        }
        KeyUpdate::Block => {
            key_cache::learn(provider, pool, |p| p.learn_blocked(key_id, now_s));
            let (env, key_id) = (env.clone(), key_id.to_string());
            ctx.wait_until(async move {
                match env.d1("DB") {
                    Ok(db) => report(store::block(&db, &key_id, now_s).await, "a block"),
                    Err(e) => report(Err(e), "a block"),
                }
            });
        }
    }
}

fn report(result: worker::Result<()>, what: &str) {
    if let Err(error) = result {
        console_error!("recording {what} in D1 failed: {error}");
    }
}
