//! The provider data table: every fact about an AI provider that the Worker acts on, in one place.
//!
//! A row says where a pool key goes upstream, which OpenAI-compatible paths the provider offers behind AI Gateway,
//! its own base URL for direct mode, and when its daily quotas reset. Code elsewhere looks a provider up here and
//! reads its fields; it does not `match` on provider names. Facts marked "verify" in `shared/PROVIDERS.md` live only
//! here, so one edit fixes them.

/// Where a key (the caller's service key, or the pool key sent upstream) travels in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPlacement {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// A header of the provider's own, holding the bare key.
    Header(&'static str),
}

impl KeyPlacement {
    /// The header name, lower-case.
    pub fn header_name(self) -> &'static str {
        match self {
            KeyPlacement::Bearer => "authorization",
            KeyPlacement::Header(name) => name,
        }
    }

    /// The header value that carries `key`.
    pub fn header_value(self, key: &str) -> String {
        match self {
            KeyPlacement::Bearer => format!("Bearer {key}"),
            KeyPlacement::Header(_) => key.to_string(),
        }
    }
}

/// When a provider's daily quotas start again; the long cooldown of the consecutive-429 rule ends then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DailyReset {
    /// Midnight in America/Los_Angeles (Gemini's free tier).
    PacificMidnight,
    /// Midnight UTC (OpenRouter's free daily limits).
    UtcMidnight,
    /// 24 hours from now, for providers that publish no reset time.
    Rolling24h,
}

/// Everything the Worker knows about one provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Provider {
    /// The AI Gateway slug, also the `{provider}` of `/api/{provider}/…` and the `provider` column in D1.
    pub slug: &'static str,
    /// Where the pool key goes on the provider's native paths.
    pub key_placement: KeyPlacement,
    /// Native paths under this prefix are the provider's OpenAI-compatible API and take `Authorization: Bearer`
    /// even when the native API uses another header (Gemini's `v1beta/openai/`).
    pub openai_prefix: Option<&'static str>,
    /// OpenAI-style chat completions path after the slug, when the provider has one.
    pub chat_path: Option<&'static str>,
    /// OpenAI-style embeddings path after the slug, when the provider has one.
    pub embeddings_path: Option<&'static str>,
    /// Native models listing after the slug (a cheap request that proves a key works).
    pub models_path: Option<&'static str>,
    /// The provider's own base URL, for direct mode (no AI Gateway).
    pub direct_base: Option<&'static str>,
    /// The prefix AI Gateway's deprecated `compat/chat/completions` endpoint expects in `model`.
    pub compat_prefix: &'static str,
    /// When daily quotas reset.
    pub daily_reset: DailyReset,
    /// Whether callers may pass the service key as `?key=` (Gemini's convention).
    pub accepts_query_key: bool,
    /// Cheap models for a one-token generation probe (the scheduled re-check of exhausted keys), in order of
    /// preference; the first one the key is not cooling for is used. Names are the providers' own (verify).
    pub probe_models: &'static [&'static str],
    /// Whether a pool of static keys makes sense (not for OAuth or request-signing providers).
    pub poolable: bool,
}

const fn row(slug: &'static str, key_placement: KeyPlacement) -> Provider {
    Provider {
        slug,
        key_placement,
        openai_prefix: None,
        chat_path: None,
        embeddings_path: None,
        models_path: None,
        direct_base: None,
        compat_prefix: slug,
        daily_reset: DailyReset::Rolling24h,
        accepts_query_key: false,
        probe_models: &[],
        poolable: true,
    }
}

const BEARER: KeyPlacement = KeyPlacement::Bearer;

