//! `ANY /api/{provider}/{rest}`: the native proxy. Authenticate (the key from any usual header, or `?key=` on
//! Gemini's native paths, under the guess limit) → parse → forward with the pool.
//!
//! `rest` loses a version prefix the slug already stands for (`Provider::native_rest`): Codex configured with
//! `base_url = …/api/openai/v1`, as most guides write it, reaches OpenAI's `responses`, not `v1/v1/responses`. The
//! Worker's own errors take the shape the provider's SDKs read (`Provider::error_shape`: Anthropic's for Anthropic).
//!
//! Everything before the first await is synchronous: with the caller vouched for and the provider's pool cached,
//! the request goes straight to `relay` (see `forward`), which reads the body and shows it to [`admit`] for the model
//! rules. A key check that needs D1 (a client this isolate has not vouched for, or a wrong key) runs as a future.

use super::client;
use super::forward::{forward, forward_and_wait};
use super::key_cache;
use super::outbound::{Admission, Admitted, Body, Dialect, Outbound};
use super::respond::Served;
use crate::api_error::ApiError;
use crate::affinity::session_of;
use crate::attempt::Destination;
use crate::config::SessionAffinity;
use crate::edge::web_headers::WebHeaders;
use crate::edge::app::App;
use crate::edge::clock;
use crate::edge::guess_limit::{self, KeyCheck};
use crate::providers::{self, Provider, Unpoolable};
use crate::request_model::{check_model, is_models_listing, model_of, named_models, ModelRequest};
use crate::service_keys::Grant;
use crate::upstream::{self, Base};
use futures_util::future::join;
use js_sys::futures::JsFuture;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use web_sys::{Request, Response};
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
    let provider = providers::find_poolable(call.slug).map_err(|problem| match problem {
        Unpoolable::Unknown => ApiError::not_found(
            "unknown_provider",
            format!("unknown provider {:?}: use an AI Gateway provider slug such as google-ai-studio, openai or openrouter", call.slug),
        ),
        Unpoolable::NoStaticKeys => ApiError::not_poolable(call.slug),
    })?;
    let query_key = provider.takes_query_key(call.rest).then_some(call.query);
    let now_ms = clock::now_ms();
    match guess_limit::check_key(&app, &req.headers(), query_key, now_ms / 1_000) {
        KeyCheck::Admitted(grant) => {
            let grant = grant.clone();
            admitted(app, &grant, provider, req, call, env, ctx, now_ms)
        }
        KeyCheck::Refused(error) => Err(error),
        KeyCheck::Pending(pending) => {
            let (req, env) = (Clone::clone(req), env.clone());
            let Call { slug, rest, query, method } = call;
            let (slug, rest, query) = (slug.to_string(), rest.to_string(), query.to_string());
            let load_meanwhile = pending.key_is_right();
            Ok(Served::Later(Box::pin(async move {
                // A right key from a client this isolate has not vouched for waits on one D1 read: the provider's
                // pool, when this isolate has none yet, is read from D1 meanwhile instead of after it.
                let preload = async {
                    if load_meanwhile {
                        key_cache::preload(&env, provider.slug, key_cache::Sizes::of(&app.config), now_ms).await;
                    }
                };
                let (settled, ()) = join(pending.settle(&app, &env), preload).await;
                let grant = settled?.clone();
                let call = Call { slug: &slug, rest: &rest, query: &query, method };
                match admitted(app.clone(), &grant, provider, &req, call, &env, ctx, clock::now_ms())? {
                    Served::Now(answer) => match JsFuture::from(js_sys::Promise::resolve(&answer)).await.map(JsCast::dyn_into::<Response>) {
                        Ok(Ok(response)) => Ok(response),
                        _ => Err(ApiError::misconfigured("the Worker could not build the response")),
                    },
                    Served::Later(work) => work.await,
                }
            })))
        }
    }
}

/// No headers, for reading a session from the body alone.
const NO_HEADERS: &[(&str, &str)] = &[];

