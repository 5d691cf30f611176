//! Tests of the Responses → chat request conversion, over a Codex request fixture and field-by-field tables.

use super::*;
use crate::convert::MaxTokensField;
use serde_json::json;

const CODEX: &str = include_str!("../../../../tests/fixtures/convert/responses-codex-request.json");
const SIGNED_ID: &str = "tsig1_ZnVuY3Rpb24tY2FsbC01NTIwOTE3AENtb0JqejFyWHdSZlQwYVE0cThiVDJaY1AwSDFtVTNyNnkzejluV3ErNEp4N0xrPQ";
const SIGNATURE: &str = "CmoBjz1rXwRfT0aQ4q8bT2ZcP0H1mU3r6y3z9nWq+4Jx7Lk=";

const GEMINI: UpstreamChat<'static> = UpstreamChat { model: "gemini-2.5-pro", max_tokens_field: MaxTokensField::MaxTokens, send_user: false, thought_signatures: true };
const OMIT: ResponsesOptions = ResponsesOptions { other_tools: OtherTools::Omit };
const REFUSE: ResponsesOptions = ResponsesOptions { other_tools: OtherTools::Refuse };

fn convert(body: &Value, options: &ResponsesOptions) -> Result<(UpstreamRequest, Value), ConvertError> {
    let out = request_to_chat(body.to_string().as_bytes(), &GEMINI, options)?;
    let chat: Value = serde_json::from_slice(&out.body).expect("the chat body is JSON");
    Ok((out, chat))
}

fn messages_of(input: Value) -> Value {
    let (_, chat) = convert(&json!({"model": "m", "input": input}), &REFUSE).expect("converts");
    chat["messages"].clone()
}

fn error_of(body: Value) -> String {
    convert(&body, &REFUSE).map(|_| ()).expect_err("refused").to_string()
}

#[test]
fn a_codex_request_converts_in_full() {
    let fixture: Value = serde_json::from_str(CODEX).expect("fixture");
    let (out, chat) = convert(&fixture, &OMIT).expect("converts");
    assert_eq!(out.client_model, "gpt-5-codex");
    assert!(out.stream);
    assert_eq!(out.user.as_deref(), Some("0199a3c2-5f7e-7d31-9b4e-2a8c6f1d0e57"), "the prompt cache key, offered for routing");
    assert_eq!(out.omitted_tools, ["web_search", "custom (apply_patch)"]);

    let expected_messages = json!([
        {"role": "system", "content": fixture["instructions"]},
        {"role": "system", "content": "<permissions instructions>\nFilesystem sandboxing defines which files can be read or written. `sandbox_mode` is `workspace-write`.\n</permissions instructions>"},
        {"role": "user", "content": fixture["input"][1]["content"][0]["text"]},
        {"role": "user", "content": "fix the failing SSE test"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_W7k2pQ9xZ1", "type": "function", "function": {"name": "shell",
             "arguments": "{\"command\":[\"bash\",\"-lc\",\"cargo test --lib convert::sse\"],\"workdir\":\"/home/dev/one-balance\",\"timeout_ms\":120000}"}}
        ]},
        {"role": "tool", "tool_call_id": "call_W7k2pQ9xZ1", "content": fixture["input"][5]["output"]},
        {"role": "assistant", "content": "The CRLF case fails; I'll read the parser and rerun one test.", "tool_calls": [
            {"id": "function-call-5520917", "type": "function", "function": {"name": "read_file", "arguments": "{\"path\":\"src/convert/sse.rs\"}"},
             "extra_content": {"google": {"thought_signature": SIGNATURE}}},
            {"id": "call_B8m3", "type": "function", "function": {"name": "shell",
             "arguments": "{\"command\":[\"bash\",\"-lc\",\"cargo test crlf\"],\"workdir\":\"/home/dev/one-balance\"}"}}
        ]},
        {"role": "tool", "tool_call_id": "function-call-5520917", "content": "pub struct SseParser {\n    after_cr: bool,\n}"},
        {"role": "tool", "tool_call_id": "call_B8m3", "content": "screenshot of the failure:\n\n(image attached in the next message)"},
        {"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "auto"}},
            {"type": "text", "text": "继续 👍"}
        ]}
    ]);
    assert_eq!(chat["messages"], expected_messages);

    let tools = fixture["tools"].as_array().expect("tools");
    let function = |i: usize, parameters: Value| {
        json!({"type": "function", "function": {"name": tools[i]["name"], "description": tools[i]["description"], "parameters": parameters}})
    };
    let mut read_file = function(3, tools[3]["parameters"].clone());
    read_file["function"]["strict"] = json!(true);
    let expected_tools = json!([
        function(0, json!({"type": "object", "required": ["command"], "properties": {
            "command": {"type": "array", "items": {"type": "string"}, "description": "The command to execute"},
            "workdir": {"type": "string", "description": "The working directory to execute the command in"},
            "timeout_ms": {"type": "number", "description": "The timeout for the command in milliseconds"},
            "with_escalated_permissions": {"type": "boolean"}, "justification": {"type": "string"}}})),
        function(1, json!({"type": "object", "required": ["plan"], "properties": {
            "explanation": {"type": "string"},
            "plan": {"type": "array", "items": {"type": "object", "required": ["step", "status"], "properties": {
                "step": {"type": "string"}, "status": {"type": "string", "description": "One of: pending, in_progress, completed"}}}}}})),
        function(2, json!({"type": "object", "required": ["path"], "properties": {
            "path": {"type": "string", "description": "Local filesystem path to an image file"}}})),
        read_file,
    ]);
    assert_eq!(chat["tools"], expected_tools, "non-strict schemas lose additionalProperties; the strict one keeps it");

    let mut rest = chat.as_object().expect("object").clone();
    rest.remove("messages");
    rest.remove("tools");
    assert_eq!(
        Value::Object(rest),
        json!({"model": "gemini-2.5-pro", "tool_choice": "auto", "parallel_tool_calls": false, "reasoning_effort": "medium",
               "stream": true, "stream_options": {"include_usage": true}})
    );
}

