//! Host micro-benchmarks of the pure parts of the hot path (`cargo bench --bench pure`).
//!
//! Built with the `bench` profile, which inherits `release` (opt-level "s", LTO), the same settings as the wasm.
//! Figures are host nanoseconds: wasm in V8 runs the same code some 1.5–3× slower, so read them as relative costs.
//! `scripts/bench` runs this and copies the medians into bench/results.md.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use one_balance::affinity::{session_of, SessionSource};
use one_balance::config::SessionAffinity;
use one_balance::convert::responses::{OtherTools, ResponsesOptions};
use one_balance::convert::{anthropic, responses, MaxTokensField, Reply, UpstreamChat};
use one_balance::cooldown::{self, CoolInput, ModelCooling};
use one_balance::protocols::{AnswerConverter, ClientApi, Conversion};
use one_balance::hints::CoolHint;
use one_balance::pool::{parse_model_coolings, pick, pick_for_session, KeyPool, Pick, PoolKey, Secret};
use one_balance::providers::{find, DailyReset};
use one_balance::redact::redact;
use one_balance::service_keys::ServiceKeys;
use one_balance::verdict::{self, QuotaWindow, Verdict};

const MODEL: &str = "gemini-2.5-flash";
const NOW_S: u64 = 1_764_000_000;

/// `n` keys; key `i` cools for MODEL when `cooling(i)`.
fn pool(n: usize, cooling: impl Fn(usize) -> bool) -> KeyPool {
    KeyPool::new(
        (0..n)
            .map(|i| PoolKey {
                id: format!("{i:08x}-0000-4000-8000-{i:012x}"),
                secret: Secret::new(format!("AIzaSyBench{i:028}")),
                coolings: if cooling(i) {
                    vec![(MODEL.to_string(), ModelCooling { end_at_s: NOW_S + 3_600, total_seconds: 60, streak: 0, at_ms: 0 })]
                } else {
                    Vec::new()
                },
            })
            .collect(),
    )
}

fn selection(c: &mut Criterion) {
    let mut group = c.benchmark_group("select");
    for (name, n, cooling) in [
        ("10 keys, none cooling", 10, 0),
        ("1,000 keys, none cooling", 1_000, 0),
        ("100,000 keys, none cooling", 100_000, 0),
        ("100,000 keys, half cooling", 100_000, 2),
        ("100,000 keys, 99 % cooling", 100_000, 100),
        ("100,000 keys, 99.9 % cooling", 100_000, 1_000),
    ] {
        let pool = match cooling {
            0 => pool(n, |_| false),
            2 => pool(n, |i| i % 2 == 0),
            // 99 % (99.9 %): every key but one in a hundred (a thousand) cools
            every => pool(n, move |i| i % every != 0),
        };
        let mut rng = fastrand::Rng::with_seed(7);
        group.bench_function(name, |b| b.iter(|| black_box(pick(&pool, Some(MODEL), &[], NOW_S, &mut rng))));
    }
    // A request on its third attempt (two keys already tried) in a half-cooling pool.
    let half = pool(100_000, |i| i % 2 == 0);
    let mut rng = fastrand::Rng::with_seed(9);
    group.bench_function("100,000 keys, half cooling, 2 tried", |b| {
        b.iter(|| black_box(pick(&half, Some(MODEL), &[1, 3], NOW_S, &mut rng)))
    });
    group.finish();

    // Sanity: the picks are usable keys (a bench that measured a broken pick would be worthless).
    let mut rng = fastrand::Rng::with_seed(1);
    match pick(&half, Some(MODEL), &[], NOW_S, &mut rng) {
        Some(Pick::Ready(i)) => assert_eq!(i % 2, 1),
        other => panic!("unexpected pick {other:?}"),
    }
}

/// A Gemini 429 body of about 100 KB: the real per-minute error with a long list of quota violations.
fn large_gemini_error() -> Vec<u8> {
    let violation = r#"{"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_input_token_count","quotaId":"GenerateContentInputTokensPerModelPerMinute-FreeTier","quotaDimensions":{"location":"global","model":"gemini-2.5-flash"},"quotaValue":"250000"}"#;
    let violations = vec![violation; 400].join(",");
    let body = format!(
        r#"{{"error":{{"code":429,"message":"You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.\n* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 10\nPlease retry in 37.520369288s.","status":"RESOURCE_EXHAUSTED","details":[{{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{violations}]}},{{"@type":"type.googleapis.com/google.rpc.Help","links":[{{"description":"Learn more about Gemini API quotas","url":"https://ai.google.dev/gemini-api/docs/rate-limits"}}]}},{{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"37s"}}]}}}}"#
    );
    body.into_bytes()
}

