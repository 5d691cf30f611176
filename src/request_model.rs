//! Which model a request asks for, read from its body or path, and how the OpenAI-compatible route names one.
//!
//! The model decides which cooldowns apply and whether a restricted service key may make the request. It comes from
//! the JSON body's `model` when present, else from Gemini's path form `…/models/{model}:{method}`. A request with
//! neither is allowed only when it lists models.

use serde::Deserialize;
use std::borrow::Cow;

/// Only the field we read; serde skips the rest of the body without building it.
#[derive(Deserialize)]
struct ModelField<'a> {
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
}

/// The model the client asked for, if it named one.
///
/// A body that is not a JSON object (empty, multipart audio, malformed) names no model here; the upstream judges it.
/// When both the body and the path name a model they must agree (the body may use Google's `models/…` form): Gemini
/// serves the path's model, so a different body model would let a key restricted to one model use another, and
/// would put the cooldown on the wrong model.
pub fn model_of(rest: &str, body: &[u8]) -> Result<Option<String>, &'static str> {
    match (model_in_body(body), model_in_path(rest)) {
        (Some(in_body), Some(in_path)) => {
            if in_body.strip_prefix("models/").unwrap_or(&in_body) == in_path {
                Ok(Some(in_path))
            } else {
                Err("the body's \"model\" and the model in the path differ: name one model")
            }
        }
        (in_body, in_path) => Ok(in_body.or(in_path)),
    }
}

/// `model` from a JSON object body.
pub fn model_in_body(body: &[u8]) -> Option<String> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first != b'{' {
        return None;
    }
    let parsed: ModelField<'_> = serde_json::from_slice(body).ok()?;
    parsed.model.map(Cow::into_owned).filter(|m| !m.trim().is_empty())
}

/// The `{model}` of a path like `v1beta/models/{model}:generateContent` (or `…/models/{model}` alone).
pub fn model_in_path(rest: &str) -> Option<String> {
    let mut segments = rest.split('/');
    segments.find(|s| *s == "models")?;
    let segment = segments.next()?;
    let model = segment.split(':').next().unwrap_or_default();
    (!model.is_empty()).then(|| model.to_string())
}

/// Longest model name accepted.
pub const MAX_MODEL_LEN: usize = 256;

/// Refuses model names that could not be a provider's: too long, or holding quotes or control characters.
pub fn check_model(model: &str) -> Result<(), &'static str> {
    if model.len() > MAX_MODEL_LEN {
        return Err("the model name is longer than 256 bytes");
    }
    if model.chars().any(|c| c.is_control() || c == '"' || c == '\\') {
        return Err("the model name holds a quote, backslash or control character");
    }
    if model == crate::cooldown::ALL_MODELS {
        // "*" names the cooldown entry that rests a key for every model: a 429 on it must not take the key away.
        return Err("\"*\" is not a model name");
    }
    Ok(())
}

/// Whether a request without a model is a models listing, which any healthy key may serve.
pub fn is_models_listing(method: &str, rest: &str) -> bool {
    method.eq_ignore_ascii_case("GET") && rest.trim_end_matches('/').rsplit('/').next() == Some("models")
}

/// Why an OpenAI-compatible `model` value cannot be routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompatModelError {
    /// The body has no `model`.
    Missing,
    /// `model` has no `/` between provider and model.
    NoProvider,
    /// Nothing after the `/`.
    EmptyModel,
}

impl CompatModelError {
    /// A message that tells the caller what to send instead.
    pub fn message(self) -> &'static str {
        match self {
            CompatModelError::Missing => "the request body needs a \"model\" such as \"google-ai-studio/gemini-2.5-flash\"",
            CompatModelError::NoProvider => {
                "\"model\" must be \"{provider}/{model}\", for example \"google-ai-studio/gemini-2.5-flash\""
            }
            CompatModelError::EmptyModel => "\"model\" names a provider but no model after the '/'",
        }
    }
}

