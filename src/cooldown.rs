//! Cooldown arithmetic: how long a (key, model) rests after a verdict, in unix seconds, with the clock passed in.
//!
//! The rules (SPEC §3): a rate limit cools the key for that model for the time the provider hinted (Gemini
//! `RetryInfo` + 2 s, `Retry-After`, reset headers, OpenRouter's reset + 5 s) or 65 s without a hint. What happens
//! next depends on the quota window the provider named ([`QuotaWindow`]) and on whether the 429 is a new episode
//! or an echo of one already recorded:
//!
//! - [`QuotaWindow::Day`]: cool until the provider's daily reset at once; the streak goes back to 0.
//! - [`QuotaWindow::Minute`]: cool for the hint (65 s without one: the minute is then surely over); never the daily
//!   reset; the streak does not move.
//! - [`QuotaWindow::Unknown`] (Gemini sends identical bodies for per-minute and per-day limits, so only repetition
//!   tells them apart): a *new episode* steps the streak; when it reaches `CONSECUTIVE_429_THRESHOLD` with no
//!   success between, cool until the daily reset and set the streak back to 0. An *echo* — an attempt sent while the
//!   pair was already cooling, or sent before the outcome of another attempt on the pair was known — may lengthen
//!   the cooldown but never steps the streak: one exhausted quota answers every in-flight request with a 429, and
//!   those must not add up to "two episodes in a row".
//!
//! A cooldown never shortens one already in force. Spend exhaustion cools every model (the `"*"` entry) for a day;
//! a model the key may not use rests that pair for [`MODEL_UNAVAILABLE_COOLDOWN_S`]; neither is a permanent block.
//!
//! # Stored form
//!
//! One entry per model in the `model_coolings` JSON column of D1's `keys` table:
//!
//! ```json
//! {"gemini-2.5-flash":{"end_at":1764003600,"total_seconds":130,"streak":1,"at_ms":1764003535123},"*":{…}}
//! ```
//!
//! `end_at` (unix s), `total_seconds` and `streak` are as before; `at_ms` (unix ms) is new: the time of the last
//! cooling outcome recorded for the pair (the answer's classification time, not the time of the D1 write). Rows
//! written by the original project or by earlier versions lack `streak` and `at_ms` (read as 0) and may hold a
//! fractional `end_at` (truncated). See [`ModelCooling::from_json`] and [`ModelCooling::to_json`].
//!
//! # The SQL writer (src/edge/store.rs) must compute exactly [`after_rate_limit`]
//!
//! Bind, for one (key, model) cooldown: `key_id`, the JSON path of the entry (`$."<model>"`), and from [`CoolInput`]
//! `until_s`, `daily_reset_s`, `window` (`'unknown'`, `'minute'`, `'day'`: [`QuotaWindow::label`]), `sent_at_ms`,
//! `echo` = `cooling_at_send OR overlapped` (0/1), `now_ms`, plus `threshold`. Read the row's entry (absent or
//! unreadable: all zeros), then, in one `UPDATE … FROM (SELECT …)` statement:
//!
//! ```text
//! old_end, old_total, old_streak, old_at_ms := CAST(COALESCE(json_extract(doc, path||'.end_at'), 0) AS INTEGER), …
//! now_s      := now_ms / 1000                                   -- integer division
//! echo       := echo = 1 OR old_at_ms > sent_at_ms OR old_end * 1000 > sent_at_ms
//! step       := window = 'unknown' AND NOT echo
//! daily      := window = 'day' OR (step AND old_streak + 1 >= threshold)
//! new_end    := max(old_end, CASE WHEN daily THEN max(until_s, daily_reset_s) ELSE until_s END)
//! new_streak := CASE WHEN daily THEN 0 WHEN step THEN old_streak + 1 ELSE old_streak END
//! added      := max(0, new_end - max(old_end, now_s))
//! entry      := json_object('end_at', new_end, 'total_seconds', old_total + added,
//!                           'streak', new_streak, 'at_ms', max(old_at_ms, now_ms))
//! model_coolings := json_set(doc, path, entry);  total_cooling_seconds += added;  updated_at := now_s
//! ```
//!
//! The row's own `end_at`/`at_ms` are what make echoes visible across isolates: another isolate's 429 on the pair
//! has already set them when this one's write lands, whatever this isolate's cache knew. Exhaustion (the `"*"` entry,
//! `until_s = now_s + 86400`) and an unavailable model (`until_s = now_s + MODEL_UNAVAILABLE_COOLDOWN_S`) are the same
//! statement with `window = 'minute'` (no step, no daily reset). [`STREAK_CASES`] lists inputs and expected entries
//! (also as JSON in `tests/fixtures/cooldown/streak-cases.json`) to run against the SQL end to end.

