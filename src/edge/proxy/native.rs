//! `ANY /api/{provider}/{rest}`: the native proxy. Authenticate → parse → forward with the pool.
//!
//! Everything before the first await is synchronous: with the provider's pool cached, the request goes straight to
//! `relay` (see `forward`), which reads the body and shows it to [`admit`] for the model rules.

use super::client;
use super::forward::{forward, forward_and_wait};
use super::key_cache;
use super::outbound::{Admission, Body, Outbound};
use super::respond::Served;
use crate::api_error::ApiError;
use crate::attempt::Destination;
use crate::edge::app::App;
use crate::edge::clock;
use crate::providers::{self, Provider, Unpoolable};
use crate::request_model::{check_model, is_models_listing, model_of};
use crate::service_keys::Grant;
use crate::upstream::query_param;
use std::rc::Rc;
use web_sys::Request;
use worker::{Context, Env};

/// What the route and the request line say about a native call.
pub struct Call<'a> {
    /// The provider segment of the path.
    pub slug: &'a str,
    /// The path after it.
    pub rest: &'a str,
    /// The raw query string.
    pub query: &'a str,
    /// The HTTP method.
    pub method: String,
}

/// Serves one native request.
pub fn handle(app: Rc<App>, req: &Request, call: Call<'_>, env: &Env, ctx: Rc<Context>) -> Result<Served, ApiError> {
    let Call { slug, rest, query, method } = call;
    let provider = providers::find_poolable(slug).map_err(|problem| match problem {
        Unpoolable::Unknown => ApiError::not_found(
            "unknown_provider",
            format!("unknown provider {slug:?}: use an AI Gateway provider slug such as google-ai-studio, openai or openrouter"),
        ),
        Unpoolable::NoStaticKeys => ApiError::not_poolable(slug),
    })?;
    let headers = req.headers();
    let query_key = provider.accepts_query_key.then(|| query_param(query, "key")).flatten();
    let presented = client::presented_key(&headers, provider.service_key_placements(), query_key)?;
    let now_ms = clock::now_ms();
    let grant = app.service_keys.authenticate(&presented, now_ms / 1_000).map_err(ApiError::denied)?;
    grant.permits(provider.slug, None).map_err(ApiError::denied)?;

    let forwarded = client::forwarded_headers(&headers)?;
    let (body, model, admission) = if method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD") {
        (Body::Empty, admit(grant, provider, rest, &method, &[])?, None)
    } else {
        let (grant, rest, method) = (grant.clone(), rest.to_string(), method.clone());
        let admission: Admission = Box::new(move |body: &[u8]| admit(&grant, provider, &rest, &method, body));
        (Body::Unread(Clone::clone(req)), None, Some(admission))
    };
    let destination = Destination {
        provider,
        segment: provider.slug,
        key_placement: provider.key_placement_for(rest),
        rest: rest.to_string(),
        query: query.to_string(),
    };
    let outbound = Outbound {
        destination,
        method,
        headers: forwarded,
        body,
        model,
        admission,
    };
    match key_cache::ready(provider.slug, app.config.key_cache_ttl_s, now_ms) {
        Some(pool) => Ok(Served::Now(forward(app, env, ctx, outbound, pool, now_ms)?.into())),
        None => {
            let env = env.clone();
            Ok(Served::Later(Box::pin(async move { forward_and_wait(app, &env, ctx, outbound).await })))
        }
    }
}

/// The native model rules, once the body is known: the model named by the path or the body (both: they must agree),
/// well-formed, and allowed to the caller. Returns it; `None` only for a models listing.
fn admit(grant: &Grant, provider: &Provider, rest: &str, method: &str, body: &[u8]) -> Result<Option<String>, ApiError> {
    let model = model_of(rest, body).map_err(|problem| ApiError::bad_request("conflicting_model", problem))?;
    match &model {
        Some(model) => check_model(model).map_err(|problem| ApiError::bad_request("invalid_model", problem))?,
        None if is_models_listing(method, rest) => {}
        None => {
            return Err(ApiError::bad_request(
                "missing_model",
                "the request names no model: put \"model\" in the JSON body, or use a path like …/models/{model}:generateContent",
            ))
        }
    }
    grant.permits(provider.slug, model.as_deref()).map_err(ApiError::denied)?;
    Ok(model)
}
