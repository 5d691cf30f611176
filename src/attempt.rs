//! The attempt loop's decisions, as a pure state machine: which key a request tries next and where it is sent, what
//! an answer means for the request and for the key, and how the request ends when no answer was final.
//!
//! One [`AttemptLoop`] per request. The edge drives it: it asks [`AttemptLoop::next`] what to do, sends the request
//! when told to, classifies the answer ([`crate::verdict::classify`]) and hands the verdict to
//! [`AttemptLoop::judge`], which says whether the answer goes to the client or another key is tried (after a pause),
//! and what to record about the key. When `next` says [`Next::Finish`], the [`Ending`] says what the client gets.
//! Everything here is plain data: the pool, the verdicts and the clock come in as values, so every branch is tested
//! on the host.
//!
//! The rules (SPEC §3):
//! - at most `MAX_ATTEMPTS` distinct keys per request, and no new attempt after the deadline (twice
//!   `UPSTREAM_TIMEOUT_MS` from the start); an attempt gets what is left of that, at most `UPSTREAM_TIMEOUT_MS`;
//! - a key is chosen uniformly among the usable ones ([`crate::pool::pick`]); when every key is cooling, the one
//!   that frees soonest is tried once, and only as the request's first attempt;
//! - a success or the client's own error is delivered; anything else moves on to another key, after a short
//!   jittered pause when the fault was not the key's (the gateway or the region was overloaded);
//! - an answer that looks like a bad key but could be the request's doing ([`Verdict::SuspectKey`]) penalises no key:
//!   the first such key of a request is probed (the edge blocks it only if the probe is refused too), and a second
//!   one sends the answer back to the client, so no request can take more than one key out of the pool;
//! - a rate limit that the pool-wide breaker ([`crate::breaker`]) reads as the egress IP's, not the key's, records
//!   nothing about the key and ends the request with the breaker's pause;
//! - when attempts run out the client gets the last upstream answer (a 429 with `Retry-After` set to when the
//!   soonest key is free, else the upstream's own `Retry-After`, else the default cooldown), 504 after a time-out,
//!   502 when nothing answered, 429 when every key was cooling, 503 when the pool is empty — never a made-up 500.

use crate::breaker::{Answer, Breaker, BreakerConfig, Observation, Reading};
use crate::config::Config;
use crate::cooldown::{self, ALL_MODELS};
use crate::key_update::{self, KeyUpdate};
use crate::pool::{pick, pick_for_session, KeyPool, Pick};
use crate::providers::{KeyPlacement, Provider};
use crate::upstream::{self, Base};
use crate::verdict::Verdict;
use std::collections::HashMap;

/// Shortest and longest extra pause before the next attempt after a fault that was not the key's, in ms.
const NOT_KEY_FAULT_PAUSE_MS: (u64, u64) = (50, 250);

/// Where a request goes, whichever key carries it.
#[derive(Debug, Clone)]
pub struct Destination {
    /// The provider's facts.
    pub provider: &'static Provider,
    /// The path segment after the gateway base: the provider slug, or `compat` for AI Gateway's own endpoint.
    pub segment: &'static str,
    /// The path after that segment.
    pub rest: String,
    /// The client's raw query string (`key=` is dropped when the URL is built).
    pub query: String,
    /// Where the pool key goes.
    pub key_placement: KeyPlacement,
}

/// One attempt to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The key's index in the pool.
    pub index: usize,
    /// The full upstream URL.
    pub url: String,
    /// Whether it goes through AI Gateway (which takes the gateway's own headers).
    pub through_gateway: bool,
    /// 1 for the first attempt of the request.
    pub number: usize,
    /// Time allowed for response headers (and again for an error body), ms.
    pub timeout_ms: u64,
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Send the request with this key.
    Send(Attempt),
    /// Stop trying: answer as the ending says.
    Finish(Ending),
}

/// An upstream attempt's outcome, as the edge saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The upstream answered; `verdict` is what the answer means.
    Answered {
        /// The HTTP status.
        status: u16,
        /// The classification of the answer.
        verdict: Verdict,
        /// The answer's own `Retry-After`, in seconds, when it had a plain one.
        retry_after_s: Option<u64>,
    },
    /// No response headers within the attempt's time-out.
    TimedOut,
    /// The request could not be sent or the connection failed.
    Unreachable,
}

impl Outcome {
    /// The verdict of the outcome.
    pub fn verdict(self) -> Verdict {
        match self {
            Outcome::Answered { verdict, .. } => verdict,
            Outcome::TimedOut => Verdict::Timeout,
            Outcome::Unreachable => Verdict::Transient,
        }
    }

    fn status(self) -> Option<u16> {
        match self {
            Outcome::Answered { status, .. } => Some(status),
            Outcome::TimedOut | Outcome::Unreachable => None,
        }
    }
}

/// What the request does after an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// This answer goes to the client (a success, or the client's own error).
    Deliver,
    /// Try another key after `pause_ms` (ask [`AttemptLoop::next`]).
    Retry {
        /// Milliseconds to wait first.
        pause_ms: u64,
    },
}

/// The judgement of one outcome: what the request does, and what to record about the key that earned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    /// What the request does next.
    pub step: Step,
    /// What to record about the key (in the isolate's pool at once, in D1 after the response).
    pub update: KeyUpdate,
    /// The key's row id.
    pub key_id: String,
    /// The verdict, for the usage tally.
    pub verdict: Verdict,
    /// The upstream status, for the usage tally.
    pub status: Option<u16>,
    /// The key answered like a bad key, but the request could have caused it ([`Verdict::SuspectKey`]): probe it
    /// (the models listing, which no client shapes) and block it only if the probe is refused too. At most one
    /// key per request is probed.
    pub probe_key: bool,
}

