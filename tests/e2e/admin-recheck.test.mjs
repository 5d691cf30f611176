// The scheduled re-check and the pool-wide throttle detector as the admin site shows them, against the built Worker
// and a mock AI Gateway: a blocked key's last check, result and next check on the key list (Chromium); "Check now"
// probing a blocked key that the mock now accepts, which puts it back in the pool; `POST /admin/api/keys/check` with
// per-key results and its 20-key limit; a post without the CSRF token changing nothing; and, with small thresholds,
// the throttle figures of the isolate on the overview and in `GET /admin/api/providers` after 429s through the proxy.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "../harness/worker.mjs";
import { startMock } from "../harness/mock-upstream.mjs";
import { gemini } from "../harness/providers.mjs";
import { fakeKey, keyRow, nowS, seedKeys } from "./support/pool.mjs";
import { api, artifact, assertSecured, getPage, launchChromium, postForm, signIn } from "./support/admin.mjs";

const AUTH_KEY = "ob-e2e-admin-recheck-61d0a93f7c2e";
const GEMINI = "google-ai-studio";
const GEMINI_MODELS = "/google-ai-studio/v1beta/models";

const keyOf = (req) => req.headers["x-goog-api-key"];

/** Sets a key's re-check columns (unix seconds; `null` leaves a column NULL). */
async function setCheck(worker, id, { lastCheckedAt = null, result = null, checkAfter = null, failures = 0 }) {
  await worker.d1.run(
    "UPDATE keys SET last_checked_at = ?, last_check_result = ?, check_after = ?, check_failures = ? WHERE id = ?",
    lastCheckedAt,
    result,
    checkAfter,
    failures,
    id,
  );
}

/** The mock accepts `key` on the models listing (the probe of a blocked key) and refuses every other key. */
function acceptOnly(mock, key) {
  mock.on({ method: "GET", path: GEMINI_MODELS }, gemini.invalidKey());
  mock.on((req) => req.path === GEMINI_MODELS && keyOf(req) === key, { status: 200, body: { models: [{ name: "models/gemini-2.5-flash" }] } });
}

