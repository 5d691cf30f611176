// OpenAI's Responses API on every pool, driven by the official `openai` SDK (`responses.create`, plain and streamed)
// and by raw HTTP with the body Codex 0.171.0 really sends: converted statelessly to Gemini's OpenAI-compatible chat
// (function calls both ways, hosted tools left out and logged, Chinese and emoji cut inside characters, chunk by
// chunk), a 429 on the first key the SDK never sees, errors in OpenAI's shape, state (`previous_response_id`,
// `store`) refused where no upstream keeps it and passed through to OpenAI, and base URLs written with `/v1` as
// guides write them (`…/api/openai/v1` never reaches `/v1/v1/…`, through AI Gateway or direct).
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import { startWorker } from "../harness/worker.mjs";
import { deferred, startMock } from "../harness/mock-upstream.mjs";
import { chat, gemini, openai as openaiReplies } from "../harness/providers.mjs";
import { ROOT, withTimeout } from "../harness/project.mjs";
import { attemptsOf, seedKeys, timedFetch } from "./support/pool.mjs";

const ADMIN_KEY = "ob-e2e-responses-admin-9d0c3b7a51e2";
const APP_KEY = "ob-e2e-responses-app-4f82a6e1c05b";
const AUTH_KEY = `${ADMIN_KEY};${APP_KEY}=google-ai-studio,gemini-2.5-flash`;
const MODEL_ALIASES = "gpt-5*=google-ai-studio/gemini-2.5-flash";
const GEMINI_CHAT = "/google-ai-studio/v1beta/openai/chat/completions";
const SIGNATURE = "CiQBsig/+Zm9vYmFy" + "Z".repeat(80) + "==";
const CODEX = JSON.parse(readFileSync(join(ROOT, "tests/fixtures/clients/codex-0.171.0-tool-turn.json"), "utf8"));

/** The SSE events of a body, data parsed. */
function sseData(text) {
  return text
    .split(/\n\n/)
    .filter((block) => block.trim() !== "")
    .map((block) => JSON.parse(block.split("\n").find((line) => line.startsWith("data: ")).slice(6)));
}

function cutInside(bytes, char) {
  const at = bytes.indexOf(Buffer.from(char, "utf8"));
  assert.ok(at > 0, `${char} is in the stream`);
  return at + 1;
}