/// How a request ends when no answer was final.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The pool-wide breaker paused this (provider, model): 429 `pool_throttled`.
    Throttled {
        /// Seconds until the pause ends.
        retry_after_s: u64,
    },
    /// The provider has no usable key at all: 503 `no_active_keys`.
    NoKeys,
    /// Every key is cooling for this model and none was tried: 429 `all_keys_cooling`.
    AllCooling {
        /// Seconds until the soonest key is free.
        retry_after_s: u64,
    },
    /// Replay the last upstream answer; a 429 gets this `Retry-After`.
    LastAnswer {
        /// `Retry-After` seconds for a 429, else `None` (the answer's own headers stay).
        retry_after_s: Option<u64>,
    },
    /// The last attempt got no response headers in time: 504.
    TimedOut {
        /// Seconds until the soonest key is free, or a short default.
        retry_after_s: u64,
    },
    /// Nothing could be reached: 502.
    Unreachable,
}

/// `Retry-After` of a 504 when no key is known to be cooling.
const TIMEOUT_RETRY_AFTER_S: u64 = 5;

/// The isolate's shared state a judgement reads and updates.
pub struct Isolate<'a> {
    /// The pool-wide 429 breaker.
    pub breaker: &'a mut Breaker,
    /// Its thresholds.
    pub breaker_config: &'a BreakerConfig,
    /// The attempts in flight.
    pub in_flight: &'a mut InFlightAttempts,
}

/// The limits of one request's loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Distinct keys at most (`MAX_ATTEMPTS`).
    pub max_attempts: usize,
    /// Time allowed for response headers (`UPSTREAM_TIMEOUT_MS`).
    pub upstream_timeout_ms: u64,
    /// No attempt starts at or after this unix millisecond.
    pub deadline_ms: u64,
    /// `CONSECUTIVE_429_THRESHOLD`.
    pub threshold: u32,
}

impl Limits {
    /// The limits `config` sets for a request that starts at `started_ms`.
    pub fn from_config(config: &Config, started_ms: u64) -> Limits {
        let timeout_ms = u64::from(config.upstream_timeout_ms);
        Limits {
            max_attempts: config.max_attempts as usize,
            upstream_timeout_ms: timeout_ms,
            deadline_ms: started_ms.saturating_add(2 * timeout_ms),
            threshold: config.consecutive_429_threshold,
        }
    }
}

/// The key being tried, and what was true of it when it was sent.
#[derive(Debug, Clone)]
struct InFlight {
    /// The key's rank in the session's own order (`None`: not chosen by a session).
    session_rank: Option<u64>,
    index: usize,
    key_id: String,
    short_id: String,
    sent_at_ms: u64,
    cooling_at_send: bool,
    overlapped: bool,
}

/// The attempts in flight in this isolate, per (key, model): a 429 for an attempt sent while another on the same
/// pair was in flight is an echo of one limit, not a new episode (see [`crate::cooldown`]). The edge keeps one per
/// isolate; every [`AttemptLoop::next`] that sends registers with it, and [`AttemptLoop::judge`] (or
/// [`AttemptLoop::abandon`]) ends the registration.
#[derive(Debug, Default)]
pub struct InFlightAttempts {
    counts: HashMap<(String, String), u32>,
}

impl InFlightAttempts {
    /// Registers an attempt; returns whether another on the pair was already in flight.
    fn start(&mut self, key_id: &str, model: &str) -> bool {
        let count = self.counts.entry((key_id.to_string(), model.to_string())).or_insert(0);
        *count += 1;
        *count > 1
    }

    /// Ends an attempt's registration.
    fn end(&mut self, key_id: &str, model: &str) {
        let pair = (key_id.to_string(), model.to_string());
        if let Some(count) = self.counts.get_mut(&pair) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.counts.remove(&pair);
            }
        }
    }

    /// Attempts registered, for tests and figures.
    pub fn len(&self) -> usize {
        self.counts.values().map(|c| *c as usize).sum()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

/// The last thing that went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Answer { status: u16, retry_after_s: Option<u64> },
    TimedOut,
    Unreachable,
}

/// One request's attempts.
#[derive(Debug, Clone)]
pub struct AttemptLoop {
    destination: Destination,
    model: Option<String>,
    limits: Limits,
    tried: Vec<usize>,
    log: Vec<(String, &'static str)>,
    in_flight: Option<InFlight>,
    last_failure: Option<Failure>,
    paused_until_s: Option<u64>,
    /// The last `next` found no key it could try in the pool (not the limits or a pause ended the loop).
    out_of_keys: bool,
    /// Keys of this request that answered [`Verdict::SuspectKey`].
    suspects: u32,
    /// The request's session ([`crate::affinity`]), when it has one.
    session: Option<u64>,
    /// How the key that answered for good was chosen.
    affinity: Affinity,
}

/// How a request's key was chosen, for the attempts header and the admin page's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Affinity {
    /// The request names no session: a uniform choice.
    None,
    /// The session's first choice served it (its prompt cache, if any, is on that key).
    Held,
    /// The session's first choice was cooling, blocked or failed: a later key of its own order served it.
    Moved,
    /// The session's keys were all unusable: a uniform choice served it.
    Lost,
}

/// How an isolate's requests chose their keys since it started (the admin overview shows them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AffinityFigures {
    /// Requests that ended.
    pub requests: u64,
    /// Of those, requests that named a session.
    pub with_session: u64,
    /// Of those, requests served by the session's first choice.
    pub held: u64,
    /// Requests served by a later key of the session's own order.
    pub moved: u64,
}

