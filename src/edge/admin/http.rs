//! HTTP plumbing of the admin site: every response it sends (all with the same security headers), reading a
//! request's headers, cookies and bounded body, and random bytes from the runtime's CSPRNG.

use crate::admin::assets;
use crate::admin::routes::Asset;
use crate::api_error::ApiError;
use js_sys::futures::JsFuture;
use js_sys::{Function, Promise, Reflect, Uint8Array};
use maud::Markup;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Headers, Request, Response, ResponseInit};
use worker::Result;

/// The Content-Security-Policy of every admin response. `connect-src 'self'` lets the copy button fetch a key from
/// this origin; nothing else may load, run, frame the page or receive a form.
pub const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Largest admin form or JSON body (10,000 keys take about 450 KB).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// Largest login form.
pub const MAX_LOGIN_BYTES: usize = 8 * 1024;

fn secured(content_type: &str, cache: &str) -> Result<Headers> {
    let headers = Headers::new()?;
    headers.set("content-type", content_type)?;
    headers.set("cache-control", cache)?;
    headers.set("content-security-policy", CSP)?;
    headers.set("x-content-type-options", "nosniff")?;
    headers.set("referrer-policy", "no-referrer")?;
    headers.set("x-frame-options", "DENY")?;
    headers.set("cross-origin-opener-policy", "same-origin")?;
    headers.set("cross-origin-resource-policy", "same-origin")?;
    Ok(headers)
}

fn respond(status: u16, headers: &Headers, body: Option<&str>) -> Result<Response> {
    let init = ResponseInit::new();
    init.set_status(status);
    init.set_headers(headers);
    Ok(Response::new_with_opt_str_and_init(body, &init)?)
}

fn add_cookies(headers: &Headers, cookies: &[String]) -> Result<()> {
    for cookie in cookies {
        headers.append("set-cookie", cookie)?;
    }
    Ok(())
}

/// An HTML page, never cached.
pub fn page(status: u16, markup: Markup, cookies: &[String]) -> Result<Response> {
    let headers = secured("text/html; charset=utf-8", "no-store")?;
    add_cookies(&headers, cookies)?;
    respond(status, &headers, Some(&markup.into_string()))
}

/// An HTML page with `Retry-After` (the login throttle).
pub fn page_retry_after(status: u16, markup: Markup, retry_after_s: u64) -> Result<Response> {
    let headers = secured("text/html; charset=utf-8", "no-store")?;
    headers.set("retry-after", &retry_after_s.to_string())?;
    respond(status, &headers, Some(&markup.into_string()))
}

/// 303 See Other to a local path.
pub fn redirect(location: &str, cookies: &[String]) -> Result<Response> {
    let headers = secured("text/plain; charset=utf-8", "no-store")?;
    headers.set("location", location)?;
    add_cookies(&headers, cookies)?;
    respond(303, &headers, None)
}

/// One key in plain text for the copy button.
pub fn secret(key: &str) -> Result<Response> {
    respond(200, &secured("text/plain; charset=utf-8", "no-store")?, Some(key))
}

/// A JSON answer of the admin API, never cached.
pub fn json(status: u16, value: &serde_json::Value) -> Result<Response> {
    respond(status, &secured("application/json", "no-store")?, Some(&value.to_string()))
}

/// A JSON error of the admin API (`{"error":{…}}`), with `Retry-After` or `Allow` when given.
pub fn api_error(error: &ApiError, allow: Option<&str>) -> Result<Response> {
    let headers = secured("application/json", "no-store")?;
    if let Some(seconds) = error.retry_after_s {
        headers.set("retry-after", &seconds.to_string())?;
    }
    if let Some(allow) = allow {
        headers.set("allow", allow)?;
    }
    respond(error.status, &headers, Some(&error.body()))
}

/// A plain-text answer (405 on pages).
pub fn plain(status: u16, body: &str, allow: Option<&str>) -> Result<Response> {
    let headers = secured("text/plain; charset=utf-8", "no-store")?;
    if let Some(allow) = allow {
        headers.set("allow", allow)?;
    }
    respond(status, &headers, Some(body))
}

