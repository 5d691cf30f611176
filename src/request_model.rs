//! Which model a request asks for, read from its body or path, and how the OpenAI-compatible route names one.
//!
//! Two questions, two answers:
//! - [`model_of`]: the ONE model a request is about, for cooldowns and the pool-wide breaker. It comes from the JSON
//!   body's `model` when present, else from Gemini's path form `…/models/{model}:{method}`. A request with neither
//!   is allowed only when it lists models.
//! - [`named_models`]: EVERY model a request names, for a service key restricted to some models. Providers take
//!   models in more places than `model` (an Azure deployment in the path, a Workers AI model in the path, Gemini's
//!   `tunedModels/{m}`, ElevenLabs' `model_id`, OpenRouter's `models` fallback list, a tool's own `model`…); the
//!   provider table lists them per provider (`providers::ModelPlace`), and this module reads them all. When a place
//!   cannot be read — a body that is not JSON, a path form the table does not know — the answer is
//!   [`Unverifiable`], and a restricted key is refused: a check that cannot see the model must not guess.
//!
//! Body members are found the way the laxest upstream would find them (ASCII case and `_` ignored, duplicates all
//! counted), so a spelling the check skips cannot be one an upstream reads.

use crate::providers::{ModelPlace, Provider};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
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

/// A request as the model check sees it.
#[derive(Debug, Clone, Copy)]
pub struct ModelRequest<'a> {
    /// The path after the provider slug, without the query.
    pub rest: &'a str,
    /// The raw query string (no `?`).
    pub query: &'a str,
    /// The client's `content-type`, if any.
    pub content_type: Option<&'a str>,
    /// The body (empty for GET and HEAD).
    pub body: &'a [u8],
}

/// Why the models a request names cannot be listed; a model-restricted key is refused such a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unverifiable {
    /// The body is not a JSON object whose model members are names (multipart, form data, compressed, malformed,
    /// or a model member holding a number or an object).
    Body,
    /// The path has a form the provider table does not know for this provider.
    Path,
}

impl Unverifiable {
    /// What the caller is told; it names the remedy.
    pub fn message(self) -> &'static str {
        match self {
            Unverifiable::Body => {
                "this service key may use only some models, and this request's body cannot be checked for the models it names: \
                 send a JSON body (content-type: application/json) whose model fields are strings"
            }
            Unverifiable::Path => {
                "this service key may use only some models, and this request's path has a form whose model cannot be checked"
            }
        }
    }
}

/// Every model `request` names for `provider`, from its path, query and body, in the order found (duplicates kept).
/// Google's resource form `models/{m}` in a body names `{m}`. Empty when it names none (a models listing).
pub fn named_models(provider: &Provider, request: &ModelRequest<'_>) -> Result<Vec<String>, Unverifiable> {
    let mut names = path_models(provider, request.rest)?;
    names.extend(query_models(provider, request.query));
    names.extend(body_models(provider, request.content_type, request.body, BodyModel::Read)?);
    Ok(names)
}

/// Every model a compat request names for `provider`: `model` (the part after `{provider}/`, which the route puts in
/// the body's `model` on the way) and the body's other model places. `body` is the client's body, whose top-level
/// `model` is the compat `"{provider}/{model}"`.
pub fn named_models_compat(provider: &Provider, model: &str, body: &[u8]) -> Result<Vec<String>, Unverifiable> {
    let mut names = vec![model.to_string()];
    names.extend(body_models(provider, Some("application/json"), body, BodyModel::Skip)?);
    Ok(names)
}

