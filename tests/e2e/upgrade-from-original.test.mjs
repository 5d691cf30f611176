// An existing deployment of the original TypeScript one-balance switches to this Worker on the same D1 database:
// its `keys` table (drizzle schema, rows written by the original, including fractional `end_at` values) goes through
// our migrations, and the Worker then serves traffic with those rows as they are.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "../harness/worker.mjs";
import { startMock } from "../harness/mock-upstream.mjs";
import { gemini } from "../harness/providers.mjs";

const AUTH_KEY = "ob-test-upgrade-service-key";
const FLASH = "gemini-2.5-flash";
const PRO = "gemini-2.5-pro";
const nowS = () => Math.floor(Date.now() / 1000);

// The original project's schema exactly as drizzle-kit generated it, without IF NOT EXISTS.
const ORIGINAL_SCHEMA = `
CREATE TABLE \`keys\` (
  \`id\` text PRIMARY KEY NOT NULL,
  \`key\` text NOT NULL,
  \`provider\` text NOT NULL,
  \`model_coolings\` text,
  \`total_cooling_seconds\` integer DEFAULT 0 NOT NULL,
  \`status\` text DEFAULT 'active' NOT NULL,
  \`remark\` text,
  \`created_at\` integer DEFAULT (strftime('%s', 'now')) NOT NULL,
  \`updated_at\` integer DEFAULT (strftime('%s', 'now')) NOT NULL
);
CREATE UNIQUE INDEX \`provider_key_unq_idx\` ON \`keys\` (\`provider\`,\`key\`);
CREATE INDEX \`provider_status_created_at_idx\` ON \`keys\` (\`provider\`,\`status\`,\`created_at\`);
CREATE INDEX \`total_cooling_seconds_idx\` ON \`keys\` (\`total_cooling_seconds\`);
`;

const COOLING_KEY = "AIzaSyOriginalCoolingForFlash00000000001";
const FREE_KEY = "AIzaSyOriginalFreeKey0000000000000000002";
const BLOCKED_KEY = "AIzaSyOriginalBlockedKey000000000000003";

function originalRows(now) {
  // The original wrote end_at from Date.now() / 1000, so it may carry a fraction.
  const flashCooling = JSON.stringify({ [FLASH]: { end_at: now + 3600.25, total_seconds: 3600 } });
  return `
INSERT INTO keys (id, key, provider, model_coolings, total_cooling_seconds, status, remark) VALUES
  ('aaaaaaaa-0000-4000-8000-000000000001', '${COOLING_KEY}', 'google-ai-studio', '${flashCooling}', 3600, 'active', 'cooling for flash'),
  ('bbbbbbbb-0000-4000-8000-000000000002', '${FREE_KEY}', 'google-ai-studio', NULL, 0, 'active', NULL),
  ('cccccccc-0000-4000-8000-000000000003', '${BLOCKED_KEY}', 'google-ai-studio', '{}', 0, 'blocked', 'dead');
`;
}

describe("upgrading the original project's database in place", () => {
  let mock;
  let worker;
  before(async () => {
    mock = await startMock();
    mock.on(() => true, gemini.success());
    worker = await startWorker({
      vars: { AUTH_KEY, KEY_CACHE_TTL_SECONDS: "0", SESSION_AFFINITY: "off" },
      mock,
      beforeMigrations: ORIGINAL_SCHEMA + originalRows(nowS()),
    });
  });
  after(async () => {
    await worker?.stop();
    await mock?.close();
  });

  const generate = (model) =>
    worker.fetch(`/api/google-ai-studio/v1beta/models/${model}:generateContent`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-goog-api-key": AUTH_KEY },
      body: JSON.stringify({ contents: [{ parts: [{ text: "hi" }] }] }),
    });

  test("the original rows survive the migrations with the new columns at their defaults (a blocked row is due for a re-check)", async () => {
    const rows = await worker.d1.all("SELECT id, key, status, remark, check_failures, check_after FROM keys ORDER BY id");
    assert.deepEqual(
      rows.map((r) => [r.key, r.status, r.remark, r.check_failures, r.check_after]),
      [
        [COOLING_KEY, "active", "cooling for flash", 0, null],
        [FREE_KEY, "active", null, 0, null],
        [BLOCKED_KEY, "blocked", "dead", 0, 0],
      ],
    );
  });

  test("the migrations note when the original's cooling row is free again, so the admin site counts it as cooling", async () => {
    const row = await worker.d1.first("SELECT model_coolings, cooling_until FROM keys WHERE key = ?", COOLING_KEY);
    assert.equal(row.cooling_until, Math.floor(JSON.parse(row.model_coolings)[FLASH].end_at));
    const free = await worker.d1.first("SELECT cooling_until FROM keys WHERE key = ?", FREE_KEY);
    assert.equal(free.cooling_until, 0);
  });

  test("the Worker honours the original's cooldowns and blocks when it serves traffic", async () => {
    mock.reset();
    mock.on(() => true, gemini.success());
    for (let i = 0; i < 8; i++) {
      const res = await generate(FLASH);
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
    const used = new Set(mock.requests.map((r) => r.headers["x-goog-api-key"]));
    assert.deepEqual([...used], [FREE_KEY], "flash is served only by the key the original left free");

    mock.reset();
    mock.on(() => true, gemini.success());
    const seen = new Set();
    for (let i = 0; i < 40 && seen.size < 2; i++) {
      const res = await generate(PRO);
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      for (const r of mock.requests) seen.add(r.headers["x-goog-api-key"]);
    }
    assert.deepEqual([...seen].sort(), [COOLING_KEY, FREE_KEY].sort(), "another model uses both active keys; the blocked one never");
  });

  test("a cooldown written by the Worker keeps the original's entries in the same JSON", async () => {
    mock.reset();
    mock.on((req) => req.headers["x-goog-api-key"] === FREE_KEY, gemini.rateLimited({ retryDelay: "20s", model: PRO }));
    mock.on((req) => req.headers["x-goog-api-key"] === COOLING_KEY, gemini.success());
    // Selection is random: ask until the free key has been tried (each answer is 200 either way).
    for (let i = 0; i < 30 && !mock.requests.some((r) => r.headers["x-goog-api-key"] === FREE_KEY); i++) {
      const res = await generate(PRO);
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
    assert.ok(mock.requests.some((r) => r.headers["x-goog-api-key"] === FREE_KEY), "the free key was tried");
    const deadline = Date.now() + 5_000;
    let coolings;
    while (Date.now() < deadline) {
      const row = await worker.d1.first("SELECT model_coolings FROM keys WHERE key = ?", FREE_KEY);
      coolings = row?.model_coolings ? JSON.parse(row.model_coolings) : null;
      if (coolings?.[PRO]) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(coolings?.[PRO], "the free key now cools for pro");
    assert.equal(coolings[PRO].streak, 0, "a per-minute quota never counts toward the daily reset");
    assert.ok(Number.isInteger(coolings[PRO].end_at), "integers, as the original wrote");
    assert.ok(Number.isInteger(coolings[PRO].at_ms) && coolings[PRO].at_ms > 0, "and when the outcome was recorded");
    const original = await worker.d1.first("SELECT model_coolings FROM keys WHERE key = ?", COOLING_KEY);
    assert.ok(JSON.parse(original.model_coolings)[FLASH], "the original's cooldown entry is untouched");
  });
});
