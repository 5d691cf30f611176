//! Chat completions and stream chunks as providers send them, read leniently.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// `null` reads as the default.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// Only a string reads as a string; anything else as absent.
fn loose_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        _ => None,
    })
}

/// A count from an integer or a float; anything else is 0.
fn loose_count<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(count_of(&Value::deserialize(d)?))
}

fn loose_index<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let value = Value::deserialize(d)?;
    Ok(value.is_number().then(|| count_of(&value)))
}

fn count_of(value: &Value) -> u64 {
    value.as_u64().or_else(|| value.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)).unwrap_or(0)
}

/// A chat completion, or one stream chunk (which has `delta` where the completion has `message`).
#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub(crate) struct Completion {
    #[serde(deserialize_with = "nullable")]
    pub choices: Vec<Choice>,
    #[serde(deserialize_with = "nullable")]
    pub usage: Option<Usage>,
}

impl Completion {
    /// The first choice (index 0); other choices are never asked for.
    pub(crate) fn first_choice(&self) -> Option<&Choice> {
        self.choices.iter().find(|c| c.index.unwrap_or(0) == 0)
    }
}

/// One choice of a completion or chunk.
#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub(crate) struct Choice {
    #[serde(deserialize_with = "loose_index")]
    pub index: Option<u64>,
    #[serde(deserialize_with = "nullable")]
    pub message: ChoiceMessage,
    #[serde(deserialize_with = "nullable")]
    pub delta: ChoiceMessage,
    #[serde(deserialize_with = "loose_string")]
    pub finish_reason: Option<String>,
    /// The stop sequence that ended the text, where a provider says so (vLLM-based servers send `stop_reason`).
    #[serde(deserialize_with = "loose_string")]
    pub stop_reason: Option<String>,
}

/// A completion's `message` or a chunk's `delta`.
#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub(crate) struct ChoiceMessage {
    pub content: Value,
    #[serde(deserialize_with = "loose_string")]
    pub refusal: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub tool_calls: Vec<ToolCallOut>,
}

impl ChoiceMessage {
    /// The text: `content` as a string, or its text parts joined; a refusal is text too.
    pub(crate) fn text(&self) -> String {
        let mut text = match &self.content {
            Value::String(s) => s.clone(),
            Value::Array(parts) => parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect(),
            _ => String::new(),
        };
        if let Some(refusal) = &self.refusal {
            text.push_str(refusal);
        }
        text
    }
}

/// A tool call in a completion, or a piece of one in a chunk.
#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub(crate) struct ToolCallOut {
    #[serde(deserialize_with = "loose_index")]
    pub index: Option<u64>,
    #[serde(deserialize_with = "loose_string")]
    pub id: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub function: FunctionOut,
    pub extra_content: Value,
}

/// A tool call's function name and arguments as received.
#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub(crate) struct FunctionOut {
    #[serde(deserialize_with = "loose_string")]
    pub name: Option<String>,
    pub arguments: Value,
}

impl ToolCallOut {
    /// The id, when not empty.
    pub(crate) fn id(&self) -> Option<&str> {
        self.id.as_deref().filter(|id| !id.is_empty())
    }

    /// The arguments as JSON text: a string as is, an object written out.
    pub(crate) fn arguments(&self) -> String {
        match &self.function.arguments {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        }
    }

    /// Gemini's thought signature.
    pub(crate) fn thought_signature(&self) -> Option<&str> {
        self.extra_content.pointer("/google/thought_signature").and_then(Value::as_str)
    }
}

/// Token counts.
#[derive(Deserialize, Default, Debug, Clone, PartialEq, Eq)]
#[serde(default)]
pub(crate) struct Usage {
    #[serde(deserialize_with = "loose_count")]
    pub prompt_tokens: u64,
    #[serde(deserialize_with = "loose_count")]
    pub completion_tokens: u64,
    #[serde(deserialize_with = "loose_count")]
    pub total_tokens: u64,
    #[serde(deserialize_with = "nullable")]
    pub prompt_tokens_details: PromptDetails,
    #[serde(deserialize_with = "nullable")]
    pub completion_tokens_details: CompletionDetails,
    /// DeepSeek's name for cached prompt tokens.
    #[serde(deserialize_with = "loose_count")]
    pub prompt_cache_hit_tokens: u64,
}

