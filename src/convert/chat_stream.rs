//! An upstream chat-completions SSE body, read chunk by chunk into a short list of normalized pieces — text, a
//! tool call starting, its argument text, the finish reason, usage, the end, an error — that the Anthropic and
//! Responses stream converters both consume. Provider differences end here.
//!
//! Which tool call a streamed `tool_calls` entry belongs to: OpenAI sends `index` on every entry and `id` and the
//! name only on a call's first entry. Gemini sends no `index`, usually a whole call per entry, sometimes arguments
//! split over later entries without an id. So an entry starts a new call when its `index` differs from the current
//! call's, or when it has a non-empty `id` different from the current call's; otherwise it continues the current
//! call. Calls are assumed to stream one after another, as every provider sends them; a late entry for an earlier
//! `index` is dropped rather than grafted onto the wrong call.
//!
//! A call is announced when its first argument text arrives (or when something else comes next), not at its first
//! entry, so a Gemini thought signature sent in an entry of its own just after the name still makes it into the
//! call's id. One sent after the arguments have begun cannot, and is lost.
//!
//! Per chunk, pieces come in this order: usage, then (first chunk only) `Started`, text, tool calls, finish. So a
//! converter knows the usage a first chunk carries (Gemini sends usage in every chunk) before it writes its opening
//! event. Only the first choice is read.

use super::chat::{Completion, Usage};
use super::sse::{SseEvent, SseParser};
use super::upstream_error::{self, UpstreamError};
use super::StreamConverter;
use serde_json::Value;

/// A client protocol's stream writer, fed the pieces of an upstream chat stream. Every such writer is a
/// [`StreamConverter`] through the one driver below, which owns what the protocols share: reading the upstream,
/// closing a stream that never started with an error, and the error ending of a cut stream.
pub(crate) trait ClientEvents {
    /// The upstream stream the pieces come from.
    fn upstream(&mut self) -> &mut ChatStream;
    /// Writes what one piece means in the client's protocol.
    fn handle(&mut self, piece: Piece, out: &mut Vec<u8>);
    /// Writes the closing events of a stream that started.
    fn end(&mut self, out: &mut Vec<u8>);
    /// Writes the error ending.
    fn fail(&mut self, error: &UpstreamError, out: &mut Vec<u8>);
    /// Whether the opening events were written.
    fn started(&self) -> bool;
    /// Whether the stream has ended (cleanly or with an error).
    fn finished(&self) -> bool;
}

impl<T: ClientEvents> StreamConverter for T {
    fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in self.upstream().push(chunk) {
            self.handle(piece, &mut out);
        }
        out
    }

    fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in self.upstream().finish() {
            self.handle(piece, &mut out);
        }
        if !self.finished() {
            if self.started() {
                self.end(&mut out);
            } else {
                let message = "the upstream ended the stream without sending anything";
                self.fail(&UpstreamError { message: message.into(), ..UpstreamError::default() }, &mut out);
            }
        }
        out
    }

    fn abort(&mut self, message: &str) -> Vec<u8> {
        let mut out = Vec::new();
        if !self.finished() {
            self.fail(&UpstreamError { message: message.into(), ..UpstreamError::default() }, &mut out);
        }
        out
    }
}

/// The longest piece of a non-JSON upstream event quoted in the error.
const QUOTE_CHARS: usize = 120;

/// One normalized piece of an upstream stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// The first chunk arrived.
    Started,
    /// Token counts so far (each one replaces the last).
    Usage(Usage),
    /// Answer text.
    Text(String),
    /// A tool call starts; its arguments follow as [`Piece::ToolArguments`].
    ToolCall { id: Option<String>, name: String, signature: Option<String> },
    /// More argument JSON text of the current tool call.
    ToolArguments(String),
    /// Why generation stopped, and the stop sequence that stopped it if the provider says.
    Finish { reason: String, stop_sequence: Option<String> },
    /// `data: [DONE]`; nothing after it is read.
    Done,
    /// The upstream reported an error, or sent something unreadable; nothing after it is read.
    Error(UpstreamError),
}

struct OpenCall {
    index: Option<u64>,
    id: Option<String>,
    name: String,
    signature: Option<String>,
    announced: bool,
}

