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
//! - a rate limit that the pool-wide breaker ([`crate::breaker`]) reads as the egress IP's, not the key's, records
//!   nothing about the key and ends the request with the breaker's pause;
//! - when attempts run out the client gets the last upstream answer (a 429 with `Retry-After` set to when the
//!   soonest key is free, else the upstream's own `Retry-After`, else the default cooldown), 504 after a time-out,
//!   502 when nothing answered, 429 when every key was cooling, 503 when the pool is empty — never a made-up 500.

use crate::breaker::{Breaker, BreakerConfig, Reading};
use crate::config::Config;
use crate::cooldown::{self, ModelCooling, ALL_MODELS};
use crate::key_update::{self, KeyUpdate};
use crate::pool::{pick, KeyPool, Pick};
use crate::providers::{KeyPlacement, Provider};
use crate::upstream::{self, Base};
use crate::verdict::Verdict;

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

/// The key being tried and what the pool knew of it when it was sent.
#[derive(Debug, Clone)]
struct InFlight {
    key_id: String,
    short_id: String,
    previous: ModelCooling,
    previous_all: ModelCooling,
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
        }
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

    /// The attempts so far, for the `x-one-balance-attempts` header: `short id=verdict, …`.
    pub fn attempts_header(&self) -> String {
        upstream::attempts_header(&self.log)
    }

    /// What to do next: send with a key, or finish. A (provider, model) the breaker has paused gets no attempt.
    pub fn next(&mut self, pool: &KeyPool, breaker: &Breaker, config: &Config, now_ms: u64, rng: &mut fastrand::Rng) -> Next {
        let now_s = now_ms / 1_000;
        if self.paused_until_s.is_none() {
            self.paused_until_s = breaker.paused_until(self.destination.provider.slug, self.model.as_deref().unwrap_or_default(), now_s);
        }
        if self.paused_until_s.is_some() || self.tried.len() >= self.limits.max_attempts || now_ms >= self.limits.deadline_ms {
            return Next::Finish(self.ending(pool, now_s));
        }
        let model = self.model.as_deref();
        let index = match pick(pool, model, &self.tried, now_s, rng) {
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
            key_id: key.id.clone(),
            short_id: key.short_id().to_string(),
            previous: model.map(|m| pool.model_entry(index, m)).unwrap_or_default(),
            previous_all: pool.model_entry(index, ALL_MODELS),
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

    /// Judges the outcome of the attempt in flight. `None` when no attempt is in flight (a caller's mistake).
    pub fn judge(&mut self, outcome: Outcome, breaker: &mut Breaker, breaker_config: &BreakerConfig, now_s: u64, rng: &mut fastrand::Rng) -> Option<Judgement> {
        let current = self.in_flight.take()?;
        let verdict = outcome.verdict();
        self.log.push((current.short_id, verdict.label()));
        let attempt = key_update::Attempt {
            provider: self.destination.provider,
            model: self.model.as_deref(),
            previous: current.previous,
            previous_all: current.previous_all,
            threshold: self.limits.threshold,
            now_s,
        };
        let update = match breaker_reading(breaker, breaker_config, &attempt, &current.key_id, verdict) {
            Reading::PoolThrottled { until_s } => {
                self.paused_until_s = Some(until_s);
                KeyUpdate::Nothing
            }
            Reading::KeyScoped => key_update::plan(verdict, &attempt),
        };
        let step = if verdict.retries() {
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
        Some(Judgement { step, update, key_id: current.key_id, verdict, status: outcome.status() })
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

/// What the breaker makes of this verdict: only successes and rate limits are evidence either way.
fn breaker_reading(breaker: &mut Breaker, config: &BreakerConfig, attempt: &key_update::Attempt<'_>, key_id: &str, verdict: Verdict) -> Reading {
    let rate_limited = match verdict {
        Verdict::Success => false,
        Verdict::RateLimited(_) => true,
        _ => return Reading::KeyScoped,
    };
    breaker.observe(config, attempt.provider.slug, attempt.model.unwrap_or_default(), key_id, rate_limited, attempt.now_s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cooldown::CoolHint;
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

    fn answered(status: u16, verdict: Verdict) -> Outcome {
        Outcome::Answered { status, verdict, retry_after_s: None }
    }

    fn send(next: Next) -> Attempt {
        match next {
            Next::Send(attempt) => attempt,
            Next::Finish(ending) => panic!("expected an attempt, got {ending:?}"),
        }
    }

    fn judge(l: &mut AttemptLoop, outcome: Outcome) -> Judgement {
        let mut breaker = Breaker::default();
        l.judge(outcome, &mut breaker, &BreakerConfig::default(), NOW_S, &mut rng()).expect("an attempt was in flight")
    }

    #[test]
    fn the_first_attempt_goes_to_a_usable_key_at_the_gateway_url_without_the_clients_key_parameter() {
        let cfg = gateway();
        let mut l = new_loop(&cfg);
        let attempt = send(l.next(&pool(&[0, 0]), &Breaker::default(), &cfg, NOW_MS, &mut rng()));
        assert_eq!(attempt.url, "http://127.0.0.1:9/v1/acct/gw/google-ai-studio/v1beta/models/m:generateContent?alt=sse");
        assert!(attempt.through_gateway);
        assert_eq!((attempt.number, attempt.timeout_ms), (1, 60_000));
    }

    #[test]
    fn direct_mode_builds_the_providers_own_url() {
        let cfg = config(&[]);
        let mut l = new_loop(&cfg);
        let attempt = send(l.next(&pool(&[0]), &Breaker::default(), &cfg, NOW_MS, &mut rng()));
        assert_eq!(attempt.url, "https://generativelanguage.googleapis.com/v1beta/models/m:generateContent?alt=sse");
        assert!(!attempt.through_gateway);
    }

    #[test]
    fn a_success_is_delivered_and_a_client_error_too_without_trying_another_key() {
        for (status, verdict) in [(200, Verdict::Success), (400, Verdict::ClientError)] {
            let cfg = gateway();
            let mut l = new_loop(&cfg);
            send(l.next(&pool(&[0, 0]), &Breaker::default(), &cfg, NOW_MS, &mut rng()));
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
        let first = send(l.next(&p, &Breaker::default(), &cfg, NOW_MS, &mut rng()));
        let judged = judge(&mut l, answered(429, Verdict::RateLimited(CoolHint::Seconds(39))));
        assert_eq!(judged.step, Step::Retry { pause_ms: 0 });
        assert!(matches!(judged.update, KeyUpdate::Cool { ref model, until_s, .. } if model == "m" && until_s == NOW_S + 39));
        let second = send(l.next(&p, &Breaker::default(), &cfg, NOW_MS, &mut rng()));
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
            send(l.next(&pool(&[0, 0]), &Breaker::default(), &cfg, NOW_MS, &mut rng()));
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
            send(l.next(&pool(&[0, 0]), &Breaker::default(), &cfg, NOW_MS, &mut rng()));
            let judged = l
                .judge(answered(529, Verdict::NotKeyFault), &mut Breaker::default(), &BreakerConfig::default(), NOW_S, &mut fastrand::Rng::with_seed(seed))
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
            seen.insert(send(l.next(&p, &Breaker::default(), &cfg, NOW_MS, &mut rng())).index);
            judge(&mut l, answered(503, Verdict::Transient));
        }
        assert_eq!(seen.len(), 3);
        assert_eq!(l.next(&p, &Breaker::default(), &cfg, NOW_MS, &mut rng()), Next::Finish(Ending::LastAnswer { retry_after_s: None }));
    }

    #[test]
    fn no_attempt_starts_after_twice_the_upstream_time_out_and_the_last_one_gets_what_is_left() {
        let cfg = config(&[("AI_GATEWAY_BASE_URL", "http://gw"), ("UPSTREAM_TIMEOUT_MS", "1000")]);
        let mut l = new_loop(&cfg);
        let p = pool(&[0; 5]);
        send(l.next(&p, &Breaker::default(), &cfg, NOW_MS, &mut rng()));
        judge(&mut l, Outcome::TimedOut);
        let late = send(l.next(&p, &Breaker::default(), &cfg, NOW_MS + 1_700, &mut rng()));
        assert_eq!(late.timeout_ms, 300, "only what is left of the deadline");
        judge(&mut l, Outcome::TimedOut);
        assert_eq!(l.next(&p, &Breaker::default(), &cfg, NOW_MS + 2_000, &mut rng()), Next::Finish(Ending::TimedOut { retry_after_s: 5 }));
    }

    #[test]
    fn when_every_key_cools_the_soonest_is_tried_once_as_the_first_attempt_only() {
        let cfg = gateway();
        let p = pool(&[NOW_S + 900, NOW_S + 30, NOW_S + 600]);
        let mut l = new_loop(&cfg);
        assert_eq!(send(l.next(&p, &Breaker::default(), &cfg, NOW_MS, &mut rng())).index, 1);
        judge(&mut l, answered(429, Verdict::RateLimited(CoolHint::None)));
        assert_eq!(l.next(&p, &Breaker::default(), &cfg, NOW_MS, &mut rng()), Next::Finish(Ending::LastAnswer { retry_after_s: Some(30) }));
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
        assert_eq!(l.next(&pool(&[]), &Breaker::default(), &cfg, NOW_MS, &mut rng()), Next::Finish(Ending::NoKeys));
    }

    #[test]
    fn a_pool_of_blocked_keys_has_no_keys() {
        let cfg = gateway();
        let mut p = pool(&[0]);
        p.learn_blocked("key00000-row", NOW_S);
        let mut l = new_loop(&cfg);
        assert_eq!(l.next(&p, &Breaker::default(), &cfg, NOW_MS, &mut rng()), Next::Finish(Ending::NoKeys));
    }

    #[test]
    fn the_last_429_gets_retry_after_from_the_pool_else_from_the_upstream_else_the_default() {
        let cfg = gateway();
        // The pool knows when a key frees.
        let mut l = new_loop(&cfg);
        let mut p = pool(&[0]);
        send(l.next(&p, &Breaker::default(), &cfg, NOW_MS, &mut rng()));
        judge(&mut l, Outcome::Answered { status: 429, verdict: Verdict::RateLimited(CoolHint::Seconds(40)), retry_after_s: Some(7) });
        p.learn_state("key00000-row", "m", ModelCooling { end_at_s: NOW_S + 40, ..Default::default() }, NOW_S);
        assert_eq!(l.ending(&p, NOW_S), Ending::LastAnswer { retry_after_s: Some(40) });
        // The pool knows nothing (a 429 that cooled nothing): the upstream's own Retry-After.
        assert_eq!(l.ending(&pool(&[0]), NOW_S), Ending::LastAnswer { retry_after_s: Some(7) });
        // Neither: the default cooldown.
        let mut l = new_loop(&cfg);
        send(l.next(&pool(&[0]), &Breaker::default(), &cfg, NOW_MS, &mut rng()));
        judge(&mut l, answered(429, Verdict::NotKeyFault));
        assert_eq!(l.ending(&pool(&[0]), NOW_S), Ending::LastAnswer { retry_after_s: Some(cooldown::DEFAULT_COOLDOWN_S) });
    }

    #[test]
    fn other_last_answers_are_replayed_as_they_came_and_a_network_failure_is_a_502() {
        let cfg = gateway();
        let mut l = new_loop(&cfg);
        send(l.next(&pool(&[0]), &Breaker::default(), &cfg, NOW_MS, &mut rng()));
        judge(&mut l, answered(503, Verdict::Transient));
        assert_eq!(l.ending(&pool(&[0]), NOW_S), Ending::LastAnswer { retry_after_s: None });
        let mut l = new_loop(&cfg);
        send(l.next(&pool(&[0]), &Breaker::default(), &cfg, NOW_MS, &mut rng()));
        judge(&mut l, Outcome::Unreachable);
        assert_eq!(l.ending(&pool(&[0]), NOW_S), Ending::Unreachable);
    }

    #[test]
    fn a_pool_wide_throttle_records_nothing_about_the_key_and_ends_the_request_with_the_pause() {
        let cfg = gateway();
        let bc = BreakerConfig { min_keys: 2, percent: 50, window_s: 30, pause_s: 30 };
        let mut breaker = Breaker::default();
        let p = pool(&[0; 4]);
        let mut l = new_loop(&cfg);
        send(l.next(&p, &Breaker::default(), &cfg, NOW_MS, &mut rng()));
        let first = l.judge(answered(429, Verdict::RateLimited(CoolHint::None)), &mut breaker, &bc, NOW_S, &mut rng()).expect("in flight");
        assert!(matches!(first.update, KeyUpdate::Cool { .. }), "one key is its own business");
        send(l.next(&p, &Breaker::default(), &cfg, NOW_MS, &mut rng()));
        let second = l.judge(answered(429, Verdict::RateLimited(CoolHint::None)), &mut breaker, &bc, NOW_S, &mut rng()).expect("in flight");
        assert_eq!(second.update, KeyUpdate::Nothing, "the pool is throttled, not the key");
        assert_eq!(l.next(&p, &breaker, &cfg, NOW_MS, &mut rng()), Next::Finish(Ending::Throttled { retry_after_s: 30 }));
        let mut later = new_loop(&cfg);
        assert_eq!(later.next(&p, &breaker, &cfg, NOW_MS + 1_000, &mut rng()), Next::Finish(Ending::Throttled { retry_after_s: 29 }), "later requests see the pause at once");
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
            send(l.next(&window, &Breaker::default(), &cfg, NOW_MS, &mut rng()));
            judge(&mut l, answered(429, Verdict::RateLimited(CoolHint::None)));
        }
        assert!(matches!(l.next(&window, &Breaker::default(), &cfg, NOW_MS, &mut rng()), Next::Finish(_)));
        assert!(l.wants_another_window(&window));
        assert!(!l.wants_another_window(&KeyPool::new(keys(&["a", "b"], 0))), "a complete pool has no other window");
        let next_window = KeyPool::window(keys(&["b", "c"], 0), false);
        l.adopt_pool(&window, &next_window);
        let attempt = send(l.next(&next_window, &Breaker::default(), &cfg, NOW_MS, &mut rng()));
        assert_eq!(next_window.key(attempt.index).map(|k| k.id.as_str()), Some("c"), "b was tried in the first window");
    }

    #[test]
    fn a_loop_ended_by_its_limits_wants_no_other_window() {
        let cfg = config(&[("AI_GATEWAY_BASE_URL", "http://gw"), ("MAX_ATTEMPTS", "1")]);
        let window = KeyPool::window(vec![PoolKey { id: "a".into(), secret: Secret::new("s".into()), coolings: vec![] }, PoolKey { id: "b".into(), secret: Secret::new("t".into()), coolings: vec![] }], false);
        let mut l = new_loop(&cfg);
        send(l.next(&window, &Breaker::default(), &cfg, NOW_MS, &mut rng()));
        judge(&mut l, answered(503, Verdict::Transient));
        assert!(matches!(l.next(&window, &Breaker::default(), &cfg, NOW_MS, &mut rng()), Next::Finish(_)));
        assert!(!l.wants_another_window(&window));
    }

    #[test]
    fn judging_without_an_attempt_in_flight_is_refused() {
        let cfg = gateway();
        let mut l = new_loop(&cfg);
        assert_eq!(l.judge(Outcome::TimedOut, &mut Breaker::default(), &BreakerConfig::default(), NOW_S, &mut rng()), None);
    }

    #[test]
    fn a_models_listing_records_no_cooldown() {
        let cfg = gateway();
        let mut l = new_loop(&cfg);
        l.set_model(None);
        send(l.next(&pool(&[0, 0]), &Breaker::default(), &cfg, NOW_MS, &mut rng()));
        let judged = judge(&mut l, answered(429, Verdict::RateLimited(CoolHint::Seconds(5))));
        assert_eq!((judged.step, judged.update), (Step::Retry { pause_ms: 0 }, KeyUpdate::Nothing));
    }
}
