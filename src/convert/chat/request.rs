//! The chat-completions request the converters build, and the message list in the order providers require.

use crate::convert::call_id;
use serde::Serialize;
use serde_json::{Number, Value};


/// A chat-completions request body. Fields carry the chat API's names; unset ones are left out.
#[derive(Serialize, Default)]
pub(crate) struct Request<'a> {
    pub model: &'a str,
    pub messages: Vec<Message>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<Number>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<Number>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
}

/// `stream_options`: asks for the final usage chunk, without which the client's answer would count no tokens.
#[derive(Serialize)]
pub(crate) struct StreamOptions {
    /// Always `true`.
    pub include_usage: bool,
}

impl<'a> Request<'a> {
    /// Sets the output-token limit in the field the upstream takes.
    pub(crate) fn set_max_tokens(&mut self, field: crate::convert::MaxTokensField, limit: Option<u64>) {
        match field {
            crate::convert::MaxTokensField::MaxTokens => self.max_tokens = limit,
            crate::convert::MaxTokensField::MaxCompletionTokens => self.max_completion_tokens = limit,
        }
    }

    /// Sets `stream`, with `stream_options.include_usage` when streaming.
    pub(crate) fn set_stream(&mut self, stream: bool) {
        self.stream = stream;
        self.stream_options = stream.then_some(StreamOptions { include_usage: true });
    }

    /// The JSON body.
    pub(crate) fn to_body(&self) -> Vec<u8> {
        // A derive-built struct with string keys always serializes.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// One chat message.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Message {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: &'static str,
    /// `null` only on an assistant message that carries tool calls.
    pub content: Option<Content>,
    /// An assistant message's tool calls.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// A tool message's call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

/// Message content: a string, or parts when an image or file is among them.
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(untagged)]
pub(crate) enum Content {
    /// Plain text.
    Text(String),
    /// Typed parts.
    Parts(Vec<Part>),
}

/// One content part.
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Part {
    /// `{"type":"text"}`.
    Text { text: String },
    /// `{"type":"image_url"}`: an https or data URL.
    ImageUrl { image_url: ImageUrl },
    /// `{"type":"file"}`: a file as a data URL (PDFs).
    File { file: FileData },
}

/// An image part's URL and detail level.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct ImageUrl {
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A file part's name and data URL.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct FileData {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    pub file_data: String,
}

impl Part {
    /// A text part.
    pub(crate) fn text(text: impl Into<String>) -> Part {
        Part::Text { text: text.into() }
    }

    /// An image part.
    pub(crate) fn image(url: impl Into<String>, detail: Option<String>) -> Part {
        Part::ImageUrl { image_url: ImageUrl { url: url.into(), detail } }
    }
}

/// Text parts between them are written as one string joined by blank lines: some providers (Groq's text
/// models) accept only a string, and every provider accepts one. Parts stay parts when any is not text.
pub(crate) fn content_of(parts: Vec<Part>) -> Content {
    if parts.iter().all(|p| matches!(p, Part::Text { .. })) {
        let texts: Vec<String> = parts
            .into_iter()
            .filter_map(|p| match p {
                Part::Text { text } => Some(text),
                _ => None,
            })
            .collect();
        Content::Text(texts.join("\n\n"))
    } else {
        Content::Parts(parts)
    }
}

/// An assistant tool call.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct ToolCall {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: FunctionCall,
    /// Gemini's `{"google":{"thought_signature":…}}`, restored from the id ([`call_id`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_content: Option<Value>,
}

/// A tool call's function name and JSON argument text.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct FunctionCall {
    pub name: String,
    pub arguments: String,
}

/// A function tool.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Tool {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: FunctionDef,
}

/// A function tool's definition.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct FunctionDef {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub parameters: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

impl Tool {
    /// A function tool; a missing schema becomes an empty object schema, which every provider accepts. Unless the
    /// tool is strict, the schema is cleaned of keywords Gemini refuses ([`super::schema`]).
    pub(crate) fn function(name: String, description: Option<String>, parameters: Option<Value>, strict: Option<bool>) -> Tool {
        let mut parameters = parameters.unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}}));
        if strict != Some(true) {
            super::schema::clean(&mut parameters);
        }
        Tool { kind: "function", function: FunctionDef { name, description, parameters, strict } }
    }
}

/// Builds the message list in the order chat providers require: an assistant message's tool calls are followed
/// directly by one `tool` message per result, so images from tool results (which a `tool` message cannot hold)
/// wait and go into the next user message, made for them if none follows.
///
/// Tool-call ids from the client are decoded ([`call_id`]); the thought signature one carries goes back as
/// `extra_content` only when the upstream takes it (Gemini), since OpenAI refuses unknown fields.
pub(crate) struct Messages {
    list: Vec<Message>,
    pending_images: Vec<Part>,
    thought_signatures: bool,
}

