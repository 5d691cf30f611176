//! Tests of the chat SSE → Responses SSE converter: full event sequences for each upstream fixture, and the same
//! output however the upstream bytes are split.

use super::*;
use crate::convert::StreamConverter;
use crate::convert::sse::SseParser;
use serde_json::{json, Value};

const OPENAI_TEXT: &str = include_str!("../../../../tests/fixtures/convert/stream-openai-text.sse");
const OPENAI_TOOLS: &str = include_str!("../../../../tests/fixtures/convert/stream-openai-tool-calls.sse");
const GEMINI_TOOLS: &str = include_str!("../../../../tests/fixtures/convert/stream-gemini-tool-calls.sse");
const UNICODE: &str = include_str!("../../../../tests/fixtures/convert/stream-unicode.sse");
const ERROR: &str = include_str!("../../../../tests/fixtures/convert/stream-error.sse");
const NO_FINISH: &str = include_str!("../../../../tests/fixtures/convert/stream-no-finish.sse");
const LENGTH: &str = include_str!("../../../../tests/fixtures/convert/stream-length.sse");

const ALL: [(&str, &str); 7] = [
    ("openai text", OPENAI_TEXT),
    ("openai tool calls", OPENAI_TOOLS),
    ("gemini tool calls", GEMINI_TOOLS),
    ("unicode", UNICODE),
    ("error", ERROR),
    ("no finish", NO_FINISH),
    ("length", LENGTH),
];

const CREATED_S: u64 = 1_759_222_600;

fn converter() -> ResponsesStream {
    ResponsesStream::new(Reply { model: "gpt-5-codex".into(), id: "r1".into(), created_s: CREATED_S })
}

fn convert_whole(body: &[u8]) -> Vec<u8> {
    let mut stream = converter();
    let mut out = stream.push(body);
    out.extend(stream.finish());
    out
}

/// The output's data, checking that names match types and sequence numbers count from 0.
fn data(body: &str) -> Vec<Value> {
    let out = convert_whole(body.as_bytes());
    let mut parser = SseParser::new();
    let events = parser.push(&out).expect("bounded");
    assert!(parser.finish().is_none(), "the output ends with a blank line");
    events
        .into_iter()
        .enumerate()
        .map(|(n, e)| {
            let mut data: Value = serde_json::from_str(&e.data).expect("data is JSON");
            assert_eq!(data["type"], json!(e.event.expect("named")), "event name and type agree");
            assert_eq!(data["sequence_number"], json!(n), "sequence numbers count up from 0");
            data.as_object_mut().expect("object").remove("sequence_number");
            data
        })
        .collect()
}

fn response(status: &str, output: Value, usage: Value) -> Value {
    json!({"id": "resp_r1", "object": "response", "created_at": CREATED_S, "status": status, "error": null,
           "incomplete_details": null, "model": "gpt-5-codex", "output": output, "usage": usage, "store": false})
}

fn opening() -> Vec<Value> {
    vec![
        json!({"type": "response.created", "response": response("in_progress", json!([]), Value::Null)}),
        json!({"type": "response.in_progress", "response": response("in_progress", json!([]), Value::Null)}),
    ]
}

fn message(index: usize, status: &str, content: Value) -> Value {
    json!({"type": "message", "id": format!("msg_r1_{index}"), "status": status, "role": "assistant", "content": content})
}

fn output_text(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": []})
}

/// The events of one text item at `index` streamed as `deltas`.
fn text_item(index: usize, deltas: &[&str]) -> (Vec<Value>, Value) {
    let id = format!("msg_r1_{index}");
    let full: String = deltas.concat();
    let mut events = vec![
        json!({"type": "response.output_item.added", "output_index": index, "item": message(index, "in_progress", json!([]))}),
        json!({"type": "response.content_part.added", "item_id": id, "output_index": index, "content_index": 0, "part": output_text("")}),
    ];
    for delta in deltas {
        events.push(json!({"type": "response.output_text.delta", "item_id": id, "output_index": index, "content_index": 0, "delta": delta, "logprobs": []}));
    }
    let done = message(index, "completed", json!([output_text(&full)]));
    events.extend([
        json!({"type": "response.output_text.done", "item_id": id, "output_index": index, "content_index": 0, "text": full, "logprobs": []}),
        json!({"type": "response.content_part.done", "item_id": id, "output_index": index, "content_index": 0, "part": output_text(&full)}),
        json!({"type": "response.output_item.done", "output_index": index, "item": done}),
    ]);
    (events, done)
}

