// Shared helpers for the admin e2e tests (tests/e2e/admin*.test.mjs): signing in with plain HTTP, reading the CSRF
// token off a page, posting forms as a browser would, calling the JSON admin API, launching Debian's Chromium, and
// the security headers every admin response must carry.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../harness/project.mjs";

/** The CSP every admin response carries. */
export const CSP =
  "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Where screenshots go (git-ignored). */
export const ARTIFACTS = join(ROOT, "tests", "artifacts");

/** Asserts the headers every admin response has. */
export function assertSecured(res) {
  assert.equal(res.headers.get("content-security-policy"), CSP);
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  assert.equal(res.headers.get("referrer-policy"), "no-referrer");
}

/**
 * Signs in with `key` over plain HTTP from `ip` (sent as cf-connecting-ip, as Cloudflare's edge would).
 * Returns `{ res, cookie }` where `cookie` is the `name=value` of the session cookie (or null).
 */
export async function signIn(worker, key, { ip = "192.0.2.10" } = {}) {
  const res = await worker.fetch("/login", {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", "cf-connecting-ip": ip },
    body: new URLSearchParams({ auth_key: key }).toString(),
  });
  const set = res.headers.getSetCookie().find((c) => c.startsWith("__Host-ob_session="));
  await res.arrayBuffer();
  return { res, cookie: set ? set.split(";")[0] : null };
}

/** GETs a page with the session cookie and returns `{ res, html, csrf }` (csrf: the first form's token). */
export async function getPage(worker, path, cookie) {
  const res = await worker.fetch(path, { redirect: "manual", headers: cookie ? { cookie } : {} });
  const html = await res.text();
  const csrf = html.match(/name="csrf" value="([0-9a-f]+)"/)?.[1] ?? null;
  return { res, html, csrf };
}

/** POSTs a urlencoded form (`fields`: object or array of pairs) as a same-origin browser post would. */
export function postForm(worker, path, fields, { cookie, headers = {} } = {}) {
  return worker.fetch(path, {
    method: "POST",
    redirect: "manual",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "sec-fetch-site": "same-origin",
      ...(cookie ? { cookie } : {}),
      ...headers,
    },
    body: new URLSearchParams(fields).toString(),
  });
}

/** Calls the JSON admin API with a Bearer key; `body` (an object) is sent as JSON. Returns `{ res, json }`. */
export async function api(worker, method, path, { key, body, headers = {} } = {}) {
  const init = { method, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers } };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    init.headers["content-type"] ??= "application/json";
  }
  const res = await worker.fetch(path, init);
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: the assertion on json will say so
  }
  return { res, json, text };
}

/** How many keys `provider` has in D1 (optionally with `status`). */
export async function countKeys(worker, provider, status) {
  const row = status
    ? await worker.d1.first("SELECT count(*) AS n FROM keys WHERE provider = ? AND status = ?", provider, status)
    : await worker.d1.first("SELECT count(*) AS n FROM keys WHERE provider = ?", provider);
  return row.n;
}

/**
 * Launches Debian's Chromium headless through playwright-core (never a downloaded browser). `CHROMIUM_PATH`
 * overrides the executable (scripts/lib/browser.sh exports it).
 */
export async function launchChromium() {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
      "--disable-sync",
      "--disable-quic",
    ],
  });
}

/** Creates tests/artifacts/ and returns the path of `name` in it. */
export function artifact(name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  return join(ARTIFACTS, name);
}
