//! `/api/compat/…`: the OpenAI-compatible API. Authenticate (the key from any usual header) → parse `model`
//! (`provider/model`, or a name from `MODEL_ALIASES`: [`crate::protocols::resolve_model`]) → route to the
//! provider's own OpenAI-style path → the same attempt loop as the native proxy.

use super::client;
use super::forward::forward_and_wait;
use super::key_cache;
use super::outbound::{Body, Dialect, Outbound};
use super::relay;
use crate::api_error::ApiError;
use crate::affinity::session_of;
use crate::attempt::Destination;
use crate::edge::web_headers::WebHeaders;
use crate::compat::{self, Operation};
use crate::edge::app::App;
use crate::edge::clock;
use crate::edge::guess_limit;
use crate::protocols;
use crate::providers::{self, Provider};
use crate::request_model::CompatModelError;
use crate::service_keys::Grant;
use crate::upstream::{self, Base};
use futures_util::future::join_all;
use crate::verdict;
use js_sys::Uint8Array;
use serde::Deserialize;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use web_sys::{Headers, Request, Response};
use worker::{Context, Env};

#[derive(Deserialize)]
struct ModelField<'a> {
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
}

/// The caller's grant: the service key from any usual header, under the guess limit.
pub(super) async fn authenticate<'a>(app: &'a App, req: &Request, env: &Env) -> Result<&'a Grant, ApiError> {
    guess_limit::checked_key(app, env, &req.headers(), None, clock::now_s()).await
}

/// The client's JSON body, read within the limit, checked to be UTF-8 text, and its top-level `model` string.
pub(super) async fn read_model_body(req: &Request) -> Result<(Vec<u8>, String), ApiError> {
    let Some((_, bytes)) = client::read_body(req).await? else {
        return Err(ApiError::bad_request("missing_body", "send a JSON body"));
    };
    // JSON is UTF-8 (RFC 8259); serde skips the strings it does not keep without checking them, so check here.
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        ApiError::bad_request("invalid_json", format!("the body is not valid UTF-8 (at byte {}), so it is not JSON", e.valid_up_to()))
    })?;
    let parsed: ModelField<'_> = serde_json::from_str(text)
        .map_err(|e| ApiError::bad_request("invalid_json", format!("the body is not a valid JSON object: {e}")))?;
    let model = parsed.model.ok_or(CompatModelError::Missing).map_err(|e| ApiError::bad_request("invalid_model", e.message()))?.into_owned();
    Ok((bytes, model))
}

/// The request headers that travel to `provider` (see `client::forwarded_headers`).
pub(super) fn upstream_headers(app: &App, req: &Request, grant: &Grant, provider: &Provider) -> Result<Headers, ApiError> {
    client::forwarded_headers(&req.headers(), grant, matches!(upstream::base_for(&app.config, provider, 0), Ok(Base::Gateway(_))))
}

/// Refuses a target that needs AI Gateway's own compat endpoint when this deployment sends `provider` direct.
pub(super) fn check_reachable(app: &App, provider: &Provider, target: &compat::CompatTarget) -> Result<(), ApiError> {
    if target.needs_gateway && matches!(upstream::base_for(&app.config, provider, 0), Ok(Base::Direct(_)) | Err(_)) {
        return Err(ApiError::bad_request(
            "needs_gateway",
            format!("{} is served through AI Gateway's compat endpoint: set CLOUDFLARE_ACCOUNT_ID and AI_GATEWAY", provider.slug),
        ));
    }
    Ok(())
}

/// `POST /api/compat/chat/completions` and `POST /api/compat/embeddings`.
pub async fn handle(app: Rc<App>, req: &Request, operation: Operation, env: &Env, ctx: Rc<Context>) -> Result<Response, ApiError> {
    let grant = authenticate(&app, req, env).await?;
    let (bytes, full_model) = read_model_body(req).await?;
    let (provider, model) = protocols::resolve_model(&full_model, None, &app.config)?;
    let model = model.as_str();
    grant.permits(provider.slug, Some(model)).map_err(ApiError::denied)?;
    grant.permits_compat(provider, model, &bytes).map_err(ApiError::denied)?;

    let target = compat::target(provider, operation, model).map_err(|_| {
        ApiError::bad_request("unsupported_operation", format!("{} has no OpenAI-style embeddings endpoint", provider.slug))
    })?;
    check_reachable(&app, provider, &target)?;
    let body = compat::replace_model(&bytes, &target.upstream_model)
        .ok_or_else(|| ApiError::bad_request("invalid_model", "\"model\" must be a string at the top level of the body"))?;
    let outbound = Outbound {
        destination: Destination {
            provider,
            segment: target.slug_segment,
            rest: target.rest.to_string(),
            key_placement: target.key_placement,
            query: String::new(),
        },
        method: "POST".to_string(),
        headers: upstream_headers(&app, req, grant, provider)?,
        body: Body::Buffered(Uint8Array::from(body.as_slice())),
        model: Some(model.to_string()),
        session: session_of(app.config.session_affinity, &WebHeaders(&req.headers()), &bytes).map(|s| s.hash),
        admission: None,
        dialect: Dialect::default(),
    };
    forward_and_wait(app.clone(), env, ctx, outbound).await
}

