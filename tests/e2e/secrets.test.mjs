// Where secrets go. A representative mix of traffic (native and compat, successes, rotations, blocks, client and
// Worker errors, streams, listings, embeddings), then everything the Worker logged, everything the mock upstream
// received and everything the clients got back is searched for the service key and for every pool key:
// - the service key appears nowhere;
// - each pool key appears only upstream, only in the one header it belongs in for that request's path (and only for
//   its own provider), never in a URL, a query string, a body, a log line or a response.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { GoogleGenAI } from "@google/genai";
import { startWorker } from "../harness/worker.mjs";
import { startMock } from "../harness/mock-upstream.mjs";
import { gemini, openai as openaiReplies, openrouter } from "../harness/providers.mjs";
import { seedKeys, waitFor } from "./support/pool.mjs";

const AUTH_KEY = "ob-e2e-secrets-SvcKey-83f1a6c2d9e0b7";

/** Pieces of `secret` long enough to identify it (a mask like `AIza…x9Qk` shows at most 4 characters in a row). */
function pieces(secret, size = 10) {
  const out = [];
  for (let i = 0; i + size <= secret.length; i += 3) out.push(secret.slice(i, i + size));
  out.push(secret.slice(-size));
  return out;
}
const leaks = (text, secret) => pieces(secret).some((p) => text.includes(p));

/** The one header that may carry a pool key for an upstream request on `path`, and its value for `key`. */
function expectedPlacement(path, key) {
  if (path.startsWith("/google-ai-studio/v1beta/openai/")) return ["authorization", `Bearer ${key}`, "google-ai-studio"];
  if (path.startsWith("/google-ai-studio/")) return ["x-goog-api-key", key, "google-ai-studio"];
  if (path.startsWith("/anthropic/")) return ["x-api-key", key, "anthropic"];
  if (path.startsWith("/openai/")) return ["authorization", `Bearer ${key}`, "openai"];
  if (path.startsWith("/openrouter/")) return ["authorization", `Bearer ${key}`, "openrouter"];
  throw new Error(`unexpected upstream path ${path}`);
}