/// The events of one function call at `index` streamed as `deltas`.
fn call_item(index: usize, call_id: &str, name: &str, deltas: &[&str]) -> (Vec<Value>, Value) {
    let id = format!("fc_r1_{index}");
    let arguments: String = deltas.concat();
    let item = |status: &str, arguments: &str| {
        json!({"type": "function_call", "id": id, "status": status, "call_id": call_id, "name": name, "arguments": arguments})
    };
    let mut events = vec![json!({"type": "response.output_item.added", "output_index": index, "item": item("in_progress", "")})];
    for delta in deltas {
        events.push(json!({"type": "response.function_call_arguments.delta", "item_id": id, "output_index": index, "delta": delta}));
    }
    let done = item("completed", &arguments);
    events.extend([
        json!({"type": "response.function_call_arguments.done", "item_id": id, "output_index": index, "name": name, "arguments": arguments}),
        json!({"type": "response.output_item.done", "output_index": index, "item": done}),
    ]);
    (events, done)
}

fn usage(input: u64, cached: u64, output: u64, total: u64) -> Value {
    json!({"input_tokens": input, "input_tokens_details": {"cached_tokens": cached}, "output_tokens": output,
           "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": total})
}

#[test]
fn an_openai_text_stream_becomes_one_message_item() {
    let deltas = ["The", " fix", " is", " to", " keep", " `\\r`", " pending", " until", " the", " next", " byte", "."];
    let (events, item) = text_item(0, &deltas);
    let mut expected = opening();
    expected.extend(events);
    expected.push(json!({"type": "response.completed", "response": response("completed", json!([item]), usage(1834, 1536, 12, 1846))}));
    assert_eq!(data(OPENAI_TEXT), expected);
}

#[test]
fn openai_tool_call_deltas_stream_as_function_call_arguments() {
    let (text_events, text) = text_item(0, &["Running the tests now."]);
    let (shell_events, shell) = call_item(1, "call_kT5mYq3", "shell", &["{\"", "command", "\":[\"", "cargo", "\",\"", "test", "\"],", "\"workdir", "\":\"/repo", "\"}"]);
    let (read_events, read) = call_item(2, "call_Qw8nB1z", "read_file", &["{\"path\":", " \"src/lib.rs\"}"]);
    let mut expected = opening();
    expected.extend(text_events);
    expected.extend(shell_events);
    expected.extend(read_events);
    expected.push(json!({"type": "response.completed", "response": response("completed", json!([text, shell, read]), usage(5120, 4096, 58, 5178))}));
    assert_eq!(data(OPENAI_TOOLS), expected);
}

#[test]
fn a_gemini_stream_carries_the_signature_in_the_call_id() {
    let signed = encode_call_id("function-call-13862241", Some("CtYBAdHtim9tM1pQ+Zz2Yt7Nw=="));
    let (text_events, text) = text_item(0, &["I'll check the parser and its tests."]);
    let (read_events, read) = call_item(1, &signed, "Read", &["{\"file_path\":\"src/convert/sse.rs\"}"]);
    let (grep_events, grep) = call_item(2, "function-call-13862242", "Grep", &["{\"pattern\":\"after_cr\",\"path\":\"src\"}"]);
    let mut expected = opening();
    expected.extend(text_events);
    expected.extend(read_events);
    expected.extend(grep_events);
    expected.push(json!({"type": "response.completed", "response": response("completed", json!([text, read, grep]), usage(4210, 0, 61, 4271))}));
    assert_eq!(data(GEMINI_TOOLS), expected);
}

#[test]
fn chinese_and_emoji_text_arrives_intact() {
    let (events, item) = text_item(0, &["好的，", "我来修复这个问题 🔧。", "完成 ✅ 👩‍💻🇨🇳"]);
    let mut expected = opening();
    expected.extend(events);
    expected.push(json!({"type": "response.completed", "response": response("completed", json!([item]), usage(12, 0, 17, 29))}));
    assert_eq!(data(UNICODE), expected);
}

#[test]
fn an_error_inside_the_stream_fails_the_response() {
    let index = 0;
    let id = "msg_r1_0";
    let mut expected = opening();
    expected.extend([
        json!({"type": "response.output_item.added", "output_index": index, "item": message(index, "in_progress", json!([]))}),
        json!({"type": "response.content_part.added", "item_id": id, "output_index": index, "content_index": 0, "part": output_text("")}),
        json!({"type": "response.output_text.delta", "item_id": id, "output_index": index, "content_index": 0, "delta": "Partial answer", "logprobs": []}),
    ]);
    let mut failed = response("failed", json!([]), Value::Null);
    failed["error"] = json!({"code": "server_error", "message": "The server had an error while processing your request. Sorry about that!"});
    expected.push(json!({"type": "response.failed", "response": failed}));
    assert_eq!(data(ERROR), expected);
}

