//! The D1 adapter of the admin site: every SQL string it runs, and the rows it reads, turned into
//! `crate::admin::rows` types.
//!
//! SQL text is only ever built from the constants below; values travel as bound parameters, numbers as JS numbers
//! (D1's integer binding is 32-bit). Lists of keys or ids travel as ONE JSON parameter read with `json_each`, so a
//! statement stays far under D1's 100-parameter limit however many keys it touches. A cooldown counts as running
//! when any entry of `model_coolings` has `end_at` later than now; malformed JSON counts as no cooldown.

use crate::admin::commands::Target;
use crate::admin::listing::{ListQuery, Sort, Tab, PER_PAGE};
use crate::admin::rows::{CheckState, Counts, KeyRecord, UsageFigures, COUNT_CAP};
use crate::pool::{parse_model_coolings, Secret};
use serde::Deserialize;
use crate::edge::d1::DB_NOW;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, Result};

/// Keys per insert statement: one JSON parameter of at most 1,000 keys × 512 characters stays under D1's 2 MB
/// value limit.
pub const INSERT_CHUNK: usize = 1_000;

fn num(value: u64) -> JsValue {
    JsValue::from_f64(value as f64)
}

fn text(value: &str) -> JsValue {
    JsValue::from_str(value)
}

fn json_list(items: &[String]) -> JsValue {
    text(&serde_json::Value::from(items.to_vec()).to_string())
}

/// `model_coolings` as a JSON object whatever is stored (NULL, malformed or non-object text → `{}`).
macro_rules! coolings_of {
    ($column:literal) => {
        concat!(
            "CASE WHEN json_valid(", $column, ") THEN CASE WHEN json_type(", $column, ") = 'object' THEN ", $column,
            " ELSE '{}' END ELSE '{}' END"
        )
    };
}

/// Whether key `k` is cooling for some model at `?1` (now): the `cooling_until` column every cooldown write keeps,
/// read through the `(provider, status, cooling_until)` index.
const COOLING: &str = "k.cooling_until > ?1";

/// Search by key fragment or remark: `?3` is a LIKE pattern with wildcards escaped, or '' for no search.
const SEARCH: &str = r"(?3 = '' OR k.key LIKE ?3 ESCAPE '\' OR k.remark LIKE ?3 ESCAPE '\')";

/// A tab's filter in the page query. The active tab's cooldown test is `+k.cooling_until` (no index on that term),
/// so SQLite walks `keys_provider_status_created_idx` in the order of the page instead of reading the whole
/// `cooling_until` range and sorting it.
fn tab_sql(tab: Tab) -> &'static str {
    match tab {
        Tab::Active => "k.status = 'active' AND +k.cooling_until <= ?1",
        Tab::Cooling => "k.status = 'active' AND k.cooling_until > ?1",
        Tab::Blocked => "k.status = 'blocked'",
    }
}

/// A page's order. The default ("created") order is an index's own order, so a page reads about offset + page
/// rows: `(provider, status, created_at DESC, id)` for the active and blocked tabs; the cooling tab lists the
/// cooldowns that end first, `(provider, status, cooling_until, id)`, since a range on `cooling_until` cannot be
/// walked in `created_at` order. The cooling and usage sorts read and sort the whole tab.
fn sort_sql(tab: Tab, sort: Sort) -> &'static str {
    match (tab, sort) {
        (Tab::Cooling, Sort::Created) => "k.cooling_until, k.id",
        (_, Sort::Created) => "k.created_at DESC, k.id",
        (_, Sort::Cooling) => "k.total_cooling_seconds DESC, k.created_at DESC, k.id",
        (_, Sort::Usage) => "COALESCE(u.requests, 0) DESC, k.created_at DESC, k.id",
    }
}

#[derive(Deserialize)]
struct CountRow {
    provider: Option<String>,
    active: Option<f64>,
    cooling: Option<f64>,
    blocked: Option<f64>,
}

