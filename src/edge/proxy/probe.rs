//! One attempt outside the pool: a given key, sent once, its answer classified and nothing recorded. The
//! scheduled re-check (`edge::cron`) asks through here whether a key that left the pool works again; it uses the
//! same URL building, key placement, time-out and bounded error-body read as the attempt loop.

use super::isolate::with_rng;
use super::outbound::{put_key, GatewayTags};
use super::relay::{self, SendOutcome};
use crate::edge::web_headers::WebHeaders;
use crate::attempt::Destination;
use crate::edge::app::App;
use crate::edge::clock;
use crate::upstream::{self, Base};
use crate::verdict::{self, Verdict, MAX_ERROR_BODY_BYTES};
use js_sys::Uint8Array;
use web_sys::Headers;

/// One probe request.
pub struct Probe<'a> {
    /// Where it goes.
    pub destination: Destination,
    /// HTTP method.
    pub method: &'a str,
    /// JSON body, if any.
    pub body: Option<&'a str>,
}

/// Sends `probe` once with `key` and classifies the answer.
pub async fn probe(app: &App, probe: &Probe<'_>, key: &str, short_id: &str) -> Verdict {
    let destination = &probe.destination;
    let Ok(base) = with_rng(|rng| upstream::base_for(&app.config, destination.provider, rng.usize(..))) else {
        return Verdict::NotKeyFault;
    };
    let Ok(headers) = Headers::new() else { return Verdict::NotKeyFault };
    if probe.body.is_some() && headers.set("content-type", "application/json").is_err() {
        return Verdict::NotKeyFault;
    }
    let gateway = matches!(base, Base::Gateway(_)).then(|| GatewayTags { short_id, attempt: 1, token: app.gateway_token.as_deref() });
    if put_key(&headers, destination.key_placement, key, gateway).is_err() {
        return Verdict::NotKeyFault;
    }
    let url = upstream::upstream_url(&base, destination.segment, &destination.rest, &destination.query);
    let timeout_ms = u64::from(app.config.upstream_timeout_ms);
    let body = probe.body.map(|b| Uint8Array::from(b.as_bytes()));
    let response = match relay::send(&url, probe.method, &headers, body, timeout_ms).await {
        SendOutcome::Answered(response) => response,
        SendOutcome::TimedOut => return Verdict::Timeout,
        SendOutcome::Unreachable => return Verdict::Transient,
    };
    if verdict::is_success(response.status()) {
        return Verdict::Success;
    }
    let body = relay::read_response_body(&response, MAX_ERROR_BODY_BYTES, timeout_ms).await.map(|b| b.to_vec()).unwrap_or_default();
    verdict::classify(destination.provider, response.status(), &WebHeaders(&response.headers()), &body, clock::now_s())
}
