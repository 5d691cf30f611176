// The admin page against the built Worker: driven in headless Chromium (Debian's `chromium`, through playwright-core;
// scripts/lib/browser.sh installs it) for what an operator does — sign in, paste 1,000 keys, search, open a
// cooldown, unblock, delete, copy, switch language, log out — and over plain HTTP for what an attacker would try:
// wrong keys (throttled), forged sessions, posts without a CSRF token. Screenshots go to tests/artifacts/.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "../harness/worker.mjs";
import { startMock } from "../harness/mock-upstream.mjs";
import { openai } from "../harness/providers.mjs";
import { fakeKey, nowS, seedKeys } from "./support/pool.mjs";
import { artifact, assertSecured, countKeys, getPage, launchChromium, postForm, signIn } from "./support/admin.mjs";

const AUTH_KEY = "ob-e2e-admin-page-5c19e7a04b3d";
const RESTRICTED = "ob-e2e-admin-restricted-90aa";
const GEMINI = "google-ai-studio";

describe("admin page in Chromium", { timeout: 180_000 }, () => {
  let worker;
  let browser;
  let context;
  let page;
  const alerts = [];
  const keys = Array.from({ length: 1_000 }, () => fakeKey(GEMINI));
  const url = (path) => `${worker.url}${path}`;
  const idOf = async (key) => (await worker.d1.first("SELECT id FROM keys WHERE key = ?", key)).id;

  before(async () => {
    worker = await startWorker({ vars: { AUTH_KEY } });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on("dialog", (dialog) => {
      if (dialog.type() === "alert") alerts.push(dialog.message());
      dialog.accept();
    });
  });
  after(async () => {
    await browser?.close();
    await worker?.stop();
  });

  test("a wrong key is refused, the right one signs in", async () => {
    await page.goto(url("/"));
    assert.equal(page.url(), url("/login"));
    await page.fill("#auth_key", "not-the-key");
    await page.click("form[action='/login'] button[type=submit]");
    assert.equal((await page.textContent("p.error")).trim(), "That key is not valid.");
    await page.fill("#auth_key", AUTH_KEY);
    await Promise.all([page.waitForURL(url("/")), page.click("form[action='/login'] button[type=submit]")]);
    assert.equal(await page.textContent("h1"), "Providers");
    const [cookie] = (await context.cookies()).filter((c) => c.name === "__Host-ob_session");
    assert.ok(cookie.httpOnly && cookie.secure && cookie.sameSite === "Strict", JSON.stringify(cookie));
    assert.ok(!cookie.value.includes(AUTH_KEY));
  });

  test("pasting 1,000 keys with a remark reports them and updates the counts", async () => {
    await page.click(`a[href="/keys/${GEMINI}"]`);
    const paste = [...keys, keys[0], `AIzaSy${"x".repeat(600)}`].join("\n");
    await page.fill("#keys", paste);
    await page.fill("#remark", "batch A");
    await page.click("#add button[type=submit]");
    const report = await page.textContent("section.report");
    assert.match(report, /1000 added/);
    assert.match(report, /0 already present/);
    assert.match(report, /1 repeated in the paste/);
    assert.match(report, /1 rejected/);
    assert.match(report, /longer than 512 characters/);
    assert.equal(await page.textContent("nav.tabs a.current .badge"), "1000");
    assert.equal(await page.locator("table.keys tbody tr").count(), 20);
    assert.match(await page.textContent("main"), /1–20 of 1000/);
    assert.equal(await countKeys(worker, GEMINI), 1_000);
    const remarks = await worker.d1.first("SELECT count(*) AS n FROM keys WHERE remark = 'batch A'");
    assert.equal(remarks.n, 1_000);
    assert.ok(!(await page.content()).includes(keys[5]), "no whole key in the page");

    await page.goto(url("/"));
    const row = page.locator(`tr[data-provider="${GEMINI}"]`);
    assert.equal(await row.locator(".badge.active").textContent(), "1000");
    await page.screenshot({ path: artifact("admin-overview.png"), fullPage: true });
  });

  test("a key is found by its last six characters and its cooldown detail shows the time left", async () => {
    const target = keys[500];
    await worker.d1.run(
      "UPDATE keys SET model_coolings = ?, total_cooling_seconds = 600, cooling_until = ? WHERE key = ?",
      JSON.stringify({ "gemini-2.5-pro": { end_at: nowS() + 3600, total_seconds: 600 } }),
      nowS() + 3600,
      target,
    );
    await page.goto(url(`/keys/${GEMINI}`));
    await page.fill("form.search input[name=q]", target.slice(-6));
    await page.click("form.search button[type=submit]");
    assert.equal(await page.locator("table.keys").count(), 0, "it is not in the Active tab any more");
    await page.click("nav.tabs a:has-text('Cooling')");
    assert.match(page.url(), /status=cooling/);
    assert.match(page.url(), new RegExp(`q=${target.slice(-6)}`));
    const rows = page.locator("table.keys tbody tr");
    assert.equal(await rows.count(), 1);
    assert.equal(await rows.locator("code.key").textContent(), `AIza…${target.slice(-4)}`);
    const detail = rows.locator("details.cooldowns");
    assert.equal(await detail.locator("li").isVisible(), false);
    await detail.locator("summary").click();
    assert.equal(await detail.locator("li").isVisible(), true);
    assert.match(await detail.locator("li").textContent(), /gemini-2\.5-pro — (59m \d\ds|1h 00m) left/);
    await page.screenshot({ path: artifact("admin-cooling.png"), fullPage: true });
  });

  test("a blocked key is unblocked, then every blocked key is deleted", async () => {
    const blocked = keys.slice(10, 13);
    for (const key of blocked) await worker.d1.run("UPDATE keys SET status = 'blocked' WHERE key = ?", key);
    await page.goto(url(`/keys/${GEMINI}?status=blocked`));
    assert.equal(await page.locator("table.keys tbody tr").count(), 3);
    await page.check(`tr[data-key-id="${await idOf(blocked[0])}"] input[name=id]`);
    await page.click("button[value=unblock]");
    assert.equal((await page.textContent("p.notice")).trim(), "1 keys unblocked.");
    assert.equal((await worker.d1.first("SELECT status FROM keys WHERE key = ?", blocked[0])).status, "active");
    assert.equal(await page.locator("table.keys tbody tr").count(), 2);

    await page.click("form[action$='/delete-blocked'] button");
    assert.equal((await page.textContent("p.notice")).trim(), "2 keys deleted.");
    assert.equal(await countKeys(worker, GEMINI, "blocked"), 0);
    assert.equal(await countKeys(worker, GEMINI), 998);
  });

  test("select all checks the page's keys and deletes them", async () => {
    await page.goto(url(`/keys/${GEMINI}`));
    const selectAll = page.locator("input[data-select-all]");
    assert.equal(await selectAll.isVisible(), true, "the script shows it");
    await selectAll.check();
    assert.equal(await page.locator("table.keys tbody input[name=id]:checked").count(), 20);
    await page.click("button[value=delete]");
    assert.equal((await page.textContent("p.notice")).trim(), "20 keys deleted.");
    assert.equal(await countKeys(worker, GEMINI), 978);
  });

  test("the copy button puts the whole key on the clipboard", async () => {
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: worker.url });
    await page.goto(url(`/keys/${GEMINI}`));
    const row = page.locator("table.keys tbody tr").first();
    const id = await row.getAttribute("data-key-id");
    const { key } = await worker.d1.first("SELECT key FROM keys WHERE id = ?", id);
    assert.ok(!(await page.content()).includes(key), "the key is fetched on demand, not in the page");
    await row.locator("button[data-copy-url]").click();
    await page.waitForFunction(() => document.querySelector("button[data-copy-url]")?.textContent === "Copied");
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), key);
    await page.screenshot({ path: artifact("admin-keys.png"), fullPage: true });
  });

  test("a key and a remark holding <script> render as text", async () => {
    const evilKey = '<script>alert("key")</script>';
    const evilRemark = '<script>alert("remark")</script>';
    await page.goto(url("/keys/openrouter"));
    await page.fill("#keys", evilKey);
    await page.fill("#remark", evilRemark);
    await page.click("#add button[type=submit]");
    assert.match(await page.textContent("section.report"), /1 added/);
    const row = page.locator("table.keys tbody tr");
    assert.equal(await row.count(), 1);
    assert.equal(await row.locator("code.key").textContent(), "<scr…ipt>");
    assert.equal(await row.locator("details.remark summary").textContent(), evilRemark);
    assert.equal(await page.evaluate(() => document.scripts.length), 1, "only app.js");
    assert.deepEqual(alerts, []);
    assert.equal((await worker.d1.first("SELECT key, remark FROM keys WHERE provider = 'openrouter'")).remark, evilRemark);
  });

  test("the language switch shows Chinese and remembers it", async () => {
    await page.goto(url("/"));
    await page.click('a[hreflang="zh-CN"]');
    assert.equal(await page.getAttribute("html", "lang"), "zh-CN");
    assert.equal(await page.textContent("h1"), "服务商");
    await page.goto(url(`/keys/${GEMINI}`));
    assert.match(await page.textContent("nav.tabs"), /可用.*冷却中.*已封禁/s);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: artifact("admin-keys-phone-zh.png") });
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.click('a[hreflang="en"]');
    assert.equal(await page.getAttribute("html", "lang"), "en");
  });

  test("logging out ends the session for good", async () => {
    const [cookie] = (await context.cookies()).filter((c) => c.name === "__Host-ob_session");
    await page.goto(url("/"));
    await Promise.all([page.waitForURL(url("/login")), page.click("form[action='/logout'] button")]);
    await page.goto(url("/"));
    assert.equal(page.url(), url("/login"));
    const replayed = await worker.fetch("/", { redirect: "manual", headers: { cookie: `${cookie.name}=${cookie.value}` } });
    assert.equal(replayed.status, 303, "the old token was revoked, not just forgotten by the browser");
    assert.equal(replayed.headers.get("location"), "/login");
  });
});

