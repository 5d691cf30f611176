//! Recording: what a verdict changes about the key that earned it. Pure; the edge applies the plan to the
//! isolate's cache at once and to D1 in `wait_until`.
//!
//! A success writes nothing unless it breaks a 429 streak, so the success path costs no D1 write.

use crate::cooldown::{self, ModelCooling, ALL_MODELS};
use crate::providers::Provider;
use crate::verdict::Verdict;

/// A change to one key, as decided from one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyUpdate {
    /// Nothing to record.
    Nothing,
    /// Cool (key, `model`) as computed in `state`. D1 recomputes it atomically from its own row with
    /// `until_s` / `daily_reset_s` / `streak_step`, so a concurrent isolate's streak is not lost.
    Cool {
        /// The model entry (`"*"` for every model).
        model: String,
        /// This isolate's view of the new state.
        state: ModelCooling,
        /// The end the hint asked for.
        until_s: u64,
        /// Where a streak at the threshold sends the key.
        daily_reset_s: u64,
        /// 1 for a rate limit, 0 for exhaustion (which leaves the streak alone).
        streak_step: u32,
        /// Whether the key has left the pool until a scheduled re-check (exhaustion).
        schedule_check: bool,
    },
    /// A success ended a streak on (key, `model`).
    ClearStreak {
        /// The model entry.
        model: String,
        /// The entry with its streak at zero.
        state: ModelCooling,
    },
    /// The key is invalid: mark it blocked.
    Block,
}

/// Everything the plan needs to know about the attempt.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// The provider's facts.
    pub provider: &'a Provider,
    /// The request's model (`None` for a models listing).
    pub model: Option<&'a str>,
    /// The (key, model) entry before this answer.
    pub previous: ModelCooling,
    /// The key's all-models entry before this answer.
    pub previous_all: ModelCooling,
    /// `CONSECUTIVE_429_THRESHOLD`.
    pub threshold: u32,
    /// Now, unix seconds.
    pub now_s: u64,
}

/// What `verdict` changes about the key.
pub fn plan(verdict: Verdict, attempt: &Attempt<'_>) -> KeyUpdate {
    let now_s = attempt.now_s;
    let daily_reset_s = cooldown::daily_reset_s(attempt.provider.daily_reset, now_s);
    match (verdict, attempt.model) {
        (Verdict::Success, Some(model)) if attempt.previous.streak > 0 => {
            KeyUpdate::ClearStreak { model: model.to_string(), state: ModelCooling { streak: 0, ..attempt.previous } }
        }
        (Verdict::RateLimited(hint), Some(model)) => {
            let until_s = cooldown::hint_until_s(hint, attempt.provider.daily_reset, now_s);
            let state = cooldown::after_rate_limit(attempt.previous, until_s, daily_reset_s, attempt.threshold, now_s);
            cool(model, state, until_s, daily_reset_s, 1, false)
        }
        (Verdict::Exhausted, _) => {
            let state = cooldown::after_exhausted(attempt.previous_all, now_s);
            cool(ALL_MODELS, state, now_s.saturating_add(cooldown::EXHAUSTED_COOLDOWN_S), daily_reset_s, 0, true)
        }
        (Verdict::InvalidKey, _) => KeyUpdate::Block,
        // A models listing names no model: SPEC §2 keeps it out of the cooldown bookkeeping.
        (Verdict::Success | Verdict::RateLimited(_), _)
        | (Verdict::NotKeyFault | Verdict::Transient | Verdict::Timeout | Verdict::ClientError, _) => KeyUpdate::Nothing,
    }
}

fn cool(model: &str, state: ModelCooling, until_s: u64, daily_reset_s: u64, streak_step: u32, schedule_check: bool) -> KeyUpdate {
    KeyUpdate::Cool { model: model.to_string(), state, until_s, daily_reset_s, streak_step, schedule_check }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cooldown::CoolHint;
    use crate::providers::find;

    fn attempt(model: Option<&'static str>, previous: ModelCooling) -> Attempt<'static> {
        Attempt {
            provider: find("google-ai-studio").expect("listed"),
            model,
            previous,
            previous_all: ModelCooling::default(),
            threshold: 2,
            now_s: 1_768_478_400, // 2026-01-15T12:00:00Z
        }
    }

    #[test]
    fn a_plain_success_records_nothing() {
        assert_eq!(plan(Verdict::Success, &attempt(Some("m"), ModelCooling::default())), KeyUpdate::Nothing);
    }

    #[test]
    fn a_success_after_a_rate_limit_clears_the_streak() {
        let previous = ModelCooling { end_at_s: 1, total_seconds: 65, streak: 1 };
        let cleared = ModelCooling { streak: 0, ..previous };
        assert_eq!(plan(Verdict::Success, &attempt(Some("m"), previous)), KeyUpdate::ClearStreak { model: "m".to_string(), state: cleared });
    }

    #[test]
    fn a_rate_limit_cools_that_model_for_the_hint() {
        let a = attempt(Some("gemini-2.5-flash"), ModelCooling::default());
        let KeyUpdate::Cool { model, state, until_s, streak_step, .. } = plan(Verdict::RateLimited(CoolHint::Seconds(39)), &a) else {
            panic!("expected a cooldown");
        };
        assert_eq!((model.as_str(), until_s, state.end_at_s, state.streak, streak_step), ("gemini-2.5-flash", a.now_s + 39, a.now_s + 39, 1, 1));
    }

    #[test]
    fn the_second_rate_limit_in_a_row_cools_until_pacific_midnight() {
        let a = attempt(Some("m"), ModelCooling { end_at_s: 0, total_seconds: 65, streak: 1 });
        let KeyUpdate::Cool { state, daily_reset_s, .. } = plan(Verdict::RateLimited(CoolHint::None), &a) else {
            panic!("expected a cooldown");
        };
        assert_eq!(daily_reset_s, 1_768_550_400, "2026-01-16T08:00:00Z");
        assert_eq!((state.end_at_s, state.streak), (daily_reset_s, 0));
    }

    #[test]
    fn exhaustion_cools_every_model_for_a_day_and_invalid_keys_are_blocked() {
        let a = attempt(Some("m"), ModelCooling::default());
        let KeyUpdate::Cool { model, state, streak_step, schedule_check, .. } = plan(Verdict::Exhausted, &a) else {
            panic!("expected a cooldown")
        };
        assert_eq!((model.as_str(), state.end_at_s, streak_step, schedule_check), ("*", a.now_s + 86_400, 0, true));
        assert_eq!(plan(Verdict::InvalidKey, &a), KeyUpdate::Block);
    }

    #[test]
    fn faults_that_are_not_the_keys_record_nothing() {
        let a = attempt(Some("m"), ModelCooling { streak: 1, ..Default::default() });
        for verdict in [Verdict::NotKeyFault, Verdict::Transient, Verdict::Timeout, Verdict::ClientError] {
            assert_eq!(plan(verdict, &a), KeyUpdate::Nothing, "{verdict:?}");
        }
    }

    #[test]
    fn a_rate_limited_listing_records_nothing() {
        assert_eq!(plan(Verdict::RateLimited(CoolHint::DailyReset), &attempt(None, ModelCooling::default())), KeyUpdate::Nothing);
    }

}
