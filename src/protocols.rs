//! The client protocols of coding agents, on every pool: Anthropic Messages (Claude Code) and OpenAI Responses
//! (Codex). The decisions the edge (`edge::proxy::protocol_route`) applies, as pure functions:
//!
//! - which provider and model a request means ([`resolve_model`]): `provider/model`; a name from `MODEL_ALIASES`
//!   (Claude Code's `claude-sonnet-*`, Codex's `gpt-5.5`); or, under `/api/{provider}/…`, a plain model of that
//!   provider. The compat chat route resolves its `model` the same way;
//! - how it travels ([`native_path`]): byte for byte to a provider that serves the protocol itself (Anthropic's
//!   Messages, OpenAI's Responses — only `model` changes, and Anthropic's version headers go along), else converted
//!   to the provider's chat completions by [`crate::convert`], with the facts the converter needs about that chat API
//!   ([`upstream_chat`], from the provider table's `chat_quirks`);
//! - what the client gets back from a converted request: [`AnswerConverter`] turns the upstream's 2xx body into the
//!   client's protocol chunk by chunk (a stream event by event; a whole answer at its end), and [`error_body`] turns
//!   an upstream error answer into the client's error shape.
//!
//! Conversions are stateless: a Responses request that needs stored state (`previous_response_id`, `store: true`)
//! is honoured only where the upstream keeps it (OpenAI, passed through) and refused with 400 elsewhere.

use crate::api_error::ApiError;
use crate::providers::ErrorShape;
use crate::config::Config;
use crate::convert::anthropic::{self, AnthropicStream};
use crate::convert::responses::{self, ResponsesStream};
use crate::convert::{MaxTokensField, Reply, StreamConverter, UpstreamChat};
use crate::providers::{self, Provider, Unpoolable};
use crate::request_model::{check_model, split_compat_model, CompatModelError};

/// A call in a client protocol the Worker speaks besides each provider's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientCall {
    /// Anthropic `POST /v1/messages`.
    Messages,
    /// Anthropic `POST /v1/messages/count_tokens`.
    CountTokens,
    /// OpenAI `POST /responses`.
    Responses,
}

impl ClientCall {
    /// The protocol of its answers.
    pub fn api(self) -> ClientApi {
        match self {
            ClientCall::Messages | ClientCall::CountTokens => ClientApi::Messages,
            ClientCall::Responses => ClientApi::Responses,
        }
    }
}

/// A client protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientApi {
    /// Anthropic Messages.
    Messages,
    /// OpenAI Responses.
    Responses,
}

impl ClientApi {
    /// The shape of the Worker's own errors to clients of this protocol.
    pub fn error_shape(self) -> ErrorShape {
        match self {
            ClientApi::Messages => ErrorShape::Anthropic,
            ClientApi::Responses => ErrorShape::OpenAi,
        }
    }
}

/// A converted request's answer, as the client asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversion {
    /// The client's protocol.
    pub api: ClientApi,
    /// Whether the client asked for a stream (the upstream was asked for one too).
    pub stream: bool,
    /// The model the client named, echoed in the answer.
    pub client_model: String,
}

