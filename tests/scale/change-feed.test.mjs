// What one isolate learns reaches the others through D1's change feed (src/pool/feed.rs), not through a full reload:
// a cooldown, an admin's delete and add are used by another isolate of the built Worker within KEY_CACHE_TTL_SECONDS
// (10 s by default: it polls every half of that, reading only the rows that changed). And a pool larger than
// KEY_WINDOW_SIZE is held as a window: when the window has no usable key for a model, the request reads the next
// window before it answers 429.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "../harness/worker.mjs";
import { startMock } from "../harness/mock-upstream.mjs";
import { gemini } from "../harness/providers.mjs";
import { api } from "../e2e/support/admin.mjs";
import { nowS, seedKeys } from "../e2e/support/pool.mjs";

const AUTH_KEY = "ob-scale-feed-service-key-29b4e1";
const MODEL = "gemini-2.5-flash";
const FEED_SECONDS = 10;
const ISOLATES = 10;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const keyOf = (req) => req.headers["x-goog-api-key"];

function generate(isolate, model = MODEL) {
  return isolate.fetch(`/api/google-ai-studio/v1beta/models/${model}:generateContent`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-goog-api-key": AUTH_KEY },
    body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hi" }] }] }),
    signal: AbortSignal.timeout(20_000),
  });
}

/**
 * Sends requests to `isolate` every 150 ms for at most `seconds`, and returns how long after `since` the last upstream
 * request that `matches` was made (0 if none was), once `quiet` seconds have passed with none.
 */
async function lastUseAfter(mock, isolate, matches, since, { seconds = FEED_SECONDS + 6, quiet = 3 } = {}) {
  let last = 0;
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    const before = mock.requests.length;
    const res = await generate(isolate);
    await res.arrayBuffer();
    if (mock.requests.slice(before).some(matches)) last = Date.now();
    if (last === 0 ? Date.now() - since > quiet * 1000 : Date.now() - last > quiet * 1000) break;
    await sleep(150);
  }
  return last === 0 ? 0 : last - since;
}

