//! An estimate for `POST /v1/messages/count_tokens`, which chat-completions providers do not offer.
//!
//! Claude Code calls it to size the context; an estimate close enough to plan with beats an error. The estimate
//! walks the request and counts:
//!
//! - text (system, message text, tool-use input and tool-result text, tool names, descriptions and schemas as
//!   JSON): one token per 4 ASCII bytes, rounded up, plus one token per non-ASCII character (a CJK character is
//!   about one token in current tokenizers, an emoji one to three);
//! - 3 tokens per message for its framing;
//! - 1,600 tokens per image — Anthropic's cost of an image at the 1.15-megapixel size it scales images down to
//!   (<https://docs.anthropic.com/en/docs/build-with-claude/vision>);
//! - a base64 document: one token per 32 bytes of file, a rough rate for PDF pages (about 1,500–3,000 tokens for a
//!   page of 50–100 KB);
//! - 300 tokens when tools are present, about the size of the tool-use system prompt providers add.
//!
//! For English prose and code this lands within about a quarter of real tokenizers; it is not a bill.

use crate::convert::input::{self, index};
use crate::convert::ConvertError;
use serde_json::Value;

const MESSAGE_TOKENS: u64 = 3;
const IMAGE_TOKENS: u64 = 1600;
const DOCUMENT_BYTES_PER_TOKEN: u64 = 32;
const TOOLS_PREAMBLE_TOKENS: u64 = 300;

/// `{"input_tokens": N}` for a `count_tokens` body (a Messages request without `max_tokens`); see the module
/// documentation for how N is estimated.
pub fn count_tokens(body: &[u8]) -> Result<Vec<u8>, ConvertError> {
    let value = input::parse_body(body)?;
    let root = input::object(&value, "")?;
    let messages = root.array("messages")?.ok_or_else(|| ConvertError::new("messages", "is required"))?;
    let mut tokens = 0;
    if let Some(system) = root.get("system") {
        tokens += value_tokens(system);
    }
    for (i, message) in messages.iter().enumerate() {
        let path = index("messages", i);
        let message = input::object(message, &path)?;
        tokens += MESSAGE_TOKENS + message.get("content").map_or(0, value_tokens);
    }
    if let Some(tools) = root.array("tools")?.filter(|t| !t.is_empty()) {
        tokens += TOOLS_PREAMBLE_TOKENS + tools.iter().map(|t| text_tokens(&t.to_string())).sum::<u64>();
    }
    Ok(format!("{{\"input_tokens\":{tokens}}}").into_bytes())
}

/// Tokens of a content value: a string, a block, or a list of either.
fn value_tokens(value: &Value) -> u64 {
    match value {
        Value::String(text) => text_tokens(text),
        Value::Array(items) => items.iter().map(value_tokens).sum(),
        Value::Object(block) => match block.get("type").and_then(Value::as_str) {
            Some("text") => block.get("text").map_or(0, value_tokens),
            Some("image") => IMAGE_TOKENS,
            Some("document") => document_tokens(block.get("source")),
            Some("tool_use") => {
                block.get("name").map_or(0, value_tokens) + block.get("input").map_or(0, |i| text_tokens(&i.to_string()))
            }
            Some("tool_result") => block.get("content").map_or(0, value_tokens),
            Some("thinking") => block.get("thinking").map_or(0, value_tokens),
            _ => 0,
        },
        _ => 0,
    }
}

fn document_tokens(source: Option<&Value>) -> u64 {
    let Some(source) = source else { return 0 };
    match source.get("type").and_then(Value::as_str) {
        Some("base64") => {
            let base64_len = source.get("data").and_then(Value::as_str).map_or(0, str::len) as u64;
            (base64_len * 3 / 4).div_ceil(DOCUMENT_BYTES_PER_TOKEN)
        }
        Some("text") => source.get("data").map_or(0, value_tokens),
        Some("content") => source.get("content").map_or(0, value_tokens),
        _ => 0,
    }
}

fn text_tokens(text: &str) -> u64 {
    let ascii = text.bytes().filter(u8::is_ascii).count() as u64;
    let other = text.chars().filter(|c| !c.is_ascii()).count() as u64;
    ascii.div_ceil(4) + other
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn count(body: Value) -> u64 {
        let out = count_tokens(body.to_string().as_bytes()).expect("counts");
        let parsed: Value = serde_json::from_slice(&out).expect("json");
        parsed["input_tokens"].as_u64().expect("a number")
    }

    #[test]
    fn each_kind_of_content_counts_as_documented() {
        let cases = [
            ("four ascii bytes are a token", json!({"messages": [{"role": "user", "content": "abcdefgh"}]}), 3 + 2),
            ("a started group of four counts", json!({"messages": [{"role": "user", "content": "abcdefghi"}]}), 3 + 3),
            ("cjk characters are a token each", json!({"messages": [{"role": "user", "content": "你好世界"}]}), 3 + 4),
            ("the system prompt counts", json!({"system": [{"type": "text", "text": "abcd"}], "messages": []}), 1),
            ("images have a fixed cost", json!({"messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}]}), 3 + 1600),
            ("a pdf counts by size", json!({"messages": [{"role": "user", "content": [{"type": "document", "source": {"type": "base64", "data": "A".repeat(4096)}}]}]}), 3 + 96),
            ("tool use and results count", json!({"messages": [
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Read", "input": {"a": 1}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "12345678"}]}]}]}),
             3 + 1 + 2 + 3 + 2),
            ("tools add a preamble and their json", json!({"messages": [], "tools": [{"name": "x"}]}), 300 + 3),
            ("no messages, nothing", json!({"messages": []}), 0),
        ];
        for (name, body, expected) in cases {
            assert_eq!(count(body), expected, "{name}");
        }
    }

    #[test]
    fn a_claude_code_request_is_in_a_plausible_range() {
        let body = include_str!("../../../tests/fixtures/convert/anthropic-claude-code-request.json");
        let out = count_tokens(body.as_bytes()).expect("counts");
        let tokens: Value = serde_json::from_slice(&out).expect("json");
        let n = tokens["input_tokens"].as_u64().expect("number");
        // About 21 KB of mostly ASCII JSON-ish text and one image: a few thousand tokens.
        assert!((4_000..9_000).contains(&n), "{n}");
    }

    #[test]
    fn bodies_without_messages_are_refused() {
        assert_eq!(count_tokens(br#"{"model":"m"}"#).map(|_| ()).expect_err("refused").field, "messages");
        assert!(count_tokens(b"[]").is_err());
    }
}
