// The key state machine seen end to end through the native proxy (/api/google-ai-studio/…): rate limits cool one
// (key, model) and the request moves on to another key; the consecutive-429 rule; invalid keys get blocked; faults
// that are not the key's cost it nothing; exhausted pools answer 429 with Retry-After; client errors pass untouched.
// Every D1 expectation is polled (writes happen in ctx.waitUntil after the response).
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "../harness/worker.mjs";
import { startMock } from "../harness/mock-upstream.mjs";
import { aiGateway, gemini, openai, openrouter } from "../harness/providers.mjs";
import { attemptsOf, keyRow, laWallClock, nextPacificMidnightS, nowS, seedKeys, timedFetch, waitForRow } from "./support/pool.mjs";

const AUTH_KEY = "ob-e2e-native-rotation-7f3c1d9a5e2b";
const FLASH = "gemini-2.5-flash";
const PRO = "gemini-2.5-pro";

let mock;
let worker;

function generate(model, { key = AUTH_KEY } = {}) {
  return timedFetch(`${worker.url}/api/google-ai-studio/v1beta/models/${model}:generateContent`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-goog-api-key": key },
    body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "Say hi" }] }] }),
  });
}

const keyOf = (req) => req.headers["x-goog-api-key"];
const forModel = (model) => (req) => req.path.includes(`/models/${model}:`);

before(async () => {
  mock = await startMock();
  // Uniform choice: these tests find a key by asking again with the same body (affinity would keep one key).
  worker = await startWorker({ vars: { AUTH_KEY, KEY_CACHE_TTL_SECONDS: "0", SESSION_AFFINITY: "off" }, mock });
});
after(async () => {
  await worker?.stop();
  await mock?.close();
});
beforeEach(async () => {
  mock.reset();
  await worker.d1.exec("DELETE FROM keys");
});

describe("the Los Angeles midnight helper itself", () => {
  test("is DST-aware", () => {
    // 2026-03-07 23:30 PST → 2026-03-08 00:00 PST = 08:00Z; 2026-03-08 05:00 PDT → 2026-03-09 00:00 PDT = 07:00Z.
    assert.equal(nextPacificMidnightS(Date.parse("2026-03-08T07:30:00Z") / 1000), Date.parse("2026-03-08T08:00:00Z") / 1000);
    assert.equal(nextPacificMidnightS(Date.parse("2026-03-08T12:00:00Z") / 1000), Date.parse("2026-03-09T07:00:00Z") / 1000);
    assert.equal(nextPacificMidnightS(Date.parse("2026-11-01T12:00:00Z") / 1000), Date.parse("2026-11-02T08:00:00Z") / 1000);
    assert.equal(nextPacificMidnightS(Date.parse("2026-07-01T06:59:59Z") / 1000), Date.parse("2026-07-01T07:00:00Z") / 1000);
    assert.equal(nextPacificMidnightS(Date.parse("2026-07-01T07:00:00Z") / 1000), Date.parse("2026-07-02T07:00:00Z") / 1000);
  });
});

