// The native proxy (/api/{provider}/…) driven with raw HTTP, as curl would: forwarding, streaming, where the
// service key may be presented, what never travels upstream or back, the Worker's own errors (auth, routing, empty
// pool, misconfiguration) and upstream time-outs.
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "../harness/worker.mjs";
import { deferred, startMock } from "../harness/mock-upstream.mjs";
import { gemini, openai } from "../harness/providers.mjs";
import { attemptsOf, keyRow, readUntil, seedKeys, timedFetch } from "./support/pool.mjs";

const AUTH_KEY = "ob-e2e-native-proxy-4b8e2f61c0d3";
const FLASH_ONLY_KEY = "ob-e2e-native-proxy-flash-only-93ad";
const EXPIRED_KEY = "ob-e2e-native-proxy-expired-1c7e";
// One unrestricted key, one limited to Gemini 2.5 Flash, one that expired in 2001.
const AUTH_KEYS = `${AUTH_KEY};${FLASH_ONLY_KEY}=google-ai-studio,gemini-2.5-flash;${EXPIRED_KEY}(1000000000)`;
const FLASH_PATH = "/api/google-ai-studio/v1beta/models/gemini-2.5-flash:generateContent";
const GEMINI_BODY = JSON.stringify({ contents: [{ role: "user", parts: [{ text: "Write a haiku about keys" }] }] });

/**
 * Asserts the Worker's own error and returns it: OpenAI-shaped, or on Anthropic's native routes (whose clients are
 * Anthropic's SDKs and Claude Code) Anthropic-shaped, `{"type":"error","error":{"type","message"}}`.
 */
async function ownError(res, status, { anthropic = false } = {}) {
  assert.equal(res.status, status);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  const body = await res.json();
  assert.equal(typeof body.error?.message, "string", JSON.stringify(body));
  assert.equal(typeof body.error?.type, "string");
  if (anthropic) assert.equal(body.type, "error", JSON.stringify(body));
  else assert.equal(typeof body.error?.code, "string");
  return body.error;
}

