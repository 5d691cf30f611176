//! Typed configuration, read from the Worker's vars and secrets once per isolate.
//!
//! Raw strings never leave this module: [`Config::from_lookup`] validates every value and names the variable in its
//! error, so a typo in `wrangler.jsonc` shows up as a clear message rather than a silent default.

use crate::providers;
use crate::breaker::BreakerConfig;
use std::fmt;

/// Validated configuration of one Worker deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// AI Gateway names; one is picked at random per upstream attempt.
    pub gateways: Vec<String>,
    /// Cloudflare account id; with a gateway name it forms the AI Gateway base URL.
    pub account_id: Option<String>,
    /// Overrides the whole AI Gateway base (`…/v1/{account}/{gateway}`), for tests and self-hosted gateways.
    pub gateway_base_url: Option<String>,
    /// Consecutive 429s on one (key, model) before the key cools until the provider's daily reset.
    pub consecutive_429_threshold: u32,
    /// Distinct keys tried per request.
    pub max_attempts: u32,
    /// How often, in seconds, an isolate reads D1's change feed (a poll every half of it); 0 reloads on every request.
    pub key_cache_ttl_s: u32,
    /// Which requests stay on one key per conversation (`SESSION_AFFINITY`).
    pub session_affinity: SessionAffinity,
    /// Most keys of one provider an isolate holds (`KEY_WINDOW_SIZE`); a larger pool is held as a window of them.
    pub key_window: u32,
    /// Milliseconds an upstream may take to send response headers.
    pub upstream_timeout_ms: u32,
    /// Providers sent straight to their own base URL instead of AI Gateway (`DIRECT_PROVIDERS`).
    pub direct_providers: Vec<&'static str>,
    /// Replacement direct base URLs, `slug=url` pairs (`DIRECT_BASE_URLS`): a relay, or a local stand-in in tests.
    pub direct_base_urls: Vec<(&'static str, String)>,
    /// The pool-wide 429 breaker's thresholds (`THROTTLE_*`).
    pub breaker: BreakerConfig,
    /// Seconds between two writes of an isolate's per-key usage figures to D1 (`USAGE_FLUSH_SECONDS`; 0: every request).
    pub usage_flush_s: u32,
    /// Client model names sent to pool models (`MODEL_ALIASES`), in the order written; the first match wins.
    pub model_aliases: Vec<ModelAlias>,
}

/// One entry of `MODEL_ALIASES`, `pattern=provider/model`: a model name a client sends without a provider (Claude
/// Code's `claude-sonnet-4-5`, Codex's `gpt-5.5`) that the compat routes, the Messages routes and the Responses
/// route send to `model` of `provider`. A pattern ending in `*` matches every name that starts with what is before
/// it (`claude-haiku-*`); any other pattern matches that name only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelAlias {
    /// The name, or the start of the names when `prefix`.
    pub pattern: String,
    /// Whether the pattern ended in `*`.
    pub prefix: bool,
    /// The pool's provider slug.
    pub provider: &'static str,
    /// The provider's own model name.
    pub model: String,
}

impl ModelAlias {
    /// Whether `name` (a client's model, case-sensitive as providers treat model names) matches.
    pub fn matches(&self, name: &str) -> bool {
        if self.prefix {
            name.starts_with(&self.pattern)
        } else {
            name == self.pattern
        }
    }
}

impl Config {
    /// The alias that `name` matches, the first one listed.
    pub fn alias_for(&self, name: &str) -> Option<&ModelAlias> {
        self.model_aliases.iter().find(|alias| alias.matches(name))
    }
}

/// How requests name the sessions that keep a conversation on one key (`SESSION_AFFINITY`, see
/// [`crate::affinity`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionAffinity {
    /// Sessions named by a header or a body field, and fingerprints of conversations that name none (the default).
    On,
    /// Only sessions a header or a body field names.
    Named,
    /// No affinity: every key is chosen uniformly.
    Off,
}

