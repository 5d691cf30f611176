// Anthropic's Messages API on every pool, driven by the official `@anthropic-ai/sdk` and by raw HTTP with the body
// Claude Code 2.1.332 really sends: converted to Gemini's OpenAI-compatible chat (plain and streamed, tool use with
// Gemini thought signatures, Chinese and emoji cut inside characters, chunk by chunk), a 429 on the first key the
// client never sees, upstream and Worker errors in Anthropic's error shape, the model aliases of MODEL_ALIASES and
// the service key's model rules on the converted request, count_tokens, and Anthropic itself passed through byte
// for byte under /api/compat.
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { startWorker } from "../harness/worker.mjs";
import { deferred, startMock } from "../harness/mock-upstream.mjs";
import { chat, gemini } from "../harness/providers.mjs";
import { ROOT, withTimeout } from "../harness/project.mjs";
import { attemptsOf, nowS, seedKeys, timedFetch } from "./support/pool.mjs";

const ADMIN_KEY = "ob-e2e-messages-admin-5e1f0a9c27d3";
const APP_KEY = "ob-e2e-messages-app-83b6d2c40f17";
const AUTH_KEY = `${ADMIN_KEY};${APP_KEY}=google-ai-studio,gemini-2.5-flash`;
const MODEL_ALIASES = "claude-haiku-*=google-ai-studio/gemini-2.5-flash, claude-*=google-ai-studio/gemini-2.5-pro";
const GEMINI_CHAT = "/google-ai-studio/v1beta/openai/chat/completions";
const SIGNATURE = "CiQB0e2Kb3/+Zm9vYmFyLXNpZ25hdHVyZS1ieXRlcw==" + "Q".repeat(120);
const CLAUDE_CODE = JSON.parse(readFileSync(join(ROOT, "tests/fixtures/clients/claude-code-2.1.332-tool-turn.json"), "utf8"));
const CLAUDE_CODE_HEADERS = {
  "content-type": "application/json",
  accept: "application/json",
  "anthropic-version": "2023-06-01",
  "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14,per-turn-control-2026-07-01,advanced-tool-use-2025-11-20",
  "user-agent": "claude-cli/2.1.332 (external, sdk-cli)",
  "x-app": "cli",
};

/** The SSE events of a body: `[{ event, data }]` with `data` parsed. */
function sseEvents(text) {
  return text
    .split(/\r?\n\r?\n/)
    .filter((block) => block.trim() !== "")
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = block
        .split(/\r?\n/)
        .filter((line) => line.startsWith("data: "))
        .map((line) => line.slice(6))
        .join("\n");
      return { event, data: JSON.parse(data) };
    });
}

/** Index just after the first byte of `char`'s UTF-8 encoding inside `bytes` (a cut inside the character). */
function cutInside(bytes, char) {
  const at = bytes.indexOf(Buffer.from(char, "utf8"));
  assert.ok(at > 0, `${char} is in the stream`);
  return at + 1;
}