describe("native proxy with raw HTTP", { timeout: 60_000 }, () => {
  let mock;
  let worker;
  let geminiKeys;
  let openaiKeys;
  let anthropicKeys;
  const poolKeys = () => [...geminiKeys, ...openaiKeys, ...anthropicKeys].map((k) => k.key);

  before(async () => {
    mock = await startMock();
    worker = await startWorker({ vars: { AUTH_KEY: AUTH_KEYS, KEY_CACHE_TTL_SECONDS: "0" }, mock });
    geminiKeys = await seedKeys(worker, "google-ai-studio", 2);
    openaiKeys = await seedKeys(worker, "openai", 1);
    anthropicKeys = await seedKeys(worker, "anthropic", 1);
  });
  after(async () => {
    await worker?.stop();
    await mock?.close();
  });
  beforeEach(() => mock.reset());

  test("generateContent with x-goog-api-key goes to the gateway path with a pool key and comes back intact", async () => {
    const reply = gemini.success({ text: "Keys in a pool / …" });
    mock.on({ method: "POST", path: "/google-ai-studio/v1beta/models/gemini-2.5-flash:generateContent" }, reply);
    const res = await timedFetch(`${worker.url}${FLASH_PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-goog-api-key": AUTH_KEY, "x-goog-api-client": "genai-js/3.3.0" },
      body: GEMINI_BODY,
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), reply.headers["content-type"]);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), Buffer.from(JSON.stringify(reply.body)));
    assert.equal(mock.requests.length, 1);
    const up = mock.requests[0];
    assert.equal(up.method, "POST");
    assert.equal(up.query, "");
    assert.ok(geminiKeys.some((k) => k.key === up.headers["x-goog-api-key"]), "a pool key");
    assert.equal(up.headers["content-type"], "application/json");
    assert.equal(up.headers["x-goog-api-client"], "genai-js/3.3.0", "allow-listed headers travel");
    assert.equal(up.text(), GEMINI_BODY, "the body bytes are forwarded unchanged");
    assert.equal(attemptsOf(res).at(-1).verdict, "ok");
  });

  test("?key= authenticates for google-ai-studio and never reaches the upstream; other query parameters do", async () => {
    mock.on(() => true, gemini.success());
    const res = await timedFetch(`${worker.url}${FLASH_PATH}?alt=json&key=${encodeURIComponent(AUTH_KEY)}&$fields=candidates`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: GEMINI_BODY,
    });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    const up = mock.requests[0];
    assert.equal(up.query, "alt=json&$fields=candidates");
    assert.ok(!up.url.includes(AUTH_KEY) && !/[?&]key=/.test(up.url), up.url);
    assert.ok(geminiKeys.some((k) => k.key === up.headers["x-goog-api-key"]));
  });

  test("a Gemini SSE stream arrives chunk by chunk and byte for byte", async () => {
    const reply = gemini.stream({ texts: ["Pooled", " keys", " never", " sleep."] });
    const gate = deferred();
    reply.chunks[1].after = gate.promise;
    mock.on({ method: "POST", path: "/google-ai-studio/v1beta/models/gemini-2.5-flash:streamGenerateContent" }, reply);
    const res = await timedFetch(`${worker.url}/api/google-ai-studio/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-goog-api-key": AUTH_KEY, accept: "text/event-stream" },
      body: GEMINI_BODY,
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/event-stream");
    assert.equal(mock.requests[0].query, "alt=sse");
    const reader = res.body.getReader();
    const state = {};
    try {
      // The first event must arrive while the upstream still holds the second one back.
      await readUntil(reader, state, (t) => t.includes("\r\n\r\n"), { message: "the first SSE event before the gate opens" });
      assert.ok(state.text.includes('"text":"Pooled"'));
      assert.ok(!state.text.includes(" keys"), "the second event cannot have been sent yet");
    } finally {
      gate.resolve();
    }
    await readUntil(reader, state, () => false, { message: "the end of the stream" });
    const expected = Buffer.concat(reply.chunks.map((c) => Buffer.from(c.data)));
    assert.deepEqual(Buffer.concat(state.bytes), expected, "the stream is intact");
  });

  test("Authorization: Bearer works on Gemini's OpenAI-compatible path and the pool key travels as Bearer", async () => {
    mock.on({ path: "/google-ai-studio/v1beta/openai/chat/completions" }, openai.chatCompletion({ model: "gemini-2.5-flash" }));
    const body = JSON.stringify({ model: "gemini-2.5-flash", messages: [{ role: "user", content: "hi" }] });
    const res = await timedFetch(`${worker.url}/api/google-ai-studio/v1beta/openai/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${AUTH_KEY}` },
      body,
    });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).object, "chat.completion");
    const up = mock.requests[0];
    const key = up.headers.authorization?.replace(/^Bearer /, "");
    assert.ok(geminiKeys.some((k) => k.key === key), `authorization: ${up.headers.authorization}`);
    assert.equal(up.headers["x-goog-api-key"], undefined);
    assert.equal(up.text(), body);
  });

  test("x-api-key works for anthropic; the pool key goes in x-api-key and anthropic-version travels", async () => {
    mock.on({ path: "/anthropic/v1/messages" }, {
      status: 200,
      headers: { "content-type": "application/json" },
      body: { id: "msg_1", type: "message", role: "assistant", content: [{ type: "text", text: "hi" }], model: "claude-sonnet-4-5" },
    });
    const res = await timedFetch(`${worker.url}/api/anthropic/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": AUTH_KEY, "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 64, messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).type, "message");
    const up = mock.requests[0];
    assert.equal(up.headers["x-api-key"], anthropicKeys[0].key);
    assert.equal(up.headers["anthropic-version"], "2023-06-01");
    assert.equal(up.headers.authorization, undefined);
  });

  test("Authorization: Bearer works for openai; the pool key replaces it", async () => {
    mock.on({ path: "/openai/chat/completions" }, openai.chatCompletion());
    const res = await timedFetch(`${worker.url}/api/openai/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${AUTH_KEY}` },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    assert.equal(mock.requests[0].headers.authorization, `Bearer ${openaiKeys[0].key}`);
  });

  test("a wrong or missing service key gets 401 in its clients' shape and makes no upstream call", async () => {
    const attempts = [
      [FLASH_PATH, { "x-goog-api-key": "not-the-service-key" }],
      [`${FLASH_PATH}?key=not-the-service-key`, {}],
      [FLASH_PATH, {}],
      ["/api/openai/chat/completions", { authorization: "Bearer not-the-service-key" }],
      ["/api/openai/chat/completions", { authorization: AUTH_KEY }], // no "Bearer"
      ["/api/anthropic/v1/messages", { authorization: `Bearer ${AUTH_KEY}x` }],
      [`/api/openai/chat/completions?key=${AUTH_KEY}`, {}], // ?key= is Gemini's convention only
    ];
    for (const [path, headers] of attempts) {
      const res = await timedFetch(`${worker.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({ model: "gemini-2.5-flash", contents: [] }),
      });
      const error = await ownError(res, 401, { anthropic: path.startsWith("/api/anthropic/") });
      assert.equal(error.type, "authentication_error", `${path} ${JSON.stringify(headers)}`);
      assert.equal(res.headers.get("x-should-retry"), "false", "a wrong key is final");
      assert.ok(!error.message.includes("not-the-service-key"), "the presented key is not echoed");
    }
    assert.equal(mock.requests.length, 0);
  });

  test("the service key is taken from any usual header on every route; ?key= only on Gemini's native paths", async () => {
    mock.on(() => true, (req) => (req.path.includes("google-ai-studio") ? gemini.success() : openai.chatCompletion()));
    const routes = [
      [FLASH_PATH, { contents: [{ parts: [{ text: "hi" }] }] }],
      ["/api/openai/chat/completions", { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }],
    ];
    for (const [path, body] of routes) {
      for (const headers of [{ authorization: `Bearer ${AUTH_KEY}` }, { "x-api-key": AUTH_KEY }, { "x-goog-api-key": AUTH_KEY }, { "api-key": AUTH_KEY }]) {
        const before = mock.requests.length;
        const res = await timedFetch(`${worker.url}${path}`, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify(body),
        });
        assert.equal(res.status, 200, `${path} with ${Object.keys(headers)[0]}: ${await res.clone().text()}`);
        await res.arrayBuffer();
        const sent = mock.requests[before];
        for (const value of Object.values(sent.headers)) assert.ok(!String(value).includes(AUTH_KEY), "the service key never travels upstream");
      }
    }
    const twoKeys = await timedFetch(`${worker.url}${FLASH_PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-goog-api-key": AUTH_KEY, authorization: "Bearer another-key-entirely-0123456789" },
      body: JSON.stringify(routes[0][1]),
    });
    assert.equal((await ownError(twoKeys, 400)).code, "conflicting_credentials");
    mock.reset();
  });

  test("a POST that names no model gets 400 saying why; a models listing without a model goes through", async () => {
    for (const [path, body] of [
      ["/api/openai/chat/completions", { messages: [{ role: "user", content: "hi" }] }],
      ["/api/google-ai-studio/v1beta/cachedContents", { contents: [] }],
    ]) {
      const res = await timedFetch(`${worker.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-goog-api-key": AUTH_KEY, authorization: `Bearer ${AUTH_KEY}` },
        body: JSON.stringify(body),
      });
      const error = await ownError(res, 400);
      assert.match(error.message, /model/);
    }
    assert.equal(mock.requests.length, 0);

    const listing = { models: [{ name: "models/gemini-2.5-flash" }, { name: "models/gemini-2.5-pro" }] };
    mock.on({ method: "GET", path: "/google-ai-studio/v1beta/models" }, { status: 200, body: listing });
    const res = await timedFetch(`${worker.url}/api/google-ai-studio/v1beta/models?pageSize=50`, { headers: { "x-goog-api-key": AUTH_KEY } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), listing);
    assert.equal(mock.requests.length, 1);
    assert.equal(mock.requests[0].query, "pageSize=50");
    assert.ok(geminiKeys.some((k) => k.key === mock.requests[0].headers["x-goog-api-key"]));
  });

  test("an unknown provider gets 404 and a provider without keys gets 503 naming it", async () => {
    const unknown = await timedFetch(`${worker.url}/api/not-a-provider/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${AUTH_KEY}` },
      body: JSON.stringify({ model: "x" }),
    });
    await ownError(unknown, 404);

    const empty = await timedFetch(`${worker.url}/api/mistral/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${AUTH_KEY}` },
      body: JSON.stringify({ model: "mistral-small-latest", messages: [{ role: "user", content: "hi" }] }),
    });
    const error = await ownError(empty, 503);
    assert.match(error.message, /mistral/);
    assert.equal(mock.requests.length, 0);
  });

  test("the upstream never sees the service key, cookies, client IPs or a foreign authorization; set-cookie never comes back", async () => {
    mock.on(() => true, (req) => ({ ...gemini.success(), headers: { ...gemini.success().headers, "set-cookie": "NID=upstream-session; Path=/; HttpOnly" } }));
    const res = await timedFetch(`${worker.url}${FLASH_PATH}?key=${AUTH_KEY}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-goog-api-key": AUTH_KEY,
        authorization: `Bearer ${AUTH_KEY}`,
        cookie: "session=client-cookie-value; ob_admin=abc",
        "cf-connecting-ip": "203.0.113.7",
        "x-forwarded-for": "203.0.113.7, 198.51.100.1",
        "x-real-ip": "203.0.113.7",
        "true-client-ip": "203.0.113.7",
        "cf-aig-authorization": "Bearer client-gateway-token",
        "user-agent": "curl/8.5.0",
      },
      body: GEMINI_BODY,
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("set-cookie"), null, "set-cookie from upstream is stripped");
    assert.deepEqual(res.headers.getSetCookie(), []);
    await res.arrayBuffer();
    const up = mock.requests[0];
    const everything = [up.url, ...up.rawHeaders, up.text()].join("\n");
    assert.ok(!everything.includes(AUTH_KEY), "no service key anywhere upstream");
    for (const name of ["cookie", "cf-connecting-ip", "x-forwarded-for", "x-real-ip", "true-client-ip", "authorization"]) {
      assert.equal(up.headers[name], undefined, `${name} must not travel`);
    }
    assert.ok(!everything.includes("203.0.113.7") && !everything.includes("client-cookie-value") && !everything.includes("client-gateway-token"));
    assert.equal(up.headers["user-agent"], "curl/8.5.0");
    const keyHeaders = Object.entries(up.headers).filter(([, v]) => poolKeys().some((k) => String(v).includes(k)));
    assert.deepEqual(keyHeaders.map(([n]) => n), ["x-goog-api-key"], "the pool key is in its one header only");
  });

  test("a key limited to one model may use it, not another; an expired key gets 401", async () => {
    mock.on(() => true, gemini.success());
    const call = (key, model, body = GEMINI_BODY) =>
      timedFetch(`${worker.url}/api/google-ai-studio/v1beta/models/${model}:generateContent`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-goog-api-key": key },
        body,
      });
    const allowed = await call(FLASH_ONLY_KEY, "gemini-2.5-flash");
    assert.equal(allowed.status, 200);
    await allowed.arrayBuffer();
    assert.equal(mock.requests.length, 1);

    const other = await call(FLASH_ONLY_KEY, "gemini-2.5-pro");
    assert.equal((await ownError(other, 403)).type, "permission_error");
    const openaiPath = await timedFetch(`${worker.url}/api/openai/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${FLASH_ONLY_KEY}` },
      body: JSON.stringify({ model: "gemini-2.5-flash", messages: [] }),
    });
    await ownError(openaiPath, 403);
    // The model Gemini serves is the path's: naming the allowed model in the body must not unlock another.
    const smuggled = await call(FLASH_ONLY_KEY, "gemini-2.5-pro", JSON.stringify({ model: "gemini-2.5-flash", contents: [] }));
    assert.ok([400, 403].includes(smuggled.status), `status ${smuggled.status}`);
    await ownError(smuggled, smuggled.status);
    const expired = await call(EXPIRED_KEY, "gemini-2.5-flash");
    assert.match((await ownError(expired, 401)).message, /expired/);
    assert.equal(mock.requests.length, 1, "nothing but the allowed request was forwarded");
  });

  test("two different service keys in one request are refused before anything is forwarded", async () => {
    const res = await timedFetch(`${worker.url}${FLASH_PATH}?key=someone-else`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-goog-api-key": AUTH_KEY },
      body: GEMINI_BODY,
    });
    assert.ok(res.status === 400 || res.status === 401, `status ${res.status}`);
    await res.arrayBuffer();
    assert.equal(mock.requests.length, 0);
  });
});

describe("upstream time-outs", { timeout: 60_000 }, () => {
  // A generous per-attempt limit: the test must not depend on how fast a loaded machine answers on loopback.
  const TIMEOUT_MS = 1_000;
  let mock;
  let worker;
  before(async () => {
    mock = await startMock();
    worker = await startWorker({ vars: { AUTH_KEY, KEY_CACHE_TTL_SECONDS: "0", UPSTREAM_TIMEOUT_MS: String(TIMEOUT_MS) }, mock });
  });
  after(async () => {
    await worker?.stop();
    await mock?.close();
  });
  beforeEach(async () => {
    mock.reset();
    await worker.d1.exec("DELETE FROM keys");
  });

  test("an attempt that gets no response headers in time is abandoned and the next key serves the request", async () => {
    const keys = await seedKeys(worker, "google-ai-studio", 2);
    mock.queue({ hang: true });
    mock.on(() => true, gemini.success({ text: "second key" }));
    const res = await timedFetch(`${worker.url}${FLASH_PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-goog-api-key": AUTH_KEY },
      body: GEMINI_BODY,
    });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).candidates[0].content.parts[0].text, "second key");
    assert.equal(mock.requests.length, 2);
    const [hung, served] = mock.requests.map((r) => keys.find((k) => k.key === r.headers["x-goog-api-key"]));
    assert.notEqual(hung, served);
    assert.deepEqual(attemptsOf(res), [
      { id: hung.short, verdict: "timeout" },
      { id: served.short, verdict: "ok" },
    ]);
    const row = await keyRow(worker, hung.id);
    assert.deepEqual([row.status, row.coolings], ["active", {}], "a time-out costs the key nothing");
  });

  test("when every attempt hangs the client gets 504 with Retry-After", async () => {
    await seedKeys(worker, "google-ai-studio", 3);
    mock.on(() => true, { hang: true });
    const res = await timedFetch(`${worker.url}${FLASH_PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-goog-api-key": AUTH_KEY },
      body: GEMINI_BODY,
    }, 30_000);
    const error = await ownError(res, 504);
    assert.ok(error.message.length > 0);
    assert.match(res.headers.get("retry-after") ?? "", /^[1-9]\d*$/);
    assert.ok(mock.requests.length >= 1 && mock.requests.length <= 3);
    assert.ok(attemptsOf(res).every((a) => a.verdict === "timeout"));
    assert.equal(new Set(mock.requests.map((r) => r.headers["x-goog-api-key"])).size, mock.requests.length, "distinct keys");
  });
});

describe("a deployment without a usable AUTH_KEY", { timeout: 60_000 }, () => {
  let mock;
  const workers = [];
  before(async () => {
    mock = await startMock();
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await mock?.close();
  });

  for (const [name, vars] of [
    ["AUTH_KEY unset", {}],
    ["AUTH_KEY empty", { AUTH_KEY: "" }],
    ["AUTH_KEY = the public default my-auth-key", { AUTH_KEY: "my-auth-key" }],
  ]) {
    test(`${name}: every API request gets 500 telling the operator to set the secret`, async () => {
      const worker = await startWorker({ vars, mock });
      workers.push(worker);
      await seedKeys(worker, "google-ai-studio", 1);
      for (const [path, headers] of [
        [FLASH_PATH, { "x-goog-api-key": "my-auth-key" }],
        ["/api/compat/chat/completions", { authorization: "Bearer my-auth-key" }],
      ]) {
        const res = await timedFetch(`${worker.url}${path}`, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify({ model: "google-ai-studio/gemini-2.5-flash", messages: [] }),
        });
        const error = await ownError(res, 500);
        assert.match(error.message, /AUTH_KEY/);
        assert.match(error.message, /wrangler secret put AUTH_KEY/);
      }
      assert.equal(mock.requests.length, 0);
      const health = await timedFetch(`${worker.url}/health`);
      assert.equal(health.status, 200, "/health still answers");
      await health.arrayBuffer();
    });
  }
});