/// A configuration value that cannot be used, with the variable it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable's name, as written in `wrangler.jsonc`.
    pub var: &'static str,
    /// What is wrong with it and what would be accepted.
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration variable {}: {}", self.var, self.problem)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads and validates every variable through `lookup` (which returns `None` for an unset variable).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let text = |var: &'static str| lookup(var).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let gateways = text("AI_GATEWAY")
            .unwrap_or_else(|| "one-balance".to_string())
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_string)
            .collect::<Vec<_>>();
        if let Some(bad) = gateways.iter().find(|name| !is_slug(name)) {
            return Err(ConfigError {
                var: "AI_GATEWAY",
                problem: format!("gateway name {bad:?} may hold only letters, digits, '-' and '_'"),
            });
        }
        let account_id = text("CLOUDFLARE_ACCOUNT_ID");
        if let Some(id) = &account_id {
            if !id.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(ConfigError {
                    var: "CLOUDFLARE_ACCOUNT_ID",
                    problem: "must be the 32 hex digits shown in the Cloudflare dashboard".to_string(),
                });
            }
        }
        let gateway_base_url = text("AI_GATEWAY_BASE_URL").map(|url| url.trim_end_matches('/').to_string());
        if let Some(url) = &gateway_base_url {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(ConfigError {
                    var: "AI_GATEWAY_BASE_URL",
                    problem: format!("{url:?} must start with https:// (or http:// for a local test gateway)"),
                });
            }
        }
        let direct_providers = match text("DIRECT_PROVIDERS") {
            Some(list) => parse_direct_providers(&list)?,
            None => Vec::new(),
        };
        let direct_base_urls = match text("DIRECT_BASE_URLS") {
            Some(list) => parse_direct_base_urls(&list)?,
            None => Vec::new(),
        };
        let model_aliases = match text("MODEL_ALIASES") {
            Some(list) => parse_model_aliases(&list)?,
            None => Vec::new(),
        };
        let defaults = BreakerConfig::default();
        let breaker = BreakerConfig {
            min_keys: number(text("THROTTLE_MIN_KEYS"), "THROTTLE_MIN_KEYS", defaults.min_keys, 0..=1_000)?,
            percent: number(text("THROTTLE_PERCENT"), "THROTTLE_PERCENT", defaults.percent, 1..=100)?,
            window_s: number(text("THROTTLE_WINDOW_SECONDS"), "THROTTLE_WINDOW_SECONDS", defaults.window_s, 1..=3_600)?,
            pause_s: number(text("THROTTLE_PAUSE_SECONDS"), "THROTTLE_PAUSE_SECONDS", defaults.pause_s, 1..=3_600)?,
        };
        let session_affinity = match text("SESSION_AFFINITY").as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("on") => SessionAffinity::On,
            Some("named") => SessionAffinity::Named,
            Some("off") => SessionAffinity::Off,
            Some(other) => {
                return Err(ConfigError { var: "SESSION_AFFINITY", problem: format!("{other:?} is not one of on, named, off") });
            }
        };
        Ok(Config {
            session_affinity,
            model_aliases,
            direct_providers,
            direct_base_urls,
            breaker,
            gateways,
            account_id,
            gateway_base_url,
            consecutive_429_threshold: number(text("CONSECUTIVE_429_THRESHOLD"), "CONSECUTIVE_429_THRESHOLD", 2, 1..=100)?,
            max_attempts: number(text("MAX_ATTEMPTS"), "MAX_ATTEMPTS", 10, 1..=40)?,
            key_cache_ttl_s: number(text("KEY_CACHE_TTL_SECONDS"), "KEY_CACHE_TTL_SECONDS", 10, 0..=3600)?,
            key_window: number(text("KEY_WINDOW_SIZE"), "KEY_WINDOW_SIZE", crate::pool::WINDOW_KEYS as u32, 16..=20_000)?,
            upstream_timeout_ms: number(text("UPSTREAM_TIMEOUT_MS"), "UPSTREAM_TIMEOUT_MS", 60_000, 100..=600_000)?,
            usage_flush_s: number(text("USAGE_FLUSH_SECONDS"), "USAGE_FLUSH_SECONDS", 300, 0..=86_400)?,
        })
    }
}

