//! A Messages request → a chat-completions request.
//!
//! | Anthropic | chat |
//! |---|---|
//! | `model` | the upstream's model ([`UpstreamChat::model`]); the client's is kept for the answer |
//! | `system` (string or text blocks), and `role: "system"` messages in `messages` | one first `system` message, texts joined by blank lines |
//! | user `text`, `image` (base64 → data URL, url), `document` (PDF → `file` part, text) | a `user` message |
//! | user `tool_result` (string or blocks; `is_error` → text starts with `Error: `) | one `tool` message each, before the user's other content |
//! | assistant `text`, `tool_use` | one `assistant` message with `content` and `tool_calls` |
//! | `thinking`, `redacted_thinking` | dropped (no chat provider takes them back) |
//! | `tools` (`name`, `description`, `input_schema`) | function tools, schemas without `$schema` and `additionalProperties`, which Gemini refuses |
//! | `tool_choice` auto / any / tool / none, `disable_parallel_tool_use` | `auto` / `required` / function / `none`, `parallel_tool_calls: false` |
//! | `max_tokens`, `temperature`, `top_p`, `stop_sequences`, `stream` | the limit field, `temperature`, `top_p`, `stop`, `stream` + `stream_options.include_usage` |
//! | `metadata.user_id` | `user`, if [`UpstreamChat::send_user`] |
//!
//! Claude Code puts a `role: "system"` message inside `messages` (its `per-turn-control` beta) holding the
//! environment; chat providers differ on system messages anywhere but first (Gemini folds them into its system
//! instruction, some refuse them), so their text joins the leading system message, in order.
//!
//! `cache_control` is ignored wherever it appears, as are `top_k`, `thinking`, `service_tier` and unknown fields.
//! Server tools (`web_search_…`, `bash_…`, `text_editor_…`, `computer_…`, `code_execution_…`) and server-tool
//! blocks in the history are refused by name: the provider cannot run them.
//!
//! A `tool` message cannot hold an image, so images inside a tool result go into the user message that follows
//! the tool messages (one is made if the turn has no other content), and the tool message says so. A tool result
//! with no content at all reads `(no output)`, because some providers refuse empty message text.

use crate::convert::chat::{self, Messages, Part, Tool};
use crate::convert::input::{self, index, join, Obj};
use crate::convert::{ConvertError, UpstreamChat, UpstreamRequest};
use serde_json::Value;

/// Converts a Messages request body for `upstream`.
pub fn request_to_chat(body: &[u8], upstream: &UpstreamChat<'_>) -> Result<UpstreamRequest, ConvertError> {
    let value = input::parse_body(body)?;
    let root = input::object(&value, "")?;
    let client_model = root.required_str("model")?.to_string();

    let mut messages = Messages::new(upstream.thought_signatures);
    let list = root.array("messages")?.ok_or_else(|| ConvertError::new("messages", "is required"))?;
    let mut system = Vec::new();
    if let Some(top) = root.get("system") {
        system.push(system_text(top, "system")?);
    }
    for (i, message) in list.iter().enumerate() {
        if message.get("role").and_then(Value::as_str) == Some("system") {
            let path = index("messages", i);
            let content = input::object(message, &path)?.get("content").ok_or_else(|| ConvertError::new(join(&path, "content"), "is required"))?;
            system.push(system_text(content, &join(&path, "content"))?);
        }
    }
    system.retain(|text| !text.is_empty());
    if !system.is_empty() {
        messages.system(system.join("\n\n"));
    }
    for (i, message) in list.iter().enumerate() {
        if message.get("role").and_then(Value::as_str) != Some("system") {
            convert_message(message, &index("messages", i), &mut messages)?;
        }
    }

    let mut request = chat::Request { model: upstream.model, messages: messages.into_vec(), ..chat::Request::default() };
    request.tools = tools(&root)?;
    if !request.tools.is_empty() {
        if let Some(choice) = root.object_at("tool_choice", "tool_choice")? {
            request.tool_choice = Some(tool_choice(&choice)?);
            if choice.bool("disable_parallel_tool_use")? == Some(true) {
                request.parallel_tool_calls = Some(false);
            }
        }
    }
    request.set_max_tokens(upstream.max_tokens_field, root.count("max_tokens")?);
    request.temperature = root.number("temperature")?;
    request.top_p = root.number("top_p")?;
    request.stop = stop_sequences(&root)?;
    let stream = root.bool("stream")?.unwrap_or(false);
    request.set_stream(stream);
    let user = match root.object_at("metadata", "metadata")? {
        Some(metadata) => metadata.str("user_id")?.filter(|u| !u.is_empty()).map(str::to_string),
        None => None,
    };
    if upstream.send_user {
        request.user = user.clone();
    }
    Ok(UpstreamRequest { body: request.to_body(), stream, client_model, user, omitted_tools: Vec::new() })
}

