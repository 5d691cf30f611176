//! Protocol conversion between the two client APIs coding agents speak and the one most pool providers speak, as
//! pure functions over bytes: no I/O, no clock, no randomness, no `worker` types.
//!
//! Claude Code speaks only Anthropic's Messages API ([`anthropic`]); Codex CLI speaks only OpenAI's Responses API
//! ([`responses`]). Gemini (through its OpenAI-compatible endpoint), OpenAI, Groq, Mistral, DeepSeek, OpenRouter,
//! xAI, Cerebras … speak OpenAI Chat Completions. Each protocol module turns a client request into a chat request
//! ([`UpstreamRequest`]), a chat completion into the client's answer, a chat SSE stream into the client's SSE
//! stream ([`StreamConverter`]), and an upstream error body into the client's error shape.
//!
//! What the edge supplies, because the bytes do not carry it: the upstream model name and what the upstream accepts
//! ([`UpstreamChat`]), and for the answer the client's model name, a fresh id and the time ([`Reply`]).
//!
//! Layout: [`sse`] parses and writes event streams; `chat` holds the chat-completions shapes both converters share;
//! `chat_stream` turns upstream chat SSE bytes into a small sequence of normalized pieces (text, tool call start,
//! tool arguments, finish, usage, error) that both stream converters consume; [`call_id`] carries Gemini thought
//! signatures inside tool-call ids; `upstream_error` reads any provider's error body.
//!
//! The conversions are stateless: the Responses `previous_response_id` and `store: true` are refused, because the
//! pool keeps no conversation.

pub mod anthropic;
pub mod call_id;
mod chat;
mod chat_stream;
mod input;
pub mod responses;
pub mod sse;
mod upstream_error;

use std::fmt;

/// A client request that cannot be converted: which field, and why. The edge answers it with a 400 in the
/// client's error shape ([`anthropic::error_body`], [`responses::error_body`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertError {
    /// Where in the request body, as a path such as `messages[2].content[0].type`; empty for the body itself.
    pub field: String,
    /// What is wrong, for a person to read.
    pub message: String,
}

impl ConvertError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> ConvertError {
        ConvertError { field: field.into(), message: message.into() }
    }
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

impl std::error::Error for ConvertError {}

/// Which request field carries the output-token limit upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxTokensField {
    /// `max_tokens`: accepted by Gemini's OpenAI endpoint, Groq, Mistral, DeepSeek, OpenRouter, xAI, Cerebras.
    MaxTokens,
    /// `max_completion_tokens`: required by OpenAI's reasoning models (o-series, gpt-5), which refuse `max_tokens`.
    MaxCompletionTokens,
}

/// What the edge knows about the chat-completions upstream a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamChat<'a> {
    /// The provider's own model name, written into the chat request's `model`.
    pub model: &'a str,
    /// Which field carries the client's output-token limit.
    pub max_tokens_field: MaxTokensField,
    /// Whether to send `user` (from Anthropic `metadata.user_id`, Responses `user` or `prompt_cache_key`).
    /// Gemini's OpenAI endpoint answers 400 "Unknown name" for fields it does not know, so leave this off unless
    /// the provider is known to take `user` (OpenAI, OpenRouter, Groq do).
    pub send_user: bool,
    /// Whether to send Gemini thought signatures back on assistant tool calls
    /// (`extra_content.google.thought_signature`, [`call_id`]). Gemini 3 requires them; OpenAI refuses the unknown
    /// field, which matters when a conversation begun on Gemini continues elsewhere. On for Gemini, off for others.
    pub thought_signatures: bool,
}

/// A converted client request, ready to send to a chat-completions endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamRequest {
    /// The chat-completions JSON body.
    pub body: Vec<u8>,
    /// Whether the client asked for a stream: answer through a [`StreamConverter`], else through the module's
    /// `response_from_chat`.
    pub stream: bool,
    /// The `model` the client named, to echo in the answer ([`Reply::model`]).
    pub client_model: String,
    /// The client's end-user or conversation tag (Anthropic `metadata.user_id`; Responses `user`, else
    /// `prompt_cache_key`). Codex sends one `prompt_cache_key` per conversation, so the edge may use this as a
    /// routing affinity key whether or not it is sent upstream ([`UpstreamChat::send_user`]).
    pub user: Option<String>,
    /// Tool types the request listed but the upstream cannot run and that were left out
    /// ([`responses::OtherTools::Omit`]), such as `web_search`; empty otherwise. Worth a log line.
    pub omitted_tools: Vec<String>,
}

/// What the answer to the client must say that the upstream's reply does not carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The model the client asked for, echoed back (clients compare it with what they sent).
    pub model: String,
    /// A fresh id, unique per request (for example 24 random hex digits), used for the message or response id
    /// (`msg_…`, `resp_…`), output item ids and any tool-call id the upstream left out.
    pub id: String,
    /// Unix seconds now, for Responses' `created_at`.
    pub created_s: u64,
}

/// A converter from an upstream chat-completions SSE body to the client's SSE body, fed chunk by chunk.
///
/// Output depends only on the concatenated input, never on where it was split; nothing is held back beyond an
/// incomplete upstream event, so the client sees each piece as soon as the upstream sends it.
pub trait StreamConverter {
    /// Consumes the next bytes of the upstream body; returns the client bytes they complete (often empty).
    fn push(&mut self, chunk: &[u8]) -> Vec<u8>;
    /// The upstream body ended: returns the client's closing events. Calls after the first return nothing.
    fn finish(&mut self) -> Vec<u8>;
    /// The upstream body broke off (the connection was cut): returns the client's error ending — Anthropic's
    /// `error` event, Responses' `response.failed` — with `message`, so the client does not take a cut answer
    /// for a whole one. Nothing once the stream has ended.
    fn abort(&mut self, message: &str) -> Vec<u8>;
}
