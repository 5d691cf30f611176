//! Classification: one upstream answer (provider, status, headers, body of a non-2xx) → exactly one [`Verdict`].
//!
//! The rules are a table, [`RULES`], read top to bottom; the first rule whose provider, status and signal match
//! decides. Every rule has a name, a unit test named `rule_<name>` that feeds it a recorded answer from
//! `tests/fixtures/<provider>/`, and a row in `docs/verdicts.md`; table-wide tests check all three.
//!
//! **A key leaves the pool only on evidence about the key.** Anyone holding a service key chooses the request, and
//! many provider error messages echo parts of it (a parameter's value, a field name, a file id). So a rule that
//! takes a key out of the pool — [`Verdict::InvalidKey`], [`Verdict::Exhausted`], [`Verdict::ModelUnavailable`] —
//! reads only signals a request cannot write: an exact `error.code`/`error.type`/`error.status`, a Google
//! `ErrorInfo.reason`, or the first words of the provider's message (its own template text). A substring anywhere in
//! the message may only lead to verdicts that leave the key alone. A table-wide test enforces this. An answer that
//! looks like a key problem but that a request could have caused is [`Verdict::SuspectKey`]: the attempt loop
//! confirms it with a probe of its own before blocking anything.
//!
//! What a verdict does to the key lives in [`crate::key_update`] and the store; how long a rate limit rests, and
//! which quota window ran out ([`QuotaWindow`]), is read here from the body and headers, and bounded in
//! [`crate::cooldown`].

use crate::hints::{CoolHint, OPENROUTER_RESET_BUFFER_S, RETRY_INFO_BUFFER_S};
use crate::hints;
use crate::providers::Provider;
use serde_json::Value;

/// What one upstream answer means for the key that made it, and for the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: return it, streaming; clear the (key, model) streak.
    Success,
    /// A key-scoped rate limit: cool (key, model) as the [`RateLimit`] says; try the next key.
    RateLimited(RateLimit),
    /// Spend or credit of the key's account exhausted: rest every model of the key for a day (never a permanent
    /// block); try the next key.
    Exhausted,
    /// The provider says the key itself is invalid, revoked, expired or suspended: block it; try the next key.
    InvalidKey,
    /// Looks like a key problem, but the request could have caused it (a 403 without a key-scoped reason, a 401
    /// without a provider's body): penalise nothing yet; the attempt loop confirms with a probe of its own (see
    /// [`read_probe`]) before blocking, and lets one request cause at most one probe. Try the next key.
    SuspectKey,
    /// The key's organisation or project may not use this model: rest that (key, model) pair for
    /// [`crate::cooldown::MODEL_UNAVAILABLE_COOLDOWN_S`], never block the key; try the next key.
    ModelUnavailable,
    /// The gateway, region or provider capacity failed, not the key: try the next key after a short pause.
    NotKeyFault,
    /// A server error or network failure: try the next key.
    Transient,
    /// No response headers in time: try the next key.
    Timeout,
    /// The request itself is wrong: return the answer untouched, penalise no key.
    ClientError,
}

/// A rate limit as the provider described it: how long to wait, and which quota window ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// How long the provider said to wait (buffers already added).
    pub hint: CoolHint,
    /// The window whose quota is spent.
    pub window: QuotaWindow,
}

/// Which quota window of the key ran out, as the provider said it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaWindow {
    /// A short window (per minute, or a spent limit that resets within [`SHORT_WINDOW_MAX_S`]): cool for the hint
    /// (or until the minute is surely over); never the daily reset, never a step of the 429 streak.
    Minute,
    /// A per-day (or longer) quota: cool until the provider's daily reset at once.
    Day,
    /// The provider did not say: the consecutive-429 rule decides ([`crate::cooldown::after_rate_limit`]).
    Unknown,
}

impl QuotaWindow {
    /// A short name for logs, the attempts header and the SQL binding (`unknown`, `minute`, `day`).
    pub fn label(self) -> &'static str {
        match self {
            QuotaWindow::Minute => "minute",
            QuotaWindow::Day => "day",
            QuotaWindow::Unknown => "unknown",
        }
    }
}

impl RateLimit {
    /// Whether the 429 carried key-scoped quota details (a named window): proof that the limit is the key's own,
    /// not the egress IP's. [`QuotaWindow::Minute`] and [`QuotaWindow::Day`] imply it.
    pub fn key_scoped(self) -> bool {
        self.window != QuotaWindow::Unknown
    }
}

impl Verdict {
    /// A short name for logs and the attempts header.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Success => "ok",
            Verdict::RateLimited(_) => "rate_limited",
            Verdict::Exhausted => "exhausted",
            Verdict::InvalidKey => "invalid_key",
            Verdict::SuspectKey => "suspect_key",
            Verdict::ModelUnavailable => "model_unavailable",
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

/// What the answer to a probe says about a key that earned [`Verdict::SuspectKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeReading {
    /// The probe was refused the way a bad key is refused: block the key.
    KeyRefused,
    /// The key authenticated (it served, was rate-limited, or named some other fault): keep it; the suspect answer
    /// was the request's, or this (key, model) pair's alone.
    KeyAccepted,
    /// The probe proved nothing (gateway, network, server trouble): keep the key, probe another time.
    Inconclusive,
}

