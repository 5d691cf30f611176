//! Chat completions and stream chunks as providers send them, read leniently as borrowed views of an
//! already-parsed JSON value.
//!
//! Reading straight off the [`Value`] (rather than deriving `Deserialize` and going through `from_value`) copies
//! no strings, cannot fail on a field of the wrong type — a wrong type reads as absent — and compiles to a small
//! fraction of the code serde's generated visitors take, which matters in the Worker's wasm.

use serde_json::Value;

static NULL: Value = Value::Null;

/// Member `key` of `value`, `Null` when absent.
fn member<'a>(value: &'a Value, key: &str) -> &'a Value {
    value.get(key).unwrap_or(&NULL)
}

/// Member `key` when it is a string.
fn string<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// Member `key` when it is an array; empty otherwise.
fn list<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value.get(key).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// A count from an integer or a float; anything else is 0.
fn count(value: &Value) -> u64 {
    value.as_u64().or_else(|| value.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)).unwrap_or(0)
}

/// An index, when the member is a number.
fn index_of(value: &Value) -> Option<u64> {
    value.get("index").filter(|i| i.is_number()).map(count)
}

/// A chat completion, or one stream chunk (which has `delta` where the completion has `message`).
#[derive(Debug)]
pub(crate) struct Completion<'a> {
    /// The choices.
    pub choices: Vec<Choice<'a>>,
    /// Token counts, when the body has them.
    pub usage: Option<Usage>,
}

impl<'a> Completion<'a> {
    /// Reads `value`; anything missing or of the wrong type reads as absent.
    pub(crate) fn read(value: &'a Value) -> Completion<'a> {
        Completion {
            choices: list(value, "choices").iter().map(Choice::read).collect(),
            usage: value.get("usage").filter(|u| u.is_object()).map(Usage::read),
        }
    }

    /// The first choice (index 0); other choices are never asked for.
    pub(crate) fn first_choice(&self) -> Option<&Choice<'a>> {
        self.choices.iter().find(|c| c.index.unwrap_or(0) == 0)
    }
}

/// One choice of a completion or chunk.
#[derive(Debug)]
pub(crate) struct Choice<'a> {
    /// `index`, absent in some providers' chunks.
    pub index: Option<u64>,
    /// A completion's `message`.
    pub message: ChoiceMessage<'a>,
    /// A chunk's `delta`.
    pub delta: ChoiceMessage<'a>,
    /// Why generation stopped.
    pub finish_reason: Option<&'a str>,
    /// The stop sequence that ended the text, where a provider says so (vLLM-based servers send `stop_reason`).
    pub stop_reason: Option<&'a str>,
}

impl<'a> Choice<'a> {
    fn read(value: &'a Value) -> Choice<'a> {
        Choice {
            index: index_of(value),
            message: ChoiceMessage::read(member(value, "message")),
            delta: ChoiceMessage::read(member(value, "delta")),
            finish_reason: string(value, "finish_reason"),
            stop_reason: string(value, "stop_reason"),
        }
    }
}

/// A completion's `message` or a chunk's `delta`.
#[derive(Debug)]
pub(crate) struct ChoiceMessage<'a> {
    /// A string, an array of parts, or null.
    pub content: &'a Value,
    /// A refusal, which is answer text too.
    pub refusal: Option<&'a str>,
    /// Tool calls, or pieces of them.
    pub tool_calls: Vec<ToolCallOut<'a>>,
}

impl<'a> ChoiceMessage<'a> {
    fn read(value: &'a Value) -> ChoiceMessage<'a> {
        ChoiceMessage {
            content: member(value, "content"),
            refusal: string(value, "refusal"),
            tool_calls: list(value, "tool_calls").iter().map(ToolCallOut::read).collect(),
        }
    }

    /// The text: `content` as a string, or its text parts joined; a refusal is text too.
    pub(crate) fn text(&self) -> String {
        let mut text = match self.content {
            Value::String(s) => s.clone(),
            Value::Array(parts) => parts.iter().filter_map(|p| string(p, "text")).collect(),
            _ => String::new(),
        };
        if let Some(refusal) = self.refusal {
            text.push_str(refusal);
        }
        text
    }
}

/// A tool call in a completion, or a piece of one in a chunk.
#[derive(Debug)]
pub(crate) struct ToolCallOut<'a> {
    /// `index`, absent from Gemini.
    pub index: Option<u64>,
    /// The call's id, when not empty.
    pub id: Option<&'a str>,
    /// `function.name`.
    pub name: Option<&'a str>,
    /// `function.arguments`: a string, or (from some providers) an object.
    arguments: &'a Value,
    /// Gemini's thought signature, `extra_content.google.thought_signature`.
    pub thought_signature: Option<&'a str>,
}