impl AffinityFigures {
    /// Counts one request that ended.
    pub fn count(&mut self, affinity: Affinity) {
        self.requests += 1;
        if affinity != Affinity::None {
            self.with_session += 1;
        }
        match affinity {
            Affinity::Held => self.held += 1,
            Affinity::Moved => self.moved += 1,
            Affinity::None | Affinity::Lost => {}
        }
    }

    /// The share of requests with a session, and the share of those the first choice served, in whole percent.
    pub fn shares(&self) -> (u64, u64) {
        let percent = |part: u64, whole: u64| (part * 100).checked_div(whole).unwrap_or(0);
        (percent(self.with_session, self.requests), percent(self.held, self.with_session))
    }
}

impl Affinity {
    /// The header label (`None` has none).
    pub fn label(self) -> Option<&'static str> {
        match self {
            Affinity::None => None,
            Affinity::Held => Some("held"),
            Affinity::Moved => Some("moved"),
            Affinity::Lost => Some("lost"),
        }
    }
}

impl AttemptLoop {
    /// A loop for a request to `destination` for `model` (`None`: a models listing, or not known yet).
    pub fn new(destination: Destination, model: Option<String>, limits: Limits) -> AttemptLoop {
        AttemptLoop {
            destination,
            model,
            limits,
            tried: Vec::new(),
            log: Vec::new(),
            in_flight: None,
            last_failure: None,
            paused_until_s: None,
            out_of_keys: false,
            suspects: 0,
            session: None,
            affinity: Affinity::None,
        }
    }

    /// Sets the request's session (a hash from [`crate::affinity`]): its keys are chosen in the session's own order.
    pub fn set_session(&mut self, session: Option<u64>) {
        self.session = session;
    }

    /// How the key that answered for good was chosen.
    pub fn affinity(&self) -> Affinity {
        self.affinity
    }

    /// The request's model.
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// Sets the model once the body has been read.
    pub fn set_model(&mut self, model: Option<String>) {
        self.model = model;
    }

