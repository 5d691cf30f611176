//! The attempt loop: pick a key, send, classify, record, and either answer or try the next key.
//!
//! At most `MAX_ATTEMPTS` distinct keys per request, and no new attempt after twice `UPSTREAM_TIMEOUT_MS`. The
//! decision to retry is made before any byte reaches the client: a 2xx is streamed through untouched, and only
//! non-2xx bodies (small error objects) are read. When attempts run out the client gets the last upstream error,
//! a 429 with `Retry-After` set to when the soonest key is free, or 504 after a time-out — never a made-up 500.

use super::app::App;
use super::key_cache::{self, SharedPool};
use super::{hot_path, respond};
use super::{clock, store};
use crate::api_error::ApiError;
use crate::config::Config;
use crate::cooldown::{self, ALL_MODELS};
use crate::pool::{pick, Pick};
use crate::providers::{KeyPlacement, Provider};
use crate::record::{self, KeyUpdate};
use crate::throttle::{Reading, ThrottleDetector};
use crate::upstream::{self, Route};
use crate::verdict::{self, HeaderLookup, Verdict};
use futures_util::future::{select, Either};
use js_sys::futures::JsFuture;
use js_sys::{ArrayBuffer, Uint8Array};
use std::cell::RefCell;
use std::time::Duration;
use wasm_bindgen::JsCast;
use web_sys::{Headers, Response};
use worker::{console_error, Context, Delay, Env};

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
    /// The body, buffered once and replayed on each attempt.
    pub body: Option<Uint8Array>,
    /// The model the request asks for (`None`: a models listing).
    pub model: Option<String>,
}

thread_local! {
    static RNG: RefCell<fastrand::Rng> = RefCell::new(fastrand::Rng::with_seed((js_sys::Math::random() * 1.8e19) as u64));
    static THROTTLE: RefCell<ThrottleDetector> = RefCell::new(ThrottleDetector::default());
}

