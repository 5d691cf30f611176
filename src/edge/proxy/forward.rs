//! The attempt loop at the edge: a thin adapter between `relay` in `relay.js`, which awaits, and
//! [`crate::attempt::AttemptLoop`], which decides. It moves values both ways — the key into the headers, the answer's
//! status, headers and body into the classifier, the decision's key update into the cache and D1 — and builds the
//! responses the decisions name.
//!
//! [`Forwarding`] is exported to JavaScript; `relay` calls its methods in this order: (`admit` once the body is
//! read) → `next` → (`timedOut` | `unreachable` | `answered` → (`rejected` → `pauseMs`)) → … → (`canRefill` →
//! `refill` → `next` …) → `finish`. Every method but `refill` (another window of keys, read from D1) answers
//! synchronously, so the success path needs no wasm-bindgen future.
//!
//! A request converted from another client protocol ([`Dialect::conversion`]) goes through the same loop; only its
//! deliveries differ: a success streams through a [`Converter`] into the client's protocol, an upstream error is
//! rewritten into the client's error shape, and the Worker's own errors take that shape too.

use super::client::{self, CLIENT_BODY_TIMEOUT_MS, MAX_BODY_BYTES};
use super::converter::Converter;
use super::isolate::{count_affinity, with_isolate, with_rng};
use super::key_cache::{self, SharedPool};
use super::outbound::{put_key, Admission, Body, Dialect, GatewayTags, Outbound};
use super::{record, respond, usage};
use crate::edge::app::App;
use crate::edge::clock;
use crate::api_error::ApiError;
use crate::attempt::{AttemptLoop, Ending, Limits, Next, Outcome, Step};
use crate::convert::Reply;
use crate::hints;
use crate::protocols::{self, AnswerConverter};
use crate::redact;
use std::borrow::Cow;
use crate::upstream;
use crate::edge::web_headers::WebHeaders;
use crate::verdict::{self, HeaderLookup, MAX_ERROR_BODY_BYTES};
use js_sys::futures::JsFuture;
use js_sys::{Object, Promise, Reflect, Uint8Array};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use web_sys::{Headers, Request, Response};
use worker::wasm_bindgen_futures::future_to_promise;
use worker::{console_error, Context, Env};

#[wasm_bindgen(module = "/src/edge/proxy/relay.js")]
extern "C" {
    /// The limits `relay` applies (the `Limits` typedef of `relay.js`).
    type RelayLimits;

    /// Runs `job`'s attempts; resolves to the client's response. With `request`, its body is read first (within
    /// `limits`) and shown to `job.admit`; otherwise `body` is sent as it is.
    fn relay(job: Forwarding, method: &str, headers: &Headers, body: Option<Uint8Array>, request: Option<Request>, limits: &RelayLimits) -> Promise;
}

thread_local! {
    static RELAY_LIMITS: RelayLimits = relay_limits();
}

fn relay_limits() -> RelayLimits {
    let limits = Object::new();
    for (name, value) in [("bodyBytes", MAX_BODY_BYTES as f64), ("bodyTimeoutMs", CLIENT_BODY_TIMEOUT_MS as f64), ("errorBodyBytes", MAX_ERROR_BODY_BYTES as f64)] {
        let _ = Reflect::set(&limits, &JsValue::from_str(name), &JsValue::from_f64(value));
    }
    limits.unchecked_into()
}

/// Sends `outbound` with keys from `pool` until one answers for good; the promise resolves to the client's response.
/// Synchronous up to the first await, which happens in `relay`.
pub fn forward(app: Rc<App>, env: &Env, ctx: Rc<Context>, outbound: Outbound, pool: SharedPool, started_ms: u64) -> Result<Promise, ApiError> {
    let provider = outbound.destination.provider;
    upstream::base_for(&app.config, provider, 0).map_err(|_| {
        ApiError::misconfigured(format!(
            "{} has no direct base URL: set CLOUDFLARE_ACCOUNT_ID and AI_GATEWAY to route it through AI Gateway",
            provider.slug
        ))
    })?;
    usage::maybe_flush(env, &ctx, app.config.usage_flush_s, started_ms / 1_000);
    key_cache::maybe_poll(env, &ctx, app.config.key_cache_ttl_s, started_ms);
    let Outbound { destination, method, headers, body, model, session, admission, dialect } = outbound;
    let (body, request) = match body {
        Body::Empty => (None, None),
        Body::Buffered(bytes) => (Some(bytes), None),
        Body::Unread(request) => (None, Some(request)),
    };
    let limits = Limits::from_config(&app.config, started_ms);
    let mut attempts = AttemptLoop::new(destination, model, limits);
    attempts.set_session(session);
    let job = Forwarding {
        attempts,
        admission,
        app,
        env: env.clone(),
        ctx,
        pool,
        attempt_timeout_ms: 0,
        pause_ms: 0,
        last_answer: None,
        window_loaded: None,
        dialect,
    };
    Ok(RELAY_LIMITS.with(|limits| relay(job, &method, &headers, body, request, limits)))
}

