// The pool-wide 429 breaker (src/breaker.rs, consulted by the attempt loop in src/attempt.rs), end to end: when most
// of a (provider, model)'s usable keys answer 429 without any quota details of their own and none answers 200, the
// limit is the egress IP's or the region's, not the keys'. The Worker then stops spending keys: it answers 429 +
// Retry-After, pauses that (provider, model) without any upstream attempt, does not cool the keys that answered
// after detection, and resumes on its own once the pause is over. 429s that name the key's own quota window, or a
// pool whose other keys still answer 200, never pause it. THROTTLE_PAUSE_SECONDS is small here, so the one real
// wait in this file is a few seconds.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { startWorker } from "../harness/worker.mjs";
import { startMock } from "../harness/mock-upstream.mjs";
import { gemini } from "../harness/providers.mjs";
import { waitFor } from "./support/pool.mjs";

const AUTH_KEY = "ob-e2e-throttle-8c24e5b1f09a";
const FLASH = "gemini-2.5-flash";
const PRO = "gemini-2.5-pro";
const PAUSE_S = 4;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const keyOf = (req) => req.headers["x-goog-api-key"];
const forModel = (model) => (req) => req.path.includes(`/models/${model}:`);

async function seedKeys(worker, count) {
  const keys = [];
  for (let i = 0; i < count; i++) {
    const id = randomUUID();
    const key = `AIzaSy${randomBytes(30).toString("base64url").slice(0, 33)}`;
    await worker.d1.run("INSERT INTO keys (id, key, provider) VALUES (?, ?, 'google-ai-studio')", id, key);
    keys.push({ id, key });
  }
  return keys;
}

function generate(worker, model = FLASH) {
  return fetch(`${worker.url}/api/google-ai-studio/v1beta/models/${model}:generateContent`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-goog-api-key": AUTH_KEY },
    body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hi" }] }] }),
    signal: AbortSignal.timeout(20_000),
  });
}

const attemptsOf = (res) =>
  (res.headers.get("x-one-balance-attempts") ?? "")
    .split(",")
    .filter(Boolean)
    .map((p) => p.trim().split("="))
    .filter(([id]) => id !== "affinity")
    .map(([, verdict]) => verdict);

/** Keys whose row carries any cooldown. */
async function cooledKeys(worker) {
  const rows = await worker.d1.all("SELECT key, model_coolings FROM keys WHERE model_coolings IS NOT NULL AND model_coolings NOT IN ('', '{}')");
  return rows.map((r) => ({ key: r.key, coolings: JSON.parse(r.model_coolings) }));
}


function retryAfterOf(res) {
  const value = res.headers.get("retry-after");
  assert.ok(value !== null, "a Retry-After header");
  assert.match(value, /^\d+$/, `Retry-After is whole seconds (${value})`);
  return Number(value);
}