fn whole(value: Option<f64>) -> u64 {
    value.filter(|v| v.is_finite() && *v > 0.0).map_or(0, |v| v as u64)
}

impl CountRow {
    fn counts(&self) -> Counts {
        Counts { active: whole(self.active), cooling: whole(self.cooling), blocked: whole(self.blocked) }
    }
}

/// The three capped counts of provider `p.provider` at `?1` (now), `?2` = [`COUNT_CAP`] + 1, each one index range.
const CAPPED_COUNTS: &str = "
  (SELECT count(*) FROM (SELECT 1 FROM keys WHERE provider = p.provider AND status = 'active' AND cooling_until <= ?1 LIMIT ?2)) AS active,
  (SELECT count(*) FROM (SELECT 1 FROM keys WHERE provider = p.provider AND status = 'active' AND cooling_until > ?1 LIMIT ?2)) AS cooling,
  (SELECT count(*) FROM (SELECT 1 FROM keys WHERE provider = p.provider AND status = 'blocked' LIMIT ?2)) AS blocked";

/// Counts of every provider slug that has keys. The slugs are found by a loose index scan (one index entry per
/// provider), the counts by capped index ranges: a view reads at most 3 × ([`COUNT_CAP`] + 1) rows per provider.
pub async fn provider_counts(db: &D1Database, now_s: u64) -> Result<Vec<(String, Counts)>> {
    let sql = format!(
        "WITH RECURSIVE p(provider) AS (
           SELECT (SELECT min(provider) FROM keys)
           UNION ALL SELECT (SELECT min(provider) FROM keys WHERE provider > p.provider) FROM p WHERE p.provider IS NOT NULL)
         SELECT p.provider AS provider, {CAPPED_COUNTS} FROM p WHERE p.provider IS NOT NULL ORDER BY p.provider"
    );
    let rows = db.prepare(sql).bind(&[num(now_s), num(COUNT_CAP + 1)])?.all().await?.results::<CountRow>()?;
    Ok(rows.into_iter().filter_map(|row| Some((row.provider.clone()?, row.counts()))).collect())
}

fn search_param(query: &ListQuery) -> JsValue {
    text(&query.like_pattern().unwrap_or_default())
}

/// Counts per tab of one provider, with the search applied: capped index ranges without a search; with one, the
/// provider's keys are read (a fragment of a key or remark can be anywhere in it).
pub async fn tab_counts(db: &D1Database, provider: &str, query: &ListQuery, now_s: u64) -> Result<Counts> {
    let row = match query.like_pattern() {
        None => {
            let sql = format!("SELECT ?3 AS provider, {CAPPED_COUNTS} FROM (SELECT ?3 AS provider) AS p");
            db.prepare(sql).bind(&[num(now_s), num(COUNT_CAP + 1), text(provider)])?.first::<CountRow>(None).await?
        }
        Some(_) => {
            let sql = format!(
                "SELECT NULL AS provider, COALESCE(SUM(k.status = 'active' AND NOT {COOLING}), 0) AS active,
                   COALESCE(SUM(k.status = 'active' AND {COOLING}), 0) AS cooling, COALESCE(SUM(k.status = 'blocked'), 0) AS blocked
                 FROM keys AS k WHERE k.provider = ?2 AND {SEARCH}"
            );
            db.prepare(sql).bind(&[num(now_s), text(provider), search_param(query)])?.first::<CountRow>(None).await?
        }
    };
    Ok(row.map(|r| r.counts()).unwrap_or_default())
}

#[derive(Deserialize)]
struct KeyRow {
    id: String,
    key: String,
    provider: String,
    status: String,
    remark: Option<String>,
    created_at: Option<f64>,
    total_cooling_seconds: Option<f64>,
    model_coolings: Option<String>,
    requests: Option<f64>,
    successes: Option<f64>,
    rate_limited: Option<f64>,
    errors: Option<f64>,
    last_used_at: Option<f64>,
    last_error: Option<String>,
    last_error_at: Option<f64>,
    check_after: Option<f64>,
    check_failures: Option<f64>,
    last_checked_at: Option<f64>,
    last_check_result: Option<String>,
}

