//! A chat completion → a Messages response: text and `tool_use` blocks, the stop reason, usage.

use super::{generated_tool_id, stop_reason, UsageOut};
use crate::convert::call_id::encode_call_id;
use crate::convert::chat::{arguments_object, Completion};
use crate::convert::{upstream_error, ConvertError, Reply};
use serde::Serialize;
use serde_json::Value;

#[derive(Serialize)]
struct Message<'a> {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: Vec<Block>,
    stop_reason: &'static str,
    stop_sequence: Option<String>,
    usage: UsageOut,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text { text: String },
    ToolUse { id: String, name: String, input: Value },
}

/// Converts a 2xx chat-completion body into the Messages response body. A body that is not a chat completion (an
/// error object, no choices) is an error; the edge answers it as 502 ([`super::error_body`]).
pub fn response_from_chat(body: &[u8], reply: &Reply) -> Result<Vec<u8>, ConvertError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ConvertError::new("", format!("the upstream answer is not JSON ({e})")))?;
    if value.get("error").is_some_and(|e| !e.is_null()) || value.is_array() {
        let error = upstream_error::from_value(&value).unwrap_or_default();
        return Err(ConvertError::new("", format!("the upstream answered with an error: {}", error.message)));
    }
    if !value.is_object() {
        return Err(ConvertError::new("", "the upstream answer is not a chat completion"));
    }
    let completion = Completion::read(&value);
    let choice = completion.first_choice().ok_or_else(|| ConvertError::new("choices", "the upstream answer has no choices"))?;

    let mut content = Vec::new();
    let text = choice.message.text();
    if !text.is_empty() {
        content.push(Block::Text { text });
    }
    for (n, call) in choice.message.tool_calls.iter().enumerate() {
        let id = call.id.map_or_else(|| generated_tool_id(&reply.id, n), str::to_string);
        content.push(Block::ToolUse {
            id: encode_call_id(&id, call.thought_signature),
            name: call.name.unwrap_or_default().to_string(),
            input: arguments_object(&call.arguments()),
        });
    }
    let made_tool_calls = !choice.message.tool_calls.is_empty();
    let (stop_reason, stop_sequence) =
        stop_reason(choice.finish_reason, choice.stop_reason, made_tool_calls);
    let message = Message {
        id: format!("msg_{}", reply.id),
        kind: "message",
        role: "assistant",
        model: &reply.model,
        content,
        stop_reason,
        stop_sequence,
        usage: UsageOut::from_chat(completion.usage.as_ref()),
    };
    serde_json::to_vec(&message).map_err(|e| ConvertError::new("", format!("the answer could not be written ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reply() -> Reply {
        Reply { model: "claude-sonnet-4-5".into(), id: "0af3".into(), created_s: 1_750_000_000 }
    }

    fn convert(body: &str) -> Value {
        let out = response_from_chat(body.as_bytes(), &reply()).expect("converts");
        serde_json::from_slice(&out).expect("json")
    }

    #[test]
    fn a_text_answer_becomes_one_text_block() {
        let out = convert(include_str!("../../../tests/fixtures/convert/chat-completion-text.json"));
        assert_eq!(
            out,
            json!({"id": "msg_0af3", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
                   "content": [{"type": "text", "text": "The parser drops the `\\r` before `\\n`, so CRLF streams split events early. 修好了 ✅"}],
                   "stop_reason": "end_turn", "stop_sequence": null,
                   "usage": {"input_tokens": 1096, "output_tokens": 38, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 1024}})
        );
    }

    #[test]
    fn tool_calls_become_tool_use_blocks_with_parsed_input() {
        let out = convert(include_str!("../../../tests/fixtures/convert/chat-completion-tool-calls.json"));
        let signed = encode_call_id("function-call-4471", Some("CkYBjz1rX+sig=="));
        assert_eq!(
            out["content"],
            json!([
                {"type": "text", "text": "Let me look at both files."},
                {"type": "tool_use", "id": signed, "name": "Read", "input": {"file_path": "/src/convert/sse.rs"}},
                {"type": "tool_use", "id": "toolu_0af3_1", "name": "Grep", "input": {"pattern": "fn push", "path": "src"}},
                {"type": "tool_use", "id": "call_3", "name": "Bash", "input": {}}
            ])
        );
        assert_eq!(out["stop_reason"], "tool_use");
        assert_eq!(out["usage"], json!({"input_tokens": 2048, "output_tokens": 61, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}));
    }

    #[test]
    fn a_length_cut_is_max_tokens() {
        let out = convert(include_str!("../../../tests/fixtures/convert/chat-completion-length.json"));
        assert_eq!(out["stop_reason"], "max_tokens");
        assert_eq!(out["content"], json!([{"type": "text", "text": "Step 1: open the file. Step 2: find the"}]));
    }

    #[test]
    fn finish_reasons_and_odd_bodies_map_sensibly() {
        let cases = [
            (r#"{"choices":[{"message":{"content":"no"},"finish_reason":"content_filter"}]}"#, "refusal", json!([{"type": "text", "text": "no"}])),
            (r#"{"choices":[{"message":{"content":"ab","refusal":null},"finish_reason":"stop","stop_reason":"<END>"}]}"#, "stop_sequence", json!([{"type": "text", "text": "ab"}])),
            (r#"{"choices":[{"message":{"content":null,"refusal":"I can't help with that."},"finish_reason":"stop"}]}"#, "end_turn", json!([{"type": "text", "text": "I can't help with that."}])),
            (r#"{"choices":[{"message":{"content":[{"type":"text","text":"parts"}]},"finish_reason":"stop"}]}"#, "end_turn", json!([{"type": "text", "text": "parts"}])),
            (r#"{"choices":[{"message":{"content":""}}]}"#, "end_turn", json!([])),
        ];
        for (body, stop, content) in cases {
            let out = convert(body);
            assert_eq!((out["stop_reason"].clone(), out["content"].clone()), (json!(stop), content), "{body}");
        }
        assert_eq!(convert(r#"{"choices":[{"message":{"content":"ab"},"finish_reason":"stop","stop_reason":"<END>"}]}"#)["stop_sequence"], "<END>");
    }

    #[test]
    fn bodies_that_are_not_completions_are_errors() {
        let cases = [
            ("not json", ""),
            (r#"{"choices":[]}"#, "choices"),
            (r#"{"error":{"message":"quota","code":429}}"#, ""),
            (r#"[{"error":{"message":"quota","code":429}}]"#, ""),
            (r#"{"choices":"x"}"#, "choices"),
            ("7", ""),
        ];
        for (body, field) in cases {
            let err = response_from_chat(body.as_bytes(), &reply()).map(|_| ()).expect_err("refused");
            assert_eq!(err.field, field, "{body}");
        }
        let err = response_from_chat(br#"{"error":{"message":"quota","code":429}}"#, &reply()).map(|_| ()).expect_err("refused");
        assert_eq!(err.message, "the upstream answered with an error: quota");
    }
}
