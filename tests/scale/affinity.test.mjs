// Sticky keys, measured: 50 multi-turn conversations over a pool of 20 Gemini keys, against an upstream that keeps a
// prompt cache per key (a turn is answered with cachedContentTokenCount when the same key saw the same conversation
// within the last five minutes) and enforces per-window limits; a few keys are rate-limited part of the way through.
// Run once with SESSION_AFFINITY on (Gemini CLI sends no session: the Worker fingerprints the conversation) and once
// off (the uniform choice every key pool makes), and report the cache hit share of the turns after the first.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "../harness/worker.mjs";
import { startMock } from "../harness/mock-upstream.mjs";
import { gemini } from "../harness/providers.mjs";
import { affinityOf, seedKeys } from "../e2e/support/pool.mjs";

const AUTH_KEY = "ob-scale-affinity-service-key-41c0";
const MODEL = "gemini-2.5-flash";
const CONVERSATIONS = 50;
const TURNS = 8;
const KEYS = 20;
const CACHE_TTL_MS = 5 * 60 * 1000;
const PER_WINDOW = 40;
const WINDOW_MS = 10_000;

/** An upstream with a prompt cache per key, per-window limits, and a few keys limited for a while. */
function cachingUpstream(limitedKeys, limitedFromTurn) {
  const cache = new Map(); // key -> Map(conversation -> last seen ms)
  const windows = new Map(); // key -> { window, count }
  const stats = { turns: 0, hits: 0, laterTurns: 0, laterHits: 0 };
  const reply = (req) => {
    const key = req.headers["x-goog-api-key"];
    const body = req.json();
    const conversation = body.contents[0].parts[0].text;
    const turn = (body.contents.length + 1) / 2;
    const now = Date.now();
    if (limitedKeys.has(key) && turn >= limitedFromTurn && turn < limitedFromTurn + 2) {
      return gemini.rateLimited({ retryDelay: "20s", quotaId: "GenerateRequestsPerMinutePerProjectPerModel-FreeTier" });
    }
    const w = windows.get(key) ?? { window: -1, count: 0 };
    const window = Math.floor(now / WINDOW_MS);
    if (w.window !== window) Object.assign(w, { window, count: 0 });
    if (w.count >= PER_WINDOW) return gemini.rateLimited({ retryDelay: "5s", quotaId: "GenerateRequestsPerMinutePerProjectPerModel-FreeTier" });
    w.count++;
    windows.set(key, w);
    const seen = cache.get(key) ?? new Map();
    const hit = (seen.get(conversation) ?? -Infinity) > now - CACHE_TTL_MS;
    seen.set(conversation, now);
    cache.set(key, seen);
    stats.turns++;
    if (hit) stats.hits++;
    if (turn > 1) {
      stats.laterTurns++;
      if (hit) stats.laterHits++;
    }
    const answer = gemini.success({ text: `turn ${turn}` });
    answer.body.usageMetadata = { ...answer.body.usageMetadata, cachedContentTokenCount: hit ? 1000 * turn : 0 };
    return answer;
  };
  return { reply, stats };
}

/** A coding agent's system prompt (Gemini CLI's is some 20 KB): long enough that the first turn is fingerprinted. */
const SYSTEM_PROMPT = "You are a coding agent. Read the code before you change it, keep to the project's conventions, and run the tests. ".repeat(12);

async function converse(worker, id) {
  const contents = [{ role: "user", parts: [{ text: `conversation ${id}: please refactor module ${id} of the project` }] }];
  const outcomes = [];
  for (let turn = 1; turn <= TURNS; turn++) {
    const res = await worker.fetch(`/api/google-ai-studio/v1beta/models/${MODEL}:generateContent`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-goog-api-key": AUTH_KEY },
      body: JSON.stringify({ contents, systemInstruction: { parts: [{ text: SYSTEM_PROMPT }] } }),
      signal: AbortSignal.timeout(20_000),
    });
    const body = await res.json().catch(() => null);
    outcomes.push({ status: res.status, affinity: affinityOf(res) });
    contents.push({ role: "model", parts: [{ text: body?.candidates?.[0]?.content?.parts?.[0]?.text ?? "?" }] });
    contents.push({ role: "user", parts: [{ text: `next step ${turn}` }] });
  }
  return outcomes;
}