/// `prompt_tokens_details`.
#[derive(Deserialize, Default, Debug, Clone, PartialEq, Eq)]
#[serde(default)]
pub(crate) struct PromptDetails {
    #[serde(deserialize_with = "loose_count")]
    pub cached_tokens: u64,
}

/// `completion_tokens_details`.
#[derive(Deserialize, Default, Debug, Clone, PartialEq, Eq)]
#[serde(default)]
pub(crate) struct CompletionDetails {
    #[serde(deserialize_with = "loose_count")]
    pub reasoning_tokens: u64,
}

impl Usage {
    /// Prompt tokens served from the provider's cache (never more than the prompt).
    pub(crate) fn cached_tokens(&self) -> u64 {
        self.prompt_tokens_details.cached_tokens.max(self.prompt_cache_hit_tokens).min(self.prompt_tokens)
    }

    /// Output tokens spent on reasoning.
    pub(crate) fn reasoning_tokens(&self) -> u64 {
        self.completion_tokens_details.reasoning_tokens
    }

    /// `total_tokens`, or the sum when the provider left it out.
    pub(crate) fn total(&self) -> u64 {
        if self.total_tokens > 0 {
            self.total_tokens
        } else {
            self.prompt_tokens + self.completion_tokens
        }
    }
}

/// Tool-call arguments as the object Anthropic's `input` must be. Empty arguments are `{}`; arguments some
/// providers double-encode (a JSON string holding the object) are unwrapped; anything else that is not an object,
/// including JSON cut off by the token limit, becomes `{}` — the client's tool then reports the missing
/// parameters to the model, which can try again.
pub(crate) fn arguments_object(raw: &str) -> Value {
    let empty = || Value::Object(serde_json::Map::new());
    match serde_json::from_str::<Value>(raw.trim()) {
        Ok(value @ Value::Object(_)) => value,
        Ok(Value::String(inner)) => match serde_json::from_str::<Value>(&inner) {
            Ok(value @ Value::Object(_)) => value,
            _ => empty(),
        },
        _ => empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn completions_read_leniently() {
        let cases = [
            json!({"choices": null, "usage": null}),
            json!({"choices": [{"index": 0, "message": null, "finish_reason": null}]}),
            json!({"choices": [{"delta": {"content": null, "tool_calls": null, "refusal": null}}]}),
            json!({"choices": [{"delta": {"tool_calls": [{"function": {"arguments": {"a": 1}}, "index": 1.0}]}}]}),
            json!({"usage": {"prompt_tokens": 10.0, "completion_tokens": null, "prompt_tokens_details": null}}),
        ];
        for case in cases {
            assert!(serde_json::from_value::<Completion>(case.clone()).is_ok(), "{case}");
        }
        let chunk: Completion =
            serde_json::from_value(json!({"choices": [{"delta": {"tool_calls": [{"function": {"arguments": {"a": 1}}, "index": 1.0}]}}]}))
                .expect("lenient");
        let call = &chunk.choices[0].delta.tool_calls[0];
        assert_eq!((call.index, call.arguments()), (Some(1), "{\"a\":1}".to_string()));
    }

    #[test]
    fn usage_reads_cached_tokens_from_openai_and_deepseek() {
        let openai: Usage =
            serde_json::from_value(json!({"prompt_tokens": 100, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 64}}))
                .expect("usage");
        assert_eq!((openai.cached_tokens(), openai.total()), (64, 105));
        let deepseek: Usage =
            serde_json::from_value(json!({"prompt_tokens": 100, "completion_tokens": 5, "total_tokens": 105, "prompt_cache_hit_tokens": 80}))
                .expect("usage");
        assert_eq!(deepseek.cached_tokens(), 80);
    }

    #[test]
    fn arguments_become_an_object_whatever_came() {
        let cases = [
            (r#"{"path":"a.rs"}"#, json!({"path": "a.rs"})),
            ("", json!({})),
            ("  ", json!({})),
            (r#""{\"path\":\"a.rs\"}""#, json!({"path": "a.rs"})),
            (r#"{"path":"a.r"#, json!({})),
            ("[1,2]", json!({})),
            ("null", json!({})),
        ];
        for (raw, expected) in cases {
            assert_eq!(arguments_object(raw), expected, "{raw}");
        }
    }
}
