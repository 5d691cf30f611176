//! Property-based tests of the protocol converters (`one_balance::convert`), through their public API.
//!
//! Each property holds for every input proptest generates: a stream converter's output does not depend on how the
//! upstream body was cut into chunks; text and tool arguments come out exactly as they went in, whatever the
//! characters; every output stream ends with exactly one terminal event; SSE and thought-signature ids round-trip;
//! no input, however malformed, makes a converter panic. Run with `cargo test --test convert_properties`;
//! `PROPTEST_CASES=10000` for more.

use one_balance::convert::anthropic::{self, AnthropicStream};
use one_balance::convert::call_id::{decode_call_id, encode_call_id, PREFIX};
use one_balance::convert::responses::{self, OtherTools, ResponsesOptions, ResponsesStream};
use one_balance::convert::sse::{write_event, SseEvent, SseParser};
use one_balance::convert::{MaxTokensField, Reply, StreamConverter, UpstreamChat};
use proptest::prelude::*;
use serde_json::{json, Value};

const FIXTURES: [&str; 7] = [
    include_str!("fixtures/convert/stream-openai-text.sse"),
    include_str!("fixtures/convert/stream-openai-tool-calls.sse"),
    include_str!("fixtures/convert/stream-gemini-tool-calls.sse"),
    include_str!("fixtures/convert/stream-unicode.sse"),
    include_str!("fixtures/convert/stream-error.sse"),
    include_str!("fixtures/convert/stream-no-finish.sse"),
    include_str!("fixtures/convert/stream-length.sse"),
];

fn reply() -> Reply {
    Reply { model: "client-model".into(), id: "p1".into(), created_s: 1_700_000_000 }
}

#[derive(Debug, Clone, Copy)]
enum Protocol {
    Anthropic,
    Responses,
}

fn converter(protocol: Protocol) -> Box<dyn StreamConverter> {
    match protocol {
        Protocol::Anthropic => Box::new(AnthropicStream::new(reply())),
        Protocol::Responses => Box::new(ResponsesStream::new(reply())),
    }
}

/// Feeds `body` cut at `cuts` (sorted positions), then finishes.
fn run(protocol: Protocol, body: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut stream = converter(protocol);
    let mut out = Vec::new();
    let mut from = 0;
    for &cut in cuts {
        out.extend(stream.push(&body[from..cut]));
        from = cut;
    }
    out.extend(stream.push(&body[from..]));
    out.extend(stream.finish());
    out
}

fn cuts_for(len: usize, raw: Vec<usize>) -> Vec<usize> {
    let mut cuts: Vec<usize> = raw.into_iter().map(|c| c % (len + 1)).collect();
    cuts.sort_unstable();
    cuts
}

/// Parsed output events as (name, data).
fn events(out: &[u8]) -> Vec<(String, Value)> {
    let mut parser = SseParser::new();
    let mut parsed = parser.push(out).expect("output events are bounded");
    parsed.extend(parser.finish());
    parsed
        .into_iter()
        .map(|e| (e.event.expect("every output event is named"), serde_json::from_str(&e.data).expect("output data is JSON")))
        .collect()
}

fn protocol() -> impl Strategy<Value = Protocol> {
    prop_oneof![Just(Protocol::Anthropic), Just(Protocol::Responses)]
}

// ---------------------------------------------------------------------------------------------------------------
// Generated upstream chat streams

#[derive(Debug, Clone)]
enum Step {
    Text(String),
    Call { id: Option<String>, name: String, signature: Option<String>, args: Vec<String> },
}

#[derive(Debug, Clone)]
struct Upstream {
    steps: Vec<Step>,
    with_index: bool,
    finish: Option<&'static str>,
    usage: bool,
    done: bool,
    line_end: &'static str,
}

/// Text with multi-byte characters over-represented.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[a-z \\n\"{}\\\\]{0,12}", "[你好世界😀🇨🇳👩‍💻é]{1,6}"]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        text().prop_map(Step::Text),
        (
            proptest::option::of("[a-zA-Z0-9_-]{1,12}"),
            "[a-z_]{1,10}",
            proptest::option::of("[A-Za-z0-9+/=]{1,40}"),
            proptest::collection::vec(text(), 0..4),
        )
            .prop_map(|(id, name, signature, args)| Step::Call { id, name, signature, args }),
    ]
}