describe("secrets never leak", { timeout: 90_000 }, () => {
  let mock;
  let worker;
  let pools;
  const responses = []; // { what, status, headers, body }

  /** fetch that records what the client got back (a clone, read in full). */
  const recordingFetch = (what) => async (url, init) => {
    const res = await globalThis.fetch(url, { signal: AbortSignal.timeout(15_000), ...init });
    const copy = res.clone();
    responses.push(
      copy.text().then((body) => ({ what, status: res.status, headers: [...res.headers.entries()], body })),
    );
    return res;
  };
  const raw = (path, init = {}) => recordingFetch(`raw ${init.method ?? "GET"} ${path}`)(`${worker.url}${path}`, init);
  const drain = async (res) => {
    await res.arrayBuffer();
    return res;
  };

  before(async () => {
    mock = await startMock();
    worker = await startWorker({ vars: { AUTH_KEY, KEY_CACHE_TTL_SECONDS: "0" }, mock });
    pools = {
      "google-ai-studio": await seedKeys(worker, "google-ai-studio", 4),
      openai: await seedKeys(worker, "openai", 3),
      openrouter: await seedKeys(worker, "openrouter", 2),
      anthropic: await seedKeys(worker, "anthropic", 1),
    };

    // Upstream behaviour by path; one-shot failures are queued right before the request that should meet them.
    mock.on({ path: /^\/google-ai-studio\/v1beta\/models\/[^/]+:generateContent$/ }, gemini.success({ text: "native ok" }));
    mock.on({ path: /^\/google-ai-studio\/v1beta\/models\/[^/]+:streamGenerateContent$/ }, () => gemini.stream({ texts: ["a", "b", "c"] }));
    mock.on({ method: "GET", path: "/google-ai-studio/v1beta/models" }, { status: 200, body: { models: [{ name: "models/gemini-2.5-flash" }] } });
    mock.on({ path: "/google-ai-studio/v1beta/openai/chat/completions" }, (req) =>
      req.json().stream ? openaiReplies.stream({ deltas: ["你好", " 👋"] }) : openaiReplies.chatCompletion({ content: "gemini compat ok" }),
    );
    mock.on({ path: "/openai/chat/completions" }, (req) =>
      req.json().stream ? openaiReplies.stream({ deltas: ["x", "y"] }) : openaiReplies.chatCompletion({ content: "openai ok" }),
    );
    mock.on({ path: "/openai/embeddings" }, { status: 200, body: { object: "list", data: [{ object: "embedding", index: 0, embedding: [0.5] }], model: "text-embedding-3-small" } });
    mock.on({ method: "GET", path: "/openai/models" }, { status: 200, body: { data: [{ id: "gpt-4o-mini" }] } });
    mock.on({ path: "/openrouter/v1/chat/completions" }, openaiReplies.chatCompletion({ content: "openrouter ok" }));
    mock.on({ method: "GET", path: "/openrouter/v1/models" }, { status: 200, body: { data: [{ id: "meta-llama/llama-3-8b-instruct" }] } });
    mock.on({ path: "/anthropic/v1/messages" }, { status: 200, body: { type: "message", content: [{ type: "text", text: "claude ok" }] } });
  });
  after(async () => {
    await worker?.stop();
    await mock?.close();
  });

  test("a representative mix of traffic behaves as expected", async () => {
    const gjson = { "content-type": "application/json", "x-goog-api-key": AUTH_KEY };
    const gbody = JSON.stringify({ contents: [{ parts: [{ text: "hi" }] }] });
    const flash = "/api/google-ai-studio/v1beta/models/gemini-2.5-flash:generateContent";

    // Native Gemini: plain, after a 429 (rotation), after an invalid key (block), via ?key=, streamed, listing.
    assert.equal((await drain(await raw(flash, { method: "POST", headers: gjson, body: gbody }))).status, 200);
    mock.queue(gemini.rateLimited());
    assert.equal((await drain(await raw(flash, { method: "POST", headers: gjson, body: gbody }))).status, 200);
    mock.queue(gemini.invalidKey());
    assert.equal((await drain(await raw(flash.replace("flash", "pro"), { method: "POST", headers: gjson, body: gbody }))).status, 200);
    const viaQuery = await raw(`${flash.replace("flash", "flash-lite")}?key=${AUTH_KEY}`, {
      method: "POST",
      headers: { "content-type": "application/json", cookie: `sid=${AUTH_KEY}` },
      body: gbody,
    });
    assert.equal((await drain(viaQuery)).status, 200);
    const sse = await raw("/api/google-ai-studio/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", { method: "POST", headers: gjson, body: gbody });
    assert.equal(sse.status, 200);
    assert.match(await sse.text(), /"text":"c"/);
    assert.equal((await drain(await raw("/api/google-ai-studio/v1beta/models", { headers: { "x-goog-api-key": AUTH_KEY } }))).status, 200);
    // Gemini's own OpenAI-compatible path with Bearer.
    const openaiPath = await raw("/api/google-ai-studio/v1beta/openai/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${AUTH_KEY}` },
      body: JSON.stringify({ model: "gemini-2.5-flash", messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal((await drain(openaiPath)).status, 200);

    // Google's SDK.
    const ai = new GoogleGenAI({
      apiKey: AUTH_KEY,
      httpOptions: { baseUrl: `${worker.url}/api/google-ai-studio`, apiVersion: "v1beta", timeout: 15_000, fetch: recordingFetch("genai") },
    });
    assert.equal((await ai.models.generateContent({ model: "gemini-2.5-flash", contents: "hi" })).text, "native ok");
    let streamed = "";
    for await (const chunk of await ai.models.generateContentStream({ model: "gemini-2.5-flash", contents: "hi" })) streamed += chunk.text;
    assert.equal(streamed, "abc");

    // Native OpenAI and Anthropic, with a rotation on OpenAI (rate limit, then spent quota).
    const ojson = { "content-type": "application/json", authorization: `Bearer ${AUTH_KEY}` };
    mock.queue(openaiReplies.rateLimited(), openaiReplies.insufficientQuota());
    const native = await raw("/api/openai/chat/completions", { method: "POST", headers: ojson, body: JSON.stringify({ model: "gpt-4o-mini", messages: [] }) });
    assert.equal((await drain(native)).status, 200);
    const claude = await raw("/api/anthropic/v1/messages", {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": AUTH_KEY, "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 8, messages: [] }),
    });
    assert.equal((await drain(claude)).status, 200);

    // The compat API through the openai SDK: plain, streamed, rotation, embeddings, models.
    const client = new OpenAI({ apiKey: AUTH_KEY, baseURL: `${worker.url}/api/compat`, maxRetries: 0, timeout: 15_000, fetch: recordingFetch("openai-sdk") });
    const chat = (model, extra = {}) => client.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }], ...extra });
    assert.equal((await chat("google-ai-studio/gemini-2.5-flash")).choices[0].message.content, "gemini compat ok");
    mock.queue(openrouter.rateLimited());
    assert.equal((await chat("openrouter/meta-llama/llama-3-8b-instruct")).choices[0].message.content, "openrouter ok");
    let text = "";
    for await (const c of await chat("google-ai-studio/gemini-2.5-flash", { stream: true })) text += c.choices[0]?.delta?.content ?? "";
    assert.equal(text, "你好 👋");
    text = "";
    for await (const c of await chat("openai/gpt-4o-mini", { stream: true })) text += c.choices[0]?.delta?.content ?? "";
    assert.equal(text, "xy");
    assert.equal((await client.embeddings.create({ model: "openai/text-embedding-3-small", input: "x", encoding_format: "float" })).data[0].embedding[0], 0.5);
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert.ok(ids.includes("openai/gpt-4o-mini") && ids.includes("google-ai-studio/gemini-2.5-flash"), ids.join(","));

    // Errors: the Worker's own and the upstream's.
    await assert.rejects(chat("no-slash"), OpenAI.BadRequestError);
    const stranger = new OpenAI({ apiKey: `${AUTH_KEY}-wrong`, baseURL: `${worker.url}/api/compat`, maxRetries: 0, fetch: recordingFetch("stranger") });
    await assert.rejects(stranger.chat.completions.create({ model: "openai/gpt-4o-mini", messages: [] }), OpenAI.AuthenticationError);
    mock.queue(openaiReplies.badRequest());
    await assert.rejects(chat("openai/gpt-4o-mini"), OpenAI.BadRequestError);
    assert.equal((await drain(await raw("/api/nope/v1/x", { method: "POST", headers: ojson, body: "{}" }))).status, 404);
    assert.equal((await drain(await raw("/api/openai/chat/completions", { method: "POST", headers: ojson, body: "{}" }))).status, 400);
    // Every OpenAI key rate-limited or spent: the client sees the last upstream 429.
    mock.queue(openaiReplies.rateLimited(), openaiReplies.rateLimited(), openaiReplies.rateLimited());
    const allLimited = await raw("/api/openai/chat/completions", { method: "POST", headers: ojson, body: JSON.stringify({ model: "gpt-4o", messages: [] }) });
    assert.equal((await drain(allLimited)).status, 429);

    // Let the waitUntil writes of this traffic land (they are part of what must not leak).
    await waitFor(async () => (await worker.d1.first("SELECT count(*) AS n FROM keys WHERE status = 'blocked'")).n === 1, { message: "the block" });
    await waitFor(async () => (await worker.d1.first(`SELECT count(*) AS n FROM keys WHERE json_extract(model_coolings, '$."*".end_at') > 0`)).n >= 1, {
      message: "the spent OpenAI key",
    });

    // The scheduled re-check probes keys that are out of the pool with their own key: make them due now, run it.
    await worker.d1.run(`UPDATE keys SET check_after = 0 WHERE status = 'blocked' OR json_extract(model_coolings, '$."*".end_at') > 0`);
    const beforeProbes = mock.requests.length;
    await worker.dispatchScheduled();
    await worker.waitForLog(/scheduled re-check: probed [1-9]\d* keys/);
    assert.ok(mock.requests.length >= beforeProbes + 2, "the re-check probed the blocked and the spent key upstream");
    assert.ok(mock.requests.length >= 25, `${mock.requests.length} upstream requests`);
  });

  test("the service key appears nowhere: upstream, logs or responses", async () => {
    const got = await Promise.all(responses);
    assert.ok(got.length >= 20);
    for (const req of mock.requests) {
      for (const text of [req.url, req.rawHeaders.join("\n"), req.body.toString("latin1"), req.text()]) {
        assert.ok(!leaks(text, AUTH_KEY), `service key in upstream request ${req.method} ${req.path}`);
      }
    }
    assert.ok(!leaks(worker.logs.join("\n"), AUTH_KEY), "service key in the Worker's logs");
    for (const r of got) {
      assert.ok(!leaks(JSON.stringify(r.headers) + r.body, AUTH_KEY), `service key in the response to ${r.what}`);
    }
  });

  test("each pool key travels only in its one upstream header, and nowhere else", async () => {
    const all = Object.entries(pools).flatMap(([provider, keys]) => keys.map((k) => ({ ...k, provider })));
    const used = new Set();
    for (const req of mock.requests) {
      const carriers = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const [name, value] = [req.rawHeaders[i].toLowerCase(), req.rawHeaders[i + 1]];
        for (const k of all) if (leaks(value, k.key)) carriers.push({ name, value, k });
      }
      assert.equal(carriers.length, 1, `exactly one pool key header on ${req.method} ${req.path}: ${carriers.map((c) => c.name)}`);
      const [{ name, value, k }] = carriers;
      const [header, expectedValue, provider] = expectedPlacement(req.path, k.key);
      assert.equal(name, header, `${req.path}: the key belongs in ${header}`);
      assert.equal(value, expectedValue);
      assert.equal(k.provider, provider, "a key of the provider the request is for");
      used.add(k.id);
      for (const other of all) {
        assert.ok(!leaks(req.url, other.key), `a pool key in the URL of ${req.path}`);
        assert.ok(!leaks(req.body.toString("latin1"), other.key), `a pool key in the body of ${req.path}`);
      }
    }
    assert.ok(used.size >= 6, `${used.size} different pool keys were used`);
    const logs = worker.logs.join("\n");
    const got = await Promise.all(responses);
    for (const k of all) {
      assert.ok(!leaks(logs, k.key), `pool key ${k.short} in the Worker's logs`);
      for (const r of got) assert.ok(!leaks(JSON.stringify(r.headers) + r.body, k.key), `pool key ${k.short} in the response to ${r.what}`);
    }
  });
});