#[test]
fn non_function_tools_are_refused_when_so_configured() {
    let fixture: Value = serde_json::from_str(CODEX).expect("fixture");
    let refused = convert(&fixture, &REFUSE).map(|_| ()).expect_err("refused");
    assert_eq!(refused.field, "tools[4].type");
    assert_eq!(refused.message, "\"web_search\" tools cannot run behind this provider; only function tools are supported");
}

#[test]
fn omitting_every_tool_drops_tool_choice_and_parallel_calls_too() {
    let body = json!({"model": "m", "input": "hi", "tools": [{"type": "web_search"}], "tool_choice": "required", "parallel_tool_calls": true});
    let (out, chat) = convert(&body, &OMIT).expect("converts");
    assert_eq!(out.omitted_tools, ["web_search"]);
    assert_eq!(chat, json!({"model": "gemini-2.5-pro", "messages": [{"role": "user", "content": "hi"}]}));
}

#[test]
fn input_items_convert_by_type() {
    let cases = [
        ("a string input is one user message", json!("hello"), json!([{"role": "user", "content": "hello"}])),
        (
            "easy messages without a type, and developer as system",
            json!([{"role": "developer", "content": "be brief"}, {"role": "user", "content": [{"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}]}]),
            json!([{"role": "system", "content": "be brief"}, {"role": "user", "content": "a\n\nb"}]),
        ),
        (
            "assistant refusals are text",
            json!([{"type": "message", "role": "assistant", "content": [{"type": "refusal", "refusal": "I can't."}]}]),
            json!([{"role": "assistant", "content": "I can't."}]),
        ),
        (
            "images by url and files by data",
            json!([{"role": "user", "content": [
                {"type": "input_image", "image_url": "https://example.com/a.png"},
                {"type": "input_file", "filename": "spec.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}]}]),
            json!([{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                {"type": "file", "file": {"filename": "spec.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}}]}]),
        ),
        (
            "parallel calls share one assistant message and their outputs follow in order",
            json!([
                {"type": "function_call", "call_id": "a", "name": "x", "arguments": "{}"},
                {"type": "function_call", "call_id": "b", "name": "y", "arguments": {"k": 1}},
                {"type": "function_call_output", "call_id": "a", "output": ""},
                {"type": "function_call_output", "call_id": "b", "output": "ok"},
                {"type": "reasoning", "summary": [], "encrypted_content": "gAAA"},
                {"type": "function_call", "call_id": "c", "name": "z"}
            ]),
            json!([
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "a", "type": "function", "function": {"name": "x", "arguments": "{}"}},
                    {"id": "b", "type": "function", "function": {"name": "y", "arguments": "{\"k\":1}"}}]},
                {"role": "tool", "tool_call_id": "a", "content": "(no output)"},
                {"role": "tool", "tool_call_id": "b", "content": "ok"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "z", "arguments": "{}"}}]}
            ]),
        ),
    ];
    for (name, input, expected) in cases {
        assert_eq!(messages_of(input), expected, "{name}");
    }
}

#[test]
fn a_signed_call_id_goes_back_to_gemini_as_id_and_signature() {
    let messages = messages_of(json!([
        {"type": "function_call", "call_id": SIGNED_ID, "name": "read_file", "arguments": "{}"},
        {"type": "function_call_output", "call_id": SIGNED_ID, "output": "x"}
    ]));
    assert_eq!(messages[0]["tool_calls"][0]["id"], "function-call-5520917");
    assert_eq!(messages[0]["tool_calls"][0]["extra_content"]["google"]["thought_signature"], SIGNATURE);
    assert_eq!(messages[1]["tool_call_id"], "function-call-5520917");

    let openai = UpstreamChat { model: "gpt-4.1", max_tokens_field: MaxTokensField::MaxTokens, send_user: false, thought_signatures: false };
    let body = json!({"model": "m", "input": [{"type": "function_call", "call_id": SIGNED_ID, "name": "read_file", "arguments": "{}"}]});
    let out = request_to_chat(body.to_string().as_bytes(), &openai, &REFUSE).expect("converts");
    let chat: Value = serde_json::from_slice(&out.body).expect("json");
    assert_eq!(
        chat["messages"][0]["tool_calls"][0],
        json!({"id": "function-call-5520917", "type": "function", "function": {"name": "read_file", "arguments": "{}"}}),
        "other providers get the plain id and no extra_content"
    );
}

#[test]
fn request_options_map_to_their_chat_names() {
    let cases = [
        (json!({"max_output_tokens": 256, "temperature": 0.3, "top_p": 1}), json!({"max_tokens": 256, "temperature": 0.3, "top_p": 1})),
        (json!({"text": {"format": {"type": "json_object"}}}), json!({"response_format": {"type": "json_object"}})),
        (
            json!({"text": {"format": {"type": "json_schema", "name": "plan", "strict": true, "schema": {"type": "object"}}, "verbosity": "low"}}),
            json!({"response_format": {"type": "json_schema", "json_schema": {"name": "plan", "strict": true, "schema": {"type": "object"}}}}),
        ),
        (json!({"text": {"format": {"type": "text"}}}), json!({})),
        (json!({"reasoning": {"effort": "high", "summary": "auto"}}), json!({"reasoning_effort": "high"})),
        (json!({"reasoning": null, "include": ["reasoning.encrypted_content"], "store": false, "metadata": {"a": "b"}, "truncation": "auto"}), json!({})),
        (
            json!({"tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}], "tool_choice": {"type": "function", "name": "f"}}),
            json!({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}], "tool_choice": {"type": "function", "function": {"name": "f"}}}),
        ),
    ];
    for (extra, expected) in cases {
        let mut body = json!({"model": "m", "input": "hi"});
        for (k, v) in extra.as_object().expect("object") {
            body[k] = v.clone();
        }
        let (_, chat) = convert(&body, &REFUSE).expect("converts");
        let mut expected_full = json!({"model": "gemini-2.5-pro", "messages": [{"role": "user", "content": "hi"}]});
        for (k, v) in expected.as_object().expect("object") {
            expected_full[k] = v.clone();
        }
        assert_eq!(chat, expected_full, "{extra}");
    }
}

#[test]
fn user_wins_over_prompt_cache_key_and_is_sent_only_when_allowed() {
    let body = json!({"model": "m", "input": "hi", "user": "alice", "prompt_cache_key": "conv-1"});
    let openai = UpstreamChat { model: "gpt-4.1", max_tokens_field: MaxTokensField::MaxCompletionTokens, send_user: true, thought_signatures: false };
    let out = request_to_chat(body.to_string().as_bytes(), &openai, &REFUSE).expect("converts");
    let chat: Value = serde_json::from_slice(&out.body).expect("json");
    assert_eq!((out.user.as_deref(), chat["user"].clone()), (Some("alice"), json!("alice")));
    let (out, chat) = convert(&body, &REFUSE).expect("converts");
    assert_eq!((out.user.as_deref(), chat.get("user")), (Some("alice"), None));
}

#[test]
fn stateful_and_unsupported_requests_are_refused_with_the_field_named() {
    let cases = [
        (json!({"model": "m", "input": "hi", "previous_response_id": "resp_1"}),
         "previous_response_id: this provider keeps no conversation state (only openai/… models do); send the whole conversation in input instead, with store: false"),
        (json!({"model": "m", "input": "hi", "store": true}), "store: this provider stores no responses (only openai/… models do); send store: false or leave it out"),
        (json!({"model": "m", "input": "hi", "background": true}), "background: background responses need stored state, which this provider does not keep (only openai/… models do)"),
        (json!({"input": "hi"}), "model: is required"),
        (json!({"model": "m"}), "input: is required"),
        (json!({"model": "m", "input": 5}), "input: must be a string or an array of items"),
        (json!({"model": "m", "input": [{"content": "x"}]}), "input[0].type: is required"),
        (json!({"model": "m", "input": [{"type": "item_reference", "id": "msg_1"}]}), "input[0].type: \"item_reference\" needs stored items, which this provider does not keep"),
        (json!({"model": "m", "input": [{"type": "local_shell_call", "call_id": "c"}]}), "input[0].type: \"local_shell_call\" items are not supported by this provider"),
        (json!({"model": "m", "input": [{"role": "tool", "content": "x"}]}), "input[0].role: must be user, assistant, system or developer"),
        (json!({"model": "m", "input": [{"role": "system", "content": [{"type": "input_image", "image_url": "https://x"}]}]}), "input[0].content: a system message can hold only text"),
        (json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_audio"}]}]}), "input[0].content[0].type: \"input_audio\" content is not supported by this provider"),
        (json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]}]}),
         "input[0].content[0].file_id: images given by file id need the Files API, which this provider lacks; send image_url"),
        (json!({"model": "m", "input": [{"type": "function_call", "name": "x"}]}), "input[0].call_id: is required"),
        (json!({"model": "m", "input": [{"type": "function_call_output", "call_id": "c", "output": 3}]}), "input[0].output: must be a string or an array of content parts"),
        (json!({"model": "m", "input": "hi", "tools": [{"type": "function", "name": "f"}], "tool_choice": {"type": "web_search"}}),
         "tool_choice.type: \"web_search\" cannot be chosen with this provider; choose a function"),
        (json!({"model": "m", "input": "hi", "tools": [{"type": "function", "name": "f"}], "tool_choice": "any"}), "tool_choice: \"any\" is not auto, none or required"),
        (json!({"model": "m", "input": "hi", "text": {"format": {"type": "grammar"}}}), "text.format.type: \"grammar\" is not text, json_object or json_schema"),
        (json!({"model": "m", "input": "hi", "text": {"format": {"type": "json_schema", "name": "x"}}}), "text.format.schema: is required"),
        (json!({"model": "m", "input": "hi", "tools": [{"name": "f"}]}), "tools[0].type: is required"),
    ];
    for (body, expected) in cases {
        assert_eq!(error_of(body.clone()), expected, "{body}");
    }
}
