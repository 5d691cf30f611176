//! The pool-wide 429 breaker: telling "the keys are rate-limited" from "this egress IP or region is".
//!
//! When the limit is not the keys' — the provider throttles this Worker's egress IP, or a shared quota ran out —
//! spending more keys only burns their cooldowns and 429 streaks. The breaker then pauses that (provider, model):
//! requests get 429 with `Retry-After` at once, and no key is tried. It fires only on evidence that the limit is not
//! the keys', and never while the pool still has keys that work or keys it has not tried:
//!
//! - A 429 that carries key-scoped quota details (a named quota window, see
//!   [`crate::verdict::RateLimit::key_scoped`]) is the key's own business, however many keys say so: per-key quotas
//!   run out together when traffic is high, and their cooldowns already handle it.
//! - The evidence is 429s *without* such details, from at least `min_keys` distinct keys, that are at least
//!   `percent` % of the usable keys those quotas cannot explain: the keys that answered such a 429 in the window plus
//!   the usable keys not tried in it. The share is of the pool, not of the few keys tried: with 1,000 keys of which
//!   500 are spent, five spent keys in a row say nothing about the other 995.
//! - Never while a key whose latest answer in the window was a 2xx remains.
//!
//! After a pause comes a probation period in which one more 429 without quota details pauses again, twice as long
//! (up to 16 times); a success ends it. 429s arriving while paused (attempts already in flight) keep the current
//! pause and do not lengthen it. Pure: the edge keeps one breaker per isolate, passes per observation the key, the
//! outcome and how many keys are usable for that model in its pool right now, and passes `now_s` in.

use crate::verdict::Verdict;
use std::collections::{HashMap, VecDeque};

/// Thresholds, from configuration (`THROTTLE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Distinct keys that answered a 429 without quota details in the window before the pool can count as
    /// throttled (0 turns the breaker off).
    pub min_keys: u32,
    /// Percentage of the usable keys not explained by key quotas (those 429s plus the untried usable keys) that
    /// must have answered a 429 without quota details.
    pub percent: u32,
    /// The window, seconds.
    pub window_s: u32,
    /// The first pause, seconds; it doubles on each repeat, up to 16 times this.
    pub pause_s: u32,
}

impl Default for BreakerConfig {
    fn default() -> BreakerConfig {
        BreakerConfig { min_keys: 5, percent: 80, window_s: 30, pause_s: 30 }
    }
}

/// What one attempt's answer was, as far as the breaker cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A 2xx.
    Success,
    /// A key-scoped 429 ([`Verdict::RateLimited`]); `key_scoped`: it named the quota window that ran out.
    RateLimited {
        /// Whether the 429 carried key-scoped quota details.
        key_scoped: bool,
    },
    /// Anything else (the key stays usable as far as the breaker knows).
    Other,
}

impl Answer {
    /// The breaker's view of a verdict.
    pub fn of(verdict: Verdict) -> Answer {
        match verdict {
            Verdict::Success => Answer::Success,
            Verdict::RateLimited(limit) => Answer::RateLimited { key_scoped: limit.key_scoped() },
            Verdict::Exhausted
            | Verdict::InvalidKey
            | Verdict::SuspectKey
            | Verdict::ModelUnavailable
            | Verdict::NotKeyFault
            | Verdict::Transient
            | Verdict::Timeout
            | Verdict::ClientError => Answer::Other,
        }
    }
}

/// One attempt's answer, as the attempt loop reports it.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    /// Provider slug.
    pub provider: &'a str,
    /// Model (`""` for requests without one).
    pub model: &'a str,
    /// The key's id.
    pub key: &'a str,
    /// What it answered.
    pub answer: Answer,
    /// Keys of the provider that selection could pick for this model right now (active, not blocked, not cooling
    /// for it), counted after this answer's own effect on the key. The breaker reads it only to judge a 429
    /// without quota details, so the caller may count only then and pass `None` otherwise (the last count is
    /// kept); without any count such a 429 never pauses.
    pub usable_keys: Option<usize>,
}

/// How a rate limit observed now should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// Nothing pool-wide: the key's own cooldown applies.
    KeyScoped,
    /// The pool is throttled: do not cool the key; stop and answer 429 until `until_s`.
    PoolThrottled {
        /// When the pause ends.
        until_s: u64,
    },
}

