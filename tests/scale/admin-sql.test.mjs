// The admin key list's page statement (src/edge/admin/store.rs `list_keys`, default sort) in a real local D1 with the
// real migrations: a page walks an index in its own order, so D1 counts (`meta.rows_read`, the figure it bills) about
// offset + page rows, not the whole tab or the whole paste of keys sharing a `created_at`; and the Worker's admin API
// lists the same keys in the same order, page after page. Also the id-list actions' lookup (by primary key).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "../harness/worker.mjs";
import { api } from "../e2e/support/admin.mjs";

const AUTH_KEY = "ob-admin-sql-service-key-5e20b7c1";
const PROVIDER = "google-ai-studio";
const PASTE = 3_000; // one paste: every key shares one created_at
const OLDER = 500; // an older paste, an hour before
const PER_PAGE = 20;

// The statement list_keys runs (KEY_COLUMNS, tab_sql, SEARCH, sort_sql of src/edge/admin/store.rs); keep in step.
const KEY_COLUMNS = `k.id AS id, k.key AS key, k.provider AS provider, k.status AS status, k.remark AS remark,
  k.created_at AS created_at, k.total_cooling_seconds AS total_cooling_seconds, k.model_coolings AS model_coolings,
  u.requests AS requests, u.successes AS successes, u.rate_limited AS rate_limited, u.errors AS errors,
  u.last_used_at AS last_used_at, u.last_error AS last_error, u.last_error_at AS last_error_at,
  k.check_after AS check_after, k.check_failures AS check_failures, k.last_checked_at AS last_checked_at,
  k.last_check_result AS last_check_result
  FROM keys AS k LEFT JOIN key_usage AS u ON u.key_id = k.id`;
const SEARCH = String.raw`(?3 = '' OR k.key LIKE ?3 ESCAPE '\' OR k.remark LIKE ?3 ESCAPE '\')`;
const TABS = {
  active: { filter: "k.status = 'active' AND +k.cooling_until <= ?1", order: "k.created_at DESC, k.id" },
  cooling: { filter: "k.status = 'active' AND k.cooling_until > ?1", order: "k.cooling_until, k.id" },
  blocked: { filter: "k.status = 'blocked'", order: "k.created_at DESC, k.id" },
};
const pageSql = (tab) => `SELECT ${KEY_COLUMNS} WHERE k.provider = ?2 AND ${TABS[tab].filter} AND ${SEARCH} ORDER BY ${TABS[tab].order} LIMIT ?4 OFFSET ?5`;

describe("the admin key list's page", { timeout: 120_000 }, () => {
  let worker;
  let now;
  let rows; // every seeded key: { id, status, created_at, cooling_until }
  before(async () => {
    worker = await startWorker({ vars: { AUTH_KEY } });
    now = (await worker.d1.first("SELECT CAST(strftime('%s', 'now') AS INTEGER) AS now")).now;
    // Ids spread over the id space (not in insertion order); every 25th key blocked, every 10th cooling for an hour
    // or less (ends spread so the cooling order differs from the id order), every 3rd with a usage row.
    const seed = (count, from, createdAt) => `INSERT INTO keys (id, key, provider, model_coolings, status, created_at, updated_at, cooling_until)
       WITH RECURSIVE n(i) AS (SELECT ${from} UNION ALL SELECT i + 1 FROM n WHERE i < ${from + count - 1})
       SELECT lower(hex(randomblob(8))), printf('AIzaSyAdminSql%025d', i), '${PROVIDER}', '{}',
              CASE WHEN i % 25 = 0 THEN 'blocked' ELSE 'active' END, ${createdAt}, ${createdAt},
              CASE WHEN i % 10 = 3 THEN ${now} + 60 + (i * 7919) % 3600 ELSE 0 END FROM n`;
    await worker.d1.run(seed(PASTE, 1, now - 60));
    await worker.d1.run(seed(OLDER, PASTE + 1, now - 3660));
    await worker.d1.run("INSERT INTO key_usage (key_id, requests) SELECT id, 1 + abs(random()) % 100 FROM keys WHERE rowid % 3 = 0");
    rows = await worker.d1.all("SELECT id, status, created_at, cooling_until FROM keys WHERE provider = ?", PROVIDER);
  });
  after(() => worker?.stop());

  /** The seeded keys of `tab` in the tab's order (JavaScript's own sort, byte order of the ids as SQLite's). */
  function expected(tab) {
    const byId = (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    const of = rows.filter((r) =>
      tab === "blocked" ? r.status === "blocked" : r.status === "active" && (tab === "cooling") === r.cooling_until > now,
    );
    return of.sort(tab === "cooling" ? (a, b) => a.cooling_until - b.cooling_until || byId(a, b) : (a, b) => b.created_at - a.created_at || byId(a, b));
  }

  async function page(tab, number) {
    const result = await worker.d1.raw.prepare(pageSql(tab)).bind(now, PROVIDER, "", PER_PAGE, (number - 1) * PER_PAGE).all();
    return { ids: result.results.map((r) => r.id), rowsRead: result.meta.rows_read };
  }

  for (const tab of Object.keys(TABS)) {
    test(`${tab} tab: the page walks an index in its order (no sort of the tab)`, async () => {
      const plan = await worker.d1.raw.prepare(`EXPLAIN QUERY PLAN ${pageSql(tab)}`).bind(now, PROVIDER, "", PER_PAGE, 0).all();
      const details = plan.results.map((r) => r.detail).join("\n");
      assert.doesNotMatch(details, /TEMP B-TREE/, details);
      assert.match(details, tab === "cooling" ? /keys_provider_status_cooling_id_idx/ : /keys_provider_status_created_idx/, details);
    });

    test(`${tab} tab: pages 1 and 5 read about offset + page rows, and the API lists the same keys in order`, async () => {
      const all = expected(tab);
      assert.ok(all.length > 5 * PER_PAGE, `${tab} has ${all.length} keys`);
      for (const number of [1, 5]) {
        const offset = (number - 1) * PER_PAGE;
        const { ids, rowsRead } = await page(tab, number);
        const want = all.slice(offset, offset + PER_PAGE).map((r) => r.id);
        assert.deepEqual(ids, want);
        // Each listed key and each skipped one is an index entry and a table row, plus the usage row of a listed
        // key; the active tab also steps over the cooling keys among its newest (1 in 10 here).
        const bound = 2 * (offset + PER_PAGE) * (tab === "active" ? 1.25 : 1) + PER_PAGE + 5;
        assert.ok(rowsRead <= bound, `${tab} page ${number}: ${rowsRead} rows read (bound ${bound}; the tab holds ${all.length})`);
        const listed = await api(worker, "GET", `/admin/api/keys?provider=${PROVIDER}&status=${tab}&page=${number}`, { key: AUTH_KEY });
        assert.equal(listed.res.status, 200, listed.text);
        assert.deepEqual(listed.json.keys.map((k) => k.id), want, `the API's ${tab} page ${number}`);
        assert.equal(listed.json.total, all.length);
      }
    });
  }

  test("an id-list action looks its ids up by primary key, not through the provider's keys", async () => {
    const ids = expected("active").slice(0, 3).map((r) => r.id);
    const result = await worker.d1.raw
      .prepare("SELECT id FROM keys WHERE +provider = ?1 AND id IN (SELECT value FROM json_each(?2)) ORDER BY id")
      .bind(PROVIDER, JSON.stringify([...ids, "no-such-id"]))
      .all();
    assert.deepEqual(result.results.map((r) => r.id), [...ids].sort());
    assert.ok(result.meta.rows_read <= 12, `${result.meta.rows_read} rows read for 4 ids`);
  });
});