    /// The provider.
    pub fn provider(&self) -> &'static Provider {
        self.destination.provider
    }

    /// Where the pool key goes.
    pub fn key_placement(&self) -> KeyPlacement {
        self.destination.key_placement
    }

    /// The attempts so far, for the `x-one-balance-attempts` header: `short id=verdict, …`, and `affinity=held`
    /// (or `moved`, `lost`) last when the request names a session and an answer was final.
    pub fn attempts_header(&self) -> String {
        let line = upstream::attempts_header(&self.log);
        match self.affinity.label() {
            Some(label) if !line.is_empty() => format!("{line}, affinity={label}"),
            _ => line,
        }
    }

    /// What to do next: send with a key, or finish. A (provider, model) the breaker has paused gets no attempt.
    pub fn next(&mut self, pool: &KeyPool, breaker: &Breaker, in_flight: &mut InFlightAttempts, config: &Config, now_ms: u64, rng: &mut fastrand::Rng) -> Next {
        let now_s = now_ms / 1_000;
        if self.paused_until_s.is_none() {
            self.paused_until_s = breaker.paused_until(self.destination.provider.slug, self.model.as_deref().unwrap_or_default(), now_s);
        }
        if self.paused_until_s.is_some() || self.tried.len() >= self.limits.max_attempts || now_ms >= self.limits.deadline_ms {
            return Next::Finish(self.ending(pool, now_s));
        }
        let model = self.model.as_deref();
        let by_session = self.session.and_then(|session| pick_for_session(pool, model, &self.tried, now_s, session));
        let index = match by_session.map(|(index, _)| Pick::Ready(index)).or_else(|| pick(pool, model, &self.tried, now_s, rng)) {
            Some(Pick::Ready(index)) => index,
            // Every key is cooling: try the one that frees soonest, once, and only if nothing was tried yet.
            Some(Pick::Cooling { index, .. }) if self.tried.is_empty() => index,
            _ => {
                self.out_of_keys = true;
                return Next::Finish(self.ending(pool, now_s));
            }
        };
        let (Some(key), Ok(base)) = (pool.key(index), upstream::base_for(config, self.destination.provider, rng.usize(..))) else {
            return Next::Finish(self.ending(pool, now_s));
        };
        self.tried.push(index);
        self.in_flight = Some(InFlight {
            session_rank: by_session.map(|(_, rank)| rank),
            index,
            key_id: key.id.clone(),
            short_id: key.short_id().to_string(),
            sent_at_ms: now_ms,
            cooling_at_send: cooldown::is_cooling(&pool.state(index, model), now_s),
            overlapped: in_flight.start(&key.id, model.unwrap_or_default()),
        });
        let Destination { segment, rest, query, .. } = &self.destination;
        Next::Send(Attempt {
            index,
            url: upstream::upstream_url(&base, segment, rest, query),
            through_gateway: matches!(base, Base::Gateway(_)),
            number: self.tried.len(),
            timeout_ms: self.limits.deadline_ms.saturating_sub(now_ms).clamp(1, self.limits.upstream_timeout_ms.max(1)),
        })
    }

    /// Whether the loop ended only because `pool`, a window of the provider's keys, had no key left to try: another
    /// window may have one (see [`crate::pool::WINDOW_KEYS`]).
    pub fn wants_another_window(&self, pool: &KeyPool) -> bool {
        self.out_of_keys && !pool.is_complete() && self.paused_until_s.is_none() && self.tried.len() < self.limits.max_attempts
    }

    /// Continues with `new`, another window of the same provider, instead of `old`: keys already tried stay tried.
    pub fn adopt_pool(&mut self, old: &KeyPool, new: &KeyPool) {
        self.tried = self.tried.iter().filter_map(|&i| old.key(i).and_then(|key| new.index_of(&key.id))).collect();
        self.out_of_keys = false;
    }

    /// Judges the outcome of the attempt in flight, against `pool` as it stands now (what was recorded about the key
    /// since it was sent counts). `None` when no attempt is in flight (a caller's mistake).
    pub fn judge(&mut self, outcome: Outcome, pool: &KeyPool, isolate: Isolate<'_>, now_ms: u64, rng: &mut fastrand::Rng) -> Option<Judgement> {
        let current = self.in_flight.take()?;
        let model = self.model.as_deref();
        isolate.in_flight.end(&current.key_id, model.unwrap_or_default());
        let verdict = outcome.verdict();
        self.log.push((current.short_id, verdict.label()));
        let attempt = key_update::Attempt {
            provider: self.destination.provider,
            model,
            previous: model.map(|m| pool.model_entry(current.index, m)).unwrap_or_default(),
            previous_all: pool.model_entry(current.index, ALL_MODELS),
            threshold: self.limits.threshold,
            sent_at_ms: current.sent_at_ms,
            cooling_at_send: current.cooling_at_send,
            overlapped: current.overlapped,
            now_ms,
        };
        let answer = Answer::of(verdict);
        // The breaker weighs a 429 without quota details against the keys still usable (this one no longer is).
        let usable_keys = matches!(answer, Answer::RateLimited { key_scoped: false }).then(|| {
            let now_s = now_ms / 1_000;
            let usable = pool.usable_count(model, now_s);
            usable.saturating_sub(usize::from(!pool.is_blocked(current.index) && !cooldown::is_cooling(&pool.state(current.index, model), now_s)))
        });
        let seen = Observation { provider: self.destination.provider.slug, model: model.unwrap_or_default(), key: &current.key_id, answer, usable_keys };
        let update = match isolate.breaker.observe(isolate.breaker_config, &seen, now_ms / 1_000) {
            Reading::PoolThrottled { until_s } => {
                self.paused_until_s = Some(until_s);
                KeyUpdate::Nothing
            }
            Reading::KeyScoped => key_update::plan(verdict, &attempt),
        };
        let probe_key = verdict == Verdict::SuspectKey && self.suspects == 0;
        if verdict == Verdict::SuspectKey {
            self.suspects += 1;
        }
        // A second key refusing the same request like a bad key: the request is the likelier cause. It goes back to
        // the client instead of spending (and probing) more keys.
        let suspect_again = verdict == Verdict::SuspectKey && self.suspects > 1;
        let step = if verdict.retries() && !suspect_again {
            self.last_failure = Some(match outcome {
                Outcome::Answered { status, retry_after_s, .. } => Failure::Answer { status, retry_after_s },
                Outcome::TimedOut => Failure::TimedOut,
                Outcome::Unreachable => Failure::Unreachable,
            });
            let pause_ms = match verdict {
                Verdict::NotKeyFault => NOT_KEY_FAULT_PAUSE_MS.0 + rng.u64(..NOT_KEY_FAULT_PAUSE_MS.1 - NOT_KEY_FAULT_PAUSE_MS.0),
                _ => 0,
            };
            Step::Retry { pause_ms }
        } else {
            Step::Deliver
        };
        if step == Step::Deliver && self.session.is_some() {
            self.affinity = match current.session_rank {
                Some(0) => Affinity::Held,
                Some(_) => Affinity::Moved,
                None => Affinity::Lost,
            };
        }
        Some(Judgement { step, update, key_id: current.key_id, verdict, status: outcome.status(), probe_key })
    }

    /// The pool index of the key in flight.
    pub fn in_flight_index(&self) -> Option<usize> {
        self.in_flight.as_ref().map(|current| current.index)
    }

    /// Ends the registration of an attempt whose outcome will never be judged (the request was dropped).
    pub fn abandon(&mut self, in_flight: &mut InFlightAttempts) {
        if let Some(current) = self.in_flight.take() {
            in_flight.end(&current.key_id, self.model.as_deref().unwrap_or_default());
        }
    }

    /// How the request ends now that no answer was final.
    pub fn ending(&self, pool: &KeyPool, now_s: u64) -> Ending {
        if let Some(until_s) = self.paused_until_s {
            return Ending::Throttled { retry_after_s: cooldown::retry_after_s(until_s, now_s) };
        }
        let earliest_end = pool.earliest_cooldown_end_s(self.model.as_deref(), now_s);
        let retry_after = earliest_end.map(|end| cooldown::retry_after_s(end, now_s));
        match self.last_failure {
            None => match retry_after {
                Some(retry_after_s) if !pool.is_empty() => Ending::AllCooling { retry_after_s },
                _ => Ending::NoKeys,
            },
            Some(Failure::Answer { status: 429, retry_after_s }) => {
                Ending::LastAnswer { retry_after_s: Some(retry_after.or(retry_after_s).unwrap_or(cooldown::DEFAULT_COOLDOWN_S)) }
            }
            Some(Failure::Answer { .. }) => Ending::LastAnswer { retry_after_s: None },
            Some(Failure::TimedOut) => Ending::TimedOut { retry_after_s: retry_after.unwrap_or(TIMEOUT_RETRY_AFTER_S) },
            Some(Failure::Unreachable) => Ending::Unreachable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cooldown::ModelCooling;
    use crate::hints::CoolHint;
    use crate::verdict::{QuotaWindow, RateLimit};
    use crate::pool::{PoolKey, Secret};
    use crate::providers::find;

    const NOW_MS: u64 = 1_768_478_400_000; // 2026-01-15T12:00:00Z
    const NOW_S: u64 = NOW_MS / 1_000;

    fn config(vars: &[(&str, &str)]) -> Config {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())).expect("valid")
    }

    fn gateway() -> Config {
        config(&[("AI_GATEWAY_BASE_URL", "http://127.0.0.1:9/v1/acct/gw")])
    }

    /// A pool of `n` keys; `cooling[i]` is key i's cooldown end for model "m" (0: free).
    fn pool(cooling: &[u64]) -> KeyPool {
        KeyPool::new(
            cooling
                .iter()
                .enumerate()
                .map(|(i, end)| PoolKey {
                    id: format!("key{i:05}-row"),
                    secret: Secret::new(format!("secret-{i}")),
                    coolings: if *end > 0 { vec![("m".to_string(), ModelCooling { end_at_s: *end, ..Default::default() })] } else { vec![] },
                })
                .collect(),
        )
    }

    fn new_loop(cfg: &Config) -> AttemptLoop {
        let provider = find("google-ai-studio").expect("listed");
        let destination = Destination {
            provider,
            segment: provider.slug,
            rest: "v1beta/models/m:generateContent".to_string(),
            query: "alt=sse&key=client".to_string(),
            key_placement: provider.key_placement,
        };
        AttemptLoop::new(destination, Some("m".to_string()), Limits::from_config(cfg, NOW_MS))
    }

    fn rng() -> fastrand::Rng {
        fastrand::Rng::with_seed(7)
    }

    /// A 429 without quota details (the threshold rule's case).
    fn limited(hint: CoolHint) -> Verdict {
        Verdict::RateLimited(RateLimit { hint, window: QuotaWindow::Unknown })
    }

    fn answered(status: u16, verdict: Verdict) -> Outcome {
        Outcome::Answered { status, verdict, retry_after_s: None }
    }

    fn send(next: Next) -> Attempt {
        match next {
            Next::Send(attempt) => attempt,
            Next::Finish(ending) => panic!("expected an attempt, got {ending:?}"),
        }
    }

    /// The isolate's state for tests: a breaker, its default thresholds, and the in-flight registry.
    struct World {
        breaker: Breaker,
        config: BreakerConfig,
        in_flight: InFlightAttempts,
    }

    impl World {
        fn new() -> World {
            World { breaker: Breaker::default(), config: BreakerConfig::default(), in_flight: InFlightAttempts::default() }
        }

        fn isolate(&mut self) -> Isolate<'_> {
            Isolate { breaker: &mut self.breaker, breaker_config: &self.config, in_flight: &mut self.in_flight }
        }
    }

    fn next(l: &mut AttemptLoop, pool: &KeyPool, cfg: &Config, now_ms: u64) -> Next {
        l.next(pool, &Breaker::default(), &mut InFlightAttempts::default(), cfg, now_ms, &mut rng())
    }

    fn judge(l: &mut AttemptLoop, outcome: Outcome) -> Judgement {
        judge_in(l, &pool(&[0; 10]), outcome)
    }

    fn judge_in(l: &mut AttemptLoop, pool: &KeyPool, outcome: Outcome) -> Judgement {
        let mut world = World::new();
        l.judge(outcome, pool, world.isolate(), NOW_MS, &mut rng()).expect("an attempt was in flight")
    }

    #[test]
    fn the_first_attempt_goes_to_a_usable_key_at_the_gateway_url_without_the_clients_key_parameter() {
        let cfg = gateway();
        let mut l = new_loop(&cfg);
        let attempt = send(next(&mut l, &pool(&[0, 0]), &cfg, NOW_MS));
        assert_eq!(attempt.url, "http://127.0.0.1:9/v1/acct/gw/google-ai-studio/v1beta/models/m:generateContent?alt=sse");
        assert!(attempt.through_gateway);
        assert_eq!((attempt.number, attempt.timeout_ms), (1, 60_000));
    }

    #[test]
    fn direct_mode_builds_the_providers_own_url() {
        let cfg = config(&[]);
        let mut l = new_loop(&cfg);
        let attempt = send(next(&mut l, &pool(&[0]), &cfg, NOW_MS));
        assert_eq!(attempt.url, "https://generativelanguage.googleapis.com/v1beta/models/m:generateContent?alt=sse");
        assert!(!attempt.through_gateway);
    }

    #[test]
    fn a_success_is_delivered_and_a_client_error_too_without_trying_another_key() {
        for (status, verdict) in [(200, Verdict::Success), (400, Verdict::ClientError)] {
            let cfg = gateway();
            let mut l = new_loop(&cfg);
            send(next(&mut l, &pool(&[0, 0]), &cfg, NOW_MS));
            let judged = judge(&mut l, answered(status, verdict));
            assert_eq!(judged.step, Step::Deliver, "{verdict:?}");
            assert_eq!(judged.update, KeyUpdate::Nothing);
            assert_eq!(l.attempts_header(), format!("{}={}", judged.key_id.get(..8).expect("long id"), verdict.label()));
        }
    }

    #[test]
    fn a_rate_limit_cools_the_key_and_the_next_attempt_uses_another_key() {
        let cfg = gateway();
        let mut l = new_loop(&cfg);
        let p = pool(&[0, 0]);
        let first = send(next(&mut l, &p, &cfg, NOW_MS));
        let judged = judge(&mut l, answered(429, limited(CoolHint::Seconds(39))));
        assert_eq!(judged.step, Step::Retry { pause_ms: 0 });
        assert!(matches!(judged.update, KeyUpdate::Cool { ref model, input, .. } if model == "m" && input.until_s == NOW_S + 39));
        let second = send(next(&mut l, &p, &cfg, NOW_MS));
        assert_ne!(first.index, second.index, "distinct keys");
        assert_eq!(second.number, 2);
    }

    #[test]
    fn invalid_keys_are_blocked_and_transient_faults_record_nothing() {
        for (outcome, update) in [
            (answered(401, Verdict::InvalidKey), KeyUpdate::Block),
            (answered(500, Verdict::Transient), KeyUpdate::Nothing),
            (Outcome::TimedOut, KeyUpdate::Nothing),
            (Outcome::Unreachable, KeyUpdate::Nothing),
        ] {
            let cfg = gateway();
            let mut l = new_loop(&cfg);
            send(next(&mut l, &pool(&[0, 0]), &cfg, NOW_MS));
            let judged = judge(&mut l, outcome);
            assert_eq!((judged.step, judged.update), (Step::Retry { pause_ms: 0 }, update), "{outcome:?}");
        }
    }

    #[test]
    fn a_fault_that_is_not_the_keys_pauses_briefly_with_jitter_before_the_next_key() {
        let cfg = gateway();
        let mut pauses = std::collections::BTreeSet::new();
        for seed in 0..50 {
            let mut l = new_loop(&cfg);
            send(next(&mut l, &pool(&[0, 0]), &cfg, NOW_MS));
            let judged = l
                .judge(answered(529, Verdict::NotKeyFault), &pool(&[0, 0]), World::new().isolate(), NOW_MS, &mut fastrand::Rng::with_seed(seed))
                .expect("in flight");
            let Step::Retry { pause_ms } = judged.step else { panic!("retries") };
            assert!((50..250).contains(&pause_ms), "{pause_ms}");
            pauses.insert(pause_ms);
        }
        assert!(pauses.len() > 10, "jittered: {pauses:?}");
    }

    #[test]
    fn at_most_max_attempts_distinct_keys_are_tried() {
        let cfg = config(&[("AI_GATEWAY_BASE_URL", "http://gw"), ("MAX_ATTEMPTS", "3")]);
        let mut l = new_loop(&cfg);
        let p = pool(&[0; 10]);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..3 {
            seen.insert(send(next(&mut l, &p, &cfg, NOW_MS)).index);
            judge(&mut l, answered(503, Verdict::Transient));
        }
        assert_eq!(seen.len(), 3);
        assert_eq!(next(&mut l, &p, &cfg, NOW_MS), Next::Finish(Ending::LastAnswer { retry_after_s: None }));
    }

    #[test]
    fn no_attempt_starts_after_twice_the_upstream_time_out_and_the_last_one_gets_what_is_left() {
        let cfg = config(&[("AI_GATEWAY_BASE_URL", "http://gw"), ("UPSTREAM_TIMEOUT_MS", "1000")]);
        let mut l = new_loop(&cfg);
        let p = pool(&[0; 5]);
        send(next(&mut l, &p, &cfg, NOW_MS));
        judge(&mut l, Outcome::TimedOut);
        let late = send(next(&mut l, &p, &cfg, NOW_MS + 1_700));
        assert_eq!(late.timeout_ms, 300, "only what is left of the deadline");
        judge(&mut l, Outcome::TimedOut);
        assert_eq!(next(&mut l, &p, &cfg, NOW_MS + 2_000), Next::Finish(Ending::TimedOut { retry_after_s: 5 }));
    }

    #[test]
    fn when_every_key_cools_the_soonest_is_tried_once_as_the_first_attempt_only() {
        let cfg = gateway();
        let p = pool(&[NOW_S + 900, NOW_S + 30, NOW_S + 600]);
        let mut l = new_loop(&cfg);
        assert_eq!(send(next(&mut l, &p, &cfg, NOW_MS)).index, 1);
        judge(&mut l, answered(429, limited(CoolHint::None)));
        assert_eq!(next(&mut l, &p, &cfg, NOW_MS), Next::Finish(Ending::LastAnswer { retry_after_s: Some(30) }));
    }

    #[test]
    fn an_all_cooling_pool_answers_all_cooling_when_nothing_could_be_tried() {
        let cfg = gateway();
        let p = pool(&[NOW_S + 900, NOW_S + 30]);
        let mut l = new_loop(&cfg);
        l.tried = vec![0, 1];
        assert_eq!(l.ending(&p, NOW_S), Ending::AllCooling { retry_after_s: 30 });
    }

    #[test]
    fn an_empty_pool_has_no_keys() {
        let cfg = gateway();
        let mut l = new_loop(&cfg);
        assert_eq!(next(&mut l, &pool(&[]), &cfg, NOW_MS), Next::Finish(Ending::NoKeys));
    }

    #[test]
    fn a_pool_of_blocked_keys_has_no_keys() {
        let cfg = gateway();
        let mut p = pool(&[0]);
        p.learn_blocked("key00000-row", NOW_S);
        let mut l = new_loop(&cfg);
        assert_eq!(next(&mut l, &p, &cfg, NOW_MS), Next::Finish(Ending::NoKeys));
    }

    #[test]
    fn the_last_429_gets_retry_after_from_the_pool_else_from_the_upstream_else_the_default() {
        let cfg = gateway();
        // The pool knows when a key frees.
        let mut l = new_loop(&cfg);
        let mut p = pool(&[0]);
        send(next(&mut l, &p, &cfg, NOW_MS));
        judge(&mut l, Outcome::Answered { status: 429, verdict: limited(CoolHint::Seconds(40)), retry_after_s: Some(7) });
        p.learn_state("key00000-row", "m", ModelCooling { end_at_s: NOW_S + 40, ..Default::default() }, NOW_S);
        assert_eq!(l.ending(&p, NOW_S), Ending::LastAnswer { retry_after_s: Some(40) });
        // The pool knows nothing (a 429 that cooled nothing): the upstream's own Retry-After.
        assert_eq!(l.ending(&pool(&[0]), NOW_S), Ending::LastAnswer { retry_after_s: Some(7) });
        // Neither: the default cooldown.
        let mut l = new_loop(&cfg);
        send(next(&mut l, &pool(&[0]), &cfg, NOW_MS));
        judge(&mut l, answered(429, Verdict::NotKeyFault));
        assert_eq!(l.ending(&pool(&[0]), NOW_S), Ending::LastAnswer { retry_after_s: Some(cooldown::DEFAULT_COOLDOWN_S) });
    }

    #[test]
    fn other_last_answers_are_replayed_as_they_came_and_a_network_failure_is_a_502() {
        let cfg = gateway();
        let mut l = new_loop(&cfg);
        send(next(&mut l, &pool(&[0]), &cfg, NOW_MS));
        judge(&mut l, answered(503, Verdict::Transient));
        assert_eq!(l.ending(&pool(&[0]), NOW_S), Ending::LastAnswer { retry_after_s: None });
        let mut l = new_loop(&cfg);
        send(next(&mut l, &pool(&[0]), &cfg, NOW_MS));
        judge(&mut l, Outcome::Unreachable);
        assert_eq!(l.ending(&pool(&[0]), NOW_S), Ending::Unreachable);
    }

    #[test]
    fn a_pool_wide_throttle_records_nothing_about_the_key_and_ends_the_request_with_the_pause() {
        let cfg = gateway();
        let mut world = World::new();
        world.config = BreakerConfig { min_keys: 2, percent: 50, window_s: 30, pause_s: 30 };
        let mut p = pool(&[0; 4]);
        let mut l = new_loop(&cfg);
        send(l.next(&p, &world.breaker, &mut world.in_flight, &cfg, NOW_MS, &mut rng()));
        let first = l.judge(answered(429, limited(CoolHint::None)), &p, world.isolate(), NOW_MS, &mut rng()).expect("in flight");
        let KeyUpdate::Cool { ref model, state, .. } = first.update else { panic!("one key is its own business: {:?}", first.update) };
        p.learn_state(&first.key_id, model, state, NOW_S);
        send(l.next(&p, &world.breaker, &mut world.in_flight, &cfg, NOW_MS, &mut rng()));
        let second = l.judge(answered(429, limited(CoolHint::None)), &p, world.isolate(), NOW_MS, &mut rng()).expect("in flight");
        assert_eq!(second.update, KeyUpdate::Nothing, "2 keys of 4 limited without quota details: the pool is throttled, not the key");
        assert_eq!(l.next(&p, &world.breaker, &mut world.in_flight, &cfg, NOW_MS, &mut rng()), Next::Finish(Ending::Throttled { retry_after_s: 30 }));
        let mut later = new_loop(&cfg);
        assert_eq!(
            later.next(&p, &world.breaker, &mut world.in_flight, &cfg, NOW_MS + 1_000, &mut rng()),
            Next::Finish(Ending::Throttled { retry_after_s: 29 }),
            "later requests see the pause at once"
        );
        assert!(world.in_flight.is_empty(), "every attempt's registration ended");
    }

    #[test]
    fn a_429_for_an_attempt_sent_while_another_on_the_pair_was_in_flight_is_an_echo() {
        let cfg = gateway();
        let mut world = World::new();
        let p = pool(&[0]);
        let (mut first, mut second) = (new_loop(&cfg), new_loop(&cfg));
        send(first.next(&p, &world.breaker, &mut world.in_flight, &cfg, NOW_MS, &mut rng()));
        send(second.next(&p, &world.breaker, &mut world.in_flight, &cfg, NOW_MS, &mut rng()));
        assert_eq!(world.in_flight.len(), 2);
        let one = first.judge(answered(429, limited(CoolHint::None)), &p, world.isolate(), NOW_MS, &mut rng()).expect("in flight");
        let two = second.judge(answered(429, limited(CoolHint::None)), &p, world.isolate(), NOW_MS, &mut rng()).expect("in flight");
        let streak = |u: &KeyUpdate| match u {
            KeyUpdate::Cool { state, input, .. } => (state.streak, input.overlapped),
            other => panic!("{other:?}"),
        };
        assert_eq!(streak(&one.update), (1, false), "the first is a new episode");
        assert_eq!(streak(&two.update), (0, true), "the second was sent while the first was in flight: no step");
        assert!(world.in_flight.is_empty());
    }

    #[test]
    fn a_suspect_key_is_probed_once_and_a_second_suspect_sends_the_answer_back() {
        let cfg = gateway();
        let p = pool(&[0; 5]);
        let mut l = new_loop(&cfg);
        send(next(&mut l, &p, &cfg, NOW_MS));
        let first = judge_in(&mut l, &p, answered(403, Verdict::SuspectKey));
        assert_eq!((first.step, first.update.clone(), first.probe_key), (Step::Retry { pause_ms: 0 }, KeyUpdate::Nothing, true));
        send(next(&mut l, &p, &cfg, NOW_MS));
        let second = judge_in(&mut l, &p, answered(403, Verdict::SuspectKey));
        assert_eq!((second.step, second.update, second.probe_key), (Step::Deliver, KeyUpdate::Nothing, false), "no second key spent or probed");
    }

    #[test]
    fn a_session_goes_to_its_own_key_every_time_and_moves_in_its_own_order_when_it_cools() {
        let cfg = gateway();
        let mut p = pool(&[0; 20]);
        let first_key = |p: &KeyPool, session: u64| {
            let mut l = new_loop(&cfg);
            l.set_session(Some(session));
            let attempt = send(next(&mut l, p, &cfg, NOW_MS));
            judge_in(&mut l, p, answered(200, Verdict::Success));
            (attempt.index, l.affinity(), l.attempts_header())
        };
        let (home, affinity, header) = first_key(&p, 77);
        assert_eq!(affinity, Affinity::Held);
        assert!(header.ends_with(", affinity=held"), "{header}");
        for _ in 0..10 {
            assert_eq!(first_key(&p, 77).0, home, "the same key every turn");
        }
        let home_id = p.key(home).map(|k| k.id.clone()).expect("held");
        p.learn_state(&home_id, "m", ModelCooling { end_at_s: NOW_S + 60, ..Default::default() }, NOW_S);
        let (moved, affinity, _) = first_key(&p, 77);
        assert_ne!(moved, home);
        assert_eq!(affinity, Affinity::Moved);
        assert_eq!(first_key(&p, 77).0, moved, "and it stays on its second choice while the first cools");
        let mut plain = new_loop(&cfg);
        send(next(&mut plain, &p, &cfg, NOW_MS));
        judge_in(&mut plain, &p, answered(200, Verdict::Success));
        assert_eq!(plain.affinity(), Affinity::None);
        assert!(!plain.attempts_header().contains("affinity"));
    }

    #[test]
    fn a_429_on_the_sessions_key_moves_the_request_to_its_next_key_at_once() {
        let cfg = gateway();
        let p = pool(&[0; 20]);
        let mut l = new_loop(&cfg);
        l.set_session(Some(5));
        let first = send(next(&mut l, &p, &cfg, NOW_MS));
        judge_in(&mut l, &p, answered(429, limited(CoolHint::Seconds(30))));
        let second = send(next(&mut l, &p, &cfg, NOW_MS));
        assert_ne!(first.index, second.index);
        judge_in(&mut l, &p, answered(200, Verdict::Success));
        assert_eq!(l.affinity(), Affinity::Moved);
        assert!(l.attempts_header().ends_with("=ok, affinity=moved"), "{}", l.attempts_header());
    }

    #[test]
    fn affinity_figures_count_sessions_and_how_often_the_first_choice_served() {
        let mut figures = AffinityFigures::default();
        for affinity in [Affinity::None, Affinity::Held, Affinity::Held, Affinity::Held, Affinity::Moved, Affinity::Lost] {
            figures.count(affinity);
        }
        assert_eq!(figures, AffinityFigures { requests: 6, with_session: 5, held: 3, moved: 1 });
        assert_eq!(figures.shares(), (83, 60));
        assert_eq!(AffinityFigures::default().shares(), (0, 0));
    }

    #[test]
    fn an_abandoned_attempt_ends_its_registration() {
        let cfg = gateway();
        let mut world = World::new();
        let mut l = new_loop(&cfg);
        send(l.next(&pool(&[0]), &world.breaker, &mut world.in_flight, &cfg, NOW_MS, &mut rng()));
        l.abandon(&mut world.in_flight);
        assert!(world.in_flight.is_empty());
    }

    #[test]
    fn an_exhausted_window_asks_for_another_and_keys_tried_stay_tried_in_it() {
        let cfg = gateway();
        let keys = |ids: &[&str], cooling: u64| {
            ids.iter()
                .map(|id| PoolKey {
                    id: id.to_string(),
                    secret: Secret::new(format!("s-{id}")),
                    coolings: vec![("m".to_string(), ModelCooling { end_at_s: cooling, ..Default::default() })],
                })
                .collect::<Vec<_>>()
        };
        let window = KeyPool::window(keys(&["a", "b"], 0), false);
        let mut l = new_loop(&cfg);
        for _ in 0..2 {
            send(next(&mut l, &window, &cfg, NOW_MS));
            judge(&mut l, answered(429, limited(CoolHint::None)));
        }
        assert!(matches!(next(&mut l, &window, &cfg, NOW_MS), Next::Finish(_)));
        assert!(l.wants_another_window(&window));
        assert!(!l.wants_another_window(&KeyPool::new(keys(&["a", "b"], 0))), "a complete pool has no other window");
        let next_window = KeyPool::window(keys(&["b", "c"], 0), false);
        l.adopt_pool(&window, &next_window);
        let attempt = send(next(&mut l, &next_window, &cfg, NOW_MS));
        assert_eq!(next_window.key(attempt.index).map(|k| k.id.as_str()), Some("c"), "b was tried in the first window");
    }

    #[test]
    fn a_loop_ended_by_its_limits_wants_no_other_window() {
        let cfg = config(&[("AI_GATEWAY_BASE_URL", "http://gw"), ("MAX_ATTEMPTS", "1")]);
        let window = KeyPool::window(vec![PoolKey { id: "a".into(), secret: Secret::new("s".into()), coolings: vec![] }, PoolKey { id: "b".into(), secret: Secret::new("t".into()), coolings: vec![] }], false);
        let mut l = new_loop(&cfg);
        send(next(&mut l, &window, &cfg, NOW_MS));
        judge(&mut l, answered(503, Verdict::Transient));
        assert!(matches!(next(&mut l, &window, &cfg, NOW_MS), Next::Finish(_)));
        assert!(!l.wants_another_window(&window));
    }

    #[test]
    fn judging_without_an_attempt_in_flight_is_refused() {
        let cfg = gateway();
        let mut l = new_loop(&cfg);
        assert_eq!(l.judge(Outcome::TimedOut, &pool(&[0]), World::new().isolate(), NOW_MS, &mut rng()), None);
    }

    #[test]
    fn a_models_listing_records_no_cooldown() {
        let cfg = gateway();
        let mut l = new_loop(&cfg);
        l.set_model(None);
        send(next(&mut l, &pool(&[0, 0]), &cfg, NOW_MS));
        let judged = judge(&mut l, answered(429, limited(CoolHint::Seconds(5))));
        assert_eq!((judged.step, judged.update), (Step::Retry { pause_ms: 0 }, KeyUpdate::Nothing));
    }
}