/// Reads the verdict of a probe sent after [`Verdict::SuspectKey`]: the provider's models listing with that key
/// (`crate::recheck::probe_for` with `Absence::Blocked`), a request of the pool's own that names no model and
/// carries no client header or body. For such a request a key-shaped refusal — even one that would only be
/// [`Verdict::SuspectKey`] for a client's request — is the key's. When the key is accepted, the suspect answer was
/// caused by the request or concerns only that (key, model) pair: the key stays, and the loop goes on (or returns the
/// answer) without penalising it.
pub fn read_probe(probe: Verdict) -> ProbeReading {
    match probe {
        Verdict::InvalidKey | Verdict::SuspectKey => ProbeReading::KeyRefused,
        Verdict::Success | Verdict::RateLimited(_) | Verdict::Exhausted | Verdict::ModelUnavailable | Verdict::ClientError => {
            ProbeReading::KeyAccepted
        }
        Verdict::NotKeyFault | Verdict::Transient | Verdict::Timeout => ProbeReading::Inconclusive,
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

/// Providers whose errors the rules tell apart. Everything else is [`Family::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Gemini,
    OpenAi,
    Anthropic,
    OpenRouter,
    /// OpenAI-compatible APIs whose 401 with an error body means exactly "this key is not accepted".
    Compatible,
    Other,
}

/// Which family each provider slug belongs to (slugs of `crate::providers::PROVIDERS`; a test checks them).
const FAMILIES: &[(&str, Family)] = &[
    ("anthropic", Family::Anthropic),
    ("azure-openai", Family::OpenAi),
    ("cerebras", Family::Compatible),
    ("deepseek", Family::Compatible),
    ("google-ai-studio", Family::Gemini),
    ("grok", Family::Compatible),
    ("groq", Family::Compatible),
    ("mistral", Family::Compatible),
    ("openai", Family::OpenAi),
    ("openrouter", Family::OpenRouter),
    ("perplexity-ai", Family::Compatible),
];

fn family(provider: &Provider) -> Family {
    FAMILIES.iter().find(|(slug, _)| *slug == provider.slug).map_or(Family::Other, |(_, f)| *f)
}

#[derive(Debug, Clone, Copy)]
enum Providers {
    Any,
    Only(&'static [Family]),
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
    /// `error.code`, `error.type` or `error.status` is exactly one of these (lower-case).
    Code(&'static [&'static str]),
    /// A Google `ErrorInfo.reason` in `error.details` is exactly one of these (lower-case).
    Reason(&'static [&'static str]),
    /// The message starts with one of these (lower-case): the provider's own words, which a request cannot write.
    MessageStarts(&'static [&'static str]),
    /// The message contains one of these (lower-case) anywhere. A request can put words there: alone, this signal
    /// may only lead to verdicts that leave the key alone.
    MessageHas(&'static [&'static str]),
    /// Any of these.
    AnyOf(&'static [Signal]),
    /// All of these.
    AllOf(&'static [Signal]),
}

#[cfg(test)]
impl Signal {
    /// Whether a request cannot fake this signal (it rests on a field or prefix the provider alone writes).
    fn anchored(self) -> bool {
        match self {
            Signal::Always | Signal::ProviderError | Signal::MessageHas(_) => false,
            Signal::GatewayError | Signal::Code(_) | Signal::Reason(_) | Signal::MessageStarts(_) => true,
            Signal::AnyOf(all) => all.iter().all(|s| s.anchored()),
            Signal::AllOf(any) => any.iter().any(|s| s.anchored()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Success,
    RateLimited,
    Exhausted,
    InvalidKey,
    SuspectKey,
    ModelUnavailable,
    NotKeyFault,
    Transient,
    ClientError,
}

#[cfg(test)]
impl Outcome {
    /// Whether this outcome takes the key, or one of its models, out of the pool.
    fn penalises_key(self) -> bool {
        matches!(self, Outcome::Exhausted | Outcome::InvalidKey | Outcome::ModelUnavailable)
    }
}

struct Rule {
    name: &'static str,
    providers: Providers,
    statuses: Statuses,
    signal: Signal,
    outcome: Outcome,
}

const fn rule(name: &'static str, providers: Providers, statuses: Statuses, signal: Signal, outcome: Outcome) -> Rule {
    Rule { name, providers, statuses, signal, outcome }
}

const ANY: Providers = Providers::Any;
const GEMINI: Providers = Providers::Only(&[Family::Gemini]);
const OPENAI: Providers = Providers::Only(&[Family::OpenAi]);
const ANTHROPIC: Providers = Providers::Only(&[Family::Anthropic]);
const OPENROUTER: Providers = Providers::Only(&[Family::OpenRouter]);
const KEY_IS_THE_401: Providers = Providers::Only(&[Family::OpenRouter, Family::Compatible]);

/// The first words of region refusals (Gemini, OpenAI).
const LOCATION: &[&str] = &["user location is not supported", "country, region, or territory not supported"];

/// The classification table (SPEC §3, PROVIDERS.md, `docs/verdicts.md`), first match wins.
const RULES: &[Rule] = &[
    rule("success", ANY, Statuses::Success, Signal::Always, Outcome::Success),
    rule("gateway_own_error", ANY, Statuses::Any, Signal::GatewayError, Outcome::NotKeyFault),
    // OpenAI: spend exhausted is a 429 too, but no wait will fix it.
    rule(
        "spend_exhausted_429",
        ANY,
        Statuses::Exactly(429),
        Signal::Code(&["insufficient_quota", "billing_hard_limit_reached"]),
        Outcome::Exhausted,
    ),
    // Gemini: a regional per-minute limit is shared by every key.
    rule("gemini_regional_limit", GEMINI, Statuses::Exactly(429), Signal::MessageHas(&["for a region"]), Outcome::NotKeyFault),
    rule("provider_rate_limit", ANY, Statuses::Exactly(429), Signal::ProviderError, Outcome::RateLimited),
    // A 429 without a provider's error body comes from the gateway or an edge in between (verify).
    rule("bare_429", ANY, Statuses::Exactly(429), Signal::Always, Outcome::NotKeyFault),
    // OpenRouter: this request's max_tokens is more than what is left; a smaller request would pass.
    rule(
        "openrouter_request_exceeds_credits",
        OPENROUTER,
        Statuses::Exactly(402),
        Signal::MessageHas(&["requires more credits, or fewer max_tokens", "can only afford", "prompt tokens limit exceeded"]),
        Outcome::ClientError,
    ),
    rule("payment_required", ANY, Statuses::Exactly(402), Signal::Always, Outcome::Exhausted),
    // Gemini: some methods (tuned models, …) want OAuth; the request chose the method.
    rule(
        "gemini_method_needs_oauth",
        GEMINI,
        Statuses::Exactly(401),
        Signal::MessageStarts(&["api keys are not supported by this api"]),
        Outcome::ClientError,
    ),
    rule("anthropic_authentication_error", ANTHROPIC, Statuses::Exactly(401), Signal::Code(&["authentication_error"]), Outcome::InvalidKey),
    rule(
        "openai_invalid_api_key",
        OPENAI,
        Statuses::Exactly(401),
        Signal::AnyOf(&[
            Signal::Code(&["invalid_api_key", "account_deactivated"]),
            Signal::MessageStarts(&["incorrect api key provided"]),
        ]),
        Outcome::InvalidKey,
    ),
    // OpenAI-compatible providers authenticate before they read the request: a 401 in their shape is the key's.
    rule("compatible_401", KEY_IS_THE_401, Statuses::Exactly(401), Signal::ProviderError, Outcome::InvalidKey),
    rule("unexplained_401", ANY, Statuses::Exactly(401), Signal::Always, Outcome::SuspectKey),
    rule(
        "region_forbidden",
        ANY,
        Statuses::Exactly(403),
        Signal::AnyOf(&[Signal::Code(&["unsupported_country_region_territory"]), Signal::MessageStarts(LOCATION)]),
        Outcome::NotKeyFault,
    ),
    rule(
        "gemini_key_suspended",
        GEMINI,
        Statuses::Exactly(403),
        Signal::AnyOf(&[
            Signal::Reason(&["consumer_suspended", "api_key_service_blocked"]),
            Signal::AllOf(&[
                Signal::MessageStarts(&["permission denied: consumer", "consumer '"]),
                Signal::MessageHas(&["has been suspended"]),
            ]),
        ]),
        Outcome::InvalidKey,
    ),
    // Gemini: a `fileData.fileUri` or `cachedContent` of another project (or one that expired).
    rule(
        "gemini_file_permission",
        GEMINI,
        Statuses::Exactly(403),
        Signal::MessageStarts(&[
            "you do not have permission to access the file",
            "you do not have permission to access the cachedcontent",
            "cachedcontent not found",
        ]),
        Outcome::ClientError,
    ),
    rule(
        "openai_project_model_access",
        OPENAI,
        Statuses::Exactly(403),
        Signal::AnyOf(&[
            Signal::Code(&["model_not_found"]),
            Signal::AllOf(&[Signal::MessageStarts(&["project "]), Signal::MessageHas(&["does not have access to model"])]),
        ]),
        Outcome::ModelUnavailable,
    ),
    rule("unexplained_403", ANY, Statuses::Exactly(403), Signal::Always, Outcome::SuspectKey),
    rule("openai_model_not_found", OPENAI, Statuses::Exactly(404), Signal::Code(&["model_not_found"]), Outcome::ModelUnavailable),
    // Gemini answers a bad or expired key with 400 INVALID_ARGUMENT and an ErrorInfo reason.
    rule(
        "gemini_invalid_key",
        GEMINI,
        Statuses::Exactly(400),
        Signal::AnyOf(&[Signal::Reason(&["api_key_invalid"]), Signal::MessageStarts(&["api key not valid", "api key expired"])]),
        Outcome::InvalidKey,
    ),
    rule("location_not_supported", ANY, Statuses::Exactly(400), Signal::MessageStarts(LOCATION), Outcome::NotKeyFault),
    // Anthropic: a spent prepaid balance is a 400 invalid_request_error.
    rule(
        "anthropic_credit_balance",
        ANTHROPIC,
        Statuses::Exactly(400),
        Signal::MessageStarts(&["your credit balance is too low"]),
        Outcome::Exhausted,
    ),
    rule("anthropic_invalid_request", ANTHROPIC, Statuses::Exactly(400), Signal::Code(&["invalid_request_error"]), Outcome::ClientError),
    rule("overloaded_529", ANY, Statuses::Exactly(529), Signal::Always, Outcome::NotKeyFault),
    rule("overloaded_503", ANY, Statuses::Exactly(503), Signal::MessageHas(&["overloaded"]), Outcome::NotKeyFault),
    rule("request_timeout_408", ANY, Statuses::Exactly(408), Signal::Always, Outcome::Transient),
    rule("server_error", ANY, Statuses::Between(500, 599), Signal::Always, Outcome::Transient),
    rule("anything_else", ANY, Statuses::Any, Signal::Always, Outcome::ClientError),
];

/// Error bodies larger than this are not parsed (error bodies are small; a huge one is not a provider's).
pub const MAX_ERROR_BODY_BYTES: usize = 256 * 1024;

/// Whether a status is a success (2xx): the one place that says so. A success's body is never read.
pub fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// A spent limit that resets within this many seconds is a short window ([`QuotaWindow::Minute`]); one that resets
/// later is a daily (or longer) one.
pub const SHORT_WINDOW_MAX_S: u64 = 3_600;

/// A verdict and the name of the rule in [`RULES`] that decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Judgement {
    /// What the answer means.
    pub verdict: Verdict,
    /// The deciding rule's name, as in `docs/verdicts.md`.
    pub rule: &'static str,
}

/// Classifies one upstream answer from `provider`. `body` is read only for non-2xx answers; pass an empty slice for
/// 2xx.
pub fn classify(provider: &Provider, status: u16, headers: &(impl HeaderLookup + ?Sized), body: &[u8], now_s: u64) -> Verdict {
    judge(provider, status, headers, body, now_s).verdict
}

/// [`classify`], also naming the rule that decided.
pub fn judge(provider: &Provider, status: u16, headers: &(impl HeaderLookup + ?Sized), body: &[u8], now_s: u64) -> Judgement {
    let facts = ErrorFacts::read(status, body);
    let family = family(provider);
    let found = RULES
        .iter()
        .find(|r| matches_provider(r.providers, family) && matches_status(r.statuses, status) && facts.shows(r.signal));
    let Some(rule) = found else {
        return Judgement { verdict: Verdict::ClientError, rule: "anything_else" };
    };
    let verdict = match rule.outcome {
        Outcome::Success => Verdict::Success,
        Outcome::RateLimited => Verdict::RateLimited(RateLimit {
            hint: rate_limit_hint(&facts, headers, now_s),
            window: quota_window(&facts, headers, now_s),
        }),
        Outcome::Exhausted => Verdict::Exhausted,
        Outcome::InvalidKey => Verdict::InvalidKey,
        Outcome::SuspectKey => Verdict::SuspectKey,
        Outcome::ModelUnavailable => Verdict::ModelUnavailable,
        Outcome::NotKeyFault => Verdict::NotKeyFault,
        Outcome::Transient => Verdict::Transient,
        Outcome::ClientError => Verdict::ClientError,
    };
    Judgement { verdict, rule: rule.name }
}

/// The names of every rule, in table order (for docs and tests).
pub fn rule_names() -> impl Iterator<Item = &'static str> {
    RULES.iter().map(|r| r.name)
}

fn matches_provider(providers: Providers, family: Family) -> bool {
    match providers {
        Providers::Any => true,
        Providers::Only(families) => families.contains(&family),
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

/// What an error body says, field by field, lower-cased.
#[derive(Default)]
struct ErrorFacts {
    gateway_error: bool,
    provider_error: bool,
    /// `error.code`, `error.type`, `error.status` (and the same fields at the top level for Mistral's shape).
    codes: Vec<String>,
    /// `error.message`, or the top-level `message`.
    message: String,
    /// Google `ErrorInfo.reason`s.
    reasons: Vec<String>,
    /// Google `QuotaFailure.violations[].quotaId`s.
    quota_ids: Vec<String>,
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
            Value::Object(map) if map.get("success") == Some(&Value::Bool(false)) => map.get("error").and_then(Value::as_array),
            _ => None,
        };
        if let Some(items) = gateway_list {
            facts.gateway_error = !items.is_empty() && items.iter().all(|i| i.get("code").is_some_and(Value::is_number));
            return facts;
        }
        match value.get("error") {
            Some(Value::String(text)) => {
                facts.provider_error = true;
                facts.message = text.to_ascii_lowercase();
            }
            Some(error @ Value::Object(_)) => {
                facts.provider_error = true;
                facts.read_error_object(error);
            }
            // Mistral: `{"object":"error","message":…,"type":…,"code":…}` or just `{"message":…}`.
            None if value.get("message").is_some_and(Value::is_string) => {
                facts.provider_error = true;
                facts.read_error_object(value);
            }
            _ => {}
        }
        facts
    }

    fn read_error_object(&mut self, error: &Value) {
        for field in ["code", "type", "status"] {
            match error.get(field) {
                Some(Value::String(s)) => self.codes.push(s.to_ascii_lowercase()),
                Some(Value::Number(n)) => self.codes.push(n.to_string()),
                _ => {}
            }
        }
        if let Some(message) = error.get("message").and_then(Value::as_str) {
            self.message = message.to_ascii_lowercase();
        }
        for detail in error.get("details").and_then(Value::as_array).into_iter().flatten() {
            let kind = detail.get("@type").and_then(Value::as_str).unwrap_or_default();
            if kind.ends_with("google.rpc.ErrorInfo") {
                if let Some(reason) = detail.get("reason").and_then(Value::as_str) {
                    self.reasons.push(reason.to_ascii_lowercase());
                }
            } else if kind.ends_with("google.rpc.RetryInfo") {
                self.retry_delay = detail.get("retryDelay").and_then(Value::as_str).map(str::to_string);
            } else if kind.ends_with("google.rpc.QuotaFailure") {
                for violation in detail.get("violations").and_then(Value::as_array).into_iter().flatten() {
                    if let Some(id) = violation.get("quotaId").and_then(Value::as_str) {
                        self.quota_ids.push(id.to_ascii_lowercase());
                    }
                }
            }
        }
        self.body_reset = error
            .pointer("/metadata/headers/X-RateLimit-Reset")
            .and_then(|v| v.as_str().map(str::to_string).or_else(|| v.as_u64().map(|n| n.to_string())));
    }

    fn shows(&self, signal: Signal) -> bool {
        match signal {
            Signal::Always => true,
            Signal::GatewayError => self.gateway_error,
            Signal::ProviderError => self.provider_error,
            Signal::Code(codes) => self.codes.iter().any(|c| codes.contains(&c.as_str())),
            Signal::Reason(reasons) => self.reasons.iter().any(|r| reasons.contains(&r.as_str())),
            Signal::MessageStarts(prefixes) => prefixes.iter().any(|p| self.message.starts_with(p)),
            Signal::MessageHas(phrases) => phrases.iter().any(|p| self.message.contains(p)),
            Signal::AnyOf(signals) => signals.iter().any(|s| self.shows(*s)),
            Signal::AllOf(signals) => signals.iter().all(|s| self.shows(*s)),
        }
    }
}

#[derive(Clone, Copy)]
enum ResetFormat {
    /// OpenAI-style `"6m0s"`.
    Duration,
    /// Anthropic's RFC 3339 time.
    Rfc3339,
    /// Decimal seconds (Cerebras).
    Seconds,
}

/// One rate-limit counter a provider reports in headers: its remaining count, its reset (if sent), and the window
/// its name states (`None`: read the window from the reset's distance).
struct Counter {
    remaining: &'static str,
    reset: Option<(&'static str, ResetFormat)>,
    window: Option<QuotaWindow>,
}

const fn counter(remaining: &'static str, reset: Option<(&'static str, ResetFormat)>, window: Option<QuotaWindow>) -> Counter {
    Counter { remaining, reset, window }
}

/// Rate-limit counters in response headers (OpenAI and most OpenAI-compatible APIs, Anthropic, Mistral, Cerebras).
const COUNTERS: &[Counter] = &[
    counter("x-ratelimit-remaining-requests", Some(("x-ratelimit-reset-requests", ResetFormat::Duration)), None),
    counter("x-ratelimit-remaining-tokens", Some(("x-ratelimit-reset-tokens", ResetFormat::Duration)), None),
    // Anthropic's limits are per minute (RPM, ITPM, OTPM).
    counter(
        "anthropic-ratelimit-requests-remaining",
        Some(("anthropic-ratelimit-requests-reset", ResetFormat::Rfc3339)),
        Some(QuotaWindow::Minute),
    ),
    counter("anthropic-ratelimit-tokens-remaining", Some(("anthropic-ratelimit-tokens-reset", ResetFormat::Rfc3339)), Some(QuotaWindow::Minute)),
    counter(
        "anthropic-ratelimit-input-tokens-remaining",
        Some(("anthropic-ratelimit-input-tokens-reset", ResetFormat::Rfc3339)),
        Some(QuotaWindow::Minute),
    ),
    counter(
        "anthropic-ratelimit-output-tokens-remaining",
        Some(("anthropic-ratelimit-output-tokens-reset", ResetFormat::Rfc3339)),
        Some(QuotaWindow::Minute),
    ),
    // Cerebras (verify) and Mistral name the window in the header.
    counter("x-ratelimit-remaining-requests-day", Some(("x-ratelimit-reset-requests-day", ResetFormat::Seconds)), Some(QuotaWindow::Day)),
    counter("x-ratelimit-remaining-tokens-day", Some(("x-ratelimit-reset-tokens-day", ResetFormat::Seconds)), Some(QuotaWindow::Day)),
    counter("x-ratelimit-remaining-tokens-minute", Some(("x-ratelimit-reset-tokens-minute", ResetFormat::Seconds)), Some(QuotaWindow::Minute)),
    counter("x-ratelimit-remaining-requests-minute", Some(("x-ratelimit-reset-requests-minute", ResetFormat::Seconds)), Some(QuotaWindow::Minute)),
    counter("x-ratelimit-remaining-req-minute", None, Some(QuotaWindow::Minute)),
    counter("x-ratelimit-remaining-tokens-month", None, Some(QuotaWindow::Day)),
];

/// When a counter's reset header says it resets, as unix seconds.
fn reset_until_s(headers: &(impl HeaderLookup + ?Sized), counter: &Counter, now_s: u64) -> Option<u64> {
    let (name, format) = counter.reset?;
    let value = headers.header(name)?;
    match format {
        ResetFormat::Duration => hints::go_duration_s(&value).map(|s| now_s.saturating_add(s)),
        ResetFormat::Rfc3339 => hints::rfc3339_s(&value),
        ResetFormat::Seconds => hints::decimal_seconds(&value).map(|s| now_s.saturating_add(s)),
    }
}

fn is_spent(headers: &(impl HeaderLookup + ?Sized), counter: &Counter) -> bool {
    headers.header(counter.remaining).is_some_and(|r| matches!(r.trim(), "0" | "0.0"))
}

/// How long a rate limit rests, from the strongest signal present: Gemini's RetryInfo, `Retry-After`, OpenRouter's
/// reset, then the reset of whichever limit is spent (or the soonest reset sent).
fn rate_limit_hint(facts: &ErrorFacts, headers: &(impl HeaderLookup + ?Sized), now_s: u64) -> CoolHint {
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
    for counter in COUNTERS {
        let Some(until) = reset_until_s(headers, counter, now_s) else { continue };
        any = Some(any.map_or(until, |a| a.min(until)));
        if is_spent(headers, counter) {
            spent = Some(spent.map_or(until, |s| s.max(until)));
        }
    }
    spent.or(any).map_or(CoolHint::None, CoolHint::UntilS)
}

/// Words in a rate-limit message that name its window (OpenAI/Groq `… per min (RPM)`, `… per day (RPD)`, Anthropic
/// `… requests per minute`, OpenRouter `free-models-per-day`). Lower-case.
const MINUTE_WORDS: &[&str] = &["per minute", "per min (", "(rpm)", "(tpm)", "-per-min"];
const DAY_WORDS: &[&str] = &["per day", "(rpd)", "(tpd)", "-per-day"];

/// Which window ran out. Every signal is read and the longest window named wins: a per-day limit hit together with
/// a per-minute one keeps the key out until the daily reset.
///
/// Gemini names the window in its `QuotaFailure` quota ids (`GenerateRequestsPerDayPerProjectPerModel-FreeTier`,
/// `GenerateContentInputTokensPerModelPerMinute-FreeTier`; <https://ai.google.dev/gemini-api/docs/rate-limits>), and
/// sends the same body without details for other limits, hence [`QuotaWindow::Unknown`] then. OpenAI-style APIs name
/// it in the message and report spent counters in `x-ratelimit-*` headers.
fn quota_window(facts: &ErrorFacts, headers: &(impl HeaderLookup + ?Sized), now_s: u64) -> QuotaWindow {
    let mut day = facts.quota_ids.iter().any(|id| id.contains("perday"));
    let mut minute = facts.quota_ids.iter().any(|id| id.contains("perminute"));
    day |= DAY_WORDS.iter().any(|w| facts.message.contains(w));
    minute |= MINUTE_WORDS.iter().any(|w| facts.message.contains(w));
    for counter in COUNTERS.iter().filter(|c| is_spent(headers, c)) {
        let window = counter.window.or_else(|| {
            let until = reset_until_s(headers, counter, now_s)?;
            Some(if until.saturating_sub(now_s) <= SHORT_WINDOW_MAX_S { QuotaWindow::Minute } else { QuotaWindow::Day })
        });
        match window {
            Some(QuotaWindow::Day) => day = true,
            Some(QuotaWindow::Minute) => minute = true,
            Some(QuotaWindow::Unknown) | None => {}
        }
    }
    if day {
        QuotaWindow::Day
    } else if minute {
        QuotaWindow::Minute
    } else {
        QuotaWindow::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::{find, PROVIDERS};

    const NOW: u64 = 1_764_000_000;

    /// A recorded answer: `tests/fixtures/<name>.json` (or `.txt`) is the body, the leading digits of the file name
    /// are the status, and `tests/fixtures/<name>.headers` (optional) holds `name: value` lines.
    struct Fixture {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Fixture {
        fn load(name: &str) -> Fixture {
            let base = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
            let body = std::fs::read(format!("{base}.json"))
                .or_else(|_| std::fs::read(format!("{base}.txt")))
                .unwrap_or_else(|e| panic!("{base}.json or .txt: {e}"));
            let file = name.rsplit('/').next().unwrap_or(name);
            let digits: String = file.chars().take_while(char::is_ascii_digit).collect();
            let status = digits.parse().unwrap_or_else(|_| panic!("{name}: the file name must start with the status"));
            let headers = std::fs::read_to_string(format!("{base}.headers"))
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
                .collect();
            Fixture { status, headers, body }
        }

        fn judge_as(&self, provider: &str) -> Judgement {
            let pairs: Vec<(&str, &str)> = self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            judge(find(provider).expect("a listed provider"), self.status, pairs.as_slice(), &self.body, NOW)
        }
    }

    /// Asserts that `rule` decides the fixture from `provider`, with `verdict`.
    fn decides(rule: &str, provider: &str, fixture: &str, verdict: Verdict) {
        let judgement = Fixture::load(fixture).judge_as(provider);
        assert_eq!(judgement, Judgement { verdict, rule: RULES.iter().find(|r| r.name == rule).expect("a rule").name }, "{fixture}");
    }

    fn limited(hint: CoolHint, window: QuotaWindow) -> Verdict {
        Verdict::RateLimited(RateLimit { hint, window })
    }

    fn bare(provider: &str, status: u16, headers: &[(&str, &str)], body: &[u8]) -> Judgement {
        judge(find(provider).expect("listed"), status, headers, body, NOW)
    }

    // ---- one test per rule, named after it ------------------------------------------------------------------

    #[test]
    fn rule_success() {
        for status in [200, 201, 204, 299] {
            let j = bare("openai", status, &[], br#"{"error":{"code":429}}"#);
            assert_eq!((j.verdict, j.rule), (Verdict::Success, "success"), "{status}");
        }
    }

    #[test]
    fn rule_gateway_own_error() {
        decides("gateway_own_error", "google-ai-studio", "gateway/401-2009", Verdict::NotKeyFault);
        decides("gateway_own_error", "openai", "gateway/401-2009-wrapped", Verdict::NotKeyFault);
        decides("gateway_own_error", "anthropic", "gateway/429-rate-limited", Verdict::NotKeyFault);
    }

    #[test]
    fn rule_spend_exhausted_429() {
        decides("spend_exhausted_429", "openai", "openai/429-insufficient-quota", Verdict::Exhausted);
        decides("spend_exhausted_429", "openai", "openai/429-billing-hard-limit", Verdict::Exhausted);
    }

    #[test]
    fn rule_gemini_regional_limit() {
        decides("gemini_regional_limit", "google-ai-studio", "gemini/429-region", Verdict::NotKeyFault);
    }

    #[test]
    fn rule_provider_rate_limit() {
        let per_minute = limited(CoolHint::Seconds(39), QuotaWindow::Minute);
        decides("provider_rate_limit", "google-ai-studio", "gemini/429-retry-info", per_minute);
        decides("provider_rate_limit", "openai", "openai/429-rate-limit", limited(CoolHint::UntilS(NOW + 20), QuotaWindow::Minute));
        decides("provider_rate_limit", "anthropic", "anthropic/429-rate-limit", limited(CoolHint::UntilS(NOW + 12), QuotaWindow::Minute));
        decides("provider_rate_limit", "mistral", "mistral/429-rate-limit", limited(CoolHint::None, QuotaWindow::Minute));
    }

    #[test]
    fn rule_bare_429() {
        decides("bare_429", "google-ai-studio", "gateway/429-html", Verdict::NotKeyFault);
        assert_eq!(bare("openai", 429, &[], b"").rule, "bare_429");
    }

    #[test]
    fn rule_openrouter_request_exceeds_credits() {
        decides("openrouter_request_exceeds_credits", "openrouter", "openrouter/402-request-exceeds-credits", Verdict::ClientError);
    }

    #[test]
    fn rule_payment_required() {
        decides("payment_required", "openrouter", "openrouter/402-credits", Verdict::Exhausted);
        decides("payment_required", "deepseek", "deepseek/402-insufficient-balance", Verdict::Exhausted);
    }

    #[test]
    fn rule_gemini_method_needs_oauth() {
        decides("gemini_method_needs_oauth", "google-ai-studio", "gemini/401-api-keys-not-supported", Verdict::ClientError);
    }

    #[test]
    fn rule_anthropic_authentication_error() {
        decides("anthropic_authentication_error", "anthropic", "anthropic/401-authentication", Verdict::InvalidKey);
    }

    #[test]
    fn rule_openai_invalid_api_key() {
        decides("openai_invalid_api_key", "openai", "openai/401-invalid-key", Verdict::InvalidKey);
    }

    #[test]
    fn rule_compatible_401() {
        decides("compatible_401", "groq", "groq/401-invalid-key", Verdict::InvalidKey);
        decides("compatible_401", "deepseek", "deepseek/401-invalid-key", Verdict::InvalidKey);
        decides("compatible_401", "openrouter", "openrouter/401-no-auth", Verdict::InvalidKey);
    }

    #[test]
    fn rule_unexplained_401() {
        decides("unexplained_401", "google-ai-studio", "gemini/401-unauthenticated", Verdict::SuspectKey);
        decides("unexplained_401", "groq", "gateway/401-empty", Verdict::SuspectKey);
        let other_openai_401 = br#"{"error":{"message":"Something new","type":"invalid_request_error","code":"whatever"}}"#;
        assert_eq!(bare("openai", 401, &[], other_openai_401), Judgement { verdict: Verdict::SuspectKey, rule: "unexplained_401" });
    }

    #[test]
    fn rule_region_forbidden() {
        decides("region_forbidden", "google-ai-studio", "gemini/403-location", Verdict::NotKeyFault);
        decides("region_forbidden", "openai", "openai/403-region", Verdict::NotKeyFault);
    }

    #[test]
    fn rule_gemini_key_suspended() {
        decides("gemini_key_suspended", "google-ai-studio", "gemini/403-suspended", Verdict::InvalidKey);
        decides("gemini_key_suspended", "google-ai-studio", "gemini/403-suspended-no-details", Verdict::InvalidKey);
        decides("gemini_key_suspended", "google-ai-studio", "gemini/403-service-blocked", Verdict::InvalidKey);
    }

    #[test]
    fn rule_gemini_file_permission() {
        decides("gemini_file_permission", "google-ai-studio", "gemini/403-file-permission", Verdict::ClientError);
        decides("gemini_file_permission", "google-ai-studio", "gemini/403-cached-content", Verdict::ClientError);
    }

    #[test]
    fn rule_openai_project_model_access() {
        decides("openai_project_model_access", "openai", "openai/403-project-model-access", Verdict::ModelUnavailable);
    }

    #[test]
    fn rule_unexplained_403() {
        decides("unexplained_403", "anthropic", "anthropic/403-permission", Verdict::SuspectKey);
        decides("unexplained_403", "google-ai-studio", "gemini/403-caller-permission", Verdict::SuspectKey);
    }

    #[test]
    fn rule_openai_model_not_found() {
        decides("openai_model_not_found", "openai", "openai/404-model-not-found", Verdict::ModelUnavailable);
    }

    #[test]
    fn rule_gemini_invalid_key() {
        decides("gemini_invalid_key", "google-ai-studio", "gemini/400-api-key-invalid", Verdict::InvalidKey);
        decides("gemini_invalid_key", "google-ai-studio", "gemini/400-api-key-expired", Verdict::InvalidKey);
    }

    #[test]
    fn rule_location_not_supported() {
        decides("location_not_supported", "google-ai-studio", "gemini/400-location", Verdict::NotKeyFault);
    }

    #[test]
    fn rule_anthropic_credit_balance() {
        decides("anthropic_credit_balance", "anthropic", "anthropic/400-credit", Verdict::Exhausted);
    }

    #[test]
    fn rule_anthropic_invalid_request() {
        decides("anthropic_invalid_request", "anthropic", "anthropic/400-prompt-too-long", Verdict::ClientError);
    }

    #[test]
    fn rule_overloaded_529() {
        decides("overloaded_529", "anthropic", "anthropic/529-overloaded", Verdict::NotKeyFault);
    }

    #[test]
    fn rule_overloaded_503() {
        decides("overloaded_503", "google-ai-studio", "gemini/503-overloaded", Verdict::NotKeyFault);
    }

    #[test]
    fn rule_request_timeout_408() {
        assert_eq!(bare("openai", 408, &[], b""), Judgement { verdict: Verdict::Transient, rule: "request_timeout_408" });
    }

    #[test]
    fn rule_server_error() {
        decides("server_error", "openai", "gateway/502-bad-gateway", Verdict::Transient);
        assert_eq!(bare("openai", 503, &[], b"upstream connect error").rule, "server_error");
        assert_eq!(bare("openai", 500, &[], b"").verdict, Verdict::Transient);
    }

    #[test]
    fn rule_anything_else() {
        decides("anything_else", "google-ai-studio", "gemini/400-bad-request", Verdict::ClientError);
        decides("anything_else", "openai", "openai/400-bad-request", Verdict::ClientError);
        decides("anything_else", "google-ai-studio", "gemini/404-model-not-found", Verdict::ClientError);
        for status in [100, 302, 404, 418, 422, 451, 600, 999] {
            assert_eq!(bare("openai", status, &[], b"").rule, "anything_else", "{status}");
        }
    }

    // ---- the table as a whole --------------------------------------------------------------------------------

    #[test]
    fn every_rule_has_a_distinct_snake_case_name() {
        let mut names: Vec<&str> = rule_names().collect();
        assert!(names.iter().all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')));
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "duplicate rule names");
    }

    #[test]
    fn every_rule_has_a_test_named_after_it_that_checks_the_rule_decided() {
        let source = include_str!("verdict.rs");
        for name in rule_names() {
            let head = format!("fn rule_{name}() {{");
            let start = source.find(&head).unwrap_or_else(|| panic!("rule {name:?} has no test `rule_{name}`"));
            let body = &source[start + head.len()..];
            let body = &body[..body.find("\n    }\n").unwrap_or(body.len())];
            assert!(body.contains(&format!("\"{name}\"")), "the test of rule {name:?} does not check that this rule decided");
        }
    }

    #[test]
    fn every_rule_is_in_the_user_documentation_with_existing_fixtures() {
        let docs = std::fs::read_to_string(format!("{}/docs/verdicts.md", env!("CARGO_MANIFEST_DIR"))).expect("docs/verdicts.md");
        for name in rule_names() {
            assert!(docs.contains(&format!("`{name}`")), "docs/verdicts.md does not mention rule `{name}`");
        }
        for fixture in docs.split('`').filter(|s| s.starts_with("tests/fixtures/")) {
            assert!(std::path::Path::new(&format!("{}/{fixture}", env!("CARGO_MANIFEST_DIR"))).exists(), "{fixture} is named in docs but missing");
        }
    }

    #[test]
    fn rules_that_take_a_key_out_of_the_pool_read_only_what_a_request_cannot_write() {
        // Exceptions: the status alone is the evidence where a request cannot make the provider send it for a good
        // key (402 payment required; 401 from providers that authenticate before reading the request).
        for rule in RULES.iter().filter(|r| r.outcome.penalises_key()) {
            let status_is_the_evidence = matches!(rule.statuses, Statuses::Exactly(401 | 402));
            assert!(rule.signal.anchored() || status_is_the_evidence, "rule {} penalises a key on free text", rule.name);
        }
    }

    #[test]
    fn the_table_ends_with_a_catch_all_and_every_outcome_is_reachable() {
        let last = RULES.last().expect("rules");
        assert!(matches!((last.providers, last.statuses, last.signal), (Providers::Any, Statuses::Any, Signal::Always)));
        for outcome in [
            Outcome::Success,
            Outcome::RateLimited,
            Outcome::Exhausted,
            Outcome::InvalidKey,
            Outcome::SuspectKey,
            Outcome::ModelUnavailable,
            Outcome::NotKeyFault,
            Outcome::Transient,
            Outcome::ClientError,
        ] {
            assert!(RULES.iter().any(|r| r.outcome == outcome), "{outcome:?}");
        }
    }

    #[test]
    fn every_family_slug_is_a_listed_provider() {
        for (slug, _) in FAMILIES {
            assert!(PROVIDERS.iter().any(|p| p.slug == *slug), "{slug}");
        }
    }

    // ---- quota windows ---------------------------------------------------------------------------------------

    #[test]
    fn gemini_per_minute_quota_is_a_minute_window_with_the_retry_delay() {
        let j = Fixture::load("gemini/429-retry-info").judge_as("google-ai-studio");
        assert_eq!(j.verdict, limited(CoolHint::Seconds(39), QuotaWindow::Minute));
        let j = Fixture::load("gemini/429-input-tokens-per-minute").judge_as("google-ai-studio");
        assert_eq!(j.verdict, limited(CoolHint::Seconds(7), QuotaWindow::Minute));
    }

    #[test]
    fn gemini_per_day_quota_is_a_day_window_even_with_a_retry_delay() {
        let j = Fixture::load("gemini/429-per-day").judge_as("google-ai-studio");
        assert_eq!(j.verdict, limited(CoolHint::Seconds(53), QuotaWindow::Day));
    }

    #[test]
    fn a_day_violation_beside_a_minute_one_makes_it_a_day() {
        let j = Fixture::load("gemini/429-mixed-day-and-minute").judge_as("google-ai-studio");
        assert_eq!(j.verdict, limited(CoolHint::Seconds(24), QuotaWindow::Day));
    }

    #[test]
    fn gemini_429_without_details_leaves_the_window_unknown() {
        let j = Fixture::load("gemini/429-plain").judge_as("google-ai-studio");
        assert_eq!(j.verdict, limited(CoolHint::None, QuotaWindow::Unknown));
        let j = Fixture::load("gemini/429-stream-array").judge_as("google-ai-studio");
        assert_eq!(j.verdict, limited(CoolHint::Seconds(14), QuotaWindow::Unknown), "RetryInfo alone names no window");
        let Verdict::RateLimited(limit) = j.verdict else { panic!() };
        assert!(!limit.key_scoped());
    }

    #[test]
    fn openai_requests_per_day_in_the_message_is_a_day_window() {
        let j = Fixture::load("openai/429-requests-per-day").judge_as("openai");
        assert_eq!(j.verdict, limited(CoolHint::UntilS(NOW + 432), QuotaWindow::Day));
        let j = Fixture::load("groq/429-tokens-per-day").judge_as("groq");
        let Verdict::RateLimited(limit) = j.verdict else { panic!("{j:?}") };
        assert_eq!(limit.window, QuotaWindow::Day);
    }

    #[test]
    fn a_spent_counter_tells_the_window_by_its_reset() {
        let short: &[(&str, &str)] = &[("x-ratelimit-remaining-requests", "0"), ("x-ratelimit-reset-requests", "20s")];
        let long: &[(&str, &str)] = &[("x-ratelimit-remaining-requests", "0"), ("x-ratelimit-reset-requests", "5h2m")];
        let unspent: &[(&str, &str)] = &[("x-ratelimit-remaining-requests", "4"), ("x-ratelimit-reset-requests", "5h2m")];
        let body = br#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#;
        assert_eq!(bare("groq", 429, short, body).verdict, limited(CoolHint::UntilS(NOW + 20), QuotaWindow::Minute));
        assert_eq!(bare("groq", 429, long, body).verdict, limited(CoolHint::UntilS(NOW + 18_120), QuotaWindow::Day));
        assert_eq!(bare("groq", 429, unspent, body).verdict, limited(CoolHint::UntilS(NOW + 18_120), QuotaWindow::Unknown));
    }

    #[test]
    fn counters_that_name_their_window_are_believed() {
        let j = Fixture::load("cerebras/429-requests-per-day").judge_as("cerebras");
        let Verdict::RateLimited(limit) = j.verdict else { panic!("{j:?}") };
        assert_eq!(limit.window, QuotaWindow::Day);
        assert_eq!(limit.hint, CoolHint::UntilS(NOW + 33_012));
    }

    #[test]
    fn openrouter_free_models_per_day_is_a_day_window() {
        let j = Fixture::load("openrouter/429-rate-limit").judge_as("openrouter");
        assert_eq!(j.verdict, limited(CoolHint::UntilS(1_764_633_605), QuotaWindow::Day));
        let headers: &[(&str, &str)] = &[("X-RateLimit-Reset", "1764000100000")];
        let body = br#"{"error":{"message":"Rate limit exceeded: free-models-per-min.","code":429}}"#;
        assert_eq!(bare("openrouter", 429, headers, body).verdict, limited(CoolHint::UntilS(1_764_000_105), QuotaWindow::Minute));
    }

    // ---- hints -----------------------------------------------------------------------------------------------

    #[test]
    fn a_malformed_retry_delay_falls_back_instead_of_cooling_zero() {
        let body = br#"{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"NaN"}]}}"#;
        assert_eq!(bare("google-ai-studio", 429, &[], body).verdict, limited(CoolHint::None, QuotaWindow::Unknown));
    }

    #[test]
    fn retry_after_wins_over_reset_headers() {
        let headers: &[(&str, &str)] = &[("Retry-After", "7"), ("x-ratelimit-reset-requests", "20s")];
        let verdict = classify(find("openai").expect("listed"), 429, headers, &Fixture::load("openai/429-rate-limit").body, NOW);
        assert_eq!(verdict, limited(CoolHint::UntilS(NOW + 7), QuotaWindow::Minute));
    }

    #[test]
    fn anthropic_reset_times_are_used_without_retry_after() {
        let headers: &[(&str, &str)] =
            &[("anthropic-ratelimit-requests-remaining", "0"), ("anthropic-ratelimit-requests-reset", "2025-11-24T16:01:00Z")];
        let verdict = classify(find("anthropic").expect("listed"), 429, headers, &Fixture::load("anthropic/429-rate-limit").body, NOW);
        assert_eq!(verdict, limited(CoolHint::UntilS(1_764_000_060), QuotaWindow::Minute));
    }

    #[test]
    fn openrouter_reset_is_epoch_milliseconds_plus_five_seconds() {
        let headers: &[(&str, &str)] = &[("X-RateLimit-Reset", "1764000100000")];
        let verdict = classify(find("openrouter").expect("listed"), 429, headers, &Fixture::load("openrouter/429-rate-limit").body, NOW);
        assert_eq!(verdict, limited(CoolHint::UntilS(1_764_000_105), QuotaWindow::Day));
    }

    // ---- a key leaves the pool only on evidence about the key -----------------------------------------------

    #[test]
    fn words_a_request_can_make_a_provider_echo_never_block_or_rest_a_key() {
        // Gemini echoes unknown field names; OpenAI echoes bad values; Anthropic echoes the model name.
        let cases: &[(&str, u16, &[u8])] = &[
            ("google-ai-studio", 400, br#"{"error":{"code":400,"message":"Invalid JSON payload received. Unknown name \"API key not valid\": Cannot find field.","status":"INVALID_ARGUMENT"}}"#),
            ("google-ai-studio", 403, br#"{"error":{"code":403,"message":"Model x has been suspended Consumer 'api_key:x'","status":"PERMISSION_DENIED"}}"#),
            ("anthropic", 400, br#"{"type":"error","error":{"type":"invalid_request_error","message":"model: Your credit balance is too low"}}"#),
            ("openai", 400, br#"{"error":{"message":"Invalid value: 'insufficient_quota billing_hard_limit_reached'","type":"invalid_request_error","param":"x","code":"invalid_value"}}"#),
            ("openai", 403, br#"{"error":{"message":"Invalid 'x': Project p does not have access to model m","type":"invalid_request_error","code":null}}"#),
            ("openrouter", 400, br#"{"error":{"message":"Incorrect API key provided","code":400}}"#),
        ];
        for (provider, status, body) in cases {
            let verdict = bare(provider, *status, &[], body).verdict;
            assert!(
                !matches!(verdict, Verdict::InvalidKey | Verdict::Exhausted | Verdict::ModelUnavailable),
                "{provider} {status}: {verdict:?} for {}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn ai_gateway_errors_never_penalise_a_key() {
        for (provider, name) in [("openai", "gateway/401-2009"), ("google-ai-studio", "gateway/401-2009-wrapped"), ("groq", "gateway/429-rate-limited")] {
            assert_eq!(Fixture::load(name).judge_as(provider).verdict, Verdict::NotKeyFault, "{provider} {name}");
        }
    }

    #[test]
    fn a_401_without_a_body_is_only_suspect() {
        for provider in ["openai", "google-ai-studio", "anthropic", "groq", "workers-ai", "cohere"] {
            assert_eq!(bare(provider, 401, &[], b"").verdict, Verdict::SuspectKey, "{provider}");
        }
    }

    #[test]
    fn a_probe_confirms_a_suspect_only_when_it_is_refused_like_a_bad_key() {
        assert_eq!(read_probe(Verdict::InvalidKey), ProbeReading::KeyRefused);
        assert_eq!(read_probe(Verdict::SuspectKey), ProbeReading::KeyRefused);
        assert_eq!(read_probe(Verdict::Success), ProbeReading::KeyAccepted);
        assert_eq!(read_probe(limited(CoolHint::None, QuotaWindow::Unknown)), ProbeReading::KeyAccepted);
        assert_eq!(read_probe(Verdict::ModelUnavailable), ProbeReading::KeyAccepted);
        for v in [Verdict::NotKeyFault, Verdict::Transient, Verdict::Timeout] {
            assert_eq!(read_probe(v), ProbeReading::Inconclusive);
        }
    }

    #[test]
    fn labels_are_distinct_and_only_success_and_client_errors_stop_the_loop() {
        let all = [
            Verdict::Success,
            limited(CoolHint::None, QuotaWindow::Unknown),
            Verdict::Exhausted,
            Verdict::InvalidKey,
            Verdict::SuspectKey,
            Verdict::ModelUnavailable,
            Verdict::NotKeyFault,
            Verdict::Transient,
            Verdict::Timeout,
            Verdict::ClientError,
        ];
        let mut labels: Vec<&str> = all.iter().map(|v| v.label()).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), all.len());
        for v in all {
            assert_eq!(v.retries(), !matches!(v, Verdict::Success | Verdict::ClientError), "{v:?}");
        }
    }

    #[test]
    fn huge_and_hostile_bodies_are_not_parsed() {
        let mut huge = br#"{"error":{"code":"insufficient_quota","message":""#.to_vec();
        huge.resize(MAX_ERROR_BODY_BYTES + 10, b'x');
        assert_eq!(bare("openai", 429, &[], &huge).verdict, Verdict::NotKeyFault);
        let deep = "[".repeat(10_000);
        assert_eq!(bare("openai", 500, &[], deep.as_bytes()).verdict, Verdict::Transient);
    }
}