/// A member name as the laxest parser reads it: ASCII case and `_` ignored, and the two non-ASCII letters that
/// Unicode case folding maps onto ASCII ones (`ſ` → s, Kelvin sign → k), which Go's `encoding/json` honours.
fn member_name(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_')
        .map(|c| match c {
            '\u{017f}' => 's',
            '\u{212a}' => 'k',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

fn path_models(provider: &Provider, rest: &str) -> Result<Vec<String>, Unverifiable> {
    let segments: Vec<&str> = rest.split('/').collect();
    let after = |collection: &'static str| after_segment(&segments, collection);
    let mut names = Vec::new();
    for place in provider.model_places {
        match *place {
            ModelPlace::PathSegmentAfter(collection) => names.extend(after(collection).map(|(_, name)| name.to_string())),
            ModelPlace::PathResourceAfter(collection) => names.extend(after(collection).map(|(_, name)| format!("{collection}/{name}"))),
            ModelPlace::PathOwnerAndNameAfter(collection) => {
                for (i, owner) in after(collection) {
                    match segments.get(i + 2).map(|n| n.split(':').next().unwrap_or_default()) {
                        Some(name) if !name.is_empty() => names.push(format!("{owner}/{name}")),
                        _ => return Err(Unverifiable::Path),
                    }
                }
            }
            ModelPlace::AzureDeployment => {
                let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
                match parts.as_slice() {
                    [resource, deployment, _, ..] if !resource.is_empty() && !deployment.is_empty() => names.push(deployment.to_string()),
                    _ => return Err(Unverifiable::Path),
                }
            }
            ModelPlace::WorkersAiPath => match segments.iter().position(|s| s.starts_with('@')) {
                Some(start) => names.push(segments[start..].join("/").trim_end_matches('/').to_string()),
                None if rest.starts_with("v1/") => {}
                None => return Err(Unverifiable::Path),
            },
            ModelPlace::HuggingFacePath => {
                let model = rest.trim_end_matches('/');
                if rest.starts_with("v1/") {
                } else if model.is_empty() {
                    return Err(Unverifiable::Path);
                } else {
                    names.push(model.to_string());
                }
            }
            ModelPlace::BodyField(_) | ModelPlace::BodyList(_) | ModelPlace::BodyNested { .. } | ModelPlace::Query(_) => {}
        }
    }
    Ok(names)
}

/// `(index of the collection segment, the name after it up to a ':')` for every segment named `collection`
/// (ASCII case ignored) that is followed by a non-empty name.
fn after_segment<'s>(segments: &'s [&'s str], collection: &'static str) -> impl Iterator<Item = (usize, &'s str)> + 's {
    segments
        .iter()
        .enumerate()
        .filter(move |(_, s)| s.eq_ignore_ascii_case(collection))
        .filter_map(|(i, _)| segments.get(i + 1).map(|next| (i, next.split(':').next().unwrap_or_default())))
        .filter(|(_, name)| !name.is_empty())
}

fn query_models(provider: &Provider, query: &str) -> Vec<String> {
    let wanted: Vec<String> = provider
        .model_places
        .iter()
        .filter_map(|place| match place {
            ModelPlace::Query(name) => Some(member_name(name)),
            _ => None,
        })
        .collect();
    if wanted.is_empty() {
        return Vec::new();
    }
    crate::upstream::query_pairs(query).filter(|(key, _)| wanted.contains(&member_name(key))).map(|(_, value)| value).collect()
}

/// Whether the body's own top-level `model` is read (native) or skipped (compat: it is `"{provider}/{model}"`,
/// checked on its own).
#[derive(Clone, Copy, PartialEq, Eq)]
enum BodyModel {
    Read,
    Skip,
}

/// Media types whose body is JSON text to an upstream, in UTF-8 (the bytes read here). Browsers send `text/plain`
/// for a string body without a content type, and upstreams parse it as JSON all the same; another `charset` could
/// make an upstream read other text than this check did.
fn is_json_media_type(content_type: &str) -> bool {
    let mut parts = content_type.split(';');
    let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let utf8 = parts.filter_map(|p| p.split_once('=')).filter(|(name, _)| name.trim().eq_ignore_ascii_case("charset")).all(|(_, value)| {
        let value = value.trim().trim_matches('"');
        value.eq_ignore_ascii_case("utf-8") || value.eq_ignore_ascii_case("utf8")
    });
    utf8 && (media == "application/json" || media == "text/plain" || (media.starts_with("application/") && media.ends_with("+json")))
}

fn body_models(provider: &Provider, content_type: Option<&str>, body: &[u8], own_model: BodyModel) -> Result<Vec<String>, Unverifiable> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let mut members: Vec<(String, Reading)> = Vec::new();
    for place in provider.model_places {
        match *place {
            ModelPlace::BodyField(name) => members.push((member_name(name), Reading::Name)),
            ModelPlace::BodyList(name) => members.push((member_name(name), Reading::Names)),
            ModelPlace::BodyNested { under, field } => members.push((member_name(under), Reading::Nested(member_name(field)))),
            _ => {}
        }
    }
    if members.is_empty() {
        return Ok(Vec::new());
    }
    if content_type.is_some_and(|ct| !is_json_media_type(ct)) {
        return Err(Unverifiable::Body);
    }
    let text = std::str::from_utf8(body).map_err(|_| Unverifiable::Body)?;
    let mut found = Vec::new();
    let mut deserializer = serde_json::Deserializer::from_str(text);
    Top { members: &members, own_model, found: &mut found }.deserialize(&mut deserializer).map_err(|_| Unverifiable::Body)?;
    deserializer.end().map_err(|_| Unverifiable::Body)?;
    Ok(match provider.body_model_prefix {
        Some(prefix) => found.into_iter().map(|m| m.strip_prefix(prefix).map(str::to_string).unwrap_or(m)).collect(),
        None => found,
    })
}

/// How a top-level body member holds models.
enum Reading {
    /// One name (or null).
    Name,
    /// A list of names (or one name, or null).
    Names,
    /// Names in members called this (normalised), at any depth.
    Nested(String),
}

/// The body's top level: an object whose members are read by `members`, the rest skipped unparsed.
struct Top<'a> {
    members: &'a [(String, Reading)],
    own_model: BodyModel,
    found: &'a mut Vec<String>,
}

impl<'de> DeserializeSeed<'de> for Top<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Top { members, own_model, found } = self;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if own_model == BodyModel::Skip && key == "model" {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let name = member_name(&key);
            match members.iter().find(|(member, _)| *member == name).map(|(_, reading)| reading) {
                Some(Reading::Name) => map.next_value_seed(Name { found: &mut *found, list: false })?,
                Some(Reading::Names) => map.next_value_seed(Name { found: &mut *found, list: true })?,
                Some(Reading::Nested(field)) => map.next_value_seed(Nested { field, holds_models: false, found: &mut *found })?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// A member that holds a model name (`list`: or a list of them). Anything but a string, null or (for a list) an
/// array of strings is an error, which makes the body unverifiable.
struct Name<'a> {
    found: &'a mut Vec<String>,
    list: bool,
}

impl<'de> DeserializeSeed<'de> for Name<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Name<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a model name")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<(), E> {
        self.found.push(value.to_string());
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if !self.list {
            return Err(de::Error::invalid_type(de::Unexpected::Seq, &self));
        }
        let found = self.found;
        while seq.next_element_seed(Name { found: &mut *found, list: false })?.is_some() {}
        Ok(())
    }
}

/// A value inside a nested place: strings in members named `field` are models, at any depth.
struct Nested<'a> {
    field: &'a str,
    holds_models: bool,
    found: &'a mut Vec<String>,
}