fn upstream() -> impl Strategy<Value = Upstream> {
    (
        proptest::collection::vec(step(), 0..6),
        any::<bool>(),
        proptest::option::of(prop_oneof![Just("stop"), Just("length"), Just("tool_calls"), Just("content_filter")]),
        any::<bool>(),
        any::<bool>(),
        prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
    )
        .prop_map(|(steps, with_index, finish, usage, done, line_end)| Upstream { steps, with_index, finish, usage, done, line_end })
}

impl Upstream {
    /// Calls need distinct ids when they carry no index, or the reader cannot tell them apart; a call without an
    /// id gets one then.
    fn normalized(mut self) -> Upstream {
        for (n, step) in self.steps.iter_mut().enumerate() {
            if let Step::Call { id, .. } = step {
                match id {
                    Some(id) => id.push_str(&format!("-{n}")),
                    None if !self.with_index => *id = Some(format!("gen-{n}")),
                    None => {}
                }
            }
        }
        self
    }

    fn body(&self) -> Vec<u8> {
        let mut out = String::new();
        let mut emit = |value: Value| {
            out.push_str("data: ");
            out.push_str(&value.to_string());
            out.push_str(self.line_end);
            out.push_str(self.line_end);
        };
        let mut index = 0;
        for step in &self.steps {
            match step {
                Step::Text(text) => emit(json!({"choices": [{"index": 0, "delta": {"content": text}}]})),
                Step::Call { id, name, signature, args } => {
                    let mut first = json!({"type": "function", "function": {"name": name, "arguments": ""}});
                    if self.with_index {
                        first["index"] = json!(index);
                    }
                    if let Some(id) = id {
                        first["id"] = json!(id);
                    }
                    if let Some(signature) = signature {
                        first["extra_content"] = json!({"google": {"thought_signature": signature}});
                    }
                    emit(json!({"choices": [{"index": 0, "delta": {"tool_calls": [first]}}]}));
                    for arg in args {
                        let mut piece = json!({"function": {"arguments": arg}});
                        if self.with_index {
                            piece["index"] = json!(index);
                        }
                        emit(json!({"choices": [{"index": 0, "delta": {"tool_calls": [piece]}}]}));
                    }
                    index += 1;
                }
            }
        }
        if let Some(finish) = self.finish {
            emit(json!({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}));
        }
        if self.usage {
            emit(json!({"choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": 7, "total_tokens": 107, "prompt_tokens_details": {"cached_tokens": 60}}}));
        }
        if self.done {
            out.push_str("data: [DONE]");
            out.push_str(self.line_end);
            out.push_str(self.line_end);
        }
        out.into_bytes()
    }

    fn text(&self) -> String {
        self.steps.iter().filter_map(|s| if let Step::Text(t) = s { Some(t.as_str()) } else { None }).collect()
    }

    /// (id, name, signature, arguments) per call; `None` for an id the converter makes up.
    fn calls(&self) -> Vec<(Option<String>, String, Option<String>, String)> {
        self.steps
            .iter()
            .filter_map(|s| match s {
                Step::Call { id, name, signature, args } => Some((id.clone(), name.clone(), signature.clone(), args.concat())),
                Step::Text(_) => None,
            })
            .collect()
    }
}

/// What an Anthropic output says: its text, its tool calls and the names of its last two events.
fn anthropic_summary(out: &[u8]) -> (String, Vec<(String, String, String)>, Vec<String>) {
    let events = events(out);
    let mut text = String::new();
    let mut calls: Vec<(String, String, String)> = Vec::new();
    let mut open: Option<u64> = None;
    let mut next_index = 0;
    for (name, data) in &events {
        assert_eq!(data["type"], json!(name));
        match name.as_str() {
            "content_block_start" => {
                assert_eq!(open, None, "blocks do not overlap");
                assert_eq!(data["index"], json!(next_index), "block indices count up");
                open = data["index"].as_u64();
                next_index += 1;
                if data["content_block"]["type"] == "tool_use" {
                    let id = data["content_block"]["id"].as_str().unwrap_or_default().to_string();
                    let tool = data["content_block"]["name"].as_str().unwrap_or_default().to_string();
                    calls.push((id, tool, String::new()));
                }
            }
            "content_block_delta" => {
                assert_eq!(data["index"].as_u64(), open, "deltas belong to the open block");
                match data["delta"]["type"].as_str() {
                    Some("text_delta") => text.push_str(data["delta"]["text"].as_str().unwrap_or_default()),
                    Some("input_json_delta") => {
                        let partial = data["delta"]["partial_json"].as_str().unwrap_or_default();
                        calls.last_mut().expect("a tool block is open").2.push_str(partial);
                    }
                    other => panic!("unexpected delta {other:?}"),
                }
            }
            "content_block_stop" => {
                assert_eq!(data["index"].as_u64(), open, "the open block stops");
                open = None;
            }
            _ => {}
        }
    }
    let tail = events.iter().rev().take(2).map(|(n, _)| n.clone()).rev().collect();
    (text, calls, tail)
}