impl KeyRow {
    fn record(self) -> KeyRecord {
        KeyRecord {
            coolings: parse_model_coolings(self.model_coolings.as_deref()),
            id: self.id,
            secret: Secret::new(self.key),
            status: self.status,
            remark: self.remark,
            created_at_s: whole(self.created_at),
            total_cooling_s: whole(self.total_cooling_seconds),
            usage: UsageFigures {
                requests: whole(self.requests),
                successes: whole(self.successes),
                rate_limited: whole(self.rate_limited),
                errors: whole(self.errors),
                last_used_at_s: self.last_used_at.map(|v| whole(Some(v))),
                last_error: self.last_error,
                last_error_at_s: self.last_error_at.map(|v| whole(Some(v))),
            },
            check: CheckState {
                last_checked_at_s: self.last_checked_at.map(|v| whole(Some(v))),
                last_result: self.last_check_result,
                check_after_s: self.check_after.map(|v| whole(Some(v))),
                failures: whole(self.check_failures),
            },
        }
    }
}

const KEY_COLUMNS: &str = "k.id AS id, k.key AS key, k.provider AS provider, k.status AS status, k.remark AS remark,
  k.created_at AS created_at, k.total_cooling_seconds AS total_cooling_seconds, k.model_coolings AS model_coolings,
  u.requests AS requests, u.successes AS successes, u.rate_limited AS rate_limited, u.errors AS errors,
  u.last_used_at AS last_used_at, u.last_error AS last_error, u.last_error_at AS last_error_at,
  k.check_after AS check_after, k.check_failures AS check_failures, k.last_checked_at AS last_checked_at,
  k.last_check_result AS last_check_result
  FROM keys AS k LEFT JOIN key_usage AS u ON u.key_id = k.id";

/// One page of a provider's keys.
pub async fn list_keys(db: &D1Database, provider: &str, query: &ListQuery, now_s: u64) -> Result<Vec<KeyRecord>> {
    let sql = format!(
        "SELECT {KEY_COLUMNS} WHERE k.provider = ?2 AND {} AND {SEARCH} ORDER BY {} LIMIT ?4 OFFSET ?5",
        tab_sql(query.tab),
        sort_sql(query.tab, query.sort)
    );
    let rows = db
        .prepare(sql)
        .bind(&[num(now_s), text(provider), search_param(query), num(u64::from(PER_PAGE)), num(query.offset())])?
        .all()
        .await?
        .results::<KeyRow>()?;
    Ok(rows.into_iter().map(KeyRow::record).collect())
}

/// One key by id, with its provider; `provider` narrows the lookup when given.
pub async fn key_by_id(db: &D1Database, id: &str, provider: Option<&str>) -> Result<Option<(String, KeyRecord)>> {
    let sql = format!("SELECT {KEY_COLUMNS} WHERE k.id = ?1 AND (?2 = '' OR k.provider = ?2)");
    let row = db.prepare(sql).bind(&[text(id), text(provider.unwrap_or_default())])?.first::<KeyRow>(None).await?;
    Ok(row.map(|row| (row.provider.clone(), row.record())))
}

/// Which of `ids` are keys of `provider` (a "check now" probes only those).
pub async fn ids_of_provider(db: &D1Database, provider: &str, ids: &[String]) -> Result<Vec<String>> {
    #[derive(Deserialize)]
    struct Row {
        id: String,
    }
    let rows = db
        .prepare("SELECT id FROM keys WHERE +provider = ?1 AND id IN (SELECT value FROM json_each(?2)) ORDER BY id")
        .bind(&[text(provider), json_list(ids)])?
        .all()
        .await?
        .results::<Row>()?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// A random version-4 uuid, made by SQLite per row.
const UUID_SQL: &str = "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' ||
  substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))";

