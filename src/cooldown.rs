//! Cooldown arithmetic: how long a (key, model) rests after a verdict, in unix seconds, with `now_s` passed in.
//!
//! The rules (SPEC §3): a rate limit cools the key for that model for the time the provider hinted (Gemini
//! `RetryInfo` + 2 s, `Retry-After`, reset headers, OpenRouter's reset + 5 s) or 65 s without a hint. Each rate limit
//! adds one to the (key, model) streak; when the streak reaches the threshold with no success between, the key cools
//! until the provider's daily reset, because Gemini sends identical bodies for per-minute and per-day limits and only
//! repetition tells them apart. A cooldown never shortens one already in force. Spend exhaustion cools every model
//! (the `"*"` entry) for a day; it is never a permanent block.

use crate::providers::DailyReset;
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::America::Los_Angeles;

/// The model-coolings entry that applies to every model of a key.
pub const ALL_MODELS: &str = "*";
/// Cooldown when a rate limit carries no usable hint.
pub const DEFAULT_COOLDOWN_S: u64 = 65;
/// Added to Gemini's `RetryInfo.retryDelay`, which is often a little short.
pub const RETRY_INFO_BUFFER_S: u64 = 2;
/// Added to OpenRouter's `X-RateLimit-Reset`.
pub const OPENROUTER_RESET_BUFFER_S: u64 = 5;
/// How long a key with exhausted spend or credit rests before it is tried again.
pub const EXHAUSTED_COOLDOWN_S: u64 = 24 * 3600;
/// No hint from an upstream may cool a key for longer than this.
pub const MAX_HINT_S: u64 = 7 * 24 * 3600;

/// The state of one (key, model) pair, as stored in the `model_coolings` JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModelCooling {
    /// Unix seconds when the pair may serve again.
    pub end_at_s: u64,
    /// Seconds this pair has spent cooling over the key's life.
    pub total_seconds: u64,
    /// Consecutive rate limits with no success between.
    pub streak: u32,
}

/// How long an upstream said to wait, as the verdict read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoolHint {
    /// Wait this many seconds from now (buffers already added).
    Seconds(u64),
    /// Wait until this unix second (buffers already added).
    UntilS(u64),
    /// Wait until the provider's daily quota resets (a per-day quota is spent).
    DailyReset,
    /// No usable hint.
    None,
}

/// The first midnight in America/Los_Angeles strictly after `now_s`, as unix seconds. DST-correct: midnight is
/// never inside a transition in that zone, so the local date's start is always one instant.
pub fn next_pacific_midnight_s(now_s: u64) -> u64 {
    let now = utc(now_s);
    let today = now.with_timezone(&Los_Angeles).date_naive();
    let tomorrow = today.succ_opt().unwrap_or(today);
    local_midnight_s(tomorrow).unwrap_or(now_s.saturating_add(24 * 3600))
}

fn local_midnight_s(date: NaiveDate) -> Option<u64> {
    let midnight = date.and_hms_opt(0, 0, 0)?;
    let instant = Los_Angeles.from_local_datetime(&midnight).earliest()?;
    u64::try_from(instant.timestamp()).ok()
}

/// The first midnight UTC strictly after `now_s`.
pub fn next_utc_midnight_s(now_s: u64) -> u64 {
    let now = utc(now_s);
    let day_start = now.date_naive().and_hms_opt(0, 0, 0).map(|d| d.and_utc().timestamp());
    match day_start.and_then(|s| u64::try_from(s).ok()) {
        Some(start) if now.year() > 0 && start > now_s.saturating_sub(24 * 3600) => start + 24 * 3600,
        _ => now_s.saturating_add(24 * 3600),
    }
}

fn utc(now_s: u64) -> DateTime<Utc> {
    let clamped = i64::try_from(now_s).unwrap_or(i64::MAX).min(253_402_300_799);
    DateTime::from_timestamp(clamped, 0).unwrap_or_default()
}