/// What a Responses output says: its text, its function calls (call id, name, arguments) and its last event.
fn responses_summary(out: &[u8]) -> (String, Vec<(String, String, String)>, Value) {
    let events = events(out);
    for (n, (name, data)) in events.iter().enumerate() {
        assert_eq!(data["type"], json!(name));
        assert_eq!(data["sequence_number"], json!(n), "sequence numbers count up from 0");
    }
    let mut text = String::new();
    let mut calls = Vec::new();
    for (name, data) in &events {
        match name.as_str() {
            "response.output_text.delta" => text.push_str(data["delta"].as_str().unwrap_or_default()),
            "response.output_item.done" if data["item"]["type"] == "function_call" => {
                let item = &data["item"];
                let field = |k: &str| item[k].as_str().unwrap_or_default().to_string();
                calls.push((field("call_id"), field("name"), field("arguments")));
            }
            _ => {}
        }
    }
    let last = events.last().map(|(_, d)| d.clone()).unwrap_or(Value::Null);
    (text, calls, last)
}

proptest! {
    #[test]
    fn fixture_streams_convert_the_same_however_they_are_chunked(
        fixture in 0..FIXTURES.len(),
        protocol in protocol(),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..40),
    ) {
        let body = FIXTURES[fixture].as_bytes();
        let whole = run(protocol, body, &[]);
        prop_assert_eq!(run(protocol, body, &cuts_for(body.len(), raw_cuts)), whole);
    }

    #[test]
    fn generated_streams_keep_their_text_and_tool_arguments_exactly(
        upstream in upstream(),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..20),
    ) {
        let upstream = upstream.normalized();
        let body = upstream.body();
        let cuts = cuts_for(body.len(), raw_cuts);
        let expected_calls = upstream.calls();
        let started = !upstream.steps.is_empty() || upstream.finish.is_some() || upstream.usage;

        let out = run(Protocol::Anthropic, &body, &cuts);
        prop_assert_eq!(&out, &run(Protocol::Anthropic, &body, &[]));
        let (text, calls, tail) = anthropic_summary(&out);
        prop_assert_eq!(text, upstream.text());
        prop_assert_eq!(calls.len(), expected_calls.len());
        for (n, ((wire_id, name, args), (id, expected_name, signature, expected_args))) in calls.iter().zip(&expected_calls).enumerate() {
            let (decoded, decoded_signature) = decode_call_id(wire_id);
            prop_assert_eq!(decoded, id.clone().unwrap_or_else(|| format!("toolu_p1_{n}")));
            prop_assert_eq!(&decoded_signature, signature);
            prop_assert_eq!(name, expected_name);
            prop_assert_eq!(args, expected_args);
        }
        if started || upstream.done {
            prop_assert_eq!(tail, vec!["message_delta".to_string(), "message_stop".to_string()]);
        } else {
            prop_assert_eq!(tail, vec!["error".to_string()]);
        }

        let out = run(Protocol::Responses, &body, &cuts);
        prop_assert_eq!(&out, &run(Protocol::Responses, &body, &[]));
        let (text, calls, last) = responses_summary(&out);
        prop_assert_eq!(text, upstream.text());
        prop_assert_eq!(calls.len(), expected_calls.len());
        for (n, ((wire_id, name, args), (id, expected_name, signature, expected_args))) in calls.iter().zip(&expected_calls).enumerate() {
            let (decoded, decoded_signature) = decode_call_id(wire_id);
            prop_assert_eq!(decoded, id.clone().unwrap_or_else(|| format!("call_p1_{n}")));
            prop_assert_eq!(&decoded_signature, signature);
            prop_assert_eq!(name, expected_name);
            prop_assert_eq!(args, expected_args);
        }
        let expected_last = match (started || upstream.done, upstream.finish) {
            (false, _) => "response.failed",
            (true, Some("length" | "content_filter")) => "response.incomplete",
            (true, _) => "response.completed",
        };
        prop_assert_eq!(&last["type"], &json!(expected_last));
        if expected_last != "response.failed" {
            let items = last["response"]["output"].as_array().map_or(0, Vec::len);
            let has_text = !upstream.text().is_empty();
            prop_assert!(items >= expected_calls.len() + usize::from(has_text), "the final object lists every item");
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_always_end_the_stream(
        body in proptest::collection::vec(any::<u8>(), 0..400),
        protocol in protocol(),
    ) {
        let out = run(protocol, &body, &[]);
        let events = events(&out);
        let last = events.last().map(|(name, _)| name.as_str()).unwrap_or_default();
        let terminal: &[&str] = match protocol {
            Protocol::Anthropic => &["message_stop", "error"],
            Protocol::Responses => &["response.completed", "response.incomplete", "response.failed"],
        };
        prop_assert!(terminal.contains(&last), "ends with {last:?}");
        let terminals = events.iter().filter(|(name, _)| terminal.contains(&name.as_str())).count();
        prop_assert_eq!(terminals, 1, "exactly one terminal event");
    }

    #[test]
    fn sse_events_round_trip_through_the_writer_and_any_chunking(
        items in proptest::collection::vec((proptest::option::of("[a-z_.]{1,20}"), text()), 0..8),
        line_end in prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..30),
    ) {
        let mut written = Vec::new();
        for (event, data) in &items {
            write_event(&mut written, event.as_deref(), data);
        }
        let written = String::from_utf8(written).expect("utf-8").replace('\n', line_end).into_bytes();
        let mut parser = SseParser::new();
        let mut parsed = Vec::new();
        let mut from = 0;
        for cut in cuts_for(written.len(), raw_cuts) {
            parsed.extend(parser.push(&written[from..cut]).expect("bounded"));
            from = cut;
        }
        parsed.extend(parser.push(&written[from..]).expect("bounded"));
        parsed.extend(parser.finish());
        let expected: Vec<SseEvent> = items
            .iter()
            .map(|(event, data)| SseEvent { event: event.clone(), data: data.replace("\r\n", "\n").replace('\r', "\n") })
            .collect();
        prop_assert_eq!(parsed, expected);
    }

    #[test]
    fn thought_signatures_round_trip_through_call_ids(id in "[^\\x00]{0,40}", signature in any::<String>()) {
        let wire = encode_call_id(&id, Some(&signature));
        prop_assert!(wire.starts_with(PREFIX));
        prop_assert!(wire.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
        prop_assert_eq!(decode_call_id(&wire), (id, Some(signature)));
    }

    #[test]
    fn ids_without_the_prefix_pass_unchanged(id in any::<String>()) {
        prop_assume!(!id.starts_with(PREFIX));
        prop_assert_eq!(decode_call_id(&id), (id.clone(), None));
        prop_assert_eq!(encode_call_id(&id, None), id);
    }

    #[test]
    fn arbitrary_json_requests_and_answers_never_panic(value in json_value()) {
        let body = value.to_string();
        let upstream = UpstreamChat { model: "m", max_tokens_field: MaxTokensField::MaxTokens, send_user: true, thought_signatures: true };
        let options = ResponsesOptions { other_tools: OtherTools::Omit };
        let _ = anthropic::request_to_chat(body.as_bytes(), &upstream);
        let _ = anthropic::count_tokens(body.as_bytes());
        let _ = anthropic::response_from_chat(body.as_bytes(), &reply());
        let _ = responses::request_to_chat(body.as_bytes(), &upstream, &options);
        let _ = responses::response_from_chat(body.as_bytes(), &reply());
        let _ = anthropic::upstream_error_body(500, body.as_bytes());
        let _ = responses::upstream_error_body(500, body.as_bytes());
    }
}

/// JSON values shaped like the requests and answers, with the keys the converters read over-represented.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("model".to_string()),
        Just("messages".to_string()),
        Just("input".to_string()),
        Just("content".to_string()),
        Just("role".to_string()),
        Just("type".to_string()),
        Just("text".to_string()),
        Just("tools".to_string()),
        Just("choices".to_string()),
        Just("message".to_string()),
        Just("tool_calls".to_string()),
        Just("source".to_string()),
        Just("error".to_string()),
        "[a-z_]{1,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop_oneof![
            Just("user".to_string()),
            Just("assistant".to_string()),
            Just("text".to_string()),
            Just("tool_use".to_string()),
            Just("tool_result".to_string()),
            Just("image".to_string()),
            Just("function_call".to_string()),
            Just("message".to_string()),
            any::<String>(),
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(key.clone(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
