#!/usr/bin/env node
// A stand-in for `wrangler`, for the deploycf tests. It answers the commands deploycf uses the way wrangler 4.164
// does (exit codes, messages, and the banners and warnings it prints around --json output), keeps the account's
// state (databases, the Worker, its secrets) in $FAKE_WRANGLER_DIR/state.json, and appends one JSON line per call to
// $FAKE_WRANGLER_DIR/calls.jsonl.
//
// It never stores what it reads on stdin: only its length and SHA-256, so the tests can check that a secret
// arrived on stdin while also checking that no file anywhere holds it.
//
// state.json fields (all optional):
//   loggedIn (true), accounts ([{id,name}]), whoamiJson (true: false acts like a wrangler without `whoami --json`),
//   databases ([{name,uuid}]), createUuid, createSnippet ("json" | "toml" | "none"),
//   worker ({exists, secrets: [names], plainVars: [names]}), noise (true), deployUrl, fail ({"<command>": message}).

import { createHash } from "node:crypto";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.env.FAKE_WRANGLER_DIR;
if (!dir) {
  console.error("fake wrangler: FAKE_WRANGLER_DIR is not set");
  process.exit(2);
}
const statePath = join(dir, "state.json");
const state = {
  loggedIn: true,
  accounts: [{ id: "0123456789abcdef0123456789abcdef", name: "Test account" }],
  whoamiJson: true,
  databases: [],
  createUuid: "11111111-2222-4333-8444-555555555555",
  createSnippet: "json",
  worker: { exists: false, secrets: [], plainVars: [] },
  noise: true,
  deployUrl: "https://one-balance.test-sub.workers.dev",
  fail: {},
  ...JSON.parse(readFileSync(statePath, "utf8")),
};

const args = process.argv.slice(2);
const positional = args.filter((a) => !a.startsWith("-"));
const command = positional.slice(0, positional[0] === "d1" && positional[1] === "migrations" ? 3 : 2).join(" ");
const banner = "\n \u26c5\ufe0f wrangler 4.164.0\n\u001b[2m────────────────────\u001b[22m\n";
const configWarning =
  '\u001b[33m▲ \u001b[43;33m[\u001b[43;30mWARNING\u001b[43;33m]\u001b[0m \u001b[1mProcessing wrangler.jsonc configuration:\u001b[0m\n\n    - [1] "unsafe" fields are experimental and may change or break at any time.\n\n';

function readStdin() {
  try {
    return readFileSync(0);
  } catch {
    return Buffer.alloc(0);
  }
}

function configDatabaseId() {
  try {
    const text = readFileSync(join(process.cwd(), "wrangler.jsonc"), "utf8");
    return /"database_id"\s*:\s*"([^"]*)"/.exec(text)?.[1];
  } catch {
    return undefined;
  }
}

function configVarNames() {
  try {
    const text = readFileSync(join(process.cwd(), "wrangler.jsonc"), "utf8");
    const vars = /"vars"\s*:\s*\{([^}]*)\}/.exec(text)?.[1] ?? "";
    return [...vars.matchAll(/"([A-Z0-9_]+)"\s*:/g)].map((m) => m[1]);
  } catch {
    return [];
  }
}

const stdin = readStdin();
appendFileSync(
  join(dir, "calls.jsonl"),
  JSON.stringify({
    bin: process.argv[1],
    args,
    command,
    cwd: process.cwd(),
    stdinBytes: stdin.length,
    stdinSha256: stdin.length ? createHash("sha256").update(stdin).digest("hex") : null,
    accountEnv: process.env.CLOUDFLARE_ACCOUNT_ID ?? null,
    authKeyInEnv: "AUTH_KEY" in process.env,
    configDatabaseId: configDatabaseId() ?? null,
  }) + "\n",
);

const out = (text) => process.stdout.write(text);
const err = (text) => process.stderr.write(text);
const save = () => writeFileSync(statePath, JSON.stringify(state, null, 2));
const noisy = (text) => (state.noise ? text : "");
const fatal = (message, code = 1) => {
  err(`\u001b[31m✘ \u001b[41;31m[\u001b[41;97mERROR\u001b[41;31m]\u001b[0m \u001b[1m${message}\u001b[0m\n\n`);
  process.exit(code);
};
const workerName = () => {
  try {
    const text = readFileSync(join(process.cwd(), "wrangler.jsonc"), "utf8");
    return /"name"\s*:\s*"([^"]*)"/.exec(text)?.[1] ?? "one-balance";
  } catch {
    return "one-balance";
  }
};

if (state.fail[command]) fatal(state.fail[command]);