/// The reader; see the module documentation.
pub(crate) struct ChatStream {
    parser: SseParser,
    started: bool,
    ended: bool,
    call: Option<OpenCall>,
    seen_indices: Vec<u64>,
}

impl ChatStream {
    /// A reader at the start of a body.
    pub(crate) fn new() -> ChatStream {
        ChatStream { parser: SseParser::new(), started: false, ended: false, call: None, seen_indices: Vec::new() }
    }

    /// The pieces the next bytes complete.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Vec<Piece> {
        let mut pieces = Vec::new();
        if self.ended {
            return pieces;
        }
        let mut events = Vec::new();
        let parsed = self.parser.push_into(bytes, &mut events);
        for event in events {
            self.event(event, &mut pieces);
            if self.ended {
                return pieces;
            }
        }
        if let Err(too_long) = parsed {
            let message = format!("an upstream stream event is longer than {} bytes", too_long.limit_bytes);
            self.fail(UpstreamError { message, ..UpstreamError::default() }, &mut pieces);
        }
        pieces
    }

    /// The body ended: the pieces of a last unterminated event, and the current call if not yet announced.
    pub(crate) fn finish(&mut self) -> Vec<Piece> {
        let mut pieces = Vec::new();
        if self.ended {
            return pieces;
        }
        if let Some(event) = self.parser.finish() {
            self.event(event, &mut pieces);
        }
        if !self.ended {
            self.close_call(&mut pieces);
            self.ended = true;
        }
        pieces
    }

    fn fail(&mut self, error: UpstreamError, pieces: &mut Vec<Piece>) {
        pieces.push(Piece::Error(error));
        self.ended = true;
    }

    fn event(&mut self, event: SseEvent, pieces: &mut Vec<Piece>) {
        let data = event.data.trim();
        if data.is_empty() {
            return;
        }
        if data == "[DONE]" {
            self.close_call(pieces);
            pieces.push(Piece::Done);
            self.ended = true;
            return;
        }
        let value: Value = match serde_json::from_str(data) {
            Ok(value) => value,
            Err(_) => {
                let quoted: String = data.chars().take(QUOTE_CHARS).collect();
                let message = format!("the upstream sent a stream event that is not JSON: {quoted}");
                return self.fail(UpstreamError { message, ..UpstreamError::default() }, pieces);
            }
        };
        let is_error = event.event.as_deref() == Some("error")
            || value.get("error").is_some_and(|e| !e.is_null())
            || value.is_array();
        if is_error {
            let error = upstream_error::from_value(&value).unwrap_or_else(|| UpstreamError {
                message: format!("the upstream stream reported an error: {value}"),
                ..UpstreamError::default()
            });
            return self.fail(error, pieces);
        }
        if !value.is_object() {
            let message = format!("the upstream sent a stream chunk that is not an object: {value}");
            return self.fail(UpstreamError { message, ..UpstreamError::default() }, pieces);
        }
        self.chunk(&Completion::read(&value), pieces);
    }

    fn chunk(&mut self, chunk: &Completion<'_>, pieces: &mut Vec<Piece>) {
        if let Some(usage) = chunk.usage {
            pieces.push(Piece::Usage(usage));
        }
        if !self.started {
            self.started = true;
            pieces.push(Piece::Started);
        }
        let Some(choice) = chunk.first_choice() else { return };
        let text = choice.delta.text();
        if !text.is_empty() {
            self.announce(pieces);
            pieces.push(Piece::Text(text));
        }
        for entry in &choice.delta.tool_calls {
            let id = entry.id;
            let is_new = match &self.call {
                None => true,
                Some(call) => {
                    (entry.index.is_some() && entry.index != call.index) || (id.is_some() && id != call.id.as_deref())
                }
            };
            if is_new {
                if entry.index.is_some_and(|i| self.seen_indices.contains(&i)) && id.is_none() {
                    continue;
                }
                self.close_call(pieces);
                self.seen_indices.extend(entry.index);
                self.call = Some(OpenCall {
                    index: entry.index,
                    id: id.map(str::to_string),
                    name: entry.name.unwrap_or_default().to_string(),
                    signature: entry.thought_signature.map(str::to_string),
                    announced: false,
                });
            } else if let Some(call) = self.call.as_mut() {
                if call.name.is_empty() {
                    call.name = entry.name.unwrap_or_default().to_string();
                }
                if call.signature.is_none() {
                    call.signature = entry.thought_signature.map(str::to_string);
                }
                if call.id.is_none() {
                    call.id = id.map(str::to_string);
                }
            }
            let arguments = entry.arguments();
            if !arguments.is_empty() {
                self.announce(pieces);
                pieces.push(Piece::ToolArguments(arguments));
            }
        }
        if let Some(reason) = choice.finish_reason.filter(|r| !r.is_empty()) {
            self.close_call(pieces);
            pieces.push(Piece::Finish { reason: reason.to_string(), stop_sequence: choice.stop_reason.map(str::to_string) });
        }
    }

    fn announce(&mut self, pieces: &mut Vec<Piece>) {
        if let Some(call) = self.call.as_mut().filter(|c| !c.announced) {
            call.announced = true;
            pieces.push(Piece::ToolCall { id: call.id.clone(), name: call.name.clone(), signature: call.signature.clone() });
        }
    }

    fn close_call(&mut self, pieces: &mut Vec<Piece>) {
        self.announce(pieces);
        self.call = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: &str) -> Vec<Piece> {
        let mut stream = ChatStream::new();
        let mut pieces = stream.push(body.as_bytes());
        pieces.extend(stream.finish());
        pieces
    }

    fn call(id: Option<&str>, name: &str, signature: Option<&str>) -> Piece {
        Piece::ToolCall { id: id.map(str::to_string), name: name.to_string(), signature: signature.map(str::to_string) }
    }

    fn args(text: &str) -> Piece {
        Piece::ToolArguments(text.to_string())
    }

    fn text(text: &str) -> Piece {
        Piece::Text(text.to_string())
    }

    fn finish(reason: &str) -> Piece {
        Piece::Finish { reason: reason.to_string(), stop_sequence: None }
    }

    fn usage(prompt: u64, completion: u64) -> Piece {
        Piece::Usage(Usage { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, ..Usage::default() })
    }

    fn error(message: &str) -> Piece {
        Piece::Error(UpstreamError { message: message.to_string(), ..UpstreamError::default() })
    }

    #[test]
    fn streams_read_into_the_expected_pieces() {
        let cases: Vec<(&str, &str, Vec<Piece>)> = vec![
            (
                "openai text with a final usage chunk",
                concat!(
                    "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"finish_reason\":null}],\"usage\":null}\n\n",
                    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n",
                    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":null}]}\n\n",
                    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
                    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\n",
                    "data: [DONE]\n\n",
                ),
                vec![Piece::Started, text("Hel"), text("lo"), finish("stop"), usage(9, 2), Piece::Done],
            ),
            (
                "openai tool calls announced with their first argument text",
                concat!(
                    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"Read\",\"arguments\":\"\"}}]}}]}\n\n",
                    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"p\"}}]}}]}\n\n",
                    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\":1}\"}}]}}]}\n\n",
                    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"Bash\",\"arguments\":\"\"}}]}}]}\n\n",
                    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
                    "data: [DONE]\n\n",
                ),
                vec![
                    Piece::Started,
                    call(Some("call_a"), "Read", None),
                    args("{\"p"),
                    args("\":1}"),
                    call(Some("call_b"), "Bash", None),
                    finish("tool_calls"),
                    Piece::Done,
                ],
            ),
            (
                "gemini whole calls without index, usage in every chunk, stop for tool calls",
                concat!(
                    "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"tool_calls\":[",
                    "{\"extra_content\":{\"google\":{\"thought_signature\":\"SIG\"}},\"function\":{\"arguments\":\"{}\",\"name\":\"a\"},\"id\":\"f1\",\"type\":\"function\"},",
                    "{\"function\":{\"arguments\":\"{\\\"x\\\":2}\",\"name\":\"b\"},\"id\":\"f2\",\"type\":\"function\"}",
                    "]},\"finish_reason\":\"stop\",\"index\":0}],\"usage\":{\"completion_tokens\":7,\"prompt_tokens\":30,\"total_tokens\":37}}\n\n",
                    "data: [DONE]\n\n",
                ),
                vec![
                    usage(30, 7),
                    Piece::Started,
                    call(Some("f1"), "a", Some("SIG")),
                    args("{}"),
                    call(Some("f2"), "b", None),
                    args("{\"x\":2}"),
                    finish("stop"),
                    Piece::Done,
                ],
            ),
            (
                "indexless argument pieces continue the current call; a signature before the arguments is kept",
                concat!(
                    "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"id\":\"f1\",\"function\":{\"name\":\"Write\"}}]}}]}\n\n",
                    "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"extra_content\":{\"google\":{\"thought_signature\":\"S\"}}}]}}]}\n\n",
                    "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"arguments\":\"{\\\"a\\\":\"}}]}}]}\n\n",
                    "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"id\":\"f1\",\"function\":{\"arguments\":\"1}\"}}]}}]}\n\n",
                ),
                vec![Piece::Started, call(Some("f1"), "Write", Some("S")), args("{\"a\":"), args("1}")],
            ),
            (
                "a late entry for a finished index is dropped",
                concat!(
                    "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"a\",\"function\":{\"name\":\"x\",\"arguments\":\"{}\"}}]}}]}\n\n",
                    "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"b\",\"function\":{\"name\":\"y\",\"arguments\":\"{}\"}}]}}]}\n\n",
                    "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"oops\"}}]}}]}\n\n",
                ),
                vec![Piece::Started, call(Some("a"), "x", None), args("{}"), call(Some("b"), "y", None), args("{}")],
            ),
            (
                "a call with no arguments is announced when the stream moves on",
                concat!(
                    "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"a\",\"function\":{\"name\":\"x\",\"arguments\":\"\"}}]}}]}\n\n",
                    "data: {\"choices\":[{\"delta\":{\"content\":\"after\"}}]}\n\n",
                ),
                vec![Piece::Started, call(Some("a"), "x", None), text("after")],
            ),
            (
                "a stream cut short still announces its last call",
                "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"a\",\"function\":{\"name\":\"x\"}}]}}]}\n\n",
                vec![Piece::Started, call(Some("a"), "x", None)],
            ),
            (
                "an error object ends the stream",
                "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\n",
                vec![
                    Piece::Started,
                    text("a"),
                    Piece::Error(UpstreamError { message: "boom".into(), kind: Some("server_error".into()), ..UpstreamError::default() }),
                ],
            ),
            (
                "gemini's error array",
                "data: [{\"error\":{\"code\":503,\"message\":\"overloaded\",\"status\":\"UNAVAILABLE\"}}]\n\n",
                vec![Piece::Error(UpstreamError {
                    message: "overloaded".into(),
                    code: Some("UNAVAILABLE".into()),
                    status: Some(503),
                    ..UpstreamError::default()
                })],
            ),
            (
                "an event named error",
                "event: error\ndata: {\"message\":\"slow down\"}\n\n",
                vec![error("slow down")],
            ),
            ("text that is not json", "data: <html>\n\n", vec![error("the upstream sent a stream event that is not JSON: <html>")]),
            ("json that is not an object", "data: 5\n\n", vec![error("the upstream sent a stream chunk that is not an object: 5")]),
            ("empty data and comments are skipped", ": ping\n\ndata:\n\ndata: [DONE]\n\n", vec![Piece::Done]),
            (
                "the matched stop sequence is kept",
                "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\",\"stop_reason\":\"END\"}]}\n\n",
                vec![Piece::Started, Piece::Finish { reason: "stop".into(), stop_sequence: Some("END".into()) }],
            ),
        ];
        for (name, body, expected) in cases {
            assert_eq!(read(body), expected, "{name}");
        }
    }

    #[test]
    fn nothing_is_read_after_the_end() {
        let mut stream = ChatStream::new();
        assert_eq!(stream.push(b"data: [DONE]\n\n"), vec![Piece::Done]);
        assert!(stream.push(b"data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n").is_empty());
        assert!(stream.finish().is_empty());
    }
}
