// Tests of the test harness itself: the mock upstream does what tests will rely on, the provider replies parse in the
// official SDKs exactly as real ones do, and the Miniflare runner captures logs, reaches D1 and cleans up.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { GoogleGenAI } from "@google/genai";
import OpenAI from "openai";
import { deferred, startMock } from "./mock-upstream.mjs";
import { aiGateway, anthropic, gemini, openai, openrouter } from "./providers.mjs";
import { parseJsonc, readTemplate, splitSql, withTimeout } from "./project.mjs";
import { startWorker, workerdChildren } from "./worker.mjs";

/** Reads one chunk from a body reader, failing the test instead of waiting forever. */
const readChunk = (reader) => withTimeout(reader.read(), 5_000, "no chunk arrived");

describe("mock upstream", () => {
  let mock;
  before(async () => {
    mock = await startMock();
  });
  after(async () => {
    await mock.close();
  });

  test("records method, path, raw query, headers and body bytes", async () => {
    mock.reset();
    const body = Buffer.from([0, 1, 2, 0xff, 0xfe]);
    const res = await fetch(`${mock.url}/v1beta/models/gemini-2.5-flash:generateContent?alt=sse&key=a%20b`, {
      method: "POST",
      headers: { "x-goog-api-key": "pool-key-1", "content-type": "application/octet-stream" },
      body,
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ok: true, mock: "default reply" });
    const [req] = mock.requests;
    assert.equal(req.method, "POST");
    assert.equal(req.path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert.equal(req.query, "alt=sse&key=a%20b");
    assert.equal(req.headers["x-goog-api-key"], "pool-key-1");
    assert.ok(req.body.equals(body));
  });

  test("queued replies come first and in order, then the newest matching rule, then the default", async () => {
    mock.reset();
    mock.on({ path: "/a" }, { status: 201, body: "old rule" });
    mock.on({ method: "post", path: /^\/a/ }, { status: 202, body: "new rule" });
    mock.queue({ status: 500, body: "q1" }, { status: 503, body: "q2" });
    const call = async (path, method = "POST") => {
      const res = await fetch(mock.url + path, { method });
      return `${res.status} ${await res.text()}`;
    };
    assert.equal(await call("/zzz"), "500 q1");
    assert.equal(await call("/a"), "503 q2");
    assert.equal(await call("/a"), "202 new rule");
    assert.equal(await call("/a", "GET"), "201 old rule");
    assert.equal(await call("/b", "GET"), `200 ${JSON.stringify({ ok: true, mock: "default reply" })}`);
  });

  test("a reply function can answer by which key arrived", async () => {
    mock.reset();
    mock.on(
      () => true,
      (req) => (req.headers["x-goog-api-key"] === "dead" ? gemini.invalidKey() : gemini.success({ text: "alive" })),
    );
    const ask = (key) => fetch(`${mock.url}/x`, { method: "POST", headers: { "x-goog-api-key": key } });
    const dead = await ask("dead");
    assert.equal(dead.status, 400);
    assert.equal((await dead.json()).error.details[0].reason, "API_KEY_INVALID");
    const alive = await ask("alive-key");
    assert.equal((await alive.json()).candidates[0].content.parts[0].text, "alive");
  });

  test("a reply function that throws answers 500 instead of crashing the mock", async () => {
    mock.reset();
    mock.on({ path: "/boom" }, () => {
      throw new Error("scripted failure");
    });
    const res = await fetch(`${mock.url}/boom`);
    assert.equal(res.status, 500);
    assert.match(await res.text(), /scripted failure/);
  });

  test("streams chunks one by one: a held-back chunk does not hold back the ones before it", async () => {
    mock.reset();
    const gate = deferred();
    mock.queue({ headers: { "content-type": "text/event-stream" }, chunks: ["data: 1\n\n", { data: "data: 2\n\n", after: gate.promise }] });
    const res = await fetch(`${mock.url}/stream`);
    const reader = res.body.getReader();
    const first = await readChunk(reader);
    assert.equal(Buffer.from(first.value).toString(), "data: 1\n\n");
    gate.resolve();
    let rest = "";
    for (;;) {
      const { done, value } = await readChunk(reader);
      if (done) break;
      rest += Buffer.from(value).toString();
    }
    assert.equal(rest, "data: 2\n\n");
  });

  test("dropAfter cuts the connection mid-body", async () => {
    mock.reset();
    mock.queue({ chunks: ["first", "never sent"], dropAfter: 1, headers: { "content-type": "text/plain" } });
    const res = await fetch(`${mock.url}/drop`);
    assert.equal(res.status, 200);
    await assert.rejects(res.text());
  });

  test("hang never answers, and close() still returns", async () => {
    const own = await startMock();
    own.queue({ hang: true });
    await assert.rejects(fetch(`${own.url}/hang`, { signal: AbortSignal.timeout(300) }), { name: "TimeoutError" });
    assert.equal(own.requests.length, 1);
    own.queue({ hang: true });
    const pending = fetch(`${own.url}/hang-again`).catch((err) => err);
    await own.waitForRequests(2);
    await withTimeout(own.close(), 2_000, "close() hung");
    assert.ok((await pending) instanceof Error);
  });

  test("waitForRequests rejects when the requests never come", async () => {
    mock.reset();
    await assert.rejects(mock.waitForRequests(1, { timeoutMs: 50 }), /expected 1 requests, got 0/);
  });
});

describe("provider replies", () => {
  let mock;
  before(async () => {
    mock = await startMock();
  });
  after(async () => {
    await mock.close();
  });

  test("Gemini SSE stream parses in @google/genai, and the SDK sends the key in x-goog-api-key", async () => {
    mock.reset();
    mock.queue(gemini.stream({ texts: ["one", " two", " three"] }));
    const ai = new GoogleGenAI({ apiKey: "pool-key", httpOptions: { baseUrl: mock.url, apiVersion: "v1beta" } });
    let text = "";
    for await (const chunk of await ai.models.generateContentStream({ model: "gemini-2.5-flash", contents: "hi" })) {
      text += chunk.text;
    }
    assert.equal(text, "one two three");
    const [req] = mock.requests;
    assert.equal(req.path, "/v1beta/models/gemini-2.5-flash:streamGenerateContent");
    assert.equal(req.query, "alt=sse");
    assert.equal(req.headers["x-goog-api-key"], "pool-key");
    // Google separates SSE events with CRLF CRLF.
    assert.match(gemini.stream().chunks[0].data, /^data: \{.*\}\r\n\r\n$/s);
  });

  test("Gemini errors carry Google's status and details", async () => {
    const limited = gemini.rateLimited({ retryDelay: "5s", model: "gemini-2.5-pro" });
    assert.equal(limited.status, 429);
    const details = limited.body.error.details;
    assert.equal(details.find((d) => d["@type"].endsWith("RetryInfo")).retryDelay, "5s");
    const violation = details.find((d) => d["@type"].endsWith("QuotaFailure")).violations[0];
    assert.equal(violation.quotaId, "GenerateRequestsPerMinutePerProjectPerModel-FreeTier");
    assert.equal(violation.quotaDimensions.model, "gemini-2.5-pro");
    assert.ok(!gemini.rateLimited({ retryDelay: null }).body.error.details.some((d) => d["@type"].endsWith("RetryInfo")));
    // Builders return fresh objects: the edit above did not leak into the next reply.
    assert.equal(gemini.rateLimited().body.error.details.find((d) => d.retryDelay).retryDelay, "37s");

    const daily = gemini.dailyQuotaExhausted();
    assert.equal(daily.body.error.details[0].violations[0].quotaId, "GenerateRequestsPerDayPerProjectPerModel-FreeTier");
    assert.equal(gemini.invalidKey().body.error.details[0].reason, "API_KEY_INVALID");
    assert.match(gemini.suspended().body.error.message, /has been suspended/);
    assert.equal(gemini.locationNotSupported().body.error.status, "FAILED_PRECONDITION");
    assert.equal(gemini.overloaded().status, 503);
    assert.ok(Array.isArray(gemini.rateLimitedStreamArray().body));

    mock.reset();
    mock.queue(gemini.rateLimited());
    const ai = new GoogleGenAI({ apiKey: "k", httpOptions: { baseUrl: mock.url, apiVersion: "v1beta" } });
    await assert.rejects(ai.models.generateContent({ model: "gemini-2.5-flash", contents: "hi" }), { status: 429 });
  });

  test("OpenAI chat completion, stream and errors parse in the openai SDK", async () => {
    mock.reset();
    mock.queue(openai.chatCompletion({ content: "plain" }), openai.stream({ deltas: ["a", "b", "c"] }));
    mock.queue(openai.rateLimited({ retryAfter: 7 }), openai.insufficientQuota(), openai.invalidKey());
    const client = new OpenAI({ apiKey: "sk-pool", baseURL: mock.url, maxRetries: 0 });
    const messages = [{ role: "user", content: "hi" }];
    const done = await client.chat.completions.create({ model: "gpt-4o-mini", messages });
    assert.equal(done.choices[0].message.content, "plain");
    let text = "";
    for await (const chunk of await client.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true })) {
      text += chunk.choices[0]?.delta?.content ?? "";
    }
    assert.equal(text, "abc");
    assert.match(openai.stream().chunks.at(-1).data, /^data: \[DONE\]\n\n$/);
    const limited = await client.chat.completions.create({ model: "gpt-4o-mini", messages }).catch((e) => e);
    assert.equal(limited.status, 429);
    assert.equal(limited.code, "rate_limit_exceeded");
    assert.equal(limited.headers.get("x-ratelimit-reset-requests"), "20s");
    assert.equal(limited.headers.get("retry-after"), "7");
    await assert.rejects(client.chat.completions.create({ model: "gpt-4o-mini", messages }), { code: "insufficient_quota" });
    await assert.rejects(client.chat.completions.create({ model: "gpt-4o-mini", messages }), { status: 401, code: "invalid_api_key" });
    assert.equal(mock.requests[0].headers.authorization, "Bearer sk-pool");
  });

  test("Anthropic, OpenRouter and AI Gateway replies have their documented status, headers and bodies", () => {
    const limited = anthropic.rateLimited({ retryAfter: 12 });
    assert.equal(limited.status, 429);
    assert.equal(limited.headers["retry-after"], "12");
    assert.match(limited.headers["anthropic-ratelimit-requests-reset"], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(limited.body.error.type, "rate_limit_error");
    assert.equal(anthropic.overloaded().status, 529);
    assert.equal(anthropic.overloaded().body.error.type, "overloaded_error");
    assert.equal(anthropic.invalidKey().body.error.type, "authentication_error");
    assert.match(anthropic.creditTooLow().body.error.message, /credit balance is too low/);

    const resetAtMs = 1_764_633_600_000;
    const orLimited = openrouter.rateLimited({ resetAtMs });
    assert.equal(orLimited.headers["X-RateLimit-Reset"], String(resetAtMs));
    assert.equal(orLimited.body.error.metadata.headers["X-RateLimit-Reset"], String(resetAtMs));
    assert.equal(openrouter.paymentRequired().status, 402);

    assert.deepEqual(aiGateway.unauthorized().body, [{ code: 2009, message: "Unauthorized" }]);
    assert.equal(aiGateway.unauthorizedWrapped().body.error[0].code, 2009);
  });
});

