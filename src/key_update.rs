//! Recording: what a verdict changes about the key that earned it. Pure; the edge applies the plan to the
//! isolate's cache at once and to D1 in `wait_until`.
//!
//! A success writes nothing unless it breaks a 429 streak or ends a day-long rest (a success proves the key serves
//! the model), so the success path costs no D1 write. A suspect key
//! ([`Verdict::SuspectKey`]) records nothing here: the attempt loop probes it, and plans [`Verdict::InvalidKey`]
//! only when the probe confirms (see [`crate::verdict::read_probe`]).

use crate::cooldown::{self, CoolInput, ModelCooling, ALL_MODELS};
use crate::providers::Provider;
use crate::verdict::{QuotaWindow, Verdict, SHORT_WINDOW_MAX_S};

/// A change to one key, as decided from one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyUpdate {
    /// Nothing to record.
    Nothing,
    /// Cool (key, `model`) as computed in `state`. D1 recomputes it atomically from its own row with `input` (the
    /// recipe is in [`crate::cooldown`]), so a concurrent isolate's streak or cooldown is not lost.
    Cool {
        /// The model entry (`"*"` for every model).
        model: String,
        /// This isolate's view of the new state.
        state: ModelCooling,
        /// What the SQL writer binds.
        input: CoolInput,
        /// Whether the key has left the pool until a scheduled re-check (exhaustion).
        schedule_check: bool,
    },
    /// A success ended a streak on (key, `model`), and any day-long rest of the pair: the key evidently serves the
    /// model (an attempt in flight when a streak of 429s parked the pair came back with a 2xx).
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
    /// The (key, model) entry as the pool knows it now, when the answer is recorded (not at send time).
    pub previous: ModelCooling,
    /// The key's all-models entry, likewise.
    pub previous_all: ModelCooling,
    /// `CONSECUTIVE_429_THRESHOLD`.
    pub threshold: u32,
    /// When the attempt was sent, unix ms.
    pub sent_at_ms: u64,
    /// Whether (key, model) was cooling in the pool's view when the attempt was sent.
    pub cooling_at_send: bool,
    /// Whether another attempt on (key, model) was in flight when this one was sent.
    pub overlapped: bool,
    /// When the answer was classified, unix ms.
    pub now_ms: u64,
}

/// Whether a pair rests for longer than any short quota window: parked until a daily reset, or resting a day.
pub fn parked(state: &ModelCooling, now_s: u64) -> bool {
    state.end_at_s > now_s.saturating_add(SHORT_WINDOW_MAX_S)
}