/// The provider and the provider's own model name that the client's `name` means. Under `/api/{provider}/…`
/// (`route_provider`) a name is that provider's model unless an alias matches it (an alias for another provider is
/// refused, so the path never lies about where a request went); elsewhere it is `provider/model`, split on the
/// first `/`, or an alias.
pub fn resolve_model(name: &str, route_provider: Option<&'static Provider>, config: &Config) -> Result<(&'static Provider, String), ApiError> {
    let invalid = |message: &str| ApiError::bad_request("invalid_model", message.to_string());
    if name.trim().is_empty() {
        return Err(invalid(CompatModelError::Missing.message()));
    }
    // Aliases are for names without a provider; a name with a '/' is `provider/model` (or, under a provider's
    // path, that provider's own name such as OpenRouter's `meta-llama/llama-3-8b`).
    let alias = if name.contains('/') { None } else { config.alias_for(name) };
    let (provider, model) = match (alias, route_provider) {
        (Some(alias), Some(route)) if alias.provider != route.slug => {
            return Err(invalid(&format!(
                "MODEL_ALIASES sends {name:?} to {}/{}, not to {}: use /api/compat, or a {} model here",
                alias.provider, alias.model, route.slug, route.slug
            )))
        }
        (Some(alias), _) => (known_provider(alias.provider)?, alias.model.clone()),
        (None, Some(route)) => (route, name.to_string()),
        (None, None) => {
            let (slug, model) = split_compat_model(name).map_err(|e| match e {
                CompatModelError::NoProvider => invalid(
                    "\"model\" must be \"{provider}/{model}\" (for example \"google-ai-studio/gemini-2.5-flash\") or a name listed in MODEL_ALIASES",
                ),
                other => invalid(other.message()),
            })?;
            (known_provider(slug)?, model.to_string())
        }
    };
    check_model(&model).map_err(invalid)?;
    Ok((provider, model))
}

/// The provider named by `slug` in a `model`, when its keys can be pooled.
pub fn known_provider(slug: &str) -> Result<&'static Provider, ApiError> {
    providers::find_poolable(slug).map_err(|problem| match problem {
        Unpoolable::Unknown => ApiError::bad_request(
            "unknown_provider",
            format!("unknown provider {slug:?} in \"model\": use e.g. \"google-ai-studio/gemini-2.5-flash\""),
        ),
        Unpoolable::NoStaticKeys => ApiError::not_poolable(slug),
    })
}

/// The provider's own path for `call` (after the slug), when it serves the protocol natively: the request then
/// goes there byte for byte but for `model`. `None`: convert it.
pub fn native_path(call: ClientCall, provider: &Provider) -> Option<String> {
    match call {
        ClientCall::Messages => provider.messages_path.map(str::to_string),
        ClientCall::CountTokens => provider.messages_path.map(|path| format!("{path}/count_tokens")),
        ClientCall::Responses => provider.responses_path.map(str::to_string),
    }
}

/// What the converter must know about `provider`'s chat API, for `model` (the name its chat endpoint expects).
pub fn upstream_chat<'a>(provider: &Provider, model: &'a str) -> UpstreamChat<'a> {
    let quirks = provider.chat_quirks;
    UpstreamChat {
        model,
        max_tokens_field: if quirks.max_completion_tokens { MaxTokensField::MaxCompletionTokens } else { MaxTokensField::MaxTokens },
        send_user: quirks.takes_user,
        thought_signatures: quirks.thought_signatures,
    }
}

/// An upstream error answer (any provider's body, already redacted) in the client's error shape, same status.
pub fn error_body(api: ClientApi, status: u16, upstream_body: &[u8]) -> Vec<u8> {
    match api {
        ClientApi::Messages => anthropic::upstream_error_body(status, upstream_body),
        ClientApi::Responses => responses::upstream_error_body(status, upstream_body),
    }
    .into_bytes()
}

/// The most of a whole (not streamed) upstream answer kept for conversion. Chat completions are text; a body past
/// this is not one.
pub const MAX_WHOLE_ANSWER_BYTES: usize = 32 * 1024 * 1024;

/// The least time between two writes of a streamed answer to the client, in milliseconds: client bytes completed
/// sooner after the last write are held ([`AnswerConverter::wait_ms`]) and go out together.
///
/// Each write costs the runtime far more CPU than converting the bytes it carries (a JavaScript stream chunk handed
/// to workerd and on to the socket: tens of µs, against about 10 µs to convert one upstream event; bench/notes.md),
/// and an upstream that sends a burst of small events would otherwise cost one write per event. An answer that
/// trickles — an event further than this from the one before — still goes out the moment it arrives; a burst waits
/// at most this long.
pub const WRITE_SPACING_MS: u64 = 10;

