// The proxy's guards against the built Worker in workerd, each written as the attack it stops:
// - model allow-lists that hold: every place a provider lets a request name a model is checked for a model-restricted
//   service key (Azure deployments, Workers AI paths, Gemini tuned models, ElevenLabs model_id, OpenRouter's
//   fallback list, a Responses tool's model): 403 before any key is used;
// - no client can take keys out of the pool: OpenRouter's 402 "fewer max_tokens" goes back to the client, every key
//   stays as it was;
// - guessing service keys on the proxy routes is limited per client (the /64 of an IPv6 address): the right key from a
//   locked-out address is refused too;
// - bounded reads: a 60 MB chunked body is cut off at the 25 MiB limit, workerd's memory stays flat; a chunked body
//   that also declares a small content-length too;
// - no leaks: only allowed upstream response headers reach the client (no organisation or project ids, no cookies);
//   an upstream error body that echoes the pool key is masked; AI Gateway's cache is scoped to one service key.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "../harness/worker.mjs";
import { startMock } from "../harness/mock-upstream.mjs";
import { gemini, openai, openrouter } from "../harness/providers.mjs";
import { keyRow, seedKeys, timedFetch } from "./support/pool.mjs";
import { chunkedPost, workerdRss } from "./support/http.mjs";

const ADMIN_KEY = "ob-e2e-proxy-guard-admin-51c9a7";
const CHEAP = "cheap-client-key-0123";
const CHEAP_SCOPE = [
  "azure-openai,gpt-4o-mini",
  "workers-ai,@cf/meta/llama-3.1-8b-instruct",
  "google-ai-studio,gemini-2.5-flash",
  "elevenlabs,eleven_flash_v2_5",
  "openrouter,openai/gpt-4o-mini",
  "openai,gpt-4o-mini",
].join("&");
const OTHER_CLIENT = "another-client-key-4567";

