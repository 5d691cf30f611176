//! Tests of the chat SSE → Messages SSE converter: full event sequences for each upstream fixture, and the same
//! output however the upstream bytes are split.

use super::*;
use crate::convert::StreamConverter;
use crate::convert::sse::SseParser;
use serde_json::json;

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

fn converter() -> AnthropicStream {
    AnthropicStream::new(Reply { model: "claude-sonnet-4-5".into(), id: "r1".into(), created_s: 0 })
}

fn convert_whole(body: &[u8]) -> Vec<u8> {
    let mut stream = converter();
    let mut out = stream.push(body);
    out.extend(stream.finish());
    out
}

/// The output as (event name, data) pairs; every event's name must equal its data's `type`.
fn events(out: &[u8]) -> Vec<(String, Value)> {
    let mut parser = SseParser::new();
    let parsed = parser.push(out).expect("bounded");
    assert!(parser.finish().is_none(), "the output ends with a blank line");
    parsed
        .into_iter()
        .map(|e| {
            let data: Value = serde_json::from_str(&e.data).expect("data is JSON");
            let name = e.event.expect("every event is named");
            assert_eq!(data["type"], json!(name), "event name and type agree");
            (name, data)
        })
        .collect()
}

fn data(body: &str) -> Vec<Value> {
    events(&convert_whole(body.as_bytes())).into_iter().map(|(_, d)| d).collect()
}

fn usage(input: u64, output: u64, cache_read: u64) -> Value {
    json!({"input_tokens": input, "output_tokens": output, "cache_creation_input_tokens": 0, "cache_read_input_tokens": cache_read})
}

fn message_start(usage: Value) -> Value {
    json!({"type": "message_start", "message": {"id": "msg_r1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
           "content": [], "stop_reason": null, "stop_sequence": null, "usage": usage}})
}

fn text_start(index: usize) -> Value {
    json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}})
}

fn text(index: usize, text: &str) -> Value {
    json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}})
}

fn tool_start(index: usize, id: &str, name: &str) -> Value {
    json!({"type": "content_block_start", "index": index, "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}})
}

fn input_json(index: usize, partial: &str) -> Value {
    json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": partial}})
}

fn block_stop(index: usize) -> Value {
    json!({"type": "content_block_stop", "index": index})
}

fn message_delta(stop_reason: &str, usage: Value) -> Value {
    json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null}, "usage": usage})
}

fn message_stop() -> Value {
    json!({"type": "message_stop"})
}

#[test]
fn an_openai_text_stream_becomes_one_text_block() {
    let mut expected = vec![message_start(usage(0, 0, 0)), text_start(0)];
    for t in ["The", " fix", " is", " to", " keep", " `\\r`", " pending", " until", " the", " next", " byte", "."] {
        expected.push(text(0, t));
    }
    expected.extend([block_stop(0), message_delta("end_turn", usage(298, 12, 1536)), message_stop()]);
    assert_eq!(data(OPENAI_TEXT), expected);
}

#[test]
fn openai_tool_call_deltas_stream_as_input_json_deltas() {
    let mut expected = vec![message_start(usage(0, 0, 0)), text_start(0), text(0, "Running the tests now."), block_stop(0)];
    expected.push(tool_start(1, "call_kT5mYq3", "shell"));
    for p in ["{\"", "command", "\":[\"", "cargo", "\",\"", "test", "\"],", "\"workdir", "\":\"/repo", "\"}"] {
        expected.push(input_json(1, p));
    }
    expected.extend([block_stop(1), tool_start(2, "call_Qw8nB1z", "read_file"), input_json(2, "{\"path\":"), input_json(2, " \"src/lib.rs\"}")]);
    expected.extend([block_stop(2), message_delta("tool_use", usage(1024, 58, 4096)), message_stop()]);
    assert_eq!(data(OPENAI_TOOLS), expected);
}

#[test]
fn a_gemini_stream_carries_the_signature_in_the_tool_id_and_ends_as_tool_use() {
    let signed = encode_call_id("function-call-13862241", Some("CtYBAdHtim9tM1pQ+Zz2Yt7Nw=="));
    let expected = vec![
        message_start(usage(4210, 9, 0)),
        text_start(0),
        text(0, "I'll check the parser and its tests."),
        block_stop(0),
        tool_start(1, &signed, "Read"),
        input_json(1, "{\"file_path\":\"src/convert/sse.rs\"}"),
        block_stop(1),
        tool_start(2, "function-call-13862242", "Grep"),
        input_json(2, "{\"pattern\":\"after_cr\",\"path\":\"src\"}"),
        block_stop(2),
        message_delta("tool_use", usage(4210, 61, 0)),
        message_stop(),
    ];
    assert_eq!(data(GEMINI_TOOLS), expected);
    let (id, signature) = crate::convert::call_id::decode_call_id(&signed);
    assert_eq!((id.as_str(), signature.as_deref()), ("function-call-13862241", Some("CtYBAdHtim9tM1pQ+Zz2Yt7Nw==")));
}

#[test]
fn chinese_and_emoji_text_arrives_intact() {
    let expected = vec![
        message_start(usage(12, 2, 0)),
        text_start(0),
        text(0, "好的，"),
        text(0, "我来修复这个问题 🔧。"),
        text(0, "完成 ✅ 👩‍💻🇨🇳"),
        block_stop(0),
        message_delta("end_turn", usage(12, 17, 0)),
        message_stop(),
    ];
    assert_eq!(data(UNICODE), expected);
}

