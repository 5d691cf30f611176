//! The pool-wide 429 breaker: telling "the keys are rate-limited" from "this egress IP or region is".
//!
//! When most of the distinct keys tried for a (provider, model) in a short window answered 429, the limit is not
//! the keys': spending more keys only burns their cooldowns. The detector then pauses that (provider, model): requests
//! get 429 with `Retry-After` at once, and no key is tried. After the pause comes a probation period in which a 429
//! does not cool the key and a single further 429 pauses again, twice as long (up to a cap); a success ends it all.
//! Pure: the edge keeps one detector per isolate and passes `now_s` in.

use std::collections::{HashMap, VecDeque};

/// Thresholds, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Distinct rate-limited keys in the window before the pool counts as throttled (0 turns detection off).
    pub min_keys: u32,
    /// Percentage of the distinct keys tried in the window that must have answered 429.
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

#[derive(Debug, Clone)]
struct Outcome {
    at_s: u64,
    key: String,
    rate_limited: bool,
}

/// What the detector knows about one (provider, model).
#[derive(Debug, Clone, Default)]
struct Track {
    recent: VecDeque<Outcome>,
    paused_until_s: u64,
    probation_until_s: u64,
    pauses_in_a_row: u32,
    pauses_total: u64,
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
    /// Distinct keys tried in the window.
    pub keys_tried: usize,
    /// Of those, how many answered 429.
    pub keys_rate_limited: usize,
    /// When the current pause ends (0: not paused).
    pub paused_until_s: u64,
    /// Pauses since the isolate started.
    pub pauses_total: u64,
}

/// Most outcomes kept per (provider, model).
const MAX_OUTCOMES: usize = 256;

/// One detector per isolate.
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

    /// Records one answer from `key`; for a rate limit, says whether it was the key's or the pool's.
    pub fn observe(&mut self, config: &BreakerConfig, provider: &str, model: &str, key: &str, rate_limited: bool, now_s: u64) -> Reading {
        if config.min_keys == 0 {
            return Reading::KeyScoped;
        }
        let track = self.tracks.entry((provider.to_string(), model.to_string())).or_default();
        if !rate_limited {
            track.probation_until_s = 0;
            track.pauses_in_a_row = 0;
        }
        track.recent.push_back(Outcome { at_s: now_s, key: key.to_string(), rate_limited });
        let window_start = now_s.saturating_sub(u64::from(config.window_s));
        while track.recent.front().is_some_and(|o| o.at_s < window_start) || track.recent.len() > MAX_OUTCOMES {
            track.recent.pop_front();
        }
        if !rate_limited {
            return Reading::KeyScoped;
        }
        let on_probation = track.probation_until_s > now_s;
        let (tried, limited) = distinct_counts(&track.recent);
        let throttled = on_probation
            || (limited >= config.min_keys as usize && limited * 100 >= tried * config.percent as usize);
        if !throttled {
            return Reading::KeyScoped;
        }
        let factor = 1u64 << track.pauses_in_a_row.min(4);
        let pause_s = u64::from(config.pause_s).saturating_mul(factor).max(1);
        track.paused_until_s = now_s.saturating_add(pause_s);
        track.probation_until_s = track.paused_until_s.saturating_add(u64::from(config.window_s).max(pause_s));
        track.pauses_in_a_row = track.pauses_in_a_row.saturating_add(1);
        track.pauses_total = track.pauses_total.saturating_add(1);
        Reading::PoolThrottled { until_s: track.paused_until_s }
    }

    /// Figures for every (provider, model) seen in the last window or still paused, sorted.
    pub fn figures(&self, config: &BreakerConfig, now_s: u64) -> Vec<Figures> {
        let window_start = now_s.saturating_sub(u64::from(config.window_s));
        let mut out: Vec<Figures> = self
            .tracks
            .iter()
            .filter_map(|((provider, model), track)| {
                let recent: VecDeque<Outcome> = track.recent.iter().filter(|o| o.at_s >= window_start).cloned().collect();
                let paused_until_s = if track.paused_until_s > now_s { track.paused_until_s } else { 0 };
                if recent.is_empty() && paused_until_s == 0 && track.pauses_total == 0 {
                    return None;
                }
                let (keys_tried, keys_rate_limited) = distinct_counts(&recent);
                Some(Figures { provider: provider.clone(), model: model.clone(), keys_tried, keys_rate_limited, paused_until_s, pauses_total: track.pauses_total })
            })
            .collect();
        out.sort_by(|a, b| (&a.provider, &a.model).cmp(&(&b.provider, &b.model)));
        out
    }
}

