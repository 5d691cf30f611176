//! The changes the page and the JSON API both make: store them in D1 (or, for "check now", probe the keys and let
//! the re-check record what it found), then drop the provider's cached pool so the very next request in this isolate
//! uses the new keys (other isolates follow within `KEY_CACHE_TTL_SECONDS`).

use super::auth::storage;
use super::store;
use crate::admin::commands::{AddKeys, AddReport, Target};
use crate::api_error::ApiError;
use crate::edge::app::App;
use crate::edge::{cron, proxy};
use crate::recheck::Finding;
use worker::{D1Database, Env};

/// Adds keys and reports what happened to each.
pub async fn add_keys(db: &D1Database, command: AddKeys, now_s: u64) -> Result<AddReport, ApiError> {
    let AddKeys { provider, paste, remark } = command;
    let added = store::insert_keys(db, &provider, &paste.keys, remark.as_deref(), now_s).await.map_err(storage)?;
    proxy::invalidate_pool(&provider);
    Ok(AddReport {
        added,
        already_present: (paste.keys.len() as u64).saturating_sub(added),
        duplicates: paste.duplicates,
        rejected: paste.rejected,
    })
}

/// Deletes keys; returns how many.
pub async fn delete(db: &D1Database, provider: &str, target: &Target) -> Result<u64, ApiError> {
    let deleted = store::delete_keys(db, provider, target).await.map_err(storage)?;
    proxy::invalidate_pool(provider);
    Ok(deleted)
}

/// Unblocks keys; returns how many were blocked.
pub async fn unblock(db: &D1Database, provider: &str, ids: &[String]) -> Result<u64, ApiError> {
    let changed = store::unblock(db, provider, ids).await.map_err(storage)?;
    proxy::invalidate_pool(provider);
    Ok(changed)
}

/// Ends the keys' cooldowns; returns how many keys were touched.
pub async fn reset_cooldowns(db: &D1Database, provider: &str, ids: &[String]) -> Result<u64, ApiError> {
    let changed = store::reset_cooldowns(db, provider, ids).await.map_err(storage)?;
    proxy::invalidate_pool(provider);
    Ok(changed)
}

/// Probes the keys of `provider` among `ids` now (at most `MAX_CHECK_IDS`, checked by the caller) and records the
/// findings as the scheduled re-check does: a key that passes is back in the pool, one found invalid is blocked.
/// Ids the provider does not have are skipped. Returns each probed key's finding.
pub async fn check(app: &App, env: &Env, db: &D1Database, provider: &str, ids: &[String]) -> Result<Vec<(String, Finding)>, ApiError> {
    let ids = store::ids_of_provider(db, provider, ids).await.map_err(storage)?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let findings = cron::check_now(app, env, &ids).await.map_err(storage)?;
    proxy::invalidate_pool(provider);
    Ok(findings)
}

/// Sets a remark; returns the key's provider, or `None` when there is no such key.
pub async fn set_remark(db: &D1Database, id: &str, provider: Option<&str>, remark: Option<&str>) -> Result<Option<String>, ApiError> {
    let found = store::set_remark(db, id, provider, remark).await.map_err(storage)?;
    if let Some(provider) = &found {
        proxy::invalidate_pool(provider);
    }
    Ok(found)
}
