//! The OpenAI-compatible API (`/api/compat/…`): where a request for `"{provider}/{model}"` goes, and how its body
//! changes on the way.
//!
//! Each provider's own OpenAI-compatible path is used where it has one (the provider table's `chat_path` and
//! `embeddings_path`); the rest go to AI Gateway's generic `compat/chat/completions` endpoint. The body is forwarded
//! byte for byte except the top-level `model` string, which is spliced in place — so provider extras such as
//! Gemini's `extra_content.google.thought_signature` on tool calls reach the upstream exactly as the client sent
//! them.

use crate::providers::{KeyPlacement, Provider};

/// Which OpenAI-style operation a compat request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `POST /api/compat/chat/completions`.
    Chat,
    /// `POST /api/compat/embeddings`.
    Embeddings,
}

/// Where one compat request goes upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompatTarget {
    /// The path segment after the gateway base: the provider slug, or `compat` for AI Gateway's own endpoint.
    pub slug_segment: &'static str,
    /// The path after that segment.
    pub rest: &'static str,
    /// The `model` value the upstream expects.
    pub upstream_model: String,
    /// Whether the route needs AI Gateway (the generic compat endpoint has no direct equivalent).
    pub needs_gateway: bool,
    /// Where the pool key goes: OpenAI-style paths take `Authorization: Bearer`.
    pub key_placement: KeyPlacement,
}

/// Why a compat request cannot be routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsupported;

/// The target for `operation` on `provider` with the provider's own `model` name.
pub fn target(provider: &Provider, operation: Operation, model: &str) -> Result<CompatTarget, Unsupported> {
    let own_path = match operation {
        Operation::Chat => provider.chat_path,
        Operation::Embeddings => provider.embeddings_path,
    };
    match (own_path, operation) {
        (Some(rest), _) => Ok(CompatTarget {
            slug_segment: provider.slug,
            rest,
            upstream_model: model.to_string(),
            needs_gateway: false,
            key_placement: KeyPlacement::Bearer,
        }),
        (None, Operation::Chat) => Ok(CompatTarget {
            slug_segment: "compat",
            rest: "chat/completions",
            upstream_model: format!("{}/{model}", provider.compat_prefix),
            needs_gateway: true,
            key_placement: KeyPlacement::Bearer,
        }),
        (None, Operation::Embeddings) => Err(Unsupported),
    }
}

/// `body` with its top-level `"model"` string value replaced by `new_model`, every other byte unchanged.
/// `None` when the body is not a JSON object with a string `model` at the top level.
pub fn replace_model(body: &[u8], new_model: &str) -> Option<Vec<u8>> {
    let (start, end) = top_level_string_value(body, b"model")?;
    let encoded = serde_json::to_string(new_model).ok()?;
    let mut out = Vec::with_capacity(body.len() + encoded.len());
    out.extend_from_slice(&body[..start]);
    out.extend_from_slice(encoded.as_bytes());
    out.extend_from_slice(&body[end..]);
    Some(out)
}

/// The byte span (quotes included) of the string value of top-level member `name` in a JSON object. Expects
/// valid JSON (the caller parsed it first); on anything unexpected it answers `None`.
fn top_level_string_value(body: &[u8], name: &[u8]) -> Option<(usize, usize)> {
    let mut i = skip_space(body, 0);
    if body.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    loop {
        i = skip_space(body, i);
        match body.get(i)? {
            b'}' => return None,
            b',' => {
                i += 1;
                continue;
            }
            b'"' => {}
            _ => return None,
        }
        let key_end = string_end(body, i)?;
        let key = &body[i + 1..key_end - 1];
        i = skip_space(body, key_end);
        if body.get(i) != Some(&b':') {
            return None;
        }
        i = skip_space(body, i + 1);
        let value_end = value_end(body, i)?;
        if key == name {
            return (body.get(i) == Some(&b'"')).then_some((i, value_end));
        }
        i = value_end;
    }
}

fn skip_space(body: &[u8], mut i: usize) -> usize {
    while body.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
        i += 1;
    }
    i
}

