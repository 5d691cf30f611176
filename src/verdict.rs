//! Classification: one upstream answer (status, headers, body of a non-2xx) → exactly one [`Verdict`].
//!
//! The rules are a table, [`RULES`], read top to bottom; the first rule whose status and signal match decides.
//! Signals are read from the provider's error body (`error.code/type/status/message`, Google `details[]` reasons
//! and quota ids, Anthropic's `error.type`) and from AI Gateway's own error shape. What a verdict does to the key
//! lives in the pool and the store; how long a rate limit rests is read here from the hints, and bounded in
//! [`crate::cooldown`].

use crate::cooldown::{CoolHint, OPENROUTER_RESET_BUFFER_S, RETRY_INFO_BUFFER_S};
use crate::hints;
use serde_json::Value;

/// What one upstream answer means for the key that made it, and for the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: return it, streaming; clear the (key, model) streak.
    Success,
    /// A key-scoped rate limit: cool (key, model) as hinted; try the next key.
    RateLimited(CoolHint),
    /// Spend or credit exhausted: cool every model of the key for a day; try the next key.
    Exhausted,
    /// The key is invalid, revoked or suspended: block it; try the next key.
    InvalidKey,
    /// The gateway, region or provider capacity failed, not the key: try the next key after a short pause.
    NotKeyFault,
    /// A server error or network failure: try the next key.
    Transient,
    /// No response headers in time: try the next key.
    Timeout,
    /// The request itself is wrong: return the answer untouched.
    ClientError,
}

impl Verdict {
    /// A short name for logs and the attempts header.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Success => "ok",
            Verdict::RateLimited(_) => "rate_limited",
            Verdict::Exhausted => "exhausted",
            Verdict::InvalidKey => "invalid_key",
            Verdict::NotKeyFault => "not_key_fault",
            Verdict::Transient => "transient",
            Verdict::Timeout => "timeout",
            Verdict::ClientError => "client_error",
        }
    }

    /// Whether the request goes on to another key.
    pub fn retries(self) -> bool {
        !matches!(self, Verdict::Success | Verdict::ClientError)
    }
}

/// Read access to response headers by lower-case name.
pub trait HeaderLookup {
    /// The header's value, if present.
    fn header(&self, name: &str) -> Option<String>;
}

impl HeaderLookup for [(&str, &str)] {
    fn header(&self, name: &str) -> Option<String> {
        self.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| (*v).to_string())
    }
}

#[derive(Debug, Clone, Copy)]
enum Statuses {
    Success,
    Exactly(u16),
    Between(u16, u16),
    Any,
}

#[derive(Debug, Clone, Copy)]
enum Signal {
    Always,
    /// AI Gateway's own error (`[{"code":2009,…}]`, or wrapped as `{"success":false,"error":[…]}`).
    GatewayError,
    /// The body is a provider's error object.
    ProviderError,
    /// One of the error's fields contains one of these (lower-case) phrases.
    Mentions(&'static [&'static str]),
}

#[derive(Debug, Clone, Copy)]
enum Outcome {
    Success,
    RateLimited,
    Exhausted,
    InvalidKey,
    NotKeyFault,
    Transient,
    ClientError,
}

struct Rule {
    statuses: Statuses,
    signal: Signal,
    outcome: Outcome,
}

const fn rule(statuses: Statuses, signal: Signal, outcome: Outcome) -> Rule {
    Rule { statuses, signal, outcome }
}

const LOCATION: &[&str] = &["location is not supported", "unsupported_country_region_territory", "not available in your region"];

