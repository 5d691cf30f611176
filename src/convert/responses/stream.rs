//! Chat-completions SSE → Responses SSE, chunk by chunk.
//!
//! Events, as OpenAI sends them, each with `type` and a `sequence_number` counting from 0:
//!
//! - `response.created`, `response.in_progress` (status `in_progress`, no output yet);
//! - for text: `response.output_item.added` (a `message` item), `response.content_part.added`,
//!   `response.output_text.delta` per upstream piece, then `response.output_text.done`,
//!   `response.content_part.done`, `response.output_item.done` when something else starts or the stream ends;
//! - for each tool call: `response.output_item.added` (a `function_call` item), `response.function_call_arguments.delta`
//!   per piece, then `response.function_call_arguments.done` and `response.output_item.done`;
//! - last, `response.completed` — or `response.incomplete` at the token limit — with the whole response object:
//!   every output item and the usage.
//!
//! `output_index` counts output items; `item_id` and `content_index` (always 0: one text part per message) tie
//! deltas to their item. An upstream error, an unreadable stream, or a body that ended before sending anything
//! ends the stream with `response.failed`, whose `error.code` is one Codex acts on where one fits
//! (`rate_limit_exceeded`, `context_length_exceeded`, `insufficient_quota`, else `server_error` or the upstream's
//! own code).
//!
//! The text and arguments of the current item are kept until it is done (the done events and the final object
//! repeat them); nothing else is held back.

use super::{call_item_id, generated_call_id, message_item_id, outcome, Failure, OutputItem, OutputText, ResponseObject, UsageOut};
use crate::convert::call_id::encode_call_id;
use crate::convert::chat::Usage;
use crate::convert::chat_stream::{ChatStream, ClientEvents, Piece};
use crate::convert::sse::write_json_bytes;
use crate::convert::upstream_error::UpstreamError;
use crate::convert::Reply;
use serde::Serialize;