describe("pool-wide throttle: 6 keys, the upstream answers a bare 429 (no quota details) to everything", { timeout: 60_000 }, () => {
  let mock;
  let worker;
  before(async () => {
    mock = await startMock();
    worker = await startWorker({ vars: { AUTH_KEY, THROTTLE_MIN_KEYS: "5", THROTTLE_PAUSE_SECONDS: String(PAUSE_S) }, mock });
  });
  after(async () => {
    await worker?.stop();
    await mock?.close();
  });

  test("detects, pauses without spending keys, cools only the keys before detection, and resumes on its own", async () => {
    const keys = await seedKeys(worker, 6);
    mock.on(() => true, gemini.rateLimitedPlain());

    // 1. The first request stops at the detection threshold, well before MAX_ATTEMPTS (10).
    const first = await generate(worker);
    const firstBody = await first.text();
    assert.equal(first.status, 429, firstBody);
    const retryAfter = retryAfterOf(first);
    assert.ok(retryAfter >= 1 && retryAfter <= PAUSE_S, `Retry-After ${retryAfter} within the pause of ${PAUSE_S} s`);
    assert.equal(mock.requests.length, 5, "THROTTLE_MIN_KEYS = 5 upstream attempts, not 10");
    const tried = mock.requests.map(keyOf);
    assert.equal(new Set(tried).size, 5, "5 distinct keys");
    assert.deepEqual(attemptsOf(first), Array(5).fill("rate_limited"));
    assert.match(firstBody, /pool_throttled|rate-limited at once/);

    // 2. During the pause: 429 + Retry-After at once, zero upstream attempts.
    for (let i = 0; i < 3; i++) {
      const res = await generate(worker);
      const body = await res.text();
      assert.equal(res.status, 429, body);
      const seconds = retryAfterOf(res);
      assert.ok(seconds >= 1 && seconds <= PAUSE_S, `Retry-After ${seconds}`);
      assert.match(body, /pool_throttled/);
    }
    assert.equal(mock.requests.length, 5, "no upstream attempt while paused");

    // The pause is per (provider, model): another model still reaches the upstream.
    mock.on(forModel(PRO), gemini.success({ text: "pro ok", model: PRO }));
    const pro = await generate(worker, PRO);
    assert.equal(pro.status, 200, await pro.clone().text());
    await pro.arrayBuffer();
    assert.equal(mock.requests.length, 6);
    const stillPaused = await generate(worker);
    assert.equal(stillPaused.status, 429);
    await stillPaused.arrayBuffer();
    assert.equal(mock.requests.length, 6, "flash is still paused");

    // 3. Only the keys that answered before detection were cooled (the 5th answered 429 too, but the limit was not its own).
    const cooled = await waitFor(async () => {
      const list = await cooledKeys(worker);
      return list.length >= 4 ? list : null;
    }, { message: "4 cooldowns in D1" });
    await sleep(300); // any fifth write (there must be none) would have been issued with the other four
    const settled = await cooledKeys(worker);
    assert.equal(settled.length, 4, `cooled: ${settled.length}`);
    assert.deepEqual(new Set(settled.map((c) => c.key)), new Set(tried.slice(0, 4)), "the first four keys tried");
    for (const c of cooled) assert.ok(c.coolings[FLASH], "cooled for the model asked for");
    assert.ok(!settled.some((c) => c.key === tried[4]), "the key that triggered detection is not cooled");

    // 4. The upstream recovers; once the pause has passed, traffic flows with no manual action.
    mock.reset();
    mock.on(() => true, gemini.success({ text: "recovered" }));
    const deadline = Date.now() + (PAUSE_S + 3) * 1000;
    let res;
    for (;;) {
      res = await generate(worker);
      if (res.status === 200) break;
      const body = await res.text();
      assert.equal(res.status, 429, body);
      assert.equal(mock.requests.length, 0, "paused requests never reach the upstream");
      assert.ok(Date.now() < deadline, `still paused ${PAUSE_S + 3} s after detection`);
      await sleep(200);
    }
    assert.equal((await res.json()).candidates[0].content.parts[0].text, "recovered");
    assert.equal(mock.requests.length, 1, "one attempt: a key that is not cooling");
    assert.ok(!tried.slice(0, 4).includes(keyOf(mock.requests[0])), "not one of the cooled keys");
    assert.equal(keys.length, 6);
  });
});

describe("THROTTLE_MIN_KEYS=0 turns detection off", { timeout: 60_000 }, () => {
  let mock;
  let worker;
  before(async () => {
    mock = await startMock();
    worker = await startWorker({ vars: { AUTH_KEY, THROTTLE_MIN_KEYS: "0", THROTTLE_PAUSE_SECONDS: "1" }, mock });
  });
  after(async () => {
    await worker?.stop();
    await mock?.close();
  });

  test("all 10 attempts are spent, each key cools, and the next request is not paused", async () => {
    await seedKeys(worker, 20);
    mock.on(() => true, gemini.rateLimited({ retryDelay: "37s", model: FLASH }));
    const res = await generate(worker);
    const body = await res.text();
    assert.equal(res.status, 429, body);
    retryAfterOf(res);
    assert.equal(mock.requests.length, 10, "MAX_ATTEMPTS distinct keys");
    assert.equal(new Set(mock.requests.map(keyOf)).size, 10);
    assert.deepEqual(attemptsOf(res), Array(10).fill("rate_limited"));
    assert.doesNotMatch(body, /pool_throttled/, "the last upstream error, not a pause");
    assert.equal(JSON.parse(body).error.status, "RESOURCE_EXHAUSTED");
    await waitFor(async () => (await cooledKeys(worker)).length === 10, { message: "10 cooldowns in D1" });

    const next = await generate(worker);
    await next.arrayBuffer();
    assert.equal(next.status, 429);
    assert.equal(mock.requests.length, 20, "the next request tries the other 10 keys");
  });
});

