// The scheduled re-check of keys that are out of the pool (src/recheck.rs, src/edge/recheck.rs), end to end: the
// built Worker's `scheduled` handler is run with `dispatchScheduled()` against a mock AI Gateway, and its decisions are
// read back from D1. Time is steered through the rows: `check_after` in the past makes a key due, in the future not;
// `model_coolings` "*" entries ending in the future make an active key exhausted. Nothing here sleeps.
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { startWorker } from "../harness/worker.mjs";
import { startMock } from "../harness/mock-upstream.mjs";
import { aiGateway, gemini, openai } from "../harness/providers.mjs";
import { waitFor } from "./support/pool.mjs";

const AUTH_KEY = "ob-e2e-recheck-3b9f0c6d2a71";
const HOUR = 3_600;
const GEMINI_MODELS = "/google-ai-studio/v1beta/models";
const GEMINI_OPENAI_CHAT = "/google-ai-studio/v1beta/openai/chat/completions";
const OPENAI_CHAT = "/openai/chat/completions";

const nowS = () => Math.floor(Date.now() / 1000);

let mock;
let worker;

function fakeKey(provider) {
  const text = randomBytes(30).toString("base64url").slice(0, 33);
  return provider === "google-ai-studio" ? `AIzaSy${text}` : `sk-proj-${text}`;
}