describe("Anthropic Messages on every pool", { timeout: 120_000 }, () => {
  let mock;
  let worker;
  let pools;
  let client;
  let app;

  const makeClient = (apiKey, path = "/api/compat") => new Anthropic({ apiKey, baseURL: `${worker.url}${path}`, maxRetries: 0, timeout: 15_000 });
  const geminiKeyOf = (req) => pools.gemini.find((k) => req.headers.authorization === `Bearer ${k.key}`);

  before(async () => {
    mock = await startMock();
    worker = await startWorker({ vars: { AUTH_KEY, MODEL_ALIASES, KEY_CACHE_TTL_SECONDS: "0" }, mock });
    pools = {
      gemini: await seedKeys(worker, "google-ai-studio", 2),
      anthropic: await seedKeys(worker, "anthropic", 1),
    };
    client = makeClient(ADMIN_KEY);
    app = makeClient(APP_KEY);
  });
  after(async () => {
    await worker?.stop();
    await mock?.close();
  });
  beforeEach(() => mock.reset());

  /** Every upstream request carried a pool key and never the service key. */
  function assertOnlyPoolKeys() {
    for (const req of mock.requests) {
      const raw = JSON.stringify(req.headers) + req.text();
      assert.ok(!raw.includes(ADMIN_KEY) && !raw.includes(APP_KEY), `the service key reached ${req.path}`);
      assert.ok(geminiKeyOf(req) || pools.anthropic.some((k) => req.headers["x-api-key"] === k.key), `a pool key on ${req.path}`);
    }
  }

  test("messages.create on a Gemini pool: converted to chat with the pool key as Bearer, answered as a Message", async () => {
    mock.on({ method: "POST", path: GEMINI_CHAT }, chat.completion({ content: "Hallo 👋 from Gemini", usage: { prompt_tokens: 11, completion_tokens: 5 } }));
    const { data: message, response } = await client.messages
      .create({ model: "google-ai-studio/gemini-2.5-flash", max_tokens: 256, system: "Be brief.", messages: [{ role: "user", content: "hi" }] })
      .withResponse();
    assert.equal(message.type, "message");
    assert.equal(message.model, "google-ai-studio/gemini-2.5-flash", "the client's model is echoed");
    assert.deepEqual(message.content, [{ type: "text", text: "Hallo 👋 from Gemini" }]);
    assert.equal(message.stop_reason, "end_turn");
    assert.equal(message.usage.input_tokens, 11);
    assert.equal(message.usage.output_tokens, 5);
    assert.match(message.id, /^msg_[0-9a-f]{24}$/);
    assert.equal(response.headers.get("content-type"), "application/json");
    assert.deepEqual(attemptsOf(response).map((a) => a.verdict), ["ok"]);

    assert.equal(mock.requests.length, 1);
    const up = mock.requests[0];
    assert.equal(up.path, GEMINI_CHAT);
    assert.deepEqual(up.json(), {
      model: "gemini-2.5-flash",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "hi" },
      ],
      max_tokens: 256,
    });
    assert.equal(up.headers["content-type"], "application/json");
    assert.equal(up.headers["anthropic-version"], undefined, "the client's protocol headers stay behind");
    assert.equal(up.headers["x-api-key"], undefined);
    assertOnlyPoolKeys();
  });

  test("messages.stream arrives event by event while the upstream holds the rest", async () => {
    const reply = chat.stream({ texts: ["Pooled", " keys", " stream."] });
    const gate = deferred();
    reply.chunks[1].after = gate.promise;
    mock.on({ method: "POST", path: GEMINI_CHAT }, reply);
    try {
      const stream = client.messages.stream({ model: "google-ai-studio/gemini-2.5-flash", max_tokens: 64, messages: [{ role: "user", content: "stream" }] });
      const it = stream[Symbol.asyncIterator]();
      const seen = [];
      while (!seen.includes("content_block_delta")) {
        const next = await withTimeout(it.next(), 10_000, "the first delta while the upstream holds the rest");
        assert.ok(!next.done);
        seen.push(next.value.type);
      }
      assert.deepEqual(seen, ["message_start", "content_block_start", "content_block_delta"]);
      gate.resolve();
      for (;;) {
        const next = await withTimeout(it.next(), 10_000, "the rest of the stream");
        if (next.done) break;
        seen.push(next.value.type);
      }
      assert.deepEqual(seen.slice(-3), ["content_block_stop", "message_delta", "message_stop"]);
      const final = await stream.finalMessage();
      assert.equal(final.content[0].text, "Pooled keys stream.");
      assert.equal(final.stop_reason, "end_turn");
      assert.equal(final.usage.output_tokens, 7);
    } finally {
      gate.resolve();
    }
    const up = mock.requests[0].json();
    assert.equal(up.stream, true);
    assert.deepEqual(up.stream_options, { include_usage: true });
  });

  test("events the Worker holds to write a burst at once still reach the client while the upstream holds the rest", async () => {
    // The first event is written at once; the second, right behind it, waits out the write spacing (10 ms) and must
    // then go out by itself, not with whatever the upstream sends next.
    const reply = chat.stream({ texts: ["One", " two", " three"] });
    const gate = deferred();
    reply.chunks[2].after = gate.promise;
    mock.on({ method: "POST", path: GEMINI_CHAT }, reply);
    try {
      const stream = client.messages.stream({ model: "google-ai-studio/gemini-2.5-flash", max_tokens: 64, messages: [{ role: "user", content: "burst" }] });
      const it = stream[Symbol.asyncIterator]();
      const texts = [];
      while (texts.length < 2) {
        const next = await withTimeout(it.next(), 10_000, "both deltas of the burst while the upstream holds the rest");
        assert.ok(!next.done);
        if (next.value.type === "content_block_delta") texts.push(next.value.delta.text);
      }
      assert.deepEqual(texts, ["One", " two"]);
      gate.resolve();
      for (;;) {
        const next = await withTimeout(it.next(), 10_000, "the rest of the stream");
        if (next.done) break;
      }
      assert.equal((await stream.finalMessage()).content[0].text, "One two three");
    } finally {
      gate.resolve();
    }
  });

  test("a tool-use round trip: tool_use out (Gemini's thought signature kept in the id), tool_result back", async () => {
    const tools = [{ name: "get_weather", description: "Weather for a city", input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } }];
    mock.queue(
      chat.completion({ content: "", toolCalls: [{ id: "function-call-7", name: "get_weather", args: { city: "Zürich" }, signature: SIGNATURE }] }),
      chat.completion({ content: "It is 21 °C in Zürich." }),
    );
    const messages = [{ role: "user", content: "Weather in Zürich? 🌦" }];
    const first = await client.messages.create({ model: "google-ai-studio/gemini-2.5-flash", max_tokens: 512, tools, messages });
    assert.equal(first.stop_reason, "tool_use");
    const use = first.content.find((b) => b.type === "tool_use");
    assert.equal(use.name, "get_weather");
    assert.deepEqual(use.input, { city: "Zürich" });
    messages.push({ role: "assistant", content: first.content }, { role: "user", content: [{ type: "tool_result", tool_use_id: use.id, content: "21 °C" }] });
    const second = await client.messages.create({ model: "google-ai-studio/gemini-2.5-flash", max_tokens: 512, tools, messages });
    assert.equal(second.content[0].text, "It is 21 °C in Zürich.");

    const [one, two] = mock.requests.map((r) => r.json());
    assert.deepEqual(one.tools, [
      { type: "function", function: { name: "get_weather", description: "Weather for a city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } },
    ]);
    const call = two.messages.find((m) => m.role === "assistant").tool_calls[0];
    assert.equal(call.id, "function-call-7", "the upstream gets its own call id back");
    assert.deepEqual(call.extra_content, { google: { thought_signature: SIGNATURE } }, "and Gemini its thought signature");
    assert.deepEqual(JSON.parse(call.function.arguments), { city: "Zürich" });
    assert.deepEqual(two.messages.at(-1), { role: "tool", content: "21 °C", tool_call_id: "function-call-7" });
  });

  test("a streamed tool call comes out as tool_use with its input", async () => {
    mock.on({ method: "POST", path: GEMINI_CHAT }, chat.stream({ texts: ["Let me look."], toolCalls: [{ id: "function-call-9", name: "Read", args: { file_path: "/src/main.rs" }, signature: SIGNATURE }] }));
    const stream = client.messages.stream({
      model: "google-ai-studio/gemini-2.5-flash",
      max_tokens: 512,
      tools: [{ name: "Read", input_schema: { type: "object", properties: { file_path: { type: "string" } } } }],
      messages: [{ role: "user", content: "read main" }],
    });
    const final = await withTimeout(stream.finalMessage(), 10_000, "the final message");
    assert.equal(final.stop_reason, "tool_use");
    assert.equal(final.content[0].text, "Let me look.");
    assert.equal(final.content[1].type, "tool_use");
    assert.equal(final.content[1].name, "Read");
    assert.deepEqual(final.content[1].input, { file_path: "/src/main.rs" });
  });

  test("Chinese and emoji cut inside their characters arrive whole, chunk by chunk", async () => {
    const bytes = Buffer.from(chat.events({ texts: ["你好，", "世界 ", "👋🏽 ", "✨"] }).join(""), "utf8");
    const cut1 = cutInside(bytes, "世");
    const cut2 = cutInside(bytes, "👋");
    const gate1 = deferred();
    const gate2 = deferred();
    mock.on({ method: "POST", path: GEMINI_CHAT }, {
      status: 200,
      headers: { "content-type": "text/event-stream" },
      chunks: [bytes.subarray(0, cut1), { data: bytes.subarray(cut1, cut2), after: gate1.promise }, { data: bytes.subarray(cut2), after: gate2.promise }],
    });
    try {
      const stream = client.messages.stream({ model: "google-ai-studio/gemini-2.5-flash", max_tokens: 64, messages: [{ role: "user", content: "你好" }] });
      const texts = [];
      const it = stream[Symbol.asyncIterator]();
      const nextText = async (what) => {
        for (;;) {
          const next = await withTimeout(it.next(), 10_000, what);
          if (next.done) return undefined;
          if (next.value.type === "content_block_delta") return texts.push(next.value.delta.text);
        }
      };
      await nextText("the first text while the rest is held back");
      assert.deepEqual(texts, ["你好，"]);
      gate1.resolve();
      await nextText("the second text after the first gate");
      assert.deepEqual(texts, ["你好，", "世界 "]);
      gate2.resolve();
      while ((await nextText("the end")) !== undefined);
      assert.equal(texts.join(""), "你好，世界 👋🏽 ✨");
    } finally {
      gate1.resolve();
      gate2.resolve();
    }
  });

  test("a 429 on the first key is invisible; a Claude model name goes where MODEL_ALIASES sends it", async () => {
    mock.queue(gemini.rateLimited({ retryDelay: "37s", model: "gemini-2.5-pro" }));
    mock.on({ method: "POST", path: GEMINI_CHAT }, chat.completion({ content: "second key answered", model: "gemini-2.5-pro" }));
    const { data, response } = await client.messages
      .create({ model: "claude-sonnet-4-5-20250929", max_tokens: 64, messages: [{ role: "user", content: "hi" }] })
      .withResponse();
    assert.equal(data.content[0].text, "second key answered");
    assert.equal(data.model, "claude-sonnet-4-5-20250929");
    assert.deepEqual(attemptsOf(response).map((a) => a.verdict), ["rate_limited", "ok"]);
    assert.equal(mock.requests.length, 2);
    assert.notEqual(geminiKeyOf(mock.requests[0]).id, geminiKeyOf(mock.requests[1]).id, "another key");
    assert.equal(mock.requests[1].json().model, "gemini-2.5-pro");
    assert.deepEqual(mock.requests[1].body, mock.requests[0].body, "the converted body is replayed as it was");
    assertOnlyPoolKeys();
  });

  test("an upstream 400 comes back in Anthropic's error shape (BadRequestError), plain and streamed", async () => {
    const upstream = gemini.badRequest();
    mock.on({ method: "POST", path: GEMINI_CHAT }, upstream);
    for (const stream of [false, true]) {
      await assert.rejects(
        client.messages.create({ model: "google-ai-studio/gemini-2.5-flash", max_tokens: 64, stream, messages: [{ role: "user", content: "hi" }] }),
        (err) => {
          assert.ok(err instanceof Anthropic.BadRequestError, `${err?.constructor?.name}: ${err?.message}`);
          assert.equal(err.status, 400);
          assert.deepEqual(err.error, { type: "error", error: { type: "invalid_request_error", message: upstream.body.error.message } });
          assert.equal(err.headers.get("content-type"), "application/json");
          assert.deepEqual(attemptsOf({ headers: err.headers }).map((a) => a.verdict), ["client_error"]);
          return true;
        },
      );
    }
    assert.equal(mock.requests.length, 2, "a client error is not retried on another key");
  });

  test("the Worker's own errors are Anthropic-shaped: 401, 403 for a model the key may not use, 400, 503", async () => {
    const expectError = async (promise, Class, status, type, message) => {
      await assert.rejects(promise, (err) => {
        assert.ok(err instanceof Class, `${err?.constructor?.name}: ${err?.message}`);
        assert.equal(err.status, status);
        assert.equal(err.error?.type, "error");
        assert.equal(err.error?.error?.type, type);
        if (message) assert.match(err.error.error.message, message);
        return true;
      });
    };
    const ask = (c, model, extra = {}) => c.messages.create({ model, max_tokens: 16, messages: [{ role: "user", content: "hi" }], ...extra });
    await expectError(ask(makeClient("ob-e2e-messages-wrong-key-0000"), "google-ai-studio/gemini-2.5-flash"), Anthropic.AuthenticationError, 401, "authentication_error");
    const raw = await timedFetch(`${worker.url}/api/compat/v1/messages`, { method: "POST", headers: { "x-api-key": "ob-e2e-messages-wrong-key-0000" }, body: "{}" });
    assert.equal(raw.headers.get("x-should-retry"), "false", "Claude Code does not retry a wrong key for minutes");
    await raw.arrayBuffer();
    await expectError(ask(app, "claude-opus-4-1"), Anthropic.PermissionDeniedError, 403, "permission_error");
    await expectError(ask(app, "google-ai-studio/gemini-2.5-pro"), Anthropic.PermissionDeniedError, 403, "permission_error");
    await expectError(ask(client, "gemini-2.5-flash"), Anthropic.BadRequestError, 400, "invalid_request_error", /MODEL_ALIASES/);
    await expectError(
      ask(client, "google-ai-studio/gemini-2.5-flash", { tools: [{ type: "web_search_20250305", name: "web_search" }] }),
      Anthropic.BadRequestError,
      400,
      "invalid_request_error",
      /server tool/,
    );
    await expectError(ask(client, "openai/gpt-4o-mini"), Anthropic.InternalServerError, 503, "api_error", /no active key for provider openai/);
    await expectError(ask(makeClient(ADMIN_KEY, "/api/openrouter"), "claude-sonnet-4-5"), Anthropic.BadRequestError, 400, "invalid_request_error", /\/api\/compat/);
    await expectError(ask(makeClient("ob-e2e-messages-wrong-key-0000", "/api/anthropic"), "claude-sonnet-4-5"), Anthropic.AuthenticationError, 401, "authentication_error");
    assert.equal(mock.requests.length, 0, "none of these reached an upstream");

    mock.on({ method: "POST", path: GEMINI_CHAT }, chat.completion({ content: "allowed" }));
    const ok = await ask(app, "claude-haiku-4-5");
    assert.equal(ok.content[0].text, "allowed", "the key's one model, reached through an alias");
    assert.equal(mock.requests[0].json().model, "gemini-2.5-flash");
    // Claude Code's own request (12 tools whose schemas have members named "model") passes a model-restricted key.
    const res = await timedFetch(`${worker.url}/api/compat/v1/messages?beta=true`, {
      method: "POST",
      headers: { ...CLAUDE_CODE_HEADERS, "x-api-key": APP_KEY },
      body: JSON.stringify({ ...CLAUDE_CODE, model: "claude-haiku-4-5", stream: false }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal((await res.json()).content[0].text, "allowed");
  });

  test("every key cooling: the last upstream 429 comes back Anthropic-shaped, with Retry-After from the pool", async () => {
    const model = "gemini-2.0-flash-lite";
    const until = nowS() + 90;
    for (const k of pools.gemini) {
      await worker.d1.run("UPDATE keys SET model_coolings = ? WHERE id = ?", JSON.stringify({ [model]: { end_at: until, total_seconds: 65 } }), k.id);
    }
    mock.on({ method: "POST", path: GEMINI_CHAT }, gemini.rateLimited({ retryDelay: "37s", model }));
    await assert.rejects(client.messages.create({ model: `google-ai-studio/${model}`, max_tokens: 16, messages: [{ role: "user", content: "hi" }] }), (err) => {
      assert.ok(err instanceof Anthropic.RateLimitError, `${err?.constructor?.name}: ${err?.message}`);
      assert.equal(err.error.type, "error");
      assert.equal(err.error.error.type, "rate_limit_error");
      assert.ok(Number(err.headers.get("retry-after")) >= 80, `retry-after ${err.headers.get("retry-after")}`);
      return true;
    });
    assert.ok(mock.requests.length <= 1, "only the soonest-free key is tried, once");
  });

  test("a stream cut by the upstream ends with an error event, never with message_stop", async () => {
    mock.on({ method: "POST", path: GEMINI_CHAT }, { ...chat.stream({ texts: ["Half an ans", "wer"] }), dropAfter: 1 });
    const res = await timedFetch(`${worker.url}/api/compat/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": ADMIN_KEY, "content-type": "application/json" },
      body: JSON.stringify({ model: "google-ai-studio/gemini-2.5-flash", max_tokens: 64, stream: true, messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal(res.status, 200);
    const events = sseEvents(await res.text());
    assert.deepEqual(events.map((e) => e.event), ["message_start", "content_block_start", "content_block_delta", "error"]);
    assert.equal(events.at(-1).data.error.type, "api_error");
  });

  for (const [route, model] of [
    ["/api/compat/v1/messages", "claude-opus-5-5"],
    ["/api/google-ai-studio/v1/messages", "gemini-2.5-pro"],
  ]) {
    test(`Claude Code's own request on ${route}: streamed, then its stream:false retry`, async () => {
      mock.on({ method: "POST", path: GEMINI_CHAT }, (req) => (req.json().stream ? chat.stream({ texts: ["CC-", "ANSWER"] }) : chat.completion({ content: "CC-ANSWER" })));
      const ask = (stream) =>
        timedFetch(`${worker.url}${route}?beta=true`, {
          method: "POST",
          headers: { ...CLAUDE_CODE_HEADERS, "x-api-key": ADMIN_KEY },
          body: JSON.stringify({ ...CLAUDE_CODE, model, stream, ...(stream ? {} : { max_tokens: 64000 }) }),
        });
      const streamed = await ask(true);
      assert.equal(streamed.status, 200);
      assert.equal(streamed.headers.get("content-type"), "text/event-stream; charset=utf-8");
      const events = sseEvents(await streamed.text());
      assert.deepEqual(events.map((e) => e.event), ["message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop"]);
      assert.equal(events[0].data.message.model, model);
      assert.equal(events.filter((e) => e.event === "content_block_delta").map((e) => e.data.delta.text).join(""), "CC-ANSWER");

      const whole = await ask(false);
      assert.equal(whole.status, 200);
      const message = await whole.json();
      assert.deepEqual(message.content, [{ type: "text", text: "CC-ANSWER" }]);
      assert.equal(message.model, model);

      assert.equal(mock.requests.length, 2);
      for (const [i, req] of mock.requests.entries()) {
        const body = req.json();
        assert.equal(req.path, GEMINI_CHAT);
        assert.equal(req.query, "", "the client's ?beta=true is Anthropic's, not the chat API's");
        assert.equal(body.model, "gemini-2.5-pro");
        assert.equal(body.stream ?? false, i === 0);
        assert.equal(body.messages[0].role, "system");
        assert.match(body.messages[0].content, /Claude agent/);
        assert.match(body.messages[0].content, /# Environment/, "Claude Code's role:system message joins the system prompt");
        assert.ok(!body.messages.slice(1).some((m) => m.role === "system"));
        assert.equal(body.tools.length, 12);
        assert.deepEqual(body.messages.at(-1), { role: "tool", content: "TOOL-OUTPUT-7", tool_call_id: CLAUDE_CODE.messages.at(-2).content[1].id });
        assert.equal(body.max_tokens, i === 0 ? 128000 : 64000);
        assert.equal(req.headers["anthropic-beta"], undefined);
        assert.equal(req.headers.accept, i === 0 ? "text/event-stream" : "application/json");
      }
      assertOnlyPoolKeys();
    });
  }

  test("count_tokens: estimated here for a chat provider, passed through to Anthropic", async () => {
    const body = { model: "google-ai-studio/gemini-2.5-flash", system: "Be brief.", messages: [{ role: "user", content: "Count the tokens of this sentence, please." }] };
    const estimated = await client.messages.countTokens(body);
    assert.ok(estimated.input_tokens > 5 && estimated.input_tokens < 40, `${estimated.input_tokens}`);
    const perProvider = await makeClient(ADMIN_KEY, "/api/google-ai-studio").messages.countTokens({ ...body, model: "gemini-2.5-flash" });
    assert.equal(perProvider.input_tokens, estimated.input_tokens);
    assert.equal(mock.requests.length, 0, "no upstream request");

    mock.on({ method: "POST", path: "/anthropic/v1/messages/count_tokens" }, { status: 200, body: { input_tokens: 4242 } });
    const real = await client.messages.countTokens({ ...body, model: "anthropic/claude-sonnet-4-5" });
    assert.equal(real.input_tokens, 4242);
    assert.equal(mock.requests[0].json().model, "claude-sonnet-4-5");
    assertOnlyPoolKeys();
  });

  test("anthropic/… under /api/compat is Anthropic's own Messages API, byte for byte but the model", async () => {
    const sse = [
      'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_real","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}}\n\n',
      'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"straight from Anthropic"}}\n\n',
      'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
      'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":4}}\n\n',
      'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    ];
    mock.on({ method: "POST", path: "/anthropic/v1/messages" }, { status: 200, headers: { "content-type": "text/event-stream; charset=utf-8", "request-id": "req_real" }, chunks: sse });
    const body = JSON.stringify({ ...CLAUDE_CODE, model: "anthropic/claude-sonnet-4-5" });
    const res = await timedFetch(`${worker.url}/api/compat/v1/messages?beta=true`, { method: "POST", headers: { ...CLAUDE_CODE_HEADERS, authorization: `Bearer ${ADMIN_KEY}` }, body });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), sse.join(""), "the answer passes through untouched");
    assert.equal(res.headers.get("request-id"), "req_real");
    const up = mock.requests[0];
    assert.equal(up.url, "/anthropic/v1/messages?beta=true");
    assert.equal(up.text(), body.replace('"model":"anthropic/claude-sonnet-4-5"', '"model":"claude-sonnet-4-5"'));
    assert.equal(up.headers["x-api-key"], pools.anthropic[0].key);
    assert.equal(up.headers["anthropic-beta"], CLAUDE_CODE_HEADERS["anthropic-beta"]);
    assert.equal(up.headers["anthropic-version"], "2023-06-01");
    assert.equal(up.headers.authorization, undefined);
  });
});
