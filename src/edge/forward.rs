//! The attempt loop: pick a key, send, classify, record, and either answer or try the next key.
//!
//! At most `MAX_ATTEMPTS` distinct keys per request, and no new attempt after twice `UPSTREAM_TIMEOUT_MS`. The
//! decision to retry is made before any byte reaches the client: a 2xx is streamed through untouched, and only
//! non-2xx bodies (small error objects) are read. When attempts run out the client gets the last upstream error,
//! a 429 with `Retry-After` set to when the soonest key is free, or 504 after a time-out — never a made-up 500.
//!
//! The loop is a [`Forwarding`]: a Rust object whose methods make every decision synchronously, driven by `relay` in
//! `js/hot_path.js`, which does only the awaiting (the client's body, each attempt, an error body, a pause).

use super::app::App;
use super::key_cache::{self, SharedPool};
use super::{hot_path, respond};
use super::{clock, store};
use crate::api_error::ApiError;
use crate::config::Config;
use crate::cooldown::{self, ModelCooling, ALL_MODELS};
use crate::pool::{pick, Pick};
use crate::providers::{KeyPlacement, Provider};
use crate::key_update::{self, KeyUpdate};
use crate::breaker::{Reading, Breaker};
use crate::upstream::{self, Base};
use crate::verdict::{self, HeaderLookup, Verdict};
use futures_util::future::{select, Either};
use js_sys::futures::JsFuture;
use js_sys::{ArrayBuffer, Promise, Uint8Array};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::prelude::*;
use web_sys::{Headers, Request, Response};
use worker::{console_error, Context, Delay, Env};

/// The client's body.
pub enum Body {
    /// The request has none (GET, HEAD).
    Empty,
    /// Bytes already read, replayed on each attempt.
    Buffered(Uint8Array),
    /// Still in the client's request: `relay` reads it (at most [`super::request::MAX_BODY_BYTES`]), shows it to the
    /// admission check, and replays it on each attempt.
    Unread(Request),
}

/// The check a body must pass once read, returning the request's model: the native proxy's model rules, when the
/// model may be named in the body.
pub type Admission = Box<dyn FnOnce(&[u8]) -> Result<Option<String>, ApiError>>;

/// One request, ready to be sent with any pool key.
pub struct Outbound {
    /// The provider's facts.
    pub provider: &'static Provider,
    /// The path segment after the gateway base (the provider slug, or `compat`).
    pub segment: &'static str,
    /// The path after that segment.
    pub rest: String,
    /// Where the pool key goes.
    pub key_placement: KeyPlacement,
    /// The client's raw query string (`key` is dropped when the URL is built).
    pub query: String,
    /// HTTP method.
    pub method: String,
    /// Allow-listed client headers; the pool key is added per attempt.
    pub headers: Headers,
    /// The body.
    pub body: Body,
    /// The model the request asks for (`None`: a models listing, or not known until `admission` has read the body).
    pub model: Option<String>,
    /// Run on an [`Body::Unread`] body once read; its model replaces `model`.
    pub admission: Option<Admission>,
}

thread_local! {
    static RNG: RefCell<fastrand::Rng> = RefCell::new(fastrand::Rng::with_seed((js_sys::Math::random() * 1.8e19) as u64));
    static THROTTLE: RefCell<Breaker> = RefCell::new(Breaker::default());
}

/// The isolate's pool-wide throttle figures, for the admin overview.
pub fn throttle_figures(config: &Config) -> Vec<crate::breaker::Figures> {
    THROTTLE.with(|t| t.borrow().figures(&config.throttle, clock::now_s()))
}

fn random_below(n: usize) -> usize {
    RNG.with(|rng| rng.borrow_mut().usize(..n.max(1)))
}

struct WebHeaders<'a>(&'a Headers);

impl HeaderLookup for WebHeaders<'_> {
    fn header(&self, name: &str) -> Option<String> {
        self.0.get(name).ok().flatten()
    }
}

/// The last thing that went wrong, kept to answer with when attempts run out.
enum Failure {
    Upstream { status: u16, headers: Headers, body: Uint8Array },
    Timeout,
    Unreachable,
}

