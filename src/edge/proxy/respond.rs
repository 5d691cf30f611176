//! Building responses: the Worker's own errors and texts, and upstream answers passed on (or converted on the way).

use super::converter::Converter;
use super::relay;
use crate::api_error::ApiError;
use crate::providers::ErrorShape;
use js_sys::Uint8Array;
use wasm_bindgen::JsValue;
use web_sys::{Headers, Response, ResponseInit};
use worker::Result;

/// What a handler gives the fetch entry point: a response (or a promise of one, from `relay`) now, or work that
/// must be awaited first (a D1 read, a body read in Rust).
pub enum Served {
    /// A `Response`, or a `Promise` of one.
    Now(JsValue),
    /// The rest of the work.
    Later(futures_util::future::LocalBoxFuture<'static, std::result::Result<Response, ApiError>>),
}

/// Header that lists the attempts a request made (short key ids and verdicts).
pub const ATTEMPTS_HEADER: &str = "x-one-balance-attempts";

/// CORS for `/api/…`: credentials travel in headers, never cookies, so any origin may call it (browser chat apps).
const CORS_HEADERS: &[(&str, &str)] = &[
    ("access-control-allow-origin", "*"),
    ("access-control-expose-headers", "x-one-balance-attempts, retry-after"),
];

const PREFLIGHT_HEADERS: &[(&str, &str)] = &[
    ("access-control-allow-methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS"),
    ("access-control-allow-headers", "*, authorization"),
    ("access-control-max-age", "86400"),
];

thread_local! {
    static CORS_PAIRS: js_sys::Array = CORS_HEADERS.iter().flat_map(|(n, v)| [JsValue::from_str(n), JsValue::from_str(v)]).collect();
}

fn add_cors(headers: &Headers) -> Result<()> {
    for (name, value) in CORS_HEADERS {
        headers.set(name, value)?;
    }
    Ok(())
}

/// The answer to a CORS preflight on `/api/…`.
pub fn preflight() -> Result<Response> {
    let headers = Headers::new()?;
    add_cors(&headers)?;
    for (name, value) in PREFLIGHT_HEADERS {
        headers.set(name, value)?;
    }
    Ok(Response::new_with_opt_str_and_init(None, &init(204, &headers))?)
}

fn init(status: u16, headers: &Headers) -> ResponseInit {
    let init = ResponseInit::new();
    init.set_status(status);
    init.set_headers(headers);
    init
}

/// A response with a fixed body.
pub fn fixed(status: u16, content_type: &str, body: &str) -> Result<Response> {
    let headers = Headers::new()?;
    headers.set("content-type", content_type)?;
    Ok(Response::new_with_opt_str_and_init(Some(body), &init(status, &headers))?)
}

/// The Worker's own error, OpenAI-shaped, with `Retry-After` when it has one.
pub fn api_error(error: &ApiError, attempts: Option<&str>) -> Result<Response> {
    api_error_in(error, attempts, ErrorShape::OpenAi)
}

/// The Worker's own error in `shape`, with `Retry-After` when it has one, and `x-should-retry: false` when a retry
/// cannot change the answer ([`ApiError::is_final`]).
pub fn api_error_in(error: &ApiError, attempts: Option<&str>, shape: ErrorShape) -> Result<Response> {
    let headers = Headers::new()?;
    headers.set("content-type", "application/json")?;
    if let Some(seconds) = error.retry_after_s {
        headers.set("retry-after", &seconds.to_string())?;
    }
    if error.is_final() {
        headers.set("x-should-retry", "false")?;
    }
    if let Some(attempts) = attempts.filter(|a| !a.is_empty()) {
        headers.set(ATTEMPTS_HEADER, attempts)?;
    }
    add_cors(&headers)?;
    Ok(Response::new_with_opt_str_and_init(Some(&error.body_in(shape)), &init(error.status, &headers))?)
}

/// A JSON answer of the Worker's own (an estimate it computed), with the CORS headers.
pub fn json(status: u16, body: &[u8]) -> Result<Response> {
    let headers = Headers::new()?;
    headers.set("content-type", "application/json")?;
    add_cors(&headers)?;
    Ok(Response::new_with_opt_buffer_source_and_init(Some(&Uint8Array::from(body)), &init(status, &headers))?)
}

/// An upstream success passed on: same status, the allowed headers, the body streamed through untouched (it never
/// enters wasm), the CORS headers and the attempts header added — in one call into JS.
pub fn stream_through(upstream: &Response, attempts: &str) -> Result<Response> {
    Ok(CORS_PAIRS.with(|cors| relay::stream_through(upstream, cors, ATTEMPTS_HEADER, attempts)))
}

/// An upstream success converted into the client's protocol as it streams (see [`Converter`]): same status, the
/// allowed headers but the body's type, `content_type` instead, the CORS headers and the attempts header — in one
/// call into JS.
pub fn convert_through(upstream: &Response, converter: Converter, content_type: &str, attempts: &str) -> Response {
    let fixed: js_sys::Array = CORS_PAIRS.with(|cors| cors.iter().collect());
    for (name, value) in [("content-type", content_type), ("cache-control", "no-cache"), (ATTEMPTS_HEADER, attempts)] {
        fixed.push(&JsValue::from_str(name));
        fixed.push(&JsValue::from_str(value));
    }
    relay::convert_through(upstream, converter, &fixed)
}

/// An upstream answer whose body was already read: same status, only the allowed headers
/// ([`crate::upstream::is_allowed_response_header`]), the same bytes (or their redacted copy, or their conversion
/// into the client's error shape, typed `content_type`), the attempts header, and `Retry-After` when given.
pub fn replay(status: u16, upstream_headers: &Headers, body: &Uint8Array, attempts: &str, retry_after_s: Option<u64>, content_type: Option<&str>) -> Result<Response> {
    let headers = Headers::new()?;
    for pair in js_sys::try_iter(upstream_headers)?.into_iter().flatten() {
        let pair: js_sys::Array = pair?.into();
        let (Some(name), Some(value)) = (pair.get(0).as_string(), pair.get(1).as_string()) else { continue };
        if crate::upstream::is_allowed_response_header(&name) {
            headers.append(&name, &value)?;
        }
    }
    if let Some(content_type) = content_type {
        headers.delete("content-disposition")?;
        headers.set("content-type", content_type)?;
    }
    headers.set(ATTEMPTS_HEADER, attempts)?;
    if let Some(seconds) = retry_after_s {
        headers.set("retry-after", &seconds.to_string())?;
    }
    add_cors(&headers)?;
    Ok(Response::new_with_opt_buffer_source_and_init(Some(body), &init(status, &headers))?)
}

/// A plain 500 when even the error response could not be built.
pub fn last_resort(error: &ApiError) -> Response {
    let init = ResponseInit::new();
    init.set_status(500);
    Response::new_with_opt_str_and_init(Some(&error.message), &init).unwrap_or_else(|_| Response::new().unwrap_or_else(|_| JsValue::UNDEFINED.into()))
}