/// The classification table (SPEC §3, PROVIDERS.md), first match wins.
const RULES: &[Rule] = &[
    rule(Statuses::Success, Signal::Always, Outcome::Success),
    rule(Statuses::Any, Signal::GatewayError, Outcome::NotKeyFault),
    // OpenAI: spend exhausted is a 429 too, but no wait will fix it.
    rule(Statuses::Exactly(429), Signal::Mentions(&["insufficient_quota", "billing_hard_limit_reached"]), Outcome::Exhausted),
    // Gemini: a regional per-minute limit is shared by every key.
    rule(Statuses::Exactly(429), Signal::Mentions(&["for a region"]), Outcome::NotKeyFault),
    rule(Statuses::Exactly(429), Signal::ProviderError, Outcome::RateLimited),
    // A 429 without a provider's error body comes from the gateway or an edge in between (verify).
    rule(Statuses::Exactly(429), Signal::Always, Outcome::NotKeyFault),
    rule(Statuses::Exactly(402), Signal::Always, Outcome::Exhausted),
    rule(Statuses::Exactly(401), Signal::Always, Outcome::InvalidKey),
    rule(Statuses::Exactly(403), Signal::Mentions(LOCATION), Outcome::NotKeyFault),
    rule(Statuses::Exactly(403), Signal::Always, Outcome::InvalidKey),
    // Gemini answers a bad key with 400 INVALID_ARGUMENT and an ErrorInfo reason.
    rule(Statuses::Exactly(400), Signal::Mentions(&["api_key_invalid", "api key not valid", "api key expired"]), Outcome::InvalidKey),
    rule(Statuses::Exactly(400), Signal::Mentions(LOCATION), Outcome::NotKeyFault),
    // Anthropic: a spent prepaid balance is a 400 invalid_request_error.
    rule(Statuses::Exactly(400), Signal::Mentions(&["credit balance is too low"]), Outcome::Exhausted),
    rule(Statuses::Exactly(529), Signal::Always, Outcome::NotKeyFault),
    rule(Statuses::Exactly(503), Signal::Mentions(&["overloaded"]), Outcome::NotKeyFault),
    rule(Statuses::Exactly(408), Signal::Always, Outcome::Transient),
    rule(Statuses::Between(500, 599), Signal::Always, Outcome::Transient),
    rule(Statuses::Any, Signal::Always, Outcome::ClientError),
];

/// Error bodies larger than this are not parsed (error bodies are small; a huge one is not a provider's).
pub const MAX_ERROR_BODY_BYTES: usize = 256 * 1024;

/// Whether a status is a success (2xx): the one place that says so. A success's body is never read.
pub fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// Classifies one upstream answer. `body` is read only for non-2xx answers; pass an empty slice for 2xx.
pub fn classify(status: u16, headers: &(impl HeaderLookup + ?Sized), body: &[u8], now_s: u64) -> Verdict {
    let facts = ErrorFacts::read(status, body);
    let Some(rule) = RULES.iter().find(|r| matches_status(r.statuses, status) && facts.shows(r.signal)) else {
        return Verdict::ClientError;
    };
    match rule.outcome {
        Outcome::Success => Verdict::Success,
        Outcome::RateLimited => Verdict::RateLimited(rate_limit_hint(&facts, headers, now_s)),
        Outcome::Exhausted => Verdict::Exhausted,
        Outcome::InvalidKey => Verdict::InvalidKey,
        Outcome::NotKeyFault => Verdict::NotKeyFault,
        Outcome::Transient => Verdict::Transient,
        Outcome::ClientError => Verdict::ClientError,
    }
}

fn matches_status(statuses: Statuses, status: u16) -> bool {
    match statuses {
        Statuses::Success => is_success(status),
        Statuses::Exactly(s) => s == status,
        Statuses::Between(low, high) => (low..=high).contains(&status),
        Statuses::Any => true,
    }
}

/// What an error body says, flattened.
#[derive(Default)]
struct ErrorFacts {
    gateway_error: bool,
    provider_error: bool,
    /// Lower-cased text of the error's code, type, status, message, reasons and quota ids.
    texts: Vec<String>,
    /// Gemini `RetryInfo.retryDelay`.
    retry_delay: Option<String>,
    /// OpenRouter repeats its reset header inside the body.
    body_reset: Option<String>,
}

impl ErrorFacts {
    fn read(status: u16, body: &[u8]) -> ErrorFacts {
        let mut facts = ErrorFacts::default();
        if is_success(status) || body.is_empty() || body.len() > MAX_ERROR_BODY_BYTES {
            return facts;
        }
        let Ok(value) = serde_json::from_slice::<Value>(body) else { return facts };
        // Gemini streaming errors arrive as an array whose first element is the error object.
        let value = match &value {
            Value::Array(items) if items.first().is_some_and(|f| f.get("error").is_some()) => &items[0],
            other => other,
        };
        let gateway_list = match value {
            Value::Array(items) => Some(items),
            Value::Object(map) if map.get("success") == Some(&Value::Bool(false)) => {
                map.get("error").and_then(Value::as_array)
            }
            _ => None,
        };
        if let Some(items) = gateway_list {
            facts.gateway_error = !items.is_empty() && items.iter().all(|i| i.get("code").is_some_and(Value::is_number));
            return facts;
        }
        let Some(error) = value.get("error") else { return facts };
        facts.provider_error = true;
        facts.push(value.get("type"));
        if error.is_string() {
            facts.push(Some(error));
            return facts;
        }
        for field in ["code", "type", "status", "message"] {
            facts.push(error.get(field));
        }
        for detail in error.get("details").and_then(Value::as_array).into_iter().flatten() {
            facts.push(detail.get("reason"));
            if detail.get("@type").and_then(Value::as_str).is_some_and(|t| t.ends_with("google.rpc.RetryInfo")) {
                facts.retry_delay = detail.get("retryDelay").and_then(Value::as_str).map(str::to_string);
            }
            for violation in detail.get("violations").and_then(Value::as_array).into_iter().flatten() {
                facts.push(violation.get("quotaId"));
            }
        }
        facts.body_reset = error
            .pointer("/metadata/headers/X-RateLimit-Reset")
            .and_then(|v| v.as_str().map(str::to_string).or_else(|| v.as_u64().map(|n| n.to_string())));
        facts
    }