/// The client's answer to a converted request, built from the upstream's 2xx body as it arrives.
///
/// A streamed answer is converted event by event ([`crate::convert::StreamConverter`]): each [`push`] returns the
/// client bytes the upstream bytes complete, unless the last write was less than [`WRITE_SPACING_MS`] ago; then
/// they are held, and [`wait_ms`] says when [`flush`] should let them out (or the next [`push`] past that time
/// does). A whole answer is kept until [`finish`] and converted there; an upstream body that is not a chat
/// completion then becomes the client's error body (its status, already sent, stays 2xx).
///
/// [`push`]: AnswerConverter::push
/// [`wait_ms`]: AnswerConverter::wait_ms
/// [`flush`]: AnswerConverter::flush
/// [`finish`]: AnswerConverter::finish
pub struct AnswerConverter {
    inner: Inner,
    /// Client bytes completed but not yet written (see [`WRITE_SPACING_MS`]).
    held: Vec<u8>,
    /// When bytes were last written to the client (ms, the caller's clock); none yet.
    written_ms: Option<u64>,
}

enum Inner {
    Anthropic(AnthropicStream),
    Responses(ResponsesStream),
    Whole { api: ClientApi, reply: Reply, body: Vec<u8>, overflow: bool, ended: bool },
}

impl AnswerConverter {
    /// A converter for `conversion`, answering as `reply` says.
    pub fn new(conversion: &Conversion, reply: Reply) -> AnswerConverter {
        let inner = match (conversion.api, conversion.stream) {
            (ClientApi::Messages, true) => Inner::Anthropic(AnthropicStream::new(reply)),
            (ClientApi::Responses, true) => Inner::Responses(ResponsesStream::new(reply)),
            (api, false) => Inner::Whole { api, reply, body: Vec::new(), overflow: false, ended: false },
        };
        AnswerConverter { inner, held: Vec::new(), written_ms: None }
    }

    /// The `content-type` of the client's answer.
    pub fn content_type(conversion: &Conversion) -> &'static str {
        if conversion.stream {
            "text/event-stream; charset=utf-8"
        } else {
            "application/json"
        }
    }

    /// The next bytes of the upstream body, arriving at `now_ms`; returns the client bytes to write now: those they
    /// complete and any held before, unless the last write was less than [`WRITE_SPACING_MS`] ago (then nothing,
    /// and the bytes are held).
    pub fn push(&mut self, chunk: &[u8], now_ms: u64) -> Vec<u8> {
        let completed = self.convert(chunk);
        if self.held.is_empty() {
            self.held = completed;
        } else {
            self.held.extend_from_slice(&completed);
        }
        match self.wait_ms(now_ms) {
            Some(0) => self.flush(now_ms),
            _ => Vec::new(),
        }
    }

    /// How long the held bytes may still wait, in ms from `now_ms`; none when nothing is held.
    pub fn wait_ms(&self, now_ms: u64) -> Option<u64> {
        if self.held.is_empty() {
            return None;
        }
        // A clock that went back waits no longer than the spacing.
        Some(self.written_ms.map_or(0, |written| (written + WRITE_SPACING_MS).saturating_sub(now_ms).min(WRITE_SPACING_MS)))
    }

    /// The held bytes, to write at `now_ms` (nothing when none are held).
    pub fn flush(&mut self, now_ms: u64) -> Vec<u8> {
        if !self.held.is_empty() {
            self.written_ms = Some(now_ms);
        }
        std::mem::take(&mut self.held)
    }

    /// The client bytes `chunk` completes.
    fn convert(&mut self, chunk: &[u8]) -> Vec<u8> {
        match &mut self.inner {
            Inner::Anthropic(stream) => stream.push(chunk),
            Inner::Responses(stream) => stream.push(chunk),
            Inner::Whole { body, overflow, ended: false, .. } => {
                if body.len() + chunk.len() > MAX_WHOLE_ANSWER_BYTES {
                    *overflow = true;
                    body.clear();
                } else if !*overflow {
                    body.extend_from_slice(chunk);
                }
                Vec::new()
            }
            Inner::Whole { .. } => Vec::new(),
        }
    }

    /// The upstream body ended: the rest of the client's answer (for a whole answer, all of it), held bytes first.
    pub fn finish(&mut self) -> Vec<u8> {
        let rest = self.end();
        self.held_then(rest)
    }

    /// The upstream body broke off: the client's error ending (nothing once the answer has ended), held bytes first.
    pub fn abort(&mut self, message: &str) -> Vec<u8> {
        let ending = self.cut(message);
        self.held_then(ending)
    }

    fn held_then(&mut self, last: Vec<u8>) -> Vec<u8> {
        let mut bytes = std::mem::take(&mut self.held);
        bytes.extend_from_slice(&last);
        bytes
    }

    fn end(&mut self) -> Vec<u8> {
        match &mut self.inner {
            Inner::Anthropic(stream) => stream.finish(),
            Inner::Responses(stream) => stream.finish(),
            Inner::Whole { ended: true, .. } => Vec::new(),
            Inner::Whole { api, reply, body, overflow, ended } => {
                *ended = true;
                let converted = if *overflow {
                    Err(format!("the upstream answer is over {MAX_WHOLE_ANSWER_BYTES} bytes"))
                } else {
                    match api {
                        ClientApi::Messages => anthropic::response_from_chat(body, reply),
                        ClientApi::Responses => responses::response_from_chat(body, reply),
                    }
                    .map_err(|e| e.to_string())
                };
                *body = Vec::new();
                converted.unwrap_or_else(|message| whole_error(*api, &message))
            }
        }
    }

    fn cut(&mut self, message: &str) -> Vec<u8> {
        match &mut self.inner {
            Inner::Anthropic(stream) => stream.abort(message),
            Inner::Responses(stream) => stream.abort(message),
            Inner::Whole { ended: true, .. } => Vec::new(),
            Inner::Whole { api, body, ended, .. } => {
                *ended = true;
                *body = Vec::new();
                whole_error(*api, message)
            }
        }
    }
}

