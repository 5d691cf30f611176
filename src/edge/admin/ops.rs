//! The changes the page and the JSON API both make: store them in D1, then drop the provider's cached pool so the
//! very next request in this isolate uses the new keys (other isolates follow within `KEY_CACHE_TTL_SECONDS`).

use super::auth::storage;
use super::store;
use crate::admin::commands::{AddKeys, AddReport, Target};
use crate::api_error::ApiError;
use crate::edge::key_cache;
use worker::D1Database;

/// Adds keys and reports what happened to each.
pub async fn add_keys(db: &D1Database, command: AddKeys, now_s: u64) -> Result<AddReport, ApiError> {
    let AddKeys { provider, paste, remark } = command;
    let added = store::insert_keys(db, &provider, &paste.keys, remark.as_deref(), now_s).await.map_err(storage)?;
    key_cache::invalidate(&provider);
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
    key_cache::invalidate(provider);
    Ok(deleted)
}

/// Unblocks keys; returns how many were blocked.
pub async fn unblock(db: &D1Database, provider: &str, ids: &[String], now_s: u64) -> Result<u64, ApiError> {
    let changed = store::unblock(db, provider, ids, now_s).await.map_err(storage)?;
    key_cache::invalidate(provider);
    Ok(changed)
}

/// Ends the keys' cooldowns; returns how many keys were touched.
pub async fn reset_cooldowns(db: &D1Database, provider: &str, ids: &[String], now_s: u64) -> Result<u64, ApiError> {
    let changed = store::reset_cooldowns(db, provider, ids, now_s).await.map_err(storage)?;
    key_cache::invalidate(provider);
    Ok(changed)
}

/// Sets a remark; returns the key's provider, or `None` when there is no such key.
pub async fn set_remark(db: &D1Database, id: &str, provider: Option<&str>, remark: Option<&str>, now_s: u64) -> Result<Option<String>, ApiError> {
    let found = store::set_remark(db, id, provider, remark, now_s).await.map_err(storage)?;
    if let Some(provider) = &found {
        key_cache::invalidate(provider);
    }
    Ok(found)
}