/// Figures for the admin overview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figures {
    /// Provider slug.
    pub provider: String,
    /// Model (`""` for requests without one).
    pub model: String,
    /// Distinct keys that answered in the window.
    pub keys_tried: usize,
    /// Of those, how many answered 2xx last.
    pub keys_succeeded: usize,
    /// Of those, how many answered 429 last.
    pub keys_rate_limited: usize,
    /// Of the 429s, how many carried no key-scoped quota details (the breaker's evidence).
    pub keys_rate_limited_bare: usize,
    /// Usable keys for the model, as last reported (`None`: never reported).
    pub usable_keys: Option<usize>,
    /// When the current pause ends (0: not paused).
    pub paused_until_s: u64,
    /// Pauses since the isolate started.
    pub pauses_total: u64,
}

/// Most observations kept per (provider, model) and window; older ones are forgotten first (which can only make
/// a pause less likely).
const MAX_EVENTS: usize = 4_096;

#[derive(Debug, Clone, Copy)]
struct Latest {
    seq: u64,
    at_s: u64,
    answer: Answer,
}

/// The latest answers of distinct keys in the window, counted by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    succeeded: usize,
    bare: usize,
    detailed: usize,
    other: usize,
}

impl Counts {
    fn slot(&mut self, answer: Answer) -> &mut usize {
        match answer {
            Answer::Success => &mut self.succeeded,
            Answer::RateLimited { key_scoped: false } => &mut self.bare,
            Answer::RateLimited { key_scoped: true } => &mut self.detailed,
            Answer::Other => &mut self.other,
        }
    }

    fn tried(&self) -> usize {
        self.succeeded + self.bare + self.detailed + self.other
    }
}

/// What the breaker knows about one (provider, model).
#[derive(Debug, Clone, Default)]
struct Track {
    latest: HashMap<String, Latest>,
    events: VecDeque<(u64, u64, String)>,
    seq: u64,
    counts: Counts,
    usable_keys: Option<usize>,
    paused_until_s: u64,
    probation_until_s: u64,
    pauses_in_a_row: u32,
    pauses_total: u64,
}

impl Track {
    /// Forgets observations older than `window_start` and beyond [`MAX_EVENTS`].
    fn expire(&mut self, window_start: u64) {
        while self.events.front().is_some_and(|(_, at_s, _)| *at_s < window_start) || self.events.len() > MAX_EVENTS {
            let Some((seq, _, key)) = self.events.pop_front() else { break };
            if self.latest.get(&key).is_some_and(|l| l.seq == seq) {
                if let Some(old) = self.latest.remove(&key) {
                    *self.counts.slot(old.answer) -= 1;
                }
            }
        }
    }

    fn record(&mut self, key: &str, answer: Answer, now_s: u64) {
        self.seq += 1;
        let latest = Latest { seq: self.seq, at_s: now_s, answer };
        if let Some(old) = self.latest.insert(key.to_string(), latest) {
            *self.counts.slot(old.answer) -= 1;
        }
        *self.counts.slot(answer) += 1;
        self.events.push_back((self.seq, now_s, key.to_string()));
    }

    /// Whether the 429s without quota details in the window are evidence that the pool, not the keys, is limited.
    fn pool_throttled(&self, config: &BreakerConfig) -> bool {
        let c = self.counts;
        let Some(usable_keys) = self.usable_keys else { return false };
        if c.succeeded > 0 || c.bare < config.min_keys as usize {
            return false;
        }
        // Keys tried whose latest answer left them usable are in `usable_keys` but were tried.
        let untried_usable = usable_keys.saturating_sub(c.succeeded + c.other);
        c.bare.saturating_mul(100) >= (c.bare + untried_usable).saturating_mul(config.percent as usize)
    }

    fn pause(&mut self, config: &BreakerConfig, now_s: u64) -> Reading {
        let factor = 1u64 << self.pauses_in_a_row.min(4);
        let pause_s = u64::from(config.pause_s).saturating_mul(factor).max(1);
        self.paused_until_s = now_s.saturating_add(pause_s);
        self.probation_until_s = self.paused_until_s.saturating_add(u64::from(config.window_s).max(pause_s));
        self.pauses_in_a_row = self.pauses_in_a_row.saturating_add(1);
        self.pauses_total = self.pauses_total.saturating_add(1);
        Reading::PoolThrottled { until_s: self.paused_until_s }
    }
}

