//! Recording at the edge: a key update decided by [`crate::key_update`] is applied to the isolate's pool at once and
//! written to D1 in `ctx.wait_until`, after the response, with one atomic statement (see [`super::store`]).

use super::key_cache::{self, SharedPool};
use super::probe::{probe, Probe};
use super::store;
use crate::attempt::Destination;
use crate::edge::app::App;
use crate::key_update::KeyUpdate;
use crate::pool::Secret;
use crate::providers::Provider;
use crate::recheck::{self, Absence};
use crate::verdict::{read_probe, ProbeReading};
use std::rc::Rc;
use worker::{console_error, Context, Env};

/// Applies `update` about `key_id` to the isolate's cache now and to D1 after the response.
#[allow(clippy::too_many_arguments)]
pub fn apply(ctx: &Context, env: &Env, provider: &str, pool: &SharedPool, key_id: &str, update: KeyUpdate, threshold: u32, now_s: u64) {
    match update {
        KeyUpdate::Nothing => {}
        KeyUpdate::Cool { model, state, input, schedule_check } => {
            key_cache::learn(provider, pool, |p| p.learn_state(key_id, &model, state, now_s));
            let (env, key_id) = (env.clone(), key_id.to_string());
            ctx.wait_until(async move {
                let write = store::CoolWrite { key_id: &key_id, model: &model, input: &input, threshold };
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
                    Ok(db) => report(store::served(&db, &key_id, &model, now_s).await, "a streak reset"),
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

/// A key that answered like a bad key to a request that could have caused it.
pub struct Suspect {
    /// Row id.
    pub id: String,
    /// Short id, for the gateway's logs.
    pub short_id: String,
    /// The key.
    pub secret: Secret,
}

/// Probes a suspect key after the response with the provider's models listing (a request no client shapes) and
/// blocks it only if the listing is refused too; otherwise the key stays, untouched. A provider without a listing
/// cannot confirm, so its suspect keys stay.
pub fn confirm_suspect(ctx: &Context, env: &Env, app: &Rc<App>, provider: &'static Provider, pool: &SharedPool, suspect: Suspect, now_s: u64) {
    let Some(plan) = recheck::probe_for(provider, Absence::Blocked, &[], now_s) else { return };
    let (env, app, pool) = (env.clone(), app.clone(), pool.clone());
    ctx.wait_until(async move {
        let request = Probe {
            destination: Destination { provider, segment: provider.slug, rest: plan.rest.to_string(), query: String::new(), key_placement: plan.key_placement },
            method: plan.method,
            body: plan.body.as_deref(),
        };
        let verdict = probe(&app, &request, suspect.secret.expose(), &suspect.short_id).await;
        if read_probe(verdict) != ProbeReading::KeyRefused {
            return;
        }
        key_cache::learn(provider.slug, &pool, |p| p.learn_blocked(&suspect.id, now_s));
        match env.d1("DB") {
            Ok(db) => report(store::block(&db, &suspect.id, now_s).await, "a block"),
            Err(e) => report(Err(e), "a block"),
        }
    });
}

fn report(result: worker::Result<()>, what: &str) {
    if let Err(error) = result {
        console_error!("recording {what} in D1 failed: {error}");
    }
}
