//! Anthropic Messages API ⇄ OpenAI Chat Completions, for Claude Code and other Anthropic-only clients.
//!
//! - [`request_to_chat`]: a Messages request → a chat request (`request.rs` lists the mapping).
//! - [`response_from_chat`]: a chat completion → a Messages response.
//! - [`AnthropicStream`]: chat SSE → Messages SSE (`message_start`, `content_block_*`, `message_delta`,
//!   `message_stop`, or `error`), chunk by chunk.
//! - [`error_body`], [`request_error_body`], [`upstream_error_body`]: errors in Anthropic's shape, typed by HTTP
//!   status.
//! - [`count_tokens`]: an estimate for `/v1/messages/count_tokens`, which chat providers lack.
//!
//! Tool-use ids carry Gemini thought signatures both ways ([`crate::convert::call_id`]): a `tool_use` id the client
//! got from here may hold one, and is decoded when it comes back in a `tool_use` or `tool_result` block.
//!
//! Usage: Anthropic's `input_tokens` excludes cache reads while OpenAI's `prompt_tokens` includes cached tokens, so
//! `input_tokens = prompt_tokens − cached_tokens` and `cache_read_input_tokens = cached_tokens`. Cache writes are
//! not reported by chat providers and read 0.

mod count;
mod request;
mod response;
mod stream;

pub use count::count_tokens;
pub use request::request_to_chat;
pub use response::response_from_chat;
pub use stream::AnthropicStream;

use super::chat::Usage;
use super::upstream_error;
use serde::Serialize;

/// Anthropic's error `type` for an HTTP status (<https://docs.anthropic.com/en/api/errors>).
pub fn error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        500..=599 => "api_error",
        _ => "invalid_request_error",
    }
}

#[derive(Serialize)]
struct ErrorEnvelope<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    error: ErrorInner<'a>,
}

/// The inner `error` object, also the data of a stream's `error` event.
#[derive(Serialize)]
pub(super) struct ErrorInner<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) message: &'a str,
}

/// `{"type":"error","error":{"type":…,"message":…}}` for `status`: the Worker's own errors (a
/// [`crate::convert::ConvertError`] as 400 via [`request_error_body`], no key available as 429 …) on the Anthropic
/// route.
pub fn error_body(status: u16, message: &str) -> String {
    let body = ErrorEnvelope { kind: "error", error: ErrorInner { kind: error_type(status), message } };
    serde_json::to_string(&body).unwrap_or_default()
}

/// A refused request ([`crate::convert::ConvertError`]) as a 400 body; the message names the field.
pub fn request_error_body(error: &crate::convert::ConvertError) -> String {
    error_body(400, &error.to_string())
}

/// An upstream error answer (any provider's body) as an Anthropic error body, typed by the upstream's `status`.
/// Send it with the same status.
pub fn upstream_error_body(status: u16, body: &[u8]) -> String {
    let error = upstream_error::parse(body);
    if error.message.is_empty() {
        return error_body(status, &format!("the upstream provider answered HTTP {status}"));
    }
    error_body(status, &error.message)
}

/// Anthropic's `usage` object.
#[derive(Serialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct UsageOut {
    pub(super) input_tokens: u64,
    pub(super) output_tokens: u64,
    pub(super) cache_creation_input_tokens: u64,
    pub(super) cache_read_input_tokens: u64,
}

impl UsageOut {
    /// From the chat usage; all zero when the upstream sent none.
    pub(super) fn from_chat(usage: Option<&Usage>) -> UsageOut {
        let Some(usage) = usage else { return UsageOut::default() };
        let cached = usage.cached_tokens;
        UsageOut {
            input_tokens: usage.prompt_tokens - cached,
            output_tokens: usage.completion_tokens,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: cached,
        }
    }
}

/// Anthropic's `stop_reason` and `stop_sequence` for a chat `finish_reason`.
///
/// `tool_calls` → `tool_use`, and so does `stop` when the answer made tool calls (Gemini's stream says `stop`
/// there). `length` → `max_tokens`; `content_filter` → `refusal`. A plain `stop` is `stop_sequence` only when the
/// provider names the sequence that matched (chat completions otherwise cannot tell a stop sequence from a natural
/// end). No finish reason at all — a stream that ended without one — reads like `stop`.
pub(super) fn stop_reason(finish: Option<&str>, stop_sequence: Option<&str>, made_tool_calls: bool) -> (&'static str, Option<String>) {
    match finish {
        Some("length") => ("max_tokens", None),
        Some("content_filter") => ("refusal", None),
        Some("tool_calls" | "function_call") => ("tool_use", None),
        _ if made_tool_calls => ("tool_use", None),
        Some("stop") if stop_sequence.is_some() => ("stop_sequence", stop_sequence.map(str::to_string)),
        _ => ("end_turn", None),
    }
}