    fn push(&mut self, value: Option<&Value>) {
        match value {
            Some(Value::String(s)) => self.texts.push(s.to_ascii_lowercase()),
            Some(Value::Number(n)) => self.texts.push(n.to_string()),
            _ => {}
        }
    }

    fn mentions(&self, phrases: &[&str]) -> bool {
        self.texts.iter().any(|text| phrases.iter().any(|p| text.contains(p)))
    }

    fn shows(&self, signal: Signal) -> bool {
        match signal {
            Signal::Always => true,
            Signal::GatewayError => self.gateway_error,
            Signal::ProviderError => self.provider_error,
            Signal::Mentions(phrases) => self.mentions(phrases),
        }
    }
}

/// Reset headers and the remaining-count header that says whether that limit is the one spent.
const RESET_HEADERS: &[(&str, &str, ResetFormat)] = &[
    ("x-ratelimit-reset-requests", "x-ratelimit-remaining-requests", ResetFormat::Duration),
    ("x-ratelimit-reset-tokens", "x-ratelimit-remaining-tokens", ResetFormat::Duration),
    ("anthropic-ratelimit-requests-reset", "anthropic-ratelimit-requests-remaining", ResetFormat::Rfc3339),
    ("anthropic-ratelimit-tokens-reset", "anthropic-ratelimit-tokens-remaining", ResetFormat::Rfc3339),
    ("anthropic-ratelimit-input-tokens-reset", "anthropic-ratelimit-input-tokens-remaining", ResetFormat::Rfc3339),
    ("anthropic-ratelimit-output-tokens-reset", "anthropic-ratelimit-output-tokens-remaining", ResetFormat::Rfc3339),
];

#[derive(Clone, Copy)]
enum ResetFormat {
    Duration,
    Rfc3339,
}

