//! Tests of the Messages → chat request conversion, over a Claude Code request fixture and field-by-field tables.

use super::*;
use crate::convert::MaxTokensField;
use serde_json::{json, Value};

const CLAUDE_CODE: &str = include_str!("../../../../tests/fixtures/convert/anthropic-claude-code-request.json");
const SIGNED_ID: &str = "tsig1_ZnVuY3Rpb24tY2FsbC04ODI1MTQ2MzQwMTIzAENpUUJqejFyWDhwMlZiKzVZdC8zcTBsSDFyUTZiOXkwRzN5MnZYZk04b1owZFkxa1pnMFNOd0dQUFd0ZjNjVDhKemdSM3hRbUk1cTlsUjF1WTBoNFh3PT0";
const SIGNATURE: &str = "CiQBjz1rX8p2Vb+5Yt/3q0lH1rQ6b9y0G3y2vXfM8oZ0dY1kZg0SNwGPPWtf3cT8JzgR3xQmI5q9lR1uY0h4Xw==";

const GEMINI: UpstreamChat<'static> = UpstreamChat { model: "gemini-2.5-pro", max_tokens_field: MaxTokensField::MaxTokens, send_user: false, thought_signatures: true };

fn convert(body: &Value) -> Result<(UpstreamRequest, Value), ConvertError> {
    convert_for(body, &GEMINI)
}

fn convert_for(body: &Value, upstream: &UpstreamChat<'_>) -> Result<(UpstreamRequest, Value), ConvertError> {
    let out = request_to_chat(body.to_string().as_bytes(), upstream)?;
    let chat: Value = serde_json::from_slice(&out.body).expect("the chat body is JSON");
    Ok((out, chat))
}

fn error_of(body: Value) -> String {
    convert(&body).map(|_| ()).expect_err("refused").to_string()
}

#[test]
fn a_claude_code_request_converts_in_full() {
    let fixture: Value = serde_json::from_str(CLAUDE_CODE).expect("fixture");
    let (out, chat) = convert(&fixture).expect("converts");
    assert_eq!(out.client_model, "claude-sonnet-4-5-20250929");
    assert!(out.stream);
    assert_eq!(out.user.as_deref(), Some("user_2f4e6c_account_9b1d_session_5a7c3e1f-0d2b-4c8e-9f61-7e3a2b1c4d5e"));
    assert!(out.omitted_tools.is_empty());

    let system = format!(
        "You are Claude Code, Anthropic's official CLI for Claude.\n\n{}",
        fixture["system"][1]["text"].as_str().expect("long system text")
    );
    let expected_messages = json!([
        {"role": "system", "content": system},
        {"role": "user", "content": "<system-reminder>\nAs you answer the user's questions, you can use the following context:\n# claudeMd\nCodebase and user instructions are shown below.\n</system-reminder>\n\nWhy does the SSE test fail? Look at src/convert/sse.rs"},
        {"role": "assistant", "content": "I'll read the file first.", "tool_calls": [
            {"id": "toolu_01A09q90qw90lq917835lq9", "type": "function", "function": {"name": "Read", "arguments": "{\"file_path\":\"/home/dev/one-balance/src/convert/sse.rs\"}"}}
        ]},
        {"role": "tool", "tool_call_id": "toolu_01A09q90qw90lq917835lq9", "content": "     1\t//! Server-Sent Events\n     2\tpub struct SseParser;\n"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "function-call-8825146340123", "type": "function", "function": {"name": "Bash", "arguments": "{\"command\":\"cargo test --lib convert::sse\",\"description\":\"Run the SSE tests\"}"},
             "extra_content": {"google": {"thought_signature": SIGNATURE}}},
            {"id": "toolu_02", "type": "function", "function": {"name": "Grep", "arguments": "{\"path\":\"src\",\"pattern\":\"fn push\"}"}}
        ]},
        {"role": "tool", "tool_call_id": "function-call-8825146340123", "content": "Error: test convert::sse::tests::crlf ... FAILED"},
        {"role": "tool", "tool_call_id": "toolu_02", "content": "src/convert/sse.rs:88: pub fn push\n\n(image attached in the next message)"},
        {"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            {"type": "text", "text": "继续，修好它 🙏"}
        ]}
    ]);
    assert_eq!(chat["messages"], expected_messages);

    let tools = chat["tools"].as_array().expect("tools");
    assert_eq!(tools.len(), 13);
    for (tool, original) in tools.iter().zip(fixture["tools"].as_array().expect("fixture tools")) {
        let function = &tool["function"];
        assert_eq!((tool["type"].clone(), function["name"].clone(), function["description"].clone()), (json!("function"), original["name"].clone(), original["description"].clone()));
        assert_eq!(function["parameters"]["properties"].as_object().map(|p| p.keys().collect::<Vec<_>>()), original["input_schema"]["properties"].as_object().map(|p| p.keys().collect::<Vec<_>>()));
        assert_eq!(function["parameters"]["required"], original["input_schema"]["required"]);
        let text = function["parameters"].to_string();
        assert!(!text.contains("$schema") && !text.contains("additionalProperties"), "Gemini refuses these: {text}");
    }
    let multi_edit = tools.iter().find(|t| t["function"]["name"] == "MultiEdit").expect("MultiEdit");
    assert_eq!(
        multi_edit["function"]["parameters"],
        json!({"type": "object", "required": ["file_path", "edits"], "properties": {
            "file_path": {"type": "string"},
            "edits": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["old_string", "new_string"], "properties": {
                "old_string": {"type": "string"}, "new_string": {"type": "string"}, "replace_all": {"type": "boolean", "default": false}}}}}})
    );
    let mut rest = chat.as_object().expect("object").clone();
    rest.remove("messages");
    rest.remove("tools");
    assert_eq!(
        Value::Object(rest),
        json!({"model": "gemini-2.5-pro", "tool_choice": "auto", "max_tokens": 32000, "temperature": 1, "stream": true,
               "stream_options": {"include_usage": true}})
    );
}

