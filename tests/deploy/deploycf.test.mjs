// `npm run deploycf` end to end against a stand-in wrangler (tests/deploy/fake-wrangler.mjs) in a throwaway copy of
// the repository. Each case checks the wrangler calls made, in order, what reached wrangler's stdin, wrangler.jsonc
// afterwards, and that AUTH_KEY appears nowhere: not in the output, not on a command line, not in any file.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ACCOUNT, NEW_DB, installFakeWrangler, makeSandbox, template } from "./sandbox.mjs";

// Base64url with a fixed non-hex prefix: it can never hide inside the fake's hex digests.
const newKey = () => `Zk_${randomBytes(24).toString("base64url")}`;
const sha256 = (text) => createHash("sha256").update(text).digest("hex");

const FIRST_DEPLOY = ["whoami --json", "d1 list --json", "d1 create one-balance", "secret put AUTH_KEY", "d1 migrations apply DB --remote", "deploy"];
const EXISTING = { databases: [{ name: "one-balance", uuid: NEW_DB }], worker: { exists: true, secrets: ["AUTH_KEY"], plainVars: [] } };
const filled = () => template().replace("00000000-0000-0000-0000-000000000000", NEW_DB).replace('"CLOUDFLARE_ACCOUNT_ID": ""', `"CLOUDFLARE_ACCOUNT_ID": "${ACCOUNT}"`);

// A sandbox that is removed when test `t` ends; tests run concurrently, each in its own.
function open(t, options) {
  const box = makeSandbox(options);
  t.after(() => box.cleanup());
  return box;
}

function assertKeyNowhere(box, result, key) {
  assert.ok(!result.stdout.includes(key), "AUTH_KEY printed on stdout");
  assert.ok(!result.stderr.includes(key), "AUTH_KEY printed on stderr");
  assert.deepEqual(box.filesContaining(key), [], "AUTH_KEY written to a file");
  for (const call of box.calls()) {
    assert.ok(!call.args.some((a) => a.includes(key)), `AUTH_KEY on the command line of: ${call.command}`);
    assert.equal(call.authKeyInEnv, false, `AUTH_KEY in the environment of: ${call.command}`);
  }
}