/// How long a rate limit rests, from the strongest signal present: a per-day quota id, Gemini's RetryInfo,
/// `Retry-After`, OpenRouter's reset, then the reset of whichever limit is spent.
fn rate_limit_hint(facts: &ErrorFacts, headers: &(impl HeaderLookup + ?Sized), now_s: u64) -> CoolHint {
    if facts.texts.iter().any(|t| t.contains("perday")) {
        return CoolHint::DailyReset;
    }
    if let Some(delay) = facts.retry_delay.as_deref().and_then(hints::retry_delay_s) {
        return CoolHint::Seconds(delay.saturating_add(RETRY_INFO_BUFFER_S));
    }
    if let Some(until) = headers.header("retry-after").and_then(|v| hints::retry_after_until_s(&v, now_s)) {
        return CoolHint::UntilS(until);
    }
    let openrouter_reset = headers.header("x-ratelimit-reset").or_else(|| facts.body_reset.clone());
    if let Some(until) = openrouter_reset.and_then(|v| hints::ratelimit_reset_until_s(&v, now_s)) {
        return CoolHint::UntilS(until.saturating_add(OPENROUTER_RESET_BUFFER_S));
    }
    let mut spent: Option<u64> = None;
    let mut any: Option<u64> = None;
    for (reset_name, remaining_name, format) in RESET_HEADERS {
        let Some(value) = headers.header(reset_name) else { continue };
        let until = match format {
            ResetFormat::Duration => hints::go_duration_s(&value).map(|s| now_s.saturating_add(s)),
            ResetFormat::Rfc3339 => hints::rfc3339_s(&value),
        };
        let Some(until) = until else { continue };
        any = Some(any.map_or(until, |a| a.min(until)));
        if headers.header(remaining_name).is_some_and(|r| r.trim() == "0") {
            spent = Some(spent.map_or(until, |s| s.max(until)));
        }
    }
    spent.or(any).map_or(CoolHint::None, CoolHint::UntilS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_764_000_000;
    const NO_HEADERS: &[(&str, &str)] = &[];

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn judge(status: u16, name: &str) -> Verdict {
        classify(status, NO_HEADERS, &fixture(name), NOW)
    }

    #[test]
    fn any_2xx_is_a_success_whatever_the_body() {
        for status in [200, 201, 204, 299] {
            assert_eq!(classify(status, NO_HEADERS, br#"{"error":{"code":429}}"#, NOW), Verdict::Success);
        }
    }

    #[test]
    fn gemini_retry_info_cools_for_the_delay_plus_two_seconds() {
        assert_eq!(judge(429, "gemini/429-retry-info.json"), Verdict::RateLimited(CoolHint::Seconds(39)));
        assert_eq!(judge(429, "gemini/429-stream-array.json"), Verdict::RateLimited(CoolHint::Seconds(14)));
    }

    #[test]
    fn gemini_per_day_quota_cools_until_the_daily_reset_even_with_a_retry_delay() {
        assert_eq!(judge(429, "gemini/429-per-day.json"), Verdict::RateLimited(CoolHint::DailyReset));
    }

    #[test]
    fn gemini_429_without_details_takes_the_default() {
        assert_eq!(judge(429, "gemini/429-plain.json"), Verdict::RateLimited(CoolHint::None));
    }

    #[test]
    fn a_malformed_retry_delay_falls_back_instead_of_cooling_zero() {
        let body = br#"{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"NaN"}]}}"#;
        assert_eq!(classify(429, NO_HEADERS, body, NOW), Verdict::RateLimited(CoolHint::None));
    }

    #[test]
    fn gemini_regional_limit_is_not_the_keys_fault() {
        assert_eq!(judge(429, "gemini/429-region.json"), Verdict::NotKeyFault);
    }

    #[test]
    fn gemini_invalid_and_suspended_keys_are_blocked() {
        assert_eq!(judge(400, "gemini/400-api-key-invalid.json"), Verdict::InvalidKey);
        assert_eq!(judge(403, "gemini/403-suspended.json"), Verdict::InvalidKey);
    }

    #[test]
    fn gemini_location_errors_penalise_no_key() {
        assert_eq!(judge(400, "gemini/400-location.json"), Verdict::NotKeyFault);
        assert_eq!(judge(403, "gemini/403-location.json"), Verdict::NotKeyFault);
    }

    #[test]
    fn an_overloaded_model_is_not_the_keys_fault_and_other_5xx_are_transient() {
        assert_eq!(judge(503, "gemini/503-overloaded.json"), Verdict::NotKeyFault);
        assert_eq!(classify(503, NO_HEADERS, b"upstream connect error", NOW), Verdict::Transient);
        assert_eq!(classify(500, NO_HEADERS, b"", NOW), Verdict::Transient);
        assert_eq!(classify(502, NO_HEADERS, b"<html>bad gateway</html>", NOW), Verdict::Transient);
        assert_eq!(classify(408, NO_HEADERS, b"", NOW), Verdict::Transient);
    }

    #[test]
    fn a_bad_request_is_returned_untouched() {
        assert_eq!(judge(400, "gemini/400-bad-request.json"), Verdict::ClientError);
        assert_eq!(judge(400, "openai/400-bad-request.json"), Verdict::ClientError);
        assert_eq!(classify(404, NO_HEADERS, b"{}", NOW), Verdict::ClientError);
        assert_eq!(classify(422, NO_HEADERS, b"not json", NOW), Verdict::ClientError);
        assert!(!Verdict::ClientError.retries());
    }

    #[test]
    fn openai_rate_limit_rests_until_the_spent_limit_resets() {
        let headers: &[(&str, &str)] = &[
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", "20s"),
            ("x-ratelimit-remaining-tokens", "15000"),
            ("x-ratelimit-reset-tokens", "6m0s"),
        ];
        let verdict = classify(429, headers, &fixture("openai/429-rate-limit.json"), NOW);
        assert_eq!(verdict, Verdict::RateLimited(CoolHint::UntilS(NOW + 20)));
    }

    #[test]
    fn retry_after_wins_over_reset_headers() {
        let headers: &[(&str, &str)] = &[("Retry-After", "7"), ("x-ratelimit-reset-requests", "20s")];
        let verdict = classify(429, headers, &fixture("openai/429-rate-limit.json"), NOW);
        assert_eq!(verdict, Verdict::RateLimited(CoolHint::UntilS(NOW + 7)));
    }

    #[test]
    fn openai_insufficient_quota_is_exhaustion_not_a_short_cooldown() {
        assert_eq!(judge(429, "openai/429-insufficient-quota.json"), Verdict::Exhausted);
    }

    #[test]
    fn openai_invalid_key_is_blocked_and_region_is_not_the_keys_fault() {
        assert_eq!(judge(401, "openai/401-invalid-key.json"), Verdict::InvalidKey);
        assert_eq!(judge(403, "openai/403-region.json"), Verdict::NotKeyFault);
    }

    #[test]
    fn anthropic_errors_map_to_their_verdicts() {
        let headers: &[(&str, &str)] = &[("retry-after", "12")];
        let limited = classify(429, headers, &fixture("anthropic/429-rate-limit.json"), NOW);
        assert_eq!(limited, Verdict::RateLimited(CoolHint::UntilS(NOW + 12)));
        assert_eq!(judge(401, "anthropic/401-authentication.json"), Verdict::InvalidKey);
        assert_eq!(judge(403, "anthropic/403-permission.json"), Verdict::InvalidKey);
        assert_eq!(judge(529, "anthropic/529-overloaded.json"), Verdict::NotKeyFault);
        assert_eq!(judge(400, "anthropic/400-credit.json"), Verdict::Exhausted);
    }

    #[test]
    fn anthropic_reset_times_are_used_without_retry_after() {
        let headers: &[(&str, &str)] =
            &[("anthropic-ratelimit-requests-remaining", "0"), ("anthropic-ratelimit-requests-reset", "2025-11-24T16:01:00Z")];
        let verdict = classify(429, headers, &fixture("anthropic/429-rate-limit.json"), NOW);
        assert_eq!(verdict, Verdict::RateLimited(CoolHint::UntilS(1_764_000_060)));
    }

    #[test]
    fn openrouter_reset_is_epoch_milliseconds_plus_five_seconds() {
        let headers: &[(&str, &str)] = &[("X-RateLimit-Reset", "1764000100000")];
        let verdict = classify(429, headers, &fixture("openrouter/429-rate-limit.json"), NOW);
        assert_eq!(verdict, Verdict::RateLimited(CoolHint::UntilS(1_764_000_105)));
        let from_body = judge(429, "openrouter/429-rate-limit.json");
        assert_eq!(from_body, Verdict::RateLimited(CoolHint::UntilS(1_764_633_605)));
        assert_eq!(judge(402, "openrouter/402-credits.json"), Verdict::Exhausted);
    }

    #[test]
    fn ai_gateway_errors_never_penalise_a_key() {
        assert_eq!(judge(401, "gateway/401-2009.json"), Verdict::NotKeyFault);
        assert_eq!(judge(401, "gateway/401-2009-wrapped.json"), Verdict::NotKeyFault);
        assert_eq!(judge(429, "gateway/429-rate-limited.json"), Verdict::NotKeyFault);
        assert_eq!(classify(429, NO_HEADERS, b"", NOW), Verdict::NotKeyFault, "a bare 429 is not a provider's");
    }

    #[test]
    fn a_401_without_a_body_still_blocks_the_key() {
        assert_eq!(classify(401, NO_HEADERS, b"", NOW), Verdict::InvalidKey);
    }

    #[test]
    fn huge_and_hostile_bodies_are_not_parsed() {
        let mut huge = br#"{"error":{"message":"insufficient_quota"#.to_vec();
        huge.resize(MAX_ERROR_BODY_BYTES + 10, b'x');
        assert_eq!(classify(429, NO_HEADERS, &huge, NOW), Verdict::NotKeyFault);
        let deep = "[".repeat(10_000);
        assert_eq!(classify(500, NO_HEADERS, deep.as_bytes(), NOW), Verdict::Transient);
    }

    #[test]
    fn the_table_ends_with_a_catch_all() {
        let last = RULES.last().expect("rules");
        assert!(matches!((last.statuses, last.signal), (Statuses::Any, Signal::Always)));
        for status in [100, 302, 418, 451, 600, 999] {
            assert_eq!(classify(status, NO_HEADERS, b"", NOW).label(), "client_error", "{status}");
        }
    }
}
