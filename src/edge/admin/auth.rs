//! Who may use the admin site: the session cookie of the pages (with its D1 revocation list), the login throttle,
//! and the `Authorization: Bearer` check of the JSON API. The policy is in `crate::admin::{session, throttle}`.

use super::{http, store};
use crate::admin::session::{AdminKeys, Session};
use crate::admin::login_limit::{self, Gate};
use crate::admin::wire;
use crate::api_error::ApiError;
use crate::service_keys::{Grant, ServiceKeys};
use web_sys::Request;
use worker::{D1Database, Env};

/// The raw `AUTH_KEY` (the admin keys are derived from the whole string). Only called after `app()` accepted it.
pub fn admin_keys(env: &Env) -> AdminKeys {
    let raw = env.secret("AUTH_KEY").ok().map(|s| s.to_string()).or_else(|| env.var("AUTH_KEY").ok().map(|v| v.to_string()));
    AdminKeys::derive(&raw.unwrap_or_default())
}

/// The signed-in session, if the cookie holds a valid token that was not logged out.
pub async fn signed_in(req: &Request, keys: &AdminKeys, db: &D1Database, now_s: u64) -> Result<Option<Session>, ApiError> {
    let Some(token) = http::header(req, "cookie").and_then(|c| wire::cookie(&c, wire::SESSION_COOKIE).map(str::to_string)) else {
        return Ok(None);
    };
    let Ok(session) = keys.verify(&token, now_s) else { return Ok(None) };
    if store::is_revoked(db, &session.nonce).await.map_err(storage)? {
        return Ok(None);
    }
    Ok(Some(session))
}

/// The client tag of the login throttle (from `cf-connecting-ip`; every request without it shares one tag).
pub fn client_tag(req: &Request, keys: &AdminKeys) -> String {
    keys.client_tag(http::header(req, "cf-connecting-ip").as_deref().map(str::trim).unwrap_or("unknown"))
}

/// Whether this client may try to log in now.
pub async fn login_gate(db: &D1Database, client: &str, now_s: u64) -> Result<Gate, ApiError> {
    Ok(login_limit::gate(store::login_failures(db, client).await.map_err(storage)?, now_s))
}

/// The caller of the JSON API, who must present an unrestricted service key as a Bearer token.
pub fn bearer<'a>(req: &Request, service_keys: &'a ServiceKeys, now_s: u64) -> Result<&'a Grant, ApiError> {
    let presented = http::header(req, "authorization")
        .and_then(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string())
        })
        .unwrap_or_default();
    let grant = service_keys.authenticate(&presented, now_s).map_err(ApiError::denied)?;
    grant.permits_admin().map_err(ApiError::denied)?;
    Ok(grant)
}

/// A D1 failure, as the 500 the operator sees.
pub fn storage(error: worker::Error) -> ApiError {
    worker::console_error!("admin: D1 failed: {error}");
    ApiError::misconfigured("the D1 database could not be read or written; are the migrations applied (migrations/0002_admin.sql)?")
}