#[derive(Serialize)]
#[serde(tag = "type")]
enum Event<'a> {
    #[serde(rename = "response.created")]
    Created { response: ResponseObject<'a> },
    #[serde(rename = "response.in_progress")]
    InProgress { response: ResponseObject<'a> },
    #[serde(rename = "response.output_item.added")]
    ItemAdded { output_index: usize, item: &'a OutputItem },
    #[serde(rename = "response.content_part.added")]
    PartAdded { item_id: &'a str, output_index: usize, content_index: usize, part: &'a OutputText },
    #[serde(rename = "response.output_text.delta")]
    TextDelta { item_id: &'a str, output_index: usize, content_index: usize, delta: &'a str, logprobs: [(); 0] },
    #[serde(rename = "response.output_text.done")]
    TextDone { item_id: &'a str, output_index: usize, content_index: usize, text: &'a str, logprobs: [(); 0] },
    #[serde(rename = "response.content_part.done")]
    PartDone { item_id: &'a str, output_index: usize, content_index: usize, part: &'a OutputText },
    #[serde(rename = "response.output_item.done")]
    ItemDone { output_index: usize, item: &'a OutputItem },
    #[serde(rename = "response.function_call_arguments.delta")]
    ArgumentsDelta { item_id: &'a str, output_index: usize, delta: &'a str },
    #[serde(rename = "response.function_call_arguments.done")]
    ArgumentsDone { item_id: &'a str, output_index: usize, name: &'a str, arguments: &'a str },
    #[serde(rename = "response.completed")]
    Completed { response: ResponseObject<'a> },
    #[serde(rename = "response.incomplete")]
    Incomplete { response: ResponseObject<'a> },
    #[serde(rename = "response.failed")]
    Failed { response: ResponseObject<'a> },
}

impl Event<'_> {
    fn name(&self) -> &'static str {
        match self {
            Event::Created { .. } => "response.created",
            Event::InProgress { .. } => "response.in_progress",
            Event::ItemAdded { .. } => "response.output_item.added",
            Event::PartAdded { .. } => "response.content_part.added",
            Event::TextDelta { .. } => "response.output_text.delta",
            Event::TextDone { .. } => "response.output_text.done",
            Event::PartDone { .. } => "response.content_part.done",
            Event::ItemDone { .. } => "response.output_item.done",
            Event::ArgumentsDelta { .. } => "response.function_call_arguments.delta",
            Event::ArgumentsDone { .. } => "response.function_call_arguments.done",
            Event::Completed { .. } => "response.completed",
            Event::Incomplete { .. } => "response.incomplete",
            Event::Failed { .. } => "response.failed",
        }
    }
}


/// The item being streamed.
enum Open {
    Message { output_index: usize, item_id: String, text: String },
    Call { output_index: usize, item_id: String, call_id: String, name: String, arguments: String },
}

/// Converts one upstream chat stream into one Responses stream ([`StreamConverter`]).
pub struct ResponsesStream {
    reply: Reply,
    response_id: String,
    upstream: ChatStream,
    sequence: u64,
    started: bool,
    finished: bool,
    output: Vec<OutputItem>,
    open: Option<Open>,
    tool_calls: usize,
    usage: Option<Usage>,
    finish: Option<String>,
}

impl ResponsesStream {
    /// A converter answering as `reply` says (model echoed, `resp_{id}`, `created_at`).
    pub fn new(reply: Reply) -> ResponsesStream {
        ResponsesStream {
            response_id: format!("resp_{}", reply.id),
            reply,
            upstream: ChatStream::new(),
            sequence: 0,
            started: false,
            finished: false,
            output: Vec::new(),
            open: None,
            tool_calls: 0,
            usage: None,
            finish: None,
        }
    }

    fn write(&mut self, out: &mut Vec<u8>, event: &Event<'_>) {
        out.extend_from_slice(&serialize_numbered(event, self.sequence));
        self.sequence += 1;
    }

    fn object<'a>(&'a self, status: &'static str, failure: Option<&'a Failure>) -> ResponseObject<'a> {
        let (_, incomplete_details) = if status == "incomplete" { outcome(self.finish.as_deref()) } else { ("", None) };
        let usage = if status == "in_progress" { None } else { self.usage.as_ref().map(UsageOut::from_chat) };
        ResponseObject {
            id: &self.response_id,
            object: "response",
            created_at: self.reply.created_s,
            status,
            error: failure,
            incomplete_details,
            model: &self.reply.model,
            output: &self.output,
            usage,
            store: false,
        }
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let created = Event::Created { response: self.object("in_progress", None) };
        let created = serialize_numbered(&created, self.sequence);
        let in_progress = Event::InProgress { response: self.object("in_progress", None) };
        let in_progress = serialize_numbered(&in_progress, self.sequence + 1);
        out.extend_from_slice(&created);
        out.extend_from_slice(&in_progress);
        self.sequence += 2;
    }

    fn text(&mut self, delta: &str, out: &mut Vec<u8>) {
        if !matches!(self.open, Some(Open::Message { .. })) {
            self.close(out);
            let output_index = self.output.len();
            let item_id = message_item_id(&self.reply.id, output_index);
            let item = OutputItem::Message { id: item_id.clone(), status: "in_progress", role: "assistant", content: Vec::new() };
            self.write(out, &Event::ItemAdded { output_index, item: &item });
            let part = OutputText::new(String::new());
            self.write(out, &Event::PartAdded { item_id: &item_id, output_index, content_index: 0, part: &part });
            self.open = Some(Open::Message { output_index, item_id, text: String::new() });
        }
        if let Some(Open::Message { output_index, item_id, text }) = &mut self.open {
            text.push_str(delta);
            let (output_index, item_id) = (*output_index, item_id.clone());
            self.write(out, &Event::TextDelta { item_id: &item_id, output_index, content_index: 0, delta, logprobs: [] });
        }
    }

    /// Finishes the open item: its done events, and it joins the output.
    fn close(&mut self, out: &mut Vec<u8>) {
        match self.open.take() {
            None => {}
            Some(Open::Message { output_index, item_id, text }) => {
                self.write(out, &Event::TextDone { item_id: &item_id, output_index, content_index: 0, text: &text, logprobs: [] });
                let part = OutputText::new(text);
                self.write(out, &Event::PartDone { item_id: &item_id, output_index, content_index: 0, part: &part });
                let item = OutputItem::Message { id: item_id, status: "completed", role: "assistant", content: vec![part] };
                self.write(out, &Event::ItemDone { output_index, item: &item });
                self.output.push(item);
            }
            Some(Open::Call { output_index, item_id, call_id, name, arguments }) => {
                self.write(out, &Event::ArgumentsDone { item_id: &item_id, output_index, name: &name, arguments: &arguments });
                let item = OutputItem::FunctionCall { id: item_id, status: "completed", call_id, name, arguments };
                self.write(out, &Event::ItemDone { output_index, item: &item });
                self.output.push(item);
            }
        }
    }
}

/// The `error.code` of `response.failed`: the codes Codex acts on where the upstream's error fits one. Providers
/// word a too-long prompt differently (OpenAI "maximum context length", Gemini "exceeds the maximum number of
/// tokens", Anthropic "prompt is too long"), so the message is read too.
fn failure_code(error: &UpstreamError) -> String {
    let code = error.code.as_deref().unwrap_or_default();
    let message = error.message.to_ascii_lowercase();
    let too_long = ["context length", "maximum number of tokens", "prompt is too long", "too many tokens"];
    if code == "context_length_exceeded" || too_long.iter().any(|m| message.contains(m)) {
        "context_length_exceeded".to_string()
    } else if code == "insufficient_quota" {
        code.to_string()
    } else if error.status == Some(429) || code == "rate_limit_exceeded" {
        "rate_limit_exceeded".to_string()
    } else if !code.is_empty() && !code.bytes().all(|b| b.is_ascii_digit()) {
        code.to_string()
    } else {
        "server_error".to_string()
    }
}

/// An event as SSE bytes, its JSON object ending in `"sequence_number":N`. The number is spliced in rather than
/// added with `#[serde(flatten)]`, which would compile every event's serializer a second time.
fn serialize_numbered(event: &Event<'_>, sequence_number: u64) -> Vec<u8> {
    let mut out = Vec::new();
    if let Ok(mut json) = serde_json::to_vec(event) {
        if json.pop() == Some(b'}') {
            json.extend_from_slice(format!(",\"sequence_number\":{sequence_number}}}").as_bytes());
            write_json_bytes(&mut out, event.name(), &json);
        }
    }
    out
}

impl ClientEvents for ResponsesStream {
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
                self.text(&text, out);
            }
            Piece::ToolCall { id, name, signature } => {
                self.start(out);
                self.close(out);
                let call_id = id.unwrap_or_else(|| generated_call_id(&self.reply.id, self.tool_calls));
                self.tool_calls += 1;
                let output_index = self.output.len();
                let item = OutputItem::FunctionCall {
                    id: call_item_id(&self.reply.id, output_index),
                    status: "in_progress",
                    call_id: encode_call_id(&call_id, signature.as_deref()),
                    name,
                    arguments: String::new(),
                };
                self.write(out, &Event::ItemAdded { output_index, item: &item });
                if let OutputItem::FunctionCall { id, call_id, name, .. } = item {
                    self.open = Some(Open::Call { output_index, item_id: id, call_id, name, arguments: String::new() });
                }
            }
            Piece::ToolArguments(delta) => {
                if let Some(Open::Call { output_index, item_id, arguments, .. }) = &mut self.open {
                    arguments.push_str(&delta);
                    let (output_index, item_id) = (*output_index, item_id.clone());
                    self.write(out, &Event::ArgumentsDelta { item_id: &item_id, output_index, delta: &delta });
                }
            }
            Piece::Finish { reason, .. } => self.finish = Some(reason),
            Piece::Done => self.end(out),
            Piece::Error(error) => self.fail(&error, out),
        }
    }

    fn end(&mut self, out: &mut Vec<u8>) {
        self.start(out);
        self.close(out);
        let (status, _) = outcome(self.finish.as_deref());
        let bytes = if status == "incomplete" {
            serialize_numbered(&Event::Incomplete { response: self.object(status, None) }, self.sequence)
        } else {
            serialize_numbered(&Event::Completed { response: self.object(status, None) }, self.sequence)
        };
        out.extend_from_slice(&bytes);
        self.sequence += 1;
        self.finished = true;
    }

    fn fail(&mut self, error: &UpstreamError, out: &mut Vec<u8>) {
        self.start(out);
        let message = if error.message.is_empty() { "the upstream stream failed".to_string() } else { error.message.clone() };
        let failure = Failure { code: failure_code(error), message };
        let bytes = serialize_numbered(&Event::Failed { response: self.object("failed", Some(&failure)) }, self.sequence);
        out.extend_from_slice(&bytes);
        self.sequence += 1;
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
