//! A Responses request → a chat-completions request.
//!
//! | Responses | chat |
//! |---|---|
//! | `model` | the upstream's model; the client's is kept for the answer |
//! | `instructions` | a first `system` message |
//! | `input` string | one `user` message |
//! | `message` items, roles `user`/`assistant`/`system`/`developer` (→ `system`) | messages; parts `input_text`, `output_text`, `refusal` → text, `input_image` (URL or data URL) → `image_url`, `input_file` with `file_data` → `file` |
//! | `function_call` items | `tool_calls` on the assistant message before them (consecutive calls share one) |
//! | `function_call_output` items | `role: "tool"` messages with `tool_call_id` = `call_id` |
//! | `reasoning` items (`encrypted_content` included) | dropped: no chat provider takes them back |
//! | `tools` of `type: "function"` | function tools; `strict` kept only when `true`, else the schema loses `$schema` and `additionalProperties`, which Gemini refuses |
//! | other tools | refused or omitted ([`super::OtherTools`]) |
//! | `tool_choice` `auto`/`none`/`required`/`{type:function,name}` | the same in chat form |
//! | `max_output_tokens`, `temperature`, `top_p`, `parallel_tool_calls` | the limit field, `temperature`, `top_p`, `parallel_tool_calls` |
//! | `text.format` `json_schema` / `json_object` | `response_format` |
//! | `reasoning.effort` | `reasoning_effort` |
//! | `user`, else `prompt_cache_key` | `user`, if [`UpstreamChat::send_user`] |
//! | `stream` | `stream` + `stream_options.include_usage` |
//!
//! `include`, `metadata`, `truncation`, `service_tier`, `text.verbosity`, `reasoning.summary` and unknown fields
//! are ignored. `previous_response_id`, `store: true` and `background: true` are refused (nothing is stored), as
//! are item types the chat API has no place for (`item_reference`, `local_shell_call`, `custom_tool_call`,
//! `web_search_call`, …) and files given by id.

use super::{OtherTools, ResponsesOptions};
use crate::convert::chat::{self, Messages, Part, Tool};
use crate::convert::input::{self, index, Obj};
use crate::convert::{ConvertError, UpstreamChat, UpstreamRequest};
use serde_json::{json, Value};

/// Converts a Responses request body for `upstream`.
pub fn request_to_chat(body: &[u8], upstream: &UpstreamChat<'_>, options: &ResponsesOptions) -> Result<UpstreamRequest, ConvertError> {
    let value = input::parse_body(body)?;
    let root = input::object(&value, "")?;
    let client_model = root.required_str("model")?.to_string();
    refuse_state(&root)?;

    let mut messages = Messages::new(upstream.thought_signatures);
    if let Some(instructions) = root.str("instructions")?.filter(|i| !i.is_empty()) {
        messages.system(instructions.to_string());
    }
    match root.get("input") {
        Some(Value::String(text)) => messages.user(vec![Part::text(text.clone())]),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                convert_item(item, &index("input", i), &mut messages)?;
            }
        }
        Some(_) => return Err(ConvertError::new("input", "must be a string or an array of items")),
        None => return Err(ConvertError::new("input", "is required")),
    }

    let mut request = chat::Request { model: upstream.model, messages: messages.into_vec(), ..chat::Request::default() };
    let mut omitted_tools = Vec::new();
    request.tools = tools(&root, options.other_tools, &mut omitted_tools)?;
    if !request.tools.is_empty() {
        request.tool_choice = root.get("tool_choice").map(tool_choice).transpose()?;
        request.parallel_tool_calls = root.bool("parallel_tool_calls")?;
    }
    request.set_max_tokens(upstream.max_tokens_field, root.count("max_output_tokens")?);
    request.temperature = root.number("temperature")?;
    request.top_p = root.number("top_p")?;
    request.response_format = response_format(&root)?;
    if let Some(reasoning) = root.object_at("reasoning", "reasoning")? {
        request.reasoning_effort = reasoning.str("effort")?.map(str::to_string);
    }
    let stream = root.bool("stream")?.unwrap_or(false);
    request.set_stream(stream);
    let user = match root.str("user")?.filter(|u| !u.is_empty()) {
        Some(user) => Some(user.to_string()),
        None => root.str("prompt_cache_key")?.filter(|k| !k.is_empty()).map(str::to_string),
    };
    if upstream.send_user {
        request.user = user.clone();
    }
    Ok(UpstreamRequest { body: request.to_body(), stream, client_model, user, omitted_tools })
}