/// A shipped asset. With the current version in `?v=` it is cached for a year; without, it is revalidated.
pub fn asset(asset: Asset, query: &str) -> Result<Response> {
    let (content_type, body, version) = match asset {
        Asset::Css => ("text/css; charset=utf-8", assets::CSS, assets::CSS_VERSION),
        Asset::Js => ("text/javascript; charset=utf-8", assets::JS, assets::JS_VERSION),
    };
    let current = query.split('&').any(|pair| pair.strip_prefix("v=") == Some(version));
    let cache = if current { "public, max-age=31536000, immutable" } else { "no-cache" };
    let headers = secured(content_type, cache)?;
    headers.set("etag", &format!("\"{version}\""))?;
    respond(200, &headers, Some(body))
}

/// A request header's value.
pub fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

/// Why a body could not be read.
pub enum BodyError {
    /// Over the limit.
    TooLarge,
    /// The stream failed.
    Unreadable,
}

/// The `Content-Length` the client declared, if any (a malformed value counts as none).
pub fn declared_length(req: &Request) -> Option<u64> {
    header(req, "content-length").and_then(|v| v.trim().parse::<u64>().ok())
}

fn get(target: &JsValue, name: &str) -> std::result::Result<JsValue, BodyError> {
    Reflect::get(target, &JsValue::from_str(name)).map_err(|_| BodyError::Unreadable)
}

fn call0(target: &JsValue, name: &str) -> std::result::Result<JsValue, BodyError> {
    let method: Function = get(target, name)?.dyn_into().map_err(|_| BodyError::Unreadable)?;
    method.call0(target).map_err(|_| BodyError::Unreadable)
}

/// The body's bytes, at most `limit` of them. A declared `Content-Length` over the limit is refused before
/// anything is read; otherwise the stream is read chunk by chunk with a running count, and cancelled as soon as
/// the count passes the limit, so a client that declares nothing (chunked) cannot make the Worker hold more than
/// `limit` bytes plus one chunk.
pub async fn read_bytes(req: &Request, limit: usize) -> std::result::Result<Vec<u8>, BodyError> {
    if declared_length(req).is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let Some(stream) = req.body() else { return Ok(Vec::new()) };
    let reader = call0(&stream, "getReader")?;
    let mut body = Vec::new();
    loop {
        let promise: Promise = call0(&reader, "read")?.dyn_into().map_err(|_| BodyError::Unreadable)?;
        let chunk = JsFuture::from(promise).await.map_err(|_| BodyError::Unreadable)?;
        if get(&chunk, "done")?.as_bool().unwrap_or(true) {
            return Ok(body);
        }
        let bytes: Uint8Array = get(&chunk, "value")?.dyn_into().map_err(|_| BodyError::Unreadable)?;
        if body.len() + bytes.length() as usize > limit {
            // Stop the upload: nothing more is read, and the runtime may drop the rest. The cancellation's promise
            // is not awaited: the answer must not wait on the client's connection.
            let _ = call0(&reader, "cancel");
            return Err(BodyError::TooLarge);
        }
        let start = body.len();
        body.resize(start + bytes.length() as usize, 0);
        bytes.copy_to(&mut body[start..]);
    }
}

/// The body as text (invalid UTF-8 replaced, as the runtime's `text()` would), at most `limit` bytes (see
/// [`read_bytes`]).
pub async fn read_text(req: &Request, limit: usize) -> std::result::Result<String, BodyError> {
    let bytes = read_bytes(req, limit).await?;
    Ok(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
    })
}

/// `N` bytes from `crypto.getRandomValues`, or `None` if the runtime offers no CSPRNG.
pub fn random_bytes<const N: usize>() -> Option<[u8; N]> {
    let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto")).ok()?;
    let fill: Function = Reflect::get(&crypto, &JsValue::from_str("getRandomValues")).ok()?.dyn_into().ok()?;
    let array = Uint8Array::new_with_length(u32::try_from(N).ok()?);
    fill.call1(&crypto, &array).ok()?;
    let mut out = [0u8; N];
    array.copy_to(&mut out);
    Some(out)
}