use crate::providers::DailyReset;
use crate::hints::CoolHint;
use crate::verdict::QuotaWindow;
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::America::Los_Angeles;
use serde_json::{json, Value};

/// The model-coolings entry that applies to every model of a key.
pub const ALL_MODELS: &str = "*";
/// Cooldown when a rate limit carries no usable hint (also: until a per-minute window is surely over).
pub const DEFAULT_COOLDOWN_S: u64 = 65;
/// How long a key with exhausted spend or credit rests before it is tried again.
pub const EXHAUSTED_COOLDOWN_S: u64 = 24 * 3600;
/// How long a (key, model) pair rests when the key's organisation or project may not use the model.
pub const MODEL_UNAVAILABLE_COOLDOWN_S: u64 = 24 * 3600;
/// No hint from an upstream may cool a key for longer than this.
pub const MAX_HINT_S: u64 = 7 * 24 * 3600;

/// The state of one (key, model) pair, as stored in the `model_coolings` JSON (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModelCooling {
    /// Unix seconds when the pair may serve again.
    pub end_at_s: u64,
    /// Seconds this pair has spent cooling over the key's life.
    pub total_seconds: u64,
    /// Consecutive rate-limit episodes of unknown window with no success between.
    pub streak: u32,
    /// Unix milliseconds of the last cooling outcome recorded for the pair (0: none, or a row older than the field).
    pub at_ms: u64,
}

impl ModelCooling {
    /// Reads one entry as stored by this Worker, an earlier version or the original (`end_at` may be fractional,
    /// `streak` and `at_ms` absent). Anything unreadable counts as 0 rather than an error: a bad row must not stop
    /// the pool.
    pub fn from_json(value: &Value) -> ModelCooling {
        let whole = |v: Option<&Value>| -> u64 {
            v.and_then(|v| v.as_u64().or_else(|| v.as_f64().filter(|f| f.is_finite() && *f > 0.0).map(|f| f as u64)))
                .unwrap_or(0)
        };
        ModelCooling {
            end_at_s: whole(value.get("end_at")),
            total_seconds: whole(value.get("total_seconds")),
            streak: u32::try_from(whole(value.get("streak"))).unwrap_or(u32::MAX),
            at_ms: whole(value.get("at_ms")),
        }
    }

    /// The entry as stored: `{"end_at","total_seconds","streak","at_ms"}`.
    pub fn to_json(&self) -> Value {
        json!({ "end_at": self.end_at_s, "total_seconds": self.total_seconds, "streak": self.streak, "at_ms": self.at_ms })
    }
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

/// One cooling outcome of a (key, model) pair: everything [`after_rate_limit`] needs, and exactly what the SQL
/// writer binds (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoolInput {
    /// The end the hint asked for ([`hint_until_s`]).
    pub until_s: u64,
    /// The provider's next daily reset ([`daily_reset_s`]).
    pub daily_reset_s: u64,
    /// Which quota window ran out.
    pub window: QuotaWindow,
    /// When the attempt was sent, unix ms.
    pub sent_at_ms: u64,
    /// Whether the pair was cooling in the caller's view when the attempt was sent (the pick was a cooling key).
    pub cooling_at_send: bool,
    /// Whether another attempt on the same (key, model) was in flight when this one was sent (its outcome was not
    /// known yet).
    pub overlapped: bool,
    /// When the answer was classified, unix ms.
    pub now_ms: u64,
}

/// Whether a 429 repeats an episode already under way rather than starting one: the caller says so, or `previous`
/// (the row as it stands when the outcome is recorded) shows a cooling outcome recorded after the attempt was sent,
/// or a cooldown that was running when it was sent.
pub fn is_echo(previous: &ModelCooling, input: &CoolInput) -> bool {
    input.cooling_at_send
        || input.overlapped
        || previous.at_ms > input.sent_at_ms
        || previous.end_at_s.saturating_mul(1_000) > input.sent_at_ms
}