fn refuse_state(root: &Obj<'_, '_>) -> Result<(), ConvertError> {
    if root.str("previous_response_id")?.is_some() {
        return Err(ConvertError::new(
            "previous_response_id",
            "this provider keeps no conversation state (only openai/… models do); send the whole conversation in input instead, with store: false",
        ));
    }
    if root.bool("store")? == Some(true) {
        return Err(ConvertError::new("store", "this provider stores no responses (only openai/… models do); send store: false or leave it out"));
    }
    if root.bool("background")? == Some(true) {
        return Err(ConvertError::new("background", "background responses need stored state, which this provider does not keep (only openai/… models do)"));
    }
    Ok(())
}

fn convert_item(item: &Value, path: &str, messages: &mut Messages) -> Result<(), ConvertError> {
    let item = input::object(item, path)?;
    let kind = match item.str("type")? {
        Some(kind) => kind,
        None if item.get("role").is_some() => "message",
        None => return Err(ConvertError::new(item.field("type"), "is required")),
    };
    match kind {
        "message" => message_item(&item, messages),
        "function_call" => {
            let call_id = item.required_str("call_id")?;
            let name = item.required_str("name")?;
            let arguments = match item.get("arguments") {
                None => "{}".to_string(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            };
            messages.tool_call(call_id, name.to_string(), arguments);
            Ok(())
        }
        "function_call_output" => {
            let call_id = item.required_str("call_id")?;
            let (text, images) = match item.get("output") {
                None => (String::new(), Vec::new()),
                Some(Value::String(s)) => (s.clone(), Vec::new()),
                Some(Value::Array(parts)) => output_parts(parts, &item.field("output"))?,
                Some(_) => return Err(ConvertError::new(item.field("output"), "must be a string or an array of content parts")),
            };
            let text = match (text.is_empty(), images.is_empty()) {
                (true, true) => "(no output)".to_string(),
                (_, false) => {
                    let note = "(image attached in the next message)";
                    if text.is_empty() { note.to_string() } else { format!("{text}\n\n{note}") }
                }
                (false, true) => text,
            };
            messages.tool_result(call_id, text, images);
            Ok(())
        }
        "reasoning" => Ok(()),
        "item_reference" => Err(ConvertError::new(item.field("type"), "\"item_reference\" needs stored items, which this provider does not keep")),
        other => Err(ConvertError::new(item.field("type"), format!("\"{other}\" items are not supported by this provider"))),
    }
}

fn message_item(item: &Obj<'_, '_>, messages: &mut Messages) -> Result<(), ConvertError> {
    let role = item.required_str("role")?;
    let content_path = item.field("content");
    let parts = match item.get("content") {
        Some(Value::String(text)) => vec![Part::text(text.clone())],
        Some(Value::Array(parts)) => content_parts(parts, &content_path)?,
        Some(_) => return Err(ConvertError::new(content_path, "must be a string or an array of content parts")),
        None => return Err(ConvertError::new(content_path, "is required")),
    };
    match role {
        "user" => messages.user(parts),
        "assistant" | "system" | "developer" => {
            let text = text_only(parts, &content_path, role)?;
            if role == "assistant" {
                messages.assistant_text(text);
            } else {
                messages.system(text);
            }
        }
        _ => return Err(ConvertError::new(item.field("role"), "must be user, assistant, system or developer")),
    }
    Ok(())
}

fn text_only(parts: Vec<Part>, path: &str, role: &str) -> Result<String, ConvertError> {
    let mut texts = Vec::with_capacity(parts.len());
    for part in parts {
        match part {
            Part::Text { text } => texts.push(text),
            _ => return Err(ConvertError::new(path, format!("a {role} message can hold only text"))),
        }
    }
    Ok(texts.join("\n\n"))
}

fn content_parts(parts: &[Value], path: &str) -> Result<Vec<Part>, ConvertError> {
    let mut out = Vec::with_capacity(parts.len());
    for (k, part) in parts.iter().enumerate() {
        let part_path = index(path, k);
        let part = input::object(part, &part_path)?;
        out.push(match part.required_str("type")? {
            "input_text" | "output_text" | "text" => Part::text(part.required_str("text")?),
            "refusal" => Part::text(part.required_str("refusal")?),
            "input_image" => image_part(&part)?,
            "input_file" => file_part(&part)?,
            other => return Err(ConvertError::new(part.field("type"), format!("\"{other}\" content is not supported by this provider"))),
        });
    }
    Ok(out)
}

/// A function-call output given as parts: its text joined, its images and files apart.
fn output_parts(parts: &[Value], path: &str) -> Result<(String, Vec<Part>), ConvertError> {
    let mut texts = Vec::new();
    let mut others = Vec::new();
    for part in content_parts(parts, path)? {
        match part {
            Part::Text { text } => texts.push(text),
            other => others.push(other),
        }
    }
    Ok((texts.join("\n\n"), others))
}

fn image_part(part: &Obj<'_, '_>) -> Result<Part, ConvertError> {
    let detail = part.str("detail")?.map(str::to_string);
    match part.str("image_url")? {
        Some(url) => Ok(Part::image(url, detail)),
        None if part.get("file_id").is_some() => Err(ConvertError::new(part.field("file_id"), "images given by file id need the Files API, which this provider lacks; send image_url")),
        None => Err(ConvertError::new(part.field("image_url"), "is required")),
    }
}

fn file_part(part: &Obj<'_, '_>) -> Result<Part, ConvertError> {
    match part.str("file_data")? {
        Some(data) => {
            let filename = part.str("filename")?.map(str::to_string);
            Ok(Part::File { file: chat::FileData { filename, file_data: data.to_string() } })
        }
        None => Err(ConvertError::new(part.field("file_data"), "is required (files given by id or URL need the Files API, which this provider lacks)")),
    }
}

fn tools(root: &Obj<'_, '_>, other_tools: OtherTools, omitted: &mut Vec<String>) -> Result<Vec<Tool>, ConvertError> {
    let Some(list) = root.array("tools")? else { return Ok(Vec::new()) };
    let mut tools = Vec::with_capacity(list.len());
    for (i, tool) in list.iter().enumerate() {
        let path = index("tools", i);
        let tool = input::object(tool, &path)?;
        let kind = tool.required_str("type")?;
        if kind != "function" {
            let label = match tool.str("name")? {
                Some(name) => format!("{kind} ({name})"),
                None => kind.to_string(),
            };
            match other_tools {
                OtherTools::Omit => {
                    omitted.push(label);
                    continue;
                }
                OtherTools::Refuse => {
                    return Err(ConvertError::new(
                        tool.field("type"),
                        format!("\"{kind}\" tools cannot run behind this provider; only function tools are supported"),
                    ))
                }
            }
        }
        let parameters = match tool.get("parameters") {
            None => None,
            Some(schema @ Value::Object(_)) => Some(schema.clone()),
            Some(_) => return Err(ConvertError::new(tool.field("parameters"), "must be a JSON schema object")),
        };
        let description = tool.str("description")?.map(str::to_string);
        // Responses defaults `strict` to true, chat to false; only an explicit true is passed on, since several
        // providers refuse the field and strict schemas have rules a client's schema may not meet.
        let strict = tool.bool("strict")?.filter(|s| *s);
        tools.push(Tool::function(tool.required_str("name")?.to_string(), description, parameters, strict));
    }
    Ok(tools)
}

fn tool_choice(choice: &Value) -> Result<Value, ConvertError> {
    match choice {
        Value::String(mode) if matches!(mode.as_str(), "auto" | "none" | "required") => Ok(choice.clone()),
        Value::String(mode) => Err(ConvertError::new("tool_choice", format!("\"{mode}\" is not auto, none or required"))),
        Value::Object(_) => {
            let choice = input::object(choice, "tool_choice")?;
            match choice.required_str("type")? {
                "function" => Ok(json!({"type": "function", "function": {"name": choice.required_str("name")?}})),
                other => Err(ConvertError::new("tool_choice.type", format!("\"{other}\" cannot be chosen with this provider; choose a function"))),
            }
        }
        _ => Err(ConvertError::new("tool_choice", "must be a string or an object")),
    }
}

fn response_format(root: &Obj<'_, '_>) -> Result<Option<Value>, ConvertError> {
    let Some(text) = root.object_at("text", "text")? else { return Ok(None) };
    let Some(format) = text.object_at("format", "text.format")? else { return Ok(None) };
    match format.required_str("type")? {
        "text" => Ok(None),
        "json_object" => Ok(Some(json!({"type": "json_object"}))),
        "json_schema" => {
            let mut schema = serde_json::Map::new();
            schema.insert("name".into(), Value::from(format.required_str("name")?));
            let definition = format.get("schema").ok_or_else(|| ConvertError::new(format.field("schema"), "is required"))?;
            schema.insert("schema".into(), definition.clone());
            if let Some(description) = format.str("description")? {
                schema.insert("description".into(), Value::from(description));
            }
            if let Some(strict) = format.bool("strict")? {
                schema.insert("strict".into(), Value::from(strict));
            }
            Ok(Some(json!({"type": "json_schema", "json_schema": schema})))
        }
        other => Err(ConvertError::new(format.field("type"), format!("\"{other}\" is not text, json_object or json_schema"))),
    }
}

#[cfg(test)]
mod tests;