/// The id for an upstream tool call that came without one.
pub(super) fn generated_tool_id(reply_id: &str, n: usize) -> String {
    format!("toolu_{reply_id}_{n}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn error_types_follow_the_status() {
        let cases = [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (402, "billing_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (413, "request_too_large"),
            (422, "invalid_request_error"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (502, "api_error"),
            (503, "api_error"),
            (504, "timeout_error"),
            (529, "overloaded_error"),
        ];
        for (status, kind) in cases {
            assert_eq!(error_type(status), kind, "{status}");
        }
    }

    #[test]
    fn upstream_errors_of_every_shape_become_anthropic_errors() {
        let cases: Vec<(u16, Vec<u8>, Value)> = vec![
            (429, fixture("gemini/429-plain.json"), json!({"type": "error", "error": {"type": "rate_limit_error", "message": "Resource has been exhausted (e.g. check quota)."}})),
            (503, fixture("gemini/503-overloaded.json"), json!({"type": "error", "error": {"type": "api_error", "message": "The model is overloaded. Please try again later."}})),
            (401, fixture("openai/401-invalid-key.json"), json!({"type": "error", "error": {"type": "authentication_error", "message": upstream_error::parse(&fixture("openai/401-invalid-key.json")).message}})),
            (402, fixture("openrouter/402-credits.json"), json!({"type": "error", "error": {"type": "billing_error", "message": "Insufficient credits. Add more using https://openrouter.ai/settings/credits"}})),
            (502, b"<html>Bad Gateway</html>".to_vec(), json!({"type": "error", "error": {"type": "api_error", "message": "<html>Bad Gateway</html>"}})),
            (500, Vec::new(), json!({"type": "error", "error": {"type": "api_error", "message": "the upstream provider answered HTTP 500"}})),
        ];
        for (status, body, expected) in cases {
            let out: Value = serde_json::from_str(&upstream_error_body(status, &body)).expect("json");
            assert_eq!(out, expected, "{status}");
        }
    }

    #[test]
    fn own_errors_are_escaped_json() {
        let refused = crate::convert::ConvertError::new("messages[0].role", "must be \"user\" or \"assistant\"");
        let out: Value = serde_json::from_str(&request_error_body(&refused)).expect("json");
        assert_eq!(
            out,
            json!({"type": "error", "error": {"type": "invalid_request_error", "message": "messages[0].role: must be \"user\" or \"assistant\""}})
        );
    }

    #[test]
    fn stop_reasons_map_from_finish_reasons() {
        let cases = [
            (Some("stop"), None, false, ("end_turn", None)),
            (Some("stop"), Some("###"), false, ("stop_sequence", Some("###".to_string()))),
            (Some("stop"), None, true, ("tool_use", None)),
            (Some("tool_calls"), None, true, ("tool_use", None)),
            (Some("length"), None, false, ("max_tokens", None)),
            (Some("length"), None, true, ("max_tokens", None)),
            (Some("content_filter"), None, false, ("refusal", None)),
            (None, None, false, ("end_turn", None)),
            (None, None, true, ("tool_use", None)),
            (Some("something_new"), None, false, ("end_turn", None)),
        ];
        for (finish, sequence, tools, expected) in cases {
            assert_eq!(stop_reason(finish, sequence, tools), expected, "{finish:?} {sequence:?} {tools}");
        }
    }

    #[test]
    fn usage_moves_cached_tokens_out_of_input_tokens() {
        let usage = Usage { prompt_tokens: 1000, completion_tokens: 50, cached_tokens: 800, ..Usage::default() };
        assert_eq!(
            UsageOut::from_chat(Some(&usage)),
            UsageOut { input_tokens: 200, output_tokens: 50, cache_creation_input_tokens: 0, cache_read_input_tokens: 800 }
        );
        assert_eq!(UsageOut::from_chat(None), UsageOut::default());
    }
}
