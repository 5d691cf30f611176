// The change feed's poll statement (src/edge/proxy/sql/poll.sql, included by src/edge/proxy/store.rs) in a real
// local D1 with the real migrations: what it returns, and the rows D1 counts for it (`meta.rows_read`, the figure D1
// bills): 1 when nothing changed, whatever the size of the pool. And the admin's delete, which must show as a changed
// row for the poll to read its removal.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "../harness/worker.mjs";
import { ROOT } from "../harness/project.mjs";
import { api } from "../e2e/support/admin.mjs";

const POLL_SQL = readFileSync(join(ROOT, "src", "edge", "proxy", "sql", "poll.sql"), "utf8");
const AUTH_KEY = "ob-feed-sql-service-key-7c41d2e9";
const LIMIT = 257; // ROWS_PER_POLL + 1
const KEYS = 2_000;

describe("the change feed's poll", { timeout: 60_000 }, () => {
  let worker;
  before(async () => {
    worker = await startWorker({ vars: { AUTH_KEY } });
    // Every row written two minutes ago or earlier; nothing removed yet.
    await worker.d1.run(
      `INSERT INTO keys (id, key, provider, model_coolings, status, created_at, updated_at)
       WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${KEYS})
       SELECT printf('id-%05d', i), printf('AIzaSyFeedSql%026d', i), 'google-ai-studio', '{}', 'active',
              CAST(strftime('%s', 'now') AS INTEGER) - 600, CAST(strftime('%s', 'now') AS INTEGER) - 120 - i % 600 FROM n`,
    );
  });
  after(() => worker?.stop());

  /** Runs the poll from `cursor`: its row (changed rows and removals parsed) and D1's rows read. */
  async function poll(cursor) {
    const result = await worker.d1.raw.prepare(POLL_SQL).bind(cursor, LIMIT).all();
    assert.equal(result.results.length, 1);
    const row = result.results[0];
    return { now: row.now, changed: JSON.parse(row.changed), removals: row.removals === null ? null : JSON.parse(row.removals), rowsRead: result.meta.rows_read };
  }
  const dbNow = async () => (await worker.d1.first("SELECT CAST(strftime('%s', 'now') AS INTEGER) AS now")).now;

  test(`nothing changed: D1's clock, no rows, and 1 row read among ${KEYS} keys`, async () => {
    const now = await dbNow();
    // A cursor in the clock's minute: no look at the removals (retried once if the minute turns meanwhile).
    let p = await poll(now);
    if (Math.floor(p.now / 60) !== Math.floor(now / 60)) p = await poll(p.now);
    assert.ok(p.now >= now);
    assert.deepEqual(p.changed, []);
    assert.equal(p.removals, null);
    assert.equal(p.rowsRead, 1);
  });

  test("the first poll in a later minute than its cursor also looks at the removals, from the cursor's minute start", async () => {
    const now = await dbNow();
    await worker.d1.run("INSERT INTO key_removals (provider, key_id, removed_at) VALUES ('google-ai-studio', 'gone-early', ?)", now - 90);
    const cursor = now - 61;
    const p = await poll(cursor);
    assert.deepEqual(p.changed, []);
    // gone-early is in the cursor's minute only when that minute started before it.
    const expected = now - 90 >= Math.floor(cursor / 60) * 60 ? [["google-ai-studio", "gone-early"]] : [];
    assert.deepEqual(p.removals, expected);
    assert.equal(p.rowsRead, 2, "the keys seek and the removals seek");
  });

  test("changed rows come with their fields, at most the limit, and with the removals since the cursor", async () => {
    const now = await dbNow();
    await worker.d1.run("UPDATE keys SET status = 'blocked', model_coolings = NULL, updated_at = ? WHERE id = 'id-00007'", now);
    await worker.d1.run("UPDATE keys SET updated_at = ? WHERE id = 'id-00008'", now);
    await worker.d1.run("INSERT INTO key_removals (provider, key_id, removed_at) VALUES ('google-ai-studio', 'gone-now', ?), ('openai', NULL, ?)", now, now);
    // The same answer if the minute turns meanwhile (the removals from the minute's start: gone-early is older).
    const p = await poll(now);
    assert.deepEqual(p.changed.sort(), [
      ["id-00007", "google-ai-studio", "AIzaSyFeedSql00000000000000000000000007", "blocked", null],
      ["id-00008", "google-ai-studio", "AIzaSyFeedSql00000000000000000000000008", "active", "{}"],
    ]);
    assert.deepEqual(p.removals, [["google-ai-studio", "gone-now"], ["openai", null]]);
    const many = await poll(1);
    assert.equal(many.changed.length, LIMIT, "a long gap reads at most the limit (the isolate reloads instead)");
  });

  test("an admin's delete touches a surviving row, so the next poll reads its removal", async () => {
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // a second later than every earlier write here
    const now = await dbNow();
    const del = await api(worker, "POST", "/admin/api/keys/delete", { key: AUTH_KEY, body: { provider: "google-ai-studio", ids: ["id-01000"] } });
    assert.equal(del.res.status, 200, del.text);
    assert.equal(await worker.d1.first("SELECT id FROM keys WHERE id = 'id-01000'"), null);
    const p = await poll(now);
    assert.equal(p.changed.length, 1, "one surviving row was touched");
    assert.notEqual(p.changed[0][0], "id-01000");
    assert.ok(p.removals.some(([provider, id]) => provider === "google-ai-studio" && id === "id-01000"), JSON.stringify(p.removals));
  });
});
