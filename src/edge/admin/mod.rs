//! The admin site at the edge: every request that is not `/health` or `/api/…` lands here. Routing, sessions,
//! CSRF, the throttle, views and validation are decided in `crate::admin`; this module reads requests, talks to D1
//! and the key cache, and writes responses.
//!
//! Order inside a request: route → (assets: answer) → configuration → authenticate (session cookie, or a service
//! key under the guess limit for the JSON API) → for a form post, the CSRF token and origin → parse → act →
//! invalidate the key cache → answer. The only body read before authentication is the sign-in form, and only once
//! it declared a Content-Length within 8 KiB and its attempt was counted (`actions::login`); every body is read
//! with a running byte count and cut off at its limit (`http::read_bytes`).

mod actions;
mod api;
mod auth;
mod http;
mod ops;
mod pages;
mod site;
mod store;

use crate::admin::routes::{route_admin, AdminRoute};
use crate::api_error::ApiError;
use web_sys::{Request, Response};
use worker::{Env, Result};

/// Serves one admin request (`path` and `query` as split by the entry point).
pub async fn handle(req: &Request, env: &Env, path: &str, query: &str) -> Result<Response> {
    match route_admin(&req.method(), path) {
        AdminRoute::Asset(asset) => http::asset(asset, query),
        AdminRoute::Api(call) => api::serve(req, env, call, query).await,
        AdminRoute::NotFound { api: true } => http::api_error(
            &ApiError::not_found("unknown_route", "no such admin API route; see docs/admin-api.md"),
            None,
        ),
        AdminRoute::MethodNotAllowed(allow) if path.starts_with("/admin/api/") => http::api_error(
            &ApiError {
                status: 405,
                kind: "invalid_request_error",
                code: "method_not_allowed",
                message: format!("this route takes {allow}"),
                retry_after_s: None,
            },
            Some(allow),
        ),
        page => site::serve(req, env, page, path, query).await,
    }
}
