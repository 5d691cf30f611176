// The cooldown statement the Worker writes to D1 (src/edge/proxy/sql/cool.sql, included by src/edge/proxy/store.rs)
// against the same table of cases the pure Rust rule is tested on (crate::cooldown::STREAK_CASES, exported as
// tests/fixtures/cooldown/streak-cases.json by a Rust test that fails when the two differ): the SQL and the pure
// code must agree on every case, in a real local D1 with the real migrations.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "../harness/worker.mjs";
import { ROOT } from "../harness/project.mjs";

const COOL_SQL = readFileSync(join(ROOT, "src", "edge", "proxy", "sql", "cool.sql"), "utf8");
const CASES = JSON.parse(readFileSync(join(ROOT, "tests", "fixtures", "cooldown", "streak-cases.json"), "utf8"));
const MODEL = "gemini-2.5-flash";

describe("the cooldown SQL agrees with the pure streak rule", () => {
  let worker;
  before(async () => {
    worker = await startWorker({ vars: { AUTH_KEY: "sql-test-unrestricted-key-0123456789" } });
  });
  after(() => worker?.stop());

  test("there are cases to run", () => assert.ok(CASES.length >= 10, `${CASES.length} cases`));

  for (const [i, c] of CASES.entries()) {
    test(c.name, async () => {
      const id = `case-${i}`;
      const coolings = c.previous ? JSON.stringify({ [MODEL]: c.previous, other: { end_at: 5, total_seconds: 1, streak: 0 } }) : "{}";
      const total = c.previous?.total_seconds ?? 0;
      await worker.d1.run(
        "INSERT INTO keys (id, key, provider, model_coolings, total_cooling_seconds, status) VALUES (?, ?, 'google-ai-studio', ?, ?, 'active')",
        id,
        `AIzaSy-case-${i}`,
        coolings,
        total,
      );
      const input = c.input;
      const echo = input.cooling_at_send || input.overlapped ? 1 : 0;
      await worker.d1.run(COOL_SQL, id, `$."${MODEL}"`, input.until_s, input.daily_reset_s, c.threshold, input.now_ms, input.window, input.sent_at_ms, echo);
      const row = await worker.d1.first("SELECT model_coolings, total_cooling_seconds, cooling_until FROM keys WHERE id = ?", id);
      const stored = JSON.parse(row.model_coolings);
      assert.deepEqual(stored[MODEL], c.expected, "the entry the SQL wrote is the one the pure rule computes");
      assert.equal(row.cooling_until, Math.max(...Object.values(stored).map((e) => e.end_at)), "cooling_until is the latest end");
      if (c.previous) assert.deepEqual(stored.other, { end_at: 5, total_seconds: 1, streak: 0 }, "other models' entries untouched");
      assert.equal(row.total_cooling_seconds, total + (c.expected.total_seconds - (c.previous?.total_seconds ?? 0)), "the key's total grows by the added time");
    });
  }

  test("a row whose model_coolings is not a JSON object is cooled from scratch", async () => {
    const c = CASES.find((x) => x.previous === null);
    for (const junk of [null, "", "not json", "[1,2]", "42"]) {
      const id = `junk-${JSON.stringify(junk)}`;
      await worker.d1.run("INSERT INTO keys (id, key, provider, model_coolings, status) VALUES (?, ?, 'google-ai-studio', ?, 'active')", id, `k-${id}`, junk);
      const input = c.input;
      await worker.d1.run(COOL_SQL, id, `$."${MODEL}"`, input.until_s, input.daily_reset_s, c.threshold, input.now_ms, input.window, input.sent_at_ms, 0);
      const row = await worker.d1.first("SELECT model_coolings FROM keys WHERE id = ?", id);
      assert.deepEqual(JSON.parse(row.model_coolings), { [MODEL]: c.expected }, `from ${JSON.stringify(junk)}`);
    }
  });
});
