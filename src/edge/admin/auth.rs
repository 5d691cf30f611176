//! Who may use the admin site: the session cookie of the pages (with its D1 revocation list), and the service key of
//! the JSON API, checked under the guess limit (`edge::guess_limit`). The sign-in form's own use of the limit is in
//! `super::actions::login`.

use super::{http, store};
use crate::admin::session::{AdminKeys, Session};
use crate::admin::wire;
use crate::api_error::ApiError;
use crate::edge::app::{self, App};
use crate::edge::guess_limit;
use crate::service_keys::Grant;
use web_sys::Request;
use worker::{D1Database, Env};

/// The raw `AUTH_KEY` (the admin keys are derived from the whole string). Only called after `app()` accepted it.
pub fn admin_keys(env: &Env) -> AdminKeys {
    AdminKeys::derive(&app::read(env, "AUTH_KEY").unwrap_or_default())
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

/// The caller of the JSON API, who must present an unrestricted service key in any of the usual key headers
/// (`Authorization: Bearer`, `x-api-key`, `x-goog-api-key`, `api-key`). Wrong keys count against the client's
/// guess budget; a right key from a client this isolate knows costs no D1 access.
pub async fn api_caller<'a>(req: &Request, app: &'a App, env: &Env, now_s: u64) -> Result<&'a Grant, ApiError> {
    let grant = guess_limit::checked_key(app, env, &req.headers(), None, now_s).await?;
    grant.permits_admin().map_err(ApiError::denied)?;
    Ok(grant)
}

/// A D1 failure, as the 500 the operator sees.
pub fn storage(error: worker::Error) -> ApiError {
    worker::console_error!("admin: D1 failed: {error}");
    ApiError::misconfigured("the D1 database could not be read or written; are the migrations applied (migrations/0002_admin.sql)?")
}