/// One breaker per isolate.
#[derive(Debug, Default)]
pub struct Breaker {
    tracks: HashMap<(String, String), Track>,
}

impl Breaker {
    /// The end of the current pause of (provider, model), if it is paused at `now_s`.
    pub fn paused_until(&self, provider: &str, model: &str, now_s: u64) -> Option<u64> {
        let track = self.tracks.get(&(provider.to_string(), model.to_string()))?;
        (track.paused_until_s > now_s).then_some(track.paused_until_s)
    }

    /// Records one answer; for a rate limit, says whether it was the key's or the pool's.
    pub fn observe(&mut self, config: &BreakerConfig, seen: &Observation<'_>, now_s: u64) -> Reading {
        if config.min_keys == 0 {
            return Reading::KeyScoped;
        }
        let track = self.tracks.entry((seen.provider.to_string(), seen.model.to_string())).or_default();
        track.expire(now_s.saturating_sub(u64::from(config.window_s)));
        track.record(seen.key, seen.answer, now_s);
        if seen.usable_keys.is_some() {
            track.usable_keys = seen.usable_keys;
        }
        match seen.answer {
            Answer::Success => {
                track.probation_until_s = 0;
                track.pauses_in_a_row = 0;
                Reading::KeyScoped
            }
            Answer::Other | Answer::RateLimited { key_scoped: true } => Reading::KeyScoped,
            Answer::RateLimited { key_scoped: false } => {
                if track.paused_until_s > now_s {
                    // An attempt sent before the pause began: the pause stands as it is.
                    return Reading::PoolThrottled { until_s: track.paused_until_s };
                }
                if track.probation_until_s > now_s || track.pool_throttled(config) {
                    return track.pause(config, now_s);
                }
                Reading::KeyScoped
            }
        }
    }