/// Sends `outbound` with keys from `pool` until one answers for good; the promise resolves to the client's response.
/// Synchronous up to the first await, which happens in `relay`.
pub fn forward(app: Rc<App>, env: &Env, ctx: Rc<Context>, outbound: Outbound, pool: SharedPool, started_ms: u64) -> Result<Promise, ApiError> {
    if outbound.admission.is_none() {
        throttled(outbound.provider, outbound.model.as_deref(), started_ms / 1_000)?;
    }
    upstream::base_for(&app.config, outbound.provider, 0).map_err(|_| {
        ApiError::misconfigured(format!(
            "{} has no direct base URL: set CLOUDFLARE_ACCOUNT_ID and AI_GATEWAY to route it through AI Gateway",
            outbound.provider.slug
        ))
    })?;
    super::usage::maybe_flush(env, &ctx, app.config.usage_flush_s, started_ms / 1_000);
    let Outbound { provider, segment, rest, key_placement, query, method, headers, body, model, admission } = outbound;
    let (body, request) = match body {
        Body::Empty => (None, None),
        Body::Buffered(bytes) => (Some(bytes), None),
        Body::Unread(request) => (None, Some(request)),
    };
    let deadline_ms = started_ms + 2 * u64::from(app.config.upstream_timeout_ms);
    let job = Forwarding {
        target: Target { provider, segment, rest, key_placement, query, model, admission },
        app,
        env: env.clone(),
        ctx,
        pool,
        tried: Vec::new(),
        attempts: Vec::new(),
        last_failure: None,
        paused_until_s: None,
        deadline_ms,
        current: None,
    };
    Ok(hot_path::relay(job, &method, &headers, body, request, super::request::MAX_BODY_BYTES as f64))
}

/// A pool-wide pause of `provider` for `model` (see `crate::breaker`), as the client's error.
fn throttled(provider: &Provider, model: Option<&str>, now_s: u64) -> Result<(), ApiError> {
    match THROTTLE.with(|t| t.borrow().paused_until(provider.slug, model.unwrap_or_default(), now_s)) {
        Some(until_s) => Err(ApiError::pool_throttled(provider.slug, cooldown::retry_after_s(until_s, now_s))),
        None => Ok(()),
    }
}

/// [`forward`] for callers that are async anyway (the pool is not cached, or the body was read in Rust): loads the
/// pool, then awaits the response.
pub async fn forward_and_wait(app: Rc<App>, env: &Env, ctx: Rc<Context>, outbound: Outbound) -> Result<Response, ApiError> {
    let now_ms = clock::now_ms();
    let pool = key_cache::pool(env, outbound.provider.slug, app.config.key_cache_ttl_s, now_ms)
        .await
        .map_err(|e| ApiError::misconfigured(format!("reading keys from D1 failed ({e}); are the migrations applied?")))?;
    let promise = forward(app, env, ctx, outbound, pool, now_ms)?;
    match JsFuture::from(promise).await.map(JsCast::dyn_into::<Response>) {
        Ok(Ok(response)) => Ok(response),
        _ => Err(ApiError::misconfigured("the Worker could not build the response")),
    }
}

/// What is sent: everything of [`Outbound`] but the method, headers and body, which `relay` holds.
struct Target {
    provider: &'static Provider,
    segment: &'static str,
    rest: String,
    key_placement: KeyPlacement,
    query: String,
    model: Option<String>,
    admission: Option<Admission>,
}

/// The key being tried and what the pool knew of it before.
struct Current {
    key_id: String,
    short_id: String,
    previous: ModelCooling,
    previous_all: ModelCooling,
    timeout_ms: u64,
}

/// One request's attempt loop, driven by `relay` in `js/hot_path.js`.
#[wasm_bindgen]
pub struct Forwarding {
    app: Rc<App>,
    env: Env,
    ctx: Rc<Context>,
    target: Target,
    pool: SharedPool,
    tried: Vec<usize>,
    attempts: Vec<(String, &'static str)>,
    last_failure: Option<Failure>,
    paused_until_s: Option<u64>,
    deadline_ms: u64,
    current: Option<Current>,
}

#[wasm_bindgen]
impl Forwarding {
    /// Checks the body just read; `Some(response)` refuses the request.
    pub fn admit(&mut self, body: &[u8]) -> Result<Option<Response>, JsValue> {
        let Some(admission) = self.target.admission.take() else { return Ok(None) };
        let admitted = admission(body).and_then(|model| {
            throttled(self.target.provider, model.as_deref(), clock::now_s())?;
            Ok(model)
        });
        match admitted {
            Ok(model) => {
                self.target.model = model;
                Ok(None)
            }
            Err(error) => self.error(&error).map(Some),
        }
    }

