// Direct mode (src/upstream.rs `route`, src/config.rs DIRECT_PROVIDERS / DIRECT_BASE_URLS), end to end: providers
// listed in DIRECT_PROVIDERS skip AI Gateway and go to their own base URL (here replaced by a second mock through
// DIRECT_BASE_URLS), with no provider slug in the path and no cf-aig-* headers; everything else still goes through the
// gateway. Without any gateway configured, every provider goes direct. A bad value is a 500 naming the variable.
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { startWorker } from "../harness/worker.mjs";
import { deferred, startMock } from "../harness/mock-upstream.mjs";
import { gemini, openai } from "../harness/providers.mjs";
import { withTimeout } from "../harness/project.mjs";
import { attemptsOf, waitFor } from "./support/pool.mjs";

const AUTH_KEY = "ob-e2e-direct-mode-51e7a0c94d2f";
const FLASH = "gemini-2.5-flash";
const nowS = () => Math.floor(Date.now() / 1000);

function fakeKey(provider) {
  const text = randomBytes(30).toString("base64url").slice(0, 33);
  return provider === "google-ai-studio" ? `AIzaSy${text}` : `sk-proj-${text}`;
}

async function seed(worker, provider, count, { status = "active", checkAfter = null } = {}) {
  const out = [];
  for (let i = 0; i < count; i++) {
    const id = randomUUID();
    const key = fakeKey(provider);
    await worker.d1.run(
      "INSERT INTO keys (id, key, provider, status, check_after) VALUES (?, ?, ?, ?, ?)",
      id,
      key,
      provider,
      status,
      checkAfter,
    );
    out.push({ id, key, short: id.slice(0, 8) });
  }
  return out;
}