/// [`forward`] for callers that are async anyway (the pool is not cached, or the body was read in Rust): loads the
/// pool, then awaits the response.
pub async fn forward_and_wait(app: Rc<App>, env: &Env, ctx: Rc<Context>, outbound: Outbound) -> Result<Response, ApiError> {
    let now_ms = clock::now_ms();
    let pool = key_cache::pool(env, outbound.destination.provider.slug, key_cache::Sizes::of(&app.config), now_ms)
        .await
        .map_err(|e| ApiError::misconfigured(format!("reading keys from D1 failed ({e}); are the migrations applied?")))?;
    let promise = forward(app, env, ctx, outbound, pool, now_ms)?;
    match JsFuture::from(promise).await.map(JsCast::dyn_into::<Response>) {
        Ok(Ok(response)) => Ok(response),
        _ => Err(ApiError::misconfigured("the Worker could not build the response")),
    }
}

/// An upstream answer kept to replay when attempts run out.
struct LastAnswer {
    status: u16,
    headers: Headers,
    body: Uint8Array,
}

/// One request's attempt loop, driven by `relay` in `relay.js`.
#[wasm_bindgen]
pub struct Forwarding {
    app: Rc<App>,
    env: Env,
    ctx: Rc<Context>,
    pool: SharedPool,
    attempts: AttemptLoop,
    admission: Option<Admission>,
    attempt_timeout_ms: u64,
    pause_ms: u64,
    last_answer: Option<LastAnswer>,
    /// Another window of the provider's keys, loaded by [`Forwarding::refill`] and not yet adopted.
    window_loaded: Option<Rc<std::cell::Cell<Option<SharedPool>>>>,
    /// How the client is answered (error shape, conversion).
    dialect: Dialect,
}

#[wasm_bindgen]
impl Forwarding {
    /// Checks the body just read; a response refuses the request.
    pub fn admit(&mut self, body: &[u8]) -> Option<Response> {
        let admission = self.admission.take()?;
        match admission(body) {
            Ok(admitted) => {
                self.attempts.set_model(admitted.model);
                if admitted.session.is_some() {
                    self.attempts.set_session(admitted.session);
                }
                None
            }
            Err(error) => Some(self.error(&error)),
        }
    }

    /// The answer to a body over the size limit.
    #[wasm_bindgen(js_name = tooLarge)]
    pub fn too_large(&self) -> Response {
        self.error(&ApiError::too_large(MAX_BODY_BYTES))
    }

    /// The answer to a body that could not be read.
    pub fn unreadable(&self) -> Response {
        self.error(&client::unreadable())
    }

    /// Prepares the next attempt: puts its key (and, through AI Gateway, the gateway's headers) into `headers` and
    /// returns the URL to send to; `None` when the loop is over (answer with [`Forwarding::finish`]).
    pub fn next(&mut self, headers: &Headers) -> Option<String> {
        let now_ms = clock::now_ms();
        if let Some(fresh) = self.window_loaded.take().and_then(|slot| slot.take()) {
            self.attempts.adopt_pool(&self.pool.borrow(), &fresh.borrow());
            self.pool = fresh;
        }
        let pool = self.pool.borrow();
        let config = &self.app.config;
        let next = with_isolate(&config.breaker, |isolate| {
            with_rng(|rng| self.attempts.next(&pool, isolate.breaker, isolate.in_flight, config, now_ms, rng))
        });
        let Next::Send(attempt) = next else { return None };
        let key = pool.key(attempt.index)?;
        let gateway = attempt.through_gateway.then(|| GatewayTags {
            short_id: key.short_id(),
            attempt: attempt.number,
            token: self.app.gateway_token.as_deref(),
        });
        if put_key(headers, self.attempts.key_placement(), key.secret.expose(), gateway).is_err() {
            return None;
        }
        self.attempt_timeout_ms = attempt.timeout_ms;
        Some(attempt.url)
    }

