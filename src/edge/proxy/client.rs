//! Reading the client's request: URL parts, allow-listed headers, and the body. (The presented service key is
//! `crate::credentials`' business, checked under the guess limit by `edge::guess_limit`.)
//!
//! The body is read only after the caller is authenticated, and only up to [`MAX_BODY_BYTES`]: whole when its length
//! is known before it is read (a `content-length` the framing holds it to), otherwise with a running byte count.

use super::relay::{self, ReadProblem};
use crate::api_error::ApiError;
use crate::service_keys::Grant;
use crate::upstream::scoped_cache_key;
use js_sys::Uint8Array;
use web_sys::{Headers, Request};

/// Largest request body accepted (Gemini takes inline files up to 20 MB).
pub const MAX_BODY_BYTES: usize = 25 * 1024 * 1024;

/// `(path, query)` of a full URL, without decoding; the query has no `?` and no fragment.
pub fn split_url(url: &str) -> (&str, &str) {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path_and_query = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
    let without_fragment = path_and_query.split('#').next().unwrap_or(path_and_query);
    without_fragment.split_once('?').unwrap_or((without_fragment, ""))
}

/// Longest value of a forwarded header. Upstreams refuse far shorter header blocks (8–16 KiB is usual); an
/// oversized one would fail on every key, spending the pool's attempts on the client's mistake.
pub const MAX_FORWARDED_HEADER_BYTES: usize = 8 * 1024;

/// A copy of the client's headers that may travel upstream: through AI Gateway with its cache scoped to the caller's
/// service key (see [`crate::upstream::scoped_cache_key`]), straight to a provider without any `cf-aig-*` header. A
/// forwarded header over [`MAX_FORWARDED_HEADER_BYTES`] is refused with 431 before any key is used.
pub fn forwarded_headers(headers: &Headers, grant: &Grant, through_gateway: bool) -> Result<Headers, ApiError> {
    let forwarded = relay::forwarded_headers(headers, MAX_FORWARDED_HEADER_BYTES).map_err(|name| ApiError {
        status: 431,
        kind: "invalid_request_error",
        code: "header_too_large",
        message: format!("the {name} header is longer than {MAX_FORWARDED_HEADER_BYTES} bytes"),
        retry_after_s: None,
    })?;
    let scoped = match forwarded.get(CACHE_KEY).ok().flatten() {
        _ if !through_gateway => GATEWAY_HEADERS.iter().try_for_each(|name| forwarded.delete(name)),
        Some(key) => forwarded.set(CACHE_KEY, &scoped_cache_key(grant.position, &key)),
        None => forwarded.delete("cf-aig-cache-ttl").and_then(|()| forwarded.set("cf-aig-skip-cache", "true")),
    };
    scoped.map_err(|_| ApiError::misconfigured("the Worker could not build the upstream headers"))?;
    Ok(forwarded)
}

/// AI Gateway's cache key header.
const CACHE_KEY: &str = "cf-aig-cache-key";

/// The client headers meant for AI Gateway alone.
const GATEWAY_HEADERS: &[&str] = &["cf-aig-cache-key", "cf-aig-cache-ttl", "cf-aig-skip-cache"];

/// How long the client's body may take to arrive (a 20 MB inline file on a slow line).
pub const CLIENT_BODY_TIMEOUT_MS: u64 = 300_000;

/// The body as JS bytes (for replay) and wasm bytes (for parsing); `None` for GET and HEAD.
pub async fn read_body(request: &Request) -> Result<Option<(Uint8Array, Vec<u8>)>, ApiError> {
    let method = request.method();
    if method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD") {
        return Ok(None);
    }
    let declared = request.headers().get("content-length").ok().flatten().and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(ApiError::too_large(MAX_BODY_BYTES));
    }
    match relay::read_request_body(request, MAX_BODY_BYTES, CLIENT_BODY_TIMEOUT_MS).await {
        Ok(bytes) => {
            let copy = bytes.to_vec();
            Ok(Some((bytes, copy)))
        }
        Err(ReadProblem::TooLarge) => Err(ApiError::too_large(MAX_BODY_BYTES)),
        Err(ReadProblem::Unreadable | ReadProblem::Late) => Err(unreadable()),
    }
}

/// The answer to a body that could not be read.
pub fn unreadable() -> ApiError {
    ApiError::bad_request("unreadable_body", "the request body could not be read")
}