describe("the proxy's guards", { timeout: 120_000 }, () => {
  let mock;
  let worker;
  before(async () => {
    mock = await startMock();
    worker = await startWorker({ vars: { AUTH_KEY: `${ADMIN_KEY};${CHEAP}=${CHEAP_SCOPE};${OTHER_CLIENT}=openai`, KEY_CACHE_TTL_SECONDS: "0" }, mock });
    for (const provider of ["azure-openai", "workers-ai", "google-ai-studio", "elevenlabs", "openrouter", "openai"]) await seedKeys(worker, provider, 3);
  });
  after(async () => {
    await worker?.stop();
    await mock?.close();
  });

  const send = (path, body, headers = {}) =>
    timedFetch(`${worker.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${CHEAP}`, ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });

  test("a model-restricted key cannot name another model anywhere the provider reads one: 403 before any key is used", async () => {
    mock.reset();
    mock.on(() => true, { status: 200, body: { ok: true } });
    const bypasses = [
      ["an Azure deployment in the path", "/api/azure-openai/my-resource/gpt-4o/chat/completions?api-version=2024-10-21", { messages: [] }],
      ["a Workers AI model in the path", "/api/workers-ai/@cf/meta/llama-3.3-70b-instruct-fp8-fast", { prompt: "hi" }],
      ["a Gemini tuned model", "/api/google-ai-studio/v1beta/tunedModels/my-expensive-tune:generateContent", { contents: [] }],
      ["ElevenLabs model_id", "/api/elevenlabs/v1/text-to-speech/JBFqnCBsd6RMkjVDRZzb", { text: "hi", model_id: "eleven_multilingual_v2" }],
      ["OpenRouter's fallback list", "/api/openrouter/v1/chat/completions", { model: "openai/gpt-4o-mini", models: ["anthropic/claude-opus-4"], messages: [] }],
      [
        "a Responses tool's model",
        "/api/openai/responses",
        { model: "gpt-4o-mini", input: "draw", tools: [{ type: "image_generation", model: "gpt-image-1" }] },
      ],
      ["a model the body names in another spelling", "/api/openai/chat/completions", { model: "gpt-4o-mini", Model: "o3" }],
    ];
    for (const [name, path, body] of bypasses) {
      const res = await send(path, body);
      const text = await res.text();
      assert.equal(res.status, 403, `${name}: ${text}`);
      assert.equal(JSON.parse(text).error.type, "permission_error", name);
    }
    const unreadable = await send("/api/openai/audio/transcriptions", "--boundary\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--boundary--", {
      "content-type": "multipart/form-data; boundary=boundary",
    });
    assert.equal(unreadable.status, 403, "a body whose model cannot be read is refused to a restricted key");
    await unreadable.arrayBuffer();
    assert.equal(mock.requests.length, 0, "no key was used for any of them");

    const allowed = [
      ["/api/azure-openai/my-resource/gpt-4o-mini/chat/completions?api-version=2024-10-21", { messages: [] }],
      ["/api/workers-ai/@cf/meta/llama-3.1-8b-instruct", { prompt: "hi" }],
      ["/api/elevenlabs/v1/text-to-speech/JBFqnCBsd6RMkjVDRZzb", { text: "hi", model_id: "eleven_flash_v2_5" }],
      ["/api/openrouter/v1/chat/completions", { model: "openai/gpt-4o-mini", models: ["openai/gpt-4o-mini"], messages: [] }],
    ];
    for (const [path, body] of allowed) {
      const res = await send(path, body);
      assert.equal(res.status, 200, `${path}: ${await res.text()}`);
    }
    assert.equal(mock.requests.length, allowed.length, "the allowed forms went through");
  });

  test("OpenRouter's 402 for a request's max_tokens goes back to the client, and no key rests", async () => {
    mock.reset();
    mock.on(() => true, openrouter.requestExceedsCredits());
    const rows = await worker.d1.all("SELECT id FROM keys WHERE provider = 'openrouter'");
    for (let i = 0; i < 3; i++) {
      const before = mock.requests.length;
      const res = await timedFetch(`${worker.url}/api/compat/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_KEY}` },
        body: JSON.stringify({ model: "openrouter/openai/gpt-4o-mini", max_tokens: 65_536, messages: [{ role: "user", content: "hi" }] }),
      });
      assert.equal(res.status, 402);
      assert.match((await res.json()).error.message, /fewer max_tokens/);
      assert.equal(mock.requests.length - before, 1, "one attempt: the request is too big, not the key");
    }
    await new Promise((r) => setTimeout(r, 300));
    for (const { id } of rows) {
      const row = await keyRow(worker, id);
      assert.equal(row.status, "active");
      assert.deepEqual(row.coolings, {}, "no key rests for the client's max_tokens");
    }
  });

  test("wrong service keys on the proxy routes are limited per client; the right key from a locked client is refused too", async () => {
    mock.reset();
    mock.on(() => true, gemini.success());
    const path = "/api/google-ai-studio/v1beta/models/gemini-2.5-flash:generateContent";
    const body = { contents: [{ parts: [{ text: "hi" }] }] };
    const as = (key, ip) => send(path, body, { authorization: `Bearer ${key}`, "cf-connecting-ip": ip });
    const statuses = [];
    for (let i = 0; i < 12; i++) {
      const res = await as(`a-wrong-guess-${i}-0123456789`, "2001:db8:1:2::10");
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    assert.deepEqual(statuses.slice(0, 10), Array(10).fill(401), "the budget of wrong keys");
    assert.deepEqual(statuses.slice(10), [429, 429], "then the client is locked out");
    const sameNet = await as(ADMIN_KEY, "2001:db8:1:2::99");
    assert.equal(sameNet.status, 429, "another address of the same /64 is the same client, right key or not");
    assert.ok(Number(sameNet.headers.get("retry-after")) > 0);
    await sameNet.arrayBuffer();
    const elsewhere = await as(ADMIN_KEY, "2001:db8:1:3::10");
    assert.equal(elsewhere.status, 200, "another client is not affected");
    await elsewhere.arrayBuffer();
  });

  test("a 60 MB chunked body is cut off at the limit with 413 (even when it declares a small content-length), and workerd's memory stays flat", async (t) => {
    mock.reset();
    mock.on(() => true, gemini.success());
    const before = workerdRss();
    assert.ok(before > 0, "workerd's RSS is readable");
    for (let i = 0; i < 2; i++) {
      const answer = await chunkedPost(worker.url, "/api/google-ai-studio/v1beta/models/gemini-2.5-flash:generateContent", 60 * 1024 * 1024, {
        "content-type": "application/json",
        "x-goog-api-key": ADMIN_KEY,
      });
      assert.ok(answer.status === 413 || answer.reset, `413 or a reset after the limit (${JSON.stringify({ status: answer.status, sent: answer.sentBytes })})`);
      assert.ok(answer.sentBytes < 40 * 1024 * 1024, `cut off near the 25 MiB limit, not read to the end (${answer.sentBytes} bytes sent)`);
    }
    const grown = workerdRss() - before;
    t.diagnostic(`workerd RSS grew by ${(grown / 1048576).toFixed(1)} MB`);
    assert.ok(grown < 80 * 1024 * 1024, `memory stayed bounded (+${(grown / 1048576).toFixed(1)} MB)`);
    // workerd reads a chunked body whatever content-length says, so a small declared length must not be taken for
    // the body's: the read is still cut off at the limit.
    const declared = await chunkedPost(worker.url, "/api/google-ai-studio/v1beta/models/gemini-2.5-flash:generateContent", 60 * 1024 * 1024, {
      "content-type": "application/json",
      "content-length": "100",
      "transfer-encoding": "chunked",
      "x-goog-api-key": ADMIN_KEY,
    });
    assert.ok(declared.status === 413 || declared.reset, `413 or a reset after the limit (${JSON.stringify({ status: declared.status, sent: declared.sentBytes })})`);
    assert.ok(declared.sentBytes > 1024 * 1024, `the declared length did not end the read (${declared.sentBytes} bytes sent)`);
    assert.ok(declared.sentBytes < 40 * 1024 * 1024, `cut off near the 25 MiB limit, not read to the end (${declared.sentBytes} bytes sent)`);
    assert.equal(mock.requests.length, 0, "no key was used");
  });

  test("only allowed upstream headers reach the client, on answers passed through and on errors replayed", async () => {
    mock.reset();
    const leaky = {
      "openai-organization": "org-SECRET0rg",
      "openai-project": "proj_SECRETproject",
      "anthropic-organization-id": "0f0e-secret-org",
      "set-cookie": "__cf_bm=secret; path=/",
      "x-request-id": "req_123",
      "x-ratelimit-remaining-requests": "99",
    };
    mock.queue({ ...openai.chatCompletion(), headers: { ...openai.chatCompletion().headers, ...leaky } });
    mock.queue({ ...openai.badRequest(), headers: { ...openai.badRequest().headers, ...leaky } });
    for (const expected of [200, 400]) {
      const res = await send("/api/openai/chat/completions", { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }, { authorization: `Bearer ${ADMIN_KEY}` });
      assert.equal(res.status, expected);
      await res.arrayBuffer();
      for (const name of ["openai-organization", "openai-project", "anthropic-organization-id", "set-cookie"]) {
        assert.equal(res.headers.get(name), null, `${name} stays behind (${expected})`);
      }
      assert.equal(res.headers.get("x-request-id"), "req_123", "request ids pass");
      assert.equal(res.headers.get("x-ratelimit-remaining-requests"), "99", "rate-limit figures pass");
    }
  });

  test("an upstream error body that echoes the pool key is masked before the client sees it", async () => {
    await worker.d1.exec("DELETE FROM keys WHERE provider = 'groq'");
    const [only] = await seedKeys(worker, "groq", [{ key: "gsk_live_9f8e7d6c5b4a3210ZYXWVUTsecretTAIL" }]);
    mock.reset();
    mock.on(() => true, {
      status: 401,
      headers: { "content-type": "application/json" },
      body: { error: { message: `Invalid API Key: ${only.key.slice(0, 12)}...${only.key.slice(-4)} (full: ${only.key})`, type: "invalid_request_error", code: "invalid_api_key" } },
    });
    const res = await send("/api/groq/chat/completions", { model: "llama-3.1-8b-instant", messages: [] }, { authorization: `Bearer ${ADMIN_KEY}` });
    const text = await res.text();
    assert.equal(res.status, 401);
    assert.ok(!text.includes(only.key), "the whole key is masked");
    assert.ok(!text.includes(only.key.slice(0, 12)), "its first characters are masked");
    assert.ok(!text.includes("secretTAIL"), "its last characters are masked");
    JSON.parse(text);
  });

  test("AI Gateway's cache is scoped to the service key: same client cache key, different service keys, different entries", async () => {
    mock.reset();
    mock.on(() => true, openai.chatCompletion());
    const body = { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] };
    for (const key of [ADMIN_KEY, OTHER_CLIENT]) {
      const res = await send("/api/openai/chat/completions", body, { authorization: `Bearer ${key}`, "cf-aig-cache-key": "conversation-1", "cf-aig-cache-ttl": "60" });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
    const [a, b] = mock.requests.map((r) => r.headers["cf-aig-cache-key"]);
    assert.ok(a && b && a !== b, `two service keys, two cache keys (${a}, ${b})`);
    assert.ok(!a.includes("conversation-1"), "the client's key is not sent as it is");
    assert.equal(mock.requests[0].headers["cf-aig-cache-ttl"], "60", "a scoped cache may keep its ttl");
    const plain = await send("/api/openai/chat/completions", body, { authorization: `Bearer ${ADMIN_KEY}`, "cf-aig-cache-ttl": "60" });
    await plain.arrayBuffer();
    const last = mock.requests.at(-1).headers;
    assert.equal(last["cf-aig-skip-cache"], "true", "no cache key named: the gateway's cache is skipped");
    assert.equal(last["cf-aig-cache-ttl"], undefined);
  });
});
