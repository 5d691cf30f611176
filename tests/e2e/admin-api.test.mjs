// The JSON admin API (/admin/api/…, docs/admin-api.md) against the built Worker: Bearer authentication with an
// unrestricted service key, 10,000 keys in one POST, listing/search/paging, every change the page can make, clear
// 4xx answers for bad input with nothing stored, and a key added here being used by the very next proxied request.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "../harness/worker.mjs";
import { startMock } from "../harness/mock-upstream.mjs";
import { openai } from "../harness/providers.mjs";
import { fakeKey, nowS, seedKeys } from "./support/pool.mjs";
import { api, assertSecured, countKeys } from "./support/admin.mjs";

const AUTH_KEY = "ob-e2e-admin-api-7d41c9a2b5e8";
const RESTRICTED = "ob-e2e-admin-api-restricted-31f0";
const GEMINI = "google-ai-studio";

/** Asserts an OpenAI-shaped error with `status` and `code`. */
function assertError({ res, json }, status, code) {
  assert.equal(res.status, status, JSON.stringify(json));
  assert.equal(typeof json?.error?.message, "string");
  assert.equal(typeof json?.error?.type, "string");
  if (code) assert.equal(json.error.code, code, json.error.message);
  assertSecured(res);
}

describe("JSON admin API", { timeout: 120_000 }, () => {
  let mock;
  let worker;
  const call = (method, path, options = {}) => api(worker, method, path, { key: AUTH_KEY, ...options });

  before(async () => {
    mock = await startMock();
    worker = await startWorker({
      vars: { AUTH_KEY: `${AUTH_KEY};${RESTRICTED}=openai`, KEY_CACHE_TTL_SECONDS: "60", USAGE_FLUSH_SECONDS: "0" },
      mock,
    });
  });
  after(async () => {
    await worker?.stop();
    await mock?.close();
  });

  test("answers only an unrestricted service key, as a Bearer token", async () => {
    assertError(await api(worker, "GET", "/admin/api/providers"), 401, "invalid_service_key");
    assertError(await api(worker, "GET", "/admin/api/providers", { key: "wrong" }), 401, "invalid_service_key");
    assertError(await api(worker, "GET", "/admin/api/providers", { key: RESTRICTED }), 403, "not_allowed");
    const viaCookie = await worker.fetch("/admin/api/providers", { headers: { cookie: `__Host-ob_session=${AUTH_KEY}` } });
    assert.equal(viaCookie.status, 401);
    const ok = await call("GET", "/admin/api/providers");
    assert.equal(ok.res.status, 200);
    assertSecured(ok.res);
    assert.equal(ok.res.headers.get("cache-control"), "no-store");
    const gemini = ok.json.providers.find((p) => p.provider === GEMINI);
    assert.deepEqual(gemini, { provider: GEMINI, known: true, active: 0, cooling: 0, blocked: 0, total: 0 });
  });

  test("10,000 keys in one POST are all stored, and posting them again adds none", async () => {
    const keys = Array.from({ length: 10_000 }, (_, i) => `AIzaSyBulk${String(i).padStart(6, "0")}${fakeKey("x").slice(-20)}`);
    const started = Date.now();
    const first = await call("POST", "/admin/api/keys", { body: { provider: GEMINI, keys, remark: "bulk 10k" } });
    const elapsed = Date.now() - started;
    assert.equal(first.res.status, 200, first.text);
    assert.deepEqual(first.json, { added: 10_000, already_present: 0, duplicates: 0, rejected: [] });
    assert.equal(await countKeys(worker, GEMINI), 10_000);
    const sample = await worker.d1.first("SELECT id, remark, status, model_coolings FROM keys WHERE key = ?", keys[1234]);
    assert.equal(sample.remark, "bulk 10k");
    assert.equal(sample.status, "active");
    assert.match(sample.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const distinctIds = await worker.d1.first("SELECT count(DISTINCT id) AS n FROM keys WHERE provider = ?", GEMINI);
    assert.equal(distinctIds.n, 10_000);

    const again = await call("POST", "/admin/api/keys", { body: { provider: GEMINI, text: keys.join("\n") } });
    assert.deepEqual(again.json, { added: 0, already_present: 10_000, duplicates: 0, rejected: [] });
    assert.equal(await countKeys(worker, GEMINI), 10_000);
    console.log(`# 10,000 keys added in ${elapsed} ms`);
  });

  test("the list pages by 20, searches with wildcards escaped, and never shows a whole key", async () => {
    const page = await call("GET", `/admin/api/keys?provider=${GEMINI}&page=500`);
    assert.equal(page.res.status, 200);
    assert.equal(page.json.total, 10_000);
    assert.equal(page.json.pages, 500);
    assert.equal(page.json.per_page, 20);
    assert.equal(page.json.keys.length, 20);
    assert.deepEqual(page.json.counts, { active: 10_000, cooling: 0, blocked: 0 });
    const row = await worker.d1.first("SELECT key FROM keys WHERE key LIKE 'AIzaSyBulk004321%'");
    const found = await call("GET", `/admin/api/keys?provider=${GEMINI}&q=${row.key.slice(-6)}`);
    assert.equal(found.json.total, 1);
    assert.equal(found.json.keys[0].key_masked, `AIza…${row.key.slice(-4)}`);
    assert.ok(!found.text.includes(row.key), "the list shows masks only");
    const byRemark = await call("GET", `/admin/api/keys?provider=${GEMINI}&q=bulk%2010k`);
    assert.equal(byRemark.json.total, 10_000);
    const wildcard = await call("GET", `/admin/api/keys?provider=${GEMINI}&q=${encodeURIComponent("%")}`);
    assert.equal(wildcard.json.total, 0, "% is a literal, not a wildcard");
    const underscore = await call("GET", `/admin/api/keys?provider=${GEMINI}&q=_`);
    assert.equal(underscore.json.total, 0, "_ is a literal too");
    const full = await call("GET", `/admin/api/keys/${found.json.keys[0].id}`);
    assert.equal(full.json.key, row.key, "GET /admin/api/keys/{id} gives the key itself");
    assert.equal(full.json.provider, GEMINI);
  });

  test("bad inputs get a clear 4xx and store nothing", async () => {
    const before = await worker.d1.first("SELECT count(*) AS n, total(length(remark)) AS r FROM keys");
    const post = (body, headers) => call("POST", "/admin/api/keys", { body, headers });
    assertError(await post("{not json"), 400, "invalid_json");
    assertError(await post({ provider: "openai", key: "sk-1" }), 400, "invalid_json");
    assertError(await post({ provider: "openai", keys: ["sk-1"], text: "sk-2" }), 400, "invalid_body");
    assertError(await post({ provider: "Open/AI", keys: ["sk-1"] }), 400, "invalid_provider");
    assertError(await post({ provider: "openai", text: " ,\n" }), 400, "no_keys");
    assertError(await post({ provider: "openai", keys: ["sk-1"], remark: "two\nlines" }), 400, "invalid_remark");
    assertError(await post({ provider: "openai", keys: ["sk-1"] }, { "content-type": "text/plain" }), 415, "unsupported_media_type");
    const tooMany = Array.from({ length: 20_001 }, (_, i) => `k${i}`);
    assertError(await post({ provider: "openai", keys: tooMany }), 400, "too_many_keys");
    assertError(await post({ provider: "openai", text: "x".repeat(2 * 1024 * 1024 + 10) }), 413, "body_too_large");
    assertError(await call("GET", "/admin/api/keys?provider=openai&status=all"), 400, "invalid_query");
    assertError(await call("GET", "/admin/api/keys?provider=openai&page=0"), 400, "invalid_query");
    assertError(await call("GET", "/admin/api/keys?provider=openai&sort=key"), 400, "invalid_query");
    assertError(await call("GET", "/admin/api/keys"), 400, "invalid_provider");
    assertError(await call("POST", "/admin/api/keys/delete", { body: { provider: GEMINI, status: "active" } }), 400, "confirmation_required");
    assertError(await call("POST", "/admin/api/keys/delete", { body: { provider: GEMINI, status: "active", confirm: "openai" } }), 400, "confirmation_required");
    assertError(await call("POST", "/admin/api/keys/delete", { body: { provider: GEMINI, ids: [] } }), 400, "no_keys_selected");
    assertError(await call("POST", "/admin/api/keys/delete", { body: { provider: GEMINI, ids: ["x'; DROP TABLE keys;--"] } }), 400, "invalid_id");
    assertError(await call("POST", "/admin/api/keys/unblock", { body: { provider: GEMINI } }), 400, "invalid_json");
    assertError(await call("PATCH", "/admin/api/keys/no-such-id", { body: { remark: "x" } }), 404, "unknown_key");
    assertError(await call("GET", "/admin/api/keys/no-such-id"), 404, "unknown_key");
    assertError(await call("GET", "/admin/api/nothing-here"), 404, "unknown_route");
    const wrongMethod = await call("DELETE", "/admin/api/keys");
    assertError(wrongMethod, 405, "method_not_allowed");
    assert.equal(wrongMethod.res.headers.get("allow"), "GET, POST");
    const afterAll = await worker.d1.first("SELECT count(*) AS n, total(length(remark)) AS r FROM keys");
    assert.deepEqual(afterAll, before);
    assert.equal(await countKeys(worker, "openai"), 0);
  });

  test("refused keys are reported with a reason and masked", async () => {
    const secretTail = "SECRETTAIL";
    const { res, json } = await call("POST", "/admin/api/keys", {
      body: {
        provider: "groq",
        keys: ["gsk_ok_0123456789abcdef", "", `gsk_${"y".repeat(520)}`, `gsk_has space${secretTail}`, `gsk_ctl\u0007${secretTail}`, "gsk_ok_0123456789abcdef"],
      },
    });
    assert.equal(res.status, 200);
    assert.equal(json.added, 1);
    assert.equal(json.duplicates, 1);
    assert.deepEqual(json.rejected.map((r) => r.reason), ["empty", "too_long", "whitespace", "control_character"]);
    for (const r of json.rejected) assert.ok(!r.key_masked.includes(secretTail) && r.key_masked.length <= 9, r.key_masked);
    assert.equal(await countKeys(worker, "groq"), 1);
  });

  test("delete, unblock, reset cooldowns and remarks change exactly what they name", async () => {
    const now = nowS();
    const seeded = await seedKeys(worker, "mistral", [
      { status: "blocked" },
      { status: "blocked" },
      { coolings: { "mistral-large": { end_at: now + 600, total_seconds: 600, streak: 1 } } },
      {},
    ]);
    const [blockedA, blockedB, cooling, plain] = seeded;
    const listed = await call("GET", "/admin/api/keys?provider=mistral&status=cooling");
    assert.equal(listed.json.keys[0].cooling[0].model, "mistral-large");
    assert.ok(listed.json.keys[0].cooling[0].seconds_left > 500);

    const unblocked = await call("POST", "/admin/api/keys/unblock", { body: { provider: "mistral", ids: [blockedA.id, plain.id] } });
    assert.deepEqual(unblocked.json, { unblocked: 1 });
    assert.equal((await worker.d1.first("SELECT status FROM keys WHERE id = ?", blockedA.id)).status, "active");

    const reset = await call("POST", "/admin/api/keys/reset-cooldowns", { body: { provider: "mistral", ids: [cooling.id] } });
    assert.deepEqual(reset.json, { reset: 1 });
    const coolings = JSON.parse((await worker.d1.first("SELECT model_coolings FROM keys WHERE id = ?", cooling.id)).model_coolings);
    assert.equal(coolings["mistral-large"].end_at, 0);
    assert.equal(coolings["mistral-large"].total_seconds, 600, "the lifetime total is kept");

    const remark = await call("PATCH", `/admin/api/keys/${plain.id}`, { body: { remark: "  from a script " } });
    assert.deepEqual(remark.json, { id: plain.id, provider: "mistral", remark: "from a script" });
    const cleared = await call("PATCH", `/admin/api/keys/${plain.id}`, { body: { remark: null } });
    assert.equal(cleared.json.remark, null);

    const wrongProvider = await call("POST", "/admin/api/keys/delete", { body: { provider: "openai", ids: [plain.id] } });
    assert.deepEqual(wrongProvider.json, { deleted: 0 }, "ids of another provider are not touched");
    const blockedGone = await call("POST", "/admin/api/keys/delete", { body: { provider: "mistral", status: "blocked" } });
    assert.deepEqual(blockedGone.json, { deleted: 1 });
    assert.equal(await worker.d1.first("SELECT id FROM keys WHERE id = ?", blockedB.id), null);
    const activeGone = await call("POST", "/admin/api/keys/delete", { body: { provider: "mistral", status: "active", confirm: "mistral" } });
    assert.deepEqual(activeGone.json, { deleted: 3 });
    assert.equal(await countKeys(worker, "mistral"), 0);
  });

  test("a key added through the API is used by the very next proxied request in this isolate", async () => {
    const chat = (provider = "openai") =>
      worker.fetch(`/api/${provider}/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${AUTH_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
      });
    // Control: with KEY_CACHE_TTL_SECONDS=60 a key written to D1 behind the Worker's back stays unseen.
    assert.equal((await chat("deepseek")).status, 503);
    await seedKeys(worker, "deepseek", 1);
    assert.equal((await chat("deepseek")).status, 503, "the isolate still serves its cached (empty) pool");

    const empty = await chat();
    assert.equal(empty.status, 503, "no key yet: the isolate now caches an empty pool for 60 s");
    await empty.arrayBuffer();
    const key = fakeKey("openai");
    mock.reset();
    mock.on({ method: "POST", path: "/openai/chat/completions" }, openai.chatCompletion());
    const added = await call("POST", "/admin/api/keys", { body: { provider: "openai", keys: [key] } });
    assert.equal(added.json.added, 1);
    const res = await chat();
    assert.equal(res.status, 200, await res.text());
    assert.equal(mock.requests.length, 1);
    assert.equal(mock.requests[0].headers.authorization, `Bearer ${key}`);

    const listed = await call("GET", "/admin/api/keys?provider=openai");
    assert.equal(listed.json.keys[0].usage.requests, 1, "usage figures count the attempt");
    assert.equal(listed.json.keys[0].usage.successes, 1);
    const stored = await worker.d1.first("SELECT requests, successes FROM key_usage WHERE key_id = ?", listed.json.keys[0].id);
    assert.deepEqual(stored, { requests: 1, successes: 1 });
  });
});