/// When the provider's daily quotas next reset.
pub fn daily_reset_s(reset: DailyReset, now_s: u64) -> u64 {
    match reset {
        DailyReset::PacificMidnight => next_pacific_midnight_s(now_s),
        DailyReset::UtcMidnight => next_utc_midnight_s(now_s),
        DailyReset::Rolling24h => now_s.saturating_add(24 * 3600),
    }
}

/// The unix second a hint points at, kept between one second and [`MAX_HINT_S`] from now.
pub fn hint_until_s(hint: CoolHint, reset: DailyReset, now_s: u64) -> u64 {
    let until = match hint {
        CoolHint::Seconds(s) => now_s.saturating_add(s),
        CoolHint::UntilS(until) => until,
        CoolHint::DailyReset => daily_reset_s(reset, now_s),
        CoolHint::None => now_s.saturating_add(DEFAULT_COOLDOWN_S),
    };
    until.clamp(now_s.saturating_add(1), now_s.saturating_add(MAX_HINT_S))
}

/// The new state of a (key, model) pair after a rate limit.
///
/// `until_s` is what the hint asked for; `daily_reset_s` is where the streak rule sends the key.
pub fn after_rate_limit(
    previous: ModelCooling,
    until_s: u64,
    daily_reset_s: u64,
    threshold: u32,
    now_s: u64,
) -> ModelCooling {
    let streak = previous.streak.saturating_add(1);
    let (wanted, streak) = if streak >= threshold { (until_s.max(daily_reset_s), 0) } else { (until_s, streak) };
    extend(previous, wanted, streak, now_s)
}

/// The new state of a key's all-models entry after its spend or credit ran out.
pub fn after_exhausted(previous: ModelCooling, now_s: u64) -> ModelCooling {
    extend(previous, now_s.saturating_add(EXHAUSTED_COOLDOWN_S), previous.streak, now_s)
}

/// Never shortens: the end is the later of the old and the wanted one; only the added time counts to the total.
fn extend(previous: ModelCooling, wanted_end_s: u64, streak: u32, now_s: u64) -> ModelCooling {
    let end_at_s = previous.end_at_s.max(wanted_end_s);
    let added = end_at_s.saturating_sub(previous.end_at_s.max(now_s));
    ModelCooling { end_at_s, total_seconds: previous.total_seconds.saturating_add(added), streak }
}

/// Whether a pair rests at `now_s`.
pub fn is_cooling(state: &ModelCooling, now_s: u64) -> bool {
    state.end_at_s > now_s
}