/// The new state of a (key, model) pair after a rate limit (module docs: the rules, and the SQL that must agree).
///
/// `previous` should be the freshest view of the pair when the outcome is recorded (not the one at send time): the
/// echo test reads what was recorded since the attempt left.
pub fn after_rate_limit(previous: ModelCooling, input: &CoolInput, threshold: u32) -> ModelCooling {
    let step = input.window == QuotaWindow::Unknown && !is_echo(&previous, input);
    let daily = input.window == QuotaWindow::Day || (step && previous.streak.saturating_add(1) >= threshold);
    let wanted = if daily { input.until_s.max(input.daily_reset_s) } else { input.until_s };
    let streak = if daily {
        0
    } else if step {
        previous.streak.saturating_add(1)
    } else {
        previous.streak
    };
    extend(previous, wanted, streak, input.now_ms)
}

/// The new state of a key's all-models entry after its spend or credit ran out: a day, streak untouched.
pub fn after_exhausted(previous: ModelCooling, now_ms: u64) -> ModelCooling {
    let now_s = now_ms / 1_000;
    extend(previous, now_s.saturating_add(EXHAUSTED_COOLDOWN_S), previous.streak, now_ms)
}

/// The new state of a (key, model) pair whose organisation or project may not use the model.
pub fn after_model_unavailable(previous: ModelCooling, now_ms: u64) -> ModelCooling {
    let now_s = now_ms / 1_000;
    extend(previous, now_s.saturating_add(MODEL_UNAVAILABLE_COOLDOWN_S), previous.streak, now_ms)
}

/// Never shortens: the end is the later of the old and the wanted one; only the added time counts to the total.
fn extend(previous: ModelCooling, wanted_end_s: u64, streak: u32, now_ms: u64) -> ModelCooling {
    let now_s = now_ms / 1_000;
    let end_at_s = previous.end_at_s.max(wanted_end_s);
    let added = end_at_s.saturating_sub(previous.end_at_s.max(now_s));
    ModelCooling { end_at_s, total_seconds: previous.total_seconds.saturating_add(added), streak, at_ms: previous.at_ms.max(now_ms) }
}

/// One case of the streak rule: a stored entry, one outcome, the expected entry. Shared with the end-to-end test of
/// the SQL writer (`tests/fixtures/cooldown/streak-cases.json` is [`streak_cases_json`]).
#[derive(Debug, Clone, Copy)]
pub struct StreakCase {
    /// A sentence saying what the case shows.
    pub name: &'static str,
    /// The stored entry before (`None`: the model has no entry).
    pub previous: Option<ModelCooling>,
    /// The outcome.
    pub input: CoolInput,
    /// `CONSECUTIVE_429_THRESHOLD`.
    pub threshold: u32,
    /// The stored entry after.
    pub expected: ModelCooling,
}

/// 2026-01-15T12:00:00Z, in the cases below.
const T0_S: u64 = 1_768_478_400;
const T0_MS: u64 = T0_S * 1_000;
/// The next midnight America/Los_Angeles after [`T0_S`].
const RESET_S: u64 = 1_768_550_400;

const fn entry(end_at_s: u64, total_seconds: u64, streak: u32, at_ms: u64) -> ModelCooling {
    ModelCooling { end_at_s, total_seconds, streak, at_ms }
}

/// A 429 answered 500 ms after it was sent, at [`T0_MS`], asking for 65 s.
const fn hit(window: QuotaWindow) -> CoolInput {
    CoolInput {
        until_s: T0_S + 65,
        daily_reset_s: RESET_S,
        window,
        sent_at_ms: T0_MS - 500,
        cooling_at_send: false,
        overlapped: false,
        now_ms: T0_MS,
    }
}

