// Hostile input, proxy and admin side: each case gets a clear 4xx with a useful message, stores nothing, forwards
// nothing upstream and echoes no secret. The admin cases complement tests/e2e/admin*.test.mjs (which cover <script>
// in keys and remarks on the page, the eleventh failed login, CSRF-less and made-up-session posts, and wildcards in
// search) with SQL metacharacters, a reflected search, tampered and expired sessions, and the right key during a
// login lock-out.
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startWorker } from "../harness/worker.mjs";
import { startMock } from "../harness/mock-upstream.mjs";
import { gemini, openai as openaiReplies } from "../harness/providers.mjs";
import { keyRow, nowS, seedKeys, waitFor, waitForRow } from "../e2e/support/pool.mjs";

const AUTH_KEY = "ob-hostile-SvcKey-5e0c2b7a91d4f36e";
const OTHER_KEY = "ob-hostile-OtherKey-77aa01bc93de";
const MIB = 1024 * 1024;
const GEMINI_PATH = "/api/google-ai-studio/v1beta/models/gemini-2.5-flash:generateContent";

/** A raw HTTP request: the path goes out exactly as written (fetch would normalise `..` and `%2e`). */
function rawRequest(url, { method = "GET", path, headers = {}, body } = {}) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    // A fresh connection each time: the runtime closes one after refusing a request outright.
    const req = http.request({ hostname, port, method, path, headers, timeout: 15_000, agent: false }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`timed out: ${method} ${path}`)));
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