/// The `Retry-After` seconds for a client when the soonest usable key is free at `earliest_end_s` (at least 1).
pub fn retry_after_s(earliest_end_s: u64, now_s: u64) -> u64 {
    earliest_end_s.saturating_sub(now_s).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> u64 {
        let t = DateTime::parse_from_rfc3339(rfc3339).expect("valid time").timestamp();
        u64::try_from(t).expect("after 1970")
    }

    #[test]
    fn pacific_midnight_in_winter_is_eight_in_the_morning_utc() {
        assert_eq!(next_pacific_midnight_s(at("2026-01-15T12:00:00Z")), at("2026-01-16T08:00:00Z"));
    }

    #[test]
    fn pacific_midnight_in_summer_is_seven_in_the_morning_utc() {
        assert_eq!(next_pacific_midnight_s(at("2026-07-01T06:59:59Z")), at("2026-07-01T07:00:00Z"));
        assert_eq!(next_pacific_midnight_s(at("2026-07-01T07:00:00Z")), at("2026-07-02T07:00:00Z"));
    }

    #[test]
    fn pacific_midnight_across_the_spring_and_autumn_changes() {
        // 2026-03-08 02:00 PST becomes 03:00 PDT: the day before the change ends at 08:00 UTC, the day of it at 07:00.
        assert_eq!(next_pacific_midnight_s(at("2026-03-07T20:00:00Z")), at("2026-03-08T08:00:00Z"));
        assert_eq!(next_pacific_midnight_s(at("2026-03-08T20:00:00Z")), at("2026-03-09T07:00:00Z"));
        // 2026-11-01 02:00 PDT becomes 01:00 PST: that day is 25 hours long.
        assert_eq!(next_pacific_midnight_s(at("2026-11-01T06:30:00Z")), at("2026-11-01T07:00:00Z"));
        assert_eq!(next_pacific_midnight_s(at("2026-11-01T07:00:00Z")), at("2026-11-02T08:00:00Z"));
    }

    #[test]
    fn utc_midnight_is_the_next_day_start() {
        assert_eq!(next_utc_midnight_s(at("2026-05-05T23:59:59Z")), at("2026-05-06T00:00:00Z"));
        assert_eq!(next_utc_midnight_s(at("2026-05-06T00:00:00Z")), at("2026-05-07T00:00:00Z"));
    }

    #[test]
    fn hints_are_bounded_and_never_zero() {
        let now = 1_000_000;
        assert_eq!(hint_until_s(CoolHint::Seconds(39), DailyReset::Rolling24h, now), now + 39);
        assert_eq!(hint_until_s(CoolHint::Seconds(0), DailyReset::Rolling24h, now), now + 1);
        assert_eq!(hint_until_s(CoolHint::UntilS(now - 50), DailyReset::Rolling24h, now), now + 1);
        assert_eq!(hint_until_s(CoolHint::Seconds(u64::MAX), DailyReset::Rolling24h, now), now + MAX_HINT_S);
        assert_eq!(hint_until_s(CoolHint::None, DailyReset::Rolling24h, now), now + 65);
        assert_eq!(hint_until_s(CoolHint::DailyReset, DailyReset::Rolling24h, now), now + 86_400);
        assert_eq!(hint_until_s(CoolHint::Seconds(5), DailyReset::Rolling24h, u64::MAX), u64::MAX);
    }

    #[test]
    fn the_first_rate_limit_cools_for_the_hint_and_starts_a_streak() {
        let now = 10_000;
        let state = after_rate_limit(ModelCooling::default(), now + 39, now + 50_000, 2, now);
        assert_eq!(state, ModelCooling { end_at_s: now + 39, total_seconds: 39, streak: 1 });
    }

    #[test]
    fn the_second_consecutive_rate_limit_cools_until_the_daily_reset_and_resets_the_streak() {
        let now = 10_000;
        let first = after_rate_limit(ModelCooling::default(), now + 65, now + 50_000, 2, now);
        let later = now + 70;
        let second = after_rate_limit(first, later + 65, now + 50_000, 2, later);
        assert_eq!(second.end_at_s, now + 50_000);
        assert_eq!(second.streak, 0);
        assert_eq!(second.total_seconds, 65 + (50_000 - 70));
    }

    #[test]
    fn a_short_hint_never_shortens_a_longer_cooldown() {
        let now = 10_000;
        let long = ModelCooling { end_at_s: now + 3_600, total_seconds: 3_600, streak: 0 };
        let state = after_rate_limit(long, now + 10, now + 50_000, 5, now);
        assert_eq!(state.end_at_s, now + 3_600);
        assert_eq!(state.total_seconds, 3_600, "no time was added");
        assert_eq!(state.streak, 1);
    }

    #[test]
    fn a_threshold_of_one_goes_straight_to_the_daily_reset() {
        let state = after_rate_limit(ModelCooling::default(), 100, 9_000, 1, 0);
        assert_eq!((state.end_at_s, state.streak), (9_000, 0));
    }

    #[test]
    fn exhaustion_rests_a_day_without_touching_the_streak() {
        let state = after_exhausted(ModelCooling { end_at_s: 0, total_seconds: 7, streak: 1 }, 500);
        assert_eq!(state, ModelCooling { end_at_s: 500 + 86_400, total_seconds: 7 + 86_400, streak: 1 });
    }

    #[test]
    fn retry_after_is_at_least_one_second() {
        assert_eq!(retry_after_s(100, 40), 60);
        assert_eq!(retry_after_s(40, 100), 1);
        assert!(is_cooling(&ModelCooling { end_at_s: 11, ..Default::default() }, 10));
        assert!(!is_cooling(&ModelCooling { end_at_s: 10, ..Default::default() }, 10));
    }
}