describe("OpenAI Responses on every pool", { timeout: 120_000 }, () => {
  let mock;
  let worker;
  let pools;
  let client;

  const makeClient = (apiKey, path = "/api/compat") => new OpenAI({ apiKey, baseURL: `${worker.url}${path}`, maxRetries: 0, timeout: 15_000 });
  const poolKeyOf = (req) => Object.values(pools).flat().find((k) => req.headers.authorization === `Bearer ${k.key}`);

  before(async () => {
    mock = await startMock();
    worker = await startWorker({ vars: { AUTH_KEY, MODEL_ALIASES, KEY_CACHE_TTL_SECONDS: "0" }, mock });
    pools = {
      gemini: await seedKeys(worker, "google-ai-studio", 2),
      openai: await seedKeys(worker, "openai", 1),
      groq: await seedKeys(worker, "groq", 1),
    };
    client = makeClient(ADMIN_KEY);
  });
  after(async () => {
    await worker?.stop();
    await mock?.close();
  });
  beforeEach(() => mock.reset());

  function assertOnlyPoolKeys() {
    for (const req of mock.requests) {
      const raw = JSON.stringify(req.headers) + req.text();
      assert.ok(!raw.includes(ADMIN_KEY) && !raw.includes(APP_KEY), `the service key reached ${req.path}`);
      assert.ok(poolKeyOf(req), `a pool key on ${req.path}`);
    }
  }

  test("responses.create on a Gemini pool: a stateless chat request, answered as a Response", async () => {
    mock.on({ method: "POST", path: GEMINI_CHAT }, chat.completion({ content: "Bonjour 👋", usage: { prompt_tokens: 9, completion_tokens: 3 } }));
    const { data: response, response: raw } = await client.responses
      .create({ model: "google-ai-studio/gemini-2.5-flash", instructions: "Be brief.", input: "hi", max_output_tokens: 100 })
      .withResponse();
    assert.equal(response.output_text, "Bonjour 👋");
    assert.equal(response.object, "response");
    assert.equal(response.status, "completed");
    assert.equal(response.model, "google-ai-studio/gemini-2.5-flash");
    assert.equal(response.store, false);
    assert.match(response.id, /^resp_[0-9a-f]{24}$/);
    assert.deepEqual(response.usage, { input_tokens: 9, input_tokens_details: { cached_tokens: 0 }, output_tokens: 3, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 12 });
    assert.deepEqual(attemptsOf(raw).map((a) => a.verdict), ["ok"]);
    assert.deepEqual(mock.requests[0].json(), {
      model: "gemini-2.5-flash",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "hi" },
      ],
      max_tokens: 100,
    });
    assertOnlyPoolKeys();
  });

  test("stream: true arrives event by event while the upstream holds the rest", async () => {
    const reply = chat.stream({ texts: ["Pooled", " keys", " stream."] });
    const gate = deferred();
    reply.chunks[1].after = gate.promise;
    mock.on({ method: "POST", path: GEMINI_CHAT }, reply);
    try {
      const stream = await client.responses.create({ model: "google-ai-studio/gemini-2.5-flash", input: "stream", stream: true });
      const it = stream[Symbol.asyncIterator]();
      const types = [];
      while (!types.includes("response.output_text.delta")) {
        const next = await withTimeout(it.next(), 10_000, "the first delta while the upstream holds the rest");
        assert.ok(!next.done);
        types.push(next.value.type);
      }
      assert.deepEqual(types, ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added", "response.output_text.delta"]);
      gate.resolve();
      let completed;
      for (;;) {
        const next = await withTimeout(it.next(), 10_000, "the rest of the stream");
        if (next.done) break;
        types.push(next.value.type);
        if (next.value.type === "response.completed") completed = next.value.response;
      }
      assert.equal(completed.output[0].content[0].text, "Pooled keys stream.");
      assert.equal(completed.usage.output_tokens, 7);
      assert.deepEqual(types.slice(-4), ["response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"]);
    } finally {
      gate.resolve();
    }
    assert.equal(mock.requests[0].json().stream, true);
  });

  test("a function-call round trip: function_call out with the signature in call_id, function_call_output back", async () => {
    const tools = [{ type: "function", name: "get_weather", description: "Weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } }, { type: "web_search" }];
    mock.queue(
      chat.completion({ content: "", toolCalls: [{ id: "function-call-3", name: "get_weather", args: { city: "Zürich" }, signature: SIGNATURE }] }),
      chat.completion({ content: "21 °C in Zürich." }),
    );
    const first = await client.responses.create({ model: "google-ai-studio/gemini-2.5-flash", input: "Weather in Zürich?", tools });
    const call = first.output.find((item) => item.type === "function_call");
    assert.equal(call.name, "get_weather");
    assert.deepEqual(JSON.parse(call.arguments), { city: "Zürich" });
    const second = await client.responses.create({
      model: "google-ai-studio/gemini-2.5-flash",
      tools,
      input: [{ role: "user", content: "Weather in Zürich?" }, call, { type: "function_call_output", call_id: call.call_id, output: '{"temp_c":21}' }],
    });
    assert.equal(second.output_text, "21 °C in Zürich.");
    const [one, two] = mock.requests.map((r) => r.json());
    assert.deepEqual(one.tools.map((t) => t.function.name), ["get_weather"], "web_search cannot run behind a chat API: left out");
    await worker.waitForLog(/left out tools a chat API cannot run: web_search/);
    const upstreamCall = two.messages[1].tool_calls[0];
    assert.equal(upstreamCall.id, "function-call-3");
    assert.deepEqual(upstreamCall.extra_content, { google: { thought_signature: SIGNATURE } });
    assert.deepEqual(two.messages[2], { role: "tool", content: '{"temp_c":21}', tool_call_id: "function-call-3" });
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
      const stream = await client.responses.create({ model: "google-ai-studio/gemini-2.5-flash", input: "你好", stream: true });
      const it = stream[Symbol.asyncIterator]();
      const deltas = [];
      const nextDelta = async (what) => {
        for (;;) {
          const next = await withTimeout(it.next(), 10_000, what);
          if (next.done) return undefined;
          if (next.value.type === "response.output_text.delta") return deltas.push(next.value.delta);
        }
      };
      await nextDelta("the first text while the rest is held back");
      assert.deepEqual(deltas, ["你好，"]);
      gate1.resolve();
      await nextDelta("the second text after the first gate");
      assert.deepEqual(deltas, ["你好，", "世界 "]);
      gate2.resolve();
      while ((await nextDelta("the end")) !== undefined);
      assert.equal(deltas.join(""), "你好，世界 👋🏽 ✨");
    } finally {
      gate1.resolve();
      gate2.resolve();
    }
  });

  test("a 429 on the first key is invisible; Codex's own model name goes where MODEL_ALIASES sends it", async () => {
    mock.queue(gemini.rateLimited({ retryDelay: "37s" }));
    mock.on({ method: "POST", path: GEMINI_CHAT }, chat.completion({ content: "second key answered" }));
    const { data, response } = await client.responses.create({ model: "gpt-5.5", input: "hi" }).withResponse();
    assert.equal(data.output_text, "second key answered");
    assert.equal(data.model, "gpt-5.5");
    assert.deepEqual(attemptsOf(response).map((a) => a.verdict), ["rate_limited", "ok"]);
    assert.notEqual(poolKeyOf(mock.requests[0]).id, poolKeyOf(mock.requests[1]).id);
    assert.equal(mock.requests[1].json().model, "gemini-2.5-flash");
    // The aliases hold on the compat chat route too.
    mock.reset();
    mock.on({ method: "POST", path: GEMINI_CHAT }, openaiReplies.chatCompletion({ content: "chat too", model: "gemini-2.5-flash" }));
    const completion = await client.chat.completions.create({ model: "gpt-5.5", messages: [{ role: "user", content: "hi" }] });
    assert.equal(completion.choices[0].message.content, "chat too");
    assert.equal(mock.requests[0].json().model, "gemini-2.5-flash");
    assertOnlyPoolKeys();
  });

  test("an upstream 400 comes back in OpenAI's error shape (BadRequestError), plain and streamed", async () => {
    const upstream = gemini.badRequest();
    mock.on({ method: "POST", path: GEMINI_CHAT }, upstream);
    for (const stream of [false, true]) {
      await assert.rejects(client.responses.create({ model: "google-ai-studio/gemini-2.5-flash", input: "hi", stream }), (err) => {
        assert.ok(err instanceof OpenAI.BadRequestError, `${err?.constructor?.name}: ${err?.message}`);
        assert.equal(err.status, 400);
        assert.equal(err.error.message, upstream.body.error.message);
        assert.equal(err.code, "INVALID_ARGUMENT");
        return true;
      });
    }
    assert.equal(mock.requests.length, 2);
  });

  test("the Worker's own errors are OpenAI-shaped: 401, 403, 400 for state no chat provider keeps, 503", async () => {
    const ask = (c, body) => c.responses.create({ input: "hi", ...body });
    await assert.rejects(ask(makeClient("ob-e2e-responses-wrong-0000"), { model: "google-ai-studio/gemini-2.5-flash" }), OpenAI.AuthenticationError);
    await assert.rejects(ask(makeClient(APP_KEY), { model: "google-ai-studio/gemini-2.5-pro" }), OpenAI.PermissionDeniedError);
    for (const state of [{ previous_response_id: "resp_abc" }, { store: true }]) {
      await assert.rejects(ask(client, { model: "google-ai-studio/gemini-2.5-flash", ...state }), (err) => {
        assert.ok(err instanceof OpenAI.BadRequestError, `${err?.constructor?.name}`);
        assert.match(err.error.message, /only openai\/… models do/);
        return true;
      });
    }
    await assert.rejects(ask(client, { model: "mistral/mistral-small-latest" }), (err) => err instanceof OpenAI.InternalServerError && err.status === 503);
    assert.equal(mock.requests.length, 0);
  });

  test("openai/… is OpenAI's own Responses API: byte for byte but the model, state included", async () => {
    const events = [
      { type: "response.created", response: { id: "resp_real", object: "response", status: "in_progress", output: [] }, sequence_number: 0 },
      { type: "response.output_text.delta", item_id: "msg_1", output_index: 0, content_index: 0, delta: "from OpenAI", sequence_number: 1 },
      { type: "response.completed", response: { id: "resp_real", object: "response", status: "completed", output: [] }, sequence_number: 2 },
    ];
    const sse = events.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
    mock.on({ method: "POST", path: "/openai/responses" }, { status: 200, headers: { "content-type": "text/event-stream; charset=utf-8", "x-request-id": "req_real" }, chunks: sse });
    const body = JSON.stringify({ model: "openai/gpt-5", input: "continue", previous_response_id: "resp_prev", store: true, stream: true, tools: [{ type: "web_search" }] });
    const res = await timedFetch(`${worker.url}/api/compat/responses`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" }, body });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), sse.join(""));
    assert.equal(res.headers.get("x-request-id"), "req_real");
    const up = mock.requests[0];
    assert.equal(up.path, "/openai/responses");
    assert.equal(up.text(), body.replace('"model":"openai/gpt-5"', '"model":"gpt-5"'));
    assert.equal(up.headers.authorization, `Bearer ${pools.openai[0].key}`);
  });

  test("Codex's own request (gpt-5.5 through the alias, hosted tools, a function_call_output) streams back as Codex reads it", async () => {
    mock.on({ method: "POST", path: GEMINI_CHAT }, chat.stream({ texts: ["CODEX-", "ANSWER"] }));
    const res = await timedFetch(`${worker.url}/api/compat/responses`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json", accept: "text/event-stream", originator: "codex_exec" },
      body: JSON.stringify(CODEX),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    const events = sseData(await res.text());
    const done = events.find((e) => e.type === "response.output_item.done");
    assert.equal(done.item.content[0].text, "CODEX-ANSWER");
    assert.equal(events.at(-1).type, "response.completed");
    assert.deepEqual(events.map((e) => e.sequence_number), events.map((_, i) => i));
    const up = mock.requests[0].json();
    assert.equal(up.model, "gemini-2.5-flash");
    assert.deepEqual(up.tools.map((t) => t.function.name).sort(), CODEX.tools.filter((t) => t.type === "function").map((t) => t.name).sort());
    assert.equal(up.messages[0].role, "system", "developer messages become system messages");
    assert.equal(up.messages.at(-1).role, "tool");
    assert.match(up.messages.at(-1).content, /TOOL-OUTPUT-7/);
    assert.equal(up.reasoning_effort, "medium");
  });

  test("base URLs with /v1 as guides write them: …/api/openai/v1 and …/api/groq/openai/v1 reach the provider's own paths", async () => {
    mock.on({ method: "POST", path: "/openai/responses" }, { status: 200, body: { id: "resp_x", object: "response", output: [] } });
    mock.on({ method: "POST", path: "/openai/chat/completions" }, openaiReplies.chatCompletion({ content: "ok" }));
    mock.on({ method: "POST", path: "/groq/chat/completions" }, openaiReplies.chatCompletion({ content: "ok" }));
    const viaV1 = makeClient(ADMIN_KEY, "/api/openai/v1");
    await viaV1.responses.create({ model: "gpt-5", input: "hi" });
    await viaV1.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });
    await makeClient(ADMIN_KEY, "/api/groq/openai/v1").chat.completions.create({ model: "llama-3.1-8b-instant", messages: [{ role: "user", content: "hi" }] });
    await makeClient(ADMIN_KEY, "/api/openai").responses.create({ model: "gpt-5", input: "hi" });
    assert.deepEqual(mock.requests.map((r) => r.path), ["/openai/responses", "/openai/chat/completions", "/groq/chat/completions", "/openai/responses"]);
    assertOnlyPoolKeys();

    // Direct mode: the base already ends in /v1, and the path does not repeat it.
    const direct = await startWorker({ vars: { AUTH_KEY, DIRECT_PROVIDERS: "openai", DIRECT_BASE_URLS: `openai=${mock.url}/v1`, KEY_CACHE_TTL_SECONDS: "0" } });
    try {
      const [key] = await seedKeys(direct, "openai", 1);
      mock.reset();
      mock.on({ method: "POST", path: "/v1/responses" }, { status: 200, body: { id: "resp_y", object: "response", output: [] } });
      const res = await timedFetch(`${direct.url}/api/openai/v1/responses`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" }, body: '{"model":"gpt-5","input":"hi"}' });
      assert.equal(res.status, 200, await res.clone().text());
      await res.arrayBuffer();
      assert.deepEqual(mock.requests.map((r) => r.path), ["/v1/responses"], "not /v1/v1/responses");
      assert.equal(mock.requests[0].headers.authorization, `Bearer ${key.key}`);
    } finally {
      await direct.stop();
    }
  });
});