/** Inserts one key row; returns `{ id, key, provider }`. */
async function seed(provider, { status = "active", coolings, checkAfter = null, failures = 0, key = fakeKey(provider) } = {}) {
  const id = randomUUID();
  const t = nowS() - 86_400;
  await worker.d1.run(
    `INSERT INTO keys (id, key, provider, model_coolings, status, check_after, check_failures, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    id,
    key,
    provider,
    coolings === undefined ? null : JSON.stringify(coolings),
    status,
    checkAfter,
    failures,
    t,
    t,
  );
  return { id, key, provider };
}

async function row(id) {
  const r = await worker.d1.first("SELECT * FROM keys WHERE id = ?", id);
  assert.ok(r, `row ${id} still exists`);
  return { ...r, coolings: r.model_coolings ? JSON.parse(r.model_coolings) : null };
}

/** Polls `probe` until truthy (bounded); returns its value. */

/** Runs the scheduled handler once and checks it completed; returns the unix seconds bracketing the run. */
async function runCron() {
  const t0 = nowS();
  const result = await worker.dispatchScheduled({ cron: "*/15 * * * *", scheduledTime: new Date() });
  assert.equal(result.outcome, "ok", `scheduled handler outcome: ${JSON.stringify(result)}`);
  return { t0, t1: nowS() };
}

const keyOf = (req) => req.headers["x-goog-api-key"] ?? req.headers.authorization?.replace(/^Bearer /, "");
const probesFor = (key) => mock.requests.filter((r) => keyOf(r) === key);

function generate(model = "gemini-2.5-flash") {
  return fetch(`${worker.url}/api/google-ai-studio/v1beta/models/${model}:generateContent`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-goog-api-key": AUTH_KEY },
    body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hi" }] }] }),
    signal: AbortSignal.timeout(15_000),
  });
}

function chat(model = "gpt-4o-mini") {
  return fetch(`${worker.url}/api/openai/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${AUTH_KEY}` },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
    signal: AbortSignal.timeout(15_000),
  });
}

/** Asserts `actual` is `offset` seconds after some moment of `span` (`{ t0, t1 }`, unix seconds around the action). */
function within(actual, span, offset, what) {
  assert.ok(Number.isInteger(actual), `${what} is an integer (got ${JSON.stringify(actual)})`);
  const [lo, hi] = [span.t0 + offset, span.t1 + offset];
  assert.ok(actual >= lo && actual <= hi, `${what}: expected now + ${offset} s, in [${lo}, ${hi}], got ${actual} (${actual - span.t0 - offset} s after t0 + ${offset})`);
}

before(async () => {
  mock = await startMock();
  // The default cache TTL (60 s) on purpose: a restored key must be usable at once, so the re-check has to drop the
  // provider's cached pool, not wait for it to expire.
  worker = await startWorker({ vars: { AUTH_KEY }, mock });
});
after(async () => {
  await worker?.stop();
  await mock?.close();
});
beforeEach(async () => {
  mock.reset();
  await worker.d1.exec("DELETE FROM keys");
});

describe("scheduled re-check of blocked keys", { timeout: 60_000 }, () => {
  test("a blocked key whose models listing now succeeds is active again and serves the next request", async () => {
    // A request first, so the isolate caches Gemini's pool as empty (503, nothing upstream).
    const empty = await generate();
    assert.equal(empty.status, 503, await empty.text());
    assert.equal(mock.requests.length, 0);

    const k = await seed("google-ai-studio", { status: "blocked", checkAfter: nowS() - 60, failures: 3 });
    mock.on({ method: "GET", path: GEMINI_MODELS }, { status: 200, body: { models: [{ name: "models/gemini-2.5-flash" }] } });
    const run = await runCron();

    const probes = probesFor(k.key);
    assert.equal(probes.length, 1, "one probe");
    assert.equal(probes[0].method, "GET");
    assert.equal(probes[0].path, GEMINI_MODELS);
    assert.equal(probes[0].headers["x-goog-api-key"], k.key, "the key travels in x-goog-api-key");
    assert.equal(probes[0].headers.authorization, undefined);
    assert.equal(probes[0].body.length, 0, "a listing has no body");

    const r = await waitFor(async () => ((await row(k.id)).status === "active" ? row(k.id) : null), { message: "the key to be active" });
    assert.equal(r.check_failures, 0);
    assert.equal(r.last_check_result, "ok");
    assert.equal(r.check_after, null, "no re-check pending for a key in the pool");
    within(r.last_checked_at, run, 0, "last_checked_at");

    mock.on({ method: "POST", path: /:generateContent$/ }, gemini.success({ text: "restored" }));
    const res = await generate();
    assert.equal(res.status, 200, "the restored key serves at once, without waiting for the key cache to expire");
    assert.equal((await res.json()).candidates[0].content.parts[0].text, "restored");
    const served = mock.requests.filter((q) => q.path.endsWith(":generateContent"));
    assert.equal(served.length, 1);
    assert.equal(served[0].headers["x-goog-api-key"], k.key);
  });

  test("a probe answering API_KEY_INVALID keeps the key blocked and backs off 1 h, then 2 h", async () => {
    const k = await seed("google-ai-studio", { status: "blocked", checkAfter: nowS() - 10 });
    mock.on({ method: "GET", path: GEMINI_MODELS }, gemini.invalidKey());

    const run1 = await runCron();
    let r = await row(k.id);
    assert.equal(probesFor(k.key).length, 1);
    assert.equal(r.status, "blocked");
    assert.equal(r.check_failures, 1);
    assert.equal(r.last_check_result, "invalid_key");
    within(r.check_after, run1, HOUR, "check_after after the first failed probe");
    within(r.last_checked_at, run1, 0, "last_checked_at");

    // Not due any more: a second run leaves it alone.
    await runCron();
    assert.equal(probesFor(k.key).length, 1, "not probed again before check_after");
    assert.equal((await row(k.id)).check_failures, 1);

    // Make it due again, as if the hour had passed.
    await worker.d1.run("UPDATE keys SET check_after = ? WHERE id = ?", nowS() - 1, k.id);
    const run2 = await runCron();
    r = await row(k.id);
    assert.equal(probesFor(k.key).length, 2);
    assert.equal(r.status, "blocked");
    assert.equal(r.check_failures, 2);
    assert.equal(r.last_check_result, "invalid_key");
    within(r.check_after, run2, 2 * HOUR, "check_after after the second failed probe");
    assert.equal((await worker.d1.first("SELECT count(*) AS n FROM keys")).n, 1, "nothing deleted");
  });

  test("back-off keeps doubling and stops at a day", async () => {
    const k = await seed("google-ai-studio", { status: "blocked", checkAfter: nowS() - 10, failures: 4 });
    mock.on({ method: "GET", path: GEMINI_MODELS }, gemini.suspended());
    const run1 = await runCron();
    let r = await row(k.id);
    assert.equal(r.check_failures, 5);
    assert.equal(r.last_check_result, "invalid_key", "a suspended key is an invalid key");
    within(r.check_after, run1, 16 * HOUR, "fifth failure: 16 h");

    await worker.d1.run("UPDATE keys SET check_after = ? WHERE id = ?", nowS() - 1, k.id);
    const run2 = await runCron();
    r = await row(k.id);
    assert.equal(r.check_failures, 6);
    within(r.check_after, run2, 24 * HOUR, "capped at a day");
  });

  test("a key not yet due is not probed, and a blocked row the migrations marked due (0) is", async () => {
    const later = nowS() + 1_800;
    const notDue = await seed("google-ai-studio", { status: "blocked", checkAfter: later, failures: 1 });
    const legacy = await seed("google-ai-studio", { status: "blocked", checkAfter: 0 });
    const before = await row(notDue.id);
    mock.on({ method: "GET", path: GEMINI_MODELS }, gemini.invalidKey());
    await runCron();

    assert.equal(probesFor(notDue.key).length, 0, "the key whose check_after is in the future was not probed");
    assert.deepEqual(await row(notDue.id), before, "and its row is untouched");
    assert.equal(probesFor(legacy.key).length, 1, "check_after 0 (set by 0004_scale.sql on the original's blocked rows) means due now");
    const r = await row(legacy.id);
    assert.equal(r.check_failures, 1);
    assert.ok(r.check_after > nowS() + HOUR - 10, "and it got a real date");
  });

  test("an inconclusive probe (503 overloaded, AI Gateway 2009) does not count as a failure", async () => {
    const overloaded = await seed("google-ai-studio", { status: "blocked", checkAfter: nowS() - 30, failures: 2 });
    const gateway = await seed("google-ai-studio", { status: "blocked", checkAfter: nowS() - 20, failures: 0 });
    mock.on((req) => keyOf(req) === overloaded.key, gemini.overloaded());
    mock.on((req) => keyOf(req) === gateway.key, aiGateway.unauthorized());
    const run = await runCron();
    const t0 = run.t0;
    assert.equal(probesFor(overloaded.key).length, 1);
    assert.equal(probesFor(gateway.key).length, 1);

    for (const [k, failures] of [
      [overloaded, 2],
      [gateway, 0],
    ]) {
      const r = await row(k.id);
      assert.equal(r.status, "blocked", "still out of the pool: nothing was proved");
      assert.equal(r.check_failures, failures, "the failure count did not grow");
      assert.match(r.last_check_result ?? "", /^inconclusive/, `last_check_result ${r.last_check_result}`);
      assert.ok(r.check_after > t0, "looked at again later, not in a tight loop");
      assert.ok(r.check_after <= run.t1 + 2 * HOUR, `no longer than the interval it had (check_after - now = ${r.check_after - t0})`);
      within(r.last_checked_at, run, 0, "last_checked_at");
    }
  });

  test("a key-scoped 429 on the probe proves the key is accepted: back in the pool", async () => {
    const k = await seed("google-ai-studio", { status: "blocked", checkAfter: nowS() - 5 });
    mock.on({ method: "GET", path: GEMINI_MODELS }, gemini.rateLimited({ retryDelay: "20s" }));
    await runCron();
    const r = await row(k.id);
    assert.equal(r.status, "active");
    assert.equal(r.last_check_result, "ok");
  });
});

describe("scheduled re-check of exhausted keys", { timeout: 60_000 }, () => {
  test("an exhausted key is probed with a one-token generation and its all-models entry is removed on success", async () => {
    const end = nowS() + 20 * HOUR;
    const k = await seed("openai", {
      checkAfter: nowS() - 60,
      failures: 1,
      coolings: { "*": { end_at: end, total_seconds: 86_400 }, "gpt-4.1": { end_at: end, total_seconds: 65, streak: 1 } },
    });
    mock.on({ method: "POST", path: OPENAI_CHAT }, openai.chatCompletion({ content: "p" }));
    await runCron();

    const probes = probesFor(k.key);
    assert.equal(probes.length, 1);
    assert.equal(probes[0].method, "POST");
    assert.equal(probes[0].path, OPENAI_CHAT, "not the models listing: a listing works without credit");
    assert.equal(probes[0].headers.authorization, `Bearer ${k.key}`);
    assert.match(probes[0].headers["content-type"] ?? "", /application\/json/);
    const body = probes[0].json();
    assert.equal(body.max_tokens, 1);
    assert.equal(body.model, "gpt-4o-mini");
    assert.ok(Array.isArray(body.messages) && body.messages.length === 1);

    const r = await row(k.id);
    assert.equal(r.status, "active");
    assert.equal(r.coolings["*"], undefined, "the all-models cooldown is gone");
    assert.deepEqual(r.coolings["gpt-4.1"], { end_at: end, total_seconds: 65, streak: 1 }, "other entries are kept");
    assert.equal(r.check_failures, 0);
    assert.equal(r.last_check_result, "ok");
    assert.equal(r.check_after, null);

    // Back in the pool: it serves the next request.
    mock.on({ method: "POST", path: OPENAI_CHAT }, openai.chatCompletion({ content: "again" }));
    const res = await chat();
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal((await res.json()).choices[0].message.content, "again");
    assert.equal(probesFor(k.key).length, 2);

    // No longer exhausted, so no longer due.
    await runCron();
    assert.equal(probesFor(k.key).length, 2, "a restored key is not probed again");
  });

  test("the probe never uses a model the key is cooling for", async () => {
    const end = nowS() + 10 * HOUR;
    const k = await seed("google-ai-studio", {
      checkAfter: nowS() - 60,
      coolings: { "*": { end_at: end, total_seconds: 86_400 }, "gemini-2.5-flash-lite": { end_at: end, total_seconds: 600 } },
    });
    mock.on({ method: "POST", path: GEMINI_OPENAI_CHAT }, openai.chatCompletion({ content: "p", model: "gemini-2.0-flash" }));
    await runCron();

    const probes = probesFor(k.key);
    assert.equal(probes.length, 1);
    assert.equal(probes[0].path, GEMINI_OPENAI_CHAT, "Gemini's OpenAI-compatible chat path");
    assert.equal(probes[0].headers.authorization, `Bearer ${k.key}`, "that path takes the key as a Bearer token");
    const body = probes[0].json();
    assert.equal(body.model, "gemini-2.0-flash", "not gemini-2.5-flash-lite, which the key is cooling for");
    assert.equal(body.max_tokens, 1);

    const r = await row(k.id);
    assert.equal(r.coolings["*"], undefined);
    assert.equal(r.coolings["gemini-2.5-flash-lite"].end_at, end, "the per-model cooldown stays");
  });

  test("an exhausted key whose probe says it is still exhausted stays out with a longer wait", async () => {
    const end = nowS() + 20 * HOUR;
    const k = await seed("openai", { checkAfter: nowS() - 60, coolings: { "*": { end_at: end, total_seconds: 86_400 } } });
    mock.on({ method: "POST", path: OPENAI_CHAT }, openai.insufficientQuota());
    const run = await runCron();
    const r = await row(k.id);
    assert.equal(probesFor(k.key).length, 1);
    assert.equal(r.status, "active");
    assert.equal(r.coolings["*"].end_at, end, "still cooling for every model");
    assert.equal(r.check_failures, 1);
    assert.equal(r.last_check_result, "exhausted");
    within(r.check_after, run, HOUR, "check_after");
  });

  test("an active key without an all-models cooldown is never probed, even when check_after is due", async () => {
    const k = await seed("openai", { checkAfter: nowS() - 60, coolings: { "gpt-4o-mini": { end_at: nowS() + 600, total_seconds: 600 } } });
    const expired = await seed("openai", { checkAfter: nowS() - 60, coolings: { "*": { end_at: nowS() - 5, total_seconds: 86_400 } } });
    await runCron();
    assert.equal(probesFor(k.key).length, 0);
    assert.equal(probesFor(expired.key).length, 0, "an all-models cooldown that has ended needs no probe");
    assert.equal(mock.requests.length, 0);
  });
});

describe("limits of one run", { timeout: 60_000 }, () => {
  test("at most 10 keys per run, oldest due first; the rest on the next run; nothing deleted", async () => {
    const t = nowS();
    const keys = [];
    for (let i = 0; i < 13; i++) {
      // keys[0] is the most overdue.
      keys.push(await seed("google-ai-studio", { status: "blocked", checkAfter: t - 1_000 + i }));
    }
    mock.on({ method: "GET", path: GEMINI_MODELS }, gemini.invalidKey());
    await runCron();
    assert.equal(mock.requests.length, 10, "10 probes in one run");
    const probed = new Set(mock.requests.map(keyOf));
    assert.equal(probed.size, 10, "10 distinct keys");
    for (const k of keys.slice(0, 10)) assert.ok(probed.has(k.key), "the 10 most overdue were probed");
    for (const k of keys.slice(10)) {
      assert.ok(!probed.has(k.key));
      assert.equal((await row(k.id)).last_checked_at, null);
    }

    await runCron();
    assert.equal(mock.requests.length, 13, "the next run takes the remaining 3 (the others are not due)");
    for (const k of keys) assert.equal((await row(k.id)).check_failures, 1);
    assert.equal((await worker.d1.first("SELECT count(*) AS n FROM keys")).n, 13, "nothing deleted");
    assert.equal((await worker.d1.first("SELECT count(*) AS n FROM keys WHERE status = 'blocked'")).n, 13);
  });

  test("a provider without a probe is left alone and not counted as a failure", async () => {
    const k = await seed("elevenlabs", { status: "blocked", checkAfter: nowS() - 60, failures: 1 });
    await runCron();
    assert.equal(mock.requests.length, 0);
    const r = await row(k.id);
    assert.equal(r.status, "blocked");
    assert.equal(r.check_failures, 1);
    assert.ok(r.check_after > nowS(), "not due again on the very next run");
  });
});

describe("leaving the pool through live traffic schedules the first re-check", { timeout: 60_000 }, () => {
  // A Worker of its own with no key cache: the shared one still holds earlier tests' OpenAI pool for 60 s.
  let shared;
  before(async () => {
    shared = worker;
    worker = await startWorker({ vars: { AUTH_KEY, KEY_CACHE_TTL_SECONDS: "0", SESSION_AFFINITY: "off" }, mock });
  });
  after(async () => {
    await worker?.stop();
    worker = shared;
  });

  test("a 401 blocks the key with check_after ≈ now + 1 h; spend exhaustion does the same for an active key", async () => {
    const invalid = await seed("openai");
    const broke = await seed("openai");
    const good = await seed("openai");
    mock.on((req) => keyOf(req) === invalid.key, openai.invalidKey());
    mock.on((req) => keyOf(req) === broke.key, openai.insufficientQuota());
    mock.on((req) => keyOf(req) === good.key, openai.chatCompletion());

    // Selection is random: repeat until both bad keys have been met (each request tries all 3 at worst).
    const t0 = nowS();
    for (let i = 0; i < 20 && !(probesFor(invalid.key).length && probesFor(broke.key).length); i++) {
      const res = await chat();
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
    assert.ok(probesFor(invalid.key).length && probesFor(broke.key).length, "both bad keys were tried");
    const span = { t0, t1: nowS() };

    const blocked = await waitFor(async () => {
      const r = await row(invalid.id);
      return r.status === "blocked" && r.check_after !== null ? r : null;
    }, { message: "the 401 key to be blocked" });
    within(blocked.check_after, span, HOUR, "check_after of a key blocked by traffic");
    assert.equal(blocked.check_failures, 0);

    const exhausted = await waitFor(async () => {
      const r = await row(broke.id);
      return r.coolings?.["*"] && r.check_after !== null ? r : null;
    }, { message: "the exhausted key to get its all-models cooldown and a re-check date" });
    assert.equal(exhausted.status, "active", "exhaustion is never a block");
    within(exhausted.check_after, span, HOUR, "check_after of an exhausted key");
    const g = await row(good.id);
    assert.equal(g.check_after, null, "a healthy key gets no re-check date");
  });
});
