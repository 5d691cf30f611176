// Smoke test of the developer path: wrangler.jsonc (from the template) + `wrangler d1 migrations apply --local` +
// `wrangler dev`, which runs build.command (worker-build) itself. Slow (a few seconds warm), so only this one.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { startWranglerDev } from "../harness/wrangler-dev.mjs";

let dev;
before(async () => {
  dev = await startWranglerDev({ vars: { AUTH_KEY: "ob-test-wrangler-dev-key" } });
});
after(async () => {
  await dev?.stop();
});

test("wrangler dev serves GET /health", async () => {
  const res = await fetch(`${dev.url}/health`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "ok");
});

test("the migrations reached the D1 database that wrangler dev uses", async () => {
  const rows = await dev.d1Query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'keys'");
  assert.deepEqual(rows, [{ name: "keys" }]);
});

test("stop() ends wrangler and cleans up its temporary config", async () => {
  const { url, configPath, pid } = dev;
  assert.ok(existsSync(configPath));
  await dev.stop();
  dev = undefined;
  assert.ok(!existsSync(configPath));
  // The whole process group (wrangler, workerd, esbuild) is gone.
  assert.throws(() => process.kill(-pid, 0), { code: "ESRCH" });
  await assert.rejects(fetch(`${url}/health`, { signal: AbortSignal.timeout(5_000) }));
});