/// Inserts `keys` (distinct, validated) in chunks of [`INSERT_CHUNK`], all in one transaction; keys the provider
/// already has are left alone. Returns how many were inserted.
pub async fn insert_keys(db: &D1Database, provider: &str, keys: &[String], remark: Option<&str>, now_s: u64) -> Result<u64> {
    let sql = format!(
        "INSERT INTO keys (id, key, provider, model_coolings, total_cooling_seconds, status, remark, created_at, updated_at)
         SELECT {UUID_SQL}, j.value, ?1, '{{}}', 0, 'active', ?3, ?4, {DB_NOW} FROM json_each(?2) AS j WHERE true
         ON CONFLICT (provider, key) DO NOTHING"
    );
    let remark = remark.map_or(JsValue::NULL, text);
    let statements = keys
        .chunks(INSERT_CHUNK)
        .map(|chunk| db.prepare(sql.as_str()).bind(&[text(provider), json_list(chunk), remark.clone(), num(now_s)]))
        .collect::<Result<Vec<D1PreparedStatement>>>()?;
    if statements.is_empty() {
        return Ok(0);
    }
    let results = db.batch(statements).await?;
    let mut added = 0;
    for result in results {
        added += result.meta()?.and_then(|m| m.changes).unwrap_or(0) as u64;
    }
    Ok(added)
}

/// Deletes the target keys of `provider` and their usage rows, and records the removal for the change feed (each id,
/// or one bulk row that makes every isolate reload the provider; and one surviving row touched), in one transaction.
/// Returns how many keys went.
pub async fn delete_keys(db: &D1Database, provider: &str, target: &Target) -> Result<u64> {
    let (filter, ids) = match target {
        Target::Ids(ids) => ("+provider = ?1 AND id IN (SELECT value FROM json_each(?2))", Some(json_list(ids))),
        Target::AllBlocked => ("provider = ?1 AND status = 'blocked'", None),
        Target::AllActive => ("provider = ?1 AND status = 'active'", None),
    };
    let removal = match target {
        Target::Ids(_) => format!(
            "INSERT INTO key_removals (provider, key_id, removed_at)
             SELECT ?1, id, {DB_NOW} FROM keys WHERE {filter}"
        ),
        Target::AllBlocked | Target::AllActive => format!("INSERT INTO key_removals (provider, key_id, removed_at) VALUES (?1, NULL, {DB_NOW})"),
    };
    let mut params = vec![text(provider)];
    params.extend(ids);
    let usage = db
        .prepare(format!("DELETE FROM key_usage WHERE key_id IN (SELECT id FROM keys WHERE {filter})"))
        .bind(&params)?;
    let removal = db.prepare(removal).bind(&params[..if matches!(target, Target::Ids(_)) { 2 } else { 1 }])?;
    let keys = db.prepare(format!("DELETE FROM keys WHERE {filter}")).bind(&params)?;
    // The change feed reads the removals only when a key row changed (src/edge/proxy/sql/poll.sql: one row read per
    // poll when nothing did), so the deletion touches the most recently written surviving row: every isolate sees
    // it at its next poll. When no row is left, the feed's once-a-minute look at the removals finds the deletion.
    let touch = db.prepare(format!("UPDATE keys SET updated_at = {DB_NOW} WHERE rowid = (SELECT rowid FROM keys ORDER BY updated_at DESC LIMIT 1)"));
    let results = db.batch(vec![usage, removal, keys, touch]).await?;
    Ok(match results.get(2) {
        Some(result) => result.meta()?.and_then(|m| m.changes).unwrap_or(0) as u64,
        None => 0,
    })
}

async fn changes(statement: D1PreparedStatement) -> Result<u64> {
    Ok(statement.run().await?.meta()?.and_then(|m| m.changes).unwrap_or(0) as u64)
}