/// Distinct keys in `recent`, and how many of them answered 429 at their latest answer.
fn distinct_counts(recent: &VecDeque<Outcome>) -> (usize, usize) {
    let mut latest: HashMap<&str, bool> = HashMap::new();
    for outcome in recent {
        latest.insert(&outcome.key, outcome.rate_limited);
    }
    (latest.len(), latest.values().filter(|limited| **limited).count())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: BreakerConfig = BreakerConfig { min_keys: 5, percent: 80, window_s: 30, pause_s: 30 };

    fn limited(d: &mut Breaker, key: &str, now: u64) -> Reading {
        d.observe(&CFG, "google-ai-studio", "m", key, true, now)
    }

    #[test]
    fn a_few_rate_limited_keys_are_their_own_business() {
        let mut d = Breaker::default();
        for k in ["a", "b", "c", "d"] {
            assert_eq!(limited(&mut d, k, 100), Reading::KeyScoped);
        }
        assert_eq!(d.paused_until("google-ai-studio", "m", 100), None);
    }

    #[test]
    fn most_keys_rate_limited_in_the_window_pauses_the_pool() {
        let mut d = Breaker::default();
        for k in ["a", "b", "c", "d"] {
            limited(&mut d, k, 100);
        }
        assert_eq!(limited(&mut d, "e", 101), Reading::PoolThrottled { until_s: 131 });
        assert_eq!(d.paused_until("google-ai-studio", "m", 120), Some(131));
        assert_eq!(d.paused_until("google-ai-studio", "other-model", 120), None);
        assert_eq!(d.paused_until("google-ai-studio", "m", 131), None);
    }

    #[test]
    fn successes_from_other_keys_keep_the_ratio_below_the_bar() {
        let mut d = Breaker::default();
        for k in ["s1", "s2"] {
            d.observe(&CFG, "p", "m", k, false, 100);
        }
        for k in ["a", "b", "c", "d", "e"] {
            assert_eq!(d.observe(&CFG, "p", "m", k, true, 100), Reading::KeyScoped, "5 of 7 is under 80 %");
        }
        assert_eq!(d.observe(&CFG, "p", "m", "f", true, 100), Reading::KeyScoped, "6 of 8 = 75 %");
        assert_eq!(d.observe(&CFG, "p", "m", "g", true, 100), Reading::KeyScoped, "7 of 9 = 78 %");
        assert!(matches!(d.observe(&CFG, "p", "m", "h", true, 100), Reading::PoolThrottled { .. }), "8 of 10 = 80 %");
    }

    #[test]
    fn old_outcomes_leave_the_window() {
        let mut d = Breaker::default();
        for k in ["a", "b", "c", "d"] {
            limited(&mut d, k, 100);
        }
        assert_eq!(limited(&mut d, "e", 200), Reading::KeyScoped);
    }

    #[test]
    fn after_a_pause_one_more_429_pauses_again_for_longer_and_a_success_ends_probation() {
        let mut d = Breaker::default();
        for k in ["a", "b", "c", "d", "e"] {
            limited(&mut d, k, 100);
        }
        assert_eq!(limited(&mut d, "f", 130), Reading::PoolThrottled { until_s: 190 }, "doubled pause");
        assert_eq!(limited(&mut d, "g", 190), Reading::PoolThrottled { until_s: 310 }, "doubled again");
        d.observe(&CFG, "google-ai-studio", "m", "h", false, 310);
        assert_eq!(limited(&mut d, "i", 311), Reading::KeyScoped, "recovered: back to counting");
    }

    #[test]
    fn a_zero_threshold_turns_detection_off() {
        let off = BreakerConfig { min_keys: 0, ..CFG };
        let mut d = Breaker::default();
        for i in 0..50 {
            assert_eq!(d.observe(&off, "p", "m", &format!("k{i}"), true, 100), Reading::KeyScoped);
        }
    }

    #[test]
    fn figures_show_recent_counts_and_pauses() {
        let mut d = Breaker::default();
        for k in ["a", "b", "c", "d", "e"] {
            limited(&mut d, k, 100);
        }
        d.observe(&CFG, "openai", "gpt", "x", false, 100);
        let figures = d.figures(&CFG, 110);
        assert_eq!(figures.len(), 2);
        assert_eq!((figures[0].provider.as_str(), figures[0].keys_tried, figures[0].keys_rate_limited), ("google-ai-studio", 5, 5));
        assert_eq!(figures[0].paused_until_s, 130);
        assert_eq!(figures[1].paused_until_s, 0);
        assert!(d.figures(&CFG, 10_000).iter().all(|f| f.keys_tried == 0));
    }
}