/// Inputs → expected state of the streak rule, for unit tests here and the SQL writer's end-to-end test.
pub const STREAK_CASES: &[StreakCase] = &[
    StreakCase {
        name: "a first 429 of unknown window cools for the hint and starts a streak",
        previous: None,
        input: hit(QuotaWindow::Unknown),
        threshold: 2,
        expected: entry(T0_S + 65, 65, 1, T0_MS),
    },
    StreakCase {
        name: "a second episode after the first cooldown ended reaches the threshold and cools until the daily reset",
        previous: Some(entry(T0_S - 10, 65, 1, T0_MS - 75_000)),
        input: hit(QuotaWindow::Unknown),
        threshold: 2,
        expected: entry(RESET_S, 65 + (RESET_S - T0_S), 0, T0_MS),
    },
    StreakCase {
        name: "a 429 sent while the pair was cooling is an echo: it may extend the cooldown but never steps the streak",
        previous: Some(entry(T0_S + 30, 65, 1, T0_MS - 35_000)),
        input: hit(QuotaWindow::Unknown),
        threshold: 2,
        expected: entry(T0_S + 65, 100, 1, T0_MS),
    },
    StreakCase {
        name: "a cooling outcome recorded after the attempt was sent makes it an echo, whatever that outcome's cooldown",
        previous: Some(entry(T0_S - 1, 2, 1, T0_MS - 200)),
        input: hit(QuotaWindow::Unknown),
        threshold: 2,
        expected: entry(T0_S + 65, 67, 1, T0_MS),
    },
    StreakCase {
        name: "the caller's own knowledge of an overlapping attempt makes an echo too",
        previous: Some(entry(T0_S - 100, 65, 1, T0_MS - 165_000)),
        input: CoolInput { overlapped: true, ..hit(QuotaWindow::Unknown) },
        threshold: 2,
        expected: entry(T0_S + 65, 130, 1, T0_MS),
    },
    StreakCase {
        name: "a pick the caller knew to be cooling makes an echo",
        previous: Some(entry(T0_S - 100, 65, 1, T0_MS - 165_000)),
        input: CoolInput { cooling_at_send: true, ..hit(QuotaWindow::Unknown) },
        threshold: 2,
        expected: entry(T0_S + 65, 130, 1, T0_MS),
    },
    StreakCase {
        name: "an echo never shortens a longer cooldown and adds no time",
        previous: Some(entry(RESET_S, 50_000, 0, T0_MS - 1_000)),
        input: hit(QuotaWindow::Unknown),
        threshold: 2,
        expected: entry(RESET_S, 50_000, 0, T0_MS),
    },
    StreakCase {
        name: "a per-minute window never steps the streak and never goes to the daily reset",
        previous: Some(entry(T0_S - 10, 65, 1, T0_MS - 75_000)),
        input: CoolInput { until_s: T0_S + 39, ..hit(QuotaWindow::Minute) },
        threshold: 2,
        expected: entry(T0_S + 39, 104, 1, T0_MS),
    },
    StreakCase {
        name: "a per-minute window with a threshold of one still only cools for the hint",
        previous: None,
        input: hit(QuotaWindow::Minute),
        threshold: 1,
        expected: entry(T0_S + 65, 65, 0, T0_MS),
    },
    StreakCase {
        name: "a per-day window cools until the daily reset at once and clears the streak",
        previous: Some(entry(0, 0, 1, 0)),
        input: hit(QuotaWindow::Day),
        threshold: 5,
        expected: entry(RESET_S, RESET_S - T0_S, 0, T0_MS),
    },
    StreakCase {
        name: "a per-day window goes to the daily reset even as an echo",
        previous: Some(entry(T0_S + 30, 65, 1, T0_MS - 35_000)),
        input: hit(QuotaWindow::Day),
        threshold: 2,
        expected: entry(RESET_S, 65 + (RESET_S - T0_S - 30), 0, T0_MS),
    },
    StreakCase {
        name: "a threshold of one sends a first episode of unknown window to the daily reset",
        previous: None,
        input: hit(QuotaWindow::Unknown),
        threshold: 1,
        expected: entry(RESET_S, RESET_S - T0_S, 0, T0_MS),
    },
    StreakCase {
        name: "a row written before at_ms existed reads as never recorded",
        previous: Some(entry(T0_S - 600, 65, 1, 0)),
        input: hit(QuotaWindow::Unknown),
        threshold: 3,
        expected: entry(T0_S + 65, 130, 2, T0_MS),
    },
];