impl<'de> DeserializeSeed<'de> for Nested<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Nested<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<(), E> {
        if self.holds_models {
            self.found.push(value.to_string());
        }
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Nested { field, holds_models, found } = self;
        while seq.next_element_seed(Nested { field, holds_models, found: &mut *found })?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Nested { field, found, .. } = self;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let holds_models = member_name(&key) == field;
            map.next_value_seed(Nested { field, holds_models, found: &mut *found })?;
        }
        Ok(())
    }
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

    // -----------------------------------------------------------------------------------------------------------
    // named_models: every place a request names a model. Each bypass reported against the old check (body `model`
    // and `models/{m}` only) has a test here.

    fn named(slug: &str, rest: &str, query: &str, body: &str) -> Result<Vec<String>, Unverifiable> {
        let provider = crate::providers::find(slug).expect("listed");
        named_models(provider, &ModelRequest { rest, query, content_type: Some("application/json"), body: body.as_bytes() })
    }

    fn names(list: &[&str]) -> Result<Vec<String>, Unverifiable> {
        Ok(list.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn bypass_azure_openai_deployment_in_the_path_is_a_named_model() {
        // AI Gateway's form: azure-openai/{resource}/{deployment}/chat/completions?api-version=…
        assert_eq!(named("azure-openai", "my-resource/gpt-4o/chat/completions", "api-version=2024-10-21", r#"{"messages":[]}"#), names(&["gpt-4o"]));
        assert_eq!(named("azure-openai", "my-resource/gpt-4o-mini/embeddings", "", r#"{"input":"x"}"#), names(&["gpt-4o-mini"]));
        assert_eq!(named("azure-openai", "my-resource/gpt-4o", "", ""), Err(Unverifiable::Path), "no operation: not a known form");
        assert_eq!(named("azure-openai", "", "", ""), Err(Unverifiable::Path));
    }

    #[test]
    fn bypass_workers_ai_model_in_the_path_is_a_named_model() {
        assert_eq!(named("workers-ai", "@cf/meta/llama-3.1-8b-instruct", "", r#"{"prompt":"hi"}"#), names(&["@cf/meta/llama-3.1-8b-instruct"]));
        assert_eq!(named("workers-ai", "@hf/thebloke/zephyr-7b-beta-awq/", "", ""), names(&["@hf/thebloke/zephyr-7b-beta-awq"]));
        assert_eq!(named("workers-ai", "v1/chat/completions", "", r#"{"model":"@cf/meta/llama-3.1-8b-instruct"}"#), names(&["@cf/meta/llama-3.1-8b-instruct"]));
        assert_eq!(named("workers-ai", "run/something", "", "{}"), Err(Unverifiable::Path), "a form the table does not know");
    }

    #[test]
    fn bypass_gemini_tuned_models_are_named_with_their_collection() {
        let body = r#"{"model":"gemini-2.5-flash","contents":[]}"#;
        assert_eq!(named("google-ai-studio", "v1beta/tunedModels/my-tune-42:generateContent", "", body), names(&["tunedModels/my-tune-42", "gemini-2.5-flash"]));
        assert_eq!(named("google-ai-studio", "v1beta/tunedModels/gemini-2.5-flash:generateContent", "", "{}"), names(&["tunedModels/gemini-2.5-flash"]), "not the base model of that name");
        assert_eq!(named("google-ai-studio", "v1beta/TUNEDMODELS/x:generateContent", "", ""), names(&["tunedModels/x"]), "case of the collection ignored");
    }

    #[test]
    fn bypass_elevenlabs_model_id_in_the_body_and_query_is_a_named_model() {
        let body = r#"{"text":"hello","model":"eleven_turbo_v2","model_id":"eleven_v3"}"#;
        assert_eq!(named("elevenlabs", "v1/text-to-speech/voice123", "", body), names(&["eleven_turbo_v2", "eleven_v3"]));
        assert_eq!(named("elevenlabs", "v1/text-to-speech/voice123/stream-input", "model_id=eleven_v3", ""), names(&["eleven_v3"]));
        assert_eq!(named("elevenlabs", "v1/text-to-speech/v", "", r#"{"modelId":"a","MODEL_ID":"b"}"#), names(&["a", "b"]), "spellings an upstream may read");
    }

    #[test]
    fn bypass_openrouter_fallback_list_names_every_model() {
        let body = r#"{"model":"openai/gpt-4o-mini","models":["openai/gpt-4o-mini","anthropic/claude-opus-4"],"messages":[]}"#;
        assert_eq!(named("openrouter", "v1/chat/completions", "", body), names(&["openai/gpt-4o-mini", "openai/gpt-4o-mini", "anthropic/claude-opus-4"]));
        assert_eq!(named("openrouter", "v1/chat/completions", "", r#"{"models":"openai/o3"}"#), names(&["openai/o3"]), "one name instead of a list");
        assert_eq!(named("openrouter", "v1/chat/completions", "", r#"{"models":[{"id":"x"}]}"#), Err(Unverifiable::Body));
        assert_eq!(named("openrouter", "v1/chat/completions", "", r#"{"models":[["x"]]}"#), Err(Unverifiable::Body));
    }

    #[test]
    fn bypass_tool_models_in_openai_responses_are_named() {
        let body = r#"{"model":"gpt-4o-mini","input":"draw","tools":[{"type":"web_search"},{"type":"image_generation","model":"gpt-image-1","quality":"high"}]}"#;
        assert_eq!(named("openai", "responses", "", body), names(&["gpt-4o-mini", "gpt-image-1"]));
        let deep = r#"{"model":"m","tools":[{"type":"x","config":{"inner":{"model":"deep-model"}}}]}"#;
        assert_eq!(named("openai", "responses", "", deep), names(&["m", "deep-model"]), "at any depth inside tools");
        let schema = r#"{"model":"m","tools":[{"type":"function","function":{"parameters":{"properties":{"model":{"type":"string"}}}}}]}"#;
        assert_eq!(named("openai", "chat/completions", "", schema), names(&["m"]), "a JSON schema property called model is not a model");
    }

    #[test]
    fn openai_nests_models_in_sessions_graders_and_evals_and_takes_model_in_the_query() {
        assert_eq!(named("openai", "realtime", "model=gpt-4o-realtime-preview", ""), names(&["gpt-4o-realtime-preview"]));
        assert_eq!(named("openai", "realtime", "mod%65l=gpt-realtime&model=x", ""), names(&["gpt-realtime", "x"]), "names decoded, every value");
        let session = r#"{"model":"gpt-realtime","input_audio_transcription":{"model":"whisper-1"}}"#;
        assert_eq!(named("openai", "realtime/sessions", "", session), names(&["gpt-realtime", "whisper-1"]));
        let secret = r#"{"session":{"type":"realtime","model":"gpt-realtime","audio":{"input":{"transcription":{"model":"gpt-4o-transcribe"}}}}}"#;
        assert_eq!(named("openai", "realtime/client_secrets", "", secret), names(&["gpt-realtime", "gpt-4o-transcribe"]));
        let eval = r#"{"name":"e","testing_criteria":[{"type":"score_model","model":"o3"}]}"#;
        assert_eq!(named("openai", "evals", "", eval), names(&["o3"]));
    }

    #[test]
    fn gemini_nested_requests_and_resource_names_are_read() {
        let count = r#"{"generateContentRequest":{"model":"models/gemini-2.5-pro","contents":[]}}"#;
        assert_eq!(named("google-ai-studio", "v1beta/models/gemini-2.5-flash:countTokens", "", count), names(&["gemini-2.5-flash", "gemini-2.5-pro"]));
        let snake = r#"{"generate_content_request":{"model":"models/gemini-2.5-pro"}}"#;
        assert_eq!(named("google-ai-studio", "v1beta/models/gemini-2.5-flash:countTokens", "", snake), names(&["gemini-2.5-flash", "gemini-2.5-pro"]));
        let batch = r#"{"requests":[{"model":"models/text-embedding-004","content":{}},{"model":"models/gemini-embedding-001"}]}"#;
        assert_eq!(
            named("google-ai-studio", "v1beta/models/text-embedding-004:batchEmbedContents", "", batch),
            names(&["text-embedding-004", "text-embedding-004", "gemini-embedding-001"])
        );
        assert_eq!(named("google-ai-studio", "v1beta/tunedModels", "", r#"{"baseModel":"models/gemini-1.5-flash-001-tuning"}"#), names(&["gemini-1.5-flash-001-tuning"]));
        assert_eq!(
            named("google-ai-studio", "v1beta/models/a:generateContent/models/b:generateContent", "", ""),
            names(&["a", "b"]),
            "every models/{{m}} of the path, not the first only"
        );
    }

    #[test]
    fn replicate_and_huggingface_name_models_by_path() {
        assert_eq!(named("replicate", "models/black-forest-labs/flux-schnell/predictions", "", r#"{"input":{}}"#), names(&["black-forest-labs/flux-schnell"]));
        assert_eq!(named("replicate", "predictions", "", r#"{"version":"anthropic/claude-4.5-haiku","input":{}}"#), names(&["anthropic/claude-4.5-haiku"]));
        assert_eq!(named("replicate", "models/owner", "", ""), Err(Unverifiable::Path));
        assert_eq!(named("huggingface", "bigcode/starcoder", "", r#"{"inputs":"x"}"#), names(&["bigcode/starcoder"]));
        assert_eq!(named("huggingface", "gpt2", "", ""), names(&["gpt2"]));
        assert_eq!(named("huggingface", "v1/chat/completions", "", r#"{"model":"meta-llama/Llama-3.1-8B-Instruct"}"#), names(&["meta-llama/Llama-3.1-8B-Instruct"]));
        assert_eq!(named("huggingface", "", "", ""), Err(Unverifiable::Path));
    }

    #[test]
    fn member_spellings_duplicates_and_escapes_are_all_counted() {
        assert_eq!(named("openai", "chat/completions", "", r#"{"model":"a","model":"b"}"#), names(&["a", "b"]), "both duplicates");
        assert_eq!(named("openai", "chat/completions", "", r#"{"model":"a"}"#), names(&["a"]), "an escaped name");
        assert_eq!(named("openai", "chat/completions", "", r#"{"Model":"a","MODEL":"b","mo_del":"c"}"#), names(&["a", "b", "c"]));
        assert_eq!(named("openrouter", "v1/chat/completions", "", "{\"model\u{017f}\":[\"x\"]}"), names(&["x"]), "long s folds to s");
        assert_eq!(named("openai", "chat/completions", "", r#"{"model":null,"messages":[]}"#), names(&[]), "null names nothing");
    }

    #[test]
    fn bodies_that_cannot_be_read_are_unverifiable() {
        let provider = crate::providers::find("openai").expect("listed");
        let with = |content_type: Option<&str>, body: &[u8]| named_models(provider, &ModelRequest { rest: "chat/completions", query: "", content_type, body });
        assert_eq!(with(Some("multipart/form-data; boundary=b"), b"--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nx\r\n--b--"), Err(Unverifiable::Body));
        assert_eq!(with(Some("application/x-www-form-urlencoded"), br#"{"model":"a","x":"&model=b"}"#), Err(Unverifiable::Body), "form data is not JSON to the upstream");
        assert_eq!(with(Some("application/json"), &[0x1f, 0x8b, 0x08, 0x00]), Err(Unverifiable::Body), "compressed");
        assert_eq!(with(Some("application/json"), br#"{"model":"a""#), Err(Unverifiable::Body), "truncated");
        assert_eq!(with(Some("application/json"), br#"{"model":"a"} {"model":"b"}"#), Err(Unverifiable::Body), "two documents");
        assert_eq!(with(Some("application/json"), br#"[{"model":"a"}]"#), Err(Unverifiable::Body), "not an object");
        assert_eq!(with(Some("application/json"), br#"{"model":42}"#), Err(Unverifiable::Body), "a number is not a name");
        assert_eq!(with(Some("application/json"), br#"{"model":{"id":"a"}}"#), Err(Unverifiable::Body));
        assert_eq!(with(Some("application/json"), b"{\"model\":\"a\",\"x\":\"\xff\"}"), Err(Unverifiable::Body), "not UTF-8");
        assert_eq!(with(None, br#"{"model":"a"}"#), names(&["a"]), "no content type: JSON");
        assert_eq!(with(Some("text/plain;charset=UTF-8"), br#"{"model":"a"}"#), names(&["a"]), "a browser's default for a string body");
        assert_eq!(with(Some("application/vnd.api+json"), br#"{"model":"a"}"#), names(&["a"]));
        assert_eq!(with(Some("application/json; charset=\"UTF-8\""), br#"{"model":"a"}"#), names(&["a"]));
        assert_eq!(with(Some("application/json; charset=utf-16"), br#"{"model":"a"}"#), Err(Unverifiable::Body), "another charset");
        assert_eq!(with(Some("multipart/form-data"), b"  \n"), names(&[]), "an empty body names nothing whatever its type");
    }

    #[test]
    fn compat_bodies_skip_their_own_model_but_read_the_rest() {
        let openrouter = crate::providers::find("openrouter").expect("listed");
        let body = br#"{"model":"openrouter/openai/gpt-4o-mini","models":["anthropic/claude-opus-4"]}"#;
        assert_eq!(named_models_compat(openrouter, "openai/gpt-4o-mini", body), names(&["openai/gpt-4o-mini", "anthropic/claude-opus-4"]));
        assert_eq!(named_models_compat(openrouter, "x", b"not json"), Err(Unverifiable::Body));
    }

    #[test]
    fn the_cooldown_model_is_always_among_the_named_models() {
        let cases = [
            ("google-ai-studio", "v1beta/models/gemini-2.5-flash:generateContent", r#"{"model":"models/gemini-2.5-flash"}"#),
            ("openai", "chat/completions", r#"{"model":"gpt-4o-mini"}"#),
            ("azure-openai", "res/dep/chat/completions", r#"{"model":"dep"}"#),
            ("elevenlabs", "v1/text-to-speech/v", r#"{"model":"eleven_v3"}"#),
        ];
        for (slug, rest, body) in cases {
            let primary = model_of(rest, body.as_bytes()).expect("agrees").expect("named");
            assert!(named(slug, rest, "", body).expect("readable").contains(&primary), "{slug} {rest}");
        }
    }
}