/// The isolate's pool-wide throttle figures, for the admin overview.
pub fn throttle_figures(config: &Config) -> Vec<crate::throttle::Figures> {
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

/// Sends `outbound` with pool keys until one answers for good.
pub async fn forward(app: &App, env: &Env, ctx: &Context, outbound: Outbound) -> Result<Response, ApiError> {
    let config = &app.config;
    let provider = outbound.provider;
    let model = outbound.model.as_deref();
    let throttle_model = model.unwrap_or_default();
    let started_ms = clock::now_ms();
    if let Some(until_s) = THROTTLE.with(|t| t.borrow().paused_until(provider.slug, throttle_model, started_ms / 1_000)) {
        return Err(ApiError::pool_throttled(provider.slug, cooldown::retry_after_s(until_s, started_ms / 1_000)));
    }
    let deadline_ms = started_ms + 2 * u64::from(config.upstream_timeout_ms);
    super::usage::maybe_flush(env, ctx, config.usage_flush_s, started_ms / 1_000);
    let pool = key_cache::pool(env, provider.slug, config.key_cache_ttl_s, started_ms)
        .await
        .map_err(|e| ApiError::misconfigured(format!("reading keys from D1 failed ({e}); are the migrations applied?")))?;

    let mut tried: Vec<usize> = Vec::new();
    let mut attempts: Vec<(String, &'static str)> = Vec::new();
    let mut last_failure: Option<Failure> = None;
    let mut paused_until_s: Option<u64> = None;
    while tried.len() < config.max_attempts as usize && clock::now_ms() < deadline_ms {
        let now_s = clock::now_s();
        let choice = RNG.with(|rng| pick(&pool.borrow(), model, &tried, now_s, &mut rng.borrow_mut()));
        let index = match choice {
            Some(Pick::Ready(index)) => index,
            // Every key is cooling: try the one that frees soonest, once, and only if nothing was tried yet.
            Some(Pick::Cooling { index, .. }) if tried.is_empty() => index,
            _ => break,
        };
        tried.push(index);
        let (key_id, short_id, secret, previous, previous_all) = {
            let pool = pool.borrow();
            let Some(key) = pool.key(index) else { break };
            let previous = model.map(|m| pool.model_entry(index, m)).unwrap_or_default();
            (key.id.clone(), key.short_id().to_string(), key.secret.clone(), previous, pool.model_entry(index, ALL_MODELS))
        };

        let remaining_ms = deadline_ms.saturating_sub(clock::now_ms()).max(1);
        let timeout_ms = remaining_ms.min(u64::from(config.upstream_timeout_ms));
        let route = upstream::route(config, provider, random_below(config.gateways.len()))
            .map_err(|_| ApiError::misconfigured(format!("{} has no direct base URL: set CLOUDFLARE_ACCOUNT_ID and AI_GATEWAY to route it through AI Gateway", provider.slug)))?;
        let (verdict, answer) = send_and_classify(app, &outbound, &route, secret.expose(), &short_id, tried.len(), timeout_ms).await;
        attempts.push((short_id, verdict.label()));
        super::usage::count(&key_id, verdict, answer.as_ref().map(|a| a.response.status()), clock::now_s());

        let now_s = clock::now_s();
        let attempt = record::Attempt { provider, model, previous, previous_all, threshold: config.consecutive_429_threshold, now_s };
        let (plan, paused) = decide(config, &attempt, &key_id, verdict);
        paused_until_s = paused;
        apply(ctx, env, provider.slug, &pool, &key_id, plan, config.consecutive_429_threshold);

        let attempts_line = upstream::attempts_header(&attempts);
        match (verdict, answer) {
            (Verdict::Success, Some(Answer { response, .. })) => {
                return respond::stream_through(&response, &attempts_line).map_err(internal);
            }
            (Verdict::ClientError, Some(Answer { response, body: Some(body) })) => {
                return respond::replay(response.status(), &response.headers(), &body, &attempts_line, None).map_err(internal);
            }
            (_, Some(Answer { response, body: Some(body) })) => {
                last_failure = Some(Failure::Upstream { status: response.status(), headers: response.headers(), body });
            }
            (Verdict::Timeout, _) => last_failure = Some(Failure::Timeout),
            _ => last_failure = Some(Failure::Unreachable),
        }
        if paused_until_s.is_some() {
            break;
        }
        if verdict == Verdict::NotKeyFault {
            Delay::from(Duration::from_millis(50 + random_below(200) as u64)).await;
        }
    }
    let attempts_line = upstream::attempts_header(&attempts);
    if let Some(until_s) = paused_until_s {
        let error = ApiError::pool_throttled(provider.slug, cooldown::retry_after_s(until_s, clock::now_s()));
        return respond::api_error(&error, Some(&attempts_line)).map_err(internal);
    }
    give_up(provider, model, &pool, last_failure, &attempts_line)
}

/// Sends `outbound` once with `key`, outside the pool (the scheduled re-check), and classifies the answer.
pub async fn probe_once(app: &App, outbound: &Outbound, key: &str, short_id: &str) -> Verdict {
    let Ok(route) = upstream::route(&app.config, outbound.provider, random_below(app.config.gateways.len())) else {
        return Verdict::NotKeyFault;
    };
    let timeout_ms = u64::from(app.config.upstream_timeout_ms);
    send_and_classify(app, outbound, &route, key, short_id, 1, timeout_ms).await.0
}

/// An upstream answer: the response, and for a non-2xx its body, already read.
struct Answer {
    response: Response,
    body: Option<Uint8Array>,
}

/// One upstream request with one key, bounded by `timeout_ms` to response headers (see `js/hot_path.js`), and what
/// its answer means. 2xx bodies are left unread, to stream through.
async fn send_and_classify(
    app: &App,
    outbound: &Outbound,
    route: &Route,
    key: &str,
    short_id: &str,
    attempt: usize,
    timeout_ms: u64,
) -> (Verdict, Option<Answer>) {
    let url = upstream::upstream_url(route, outbound.segment, &outbound.rest, &outbound.query);
    let placement = outbound.key_placement;
    let through_gateway = matches!(route, Route::Gateway(_));
    let metadata = through_gateway.then(|| format!(r#"{{"one_balance_key":"{short_id}","one_balance_attempt":{attempt}}}"#));
    let token = app.gateway_token.clone().filter(|_| through_gateway);
    let promise = hot_path::send_attempt(
        &url,
        &outbound.method,
        &outbound.headers,
        placement.header_name(),
        &placement.header_value(key),
        metadata,
        token,
        outbound.body.clone(),
        timeout_ms as f64,
    );
    let answered = match JsFuture::from(promise).await {
        Ok(value) if value.as_string().as_deref() == Some("timeout") => return (Verdict::Timeout, None),
        Ok(value) => value.dyn_into::<Response>(),
        Err(error) => Err(error),
    };
    let Ok(response) = answered else { return (Verdict::Transient, None) };
    if (200..300).contains(&response.status()) {
        return (Verdict::Success, Some(Answer { response, body: None }));
    }
    let body = read_body(&response, timeout_ms).await;
    let verdict = verdict::classify(response.status(), &WebHeaders(&response.headers()), &body.to_vec(), clock::now_s());
    (verdict, Some(Answer { response, body: Some(body) }))
}

/// What to record about the key, and whether the pool as a whole is now paused: a 429 that the throttle detector
/// reads as pool-wide must not lengthen the key's cooldown.
fn decide(config: &Config, attempt: &record::Attempt<'_>, key_id: &str, verdict: Verdict) -> (KeyUpdate, Option<u64>) {
    let rate_limited = match verdict {
        Verdict::Success => false,
        Verdict::RateLimited(_) => true,
        _ => return (record::plan(verdict, attempt), None),
    };
    let model = attempt.model.unwrap_or_default();
    let reading = THROTTLE.with(|t| {
        t.borrow_mut().observe(&config.throttle, attempt.provider.slug, model, key_id, rate_limited, attempt.now_s)
    });
    match reading {
        Reading::PoolThrottled { until_s } => (KeyUpdate::Nothing, Some(until_s)),
        Reading::KeyScoped => (record::plan(verdict, attempt), None),
    }
}

/// The answer when no attempt succeeded.
fn give_up(
    provider: &Provider,
    model: Option<&str>,
    pool: &SharedPool,
    last_failure: Option<Failure>,
    attempts: &str,
) -> Result<Response, ApiError> {
    let now_s = clock::now_s();
    let earliest_end = pool.borrow().earliest_cooldown_end_s(model, now_s);
    let retry_after = earliest_end.map(|end| cooldown::retry_after_s(end, now_s));
    match last_failure {
        None if pool.borrow().is_empty() || earliest_end.is_none() => Err(ApiError::no_keys(provider.slug)),
        None => Err(ApiError::all_cooling(provider.slug, retry_after.unwrap_or(1))),
        Some(Failure::Upstream { status: 429, headers, body }) => {
            let fallback = WebHeaders(&headers).header("retry-after").and_then(|v| v.trim().parse::<u64>().ok());
            let seconds = retry_after.or(fallback).unwrap_or(cooldown::DEFAULT_COOLDOWN_S);
            respond::replay(429, &headers, &body, attempts, Some(seconds)).map_err(internal)
        }
        Some(Failure::Upstream { status, headers, body }) => respond::replay(status, &headers, &body, attempts, None).map_err(internal),
        Some(Failure::Timeout) => Err(ApiError::upstream_timeout(retry_after.unwrap_or(5))),
        Some(Failure::Unreachable) => Err(ApiError::upstream_unreachable()),
    }
    .or_else(|error| match respond::api_error(&error, Some(attempts)) {
        Ok(response) => Ok(response),
        Err(_) => Err(error),
    })
}

fn internal(error: worker::Error) -> ApiError {
    console_error!("building a response failed: {error}");
    ApiError::misconfigured("the Worker could not build the response")
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
fn apply(ctx: &Context, env: &Env, provider: &str, pool: &SharedPool, key_id: &str, update: KeyUpdate, threshold: u32) {
    let now_s = clock::now_s();
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