describe("the change feed carries one isolate's news to the others", { timeout: 120_000 }, () => {
  let mock;
  let worker;
  let keys;
  before(async () => {
    mock = await startMock();
    // Uniform choice: the test watches which keys an isolate still uses (affinity would keep one key).
    worker = await startWorker({ vars: { AUTH_KEY, SESSION_AFFINITY: "off" }, mock, isolates: 2 });
    keys = await seedKeys(worker, "google-ai-studio", 2);
    mock.on(() => true, gemini.success());
    for (const i of [0, 1]) {
      const res = await generate(worker.isolate(i));
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
  });
  after(async () => {
    await worker?.stop();
    await mock?.close();
  });

  test(`a cooldown learned in one isolate is used by another within ${FEED_SECONDS} s`, async (t) => {
    const [limited] = keys;
    // Isolate 0 meets the limited key's 429 (one per-minute 429, then the key would serve again: only the feed can
    // keep isolate 1 away from it).
    let answered = false;
    mock.on((req) => keyOf(req) === limited.key && !answered, () => {
      answered = true;
      return gemini.rateLimited({ retryDelay: "120s" });
    });
    for (let i = 0; i < 40 && !answered; i++) {
      const res = await generate(worker.isolate(0));
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
    assert.ok(answered, "isolate 0 met the 429");
    const learnedAt = Date.now();
    const lag = await lastUseAfter(mock, worker.isolate(1), (req) => keyOf(req) === limited.key, learnedAt);
    t.diagnostic(`isolate 1 last used the cooling key ${lag} ms after isolate 0 learned of it`);
    assert.ok(lag <= FEED_SECONDS * 1000, `used within ${FEED_SECONDS} s (last use ${lag} ms after)`);
  });

  /** Sends requests to isolate 1 until one uses a key that `matches`; returns how long after `since` (0: never). */
  async function firstUseAfter(matches, since) {
    while (Date.now() - since < (FEED_SECONDS + 6) * 1000) {
      const before = mock.requests.length;
      const res = await generate(worker.isolate(1));
      await res.arrayBuffer();
      if (mock.requests.slice(before).some(matches)) return Date.now() - since;
      await sleep(150);
    }
    return 0;
  }

  test(`an admin's reset, delete and add on one isolate reach another within ${FEED_SECONDS} s`, async (t) => {
    mock.reset();
    mock.on(() => true, gemini.success());
    const [limited, survivor] = keys;
    // The limited key cools for two minutes in both isolates' view; the admin ends that on isolate 0.
    const reset = await api(worker, "POST", "/admin/api/keys/reset-cooldowns", { key: AUTH_KEY, body: { provider: "google-ai-studio", ids: [limited.id] } });
    assert.equal(reset.res.status, 200, reset.text);
    const resetLag = await firstUseAfter((req) => keyOf(req) === limited.key, Date.now());
    t.diagnostic(`isolate 1 used the key again ${resetLag} ms after the reset`);
    assert.ok(resetLag > 0 && resetLag <= FEED_SECONDS * 1000, `the reset reached isolate 1 within ${FEED_SECONDS} s (${resetLag} ms)`);

    const del = await api(worker, "POST", "/admin/api/keys/delete", { key: AUTH_KEY, body: { provider: "google-ai-studio", ids: [limited.id] } });
    assert.equal(del.res.status, 200, del.text);
    const deletedAt = Date.now();
    const lag = await lastUseAfter(mock, worker.isolate(1), (req) => keyOf(req) === limited.key, deletedAt);
    t.diagnostic(`isolate 1 last used the deleted key ${lag} ms after the delete`);
    assert.ok(lag <= FEED_SECONDS * 1000, `the delete reached isolate 1 within ${FEED_SECONDS} s`);

    const fresh = "AIzaSyFreshlyAddedKey0000000000000000000";
    const add = await api(worker, "POST", "/admin/api/keys", { key: AUTH_KEY, body: { provider: "google-ai-studio", keys: [fresh] } });
    assert.equal(add.res.status, 200, add.text);
    const addLag = await firstUseAfter((req) => keyOf(req) === fresh, Date.now());
    t.diagnostic(`isolate 1 first used the added key ${addLag} ms after the add`);
    assert.ok(addLag > 0 && addLag <= FEED_SECONDS * 1000, `the add reached isolate 1 within ${FEED_SECONDS} s`);
    assert.ok(mock.requests.some((req) => keyOf(req) === survivor.key), "the other key kept serving");
  });
});

describe("a pool larger than KEY_WINDOW_SIZE is held as a window", { timeout: 60_000 }, () => {
  let mock;
  let worker;
  before(async () => {
    mock = await startMock();
    worker = await startWorker({ vars: { AUTH_KEY, KEY_WINDOW_SIZE: "16", SESSION_AFFINITY: "off" }, mock, isolates: ISOLATES });
  });
  after(async () => {
    await worker?.stop();
    await mock?.close();
  });

  test("when its window has no usable key for a model, a request reads the next window before it answers 429", async (t) => {
    // 32 keys, every one cooling for the model but one: a window of 16 holds it half the time, the next 16 surely.
    // Each isolate loads its own window from a random start; with 10 of them, all ten holding the free key at once
    // (no next window read anywhere) happens once in 1,024 runs.
    const until = nowS() + 3_600;
    const specs = Array.from({ length: 32 }, () => ({ coolings: { [MODEL]: { end_at: until, total_seconds: 10, streak: 0 } } }));
    const keys = await seedKeys(worker, "google-ai-studio", specs);
    const free = keys[7];
    await worker.d1.run("UPDATE keys SET model_coolings = '{}' WHERE id = ?", free.id);
    mock.on(() => true, (req) => (keyOf(req) === free.key ? gemini.success({ text: "found it" }) : gemini.rateLimited({ retryDelay: "3600s" })));
    let refilled = 0;
    for (let i = 0; i < ISOLATES; i++) {
      const res = await generate(worker.isolate(i));
      const body = await res.text();
      const attempts = res.headers.get("x-one-balance-attempts");
      assert.equal(res.status, 200, `isolate ${i}: ${attempts} ${body.slice(0, 200)}`);
      assert.match(body, /found it/);
      // A window without the free key: its soonest-cooling key is tried once (429), then the next window serves.
      if (attempts.split(",").length > 1) refilled++;
    }
    t.diagnostic(`${refilled} of ${ISOLATES} isolates read a second window`);
    assert.ok(refilled > 0, "at least one isolate's first window lacked the free key");
  });
});