/// `DIRECT_PROVIDERS`: comma-separated slugs, each a provider with a known direct base URL.
fn parse_direct_providers(list: &str) -> Result<Vec<&'static str>, ConfigError> {
    let mut slugs = Vec::new();
    for slug in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match providers::find(slug) {
            Some(p) if p.direct_base.is_some() => slugs.push(p.slug),
            Some(_) => {
                return Err(ConfigError { var: "DIRECT_PROVIDERS", problem: format!("{slug} has no known direct base URL; it must go through AI Gateway") })
            }
            None => return Err(ConfigError { var: "DIRECT_PROVIDERS", problem: format!("{slug:?} is not a known provider slug") }),
        }
    }
    Ok(slugs)
}

/// `DIRECT_BASE_URLS`: comma-separated `slug=url` pairs.
fn parse_direct_base_urls(list: &str) -> Result<Vec<(&'static str, String)>, ConfigError> {
    let problem = |problem: String| ConfigError { var: "DIRECT_BASE_URLS", problem };
    let mut pairs = Vec::new();
    for pair in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (slug, url) = pair.split_once('=').ok_or_else(|| problem(format!("{pair:?} is not slug=url")))?;
        let provider = providers::find(slug.trim()).ok_or_else(|| problem(format!("{slug:?} is not a known provider slug")))?;
        let url = url.trim().trim_end_matches('/');
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(problem(format!("the URL for {slug} must start with https:// (or http:// for a local stand-in)")));
        }
        pairs.push((provider.slug, url.to_string()));
    }
    Ok(pairs)
}

/// `MODEL_ALIASES`: `pattern=provider/model` entries separated by commas (or new lines). A pattern is a model name
/// without a `/` (a name with one is already `provider/model`), optionally ending in `*`; the target names a known
/// provider with static keys and a well-formed model.
fn parse_model_aliases(list: &str) -> Result<Vec<ModelAlias>, ConfigError> {
    let problem = |problem: String| ConfigError { var: "MODEL_ALIASES", problem };
    let mut aliases = Vec::new();
    for entry in list.split([',', '\n']).map(str::trim).filter(|s| !s.is_empty()) {
        let (pattern, target) = entry.split_once('=').ok_or_else(|| problem(format!("{entry:?} is not pattern=provider/model")))?;
        let (pattern, target) = (pattern.trim(), target.trim());
        let (stem, prefix) = match pattern.strip_suffix('*') {
            Some(stem) => (stem, true),
            None => (pattern, false),
        };
        if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b'*' | b'=' | b'"' | b'\\')) {
            return Err(problem(format!(
                "the pattern {pattern:?} must be a model name without '/' (such as claude-sonnet-4-5), optionally ending in '*'"
            )));
        }
        let (slug, model) = target
            .split_once('/')
            .filter(|(slug, model)| !slug.is_empty() && !model.is_empty())
            .ok_or_else(|| problem(format!("{target:?} (for {pattern}) must be provider/model, such as google-ai-studio/gemini-2.5-flash")))?;
        let provider = match providers::find_poolable(slug) {
            Ok(provider) => provider,
            Err(_) => return Err(problem(format!("{slug:?} (for {pattern}) is not a provider whose keys can be pooled"))),
        };
        if !is_plain_model_name(model) {
            return Err(problem(format!("the model for {pattern} must be at most 256 bytes without spaces, quotes, backslashes or control characters")));
        }
        aliases.push(ModelAlias { pattern: stem.to_string(), prefix, provider: provider.slug, model: model.to_string() });
    }
    Ok(aliases)
}