switch (command) {
  case "whoami": {
    if (args.includes("--json")) {
      if (!state.whoamiJson) fatal("Unknown argument: json");
      if (!state.loggedIn) {
        out('\n{"loggedIn":false}\n');
        process.exit(1);
      }
      out(noisy(configWarning));
      out("\n" + JSON.stringify({ loggedIn: true, authType: "OAuth Token", email: "ops@example.com", accounts: state.accounts, tokenPermissions: ["account:read", "d1:write"] }) + "\n");
      break;
    }
    out(banner + "Getting User settings...\n");
    if (!state.loggedIn) {
      out("You are not authenticated. Please run `wrangler login`.\n");
      break; // exit 0, like the real one
    }
    out("👋 You are logged in with an OAuth Token, associated with the email ops@example.com.\n");
    out("┌────────────────┬──────────────────────────────────┐\n│ Account Name   │ Account ID                       │\n├────────────────┼──────────────────────────────────┤\n");
    for (const a of state.accounts) out(`│ ${a.name} │ ${a.id} │\n`);
    out("└────────────────┴──────────────────────────────────┘\n");
    break;
  }
  case "d1 list": {
    if (!args.includes("--json")) fatal("fake wrangler: d1 list without --json is not supported");
    out(noisy(configWarning));
    const rows = state.databases.map((d) => ({ uuid: d.uuid, name: d.name, created_at: "2026-01-01T00:00:00.000Z", version: "production", num_tables: 2, file_size: 12288 }));
    out(JSON.stringify(rows, null, 2) + "\n");
    out(noisy("\u001b[2m[code: 0]\u001b[22m done\n"));
    break;
  }
  case "d1 create": {
    const name = positional[2];
    if (state.databases.some((d) => d.name === name)) fatal(`A database with that name already exists [code: 7502]`);
    state.databases.push({ name, uuid: state.createUuid });
    save();
    out(banner + `✅ Successfully created DB '${name}' in region WEUR\nCreated your new D1 database.\n\n`);
    out("To access your new D1 Database in your Worker, add the following snippet to your configuration file:\n");
    if (state.createSnippet === "json") {
      out(JSON.stringify({ d1_databases: [{ binding: name.replace(/-/g, "_"), database_name: name, database_id: state.createUuid }] }, null, 2) + "\n");
    } else if (state.createSnippet === "toml") {
      out(`[[d1_databases]]\nbinding = "${name.replace(/-/g, "_")}"\ndatabase_name = "${name}"\ndatabase_id = "${state.createUuid}"\n`);
    }
    out("? Would you like Wrangler to add it on your behalf?\n🤖 Using fallback value in non-interactive context: no\n");
    break;
  }
  case "secret list": {
    if (!state.worker.exists) {
      fatal(`Worker "${workerName()}" not found.\n\nIf this is a new Worker, run \`wrangler deploy\` first to create it.\nOtherwise, check that the Worker name is correct and you're logged into the right account.`);
    }
    out(JSON.stringify(state.worker.secrets.map((name) => ({ name, type: "secret_text" })), null, "  ") + "\n");
    break;
  }
  case "secret put": {
    const name = positional[2];
    out(banner);
    if (stdin.length === 0) fatal("fake wrangler: secret put expects the value on stdin");
    if (state.worker.plainVars.includes(name)) {
      fatal(`A request to the Cloudflare API (/accounts/x/workers/scripts/${workerName()}/secrets) failed.\n\n  Binding name '${name}' already in use. Please use a different name and try again. [code: 10053]`);
    }
    out(`🌀 Creating the secret for the Worker "${workerName()}"\n`);
    if (!state.worker.exists) {
      out(`? There doesn't seem to be a Worker called "${workerName()}". Do you want to create a new Worker with that name and add secrets to it?\n🤖 Using fallback value in non-interactive context: yes\n🌀 Creating new Worker "${workerName()}"...\n`);
      state.worker.exists = true;
    }
    if (!state.worker.secrets.includes(name)) state.worker.secrets.push(name);
    save();
    out(`✨ Success! Uploaded secret ${name}\n`);
    break;
  }
  case "d1 migrations apply": {
    if (!args.includes("--remote")) fatal("fake wrangler: expected --remote");
    out(banner + "Migrations to be applied:\n┌───────────────┐\n│ name          │\n├───────────────┤\n│ 0001_keys.sql │\n└───────────────┘\n");
    out("🚣 Executed 4 commands\n┌───────────────┬────────┐\n│ name          │ status │\n├───────────────┼────────┤\n│ 0001_keys.sql │ ✅     │\n└───────────────┴────────┘\n");
    break;
  }
  case "deploy": {
    out(banner + `Total Upload: 612.04 KiB / gzip: 233.10 KiB\nUploaded ${workerName()} (3.12 sec)\n`);
    state.worker.exists = true;
    state.worker.plainVars = configVarNames();
    save();
    out(`Deployed ${workerName()} triggers (0.41 sec)\n  ${state.deployUrl}\nCurrent Version ID: 7d8e2c1a-0000-4000-8000-000000000001\n`);
    break;
  }
  default:
    fatal(`fake wrangler: unsupported command: ${args.join(" ")}`);
}