function generate(worker, { model = FLASH, stream = false } = {}) {
  const method = stream ? "streamGenerateContent?alt=sse" : "generateContent";
  return fetch(`${worker.url}/api/google-ai-studio/v1beta/models/${model}:${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-goog-api-key": AUTH_KEY },
    body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hi" }] }] }),
    signal: AbortSignal.timeout(15_000),
  });
}

function chat(worker) {
  return fetch(`${worker.url}/api/openai/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${AUTH_KEY}` },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
    signal: AbortSignal.timeout(15_000),
  });
}

/** No header that only makes sense for AI Gateway, and nothing of the caller's credentials. */
function assertPlainDirectRequest(req) {
  for (const name of Object.keys(req.headers)) assert.ok(!name.startsWith("cf-aig-"), `no AI Gateway header upstream (${name})`);
  assert.ok(!JSON.stringify(req.rawHeaders).includes(AUTH_KEY), "the service key never travels upstream");
  assert.ok(!req.url.includes(AUTH_KEY));
}

describe("DIRECT_PROVIDERS with a gateway configured", { timeout: 60_000 }, () => {
  let gateway;
  let direct;
  let worker;
  before(async () => {
    gateway = await startMock();
    direct = await startMock();
    worker = await startWorker({
      vars: {
        AUTH_KEY,
        DIRECT_PROVIDERS: "google-ai-studio",
        DIRECT_BASE_URLS: `google-ai-studio=${direct.url}/`,
        KEY_CACHE_TTL_SECONDS: "0",
        CLOUDFLARE_ACCOUNT_ID: "0123456789abcdef0123456789abcdef",
      },
      mock: gateway, // AI_GATEWAY_BASE_URL = the gateway mock
    });
  });
  after(async () => {
    await worker?.stop();
    await Promise.all([gateway?.close(), direct?.close()]);
  });
  beforeEach(async () => {
    gateway.reset();
    direct.reset();
    await worker.d1.exec("DELETE FROM keys");
  });

  test("a Gemini request goes to the provider's own base, without the slug, with the pool key", async () => {
    const [k] = await seed(worker, "google-ai-studio", 1);
    direct.on({ method: "POST", path: `/v1beta/models/${FLASH}:generateContent` }, gemini.success({ text: "direct hello" }));
    const res = await fetch(`${worker.url}/api/google-ai-studio/v1beta/models/${FLASH}:generateContent?key=${AUTH_KEY}&foo=bar`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hi" }] }] }),
      signal: AbortSignal.timeout(15_000),
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal((await res.json()).candidates[0].content.parts[0].text, "direct hello");

    assert.equal(direct.requests.length, 1);
    const req = direct.requests[0];
    assert.equal(req.path, `/v1beta/models/${FLASH}:generateContent`, "no google-ai-studio segment in a direct path");
    assert.equal(req.query, "foo=bar", "the client's query minus key=");
    assert.equal(req.headers["x-goog-api-key"], k.key);
    assert.deepEqual(JSON.parse(req.text()), { contents: [{ role: "user", parts: [{ text: "hi" }] }] });
    assertPlainDirectRequest(req);
    assert.deepEqual(attemptsOf(res), [{ id: k.short, verdict: "ok" }]);
    assert.equal(gateway.requests.length, 0, "the gateway saw nothing");
  });

  test("streaming is passed through chunk by chunk", async () => {
    const [k] = await seed(worker, "google-ai-studio", 1);
    const reply = gemini.stream({ texts: ["one", " two", " three"] });
    const gates = [deferred(), deferred()];
    reply.chunks[1].after = gates[0].promise;
    reply.chunks[2].after = gates[1].promise;
    direct.on({ method: "POST", path: `/v1beta/models/${FLASH}:streamGenerateContent` }, reply);

    const res = await generate(worker, { stream: true });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let text = "";
    const readUntil = (needle) =>
      withTimeout(
        (async () => {
          while (!text.includes(needle)) {
            const { value, done } = await reader.read();
            if (done) throw new Error(`stream ended before ${needle}`);
            text += decoder.decode(value, { stream: true });
          }
        })(),
        8_000,
        `waiting for ${needle} in the stream`,
      );
    try {
      await readUntil('"one"');
      assert.ok(!text.includes('"two"'), "the second event was not sent yet");
      gates[0].resolve();
      await readUntil('" two"');
      assert.ok(!text.includes("three"), "the third event was not sent yet");
      gates[1].resolve();
      await withTimeout(
        (async () => {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            text += decoder.decode(value, { stream: true });
          }
        })(),
        8_000,
        "the end of the stream",
      );
    } finally {
      gates.forEach((g) => g.resolve());
      reader.releaseLock();
    }
    const sent = reply.chunks.map((c) => c.data).join("");
    assert.equal(text, sent, "the bytes arrive unchanged");
    const req = direct.requests[0];
    assert.equal(req.path, `/v1beta/models/${FLASH}:streamGenerateContent`);
    assert.equal(req.query, "alt=sse");
    assert.equal(req.headers["x-goog-api-key"], k.key);
    assert.equal(gateway.requests.length, 0);
  });

  test("a 429 rotates to another key, and the limited key cools", async () => {
    const keys = await seed(worker, "google-ai-studio", 2);
    direct.queue(gemini.rateLimited({ retryDelay: "30s" }), gemini.success({ text: "second key" }));
    const t0 = nowS();
    const res = await generate(worker);
    assert.equal(res.status, 200);
    assert.equal((await res.json()).candidates[0].content.parts[0].text, "second key");
    const t1 = nowS();
    assert.equal(direct.requests.length, 2);
    const [first, second] = direct.requests.map((r) => r.headers["x-goog-api-key"]);
    assert.notEqual(first, second, "two distinct keys");
    assert.deepEqual(new Set([first, second]), new Set(keys.map((k) => k.key)));
    for (const r of direct.requests) assert.equal(r.path, `/v1beta/models/${FLASH}:generateContent`);
    assert.deepEqual(attemptsOf(res).map((a) => a.verdict), ["rate_limited", "ok"]);
    assert.equal(gateway.requests.length, 0);

    const limited = keys.find((k) => k.key === first);
    const row = await waitFor(async () => {
      const r = await worker.d1.first("SELECT model_coolings FROM keys WHERE id = ?", limited.id);
      return r?.model_coolings ? JSON.parse(r.model_coolings) : null;
    }, { message: "the limited key's cooldown in D1" });
    assert.ok(row[FLASH], JSON.stringify(row));
    assert.ok(row[FLASH].end_at >= t0 + 32 && row[FLASH].end_at <= t1 + 32, `RetryInfo 30s + 2 s (end_at - t0 = ${row[FLASH].end_at - t0})`);
  });

  test("an error passes through from the direct upstream as it does through the gateway", async () => {
    await seed(worker, "google-ai-studio", 1);
    direct.on(() => true, gemini.badRequest());
    const res = await generate(worker);
    assert.equal(res.status, 400);
    assert.equal((await res.json()).error.status, "INVALID_ARGUMENT");
    assert.equal(gateway.requests.length, 0);
  });

  test("a provider not listed still goes through the gateway", async () => {
    const [k] = await seed(worker, "openai", 1);
    gateway.on({ method: "POST", path: "/openai/chat/completions" }, openai.chatCompletion({ content: "via gateway" }));
    const res = await chat(worker);
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal((await res.json()).choices[0].message.content, "via gateway");
    assert.equal(gateway.requests.length, 1);
    assert.equal(gateway.requests[0].path, "/openai/chat/completions");
    assert.equal(gateway.requests[0].headers.authorization, `Bearer ${k.key}`);
    assert.ok(gateway.requests[0].headers["cf-aig-metadata"], "gateway requests carry cf-aig-metadata");
    assert.equal(direct.requests.length, 0);
  });

  test("the scheduled re-check probes a direct provider's key at its own base too", async () => {
    const [k] = await seed(worker, "google-ai-studio", 1, { status: "blocked", checkAfter: nowS() - 60 });
    direct.on({ method: "GET", path: "/v1beta/models" }, { status: 200, body: { models: [] } });
    const result = await worker.dispatchScheduled();
    assert.equal(result.outcome, "ok");
    assert.equal(direct.requests.length, 1);
    assert.equal(direct.requests[0].path, "/v1beta/models");
    assert.equal(direct.requests[0].headers["x-goog-api-key"], k.key);
    assertPlainDirectRequest(direct.requests[0]);
    assert.equal(gateway.requests.length, 0);
    const row = await worker.d1.first("SELECT status FROM keys WHERE id = ?", k.id);
    assert.equal(row.status, "active");
  });
});

describe("no gateway configured at all", { timeout: 60_000 }, () => {
  let direct;
  let worker;
  before(async () => {
    direct = await startMock();
    // No mock: the harness sets no AI_GATEWAY_BASE_URL; the template's CLOUDFLARE_ACCOUNT_ID is "" — made explicit.
    worker = await startWorker({
      vars: {
        AUTH_KEY,
        CLOUDFLARE_ACCOUNT_ID: "",
        DIRECT_BASE_URLS: `google-ai-studio=${direct.url}, openai=${direct.url}/v1`,
        KEY_CACHE_TTL_SECONDS: "0",
      },
    });
  });
  after(async () => {
    await worker?.stop();
    await direct?.close();
  });
  beforeEach(() => direct.reset());

  test("Gemini and OpenAI requests both go direct", async () => {
    const [g] = await seed(worker, "google-ai-studio", 1);
    const [o] = await seed(worker, "openai", 1);
    direct.on({ method: "POST", path: `/v1beta/models/${FLASH}:generateContent` }, gemini.success({ text: "g direct" }));
    direct.on({ method: "POST", path: "/v1/chat/completions" }, openai.chatCompletion({ content: "o direct" }));

    const gres = await generate(worker);
    assert.equal(gres.status, 200, await gres.clone().text());
    assert.equal((await gres.json()).candidates[0].content.parts[0].text, "g direct");
    const ores = await chat(worker);
    assert.equal(ores.status, 200, await ores.clone().text());
    assert.equal((await ores.json()).choices[0].message.content, "o direct");

    assert.deepEqual(direct.requests.map((r) => r.path), [`/v1beta/models/${FLASH}:generateContent`, "/v1/chat/completions"]);
    assert.equal(direct.requests[0].headers["x-goog-api-key"], g.key);
    assert.equal(direct.requests[1].headers.authorization, `Bearer ${o.key}`);
    direct.requests.forEach(assertPlainDirectRequest);
  });

  test("a provider with no direct base answers 500 telling the operator to configure AI Gateway", async () => {
    await seed(worker, "workers-ai", 1);
    const res = await fetch(`${worker.url}/api/workers-ai/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${AUTH_KEY}` },
      body: JSON.stringify({ model: "@cf/meta/llama-3.1-8b-instruct", messages: [{ role: "user", content: "hi" }] }),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    assert.equal(res.status, 500, text);
    assert.match(text, /CLOUDFLARE_ACCOUNT_ID/);
    assert.equal(direct.requests.length, 0);
  });
});

describe("bad direct-mode configuration", { timeout: 60_000, concurrency: true }, () => {
  for (const [name, vars, variable, detail] of [
    ["an unknown slug in DIRECT_PROVIDERS", { DIRECT_PROVIDERS: "google-ai-studio, gemini" }, "DIRECT_PROVIDERS", /gemini/],
    ["a provider without a direct base in DIRECT_PROVIDERS", { DIRECT_PROVIDERS: "workers-ai" }, "DIRECT_PROVIDERS", /workers-ai/],
    ["a pair without = in DIRECT_BASE_URLS", { DIRECT_BASE_URLS: "google-ai-studio" }, "DIRECT_BASE_URLS", /slug=url/],
    ["a non-http URL in DIRECT_BASE_URLS", { DIRECT_BASE_URLS: "openai=ftp://relay" }, "DIRECT_BASE_URLS", /https:\/\//],
  ]) {
    test(`${name} answers 500 naming the variable`, async () => {
      const mock = await startMock();
      const worker = await startWorker({ vars: { AUTH_KEY, ...vars }, mock });
      try {
        await seed(worker, "google-ai-studio", 1);
        const res = await generate(worker);
        const text = await res.text();
        assert.equal(res.status, 500, text);
        assert.ok(text.includes(variable), `the message names ${variable}: ${text}`);
        assert.match(text, detail);
        assert.equal(mock.requests.length, 0, "nothing was sent anywhere");
        const health = await worker.fetch("/health");
        assert.equal(health.status, 200, "the health check still answers");
        await health.arrayBuffer();
      } finally {
        await worker.stop();
        await mock.close();
      }
    });
  }
});