#[test]
fn a_stream_without_finish_reason_or_done_still_completes() {
    let (text_events, text) = text_item(0, &["Looking"]);
    let (call_events, call) = call_item(1, "call_cut", "shell", &["{\"command\":[\"ls\"]}"]);
    let mut expected = opening();
    expected.extend(text_events);
    expected.extend(call_events);
    expected.push(json!({"type": "response.completed", "response": response("completed", json!([text, call]), Value::Null)}));
    assert_eq!(data(NO_FINISH), expected);
}

#[test]
fn a_length_cut_ends_with_response_incomplete() {
    let (events, item) = text_item(0, &["Step 1: open", " the file."]);
    let mut expected = opening();
    expected.extend(events);
    let mut incomplete = response("incomplete", json!([item]), usage(40, 32, 8, 48));
    incomplete["incomplete_details"] = json!({"reason": "max_output_tokens"});
    expected.push(json!({"type": "response.incomplete", "response": incomplete}));
    assert_eq!(data(LENGTH), expected);
}

#[test]
fn failures_carry_codes_codex_acts_on() {
    let failed = |body: &str| data(body).pop().expect("events")["response"]["error"].clone();
    let cases = [
        ("", json!({"code": "server_error", "message": "the upstream ended the stream without sending anything"})),
        (
            "data: [{\"error\":{\"code\":429,\"message\":\"Resource has been exhausted\",\"status\":\"RESOURCE_EXHAUSTED\"}}]\n\n",
            json!({"code": "rate_limit_exceeded", "message": "Resource has been exhausted"}),
        ),
        (
            "data: {\"error\":{\"message\":\"This model's maximum context length is 128000 tokens.\",\"type\":\"invalid_request_error\",\"code\":\"context_length_exceeded\"}}\n\n",
            json!({"code": "context_length_exceeded", "message": "This model's maximum context length is 128000 tokens."}),
        ),
        (
            "data: {\"error\":{\"message\":\"The input token count exceeds the maximum number of tokens allowed (1048576).\",\"code\":400,\"status\":\"INVALID_ARGUMENT\"}}\n\n",
            json!({"code": "context_length_exceeded", "message": "The input token count exceeds the maximum number of tokens allowed (1048576)."}),
        ),
        (
            "data: {\"error\":{\"message\":\"Invalid value at 'tools[0]'\",\"code\":400,\"status\":\"INVALID_ARGUMENT\"}}\n\n",
            json!({"code": "INVALID_ARGUMENT", "message": "Invalid value at 'tools[0]'"}),
        ),
        (
            "data: {\"error\":{\"message\":\"You exceeded your current quota\",\"type\":\"insufficient_quota\",\"code\":\"insufficient_quota\"}}\n\n",
            json!({"code": "insufficient_quota", "message": "You exceeded your current quota"}),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(failed(body), expected, "{body}");
    }
    assert_eq!(data("").len(), 3, "created, in_progress, failed");
}

#[test]
fn every_split_of_the_upstream_bytes_gives_the_same_output() {
    for (name, body) in ALL {
        let bytes = body.as_bytes();
        let whole = convert_whole(bytes);
        for split in 0..=bytes.len() {
            let mut stream = converter();
            let mut out = stream.push(&bytes[..split]);
            out.extend(stream.push(&bytes[split..]));
            out.extend(stream.finish());
            assert!(out == whole, "{name}: split at {split} differs");
        }
        let mut stream = converter();
        let mut out = Vec::new();
        for byte in bytes {
            out.extend(stream.push(std::slice::from_ref(byte)));
        }
        out.extend(stream.finish());
        assert!(out == whole, "{name}: one byte at a time differs");
    }
}

#[test]
fn output_is_written_as_soon_as_the_upstream_sends_it() {
    let mut stream = converter();
    let first = String::from_utf8(stream.push(b"data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n")).expect("utf-8");
    let names: Vec<&str> = first.lines().filter_map(|l| l.strip_prefix("event: ")).collect();
    assert_eq!(names, ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added", "response.output_text.delta"]);
    assert!(stream.push(b"data: {\"choices\":[{\"delta\":{\"content\":\" th").is_empty(), "half an event waits");
    assert!(!stream.finish().is_empty());
    assert!(stream.finish().is_empty(), "finish is final");
}

#[test]
fn a_stream_cut_short_ends_with_response_failed() {
    let half = &OPENAI_TEXT.as_bytes()[..OPENAI_TEXT.len() / 2];
    let mut stream = converter();
    let mut out = stream.push(half);
    out.extend(stream.abort("the upstream connection was cut"));
    let mut parser = SseParser::new();
    let events = parser.push(&out).expect("bounded");
    let last: Value = serde_json::from_str(&events.last().expect("events").data).expect("json");
    assert_eq!(last["type"], "response.failed");
    assert_eq!(last["response"]["error"], json!({"code": "server_error", "message": "the upstream connection was cut"}));
    assert!(stream.finish().is_empty() && stream.abort("again").is_empty(), "nothing after the end");
}