/// The text of a system prompt at `field`: a string or text blocks.
fn system_text(system: &Value, field: &str) -> Result<String, ConvertError> {
    match system {
        Value::String(text) => Ok(text.clone()),
        Value::Array(blocks) => {
            let mut texts = Vec::with_capacity(blocks.len());
            for (i, block) in blocks.iter().enumerate() {
                let path = index(field, i);
                let block = input::object(block, &path)?;
                match block.required_str("type")? {
                    "text" => texts.push(block.required_str("text")?),
                    other => return Err(ConvertError::new(block.field("type"), format!("\"{other}\" blocks are not allowed in system; send text blocks"))),
                }
            }
            Ok(texts.join("\n\n"))
        }
        _ => Err(ConvertError::new(field, "must be a string or an array of text blocks")),
    }
}

fn convert_message(value: &Value, path: &str, messages: &mut Messages) -> Result<(), ConvertError> {
    let message = input::object(value, path)?;
    let role = message.required_str("role")?;
    let content_path = join(path, "content");
    let blocks: &[Value] = match message.get("content") {
        Some(Value::String(text)) => {
            match role {
                "user" => messages.user(vec![Part::text(text.clone())]),
                "assistant" => messages.assistant_text(text.clone()),
                _ => return Err(ConvertError::new(message.field("role"), "must be \"user\", \"assistant\" or \"system\"")),
            }
            return Ok(());
        }
        Some(Value::Array(blocks)) => blocks,
        Some(_) => return Err(ConvertError::new(content_path, "must be a string or an array of content blocks")),
        None => return Err(ConvertError::new(content_path, "is required")),
    };
    match role {
        "user" => user_blocks(blocks, &content_path, messages),
        "assistant" => assistant_blocks(blocks, &content_path, messages),
        _ => Err(ConvertError::new(message.field("role"), "must be \"user\", \"assistant\" or \"system\"")),
    }
}

fn user_blocks(blocks: &[Value], path: &str, messages: &mut Messages) -> Result<(), ConvertError> {
    let mut parts = Vec::new();
    let mut tool_results = 0;
    for (j, block) in blocks.iter().enumerate() {
        let block_path = index(path, j);
        let block = input::object(block, &block_path)?;
        match block.required_str("type")? {
            "text" => parts.push(Part::text(block.required_str("text")?)),
            "image" => parts.push(image_part(&block)?),
            "document" => parts.push(document_part(&block)?),
            "tool_result" => {
                tool_results += 1;
                let id = block.required_str("tool_use_id")?;
                let (text, images) = tool_result_content(&block)?;
                messages.tool_result(id, text, images);
            }
            "thinking" | "redacted_thinking" => {}
            other => return Err(unsupported_block(&block, other)),
        }
    }
    if !parts.is_empty() || tool_results == 0 {
        messages.user(parts);
    }
    Ok(())
}

fn assistant_blocks(blocks: &[Value], path: &str, messages: &mut Messages) -> Result<(), ConvertError> {
    let mut texts = Vec::new();
    let mut calls = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let block_path = index(path, j);
        let block = input::object(block, &block_path)?;
        match block.required_str("type")? {
            "text" => texts.push(block.required_str("text")?),
            "tool_use" => {
                let id = block.required_str("id")?;
                let name = block.required_str("name")?;
                let arguments = match block.get("input") {
                    None => "{}".to_string(),
                    Some(input @ Value::Object(_)) => input.to_string(),
                    Some(_) => return Err(ConvertError::new(block.field("input"), "must be an object")),
                };
                calls.push((id, name.to_string(), arguments));
            }
            "thinking" | "redacted_thinking" => {}
            other => return Err(unsupported_block(&block, other)),
        }
    }
    if !texts.is_empty() {
        messages.assistant_text(texts.join("\n\n"));
    }
    for (id, name, arguments) in calls {
        messages.tool_call(id, name, arguments);
    }
    Ok(())
}

fn unsupported_block(block: &Obj<'_, '_>, kind: &str) -> ConvertError {
    let why = match kind {
        "server_tool_use" | "web_search_tool_result" | "web_fetch_tool_result" | "code_execution_tool_result"
        | "mcp_tool_use" | "mcp_tool_result" | "container_upload" => "is a server-tool block, which this provider cannot run",
        _ => "is not a content block type this provider takes",
    };
    ConvertError::new(block.field("type"), format!("\"{kind}\" {why}"))
}

fn source_of<'a, 'q>(block: &Obj<'a, '_>, path: &'q str) -> Result<Obj<'a, 'q>, ConvertError> {
    block.object_at("source", path)?.ok_or_else(|| ConvertError::new(path, "is required"))
}

fn image_part(block: &Obj<'_, '_>) -> Result<Part, ConvertError> {
    let path = block.field("source");
    let source = source_of(block, &path)?;
    match source.required_str("type")? {
        "base64" => {
            let media_type = source.required_str("media_type")?;
            let data = source.required_str("data")?;
            Ok(Part::image(format!("data:{media_type};base64,{data}"), None))
        }
        "url" => Ok(Part::image(source.required_str("url")?, None)),
        other => Err(ConvertError::new(source.field("type"), format!("image source \"{other}\" is not supported; send base64 or url"))),
    }
}

