//! The routes of coding agents' protocols, on every provider: Anthropic Messages (`POST …/v1/messages`,
//! `…/v1/messages/count_tokens`, for Claude Code) under `/api/compat` and under `/api/{provider}` for a provider
//! without a Messages API of its own, and OpenAI Responses (`POST /api/compat/responses`, for Codex).
//!
//! Authenticate (the key from any usual header, under the guess limit) → read the body (bounded) → resolve `model`
//! ([`crate::protocols::resolve_model`]) → the grant's provider and model rules → one of:
//! - **native**: the provider serves the protocol itself (Anthropic Messages, OpenAI Responses): the body goes byte
//!   for byte but for `model`, with the client's query and Anthropic's version headers, through the attempt loop;
//! - **converted**: the body becomes a chat-completions request for the provider's OpenAI-style path (the same
//!   target as `/api/compat/chat/completions`), every model it names is checked again, and the attempt loop sends
//!   it with a [`Dialect`] whose conversion turns the answer back into the client's protocol;
//! - **estimated**: `count_tokens` for a provider without it is answered here ([`crate::convert::anthropic::count_tokens`]),
//!   without any upstream request.
//!
//! The Worker's own errors on these routes are in the client's shape (the entry point renders them with
//! `ApiRoute::error_shape`); so are converted upstream errors (`forward.rs`).

use super::compat_route::{authenticate, check_reachable, read_model_body, upstream_headers};
use super::forward::forward_and_wait;
use super::outbound::{Body, Dialect, Outbound};
use super::respond;
use crate::affinity::session_of;
use crate::api_error::ApiError;
use crate::attempt::Destination;
use crate::compat::{self, Operation};
use crate::convert::responses::{OtherTools, ResponsesOptions};
use crate::convert::{anthropic, responses, ConvertError};
use crate::edge::app::App;
use crate::edge::web_headers::WebHeaders;
use crate::protocols::{self, ClientCall, Conversion};
use js_sys::Uint8Array;
use std::rc::Rc;
use web_sys::{Request, Response};
use worker::{console_log, Context, Env};

/// Request headers that describe the client's protocol, not the chat request it was converted to.
const PROTOCOL_HEADERS: &[&str] = &["anthropic-beta", "anthropic-version", "openai-beta"];

/// Serves one Messages, count_tokens or Responses request; `route_provider` is the slug of `/api/{provider}/…`.
pub async fn handle(app: Rc<App>, req: &Request, call: ClientCall, route_provider: Option<&str>, query: &str, env: &Env, ctx: Rc<Context>) -> Result<Response, ApiError> {
    let grant = authenticate(&app, req, env).await?;
    let route_provider = route_provider.map(protocols::known_provider).transpose()?;
    if let Some(provider) = route_provider {
        grant.permits(provider.slug, None).map_err(ApiError::denied)?;
    }
    let (bytes, name) = read_model_body(req).await?;
    let (provider, model) = protocols::resolve_model(&name, route_provider, &app.config)?;
    grant.permits(provider.slug, Some(&model)).map_err(ApiError::denied)?;
    let headers = upstream_headers(&app, req, grant, provider)?;
    // The conversation, as the client's own request names it (before any conversion).
    let session = session_of(app.config.session_affinity, &WebHeaders(&req.headers()), &bytes).map(|s| s.hash);

    if let Some(rest) = protocols::native_path(call, provider) {
        grant.permits_compat(provider, &model, &bytes).map_err(ApiError::denied)?;
        let body = compat::replace_model(&bytes, &model)
            .ok_or_else(|| ApiError::bad_request("invalid_model", "\"model\" must be a string at the top level of the body"))?;
        let key_placement = provider.key_placement_for(&rest);
        let outbound = Outbound {
            destination: Destination { provider, segment: provider.slug, rest, query: query.to_string(), key_placement },
            method: "POST".to_string(),
            headers,
            body: Body::Buffered(Uint8Array::from(body.as_slice())),
            model: Some(model),
            session,
            admission: None,
            dialect: Dialect { errors: call.api().error_shape(), conversion: None },
        };
        return forward_and_wait(app, env, ctx, outbound).await;
    }

    if call == ClientCall::CountTokens {
        grant.permits_compat(provider, &model, &bytes).map_err(ApiError::denied)?;
        let estimate = anthropic::count_tokens(&bytes).map_err(refused)?;
        return respond::json(200, &estimate).map_err(|_| ApiError::misconfigured("the Worker could not build the response"));
    }

    let target = compat::target(provider, Operation::Chat, &model)
        .map_err(|_| ApiError::bad_request("unsupported_operation", format!("{} has no chat API", provider.slug)))?;
    check_reachable(&app, provider, &target)?;
    let upstream = protocols::upstream_chat(provider, &target.upstream_model);
    let converted = match call.api() {
        protocols::ClientApi::Messages => anthropic::request_to_chat(&bytes, &upstream),
        protocols::ClientApi::Responses => responses::request_to_chat(&bytes, &upstream, &ResponsesOptions { other_tools: OtherTools::Omit }),
    }
    .map_err(refused)?;
    if !converted.omitted_tools.is_empty() {
        console_log!("{}/{model}: left out tools a chat API cannot run: {}", provider.slug, converted.omitted_tools.join(", "));
    }
    // The request that goes upstream is the chat request: every model it names must be allowed too.
    grant.permits_compat(provider, &model, &converted.body).map_err(ApiError::denied)?;
    for name in PROTOCOL_HEADERS {
        headers.delete(name).map_err(|_| ApiError::misconfigured("the Worker could not build the upstream headers"))?;
    }
    // The chat request's own types: Claude Code asks `accept: application/json` even for a stream.
    let accept = if converted.stream { "text/event-stream" } else { "application/json" };
    for (name, value) in [("content-type", "application/json"), ("accept", accept)] {
        headers.set(name, value).map_err(|_| ApiError::misconfigured("the Worker could not build the upstream headers"))?;
    }
    let conversion = Conversion { api: call.api(), stream: converted.stream, client_model: converted.client_model };
    let outbound = Outbound {
        destination: Destination {
            provider,
            segment: target.slug_segment,
            rest: target.rest.to_string(),
            query: String::new(),
            key_placement: target.key_placement,
        },
        method: "POST".to_string(),
        headers,
        body: Body::Buffered(Uint8Array::from(converted.body.as_slice())),
        model: Some(model),
        session,
        admission: None,
        dialect: Dialect { errors: call.api().error_shape(), conversion: Some(conversion) },
    };
    forward_and_wait(app, env, ctx, outbound).await
}

/// A request the converter refused: 400, naming the field.
fn refused(error: ConvertError) -> ApiError {
    ApiError::bad_request("invalid_request", error.to_string())
}