#[test]
fn scalar_fields_map_to_their_chat_names() {
    let cases = [
        (json!({"max_tokens": 100, "temperature": 0.2, "top_p": 0.9, "stop_sequences": ["\n\nHuman:", "###"]}),
         json!({"max_tokens": 100, "temperature": 0.2, "top_p": 0.9, "stop": ["\n\nHuman:", "###"]})),
        (json!({"stop_sequences": [], "stream": false, "top_k": 5, "thinking": {"type": "enabled", "budget_tokens": 2048}, "service_tier": "auto"}), json!({})),
        (json!({"temperature": null, "max_tokens": null, "metadata": {"user_id": "u1"}}), json!({})),
    ];
    for (extra, expected) in cases {
        let mut body = json!({"model": "claude-3-5-haiku", "messages": [{"role": "user", "content": "hi"}]});
        for (k, v) in extra.as_object().expect("object") {
            body[k] = v.clone();
        }
        let (_, chat) = convert(&body).expect("converts");
        let mut expected_full = json!({"model": "gemini-2.5-pro", "messages": [{"role": "user", "content": "hi"}]});
        for (k, v) in expected.as_object().expect("object") {
            expected_full[k] = v.clone();
        }
        assert_eq!(chat, expected_full, "{extra}");
    }
}

#[test]
fn the_upstream_decides_the_limit_field_and_whether_user_is_sent() {
    let body = json!({"model": "m", "max_tokens": 64, "metadata": {"user_id": "u1"}, "messages": [{"role": "user", "content": "hi"}]});
    let openai = UpstreamChat { model: "gpt-5", max_tokens_field: MaxTokensField::MaxCompletionTokens, send_user: true, thought_signatures: false };
    let (out, chat) = convert_for(&body, &openai).expect("converts");
    assert_eq!((chat["max_completion_tokens"].clone(), chat.get("max_tokens")), (json!(64), None));
    assert_eq!(chat["user"], "u1");
    assert_eq!(out.user.as_deref(), Some("u1"));
    let (out, chat) = convert(&body).expect("converts");
    assert_eq!(chat.get("user"), None, "Gemini refuses unknown fields");
    assert_eq!(out.user.as_deref(), Some("u1"), "still offered to the edge for routing");
}

#[test]
fn tool_choice_maps_to_its_chat_form() {
    let tool = json!([{"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]);
    let cases = [
        (json!({"type": "auto"}), json!("auto"), None),
        (json!({"type": "any"}), json!("required"), None),
        (json!({"type": "none"}), json!("none"), None),
        (json!({"type": "tool", "name": "get_weather"}), json!({"type": "function", "function": {"name": "get_weather"}}), None),
        (json!({"type": "auto", "disable_parallel_tool_use": true}), json!("auto"), Some(json!(false))),
    ];
    for (choice, expected, parallel) in cases {
        let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "tools": tool, "tool_choice": choice});
        let (_, chat) = convert(&body).expect("converts");
        assert_eq!(chat["tool_choice"], expected, "{choice}");
        assert_eq!(chat.get("parallel_tool_calls").cloned(), parallel, "{choice}");
    }
    let no_tools = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "tool_choice": {"type": "any"}});
    let (_, chat) = convert(&no_tools).expect("converts");
    assert_eq!(chat.get("tool_choice"), None, "a choice without tools is left out (OpenAI refuses it)");
}

