//! Property-based tests of the pure parsers and policy, through the crate's public API (proptest).
//!
//! Each property holds for every input proptest generates: the parsers never panic on arbitrary text or bytes,
//! parsed results mean what the grammar says, cooldowns stay within their bounds, the streak rule counts episodes
//! and not echoes, the pool-wide breaker never fires on key quotas or past a success, redaction leaves no piece of
//! the key and keeps JSON valid, and the compat model rewrite changes nothing but the `model` value. Run with
//! `cargo test --test properties`; `PROPTEST_CASES=10000` for more.

use one_balance::compat::replace_model;
use one_balance::breaker::{Answer, Breaker, BreakerConfig, Observation, Reading};
use one_balance::cooldown::{self, hint_until_s, CoolInput, ModelCooling, MAX_HINT_S};
use one_balance::hints::CoolHint;
use one_balance::hints;
use one_balance::providers::{self, DailyReset, Provider, PROVIDERS};
use one_balance::redact::{redact, MIN_ECHO};
use one_balance::request_model::{check_model, is_models_listing, model_in_body, model_in_path, model_of, named_models, split_compat_model, ModelRequest};
use one_balance::routes::{route, ApiRoute, Route};
use one_balance::service_keys::{Denial, GrammarError, ProviderGrant, Scope, ServiceKeys, MIN_UNRESTRICTED_KEY_CHARS, PUBLIC_DEFAULT_KEY};
use one_balance::verdict::{classify, judge, QuotaWindow, Verdict};
use proptest::prelude::*;
use serde_json::Value;

const RESETS: [DailyReset; 3] = [DailyReset::PacificMidnight, DailyReset::UtcMidnight, DailyReset::Rolling24h];

/// Unix seconds from 1970 to far past 9999, plus the extremes.
fn any_now() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 0u64..4_102_444_800u64,
        1 => Just(0u64),
        1 => Just(u64::MAX),
        1 => any::<u64>(),
    ]
}

/// Text with the characters the parsers care about over-represented.
fn tricky_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9.smhMSH:, +\\-TZ]{0,24}",
        "[a-z0-9()=&,;_ \t.\\-]{0,60}",
        "[\\\\\"{}\\[\\]:,a-z0-9 ]{0,60}",
    ]
}

// ---------------------------------------------------------------------------------------------------------------
// AUTH_KEY grammar

#[derive(Debug, Clone)]
struct Def {
    key: String,
    expiry: Option<u64>,
    scope: Option<Vec<(String, Vec<String>)>>,
}

impl Def {
    fn text(&self) -> String {
        let mut out = self.key.clone();
        if let Some(expiry) = self.expiry {
            out.push_str(&format!("({expiry})"));
        }
        if let Some(scope) = &self.scope {
            let parts: Vec<String> = scope
                .iter()
                .map(|(p, models)| std::iter::once(p.clone()).chain(models.iter().cloned()).collect::<Vec<_>>().join(","))
                .collect();
            out.push('=');
            out.push_str(&parts.join("&"));
        }
        out
    }
}

fn key_text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.:/+-]{1,48}".prop_filter("not the public default", |k| k != PUBLIC_DEFAULT_KEY)
}

fn definition() -> impl Strategy<Value = Def> {
    let scope = prop::collection::vec(("[a-z][a-z0-9-]{0,15}", prop::collection::vec("[a-z0-9][a-z0-9./:_-]{0,20}", 0..4)), 1..4)
        .prop_map(|grants| {
            // One entry per provider keeps the expected scope simple (merging is unit-tested in the crate).
            let mut seen = Vec::<(String, Vec<String>)>::new();
            for (p, models) in grants {
                if !seen.iter().any(|(q, _)| *q == p) {
                    seen.push((p, models));
                }
            }
            seen
        });
    (key_text(), prop::option::of(1u64..4_102_444_800u64), prop::option::of(scope)).prop_map(|(mut key, expiry, scope)| {
        // An unrestricted key must be long enough to start (restricted ones keep any length).
        if scope.is_none() && key.chars().count() < MIN_UNRESTRICTED_KEY_CHARS {
            key.push_str("-0123456789abcdef");
        }
        Def { key, expiry, scope }
    })
}