    /// Whether the loop ended only because this isolate's window of the provider's keys had none left to try, and
    /// another window may have one: then `relay` awaits [`Forwarding::refill`] and asks [`Forwarding::next`] again.
    #[wasm_bindgen(js_name = canRefill)]
    pub fn can_refill(&self) -> bool {
        self.window_loaded.is_none() && self.attempts.wants_another_window(&self.pool.borrow())
    }

    /// Loads another window of the provider's keys (once per request); resolves when it is in.
    pub fn refill(&mut self) -> Promise {
        let slot = Rc::new(std::cell::Cell::new(None));
        self.window_loaded = Some(slot.clone());
        let (env, held, provider) = (self.env.clone(), self.pool.clone(), self.attempts.provider().slug);
        let window = self.app.config.key_window as usize;
        future_to_promise(async move {
            slot.set(key_cache::another_window(&env, provider, &held, window, clock::now_ms()).await);
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The current attempt's time limit, for its response headers and again for an error body.
    #[wasm_bindgen(js_name = attemptTimeoutMs)]
    pub fn attempt_timeout_ms(&self) -> f64 {
        self.attempt_timeout_ms as f64
    }

    /// An answer whose headers arrived: a success is recorded and passed on with its body streaming through (the
    /// client's response is returned); anything else needs its body read and shown to [`Forwarding::rejected`].
    pub fn answered(&mut self, response: Response) -> Option<Response> {
        if !verdict::is_success(response.status()) {
            return None;
        }
        let outcome = Outcome::Answered { status: response.status(), verdict: verdict::Verdict::Success, retry_after_s: None };
        let now_ms = clock::now_ms();
        self.judge(outcome, now_ms);
        if let Some(conversion) = &self.dialect.conversion {
            let reply = Reply { model: conversion.client_model.clone(), id: with_rng(answer_id), created_s: now_ms / 1_000 };
            let content_type = AnswerConverter::content_type(conversion);
            return Some(respond::convert_through(&response, Converter::new(conversion, reply), content_type, &self.attempts.attempts_header()));
        }
        match respond::stream_through(&response, &self.attempts.attempts_header()) {
            Ok(passed) => Some(passed),
            Err(error) => Some(self.error(&built_failed(&error))),
        }
    }

    /// A non-2xx answer and its body: classified and recorded. Returns the client's response when this answer is
    /// final (the client's own error); `None`: try the next key after [`Forwarding::pause_ms`].
    pub fn rejected(&mut self, response: Response, body: Uint8Array) -> Option<Response> {
        let status = response.status();
        let headers = response.headers();
        let now_ms = clock::now_ms();
        let now_s = now_ms / 1_000;
        let lookup = WebHeaders(&headers);
        let bytes = body.to_vec();
        let verdict = verdict::classify(self.attempts.provider(), status, &lookup, &bytes, now_s);
        let retry_after_s = lookup.header("retry-after").and_then(|v| hints::retry_after_until_s(&v, now_s)).map(|until| until.saturating_sub(now_s));
        // The body goes to the client only with any echo of the pool key masked (OpenAI's 401 quotes part of it).
        let key = self.attempts.in_flight_index().and_then(|i| self.pool.borrow().key(i).map(|k| k.secret.clone()));
        let body = match key.as_ref().map(|key| redact::redact(&bytes, key.expose())) {
            Some(Cow::Owned(masked)) => Uint8Array::from(masked.as_slice()),
            _ => body,
        };
        let step = self.judge(Outcome::Answered { status, verdict, retry_after_s }, now_ms);
        if step == Step::Deliver {
            return Some(self.replay(&LastAnswer { status, headers, body }, None));
        }
        self.last_answer = Some(LastAnswer { status, headers, body });
        None
    }

    /// The milliseconds to wait before the next attempt.
    #[wasm_bindgen(js_name = pauseMs)]
    pub fn pause_ms(&self) -> f64 {
        self.pause_ms as f64
    }

    /// No response headers arrived in time; the next key is tried at once.
    #[wasm_bindgen(js_name = timedOut)]
    pub fn timed_out(&mut self) {
        self.judge(Outcome::TimedOut, clock::now_ms());
    }

    /// The request could not be sent; the next key is tried at once.
    pub fn unreachable(&mut self) {
        self.judge(Outcome::Unreachable, clock::now_ms());
    }

    /// The answer when the loop is over without a final one.
    pub fn finish(&mut self) -> Response {
        let now_s = clock::now_s();
        let ending = self.attempts.ending(&self.pool.borrow(), now_s);
        let slug = self.attempts.provider().slug;
        let error = match ending {
            Ending::Throttled { retry_after_s } => ApiError::pool_throttled(slug, retry_after_s),
            Ending::NoKeys => ApiError::no_keys(slug),
            Ending::AllCooling { retry_after_s } => ApiError::all_cooling(slug, retry_after_s),
            Ending::TimedOut { retry_after_s } => ApiError::upstream_timeout(retry_after_s),
            Ending::Unreachable => ApiError::upstream_unreachable(),
            Ending::LastAnswer { retry_after_s } => match self.last_answer.take() {
                Some(answer) => return self.replay(&answer, retry_after_s),
                None => ApiError::upstream_unreachable(),
            },
        };
        self.error(&error)
    }
}

impl Drop for Forwarding {
    /// When the request is over: its session figures are counted, and an attempt still in flight (the client went
    /// away) ends its registration.
    fn drop(&mut self) {
        with_isolate(&self.app.config.breaker, |isolate| self.attempts.abandon(isolate.in_flight));
        count_affinity(self.attempts.affinity());
    }
}

impl Forwarding {
    /// Judges an outcome, counts it and records what it taught about the key; returns what the request does next.
    fn judge(&mut self, outcome: Outcome, now_ms: u64) -> Step {
        let now_s = now_ms / 1_000;
        let config = &self.app.config;
        let pool = self.pool.borrow();
        let suspect = self.attempts.in_flight_index().and_then(|i| pool.key(i).map(|k| (k.id.clone(), k.short_id().to_string(), k.secret.clone())));
        let judged = with_isolate(&config.breaker, |isolate| with_rng(|rng| self.attempts.judge(outcome, &pool, isolate, now_ms, rng)));
        drop(pool);
        let Some(judged) = judged else { return Step::Deliver };
        usage::count(&judged.key_id, judged.verdict, judged.status, now_s);
        let slug = self.attempts.provider().slug;
        if judged.probe_key {
            if let Some((id, short_id, secret)) = suspect {
                record::confirm_suspect(&self.ctx, &self.env, &self.app, self.attempts.provider(), &self.pool, record::Suspect { id, short_id, secret }, now_s);
            }
        }
        record::apply(&self.ctx, &self.env, slug, &self.pool, &judged.key_id, judged.update, config.consecutive_429_threshold, now_s);
        self.pause_ms = match judged.step {
            Step::Retry { pause_ms } => pause_ms,
            Step::Deliver => 0,
        };
        judged.step
    }

    fn error(&self, error: &ApiError) -> Response {
        respond::api_error_in(error, Some(&self.attempts.attempts_header()), self.dialect.errors).unwrap_or_else(|e| respond::last_resort(&built_failed(&e)))
    }

    /// An upstream answer replayed to the client; for a converted request, its body in the client's error shape.
    fn replay(&self, answer: &LastAnswer, retry_after_s: Option<u64>) -> Response {
        let attempts = self.attempts.attempts_header();
        let replayed = match &self.dialect.conversion {
            Some(conversion) => {
                let body = Uint8Array::from(protocols::error_body(conversion.api, answer.status, &answer.body.to_vec()).as_slice());
                respond::replay(answer.status, &answer.headers, &body, &attempts, retry_after_s, Some("application/json"))
            }
            None => respond::replay(answer.status, &answer.headers, &answer.body, &attempts, retry_after_s, None),
        };
        replayed.unwrap_or_else(|e| self.error(&built_failed(&e)))
    }
}

/// A fresh id for a converted answer (`msg_…`, `resp_…`): 24 random hex digits.
fn answer_id(rng: &mut fastrand::Rng) -> String {
    format!("{:016x}{:08x}", rng.u64(..), rng.u32(..))
}

fn built_failed(error: &worker::Error) -> ApiError {
    console_error!("building a response failed: {error}");
    ApiError::misconfigured("the Worker could not build the response")
}
