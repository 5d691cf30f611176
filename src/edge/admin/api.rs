//! The JSON admin API (`/admin/api/…`, documented in docs/admin-api.md): everything the page does, for scripts.
//!
//! Authenticated by an unrestricted service key (`Authorization: Bearer`, or `x-api-key`, `x-goog-api-key`,
//! `api-key`) under the guess limit before anything else is read; no cookies, so no CSRF token. Bodies are JSON (`content-type: application/json`), validated by `crate::admin::commands`
//! with unknown fields refused, and nothing is written unless the whole request is valid.

use super::http::{self, BodyError};
use super::{auth, ops, store};
use crate::admin::commands::{self, AddBody, DeleteBody, IdsBody, RemarkBody};
use crate::admin::listing::{page_count, ListQuery, PER_PAGE};
use crate::admin::rows::{affinity_json, overview, thresholds_json, throttle_json, COUNT_CAP};
use crate::admin::routes::ApiCall;
use crate::admin::wire;
use crate::api_error::ApiError;
use crate::edge::{app, clock, proxy};
use serde_json::{json, Value};
use web_sys::{Request, Response};
use worker::{D1Database, Env, Result};

/// Serves one API call.
pub async fn serve(req: &Request, env: &Env, call: ApiCall<'_>, query: &str) -> Result<Response> {
    match answer(req, env, call, query).await {
        Ok(value) => http::json(200, &value),
        Err(error) => http::api_error(&error, None),
    }
}

async fn json_body(req: &Request) -> std::result::Result<String, ApiError> {
    let content_type = http::header(req, "content-type").unwrap_or_default().to_ascii_lowercase();
    if !content_type.starts_with("application/json") {
        return Err(ApiError {
            status: 415,
            kind: "invalid_request_error",
            code: "unsupported_media_type",
            message: "send the body as JSON with content-type: application/json".to_string(),
            retry_after_s: None,
        });
    }
    http::read_text(req, http::MAX_BODY_BYTES).await.map_err(|error| match error {
        BodyError::TooLarge => ApiError::too_large(http::MAX_BODY_BYTES),
        BodyError::Unreadable => ApiError::bad_request("unreadable_body", "the request body could not be read"),
    })
}

async fn answer(req: &Request, env: &Env, call: ApiCall<'_>, query: &str) -> std::result::Result<Value, ApiError> {
    let app = app::app(env)?;
    let now_s = clock::now_s();
    auth::api_caller(req, &app, env, now_s).await?;
    let db = env.d1("DB").map_err(|_| ApiError::misconfigured("the D1 binding DB is missing from wrangler.jsonc"))?;
    match call {
        ApiCall::Providers => {
            let lines = overview(store::provider_counts(&db, now_s).await.map_err(auth::storage)?);
            let providers: Vec<Value> = lines
                .iter()
                .map(|l| {
                    json!({
                        "provider": l.provider, "known": l.known, "active": l.counts.active, "cooling": l.counts.cooling,
                        "blocked": l.counts.blocked, "total": l.counts.total(),
                    })
                })
                .collect();
            let throttle = throttle_json(&proxy::breaker_figures(&app.config, now_s), now_s);
            Ok(json!({
                "providers": providers, "count_cap": COUNT_CAP, "throttle": throttle, "throttle_thresholds": thresholds_json(&app.config.breaker),
                "affinity": affinity_json(&proxy::affinity_figures()),
            }))
        }
        ApiCall::ListKeys => list(env, &db, query, now_s).await,
        ApiCall::AddKeys => {
            let command = commands::parse_json::<AddBody>(&json_body(req).await?)?.into_command()?;
            Ok(ops::add_keys(&db, command, now_s).await?.to_json())
        }
        ApiCall::Delete => {
            let (provider, target) = commands::parse_json::<DeleteBody>(&json_body(req).await?)?.into_command()?;
            Ok(json!({ "deleted": ops::delete(&db, &provider, &target).await? }))
        }
        ApiCall::Unblock => {
            let (provider, ids) = commands::parse_json::<IdsBody>(&json_body(req).await?)?.into_command()?;
            Ok(json!({ "unblocked": ops::unblock(&db, &provider, &ids).await? }))
        }
        ApiCall::ResetCooldowns => {
            let (provider, ids) = commands::parse_json::<IdsBody>(&json_body(req).await?)?.into_command()?;
            Ok(json!({ "reset": ops::reset_cooldowns(&db, &provider, &ids).await? }))
        }
        ApiCall::Check => {
            let (provider, ids) = commands::parse_json::<IdsBody>(&json_body(req).await?)?.into_check()?;
            let findings = ops::check(&app, env, &db, &provider, &ids).await?;
            let results: Vec<Value> = findings.into_iter().map(|(id, finding)| json!({ "id": id, "result": finding.result() })).collect();
            Ok(json!({ "results": results }))
        }
        ApiCall::GetKey(id) => {
            proxy::flush_usage(env, now_s).await;
            let (provider, record) = store::key_by_id(&db, id, None).await.map_err(auth::storage)?.ok_or_else(unknown_key)?;
            let mut value = record.to_json(now_s, true);
            value["provider"] = Value::String(provider);
            Ok(value)
        }
        ApiCall::UpdateKey(id) => {
            let remark = commands::parse_json::<RemarkBody>(&json_body(req).await?)?.into_command()?;
            let provider = ops::set_remark(&db, id, None, remark.as_deref()).await?.ok_or_else(unknown_key)?;
            Ok(json!({ "id": id, "provider": provider, "remark": remark }))
        }
    }
}

fn unknown_key() -> ApiError {
    ApiError::not_found("unknown_key", "no key has this id")
}

async fn list(env: &Env, db: &D1Database, query: &str, now_s: u64) -> std::result::Result<Value, ApiError> {
    let pairs = wire::parse_pairs(query);
    let provider = wire::first(&pairs, "provider")
        .ok_or_else(|| ApiError::bad_request("invalid_provider", "the query needs provider=<slug>"))
        .and_then(commands::check_provider)?;
    let list = ListQuery::from_pairs(&pairs).map_err(|message| ApiError::bad_request("invalid_query", message))?;
    proxy::flush_usage(env, now_s).await;
    let counts = store::tab_counts(db, &provider, &list, now_s).await.map_err(auth::storage)?;
    let keys = store::list_keys(db, &provider, &list, now_s).await.map_err(auth::storage)?;
    let total = counts.of(list.tab);
    Ok(json!({
        "provider": provider,
        "status": list.tab.code(),
        "q": list.search,
        "sort": list.sort.code(),
        "page": list.page,
        "per_page": PER_PAGE,
        "pages": page_count(total),
        "total": total,
        "counts": counts.to_json(),
        "keys": keys.iter().map(|k| k.to_json(now_s, false)).collect::<Vec<Value>>(),
    }))
}
