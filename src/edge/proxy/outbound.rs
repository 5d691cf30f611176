//! What an upstream request carries, whichever key sends it: the destination, method, allow-listed headers and
//! body of a proxied request ([`Outbound`]), and where the pool key and the gateway's own headers go
//! ([`put_key`]). Shared by the attempt loop and the re-check's probe.

use crate::api_error::ApiError;
use crate::providers::ErrorShape;
use crate::attempt::Destination;
use crate::protocols::Conversion;
use crate::providers::KeyPlacement;
use js_sys::Uint8Array;
use wasm_bindgen::JsValue;
use web_sys::{Headers, Request};

/// The client's body.
pub enum Body {
    /// The request has none (GET, HEAD).
    Empty,
    /// Bytes already read, replayed on each attempt.
    Buffered(Uint8Array),
    /// Still in the client's request: `relay` reads it (within [`super::client::MAX_BODY_BYTES`]), shows it to the
    /// admission check, and replays it on each attempt.
    Unread(Request),
}

/// What a body that passed its check says about the request.
pub struct Admitted {
    /// The model the cooldowns are kept for (`None`: a models listing).
    pub model: Option<String>,
    /// The request's session, when the body names one (see [`crate::affinity`]).
    pub session: Option<u64>,
}

/// The check a body must pass once read: the native proxy's model rules, when the model may be named in the body;
/// it also reads the session the body names.
pub type Admission = Box<dyn FnOnce(&[u8]) -> Result<Admitted, ApiError>>;

/// One request, ready to be sent with any pool key.
pub struct Outbound {
    /// Where it goes.
    pub destination: Destination,
    /// HTTP method.
    pub method: String,
    /// Allow-listed client headers; the pool key is added per attempt.
    pub headers: Headers,
    /// The body.
    pub body: Body,
    /// The model the request asks for (`None`: a models listing, or not known until `admission` has read the body).
    pub model: Option<String>,
    /// The request's session (see [`crate::affinity`]), when known before the body is read.
    pub session: Option<u64>,
    /// Run on a [`Body::Unread`] body once read; its model replaces `model`, and its session fills in `session`.
    pub admission: Option<Admission>,
    /// How the client is answered.
    pub dialect: Dialect,
}

/// How the client's side of a request is spoken, where it differs from the upstream's: the shape of the Worker's
/// own errors, and for a request converted to another protocol, the conversion its answers need (a 2xx body
/// converted as it streams, an error body converted whole).
#[derive(Debug, Clone, Default)]
pub struct Dialect {
    /// The shape of the Worker's own errors.
    pub errors: ErrorShape,
    /// The answer's conversion; `None`: answers pass through as the upstream sent them.
    pub conversion: Option<Conversion>,
}

/// What the gateway is told about an attempt that goes through AI Gateway.
pub struct GatewayTags<'a> {
    /// The key's short id, for the gateway's logs (`cf-aig-metadata`).
    pub short_id: &'a str,
    /// The attempt's number in its request.
    pub attempt: usize,
    /// `AI_GATEWAY_TOKEN`, for an authenticated gateway (`cf-aig-authorization`).
    pub token: Option<&'a str>,
}

/// Puts `key` where `placement` says and, through AI Gateway, the gateway's headers.
pub fn put_key(headers: &Headers, placement: KeyPlacement, key: &str, gateway: Option<GatewayTags<'_>>) -> Result<(), JsValue> {
    headers.set(placement.header_name(), &placement.header_value(key))?;
    if let Some(tags) = gateway {
        headers.set("cf-aig-metadata", &format!(r#"{{"one_balance_key":"{}","one_balance_attempt":{}}}"#, tags.short_id, tags.attempt))?;
        if let Some(token) = tags.token {
            headers.set("cf-aig-authorization", &format!("Bearer {token}"))?;
        }
    }
    Ok(())
}
