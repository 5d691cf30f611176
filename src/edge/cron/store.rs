//! The re-check's D1 adapter: which keys are due, the named keys, and recording what the probes found. What a
//! finding changes about a key is decided by [`crate::recheck::update_for`].

use crate::edge::d1::{cooling_until_of, num, DB_NOW};
use crate::pool::{parse_model_coolings, REMOVALS_KEPT_S};
use crate::recheck::{self, Absence, Finding};
use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{D1Database, Result};

/// A key that is out of the pool, as the re-check reads it.
#[derive(Deserialize)]
pub struct OutKey {
    /// Row id.
    pub id: String,
    /// The provider API key.
    pub key: String,
    /// Provider slug.
    pub provider: String,
    /// `active` or `blocked`.
    pub status: String,
    /// Per-model state.
    pub model_coolings: Option<String>,
    /// Failed checks in a row.
    pub check_failures: Option<f64>,
}

impl OutKey {
    /// Why the key is out of the pool at `now_s` (or that it is in it).
    pub fn absence(&self, now_s: u64) -> Absence {
        Absence::of(&self.status, &parse_model_coolings(self.model_coolings.as_deref()), now_s)
    }
}

const OUT_KEY_COLUMNS: &str = "id, key, provider, status, model_coolings, check_failures";

/// Keys out of the pool whose re-check is due, oldest due first.
pub async fn due_for_check(db: &D1Database, now_s: u64, limit: u32) -> Result<Vec<OutKey>> {
    let sql = format!(
        "SELECT {OUT_KEY_COLUMNS} FROM keys
         WHERE check_after <= ?1 AND (
           status = 'blocked' OR (
             status = 'active' AND json_valid(model_coolings)
             AND CAST(COALESCE(json_extract(model_coolings, '$.\"*\".end_at'), 0) AS INTEGER) > ?1))
         ORDER BY check_after LIMIT ?2"
    );
    db.prepare(sql).bind(&[num(now_s), num(u64::from(limit))])?.all().await?.results::<OutKey>()
}

/// The named keys, whatever their state (the admin page's "check now").
pub async fn keys_by_id(db: &D1Database, ids_json: &str) -> Result<Vec<OutKey>> {
    let sql = format!("SELECT {OUT_KEY_COLUMNS} FROM keys WHERE id IN (SELECT value FROM json_each(?1))");
    db.prepare(sql).bind(&[JsValue::from_str(ids_json)])?.all().await?.results::<OutKey>()
}

/// Records the findings of one re-check run in one batch; what each finding changes is decided by
/// [`recheck::update_for`].
pub async fn record_checks(db: &D1Database, findings: &[(&OutKey, Finding)], now_s: u64) -> Result<()> {
    /// The key's cooldowns after the finding: the all-models entry goes when the key is back (`?3 = 1`).
    const CHECKED_DOC: &str = "CASE WHEN ?3 = 1 AND json_valid(model_coolings) THEN json_remove(model_coolings, '$.\"*\"')
        WHEN json_valid(model_coolings) THEN model_coolings ELSE '{}' END";
    let mut statements = Vec::with_capacity(findings.len());
    for (key, finding) in findings {
        let failures = key.check_failures.map_or(0, |f| f.max(0.0) as u32);
        let update = recheck::update_for(key.absence(now_s), *finding, failures, now_s);
        statements.push(
            db.prepare(format!(
                "UPDATE keys SET status = COALESCE(?2, status), model_coolings = {CHECKED_DOC}, cooling_until = {},
                   check_after = CAST(?4 AS INTEGER), check_failures = CAST(?5 AS INTEGER), last_checked_at = CAST(?6 AS INTEGER),
                   last_check_result = ?7, updated_at = {DB_NOW}
                 WHERE id = ?1",
                cooling_until_of(CHECKED_DOC)
            ))
            .bind(&[
                JsValue::from_str(&key.id),
                update.status.map_or(JsValue::NULL, JsValue::from_str),
                num(u64::from(update.clear_all_models)),
                update.check_after_s.map_or(JsValue::NULL, num),
                num(u64::from(update.failures)),
                num(now_s),
                JsValue::from_str(&update.result),
            ])?,
        );
    }
    if !statements.is_empty() {
        db.batch(statements).await?;
    }
    Ok(())
}

/// Deletes removals older than the change feed keeps them (see [`crate::pool::REMOVALS_KEPT_S`]).
pub async fn prune_removals(db: &D1Database, now_s: u64) -> Result<()> {
    db.prepare("DELETE FROM key_removals WHERE removed_at < ?1")
        .bind(&[num(now_s.saturating_sub(REMOVALS_KEPT_S))])?
        .run()
        .await?;
    Ok(())
}