fn classification(c: &mut Criterion) {
    let large = large_gemini_error();
    let small = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/gemini/429-retry-info.json")).expect("fixture");
    let headers: [(&str, &str); 1] = [("content-type", "application/json")];
    let mut group = c.benchmark_group("verdict");
    let label = format!("classify Gemini 429, {} KB body", large.len() / 1024);
    let gemini = find("google-ai-studio").expect("listed");
    assert!(matches!(verdict::classify(gemini, 429, &headers[..], &large, NOW_S), Verdict::RateLimited(_)));
    group.bench_function(&label, |b| b.iter(|| black_box(verdict::classify(gemini, 429, &headers[..], black_box(&large), NOW_S))));
    group.bench_function("classify Gemini 429, fixture body", |b| {
        b.iter(|| black_box(verdict::classify(gemini, 429, &headers[..], black_box(&small), NOW_S)))
    });
    group.bench_function("classify 200", |b| b.iter(|| black_box(verdict::classify(gemini, 200, &headers[..], &[], NOW_S))));
    // Redaction runs on every error body replayed to a client; the common case finds nothing and borrows.
    let key = "AIzaSyBench0000000000000000000000000042";
    assert!(matches!(redact(&small, key), std::borrow::Cow::Borrowed(_)));
    group.bench_function("redact Gemini 429, fixture body, no echo", |b| b.iter(|| black_box(redact(black_box(&small), key).len())));
    group.bench_function(format!("redact Gemini 429, {} KB body, no echo", large.len() / 1024), |b| {
        b.iter(|| black_box(redact(black_box(&large), key).len()))
    });
    group.finish();
}

fn auth_key_with(definitions: usize) -> String {
    (0..definitions)
        .map(|i| match i % 3 {
            0 => format!("sk-service-{i:04}-0123456789abcdef"),
            1 => format!("sk-service-{i:04}-0123456789abcdef(4102444800)=google-ai-studio,gemini-2.5-flash,gemini-2.5-pro&openai"),
            _ => format!("sk-service-{i:04}-0123456789abcdef=openrouter"),
        })
        .collect::<Vec<_>>()
        .join(";")
}

fn authentication(c: &mut Criterion) {
    let raw = auth_key_with(50);
    let keys = ServiceKeys::parse(&raw).expect("valid AUTH_KEY");
    let last = "sk-service-0049-0123456789abcdef";
    assert!(keys.authenticate(last, NOW_S).is_ok());
    let mut group = c.benchmark_group("service_keys");
    group.bench_function("parse AUTH_KEY, 50 definitions", |b| b.iter(|| black_box(ServiceKeys::parse(black_box(&raw)))));
    group.bench_function("authenticate among 50 (a known key)", |b| {
        b.iter(|| black_box(keys.authenticate(black_box(last), NOW_S).map(|g| g.permits("google-ai-studio", Some(MODEL)))))
    });
    group.bench_function("authenticate among 50 (an unknown key)", |b| {
        b.iter(|| black_box(keys.authenticate(black_box("sk-nobody-0123456789abcdef"), NOW_S).is_err()))
    });
    group.finish();
}

fn cooldown_math(c: &mut Criterion) {
    let previous = ModelCooling { end_at_s: NOW_S - 10, total_seconds: 300, streak: 1, at_ms: (NOW_S - 75) * 1_000 };
    let mut group = c.benchmark_group("cooldown");
    group.bench_function("next Pacific midnight", |b| b.iter(|| black_box(cooldown::next_pacific_midnight_s(black_box(NOW_S)))));
    group.bench_function("hint_until_s (RetryInfo seconds)", |b| {
        b.iter(|| black_box(cooldown::hint_until_s(CoolHint::Seconds(39), DailyReset::PacificMidnight, black_box(NOW_S))))
    });
    group.bench_function("after_rate_limit (streak reaches threshold)", |b| {
        b.iter(|| {
            let input = CoolInput {
                until_s: NOW_S + 39,
                daily_reset_s: cooldown::daily_reset_s(DailyReset::PacificMidnight, NOW_S),
                window: QuotaWindow::Unknown,
                sent_at_ms: NOW_S * 1_000 - 800,
                cooling_at_send: false,
                overlapped: false,
                now_ms: NOW_S * 1_000,
            };
            black_box(cooldown::after_rate_limit(black_box(previous), &input, 2))
        })
    });
    group.finish();
}

