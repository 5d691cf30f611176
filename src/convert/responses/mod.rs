//! OpenAI Responses API ⇄ Chat Completions, stateless, for Codex CLI and other Responses-only clients.
//!
//! - [`request_to_chat`]: a Responses request → a chat request (`request.rs` lists the mapping).
//! - [`response_from_chat`]: a chat completion → a Responses object.
//! - [`ResponsesStream`]: chat SSE → Responses SSE (`response.created` … `response.completed`), chunk by chunk.
//! - [`error_body`], [`request_error_body`], [`upstream_error_body`]: errors in OpenAI's
//!   `{"error":{message,type,param,code}}` shape.
//!
//! Stateless: the pool stores no responses, so `previous_response_id`, `store: true` and `background: true` are
//! refused, and every answer says `store: false`. Codex sends `store: false` and the whole conversation each turn.
//!
//! Tools that are not `type: "function"` — hosted tools (`web_search`, `file_search`, `image_generation`,
//! `code_interpreter`, `computer_use_preview`, `mcp`), `local_shell`, freeform `custom` tools, `tool_search`,
//! `namespace` — cannot run behind a chat-completions provider. [`ResponsesOptions::other_tools`] decides what
//! happens to them: [`OtherTools::Refuse`] answers 400 naming the type; [`OtherTools::Omit`] leaves them out of the
//! upstream request and lists them in [`crate::convert::UpstreamRequest::omitted_tools`]. Codex sends `web_search`
//! in its default configuration (and `custom` apply_patch, `local_shell` or `image_generation` for some OpenAI
//! models), so a Codex-facing route should use `Omit`: the model simply does not get those tools. Function tools
//! are always converted.
//!
//! Call ids carry Gemini thought signatures ([`crate::convert::call_id`]) the same way Anthropic tool-use ids do.
//!
//! A stream that stops at the token limit ends with `response.incomplete` (status `incomplete`,
//! `incomplete_details.reason: "max_output_tokens"`), as OpenAI's own stream does; every other end is
//! `response.completed`, and an upstream error is `response.failed`.

mod request;
mod response;
mod stream;

pub use request::request_to_chat;
pub use response::response_from_chat;
pub use stream::ResponsesStream;

use super::chat::Usage;
use super::upstream_error;
use serde::Serialize;

/// What to do with tools that are not `type: "function"`; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtherTools {
    /// Answer 400, naming the tool type.
    Refuse,
    /// Leave them out of the upstream request and report them in `UpstreamRequest::omitted_tools`.
    Omit,
}

/// Choices the edge makes per route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponsesOptions {
    /// What happens to non-function tools.
    pub other_tools: OtherTools,
}

/// OpenAI's error `type` for an HTTP status.
pub fn error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        500..=599 => "server_error",
        _ => "invalid_request_error",
    }
}

#[derive(Serialize)]
struct ErrorEnvelope<'a> {
    error: ErrorInner<'a>,
}

#[derive(Serialize)]
struct ErrorInner<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: Option<&'a str>,
}

/// `{"error":{"message","type","param":null,"code":null}}` for `status`: the Worker's own errors on the Responses
/// route (a [`crate::convert::ConvertError`] as 400, with the field as `param`, via [`request_error_body`]).
pub fn error_body(status: u16, message: &str) -> String {
    let body = ErrorEnvelope { error: ErrorInner { message, kind: error_type(status), param: None, code: None } };
    serde_json::to_string(&body).unwrap_or_default()
}

/// A refused request as a 400 body whose `param` names the field.
pub fn request_error_body(error: &super::ConvertError) -> String {
    let param = (!error.field.is_empty()).then_some(error.field.as_str());
    let body = ErrorEnvelope {
        error: ErrorInner { message: &error.to_string(), kind: "invalid_request_error", param, code: None },
    };
    serde_json::to_string(&body).unwrap_or_default()
}

/// An upstream error answer as an OpenAI error body: the upstream's message, `type`, `param` and `code` where it
/// gave them (Google's `status` such as `RESOURCE_EXHAUSTED` becomes the `code`), else the type `status` implies.
/// Send it with the same status.
pub fn upstream_error_body(status: u16, body: &[u8]) -> String {
    let error = upstream_error::parse(body);
    let fallback = format!("the upstream provider answered HTTP {status}");
    let message = if error.message.is_empty() { fallback.as_str() } else { error.message.as_str() };
    let inner = ErrorInner {
        message,
        kind: error.kind.as_deref().unwrap_or(error_type(status)),
        param: error.param.as_deref(),
        code: error.code.as_deref(),
    };
    serde_json::to_string(&ErrorEnvelope { error: inner }).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------------------------
// The response object, shared by the complete answer and the stream

/// One output item.
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum OutputItem {
    Message { id: String, status: &'static str, role: &'static str, content: Vec<OutputText> },
    FunctionCall { id: String, status: &'static str, call_id: String, name: String, arguments: String },
}

/// An `output_text` content part.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(super) struct OutputText {
    #[serde(rename = "type")]
    kind: &'static str,
    text: String,
    annotations: [(); 0],
}

impl OutputText {
    /// A part holding `text`.
    pub(super) fn new(text: String) -> OutputText {
        OutputText { kind: "output_text", text, annotations: [] }
    }
}

/// The Responses `usage` object.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct UsageOut {
    input_tokens: u64,
    input_tokens_details: CachedDetails,
    output_tokens: u64,
    output_tokens_details: ReasoningDetails,
    total_tokens: u64,
}

