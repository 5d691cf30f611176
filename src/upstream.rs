//! Where an attempt goes and what it carries: the upstream URL, and which client headers may travel with it.
//!
//! The base is the provider's own base URL for providers listed in `DIRECT_PROVIDERS`; else AI Gateway
//! (`https://gateway.ai.cloudflare.com/v1/{account}/{gateway}`, one gateway picked per attempt), or
//! `AI_GATEWAY_BASE_URL` when set; with neither an account id nor a base URL, direct mode again (so a newcomer with
//! only provider keys can run the Worker locally). Client headers pass
//! through an allow-list: credentials, cookies and client IP headers never leave the Worker.

use crate::config::Config;
use crate::providers::Provider;

/// The base URL a provider's requests go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// Through AI Gateway: `{base}/{slug}/{rest}`.
    Gateway(String),
    /// Straight to the provider: `{direct base}/{rest}`.
    Direct(String),
}

/// Why a provider cannot be reached with this configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoRoute;

/// The base URL for `provider`'s next attempt; `gateway_pick` chooses among several gateway names.
pub fn base_for(config: &Config, provider: &Provider, gateway_pick: usize) -> Result<Base, NoRoute> {
    if config.direct_providers.contains(&provider.slug) {
        return direct(config, provider);
    }
    if let Some(base) = &config.gateway_base_url {
        return Ok(Base::Gateway(base.clone()));
    }
    match (&config.account_id, config.gateways.is_empty()) {
        (Some(account), false) => {
            let gateway = &config.gateways[gateway_pick % config.gateways.len()];
            Ok(Base::Gateway(format!("https://gateway.ai.cloudflare.com/v1/{account}/{gateway}")))
        }
        _ => direct(config, provider),
    }
}

fn direct(config: &Config, provider: &Provider) -> Result<Base, NoRoute> {
    let replacement = config.direct_base_urls.iter().find(|(slug, _)| *slug == provider.slug).map(|(_, url)| url.clone());
    replacement.or(provider.direct_base.map(str::to_string)).map(Base::Direct).ok_or(NoRoute)
}

/// The full upstream URL for `rest` under `segment` (the provider slug, or `compat` for AI Gateway's own
/// OpenAI-compatible endpoint) and the client's query, minus `key`. A direct route has no segment.
pub fn upstream_url(base: &Base, segment: &str, rest: &str, query: &str) -> String {
    let query = query_without_key(query);
    let separator = if query.is_empty() { "" } else { "?" };
    match base {
        Base::Gateway(base) => format!("{base}/{segment}/{rest}{separator}{query}"),
        Base::Direct(base) => format!("{base}/{rest}{separator}{query}"),
    }
}

/// The query string without any `key=` parameter (Gemini's way to pass a key; it is the service key here).
pub fn query_without_key(query: &str) -> String {
    query
        .split('&')
        .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some("key"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The value of `name` in a raw query string, percent-decoded.
pub fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| percent_decode(value))
    })
}