/// [`STREAK_CASES`] as JSON: `[{"name", "previous": entry|null, "input": {…, "window": "unknown"|"minute"|"day"},
/// "threshold", "expected": entry}]`, entries in their stored form.
pub fn streak_cases_json() -> Value {
    let cases: Vec<Value> = STREAK_CASES
        .iter()
        .map(|case| {
            let i = &case.input;
            json!({
                "name": case.name,
                "previous": case.previous.map(|p| p.to_json()),
                "input": {
                    "until_s": i.until_s,
                    "daily_reset_s": i.daily_reset_s,
                    "window": i.window.label(),
                    "sent_at_ms": i.sent_at_ms,
                    "cooling_at_send": i.cooling_at_send,
                    "overlapped": i.overlapped,
                    "now_ms": i.now_ms,
                },
                "threshold": case.threshold,
                "expected": case.expected.to_json(),
            })
        })
        .collect();
    Value::Array(cases)
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
    fn every_streak_case_holds() {
        for case in STREAK_CASES {
            let got = after_rate_limit(case.previous.unwrap_or_default(), &case.input, case.threshold);
            assert_eq!(got, case.expected, "{}", case.name);
        }
    }

    #[test]
    fn the_streak_cases_fixture_is_the_table_the_sql_test_reads() {
        let path = format!("{}/tests/fixtures/cooldown/streak-cases.json", env!("CARGO_MANIFEST_DIR"));
        let expected = serde_json::to_string_pretty(&streak_cases_json()).expect("json") + "\n";
        if std::env::var_os("UPDATE_FIXTURES").is_some() {
            std::fs::write(&path, &expected).expect("write the fixture");
        }
        let stored = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(stored, expected, "{path} is stale: rerun with UPDATE_FIXTURES=1");
    }

    #[test]
    fn streak_case_names_are_distinct_sentences() {
        let mut names: Vec<&str> = STREAK_CASES.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), STREAK_CASES.len());
    }

    #[test]
    fn the_daily_reset_of_the_cases_is_the_next_pacific_midnight() {
        assert_eq!(next_pacific_midnight_s(T0_S), RESET_S);
    }

    #[test]
    fn a_burst_of_overlapping_429s_is_one_episode() {
        // Ten requests hit the same (key, model) at once; every answer is a 429 of unknown window.
        let mut state = ModelCooling::default();
        for i in 0..10u64 {
            let input = CoolInput { sent_at_ms: T0_MS - 900 + i, now_ms: T0_MS + i * 20, ..hit(QuotaWindow::Unknown) };
            state = after_rate_limit(state, &input, 2);
        }
        assert_eq!((state.streak, state.end_at_s), (1, T0_S + 65), "one step, no daily reset");
    }

    #[test]
    fn exhaustion_rests_a_day_without_touching_the_streak() {
        let state = after_exhausted(ModelCooling { end_at_s: 0, total_seconds: 7, streak: 1, at_ms: 0 }, 500_000);
        assert_eq!(state, ModelCooling { end_at_s: 500 + 86_400, total_seconds: 7 + 86_400, streak: 1, at_ms: 500_000 });
    }

    #[test]
    fn an_unavailable_model_rests_the_pair_a_day_without_touching_the_streak() {
        let state = after_model_unavailable(ModelCooling { streak: 1, ..Default::default() }, 500_000);
        assert_eq!((state.end_at_s, state.streak), (500 + MODEL_UNAVAILABLE_COOLDOWN_S, 1));
    }

    #[test]
    fn entries_read_old_rows_and_write_the_new_field() {
        let old: Value = serde_json::from_str(r#"{"end_at":1764000000.75,"total_seconds":65}"#).expect("json");
        assert_eq!(ModelCooling::from_json(&old), ModelCooling { end_at_s: 1_764_000_000, total_seconds: 65, streak: 0, at_ms: 0 });
        let junk: Value = serde_json::from_str(r#"{"end_at":-5,"streak":"x","at_ms":null}"#).expect("json");
        assert_eq!(ModelCooling::from_json(&junk), ModelCooling::default());
        let state = ModelCooling { end_at_s: 5, total_seconds: 6, streak: 2, at_ms: 1_764_000_000_123 };
        assert_eq!(ModelCooling::from_json(&state.to_json()), state);
        assert_eq!(state.to_json().to_string(), r#"{"at_ms":1764000000123,"end_at":5,"streak":2,"total_seconds":6}"#);
    }

    #[test]
    fn retry_after_is_at_least_one_second() {
        assert_eq!(retry_after_s(100, 40), 60);
        assert_eq!(retry_after_s(40, 100), 1);
        assert!(is_cooling(&ModelCooling { end_at_s: 11, ..Default::default() }, 10));
        assert!(!is_cooling(&ModelCooling { end_at_s: 10, ..Default::default() }, 10));
    }
}