#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
struct CachedDetails {
    cached_tokens: u64,
}

#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
struct ReasoningDetails {
    reasoning_tokens: u64,
}

impl UsageOut {
    /// From the chat usage (`prompt_tokens` already includes cached tokens, as Responses counts them).
    pub(super) fn from_chat(usage: &Usage) -> UsageOut {
        UsageOut {
            input_tokens: usage.prompt_tokens,
            input_tokens_details: CachedDetails { cached_tokens: usage.cached_tokens },
            output_tokens: usage.completion_tokens,
            output_tokens_details: ReasoningDetails { reasoning_tokens: usage.reasoning_tokens },
            total_tokens: usage.total_tokens,
        }
    }
}

/// `incomplete_details`.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Incomplete {
    reason: &'static str,
}

/// The `error` of a failed response.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub(super) struct Failure {
    pub(super) code: String,
    pub(super) message: String,
}

/// A Responses object.
#[derive(Serialize)]
pub(super) struct ResponseObject<'a> {
    pub(super) id: &'a str,
    pub(super) object: &'static str,
    pub(super) created_at: u64,
    pub(super) status: &'static str,
    pub(super) error: Option<&'a Failure>,
    pub(super) incomplete_details: Option<Incomplete>,
    pub(super) model: &'a str,
    pub(super) output: &'a [OutputItem],
    pub(super) usage: Option<UsageOut>,
    pub(super) store: bool,
}

/// The status, and the reason when incomplete, for a chat `finish_reason`.
pub(super) fn outcome(finish: Option<&str>) -> (&'static str, Option<Incomplete>) {
    match finish {
        Some("length") => ("incomplete", Some(Incomplete { reason: "max_output_tokens" })),
        Some("content_filter") => ("incomplete", Some(Incomplete { reason: "content_filter" })),
        _ => ("completed", None),
    }
}

/// The id of the message item at `output_index`.
pub(super) fn message_item_id(reply_id: &str, output_index: usize) -> String {
    format!("msg_{reply_id}_{output_index}")
}

/// The id of the function-call item at `output_index`.
pub(super) fn call_item_id(reply_id: &str, output_index: usize) -> String {
    format!("fc_{reply_id}_{output_index}")
}

/// The call id for the `n`th upstream tool call that came without one.
pub(super) fn generated_call_id(reply_id: &str, n: usize) -> String {
    format!("call_{reply_id}_{n}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn parse(body: &str) -> Value {
        serde_json::from_str(body).expect("json")
    }

    #[test]
    fn upstream_errors_keep_what_the_upstream_said() {
        let cases = [
            (429, fixture("openai/429-rate-limit.json"), json!({"error": {
                "message": "Rate limit reached for gpt-4o-mini in organization org-abc on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s. Visit https://platform.openai.com/account/rate-limits to learn more.",
                "type": "requests", "param": null, "code": "rate_limit_exceeded"}})),
            (429, fixture("gemini/429-plain.json"), json!({"error": {
                "message": "Resource has been exhausted (e.g. check quota).", "type": "rate_limit_error", "param": null, "code": "RESOURCE_EXHAUSTED"}})),
            (503, fixture("gemini/503-overloaded.json"), json!({"error": {
                "message": "The model is overloaded. Please try again later.", "type": "server_error", "param": null, "code": "UNAVAILABLE"}})),
            (401, fixture("anthropic/401-authentication.json"), json!({"error": {
                "message": parse(&String::from_utf8_lossy(&fixture("anthropic/401-authentication.json")))["error"]["message"], "type": "authentication_error", "param": null, "code": null}})),
            (502, b"Bad Gateway".to_vec(), json!({"error": {"message": "Bad Gateway", "type": "server_error", "param": null, "code": null}})),
            (400, Vec::new(), json!({"error": {"message": "the upstream provider answered HTTP 400", "type": "invalid_request_error", "param": null, "code": null}})),
        ];
        for (status, body, expected) in cases {
            assert_eq!(parse(&upstream_error_body(status, &body)), expected, "{status}");
        }
    }

    #[test]
    fn own_errors_have_the_openai_shape() {
        assert_eq!(
            parse(&error_body(429, "every key is cooling")),
            json!({"error": {"message": "every key is cooling", "type": "rate_limit_error", "param": null, "code": null}})
        );
        let refused = crate::convert::ConvertError::new("input[3].type", "\"item_reference\" needs stored items");
        assert_eq!(
            parse(&request_error_body(&refused)),
            json!({"error": {"message": "input[3].type: \"item_reference\" needs stored items", "type": "invalid_request_error", "param": "input[3].type", "code": null}})
        );
        let cases = [(400, "invalid_request_error"), (401, "authentication_error"), (403, "permission_error"), (404, "not_found_error"), (413, "invalid_request_error"), (429, "rate_limit_error"), (500, "server_error"), (503, "server_error")];
        for (status, kind) in cases {
            assert_eq!(error_type(status), kind, "{status}");
        }
    }

    #[test]
    fn finish_reasons_decide_the_status() {
        assert_eq!(outcome(Some("stop")), ("completed", None));
        assert_eq!(outcome(Some("tool_calls")), ("completed", None));
        assert_eq!(outcome(None), ("completed", None));
        assert_eq!(outcome(Some("length")), ("incomplete", Some(Incomplete { reason: "max_output_tokens" })));
        assert_eq!(outcome(Some("content_filter")), ("incomplete", Some(Incomplete { reason: "content_filter" })));
    }
}