/// Every provider AI Gateway serves, sorted by slug.
pub const PROVIDERS: &[Provider] = &[
    Provider {
        chat_path: Some("v1/chat/completions"),
        models_path: Some("v1/models"),
        direct_base: Some("https://api.anthropic.com"),
        probe_models: &["claude-3-5-haiku-latest", "claude-haiku-4-5"],
        ..row("anthropic", KeyPlacement::Header("x-api-key"))
    },
    Provider { poolable: false, ..row("aws-bedrock", BEARER) },
    Provider { ..row("azure-openai", KeyPlacement::Header("api-key")) },
    Provider { ..row("cartesia", KeyPlacement::Header("x-api-key")) },
    Provider {
        chat_path: Some("chat/completions"),
        models_path: Some("models"),
        direct_base: Some("https://api.cerebras.ai/v1"),
        probe_models: &["llama3.1-8b"],
        ..row("cerebras", BEARER)
    },
    Provider { models_path: Some("v2/models"), direct_base: Some("https://api.cohere.com"), ..row("cohere", BEARER) },
    Provider {
        chat_path: Some("chat/completions"),
        models_path: Some("models"),
        direct_base: Some("https://api.deepseek.com"),
        probe_models: &["deepseek-chat"],
        ..row("deepseek", BEARER)
    },
    Provider { ..row("elevenlabs", KeyPlacement::Header("x-api-key")) },
    Provider {
        openai_prefix: Some("v1beta/openai/"),
        chat_path: Some("v1beta/openai/chat/completions"),
        embeddings_path: Some("v1beta/openai/embeddings"),
        models_path: Some("v1beta/models"),
        direct_base: Some("https://generativelanguage.googleapis.com"),
        daily_reset: DailyReset::PacificMidnight,
        accepts_query_key: true,
        probe_models: &["gemini-2.5-flash-lite", "gemini-2.0-flash"],
        ..row("google-ai-studio", KeyPlacement::Header("x-goog-api-key"))
    },
    Provider { poolable: false, ..row("google-vertex-ai", BEARER) },
    Provider {
        chat_path: Some("v1/chat/completions"),
        models_path: Some("v1/models"),
        direct_base: Some("https://api.x.ai"),
        probe_models: &["grok-3-mini"],
        ..row("grok", BEARER)
    },
    Provider {
        chat_path: Some("chat/completions"),
        embeddings_path: Some("embeddings"),
        models_path: Some("models"),
        direct_base: Some("https://api.groq.com/openai/v1"),
        probe_models: &["llama-3.1-8b-instant"],
        ..row("groq", BEARER)
    },
    Provider { ..row("huggingface", BEARER) },
    Provider {
        chat_path: Some("v1/chat/completions"),
        embeddings_path: Some("v1/embeddings"),
        models_path: Some("v1/models"),
        direct_base: Some("https://api.mistral.ai"),
        probe_models: &["mistral-small-latest"],
        ..row("mistral", BEARER)
    },
    Provider {
        chat_path: Some("chat/completions"),
        embeddings_path: Some("embeddings"),
        models_path: Some("models"),
        direct_base: Some("https://api.openai.com/v1"),
        probe_models: &["gpt-4o-mini", "gpt-4.1-nano"],
        ..row("openai", BEARER)
    },
    Provider {
        chat_path: Some("v1/chat/completions"),
        embeddings_path: Some("v1/embeddings"),
        models_path: Some("v1/models"),
        direct_base: Some("https://openrouter.ai/api"),
        daily_reset: DailyReset::UtcMidnight,
        probe_models: &["openai/gpt-4o-mini"],
        ..row("openrouter", BEARER)
    },
    Provider {
        chat_path: Some("chat/completions"),
        direct_base: Some("https://api.perplexity.ai"),
        compat_prefix: "perplexity",
        probe_models: &["sonar"],
        ..row("perplexity-ai", BEARER)
    },
    Provider { ..row("replicate", BEARER) },
    Provider {
        chat_path: Some("v1/chat/completions"),
        embeddings_path: Some("v1/embeddings"),
        models_path: Some("v1/models"),
        probe_models: &["@cf/meta/llama-3.1-8b-instruct"],
        ..row("workers-ai", BEARER)
    },
];

/// The provider with this slug, if AI Gateway serves it.
pub fn find(slug: &str) -> Option<&'static Provider> {
    PROVIDERS.binary_search_by(|p| p.slug.cmp(slug)).ok().map(|i| &PROVIDERS[i])
}

/// Why a slug cannot be pooled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unpoolable {
    /// AI Gateway serves no provider by that name.
    Unknown,
    /// The provider authenticates with OAuth or request signing, not static API keys.
    NoStaticKeys,
}

/// The provider with this slug, when it can be pooled.
pub fn find_poolable(slug: &str) -> Result<&'static Provider, Unpoolable> {
    match find(slug) {
        Some(provider) if provider.poolable => Ok(provider),
        Some(_) => Err(Unpoolable::NoStaticKeys),
        None => Err(Unpoolable::Unknown),
    }
}