/// The rest of a request whose key is right: the provider grant, the headers that travel, the model rules (now, or
/// in `relay` once the body is read), then the attempt loop.
#[allow(clippy::too_many_arguments)]
fn admitted(app: Rc<App>, grant: &Grant, provider: &'static Provider, req: &Request, call: Call<'_>, env: &Env, ctx: Rc<Context>, now_ms: u64) -> Result<Served, ApiError> {
    let Call { rest, query, method, .. } = call;
    let rest = provider.native_rest(rest);
    grant.permits(provider.slug, None).map_err(ApiError::denied)?;
    let headers = req.headers();
    let through_gateway = matches!(upstream::base_for(&app.config, provider, 0), Ok(Base::Gateway(_)));
    let forwarded = client::forwarded_headers(&headers, grant, through_gateway)?;
    let content_type = headers.get("content-type").ok().flatten();
    let mode = app.config.session_affinity;
    let named = session_of(mode, &WebHeaders(&headers), &[]).map(|s| s.hash);
    let (body, model, admission) = if method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD") {
        let request = ModelRequest { rest, query, content_type: content_type.as_deref(), body: &[] };
        (Body::Empty, admit(grant, provider, &request, &method)?, None)
    } else {
        let (grant, rest, query, method) = (grant.clone(), rest.to_string(), query.to_string(), method.clone());
        let admission: Admission = Box::new(move |body: &[u8]| {
            let model = admit(&grant, provider, &ModelRequest { rest: &rest, query: &query, content_type: content_type.as_deref(), body }, &method)?;
            // A session the headers named stands; otherwise the body may name one (or be fingerprinted).
            let session = if named.is_some() || mode == SessionAffinity::Off { None } else { session_of(mode, NO_HEADERS, body).map(|s| s.hash) };
            Ok(Admitted { model, session })
        });
        (Body::Unread(Clone::clone(req)), None, Some(admission))
    };
    let destination = Destination {
        provider,
        segment: provider.slug,
        key_placement: provider.key_placement_for(rest),
        rest: rest.to_string(),
        query: query.to_string(),
    };
    let dialect = Dialect { errors: provider.error_shape, conversion: None };
    let outbound = Outbound { destination, method, headers: forwarded, body, model, session: named, admission, dialect };
    match key_cache::ready(provider.slug, app.config.key_cache_ttl_s, now_ms) {
        Some(pool) => Ok(Served::Now(forward(app, env, ctx, outbound, pool, now_ms)?.into())),
        None => {
            let env = env.clone();
            Ok(Served::Later(Box::pin(async move { forward_and_wait(app, &env, ctx, outbound).await })))
        }
    }
}

/// The native model rules, once the body is known: the model named by the path or the body (both: they must agree),
/// well-formed, and — for a model-restricted key — every model the request names anywhere (path segments, body
/// fields, fallback lists, nested tools; see [`crate::request_model::named_models`]) allowed, or the request refused
/// when those cannot be read. Returns the model the cooldowns are kept for; `None` only for a models listing.
fn admit(grant: &Grant, provider: &Provider, request: &ModelRequest<'_>, method: &str) -> Result<Option<String>, ApiError> {
    // A restricted key's request is judged on every model it names first: one it cannot read is refused with 403.
    grant.permits_request(provider, request).map_err(ApiError::denied)?;
    let model = model_of(request.rest, request.body).map_err(|problem| ApiError::bad_request("conflicting_model", problem))?;
    // Some providers name the model only in a path of their own (an Azure deployment, a Workers AI model).
    let model = model.or_else(|| named_models(provider, request).ok().and_then(|named| named.into_iter().next()));
    match &model {
        Some(model) => check_model(model).map_err(|problem| ApiError::bad_request("invalid_model", problem))?,
        None if is_models_listing(method, request.rest) => {}
        None => {
            return Err(ApiError::bad_request(
                "missing_model",
                "the request names no model: put \"model\" in the JSON body, or use a path like …/models/{model}:generateContent",
            ))
        }
    }
    Ok(model)
}
