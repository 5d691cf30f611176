//! Bindings to `relay.js`, the JavaScript half of the proxy: the allow-listed header copy, one upstream request
//! with its time-out ([`send`]), one bounded body read ([`read_request_body`], [`read_response_body`]), the pass-through response and the
//! converted one ([`convert_through`]), each done in one call into JavaScript. `relay` itself, the attempt loop's awaiting, is bound in [`super::forward`], which
//! owns the object it drives.
//!
//! The results JavaScript hands back are named types ([`Sent`], [`Read`]) declared on both sides: here as
//! `extern` types with getters, in `relay.js` as JSDoc typedefs that `tsc --checkJs` checks in `npm test`.

use super::converter::Converter;
use crate::upstream::{ALLOWED_RESPONSE_HEADERS, ALLOWED_RESPONSE_HEADER_PREFIXES, FORWARDED_REQUEST_HEADERS};
use js_sys::futures::JsFuture;
use js_sys::{Array, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use web_sys::{Headers, Request, Response};

#[wasm_bindgen(module = "/src/edge/proxy/relay.js")]
extern "C" {
    #[wasm_bindgen(js_name = allowedHeaders)]
    fn allowed_headers(source: &Headers, names: &Array, max_length: f64) -> JsValue;

    #[wasm_bindgen(js_name = send)]
    fn send_js(url: &str, method: &str, headers: &Headers, body: Option<Uint8Array>, timeout_ms: f64) -> Promise;

    #[wasm_bindgen(js_name = readBody)]
    fn read_request_body_js(message: &Request, max_bytes: f64, timeout_ms: f64) -> Promise;

    #[wasm_bindgen(js_name = readBody)]
    fn read_response_body_js(message: &Response, max_bytes: f64, timeout_ms: f64) -> Promise;

    #[wasm_bindgen(js_name = passThrough)]
    fn pass_through(upstream: &Response, allowed: &Array, prefixes: &Array, fixed: &Array, name: &str, value: &str) -> Response;

    #[wasm_bindgen(js_name = convertThrough)]
    fn convert_through_js(upstream: &Response, converter: Converter, allowed: &Array, prefixes: &Array, fixed: &Array) -> Response;

    /// What `send` resolves to (the `Sent` typedef of `relay.js`).
    pub type Sent;
    #[wasm_bindgen(method, getter)]
    fn response(this: &Sent) -> Option<Response>;
    #[wasm_bindgen(method, getter, js_name = timedOut)]
    fn timed_out(this: &Sent) -> bool;

    /// What `readBody` resolves to (the `Read` typedef of `relay.js`).
    pub type Read;
    #[wasm_bindgen(method, getter)]
    fn bytes(this: &Read) -> Option<Uint8Array>;
    #[wasm_bindgen(method, getter)]
    fn problem(this: &Read) -> Option<String>;
}

fn strings(items: &[&str]) -> Array {
    items.iter().map(|item| JsValue::from_str(item)).collect()
}

thread_local! {
    static FORWARDED: Array = strings(FORWARDED_REQUEST_HEADERS);
    static ALLOWED: Array = strings(ALLOWED_RESPONSE_HEADERS);
    static ALLOWED_PREFIXES: Array = strings(ALLOWED_RESPONSE_HEADER_PREFIXES);
    /// The allowed headers of a converted answer: not the body's own description, which the conversion changes.
    static ALLOWED_CONVERTED: Array = strings(
        &ALLOWED_RESPONSE_HEADERS.iter().copied().filter(|h| !matches!(*h, "content-type" | "content-disposition" | "etag" | "last-modified")).collect::<Vec<_>>(),
    );
}

/// A copy of the client's headers holding only [`FORWARDED_REQUEST_HEADERS`]; `Err(name)` when the value of one of
/// them is longer than `max_bytes`.
pub fn forwarded_headers(source: &Headers, max_bytes: usize) -> Result<Headers, String> {
    let copied = FORWARDED.with(|names| allowed_headers(source, names, max_bytes as f64));
    match copied.as_string() {
        Some(too_long) => Err(too_long),
        None => Ok(copied.unchecked_into()),
    }
}

/// The upstream's answer with its body streaming through, with only the allowed response headers
/// ([`crate::upstream::is_allowed_response_header`]), plus the `fixed` header pairs and `name: value`.
pub fn stream_through(upstream: &Response, fixed: &Array, name: &str, value: &str) -> Response {
    ALLOWED.with(|allowed| ALLOWED_PREFIXES.with(|prefixes| pass_through(upstream, allowed, prefixes, fixed, name, value)))
}

/// The upstream's answer converted on its way (see [`super::converter`]): its body pulled chunk by chunk through
/// `converter`, only the allowed response headers that do not describe the body, plus the `fixed` header pairs.
pub fn convert_through(upstream: &Response, converter: Converter, fixed: &Array) -> Response {
    ALLOWED_CONVERTED.with(|allowed| ALLOWED_PREFIXES.with(|prefixes| convert_through_js(upstream, converter, allowed, prefixes, fixed)))
}

/// How one upstream request went.
pub enum SendOutcome {
    /// Its response headers arrived.
    Answered(Response),
    /// None arrived within the time-out.
    TimedOut,
    /// It could not be sent, or the connection failed.
    Unreachable,
}

/// Sends one upstream request and waits for its response headers, at most `timeout_ms`.
pub async fn send(url: &str, method: &str, headers: &Headers, body: Option<Uint8Array>, timeout_ms: u64) -> SendOutcome {
    let Ok(sent) = JsFuture::from(send_js(url, method, headers, body, timeout_ms as f64)).await else {
        return SendOutcome::Unreachable;
    };
    let sent: Sent = sent.unchecked_into();
    match sent.response() {
        Some(response) => SendOutcome::Answered(response),
        None if sent.timed_out() => SendOutcome::TimedOut,
        None => SendOutcome::Unreachable,
    }
}

/// Why a body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadProblem {
    /// It passed the limit (the stream was cancelled there).
    TooLarge,
    /// The stream failed.
    Unreadable,
    /// It did not end within the time allowed.
    Late,
}

/// Reads a request's body, at most `max_bytes` and within `timeout_ms` (`readBody` in `relay.js`: whole when its
/// length is known, else with a running byte count).
pub async fn read_request_body(request: &Request, max_bytes: usize, timeout_ms: u64) -> Result<Uint8Array, ReadProblem> {
    read(read_request_body_js(request, max_bytes as f64, timeout_ms as f64)).await
}

/// Reads an answer's body, at most `max_bytes` and within `timeout_ms` (as [`read_request_body`]).
pub async fn read_response_body(response: &Response, max_bytes: usize, timeout_ms: u64) -> Result<Uint8Array, ReadProblem> {
    read(read_response_body_js(response, max_bytes as f64, timeout_ms as f64)).await
}

async fn read(reading: Promise) -> Result<Uint8Array, ReadProblem> {
    let Ok(read) = JsFuture::from(reading).await else {
        return Err(ReadProblem::Unreadable);
    };
    let read: Read = read.unchecked_into();
    match (read.bytes(), read.problem().as_deref()) {
        (Some(bytes), _) => Ok(bytes),
        (None, Some("too_large")) => Err(ReadProblem::TooLarge),
        (None, Some("late")) => Err(ReadProblem::Late),
        (None, _) => Err(ReadProblem::Unreadable),
    }
}
