//! The provider data table: every fact about an AI provider that the Worker acts on, in one place.
//!
//! A row says where a pool key goes upstream, which OpenAI-compatible paths the provider offers behind AI Gateway,
//! its own base URL for direct mode, when its daily quotas reset, and every place a request may name a model (so a
//! service key restricted to some models cannot reach another through a place nobody checked). Code elsewhere looks
//! a provider up here and reads its fields; it does not `match` on provider names. Facts marked "verify" in
//! `shared/PROVIDERS.md` live only here, so one edit fixes them. Each row has a test of its own below the table
//! (`row_<slug>`), and table-wide invariants are tested too.


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

/// A place where a request may name a model. `request_model::named_models` reads every place of a provider's row
/// for a service key restricted to some models; the cooldown model stays `request_model::model_of`'s (the body's
/// `model`, else the path's `models/{m}`), which every row's places include.
///
/// Body member names are matched the way the laxest upstream parser would: ASCII case and `_` ignored, so
/// `model_id`, `modelId` and `ModelID` are one name (Google's protobuf JSON takes both `base_model` and `baseModel`;
/// Go's `encoding/json` matches struct fields case-insensitively).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelPlace {
    /// A top-level string member of the JSON body: `model`, ElevenLabs' and Cartesia's `model_id`, Replicate's
    /// `version`, Gemini's `baseModel` (tuning).
    BodyField(&'static str),
    /// A top-level array of model names in the JSON body: OpenRouter's `models` fallback list
    /// (<https://openrouter.ai/docs/features/model-routing>).
    BodyList(&'static str),
    /// Every string member named `field`, at any depth, inside the top-level member `under`: the models of tools
    /// (OpenAI Responses' `{"type":"image_generation","model":"gpt-image-1"}`), of graders, of transcription
    /// settings, of Gemini's `countTokens` (`generateContentRequest.model`) and `batchEmbedContents`
    /// (`requests[].model`).
    BodyNested {
        /// The top-level member searched.
        under: &'static str,
        /// The member name that holds a model.
        field: &'static str,
    },
    /// A query parameter: OpenAI Realtime's `?model=`, ElevenLabs' streaming `?model_id=`.
    Query(&'static str),
    /// The path segment after every segment with this name, up to a `:`: Gemini's
    /// `v1beta/models/{model}:generateContent` names `{model}`.
    PathSegmentAfter(&'static str),
    /// Like [`ModelPlace::PathSegmentAfter`], but the model is named with its collection, `{collection}/{name}`:
    /// Gemini's `tunedModels/{m}:generateContent` names `tunedModels/{m}`, which a base model of the same name
    /// does not allow.
    PathResourceAfter(&'static str),
    /// The two segments `{owner}/{name}` after every segment with this name: Replicate's
    /// `models/{owner}/{name}/predictions` and `deployments/{owner}/{name}/predictions`.
    PathOwnerAndNameAfter(&'static str),
    /// AI Gateway's Azure OpenAI form `{resource}/{deployment}/{operation…}`: the deployment names the model
    /// (<https://developers.cloudflare.com/ai-gateway/usage/providers/azureopenai/>). A path with fewer segments
    /// cannot be checked.
    AzureDeployment,
    /// Workers AI through AI Gateway, `workers-ai/@cf/{org}/{model}` (or `@hf/…`): everything from the first
    /// segment that starts with `@` is the model. `v1/…` is its OpenAI-compatible API (model in the body); any
    /// other path cannot be checked.
    WorkersAiPath,
    /// HuggingFace through AI Gateway, `huggingface/{org}/{model}` or `huggingface/{model}`: the whole path is
    /// the model (<https://developers.cloudflare.com/ai-gateway/usage/providers/huggingface/>). `v1/…` is the
    /// OpenAI-compatible router (model in the body).
    HuggingFacePath,
}

/// The shape of an error body: which SDK family reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorShape {
    /// `{"error":{"message","type","code"}}`: the OpenAI SDKs, and everything that copies them (Gemini's SDK reads
    /// `error.message` too).
    #[default]
    OpenAi,
    /// `{"type":"error","error":{"type","message"}}`, the type following the status: Anthropic's SDKs and Claude Code.
    Anthropic,
}

/// What the chat-completions converters ([`crate::convert`]) must know about a provider's chat API, for clients
/// that speak Anthropic Messages or OpenAI Responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChatQuirks {
    /// The output-token limit goes in `max_completion_tokens` (OpenAI's reasoning models refuse `max_tokens`; every
    /// OpenAI chat model takes the new name), else in `max_tokens`.
    pub max_completion_tokens: bool,
    /// The chat API takes `user` (OpenAI, OpenRouter, Groq). Gemini's OpenAI endpoint answers 400 "Unknown name"
    /// for fields it does not know, so it is off unless known.
    pub takes_user: bool,
    /// Gemini's thought signatures go back on assistant tool calls (`extra_content.google.thought_signature`);
    /// Gemini 3 requires them, other providers refuse the unknown field.
    pub thought_signatures: bool,
}

use ModelPlace::{BodyField, BodyList, BodyNested, PathOwnerAndNameAfter, PathResourceAfter, PathSegmentAfter, Query};

/// Tools may carry a model of their own: OpenAI Responses' image generation tool, and whatever an
/// OpenAI-compatible provider copies of it.
const TOOL_MODELS: ModelPlace = BodyNested { under: "tools", field: "model" };

/// The places of a provider that speaks the OpenAI dialect: the body's `model`, tool models, `models/{m}` paths
/// and `?model=`.
const OPENAI_STYLE: &[ModelPlace] = &[BodyField("model"), PathSegmentAfter("models"), TOOL_MODELS, Query("model")];

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
    /// Every place a request to this provider may name a model.
    pub model_places: &'static [ModelPlace],
    /// A prefix a body model may carry that names the same model: Google's resource names (`models/{m}`).
    pub body_model_prefix: Option<&'static str>,
    /// The version prefix of the provider's own API that the slug already stands for (PROVIDERS.md: OpenAI's
    /// slug is `api.openai.com/v1`). Guides write base URLs with it (`…/api/openai/v1`), so a native path that
    /// starts with it has it removed ([`Provider::native_rest`]) instead of reaching `/v1/v1/…` upstream.
    pub slug_version: Option<&'static str>,
    /// Anthropic's Messages API path after the slug, for providers that serve it natively; a Messages request
    /// for any other provider is converted to its chat API.
    pub messages_path: Option<&'static str>,
    /// OpenAI's Responses API path after the slug, for providers that serve it natively and keep its state
    /// (`previous_response_id`, `store`); a Responses request for any other provider is converted, statelessly.
    pub responses_path: Option<&'static str>,
    /// What the chat converters must know about the provider's chat API.
    pub chat_quirks: ChatQuirks,
    /// The shape of the Worker's own errors on the provider's native routes: the one its SDKs read.
    pub error_shape: ErrorShape,
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
        model_places: OPENAI_STYLE,
        body_model_prefix: None,
        slug_version: None,
        messages_path: None,
        responses_path: None,
        chat_quirks: NO_QUIRKS,
        error_shape: ErrorShape::OpenAi,
    }
}

const BEARER: KeyPlacement = KeyPlacement::Bearer;

const NO_QUIRKS: ChatQuirks = ChatQuirks { max_completion_tokens: false, takes_user: false, thought_signatures: false };

/// Every provider AI Gateway serves, sorted by slug.
pub const PROVIDERS: &[Provider] = &[
    Provider {
        chat_path: Some("v1/chat/completions"),
        models_path: Some("v1/models"),
        direct_base: Some("https://api.anthropic.com"),
        probe_models: &["claude-3-5-haiku-latest", "claude-haiku-4-5"],
        model_places: &[BodyField("model"), PathSegmentAfter("models"), TOOL_MODELS],
        messages_path: Some("v1/messages"),
        error_shape: ErrorShape::Anthropic,
        ..row("anthropic", KeyPlacement::Header("x-api-key"))
    },
    Provider {
        poolable: false,
        model_places: &[BodyField("model"), PathSegmentAfter("models"), PathSegmentAfter("model")],
        ..row("aws-bedrock", BEARER)
    },
    Provider {
        model_places: &[BodyField("model"), PathSegmentAfter("models"), TOOL_MODELS, Query("model"), ModelPlace::AzureDeployment],
        ..row("azure-openai", KeyPlacement::Header("api-key"))
    },
    Provider {
        // Text to speech takes `model_id` (https://docs.cartesia.ai/api-reference/tts/bytes).
        model_places: &[BodyField("model"), PathSegmentAfter("models"), BodyField("model_id"), Query("model_id")],
        ..row("cartesia", KeyPlacement::Header("x-api-key"))
    },
    Provider {
        chat_path: Some("chat/completions"),
        models_path: Some("models"),
        direct_base: Some("https://api.cerebras.ai/v1"),
        probe_models: &["llama3.1-8b"],
        slug_version: Some("v1"),
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
    Provider {
        // Speech endpoints take `model_id` in the body, and `?model_id=` on the streaming ones
        // (https://elevenlabs.io/docs/api-reference/text-to-speech/convert).
        model_places: &[BodyField("model"), PathSegmentAfter("models"), BodyField("model_id"), Query("model_id"), Query("model")],
        ..row("elevenlabs", KeyPlacement::Header("x-api-key"))
    },
    Provider {
        openai_prefix: Some("v1beta/openai/"),
        chat_path: Some("v1beta/openai/chat/completions"),
        embeddings_path: Some("v1beta/openai/embeddings"),
        models_path: Some("v1beta/models"),
        direct_base: Some("https://generativelanguage.googleapis.com"),
        daily_reset: DailyReset::PacificMidnight,
        accepts_query_key: true,
        probe_models: &["gemini-2.5-flash-lite", "gemini-2.0-flash"],
        // https://ai.google.dev/api: `countTokens` nests a whole request (`generateContentRequest.model`),
        // `batchEmbedContents` lists requests with their own `model`, a batch names its `model`, tuning names a
        // `baseModel`, and tuned models are served at `tunedModels/{m}:generateContent`.
        model_places: &[
            BodyField("model"),
            PathSegmentAfter("models"),
            PathResourceAfter("tunedModels"),
            BodyField("baseModel"),
            BodyNested { under: "generateContentRequest", field: "model" },
            BodyNested { under: "requests", field: "model" },
            BodyNested { under: "batch", field: "model" },
            TOOL_MODELS,
        ],
        body_model_prefix: Some("models/"),
        chat_quirks: ChatQuirks { thought_signatures: true, ..NO_QUIRKS },
        ..row("google-ai-studio", KeyPlacement::Header("x-goog-api-key"))
    },
    Provider {
        poolable: false,
        model_places: &[BodyField("model"), PathSegmentAfter("models")],
        body_model_prefix: Some("models/"),
        ..row("google-vertex-ai", BEARER)
    },
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
        slug_version: Some("openai/v1"),
        chat_quirks: ChatQuirks { takes_user: true, ..NO_QUIRKS },
        ..row("groq", BEARER)
    },
    Provider {
        model_places: &[BodyField("model"), PathSegmentAfter("models"), TOOL_MODELS, ModelPlace::HuggingFacePath],
        ..row("huggingface", BEARER)
    },
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
        // Models nest in Realtime sessions (`input_audio_transcription.model`, `session.model`,
        // `audio.input.transcription.model`), eval graders and runs (`testing_criteria`, `data_source`), and
        // fine-tuning methods and graders (`method`, `grader`); Realtime also takes `?model=`.
        model_places: &[
            BodyField("model"),
            PathSegmentAfter("models"),
            TOOL_MODELS,
            Query("model"),
            BodyNested { under: "input_audio_transcription", field: "model" },
            BodyNested { under: "session", field: "model" },
            BodyNested { under: "audio", field: "model" },
            BodyNested { under: "testing_criteria", field: "model" },
            BodyNested { under: "data_source", field: "model" },
            BodyNested { under: "method", field: "model" },
            BodyNested { under: "grader", field: "model" },
        ],
        slug_version: Some("v1"),
        responses_path: Some("responses"),
        chat_quirks: ChatQuirks { max_completion_tokens: true, takes_user: true, thought_signatures: false },
        ..row("openai", BEARER)
    },
    Provider {
        chat_path: Some("v1/chat/completions"),
        embeddings_path: Some("v1/embeddings"),
        models_path: Some("v1/models"),
        direct_base: Some("https://openrouter.ai/api"),
        daily_reset: DailyReset::UtcMidnight,
        probe_models: &["openai/gpt-4o-mini"],
        model_places: &[BodyField("model"), PathSegmentAfter("models"), TOOL_MODELS, Query("model"), BodyList("models")],
        chat_quirks: ChatQuirks { takes_user: true, ..NO_QUIRKS },
        ..row("openrouter", BEARER)
    },
    Provider {
        chat_path: Some("chat/completions"),
        direct_base: Some("https://api.perplexity.ai"),
        compat_prefix: "perplexity",
        probe_models: &["sonar"],
        ..row("perplexity-ai", BEARER)
    },
    Provider {
        // A prediction names its model by `version` ("owner/name" or a version id) or by its path
        // (https://replicate.com/docs/reference/http).
        model_places: &[
            BodyField("model"),
            PathOwnerAndNameAfter("models"),
            PathOwnerAndNameAfter("deployments"),
            BodyField("version"),
        ],
        ..row("replicate", BEARER)
    },
    Provider {
        chat_path: Some("v1/chat/completions"),
        embeddings_path: Some("v1/embeddings"),
        models_path: Some("v1/models"),
        probe_models: &["@cf/meta/llama-3.1-8b-instruct"],
        model_places: &[BodyField("model"), PathSegmentAfter("models"), TOOL_MODELS, Query("model"), ModelPlace::WorkersAiPath],
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

    /// `rest` (the path after the slug, as the client sent it) without a leading [`Provider::slug_version`]: the
    /// path the provider's own API has after the slug. `v1/responses` on OpenAI is `responses`; a path that does
    /// not start with the version is unchanged.
    pub fn native_rest<'a>(&self, rest: &'a str) -> &'a str {
        let Some(version) = self.slug_version else { return rest };
        match rest.strip_prefix(version) {
            Some("") => "",
            Some(after) => after.strip_prefix('/').unwrap_or(rest),
            None => rest,
        }
    }

    /// Whether a caller may present the service key as `?key=` on `rest` (the path after the slug): only on the
    /// provider's native paths, where it is the provider's own convention (Gemini), never on its OpenAI-compatible
    /// ones.
    pub fn takes_query_key(&self, rest: &str) -> bool {
        self.accepts_query_key && !self.openai_prefix.is_some_and(|prefix| rest.starts_with(prefix))
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

    // -----------------------------------------------------------------------------------------------------------
    // One test per row: what the Worker believes about that provider, stated once more so a change to the table
    // is a change to a test too.

    /// A row as a test states it.
    struct Row {
        key: KeyPlacement,
        chat: Option<&'static str>,
        embeddings: Option<&'static str>,
        models: Option<&'static str>,
        direct: Option<&'static str>,
        reset: DailyReset,
        poolable: bool,
        places: &'static [ModelPlace],
    }

    fn check(slug: &str, want: Row) -> &'static Provider {
        let p = find(slug).unwrap_or_else(|| panic!("{slug} is in the table"));
        assert_eq!(p.key_placement, want.key, "{slug}: key placement");
        assert_eq!(p.chat_path, want.chat, "{slug}: chat path");
        assert_eq!(p.embeddings_path, want.embeddings, "{slug}: embeddings path");
        assert_eq!(p.models_path, want.models, "{slug}: models path");
        assert_eq!(p.direct_base, want.direct, "{slug}: direct base");
        assert_eq!(p.daily_reset, want.reset, "{slug}: daily reset");
        assert_eq!(p.poolable, want.poolable, "{slug}: poolable");
        assert_eq!(p.model_places, want.places, "{slug}: model places");
        p
    }

    const OPENAI_PLACES: &[ModelPlace] = OPENAI_STYLE;

    #[test]
    fn row_anthropic_takes_x_api_key_and_names_models_in_the_body() {
        let p = check("anthropic", Row {
            key: KeyPlacement::Header("x-api-key"),
            chat: Some("v1/chat/completions"),
            embeddings: None,
            models: Some("v1/models"),
            direct: Some("https://api.anthropic.com"),
            reset: DailyReset::Rolling24h,
            poolable: true,
            places: &[BodyField("model"), PathSegmentAfter("models"), TOOL_MODELS],
        });
        assert_eq!(p.key_placement_for("v1/messages").header_name(), "x-api-key");
        assert!(!p.takes_query_key("v1/messages"));
    }

    #[test]
    fn row_aws_bedrock_is_listed_but_not_poolable() {
        check("aws-bedrock", Row {
            key: KeyPlacement::Bearer,
            chat: None,
            embeddings: None,
            models: None,
            direct: None,
            reset: DailyReset::Rolling24h,
            poolable: false,
            places: &[BodyField("model"), PathSegmentAfter("models"), PathSegmentAfter("model")],
        });
    }

    #[test]
    fn row_azure_openai_takes_api_key_and_names_the_deployment_in_the_path() {
        let p = check("azure-openai", Row {
            key: KeyPlacement::Header("api-key"),
            chat: None,
            embeddings: None,
            models: None,
            direct: None,
            reset: DailyReset::Rolling24h,
            poolable: true,
            places: &[BodyField("model"), PathSegmentAfter("models"), TOOL_MODELS, Query("model"), ModelPlace::AzureDeployment],
        });
        assert_eq!(p.key_placement_for("res/dep/chat/completions").header_name(), "api-key");
    }

    #[test]
    fn row_cartesia_takes_x_api_key_and_a_model_id() {
        check("cartesia", Row {
            key: KeyPlacement::Header("x-api-key"),
            chat: None,
            embeddings: None,
            models: None,
            direct: None,
            reset: DailyReset::Rolling24h,
            poolable: true,
            places: &[BodyField("model"), PathSegmentAfter("models"), BodyField("model_id"), Query("model_id")],
        });
    }

    #[test]
    fn row_cerebras_is_openai_style_with_a_v1_base() {
        check("cerebras", Row {
            key: KeyPlacement::Bearer,
            chat: Some("chat/completions"),
            embeddings: None,
            models: Some("models"),
            direct: Some("https://api.cerebras.ai/v1"),
            reset: DailyReset::Rolling24h,
            poolable: true,
            places: OPENAI_PLACES,
        });
    }

    #[test]
    fn row_cohere_lists_models_under_v2() {
        check("cohere", Row {
            key: KeyPlacement::Bearer,
            chat: None,
            embeddings: None,
            models: Some("v2/models"),
            direct: Some("https://api.cohere.com"),
            reset: DailyReset::Rolling24h,
            poolable: true,
            places: OPENAI_PLACES,
        });
    }

    #[test]
    fn row_deepseek_is_openai_style_without_v1() {
        check("deepseek", Row {
            key: KeyPlacement::Bearer,
            chat: Some("chat/completions"),
            embeddings: None,
            models: Some("models"),
            direct: Some("https://api.deepseek.com"),
            reset: DailyReset::Rolling24h,
            poolable: true,
            places: OPENAI_PLACES,
        });
    }

    #[test]
    fn row_elevenlabs_takes_x_api_key_and_model_id_in_body_and_query() {
        check("elevenlabs", Row {
            key: KeyPlacement::Header("x-api-key"),
            chat: None,
            embeddings: None,
            models: None,
            direct: None,
            reset: DailyReset::Rolling24h,
            poolable: true,
            places: &[BodyField("model"), PathSegmentAfter("models"), BodyField("model_id"), Query("model_id"), Query("model")],
        });
    }

    #[test]
    fn row_google_ai_studio_takes_x_goog_api_key_resets_at_pacific_midnight_and_names_models_in_paths_and_bodies() {
        let p = check("google-ai-studio", Row {
            key: KeyPlacement::Header("x-goog-api-key"),
            chat: Some("v1beta/openai/chat/completions"),
            embeddings: Some("v1beta/openai/embeddings"),
            models: Some("v1beta/models"),
            direct: Some("https://generativelanguage.googleapis.com"),
            reset: DailyReset::PacificMidnight,
            poolable: true,
            places: &[
                BodyField("model"),
                PathSegmentAfter("models"),
                PathResourceAfter("tunedModels"),
                BodyField("baseModel"),
                BodyNested { under: "generateContentRequest", field: "model" },
                BodyNested { under: "requests", field: "model" },
                BodyNested { under: "batch", field: "model" },
                TOOL_MODELS,
            ],
        });
        assert_eq!(p.body_model_prefix, Some("models/"));
        assert_eq!(p.key_placement_for("v1beta/models/gemini-2.5-flash:generateContent").header_name(), "x-goog-api-key");
        assert_eq!(p.key_placement_for("v1beta/openai/chat/completions").header_name(), "authorization");
        assert!(p.takes_query_key("v1beta/models/gemini-2.5-flash:generateContent"));
        assert!(!p.takes_query_key("v1beta/openai/chat/completions"), "?key= is Gemini's native convention only");
    }

    #[test]
    fn row_google_vertex_ai_is_listed_but_not_poolable() {
        let p = check("google-vertex-ai", Row {
            key: KeyPlacement::Bearer,
            chat: None,
            embeddings: None,
            models: None,
            direct: None,
            reset: DailyReset::Rolling24h,
            poolable: false,
            places: &[BodyField("model"), PathSegmentAfter("models")],
        });
        assert_eq!(p.body_model_prefix, Some("models/"));
    }

    #[test]
    fn row_grok_is_openai_style_under_v1() {
        check("grok", Row {
            key: KeyPlacement::Bearer,
            chat: Some("v1/chat/completions"),
            embeddings: None,
            models: Some("v1/models"),
            direct: Some("https://api.x.ai"),
            reset: DailyReset::Rolling24h,
            poolable: true,
            places: OPENAI_PLACES,
        });
    }

    #[test]
    fn row_groq_is_openai_style_with_embeddings() {
        check("groq", Row {
            key: KeyPlacement::Bearer,
            chat: Some("chat/completions"),
            embeddings: Some("embeddings"),
            models: Some("models"),
            direct: Some("https://api.groq.com/openai/v1"),
            reset: DailyReset::Rolling24h,
            poolable: true,
            places: OPENAI_PLACES,
        });
    }

    #[test]
    fn row_huggingface_names_the_model_by_the_path() {
        check("huggingface", Row {
            key: KeyPlacement::Bearer,
            chat: None,
            embeddings: None,
            models: None,
            direct: None,
            reset: DailyReset::Rolling24h,
            poolable: true,
            places: &[BodyField("model"), PathSegmentAfter("models"), TOOL_MODELS, ModelPlace::HuggingFacePath],
        });
    }

    #[test]
    fn row_mistral_is_openai_style_under_v1() {
        check("mistral", Row {
            key: KeyPlacement::Bearer,
            chat: Some("v1/chat/completions"),
            embeddings: Some("v1/embeddings"),
            models: Some("v1/models"),
            direct: Some("https://api.mistral.ai"),
            reset: DailyReset::Rolling24h,
            poolable: true,
            places: OPENAI_PLACES,
        });
    }

    #[test]
    fn row_openai_has_no_v1_in_its_paths_and_nests_models_in_sessions_graders_and_tools() {
        let p = check("openai", Row {
            key: KeyPlacement::Bearer,
            chat: Some("chat/completions"),
            embeddings: Some("embeddings"),
            models: Some("models"),
            direct: Some("https://api.openai.com/v1"),
            reset: DailyReset::Rolling24h,
            poolable: true,
            places: &[
                BodyField("model"),
                PathSegmentAfter("models"),
                TOOL_MODELS,
                Query("model"),
                BodyNested { under: "input_audio_transcription", field: "model" },
                BodyNested { under: "session", field: "model" },
                BodyNested { under: "audio", field: "model" },
                BodyNested { under: "testing_criteria", field: "model" },
                BodyNested { under: "data_source", field: "model" },
                BodyNested { under: "method", field: "model" },
                BodyNested { under: "grader", field: "model" },
            ],
        });
        assert!(!p.takes_query_key("chat/completions"));
    }

    #[test]
    fn row_openrouter_resets_at_utc_midnight_and_reads_the_models_fallback_list() {
        check("openrouter", Row {
            key: KeyPlacement::Bearer,
            chat: Some("v1/chat/completions"),
            embeddings: Some("v1/embeddings"),
            models: Some("v1/models"),
            direct: Some("https://openrouter.ai/api"),
            reset: DailyReset::UtcMidnight,
            poolable: true,
            places: &[BodyField("model"), PathSegmentAfter("models"), TOOL_MODELS, Query("model"), BodyList("models")],
        });
    }

    #[test]
    fn row_perplexity_ai_has_its_own_compat_prefix() {
        let p = check("perplexity-ai", Row {
            key: KeyPlacement::Bearer,
            chat: Some("chat/completions"),
            embeddings: None,
            models: None,
            direct: Some("https://api.perplexity.ai"),
            reset: DailyReset::Rolling24h,
            poolable: true,
            places: OPENAI_PLACES,
        });
        assert_eq!(p.compat_prefix, "perplexity");
    }

    #[test]
    fn row_replicate_names_models_by_version_or_owner_and_name() {
        check("replicate", Row {
            key: KeyPlacement::Bearer,
            chat: None,
            embeddings: None,
            models: None,
            direct: None,
            reset: DailyReset::Rolling24h,
            poolable: true,
            places: &[BodyField("model"), PathOwnerAndNameAfter("models"), PathOwnerAndNameAfter("deployments"), BodyField("version")],
        });
    }

    #[test]
    fn row_workers_ai_names_at_cf_models_in_the_path_and_has_no_direct_base() {
        check("workers-ai", Row {
            key: KeyPlacement::Bearer,
            chat: Some("v1/chat/completions"),
            embeddings: Some("v1/embeddings"),
            models: Some("v1/models"),
            direct: None,
            reset: DailyReset::Rolling24h,
            poolable: true,
            places: &[BodyField("model"), PathSegmentAfter("models"), TOOL_MODELS, Query("model"), ModelPlace::WorkersAiPath],
        });
    }

    #[test]
    fn every_row_has_a_test_of_its_own() {
        // The row tests above, by slug; a new row needs a new test (and a line here).
        let tested = [
            "anthropic", "aws-bedrock", "azure-openai", "cartesia", "cerebras", "cohere", "deepseek", "elevenlabs",
            "google-ai-studio", "google-vertex-ai", "grok", "groq", "huggingface", "mistral", "openai", "openrouter",
            "perplexity-ai", "replicate", "workers-ai",
        ];
        let slugs: Vec<&str> = PROVIDERS.iter().map(|p| p.slug).collect();
        assert_eq!(slugs, tested);
    }

    // -----------------------------------------------------------------------------------------------------------
    // Table-wide invariants of the model places.

    #[test]
    fn every_row_reads_what_the_cooldown_model_reads() {
        // `request_model::model_of` reads the body's `model` and the path's `models/{m}` for every provider; a
        // restricted key must be checked at least there. Replicate reads `models/{owner}/{name}` instead, which
        // is what its path means.
        for p in PROVIDERS {
            assert!(p.model_places.contains(&BodyField("model")), "{}", p.slug);
            assert!(
                p.model_places.contains(&PathSegmentAfter("models")) || p.model_places.contains(&PathOwnerAndNameAfter("models")),
                "{}",
                p.slug
            );
        }
    }

    #[test]
    fn model_places_are_distinct_and_body_members_are_not_read_twice() {
        for p in PROVIDERS {
            let mut top_members: Vec<String> = Vec::new();
            for (i, place) in p.model_places.iter().enumerate() {
                assert!(!p.model_places[..i].contains(place), "{}: {place:?} twice", p.slug);
                let member = match place {
                    BodyField(name) | BodyList(name) | BodyNested { under: name, .. } => name,
                    _ => continue,
                };
                let normal: String = member.chars().filter(|c| *c != '_').map(|c| c.to_ascii_lowercase()).collect();
                assert!(!top_members.contains(&normal), "{}: the body member {member} is read by two places", p.slug);
                top_members.push(normal);
            }
        }
    }

    #[test]
    fn model_place_names_are_plain_ascii() {
        for p in PROVIDERS {
            for place in p.model_places {
                let names: Vec<&str> = match *place {
                    BodyField(n) | BodyList(n) | Query(n) | PathSegmentAfter(n) | PathResourceAfter(n) | PathOwnerAndNameAfter(n) => vec![n],
                    BodyNested { under, field } => vec![under, field],
                    ModelPlace::AzureDeployment | ModelPlace::WorkersAiPath | ModelPlace::HuggingFacePath => vec![],
                };
                for name in names {
                    assert!(!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'), "{}: {name:?}", p.slug);
                }
            }
        }
    }

    #[test]
    fn only_google_names_models_as_resources_in_bodies() {
        for p in PROVIDERS {
            assert_eq!(p.body_model_prefix.is_some(), p.slug.starts_with("google-"), "{}", p.slug);
        }
    }

    #[test]
    fn path_forms_of_their_own_belong_to_one_provider_each() {
        let owners = |wanted: ModelPlace| PROVIDERS.iter().filter(|p| p.model_places.contains(&wanted)).map(|p| p.slug).collect::<Vec<_>>();
        assert_eq!(owners(ModelPlace::AzureDeployment), ["azure-openai"]);
        assert_eq!(owners(ModelPlace::WorkersAiPath), ["workers-ai"]);
        assert_eq!(owners(ModelPlace::HuggingFacePath), ["huggingface"]);
    }

    #[test]
    fn a_path_that_repeats_the_version_the_slug_stands_for_loses_it() {
        let openai = find("openai").expect("listed");
        assert_eq!(openai.native_rest("v1/responses"), "responses", "Codex with base_url …/api/openai/v1");
        assert_eq!(openai.native_rest("v1/chat/completions"), "chat/completions");
        assert_eq!(openai.native_rest("v1"), "");
        assert_eq!(openai.native_rest("responses"), "responses", "the documented form is unchanged");
        assert_eq!(openai.native_rest("v1beta/x"), "v1beta/x", "only a whole segment is the version");
        assert_eq!(openai.native_rest("v10/x"), "v10/x");
        let groq = find("groq").expect("listed");
        assert_eq!(groq.native_rest("openai/v1/chat/completions"), "chat/completions");
        assert_eq!(groq.native_rest("chat/completions"), "chat/completions");
        assert_eq!(find("cerebras").expect("listed").native_rest("v1/models"), "models");
        for keeps in ["anthropic", "mistral", "openrouter", "grok", "google-ai-studio", "deepseek"] {
            let p = find(keeps).expect("listed");
            assert_eq!(p.native_rest("v1/chat/completions"), "v1/chat/completions", "{keeps}: the version is part of its paths");
        }
    }

    #[test]
    fn slug_versions_are_what_the_direct_base_ends_with() {
        // PROVIDERS.md: the slug stands for the direct base URL, so the version it includes is the base's path.
        for p in PROVIDERS {
            if let Some(version) = p.slug_version {
                let base = p.direct_base.expect("a provider whose slug includes a version has a direct base");
                assert!(base.ends_with(&format!("/{version}")), "{}: {base} vs {version}", p.slug);
                assert!(!version.starts_with('/') && !version.ends_with('/'), "{}", p.slug);
            }
        }
    }

    #[test]
    fn native_messages_and_responses_apis_and_chat_quirks_are_where_the_providers_serve_them() {
        let with = |f: fn(&Provider) -> bool| PROVIDERS.iter().filter(|p| f(p)).map(|p| p.slug).collect::<Vec<_>>();
        assert_eq!(with(|p| p.messages_path.is_some()), ["anthropic"]);
        assert_eq!(find("anthropic").expect("listed").messages_path, Some("v1/messages"));
        assert_eq!(with(|p| p.responses_path.is_some()), ["openai"]);
        assert_eq!(find("openai").expect("listed").responses_path, Some("responses"));
        assert_eq!(with(|p| p.error_shape == ErrorShape::Anthropic), ["anthropic"]);
        assert_eq!(with(|p| p.chat_quirks.thought_signatures), ["google-ai-studio"]);
        assert_eq!(with(|p| p.chat_quirks.max_completion_tokens), ["openai"]);
        assert_eq!(with(|p| p.chat_quirks.takes_user), ["groq", "openai", "openrouter"]);
        for p in PROVIDERS {
            for path in [p.messages_path, p.responses_path].into_iter().flatten() {
                assert!(!path.starts_with('/') && !path.contains(".."), "{}: {path}", p.slug);
            }
        }
    }

    #[test]
    fn only_gemini_takes_the_service_key_in_the_query() {
        let takers: Vec<&str> = PROVIDERS.iter().filter(|p| p.accepts_query_key).map(|p| p.slug).collect();
        assert_eq!(takers, ["google-ai-studio"]);
    }
}