describe("project helpers", () => {
  test("splitSql strips comments and keeps quoted and trigger-body semicolons", () => {
    const sql = `-- header; comment
CREATE TABLE t (a text DEFAULT 'x;--y', "b;" int); /* block; */
INSERT INTO t VALUES ('it''s; fine', 1);
CREATE TRIGGER tr AFTER UPDATE ON t BEGIN
  UPDATE t SET a = CASE WHEN 1 THEN 'z' END; -- inside
  SELECT 1;
END;
CREATE INDEX i ON t (a)`;
    assert.deepEqual(splitSql(sql), [
      `CREATE TABLE t (a text DEFAULT 'x;--y', "b;" int)`,
      `INSERT INTO t VALUES ('it''s; fine', 1)`,
      "CREATE TRIGGER tr AFTER UPDATE ON t BEGIN\n  UPDATE t SET a = CASE WHEN 1 THEN 'z' END; \n  SELECT 1;\nEND",
      "CREATE INDEX i ON t (a)",
    ]);
  });

  test("parseJsonc handles comments, URLs in strings and trailing commas", () => {
    assert.deepEqual(parseJsonc('{ // c\n "u": "https://x//y", /* b */ "a": [1, 2,], }'), { u: "https://x//y", a: [1, 2] });
    const template = readTemplate();
    assert.match(template.compatibility_date, /^\d{4}-\d\d-\d\d$/);
    assert.equal(typeof template.vars.MAX_ATTEMPTS, "string");
  });
});

