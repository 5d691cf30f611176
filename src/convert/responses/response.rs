//! A chat completion → a Responses object: a `message` item for the text, a `function_call` item per tool call,
//! the status, usage.

use super::{call_item_id, generated_call_id, message_item_id, outcome, OutputItem, OutputText, ResponseObject, UsageOut};
use crate::convert::call_id::encode_call_id;
use crate::convert::chat::Completion;
use crate::convert::{upstream_error, ConvertError, Reply};
use serde_json::Value;

/// Converts a 2xx chat-completion body into the Responses object body. A body that is not a chat completion is an
/// error; the edge answers it as 502 ([`super::error_body`]).
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

    let mut output = Vec::new();
    let text = choice.message.text();
    if !text.is_empty() {
        output.push(OutputItem::Message {
            id: message_item_id(&reply.id, output.len()),
            status: "completed",
            role: "assistant",
            content: vec![OutputText::new(text)],
        });
    }
    for (n, call) in choice.message.tool_calls.iter().enumerate() {
        let call_id = call.id.map_or_else(|| generated_call_id(&reply.id, n), str::to_string);
        output.push(OutputItem::FunctionCall {
            id: call_item_id(&reply.id, output.len()),
            status: "completed",
            call_id: encode_call_id(&call_id, call.thought_signature),
            name: call.name.unwrap_or_default().to_string(),
            arguments: call.arguments(),
        });
    }
    let (status, incomplete_details) = outcome(choice.finish_reason);
    let id = format!("resp_{}", reply.id);
    let object = ResponseObject {
        id: &id,
        object: "response",
        created_at: reply.created_s,
        status,
        error: None,
        incomplete_details,
        model: &reply.model,
        output: &output,
        usage: completion.usage.as_ref().map(UsageOut::from_chat),
        store: false,
    };
    serde_json::to_vec(&object).map_err(|e| ConvertError::new("", format!("the answer could not be written ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reply() -> Reply {
        Reply { model: "gpt-5-codex".into(), id: "7c1e".into(), created_s: 1_759_000_000 }
    }

    fn convert(body: &str) -> Value {
        let out = response_from_chat(body.as_bytes(), &reply()).expect("converts");
        serde_json::from_slice(&out).expect("json")
    }

    #[test]
    fn a_text_answer_is_one_message_item() {
        let out = convert(include_str!("../../../tests/fixtures/convert/chat-completion-text.json"));
        assert_eq!(
            out,
            json!({
                "id": "resp_7c1e", "object": "response", "created_at": 1_759_000_000u64, "status": "completed",
                "error": null, "incomplete_details": null, "model": "gpt-5-codex",
                "output": [{"type": "message", "id": "msg_7c1e_0", "status": "completed", "role": "assistant",
                            "content": [{"type": "output_text", "text": "The parser drops the `\\r` before `\\n`, so CRLF streams split events early. 修好了 ✅", "annotations": []}]}],
                "usage": {"input_tokens": 2120, "input_tokens_details": {"cached_tokens": 1024}, "output_tokens": 38,
                          "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 2158},
                "store": false
            })
        );
    }

    #[test]
    fn tool_calls_are_function_call_items_with_their_arguments_as_sent() {
        let out = convert(include_str!("../../../tests/fixtures/convert/chat-completion-tool-calls.json"));
        assert_eq!(
            out["output"],
            json!([
                {"type": "message", "id": "msg_7c1e_0", "status": "completed", "role": "assistant",
                 "content": [{"type": "output_text", "text": "Let me look at both files.", "annotations": []}]},
                {"type": "function_call", "id": "fc_7c1e_1", "status": "completed",
                 "call_id": encode_call_id("function-call-4471", Some("CkYBjz1rX+sig==")), "name": "Read",
                 "arguments": "{\"file_path\":\"/src/convert/sse.rs\"}"},
                {"type": "function_call", "id": "fc_7c1e_2", "status": "completed", "call_id": "call_7c1e_1", "name": "Grep",
                 "arguments": "\"{\\\"pattern\\\":\\\"fn push\\\",\\\"path\\\":\\\"src\\\"}\""},
                {"type": "function_call", "id": "fc_7c1e_3", "status": "completed", "call_id": "call_3", "name": "Bash",
                 "arguments": "{\"command\": \"cargo te"}
            ])
        );
        assert_eq!(out["status"], "completed");
        assert_eq!(out["usage"]["total_tokens"], 2109);
    }

    #[test]
    fn a_length_cut_is_incomplete() {
        let out = convert(include_str!("../../../tests/fixtures/convert/chat-completion-length.json"));
        assert_eq!(out["status"], "incomplete");
        assert_eq!(out["incomplete_details"], json!({"reason": "max_output_tokens"}));
        assert_eq!(
            out["usage"],
            json!({"input_tokens": 120, "input_tokens_details": {"cached_tokens": 64}, "output_tokens": 16,
                   "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 136})
        );
    }

    #[test]
    fn an_answer_without_usage_says_null() {
        let out = convert(r#"{"choices":[{"message":{"content":"hi"},"finish_reason":"stop"}]}"#);
        assert_eq!(out["usage"], Value::Null);
        let empty = convert(r#"{"choices":[{"message":{"content":null},"finish_reason":"stop"}]}"#);
        assert_eq!(empty["output"], json!([]));
    }

    #[test]
    fn bodies_that_are_not_completions_are_errors() {
        for body in ["", "{}", r#"{"error":{"message":"x"}}"#, r#"{"choices":[{"index":1}]}"#] {
            assert!(response_from_chat(body.as_bytes(), &reply()).is_err(), "{body}");
        }
    }
}