fn definitions() -> impl Strategy<Value = Vec<Def>> {
    prop::collection::vec(definition(), 1..6).prop_map(|defs| {
        let mut out: Vec<Def> = Vec::new();
        for d in defs {
            if !out.iter().any(|o| o.key == d.key) {
                out.push(d);
            }
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn auth_key_parse_never_panics_and_never_quotes_a_key(raw in tricky_text(), presented in tricky_text(), now in any_now()) {
        match ServiceKeys::parse(&raw) {
            Ok(keys) => {
                let _ = keys.authenticate(&presented, now);
                let shown = format!("{keys:?}");
                prop_assert!(!shown.contains(raw.trim()) || raw.trim().len() < 24, "{shown}");
            }
            Err(GrammarError::Malformed { position, .. } | GrammarError::PublicDefault { position } | GrammarError::WeakKey { position }) => {
                prop_assert!(position >= 1);
            }
            Err(GrammarError::Empty) => prop_assert!(raw.split(';').all(|d| d.trim().is_empty())),
        }
    }

    #[test]
    fn a_parsed_key_authenticates_exactly_when_presented(defs in definitions(), stranger in key_text(), now in 0u64..4_102_444_800u64) {
        let raw = defs.iter().map(Def::text).collect::<Vec<_>>().join(" ; ");
        let keys = ServiceKeys::parse(&raw).map_err(|e| TestCaseError::fail(format!("{raw:?}: {e}")))?;
        for def in &defs {
            let result = keys.authenticate(&def.key, now);
            match def.expiry {
                Some(expiry) if now >= expiry => prop_assert_eq!(result.err(), Some(Denial::Expired)),
                _ => {
                    let grant = result.map_err(|d| TestCaseError::fail(format!("{:?} refused: {d:?}", def.key)))?;
                    prop_assert_eq!(grant.expires_at_s, def.expiry);
                }
            }
            // A prefix, an extension or a case change of a key is a different key.
            prop_assert_eq!(keys.authenticate(&format!("{}x", def.key), now).err(), Some(Denial::Unknown));
            if def.key.len() > 1 {
                let prefix = &def.key[..def.key.len() - 1];
                if !defs.iter().any(|d| d.key == prefix) {
                    prop_assert_eq!(keys.authenticate(prefix, now).err(), Some(Denial::Unknown));
                }
            }
        }
        if !defs.iter().any(|d| d.key == stranger) {
            prop_assert_eq!(keys.authenticate(&stranger, now).err(), Some(Denial::Unknown));
        }
        prop_assert_eq!(keys.authenticate("", now).err(), Some(Denial::Missing));
    }

    #[test]
    fn restrictions_round_trip(def in definition(), other_provider in "[a-z]{1,12}", other_model in "[A-Z]{1,8}") {
        let keys = ServiceKeys::parse(&def.text()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let grant = keys.authenticate(&def.key, 0).map_err(|d| TestCaseError::fail(format!("{d:?}")))?;
        match &def.scope {
            None => {
                prop_assert_eq!(&grant.scope, &Scope::Unrestricted);
                prop_assert!(grant.permits_admin().is_ok());
                prop_assert!(grant.permits(&other_provider, Some(&other_model)).is_ok());
            }
            Some(scope) => {
                let expected: Vec<ProviderGrant> = scope.iter().map(|(p, m)| ProviderGrant { provider: p.clone(), models: m.clone() }).collect();
                prop_assert_eq!(&grant.scope, &Scope::Restricted(expected));
                prop_assert_eq!(grant.permits_admin(), Err(Denial::NotAdmin));
                for (provider, models) in scope {
                    prop_assert!(grant.permits(provider, None).is_ok());
                    for model in models {
                        prop_assert!(grant.permits(provider, Some(model)).is_ok());
                    }
                    // Upper-case models are never generated, so this one is not listed anywhere.
                    let verdict = grant.permits(provider, Some(&other_model));
                    if models.is_empty() {
                        prop_assert!(verdict.is_ok());
                        prop_assert_eq!(grant.models_for(provider), None);
                    } else {
                        prop_assert_eq!(verdict, Err(Denial::ModelNotAllowed));
                        prop_assert_eq!(grant.models_for(provider), Some(models.as_slice()));
                    }
                }
                if !scope.iter().any(|(p, _)| *p == other_provider) {
                    prop_assert_eq!(grant.permits(&other_provider, None), Err(Denial::ProviderNotAllowed));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Model extraction

/// A JSON value of bounded depth.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        "[\\\\\"{}\\[\\],:model ]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((any::<String>(), inner), 0..4)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

/// Whitespace JSON allows between tokens.
fn ws() -> impl Strategy<Value = String> {
    "[ \t\r\n]{0,3}"
}

/// A JSON object as text, members in the given order and spacing, with `model` (when given) at `model_at`.
#[derive(Debug, Clone)]
struct ObjectText {
    text: String,
    /// Byte span of the model's value (quotes included) in `text`.
    model_span: Option<(usize, usize)>,
}

fn object_text(model: Option<Value>) -> impl Strategy<Value = ObjectText> {
    let member = (any::<String>().prop_filter("not model", |k| k != "model"), json_value(), ws(), ws(), ws(), ws());
    (prop::collection::vec(member, 0..5), any::<prop::sample::Index>(), ws(), ws(), ws(), ws(), any::<bool>()).prop_map(
        move |(members, at, w1, w2, w3, w4, pretty)| {
            let mut pieces: Vec<(String, Option<(usize, usize)>)> = members
                .into_iter()
                .map(|(k, v, a, b, c, d)| {
                    let value = if pretty { serde_json::to_string_pretty(&v) } else { serde_json::to_string(&v) }.expect("serializable");
                    (format!("{a}{}{b}:{c}{value}{d}", serde_json::to_string(&k).expect("string")), None)
                })
                .collect();
            if let Some(model) = &model {
                let key = format!("{w1}\"model\"{w2}:{w3}");
                let value = serde_json::to_string(model).expect("serializable");
                let span = (key.len(), key.len() + value.len());
                let index = at.index(pieces.len() + 1);
                pieces.insert(index, (format!("{key}{value}{w4}"), Some(span)));
            }
            let mut text = String::from("{");
            let mut model_span = None;
            for (i, (piece, span)) in pieces.iter().enumerate() {
                if i > 0 {
                    text.push(',');
                }
                if let Some((start, end)) = span {
                    model_span = Some((text.len() + start, text.len() + end));
                }
                text.push_str(piece);
            }
            text.push('}');
            ObjectText { text, model_span }
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn model_extraction_never_panics(rest in tricky_text(), body in prop::collection::vec(any::<u8>(), 0..256), method in "[A-Za-z]{0,7}") {
        if let Ok(Some(model)) = &model_of(&rest, &body) {
            prop_assert!(!model.is_empty());
            let _ = check_model(model);
        }
        let _ = is_models_listing(&method, &rest);
        let _ = split_compat_model(&rest);
        if let Some(m) = model_in_path(&rest) {
            prop_assert!(!m.is_empty() && !m.contains('/') && !m.contains(':'));
        }
    }

    #[test]
    fn the_body_model_is_found_wherever_it_is(
        (model, object) in any::<String>().prop_flat_map(|m| (Just(m.clone()), object_text(Some(Value::String(m))))),
        rest in tricky_text(),
    ) {
        let expected = (!model.trim().is_empty()).then(|| model.clone());
        prop_assert_eq!(model_in_body(object.text.as_bytes()), expected.clone());
        match (expected, model_in_path(&rest)) {
            (Some(expected), None) => prop_assert_eq!(model_of(&rest, object.text.as_bytes()), Ok(Some(expected))),
            (Some(expected), Some(in_path)) => {
                let agrees = expected.strip_prefix("models/").unwrap_or(&expected) == in_path;
                prop_assert_eq!(model_of(&rest, object.text.as_bytes()).is_ok(), agrees);
            }
            (None, in_path) => prop_assert_eq!(model_of(&rest, object.text.as_bytes()), Ok(in_path)),
        }
    }

    #[test]
    fn check_model_refuses_exactly_the_odd_names(model in any::<String>()) {
        let odd = model.len() > 256 || model.chars().any(|c| c.is_control() || c == '"' || c == '\\') || model == "*";
        prop_assert_eq!(check_model(&model).is_err(), odd);
    }

    #[test]
    fn compat_models_split_on_the_first_slash(provider in "[a-z][a-z0-9-]{0,20}", model in "[A-Za-z0-9./:_-]{0,30}") {
        let full = format!("{provider}/{model}");
        match split_compat_model(&full) {
            Ok((p, m)) => {
                prop_assert_eq!(p, provider.as_str());
                prop_assert_eq!(m, model.as_str());
            }
            Err(_) => prop_assert!(model.trim().is_empty()),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Provider error bodies and wait hints

fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("retry-after".to_string()),
        Just("x-ratelimit-reset".to_string()),
        Just("x-ratelimit-reset-requests".to_string()),
        Just("x-ratelimit-remaining-requests".to_string()),
        Just("x-ratelimit-reset-tokens".to_string()),
        Just("x-ratelimit-remaining-tokens".to_string()),
        Just("anthropic-ratelimit-requests-reset".to_string()),
        Just("anthropic-ratelimit-requests-remaining".to_string()),
        Just("anthropic-ratelimit-tokens-reset".to_string()),
        Just("x-ratelimit-remaining-requests-day".to_string()),
        Just("x-ratelimit-reset-requests-day".to_string()),
        Just("x-ratelimit-remaining-req-minute".to_string()),
        "[a-z-]{1,20}",
    ]
}

fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        "[0-9]{1,25}",
        "[0-9]{0,6}(\\.[0-9]{0,20})?(ms|s|m|h){0,1}([0-9]{1,4}(ms|s|m|h)){0,3}",
        "(Mon|Tue|Sun), [0-9]{1,2} (Jan|Oct|Dec) [0-9]{1,6} [0-9]{2}:[0-9]{2}:[0-9]{2} (GMT|\\+0000|-2359)",
        "[0-9]{1,6}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,12})?(Z|[+-][0-9]{2}:[0-9]{2})",
        Just("0".to_string()),
        tricky_text(),
    ]
}

/// Error bodies shaped like the providers' (so the classifier reaches its hint parsers), and arbitrary ones.
fn error_body() -> impl Strategy<Value = Vec<u8>> {
    let gemini = (any::<i64>(), "[A-Z_]{0,20}", tricky_text(), tricky_text(), tricky_text(), tricky_text()).prop_map(
        |(code, status, message, quota_id, delay, reason)| {
            serde_json::json!({"error": {"code": code, "status": status, "message": message, "details": [
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaId": quota_id}]},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay},
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason}
            ]}})
            .to_string()
            .into_bytes()
        },
    );
    let openrouter = (tricky_text(), any::<u64>()).prop_map(|(message, reset)| {
        serde_json::json!({"error": {"message": message, "code": 429, "metadata": {"headers": {"X-RateLimit-Reset": reset.to_string()}}}})
            .to_string()
            .into_bytes()
    });
    let gateway = prop::collection::vec((any::<i64>(), tricky_text()), 0..3).prop_map(|items| {
        let list: Vec<Value> = items.into_iter().map(|(c, m)| serde_json::json!({"code": c, "message": m})).collect();
        serde_json::to_vec(&list).expect("json")
    });
    let mistral = (tricky_text(), tricky_text(), tricky_text()).prop_map(|(message, kind, code)| {
        serde_json::json!({"object": "error", "message": message, "type": kind, "code": code}).to_string().into_bytes()
    });
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        json_value().prop_map(|v| serde_json::to_vec(&v).expect("json")),
        mistral,
        json_value().prop_map(|v| serde_json::to_vec(&serde_json::json!({"error": v, "type": "error"})).expect("json")),
        gemini.prop_flat_map(|b| prop_oneof![Just(b.clone()), Just([b"[".as_slice(), &b, b"]"].concat())]),
        openrouter,
        gateway,
    ]
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        any::<u16>(),
        100u16..600,
        Just(429u16),
        Just(400u16),
        Just(401u16),
        Just(402u16),
        Just(403u16),
        Just(404u16),
        Just(503u16)
    ]
}

fn provider() -> impl Strategy<Value = Provider> {
    prop::sample::select(PROVIDERS)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn classify_never_panics_and_every_cooldown_is_bounded(
        provider in provider(),
        status in status(),
        body in error_body(),
        headers in prop::collection::vec((header_name(), header_value()), 0..5),
        now in any_now(),
    ) {
        let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let verdict = classify(&provider, status, pairs.as_slice(), &body, now);
        if (200..300).contains(&status) {
            prop_assert_eq!(verdict, Verdict::Success);
        }
        if let Verdict::RateLimited(limit) = verdict {
            prop_assert_eq!(status, 429);
            prop_assert_eq!(limit.key_scoped(), limit.window != QuotaWindow::Unknown);
            for reset in RESETS {
                let until = hint_until_s(limit.hint, reset, now);
                prop_assert!(until >= now.saturating_add(1) && until <= now.saturating_add(MAX_HINT_S), "{limit:?} → {until} at {now}");
            }
        }
        // Only the statuses that can carry such evidence take a key out of the pool.
        match verdict {
            Verdict::InvalidKey => prop_assert!(matches!(status, 400 | 401 | 403), "{status}"),
            Verdict::Exhausted => prop_assert!(matches!(status, 400 | 402 | 429), "{status}"),
            Verdict::ModelUnavailable => prop_assert!(matches!(status, 403 | 404), "{status}"),
            _ => {}
        }
        prop_assert!(!verdict.label().is_empty());
        prop_assert!(!judge(&provider, status, pairs.as_slice(), &body, now).rule.is_empty());
    }

    #[test]
    fn wait_hint_parsers_never_panic_or_wrap(value in header_value(), now in any_now()) {
        if let Some(s) = hints::retry_delay_s(&value) {
            let _ = hint_until_s(CoolHint::Seconds(s.saturating_add(one_balance::hints::RETRY_INFO_BUFFER_S)), DailyReset::PacificMidnight, now);
        }
        if let Some(until) = hints::retry_after_until_s(&value, now) {
            // A delay is never before now (an HTTP date may be in the past; it is clamped later).
            if value.trim().bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                prop_assert!(until >= now);
            }
        }
        let _ = hints::go_duration_s(&value);
        let _ = hints::rfc3339_s(&value);
        if let Some(until) = hints::ratelimit_reset_until_s(&value, now) {
            let _ = hint_until_s(CoolHint::UntilS(until), DailyReset::UtcMidnight, now);
        }
    }

    #[test]
    fn retry_delays_read_back_what_was_written(seconds in any::<u64>(), fraction in "[0-9]{0,12}") {
        prop_assert_eq!(hints::retry_delay_s(&format!("{seconds}s")), Some(seconds));
        let with_fraction = format!("{seconds}.{fraction}s");
        let round_up = u64::from(fraction.bytes().any(|b| b != b'0'));
        if !fraction.is_empty() {
            prop_assert_eq!(hints::retry_delay_s(&with_fraction), Some(seconds.saturating_add(round_up)));
        }
    }

    #[test]
    fn go_durations_add_up(h in 0u64..10_000, m in 0u64..10_000, s in 0u64..10_000, ms in 0u64..10_000) {
        let total_ms = h * 3_600_000 + m * 60_000 + s * 1_000 + ms;
        prop_assert_eq!(hints::go_duration_s(&format!("{h}h{m}m{s}s{ms}ms")), Some(total_ms.div_ceil(1_000)));
    }

    #[test]
    fn hint_until_is_always_within_bounds(seconds in any::<u64>(), until in any::<u64>(), now in any_now()) {
        for hint in [CoolHint::Seconds(seconds), CoolHint::UntilS(until), CoolHint::DailyReset, CoolHint::None] {
            for reset in RESETS {
                let end = hint_until_s(hint, reset, now);
                prop_assert!(end >= now.saturating_add(1) && end <= now.saturating_add(MAX_HINT_S));
            }
        }
    }

    #[test]
    fn daily_resets_are_in_the_next_day(now in 0u64..253_402_300_000u64) {
        let pacific = cooldown::next_pacific_midnight_s(now);
        prop_assert!(pacific > now && pacific <= now + 25 * 3600, "{now} → {pacific}");
        let utc = cooldown::next_utc_midnight_s(now);
        prop_assert!(utc > now && utc <= now + 24 * 3600 && utc % 86_400 == 0, "{now} → {utc}");
    }

    #[test]
    fn a_cooldown_never_shortens(
        end in any::<u64>(),
        total in any::<u64>(),
        streak in any::<u32>(),
        at_ms in any::<u64>(),
        input in cool_input(),
        threshold in 0u32..5,
    ) {
        let previous = ModelCooling { end_at_s: end, total_seconds: total, streak, at_ms };
        let next = cooldown::after_rate_limit(previous, &input, threshold);
        prop_assert!(next.end_at_s >= end && next.end_at_s >= input.until_s);
        prop_assert!(next.total_seconds >= total);
        prop_assert!(next.at_ms >= at_ms && next.at_ms >= input.now_ms);
        let exhausted = cooldown::after_exhausted(previous, input.now_ms);
        prop_assert!(exhausted.end_at_s >= end && exhausted.streak == streak);
        let unavailable = cooldown::after_model_unavailable(previous, input.now_ms);
        prop_assert!(unavailable.end_at_s >= end && unavailable.streak == streak);
    }

    #[test]
    fn the_streak_counts_episodes_not_echoes(
        end in any::<u64>(),
        streak in 0u32..1_000,
        at_ms in any::<u64>(),
        input in cool_input(),
        threshold in 1u32..5,
    ) {
        let previous = ModelCooling { end_at_s: end, total_seconds: 0, streak, at_ms };
        let next = cooldown::after_rate_limit(previous, &input, threshold);
        let daily = next.end_at_s >= input.daily_reset_s && input.daily_reset_s > input.until_s.max(end);
        match input.window {
            // Minute: never a step, never the daily reset (unless the hint itself asks that long).
            QuotaWindow::Minute => prop_assert!(next.streak == streak && !daily),
            // Day: the daily reset at once, the streak back to 0.
            QuotaWindow::Day => prop_assert!(next.streak == 0 && next.end_at_s >= input.daily_reset_s),
            QuotaWindow::Unknown if cooldown::is_echo(&previous, &input) => prop_assert!(next.streak == streak && !daily),
            QuotaWindow::Unknown => prop_assert!(next.streak == streak + 1 || (next.streak == 0 && next.end_at_s >= input.daily_reset_s)),
        }
    }
}

fn cool_input() -> impl Strategy<Value = CoolInput> {
    let window = prop_oneof![Just(QuotaWindow::Minute), Just(QuotaWindow::Day), Just(QuotaWindow::Unknown)];
    (any::<u64>(), any::<u64>(), window, any::<u64>(), any::<bool>(), any::<bool>(), any::<u64>()).prop_map(
        |(until_s, daily_reset_s, window, sent_at_ms, cooling_at_send, overlapped, now_ms)| CoolInput {
            until_s,
            daily_reset_s,
            window,
            sent_at_ms,
            cooling_at_send,
            overlapped,
            now_ms,
        },
    )
}

// ---------------------------------------------------------------------------------------------------------------
// The pool-wide breaker

fn answer() -> impl Strategy<Value = Answer> {
    prop_oneof![
        Just(Answer::Success),
        Just(Answer::Other),
        Just(Answer::RateLimited { key_scoped: true }),
        Just(Answer::RateLimited { key_scoped: false }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_breaker_never_pauses_on_key_quotas_or_while_a_key_that_answered_2xx_remains(
        events in prop::collection::vec((0usize..40, answer(), 0usize..60, 0u64..3), 1..200),
    ) {
        let config = BreakerConfig::default();
        let mut breaker = Breaker::default();
        let mut now = 1_000u64;
        let mut latest: std::collections::HashMap<usize, (u64, Answer)> = std::collections::HashMap::new();
        let mut paused_until = 0u64;
        for (key, answer, usable, gap) in events {
            now += gap;
            latest.insert(key, (now, answer));
            let seen = Observation { provider: "p", model: "m", key: &key.to_string(), answer, usable_keys: Some(usable) };
            let reading = breaker.observe(&config, &seen, now);
            if let Reading::PoolThrottled { until_s } = reading {
                prop_assert_eq!(answer, Answer::RateLimited { key_scoped: false }, "only a 429 without quota details pauses");
                let fresh = paused_until <= now;
                let window_start = now.saturating_sub(u64::from(config.window_s));
                let healthy = latest.values().any(|(at, a)| *at >= window_start && *a == Answer::Success);
                prop_assert!(!(fresh && healthy) || until_s == paused_until, "a key that answered 2xx is still in the window");
                paused_until = until_s;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Redaction

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn redaction_leaves_no_piece_of_the_key_and_keeps_json_valid(
        key in "[A-Za-z0-9_-]{8,64}",
        before in tricky_text(),
        after in tricky_text(),
        start in 0usize..64,
        len in 8usize..64,
        shown in any::<bool>(),
    ) {
        let start = start.min(key.len() - 8);
        let end = (start + len).min(key.len());
        let echo = if shown { format!("{}****{}", &key[..8.min(key.len())], &key[key.len() - 4..]) } else { key[start..end].to_string() };
        let body = serde_json::json!({"error": {"message": format!("{before}{echo}{after}"), "code": 401}}).to_string();
        let out = redact(body.as_bytes(), &key);
        prop_assert_eq!(out.len(), body.len());
        let parsed: Value = serde_json::from_slice(&out).map_err(|e| TestCaseError::fail(format!("not JSON: {e}")))?;
        let message = parsed["error"]["message"].as_str().unwrap_or_default().to_string();
        for i in 0..=key.len() - MIN_ECHO {
            prop_assert!(!message.contains(&key[i..i + MIN_ECHO]), "{:?} left in {message:?}", &key[i..i + MIN_ECHO]);
        }
    }

    #[test]
    fn redaction_never_panics_and_borrows_when_the_key_is_absent(body in prop::collection::vec(any::<u8>(), 0..512), key in any::<String>()) {
        let out = redact(&body, &key);
        prop_assert_eq!(out.len(), body.len());
        if key.len() >= 4 && !body.windows(key.len().min(MIN_ECHO)).any(|w| key.as_bytes().windows(w.len()).any(|k| k == w)) && !body.contains(&b'*') && !body.contains(&b'.') && !body.contains(&0xE2) {
            prop_assert!(matches!(out, std::borrow::Cow::Borrowed(_)));
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// replace_model

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn replace_model_changes_only_the_model_value(
        object in any::<String>().prop_flat_map(|m| object_text(Some(Value::String(m)))),
        new_model in any::<String>(),
    ) {
        let (start, end) = object.model_span.expect("a model member");
        let body = object.text.as_bytes();
        let out = replace_model(body, &new_model).ok_or_else(|| TestCaseError::fail(format!("no model found in {:?}", object.text)))?;
        // Byte for byte: everything before and after the model's value is untouched.
        let encoded = serde_json::to_string(&new_model).expect("string");
        let expected = [&body[..start], encoded.as_bytes(), &body[end..]].concat();
        prop_assert_eq!(&out, &expected);
        let parsed: Value = serde_json::from_slice(&out).map_err(|e| TestCaseError::fail(format!("output does not parse: {e}")))?;
        prop_assert_eq!(parsed.get("model").and_then(Value::as_str), Some(new_model.as_str()));
        let original: Value = serde_json::from_slice(body).expect("valid input");
        let (Value::Object(mut a), Value::Object(mut b)) = (original, parsed) else { return Err(TestCaseError::fail("not objects")) };
        a.remove("model");
        b.remove("model");
        prop_assert_eq!(a, b);
    }

    #[test]
    fn replace_model_refuses_objects_without_a_string_model(object in object_text(None), value in json_value(), new_model in any::<String>()) {
        prop_assert_eq!(replace_model(object.text.as_bytes(), &new_model), None);
        if !value.is_string() {
            let text = format!("{{\"model\":{}}}", serde_json::to_string(&value).expect("json"));
            prop_assert_eq!(replace_model(text.as_bytes(), &new_model), None);
        }
    }

    #[test]
    fn replace_model_never_panics(body in prop::collection::vec(any::<u8>(), 0..512), text in tricky_text(), new_model in any::<String>()) {
        let _ = replace_model(&body, &new_model);
        if let Some(out) = replace_model(text.as_bytes(), &new_model) {
            // When the input parses, the output parses too.
            if serde_json::from_str::<Value>(&text).is_ok() {
                prop_assert!(serde_json::from_slice::<Value>(&out).is_ok(), "{text:?} → {:?}", String::from_utf8_lossy(&out));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Route path checks

fn path() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        "[A-Za-z0-9_:-]{0,12}",
        Just(".".to_string()),
        Just("..".to_string()),
        "(%2e|%2E|\\.){1,2}",
        "[a-z]{0,4}(%2f|%2F|%5c|%5C|\\\\)[a-z]{0,4}",
        any::<String>().prop_map(|s| s.replace('/', "")),
    ];
    (prop_oneof![Just("/api/".to_string()), Just("/api/compat/".to_string()), Just("/".to_string()), "/[a-z]{0,6}/?"], prop::collection::vec(segment, 0..6))
        .prop_map(|(prefix, segments)| format!("{prefix}{}", segments.join("/")))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn routes_never_let_a_path_climb_out(method in "(GET|POST|PUT|DELETE|get|post|[A-Z]{1,7})", path in path()) {
        match route(&method, &path) {
            Route::Api(ApiRoute::Native { provider, rest }) => {
                prop_assert!(!provider.is_empty());
                prop_assert!(provider != "compat");
                let rebuilt = if rest.is_empty() && !path.ends_with('/') { format!("/api/{provider}") } else { format!("/api/{provider}/{rest}") };
                prop_assert_eq!(rebuilt, path.clone());
                let lower = rest.to_ascii_lowercase();
                prop_assert!(!lower.contains("%2f") && !lower.contains("%5c") && !rest.contains('\\'), "{path}");
                for segment in lower.split('/') {
                    let decoded = segment.replace("%2e", ".");
                    prop_assert!(decoded != "." && decoded != "..", "{path}");
                }
            }
            // Messages converted for one provider: only its two fixed paths, under that provider.
            Route::Api(ApiRoute::Messages { provider: Some(provider), .. }) => {
                prop_assert!(path.starts_with(&format!("/api/{provider}/")) && provider != "compat", "{path}");
                let rest = path.trim_end_matches('/');
                prop_assert!(rest.ends_with("/v1/messages") || rest.ends_with("/v1/messages/count_tokens"), "{path}");
            }
            Route::Api(_) | Route::CompatNotFound => prop_assert!(path.starts_with("/api/compat/")),
            Route::BadApiPath(message) => {
                prop_assert!(path.starts_with("/api/") && !message.is_empty());
            }
            Route::Preflight => prop_assert!(path.starts_with("/api/") && method.eq_ignore_ascii_case("OPTIONS")),
            Route::MethodNotAllowed { allow } => {
                prop_assert!(path.starts_with("/api/") && !allow.split(", ").any(|m| m.eq_ignore_ascii_case(&method)), "{method} {path}");
            }
            Route::Health => prop_assert_eq!(path.as_str(), "/health"),
            Route::Admin => prop_assert!(!path.starts_with("/api/")),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Model-restricted service keys: every model a request names must be on the key's list.
//
// The generator writes requests the way each provider's documentation says a model can be named (its own spec
// below, written from the docs, not read from the provider table), with every spelling an upstream parser might
// accept: member names in other cases, with or without `_`, with an escaped letter, duplicated, nested at depth;
// query names percent-encoded; collection segments in other cases. Noise members carry forbidden names where they
// are not models (message text, metadata). A forbidden name in any model place must be refused; a request that
// names only listed models must pass.

const ALLOWED_TOKENS: [&str; 2] = ["ok-a", "ok-b"];
const TOKENS: [&str; 4] = ["ok-a", "ok-b", "bad-x", "bad-y"];

/// How a provider's documentation says a request names a model.
struct Spec {
    slug: &'static str,
    fields: &'static [&'static str],
    lists: &'static [&'static str],
    nested: &'static [(&'static str, &'static str)],
    queries: &'static [&'static str],
    /// Paths that name no model.
    plain_paths: &'static [&'static str],
    /// Path templates: `{t}` is the token; the model named is `named` with `{t}` replaced.
    model_paths: &'static [(&'static str, &'static str)],
    /// Body names may carry Google's `models/` resource prefix.
    resource_names: bool,
}

const SPECS: &[Spec] = &[
    Spec {
        slug: "openai",
        fields: &["model"],
        lists: &[],
        nested: &[("tools", "model"), ("input_audio_transcription", "model"), ("session", "model"), ("testing_criteria", "model")],
        queries: &["model"],
        plain_paths: &["chat/completions", "responses", "realtime/sessions"],
        model_paths: &[("models/{t}", "{t}")],
        resource_names: false,
    },
    Spec {
        slug: "openrouter",
        fields: &["model"],
        lists: &["models"],
        nested: &[("tools", "model")],
        queries: &[],
        plain_paths: &["v1/chat/completions"],
        model_paths: &[],
        resource_names: false,
    },
    Spec {
        slug: "google-ai-studio",
        fields: &["model", "baseModel"],
        lists: &[],
        nested: &[("generateContentRequest", "model"), ("requests", "model")],
        queries: &[],
        plain_paths: &["v1beta/openai/chat/completions"],
        model_paths: &[
            ("v1beta/models/{t}:generateContent", "{t}"),
            ("v1/MODELS/{t}:streamGenerateContent", "{t}"),
            ("v1beta/tunedModels/{t}:generateContent", "tunedModels/{t}"),
        ],
        resource_names: true,
    },
    Spec {
        slug: "elevenlabs",
        fields: &["model_id", "model"],
        lists: &[],
        nested: &[],
        queries: &["model_id"],
        plain_paths: &["v1/text-to-speech/voice1", "v1/text-to-speech/voice1/stream-input"],
        model_paths: &[],
        resource_names: false,
    },
    Spec {
        slug: "cartesia",
        fields: &["model_id"],
        lists: &[],
        nested: &[],
        queries: &[],
        plain_paths: &["tts/bytes"],
        model_paths: &[],
        resource_names: false,
    },
    Spec {
        slug: "azure-openai",
        fields: &["model"],
        lists: &[],
        nested: &[("tools", "model")],
        queries: &[],
        plain_paths: &[],
        model_paths: &[("my-resource/{t}/chat/completions", "{t}"), ("res2/{t}/embeddings", "{t}")],
        resource_names: false,
    },
    Spec {
        slug: "workers-ai",
        fields: &["model"],
        lists: &[],
        nested: &[],
        queries: &[],
        plain_paths: &["v1/chat/completions"],
        model_paths: &[("@cf/meta/{t}", "@cf/meta/{t}")],
        resource_names: false,
    },
    Spec {
        slug: "huggingface",
        fields: &["model"],
        lists: &[],
        nested: &[],
        queries: &[],
        plain_paths: &["v1/chat/completions"],
        model_paths: &[("acme/{t}", "acme/{t}")],
        resource_names: false,
    },
    Spec {
        slug: "replicate",
        fields: &["version"],
        lists: &[],
        nested: &[],
        queries: &[],
        plain_paths: &["predictions"],
        model_paths: &[("models/acme/{t}/predictions", "acme/{t}"), ("deployments/acme/{t}/predictions", "acme/{t}")],
        resource_names: false,
    },
    Spec {
        slug: "anthropic",
        fields: &["model"],
        lists: &[],
        nested: &[],
        queries: &[],
        plain_paths: &["v1/messages"],
        model_paths: &[("v1/models/{t}", "{t}")],
        resource_names: false,
    },
];

/// The allow-list of the generated key on every provider: each allowed token in every form a path may name it.
fn allowed_names() -> Vec<String> {
    ALLOWED_TOKENS.iter().flat_map(|t| [t.to_string(), format!("tunedModels/{t}"), format!("@cf/meta/{t}"), format!("acme/{t}")]).collect()
}

/// A member name as some upstream might accept it.
fn spell(name: &str, seed: u32) -> String {
    match seed % 6 {
        0 => name.to_string(),
        1 => name.to_ascii_uppercase(),
        2 => {
            let mut chars = name.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        }
        3 => {
            let mut chars = name.chars();
            chars.next().map(|c| format!("\\u{:04x}{}", u32::from(c), chars.as_str())).unwrap_or_default()
        }
        4 if name.contains('_') => {
            let mut out = String::new();
            let mut upper = false;
            for c in name.chars() {
                match c {
                    '_' => upper = true,
                    c if upper => {
                        out.push(c.to_ascii_uppercase());
                        upper = false;
                    }
                    c => out.push(c),
                }
            }
            out
        }
        4 => name.chars().flat_map(|c| if c.is_ascii_uppercase() { vec!['_', c.to_ascii_lowercase()] } else { vec![c] }).collect(),
        _ => name.replace('s', "\\u017f"),
    }
}

fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// One place of a [`Spec`].
#[derive(Clone, Copy)]
enum Slot {
    Field(&'static str),
    List(&'static str),
    Nested(&'static str, &'static str),
    Query(&'static str),
}

/// One generated request and what it names.
#[derive(Debug, Clone)]
struct Generated {
    slug: &'static str,
    rest: String,
    query: String,
    body: String,
    named: Vec<String>,
}

fn generated_request() -> impl Strategy<Value = Generated> {
    (
        0..SPECS.len(),
        any::<u32>(),
        prop::collection::vec((any::<u8>(), 0..TOKENS.len(), any::<u32>(), 0usize..4), 0..5),
        prop::collection::vec((0usize..5, 0..TOKENS.len()), 0..4),
    )
        .prop_map(|(spec, path_seed, placements, noise)| {
            let spec = &SPECS[spec];
            let mut named = Vec::new();
            // The path: one that names no model, or one that names a token.
            let path_forms = spec.plain_paths.len() + spec.model_paths.len();
            let pick = path_seed as usize % path_forms.max(1);
            let rest = if pick < spec.plain_paths.len() {
                spec.plain_paths[pick].to_string()
            } else {
                let (template, name) = spec.model_paths[pick - spec.plain_paths.len()];
                let token = TOKENS[(path_seed >> 8) as usize % TOKENS.len()];
                named.push(name.replace("{t}", token));
                template.replace("{t}", token)
            };
            let mut members: Vec<String> = Vec::new();
            let mut query: Vec<String> = Vec::new();
            let slots: Vec<Slot> = spec
                .fields
                .iter()
                .map(|f| Slot::Field(f))
                .chain(spec.lists.iter().map(|l| Slot::List(l)))
                .chain(spec.nested.iter().map(|(u, f)| Slot::Nested(u, f)))
                .chain(spec.queries.iter().map(|q| Slot::Query(q)))
                .collect();
            for (kind, token, seed, depth) in placements {
                let token = TOKENS[token];
                let value = if spec.resource_names && seed % 3 == 0 { format!("models/{token}") } else { token.to_string() };
                named.push(token.to_string());
                match slots[kind as usize % slots.len()] {
                    Slot::Field(field) => members.push(format!("\"{}\":{}", spell(field, seed), json_string(&value))),
                    Slot::List(list) => {
                        let other = TOKENS[(seed as usize >> 4) % 2];
                        members.push(format!("\"{}\":[{},{}]", spell(list, seed), json_string(other), json_string(&value)));
                        named.push(other.to_string());
                    }
                    Slot::Nested(under, field) => {
                        let mut inner = format!("{{\"type\":\"x\",\"{}\":{}}}", spell(field, seed >> 3), json_string(&value));
                        for level in 0..depth {
                            inner = if level % 2 == 0 { format!("[{inner},{{\"other\":1}}]") } else { format!("{{\"wrap{level}\":{inner}}}") };
                        }
                        members.push(format!("\"{}\":{inner}", spell(under, seed)));
                    }
                    Slot::Query(name) => {
                        let name = match seed % 3 {
                            0 => name.to_string(),
                            1 => name.to_ascii_uppercase(),
                            _ => format!("{}%{:02X}", &name[..name.len() - 1], name.as_bytes()[name.len() - 1]),
                        };
                        query.push(format!("{name}={token}"));
                    }
                }
            }
            // Forbidden names where they are not models: the check must not refuse for them.
            for (slot, token) in noise {
                let token = TOKENS[token];
                members.push(match slot {
                    0 => format!("\"messages\":[{{\"role\":\"user\",\"content\":{}}}]", json_string(token)),
                    1 => format!("\"metadata\":{{\"note\":{},\"modelz\":{}}}", json_string(token), json_string(token)),
                    2 => "\"temperature\":0.5".to_string(),
                    3 => format!("\"user\":{}", json_string(token)),
                    _ => "\"stream\":true".to_string(),
                });
                query.push(format!("alt=sse&note={token}"));
            }
            let body = if members.is_empty() && path_seed % 2 == 0 { String::new() } else { format!("{{{}}}", members.join(",")) };
            Generated { slug: spec.slug, rest, query: query.join("&"), body, named }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn a_model_restricted_key_never_gets_a_request_through_that_names_an_unlisted_model(request in generated_request()) {
        let allowed = allowed_names();
        let raw = format!("app={},{}", request.slug, allowed.join(","));
        let keys = ServiceKeys::parse(&raw).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let grant = keys.authenticate("app", 0).map_err(|d| TestCaseError::fail(format!("{d:?}")))?;
        let provider = providers::find(request.slug).ok_or_else(|| TestCaseError::fail("unknown slug"))?;
        let parts = ModelRequest { rest: &request.rest, query: &request.query, content_type: Some("application/json"), body: request.body.as_bytes() };
        let verdict = grant.permits_request(provider, &parts);
        let unlisted: Vec<&String> = request.named.iter().filter(|m| !allowed.contains(m)).collect();
        if unlisted.is_empty() {
            prop_assert_eq!(verdict, Ok(()), "{:?} names only listed models", request);
        } else {
            prop_assert!(verdict.is_err(), "{:?} names {:?} and was let through", request, unlisted);
        }
    }

    #[test]
    fn the_cooldown_model_is_among_the_named_models(request in generated_request()) {
        let provider = providers::find(request.slug).ok_or_else(|| TestCaseError::fail("unknown slug"))?;
        let parts = ModelRequest { rest: &request.rest, query: &request.query, content_type: Some("application/json"), body: request.body.as_bytes() };
        // Replicate's path names `{owner}/{name}`, where the generic cooldown reading sees only `{owner}`.
        if let (Ok(Some(primary)), Ok(named), false) = (model_of(&request.rest, request.body.as_bytes()), named_models(provider, &parts), request.slug == "replicate") {
            let primary = if provider.body_model_prefix.is_some() { primary.strip_prefix("models/").map(str::to_string).unwrap_or(primary) } else { primary };
            prop_assert!(named.contains(&primary), "{:?}: {:?} not in {:?}", request, primary, named);
        }
    }

    #[test]
    fn named_models_never_panics(slug in 0..providers::PROVIDERS.len(), rest in tricky_text(), query in tricky_text(), body in prop::collection::vec(any::<u8>(), 0..256), ct in prop::option::of(tricky_text())) {
        let provider = &providers::PROVIDERS[slug];
        let _ = named_models(provider, &ModelRequest { rest: &rest, query: &query, content_type: ct.as_deref(), body: &body });
    }
}