impl<'a> ToolCallOut<'a> {
    fn read(value: &'a Value) -> ToolCallOut<'a> {
        let function = member(value, "function");
        ToolCallOut {
            index: index_of(value),
            id: string(value, "id").filter(|id| !id.is_empty()),
            name: string(function, "name"),
            arguments: member(function, "arguments"),
            thought_signature: value.pointer("/extra_content/google/thought_signature").and_then(Value::as_str),
        }
    }

    /// The arguments as JSON text: a string as is, an object written out.
    pub(crate) fn arguments(&self) -> String {
        match self.arguments {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        }
    }
}

/// Token counts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Usage {
    /// Prompt tokens, cached ones included.
    pub prompt_tokens: u64,
    /// Output tokens, reasoning included.
    pub completion_tokens: u64,
    /// `total_tokens`, or the sum when the provider left it out.
    pub total_tokens: u64,
    /// Prompt tokens served from the provider's cache: `prompt_tokens_details.cached_tokens`, or DeepSeek's
    /// `prompt_cache_hit_tokens`; never more than the prompt.
    pub cached_tokens: u64,
    /// `completion_tokens_details.reasoning_tokens`.
    pub reasoning_tokens: u64,
}

impl Usage {
    fn read(value: &Value) -> Usage {
        let prompt_tokens = count(member(value, "prompt_tokens"));
        let completion_tokens = count(member(value, "completion_tokens"));
        let total = count(member(value, "total_tokens"));
        let cached = count(member(member(value, "prompt_tokens_details"), "cached_tokens"))
            .max(count(member(value, "prompt_cache_hit_tokens")));
        Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: if total > 0 { total } else { prompt_tokens + completion_tokens },
            cached_tokens: cached.min(prompt_tokens),
            reasoning_tokens: count(member(member(value, "completion_tokens_details"), "reasoning_tokens")),
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
    fn wrong_types_and_nulls_read_as_absent() {
        let cases = [
            json!({"choices": null, "usage": null}),
            json!({"choices": "x", "usage": 5}),
            json!([1, 2]),
            json!({"choices": [{"index": 0, "message": null, "finish_reason": null}]}),
            json!({"choices": [{"delta": {"content": null, "tool_calls": null, "refusal": null}}]}),
            json!({"choices": [{"delta": {"content": 7, "tool_calls": {"a": 1}, "refusal": false}, "finish_reason": 3}]}),
        ];
        for case in cases {
            let completion = Completion::read(&case);
            let texts: Vec<String> = completion.choices.iter().map(|c| c.delta.text() + &c.message.text()).collect();
            assert!(texts.iter().all(String::is_empty), "{case}");
            assert!(completion.choices.iter().all(|c| c.finish_reason.is_none() && c.delta.tool_calls.is_empty()), "{case}");
            assert_eq!(completion.usage, None, "{case}");
        }
    }

    #[test]
    fn tool_call_pieces_read_with_float_indexes_and_object_arguments() {
        let value = json!({"choices": [{"delta": {"tool_calls": [
            {"function": {"arguments": {"a": 1}}, "index": 1.0},
            {"id": "", "function": {"name": "f", "arguments": "{}"}, "extra_content": {"google": {"thought_signature": "S"}}}
        ]}}]});
        let chunk = Completion::read(&value);
        let calls = &chunk.choices[0].delta.tool_calls;
        assert_eq!((calls[0].index, calls[0].id, calls[0].arguments()), (Some(1), None, "{\"a\":1}".to_string()));
        assert_eq!((calls[1].index, calls[1].id, calls[1].name, calls[1].thought_signature), (None, None, Some("f"), Some("S")));
    }

    #[test]
    fn text_comes_from_strings_parts_and_refusals() {
        let cases = [
            (json!({"content": "plain"}), "plain"),
            (json!({"content": [{"type": "text", "text": "a"}, {"type": "image_url"}, {"type": "text", "text": "b"}]}), "ab"),
            (json!({"content": null, "refusal": "no"}), "no"),
        ];
        for (message, expected) in cases {
            let value = json!({"choices": [{"message": message}]});
            assert_eq!(Completion::read(&value).choices[0].message.text(), expected);
        }
    }

    #[test]
    fn usage_reads_cached_tokens_from_openai_and_deepseek() {
        let cases = [
            (json!({"prompt_tokens": 100, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 64}}), (64, 105)),
            (json!({"prompt_tokens": 100, "completion_tokens": 5, "total_tokens": 105, "prompt_cache_hit_tokens": 80}), (80, 105)),
            (json!({"prompt_tokens": 10.0, "completion_tokens": null, "prompt_tokens_details": {"cached_tokens": 99}}), (10, 10)),
            (json!({"prompt_tokens": "many"}), (0, 0)),
        ];
        for (usage, (cached, total)) in cases {
            let value = json!({"usage": usage});
            let read = Completion::read(&value).usage.expect("usage");
            assert_eq!((read.cached_tokens, read.total_tokens), (cached, total), "{usage}");
        }
        let reasoning = json!({"usage": {"completion_tokens": 50, "completion_tokens_details": {"reasoning_tokens": 30}}});
        assert_eq!(Completion::read(&reasoning).usage.map(|u| u.reasoning_tokens), Some(30));
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