/// How long a provider's models listing is reused in this isolate.
const MODEL_LIST_TTL_MS: u64 = 10 * 60 * 1_000;

/// A cached list (model ids or provider slugs) and when it was fetched, in unix milliseconds.
type Fetched = (Rc<Vec<String>>, u64);

thread_local! {
    static MODEL_LISTS: RefCell<HashMap<&'static str, Fetched>> = RefCell::new(HashMap::new());
    static ACTIVE_PROVIDERS: RefCell<Option<Fetched>> = const { RefCell::new(None) };
}

/// `GET /api/compat/models`: the `provider/model` ids the caller may use, over providers with active keys.
pub async fn models(app: &Rc<App>, req: &Request, env: &Env, ctx: &Rc<Context>) -> Result<Response, ApiError> {
    let grant = authenticate(app, req, env).await?;
    let db = env.d1("DB").map_err(|e| ApiError::misconfigured(format!("the D1 binding DB is missing: {e}")))?;
    let now_ms = clock::now_ms();
    let slugs = active_providers(&db, now_ms, u64::from(app.config.key_cache_ttl_s) * 1_000).await?;
    let usable: Vec<&'static Provider> = slugs
        .iter()
        .filter_map(|slug| providers::find(slug))
        .filter(|p| p.poolable && grant.permits(p.slug, None).is_ok())
        .collect();
    let lists = join_all(usable.iter().map(|provider| async move {
        let ids = match grant.models_for(provider.slug) {
            Some(allowed) => allowed.to_vec(),
            None => listing(app, env, ctx, provider, now_ms).await,
        };
        ids.into_iter().map(|id| format!("{}/{id}", provider.slug)).collect::<Vec<_>>()
    }))
    .await;
    let ids: Vec<String> = lists.into_iter().flatten().collect();
    let body = compat::models_response(&ids, now_ms / 1_000);
    super::respond::fixed(200, "application/json", &body).map_err(|_| ApiError::misconfigured("could not build the response"))
}

#[derive(Deserialize)]
struct ProviderRow {
    provider: String,
}

async fn active_providers(db: &worker::D1Database, now_ms: u64, ttl_ms: u64) -> Result<Rc<Vec<String>>, ApiError> {
    let cached = ACTIVE_PROVIDERS.with(|c| c.borrow().clone());
    if let Some((list, at_ms)) = cached {
        if now_ms.saturating_sub(at_ms) < ttl_ms {
            return Ok(list);
        }
    }
    let rows = db
        .prepare("SELECT DISTINCT provider FROM keys WHERE status = 'active' ORDER BY provider")
        .all()
        .await
        .and_then(|r| r.results::<ProviderRow>())
        .map_err(|e| ApiError::misconfigured(format!("reading providers from D1 failed ({e}); are the migrations applied?")))?;
    let list = Rc::new(rows.into_iter().map(|r| r.provider).collect::<Vec<_>>());
    ACTIVE_PROVIDERS.with(|c| *c.borrow_mut() = Some((list.clone(), now_ms)));
    Ok(list)
}

/// A provider's model ids: its own listing through the pool (cached), else the models its keys have served.
async fn listing(app: &Rc<App>, env: &Env, ctx: &Rc<Context>, provider: &'static Provider, now_ms: u64) -> Vec<String> {
    let cached = MODEL_LISTS.with(|m| m.borrow().get(provider.slug).cloned());
    if let Some((ids, at_ms)) = cached {
        if now_ms.saturating_sub(at_ms) < MODEL_LIST_TTL_MS {
            return ids.to_vec();
        }
    }
    let fetched = match provider.models_path {
        Some(path) => fetch_listing(app, env, ctx, provider, path).await,
        None => Vec::new(),
    };
    if !fetched.is_empty() {
        MODEL_LISTS.with(|m| m.borrow_mut().insert(provider.slug, (Rc::new(fetched.clone()), now_ms)));
        return fetched;
    }
    match key_cache::pool(env, provider.slug, key_cache::Sizes::of(&app.config), now_ms).await {
        Ok(pool) => pool.borrow().known_models(1_000),
        Err(_) => Vec::new(),
    }
}

async fn fetch_listing(app: &Rc<App>, env: &Env, ctx: &Rc<Context>, provider: &'static Provider, path: &'static str) -> Vec<String> {
    let Ok(headers) = Headers::new() else { return Vec::new() };
    let outbound = Outbound {
        destination: Destination {
            provider,
            segment: provider.slug,
            rest: path.to_string(),
            key_placement: provider.key_placement_for(path),
            query: String::new(),
        },
        method: "GET".to_string(),
        headers,
        body: Body::Empty,
        model: None,
        session: None,
        admission: None,
        dialect: Dialect::default(),
    };
    let Ok(response) = forward_and_wait(app.clone(), env, ctx.clone(), outbound).await else { return Vec::new() };
    if !verdict::is_success(response.status()) {
        return Vec::new();
    }
    match relay::read_response_body(&response, MAX_MODEL_LIST_BYTES, u64::from(app.config.upstream_timeout_ms)).await {
        Ok(bytes) => compat::parse_model_list(&bytes.to_vec()),
        Err(_) => Vec::new(),
    }
}

/// Largest models listing read (Gemini's and OpenRouter's are a few hundred KB).
const MAX_MODEL_LIST_BYTES: usize = 8 * 1024 * 1024;
