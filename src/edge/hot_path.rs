//! Bindings to `js/hot_path.js`, the JavaScript half of the proxy's hot path.
//!
//! Every call from wasm into JS costs a trip through the wasm-bindgen glue, and strings are copied each way. The
//! success path used to cross about 70 times (one per header read or set, per `RequestInit` setter, per timer); the
//! functions here do that work in JS in one call each. Policy stays in Rust: the allow-list, the URL, the key header
//! and the time-out are decided here and passed in.
//!
//! `relay` runs the attempt loop's awaits in JS and calls back into the Rust [`Forwarding`] for every decision, so
//! the success path needs no wasm-bindgen future (each costs closures, a `then` and a microtask hop per await).

use super::forward::Forwarding;
use crate::upstream::{FORWARDED_REQUEST_HEADERS, STRIPPED_RESPONSE_HEADERS};
use js_sys::{Array, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use web_sys::{Headers, Response};

#[wasm_bindgen(module = "/src/edge/js/hot_path.js")]
extern "C" {
    #[wasm_bindgen(js_name = allowedHeaders)]
    fn allowed_headers(source: &Headers, names: &Array, max_length: f64) -> JsValue;

    /// Sends one attempt (`headers` already hold the key); the promise resolves to a `Response`, or to `"timeout"`
    /// / `"unreachable"`.
    #[wasm_bindgen(js_name = sendAttempt)]
    pub fn send_attempt(url: &str, method: &str, headers: &Headers, body: &JsValue, timeout_ms: f64) -> Promise;

    /// Runs `job`'s attempts; resolves to the client's response. With `request`, its body is read (at most
    /// `max_body_bytes`) and shown to `job` first; otherwise `body` is sent as it is.
    pub fn relay(job: Forwarding, method: &str, headers: &Headers, body: Option<Uint8Array>, request: Option<web_sys::Request>, max_body_bytes: f64) -> Promise;

    #[wasm_bindgen(js_name = passThrough)]
    fn pass_through(upstream: &Response, strip: &Array, fixed: &Array, name: &str, value: &str) -> Response;
}

fn strings(items: &[&str]) -> Array {
    items.iter().map(|item| JsValue::from_str(item)).collect()
}

thread_local! {
    static FORWARDED: Array = strings(FORWARDED_REQUEST_HEADERS);
    static STRIPPED: Array = strings(STRIPPED_RESPONSE_HEADERS);
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

/// The upstream's answer with its body streaming through, minus [`STRIPPED_RESPONSE_HEADERS`], plus the `fixed`
/// header pairs and `name: value`.
pub fn stream_through(upstream: &Response, fixed: &Array, name: &str, value: &str) -> Response {
    STRIPPED.with(|strip| pass_through(upstream, strip, fixed, name, value))
}