/// Splits `"{provider}/{model}"` on the FIRST `/`: `openrouter/meta-llama/llama-3-8b` → (`openrouter`, `meta-llama/llama-3-8b`).
pub fn split_compat_model(model: &str) -> Result<(&str, &str), CompatModelError> {
    let (provider, model) = model.trim().split_once('/').ok_or(CompatModelError::NoProvider)?;
    if provider.is_empty() {
        return Err(CompatModelError::NoProvider);
    }
    if model.trim().is_empty() {
        return Err(CompatModelError::EmptyModel);
    }
    Ok((provider, model))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_model_is_read_and_must_agree_with_a_path_model() {
        let body = br#"{"messages":[{"role":"user","content":"hi"}],"model":"gpt-4o-mini","stream":true}"#;
        assert_eq!(model_of("chat/completions", body), Ok(Some("gpt-4o-mini".to_string())));
        assert!(model_of("v1/models/other:x", body).is_err(), "a different model in the path is refused");
        let same = br#"{"model":"models/gemini-2.5-flash","contents":[]}"#;
        assert_eq!(model_of("v1beta/models/gemini-2.5-flash:generateContent", same), Ok(Some("gemini-2.5-flash".to_string())));
        let plain = br#"{"model":"gemini-2.5-flash"}"#;
        assert_eq!(model_of("v1beta/models/gemini-2.5-flash:countTokens", plain), Ok(Some("gemini-2.5-flash".to_string())));
    }

    #[test]
    fn gemini_takes_the_model_from_the_path() {
        let body = br#"{"contents":[{"parts":[{"text":"hi"}]}]}"#;
        assert_eq!(model_of("v1beta/models/gemini-2.5-flash:generateContent", body), Ok(Some("gemini-2.5-flash".to_string())));
        assert_eq!(model_in_path("v1beta/models/gemini-2.5-pro:streamGenerateContent").as_deref(), Some("gemini-2.5-pro"));
        assert_eq!(model_in_path("v1beta/models/text-embedding-004").as_deref(), Some("text-embedding-004"));
    }

    #[test]
    fn listings_and_model_less_paths_name_no_model() {
        assert_eq!(model_of("v1beta/models", b""), Ok(None));
        assert_eq!(model_of("v1beta/models/", b""), Ok(None));
        assert_eq!(model_of("v1/files", b""), Ok(None));
        assert!(is_models_listing("GET", "v1beta/models"));
        assert!(is_models_listing("get", "models/"));
        assert!(!is_models_listing("POST", "v1beta/models"));
        assert!(!is_models_listing("GET", "v1beta/models/gemini-2.5-flash"));
    }

    #[test]
    fn bodies_that_are_not_json_objects_name_no_model() {
        assert_eq!(model_in_body(b"not json"), None);
        assert_eq!(model_in_body(b"{\"model\": "), None);
        assert_eq!(model_in_body(b"[{\"model\":\"x\"}]"), None);
        assert_eq!(model_in_body(&[0xff, 0xfe, b'{']), None);
        assert_eq!(model_in_body(br#"{"model": 42}"#), None);
        assert_eq!(model_in_body(br#"{"model": "  "}"#), None);
        assert_eq!(model_in_body(br#"  {"model":"caf\u00e9"}"#).as_deref(), Some("café"));
    }

    #[test]
    fn odd_model_names_are_refused() {
        assert!(check_model("gemini-2.5-flash").is_ok());
        assert!(check_model("meta-llama/llama-3.1-8b-instruct:free").is_ok());
        for bad in ["a\"b", "a\\b", "line\nbreak", "nul\0"] {
            assert!(check_model(bad).is_err(), "{bad:?}");
        }
        assert!(check_model(&"m".repeat(257)).is_err());
        assert!(check_model("*").is_err(), "\"*\" is the every-model cooldown entry");
        assert!(check_model("gpt-*").is_ok());
    }

    #[test]
    fn compat_models_split_on_the_first_slash() {
        assert_eq!(split_compat_model("openrouter/meta-llama/llama-3-8b"), Ok(("openrouter", "meta-llama/llama-3-8b")));
        assert_eq!(split_compat_model("google-ai-studio/gemini-2.5-flash"), Ok(("google-ai-studio", "gemini-2.5-flash")));
        assert_eq!(split_compat_model("gpt-4o"), Err(CompatModelError::NoProvider));
        assert_eq!(split_compat_model("/gpt-4o"), Err(CompatModelError::NoProvider));
        assert_eq!(split_compat_model("openai/"), Err(CompatModelError::EmptyModel));
    }
}