    /// Figures for every (provider, model) seen in the last window, paused, or paused before; sorted.
    pub fn figures(&self, config: &BreakerConfig, now_s: u64) -> Vec<Figures> {
        let window_start = now_s.saturating_sub(u64::from(config.window_s));
        let mut out: Vec<Figures> = self
            .tracks
            .iter()
            .filter_map(|((provider, model), track)| {
                let mut counts = Counts::default();
                for latest in track.latest.values().filter(|l| l.at_s >= window_start) {
                    *counts.slot(latest.answer) += 1;
                }
                let paused_until_s = if track.paused_until_s > now_s { track.paused_until_s } else { 0 };
                if counts.tried() == 0 && paused_until_s == 0 && track.pauses_total == 0 {
                    return None;
                }
                Some(Figures {
                    provider: provider.clone(),
                    model: model.clone(),
                    keys_tried: counts.tried(),
                    keys_succeeded: counts.succeeded,
                    keys_rate_limited: counts.bare + counts.detailed,
                    keys_rate_limited_bare: counts.bare,
                    usable_keys: track.usable_keys,
                    paused_until_s,
                    pauses_total: track.pauses_total,
                })
            })
            .collect();
        out.sort_by(|a, b| (&a.provider, &a.model).cmp(&(&b.provider, &b.model)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cooldown::ModelCooling;
    use crate::key_update::{self, Attempt, KeyUpdate};
    use crate::providers::find;
    use crate::verdict::classify;

    const CFG: BreakerConfig = BreakerConfig { min_keys: 5, percent: 80, window_s: 30, pause_s: 30 };
    const BARE: Answer = Answer::RateLimited { key_scoped: false };
    const DETAILED: Answer = Answer::RateLimited { key_scoped: true };
    const NO_HEADERS: &[(&str, &str)] = &[];

    fn see(b: &mut Breaker, key: &str, answer: Answer, usable_keys: usize, now_s: u64) -> Reading {
        b.observe(&CFG, &Observation { provider: "google-ai-studio", model: "m", key, answer, usable_keys: Some(usable_keys) }, now_s)
    }

    #[test]
    fn a_few_bare_429s_in_a_large_pool_are_the_keys_own_business() {
        let mut b = Breaker::default();
        for (i, k) in ["a", "b", "c", "d", "e", "f"].iter().enumerate() {
            assert_eq!(see(&mut b, k, BARE, 1_000 - i - 1, 100), Reading::KeyScoped, "{k}");
        }
        assert_eq!(b.paused_until("google-ai-studio", "m", 100), None);
    }

    #[test]
    fn a_pool_with_no_successes_and_most_of_its_usable_keys_limited_pauses() {
        let mut b = Breaker::default();
        // Ten usable keys; each bare 429 cools its key, so the usable count falls as they answer.
        for (i, k) in ["a", "b", "c", "d", "e", "f", "g"].iter().enumerate() {
            assert_eq!(see(&mut b, k, BARE, 10 - i - 1, 100), Reading::KeyScoped, "{} of 10 is under 80 %", i + 1);
        }
        assert_eq!(see(&mut b, "h", BARE, 2, 101), Reading::PoolThrottled { until_s: 131 }, "8 of 10");
        assert_eq!(b.paused_until("google-ai-studio", "m", 120), Some(131));
        assert_eq!(b.paused_until("google-ai-studio", "other-model", 120), None);
        assert_eq!(b.paused_until("google-ai-studio", "m", 131), None);
    }

    #[test]
    fn a_key_that_answered_2xx_in_the_window_keeps_the_pool_open() {
        let mut b = Breaker::default();
        see(&mut b, "ok", Answer::Success, 6, 100);
        for (i, k) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            assert_eq!(see(&mut b, k, BARE, 5 - i, 100), Reading::KeyScoped, "{k}");
        }
        // Once that key is limited too, nothing healthy is left.
        assert!(matches!(see(&mut b, "ok", BARE, 0, 101), Reading::PoolThrottled { .. }));
    }

    #[test]
    fn per_minute_quota_details_never_pause_the_pool() {
        let mut b = Breaker::default();
        for i in 0..50usize {
            assert_eq!(see(&mut b, &format!("k{i}"), DETAILED, 49 - i, 100), Reading::KeyScoped);
        }
        assert_eq!(b.paused_until("google-ai-studio", "m", 100), None);
    }

    #[test]
    fn old_outcomes_leave_the_window() {
        let mut b = Breaker::default();
        for (i, k) in ["a", "b", "c", "d"].iter().enumerate() {
            see(&mut b, k, BARE, 5 - i - 1, 100);
        }
        assert_eq!(see(&mut b, "e", BARE, 0, 200), Reading::KeyScoped, "the first four are out of the window");
    }

    #[test]
    fn after_a_pause_one_more_bare_429_pauses_again_for_longer_and_a_success_ends_probation() {
        let mut b = Breaker::default();
        for (i, k) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            see(&mut b, k, BARE, 5 - i - 1, 100);
        }
        assert_eq!(b.paused_until("google-ai-studio", "m", 100), Some(130));
        assert_eq!(see(&mut b, "late", BARE, 0, 110), Reading::PoolThrottled { until_s: 130 }, "in flight: the pause stands");
        assert_eq!(see(&mut b, "f", DETAILED, 10, 130), Reading::KeyScoped, "a key's own quota is no evidence");
        assert_eq!(see(&mut b, "g", BARE, 10, 130), Reading::PoolThrottled { until_s: 190 }, "doubled pause");
        assert_eq!(see(&mut b, "h", BARE, 10, 190), Reading::PoolThrottled { until_s: 310 }, "doubled again");
        see(&mut b, "i", Answer::Success, 10, 310);
        assert_eq!(see(&mut b, "j", BARE, 10, 311), Reading::KeyScoped, "recovered: back to counting");
    }

    #[test]
    fn a_zero_threshold_turns_the_breaker_off() {
        let off = BreakerConfig { min_keys: 0, ..CFG };
        let mut b = Breaker::default();
        for i in 0..50 {
            let seen = Observation { provider: "p", model: "m", key: &format!("k{i}"), answer: BARE, usable_keys: Some(0) };
            assert_eq!(b.observe(&off, &seen, 100), Reading::KeyScoped);
        }
        assert!(b.figures(&off, 100).is_empty());
    }

    #[test]
    fn figures_show_recent_counts_and_pauses() {
        let mut b = Breaker::default();
        for (i, k) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            see(&mut b, k, BARE, 5 - i - 1, 100);
        }
        b.observe(&CFG, &Observation { provider: "openai", model: "gpt", key: "x", answer: Answer::Success, usable_keys: Some(7) }, 100);
        let figures = b.figures(&CFG, 110);
        assert_eq!(figures.len(), 2);
        let g = &figures[0];
        assert_eq!((g.provider.as_str(), g.keys_tried, g.keys_rate_limited, g.keys_rate_limited_bare), ("google-ai-studio", 5, 5, 5));
        assert_eq!((g.paused_until_s, g.pauses_total, g.usable_keys), (130, 1, Some(0)));
        assert_eq!((figures[1].keys_succeeded, figures[1].usable_keys, figures[1].paused_until_s), (1, Some(7), 0));
        assert!(b.figures(&CFG, 10_000).iter().all(|f| f.keys_tried == 0));
    }