fn document_part(block: &Obj<'_, '_>) -> Result<Part, ConvertError> {
    let path = block.field("source");
    let source = source_of(block, &path)?;
    match source.required_str("type")? {
        "base64" => {
            let media_type = source.required_str("media_type")?;
            let data = source.required_str("data")?;
            let filename = block.str("title")?.unwrap_or("document.pdf").to_string();
            Ok(Part::File { file: chat::FileData { filename: Some(filename), file_data: format!("data:{media_type};base64,{data}") } })
        }
        "text" => Ok(Part::text(source.required_str("data")?)),
        "content" => {
            let items = source.array("content")?.map(Vec::as_slice).unwrap_or_default();
            let content_path = source.field("content");
            let (text, _) = blocks_text(items, &content_path, false)?;
            Ok(Part::text(text))
        }
        other => Err(ConvertError::new(source.field("type"), format!("document source \"{other}\" is not supported; send base64, text or content"))),
    }
}

/// The text of a tool result or document content, and its images (when `images_allowed`).
fn blocks_text(blocks: &[Value], path: &str, images_allowed: bool) -> Result<(String, Vec<Part>), ConvertError> {
    let mut texts = Vec::new();
    let mut images = Vec::new();
    for (k, block) in blocks.iter().enumerate() {
        let block_path = index(path, k);
        let block = input::object(block, &block_path)?;
        match block.required_str("type")? {
            "text" => texts.push(block.required_str("text")?.to_string()),
            "image" if images_allowed => images.push(image_part(&block)?),
            "document" if images_allowed => match document_part(&block)? {
                Part::Text { text } => texts.push(text),
                other => images.push(other),
            },
            other => return Err(unsupported_block(&block, other)),
        }
    }
    Ok((texts.join("\n\n"), images))
}

fn tool_result_content(block: &Obj<'_, '_>) -> Result<(String, Vec<Part>), ConvertError> {
    let path = block.field("content");
    let (mut text, images) = match block.get("content") {
        None => (String::new(), Vec::new()),
        Some(Value::String(text)) => (text.clone(), Vec::new()),
        Some(Value::Array(items)) => blocks_text(items, &path, true)?,
        Some(_) => return Err(ConvertError::new(path, "must be a string or an array of content blocks")),
    };
    if !images.is_empty() {
        let note = format!("({} attached in the next message)", if images.len() == 1 { "image" } else { "images" });
        text = if text.is_empty() { note } else { format!("{text}\n\n{note}") };
    }
    if block.bool("is_error")? == Some(true) {
        text = if text.is_empty() { "Error".to_string() } else { format!("Error: {text}") };
    }
    if text.is_empty() {
        text = "(no output)".to_string();
    }
    Ok((text, images))
}

fn tools(root: &Obj<'_, '_>) -> Result<Vec<Tool>, ConvertError> {
    let Some(list) = root.array("tools")? else { return Ok(Vec::new()) };
    let mut tools = Vec::with_capacity(list.len());
    for (i, tool) in list.iter().enumerate() {
        let path = index("tools", i);
        let tool = input::object(tool, &path)?;
        if let Some(kind) = tool.str("type")?.filter(|k| *k != "custom") {
            return Err(ConvertError::new(
                tool.field("type"),
                format!("\"{kind}\" is an Anthropic server tool, which this provider cannot run; only client tools (name, description, input_schema) are supported"),
            ));
        }
        let schema = match tool.get("input_schema") {
            None => None,
            Some(schema @ Value::Object(_)) => Some(schema.clone()),
            Some(_) => return Err(ConvertError::new(tool.field("input_schema"), "must be a JSON schema object")),
        };
        let description = tool.str("description")?.map(str::to_string);
        tools.push(Tool::function(tool.required_str("name")?.to_string(), description, schema, None));
    }
    Ok(tools)
}

fn tool_choice(choice: &Obj<'_, '_>) -> Result<Value, ConvertError> {
    Ok(match choice.required_str("type")? {
        "auto" => Value::from("auto"),
        "any" => Value::from("required"),
        "none" => Value::from("none"),
        "tool" => serde_json::json!({"type": "function", "function": {"name": choice.required_str("name")?}}),
        other => return Err(ConvertError::new(choice.field("type"), format!("\"{other}\" is not auto, any, tool or none"))),
    })
}

fn stop_sequences(root: &Obj<'_, '_>) -> Result<Option<Vec<String>>, ConvertError> {
    let Some(list) = root.array("stop_sequences")? else { return Ok(None) };
    let mut stops = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        match item {
            Value::String(s) => stops.push(s.clone()),
            _ => return Err(ConvertError::new(index("stop_sequences", i), "must be a string")),
        }
    }
    Ok((!stops.is_empty()).then_some(stops))
}

#[cfg(test)]
mod tests;