/// Every `(name, value)` pair of a raw query string, both percent-decoded (`+` is a space), in order.
pub fn query_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|pair| !pair.is_empty()).map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(key), percent_decode(value))
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |i: usize| bytes.get(i).and_then(|b| (*b as char).to_digit(16));
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(high), Some(low)) => {
                out.extend(u8::try_from(high * 16 + low).ok());
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (other, _, _) => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Client request headers that travel upstream (lower-case). Everything else — `authorization`, the providers'
/// key headers, `cookie`, `cf-connecting-ip`, `x-forwarded-for`, `x-real-ip`, `true-client-ip`, `cf-aig-authorization`
/// — stays behind.
pub const FORWARDED_REQUEST_HEADERS: &[&str] = &[
    "accept",
    "anthropic-beta",
    "anthropic-version",
    "cf-aig-cache-key",
    "cf-aig-cache-ttl",
    "cf-aig-skip-cache",
    "content-type",
    "http-referer",
    "openai-beta",
    "user-agent",
    "x-goog-api-client",
    "x-title",
];

/// Upstream response headers the client may see (lower-case, sorted); every other header is dropped. An allow-list,
/// because upstreams add headers that describe the pool key's owner — `openai-organization`, `openai-project`,
/// `anthropic-organization-id`, cookies — and a restricted client must learn nothing about whose key served it.
///
/// Kept: the body's type and attachment name, caching and retry hints, request ids (for the caller's bug reports;
/// they identify one request, not an account), the provider's processing time and API version, and AI Gateway's
/// cache status. Not kept, on purpose: `content-encoding` and `content-length` (the runtime hands the Worker a
/// decoded body and sets both itself on the way out; a copied `content-encoding` would make it re-compress a
/// stream), `transfer-encoding` and `connection` (hop-by-hop, the runtime's), `location` (a redirect is not
/// followed and may point at a signed URL), `www-authenticate` (about the pool key, not the caller).
pub const ALLOWED_RESPONSE_HEADERS: &[&str] = &[
    "anthropic-request-id",
    "cache-control",
    "cf-aig-cache-status",
    "content-disposition",
    "content-type",
    "etag",
    "last-modified",
    "openai-processing-ms",
    "openai-version",
    "request-id",
    "retry-after",
    "retry-after-ms",
    "x-request-id",
];

/// Prefixes of upstream response headers the client may see: the rate-limit figures of every provider
/// (`x-ratelimit-*` of OpenAI, Groq, Cerebras and OpenRouter, Mistral's `x-ratelimitbysize-*`, Anthropic's
/// `anthropic-ratelimit-*`), which tell a client when to slow down.
pub const ALLOWED_RESPONSE_HEADER_PREFIXES: &[&str] = &["anthropic-ratelimit-", "x-ratelimit"];

/// Whether an upstream response header may reach the client (`name` in any case).
pub fn is_allowed_response_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ALLOWED_RESPONSE_HEADERS.binary_search(&name.as_str()).is_ok()
        || ALLOWED_RESPONSE_HEADER_PREFIXES.iter().any(|prefix| name.starts_with(prefix))
}

/// AI Gateway's cache is scoped to one service key: a client opts in by naming a cache key (`cf-aig-cache-key`, with
/// `cf-aig-cache-ttl` if it likes), and the Worker sends the gateway `ob{position}-{hash}` instead — the client's key
/// hashed together with the position of its service key's definition, so no two service keys ever share a cached
/// answer. A request that names no cache key is sent with `cf-aig-skip-cache: true` (and its `cf-aig-cache-ttl`
/// dropped), so a cache the operator turned on for the whole gateway cannot mix callers either.
pub fn scoped_cache_key(position: usize, client_key: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new().chain_update(position.to_le_bytes()).chain_update(client_key.as_bytes()).finalize();
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("ob{position}-{hex}")
}