    #[test]
    fn without_a_count_of_usable_keys_nothing_pauses_and_the_last_count_is_kept() {
        let mut b = Breaker::default();
        let seen = |key: &'static str, usable_keys| Observation { provider: "p", model: "m", key, answer: BARE, usable_keys };
        for k in ["a", "b", "c", "d", "e", "f"] {
            assert_eq!(b.observe(&CFG, &seen(k, None), 100), Reading::KeyScoped);
        }
        b.observe(&CFG, &Observation { answer: Answer::Other, ..seen("g", Some(1)) }, 100);
        assert!(matches!(b.observe(&CFG, &seen("h", None), 100), Reading::PoolThrottled { .. }), "7 of 7 + 0 untried");
    }

    #[test]
    fn the_latest_answer_of_each_key_counts_once() {
        let mut b = Breaker::default();
        for _ in 0..20 {
            see(&mut b, "same", BARE, 0, 100);
        }
        assert_eq!(b.paused_until("google-ai-studio", "m", 100), None, "one key is not five");
        let f = &b.figures(&CFG, 100)[0];
        assert_eq!((f.keys_tried, f.keys_rate_limited_bare), (1, 1));
    }

    // ---- simulations: the attempt loop over a pool of keys, with the real classifier and cooldowns -------------

    /// What a key answers.
    #[derive(Clone, Copy, PartialEq)]
    enum Behaviour {
        Healthy,
        /// Always 429 with this fixture body.
        Limited(&'static str),
    }

    struct Outcome {
        pauses: u64,
        requests_served: usize,
        requests_refused_while_paused: usize,
        /// Requests whose ten attempts all drew spent keys (the attempt cap, not the breaker).
        requests_out_of_attempts: usize,
        /// Requests that failed any other way (the loop stopped early, or found no usable key).
        requests_failed_otherwise: usize,
        keys_ever_cooled: usize,
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// `requests` requests, one every `gap_ms`, each trying up to 10 distinct keys picked uniformly at random among
    /// the usable ones, as the attempt loop does; 429s cool keys through `key_update::plan` unless the breaker says
    /// the pool is throttled.
    fn simulate(behaviours: &[Behaviour], requests: usize, gap_ms: u64, seed: u64) -> Outcome {
        let provider = find("google-ai-studio").expect("listed");
        let mut rng = fastrand::Rng::with_seed(seed);
        let bodies: HashMap<&str, Vec<u8>> = behaviours
            .iter()
            .filter_map(|b| if let Behaviour::Limited(name) = b { Some((*name, fixture(name))) } else { None })
            .collect();
        let mut states = vec![ModelCooling::default(); behaviours.len()];
        let mut cooled_ever = vec![false; behaviours.len()];
        let mut breaker = Breaker::default();
        let mut out = Outcome {
            pauses: 0,
            requests_served: 0,
            requests_refused_while_paused: 0,
            requests_out_of_attempts: 0,
            requests_failed_otherwise: 0,
            keys_ever_cooled: 0,
        };
        let start_ms: u64 = 1_768_478_400_000;
        for r in 0..requests {
            let now_ms = start_ms + r as u64 * gap_ms;
            let now_s = now_ms / 1_000;
            if breaker.paused_until(provider.slug, "m", now_s).is_some() {
                out.requests_refused_while_paused += 1;
                continue;
            }
            let mut tried: Vec<usize> = Vec::new();
            let mut served = false;
            while tried.len() < 10 {
                let usable: Vec<usize> = (0..behaviours.len()).filter(|i| states[*i].end_at_s <= now_s && !tried.contains(i)).collect();
                if usable.is_empty() {
                    break;
                }
                let key = usable[rng.usize(..usable.len())];
                tried.push(key);
                let verdict = match behaviours[key] {
                    Behaviour::Healthy => Verdict::Success,
                    Behaviour::Limited(name) => classify(provider, 429, NO_HEADERS, &bodies[name], now_s),
                };
                let attempt = Attempt {
                    provider,
                    model: Some("m"),
                    previous: states[key],
                    previous_all: ModelCooling::default(),
                    threshold: 2,
                    sent_at_ms: now_ms,
                    cooling_at_send: false,
                    overlapped: false,
                    now_ms: now_ms + 300,
                };
                let mut update = key_update::plan(verdict, &attempt);
                let mut usable_after = (0..behaviours.len()).filter(|i| states[*i].end_at_s <= now_s).count();
                if let KeyUpdate::Cool { state, .. } = &update {
                    if state.end_at_s > now_s && states[key].end_at_s <= now_s {
                        usable_after -= 1;
                    }
                }
                let seen = Observation {
                    provider: provider.slug,
                    model: "m",
                    key: &key.to_string(),
                    answer: Answer::of(verdict),
                    usable_keys: Some(usable_after),
                };
                if let Reading::PoolThrottled { .. } = breaker.observe(&CFG, &seen, now_s) {
                    update = KeyUpdate::Nothing;
                }
                match update {
                    KeyUpdate::Cool { state, .. } | KeyUpdate::ClearStreak { state, .. } => {
                        cooled_ever[key] |= state.end_at_s > now_s;
                        states[key] = state;
                    }
                    KeyUpdate::Nothing | KeyUpdate::Block => {}
                }
                if verdict == Verdict::Success {
                    served = true;
                    break;
                }
                if breaker.paused_until(provider.slug, "m", now_s).is_some() {
                    break;
                }
            }
            if served {
                out.requests_served += 1;
            } else if tried.len() == 10 {
                out.requests_out_of_attempts += 1;
            } else {
                out.requests_failed_otherwise += 1;
            }
        }
        out.pauses = breaker.figures(&CFG, u64::MAX / 2).first().map_or(0, |f| f.pauses_total);
        out.keys_ever_cooled = cooled_ever.iter().filter(|c| **c).count();
        out
    }