describe("Miniflare runner", () => {
  const script = `export default {
    async fetch(req, env) {
      console.log("seen", env.AI_GATEWAY_BASE_URL, env.MAX_ATTEMPTS);
      console.error("to stderr");
      const row = await env.DB.prepare("SELECT count(*) AS n FROM keys").first();
      return Response.json({ keys: row.n, extra: env.EXTRA ?? null });
    },
    async scheduled(event, env) {
      await env.DB.prepare("INSERT INTO keys (id, key, provider) VALUES ('cron', ?, 'openai')").bind(event.cron).run();
    },
  };`;

  test("passes template vars and overrides, captures logs, and exposes D1 and the scheduled handler", async () => {
    const mock = await startMock();
    const worker = await startWorker({ script, mock, vars: { EXTRA: "x", MAX_ATTEMPTS: "3" } });
    try {
      await worker.d1.exec("INSERT INTO keys (id, key, provider) VALUES ('a', 'k1', 'openai'); -- one\nINSERT INTO keys (id, key, provider) VALUES ('b', 'k2', 'openai');");
      const res = await worker.fetch("/");
      assert.deepEqual(await res.json(), { keys: 2, extra: "x" });
      assert.equal(await worker.waitForLog("seen"), `seen ${mock.url} 3`);
      await worker.waitForLog("to stderr");
      assert.deepEqual(await worker.dispatchScheduled({ cron: "*/5 * * * *" }), { outcome: "ok", noRetry: false });
      assert.deepEqual(await worker.d1.first("SELECT key FROM keys WHERE id = ?", "cron"), { key: "*/5 * * * *" });
      assert.equal((await worker.d1.all("SELECT id FROM keys ORDER BY id")).length, 3);
      await assert.rejects(worker.waitForLog("never printed", { timeoutMs: 50 }), /no Worker log line matched/);
    } finally {
      await worker.stop();
      await mock.close();
    }
  });

  test("a Worker that fails to start is reported with workerd's error, and nothing is left running", async () => {
    await assert.rejects(
      withTimeout(startWorker({ script: "export default { fetch( }" }), 20_000, "startWorker hung"),
      /SyntaxError/,
    );
    assert.deepEqual([...workerdChildren()], []);
  });
});