describe("admin page over plain HTTP", { timeout: 60_000 }, () => {
  let mock;
  let worker;

  before(async () => {
    mock = await startMock();
    worker = await startWorker({
      vars: { AUTH_KEY: `${AUTH_KEY};${RESTRICTED}=openai`, KEY_CACHE_TTL_SECONDS: "60" },
      mock,
    });
  });
  after(async () => {
    await worker?.stop();
    await mock?.close();
  });

  test("every answer carries the security headers; pages are never cached, versioned assets are", async () => {
    const root = await worker.fetch("/", { redirect: "manual" });
    assert.equal(root.status, 303);
    assert.equal(root.headers.get("location"), "/login");
    assertSecured(root);
    const login = await getPage(worker, "/login");
    assert.equal(login.res.status, 200);
    assertSecured(login.res);
    assert.equal(login.res.headers.get("cache-control"), "no-store");
    assert.ok(!login.html.includes("<style") && !login.html.includes(" style="), "no inline styles");
    const cssPath = login.html.match(/href="(\/assets\/app\.css\?v=[0-9a-f]+)"/)[1];
    const css = await worker.fetch(cssPath);
    assert.equal(css.status, 200);
    assert.match(css.headers.get("content-type"), /^text\/css/);
    assert.equal(css.headers.get("cache-control"), "public, max-age=31536000, immutable");
    assertSecured(css);
    const stale = await worker.fetch("/assets/app.js?v=old");
    assert.equal(stale.headers.get("cache-control"), "no-cache");
    assert.match(await stale.text(), /data-copy-url/);
    const missing = await getPage(worker, "/no/such/page");
    assert.equal(missing.res.status, 404);
  });

  test("a wrong key is refused and the eleventh rapid failure from one address is throttled", async () => {
    // crate::guess_limit: 10 wrong keys per address and 15-minute window.
    const ip = "198.51.100.23";
    for (let i = 1; i <= 10; i++) {
      const { res, cookie } = await signIn(worker, `guess-${i}`, { ip });
      assert.equal(res.status, 401, `failure ${i}`);
      assert.equal(cookie, null);
    }
    const eleventh = await signIn(worker, "guess-11", { ip });
    assert.equal(eleventh.res.status, 429);
    const retryAfter = Number(eleventh.res.headers.get("retry-after"));
    assert.ok(retryAfter > 800 && retryAfter <= 900, `Retry-After ${retryAfter}`);
    const right = await signIn(worker, AUTH_KEY, { ip });
    assert.equal(right.res.status, 429, "the right key gets no answer from a throttled address either");
    assert.equal(right.cookie, null);
    const other = await signIn(worker, AUTH_KEY, { ip: "198.51.100.24" });
    assert.equal(other.res.status, 303, "other addresses are unaffected");
    const rows = await worker.d1.all("SELECT client, failures FROM admin_login_failures");
    assert.deepEqual(rows.map((r) => r.failures), [10], "the isolate knew the address was locked: later attempts never reached D1");
    assert.ok(!JSON.stringify(rows).includes("198.51.100"), "only a keyed hash of the address is stored");
  });

  test("a restricted service key cannot sign in", async () => {
    const { res, cookie } = await signIn(worker, RESTRICTED, { ip: "198.51.100.40" });
    assert.equal(res.status, 403);
    assert.equal(cookie, null);
  });

  test("posts without the CSRF token, with a made-up session or from another site change nothing", async () => {
    await seedKeys(worker, "groq", [{ status: "blocked" }, {}]);
    const snapshot = () => worker.d1.all("SELECT id, key, status, remark FROM keys ORDER BY id");
    const before = await snapshot();
    const { cookie } = await signIn(worker, AUTH_KEY, { ip: "198.51.100.50" });
    const { csrf } = await getPage(worker, "/keys/groq", cookie);
    assert.match(csrf, /^[0-9a-f]{64}$/);
    const other = await signIn(worker, AUTH_KEY, { ip: "198.51.100.51" });
    const otherCsrf = (await getPage(worker, "/keys/groq", other.cookie)).csrf;

    const noToken = await postForm(worker, "/keys/groq/delete-blocked", {}, { cookie });
    assert.equal(noToken.status, 403);
    assertSecured(noToken);
    const wrongToken = await postForm(worker, "/keys/groq/add", { csrf: otherCsrf, keys: fakeKey("groq") }, { cookie });
    assert.equal(wrongToken.status, 403, "another session's token");
    const crossSite = await postForm(worker, "/keys/groq/delete-blocked", { csrf }, { cookie, headers: { "sec-fetch-site": "cross-site" } });
    assert.equal(crossSite.status, 403);
    const foreignOrigin = await postForm(worker, "/keys/groq/delete-blocked", { csrf }, { cookie, headers: { origin: "https://evil.example" } });
    assert.equal(foreignOrigin.status, 403);
    const forged = `__Host-ob_session=v1.9999999999.${"ab".repeat(16)}.${"cd".repeat(32)}`;
    const forgedPost = await postForm(worker, "/keys/groq/delete-blocked", { csrf }, { cookie: forged });
    assert.equal(forgedPost.status, 303);
    assert.equal(forgedPost.headers.get("location"), "/login");
    const rawKeyCookie = await postForm(worker, "/keys/groq/delete-blocked", { csrf }, { cookie: `__Host-ob_session=${AUTH_KEY}` });
    assert.equal(rawKeyCookie.status, 303);
    assert.deepEqual(await snapshot(), before);

    const ok = await postForm(worker, "/keys/groq/delete-blocked", { csrf }, { cookie });
    assert.equal(ok.status, 303, "the same post with the token works");
    assert.match(ok.headers.get("location"), /^\/keys\/groq\?.*notice=deleted&n=1$/);
    assert.equal(await countKeys(worker, "groq", "blocked"), 0);
  });

  test("deleting every active key needs the provider's name typed out", async () => {
    await seedKeys(worker, "cerebras", 3);
    const { cookie } = await signIn(worker, AUTH_KEY, { ip: "198.51.100.60" });
    const { csrf } = await getPage(worker, "/keys/cerebras", cookie);
    const wrong = await postForm(worker, "/keys/cerebras/delete-active", { csrf, confirm: "cerebra" }, { cookie });
    assert.equal(wrong.status, 400);
    assert.match(await wrong.text(), /Type the provider name exactly/);
    assert.equal(await countKeys(worker, "cerebras"), 3);
    const right = await postForm(worker, "/keys/cerebras/delete-active", { csrf, confirm: "cerebras" }, { cookie });
    assert.equal(right.status, 303);
    assert.equal(await countKeys(worker, "cerebras"), 0);
  });

  test("a key added on the page is used by the very next proxied request in this isolate", async () => {
    const chat = () =>
      worker.fetch("/api/openai/chat/completions", {
        method: "POST",
        headers: { authorization: `Bearer ${AUTH_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
      });
    const empty = await chat();
    assert.equal(empty.status, 503, "no key yet; with KEY_CACHE_TTL_SECONDS=60 the empty pool is now cached");
    await empty.arrayBuffer();
    const key = fakeKey("openai");
    const { cookie } = await signIn(worker, AUTH_KEY, { ip: "198.51.100.70" });
    const { csrf } = await getPage(worker, "/keys/openai", cookie);
    mock.reset();
    mock.on({ method: "POST", path: "/openai/chat/completions" }, openai.chatCompletion());
    const added = await postForm(worker, "/keys/openai/add", { csrf, keys: key, remark: "" }, { cookie });
    assert.equal(added.status, 200);
    assert.match(await added.text(), /1 added/);
    const res = await chat();
    assert.equal(res.status, 200, await res.text());
    assert.equal(mock.requests.length, 1);
    assert.equal(mock.requests[0].headers.authorization, `Bearer ${key}`);

    const list = await getPage(worker, "/keys/openai", cookie);
    assert.match(list.html, /1 req · 1 ok · 0 × 429 · 0 err/, "the list flushes this isolate's usage figures first");
  });
});

describe("admin page without a usable AUTH_KEY", { timeout: 60_000 }, () => {
  for (const [label, value] of [["the public default", "my-auth-key"], ["an empty secret", ""]]) {
    test(`${label} answers 500 with how to set the secret`, async () => {
      const worker = await startWorker({ vars: { AUTH_KEY: value } });
      try {
        const page = await getPage(worker, "/login");
        assert.equal(page.res.status, 500);
        assertSecured(page.res);
        assert.match(page.html, /The Worker is not configured/);
        assert.match(page.html, /wrangler secret put AUTH_KEY/);
        const signInTry = await signIn(worker, "my-auth-key");
        assert.equal(signInTry.res.status, 500);
        assert.equal(signInTry.cookie, null);
        const apiTry = await worker.fetch("/admin/api/providers", { headers: { authorization: "Bearer my-auth-key" } });
        assert.equal(apiTry.status, 500);
        assert.match((await apiTry.json()).error.message, /wrangler secret put AUTH_KEY/);
      } finally {
        await worker.stop();
      }
    });
  }
});
