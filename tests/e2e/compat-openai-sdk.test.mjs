// The OpenAI-compatible API (/api/compat/…) driven by the official `openai` npm SDK: chat (plain and streamed) for
// three providers on their own OpenAI-style paths, byte-preserving model rewrite (Gemini thought signatures), JSON
// mode, key rotation the SDK never sees, the SDK's error classes for the Worker's own errors, models listing per
// service key, and embeddings.
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startWorker } from "../harness/worker.mjs";
import { deferred, startMock } from "../harness/mock-upstream.mjs";
import { gemini, openai as openaiReplies } from "../harness/providers.mjs";
import { withTimeout } from "../harness/project.mjs";
import { nowS, seedKeys, timedFetch } from "./support/pool.mjs";

const ADMIN_KEY = "ob-e2e-compat-admin-2c5a8e17f9b4";
const APP_KEY = "ob-e2e-compat-app-6d3f0b94a1c8";
const AUTH_KEY = `${ADMIN_KEY};${APP_KEY}=google-ai-studio,gemini-2.5-flash`;

const PROVIDERS = [
  { full: "google-ai-studio/gemini-2.5-flash", slug: "google-ai-studio", model: "gemini-2.5-flash", path: "/google-ai-studio/v1beta/openai/chat/completions" },
  { full: "openai/gpt-4o-mini", slug: "openai", model: "gpt-4o-mini", path: "/openai/chat/completions" },
  {
    full: "openrouter/meta-llama/llama-3-8b-instruct",
    slug: "openrouter",
    model: "meta-llama/llama-3-8b-instruct",
    path: "/openrouter/v1/chat/completions",
  },
];
const COOLING_MODEL = "gemini-2.0-flash-lite";

/** Builds a streamed chat.completion.chunk SSE body as raw bytes (so tests can cut it anywhere). */
function sseBytes(deltas, model) {
  const base = { id: "chatcmpl-mock", object: "chat.completion.chunk", created: 1_760_000_000, model };
  const events = [
    { ...base, choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] },
    ...deltas.map((content) => ({ ...base, choices: [{ index: 0, delta: { content }, finish_reason: null }] })),
    { ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop" }] },
  ];
  return Buffer.from(events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join("") + "data: [DONE]\n\n", "utf8");
}

/** Index just after the first byte of `char`'s UTF-8 encoding inside `bytes` (a cut inside the character). */
function cutInside(bytes, char) {
  const at = bytes.indexOf(Buffer.from(char, "utf8"));
  assert.ok(at > 0, `${char} is in the stream`);
  return at + 1;
}