impl Provider {
    /// Where the pool key goes for a request to `rest` (the path after the slug).
    pub fn key_placement_for(&self, rest: &str) -> KeyPlacement {
        match self.openai_prefix {
            Some(prefix) if rest.starts_with(prefix) => KeyPlacement::Bearer,
            _ => self.key_placement,
        }
    }

    /// Where a caller may present the service key on this provider's native route: the provider's own header,
    /// and `Authorization: Bearer` too when the provider also speaks the OpenAI dialect natively.
    pub fn service_key_placements(&self) -> impl Iterator<Item = KeyPlacement> {
        [Some(self.key_placement), self.openai_prefix.map(|_| KeyPlacement::Bearer)].into_iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_by_slug_without_duplicates() {
        for pair in PROVIDERS.windows(2) {
            assert!(pair[0].slug < pair[1].slug, "{} must sort before {}", pair[0].slug, pair[1].slug);
        }
    }

    #[test]
    fn slugs_and_paths_are_url_safe_and_relative() {
        for p in PROVIDERS {
            assert!(p.slug.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'), "{}", p.slug);
            for path in [p.chat_path, p.embeddings_path, p.models_path, p.openai_prefix].into_iter().flatten() {
                assert!(!path.starts_with('/') && !path.contains(".."), "{}: {path}", p.slug);
            }
            if let Some(base) = p.direct_base {
                assert!(base.starts_with("https://") && !base.ends_with('/'), "{}: {base}", p.slug);
            }
        }
    }

    #[test]
    fn gemini_uses_its_own_header_natively_and_bearer_on_its_openai_path() {
        let gemini = find("google-ai-studio").expect("gemini is in the table");
        assert_eq!(gemini.key_placement_for("v1beta/models/gemini-2.5-flash:generateContent").header_name(), "x-goog-api-key");
        assert_eq!(gemini.key_placement_for("v1beta/openai/chat/completions").header_name(), "authorization");
        assert!(gemini.accepts_query_key);
        let placements: Vec<_> = gemini.service_key_placements().collect();
        assert_eq!(placements, vec![KeyPlacement::Header("x-goog-api-key"), KeyPlacement::Bearer]);
        assert_eq!(gemini.daily_reset, DailyReset::PacificMidnight);
    }

    #[test]
    fn other_providers_take_the_service_key_only_where_they_take_their_own_key() {
        let anthropic = find("anthropic").expect("listed");
        assert_eq!(anthropic.service_key_placements().collect::<Vec<_>>(), vec![KeyPlacement::Header("x-api-key")]);
        assert!(!find("openai").expect("listed").accepts_query_key);
        for p in PROVIDERS {
            if let KeyPlacement::Header(name) = p.key_placement {
                assert_eq!(name, name.to_ascii_lowercase(), "{}: header names are stored lower-case", p.slug);
            }
        }
    }

    #[test]
    fn providers_with_probe_models_have_a_chat_path_to_probe_on() {
        for p in PROVIDERS.iter().filter(|p| !p.probe_models.is_empty()) {
            assert!(p.chat_path.is_some(), "{}", p.slug);
        }
    }

    #[test]
    fn bearer_header_value_has_the_scheme() {
        assert_eq!(KeyPlacement::Bearer.header_value("sk-1"), "Bearer sk-1");
        assert_eq!(KeyPlacement::Header("x-api-key").header_value("sk-1"), "sk-1");
    }

    #[test]
    fn only_known_providers_with_static_keys_can_be_pooled() {
        assert_eq!(find_poolable("openai").map(|p| p.slug), Ok("openai"));
        assert_eq!(find_poolable("aws-bedrock"), Err(Unpoolable::NoStaticKeys));
        assert_eq!(find_poolable("nope"), Err(Unpoolable::Unknown));
    }

    #[test]
    fn unknown_and_unpoolable_providers_are_told_apart() {
        assert!(find("no-such-provider").is_none());
        assert!(!find("google-vertex-ai").expect("listed").poolable);
        assert_eq!(find("perplexity-ai").expect("listed").compat_prefix, "perplexity");
    }
}