#[test]
fn an_error_inside_the_stream_ends_it_with_an_error_event() {
    let expected = vec![
        message_start(usage(0, 0, 0)),
        text_start(0),
        text(0, "Partial answer"),
        json!({"type": "error", "error": {"type": "api_error", "message": "The server had an error while processing your request. Sorry about that!"}}),
    ];
    assert_eq!(data(ERROR), expected);
}

#[test]
fn a_stream_without_finish_reason_or_done_still_ends_cleanly() {
    let expected = vec![
        message_start(usage(0, 0, 0)),
        text_start(0),
        text(0, "Looking"),
        block_stop(0),
        tool_start(1, "call_cut", "shell"),
        input_json(1, "{\"command\":[\"ls\"]}"),
        block_stop(1),
        message_delta("tool_use", usage(0, 0, 0)),
        message_stop(),
    ];
    assert_eq!(data(NO_FINISH), expected);
}

#[test]
fn a_length_cut_is_max_tokens_with_deepseek_cache_hits() {
    let expected = vec![
        message_start(usage(0, 0, 0)),
        text_start(0),
        text(0, "Step 1: open"),
        text(0, " the file."),
        block_stop(0),
        message_delta("max_tokens", usage(8, 8, 32)),
        message_stop(),
    ];
    assert_eq!(data(LENGTH), expected);
}

#[test]
fn odd_streams_end_with_a_sensible_event() {
    let cases: Vec<(&str, &str, Vec<Value>)> = vec![
        ("an empty body", "", vec![json!({"type": "error", "error": {"type": "api_error", "message": "the upstream ended the stream without sending anything"}})]),
        ("only done", "data: [DONE]\n\n", vec![message_start(usage(0, 0, 0)), message_delta("end_turn", usage(0, 0, 0)), message_stop()]),
        (
            "gemini's rate-limit error array",
            "data: [{\"error\":{\"code\":429,\"message\":\"Resource has been exhausted\",\"status\":\"RESOURCE_EXHAUSTED\"}}]\n\n",
            vec![json!({"type": "error", "error": {"type": "rate_limit_error", "message": "Resource has been exhausted"}})],
        ),
        (
            "a tool call without an id gets one",
            "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"name\":\"x\",\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\ndata: [DONE]\n\n",
            vec![message_start(usage(0, 0, 0)), tool_start(0, "toolu_r1_0", "x"), input_json(0, "{}"), block_stop(0), message_delta("tool_use", usage(0, 0, 0)), message_stop()],
        ),
        (
            "a matched stop sequence",
            "data: {\"choices\":[{\"delta\":{\"content\":\"a\"},\"finish_reason\":\"stop\",\"stop_reason\":\"END\"}]}\n\ndata: [DONE]\n\n",
            vec![
                message_start(usage(0, 0, 0)),
                text_start(0),
                text(0, "a"),
                block_stop(0),
                json!({"type": "message_delta", "delta": {"stop_reason": "stop_sequence", "stop_sequence": "END"}, "usage": usage(0, 0, 0)}),
                message_stop(),
            ],
        ),
    ];
    for (name, body, expected) in cases {
        assert_eq!(data(body), expected, "{name}");
    }
}

#[test]
fn an_oversized_upstream_event_ends_the_stream_with_an_error() {
    let mut stream = converter();
    let mut out = stream.push(b"data: {\"choices\":[{\"delta\":{\"content\":\"ok\"}}]}\n\n");
    let big = vec![b'x'; crate::convert::sse::DEFAULT_MAX_EVENT_BYTES + 1];
    out.extend(stream.push(b"data: "));
    out.extend(stream.push(&big));
    out.extend(stream.push(b"\n\ndata: [DONE]\n\n"));
    out.extend(stream.finish());
    let last = events(&out).pop().expect("events").1;
    assert_eq!(last, json!({"type": "error", "error": {"type": "api_error", "message": "an upstream stream event is longer than 1048576 bytes"}}));
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
    let first = stream.push(b"data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n");
    let names: Vec<String> = events(&first).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["message_start", "content_block_start", "content_block_delta"]);
    assert!(stream.push(b"data: {\"choices\":[{\"delta\":{\"content\":\" th").is_empty(), "half an event waits");
    assert_eq!(events(&stream.push(b"ere\"}}]}\n\n")).len(), 1);
    assert_eq!(events(&stream.finish()).len(), 3);
    assert!(stream.finish().is_empty(), "finish is final");
    assert!(stream.push(b"data: {\"choices\":[{\"delta\":{\"content\":\"late\"}}]}\n\n").is_empty());
}

#[test]
fn a_stream_cut_short_ends_with_an_error_event_not_a_stop() {
    let half = &OPENAI_TEXT.as_bytes()[..OPENAI_TEXT.len() / 2];
    let mut stream = converter();
    let mut out = stream.push(half);
    out.extend(stream.abort("the upstream connection was cut"));
    let seen = events(&out);
    let (last, data) = seen.last().expect("events");
    assert_eq!(last, "error");
    assert_eq!(data["error"], json!({"type": "api_error", "message": "the upstream connection was cut"}));
    assert!(!seen.iter().any(|(name, _)| name == "message_stop"), "a cut answer is not a whole one");
    assert!(stream.finish().is_empty() && stream.abort("again").is_empty(), "nothing after the end");
    let mut whole = converter();
    whole.push(OPENAI_TEXT.as_bytes());
    whole.finish();
    assert!(whole.abort("late").is_empty(), "an ended stream is not aborted");
}