describe("the openai SDK against /api/compat", { timeout: 90_000 }, () => {
  let mock;
  let worker;
  let pools;
  let sent;
  let client;
  let app;

  const makeClient = (apiKey) =>
    new OpenAI({
      apiKey,
      baseURL: `${worker.url}/api/compat`,
      maxRetries: 0,
      timeout: 15_000,
      // Records exactly what the SDK puts on the wire, to compare with what the upstream received.
      fetch: async (url, init) => {
        sent.push({ url: String(url), body: init?.body });
        return globalThis.fetch(url, init);
      },
    });
  const poolKeyOf = (req) => Object.values(pools).flat().find((k) => req.headers.authorization === `Bearer ${k.key}`);

  before(async () => {
    mock = await startMock();
    worker = await startWorker({ vars: { AUTH_KEY, KEY_CACHE_TTL_SECONDS: "0" }, mock });
    const coolUntil = nowS() + 90;
    pools = {
      "google-ai-studio": await seedKeys(worker, "google-ai-studio", [
        { coolings: { [COOLING_MODEL]: { end_at: coolUntil, total_seconds: 65 } } },
        { coolings: { [COOLING_MODEL]: { end_at: coolUntil, total_seconds: 65 } } },
      ]),
      openai: await seedKeys(worker, "openai", 2),
      openrouter: await seedKeys(worker, "openrouter", 1),
    };
    await seedKeys(worker, "anthropic", [{ status: "blocked" }]);
    client = makeClient(ADMIN_KEY);
    app = makeClient(APP_KEY);
  });
  after(async () => {
    await worker?.stop();
    await mock?.close();
  });
  beforeEach(() => {
    mock.reset();
    sent = [];
  });

  for (const p of PROVIDERS) {
    test(`chat.completions.create for ${p.full}: provider path, own model name, pool key as Bearer`, async () => {
      mock.on({ method: "POST", path: p.path }, openaiReplies.chatCompletion({ content: `hello from ${p.slug}`, model: p.model }));
      const completion = await client.chat.completions.create({
        model: p.full,
        messages: [{ role: "user", content: "Say hello" }],
        temperature: 0.3,
      });
      assert.equal(completion.choices[0].message.content, `hello from ${p.slug}`);
      assert.equal(mock.requests.length, 1);
      const up = mock.requests[0];
      assert.equal(up.path, p.path);
      assert.equal(up.json().model, p.model, "model rewritten to the provider's own name");
      assert.ok(pools[p.slug].some((k) => up.headers.authorization === `Bearer ${k.key}`), `pool key of ${p.slug}`);
      assert.equal(up.headers["x-goog-api-key"], undefined);
      const expected = sent.at(-1).body.replace(`"model":${JSON.stringify(p.full)}`, `"model":${JSON.stringify(p.model)}`);
      assert.equal(up.text(), expected, "every other byte as the SDK sent it");
    });

    test(`stream: true for ${p.full} arrives chunk by chunk and the iterator ends after [DONE]`, async () => {
      const deltas = ["Pooled", " keys", " stream", " fine."];
      const reply = openaiReplies.stream({ deltas, model: p.model });
      const gate = deferred();
      const holdOpen = deferred();
      reply.chunks[2].after = gate.promise; // held: the second delta
      // After [DONE] the upstream keeps the connection open: the SDK must finish on [DONE] itself, which proves the
      // Worker passed it on without waiting for the end of the upstream body.
      reply.chunks.push({ data: ": still open\n\n", after: holdOpen.promise });
      mock.on({ method: "POST", path: p.path }, reply);
      try {
        const stream = await client.chat.completions.create({ model: p.full, messages: [{ role: "user", content: "stream" }], stream: true });
        const it = stream[Symbol.asyncIterator]();
        const seen = [];
        try {
          for (let i = 0; i < 2; i++) {
            const next = await withTimeout(it.next(), 10_000, "chunks before the gate opens");
            seen.push(next.value.choices[0].delta.content);
          }
          assert.deepEqual(seen, ["", "Pooled"], "the first delta arrived while the upstream held the rest");
        } finally {
          gate.resolve();
        }
        let finish;
        for (;;) {
          const next = await withTimeout(it.next(), 10_000, "the rest of the stream and its end at [DONE]");
          if (next.done) break;
          const choice = next.value.choices[0];
          if (choice.delta.content !== undefined) seen.push(choice.delta.content);
          finish = choice.finish_reason ?? finish;
        }
        assert.equal(seen.join(""), deltas.join(""));
        assert.equal(finish, "stop");
        assert.equal(mock.requests[0].json().stream, true);
        assert.equal(mock.requests[0].json().model, p.model);
      } finally {
        holdOpen.resolve();
      }
    });
  }

  test("Chinese and emoji split inside multi-byte characters arrive intact, chunk by chunk", async () => {
    const deltas = ["你好，", "世界 ", "👋🏽 ", "✨"];
    const bytes = sseBytes(deltas, "gemini-2.5-flash");
    const cut1 = cutInside(bytes, "世"); // inside a 3-byte character
    const cut2 = cutInside(bytes, "👋"); // inside a 4-byte character
    const gate1 = deferred();
    const gate2 = deferred();
    mock.on({ method: "POST", path: PROVIDERS[0].path }, {
      status: 200,
      headers: { "content-type": "text/event-stream" },
      chunks: [bytes.subarray(0, cut1), { data: bytes.subarray(cut1, cut2), after: gate1.promise }, { data: bytes.subarray(cut2), after: gate2.promise }],
    });
    try {
      const stream = await client.chat.completions.create({ model: PROVIDERS[0].full, messages: [{ role: "user", content: "你好" }], stream: true });
      const it = stream[Symbol.asyncIterator]();
      const text = [];
      const next = async (what) => {
        const n = await withTimeout(it.next(), 10_000, what);
        if (!n.done && n.value.choices[0].delta.content) text.push(n.value.choices[0].delta.content);
        return n;
      };
      await next("role chunk");
      await next("first delta while the rest is held back");
      assert.deepEqual(text, ["你好，"]);
      gate1.resolve();
      await next("second delta after the first gate");
      assert.deepEqual(text, ["你好，", "世界 "]);
      gate2.resolve();
      while (!(await next("the end")).done);
      assert.equal(text.join(""), "你好，世界 👋🏽 ✨");
    } finally {
      gate1.resolve();
      gate2.resolve();
    }
  });

  test("a tool-call round trip keeps Gemini's thought_signature byte for byte; only model changes", async () => {
    const signature = "CiQB0e2Kb3/+Zm9vYmFyLXNpZ25hdHVyZS1ieXRlcw==" + "Q".repeat(200) + "+/9=";
    const path = PROVIDERS[0].path;
    const toolCallReply = openaiReplies.chatCompletion({ model: "gemini-2.5-flash" });
    toolCallReply.body.choices[0].finish_reason = "tool_calls";
    toolCallReply.body.choices[0].message = {
      role: "assistant",
      content: null,
      tool_calls: [
        {
          id: "function-call-1",
          type: "function",
          function: { name: "get_weather", arguments: '{"city":"Zürich"}' },
          extra_content: { google: { thought_signature: signature } },
        },
      ],
    };
    mock.queue(toolCallReply, openaiReplies.chatCompletion({ content: "It is 21 °C in Zürich.", model: "gemini-2.5-flash" }));
    const tools = [
      {
        type: "function",
        function: { name: "get_weather", description: "Weather for a city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } },
      },
    ];
    const messages = [{ role: "user", content: "Weather in Zürich? 🌦" }];
    const first = await client.chat.completions.create({ model: PROVIDERS[0].full, messages, tools });
    const assistant = first.choices[0].message;
    assert.equal(assistant.tool_calls[0].extra_content.google.thought_signature, signature, "the SDK received the signature");
    messages.push(assistant, { role: "tool", tool_call_id: assistant.tool_calls[0].id, content: '{"temp_c":21}' });
    const second = await client.chat.completions.create({ model: PROVIDERS[0].full, messages, tools });
    assert.equal(second.choices[0].message.content, "It is 21 °C in Zürich.");

    assert.equal(mock.requests.length, 2);
    for (let i = 0; i < 2; i++) assert.equal(mock.requests[i].path, path);
    const wire = sent.at(-1).body;
    assert.equal(typeof wire, "string");
    assert.ok(wire.includes(signature), "the SDK sent the signature back");
    const modelField = `"model":${JSON.stringify(PROVIDERS[0].full)}`;
    assert.equal(wire.split(modelField).length, 2, "the SDK wrote model once");
    const expected = Buffer.from(wire.replace(modelField, '"model":"gemini-2.5-flash"'), "utf8");
    assert.deepEqual(mock.requests[1].body, expected, "the upstream got the SDK's bytes with only the model changed");
  });

  test("JSON mode (response_format json_object) passes through", async () => {
    mock.on({ path: "/openai/chat/completions" }, openaiReplies.chatCompletion({ content: '{"answer":42}' }));
    const completion = await client.chat.completions.create({
      model: "openai/gpt-4o-mini",
      messages: [{ role: "user", content: "Answer in JSON" }],
      response_format: { type: "json_object" },
    });
    assert.deepEqual(JSON.parse(completion.choices[0].message.content), { answer: 42 });
    assert.deepEqual(mock.requests[0].json().response_format, { type: "json_object" });
  });

  test("a 429 on the first key is invisible to the SDK", async () => {
    mock.queue({ ...gemini.rateLimited({ retryDelay: "37s", model: "gemini-2.5-pro" }) });
    mock.on({ path: PROVIDERS[0].path }, openaiReplies.chatCompletion({ content: "second key answered", model: "gemini-2.5-pro" }));
    const completion = await client.chat.completions.create({ model: "google-ai-studio/gemini-2.5-pro", messages: [{ role: "user", content: "hi" }] });
    assert.equal(completion.choices[0].message.content, "second key answered");
    assert.equal(mock.requests.length, 2);
    assert.notEqual(poolKeyOf(mock.requests[0]), poolKeyOf(mock.requests[1]));
    assert.ok(poolKeyOf(mock.requests[0]) && poolKeyOf(mock.requests[1]));
    assert.deepEqual(mock.requests[1].body, mock.requests[0].body, "the rewritten body is replayed byte for byte");
    assert.equal(mock.requests[1].json().model, "gemini-2.5-pro");
  });

  test("when every key is cooling the SDK raises RateLimitError with a retry-after header", async () => {
    mock.on({ path: PROVIDERS[0].path }, gemini.rateLimited({ retryDelay: "37s", model: COOLING_MODEL }));
    const t0 = nowS();
    await assert.rejects(
      client.chat.completions.create({ model: `google-ai-studio/${COOLING_MODEL}`, messages: [{ role: "user", content: "hi" }] }),
      (err) => {
        assert.ok(err instanceof OpenAI.RateLimitError, `${err?.constructor?.name}: ${err?.message}`);
        assert.equal(err.status, 429);
        const retryAfter = Number(err.headers.get("retry-after"));
        assert.ok(retryAfter >= 1 && retryAfter <= 91 - (nowS() - t0) + 1, `retry-after ${retryAfter} ≈ time until the cooldowns end`);
        assert.ok(retryAfter >= 80, `retry-after ${retryAfter} should be ≈ 90 (the seeded cooldowns)`);
        return true;
      },
    );
    assert.ok(mock.requests.length <= 1, `${mock.requests.length} upstream attempts`);
  });

  test("models.list shows each service key only what it may use", async () => {
    mock.on({ method: "GET", path: "/google-ai-studio/v1beta/models" }, {
      status: 200,
      body: { models: [{ name: "models/gemini-2.5-flash" }, { name: "models/gemini-2.5-pro" }] },
    });
    mock.on({ method: "GET", path: "/openai/models" }, { status: 200, body: { object: "list", data: [{ id: "gpt-4o-mini", object: "model" }, { id: "text-embedding-3-small", object: "model" }] } });
    mock.on({ method: "GET", path: "/openrouter/v1/models" }, { status: 200, body: { data: [{ id: "meta-llama/llama-3-8b-instruct" }] } });

    const appIds = [];
    for await (const model of app.models.list()) appIds.push(model.id);
    assert.deepEqual(appIds, ["google-ai-studio/gemini-2.5-flash"]);

    const adminIds = [];
    for await (const model of client.models.list()) adminIds.push(model.id);
    assert.deepEqual(adminIds.sort(), [
      "google-ai-studio/gemini-2.5-flash",
      "google-ai-studio/gemini-2.5-pro",
      "openai/gpt-4o-mini",
      "openai/text-embedding-3-small",
      "openrouter/meta-llama/llama-3-8b-instruct",
    ], "every provider with active keys (not anthropic: its only key is blocked)");
    const listing = mock.requests.find((r) => r.path === "/google-ai-studio/v1beta/models");
    assert.ok(pools["google-ai-studio"].some((k) => k.key === listing.headers["x-goog-api-key"]), "the listing used a pool key");
  });

  test("bad model values get 400 in OpenAI's error shape (BadRequestError) and no upstream call", async () => {
    const bad = [
      ["no slash", "gemini-2.5-flash"],
      ["unknown provider", "not-a-provider/some-model"],
      ["empty model after the slash", "openai/"],
      ["empty string", ""],
      ["not a string", 42],
      ["missing", undefined],
    ];
    for (const [name, model] of bad) {
      await assert.rejects(
        client.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }] }),
        (err) => {
          assert.ok(err instanceof OpenAI.BadRequestError, `${name}: ${err?.constructor?.name}: ${err?.message}`);
          assert.equal(err.status, 400);
          assert.equal(typeof err.error?.message, "string");
          assert.equal(err.type, "invalid_request_error");
          assert.equal(typeof err.code, "string");
          return true;
        },
        name,
      );
      const res = await timedFetch(`${worker.url}/api/compat/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_KEY}` },
        body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
      });
      assert.equal(res.status, 400, name);
      const body = await res.json();
      assert.deepEqual(Object.keys(body), ["error"]);
      assert.deepEqual(Object.keys(body.error).sort(), ["code", "message", "type"], name);
    }
    assert.equal(mock.requests.length, 0);
  });

  test("a wrong service key raises AuthenticationError; a key limited to another provider or model raises PermissionDeniedError", async () => {
    const stranger = makeClient("ob-e2e-compat-wrong-key");
    await assert.rejects(stranger.chat.completions.create({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }), (err) => {
      assert.ok(err instanceof OpenAI.AuthenticationError, `${err?.constructor?.name}: ${err?.message}`);
      assert.equal(err.status, 401);
      return true;
    });
    await assert.rejects(stranger.models.list(), OpenAI.AuthenticationError);
    for (const model of ["openai/gpt-4o-mini", "google-ai-studio/gemini-2.5-pro"]) {
      await assert.rejects(app.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }] }), (err) => {
        assert.ok(err instanceof OpenAI.PermissionDeniedError, `${model}: ${err?.constructor?.name}: ${err?.message}`);
        assert.equal(err.status, 403);
        return true;
      });
    }
    assert.equal(mock.requests.length, 0);

    // …and the model it is allowed works.
    mock.on({ path: PROVIDERS[0].path }, openaiReplies.chatCompletion({ content: "allowed", model: "gemini-2.5-flash" }));
    const ok = await app.chat.completions.create({ model: PROVIDERS[0].full, messages: [{ role: "user", content: "hi" }] });
    assert.equal(ok.choices[0].message.content, "allowed");
  });

  test("embeddings.create for openai/text-embedding-3-small", async () => {
    const vector = [0.25, -0.5, 0.125, 1];
    mock.on({ method: "POST", path: "/openai/embeddings" }, (req) => {
      const body = req.json();
      const embedding = body.encoding_format === "base64" ? Buffer.from(new Float32Array(vector).buffer).toString("base64") : vector;
      return {
        status: 200,
        body: { object: "list", data: [{ object: "embedding", index: 0, embedding }], model: body.model, usage: { prompt_tokens: 2, total_tokens: 2 } },
      };
    });
    const result = await client.embeddings.create({ model: "openai/text-embedding-3-small", input: "pooled keys" });
    assert.deepEqual(Array.from(result.data[0].embedding), vector);
    assert.equal(mock.requests.length, 1);
    const up = mock.requests[0];
    assert.equal(up.json().model, "text-embedding-3-small");
    assert.equal(up.json().input, "pooled keys");
    assert.ok(pools.openai.some((k) => up.headers.authorization === `Bearer ${k.key}`));
  });
});