/// A model name every route accepts (stricter than `request_model::check_model`, which the routes apply again).
fn is_plain_model_name(model: &str) -> bool {
    model.len() <= 256 && model != "*" && !model.chars().any(|c| c.is_control() || c.is_whitespace() || c == '"' || c == '\\')
}

fn is_slug(name: &str) -> bool {
    name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn number(
    raw: Option<String>,
    var: &'static str,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, ConfigError> {
    let Some(raw) = raw else { return Ok(default) };
    match raw.parse::<u32>() {
        Ok(value) if range.contains(&value) => Ok(value),
        _ => Err(ConfigError {
            var,
            problem: format!("{raw:?} is not a whole number from {} to {}", range.start(), range.end()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn unset_variables_take_the_documented_defaults() {
        let cfg = config(&[]).expect("defaults are valid");
        assert_eq!(cfg.gateways, vec!["one-balance".to_string()]);
        assert_eq!(cfg.account_id, None);
        assert_eq!(cfg.consecutive_429_threshold, 2);
        assert_eq!(cfg.max_attempts, 10);
        assert_eq!(cfg.key_cache_ttl_s, 10);
        assert_eq!(cfg.key_window, 1_024);
        assert_eq!(cfg.upstream_timeout_ms, 60_000);
    }

    #[test]
    fn session_affinity_is_on_unless_told_otherwise() {
        assert_eq!(config(&[]).expect("defaults").session_affinity, SessionAffinity::On);
        assert_eq!(config(&[("SESSION_AFFINITY", "Named")]).expect("valid").session_affinity, SessionAffinity::Named);
        assert_eq!(config(&[("SESSION_AFFINITY", "off")]).expect("valid").session_affinity, SessionAffinity::Off);
        assert_eq!(config(&[("SESSION_AFFINITY", "sticky")]).expect_err("unknown").var, "SESSION_AFFINITY");
    }

    #[test]
    fn usage_flush_seconds_defaults_to_five_minutes_and_allows_zero_to_a_day() {
        assert_eq!(config(&[]).expect("defaults").usage_flush_s, 300);
        assert_eq!(config(&[("USAGE_FLUSH_SECONDS", "0")]).expect("valid").usage_flush_s, 0);
        assert_eq!(config(&[("USAGE_FLUSH_SECONDS", "86400")]).expect("valid").usage_flush_s, 86_400);
        let err = config(&[("USAGE_FLUSH_SECONDS", "86401")]).expect_err("over a day");
        assert_eq!(err.var, "USAGE_FLUSH_SECONDS");
    }

    #[test]
    fn gateway_list_is_split_on_commas_and_trimmed() {
        let cfg = config(&[("AI_GATEWAY", " a, b ,,c ")]).expect("valid");
        assert_eq!(cfg.gateways, vec!["a", "b", "c"]);
    }

    #[test]
    fn a_number_out_of_range_names_the_variable() {
        let err = config(&[("MAX_ATTEMPTS", "0")]).expect_err("0 attempts is refused");
        assert_eq!(err.var, "MAX_ATTEMPTS");
        assert!(err.to_string().contains("from 1 to 40"), "{err}");
        let err = config(&[("UPSTREAM_TIMEOUT_MS", "soon")]).expect_err("not a number");
        assert_eq!(err.var, "UPSTREAM_TIMEOUT_MS");
    }

    #[test]
    fn direct_providers_must_be_known_and_have_a_direct_base() {
        let cfg = config(&[("DIRECT_PROVIDERS", "google-ai-studio, openrouter")]).expect("valid");
        assert_eq!(cfg.direct_providers, vec!["google-ai-studio", "openrouter"]);
        assert_eq!(config(&[("DIRECT_PROVIDERS", "nope")]).expect_err("unknown").var, "DIRECT_PROVIDERS");
        assert!(config(&[("DIRECT_PROVIDERS", "workers-ai")]).expect_err("no base").problem.contains("AI Gateway"));
    }

    #[test]
    fn direct_base_urls_are_slug_url_pairs() {
        let cfg = config(&[("DIRECT_BASE_URLS", "google-ai-studio=http://127.0.0.1:9/, openai=https://relay.example/v1")]).expect("valid");
        assert_eq!(cfg.direct_base_urls, vec![("google-ai-studio", "http://127.0.0.1:9".to_string()), ("openai", "https://relay.example/v1".to_string())]);
        for bad in ["google-ai-studio", "nope=https://x", "openai=ftp://x"] {
            assert_eq!(config(&[("DIRECT_BASE_URLS", bad)]).expect_err(bad).var, "DIRECT_BASE_URLS");
        }
    }

    #[test]
    fn throttle_thresholds_are_read_and_bounded() {
        let cfg = config(&[("THROTTLE_MIN_KEYS", "0"), ("THROTTLE_PAUSE_SECONDS", "2")]).expect("valid");
        assert_eq!((cfg.breaker.min_keys, cfg.breaker.pause_s, cfg.breaker.percent), (0, 2, 80));
        assert_eq!(config(&[("THROTTLE_PERCENT", "0")]).expect_err("0 %").var, "THROTTLE_PERCENT");
    }

    #[test]
    fn model_aliases_map_client_names_to_pool_models_first_match_first() {
        let cfg = config(&[(
            "MODEL_ALIASES",
            " claude-haiku-*=google-ai-studio/gemini-2.5-flash-lite,\nclaude-*=google-ai-studio/gemini-2.5-pro , gpt-5.5=openrouter/openai/gpt-5",
        )])
        .expect("valid");
        let target = |name: &str| cfg.alias_for(name).map(|a| (a.provider, a.model.as_str()));
        assert_eq!(target("claude-haiku-4-5-20251001"), Some(("google-ai-studio", "gemini-2.5-flash-lite")));
        assert_eq!(target("claude-sonnet-4-5"), Some(("google-ai-studio", "gemini-2.5-pro")), "the first match wins");
        assert_eq!(target("gpt-5.5"), Some(("openrouter", "openai/gpt-5")), "split on the first '/'");
        assert_eq!(target("gpt-5.5-mini"), None, "a pattern without '*' is one name");
        assert_eq!(target("Claude-sonnet"), None, "case matters, as it does to providers");
        assert!(config(&[]).expect("defaults").model_aliases.is_empty());
    }

    #[test]
    fn model_aliases_refuse_what_could_not_be_routed() {
        for bad in [
            "claude-*",
            "claude-*=gemini-2.5-flash",
            "claude-*=nope/x",
            "claude-*=google-vertex-ai/gemini",
            "*=openai/gpt-4o",
            "openai/*=openrouter/openai/x",
            "a*b=openai/gpt-4o",
            "claude-*=openai/",
            "claude-*=openai/bad\"model",
        ] {
            let err = config(&[("MODEL_ALIASES", bad)]).expect_err(bad);
            assert_eq!(err.var, "MODEL_ALIASES", "{bad}");
        }
    }

    #[test]
    fn a_gateway_name_with_a_slash_is_refused() {
        let err = config(&[("AI_GATEWAY", "ok,../evil")]).expect_err("path characters");
        assert_eq!(err.var, "AI_GATEWAY");
    }

    #[test]
    fn the_base_url_override_loses_its_trailing_slash() {
        let cfg = config(&[("AI_GATEWAY_BASE_URL", "http://127.0.0.1:9000/v1/acc/gw/")]).expect("valid");
        assert_eq!(cfg.gateway_base_url.as_deref(), Some("http://127.0.0.1:9000/v1/acc/gw"));
        assert!(config(&[("AI_GATEWAY_BASE_URL", "ftp://x")]).is_err());
    }
}
