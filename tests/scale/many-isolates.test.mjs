// The pool as a deployment runs it: several isolates of the built Worker on one D1, serving concurrent load near the
// pool's capacity, against an upstream that enforces real per-key quotas (tests/harness/quota.mjs: N requests per
// window of each key, M per day; windows shortened from a minute to seconds so the test runs in about a minute).
//
// What must hold (the scale issue): no key reaches the daily reset unless it really used its daily quota; every client
// request is answered 200 while some key still has quota; an isolate started afterwards is served at once. With 429s
// that name their quota window (Gemini's QuotaFailure) and with 429s that say nothing (the consecutive-429 rule must
// still park a key that is really out for the day). The figures (answers, upstream attempts per answer) are printed.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "../harness/worker.mjs";
import { startMock } from "../harness/mock-upstream.mjs";
import { geminiQuota } from "../harness/quota.mjs";
import { attemptsOf, keyRow, nextPacificMidnightS, nowS, seedKeys } from "../e2e/support/pool.mjs";

const AUTH_KEY = "ob-scale-test-service-key-7d1f3a";
const MODEL = "gemini-2.5-flash";
const ISOLATES = 4; // serving the load; one more stays cold until the end
const KEYS = 12;
const PER_WINDOW = 3;
const WINDOW_MS = 6_000;
const LOAD_SECONDS = Number(process.env.OB_SCALE_SECONDS ?? 40);
const LOAD_SHARE = 0.7; // of the pool's capacity
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function generate(isolate) {
  return isolate.fetch(`/api/google-ai-studio/v1beta/models/${MODEL}:generateContent`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-goog-api-key": AUTH_KEY },
    body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hi" }] }] }),
    signal: AbortSignal.timeout(30_000),
  });
}

/**
 * Offers `rate` requests a second for `seconds`, round-robin over the first `ISOLATES` isolates, each request on its
 * own (open loop, bounded by count and time). Returns one record per request.
 */
async function offerLoad(worker, rate, seconds) {
  const total = Math.round(rate * seconds);
  const started = Date.now();
  const results = [];
  const inFlight = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    const isolate = worker.isolate(i % ISOLATES);
    inFlight.push(
      (async () => {
        const sentAt = Date.now();
        try {
          const res = await generate(isolate);
          const body = await res.text();
          results.push({ status: res.status, sentAt, at: Date.now(), attempts: attemptsOf(res), body: res.status === 200 ? "" : body.slice(0, 300) });
        } catch (error) {
          results.push({ status: 0, sentAt, at: Date.now(), attempts: [], body: String(error) });
        }
      })(),
    );
  }
  await Promise.all(inFlight);
  return results;
}

function report(name, results) {
  const ok = results.filter((r) => r.status === 200).length;
  const attempts = results.reduce((n, r) => n + r.attempts.length, 0);
  const statuses = {};
  for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  console.log(`# ${name}: ${results.length} requests, ${ok} answered 200 (${JSON.stringify(statuses)}), ` + `${(attempts / Math.max(1, results.length)).toFixed(2)} upstream attempts per answer`);
}

async function parkedKeys(worker, keys) {
  const horizon = nowS() + 3_600;
  const parked = [];
  for (const k of keys) {
    const row = await keyRow(worker, k.id);
    const entry = row.coolings[MODEL];
    if (entry && entry.end_at > horizon) parked.push({ key: k.key, end_at: entry.end_at, streak: entry.streak });
  }
  return parked;
}

for (const details of [true, false]) {
  const flavour = details ? "429s name their quota window (QuotaFailure + RetryInfo)" : "429s carry no quota details (Retry-After only)";
  describe(`${ISOLATES} isolates on one D1 under load near capacity; ${flavour}`, { timeout: 180_000 }, () => {
    let mock;
    let worker;
    let keys;
    let quota;
    let outForTheDay;
    before(async () => {
      mock = await startMock();
      worker = await startWorker({
        vars: { AUTH_KEY, KEY_CACHE_TTL_SECONDS: "4", THROTTLE_MIN_KEYS: "5" },
        mock,
        isolates: ISOLATES + 1,
      });
      keys = await seedKeys(worker, "google-ai-studio", KEYS);
      // One key really runs out of its daily quota early on: it, and only it, must be parked until midnight.
      outForTheDay = keys[0];
      quota = geminiQuota({ perWindow: PER_WINDOW, windowMs: WINDOW_MS, perDay: 100_000, details, perDayFor: { [outForTheDay.key]: 2 } });
      mock.on(() => true, quota.reply);
    });
    after(async () => {
      await worker?.stop();
      await mock?.close();
    });

    test("no key is parked for a day by per-window limits, every request is served while a key has quota", async () => {
      const capacity = (KEYS * PER_WINDOW) / (WINDOW_MS / 1000);
      const results = await offerLoad(worker, capacity * LOAD_SHARE, LOAD_SECONDS);
      report(flavour, results);
      await sleep(1_500); // the last D1 writes land in waitUntil

      const failed = results.filter((r) => r.status !== 200);
      const unexplained = failed.filter((r) => quota.anyKeyHadQuotaAt(keys.map((k) => k.key), r.sentAt));
      assert.ok(
        unexplained.length <= Math.ceil(results.length * 0.01),
        `${unexplained.length} of ${results.length} requests failed while some key still had quota: ` +
          JSON.stringify(unexplained.slice(0, 5).map((r) => ({ status: r.status, attempts: r.attempts, body: r.body }))),
      );
      assert.ok(quota.outForTheDay(outForTheDay.key), "the test's premise: that key used its daily quota");

      const parked = await parkedKeys(worker, keys);
      const wrongly = parked.filter((p) => !quota.outForTheDay(p.key));
      assert.deepEqual(wrongly, [], "no key whose daily quota is left rests until the daily reset");
      const dead = parked.find((p) => p.key === outForTheDay.key);
      assert.ok(dead, `the key that really ran out of its daily quota is parked (${JSON.stringify(parked)})`);
      assert.ok(Math.abs(dead.end_at - nextPacificMidnightS(nowS())) <= 5, `until midnight in Los Angeles: ${dead.end_at}`);
    });

    test("an isolate started afterwards is served at once and leaves the parked key alone", async () => {
      await sleep(WINDOW_MS); // a fresh window: every key but the parked one has quota again
      const fresh = worker.isolate(ISOLATES);
      const before = mock.requests.length;
      for (let i = 0; i < 10; i++) {
        const res = await generate(fresh);
        assert.equal(res.status, 200, `${res.headers.get("x-one-balance-attempts")} ${await res.text()}`);
        await res.arrayBuffer().catch(() => {});
      }
      const used = mock.requests.slice(before).map((r) => r.headers["x-goog-api-key"]);
      assert.ok(!used.includes(outForTheDay.key), "the new isolate read the park from D1 and never tried that key");
    });
  });
}