describe("rate limits", { timeout: 60_000 }, () => {
  test("a 429 with RetryInfo 37s is invisible to the client and cools only that model on that key for 39 s", async () => {
    const keys = await seedKeys(worker, "google-ai-studio", 3);
    const [limited] = keys;
    // The limited key answers 429 for flash and serves pro; the others serve flash and are overloaded for pro (a
    // fault that costs no key), so a pro request can only succeed on the limited key.
    mock.on(forModel(FLASH), (req) => (keyOf(req) === limited.key ? gemini.rateLimited({ retryDelay: "37s", model: FLASH }) : gemini.success({ text: "flash ok" })));
    mock.on(forModel(PRO), (req) => (keyOf(req) === limited.key ? gemini.success({ text: "pro ok", model: PRO }) : gemini.overloaded()));

    // Selection is random: send flash requests until the limited key has been tried (40 misses in a row: ~1e-7).
    let hit;
    let t0;
    for (let i = 0; i < 40 && !hit; i++) {
      const before = mock.requests.length;
      t0 = nowS();
      const res = await generate(FLASH);
      assert.equal(res.status, 200, "the client never sees the 429");
      const body = await res.json();
      assert.equal(body.candidates[0].content.parts[0].text, "flash ok");
      if (mock.requests.slice(before).some((r) => keyOf(r) === limited.key)) hit = res;
    }
    const t1 = nowS();
    assert.ok(hit, "the limited key was tried within 40 requests");
    const attempts = attemptsOf(hit);
    assert.equal(attempts.length, 2, hit.headers.get("x-one-balance-attempts"));
    assert.deepEqual(attempts[0], { id: limited.short, verdict: "rate_limited" });
    assert.equal(attempts[1].verdict, "ok");
    assert.notEqual(attempts[1].id, limited.short);

    const row = await waitForRow(worker, limited.id, (r) => r.coolings[FLASH], "the flash cooldown in D1");
    assert.deepEqual(Object.keys(row.coolings), [FLASH], "only the model that was limited");
    const entry = row.coolings[FLASH];
    assert.ok(entry.end_at >= t0 + 39 - 1 && entry.end_at <= t1 + 39 + 2, `end_at ${entry.end_at} ≈ now + 39 (${t0}…${t1})`);
    assert.equal(entry.streak, 0, "the 429 named a per-minute quota: it never counts toward the daily reset");
    assert.ok(entry.at_ms >= t0 * 1000 && entry.at_ms <= (t1 + 1) * 1000, `at_ms ${entry.at_ms}: when the outcome was recorded`);
    assert.ok(Number.isInteger(entry.end_at) && Number.isInteger(entry.total_seconds), JSON.stringify(entry));
    assert.ok(entry.total_seconds >= 37 && entry.total_seconds <= 41, `total_seconds ${entry.total_seconds}`);
    assert.equal(row.status, "active");
    for (const other of keys.slice(1)) {
      const r = await keyRow(worker, other.id);
      assert.deepEqual(r.coolings, {}, "the other keys are untouched");
      assert.equal(r.status, "active");
    }

    // While it cools for flash the key is not used for flash…
    mock.requests.length = 0;
    for (let i = 0; i < 6; i++) {
      const res = await generate(FLASH);
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
    assert.ok(mock.requests.every((r) => keyOf(r) !== limited.key), "a cooling key is not tried for its model");

    // …but it serves another model.
    mock.requests.length = 0;
    const pro = await generate(PRO);
    assert.equal(pro.status, 200, pro.headers.get("x-one-balance-attempts"));
    assert.equal((await pro.json()).candidates[0].content.parts[0].text, "pro ok");
    assert.equal(keyOf(mock.requests.at(-1)), limited.key);
    assert.equal(attemptsOf(pro).at(-1).id, limited.short);
  });

  /** A 429 without quota details (the streak rule's case) that asks for a 1-second wait. */
  const plain429 = () => {
    const reply = gemini.rateLimitedPlain();
    reply.headers = { ...reply.headers, "retry-after": "1" };
    return reply;
  };
  /** Waits until the pair's cooldown in D1 is over (a new attempt is then a new episode, not an echo). */
  const waitOutCooldown = async (row, model) => {
    const end = row.coolings[model].end_at;
    while (nowS() <= end) await new Promise((r) => setTimeout(r, 200));
  };

  test("two consecutive 429 episodes without quota details cool the (key, model) until the next midnight in Los Angeles", async () => {
    const [key] = await seedKeys(worker, "google-ai-studio", 1);
    const model = "gemini-2.0-flash";
    mock.on(() => true, plain429());

    const first = await generate(model);
    assert.equal(first.status, 429, "one key, rate-limited: nothing else to try");
    await first.arrayBuffer();
    const afterFirst = await waitForRow(worker, key.id, (r) => r.coolings[model]?.streak === 1, "streak 1");
    assert.ok(afterFirst.coolings[model].end_at <= nowS() + 2, "the first 429 is a short cooldown");
    await waitOutCooldown(afterFirst, model);

    const t0 = nowS();
    const second = await generate(model);
    const t1 = nowS();
    assert.equal(second.status, 429);
    await second.arrayBuffer();
    assert.equal(mock.requests.length, 2);
    assert.equal(keyOf(mock.requests[1]), key.key);

    const row = await waitForRow(worker, key.id, (r) => r.coolings[model]?.end_at > afterFirst.coolings[model].end_at + 60, "the long cooldown");
    const entry = row.coolings[model];
    const expected = new Set([nextPacificMidnightS(t0), nextPacificMidnightS(t1)]);
    assert.ok(
      [...expected].some((e) => Math.abs(entry.end_at - e) <= 2),
      `end_at ${new Date(entry.end_at * 1000).toISOString()} should be the next LA midnight ${[...expected].map((e) => new Date(e * 1000).toISOString())}`,
    );
    const wall = laWallClock(entry.end_at * 1000);
    assert.deepEqual([wall.hour, wall.minute, wall.second], [0, 0, 0], "midnight, Los Angeles wall clock");
    assert.equal(entry.streak, 0, "the streak starts again after the long cooldown");
    const retryAfter = Number(second.headers.get("retry-after"));
    assert.ok(Math.abs(retryAfter - (entry.end_at - t1)) <= 3, `Retry-After ${retryAfter} ≈ seconds until midnight ${entry.end_at - t1}`);
  });

  test("a 429 for an attempt sent while the pair was still cooling is an echo: the streak does not step", async () => {
    const [key] = await seedKeys(worker, "google-ai-studio", 1);
    const model = "gemini-2.0-flash-echo";
    const long = gemini.rateLimitedPlain();
    long.headers = { ...long.headers, "retry-after": "30" };
    mock.on(() => true, long);
    const first = await generate(model);
    assert.equal(first.status, 429);
    await first.arrayBuffer();
    const afterFirst = await waitForRow(worker, key.id, (r) => r.coolings[model]?.streak === 1, "streak 1");
    // The only key is cooling: it is still tried (it frees soonest), and answers 429 again.
    const second = await generate(model);
    assert.equal(second.status, 429);
    await second.arrayBuffer();
    assert.equal(mock.requests.length, 2);
    const row = await waitForRow(worker, key.id, (r) => r.coolings[model]?.at_ms > afterFirst.coolings[model].at_ms, "the second write");
    assert.equal(row.coolings[model].streak, 1, "the same episode, not a second one");
    assert.ok(row.coolings[model].end_at < nowS() + 3600, "no daily reset");
  });

  test("a success between two 429s resets the streak, so the next 429 is a short cooldown again", async () => {
    const [key] = await seedKeys(worker, "google-ai-studio", 1);
    const model = "gemini-2.5-flash-lite";
    mock.queue(plain429(), gemini.success({ model }), plain429());

    const r1 = await generate(model);
    assert.equal(r1.status, 429);
    await r1.arrayBuffer();
    const cooled = await waitForRow(worker, key.id, (r) => r.coolings[model]?.streak === 1, "streak 1");

    // The only key is cooling: it is still tried (soonest free), and this time it answers.
    const r2 = await generate(model);
    assert.equal(r2.status, 200);
    await r2.arrayBuffer();
    const cleared = await waitForRow(worker, key.id, (r) => r.coolings[model]?.streak === 0, "streak back to 0");
    assert.equal(cleared.coolings[model].end_at, cooled.coolings[model].end_at, "a success changes only the streak of a short cooldown");
    await waitOutCooldown(cleared, model);

    const t0 = nowS();
    const r3 = await generate(model);
    assert.equal(r3.status, 429);
    await r3.arrayBuffer();
    const row = await waitForRow(worker, key.id, (r) => r.coolings[model]?.streak === 1, "streak 1 again");
    assert.ok(row.coolings[model].end_at <= t0 + 3, `short cooldown, not midnight: end_at - now = ${row.coolings[model].end_at - t0}`);
    assert.equal(mock.requests.length, 3);
  });

  test("a success on a pair parked until midnight ends the park: the key evidently serves", async () => {
    const [key] = await seedKeys(worker, "google-ai-studio", 1);
    const model = "gemini-2.5-flash-parked";
    const midnight = nextPacificMidnightS(nowS());
    await worker.d1.run("UPDATE keys SET model_coolings = ? WHERE id = ?", JSON.stringify({ [model]: { end_at: midnight, total_seconds: 5000, streak: 0 } }), key.id);
    mock.on(() => true, gemini.success({ model }));
    // The only key is parked: it is still tried (soonest free), and it answers.
    const res = await generate(model);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    const row = await waitForRow(worker, key.id, (r) => r.coolings[model]?.end_at < midnight, "the park ended");
    assert.ok(row.coolings[model].end_at <= nowS(), "usable again at once");
  });

  test("when every key answers 429 the client gets the last 429 with Retry-After, after at most 10 distinct keys", async () => {
    const model = "gemini-1.5-flash"; // its own model: the pool-wide throttle detector keeps state per (provider, model)
    const keys = await seedKeys(worker, "google-ai-studio", 12);
    mock.on(() => true, gemini.rateLimited({ retryDelay: "37s" }));
    const t0 = nowS();
    const res = await generate(model);
    assert.equal(res.status, 429);
    const body = await res.json();
    // The last upstream 429 as it came, or — when the pool-wide throttle detector stopped the loop early because
    // most keys answered 429 at once — the Worker's own OpenAI-shaped 429.
    assert.ok(
      body.error?.status === "RESOURCE_EXHAUSTED" || (body.error?.type === "rate_limit_error" && body.error?.code === "pool_throttled"),
      JSON.stringify(body),
    );
    const tried = mock.requests.map(keyOf);
    assert.ok(tried.length >= 1 && tried.length <= 10, `${tried.length} upstream attempts (MAX_ATTEMPTS = 10)`);
    assert.equal(new Set(tried).size, tried.length, "each attempt used a different key");
    for (const k of tried) assert.ok(keys.some((s) => s.key === k));
    const attempts = attemptsOf(res);
    assert.equal(attempts.length, tried.length);
    assert.ok(attempts.every((a) => a.verdict === "rate_limited"));
    const retryAfter = res.headers.get("retry-after");
    assert.match(retryAfter ?? "", /^\d+$/);
    // Every tried key is free again in ≈ 39 s; telling the client to wait longer than that would be wrong.
    assert.ok(Number(retryAfter) >= 1 && Number(retryAfter) <= 39 + 2 + (nowS() - t0), `Retry-After ${retryAfter}`);
  });

  test("when three keys all answer 429, Retry-After is the time until the first of them is free (≈ 39 s)", async () => {
    const model = "gemini-1.5-pro"; // its own model: the pool-wide throttle detector keeps state per (provider, model)
    await seedKeys(worker, "google-ai-studio", 3);
    mock.on(() => true, gemini.rateLimited({ retryDelay: "37s" }));
    const res = await generate(model);
    assert.equal(res.status, 429);
    await res.arrayBuffer();
    assert.equal(mock.requests.length, 3);
    const retryAfter = Number(res.headers.get("retry-after"));
    assert.ok(retryAfter >= 36 && retryAfter <= 40, `Retry-After ${retryAfter}`);
  });

  test("with every key already cooling: at most one upstream attempt, then 429 with Retry-After until the soonest", async () => {
    const model = "gemini-2.0-pro"; // its own model: the pool-wide throttle detector keeps state per (provider, model)
    const now = nowS();
    const ends = [now + 300, now + 100, now + 200];
    const keys = await seedKeys(
      worker,
      "google-ai-studio",
      // streak 0: one more 429 is a short cooldown, not the consecutive-429 rule's long one.
      ends.map((end) => ({ coolings: { [model]: { end_at: end, total_seconds: 65, streak: 0 } } })),
    );
    mock.on(() => true, gemini.rateLimited({ retryDelay: "37s" }));
    const res = await generate(model);
    assert.equal(res.status, 429);
    const body = await res.json();
    assert.ok(body.error, "an error body");
    assert.ok(mock.requests.length <= 1, `${mock.requests.length} upstream attempts`);
    if (mock.requests.length === 1) assert.equal(keyOf(mock.requests[0]), keys[1].key, "the key that frees soonest");
    const retryAfter = Number(res.headers.get("retry-after"));
    assert.ok(retryAfter >= 100 - (nowS() - now) - 2 && retryAfter <= 101, `Retry-After ${retryAfter} ≈ 100`);
  });

  test("with every key cooling, the soonest-free key is still tried once, and its success is returned", async () => {
    const model = "gemini-2.0-flash-thinking"; // its own model: the pool-wide throttle detector keeps state per (provider, model)
    const now = nowS();
    const keys = await seedKeys(worker, "google-ai-studio", [
      { coolings: { [model]: { end_at: now + 500, total_seconds: 65 } } },
      { coolings: { [model]: { end_at: now + 50, total_seconds: 65 } } },
    ]);
    mock.on(() => true, gemini.success({ text: "back early" }));
    const res = await generate(model);
    assert.equal(res.status, 200);
    assert.equal((await res.json()).candidates[0].content.parts[0].text, "back early");
    assert.equal(mock.requests.length, 1);
    assert.equal(keyOf(mock.requests[0]), keys[1].key);
  });
});

describe("other rate-limit and spend shapes", { timeout: 60_000 }, () => {
  test("a Gemini streaming error that arrives as a JSON array is a rate limit like any other", async () => {
    const model = "gemini-2.5-flash-stream-array";
    const keys = await seedKeys(worker, "google-ai-studio", 2);
    mock.queue(gemini.rateLimitedStreamArray());
    mock.on(() => true, gemini.stream({ texts: ["ok"], model }));
    const res = await timedFetch(`${worker.url}/api/google-ai-studio/v1beta/models/${model}:streamGenerateContent`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-goog-api-key": AUTH_KEY },
      body: JSON.stringify({ contents: [{ parts: [{ text: "hi" }] }] }),
    });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /"text":"ok"/);
    assert.deepEqual(attemptsOf(res).map((a) => a.verdict), ["rate_limited", "ok"]);
    const limited = keys.find((k) => k.key === keyOf(mock.requests[0]));
    await waitForRow(worker, limited.id, (r) => r.coolings[model]?.streak === 1, "the cooldown");
  });

  const spent = [
    ["OpenAI 429 insufficient_quota", "openai", "/api/openai/chat/completions", () => openai.insufficientQuota(), () => openai.chatCompletion()],
    ["OpenRouter 402", "openrouter", "/api/openrouter/v1/chat/completions", () => openrouter.paymentRequired(), () => openai.chatCompletion()],
  ];
  for (const [name, provider, path, reply, success] of spent) {
    test(`${name} cools every model of the key for about a day and never blocks it`, async () => {
      const keys = await seedKeys(worker, provider, 2);
      mock.queue(reply());
      mock.on(() => true, success());
      const t0 = nowS();
      const res = await timedFetch(`${worker.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${AUTH_KEY}` },
        body: JSON.stringify({ model: "some-model", messages: [{ role: "user", content: "hi" }] }),
      });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      assert.deepEqual(attemptsOf(res).map((a) => a.verdict), ["exhausted", "ok"]);
      const bad = keys.find((k) => mock.requests[0].headers.authorization === `Bearer ${k.key}`);
      const row = await waitForRow(worker, bad.id, (r) => r.coolings["*"], "the all-models cooldown");
      assert.equal(row.status, "active", "spent, not blocked");
      const end = row.coolings["*"].end_at;
      assert.ok(end >= t0 + 86_400 - 2 && end <= nowS() + 86_400 + 2, `end_at - now = ${end - t0}`);
      // The key is skipped for any model while spent.
      mock.requests.length = 0;
      for (const model of ["m1", "m2", "m3"]) {
        const again = await timedFetch(`${worker.url}${path}`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${AUTH_KEY}` },
          body: JSON.stringify({ model, messages: [] }),
        });
        assert.equal(again.status, 200);
        await again.arrayBuffer();
      }
      assert.ok(mock.requests.every((r) => r.headers.authorization !== `Bearer ${bad.key}`));
    });
  }
});

describe("invalid keys", { timeout: 60_000 }, () => {
  const cases = [
    ["Gemini 400 API_KEY_INVALID", () => gemini.invalidKey()],
    ["Gemini 403 suspended", () => gemini.suspended()],
  ];
  for (const [name, reply] of cases) {
    test(`${name} blocks that key in D1 and another key serves the request`, async () => {
      const keys = await seedKeys(worker, "google-ai-studio", 2);
      mock.queue(reply());
      mock.on(() => true, gemini.success({ text: "served" }));
      const res = await generate(FLASH);
      assert.equal(res.status, 200);
      assert.equal((await res.json()).candidates[0].content.parts[0].text, "served");
      assert.equal(mock.requests.length, 2);
      const bad = keys.find((k) => k.key === keyOf(mock.requests[0]));
      const good = keys.find((k) => k.key === keyOf(mock.requests[1]));
      assert.ok(bad && good && bad !== good, "two different keys");
      assert.deepEqual(attemptsOf(res), [
        { id: bad.short, verdict: "invalid_key" },
        { id: good.short, verdict: "ok" },
      ]);
      const row = await waitForRow(worker, bad.id, (r) => r.status === "blocked", "the block");
      assert.deepEqual(row.coolings, {}, "blocked, not cooled");
      assert.equal((await keyRow(worker, good.id)).status, "active");

      // A blocked key is not tried again, for any model.
      mock.requests.length = 0;
      for (const model of [FLASH, PRO, FLASH]) {
        const again = await generate(model);
        assert.equal(again.status, 200);
        await again.arrayBuffer();
      }
      assert.ok(mock.requests.every((r) => keyOf(r) === good.key));
    });
  }
});

describe("faults that are not the key's", { timeout: 60_000 }, () => {
  const cases = [
    ["AI Gateway 401 code 2009", () => aiGateway.unauthorized()],
    ["AI Gateway 401 code 2009, wrapped", () => aiGateway.unauthorizedWrapped()],
    ["AI Gateway's own 429", () => aiGateway.rateLimited()],
    ["Gemini 400 location not supported", () => gemini.locationNotSupported()],
    ["Gemini 403 location", () => gemini.locationForbidden()],
    ["Gemini 429 regional limit", () => gemini.regionRateLimited()],
    ["Gemini 503 overloaded", () => gemini.overloaded()],
  ];
  for (const [index, [name, reply]] of cases.entries()) {
    test(`${name} leaves the key active and uncooled, and the next key is tried`, async () => {
      const model = `gemini-2.5-flash-fault-${index}`; // its own model: the throttle detector keeps state per model
      const keys = await seedKeys(worker, "google-ai-studio", 3);
      const before = Object.fromEntries(await Promise.all(keys.map(async (k) => [k.id, await keyRow(worker, k.id)])));
      // Fault on the first key, a real rate limit on the second (a write we can wait for: proof that this request's
      // D1 writes have landed), success on the third.
      mock.queue(reply(), gemini.rateLimited({ retryDelay: "37s" }), gemini.success({ text: "third time" }));
      const res = await generate(model);
      assert.equal(res.status, 200, res.headers.get("x-one-balance-attempts"));
      assert.equal((await res.json()).candidates[0].content.parts[0].text, "third time");
      assert.equal(mock.requests.length, 3);
      const [faulted, limited, served] = mock.requests.map((r) => keys.find((k) => k.key === keyOf(r)));
      assert.equal(new Set([faulted, limited, served]).size, 3);
      for (const r of mock.requests) assert.deepEqual(r.body, mock.requests[0].body, "the same body bytes on every attempt");
      const verdicts = attemptsOf(res).map((a) => a.verdict);
      assert.deepEqual(verdicts.slice(1), ["rate_limited", "ok"]);
      assert.ok(["not_key_fault", "transient"].includes(verdicts[0]), `first verdict ${verdicts[0]}`);
      await waitForRow(worker, limited.id, (r) => r.coolings[model]?.end_at > 0, "the control cooldown");
      const row = await keyRow(worker, faulted.id);
      assert.deepEqual(row, before[faulted.id], "the faulted key's row is unchanged");
      assert.equal(row.status, "active");
    });
  }
});

describe("answers a request could have caused: no key pays for them", { timeout: 60_000 }, () => {
  const GEMINI_MODELS = /\/v1beta\/models$/;

  test("a 403 for a file another project owns goes back to the client after one attempt; every key stays", async () => {
    const keys = await seedKeys(worker, "google-ai-studio", 4);
    mock.on(() => true, gemini.filePermissionDenied());
    for (let i = 0; i < 3; i++) {
      mock.requests.length = 0;
      const res = await generate(FLASH);
      assert.equal(res.status, 403);
      assert.equal((await res.json()).error.status, "PERMISSION_DENIED");
      assert.equal(mock.requests.length, 1, "one attempt: the request is at fault, not the key");
      assert.deepEqual(attemptsOf(res).map((a) => a.verdict), ["client_error"]);
    }
    await new Promise((r) => setTimeout(r, 300));
    for (const k of keys) {
      const row = await keyRow(worker, k.id);
      assert.equal(row.status, "active");
      assert.deepEqual(row.coolings, {});
    }
    mock.reset();
    mock.on(() => true, gemini.success({ text: "still served" }));
    const ok = await generate(FLASH);
    assert.equal(ok.status, 200, "the pool is whole");
  });

  test("a 401 without a key-scoped reason is a suspect: the key is probed, and blocked only when the probe is refused too", async () => {
    const keys = await seedKeys(worker, "google-ai-studio", 3);
    const [dead, live] = keys;
    mock.on(forModel(FLASH), (req) => (keyOf(req) === dead.key || keyOf(req) === live.key ? gemini.unauthenticated() : gemini.success({ text: "served" })));
    const probes = [];
    mock.on({ method: "GET", path: GEMINI_MODELS }, (req) => {
      probes.push(req);
      return keyOf(req) === dead.key ? gemini.invalidKey() : { status: 200, body: { models: [] } };
    });
    // Until both suspects have been probed: a request probes only the first suspect it meets (a second one sends the
    // answer back), so keep asking until each has been a request's first suspect.
    const probed = () => new Set(probes.map(keyOf));
    for (let i = 0; i < 60 && probed().size < 2; i++) {
      const res = await generate(FLASH);
      const verdicts = attemptsOf(res).map((a) => a.verdict);
      assert.ok(verdicts.filter((v) => v === "suspect_key").length <= 2, verdicts.join());
      await res.arrayBuffer();
      await new Promise((r) => setTimeout(r, 50));
    }
    await waitForRow(worker, dead.id, (r) => r.status === "blocked", "the key the probe confirmed");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await keyRow(worker, live.id)).status, "active", "the probe accepted this one: it stays");
    assert.deepEqual(new Set(probes.map(keyOf)), new Set([dead.key, live.key]), "each suspect was probed");
    assert.ok(probes.every((r) => r.body.length === 0 && r.method === "GET"), "the probe carries nothing of the client's request");
  });

  test("two suspects in one request send the answer back instead of spending a third key", async () => {
    await seedKeys(worker, "google-ai-studio", 5);
    mock.on(forModel(FLASH), gemini.unauthenticated());
    mock.on({ method: "GET", path: GEMINI_MODELS }, { status: 200, body: { models: [] } });
    const res = await generate(FLASH);
    assert.equal(res.status, 401, "the request, not the keys, is the likely cause");
    assert.deepEqual(attemptsOf(res).map((a) => a.verdict), ["suspect_key", "suspect_key"]);
    const generations = mock.requests.filter((r) => r.method === "POST");
    assert.equal(generations.length, 2);
    // The first suspect is probed after the answer (waitUntil): wait for that probe here, so that it cannot land in
    // the next test's count of upstream requests.
    const probes = () => mock.requests.filter((r) => r.method === "GET");
    for (let i = 0; i < 100 && probes().length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(probes().length, 1, "one probe: of the first suspect");
  });
});

describe("client errors", { timeout: 30_000 }, () => {
  test("a client 400 is returned untouched after exactly one upstream attempt", async () => {
    const keys = await seedKeys(worker, "google-ai-studio", 3);
    const reply = gemini.badRequest();
    reply.headers["set-cookie"] = "NID=upstream; Path=/";
    const sentBytes = Buffer.from(JSON.stringify(reply.body));
    mock.on(() => true, reply);
    const res = await generate(FLASH);
    assert.equal(res.status, 400);
    assert.deepEqual(res.headers.getSetCookie(), [], "set-cookie is stripped from error answers too");
    assert.equal(res.headers.get("content-type"), reply.headers["content-type"]);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), sentBytes, "same bytes");
    assert.equal(mock.requests.length, 1);
    assert.equal(attemptsOf(res).length, 1);
    assert.equal(attemptsOf(res)[0].verdict, "client_error");
    for (const k of keys) {
      const r = await keyRow(worker, k.id);
      assert.deepEqual([r.status, r.coolings], ["active", {}]);
    }
  });

  test("the attempts header names short key ids and verdicts, never key material", async () => {
    const keys = await seedKeys(worker, "google-ai-studio", 3);
    mock.queue(gemini.rateLimited(), gemini.overloaded(), gemini.success());
    const res = await generate(FLASH);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    const line = res.headers.get("x-one-balance-attempts");
    assert.match(line, /^[0-9a-f]{8}=[a-z_]+(, [0-9a-f]{8}=[a-z_]+)*$/);
    const ids = attemptsOf(res).map((a) => a.id);
    assert.deepEqual(ids, mock.requests.map((r) => keys.find((k) => k.key === keyOf(r)).short));
    for (const k of keys) {
      for (let i = 0; i + 6 <= k.key.length; i++) {
        assert.ok(!line.includes(k.key.slice(i, i + 6)), "no 6-character piece of a key");
      }
    }
    assert.ok(!line.includes(AUTH_KEY));
  });
});

describe("all keys rate-limited, with the pool-wide throttle detector off", { timeout: 60_000 }, () => {
  // THROTTLE_MIN_KEYS=0 turns the detector off, so the attempt loop runs to MAX_ATTEMPTS as SPEC §3 describes.
  let mock2;
  let worker2;
  before(async () => {
    mock2 = await startMock();
    worker2 = await startWorker({ vars: { AUTH_KEY, KEY_CACHE_TTL_SECONDS: "0", THROTTLE_MIN_KEYS: "0", SESSION_AFFINITY: "off" }, mock: mock2 });
  });
  after(async () => {
    await worker2?.stop();
    await mock2?.close();
  });

  test(
    "12 keys all answering 429: 10 distinct keys tried, the last 429 returned, Retry-After no later than the first key is free",
    async () => {
      const keys = await seedKeys(worker2, "google-ai-studio", 12);
      mock2.on(() => true, gemini.rateLimited({ retryDelay: "37s" }));
      const t0 = nowS();
      const res = await timedFetch(`${worker2.url}/api/google-ai-studio/v1beta/models/${FLASH}:generateContent`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-goog-api-key": AUTH_KEY },
        body: JSON.stringify({ contents: [{ parts: [{ text: "hi" }] }] }),
      });
      assert.equal(res.status, 429);
      const body = await res.json();
      assert.equal(body.error.status, "RESOURCE_EXHAUSTED", "the last upstream error as it came");
      const tried = mock2.requests.map(keyOf);
      assert.equal(tried.length, 10, "MAX_ATTEMPTS = 10");
      assert.equal(new Set(tried).size, 10, "each attempt a different key");
      for (const k of tried) assert.ok(keys.some((s) => s.key === k));
      assert.equal(attemptsOf(res).length, 10);
      const retryAfter = res.headers.get("retry-after");
      assert.match(retryAfter ?? "", /^\d+$/);
      // Ten keys are free again in ≈ 39 s (and two were never tried): a longer wait has no basis.
      assert.ok(Number(retryAfter) >= 1 && Number(retryAfter) <= 39 + 2 + (nowS() - t0), `Retry-After ${retryAfter}`);
    },
  );
});