#[test]
fn content_blocks_convert_by_type() {
    let cases = [
        (
            "url image and text",
            json!([{"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}, {"type": "text", "text": "what is it?"}]}]),
            json!([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}, {"type": "text", "text": "what is it?"}]}]),
        ),
        (
            "pdf and text documents",
            json!([{"role": "user", "content": [
                {"type": "document", "title": "spec.pdf", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}},
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain words"}}]}]),
            json!([{"role": "user", "content": [
                {"type": "file", "file": {"filename": "spec.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}},
                {"type": "text", "text": "plain words"}]}]),
        ),
        (
            "thinking-only assistant turns disappear",
            json!([{"role": "user", "content": "a"}, {"role": "assistant", "content": [{"type": "redacted_thinking", "data": "xx"}]}, {"role": "user", "content": "b"}]),
            json!([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]),
        ),
        (
            "assistant string content and several text blocks",
            json!([{"role": "assistant", "content": "plain"}, {"role": "assistant", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]}]),
            json!([{"role": "assistant", "content": "plain"}, {"role": "assistant", "content": "one\n\ntwo"}]),
        ),
        (
            "empty and error tool results",
            json!([
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "x", "input": {}}, {"type": "tool_use", "id": "t2", "name": "y"}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1"}, {"type": "tool_result", "tool_use_id": "t2", "is_error": true, "content": ""}]}
            ]),
            json!([
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "t1", "type": "function", "function": {"name": "x", "arguments": "{}"}},
                    {"id": "t2", "type": "function", "function": {"name": "y", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "t1", "content": "(no output)"},
                {"role": "tool", "tool_call_id": "t2", "content": "Error"}
            ]),
        ),
        (
            "an image-only tool result gets a user message of its own before the next turn",
            json!([
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {"file_path": "a.png"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA=="}}]}]},
                {"role": "assistant", "content": "A red square."}
            ]),
            json!([
                {"role": "assistant", "content": null, "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "Read", "arguments": "{\"file_path\":\"a.png\"}"}}]},
                {"role": "tool", "tool_call_id": "t1", "content": "(image attached in the next message)"},
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]},
                {"role": "assistant", "content": "A red square."}
            ]),
        ),
    ];
    for (name, messages, expected) in cases {
        let (_, chat) = convert(&json!({"model": "m", "messages": messages})).expect(name);
        assert_eq!(chat["messages"], expected, "{name}");
    }
}