describe("deploycf", { concurrency: 4 }, () => {
  test("first deploy from a clean checkout creates the database, stores the secret on stdin, migrates and deploys", async (t) => {
    const box = open(t);
    const key = newKey();
    const result = await box.deploy({ AUTH_KEY: key });
    assert.equal(result.code, 0, result.stderr + result.stdout);
    assert.deepEqual(box.commands(), FIRST_DEPLOY);

    const calls = box.calls();
    const put = calls.find((c) => c.command === "secret put");
    assert.equal(put.stdinBytes, Buffer.byteLength(key));
    assert.equal(put.stdinSha256, sha256(key), "the exact key reaches wrangler on stdin");
    for (const call of calls.filter((c) => c !== put)) assert.equal(call.stdinBytes, 0, `stdin of ${call.command}`);
    for (const call of calls.slice(1)) assert.equal(call.accountEnv, ACCOUNT, `account of ${call.command}`);
    assert.equal(calls.find((c) => c.command === "d1 migrations apply").configDatabaseId, NEW_DB, "id written before migrating");

    assert.equal(box.config(), filled(), "the template with exactly the account id and the database id filled in");
    assert.match(result.stdout, /https:\/\/one-balance\.test-sub\.workers\.dev/);
    assert.match(result.stdout, /AI Gateway/);
    assert.deepEqual(box.state().worker.secrets, ["AUTH_KEY"]);
    assertKeyNowhere(box, result, key);
  });

  test("a second run without AUTH_KEY keeps the secret and the file, and creates nothing", async (t) => {
    const box = open(t);
    const key = newKey();
    assert.equal((await box.deploy({ AUTH_KEY: key })).code, 0);
    const before = box.config();
    const callsBefore = box.calls().length;
    const again = await box.deploy();
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(box.commands().slice(callsBefore), ["whoami --json", "secret list --format json", "d1 list --json", "d1 migrations apply DB --remote", "deploy"]);
    assert.equal(box.config(), before, "wrangler.jsonc unchanged byte for byte");
    assertKeyNowhere(box, again, key);
  });

  test("redeploy without AUTH_KEY when the Worker has the secret: no secret put, deploy runs", async (t) => {
    const box = open(t, { state: EXISTING, config: filled() });
    const result = await box.deploy();
    assert.equal(result.code, 0, result.stderr);
    assert.ok(!box.commands().some((c) => c.startsWith("secret put")));
    assert.equal(box.commands().at(-1), "deploy");
    assert.match(result.stdout, /existing AUTH_KEY secret is kept/);
  });

  test("first deploy without AUTH_KEY is refused before anything is created", async (t) => {
    const box = open(t);
    const result = await box.deploy();
    assert.equal(result.code, 1);
    assert.match(result.stderr, /AUTH_KEY=<a long random value> npm run deploycf/);
    assert.deepEqual(box.commands(), ["whoami --json", "secret list --format json"], "no database created, nothing deployed");
  });

  test("a Worker of the original project (AUTH_KEY only as a plain var) is not deployed without AUTH_KEY", async (t) => {
    const box = open(t, { state: { ...EXISTING, worker: { exists: true, secrets: [], plainVars: ["AUTH_KEY", "AI_GATEWAY"] } } });
    const result = await box.deploy();
    assert.equal(result.code, 1);
    assert.match(result.stderr, /has no AUTH_KEY secret/);
    assert.ok(!box.commands().includes("deploy"));
  });

  for (const [label, value] of [
    ["the public default", "my-auth-key"],
    ["the public default among other definitions", "a-long-enough-random-key-1;my-auth-key=openai"],
    ["an empty value", ""],
    ["a value with a space", "two words-but-long-enough"],
    ["a value ending in a newline", "long-enough-random-value-123\n"],
    ["a malformed definition", "long-enough-random-value(soon)"],
  ]) {
    test(`AUTH_KEY with ${label} is refused before any wrangler call`, async (t) => {
      const box = open(t);
      const result = await box.deploy({ AUTH_KEY: value });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /AUTH_KEY/);
      assert.deepEqual(box.commands(), []);
      assert.equal(box.config(), undefined, "wrangler.jsonc not even created");
      if (value.length > 12) assert.ok(!(result.stdout + result.stderr).includes(value.trim()), "the value is not echoed");
    });
  }

  test("an edited wrangler.jsonc is kept byte for byte when its fields are already filled", async (t) => {
    const edited = filled()
      .replace('"MAX_ATTEMPTS": "10"', '"MAX_ATTEMPTS": "7" /* tuned */')
      .replace('"KEY_CACHE_TTL_SECONDS": "10",', '"KEY_CACHE_TTL_SECONDS": "30",\n    // my own note\n    "EXTRA": "x",')
      .replace('"observability": { "enabled": true, "logs": { "invocation_logs": false } },', '"observability": { "enabled": false, },')
      .replace(/\n/g, "\r\n");
    assert.ok(edited.includes('"EXTRA": "x"') && edited.includes('"enabled": false, }'), "the edits took");
    const box = open(t, { state: EXISTING, config: edited });
    const result = await box.deploy();
    assert.equal(result.code, 0, result.stderr);
    assert.equal(box.config(), edited);
  });

  test("an edited wrangler.jsonc only gets its empty account id and placeholder database id filled", async (t) => {
    const edited = template().replace('"MAX_ATTEMPTS": "10",', '"MAX_ATTEMPTS": "7", // mine');
    const box = open(t, { state: EXISTING, config: edited });
    const result = await box.deploy();
    assert.equal(result.code, 0, result.stderr);
    const expected = edited.replace("00000000-0000-0000-0000-000000000000", NEW_DB).replace('"CLOUDFLARE_ACCOUNT_ID": ""', `"CLOUDFLARE_ACCOUNT_ID": "${ACCOUNT}"`);
    assert.equal(box.config(), expected);
  });

  test("an existing database of that name is used, not created again", async (t) => {
    const existing = "99999999-8888-4777-8666-555555555555";
    const box = open(t, { state: { databases: [{ name: "other", uuid: NEW_DB }, { name: "one-balance", uuid: existing }] } });
    const result = await box.deploy({ AUTH_KEY: newKey() });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(!box.commands().some((c) => c.startsWith("d1 create")));
    assert.match(box.config(), new RegExp(`"database_id": "${existing}"`));
  });

  test("a database_id that is not in the account stops the deploy", async (t) => {
    const box = open(t, { state: EXISTING, config: filled().replace(NEW_DB, "deadbeef-0000-4000-8000-000000000000") });
    const result = await box.deploy();
    assert.equal(result.code, 1);
    assert.match(result.stderr, /not a database of account/);
    assert.ok(!box.commands().some((c) => c.startsWith("d1 create") || c === "deploy"));
  });

  test("the database id is found by listing when d1 create prints no snippet", async (t) => {
    const box = open(t, { state: { createSnippet: "none" } });
    const result = await box.deploy({ AUTH_KEY: newKey() });
    assert.equal(result.code, 0, result.stderr);
    assert.match(box.config(), new RegExp(`"database_id": "${NEW_DB}"`));
  });

  test("a failing whoami stops everything with the login advice", async (t) => {
    const box = open(t, { state: { loggedIn: false } });
    const result = await box.deploy({ AUTH_KEY: newKey() });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /npx wrangler login/);
    assert.match(result.stderr, /CLOUDFLARE_API_TOKEN/);
    assert.deepEqual(box.commands(), ["whoami --json"]);
    assert.equal(box.config(), undefined);
  });

  test("a whoami that fails for another reason shows wrangler's message, and an old Node is named as such", async (t) => {
    const offline = open(t, { state: { fail: { whoami: "Unable to resolve Cloudflare's API hostname (api.cloudflare.com or dash.cloudflare.com)." } } });
    const result = await offline.deploy({ AUTH_KEY: newKey() });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /wrangler whoami failed[^]*Unable to resolve Cloudflare's API hostname/);
    assert.deepEqual(offline.commands(), ["whoami --json"]);

    const oldNode = open(t, { state: { fail: { whoami: "Wrangler requires at least Node.js v22.12.0. You are using v20.20.2." } } });
    const refused = await oldNode.deploy({ AUTH_KEY: newKey() });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /needs Node\.js v22\.12\.0 or newer/);
    assert.doesNotMatch(refused.stderr, /not logged in/);
  });

  test("a wrangler without `whoami --json` is read from its table, and a logged-out one is caught", async (t) => {
    const box = open(t, { state: { whoamiJson: false } });
    const ok = await box.deploy({ AUTH_KEY: newKey() });
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(box.commands().slice(0, 2), ["whoami --json", "whoami"]);
    const loggedOut = open(t, { state: { whoamiJson: false, loggedIn: false } });
    const out = await loggedOut.deploy({ AUTH_KEY: newKey() });
    assert.equal(out.code, 1);
    assert.match(out.stderr, /npx wrangler login/);
  });

  test("several accounts need CLOUDFLARE_ACCOUNT_ID, which then goes everywhere", async (t) => {
    const other = "fedcba9876543210fedcba9876543210";
    const accounts = [{ id: ACCOUNT, name: "Personal" }, { id: other, name: "Work" }];
    const box = open(t, { state: { accounts } });
    const refused = await box.deploy({ AUTH_KEY: newKey() });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(other));
    assert.match(refused.stderr, /CLOUDFLARE_ACCOUNT_ID=<id>/);
    assert.deepEqual(box.commands(), ["whoami --json"]);

    const chosen = await box.deploy({ AUTH_KEY: newKey(), CLOUDFLARE_ACCOUNT_ID: other });
    assert.equal(chosen.code, 0, chosen.stderr);
    assert.match(box.config(), new RegExp(`"CLOUDFLARE_ACCOUNT_ID": "${other}"`));
    assert.ok(box.calls().slice(1).every((c) => c.command === "whoami" || c.accountEnv === other));
  });

  test("with several accounts, account_id in wrangler.jsonc chooses one, as it does for wrangler", async (t) => {
    const other = "fedcba9876543210fedcba9876543210";
    const accounts = [{ id: ACCOUNT, name: "Personal" }, { id: other, name: "Work" }];
    const config = template().replace('"name": "one-balance",', `"name": "one-balance",\n  "account_id": "${other}",`);
    const box = open(t, { state: { accounts }, config });
    const result = await box.deploy({ AUTH_KEY: newKey() });
    assert.equal(result.code, 0, result.stderr);
    assert.match(box.config(), new RegExp(`"CLOUDFLARE_ACCOUNT_ID": "${other}"`));
    assert.equal(box.calls().at(-1).accountEnv, other);

    const conflicting = await box.deploy({ CLOUDFLARE_ACCOUNT_ID: ACCOUNT });
    assert.equal(conflicting.code, 1);
    assert.match(conflicting.stderr, /Make them agree/);
  });

  test("a configured account id that differs from the deploy account stops the deploy", async (t) => {
    const box = open(t, { state: EXISTING, config: filled().replace(`"CLOUDFLARE_ACCOUNT_ID": "${ACCOUNT}"`, '"CLOUDFLARE_ACCOUNT_ID": "ffffffffffffffffffffffffffffffff"') });
    const result = await box.deploy();
    assert.equal(result.code, 1);
    assert.match(result.stderr, /wrong account/);
    assert.deepEqual(box.commands(), ["whoami --json"]);
  });

  test("overrides from the environment are validated and written, keeping the comments", async (t) => {
    const box = open(t, { state: EXISTING, config: filled() });
    const result = await box.deploy({ AI_GATEWAY: "gw-a, gw_b", CONSECUTIVE_429_THRESHOLD: "3", MAX_ATTEMPTS: "12" });
    assert.equal(result.code, 0, result.stderr);
    const expected = filled()
      .replace('"AI_GATEWAY": "one-balance"', '"AI_GATEWAY": "gw-a,gw_b"')
      .replace('"CONSECUTIVE_429_THRESHOLD": "2"', '"CONSECUTIVE_429_THRESHOLD": "3"')
      .replace('"MAX_ATTEMPTS": "10"', '"MAX_ATTEMPTS": "12"');
    assert.equal(box.config(), expected);
    assert.match(result.stdout, /"gw-a", "gw_b"/, "next steps name the gateways to create");
  });

  test("an override missing from vars is added to it", async (t) => {
    const box = open(t, { state: EXISTING, config: filled().replace(/\n\s*\/\/ Distinct pool keys[^\n]*\n\s*"MAX_ATTEMPTS": "10",/, "") });
    const result = await box.deploy({ MAX_ATTEMPTS: "5" });
    assert.equal(result.code, 0, result.stderr);
    assert.match(box.config(), /"UPSTREAM_TIMEOUT_MS": "60000",\n {4}"MAX_ATTEMPTS": "5"\n {2}\}/);
  });

  for (const [name, value] of [
    ["AI_GATEWAY", "bad/name"],
    ["AI_GATEWAY", "ok,,other"],
    ["CONSECUTIVE_429_THRESHOLD", "0"],
    ["CONSECUTIVE_429_THRESHOLD", "101"],
    ["MAX_ATTEMPTS", "41"],
    ["MAX_ATTEMPTS", "ten"],
  ]) {
    test(`${name}=${value} is refused before any wrangler call`, async (t) => {
      const box = open(t);
      const result = await box.deploy({ AUTH_KEY: newKey(), [name]: value });
      assert.equal(result.code, 1);
      assert.match(result.stderr, new RegExp(name));
      assert.deepEqual(box.commands(), []);
      assert.equal(box.config(), undefined);
    });
  }

  test("AUTH_KEY kept as a plain var in wrangler.jsonc is refused before anything changes", async (t) => {
    const box = open(t, { state: EXISTING, config: filled().replace('"vars": {', '"vars": {\n    "AUTH_KEY": "my-auth-key",') });
    const result = await box.deploy({ AUTH_KEY: newKey() });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /Delete "AUTH_KEY" from "vars"/);
    assert.deepEqual(box.commands(), ["whoami --json"]);
  });

  test("moving a Worker of the original project: the plain AUTH_KEY var is replaced by the secret after deploy", async (t) => {
    const box = open(t, { state: { ...EXISTING, worker: { exists: true, secrets: [], plainVars: ["AUTH_KEY", "AI_GATEWAY"] } } });
    const key = newKey();
    const result = await box.deploy({ AUTH_KEY: key });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(box.commands(), ["whoami --json", "d1 list --json", "secret put AUTH_KEY", "d1 migrations apply DB --remote", "deploy", "secret put AUTH_KEY"]);
    assert.equal(box.calls().at(-1).stdinSha256, sha256(key));
    assert.deepEqual(box.state().worker.secrets, ["AUTH_KEY"]);
    assert.ok(!box.state().worker.plainVars.includes("AUTH_KEY"));
    assertKeyNowhere(box, result, key);
  });

  test("missing build tools stop the deploy before anything on Cloudflare changes", async (t) => {
    const box = open(t, { buildTools: false });
    const result = await box.deploy({ AUTH_KEY: newKey() });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /worker-build and cargo not found/);
    assert.deepEqual(box.commands(), ["whoami --json"]);
  });

  test("a failed deploy says so and exits non-zero", async (t) => {
    const box = open(t, { state: { ...EXISTING, fail: { deploy: "Build failed: cargo exited with 101" } }, config: filled() });
    const result = await box.deploy();
    assert.equal(result.code, 1);
    assert.match(result.stderr, /wrangler deploy failed/);
    assert.match(result.stderr, /Rust build failed/);
  });

  test("wrangler is taken from ONE_BALANCE_WRANGLER, then node_modules/.bin, then PATH", async (t) => {
    const box = open(t, { state: EXISTING, config: filled() });
    const local = join(box.root, "node_modules", ".bin", "wrangler");
    installFakeWrangler(local);
    let result = await box.deploy();
    assert.equal(result.code, 0, result.stderr);
    assert.ok(box.calls().every((c) => c.bin === local), "node_modules/.bin/wrangler beats PATH");

    const chosen = join(box.dir, "elsewhere", "wrangler");
    mkdirSync(join(box.dir, "elsewhere"));
    installFakeWrangler(chosen);
    const before = box.calls().length;
    result = await box.deploy({ ONE_BALANCE_WRANGLER: chosen });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(box.calls().slice(before).every((c) => c.bin === chosen), "ONE_BALANCE_WRANGLER beats node_modules");
    assert.match(result.stdout, /wrangler: ONE_BALANCE_WRANGLER/);
  });
});