describe("admin: scheduled re-checks and check now", { timeout: 180_000 }, () => {
  let mock;
  let worker;
  let browser;
  let page;
  const url = (path) => `${worker.url}${path}`;

  before(async () => {
    mock = await startMock();
    worker = await startWorker({ vars: { AUTH_KEY, KEY_CACHE_TTL_SECONDS: "60" }, mock });
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    page.on("dialog", (dialog) => dialog.accept());
    await page.goto(url("/login"));
    await page.fill("#auth_key", AUTH_KEY);
    await Promise.all([page.waitForURL(url("/")), page.click("form[action='/login'] button[type=submit]")]);
  });
  after(async () => {
    await browser?.close();
    await worker?.stop();
    await mock?.close();
  });

  test("a blocked key shows its last check, the result and when the next check is due; the API has the same", async () => {
    const [blocked, fresh] = await seedKeys(worker, GEMINI, [{ status: "blocked" }, { status: "blocked" }]);
    const now = nowS();
    await setCheck(worker, blocked.id, { lastCheckedAt: now - 300, result: "inconclusive: timeout", checkAfter: now + 7_200, failures: 2 });

    await page.goto(url(`/keys/${GEMINI}?status=blocked`));
    const check = page.locator(`tr[data-key-id="${blocked.id}"] div.check`);
    const text = (await check.textContent()).replace(/\s+/g, " ");
    assert.match(text, /last checked 5m 0\ds ago: inconclusive: timeout/, text);
    assert.match(text, /next check in (1h 59m|2h 00m)/, text);
    assert.equal(await check.locator("code").textContent(), "inconclusive: timeout");
    const never = (await page.locator(`tr[data-key-id="${fresh.id}"] div.check`).textContent()).replace(/\s+/g, " ");
    assert.match(never, /not checked yet/);
    assert.match(never, /next check at the next scheduled run/, "a NULL check_after is due now");
    await page.screenshot({ path: artifact("admin-recheck-blocked.png"), fullPage: true });

    await page.goto(url(`/keys/${GEMINI}?status=blocked&lang=zh`));
    assert.match(await check.textContent(), /上次检测：5分0\d秒前/);
    await page.goto(url(`/keys/${GEMINI}?status=blocked&lang=en`));

    const listed = await api(worker, "GET", `/admin/api/keys?provider=${GEMINI}&status=blocked`, { key: AUTH_KEY });
    assert.equal(listed.res.status, 200, listed.text);
    const entry = listed.json.keys.find((k) => k.id === blocked.id);
    assert.deepEqual(entry.check, { last_checked_at: now - 300, last_result: "inconclusive: timeout", failures: 2, next_check_at: now + 7_200 });
    const other = listed.json.keys.find((k) => k.id === fresh.id);
    assert.equal(other.check.last_checked_at, null);
    assert.ok(other.check.next_check_at >= now, "due now");

    await worker.d1.run("DELETE FROM keys WHERE provider = ?", GEMINI);
  });

  test("Check now on a blocked key the upstream accepts makes it active and it leaves the Blocked tab", async () => {
    const [good, bad] = await seedKeys(worker, GEMINI, [{ status: "blocked" }, { status: "blocked" }]);
    await setCheck(worker, good.id, { lastCheckedAt: nowS() - 3_600, result: "invalid_key", checkAfter: nowS() + 3_600, failures: 1 });
    mock.reset();
    acceptOnly(mock, good.key);

    await page.goto(url(`/keys/${GEMINI}?status=blocked`));
    assert.equal(await page.locator("table.keys tbody tr").count(), 2);
    await page.check(`tr[data-key-id="${good.id}"] input[name=id]`);
    await page.check(`tr[data-key-id="${bad.id}"] input[name=id]`);
    await Promise.all([page.waitForURL(/notice=checked/), page.click("button[value=check]")]);
    assert.equal((await page.textContent("p.notice")).trim(), "2 keys checked, 1 passed.");
    assert.match(page.url(), /status=blocked/, "back on the tab it came from");

    assert.deepEqual(new Set(mock.requests.map(keyOf)), new Set([good.key, bad.key]), "one probe each");
    assert.ok(mock.requests.every((r) => r.method === "GET" && r.path === GEMINI_MODELS));
    const restored = await keyRow(worker, good.id);
    assert.equal(restored.status, "active");
    assert.equal(restored.last_check_result, "ok");
    assert.equal(restored.check_after, null);
    assert.equal(restored.check_failures, 0);
    assert.ok(Math.abs(restored.last_checked_at - nowS()) <= 5);
    const still = await keyRow(worker, bad.id);
    assert.equal(still.status, "blocked");
    assert.equal(still.last_check_result, "invalid_key");
    assert.ok(still.check_after > nowS(), "looked at again later");

    const rows = page.locator("table.keys tbody tr");
    assert.equal(await rows.count(), 1, "the restored key left the Blocked tab");
    assert.equal(await rows.getAttribute("data-key-id"), bad.id);
    assert.match(await rows.locator("div.check").textContent(), /last checked \d+s ago: invalid_key/);
    assert.equal(await page.textContent("nav.tabs a[href$='status=blocked'] .badge"), "1");
    await page.goto(url(`/keys/${GEMINI}`));
    assert.equal(await page.locator(`tr[data-key-id="${good.id}"]`).count(), 1, "it is in the Active tab");
    assert.equal(await page.locator(`tr[data-key-id="${good.id}"] div.check`).count(), 0, "keys in the pool show no re-check");

    // The restored key serves the very next request: the key cache was dropped.
    mock.on((req) => req.path.includes(":generateContent"), gemini.success({ text: "back" }));
    const res = await fetch(`${worker.url}/api/${GEMINI}/v1beta/models/gemini-2.5-flash:generateContent`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-goog-api-key": AUTH_KEY },
      body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hi" }] }] }),
      signal: AbortSignal.timeout(15_000),
    });
    assert.equal(res.status, 200, await res.clone().text());
    await res.arrayBuffer();
    assert.equal(keyOf(mock.requests.at(-1)), good.key);

    await worker.d1.run("DELETE FROM keys WHERE provider = ?", GEMINI);
  });

  test("a Check now post without the CSRF token is refused and probes nothing", async () => {
    const [blocked] = await seedKeys(worker, GEMINI, [{ status: "blocked" }]);
    mock.reset();
    acceptOnly(mock, blocked.key);
    const { cookie } = await signIn(worker, AUTH_KEY);
    const { csrf } = await getPage(worker, `/keys/${GEMINI}?status=blocked`, cookie);
    assert.match(csrf, /^[0-9a-f]{64}$/);
    const fields = [["action", "check"], ["id", blocked.id], ["status", "blocked"]];
    const noToken = await postForm(worker, `/keys/${GEMINI}/selected`, fields, { cookie });
    assert.equal(noToken.status, 403);
    assertSecured(noToken);
    await noToken.arrayBuffer();
    const crossSite = await postForm(worker, `/keys/${GEMINI}/selected`, [...fields, ["csrf", csrf]], {
      cookie,
      headers: { "sec-fetch-site": "cross-site" },
    });
    assert.equal(crossSite.status, 403);
    await crossSite.arrayBuffer();
    const row = await keyRow(worker, blocked.id);
    assert.equal(row.status, "blocked");
    assert.equal(row.last_checked_at, null);
    assert.equal(mock.requests.length, 0, "no probe was sent");

    // 21 keys in one form: refused with the page's own wording, nothing probed.
    const ids = Array.from({ length: 21 }, (_, i) => ["id", `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`]);
    const tooMany = await postForm(worker, `/keys/${GEMINI}/selected`, [["csrf", csrf], ["action", "check"], ...ids], { cookie });
    assert.equal(tooMany.status, 400);
    assert.match(await tooMany.text(), /Check at most 20 keys at a time\./);
    assert.equal(mock.requests.length, 0);

    // With the token it goes through.
    const ok = await postForm(worker, `/keys/${GEMINI}/selected`, [...fields, ["csrf", csrf]], { cookie });
    assert.equal(ok.status, 303);
    assert.match(ok.headers.get("location"), /notice=checked&n=1&ok=1/);
    assert.equal((await keyRow(worker, blocked.id)).status, "active");
    await worker.d1.run("DELETE FROM keys WHERE provider = ?", GEMINI);
  });

  test("POST /admin/api/keys/check answers per key, skips other providers' ids and takes at most 20", async () => {
    const [good, bad] = await seedKeys(worker, GEMINI, [{ status: "blocked" }, { status: "blocked" }]);
    const [foreign] = await seedKeys(worker, "groq", [{ status: "blocked", key: fakeKey("groq") }]);
    mock.reset();
    acceptOnly(mock, good.key);
    const call = (body) => api(worker, "POST", "/admin/api/keys/check", { key: AUTH_KEY, body });

    const checked = await call({ provider: GEMINI, ids: [good.id, bad.id, foreign.id, good.id] });
    assert.equal(checked.res.status, 200, checked.text);
    assertSecured(checked.res);
    const byId = Object.fromEntries(checked.json.results.map((r) => [r.id, r.result]));
    assert.deepEqual(byId, { [good.id]: "ok", [bad.id]: "invalid_key" });
    assert.equal(mock.requests.length, 2, "one probe per key of this provider");
    assert.equal((await keyRow(worker, good.id)).status, "active");
    assert.equal((await keyRow(worker, bad.id)).last_check_result, "invalid_key");
    const groq = await keyRow(worker, foreign.id);
    assert.equal(groq.last_checked_at, null, "another provider's key is not probed");

    const ids = Array.from({ length: 21 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`);
    const tooMany = await call({ provider: GEMINI, ids });
    assert.equal(tooMany.res.status, 400);
    assert.equal(tooMany.json.error.code, "too_many_checks");
    assert.match(tooMany.json.error.message, /at most 20 keys per check/);
    const empty = await call({ provider: GEMINI, ids: [] });
    assert.equal(empty.json.error.code, "no_keys_selected");
    const unknownField = await call({ provider: GEMINI, ids: [good.id], force: true });
    assert.equal(unknownField.json.error.code, "invalid_json");
    const wrongMethod = await api(worker, "GET", "/admin/api/keys/check", { key: AUTH_KEY });
    assert.equal(wrongMethod.res.status, 405);
    const noAuth = await api(worker, "POST", "/admin/api/keys/check", { body: { provider: GEMINI, ids: [bad.id] } });
    assert.equal(noAuth.res.status, 401);
    assert.equal(mock.requests.length, 2, "refused calls probe nothing");

    const none = await call({ provider: GEMINI, ids: ["no-such-key"] });
    assert.deepEqual(none.json, { results: [] });
    await worker.d1.run("DELETE FROM keys");
  });
});

describe("admin: pool-wide throttle figures", { timeout: 60_000 }, () => {
  let mock;
  let worker;

  before(async () => {
    mock = await startMock();
    worker = await startWorker({ vars: { AUTH_KEY, THROTTLE_MIN_KEYS: "2", THROTTLE_PAUSE_SECONDS: "30" }, mock });
  });
  after(async () => {
    await worker?.stop();
    await mock?.close();
  });

  test("429s through the proxy show on the overview and in the API, per (provider, model)", async () => {
    const { cookie } = await signIn(worker, AUTH_KEY);
    const before = await getPage(worker, "/", cookie);
    assert.match(before.html, /No requests in the window and no pauses in this isolate yet\./);
    assert.match(before.html, /at least 2 distinct keys answered 429 without quota details/);

    await seedKeys(worker, GEMINI, 3);
    mock.on(() => true, gemini.rateLimitedPlain());
    const res = await fetch(`${worker.url}/api/${GEMINI}/v1beta/models/gemini-2.5-flash:generateContent`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-goog-api-key": AUTH_KEY },
      body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hi" }] }] }),
      signal: AbortSignal.timeout(15_000),
    });
    assert.equal(res.status, 429, await res.clone().text());
    await res.arrayBuffer();
    assert.equal(mock.requests.length, 3, "paused once every usable key had answered a bare 429 (2 of 3 are only 67 %)");

    const { html } = await getPage(worker, "/", cookie);
    const row = html.match(/<tr data-provider="google-ai-studio" data-model="gemini-2\.5-flash">(.*?)<\/tr>/)?.[1];
    assert.ok(row, html);
    assert.match(row, /<td class="num tried">3<\/td>/);
    assert.match(row, /<td class="num limited">3<\/td>/);
    assert.match(row, /<td class="num pauses">1<\/td>/);
    const left = Number(row.match(/(\d+)s left/)?.[1]);
    assert.ok(left >= 25 && left <= 30, `paused with ${left} s left of 30`);
    assert.match(html, /These figures are per isolate/);
    assert.match(html, /paused for 30s \(twice as long on each repeat\) when, within 30s, no key answered successfully, at least 2 distinct keys answered 429 without quota details/);
    const zh = await getPage(worker, "/?lang=zh", cookie);
    assert.match(zh.html, /按隔离实例/);
    assert.match(zh.html, /暂停 30秒/);

    const providers = await api(worker, "GET", "/admin/api/providers", { key: AUTH_KEY });
    assert.equal(providers.res.status, 200, providers.text);
    assert.deepEqual(providers.json.throttle_thresholds, { min_keys: 2, percent: 80, window_s: 30, pause_s: 30 });
    const [figures] = providers.json.throttle;
    assert.equal(providers.json.throttle.length, 1);
    assert.equal(figures.provider, GEMINI);
    assert.equal(figures.model, "gemini-2.5-flash");
    assert.equal(figures.keys_tried, 3);
    assert.equal(figures.keys_rate_limited, 3);
    assert.equal(figures.keys_rate_limited_bare, 3);
    assert.equal(figures.keys_succeeded, 0);
    assert.equal(figures.pauses_total, 1);
    assert.ok(figures.seconds_left >= 25 && figures.seconds_left <= 30, JSON.stringify(figures));
    assert.ok(Math.abs(figures.paused_until - (nowS() + figures.seconds_left)) <= 2);
  });
});