    fn half_bad(bad: &'static str) -> Vec<Behaviour> {
        (0..1_000).map(|i| if i % 2 == 0 { Behaviour::Limited(bad) } else { Behaviour::Healthy }).collect()
    }

    #[test]
    fn a_pool_with_half_its_keys_rate_limited_never_pauses_and_every_request_finds_a_healthy_key() {
        // The measured case: 500 of 1,000 keys always answer Gemini RESOURCE_EXHAUSTED with RetryInfo (with a
        // per-minute QuotaFailure, with RetryInfo alone, and with no details at all). The only requests not served
        // are those that drew ten spent keys in a row (the attempt cap: about 1 in 1,000 before the spent keys have
        // cooled), never one the breaker stopped.
        for (bad, seed) in [("gemini/429-retry-info.json", 1), ("gemini/429-stream-array.json", 2), ("gemini/429-plain.json", 3)] {
            let run = simulate(&half_bad(bad), 3_000, 50, seed);
            assert_eq!(run.pauses, 0, "{bad}");
            assert_eq!((run.requests_refused_while_paused, run.requests_failed_otherwise), (0, 0), "{bad}");
            assert!(run.requests_out_of_attempts <= 3, "{bad}: {} ran out of attempts", run.requests_out_of_attempts);
            assert_eq!(run.requests_served + run.requests_out_of_attempts, 3_000, "{bad}");
        }
    }

    #[test]
    fn a_pool_whose_every_key_answers_429_without_details_still_pauses() {
        let all_throttled = vec![Behaviour::Limited("gemini/429-plain.json"); 200];
        let run = simulate(&all_throttled, 600, 100, 4);
        assert!(run.pauses >= 1, "it paused");
        assert!(run.requests_refused_while_paused > 0);
        assert_eq!(run.requests_served, 0);
        assert!(run.keys_ever_cooled < 200, "the pause spared {} keys", 200 - run.keys_ever_cooled);
    }

    #[test]
    fn a_pool_whose_every_key_answers_per_minute_quota_details_never_pauses() {
        let all_spent = vec![Behaviour::Limited("gemini/429-retry-info.json"); 200];
        let run = simulate(&all_spent, 600, 100, 5);
        assert_eq!(run.pauses, 0);
        assert_eq!(run.requests_refused_while_paused, 0);
    }
}