    /// The answer to a body over the size limit.
    #[wasm_bindgen(js_name = tooLarge)]
    pub fn too_large(&self) -> Result<Response, JsValue> {
        self.error(&ApiError::too_large(super::request::MAX_BODY_BYTES))
    }

    /// The answer to a body that could not be read.
    pub fn unreadable(&self) -> Result<Response, JsValue> {
        self.error(&ApiError::bad_request("unreadable_body", "the request body could not be read"))
    }

    /// Prepares the next attempt: puts the next key (and, through AI Gateway, the gateway's headers) into `headers`
    /// and returns the URL to send to; `None` when the loop is over (answer with [`Forwarding::finish`]).
    pub fn next(&mut self, headers: &Headers) -> Option<String> {
        let config = &self.app.config;
        let now_ms = clock::now_ms();
        if self.paused_until_s.is_some() || self.tried.len() >= config.max_attempts as usize || now_ms >= self.deadline_ms {
            return None;
        }
        let model = self.target.model.as_deref();
        let index = match RNG.with(|rng| pick(&self.pool.borrow(), model, &self.tried, now_ms / 1_000, &mut rng.borrow_mut())) {
            Some(Pick::Ready(index)) => index,
            // Every key is cooling: try the one that frees soonest, once, and only if nothing was tried yet.
            Some(Pick::Cooling { index, .. }) if self.tried.is_empty() => index,
            _ => return None,
        };
        self.tried.push(index);
        let pool = self.pool.borrow();
        let key = pool.key(index)?;
        // `forward` checked that the provider has a route.
        let route = upstream::base_for(config, self.target.provider, random_below(config.gateways.len())).ok()?;
        put_key(&self.app, headers, &route, self.target.key_placement, key.secret.expose(), key.short_id(), self.tried.len()).ok()?;
        self.current = Some(Current {
            key_id: key.id.clone(),
            short_id: key.short_id().to_string(),
            previous: model.map(|m| pool.model_entry(index, m)).unwrap_or_default(),
            previous_all: pool.model_entry(index, ALL_MODELS),
            timeout_ms: self.deadline_ms.saturating_sub(now_ms).max(1).min(u64::from(config.upstream_timeout_ms)),
        });
        Some(upstream::upstream_url(&route, self.target.segment, &self.target.rest, &self.target.query))
    }

    /// The current attempt's time limit, for its response headers and again for an error body.
    #[wasm_bindgen(js_name = attemptTimeoutMs)]
    pub fn attempt_timeout_ms(&self) -> f64 {
        self.current.as_ref().map_or(1.0, |c| c.timeout_ms as f64)
    }

    /// A 2xx answer: recorded, and passed on with its body streaming through.
    pub fn succeeded(&mut self, response: Response, status: u16) -> Result<Response, JsValue> {
        self.record(Verdict::Success, Some(status), clock::now_s());
        respond::stream_through(&response, &upstream::attempts_header(&self.attempts)).map_err(js_error)
    }

    /// No answer (`timed_out`, or the fetch failed): recorded; the next key is tried at once.
    pub fn failed(&mut self, timed_out: bool) {
        let verdict = if timed_out { Verdict::Timeout } else { Verdict::Transient };
        self.record(verdict, None, clock::now_s());
        self.last_failure = Some(if timed_out { Failure::Timeout } else { Failure::Unreachable });
    }

    /// A non-2xx answer and its body: classified and recorded. Returns the client's response when this answer is
    /// final (the client's own error), else the pause before the next attempt, in ms.
    pub fn rejected(&mut self, response: Response, body: Uint8Array) -> Result<JsValue, JsValue> {
        let status = response.status();
        let headers = response.headers();
        let now_s = clock::now_s();
        let verdict = verdict::classify(status, &WebHeaders(&headers), &body.to_vec(), now_s);
        self.record(verdict, Some(status), now_s);
        if verdict == Verdict::ClientError {
            let attempts = upstream::attempts_header(&self.attempts);
            return respond::replay(status, &headers, &body, &attempts, None).map(Into::into).map_err(js_error);
        }
        self.last_failure = Some(Failure::Upstream { status, headers, body });
        let pause_ms = if verdict == Verdict::NotKeyFault { 50 + random_below(200) } else { 0 };
        Ok(JsValue::from_f64(pause_ms as f64))
    }