describe("hostile input", { timeout: 180_000 }, () => {
  let mock;
  let worker;
  let pool;
  let tableBefore;
  let upstreamBefore;

  const secrets = () => [AUTH_KEY, OTHER_KEY, ...pool.map((k) => k.key)];
  const snapshot = () => worker.d1.all("SELECT id, key, provider, model_coolings, total_cooling_seconds, status, remark FROM keys ORDER BY id");

  /**
   * Checks a refusal: the status (or one of several), an error body with a message (matching `message` when given)
   * and `code` when given, no secret in it.
   */
  async function refused(res, { status, code, message }) {
    const text = typeof res.text === "string" ? res.text : await res.text();
    const statuses = [status].flat();
    assert.ok(statuses.includes(res.status ?? res.statusCode), `status ${res.status} (expected ${statuses}): ${text.slice(0, 300)}`);
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      assert.fail(`the ${res.status} body is not JSON: ${text.slice(0, 200)}`);
    }
    assert.equal(typeof json.error?.message, "string", text.slice(0, 300));
    assert.ok(json.error.message.length >= 10, `a useful message: ${text}`);
    if (code) assert.equal(json.error.code, code, text.slice(0, 300));
    if (message) assert.match(json.error.message, message);
    for (const s of secrets()) assert.ok(!text.includes(s), `a secret is echoed: ${text.slice(0, 200)}`);
    return json;
  }

  /** Nothing was forwarded upstream and the keys table did not change since the test began. */
  async function nothingHappened() {
    await new Promise((r) => setTimeout(r, 50)); // let any wait_until write land before comparing
    assert.equal(mock.requests.length, upstreamBefore, `forwarded upstream: ${mock.requests.slice(upstreamBefore).map((r) => r.path)}`);
    assert.deepEqual(await snapshot(), tableBefore, "the keys table changed");
  }

  const gemini_ = (init = {}) =>
    worker.fetch(GEMINI_PATH, {
      method: "POST",
      ...init,
      headers: { "x-goog-api-key": AUTH_KEY, "content-type": "application/json", ...init.headers },
      signal: AbortSignal.timeout(30_000),
    });
  const compat = (body, headers = {}) =>
    worker.fetch("/api/compat/chat/completions", {
      method: "POST",
      headers: { authorization: `Bearer ${AUTH_KEY}`, "content-type": "application/json", ...headers },
      body,
      signal: AbortSignal.timeout(30_000),
    });

  before(async () => {
    mock = await startMock();
    mock.on({ path: /^\/google-ai-studio\/v1beta\/models\/[^/]+:generateContent$/ }, gemini.success());
    mock.on({ path: "/google-ai-studio/v1beta/openai/chat/completions" }, openaiReplies.chatCompletion());
    mock.on({ path: "/openai/chat/completions" }, openaiReplies.chatCompletion());
    worker = await startWorker({ vars: { AUTH_KEY: `${AUTH_KEY};${OTHER_KEY}`, KEY_CACHE_TTL_SECONDS: "0" }, mock });
    pool = [...(await seedKeys(worker, "google-ai-studio", 2)), ...(await seedKeys(worker, "openai", 1))];
  });

  after(async () => {
    await worker?.stop();
    await mock?.close();
  });

  beforeEach(async () => {
    tableBefore = await snapshot();
    upstreamBefore = mock.requests.length;
  });

  // ---------------------------------------------------------------------------------------------------------------
  // Bodies

  test("compat: malformed JSON bodies get 400 invalid_json", async () => {
    for (const body of ['{"model":', "not json", '{"model":"google-ai-studio/gemini-2.5-flash",}', "", "[]", "null", '"model"']) {
      const res = await compat(body);
      await refused(res, { status: 400 });
    }
    await nothingHappened();
  });

  test("compat: a deeply nested body (1 MiB of brackets) is refused or passed on intact, never a crash", async () => {
    // Valid JSON at any depth: serde skips what it does not keep without recursing, so it may go upstream as is.
    const depth = MIB / 2;
    const body = `{"model":"google-ai-studio/gemini-2.5-flash","x":${"[".repeat(depth)}${"]".repeat(depth)}}`;
    const res = await compat(body);
    if (res.status === 400) return void (await refused(res, { status: 400, code: "invalid_json" }));
    assert.equal(res.status, 200, (await res.clone().text()).slice(0, 200));
    await res.arrayBuffer();
    assert.equal(mock.requests.at(-1).text(), body.replace("google-ai-studio/gemini-2.5-flash", "gemini-2.5-flash"), "forwarded byte for byte");
    assert.deepEqual(await snapshot(), tableBefore);
    // Unbalanced nesting is not JSON.
    await refused(await compat(`{"model":"google-ai-studio/gemini-2.5-flash","x":${"[".repeat(depth)}}`), { status: 400, code: "invalid_json" });
  });

  test("compat: a huge valid body under the limit is forwarded whole, with only the model rewritten", async () => {
    const filler = "x".repeat(20 * MIB);
    const body = `{"model":"google-ai-studio/gemini-2.5-flash","messages":[{"role":"user","content":"${filler}"}]}`;
    const res = await compat(body);
    assert.equal(res.status, 200, (await res.clone().text()).slice(0, 300));
    await res.arrayBuffer();
    const sent = mock.requests.at(-1);
    assert.equal(sent.body.length, body.length - "google-ai-studio/".length);
    assert.equal(sent.json().messages[0].content.length, filler.length);
  });

  for (const [label, route] of [
    ["native", GEMINI_PATH],
    ["compat", "/api/compat/chat/completions"],
  ]) {
    test(`${label}: a body declared over 25 MiB gets 413 before it is read`, async () => {
      // Only the first 64 KiB of the declared 25 MiB + 1 are sent: the answer must come from the content-length alone.
      const { hostname, port } = new URL(worker.url);
      const res = await new Promise((resolve, reject) => {
        const req = http.request(
          {
            hostname,
            port,
            method: "POST",
            path: route,
            agent: false,
            timeout: 15_000,
            headers: {
              "x-goog-api-key": AUTH_KEY,
              authorization: `Bearer ${AUTH_KEY}`,
              "content-type": "application/json",
              "content-length": String(25 * MIB + 1),
            },
          },
          (r) => {
            const chunks = [];
            r.on("data", (c) => chunks.push(c));
            r.on("end", () => {
              resolve({ status: r.statusCode, text: Buffer.concat(chunks).toString("utf8") });
              req.destroy();
            });
          },
        );
        req.on("timeout", () => req.destroy(new Error("no answer while the body was still coming: the Worker waited for it")));
        req.on("error", reject);
        req.write(Buffer.concat([Buffer.from('{"model":"google-ai-studio/gemini-2.5-flash","x":"'), Buffer.alloc(64 * 1024, 0x61)]));
      });
      await refused(res, { status: 413, code: "body_too_large", message: /26214400/ });
      await nothingHappened();
    });

    test(`${label}: a body over 25 MiB gets 413 when streamed without a content-length`, async () => {
      let sent = 0;
      const chunk = Buffer.alloc(MIB, 0x20);
      const stream = new ReadableStream({
        pull(controller) {
          if (sent >= 26) return controller.close();
          controller.enqueue(sent === 0 ? Buffer.from('{"model":"google-ai-studio/gemini-2.5-flash","x":"') : chunk);
          sent += 1;
        },
      });
      let res;
      try {
        res = await worker.fetch(route, {
          method: "POST",
          headers: { "x-goog-api-key": AUTH_KEY, authorization: `Bearer ${AUTH_KEY}`, "content-type": "application/json" },
          body: stream,
          duplex: "half",
          signal: AbortSignal.timeout(60_000),
        });
      } catch (error) {
        // Answering 413 before the upload ends may reset the connection under the client; that is a refusal too,
        // but then the status cannot be checked, so say so.
        assert.fail(`the request failed instead of answering 413: ${error.message}`);
      }
      await refused(res, { status: 413, code: "body_too_large" });
      await nothingHappened();
    });
  }

  test("compat: invalid UTF-8 in the body gets 400", async () => {
    const body = Buffer.concat([Buffer.from('{"model":"google-ai-studio/gemini-2.5-flash","messages":[{"role":"user","content":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}]}')]);
    await refused(await compat(body), { status: 400, code: "invalid_json" });
    const inModel = Buffer.concat([Buffer.from('{"model":"google-ai-studio/gem'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]);
    await refused(await compat(inModel), { status: 400, code: "invalid_json" });
    await nothingHappened();
  });

  // ---------------------------------------------------------------------------------------------------------------
  // Credentials

  test("a missing service key gets 401 saying where to put it", async () => {
    await refused(await worker.fetch(GEMINI_PATH, { method: "POST", body: "{}" }), { status: 401, message: /service key/ });
    await refused(await worker.fetch("/api/compat/chat/completions", { method: "POST", body: '{"model":"openai/gpt-4o"}' }), { status: 401 });
    await refused(await gemini_({ headers: { "x-goog-api-key": "" }, body: "{}" }), { status: 401 });
    await refused(await compat('{"model":"openai/gpt-4o"}', { authorization: "Basic abc" }), { status: 401 });
    await refused(await compat('{"model":"openai/gpt-4o"}', { authorization: "Bearer" }), { status: 401 });
    await nothingHappened();
  });

  test("two different service keys in one request get 400, whichever is valid", async () => {
    const both = `${GEMINI_PATH}?key=${OTHER_KEY}`;
    let res = await worker.fetch(both, { method: "POST", headers: { "x-goog-api-key": AUTH_KEY }, body: "{}" });
    await refused(res, { status: 400, code: "conflicting_credentials" });
    res = await worker.fetch(`${GEMINI_PATH}?key=wrong-key-123456`, { method: "POST", headers: { "x-goog-api-key": AUTH_KEY }, body: "{}" });
    await refused(res, { status: 400, code: "conflicting_credentials" });
    // Gemini's OpenAI-compatible path also reads Authorization: Bearer.
    res = await worker.fetch("/api/google-ai-studio/v1beta/openai/chat/completions", {
      method: "POST",
      headers: { "x-goog-api-key": AUTH_KEY, authorization: `Bearer ${OTHER_KEY}`, "content-type": "application/json" },
      body: '{"model":"gemini-2.5-flash"}',
    });
    await refused(res, { status: 400, code: "conflicting_credentials" });
    await nothingHappened();
  });

  test("a header sent twice is refused, never half-read", async () => {
    // Node joins repeated headers with ", " and so does workerd: two keys joined are no key. The runtime itself may
    // refuse such a request before the Worker sees it (a plain-text 400); either way nothing is forwarded.
    const answers = [
      await rawRequest(worker.url, {
        method: "POST",
        path: GEMINI_PATH,
        headers: ["x-goog-api-key", AUTH_KEY, "x-goog-api-key", OTHER_KEY, "content-type", "application/json"],
        body: "{}",
      }),
      await rawRequest(worker.url, {
        method: "POST",
        path: "/api/compat/chat/completions",
        headers: ["authorization", `Bearer ${AUTH_KEY}`, "authorization", `Bearer ${OTHER_KEY}`, "content-type", "application/json"],
        body: '{"model":"openai/gpt-4o"}',
      }),
    ];
    for (const res of answers) {
      if (res.text.trim().startsWith("{")) await refused(res, { status: [400, 401] });
      else assert.ok(res.status === 400 && !secrets().some((s) => res.text.includes(s)), `${res.status} ${res.text.slice(0, 200)}`);
    }
    await nothingHappened();
  });

  test("very long headers get a 4xx, not a 5xx", async () => {
    for (const [name, value] of [
      ["x-goog-api-key", "k".repeat(100_000)],
      ["x-goog-api-key", `${AUTH_KEY}${"x".repeat(60_000)}`],
      ["user-agent", "u".repeat(100_000)],
      ["x-filler", "f".repeat(200_000)],
    ]) {
      let res;
      try {
        res = await rawRequest(worker.url, {
          method: "POST",
          path: GEMINI_PATH,
          headers: { "x-goog-api-key": AUTH_KEY, "content-type": "application/json", [name]: value },
          body: "{}",
        });
      } catch (error) {
        assert.fail(`${name} of ${value.length} bytes: the connection failed instead of a 4xx: ${error.message}`);
      }
      if (name === "x-goog-api-key") await refused(res, { status: [400, 401, 431] });
      else if (name === "user-agent") {
        // A forwarded header that long would fail on every key upstream: refused before any key is spent.
        await refused(res, { status: 431, code: "header_too_large", message: /user-agent/ });
      } else assert.ok(res.status === 200 || (res.status >= 400 && res.status < 500), `${name}: ${res.status} ${res.text.slice(0, 200)}`);
      if (res.status !== 200) assert.ok(!secrets().some((s) => res.text.includes(s)));
    }
    // A long but ordinary header still goes through.
    const res = await gemini_({ headers: { "user-agent": "u".repeat(4096) }, body: "{}" });
    assert.equal(res.status, 200, await res.text());
    assert.equal(mock.requests.at(-1).headers["user-agent"].length, 4096);
  });

  // ---------------------------------------------------------------------------------------------------------------
  // Paths and providers

  test("path traversal and encoded slashes never leave the provider's prefix", async () => {
    const paths = [
      "/api/google-ai-studio/v1beta/models/../../../admin/api/keys",
      "/api/google-ai-studio/v1beta/%2e%2e/%2e%2e/openai/chat/completions",
      "/api/google-ai-studio/v1beta/models%2Fgemini-2.5-flash:generateContent",
      "/api/google-ai-studio/v1beta%2fmodels/gemini-2.5-flash:generateContent",
      "/api/google-ai-studio/v1beta%5Cmodels/gemini-2.5-flash:generateContent",
      "/api/google-ai-studio/v1beta/./models/gemini-2.5-flash:generateContent",
      "/api/google-ai-studio/v1beta/.%2E/x/models/gemini-2.5-flash:generateContent",
      "/api/google-ai-studio%2F..%2Fopenai/chat/completions",
      "/api/..%2Fadmin/api/keys",
      "/api//v1beta/models/gemini-2.5-flash:generateContent",
    ];
    for (const path of paths) {
      const before = mock.requests.length;
      const res = await rawRequest(worker.url, {
        method: "POST",
        path,
        headers: { "x-goog-api-key": AUTH_KEY, authorization: `Bearer ${AUTH_KEY}`, "content-type": "application/json" },
        body: '{"contents":[]}',
      });
      assert.ok(res.status < 500, `${path}: ${res.status} ${res.text.slice(0, 200)}`);
      for (const s of secrets()) assert.ok(!res.text.includes(s), `${path} echoed a secret`);
      // The runtime's URL parser resolves "." and ".." (also "%2e") before the Worker sees the path, so such a path may
      // be served; whatever is forwarded stays under the provider the request names, with no dot segment.
      for (const req of mock.requests.slice(before)) {
        assert.ok(req.path.startsWith("/google-ai-studio/"), `${path} reached another prefix upstream: ${req.url}`);
        assert.ok(!/(^|\/)(\.|%2e){1,2}(\/|$)/i.test(req.path) && !/%2f|%5c|\\/i.test(req.url), `${path} reached the upstream as ${req.url}`);
      }
      // Encoded slashes and backslashes survive URL parsing: the Worker itself must refuse them.
      if (/%2f|%5c/i.test(path)) {
        assert.equal(mock.requests.length, before, `${path} was forwarded`);
        assert.ok(res.status >= 400, `${path}: ${res.status}`);
      }
      if (res.status >= 400) assert.equal(mock.requests.length, before, `${path} was refused but forwarded`);
    }
    assert.deepEqual(await snapshot(), tableBefore);
  });

  test("unknown and unpoolable providers get a 4xx naming the problem", async () => {
    await refused(await worker.fetch("/api/no-such-provider/v1/chat", { method: "POST", headers: { authorization: `Bearer ${AUTH_KEY}` }, body: "{}" }), {
      status: 404,
      code: "unknown_provider",
      message: /no-such-provider/,
    });
    await refused(await worker.fetch("/api/google-vertex-ai/v1/x", { method: "POST", headers: { authorization: `Bearer ${AUTH_KEY}` }, body: "{}" }), {
      status: 400,
      code: "provider_not_poolable",
    });
    await refused(await compat('{"model":"no-such-provider/some-model"}'), { status: 400, code: "unknown_provider" });
    await refused(await compat('{"model":"<script>alert(1)</script>/x"}'), { status: 400 });
    await refused(await compat('{"model":"gpt-4o"}'), { status: 400, code: "invalid_model", message: /provider/ });
    await nothingHappened();
  });

  // ---------------------------------------------------------------------------------------------------------------
  // Model values

  test("odd model values get 400 invalid_model", async () => {
    const odd = [
      'google-ai-studio/gemini"2.5',
      "google-ai-studio/gemini\\2.5",
      "google-ai-studio/gemini\u0000flash",
      "google-ai-studio/gemini\nflash",
      "google-ai-studio/gemini\u007fflash",
      `google-ai-studio/${"m".repeat(10 * 1024)}`,
      "google-ai-studio/",
      "google-ai-studio/   ",
    ];
    for (const model of odd) await refused(await compat(JSON.stringify({ model })), { status: 400, code: "invalid_model" });
    for (const model of [42, null, true, { a: 1 }, ["google-ai-studio/gemini-2.5-flash"]]) {
      await refused(await compat(JSON.stringify({ model })), { status: 400 });
    }
    await refused(await compat(JSON.stringify({ messages: [] })), { status: 400, code: "invalid_model" });
    // Native: the body's model (no model in the path).
    for (const model of ['gpt"4o', "gpt\u0001", "g".repeat(10 * 1024)]) {
      const res = await worker.fetch("/api/openai/chat/completions", {
        method: "POST",
        headers: { authorization: `Bearer ${AUTH_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ model }),
      });
      await refused(res, { status: 400, code: "invalid_model" });
    }
    const longPath = `/api/google-ai-studio/v1beta/models/${"m".repeat(10 * 1024)}:generateContent`;
    await refused(await worker.fetch(longPath, { method: "POST", headers: { "x-goog-api-key": AUTH_KEY }, body: "{}" }), { status: [400, 414] });
    await nothingHappened();
  });

  test("SQL and LIKE metacharacters in a model name are only ever data", async () => {
    const models = ["gpt-4o'; DROP TABLE keys; --", "gpt-%", "gpt-_o", "$.x", "a'b\"c".replace('"', "") /* quotes are refused */, "[0]", "*?", "gpt 4o"];
    const [openaiKey] = pool.filter((k) => k.provider === "openai");
    for (const model of models) {
      mock.queue(openaiReplies.rateLimited({ retryAfter: 30 }));
      const res = await worker.fetch("/api/openai/chat/completions", {
        method: "POST",
        headers: { authorization: `Bearer ${AUTH_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ model, messages: [] }),
      });
      await res.arrayBuffer();
      assert.ok([200, 429].includes(res.status), `${model}: ${res.status}`);
      await waitForRow(worker, openaiKey.id, (row) => row.coolings[model]?.end_at > nowS(), `a cooldown stored under the exact name ${JSON.stringify(model)}`);
    }
    const row = await keyRow(worker, openaiKey.id);
    assert.deepEqual(Object.keys(row.coolings).sort(), [...models].sort(), "one entry per model, under its exact name");
    assert.equal((await worker.d1.all("SELECT id FROM keys")).length, pool.length, "the table is intact");
    // The other keys were not touched.
    for (const other of pool.filter((k) => k !== openaiKey)) assert.deepEqual((await keyRow(worker, other.id)).coolings, {});
  });

  test('the model "*" is refused: a 429 on it would rest the key for every model', async () => {
    // "*" is the model_coolings entry that means "every model" (spend exhausted). Before the fix, a client naming it
    // in the path or the body took a key out of the pool for all models with one upstream 429.
    mock.queue(gemini.rateLimited({ retryDelay: "30s" }), gemini.rateLimited({ retryDelay: "30s" }));
    const res = await worker.fetch("/api/google-ai-studio/v1beta/models/*:generateContent", {
      method: "POST",
      headers: { "x-goog-api-key": AUTH_KEY, "content-type": "application/json" },
      body: "{}",
    });
    await refused(res, { status: 400, code: "invalid_model", message: /\*/ });
    await refused(await compat(JSON.stringify({ model: "google-ai-studio/*" })), { status: 400, code: "invalid_model" });
    const native = await worker.fetch("/api/openai/chat/completions", {
      method: "POST",
      headers: { authorization: `Bearer ${AUTH_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "*" }),
    });
    await refused(native, { status: 400, code: "invalid_model" });
    // The queued 429s were never used: drop them so later tests meet the normal replies.
    const unused = mock.requests.length;
    mock.reset();
    mock.on({ path: /^\/google-ai-studio\/v1beta\/models\/[^/]+:generateContent$/ }, gemini.success());
    mock.on({ path: "/google-ai-studio/v1beta/openai/chat/completions" }, openaiReplies.chatCompletion());
    mock.on({ path: "/openai/chat/completions" }, openaiReplies.chatCompletion());
    assert.equal(unused, upstreamBefore, "nothing was forwarded");
    upstreamBefore = 0;
    await nothingHappened();
  });

  // ---------------------------------------------------------------------------------------------------------------
  // Admin side

  describe("admin", () => {
    const api = (path, init = {}) =>
      worker.fetch(path, { ...init, headers: { authorization: `Bearer ${AUTH_KEY}`, ...init.headers }, signal: AbortSignal.timeout(15_000) });
    const json = (path, method, body) => api(path, { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

    async function login(authKey, ip = "203.0.113.7") {
      const res = await worker.fetch("/login", {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: worker.url, "sec-fetch-site": "same-origin", "cf-connecting-ip": ip },
        body: new URLSearchParams({ auth_key: authKey }).toString(),
      });
      await res.arrayBuffer();
      const cookie = (res.headers.getSetCookie?.() ?? []).map((c) => c.split(";")[0]).find((c) => c.startsWith("__Host-ob_session=") && c.length > 20);
      return { status: res.status, cookie };
    }
    const page = (path, cookie) => worker.fetch(path, { redirect: "manual", headers: { cookie }, signal: AbortSignal.timeout(15_000) });

    test("SQL and LIKE metacharacters in search and remarks are plain text", async () => {
      const [k] = await seedKeys(worker, "groq", 3);
      const remark = `'; DROP TABLE keys; -- %_\\ "x" <script>alert(1)</script>`;
      let res = await json(`/admin/api/keys/${k.id}`, "PATCH", { remark });
      assert.equal(res.status, 200, await res.clone().text());
      res = await api(`/admin/api/keys/${k.id}`);
      assert.equal((await res.json()).remark, remark, "stored verbatim");
      for (const q of ["' OR '1'='1", "%", "_", "\\", "'; DROP TABLE keys; --", "%' OR 1=1 --", '") OR 1=1 --']) {
        res = await api(`/admin/api/keys?provider=groq&q=${encodeURIComponent(q)}`);
        const body = await res.json();
        assert.equal(res.status, 200, JSON.stringify(body));
        const expected = remark.includes(q) ? 1 : 0;
        assert.equal(body.total, expected, `q=${q}: ${body.total} keys (expected ${expected})`);
      }
      res = await api(`/admin/api/keys?provider=groq&q=${encodeURIComponent("DROP TABLE keys")}`);
      assert.equal((await res.json()).total, 1, "the remark is found by its text");
      assert.equal((await worker.d1.all("SELECT id FROM keys WHERE provider = 'groq'")).length, 3, "the table is intact");
      // Bad provider slugs are refused, not queried.
      res = await api(`/admin/api/keys?provider=${encodeURIComponent("groq' OR '1'='1")}`);
      await refused({ status: res.status, text: await res.text() }, { status: 400 });
    });

    test("<script> in the search box, a slug and a remark never reaches the page as markup", async () => {
      const { cookie } = await login(AUTH_KEY, "198.51.100.20");
      assert.ok(cookie, "signed in");
      const [k] = await seedKeys(worker, "mistral", 1);
      await worker.d1.run("UPDATE keys SET remark = ? WHERE id = ?", "<img src=x onerror=alert(1)><script>alert(2)</script>", k.id);
      const evil = "<script>alert(3)</script>";
      for (const path of [
        `/keys/mistral?q=${encodeURIComponent(evil)}`,
        `/keys/mistral?q=${encodeURIComponent('"><svg onload=alert(4)>')}`,
        "/keys/mistral",
        `/keys/${encodeURIComponent(evil)}`,
        `/keys/mistral?sort=${encodeURIComponent(evil)}`,
        `/keys/mistral?page=${encodeURIComponent(evil)}`,
      ]) {
        const res = await page(path, cookie);
        const html = await res.text();
        assert.ok(res.status < 500, `${path}: ${res.status}`);
        assert.ok(!/<script>alert|<img src=x|<svg onload/i.test(html), `${path} shows markup from input: ${html.match(/.{0,80}(<script>alert|<img src=x|<svg onload).{0,80}/i)?.[0]}`);
      }
    });

    test("a tampered session cookie is not a session", async () => {
      const { cookie } = await login(AUTH_KEY, "198.51.100.21");
      assert.ok(cookie);
      const token = cookie.split("=")[1];
      const [v, exp, nonce, sig] = token.split(".");
      for (const forged of [
        `${v}.${Number(exp) + 86_400}.${nonce}.${sig}`, // a later expiry
        `${v}.${exp}.${"0".repeat(nonce.length)}.${sig}`, // another nonce
        `${v}.${exp}.${nonce}.${sig.slice(0, -1)}${sig.endsWith("0") ? "1" : "0"}`, // one digit of the signature
        `v2.${exp}.${nonce}.${sig}`,
        `${token}.extra`,
        `${v}.${"9".repeat(30)}.${nonce}.${sig}`,
        "'; DROP TABLE admin_revoked_sessions; --",
      ]) {
        const res = await page("/", `__Host-ob_session=${forged}`);
        await res.arrayBuffer();
        assert.ok([302, 303].includes(res.status) && res.headers.get("location")?.endsWith("/login"), `${forged}: ${res.status}`);
        const post = await worker.fetch("/keys/groq/delete-blocked", {
          method: "POST",
          redirect: "manual",
          headers: { cookie: `__Host-ob_session=${forged}`, origin: worker.url, "content-type": "application/x-www-form-urlencoded" },
          body: "",
        });
        await post.arrayBuffer();
        assert.ok(post.status >= 300 && post.status < 500, `${forged}: POST ${post.status}`);
      }
      // The genuine cookie still works.
      const res = await page("/", cookie);
      await res.arrayBuffer();
      assert.equal(res.status, 200);
    });

    test("a session ends when the service key it was opened with expires", async () => {
      // Long enough to start the Worker and sign in; the test then waits for the expiry (≤ 15 s).
      const expiry = nowS() + 15;
      // A second Worker whose AUTH_KEY has an expiring admin key (no upstream needed).
      const w2 = await startWorker({ vars: { AUTH_KEY: `${AUTH_KEY};short-lived-admin-key(${expiry})` } });
      try {
        const res = await w2.fetch("/login", {
          method: "POST",
          redirect: "manual",
          headers: { "content-type": "application/x-www-form-urlencoded", origin: w2.url, "sec-fetch-site": "same-origin" },
          body: "auth_key=short-lived-admin-key",
        });
        await res.arrayBuffer();
        const cookie = res.headers.getSetCookie().map((c) => c.split(";")[0]).find((c) => c.startsWith("__Host-ob_session=") && c.length > 20);
        assert.ok(cookie, `signed in (${res.status})`);
        const ok = await w2.fetch("/", { redirect: "manual", headers: { cookie } });
        await ok.arrayBuffer();
        assert.equal(ok.status, 200);
        await waitFor(() => nowS() > expiry, { timeoutMs: 20_000, intervalMs: 200, message: "the key to expire" });
        const later = await w2.fetch("/", { redirect: "manual", headers: { cookie } });
        await later.arrayBuffer();
        assert.ok([302, 303].includes(later.status), `an expired session still opens the page: ${later.status}`);
      } finally {
        await w2.stop();
      }
    });

    test("during a login lock-out even the right key is refused, on the form and the API alike", async () => {
      // crate::guess_limit: one budget of 10 wrong keys per address and window, for every place a key is checked.
      const ip = "192.0.2.99";
      const statuses = [];
      for (let i = 0; i < 12; i++) statuses.push((await login(`wrong-${i}-${"x".repeat(i * 100)}`, ip)).status);
      assert.ok(statuses.includes(429), `no lock-out after 12 failures: ${statuses}`);
      const right = await login(AUTH_KEY, ip);
      assert.equal(right.status, 429, "the right key got through a lock-out");
      assert.equal(right.cookie, undefined);
      const viaApi = await api("/admin/api/providers", { headers: { "cf-connecting-ip": ip } });
      assert.equal(viaApi.status, 429, "the API shares the budget");
      assert.equal((await api("/admin/api/providers", { headers: { "cf-connecting-ip": "192.0.2.101" } })).status, 200, "other addresses use the API");
      // Another address is not locked out by this one.
      assert.ok((await login(AUTH_KEY, "192.0.2.100")).cookie, "another address can sign in");
      // The failures stored nothing but the throttle row (no key, no address in the clear).
      const rows = await worker.d1.all("SELECT * FROM admin_login_failures");
      for (const row of rows) assert.ok(!JSON.stringify(row).includes("192.0.2.99") && !JSON.stringify(row).includes("wrong-"), JSON.stringify(row));
    });
  });
});
