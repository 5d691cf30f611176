// Fault soak: many concurrent requests against a mock upstream that fails in every way a provider or AI Gateway
// does, while keys are added and deleted, then check every answer, the D1 state and where secrets went.
//
// Each pool key has a class that decides how the mock answers it (so the expected D1 state is computable):
//   good    always 200 (JSON or stream)
//   dead    always refuses the key (401, 403 suspended, or 400 API_KEY_INVALID)  → blocked once tried
//   limited 429 RetryInfo 37s                                                    → cooled ≥ 39 s for that model
//   daily   429 per-day QuotaFailure                                             → cooled until midnight Los Angeles
//   flaky   at random: 200, 500, 503 overloaded, AI Gateway 2009, 403 location, hang past UPSTREAM_TIMEOUT_MS, or a
//           200 stream that drops the connection mid-way                         → never cooled, never blocked
//   churn   like good; added and deleted through the admin JSON API (or D1 when that API is not there) meanwhile
//   router  an OpenRouter key: 200, or 402 "requires more credits, or fewer max_tokens" for a request that asks too much
//
// Mixed into the normal traffic, poisoned clients send requests whose refusal is the request's fault, never the
// key's (issue 15): a Gemini `fileData` of another project (403 "You do not have permission to access the File"),
// requests the mock answers with an unexplained 401 UNAUTHENTICATED or 403 "The caller does not have permission" (the
// Worker must check the key itself before blocking it), OpenRouter's 402 for a huge `max_tokens`, and a
// model-restricted service key naming a model it may not use in every place Gemini, the compat route and OpenRouter
// read one. The report counts the keys those requests took out of service: `keys_lost_to_client_errors` must be 0.
//
// Size (env): SOAK_REQUESTS (400), SOAK_CONCURRENCY (16), SOAK_SECONDS (40, the load loop's time bound), SOAK_SEED.
// `scripts/soak` runs it bigger. The figures are printed at the end (and written to SOAK_REPORT if set).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import http from "node:http";
import { startWorker } from "../harness/worker.mjs";
import { startMock } from "../harness/mock-upstream.mjs";
import { aiGateway, gemini, openai as openaiReplies, openrouter as openrouterReplies } from "../harness/providers.mjs";
import { fakeKey, nextPacificMidnightS, nowS, seedKeys, waitFor } from "../e2e/support/pool.mjs";

const REQUESTS = Number(process.env.SOAK_REQUESTS ?? 400);
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 16);
const SECONDS = Number(process.env.SOAK_SECONDS ?? 40);
const SEED = Number(process.env.SOAK_SEED ?? randomBytes(4).readUInt32LE(0));
const UPSTREAM_TIMEOUT_MS = 400;
const AUTH_KEY = `ob-soak-svc-${randomBytes(12).toString("hex")}`;
/** A service key restricted to one Gemini model and one OpenRouter model. */
const RESTRICTED_KEY = `ob-soak-cheap-${randomBytes(12).toString("hex")}`;
const RESTRICTED_SCOPE = "google-ai-studio,gemini-2.5-flash&openrouter,openai/gpt-4o-mini";
const ROUTER = "openrouter";
const ROUTER_KEYS = 3;
/** The kinds of upstream answer a poisoned request gets from a key with nothing wrong with it. */
const POISON_KINDS = new Set(["file403", "suspect401", "suspect403", "credits402"]);
const PROVIDER = "google-ai-studio";
const MODELS = ["gemini-2.5-flash", "gemini-2.5-pro"];
const CLASSES = { good: 4, dead: 6, limited: 6, daily: 4, flaky: 6 };
const RETRY_DELAY_S = 37;
const CLIENT_TIMEOUT_MS = 15_000;

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with SOAK_SEED. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const UPSTREAM_500 = { error: { code: 500, message: "soak: upstream internal error", status: "INTERNAL" } };
const UPSTREAM_401 = { error: { code: 401, message: "API key not valid. Please pass a valid API key.", status: "UNAUTHENTICATED" } };
/** Codes of the Worker's own error bodies (src/api_error.rs) that may legitimately end a request in this soak. */
const WORKER_CODES_ALLOWED = new Set(["all_keys_cooling", "no_active_keys", "upstream_timeout", "upstream_unreachable", "pool_throttled"]);