async function run(affinity) {
  const mock = await startMock();
  const worker = await startWorker({ vars: { AUTH_KEY, SESSION_AFFINITY: affinity }, mock });
  try {
    const keys = await seedKeys(worker, "google-ai-studio", KEYS);
    const upstream = cachingUpstream(new Set(keys.slice(0, 3).map((k) => k.key)), 4);
    mock.on(() => true, upstream.reply);
    const outcomes = [];
    for (let start = 0; start < CONVERSATIONS; start += 10) {
      const batch = await Promise.all(Array.from({ length: Math.min(10, CONVERSATIONS - start) }, (_, i) => converse(worker, start + i)));
      outcomes.push(...batch.flat());
    }
    return { outcomes, stats: upstream.stats };
  } finally {
    await worker.stop();
    await mock.close();
  }
}

describe("sticky keys keep a conversation's prompt cache", { timeout: 240_000 }, () => {
  let on;
  let off;
  before(async () => {
    on = await run("on");
    off = await run("off");
  });

  test(`with affinity at least 90 % of the turns after the first hit the cache; without it, under half (only by chance)`, (t) => {
    const share = (s) => s.laterHits / s.laterTurns;
    t.diagnostic(`affinity on: ${(100 * share(on.stats)).toFixed(1)} % of later turns hit the cache (${on.stats.laterHits}/${on.stats.laterTurns})`);
    t.diagnostic(`affinity off: ${(100 * share(off.stats)).toFixed(1)} % (${off.stats.laterHits}/${off.stats.laterTurns})`);
    assert.ok(share(on.stats) >= 0.9, `${share(on.stats)}`);
    assert.ok(share(off.stats) < 0.5, `the uniform choice loses the cache: ${share(off.stats)}`);
  });

  test("no client request failed because of affinity, and the attempts header says how each was routed", (t) => {
    for (const { outcomes } of [on, off]) {
      const failed = outcomes.filter((o) => o.status !== 200);
      assert.deepEqual(failed, [], "every turn answered 200");
    }
    const routed = { held: 0, moved: 0, lost: 0 };
    for (const o of on.outcomes) routed[o.affinity] = (routed[o.affinity] ?? 0) + 1;
    t.diagnostic(`affinity on: ${JSON.stringify(routed)}`);
    assert.equal(on.outcomes.length, CONVERSATIONS * TURNS);
    assert.ok(routed.held > on.outcomes.length * 0.7, "most turns stayed on their session's key (the limited keys' sessions moved for a while)");
    assert.ok(routed.moved > 0, "the limited keys' sessions moved to their next key");
    assert.ok(off.outcomes.every((o) => o.affinity === null), "without affinity no turn claims one");
  });
});

describe("a session a client names", { timeout: 60_000 }, () => {
  let mock;
  let worker;
  before(async () => {
    mock = await startMock();
    mock.on(() => true, gemini.success());
    worker = await startWorker({ vars: { AUTH_KEY, SESSION_AFFINITY: "named" }, mock });
    await seedKeys(worker, "google-ai-studio", 12);
  });
  after(async () => {
    await worker?.stop();
    await mock?.close();
  });

  const send = (headers) =>
    worker.fetch(`/api/google-ai-studio/v1beta/models/${MODEL}:generateContent`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-goog-api-key": AUTH_KEY, ...headers },
      body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "the same body every time" }] }] }),
      signal: AbortSignal.timeout(15_000),
    });

  test("the same session header always reaches the same key; a request without one is spread; the admin page counts them", async () => {
    const keysFor = async (headers, n) => {
      const used = new Set();
      for (let i = 0; i < n; i++) {
        const before = mock.requests.length;
        const res = await send(headers);
        assert.equal(res.status, 200);
        await res.arrayBuffer();
        used.add(mock.requests[before].headers["x-goog-api-key"]);
      }
      return used;
    };
    assert.equal((await keysFor({ "x-one-balance-session": "my-task-1" }, 8)).size, 1, "the user's own header");
    assert.equal((await keysFor({ "x-claude-code-session-id": "0f1e2d3c-aaaa-bbbb-cccc-123456789abc" }, 8)).size, 1, "Claude Code's header");
    assert.ok((await keysFor({}, 16)).size > 2, "with SESSION_AFFINITY=named an unnamed conversation is not fingerprinted");
    const named = await send({ "session-id": "codex-thread-7" });
    assert.equal(affinityOf(named), "held");
    await named.arrayBuffer();

    const res = await worker.fetch("/admin/api/providers", { headers: { authorization: `Bearer ${AUTH_KEY}` } });
    const { affinity } = await res.json();
    assert.equal(affinity.requests, 33);
    assert.equal(affinity.with_session, 17);
    assert.equal(affinity.held, 17);
  });
});