    /// The answer when the loop is over without a final one.
    pub fn finish(&mut self) -> Result<Response, JsValue> {
        let attempts = upstream::attempts_header(&self.attempts);
        let now_s = clock::now_s();
        if let Some(until_s) = self.paused_until_s {
            return self.error(&ApiError::pool_throttled(self.target.provider.slug, cooldown::retry_after_s(until_s, now_s)));
        }
        let model = self.target.model.as_deref();
        let pool = self.pool.borrow();
        let earliest_end = pool.earliest_cooldown_end_s(model, now_s);
        let retry_after = earliest_end.map(|end| cooldown::retry_after_s(end, now_s));
        let slug = self.target.provider.slug;
        let error = match self.last_failure.take() {
            None if pool.is_empty() || earliest_end.is_none() => ApiError::no_keys(slug),
            None => ApiError::all_cooling(slug, retry_after.unwrap_or(1)),
            Some(Failure::Upstream { status: 429, headers, body }) => {
                let fallback = WebHeaders(&headers).header("retry-after").and_then(|v| v.trim().parse::<u64>().ok());
                let seconds = retry_after.or(fallback).unwrap_or(cooldown::DEFAULT_COOLDOWN_S);
                return respond::replay(429, &headers, &body, &attempts, Some(seconds)).map_err(js_error);
            }
            Some(Failure::Upstream { status, headers, body }) => {
                return respond::replay(status, &headers, &body, &attempts, None).map_err(js_error);
            }
            Some(Failure::Timeout) => ApiError::upstream_timeout(retry_after.unwrap_or(5)),
            Some(Failure::Unreachable) => ApiError::upstream_unreachable(),
        };
        drop(pool);
        self.error(&error)
    }
}

impl Forwarding {
    fn error(&self, error: &ApiError) -> Result<Response, JsValue> {
        respond::api_error(error, Some(&upstream::attempts_header(&self.attempts))).map_err(js_error)
    }