/// What `verdict` changes about the key.
pub fn plan(verdict: Verdict, attempt: &Attempt<'_>) -> KeyUpdate {
    let now_s = attempt.now_ms / 1_000;
    let reset = attempt.provider.daily_reset;
    let input = |until_s: u64, window: QuotaWindow| CoolInput {
        until_s,
        daily_reset_s: cooldown::daily_reset_s(reset, now_s),
        window,
        sent_at_ms: attempt.sent_at_ms,
        cooling_at_send: attempt.cooling_at_send,
        overlapped: attempt.overlapped,
        now_ms: attempt.now_ms,
    };
    match (verdict, attempt.model) {
        (Verdict::Success, Some(model)) if attempt.previous.streak > 0 || parked(&attempt.previous, now_s) => {
            let end_at_s = if parked(&attempt.previous, now_s) { now_s } else { attempt.previous.end_at_s };
            KeyUpdate::ClearStreak { model: model.to_string(), state: ModelCooling { streak: 0, end_at_s, ..attempt.previous } }
        }
        (Verdict::RateLimited(limit), Some(model)) => {
            let input = input(cooldown::hint_until_s(limit.hint, reset, now_s), limit.window);
            let state = cooldown::after_rate_limit(attempt.previous, &input, attempt.threshold);
            KeyUpdate::Cool { model: model.to_string(), state, input, schedule_check: false }
        }
        (Verdict::ModelUnavailable, Some(model)) => {
            // The same statement as a per-minute window: no step, no daily reset (see `crate::cooldown`).
            let input = input(now_s.saturating_add(cooldown::MODEL_UNAVAILABLE_COOLDOWN_S), QuotaWindow::Minute);
            let state = cooldown::after_model_unavailable(attempt.previous, attempt.now_ms);
            KeyUpdate::Cool { model: model.to_string(), state, input, schedule_check: false }
        }
        (Verdict::Exhausted, _) => {
            let input = input(now_s.saturating_add(cooldown::EXHAUSTED_COOLDOWN_S), QuotaWindow::Minute);
            let state = cooldown::after_exhausted(attempt.previous_all, attempt.now_ms);
            KeyUpdate::Cool { model: ALL_MODELS.to_string(), state, input, schedule_check: true }
        }
        (Verdict::InvalidKey, _) => KeyUpdate::Block,
        // A models listing names no model: SPEC §2 keeps it out of the cooldown bookkeeping.
        (Verdict::Success | Verdict::RateLimited(_) | Verdict::ModelUnavailable, _)
        | (Verdict::SuspectKey | Verdict::NotKeyFault | Verdict::Transient | Verdict::Timeout | Verdict::ClientError, _) => {
            KeyUpdate::Nothing
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hints::CoolHint;
    use crate::providers::find;
    use crate::verdict::RateLimit;

    const NOW_MS: u64 = 1_768_478_400_000; // 2026-01-15T12:00:00Z
    const NOW_S: u64 = NOW_MS / 1_000;
    const RESET_S: u64 = 1_768_550_400; // 2026-01-16T08:00:00Z

    fn attempt(model: Option<&'static str>, previous: ModelCooling) -> Attempt<'static> {
        Attempt {
            provider: find("google-ai-studio").expect("listed"),
            model,
            previous,
            previous_all: ModelCooling::default(),
            threshold: 2,
            sent_at_ms: NOW_MS - 800,
            cooling_at_send: false,
            overlapped: false,
            now_ms: NOW_MS,
        }
    }

    fn limited(hint: CoolHint, window: QuotaWindow) -> Verdict {
        Verdict::RateLimited(RateLimit { hint, window })
    }

    fn cooled(update: KeyUpdate) -> (String, ModelCooling, CoolInput, bool) {
        match update {
            KeyUpdate::Cool { model, state, input, schedule_check } => (model, state, input, schedule_check),
            other => panic!("expected a cooldown, got {other:?}"),
        }
    }

    #[test]
    fn a_plain_success_records_nothing() {
        assert_eq!(plan(Verdict::Success, &attempt(Some("m"), ModelCooling::default())), KeyUpdate::Nothing);
    }

    #[test]
    fn a_success_ends_a_day_long_rest_of_the_pair_but_not_a_short_cooldown() {
        let parked = ModelCooling { end_at_s: RESET_S, total_seconds: 70_000, streak: 0, at_ms: NOW_MS - 500 };
        let KeyUpdate::ClearStreak { state, .. } = plan(Verdict::Success, &attempt(Some("m"), parked)) else { panic!("expected an unpark") };
        assert_eq!((state.end_at_s, state.streak), (NOW_S, 0), "an attempt in flight when the streak parked the pair came back 2xx");
        let short = ModelCooling { end_at_s: NOW_S + 40, total_seconds: 40, streak: 0, at_ms: NOW_MS - 500 };
        assert_eq!(plan(Verdict::Success, &attempt(Some("m"), short)), KeyUpdate::Nothing, "a per-minute cooldown stays");
    }

    #[test]
    fn a_success_after_a_rate_limit_clears_the_streak() {
        let previous = ModelCooling { end_at_s: 1, total_seconds: 65, streak: 1, at_ms: 5 };
        let cleared = ModelCooling { streak: 0, ..previous };
        assert_eq!(plan(Verdict::Success, &attempt(Some("m"), previous)), KeyUpdate::ClearStreak { model: "m".to_string(), state: cleared });
    }

    #[test]
    fn a_per_minute_rate_limit_cools_that_model_for_the_hint_and_leaves_the_streak() {
        let a = attempt(Some("gemini-2.5-flash"), ModelCooling { streak: 1, ..Default::default() });
        let (model, state, input, _) = cooled(plan(limited(CoolHint::Seconds(39), QuotaWindow::Minute), &a));
        assert_eq!((model.as_str(), input.until_s, state.end_at_s, state.streak), ("gemini-2.5-flash", NOW_S + 39, NOW_S + 39, 1));
        assert_eq!((input.window, input.sent_at_ms, input.now_ms, input.daily_reset_s), (QuotaWindow::Minute, NOW_MS - 800, NOW_MS, RESET_S));
    }

    #[test]
    fn a_per_day_rate_limit_cools_until_pacific_midnight_at_once() {
        let a = attempt(Some("m"), ModelCooling::default());
        let (_, state, _, _) = cooled(plan(limited(CoolHint::Seconds(53), QuotaWindow::Day), &a));
        assert_eq!((state.end_at_s, state.streak), (RESET_S, 0));
    }

    #[test]
    fn the_second_new_episode_of_unknown_window_cools_until_pacific_midnight() {
        let a = attempt(Some("m"), ModelCooling { end_at_s: 0, total_seconds: 65, streak: 1, at_ms: 0 });
        let (_, state, _, _) = cooled(plan(limited(CoolHint::None, QuotaWindow::Unknown), &a));
        assert_eq!((state.end_at_s, state.streak), (RESET_S, 0));
    }

    #[test]
    fn an_overlapping_429_of_unknown_window_is_an_echo() {
        let a = Attempt { overlapped: true, ..attempt(Some("m"), ModelCooling { streak: 1, ..Default::default() }) };
        let (_, state, input, _) = cooled(plan(limited(CoolHint::None, QuotaWindow::Unknown), &a));
        assert_eq!((state.end_at_s, state.streak, input.overlapped), (NOW_S + 65, 1, true));
    }

    #[test]
    fn exhaustion_cools_every_model_for_a_day_and_invalid_keys_are_blocked() {
        let a = attempt(Some("m"), ModelCooling::default());
        let (model, state, input, schedule_check) = cooled(plan(Verdict::Exhausted, &a));
        assert_eq!((model.as_str(), state.end_at_s, input.window, schedule_check), ("*", NOW_S + 86_400, QuotaWindow::Minute, true));
        assert_eq!(plan(Verdict::InvalidKey, &a), KeyUpdate::Block);
    }

    #[test]
    fn an_unavailable_model_rests_that_pair_a_day_and_never_blocks() {
        let a = attempt(Some("gpt-4.5"), ModelCooling::default());
        let (model, state, input, schedule_check) = cooled(plan(Verdict::ModelUnavailable, &a));
        assert_eq!((model.as_str(), state.end_at_s, input.until_s, schedule_check), ("gpt-4.5", NOW_S + 86_400, NOW_S + 86_400, false));
        assert_eq!(plan(Verdict::ModelUnavailable, &attempt(None, ModelCooling::default())), KeyUpdate::Nothing);
    }

    #[test]
    fn faults_that_are_not_the_keys_and_suspicions_record_nothing() {
        let a = attempt(Some("m"), ModelCooling { streak: 1, ..Default::default() });
        for verdict in [Verdict::SuspectKey, Verdict::NotKeyFault, Verdict::Transient, Verdict::Timeout, Verdict::ClientError] {
            assert_eq!(plan(verdict, &a), KeyUpdate::Nothing, "{verdict:?}");
        }
    }

    #[test]
    fn a_rate_limited_listing_records_nothing() {
        let verdict = limited(CoolHint::DailyReset, QuotaWindow::Day);
        assert_eq!(plan(verdict, &attempt(None, ModelCooling::default())), KeyUpdate::Nothing);
    }
}
