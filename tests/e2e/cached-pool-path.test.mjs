// The synchronous path: once a provider's pool is cached, a native request never waits on D1 and goes straight to
// the JS relay (src/edge/js/hot_path.js), which reads the body and hands every decision to the Rust `Forwarding`.
// Each test first warms the pool with one request, then checks that this path keeps every rule of the slow one:
// the body replayed byte for byte on the next key, the model rules applied to a body read in JS, size limits and
// refusals answered before any key is used.
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { startWorker } from "../harness/worker.mjs";
import { startMock } from "../harness/mock-upstream.mjs";
import { gemini, openai } from "../harness/providers.mjs";
import { attemptsOf, seedKeys, timedFetch } from "./support/pool.mjs";

const AUTH_KEY = "ob-e2e-cached-pool-4b8e2c7d19a6";
const FLASH_ONLY = "ob-e2e-cached-flash-only-5d21a9c3";
const FLASH = "gemini-2.5-flash";

let mock;
let worker;

const geminiUrl = (model) => `${worker.url}/api/google-ai-studio/v1beta/models/${model}:generateContent`;

function post(url, body, { key = AUTH_KEY, headers = {} } = {}) {
  return timedFetch(url, { method: "POST", headers: { "content-type": "application/json", "x-goog-api-key": key, ...headers }, body });
}

/** One successful request, so the pool of the provider is cached before the request under test. */
async function warm(url, body) {
  mock.queue(gemini.success({ text: "warm-up" }));
  const res = await post(url, body);
  const text = await res.text();
  assert.equal(res.status, 200, text);
  mock.reset();
}

before(async () => {
  mock = await startMock();
  // The default cache period (60 s): every request after the warm-up finds the pool cached.
  worker = await startWorker({ vars: { AUTH_KEY: `${AUTH_KEY};${FLASH_ONLY}=google-ai-studio,${FLASH}` }, mock });
});
after(async () => {
  await worker?.stop();
  await mock?.close();
});
beforeEach(async () => {
  mock.reset();
  await worker.d1.exec("DELETE FROM keys");
});

describe("a native request with the pool cached", { timeout: 60_000 }, () => {
  test("a 429 moves to the next key with the same body bytes, and the client sees only the 200", async () => {
    const keys = await seedKeys(worker, "google-ai-studio", 2);
    const body = JSON.stringify({ contents: [{ role: "user", parts: [{ text: "héllo 👋 — replay me" }] }] });
    await warm(geminiUrl("gemini-2.5-pro"), body);
    mock.queue(gemini.rateLimited({ retryDelay: "37s", model: FLASH }), gemini.success({ text: "second key" }));

    const res = await post(geminiUrl(FLASH), body);
    assert.equal(res.status, 200);
    assert.equal((await res.json()).candidates[0].content.parts[0].text, "second key");
    assert.equal(mock.requests.length, 2);
    const [first, second] = mock.requests;
    assert.equal(first.text(), body);
    assert.equal(second.text(), body);
    assert.notEqual(first.headers["x-goog-api-key"], second.headers["x-goog-api-key"]);
    const pool = new Set(keys.map((k) => k.key));
    assert.ok(pool.has(first.headers["x-goog-api-key"]) && pool.has(second.headers["x-goog-api-key"]));
    assert.deepEqual(attemptsOf(res).map((a) => a.verdict), ["rate_limited", "ok"]);
    // The key the client sent is never forwarded, nor is any header outside the allow-list.
    for (const req of mock.requests) {
      assert.ok(!JSON.stringify(req.headers).includes(AUTH_KEY));
      assert.equal(req.headers.cookie, undefined);
    }
  });

  test("the model named in a body read by the relay is checked: conflict 400, refused model 403, no key used", async () => {
    await seedKeys(worker, "google-ai-studio", 2);
    await warm(geminiUrl(FLASH), "{}");

    const conflict = await post(geminiUrl(FLASH), JSON.stringify({ model: "gemini-2.5-pro", contents: [] }));
    assert.equal(conflict.status, 400);
    assert.equal((await conflict.json()).error.code, "conflicting_model");

    const openaiPath = `${worker.url}/api/google-ai-studio/v1beta/openai/chat/completions`;
    const refused = await post(openaiPath, JSON.stringify({ model: "gemini-2.5-pro", messages: [] }), { key: FLASH_ONLY });
    assert.equal(refused.status, 403);
    assert.equal((await refused.json()).error.type, "permission_error");

    const missing = await post(openaiPath, JSON.stringify({ messages: [] }));
    assert.equal(missing.status, 400);
    assert.equal((await missing.json()).error.code, "missing_model");
    assert.equal(mock.requests.length, 0);
  });

  test("a body-named model is forwarded when allowed, with the body untouched", async () => {
    await seedKeys(worker, "google-ai-studio", 1);
    await warm(geminiUrl(FLASH), "{}");
    mock.on({ path: "/google-ai-studio/v1beta/openai/chat/completions" }, openai.chatCompletion({ model: FLASH }));
    const body = `{"model":"${FLASH}","messages":[{"role":"user","content":"hi"}],"extra":{"keep":[1,2,3]}}`;
    const res = await post(`${worker.url}/api/google-ai-studio/v1beta/openai/chat/completions`, body, { key: FLASH_ONLY });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(mock.requests.length, 1);
    assert.equal(mock.requests[0].text(), body);
  });

  test("a body declared over 25 MiB is refused with 413 before it is read or any key is used", async () => {
    await seedKeys(worker, "google-ai-studio", 1);
    await warm(geminiUrl(FLASH), "{}");
    // A raw request: fetch will not declare a length its body does not have.
    const status = await new Promise((resolve, reject) => {
      const headers = { "content-type": "application/json", "x-goog-api-key": AUTH_KEY, "content-length": 26 * 1024 * 1024 };
      const req = request(geminiUrl(FLASH), { method: "POST", headers }, (res) => {
        res.resume();
        resolve(res.statusCode);
        req.destroy();
      });
      req.on("error", reject);
      req.write("{");
    });
    assert.equal(status, 413);
    assert.equal(mock.requests.length, 0);
  });
});