/// End (exclusive) of the string starting at `start` (a `"`).
fn string_end(body: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    loop {
        match body.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
}

/// End (exclusive) of the JSON value starting at `start`.
fn value_end(body: &[u8], start: usize) -> Option<usize> {
    match body.get(start)? {
        b'"' => string_end(body, start),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = start;
            loop {
                match body.get(i)? {
                    b'"' => {
                        i = string_end(body, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let mut i = start;
            while body.get(i).is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace()) {
                i += 1;
            }
            Some(i)
        }
    }
}

/// Model ids from a provider's models listing: OpenAI-style `{"data":[{"id"}]}` or Google-style
/// `{"models":[{"name":"models/…"}]}`.
pub fn parse_model_list(body: &[u8]) -> Vec<String> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else { return Vec::new() };
    let items = value.get("data").or_else(|| value.get("models")).and_then(serde_json::Value::as_array);
    let mut ids: Vec<String> = items
        .into_iter()
        .flatten()
        .filter_map(|item| item.get("id").or_else(|| item.get("name")).and_then(serde_json::Value::as_str))
        .map(|id| id.strip_prefix("models/").unwrap_or(id).to_string())
        .filter(|id| !id.is_empty())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// An OpenAI-shaped models list of `provider/model` ids.
pub fn models_response(ids: &[String], created_s: u64) -> String {
    let data: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| {
            let owner = id.split('/').next().unwrap_or_default();
            serde_json::json!({"id": id, "object": "model", "created": created_s, "owned_by": owner})
        })
        .collect();
    serde_json::json!({"object": "list", "data": data}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::find;

    #[test]
    fn providers_with_their_own_path_are_routed_there_with_their_own_model_name() {
        let gemini = find("google-ai-studio").expect("listed");
        let t = target(gemini, Operation::Chat, "gemini-2.5-flash").expect("routable");
        assert_eq!((t.slug_segment, t.rest, t.upstream_model.as_str()), ("google-ai-studio", "v1beta/openai/chat/completions", "gemini-2.5-flash"));
        assert_eq!(t.key_placement, KeyPlacement::Bearer);
        let openrouter = find("openrouter").expect("listed");
        let t = target(openrouter, Operation::Chat, "meta-llama/llama-3-8b").expect("routable");
        assert_eq!((t.rest, t.upstream_model.as_str()), ("v1/chat/completions", "meta-llama/llama-3-8b"));
    }

    #[test]
    fn providers_without_a_path_fall_back_to_the_gateway_compat_endpoint() {
        let cohere = find("cohere").expect("listed");
        let t = target(cohere, Operation::Chat, "command-r").expect("routable");
        assert_eq!((t.slug_segment, t.rest, t.upstream_model.as_str(), t.needs_gateway), ("compat", "chat/completions", "cohere/command-r", true));
        assert_eq!(target(cohere, Operation::Embeddings, "embed"), Err(Unsupported));
        let embed = target(find("openai").expect("listed"), Operation::Embeddings, "text-embedding-3-small").expect("routable");
        assert_eq!(embed.rest, "embeddings");
    }

    #[test]
    fn only_the_model_value_changes_in_the_body() {
        let body = br#"{ "messages": [{"role":"assistant","tool_calls":[{"id":"c1","extra_content":{"google":{"thought_signature":"Q2lRQm=="}}}],"model":"inner"}],
  "model" : "google-ai-studio/gemini-2.5-flash", "stream":true, "x": 1.50 }"#;
        let out = replace_model(body, "gemini-2.5-flash").expect("has a model");
        let expected = String::from_utf8_lossy(body).replace("\"google-ai-studio/gemini-2.5-flash\"", "\"gemini-2.5-flash\"");
        assert_eq!(String::from_utf8_lossy(&out), expected);
    }

    #[test]
    fn escapes_and_unicode_around_the_model_survive() {
        let body = "{\"a\":\"quote \\\" brace } 中文 😀\",\"model\":\"openai\\/gpt-4o\",\"b\":[{\"model\":\"x\"}]}".as_bytes();
        let out = replace_model(body, "gpt-4o").expect("has a model");
        assert_eq!(String::from_utf8_lossy(&out), "{\"a\":\"quote \\\" brace } 中文 😀\",\"model\":\"gpt-4o\",\"b\":[{\"model\":\"x\"}]}");
    }

    #[test]
    fn bodies_without_a_top_level_string_model_are_not_rewritten() {
        assert_eq!(replace_model(br#"{"messages":[{"model":"x"}]}"#, "m"), None);
        assert_eq!(replace_model(br#"{"model":42}"#, "m"), None);
        assert_eq!(replace_model(br#"["model"]"#, "m"), None);
        assert_eq!(replace_model(b"", "m"), None);
        assert_eq!(replace_model(br#"{"model":"unterminated"#, "m"), None);
    }

    #[test]
    fn model_lists_of_both_shapes_are_read() {
        let openai = br#"{"object":"list","data":[{"id":"gpt-4o"},{"id":"o3"},{"id":"gpt-4o"}]}"#;
        assert_eq!(parse_model_list(openai), vec!["gpt-4o", "o3"]);
        let google = br#"{"models":[{"name":"models/gemini-2.5-flash"},{"name":"models/text-embedding-004"}],"nextPageToken":"x"}"#;
        assert_eq!(parse_model_list(google), vec!["gemini-2.5-flash", "text-embedding-004"]);
        assert!(parse_model_list(b"oops").is_empty());
    }

    #[test]
    fn the_models_response_is_openai_shaped() {
        let body = models_response(&["openai/gpt-4o".to_string()], 7);
        let parsed: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(parsed["object"], "list");
        assert_eq!(parsed["data"][0]["id"], "openai/gpt-4o");
        assert_eq!(parsed["data"][0]["owned_by"], "openai");
    }
}