/// Makes blocked keys active again (and drops their re-check date). Returns how many changed.
pub async fn unblock(db: &D1Database, provider: &str, ids: &[String]) -> Result<u64> {
    let sql = format!(
        "UPDATE keys SET status = 'active', updated_at = {DB_NOW}, check_after = NULL, check_failures = 0
         WHERE provider = ?1 AND status = 'blocked' AND id IN (SELECT value FROM json_each(?2))"
    );
    changes(db.prepare(sql).bind(&[text(provider), json_list(ids)])?).await
}

/// Ends every cooldown and 429 streak of the keys (and an active key's re-check date); each model's lifetime total
/// is kept. Returns how many changed.
pub async fn reset_cooldowns(db: &D1Database, provider: &str, ids: &[String]) -> Result<u64> {
    let sql = concat!(
        "UPDATE keys SET model_coolings = (
           SELECT json_group_object(c.key, CASE WHEN c.type = 'object' THEN json_set(c.value, '$.end_at', 0, '$.streak', 0)
                                           ELSE json_object('end_at', 0) END)
           FROM json_each(",
        coolings_of!("keys.model_coolings"),
        ") AS c), cooling_until = 0, updated_at = CAST(strftime('%s', 'now') AS INTEGER),
           check_after = CASE WHEN status = 'active' THEN NULL ELSE check_after END
         WHERE +provider = ?1 AND id IN (SELECT value FROM json_each(?2))"
    );
    changes(db.prepare(sql).bind(&[text(provider), json_list(ids)])?).await
}

/// Sets a key's remark; `provider` narrows the update when given. Returns the key's provider if it exists.
pub async fn set_remark(db: &D1Database, id: &str, provider: Option<&str>, remark: Option<&str>) -> Result<Option<String>> {
    #[derive(Deserialize)]
    struct Row {
        provider: String,
    }
    let sql = format!("UPDATE keys SET remark = ?3, updated_at = {DB_NOW} WHERE id = ?1 AND (?2 = '' OR provider = ?2) RETURNING provider");
    let row = db
        .prepare(sql)
        .bind(&[text(id), text(provider.unwrap_or_default()), remark.map_or(JsValue::NULL, text)])?
        .first::<Row>(None)
        .await?;
    Ok(row.map(|r| r.provider))
}

/// One key in full (the copy button).
pub async fn secret(db: &D1Database, provider: &str, id: &str) -> Result<Option<String>> {
    #[derive(Deserialize)]
    struct Row {
        key: String,
    }
    let row = db
        .prepare("SELECT key FROM keys WHERE provider = ?1 AND id = ?2")
        .bind(&[text(provider), text(id)])?
        .first::<Row>(None)
        .await?;
    Ok(row.map(|r| r.key))
}

/// Whether the session with this nonce was logged out.
pub async fn is_revoked(db: &D1Database, nonce: &str) -> Result<bool> {
    #[derive(Deserialize)]
    struct Row {
        revoked: f64,
    }
    let row = db
        .prepare("SELECT 1 AS revoked FROM admin_revoked_sessions WHERE nonce = ?1")
        .bind(&[text(nonce)])?
        .first::<Row>(None)
        .await?;
    Ok(row.is_some_and(|r| r.revoked > 0.0))
}

/// Remembers a logged-out session until it would have expired, and forgets expired ones.
pub async fn revoke(db: &D1Database, nonce: &str, expires_at_s: u64, now_s: u64) -> Result<()> {
    let insert = db
        .prepare("INSERT INTO admin_revoked_sessions (nonce, expires_at) VALUES (?1, ?2) ON CONFLICT (nonce) DO NOTHING")
        .bind(&[text(nonce), num(expires_at_s)])?;
    let sweep = db.prepare("DELETE FROM admin_revoked_sessions WHERE expires_at <= ?1").bind(&[num(now_s)])?;
    db.batch(vec![insert, sweep]).await?;
    Ok(())
}