describe("fault soak", { timeout: (SECONDS + 120) * 1000 }, () => {
  let mock;
  let worker;
  const random = prng(SEED);
  /** key → { class, id, provider } for every pool key ever used. */
  const keyClass = new Map();
  /** Every upstream answer the mock chose: { rid, key, model, kind, status, at }. */
  const upstream = [];
  /** Every client answer: { rid, route, stream, status, outcome, detail, body, headers }. */
  const answers = [];
  /** Per "id|model": end_at values seen while sampling D1, in order. */
  const samples = new Map();
  const churn = { added: 0, deleted: 0, failures: [], via: "d1" };
  let soakStartedS;

  const gate = (key) => keyClass.get(key)?.class;

  /** The reply for one upstream request, decided by the key's class. */
  function reply(req) {
    const path = req.path;
    const router = path.startsWith(`/${ROUTER}/`);
    const compat = router || path.startsWith(`/${PROVIDER}/v1beta/openai/`);
    const key = compat ? (req.headers.authorization ?? "").replace(/^Bearer /, "") : req.headers["x-goog-api-key"];
    let body = {};
    try {
      body = req.json();
    } catch {}
    const text = JSON.stringify(body);
    const rid = Number(/soak-(\d+)/.exec(text)?.[1] ?? -1);
    const poison = /poison-(\w+)/.exec(text)?.[1];
    const model = compat ? body.model : /models\/([^:]+):/.exec(path)?.[1];
    const stream = compat ? body.stream === true : path.includes(":streamGenerateContent");
    const cls = gate(key) ?? "unknown";
    // The Worker's own check of a suspect key: the provider's models listing, answered by whether the key works.
    const probe = req.method === "GET" && /\/models$/.test(path);
    let kind;
    if (probe) kind = cls === "dead" ? ["dead401", "dead403", "dead400"][keyClass.get(key).index % 3] : cls === "unknown" ? "unknown" : "listing";
    else if (cls === "router") kind = poison === "credits" ? "credits402" : "ok";
    else if (poison && ["good", "churn", "flaky"].includes(cls)) {
      // A key with nothing wrong with it, refused for what the request asks.
      kind = poison === "file" ? "file403" : rid % 2 ? "suspect401" : "suspect403";
    } else if (cls === "good" || cls === "churn") kind = "ok";
    else if (cls === "dead") kind = ["dead401", "dead403", "dead400"][keyClass.get(key).index % 3];
    else if (cls === "limited") kind = "limited";
    else if (cls === "daily") kind = "daily";
    else if (cls === "flaky") {
      const r = random();
      kind = r < 0.2 ? "ok" : r < 0.35 ? "e500" : r < 0.5 ? "e503" : r < 0.62 ? "gw2009" : r < 0.74 ? "location" : r < 0.87 ? "hang" : "drop";
    } else kind = "unknown";
    const success = () => (compat ? openaiReplies.chatCompletion({ content: `soak ${rid}`, model }) : gemini.success({ text: `soak ${rid}`, model }));
    const streamed = () =>
      compat ? openaiReplies.stream({ deltas: ["soak", ` ${rid}`], model }) : gemini.stream({ texts: ["soak", ` ${rid}`, " end"], model });
    let out;
    switch (kind) {
      case "ok":
        out = stream ? streamed() : success();
        break;
      case "listing":
        out = { status: 200, headers: { "content-type": "application/json" }, body: router ? { data: [] } : { models: [] } };
        break;
      case "file403":
        out = gemini.filePermissionDenied();
        break;
      case "suspect401":
        out = gemini.unauthenticated();
        break;
      case "suspect403":
        out = gemini.callerPermissionDenied();
        break;
      case "credits402":
        out = openrouterReplies.requestExceedsCredits();
        break;
      case "drop": {
        out = stream ? streamed() : success();
        if (stream) out.dropAfter = 1;
        else {
          // A non-stream body cut short: send half of it, then drop.
          const full = JSON.stringify(out.body);
          out = { status: 200, headers: { "content-type": "application/json" }, chunks: [full.slice(0, full.length >> 1)], dropAfter: 1 };
        }
        break;
      }
      case "dead401":
        out = { status: 401, headers: { "content-type": "application/json" }, body: UPSTREAM_401 };
        break;
      case "dead403":
        out = gemini.suspended();
        break;
      case "dead400":
        out = gemini.invalidKey();
        break;
      case "limited":
        out = gemini.rateLimited({ retryDelay: `${RETRY_DELAY_S}s`, model });
        break;
      case "daily":
        out = gemini.dailyQuotaExhausted({ model });
        break;
      case "e500":
        out = { status: 500, headers: { "content-type": "application/json" }, body: UPSTREAM_500 };
        break;
      case "e503":
        out = gemini.overloaded();
        break;
      case "gw2009":
        out = aiGateway.unauthorized();
        break;
      case "location":
        out = gemini.locationForbidden();
        break;
      case "hang":
        out = { hang: true };
        break;
      default:
        out = { status: 418, body: { error: { message: "soak: unknown key reached the mock" } } };
    }
    upstream.push({ rid, key, model, kind, status: out.status ?? 0, at: req.receivedAt ?? Date.now(), stream, probe });
    return out;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Admin side: add and delete keys while the soak runs.

  let adminApi = false;
  const adminFetch = (path, body) =>
    worker.fetch(path, {
      method: "POST",
      headers: { authorization: `Bearer ${AUTH_KEY}`, "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
    });

  async function detectAdminApi() {
    try {
      const res = await worker.fetch(`/admin/api/keys?provider=${PROVIDER}`, {
        headers: { authorization: `Bearer ${AUTH_KEY}` },
        signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
      });
      const text = await res.text();
      return res.status === 200 && text.trim().startsWith("{");
    } catch {
      return false;
    }
  }

  async function addChurnKey() {
    const key = fakeKey(PROVIDER);
    keyClass.set(key, { class: "churn", index: churn.added });
    if (adminApi) {
      const res = await adminFetch("/admin/api/keys", { provider: PROVIDER, keys: [key], remark: "soak churn" });
      const text = await res.text();
      if (res.status !== 200 && res.status !== 201) churn.failures.push(`add → ${res.status} ${text.slice(0, 200)}`);
      const row = await worker.d1.first("SELECT id FROM keys WHERE provider = ? AND key = ?", PROVIDER, key);
      if (!row) churn.failures.push(`add → ${res.status} but no row for the key`);
      keyClass.get(key).id = row?.id;
    } else {
      const [seeded] = await seedKeys(worker, PROVIDER, [{ key }]);
      keyClass.get(key).id = seeded.id;
    }
    churn.added += 1;
    return key;
  }

  async function deleteChurnKey(key) {
    const { id } = keyClass.get(key);
    if (!id) return;
    if (adminApi) {
      const res = await adminFetch("/admin/api/keys/delete", { provider: PROVIDER, ids: [id] });
      const text = await res.text();
      if (res.status !== 200) churn.failures.push(`delete → ${res.status} ${text.slice(0, 200)}`);
    } else {
      await worker.d1.run("DELETE FROM keys WHERE id = ?", id);
    }
    keyClass.get(key).deleted = true;
    churn.deleted += 1;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Clients

  /** A request on a fresh connection: { status, headers: [[name, value]], body, cut? } (cut: the body broke off). */
  function send(path, { method, headers, body }) {
    const { hostname, port } = new URL(worker.url);
    return new Promise((resolve, reject) => {
      const req = http.request({ hostname, port, method, path, headers, agent: false, timeout: CLIENT_TIMEOUT_MS }, (res) => {
        const chunks = [];
        let done = false;
        const finish = (cut) => {
          if (done) return;
          done = true;
          const out = { status: res.statusCode, headers: Object.entries(res.headers).map(([n, v]) => [n, String(v)]), body: Buffer.concat(chunks).toString("utf8") };
          resolve(cut ? { ...out, cut } : out);
        };
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => finish(res.complete ? null : "incomplete"));
        res.on("aborted", () => finish("aborted"));
        res.on("error", (e) => finish(e.message));
        res.on("close", () => finish(res.complete ? null : "closed"));
      });
      req.on("timeout", () => req.destroy(new Error(`no answer within ${CLIENT_TIMEOUT_MS} ms`)));
      req.on("error", reject);
      req.end(body);
    });
  }

  /** The four ways a model-restricted key tries to name a model it may not use. */
  const BYPASSES = [
    (rid) => ({
      path: `/api/${PROVIDER}/v1beta/tunedModels/soak-tune:generateContent`,
      headers: { "x-goog-api-key": RESTRICTED_KEY },
      body: { contents: [{ role: "user", parts: [{ text: `soak-${rid}` }] }] },
    }),
    (rid) => ({
      path: `/api/${PROVIDER}/v1beta/models/gemini-2.5-pro:generateContent`,
      headers: { "x-goog-api-key": RESTRICTED_KEY },
      body: { contents: [{ role: "user", parts: [{ text: `soak-${rid}` }] }] },
    }),
    (rid) => ({
      path: "/api/compat/chat/completions",
      headers: { authorization: `Bearer ${RESTRICTED_KEY}` },
      body: { model: `${PROVIDER}/gemini-2.5-pro`, messages: [{ role: "user", content: `soak-${rid}` }] },
    }),
    (rid) => ({
      path: `/api/${ROUTER}/v1/chat/completions`,
      headers: { authorization: `Bearer ${RESTRICTED_KEY}` },
      body: { model: "openai/gpt-4o-mini", models: ["anthropic/claude-opus-4"], messages: [{ role: "user", content: `soak-${rid}` }] },
    }),
  ];

  /**
   * One request of a random shape, from a normal or a poisoned client; records what came back and whether it is
   * well-formed. `route` names the client: native, compat (the pool's own clients), restricted (a model-restricted key
   * asking for its model), router (OpenRouter), and the poisoned ones: file, suspect, credits, bypass.
   */
  async function oneRequest(rid) {
    const model = MODELS[Math.floor(random() * MODELS.length)];
    const r = random();
    const route =
      r < 0.06 ? "file" : r < 0.1 ? "suspect" : r < 0.15 ? "bypass" : r < 0.18 ? "restricted" : r < 0.22 ? "credits" : r < 0.26 ? "router" : random() < 0.8 ? "native" : "compat";
    const stream = ["native", "compat", "file", "suspect"].includes(route) && random() < 0.45;
    const json = { "content-type": "application/json" };
    let path;
    let init;
    let dialect = "gemini";
    if (route === "native" || route === "file" || route === "suspect" || route === "restricted") {
      const parts = [{ text: `soak-${rid}${route === "native" || route === "restricted" ? "" : ` poison-${route}`}` }];
      if (route === "file") parts.push({ fileData: { mimeType: "application/pdf", fileUri: "https://generativelanguage.googleapis.com/v1beta/files/soak-foreign" } });
      const servedModel = route === "restricted" ? "gemini-2.5-flash" : model;
      path = `/api/${PROVIDER}/v1beta/models/${servedModel}:${stream ? "streamGenerateContent?alt=sse" : "generateContent"}`;
      init = {
        method: "POST",
        headers: { "x-goog-api-key": route === "restricted" ? RESTRICTED_KEY : AUTH_KEY, ...json },
        body: JSON.stringify({ contents: [{ role: "user", parts }] }),
      };
    } else if (route === "compat") {
      dialect = "openai";
      path = "/api/compat/chat/completions";
      init = {
        method: "POST",
        headers: { authorization: `Bearer ${AUTH_KEY}`, ...json },
        body: JSON.stringify({ model: `${PROVIDER}/${model}`, stream, messages: [{ role: "user", content: `soak-${rid}` }] }),
      };
    } else if (route === "router" || route === "credits") {
      dialect = "openai";
      path = `/api/${ROUTER}/v1/chat/completions`;
      const content = `soak-${rid}${route === "credits" ? " poison-credits" : ""}`;
      init = {
        method: "POST",
        headers: { authorization: `Bearer ${AUTH_KEY}`, ...json },
        body: JSON.stringify({ model: "openai/gpt-4o-mini", max_tokens: route === "credits" ? 1_000_000_000 : 64, messages: [{ role: "user", content }] }),
      };
    } else {
      const bypass = BYPASSES[rid % BYPASSES.length](rid);
      path = bypass.path;
      init = { method: "POST", headers: { ...bypass.headers, ...json }, body: JSON.stringify(bypass.body) };
    }
    const answer = { rid, route, dialect, stream, model, status: 0, outcome: "", detail: "", body: "", headers: [] };
    answers.push(answer);
    // One connection per request. With keep-alive, a connection that carried a stream cut by the upstream is closed
    // by the runtime after a clean-looking end, and the next request sent on it fails before reaching the Worker
    // (reported separately; see the final report) — that would hide what this soak measures.
    let res;
    try {
      res = await send(path, init);
    } catch (error) {
      answer.outcome = "malformed";
      answer.detail = `no response: ${error.message} ${error.code ?? ""}`;
      return;
    }
    answer.status = res.status;
    answer.headers = res.headers;
    answer.body = res.body;
    if (res.cut) answer.cut = res.cut;
    judge(answer, res.headers.find(([n]) => n === "content-type")?.[1] ?? "");
  }

  /** Sorts one answer into ok / upstream error / worker error / cut stream / malformed. */
  function judge(answer, contentType) {
    const { status, body } = answer;
    if (answer.route === "bypass") {
      // Refused before any key is used, in the client's own error format.
      const forwarded = upstream.filter((u) => u.rid === answer.rid).length;
      if (forwarded > 0) return void Object.assign(answer, { outcome: "malformed", detail: `a bypass reached the upstream ${forwarded}×` });
      let type;
      try {
        type = JSON.parse(body)?.error?.type;
      } catch {}
      if (status !== 403 || type !== "permission_error") return void Object.assign(answer, { outcome: "malformed", detail: `bypass answered ${status} ${body.slice(0, 200)}` });
      return void (answer.outcome = "refused");
    }
    if (status === 200) {
      // The one upstream attempt that answered 2xx for this request served it.
      const served = upstream.find((u) => u.rid === answer.rid && u.status === 200);
      if (!served) return void Object.assign(answer, { outcome: "malformed", detail: "200 but no upstream attempt answered 2xx" });
      if (served.kind === "drop") {
        // The upstream cut the body after the headers. workerd ends the client's body cleanly at that point (even a
        // plain JS `return fetch(…)` Worker does), so the client sees a truncated answer; count it apart.
        return void (answer.outcome = "cut");
      }
      if (answer.cut) return void Object.assign(answer, { outcome: "malformed", detail: `body cut without an upstream drop: ${answer.cut}` });
      if (body.length === 0) return void Object.assign(answer, { outcome: "malformed", detail: "200 with an empty body" });
      if (answer.stream) {
        const events = body.split(/\r?\n\r?\n/).filter((e) => e.trim());
        const last = events.at(-1) ?? "";
        const clean = answer.dialect === "openai" ? last.trim() === "data: [DONE]" : /"finishReason":"STOP"/.test(last);
        if (!contentType.includes("text/event-stream") || !clean) {
          return void Object.assign(answer, { outcome: "malformed", detail: `stream did not end cleanly: …${body.slice(-120)}` });
        }
        return void (answer.outcome = "ok");
      }
      try {
        const json = JSON.parse(body);
        const text = answer.dialect === "openai" ? json.choices?.[0]?.message?.content : json.candidates?.[0]?.content?.parts?.[0]?.text;
        if (text !== `soak ${answer.rid}`) return void Object.assign(answer, { outcome: "malformed", detail: `wrong answer: ${body.slice(0, 200)}` });
        return void (answer.outcome = "ok");
      } catch {
        return void Object.assign(answer, { outcome: "malformed", detail: `200 body is not JSON: ${body.slice(0, 200)}` });
      }
    }
    let json;
    try {
      json = JSON.parse(body);
    } catch {
      return void Object.assign(answer, { outcome: "malformed", detail: `${status} body is not JSON: ${body.slice(0, 200)}` });
    }
    const workerCode = typeof json?.error?.code === "string" && typeof json?.error?.type === "string" ? json.error.code : null;
    if (workerCode) {
      answer.workerCode = workerCode;
      if (status === 500) return void Object.assign(answer, { outcome: "worker500", detail: body.slice(0, 300) });
      if (!WORKER_CODES_ALLOWED.has(workerCode)) return void Object.assign(answer, { outcome: "malformed", detail: `unexpected Worker error ${status} ${body.slice(0, 200)}` });
      const expected = { all_keys_cooling: 429, pool_throttled: 429, no_active_keys: 503, upstream_timeout: 504, upstream_unreachable: 502 }[workerCode];
      if (status !== expected) return void Object.assign(answer, { outcome: "malformed", detail: `${workerCode} with status ${status}` });
      return void (answer.outcome = "worker-error");
    }
    // An upstream error passed on: its status must be one the mock sent for this request.
    const sent = upstream.filter((u) => u.rid === answer.rid).map((u) => u.status);
    if (status === 500 && json?.error?.message !== UPSTREAM_500.error.message) {
      return void Object.assign(answer, { outcome: "worker500", detail: body.slice(0, 300) });
    }
    if (!sent.includes(status)) {
      return void Object.assign(answer, { outcome: "malformed", detail: `${status} not sent upstream for this request (sent ${sent})` });
    }
    if (status === 429 && !/^\d+$/.test(answer.headers.find(([n]) => n === "retry-after")?.[1] ?? "")) {
      return void Object.assign(answer, { outcome: "malformed", detail: "429 without a numeric Retry-After" });
    }
    answer.outcome = "upstream-error";
  }

  async function sampleD1() {
    const rows = await worker.d1.all("SELECT id, model_coolings FROM keys WHERE model_coolings IS NOT NULL");
    for (const row of rows) {
      let doc;
      try {
        doc = JSON.parse(row.model_coolings);
      } catch {
        continue;
      }
      for (const [model, entry] of Object.entries(doc ?? {})) {
        const k = `${row.id}|${model}`;
        if (!samples.has(k)) samples.set(k, []);
        samples.get(k).push(entry.end_at);
      }
    }
  }

  before(async () => {
    mock = await startMock();
    mock.on(() => true, reply);
    worker = await startWorker({
      vars: {
        AUTH_KEY: `${AUTH_KEY};${RESTRICTED_KEY}=${RESTRICTED_SCOPE}`,
        UPSTREAM_TIMEOUT_MS: String(UPSTREAM_TIMEOUT_MS),
        KEY_CACHE_TTL_SECONDS: "1",
        THROTTLE_MIN_KEYS: "0",
        MAX_ATTEMPTS: "10",
      },
      mock,
    });
    for (const [cls, count] of Object.entries(CLASSES)) {
      const seeded = await seedKeys(worker, PROVIDER, count);
      seeded.forEach((k, index) => keyClass.set(k.key, { class: cls, index, id: k.id }));
    }
    for (const [index, k] of (await seedKeys(worker, ROUTER, ROUTER_KEYS)).entries()) keyClass.set(k.key, { class: "router", index, id: k.id });
    adminApi = await detectAdminApi();
    churn.via = adminApi ? "admin API" : "D1 directly (no admin JSON API answered GET /admin/api/keys)";
  });

  after(async () => {
    await worker?.stop();
    await mock?.close();
  });

  test(`soak: ${REQUESTS} requests at concurrency ${CONCURRENCY} (seed ${SEED})`, async () => {
    console.log(`# soak seed ${SEED} (replay with SOAK_SEED=${SEED}); ${REQUESTS} requests, concurrency ${CONCURRENCY}, ≤ ${SECONDS} s`);
    soakStartedS = nowS();
    const deadline = Date.now() + SECONDS * 1000;
    let next = 0;
    const client = async () => {
      while (next < REQUESTS && Date.now() < deadline) await oneRequest(next++);
    };
    let loadDone = false;
    const admin = (async () => {
      const live = [];
      for (let i = 0; i < 400 && !loadDone && Date.now() < deadline; i++) {
        live.push(await addChurnKey());
        if (live.length > 3) await deleteChurnKey(live.shift());
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const sampler = (async () => {
      for (let i = 0; i < 2000 && !loadDone && Date.now() < deadline + 5000; i++) {
        await sampleD1();
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    await Promise.all(Array.from({ length: CONCURRENCY }, client));
    loadDone = true;
    await Promise.all([admin, sampler]);

    // Let the wait_until writes land: wait until D1 stops changing.
    let last = "";
    await waitFor(
      async () => {
        const now = JSON.stringify(await worker.d1.all("SELECT id, status, model_coolings FROM keys ORDER BY id"));
        const stable = now === last;
        last = now;
        return stable;
      },
      { timeoutMs: 15_000, intervalMs: 300, message: "D1 to settle after the soak" },
    );
    await sampleD1();

    // ---------------------------------------------------------------------------------------------------------
    // Figures
    const byStatus = {};
    for (const a of answers) byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;
    const byOutcome = {};
    for (const a of answers) byOutcome[a.outcome] = (byOutcome[a.outcome] ?? 0) + 1;
    const upstreamKinds = {};
    for (const u of upstream) upstreamKinds[u.kind] = (upstreamKinds[u.kind] ?? 0) + 1;
    const malformed = answers.filter((a) => a.outcome === "malformed");
    const worker500 = answers.filter((a) => a.outcome === "worker500");

    // ---------------------------------------------------------------------------------------------------------
    // Expected D1 state
    const mismatches = [];
    const rows = await worker.d1.all("SELECT id, key, status, model_coolings FROM keys");
    const rowByKey = new Map(rows.map((r) => [r.key, r]));
    const tried = (key) => upstream.filter((u) => u.key === key);
    const endS = nowS();
    for (const [key, info] of keyClass) {
      const row = rowByKey.get(key);
      const label = `${info.class} key ${info.id?.slice(0, 8)}`;
      if (info.deleted) {
        if (row) mismatches.push(`${label}: deleted but still in D1`);
        continue;
      }
      if (!row) {
        mismatches.push(`${label}: missing from D1`);
        continue;
      }
      const coolings = row.model_coolings ? JSON.parse(row.model_coolings) : {};
      const seen = tried(key);
      switch (info.class) {
        case "dead":
          if (seen.length > 0 && row.status !== "blocked") mismatches.push(`${label}: tried ${seen.length}× but status ${row.status}`);
          if (seen.length === 0 && row.status !== "active") mismatches.push(`${label}: never tried but status ${row.status}`);
          break;
        case "good":
        case "flaky":
        case "churn":
        case "router":
          if (row.status !== "active") mismatches.push(`${label}: status ${row.status}`);
          if (Object.keys(coolings).length > 0) mismatches.push(`${label}: has coolings ${row.model_coolings}`);
          break;
        case "limited":
        case "daily": {
          if (row.status !== "active") mismatches.push(`${label}: status ${row.status}`);
          for (const model of MODELS) {
            const hits = seen.filter((u) => u.model === model);
            const entry = coolings[model];
            if (hits.length === 0) {
              if (entry) mismatches.push(`${label}: cooling for ${model} it never served: ${JSON.stringify(entry)}`);
              continue;
            }
            if (!entry) {
              mismatches.push(`${label}: answered 429 for ${model} ${hits.length}× but has no cooling`);
              continue;
            }
            const firstS = Math.floor(hits[0].at / 1000);
            const lastS = Math.floor(hits.at(-1).at / 1000);
            const midnights = new Set([nextPacificMidnightS(firstS), nextPacificMidnightS(lastS), nextPacificMidnightS(endS)]);
            if (info.class === "daily") {
              if (!midnights.has(entry.end_at)) mismatches.push(`${label}: ${model} end_at ${entry.end_at}, expected midnight LA ${[...midnights]}`);
            } else {
              const least = firstS + RETRY_DELAY_S + 2;
              const most = Math.max(lastS + RETRY_DELAY_S + 2 + 2, ...midnights); // the streak rule may send it to midnight
              if (entry.end_at < least || entry.end_at > most) mismatches.push(`${label}: ${model} end_at ${entry.end_at} outside [${least}, ${most}]`);
            }
          }
          const extra = Object.keys(coolings).filter((m) => !MODELS.includes(m));
          if (extra.length) mismatches.push(`${label}: coolings for unknown models ${extra}`);
          break;
        }
      }
    }
    // No cooldown ever moved earlier while the soak ran.
    for (const [k, values] of samples) {
      for (let i = 1; i < values.length; i++) {
        if (values[i] < values[i - 1]) {
          mismatches.push(`${k}: end_at went from ${values[i - 1]} to ${values[i]}`);
          break;
        }
      }
    }
    // What the poisoned clients did: keys that answered them and are out of service now, and the most keys one
    // poisoned request was refused by (a request's fault is returned at once; a suspect one is checked, then returned).
    const healthyClasses = new Set(["good", "flaky", "churn", "router"]);
    const lostToClients = [];
    for (const [key, info] of keyClass) {
      if (!healthyClasses.has(info.class) || info.deleted) continue;
      if (!upstream.some((u) => u.key === key && POISON_KINDS.has(u.kind))) continue;
      const row = rowByKey.get(key);
      const coolings = row?.model_coolings ? JSON.parse(row.model_coolings) : {};
      if (!row || row.status !== "active" || Object.keys(coolings).length > 0) lostToClients.push(`${info.class} key ${info.id?.slice(0, 8)}: ${row?.status ?? "gone"} ${row?.model_coolings ?? ""}`);
    }
    const poisonedRoutes = ["file", "suspect", "credits", "bypass"];
    const poisoned = answers.filter((a) => poisonedRoutes.includes(a.route));
    const poisonedByRoute = Object.fromEntries(poisonedRoutes.map((r) => [r, answers.filter((a) => a.route === r).length]));
    const refusalsOf = (rid) => upstream.filter((u) => u.rid === rid && POISON_KINDS.has(u.kind)).length;
    const tooManyRefusals = poisoned.filter((a) => refusalsOf(a.rid) > (a.route === "suspect" ? 2 : 1));
    const probes = upstream.filter((u) => u.probe);
    const rowCount = rows.length;
    const expectedRows = [...keyClass.values()].filter((i) => !i.deleted).length;
    if (rowCount !== expectedRows) mismatches.push(`D1 holds ${rowCount} keys, expected ${expectedRows}`);

    const figures = {
      seed: SEED,
      requests_sent: answers.length,
      seconds: endS - soakStartedS,
      answers_by_status: byStatus,
      answers_by_outcome: byOutcome,
      upstream_attempts: upstream.length,
      upstream_answers_by_kind: upstreamKinds,
      malformed_answers: malformed.length,
      worker_500s: worker500.length,
      d1_mismatches: mismatches.length,
      keys_added: churn.added,
      keys_deleted: churn.deleted,
      key_churn_via: churn.via,
      churn_failures: churn.failures.length,
      poisoned_requests: poisonedByRoute,
      poisoned_answers_by_status: Object.fromEntries(
        poisonedRoutes.map((r) => [r, answers.filter((a) => a.route === r).reduce((m, a) => ({ ...m, [a.status]: (m[a.status] ?? 0) + 1 }), {})]),
      ),
      most_keys_refusing_one_poisoned_request: Math.max(0, ...poisoned.map((a) => refusalsOf(a.rid))),
      suspect_key_checks: probes.length,
      keys_lost_to_client_errors: lostToClients.length,
    };
    console.log(`# soak figures ${JSON.stringify(figures)}`);
    if (process.env.SOAK_REPORT) writeFileSync(process.env.SOAK_REPORT, `${JSON.stringify({ figures, malformed: malformed.slice(0, 20), worker500: worker500.slice(0, 20), mismatches }, null, 2)}\n`);

    assert.equal(answers.length, REQUESTS, `only ${answers.length} of ${REQUESTS} requests were sent within ${SECONDS} s`);
    const upstreamOf = (rid) => upstream.filter((u) => u.rid === rid).map((u) => `${u.kind}${u.status ? ` ${u.status}` : ""}`).join(" → ");
    assert.deepEqual(
      malformed.slice(0, 5).map((a) => `#${a.rid} ${a.route}${a.stream ? " stream" : ""}: ${a.status} ${a.detail} [upstream: ${upstreamOf(a.rid)}]`),
      [],
      `${malformed.length} malformed answers`,
    );
    assert.deepEqual(worker500.slice(0, 5).map((a) => `#${a.rid}: ${a.detail}`), [], `${worker500.length} answers were the Worker's own 500`);
    assert.deepEqual(lostToClients, [], "keys taken out of service by requests that were the client's fault");
    assert.deepEqual(
      tooManyRefusals.slice(0, 5).map((a) => `#${a.rid} ${a.route}: refused by ${refusalsOf(a.rid)} keys`),
      [],
      "a poisoned request went on to more keys than it may",
    );
    assert.deepEqual(mismatches, [], "D1 state differs from what the upstream caused");
    assert.deepEqual(churn.failures, [], "adding or deleting keys failed during the soak");
    // The soak must have exercised what it claims to: every failure kind happened, and most requests succeeded.
    for (const kind of ["ok", "dead401", "dead403", "dead400", "limited", "daily", "e500", "e503", "gw2009", "location", "hang", ...POISON_KINDS, "listing"]) {
      assert.ok(upstreamKinds[kind] > 0, `the upstream never answered ${kind} (${JSON.stringify(upstreamKinds)})`);
    }
    assert.ok((byOutcome.ok ?? 0) > answers.length / 2, `fewer than half the requests succeeded: ${JSON.stringify(byOutcome)}`);
    assert.ok(churn.added > 0, "no key was added during the soak");
    assert.ok((byOutcome.refused ?? 0) > 0 && byOutcome.refused === poisonedByRoute.bypass, `every bypass was refused: ${JSON.stringify(byOutcome)}`);
  });

  test("after the soak, secrets appear only where they belong", async () => {
    assert.ok(answers.length > 0, "the soak ran");
    // The proxy path logs nothing when all goes well; the scheduled re-check logs, and probes the blocked keys with
    // their own key: run it so the logs and those upstream requests are searched too.
    await worker.d1.run("UPDATE keys SET check_after = 0 WHERE status = 'blocked'");
    const beforeProbes = mock.requests.length;
    await worker.dispatchScheduled();
    await worker.waitForLog(/scheduled re-check/, { timeoutMs: 15_000 });
    assert.ok(mock.requests.length > beforeProbes, "the re-check probed the blocked keys upstream");
    // Pieces long enough to identify a secret; a masked key (AIza…x9Qk) shows at most 4 characters in a row.
    const pieces = (secret, size = 10) => {
      const out = [];
      for (let i = 0; i + size <= secret.length; i += 3) out.push(secret.slice(i, i + size));
      out.push(secret.slice(-size));
      return out;
    };
    const secrets = [AUTH_KEY, RESTRICTED_KEY, ...keyClass.keys()];
    // A piece two secrets share (OpenRouter keys all start "sk-or-v1-") names neither of them.
    const owners = new Map();
    for (const s of secrets) for (const p of pieces(s)) owners.set(p, owners.has(p) && owners.get(p) !== s ? null : s);
    const pieceOwner = new Map([...owners].filter(([, s]) => s !== null));
    const findLeaks = (text) => {
      const hits = new Set();
      for (const [p, s] of pieceOwner) if (text.includes(p)) hits.add(s);
      return hits;
    };
    const leaks = [];
    const name = (s) => (s === AUTH_KEY ? "the service key" : s === RESTRICTED_KEY ? "the restricted service key" : `pool key ${keyClass.get(s)?.id?.slice(0, 8)} (${keyClass.get(s)?.class})`);
    for (const line of worker.logs) for (const s of findLeaks(line)) leaks.push(`${name(s)} in a Worker log line: ${line.slice(0, 160)}`);
    for (const a of answers) {
      for (const s of findLeaks(a.body)) leaks.push(`${name(s)} in the answer body of #${a.rid}`);
      for (const [h, v] of a.headers) for (const s of findLeaks(v)) leaks.push(`${name(s)} in answer header ${h} of #${a.rid}`);
    }
    let checkedUpstream = 0;
    for (const req of mock.requests) {
      checkedUpstream += 1;
      const compat = req.path.startsWith(`/${ROUTER}/`) || req.path.startsWith(`/${PROVIDER}/v1beta/openai/`);
      const allowedHeader = compat ? "authorization" : "x-goog-api-key";
      for (const s of findLeaks(`${req.url}\n${req.query}`)) leaks.push(`${name(s)} in an upstream URL ${req.path}`);
      for (const s of findLeaks(req.body.toString("latin1"))) leaks.push(`${name(s)} in an upstream body`);
      for (const [h, v] of Object.entries(req.headers)) {
        for (const s of findLeaks(String(v))) {
          if (s === AUTH_KEY || s === RESTRICTED_KEY) leaks.push(`${name(s)} in upstream header ${h}`);
          else if (h !== allowedHeader) leaks.push(`${name(s)} in upstream header ${h} (belongs in ${allowedHeader})`);
          else {
            const exact = compat ? String(v) === `Bearer ${s}` : String(v) === s;
            if (!exact) leaks.push(`${name(s)} in ${h} but not as its whole value`);
          }
        }
      }
    }
    console.log(`# secrets: searched ${worker.logs.length} Worker log lines, ${answers.length} answers, ${checkedUpstream} upstream requests for ${secrets.length} secrets`);
    assert.deepEqual(leaks.slice(0, 10), [], `${leaks.length} secret leaks`);
    assert.ok(checkedUpstream > 0);
  });
});