describe("probation after a pause", { timeout: 60_000 }, () => {
  let mock;
  let worker;
  before(async () => {
    mock = await startMock();
    worker = await startWorker({ vars: { AUTH_KEY, THROTTLE_MIN_KEYS: "5", THROTTLE_PAUSE_SECONDS: "1" }, mock });
  });
  after(async () => {
    await worker?.stop();
    await mock?.close();
  });

  /** Sends requests until one reaches the upstream (bounded); returns it. Paused answers must cost nothing. */
  async function firstUnpaused(timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const before = mock.requests.length;
      const res = await generate(worker);
      if (mock.requests.length > before) return { res, before };
      const body = await res.text();
      assert.equal(res.status, 429, body);
      assert.match(body, /pool_throttled/);
      assert.ok(Date.now() < deadline, "the pause did not end in time");
      await sleep(100);
    }
  }

  test("a single 429 right after the pause pauses again, twice as long, without cooling that key", async () => {
    await seedKeys(worker, 6);
    mock.on(() => true, gemini.rateLimitedPlain());
    const first = await generate(worker);
    await first.arrayBuffer();
    assert.equal(first.status, 429);
    assert.equal(mock.requests.length, 5);
    await waitFor(async () => (await cooledKeys(worker)).length === 4, { message: "4 cooldowns" });

    // Still throttled after the pause: one attempt, and a new, doubled pause.
    const { res: again, before } = await firstUnpaused(4_000);
    const body = await again.text();
    assert.equal(again.status, 429, body);
    assert.equal(mock.requests.length, before + 1, "on probation a single 429 is enough: one attempt");
    assert.match(body, /pool_throttled/);
    const seconds = retryAfterOf(again);
    assert.ok(seconds >= 1 && seconds <= 2, `the second pause is at most 2 × 1 s (Retry-After ${seconds})`);
    const probationKey = keyOf(mock.requests.at(-1));
    await sleep(300);
    assert.ok(!(await cooledKeys(worker)).some((c) => c.key === probationKey), "the key that answered on probation is not cooled");
    assert.equal((await cooledKeys(worker)).length, 4);

    // Recovery ends it all.
    mock.reset();
    mock.on(() => true, gemini.success({ text: "back" }));
    const { res: ok } = await firstUnpaused(5_000);
    assert.equal(ok.status, 200);
    assert.equal((await ok.json()).candidates[0].content.parts[0].text, "back");
  });
});

describe("the breaker never pauses a pool that still serves", { timeout: 90_000 }, () => {
  let mock;
  let worker;
  before(async () => {
    mock = await startMock();
    // KEY_CACHE_TTL_SECONDS=0: each case replaces the keys in D1 behind the Worker's back.
    worker = await startWorker({ vars: { AUTH_KEY, THROTTLE_MIN_KEYS: "5", THROTTLE_PAUSE_SECONDS: String(PAUSE_S), KEY_CACHE_TTL_SECONDS: "0" }, mock });
  });
  after(async () => {
    await worker?.stop();
    await mock?.close();
  });

  for (const [name, limited] of [
    ["half the keys answer 429 with Gemini's per-minute QuotaFailure and RetryInfo", () => gemini.rateLimited({ retryDelay: "37s", model: FLASH })],
    ["half the keys answer a bare 429", () => gemini.rateLimitedPlain()],
  ]) {
    test(`${name}: every request is served by a healthy key, none is paused`, async () => {
      await worker.d1.exec("DELETE FROM keys");
      const keys = await seedKeys(worker, 40);
      const bad = new Set(keys.filter((_, i) => i % 2 === 0).map((k) => k.key));
      mock.reset();
      mock.on(() => true, (req) => (bad.has(keyOf(req)) ? limited() : gemini.success({ text: "healthy" })));
      const verdicts = [];
      for (let i = 0; i < 30; i++) {
        const res = await generate(worker);
        const body = await res.text();
        assert.equal(res.status, 200, `request ${i}: ${res.headers.get("x-one-balance-attempts")} ${body.slice(0, 200)}`);
        verdicts.push(...attemptsOf(res));
      }
      assert.ok(verdicts.includes("rate_limited"), `some requests met a limited key first: ${verdicts.join()}`);
      assert.ok(!verdicts.some((v) => v === "pool_throttled"));
    });
  }
});
