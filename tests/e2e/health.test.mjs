// GET /health on the built Worker in workerd (Miniflare): answers without auth, touches no D1 data, and the harness
// starts and stops the runtime cleanly.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "../harness/worker.mjs";
import { startMock } from "../harness/mock-upstream.mjs";

const AUTH_KEY = "ob-test-health-service-key";

/** Every row of every user table, to compare before and after. */
async function snapshot(d1) {
  const tables = await d1.all(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY name",
  );
  const out = {};
  for (const { name } of tables) out[name] = await d1.all(`SELECT * FROM "${name}" ORDER BY rowid`);
  return out;
}

describe("GET /health", () => {
  let mock;
  let worker;
  before(async () => {
    mock = await startMock();
    worker = await startWorker({ vars: { AUTH_KEY }, mock });
  });
  after(async () => {
    await worker?.stop();
    await mock?.close();
  });

  test("answers 200 ok without any credentials", async () => {
    const res = await worker.fetch("/health");
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "ok");
  });

  test("writes nothing to D1 and calls no upstream", async () => {
    await worker.d1.run(
      "INSERT INTO keys (id, key, provider, model_coolings) VALUES (?, ?, ?, ?)",
      "k-1",
      "AIzaSyHealthCheckKey000000000000000000",
      "google-ai-studio",
      JSON.stringify({ "gemini-2.5-flash": { end_at: 1, total_seconds: 65 } }),
    );
    const rowsBefore = await snapshot(worker.d1);
    for (let i = 0; i < 3; i++) {
      const res = await worker.fetch("/health", { headers: { authorization: `Bearer ${AUTH_KEY}` } });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
    // (SQLite's total_changes() cannot be used for this: Miniflare's D1 bumps it on every query, reads included.)
    assert.deepEqual(await snapshot(worker.d1), rowsBefore);
    assert.equal(mock.requests.length, 0);
  });

  test("never echoes the service key in its answer or logs", async () => {
    const res = await worker.fetch("/health", { headers: { authorization: `Bearer ${AUTH_KEY}` } });
    const body = await res.text();
    assert.ok(!body.includes(AUTH_KEY));
    for (const value of res.headers.values()) assert.ok(!value.includes(AUTH_KEY));
    assert.ok(!worker.logs.join("\n").includes(AUTH_KEY));
  });
});

describe("the Worker under Miniflare", () => {
  test("starts with every migration applied and stops cleanly", async () => {
    const worker = await startWorker({ vars: { AUTH_KEY } });
    let stopped = false;
    try {
      const tables = await worker.d1.all("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'keys'");
      assert.deepEqual(tables, [{ name: "keys" }]);
      const res = await worker.fetch("/health");
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      await worker.stop();
      stopped = true;
      // Once stopped, nothing listens on its port any more.
      await assert.rejects(worker.fetch("/health", { signal: AbortSignal.timeout(5_000) }));
    } finally {
      if (!stopped) await worker.stop();
    }
  });

  test("each start gets its own empty database", async () => {
    const a = await startWorker({ vars: { AUTH_KEY } });
    const b = await startWorker({ vars: { AUTH_KEY } });
    try {
      await a.d1.run("INSERT INTO keys (id, key, provider) VALUES ('only-in-a', 'k', 'openai')");
      assert.equal((await a.d1.first("SELECT count(*) AS n FROM keys")).n, 1);
      assert.equal((await b.d1.first("SELECT count(*) AS n FROM keys")).n, 0);
      assert.notEqual(a.url, b.url);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