#[test]
fn a_signed_tool_use_id_goes_back_to_gemini_as_id_and_signature() {
    let body = json!({"model": "m", "messages": [
        {"role": "assistant", "content": [{"type": "tool_use", "id": SIGNED_ID, "name": "Bash", "input": {"command": "ls"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": SIGNED_ID, "content": "a.rs"}]}
    ]});
    let (_, chat) = convert(&body).expect("converts");
    assert_eq!(chat["messages"][0]["tool_calls"][0]["id"], "function-call-8825146340123");
    assert_eq!(chat["messages"][0]["tool_calls"][0]["extra_content"], json!({"google": {"thought_signature": SIGNATURE}}));
    assert_eq!(chat["messages"][1]["tool_call_id"], "function-call-8825146340123");

    let openai = UpstreamChat { model: "gpt-4.1", max_tokens_field: MaxTokensField::MaxTokens, send_user: false, thought_signatures: false };
    let (_, chat) = convert_for(&body, &openai).expect("converts");
    assert_eq!(
        chat["messages"][0]["tool_calls"][0],
        json!({"id": "function-call-8825146340123", "type": "function", "function": {"name": "Bash", "arguments": "{\"command\":\"ls\"}"}}),
        "other providers get the plain id and no extra_content"
    );
}

#[test]
fn invalid_requests_are_refused_with_the_field_named() {
    let user = json!([{"role": "user", "content": "hi"}]);
    let cases = [
        (json!({"messages": user}), "model: is required"),
        (json!({"model": "m"}), "messages: is required"),
        (json!({"model": "m", "messages": {}}), "messages: must be an array"),
        (json!({"model": "m", "messages": [{"role": "tool", "content": "x"}]}), "messages[0].role: must be \"user\", \"assistant\" or \"system\""),
        (json!({"model": "m", "messages": [{"role": "system"}]}), "messages[0].content: is required"),
        (json!({"model": "m", "messages": [{"role": "system", "content": [{"type": "image"}]}]}), "messages[0].content[0].type: \"image\" blocks are not allowed in system; send text blocks"),
        (json!({"model": "m", "messages": [{"role": "user"}]}), "messages[0].content: is required"),
        (json!({"model": "m", "messages": [{"role": "user", "content": 7}]}), "messages[0].content: must be a string or an array of content blocks"),
        (json!({"model": "m", "messages": [{"role": "user", "content": [{"text": "no type"}]}]}), "messages[0].content[0].type: is required"),
        (json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "audio"}]}]}), "messages[0].content[0].type: \"audio\" is not a content block type this provider takes"),
        (json!({"model": "m", "messages": [{"role": "assistant", "content": [{"type": "server_tool_use", "id": "s", "name": "web_search", "input": {}}]}]}),
         "messages[0].content[0].type: \"server_tool_use\" is a server-tool block, which this provider cannot run"),
        (json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}]}]}),
         "messages[0].content[0].source.type: image source \"file\" is not supported; send base64 or url"),
        (json!({"model": "m", "messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "x", "input": "ls"}]}]}), "messages[0].content[0].input: must be an object"),
        (json!({"model": "m", "messages": user, "system": 5}), "system: must be a string or an array of text blocks"),
        (json!({"model": "m", "messages": user, "system": [{"type": "image"}]}), "system[0].type: \"image\" blocks are not allowed in system; send text blocks"),
        (json!({"model": "m", "messages": user, "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 5}]}),
         "tools[0].type: \"web_search_20250305\" is an Anthropic server tool, which this provider cannot run; only client tools (name, description, input_schema) are supported"),
        (json!({"model": "m", "messages": user, "tools": [{"name": "x", "input_schema": "object"}]}), "tools[0].input_schema: must be a JSON schema object"),
        (json!({"model": "m", "messages": user, "tools": [{"name": "x"}], "tool_choice": {"type": "some"}}), "tool_choice.type: \"some\" is not auto, any, tool or none"),
        (json!({"model": "m", "messages": user, "max_tokens": -5}), "max_tokens: must be a non-negative whole number"),
        (json!({"model": "m", "messages": user, "stop_sequences": [1]}), "stop_sequences[0]: must be a string"),
        (json!({"model": "m", "messages": user, "stream": "yes"}), "stream: must be true or false"),
    ];
    for (body, expected) in cases {
        assert_eq!(error_of(body.clone()), expected, "{body}");
    }
    assert_eq!(request_to_chat(b"not json", &GEMINI).map(|_| ()).expect_err("refused").field, "");
}

#[test]
fn system_messages_inside_messages_join_the_leading_system_prompt_in_order() {
    // Claude Code 2.1 (per-turn-control beta) sends its environment as a `role: "system"` message after the first
    // user turn, with an `output_config` of its own.
    let body = json!({"model": "m", "system": [{"type": "text", "text": "You are Claude Code."}], "messages": [
        {"role": "user", "content": [{"type": "text", "text": "Run it"}]},
        {"role": "system", "content": "# Environment\nPlatform: linux", "output_config": {"effort": "medium"}},
        {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
        {"role": "system", "content": [{"type": "text", "text": "later note"}]},
        {"role": "user", "content": "go on"}
    ]});
    let (_, chat) = convert(&body).expect("converts");
    assert_eq!(
        chat["messages"],
        json!([
            {"role": "system", "content": "You are Claude Code.\n\n# Environment\nPlatform: linux\n\nlater note"},
            {"role": "user", "content": "Run it"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "go on"}
        ])
    );
    let only_inside = json!({"model": "m", "messages": [{"role": "system", "content": "env"}, {"role": "user", "content": "hi"}]});
    assert_eq!(convert(&only_inside).expect("converts").1["messages"][0], json!({"role": "system", "content": "env"}));
}

#[test]
fn custom_typed_tools_and_tools_without_a_schema_are_client_tools() {
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
                      "tools": [{"type": "custom", "name": "a", "input_schema": {"type": "object"}}, {"name": "b", "description": "B"}]});
    let (_, chat) = convert(&body).expect("converts");
    assert_eq!(
        chat["tools"],
        json!([
            {"type": "function", "function": {"name": "a", "parameters": {"type": "object"}}},
            {"type": "function", "function": {"name": "b", "description": "B", "parameters": {"type": "object", "properties": {}}}}
        ])
    );
}
