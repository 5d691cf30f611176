// The admin side's guards against the built Worker in workerd: bounded body reads before authentication (chunked
// 60 MB posts to /login refused at once, workerd's memory flat), the one guess limit on the sign-in form and the
// JSON API (parallel guesses get at most the budget of "wrong key" answers; the right key from a locked address
// is refused too), the service key from any usual header, a weak unrestricted AUTH_KEY refused at start, and 405
// for unusual methods on the proxy routes.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "../harness/worker.mjs";
import { chunkedPost, rawMethod, workerdRss } from "./support/http.mjs";
import { api, assertSecured, signIn } from "./support/admin.mjs";

const AUTH_KEY = "ob-e2e-admin-guard-4c1d9e7a20b6";
const RESTRICTED = "guard-app";
/** crate::guess_limit::MAX_FAILURES and WINDOW_S. */
const MAX_FAILURES = 10;
const WINDOW_S = 900;


describe("admin guards", { timeout: 180_000 }, () => {
  let worker;

  before(async () => {
    worker = await startWorker({ vars: { AUTH_KEY: `${AUTH_KEY};${RESTRICTED}=openai` } });
  });
  after(async () => {
    await worker?.stop();
  });

  const failuresStored = async () => (await worker.d1.all("SELECT failures FROM admin_login_failures")).map((r) => r.failures);

  test("three 60 MB chunked posts to /login are refused at once, unread, and workerd's memory stays flat", async (t) => {
    // Warm up: the first requests of an isolate allocate what it keeps anyway.
    for (let i = 0; i < 3; i++) assert.equal((await worker.fetch("/login")).status, 200);
    const before = workerdRss();
    assert.ok(before > 0, "workerd's RSS is readable");
    const headers = { "content-type": "application/x-www-form-urlencoded", "cf-connecting-ip": "198.51.100.80" };
    for (let i = 0; i < 3; i++) {
      // As fast as the socket takes it: the Worker answers 411 at once and the runtime drops the connection; the
      // reset may overtake the answer, but either way the upload is cut off long before its 60 MB.
      const answer = await chunkedPost(worker.url, "/login", 60 * 1024 * 1024, headers);
      assert.ok(answer.status === 411 || answer.reset, `${answer.status} ${answer.text.slice(0, 200)}`);
      assert.ok(answer.sentBytes < 60 * 1024 * 1024, `refused before the upload ended (${answer.sentBytes} bytes sent)`);
      assert.ok(answer.ms < 10_000, `refused in ${answer.ms} ms`);
    }
    const grown = workerdRss() - before;
    t.diagnostic(`workerd RSS ${(before / 1048576).toFixed(1)} MB before, grew by ${(grown / 1048576).toFixed(1)} MB`);
    assert.ok(grown < 60 * 1024 * 1024, `workerd grew by ${(grown / 1048576).toFixed(1)} MB`);
    // A polite client (Expect: 100-continue) is told 411 before it sends a byte.
    const polite = await chunkedPost(worker.url, "/login", 60 * 1024 * 1024, headers, { expectContinue: true });
    assert.equal(polite.status, 411, polite.text.slice(0, 200));
    assert.equal(polite.continued, false, "no 100 Continue: the Worker never asked for the body");
    assert.equal(polite.sentBytes, 0);
    assert.match(polite.headers["content-type"], /^text\/html/);
    assert.match(polite.text, /Content-Length/);
    assert.deepEqual(await failuresStored(), [], "a refused upload is no sign-in attempt");
  });

  test("a declared oversized sign-in form gets 413 before anything is read or counted", async () => {
    const res = await worker.fetch("/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "cf-connecting-ip": "198.51.100.81" },
      body: `auth_key=${"x".repeat(9_000)}`,
    });
    assert.equal(res.status, 413);
    assertSecured(res);
    await res.arrayBuffer();
    assert.deepEqual(await failuresStored(), []);
  });

  test("an oversized chunked JSON body on the admin API is cut off at the limit", async () => {
    const answer = await chunkedPost(
      worker.url,
      "/admin/api/keys",
      128 * 1024 * 1024,
      { "content-type": "application/json", authorization: `Bearer ${AUTH_KEY}`, "cf-connecting-ip": "198.51.100.82" },
      { paceMs: 1 },
    );
    // 64 KiB per millisecond at most: all 128 MB would take two seconds; the answer comes after the first 2 MiB.
    assert.ok(answer.sentBytes < 128 * 1024 * 1024, `cut off after ${answer.sentBytes} bytes`);
    assert.equal(answer.status, 413, answer.text.slice(0, 200));
    assert.equal(JSON.parse(answer.text).error.code, "body_too_large");
  });

  test("30 parallel wrong sign-ins from one address: exactly the budget is judged, the rest and the right key get 429", async () => {
    const ip = "198.51.100.90";
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => signIn(worker, `guess-${i}-0123456789abcdef`, { ip })));
    const statuses = answers.map((a) => a.res.status);
    assert.equal(statuses.filter((s) => s === 401).length, MAX_FAILURES, statuses.join(" "));
    assert.equal(statuses.filter((s) => s === 429).length, 30 - MAX_FAILURES, statuses.join(" "));
    for (const { res } of answers.filter((a) => a.res.status === 429)) {
      const retryAfter = Number(res.headers.get("retry-after"));
      assert.ok(retryAfter > 0 && retryAfter <= WINDOW_S, `Retry-After ${retryAfter}`);
    }
    const right = await signIn(worker, AUTH_KEY, { ip });
    assert.equal(right.res.status, 429, "the right key gets no answer from a locked address either");
    assert.equal(right.cookie, null);
    const v6 = await signIn(worker, AUTH_KEY, { ip: "2001:db8:5:6::1" });
    assert.equal(v6.res.status, 303, "another address signs in");
    const rows = await worker.d1.all("SELECT client, failures FROM admin_login_failures");
    // Every attempt that reached D1 was counted before its key was looked at (the ones this isolate already knew
    // to be locked never reached it).
    assert.ok(rows.some((r) => r.failures >= MAX_FAILURES + 1), JSON.stringify(rows));
    assert.ok(!JSON.stringify(rows).includes("198.51.100"), "only a keyed hash of the address is stored");
  });

  test("a right sign-in gives its attempt back, and a restricted key's too", async () => {
    const ip = "198.51.100.91";
    for (let i = 0; i < 3; i++) assert.equal((await signIn(worker, `nope-${i}-0123456789abcdef`, { ip })).res.status, 401);
    assert.equal((await signIn(worker, RESTRICTED, { ip })).res.status, 403);
    assert.equal((await signIn(worker, AUTH_KEY, { ip })).res.status, 303);
    const { failures } = await worker.d1.first("SELECT failures FROM admin_login_failures WHERE failures = 3");
    assert.equal(failures, 3, "three wrong keys stay counted, the two right ones do not");
  });

  test("one IPv6 /64 is one client", async () => {
    const net = "2001:db8:77:1";
    for (let i = 0; i < MAX_FAILURES; i++) {
      const { res } = await signIn(worker, `v6-guess-${i}-0123456789abcdef`, { ip: `${net}::${(i + 1).toString(16)}` });
      assert.equal(res.status, 401);
    }
    assert.equal((await signIn(worker, AUTH_KEY, { ip: `${net}:ffff::9` })).res.status, 429, "another address of the same /64");
    assert.equal((await signIn(worker, AUTH_KEY, { ip: "2001:db8:77:2::1" })).res.status, 303, "the next /64");
  });

  test("the admin API takes the key from any usual header, and two different keys are a 400 that counts nothing", async () => {
    const ip = "198.51.100.100";
    for (const headers of [{ authorization: `Bearer ${AUTH_KEY}` }, { "x-api-key": AUTH_KEY }, { "x-goog-api-key": AUTH_KEY }, { "api-key": AUTH_KEY }]) {
      const { res } = await api(worker, "GET", "/admin/api/providers", { headers: { ...headers, "cf-connecting-ip": ip } });
      assert.equal(res.status, 200, JSON.stringify(headers));
    }
    const rowsBefore = await worker.d1.all("SELECT client, failures FROM admin_login_failures ORDER BY client");
    const both = await api(worker, "GET", "/admin/api/providers", {
      headers: { authorization: `Bearer ${AUTH_KEY}`, "x-api-key": "another-key-0123456789", "cf-connecting-ip": "198.51.100.101" },
    });
    assert.equal(both.res.status, 400);
    assert.equal(both.json.error.code, "conflicting_credentials");
    assert.ok(!both.text.includes(AUTH_KEY));
    const restricted = await api(worker, "GET", "/admin/api/providers", { key: RESTRICTED, headers: { "cf-connecting-ip": "198.51.100.101" } });
    assert.equal(restricted.res.status, 403);
    assert.deepEqual(await worker.d1.all("SELECT client, failures FROM admin_login_failures ORDER BY client"), rowsBefore, "nothing counted");
  });

  test("30 parallel wrong Bearer keys on the admin API get at most the budget of 401s; then the address is locked", async () => {
    const ip = "198.51.100.110";
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => api(worker, "GET", "/admin/api/providers", { key: `bearer-guess-${i}-0123456789`, headers: { "cf-connecting-ip": ip } })),
    );
    const statuses = answers.map((a) => a.res.status);
    assert.ok(statuses.filter((s) => s === 401).length <= MAX_FAILURES, statuses.join(" "));
    assert.equal(statuses.filter((s) => s === 401).length + statuses.filter((s) => s === 429).length, 30, statuses.join(" "));
    for (const { res, json, text } of answers) {
      assertSecured(res);
      assert.ok(!text.includes("bearer-guess"), "no key is echoed");
      if (res.status === 429) {
        assert.equal(json.error.code, "too_many_wrong_keys");
        assert.ok(Number(res.headers.get("retry-after")) > 0);
      }
    }
    const right = await api(worker, "GET", "/admin/api/providers", { key: AUTH_KEY, headers: { "cf-connecting-ip": ip } });
    assert.equal(right.res.status, 429, "the right key from a locked address");
    const other = await api(worker, "GET", "/admin/api/providers", { key: AUTH_KEY, headers: { "cf-connecting-ip": "198.51.100.111" } });
    assert.equal(other.res.status, 200);
    const signedIn = await signIn(worker, AUTH_KEY, { ip });
    assert.equal(signedIn.res.status, 429, "one budget for the API and the sign-in form");
  });

  test("unusual methods on the proxy routes get 405 with Allow", async () => {
    // Methods the runtime does not know at all (say FOO) never reach the Worker: workerd answers them 501 itself.
    for (const method of ["TRACE", "PROPFIND", "MKCOL"]) {
      const res = await rawMethod(worker.url, method, "/api/openai/chat/completions");
      assert.equal(res.status, 405, `${method}: ${res.text}`);
      assert.equal(res.headers.allow, "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
      assert.equal(JSON.parse(res.text).error.code, "method_not_allowed");
    }
    assert.equal((await rawMethod(worker.url, "TRACE", "/api/compat/models")).status, 405);
  });
});

describe("a weak unrestricted AUTH_KEY", { timeout: 60_000 }, () => {
  test("every request answers 500 saying why and how to fix it, without quoting the key", async () => {
    const weak = "short-admin-key";
    const worker = await startWorker({ vars: { AUTH_KEY: `${weak};long-enough-admin-key-0001` } });
    try {
      const page = await worker.fetch("/login");
      const html = await page.text();
      assert.equal(page.status, 500);
      assert.match(html, /definition 1/);
      assert.match(html, /16 characters/);
      assert.match(html, /wrangler secret put AUTH_KEY/);
      assert.ok(!html.includes(weak));
      const apiTry = await api(worker, "GET", "/admin/api/providers", { key: "long-enough-admin-key-0001" });
      assert.equal(apiTry.res.status, 500);
      assert.match(apiTry.json.error.message, /16 characters/);
      const proxy = await worker.fetch("/api/openai/chat/completions", {
        method: "POST",
        headers: { authorization: "Bearer long-enough-admin-key-0001", "content-type": "application/json" },
        body: '{"model":"gpt-4o-mini"}',
      });
      assert.equal(proxy.status, 500);
      assert.ok(!(await proxy.text()).includes(weak));
    } finally {
      await worker.stop();
    }
  });
});