/// A whole answer that could not be converted, as the client's error body (502's type: the upstream's fault).
fn whole_error(api: ClientApi, message: &str) -> Vec<u8> {
    let message = format!("the upstream answer could not be converted: {message}");
    match api {
        ClientApi::Messages => anthropic::error_body(502, &message),
        ClientApi::Responses => responses::error_body(502, &message),
    }
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::find;
    use serde_json::{json, Value};

    fn config(vars: &[(&str, &str)]) -> Config {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())).expect("valid")
    }

    fn aliases() -> Config {
        config(&[("MODEL_ALIASES", "claude-haiku-*=google-ai-studio/gemini-2.5-flash-lite,claude-*=google-ai-studio/gemini-2.5-pro,gpt-5*=openai/gpt-5")])
    }

    fn resolved(name: &str, route: Option<&str>) -> Result<(&'static str, String), (u16, &'static str, String)> {
        let route = route.map(|slug| find(slug).expect("listed"));
        resolve_model(name, route, &aliases()).map(|(p, m)| (p.slug, m)).map_err(|e| (e.status, e.code, e.message))
    }

    #[test]
    fn provider_slash_model_and_aliases_resolve_under_compat() {
        assert_eq!(resolved("google-ai-studio/gemini-2.5-flash", None), Ok(("google-ai-studio", "gemini-2.5-flash".into())));
        assert_eq!(resolved("openrouter/anthropic/claude-sonnet-4", None), Ok(("openrouter", "anthropic/claude-sonnet-4".into())));
        assert_eq!(resolved("claude-sonnet-4-5-20250929", None), Ok(("google-ai-studio", "gemini-2.5-pro".into())));
        assert_eq!(resolved("claude-haiku-4-5", None), Ok(("google-ai-studio", "gemini-2.5-flash-lite".into())));
        assert_eq!(resolved("gpt-5.5", None), Ok(("openai", "gpt-5".into())));
        let greedy = config(&[("MODEL_ALIASES", "goo*=openai/gpt-5")]);
        let (provider, model) = resolve_model("google-ai-studio/gemini-2.5-flash", None, &greedy).expect("routable");
        assert_eq!((provider.slug, model.as_str()), ("google-ai-studio", "gemini-2.5-flash"), "aliases never capture provider/model names");
    }

    #[test]
    fn names_that_cannot_be_routed_are_400_with_the_reason() {
        let (status, code, message) = resolved("gemini-2.5-flash", None).expect_err("no provider");
        assert_eq!((status, code), (400, "invalid_model"));
        assert!(message.contains("MODEL_ALIASES"), "{message}");
        assert_eq!(resolved("nope/x", None).expect_err("unknown").1, "unknown_provider");
        assert_eq!(resolved("google-vertex-ai/gemini", None).expect_err("oauth").1, "provider_not_poolable");
        assert_eq!(resolved("openai/", None).expect_err("empty").1, "invalid_model");
        assert_eq!(resolved("", None).expect_err("missing").1, "invalid_model");
        assert_eq!(resolved("openai/bad\"name", None).expect_err("odd").1, "invalid_model");
    }

    #[test]
    fn under_a_provider_path_a_name_is_that_providers_unless_an_alias_says_otherwise() {
        assert_eq!(resolved("gemini-2.5-flash", Some("google-ai-studio")), Ok(("google-ai-studio", "gemini-2.5-flash".into())));
        assert_eq!(resolved("claude-opus-5-5", Some("google-ai-studio")), Ok(("google-ai-studio", "gemini-2.5-pro".into())));
        assert_eq!(resolved("meta-llama/llama-3-8b", Some("openrouter")), Ok(("openrouter", "meta-llama/llama-3-8b".into())));
        let (_, code, message) = resolved("claude-opus-5-5", Some("openrouter")).expect_err("the alias names another provider");
        assert_eq!(code, "invalid_model");
        assert!(message.contains("google-ai-studio/gemini-2.5-pro") && message.contains("/api/compat"), "{message}");
    }

    #[test]
    fn only_providers_that_serve_a_protocol_get_it_byte_for_byte() {
        let anthropic = find("anthropic").expect("listed");
        let openai = find("openai").expect("listed");
        let gemini = find("google-ai-studio").expect("listed");
        assert_eq!(native_path(ClientCall::Messages, anthropic).as_deref(), Some("v1/messages"));
        assert_eq!(native_path(ClientCall::CountTokens, anthropic).as_deref(), Some("v1/messages/count_tokens"));
        assert_eq!(native_path(ClientCall::Responses, anthropic), None);
        assert_eq!(native_path(ClientCall::Responses, openai).as_deref(), Some("responses"));
        assert_eq!(native_path(ClientCall::Messages, openai), None);
        for call in [ClientCall::Messages, ClientCall::CountTokens, ClientCall::Responses] {
            assert_eq!(native_path(call, gemini), None);
        }
    }

    #[test]
    fn the_chat_facts_come_from_the_provider_table() {
        let gemini = upstream_chat(find("google-ai-studio").expect("listed"), "gemini-2.5-flash");
        assert_eq!(gemini, UpstreamChat { model: "gemini-2.5-flash", max_tokens_field: MaxTokensField::MaxTokens, send_user: false, thought_signatures: true });
        let openai = upstream_chat(find("openai").expect("listed"), "gpt-5");
        assert_eq!(openai, UpstreamChat { model: "gpt-5", max_tokens_field: MaxTokensField::MaxCompletionTokens, send_user: true, thought_signatures: false });
    }

    fn reply() -> Reply {
        Reply { model: "claude-sonnet-4-5".into(), id: "0af3".into(), created_s: 1_750_000_000 }
    }

    const COMPLETION: &str = r#"{"choices":[{"message":{"role":"assistant","content":"你好 👋"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}"#;

    #[test]
    fn a_whole_answer_is_converted_at_the_end_however_it_was_split() {
        for api in [ClientApi::Messages, ClientApi::Responses] {
            let conversion = Conversion { api, stream: false, client_model: "claude-sonnet-4-5".into() };
            let mut converter = AnswerConverter::new(&conversion, reply());
            let bytes = COMPLETION.as_bytes();
            let cut = COMPLETION.find('好').expect("in the text") + 1; // inside the character
            assert!(converter.push(&bytes[..cut], 0).is_empty() && converter.push(&bytes[cut..], 1).is_empty(), "nothing before the end");
            assert_eq!(converter.wait_ms(1), None, "nothing held");
            let out: Value = serde_json::from_slice(&converter.finish()).expect("json");
            let text = match api {
                ClientApi::Messages => out["content"][0]["text"].clone(),
                ClientApi::Responses => out["output"][0]["content"][0]["text"].clone(),
            };
            assert_eq!(text, json!("你好 👋"), "{api:?}");
            assert!(converter.finish().is_empty() && converter.abort("late").is_empty(), "once");
            assert_eq!(AnswerConverter::content_type(&conversion), "application/json");
        }
    }

    #[test]
    fn a_whole_answer_that_is_not_a_completion_becomes_the_clients_error() {
        let messages = Conversion { api: ClientApi::Messages, stream: false, client_model: "m".into() };
        let mut converter = AnswerConverter::new(&messages, reply());
        converter.push(b"<html>oops</html>", 0);
        let out: Value = serde_json::from_slice(&converter.finish()).expect("json");
        assert_eq!(out["type"], "error");
        assert_eq!(out["error"]["type"], "api_error");
        let responses = Conversion { api: ClientApi::Responses, stream: false, client_model: "m".into() };
        let mut cut = AnswerConverter::new(&responses, reply());
        cut.push(&COMPLETION.as_bytes()[..10], 0);
        let out: Value = serde_json::from_slice(&cut.abort("the upstream connection was cut")).expect("json");
        assert_eq!(out["error"]["type"], "server_error");
        assert!(out["error"]["message"].as_str().expect("text").contains("cut"));
    }

    #[test]
    fn a_streamed_answer_comes_out_event_by_event() {
        let conversion = Conversion { api: ClientApi::Messages, stream: true, client_model: "claude-sonnet-4-5".into() };
        let mut converter = AnswerConverter::new(&conversion, reply());
        let first = converter.push(b"data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n", 0);
        let text = String::from_utf8(first).expect("utf-8");
        assert!(text.starts_with("event: message_start") && text.contains("\"text\":\"Hi\""), "{text}");
        let end = String::from_utf8(converter.finish()).expect("utf-8");
        assert!(end.contains("event: message_stop"), "{end}");
        assert_eq!(AnswerConverter::content_type(&conversion), "text/event-stream; charset=utf-8");
    }

    fn text_event(text: &str) -> Vec<u8> {
        format!("data: {{\"choices\":[{{\"delta\":{{\"content\":\"{text}\"}}}}]}}\n\n").into_bytes()
    }

    #[test]
    fn a_burst_goes_out_in_one_write_and_a_trickle_as_it_comes() {
        for api in [ClientApi::Messages, ClientApi::Responses] {
            let conversion = Conversion { api, stream: true, client_model: "m".into() };
            let mut paced = AnswerConverter::new(&conversion, reply());
            let mut writes: Vec<Vec<u8>> = Vec::new();
            let first = paced.push(&text_event("a"), 1_000);
            assert!(!first.is_empty() && paced.wait_ms(1_000).is_none(), "the first event goes out at once");
            writes.push(first);
            assert!(paced.push(&text_event("b"), 1_003).is_empty(), "{api:?}: 3 ms after a write, held");
            assert_eq!(paced.wait_ms(1_003), Some(WRITE_SPACING_MS - 3));
            assert!(paced.push(b"data: {\"choices\":[{\"delta\":{\"content\":", 1_004).is_empty(), "half an event");
            assert_eq!(paced.wait_ms(1_004), Some(WRITE_SPACING_MS - 4), "the held event waits no longer for it");
            let burst = paced.flush(1_000 + WRITE_SPACING_MS);
            assert!(String::from_utf8_lossy(&burst).contains("\"b\""), "{api:?}: the flush lets the held event out");
            assert!(paced.flush(1_011).is_empty() && paced.wait_ms(1_011).is_none(), "then nothing is held");
            writes.push(burst);
            assert!(paced.push(b"\"c\"}}]}\n\n", 1_012).is_empty(), "2 ms after the flush, held");
            let due = paced.push(&text_event("d"), 1_010 + WRITE_SPACING_MS);
            assert!(String::from_utf8_lossy(&due).contains("\"c\""), "{api:?}: a push once the wait is over writes everything held");
            writes.push(due);
            let trickle = paced.push(&text_event("e"), 1_020 + WRITE_SPACING_MS + 50);
            assert!(String::from_utf8_lossy(&trickle).contains("\"e\""), "a trickle goes out as it comes");
            writes.push(trickle);
            assert!(paced.push(&text_event("f"), 1_020 + WRITE_SPACING_MS + 51).is_empty());
            let end = paced.finish();
            assert!(String::from_utf8_lossy(&end).contains("\"f\""), "{api:?}: the end writes what is held first");
            writes.push(end);

            let mut unpaced = AnswerConverter::new(&conversion, reply());
            let mut whole = Vec::new();
            for (i, event) in ["a", "b", "c", "d", "e", "f"].into_iter().enumerate() {
                whole.extend(unpaced.push(&text_event(event), 100 * i as u64));
            }
            whole.extend(unpaced.finish());
            assert!(paced.flush(2_000).is_empty() && paced.abort("late").is_empty(), "nothing after the end");
            // The pacing moves where the writes fall, never the bytes (the reply's id makes them comparable).
            let joined: Vec<u8> = writes.concat();
            assert_eq!(String::from_utf8_lossy(&joined), String::from_utf8_lossy(&whole), "{api:?}");
        }
    }

    #[test]
    fn a_cut_stream_writes_what_is_held_before_its_error_ending() {
        let conversion = Conversion { api: ClientApi::Messages, stream: true, client_model: "m".into() };
        let mut converter = AnswerConverter::new(&conversion, reply());
        assert!(!converter.push(&text_event("a"), 0).is_empty());
        assert!(converter.push(&text_event("b"), 1).is_empty());
        let end = String::from_utf8(converter.abort("cut")).expect("utf-8");
        let (held, error) = (end.find("\"b\"").expect("held text"), end.find("event: error").expect("error ending"));
        assert!(held < error, "{end}");
        assert_eq!(converter.wait_ms(5), None, "nothing held after the end");
    }

    #[test]
    fn a_clock_that_went_back_holds_no_longer_than_the_spacing() {
        let conversion = Conversion { api: ClientApi::Responses, stream: true, client_model: "m".into() };
        let mut converter = AnswerConverter::new(&conversion, reply());
        assert!(!converter.push(&text_event("a"), 1_000_000).is_empty());
        assert!(converter.push(&text_event("b"), 5).is_empty());
        assert_eq!(converter.wait_ms(5), Some(WRITE_SPACING_MS));
    }

    #[test]
    fn upstream_errors_take_the_clients_shape() {
        let gemini = br#"[{"error":{"code":400,"message":"Invalid JSON payload received.","status":"INVALID_ARGUMENT"}}]"#;
        let anthropic: Value = serde_json::from_slice(&error_body(ClientApi::Messages, 400, gemini)).expect("json");
        assert_eq!(anthropic, json!({"type": "error", "error": {"type": "invalid_request_error", "message": "Invalid JSON payload received."}}));
        let openai: Value = serde_json::from_slice(&error_body(ClientApi::Responses, 400, gemini)).expect("json");
        assert_eq!(openai["error"]["message"], "Invalid JSON payload received.");
        assert_eq!(openai["error"]["code"], "INVALID_ARGUMENT");
        assert_eq!(ClientCall::CountTokens.api().error_shape(), ErrorShape::Anthropic);
        assert_eq!(ClientCall::Responses.api().error_shape(), ErrorShape::OpenAi);
    }
}
