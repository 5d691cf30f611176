//! Chat-completions SSE → Messages SSE, chunk by chunk.
//!
//! The client sees, in order: `message_start` (with whatever usage the first upstream chunk carried), then for
//! each text run or tool call a `content_block_start`, its `content_block_delta`s (`text_delta`, or
//! `input_json_delta` with the argument text as the upstream streams it) and a `content_block_stop` — a new block
//! closes the one before — then `message_delta` (stop reason and the final usage, input tokens included because
//! chat providers report them only at the end) and `message_stop`.
//!
//! The end comes at the upstream's `data: [DONE]`, or at the end of its body if it never sent one (a stream that
//! also never sent a finish reason ends as `end_turn`, or `tool_use` after tool calls). An upstream error inside
//! the stream, or an unreadable stream, ends it with an `error` event instead; so does a body that ended before
//! sending anything.

use super::{error_type, generated_tool_id, stop_reason, ErrorInner, UsageOut};
use crate::convert::call_id::encode_call_id;
use crate::convert::chat::Usage;
use crate::convert::chat_stream::{ChatStream, ClientEvents, Piece};
use crate::convert::sse::write_json;
use crate::convert::upstream_error::UpstreamError;
use crate::convert::Reply;
use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event<'a> {
    MessageStart { message: StartMessage<'a> },
    ContentBlockStart { index: usize, content_block: StartBlock<'a> },
    ContentBlockDelta { index: usize, delta: Delta<'a> },
    ContentBlockStop { index: usize },
    MessageDelta { delta: StopDelta<'a>, usage: UsageOut },
    MessageStop,
    Error { error: ErrorInner<'a> },
}

impl Event<'_> {
    fn name(&self) -> &'static str {
        match self {
            Event::MessageStart { .. } => "message_start",
            Event::ContentBlockStart { .. } => "content_block_start",
            Event::ContentBlockDelta { .. } => "content_block_delta",
            Event::ContentBlockStop { .. } => "content_block_stop",
            Event::MessageDelta { .. } => "message_delta",
            Event::MessageStop => "message_stop",
            Event::Error { .. } => "error",
        }
    }
}

#[derive(Serialize)]
struct StartMessage<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: &'static [Value],
    stop_reason: Option<&'static str>,
    stop_sequence: Option<&'static str>,
    usage: UsageOut,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StartBlock<'a> {
    Text { text: &'static str },
    ToolUse { id: &'a str, name: &'a str, input: Map<String, Value> },
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Delta<'a> {
    TextDelta { text: &'a str },
    InputJsonDelta { partial_json: &'a str },
}

#[derive(Serialize)]
struct StopDelta<'a> {
    stop_reason: &'static str,
    stop_sequence: Option<&'a str>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    Text,
    Tool,
}

/// Converts one upstream chat stream into one Messages stream ([`StreamConverter`]).
pub struct AnthropicStream {
    reply: Reply,
    message_id: String,
    upstream: ChatStream,
    started: bool,
    finished: bool,
    open: Option<(usize, BlockKind)>,
    next_index: usize,
    tool_calls: usize,
    usage: Option<Usage>,
    finish: Option<(String, Option<String>)>,
}

impl AnthropicStream {
    /// A converter answering as `reply` says (model echoed, `msg_{id}`).
    pub fn new(reply: Reply) -> AnthropicStream {
        AnthropicStream {
            message_id: format!("msg_{}", reply.id),
            reply,
            upstream: ChatStream::new(),
            started: false,
            finished: false,
            open: None,
            next_index: 0,
            tool_calls: 0,
            usage: None,
            finish: None,
        }
    }

    fn write(out: &mut Vec<u8>, event: &Event<'_>) {
        write_json(out, event.name(), event);
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let message = StartMessage {
            id: &self.message_id,
            kind: "message",
            role: "assistant",
            model: &self.reply.model,
            content: &[],
            stop_reason: None,
            stop_sequence: None,
            usage: UsageOut::from_chat(self.usage.as_ref()),
        };
        Self::write(out, &Event::MessageStart { message });
    }

    /// The index of an open block of `kind`, opening one (and closing another kind) if needed.
    fn block(&mut self, kind: BlockKind, out: &mut Vec<u8>) -> usize {
        if let Some((index, open)) = self.open {
            if open == kind {
                return index;
            }
        }
        self.close_block(out);
        let index = self.open_block(kind);
        Self::write(out, &Event::ContentBlockStart { index, content_block: StartBlock::Text { text: "" } });
        index
    }

    fn open_block(&mut self, kind: BlockKind) -> usize {
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some((index, kind));
        index
    }

    fn close_block(&mut self, out: &mut Vec<u8>) {
        if let Some((index, _)) = self.open.take() {
            Self::write(out, &Event::ContentBlockStop { index });
        }
    }
}

impl ClientEvents for AnthropicStream {
    fn upstream(&mut self) -> &mut ChatStream {
        &mut self.upstream
    }

    fn handle(&mut self, piece: Piece, out: &mut Vec<u8>) {
        if self.finished {
            return;
        }
        match piece {
            Piece::Started => self.start(out),
            Piece::Usage(usage) => self.usage = Some(usage),
            Piece::Text(text) => {
                self.start(out);
                let index = self.block(BlockKind::Text, out);
                Self::write(out, &Event::ContentBlockDelta { index, delta: Delta::TextDelta { text: &text } });
            }
            Piece::ToolCall { id, name, signature } => {
                self.start(out);
                self.close_block(out);
                let id = id.unwrap_or_else(|| generated_tool_id(&self.reply.id, self.tool_calls));
                let id = encode_call_id(&id, signature.as_deref());
                self.tool_calls += 1;
                let index = self.open_block(BlockKind::Tool);
                let content_block = StartBlock::ToolUse { id: &id, name: &name, input: Map::new() };
                Self::write(out, &Event::ContentBlockStart { index, content_block });
            }
            Piece::ToolArguments(json) => {
                // Arguments for a call whose block a text run has already closed cannot be placed; see chat_stream.
                if let Some((index, BlockKind::Tool)) = self.open {
                    Self::write(out, &Event::ContentBlockDelta { index, delta: Delta::InputJsonDelta { partial_json: &json } });
                }
            }
            Piece::Finish { reason, stop_sequence } => self.finish = Some((reason, stop_sequence)),
            Piece::Done => self.end(out),
            Piece::Error(error) => self.fail(&error, out),
        }
    }

    fn end(&mut self, out: &mut Vec<u8>) {
        self.start(out);
        self.close_block(out);
        let (reason, sequence) = match &self.finish {
            Some((reason, sequence)) => (Some(reason.as_str()), sequence.as_deref()),
            None => (None, None),
        };
        let (stop_reason, stop_sequence) = stop_reason(reason, sequence, self.tool_calls > 0);
        let delta = StopDelta { stop_reason, stop_sequence: stop_sequence.as_deref() };
        Self::write(out, &Event::MessageDelta { delta, usage: UsageOut::from_chat(self.usage.as_ref()) });
        Self::write(out, &Event::MessageStop);
        self.finished = true;
    }

    fn fail(&mut self, error: &UpstreamError, out: &mut Vec<u8>) {
        let kind = match (error.status, error.kind.as_deref()) {
            (Some(status), _) => error_type(status),
            (None, Some("invalid_request_error")) => "invalid_request_error",
            (None, Some("rate_limit_error" | "requests" | "tokens")) => "rate_limit_error",
            (None, Some("overloaded_error")) => "overloaded_error",
            _ => "api_error",
        };
        let message = if error.message.is_empty() { "the upstream stream failed" } else { &error.message };
        Self::write(out, &Event::Error { error: ErrorInner { kind, message } });
        self.finished = true;
    }

    fn started(&self) -> bool {
        self.started
    }

    fn finished(&self) -> bool {
        self.finished
    }
}

#[cfg(test)]
mod tests;