impl Messages {
    /// An empty list; `thought_signatures` as [`crate::convert::UpstreamChat::thought_signatures`].
    pub(crate) fn new(thought_signatures: bool) -> Messages {
        Messages { list: Vec::new(), pending_images: Vec::new(), thought_signatures }
    }

    /// A system message.
    pub(crate) fn system(&mut self, text: String) {
        self.flush_images();
        self.list.push(Message { role: "system", content: Some(Content::Text(text)), tool_calls: Vec::new(), tool_call_id: None });
    }

    /// A user message; images waiting from tool results go first.
    pub(crate) fn user(&mut self, parts: Vec<Part>) {
        let mut all = std::mem::take(&mut self.pending_images);
        all.extend(parts);
        self.list.push(Message { role: "user", content: Some(content_of(all)), tool_calls: Vec::new(), tool_call_id: None });
    }

    /// An assistant message with text; tool calls that follow join it.
    pub(crate) fn assistant_text(&mut self, text: String) {
        self.flush_images();
        self.list.push(Message { role: "assistant", content: Some(Content::Text(text)), tool_calls: Vec::new(), tool_call_id: None });
    }

    /// A tool call with the id the client sent: it joins the assistant message just before it, else starts one with
    /// no text.
    pub(crate) fn tool_call(&mut self, wire_id: &str, name: String, arguments: String) {
        let (id, signature) = call_id::decode_call_id(wire_id);
        let extra_content = signature
            .filter(|_| self.thought_signatures)
            .map(|s| serde_json::json!({"google": {"thought_signature": s}}));
        let call = ToolCall { id, kind: "function", function: FunctionCall { name, arguments }, extra_content };
        self.flush_images();
        match self.list.last_mut() {
            Some(last) if last.role == "assistant" => last.tool_calls.push(call),
            _ => self.list.push(Message { role: "assistant", content: None, tool_calls: vec![call], tool_call_id: None }),
        }
    }

    /// A tool result; its images wait for the next user message.
    pub(crate) fn tool_result(&mut self, wire_id: &str, text: String, images: Vec<Part>) {
        let (id, _) = call_id::decode_call_id(wire_id);
        self.list.push(Message { role: "tool", content: Some(Content::Text(text)), tool_calls: Vec::new(), tool_call_id: Some(id) });
        self.pending_images.extend(images);
    }

    /// The list, with any images still waiting in a last user message.
    pub(crate) fn into_vec(mut self) -> Vec<Message> {
        self.flush_images();
        self.list
    }

    fn flush_images(&mut self) {
        if !self.pending_images.is_empty() {
            self.user(Vec::new());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_leave_out_what_was_not_set() {
        let mut request = Request { model: "gemini-2.5-flash", ..Request::default() };
        request.messages.push(Message { role: "user", content: Some(Content::Text("hi".into())), tool_calls: vec![], tool_call_id: None });
        request.set_max_tokens(crate::convert::MaxTokensField::MaxCompletionTokens, Some(64));
        request.set_stream(true);
        let body: Value = serde_json::from_slice(&request.to_body()).expect("json");
        assert_eq!(
            body,
            json!({"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 64,
                   "stream": true, "stream_options": {"include_usage": true}})
        );
    }

    #[test]
    fn content_is_a_string_unless_a_part_is_not_text() {
        assert_eq!(content_of(vec![Part::text("a"), Part::text("b")]), Content::Text("a\n\nb".into()));
        assert_eq!(content_of(vec![]), Content::Text(String::new()));
        let mixed = content_of(vec![Part::text("look"), Part::image("data:image/png;base64,AA==", None)]);
        assert_eq!(
            serde_json::to_value(&mixed).expect("json"),
            json!([{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}])
        );
    }

    #[test]
    fn tool_calls_join_the_assistant_message_and_tool_images_wait_for_the_user() {
        let mut messages = Messages::new(true);
        messages.assistant_text("Reading both.".into());
        messages.tool_call("a", "Read".into(), "{}".into());
        messages.tool_call("b", "Read".into(), "{}".into());
        messages.tool_result("a", "text a".into(), vec![Part::image("https://x/1.png", None)]);
        messages.tool_result("b", "text b".into(), vec![]);
        messages.tool_call("c", "Bash".into(), "{}".into());
        let list = messages.into_vec();
        let roles: Vec<&str> = list.iter().map(|m| m.role).collect();
        assert_eq!(roles, ["assistant", "tool", "tool", "user", "assistant"]);
        assert_eq!(list[0].tool_calls.len(), 2);
        assert_eq!(list[3].content, Some(Content::Parts(vec![Part::image("https://x/1.png", None)])));
        assert_eq!(list[4].content, None, "a call with no text before it has null content");
    }
}
