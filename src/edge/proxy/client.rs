//! Reading the client's request: URL parts, the presented service key, allow-listed headers, and the body.
//!
//! The body is read only after the caller is authenticated, and only up to [`MAX_BODY_BYTES`], with a running byte
//! count whether or not the client declared a length.

use super::relay::{self, ReadProblem};
use crate::api_error::ApiError;
use crate::providers::KeyPlacement;
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

/// The value of `authorization: Bearer <x>` or of a key header.
fn presented_in(headers: &Headers, placement: KeyPlacement) -> Option<String> {
    let value = headers.get(placement.header_name()).ok().flatten()?;
    let value = value.trim();
    let key = match placement {
        KeyPlacement::Bearer => {
            let (scheme, token) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())?
        }
        KeyPlacement::Header(_) => value,
    };
    (!key.is_empty()).then(|| key.to_string())
}

/// The service key the caller presented in any of `placements` (or `?key=`). Several different keys are refused.
pub fn presented_key(
    headers: &Headers,
    placements: impl Iterator<Item = KeyPlacement>,
    query_key: Option<String>,
) -> Result<String, ApiError> {
    let mut found: Option<String> = None;
    for candidate in placements.filter_map(|p| presented_in(headers, p)).chain(query_key.filter(|k| !k.is_empty())) {
        match &found {
            Some(existing) if *existing != candidate => {
                return Err(ApiError::bad_request("conflicting_credentials", "send the service key once: two different keys were presented"));
            }
            _ => found = Some(candidate),
        }
    }
    Ok(found.unwrap_or_default())
}

/// Longest value of a forwarded header. Upstreams refuse far shorter header blocks (8–16 KiB is usual); an
/// oversized one would fail on every key, spending the pool's attempts on the client's mistake.
pub const MAX_FORWARDED_HEADER_BYTES: usize = 8 * 1024;

/// A copy of the client's headers that may travel upstream. A forwarded header over
/// [`MAX_FORWARDED_HEADER_BYTES`] is refused with 431 before any key is used.
pub fn forwarded_headers(headers: &Headers) -> Result<Headers, ApiError> {
    relay::forwarded_headers(headers, MAX_FORWARDED_HEADER_BYTES).map_err(|name| ApiError {
        status: 431,
        kind: "invalid_request_error",
        code: "header_too_large",
        message: format!("the {name} header is longer than {MAX_FORWARDED_HEADER_BYTES} bytes"),
        retry_after_s: None,
    })
}

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
    match relay::read_bounded(request.body(), MAX_BODY_BYTES, CLIENT_BODY_TIMEOUT_MS).await {
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