    /// Counts the attempt, and records what it taught about the key.
    fn record(&mut self, verdict: Verdict, status: Option<u16>, now_s: u64) {
        let Some(current) = self.current.take() else { return };
        self.attempts.push((current.short_id, verdict.label()));
        super::usage::count(&current.key_id, verdict, status, now_s);
        let config = &self.app.config;
        let attempt = key_update::Attempt {
            provider: self.target.provider,
            model: self.target.model.as_deref(),
            previous: current.previous,
            previous_all: current.previous_all,
            threshold: config.consecutive_429_threshold,
            now_s,
        };
        let (plan, paused) = decide(config, &attempt, &current.key_id, verdict);
        self.paused_until_s = paused;
        apply(&self.ctx, &self.env, self.target.provider.slug, &self.pool, &current.key_id, plan, config.consecutive_429_threshold, now_s);
    }
}

fn js_error(error: worker::Error) -> JsValue {
    console_error!("building a response failed: {error}");
    JsValue::from_str("the Worker could not build the response")
}

/// Puts `key` where `placement` says, and through AI Gateway the gateway's headers: which key and attempt this is
/// (`cf-aig-metadata`, for the gateway's logs) and `AI_GATEWAY_TOKEN` for an authenticated gateway.
fn put_key(app: &App, headers: &Headers, route: &Base, placement: KeyPlacement, key: &str, short_id: &str, attempt: usize) -> Result<(), JsValue> {
    headers.set(placement.header_name(), &placement.header_value(key))?;
    if matches!(route, Base::Gateway(_)) {
        headers.set("cf-aig-metadata", &format!(r#"{{"one_balance_key":"{short_id}","one_balance_attempt":{attempt}}}"#))?;
        if let Some(token) = &app.gateway_token {
            headers.set("cf-aig-authorization", &format!("Bearer {token}"))?;
        }
    }
    Ok(())
}

/// Sends `outbound` once with `key`, outside the pool (the scheduled re-check), and classifies the answer.
pub async fn probe_once(app: &App, outbound: &Outbound, key: &str, short_id: &str) -> Verdict {
    let Ok(route) = upstream::base_for(&app.config, outbound.provider, random_below(app.config.gateways.len())) else {
        return Verdict::NotKeyFault;
    };
    let timeout_ms = u64::from(app.config.upstream_timeout_ms);
    if put_key(app, &outbound.headers, &route, outbound.key_placement, key, short_id, 1).is_err() {
        return Verdict::NotKeyFault;
    }
    let body = match &outbound.body {
        Body::Buffered(bytes) => JsValue::from(bytes),
        Body::Empty | Body::Unread(_) => JsValue::UNDEFINED,
    };
    let url = upstream::upstream_url(&route, outbound.segment, &outbound.rest, &outbound.query);
    let sent = hot_path::send_attempt(&url, &outbound.method, &outbound.headers, &body, timeout_ms as f64);
    let answered = match JsFuture::from(sent).await {
        Ok(value) if value.as_string().as_deref() == Some("timeout") => return Verdict::Timeout,
        Ok(value) => value.dyn_into::<Response>(),
        Err(error) => Err(error),
    };
    let Ok(response) = answered else { return Verdict::Transient };
    if (200..300).contains(&response.status()) {
        return Verdict::Success;
    }
    let body = read_body(&response, timeout_ms).await;
    verdict::classify(response.status(), &WebHeaders(&response.headers()), &body.to_vec(), clock::now_s())
}

/// What to record about the key, and whether the pool as a whole is now paused: a 429 that the throttle detector
/// reads as pool-wide must not lengthen the key's cooldown.
fn decide(config: &Config, attempt: &key_update::Attempt<'_>, key_id: &str, verdict: Verdict) -> (KeyUpdate, Option<u64>) {
    let rate_limited = match verdict {
        Verdict::Success => false,
        Verdict::RateLimited(_) => true,
        _ => return (key_update::plan(verdict, attempt), None),
    };
    let model = attempt.model.unwrap_or_default();
    let reading = THROTTLE.with(|t| {
        t.borrow_mut().observe(&config.throttle, attempt.provider.slug, model, key_id, rate_limited, attempt.now_s)
    });
    match reading {
        Reading::PoolThrottled { until_s } => (KeyUpdate::Nothing, Some(until_s)),
        Reading::KeyScoped => (key_update::plan(verdict, attempt), None),
    }
}

/// The body of an error answer, or nothing if it does not arrive within `timeout_ms` (an upstream that sends
/// error headers and then stalls must not hold the request).
async fn read_body(response: &Response, timeout_ms: u64) -> Uint8Array {
    let Ok(promise) = response.array_buffer() else { return Uint8Array::new_with_length(0) };
    match select(JsFuture::from(promise), Delay::from(Duration::from_millis(timeout_ms))).await {
        Either::Left((Ok(buffer), _)) => Uint8Array::new(&buffer.unchecked_into::<ArrayBuffer>()),
        Either::Left((Err(_), _)) | Either::Right(_) => Uint8Array::new_with_length(0),
    }
}

/// Applies a key update to the isolate's cache now and to D1 after the response.
#[allow(clippy::too_many_arguments)]
fn apply(ctx: &Context, env: &Env, provider: &str, pool: &SharedPool, key_id: &str, update: KeyUpdate, threshold: u32, now_s: u64) {
    match update {
        KeyUpdate::Nothing => {}
        KeyUpdate::Cool { model, state, until_s, daily_reset_s, streak_step, schedule_check } => {
            key_cache::learn(provider, pool, |p| p.learn_state(key_id, &model, state, now_s));
            let (env, key_id) = (env.clone(), key_id.to_string());
            ctx.wait_until(async move {
                let write = store::CoolWrite { key_id: &key_id, model: &model, until_s, daily_reset_s, threshold, streak_step, now_s };
                match env.d1("DB") {
                    Ok(db) => {
                        report(store::cool(&db, &write).await, "a cooldown");
                        if schedule_check {
                            report(store::schedule_check(&db, &key_id, now_s).await, "a re-check date");
                        }
                    }
                    Err(e) => report(Err(e), "a cooldown"),
                }
            });
        }
        KeyUpdate::ClearStreak { model, state } => {
            key_cache::learn(provider, pool, |p| p.learn_state(key_id, &model, state, now_s));
            let (env, key_id) = (env.clone(), key_id.to_string());
            ctx.wait_until(async move {
                match env.d1("DB") {
                    Ok(db) => report(store::clear_streak(&db, &key_id, &model, now_s).await, "a streak reset"),
                    Err(e) => report(Err(e), "a streak reset"),
                }
            });
        }
        KeyUpdate::Block => {
            key_cache::learn(provider, pool, |p| p.learn_blocked(key_id, now_s));
            let (env, key_id) = (env.clone(), key_id.to_string());
            ctx.wait_until(async move {
                match env.d1("DB") {
                    Ok(db) => report(store::block(&db, &key_id, now_s).await, "a block"),
                    Err(e) => report(Err(e), "a block"),
                }
            });
        }
    }
}

fn report(result: worker::Result<()>, what: &str) {
    if let Err(error) = result {
        console_error!("recording {what} in D1 failed: {error}");
    }
}
