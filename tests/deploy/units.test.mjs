// The pure parts of deploycf: input checks, wrangler.jsonc edits, and reading wrangler's output.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { applyEdits, readConfig } from "../../scripts/deploy/config.mjs";
import { checkAuthKey, readOverrides } from "../../scripts/deploy/inputs.mjs";
import {
  extractJson,
  isBindingNameInUse,
  parseD1CreateId,
  parseD1List,
  parseDeployUrl,
  parseSecretList,
  parseWhoamiJson,
  parseWhoamiTable,
} from "../../scripts/deploy/wrangler.mjs";
import { repo } from "./sandbox.mjs";

const tpl = readFileSync(join(repo, "wrangler.jsonc.tpl"), "utf8");
const ID = "11111111-2222-4333-8444-555555555555";
const ACCOUNT = "0123456789abcdef0123456789abcdef";

describe("checkAuthKey", () => {
  test("accepts the grammar of SPEC §4", () => {
    for (const good of [
      "Zk_3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c",
      "admin-key-0123456789;app-key-0123456789(4102444800)=google-ai-studio,gemini-2.5-flash&openai",
      "team-key-0123456789=openrouter,meta-llama/llama-3.1-8b-instruct:free",
      "trailing-separator-is-fine-01;",
    ]) {
      const verdict = checkAuthKey(good);
      assert.equal(verdict.ok, true, good);
      assert.deepEqual(verdict.warnings, [], good);
    }
  });

  test("refuses empty, default, whitespace and malformed values, naming positions but never the key", () => {
    for (const [bad, pattern] of [
      ["", /empty/],
      [";;", /no key/],
      ["my-auth-key", /public default/],
      ["good-key-0123456789;my-auth-key(4102444800)", /definition 2 is the public default/],
      ["secret value", /whitespace/],
      ["secret-value\t", /whitespace/],
      ["k(soon)", /unix seconds/],
      ["k)", /'\)' without '\('/],
      ["(123)", /key is empty/],
      ["a,b-0123456789abcdef", /one of/],
      ["k-0123456789abcdef=", /provider name is empty/],
      ["k-0123456789abcdef=&openai", /provider name is empty/],
      ["k-0123456789abcdef=,gpt-4o", /provider name is empty/],
    ]) {
      const verdict = checkAuthKey(bad);
      assert.equal(verdict.ok, false, JSON.stringify(bad));
      assert.match(verdict.problem, pattern, JSON.stringify(bad));
    }
    const message = checkAuthKey("super-secret-value-1;bad(x)").problem;
    assert.match(message, /definition 2/);
    assert.ok(!message.includes("super-secret-value-1"));
  });

  test("refuses a short unrestricted key and warns about a short restricted one", () => {
    const refused = checkAuthKey("long-enough-key-0123456789;short-admin-key");
    assert.equal(refused.ok, false);
    assert.match(refused.problem, /definition 2 is an unrestricted key .* shorter than 16 characters/);
    assert.ok(!refused.problem.includes("short-admin-key"), "the key is not quoted");
    assert.equal(checkAuthKey("sixteen-chars-12").ok, true, "16 is enough, as in the Worker");
    const verdict = checkAuthKey("short=google-ai-studio;long-enough-key-0123456789");
    assert.equal(verdict.ok, true);
    assert.equal(verdict.warnings.length, 1);
    assert.match(verdict.warnings[0], /definition 1 is shorter/);
  });
});

describe("readOverrides", () => {
  test("takes only the variables that are set, normalized", () => {
    assert.deepEqual(readOverrides({}), { ok: true, values: {} });
    assert.deepEqual(readOverrides({ AI_GATEWAY: "", MAX_ATTEMPTS: "" }), { ok: true, values: {} });
    assert.deepEqual(readOverrides({ AI_GATEWAY: " a , b_2 ", CONSECUTIVE_429_THRESHOLD: "100", MAX_ATTEMPTS: "01", OTHER: "x" }), {
      ok: true,
      values: { AI_GATEWAY: "a,b_2", CONSECUTIVE_429_THRESHOLD: "100", MAX_ATTEMPTS: "1" },
    });
  });

  test("refuses out-of-range numbers and bad gateway names, listing each", () => {
    const verdict = readOverrides({ AI_GATEWAY: "a/b", CONSECUTIVE_429_THRESHOLD: "0", MAX_ATTEMPTS: "2.5" });
    assert.equal(verdict.ok, false);
    assert.equal(verdict.problems.length, 3);
    assert.match(verdict.problems.join("\n"), /from 1 to 100/);
    assert.match(verdict.problems.join("\n"), /from 1 to 40/);
    for (const bad of ["-1", "41", "1e1", "ten", " "]) assert.equal(readOverrides({ MAX_ATTEMPTS: bad }).ok, false, bad);
    for (const bad of ["a b", "a,,b", "gw.1", "ü"]) assert.equal(readOverrides({ AI_GATEWAY: bad }).ok, false, bad);
  });
});