fn pool_load(c: &mut Criterion) {
    // What a cache reload costs in Rust once D1's rows are in wasm: parse each row's model_coolings, build the pool.
    let text = r#"{"gemini-2.5-flash":{"end_at":1764003600,"total_seconds":60,"streak":1},"gemini-2.5-pro":{"end_at":1764000000.75,"total_seconds":65}}"#;
    let mut group = c.benchmark_group("pool_load");
    group.bench_function("parse_model_coolings, 2 models", |b| b.iter(|| black_box(parse_model_coolings(Some(black_box(text))))));
    group.sample_size(10);
    group.bench_function("build a 100,000-key pool (half with a cooling entry)", |b| {
        b.iter_batched(
            || {
                (0..100_000usize)
                    .map(|i| (format!("{i:08x}-0000-4000-8000-{i:012x}"), format!("AIzaSyBench{i:028}"), (i % 2 == 0).then_some(text)))
                    .collect::<Vec<_>>()
            },
            |rows| {
                KeyPool::new(
                    rows.into_iter()
                        .map(|(id, key, coolings)| PoolKey { coolings: parse_model_coolings(coolings), id, secret: Secret::new(key) })
                        .collect(),
                )
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// A coding agent's later turn: a long system prompt, a first message, then `turns` exchanges with tool output.
fn agent_body(turns: usize) -> Vec<u8> {
    let system = "You are a coding agent. Follow the repository's conventions. ".repeat(120);
    let mut messages = vec![serde_json::json!({"role": "user", "content": "Fix the failing test in src/lib.rs."})];
    for turn in 0..turns {
        messages.push(serde_json::json!({"role": "assistant", "content": format!("Running the tests ({turn}).")}));
        messages.push(serde_json::json!({"role": "user", "content": "test result: FAILED. ".repeat(60)}));
    }
    serde_json::to_vec(&serde_json::json!({"model": "claude-sonnet-4-5", "max_tokens": 8192, "system": system, "messages": messages}))
        .expect("a JSON value serialises")
}

fn session_affinity(c: &mut Criterion) {
    // What sticky keys cost a request: naming its session (a header, or one pass over the body for a fingerprint),
    // building a pool's session table (once per pool), and the session's pick next to a random one.
    let body = agent_body(40);
    let no_headers: [(&str, &str); 0] = [];
    let claude_code = [("x-claude-code-session-id", "5f0c9a0e-2b7d-4c51-9d7e-0b1f8f1c2a33")];
    let mut group = c.benchmark_group("affinity");
    group.bench_function("session from Claude Code's header", |b| {
        b.iter(|| black_box(session_of(SessionAffinity::On, &claude_code[..], black_box(&body))))
    });
    group.bench_function(format!("fingerprint of a {} KB agent body", body.len() / 1024), |b| {
        b.iter(|| black_box(session_of(SessionAffinity::On, &no_headers[..], black_box(&body))))
    });
    for n in [1_024usize, 20_000] {
        group.bench_function(format!("session table of {n} keys (once per pool)"), |b| {
            b.iter_batched_ref(|| pool(n, |_| false), |fresh| black_box(fresh.session_slot(7)), BatchSize::LargeInput)
        });
    }
    for (name, n, cooling) in [
        ("10 keys, none cooling", 10, false),
        ("1,024 keys, none cooling", 1_024, false),
        ("100,000 keys, none cooling", 100_000, false),
        ("100,000 keys, half cooling", 100_000, true),
    ] {
        let keys = pool(n, |i| cooling && i % 2 == 0);
        keys.session_slot(0); // the table is built once per pool, not on every pick
        let mut session = 0u64;
        group.bench_function(format!("session pick, {name}"), |b| {
            b.iter(|| {
                session = session.wrapping_add(0x9e37_79b9_7f4a_7c15);
                black_box(pick_for_session(&keys, Some(MODEL), &[], NOW_S, session))
            })
        });
        let mut rng = fastrand::Rng::with_seed(11);
        group.bench_function(format!("random pick, {name}"), |b| b.iter(|| black_box(pick(&keys, Some(MODEL), &[], NOW_S, &mut rng))));
    }
    group.finish();

    // Sanity: the body is fingerprinted (not named by a field), and a session's pick is a usable key.
    assert_eq!(session_of(SessionAffinity::On, &no_headers[..], &body).map(|s| s.source), Some(SessionSource::Fingerprint));
    let half = pool(1_000, |i| i % 2 == 0);
    let (index, _) = pick_for_session(&half, Some(MODEL), &[], NOW_S, 42).expect("a usable key");
    assert_eq!(index % 2, 1);
}


/// A streamed chat answer of `events` upstream events as Gemini's OpenAI endpoint sends them: a few words each (some
/// Chinese and emoji), then a tool call, the finish reason with usage, and `[DONE]`; one network chunk per event.
fn streamed_answer(events: usize) -> Vec<Vec<u8>> {
    let words = ["The parser ", "drops the ", "\\r before ", "\\n, so ", "CRLF streams ", "修好了 ", "✅ ", "split early. "];
    let mut chunks: Vec<Vec<u8>> = (0..events)
        .map(|i| {
            format!(
                "data: {{\"choices\":[{{\"delta\":{{\"content\":\"{}\",\"role\":\"assistant\"}},\"index\":0}}],\"created\":1759222700,\"id\":\"rLXbaJ2rKsWz7M8PqdWQ4Ao\",\"model\":\"gemini-2.5-pro\",\"object\":\"chat.completion.chunk\",\"usage\":{{\"completion_tokens\":{i},\"prompt_tokens\":4210,\"total_tokens\":{}}}}}\n\n",
                words[i % words.len()],
                4210 + i
            )
            .into_bytes()
        })
        .collect();
    chunks.push(br#"data: {"choices":[{"delta":{"role":"assistant","tool_calls":[{"extra_content":{"google":{"thought_signature":"CtYBAdHtim9tM1pQ+Zz2Yt7Nw=="}},"function":{"arguments":"{\"file_path\":\"src/convert/sse.rs\"}","name":"Read"},"id":"function-call-13862241","type":"function"}]},"index":0,"finish_reason":"stop"}],"model":"gemini-2.5-pro","object":"chat.completion.chunk","usage":{"completion_tokens":361,"prompt_tokens":4210,"total_tokens":4571}}

"#.to_vec());
    chunks.push(b"data: [DONE]\n\n".to_vec());
    chunks
}

fn conversion(c: &mut Criterion) {
    let claude_code = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/clients/claude-code-2.1.332-tool-turn.json")).expect("fixture");
    let codex = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/clients/codex-0.171.0-tool-turn.json")).expect("fixture");
    let gemini = UpstreamChat { model: "gemini-2.5-pro", max_tokens_field: MaxTokensField::MaxTokens, send_user: false, thought_signatures: true };
    let omit = ResponsesOptions { other_tools: OtherTools::Omit };
    let converted = anthropic::request_to_chat(&claude_code, &gemini).expect("converts");
    let tools = serde_json::from_slice::<serde_json::Value>(&claude_code).expect("json")["tools"].as_array().map_or(0, Vec::len);
    assert!(responses::request_to_chat(&codex, &gemini, &omit).is_ok());
    let mut group = c.benchmark_group("convert");
    group.bench_function(format!("Claude Code request → chat ({} KB, {tools} tools; {} KB out)", claude_code.len() / 1024, converted.body.len() / 1024), |b| {
        b.iter(|| black_box(anthropic::request_to_chat(black_box(&claude_code), &gemini).map(|r| r.body.len())))
    });
    group.bench_function(format!("Codex request → chat ({} KB, hosted tools left out)", codex.len() / 1024), |b| {
        b.iter(|| black_box(responses::request_to_chat(black_box(&codex), &gemini, &omit).map(|r| r.body.len())))
    });
    let answer = streamed_answer(300);
    let upstream_bytes: usize = answer.iter().map(Vec::len).sum();
    let reply = Reply { model: "claude-sonnet-4-5".into(), id: "0123456789abcdef01234567".into(), created_s: NOW_S };
    for (api, name) in [(ClientApi::Messages, "Messages"), (ClientApi::Responses, "Responses")] {
        let conversion = Conversion { api, stream: true, client_model: "claude-sonnet-4-5".into() };
        let run = || {
            let mut converter = AnswerConverter::new(&conversion, reply.clone());
            let mut out = 0;
            // One chunk a millisecond: written in bursts, as the Worker does.
            for (ms, chunk) in (0..).zip(&answer) {
                out += converter.push(chunk, ms).len();
            }
            out + converter.finish().len()
        };
        let out_bytes = run();
        group.bench_function(format!("streamed answer → {name} SSE (302 events, {} KB in, {} KB out)", upstream_bytes / 1024, out_bytes / 1024), |b| {
            b.iter(|| black_box(run()))
        });
    }
    let completion = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/convert/chat-completion-tool-calls.json")).expect("fixture");
    group.bench_function("whole chat completion → Message (tool calls)", |b| {
        b.iter(|| black_box(anthropic::response_from_chat(black_box(&completion), &reply).map(|m| m.len())))
    });
    group.finish();
}

criterion_group!(benches, selection, classification, authentication, cooldown_math, pool_load, session_affinity, conversion);
criterion_main!(benches);
