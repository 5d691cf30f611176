//! The scheduled re-check wing (the Cron Trigger): keys that are out of the pool (blocked or exhausted) are probed
//! with the cheapest request their provider allows, a few at a time within the subrequest limit, and what the
//! probes found is recorded. The same routine serves the admin page's "check now". The policy — which probe, what a
//! finding changes, the back-off — is [`crate::recheck`]; the probe itself is the proxy's
//! ([`crate::edge::proxy::probe`]).

mod store;

use crate::attempt::Destination;
use crate::edge::app::{self, App};
use crate::edge::clock;
use crate::edge::proxy::{self, Probe};
use crate::pool::parse_model_coolings;
use crate::providers;
use crate::recheck::{self, Finding};
use futures_util::future::join_all;
use worker::{console_error, console_log, event, Env, ScheduleContext, ScheduledEvent};

#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let app = match app::app(&env) {
        Ok(app) => app,
        Err(error) => return console_error!("scheduled re-check skipped: {}", error.message),
    };
    match run_due(&app, &env).await {
        Ok(0) => {}
        Ok(count) => console_log!("scheduled re-check: probed {count} keys"),
        Err(error) => console_error!("scheduled re-check failed: {error}"),
    }
}

/// Probes the keys whose re-check is due, and deletes removals the change feed no longer needs; returns how many
/// keys were probed.
pub async fn run_due(app: &App, env: &Env) -> worker::Result<usize> {
    let db = env.d1("DB")?;
    let now_s = clock::now_s();
    store::prune_removals(&db, now_s).await?;
    let due = store::due_for_check(&db, now_s, recheck::PROBES_PER_RUN).await?;
    check(app, &db, &due).await?;
    Ok(due.len())
}

/// Probes the named keys now (the admin page's "check now"), whatever their state; returns the findings by id.
pub async fn check_now(app: &App, env: &Env, ids: &[String]) -> worker::Result<Vec<(String, Finding)>> {
    let db = env.d1("DB")?;
    let ids_json = serde_json::to_string(ids).map_err(|e| worker::Error::RustError(e.to_string()))?;
    let keys = store::keys_by_id(&db, &ids_json).await?;
    let findings = check(app, &db, &keys).await?;
    Ok(findings.into_iter().map(|(key, finding)| (key.id.clone(), finding)).collect())
}

/// Probes `keys` a few at a time, records the findings, and drops the affected providers' cached pools.
async fn check<'a>(app: &App, db: &worker::D1Database, keys: &'a [store::OutKey]) -> worker::Result<Vec<(&'a store::OutKey, Finding)>> {
    let now_s = clock::now_s();
    let mut findings = Vec::with_capacity(keys.len());
    for batch in keys.chunks(5) {
        findings.extend(join_all(batch.iter().map(|key| async move { (key, probe(app, key, now_s).await) })).await);
    }
    store::record_checks(db, &findings, now_s).await?;
    for (key, finding) in &findings {
        if *finding == Finding::Restore {
            proxy::invalidate_pool(&key.provider);
        }
    }
    Ok(findings)
}

async fn probe(app: &App, key: &store::OutKey, now_s: u64) -> Finding {
    let Some(provider) = providers::find(&key.provider) else { return Finding::Unprobeable };
    let coolings = parse_model_coolings(key.model_coolings.as_deref());
    let absence = recheck::Absence::of(&key.status, &coolings, now_s);
    let Some(plan) = recheck::probe_for(provider, absence, &coolings, now_s) else {
        return Finding::Unprobeable;
    };
    let request = Probe {
        destination: Destination {
            provider,
            segment: provider.slug,
            rest: plan.rest.to_string(),
            query: String::new(),
            key_placement: plan.key_placement,
        },
        method: plan.method,
        body: plan.body.as_deref(),
    };
    let short_id = key.id.get(..8).unwrap_or(&key.id);
    recheck::judge(proxy::probe(app, &request, &key.key, short_id).await)
}