describe("applyEdits", () => {
  test("fills the template's empty account id and placeholder database id, then is a no-op", () => {
    const first = applyEdits(tpl, { accountId: ACCOUNT, databaseId: ID });
    assert.equal(first.changes.length, 2);
    const config = readConfig(first.text);
    assert.equal(config.vars.CLOUDFLARE_ACCOUNT_ID, ACCOUNT);
    assert.equal(config.db.id, ID);
    assert.equal(config.db.isPlaceholder, false);
    const second = applyEdits(first.text, { accountId: ACCOUNT, databaseId: "99999999-2222-4333-8444-555555555555" });
    assert.equal(second.text, first.text);
    assert.deepEqual(second.changes, []);
  });

  test("never overwrites a real database id or a set account id", () => {
    const text = tpl.replace("00000000-0000-0000-0000-000000000000", ID).replace('"CLOUDFLARE_ACCOUNT_ID": ""', '"CLOUDFLARE_ACCOUNT_ID": "ffffffffffffffffffffffffffffffff"');
    assert.equal(applyEdits(text, { accountId: ACCOUNT, databaseId: "99999999-2222-4333-8444-555555555555" }).text, text);
  });

  test("treats the original project's my-database-id as a placeholder", () => {
    const text = tpl.replace("00000000-0000-0000-0000-000000000000", "my-database-id");
    assert.equal(readConfig(applyEdits(text, { databaseId: ID }).text).db.id, ID);
  });

  test("finds the DB binding wherever it is in d1_databases", () => {
    const text = '{ "name": "w", "d1_databases": [ { "binding": "OTHER", "database_id": "" }, { "binding": "DB", "database_name": "x", "database_id": "" } ] }';
    const out = applyEdits(text, { databaseId: ID }).text;
    assert.equal(out, text.replace('"database_name": "x", "database_id": ""', `"database_name": "x", "database_id": "${ID}"`));
  });

  test("writes overrides only when they differ, and creates vars when there is none", () => {
    assert.deepEqual(applyEdits(tpl, { overrides: { MAX_ATTEMPTS: "10" } }).changes, []);
    const noVars = '{\n  "name": "w",\n  "d1_databases": [{ "binding": "DB", "database_id": "" }]\n}\n';
    const out = applyEdits(noVars, { overrides: { MAX_ATTEMPTS: "3" } }).text;
    assert.deepEqual(readConfig(out).vars, { MAX_ATTEMPTS: "3" });
  });

  test("a config without the DB binding is refused with a way out", () => {
    assert.throws(() => readConfig('{ "d1_databases": [] }'), /binding": "DB".*wrangler\.jsonc\.tpl/s);
  });
});

describe("reading wrangler output", () => {
  const banner = "\n \u26c5\ufe0f wrangler 4.164.0\n\u001b[2m────────────────────\u001b[22m\n";
  const warning = "\u001b[33m▲ \u001b[43;33m[\u001b[43;30mWARNING\u001b[43;33m]\u001b[0m Processing wrangler.jsonc configuration: [1] x\n";

  test("finds JSON between banners, warnings, bracketed codes and colour codes", () => {
    const list = [{ uuid: ID, name: "one-balance", created_at: "x", num_tables: 1 }];
    const text = `${banner}${warning}[code: 1]\n${JSON.stringify(list, null, 2)}\n▲ [WARNING] done [2]\n`;
    assert.deepEqual(parseD1List(text), [{ name: "one-balance", uuid: ID }]);
    assert.deepEqual(parseD1List(`${banner}[]\n`), []);
    assert.equal(parseD1List(`${banner}✘ [ERROR] Authentication error [code: 10000]\n`), undefined);
    assert.deepEqual(extractJson('noise {"a": "]}"} tail'), { a: "]}" });
  });

  test("reads whoami --json, logged in or not, and the table of an older wrangler", () => {
    const json = `${warning}\n{"loggedIn":true,"authType":"OAuth Token","accounts":[{"id":"${ACCOUNT}","name":"Me"}],"tokenPermissions":["a:b"]}\n`;
    assert.deepEqual(parseWhoamiJson(json), { loggedIn: true, accounts: [{ id: ACCOUNT, name: "Me" }] });
    assert.deepEqual(parseWhoamiJson('\n{"loggedIn":false}\n'), { loggedIn: false, accounts: [] });
    assert.equal(parseWhoamiJson("✘ [ERROR] Unknown argument: json"), undefined);
    const table = `${banner}┌──────┬──────────────────────────────────┐\n│ Account Name │ Account ID │\n├──┼──┤\n│ Me's Account │ ${ACCOUNT} │\n└──┴──┘\n`;
    assert.deepEqual(parseWhoamiTable(table), { loggedIn: true, accounts: [{ id: ACCOUNT, name: "Me's Account" }] });
    assert.equal(parseWhoamiTable(`${banner}You are not authenticated. Please run \`wrangler login\`.\n`).loggedIn, false);
  });

  test("reads the id from d1 create's JSON or TOML snippet", () => {
    assert.equal(parseD1CreateId(`✅ Successfully created DB 'one-balance'\n{\n  "d1_databases": [\n    {\n      "binding": "one_balance",\n      "database_name": "one-balance",\n      "database_id": "${ID}"\n    }\n  ]\n}\n`), ID);
    assert.equal(parseD1CreateId(`[[d1_databases]]\nbinding = "DB"\ndatabase_name = "one-balance"\ndatabase_id = "${ID}"\n`), ID);
    assert.equal(parseD1CreateId("✅ Successfully created DB 'one-balance'\n"), undefined);
  });

  test("tells a missing Worker from other secret list failures", () => {
    const ok = { code: 0, stdout: '[\n  {\n    "name": "AUTH_KEY",\n    "type": "secret_text"\n  }\n]\n', output: "" };
    assert.deepEqual(parseSecretList(ok), { exists: true, names: ["AUTH_KEY"] });
    assert.deepEqual(parseSecretList({ code: 0, stdout: "[]\n", output: "" }), { exists: true, names: [] });
    const missing = { code: 1, stdout: "", output: '✘ [ERROR] Worker "one-balance" not found.\n\nIf this is a new Worker, run `wrangler deploy` first to create it.' };
    assert.deepEqual(parseSecretList(missing), { exists: false });
    assert.equal(parseSecretList({ code: 1, stdout: "", output: "✘ [ERROR] Authentication error [code: 10000]" }), undefined);
  });

  test("recognises the plain-var conflict and the deployed URL", () => {
    assert.equal(isBindingNameInUse("  Binding name 'AUTH_KEY' already in use. Please use a different name and try again. [code: 10053]"), true);
    assert.equal(isBindingNameInUse("✘ [ERROR] Authentication error [code: 10000]"), false);
    assert.equal(parseDeployUrl("Deployed one-balance triggers (0.41 sec)\n  https://one-balance.me.workers.dev\nCurrent Version ID: x"), "https://one-balance.me.workers.dev");
    assert.equal(parseDeployUrl("No targets deployed for one-balance"), undefined);
  });
});

describe("DEPLOY.md and DEPLOY.zh-CN.md", () => {
  const en = readFileSync(join(repo, "DEPLOY.md"), "utf8");
  const zh = readFileSync(join(repo, "DEPLOY.zh-CN.md"), "utf8");
  const outline = (text) => text.split("\n").filter((l) => /^#{1,3} /.test(l)).map((l) => l.split(" ")[0]);

  test("keep the same sections in the same order and the same code blocks", () => {
    assert.deepEqual(outline(zh), outline(en));
    const blocks = (text) => [...text.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].map((m) => m[1].replace(/#.*$/gm, "").replace(/\s+/g, " "));
    assert.equal(blocks(zh).length, blocks(en).length);
  });

  test("name only npm scripts that exist, and every variable deploycf reads", () => {
    const scripts = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")).scripts;
    for (const text of [en, zh]) {
      for (const [, name] of text.matchAll(/npm run ([\w:-]+)/g)) assert.ok(name in scripts, `npm run ${name}`);
      for (const name of ["AUTH_KEY", "CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN", "AI_GATEWAY", "CONSECUTIVE_429_THRESHOLD", "MAX_ATTEMPTS", "ONE_BALANCE_WRANGLER", "AI_GATEWAY_TOKEN"]) {
        assert.ok(text.includes(`\`${name}\``), name);
      }
    }
  });
});