/// One line of the `x-one-balance-attempts` response header: which keys were tried and what each answer meant.
pub fn attempts_header(attempts: &[(String, &'static str)]) -> String {
    attempts.iter().map(|(id, verdict)| format!("{id}={verdict}")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::find;

    fn config(vars: &[(&str, &str)]) -> Config {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())).expect("valid")
    }

    #[test]
    fn gateway_urls_join_account_gateway_slug_path_and_query() {
        let cfg = config(&[("CLOUDFLARE_ACCOUNT_ID", "abc123"), ("AI_GATEWAY", "gw1,gw2")]);
        let gemini = find("google-ai-studio").expect("listed");
        let base = base_for(&cfg, gemini, 1).expect("routable");
        assert_eq!(base, Base::Gateway("https://gateway.ai.cloudflare.com/v1/abc123/gw2".to_string()));
        let url = upstream_url(&base, gemini.slug, "v1beta/models/gemini-2.5-flash:streamGenerateContent", "alt=sse&key=SECRET");
        assert_eq!(
            url,
            "https://gateway.ai.cloudflare.com/v1/abc123/gw2/google-ai-studio/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
    }

    #[test]
    fn the_base_url_override_wins_and_direct_mode_needs_a_direct_base() {
        let openai = find("openai").expect("listed");
        let cfg = config(&[("AI_GATEWAY_BASE_URL", "http://127.0.0.1:9/v1/a/g"), ("CLOUDFLARE_ACCOUNT_ID", "abc")]);
        assert_eq!(upstream_url(&base_for(&cfg, openai, 0).expect("ok"), "openai", "models", ""), "http://127.0.0.1:9/v1/a/g/openai/models");
        let bare = config(&[]);
        let direct = base_for(&bare, openai, 0).expect("openai has a direct base");
        assert_eq!(upstream_url(&direct, "openai", "chat/completions", ""), "https://api.openai.com/v1/chat/completions");
        assert_eq!(base_for(&bare, find("workers-ai").expect("listed"), 0), Err(NoRoute));
    }

    #[test]
    fn direct_providers_skip_the_gateway_even_when_one_is_configured() {
        let cfg = config(&[("CLOUDFLARE_ACCOUNT_ID", "abc"), ("DIRECT_PROVIDERS", "openrouter")]);
        let openrouter = find("openrouter").expect("listed");
        assert_eq!(base_for(&cfg, openrouter, 0), Ok(Base::Direct("https://openrouter.ai/api".to_string())));
        let relayed = config(&[("DIRECT_PROVIDERS", "openrouter"), ("DIRECT_BASE_URLS", "openrouter=http://127.0.0.1:7")]);
        assert_eq!(base_for(&relayed, openrouter, 0), Ok(Base::Direct("http://127.0.0.1:7".to_string())));
        assert!(matches!(base_for(&cfg, find("openai").expect("listed"), 0), Ok(Base::Gateway(_))));
    }

    #[test]
    fn only_the_key_parameter_is_dropped_from_the_query() {
        assert_eq!(query_without_key("key=a&alt=sse&keyed=1&key=b&&x"), "alt=sse&keyed=1&x");
        assert_eq!(query_without_key(""), "");
        assert_eq!(query_param("alt=sse&key=a%2Bb+c", "key").as_deref(), Some("a+b c"));
        assert_eq!(query_param("key=%zz%4", "key").as_deref(), Some("%zz%4"));
        assert_eq!(query_param("alt=sse", "key"), None);
    }

    #[test]
    fn credentials_cookies_and_client_ips_are_not_on_the_allow_list() {
        for secret in ["authorization", "x-goog-api-key", "x-api-key", "api-key", "cookie", "cf-connecting-ip", "x-forwarded-for", "x-real-ip", "true-client-ip", "cf-aig-authorization"] {
            assert!(!FORWARDED_REQUEST_HEADERS.contains(&secret), "{secret}");
        }
        assert!(FORWARDED_REQUEST_HEADERS.windows(2).all(|w| w[0] < w[1]), "sorted, lower-case");
    }

    #[test]
    fn gateway_cache_keys_are_scoped_to_one_service_key() {
        let a = scoped_cache_key(1, "conversation-42");
        assert_eq!(a, scoped_cache_key(1, "conversation-42"), "stable");
        assert_ne!(a, scoped_cache_key(2, "conversation-42"), "another service key, another cache entry");
        assert_ne!(a, scoped_cache_key(1, "conversation-43"));
        assert!(a.starts_with("ob1-") && a.len() == 4 + 32 && !a.contains("conversation"), "{a}");
    }

    #[test]
    fn the_attempts_header_lists_short_ids_and_verdicts() {
        let line = attempts_header(&[("1a2b3c4d".to_string(), "rate_limited"), ("9f8e7d6c".to_string(), "ok")]);
        assert_eq!(line, "1a2b3c4d=rate_limited, 9f8e7d6c=ok");
    }

    #[test]
    fn account_ids_cookies_and_hop_headers_are_not_on_the_response_allow_list() {
        for leak in [
            "openai-organization",
            "openai-project",
            "anthropic-organization-id",
            "set-cookie",
            "set-cookie2",
            "x-goog-api-key",
            "authorization",
            "www-authenticate",
            "location",
            "content-encoding",
            "content-length",
            "transfer-encoding",
            "connection",
            "cf-aig-log-id",
            "x-organization-id",
        ] {
            assert!(!is_allowed_response_header(leak), "{leak}");
            assert!(!is_allowed_response_header(&leak.to_ascii_uppercase()), "{leak} in upper case");
        }
    }

    #[test]
    fn rate_limit_figures_request_ids_and_the_body_type_pass() {
        for kept in [
            "Content-Type",
            "retry-after",
            "x-request-id",
            "request-id",
            "x-ratelimit-remaining-requests",
            "X-RateLimit-Reset",
            "x-ratelimitbysize-limit-minute",
            "anthropic-ratelimit-tokens-reset",
            "openai-processing-ms",
            "cf-aig-cache-status",
        ] {
            assert!(is_allowed_response_header(kept), "{kept}");
        }
        assert!(ALLOWED_RESPONSE_HEADERS.windows(2).all(|w| w[0] < w[1]), "sorted (binary search), lower-case");
        assert!(ALLOWED_RESPONSE_HEADERS.iter().chain(ALLOWED_RESPONSE_HEADER_PREFIXES).all(|h| *h == h.to_ascii_lowercase()));
    }
}
