#!/usr/bin/env node
// `npm run deploycf`: takes a Cloudflare account from nothing to a running one-balance Worker, and re-running it is
// always safe. Usage (first deploy):  AUTH_KEY=<a long random value> npm run deploycf
//
// Steps, in order; the first failure stops the run with what to do next:
//   1. check the inputs (AUTH_KEY, overrides) and the Cloudflare login (`wrangler whoami --json`), pick the account
//      (like wrangler: account_id in wrangler.jsonc, else CLOUDFLARE_ACCOUNT_ID, else the only account of the login)
//   2. create wrangler.jsonc from the template if missing, check it, fill vars.CLOUDFLARE_ACCOUNT_ID if empty and
//      apply the overrides AI_GATEWAY / CONSECUTIVE_429_THRESHOLD / MAX_ATTEMPTS given in the environment
//   3. AUTH_KEY: validate it when given; when not given, require that the Worker already has the secret
//      (a first deploy without AUTH_KEY is refused: there is no default key)
//   4. find the D1 database (by the id in wrangler.jsonc, else by name) or create it, and write its id
//   5. store AUTH_KEY as a Worker secret, on stdin (never on a command line, in a file or in the output)
//   6. apply the committed migrations remotely (`wrangler d1 migrations apply DB --remote`)
//   7. `wrangler deploy`
// Which wrangler runs is decided in scripts/deploy/wrangler.mjs (ONE_BALANCE_WRANGLER, node_modules, PATH, npx).
// See DEPLOY.md.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DB_BINDING, SECRET_NAMES, applyEdits, readConfig } from "./deploy/config.mjs";
import { checkAuthKey, isAccountId, isDatabaseName, readOverrides } from "./deploy/inputs.mjs";
import {
  findOnPath,
  isBindingNameInUse,
  parseD1CreateId,
  parseD1List,
  parseDeployUrl,
  parseSecretList,
  parseWhoamiJson,
  parseWhoamiTable,
  resolveWrangler,
  runWrangler,
} from "./deploy/wrangler.mjs";
import { ensureConfig } from "./init-config.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const STEPS = 7;
const DEFAULT_DATABASE_NAME = "one-balance";
const LOGIN_HELP = "Run `npx wrangler login`, or set CLOUDFLARE_API_TOKEN to an API token (see DEPLOY.md), then re-run.";
const FIRST_DEPLOY_HELP = "AUTH_KEY=<a long random value> npm run deploycf";

/** A planned stop: a message and what to do next. */
class Stop extends Error {
  constructor(message, next) {
    super(message);
    this.next = next;
  }
}

const step = (n, title) => console.log(`\n[${n}/${STEPS}] ${title}`);
const info = (line) => console.log(`      ${line}`);
const warn = (line) => console.log(`      ! ${line}`);

// The last lines of a failed command's output, for the error message.
function tail(result, lines = 12) {
  return result.output.trim().split(/\r?\n/).slice(-lines).join("\n");
}

async function main() {
  // The child processes never see AUTH_KEY: a program that is not given a secret cannot leak it.
  const authKey = process.env.AUTH_KEY;
  const childEnv = { ...process.env };
  delete childEnv.AUTH_KEY;
  // `wrangler deploy` runs build.command (worker-build), which runs wasm-opt as Cargo.toml's wasm-pack metadata says:
  // use binaryen from node_modules (a devDependency, the one scripts/test builds with), never a download, so the
  // deployed wasm is the optimised one that was tested. The same for the other tools scripts/lib/toolchain.sh sets.
  const bin = (name) => join(root, "node_modules", ".bin", name);
  if (!childEnv.WASM_OPT_BIN && existsSync(bin("wasm-opt"))) childEnv.WASM_OPT_BIN = bin("wasm-opt");
  if (!childEnv.ESBUILD_BIN && existsSync(bin("esbuild"))) childEnv.ESBUILD_BIN = bin("esbuild");

  // ---- 1. inputs and login
  step(1, "Checking the inputs and the Cloudflare login");
  if (authKey !== undefined) {
    const verdict = checkAuthKey(authKey);
    if (!verdict.ok) throw new Stop(verdict.problem, `Set a long random value, e.g. ${FIRST_DEPLOY_HELP}`);
    for (const line of verdict.warnings) warn(line);
  }
  const overrides = readOverrides(process.env);
  if (!overrides.ok) {
    throw new Stop(overrides.problems.join("\n"), "Fix or unset the variable(s) above and re-run. Nothing was changed.");
  }
  if (process.env.CLOUDFLARE_ACCOUNT_ID && !isAccountId(process.env.CLOUDFLARE_ACCOUNT_ID)) {
    throw new Stop(
      "CLOUDFLARE_ACCOUNT_ID is not an account id (32 hexadecimal digits).",
      "Copy the id from `npx wrangler whoami` or the dashboard URL, or unset it.",
    );
  }

  let wrangler;
  try {
    wrangler = resolveWrangler(root);
  } catch (error) {
    throw new Stop(error.message, "Fix or unset ONE_BALANCE_WRANGLER.");
  }
  info(`wrangler: ${wrangler.origin}`);
  const run = (args, options = {}) => runWrangler(wrangler, args, { cwd: root, env: childEnv, ...options });

  const account = await whoami(run);
  childEnv.CLOUDFLARE_ACCOUNT_ID = account.id;
  info(`logged in; deploying to account ${account.name ? `"${account.name}" ` : ""}(${account.id})`);

  // ---- 2. wrangler.jsonc
  step(2, "wrangler.jsonc");
  const { path: configPath, created } = ensureConfig(root);
  info(created ? "created from wrangler.jsonc.tpl" : "exists: kept, only empty or placeholder values are filled in");
  let text = readFileSync(configPath, "utf8");
  let config;
  try {
    config = readConfig(text);
  } catch (error) {
    throw new Stop(
      `wrangler.jsonc cannot be used: ${error.message}`,
      "Fix the file, or move it away and re-run to start again from wrangler.jsonc.tpl.",
    );
  }
  const plainSecrets = SECRET_NAMES.filter((name) => name in config.vars);
  if (plainSecrets.length) {
    throw new Stop(
      `wrangler.jsonc sets ${plainSecrets.join(" and ")} in "vars". A var is stored and shown in plain text, and ` +
        "deploying it would replace the Worker's secret of the same name.",
      `Delete ${plainSecrets.map((n) => `"${n}"`).join(" and ")} from "vars" in wrangler.jsonc and re-run; a ` +
        "secret is set with AUTH_KEY=… npm run deploycf, or `npx wrangler secret put AI_GATEWAY_TOKEN` (see DEPLOY.md).",
    );
  }
  const configured = config.vars.CLOUDFLARE_ACCOUNT_ID;
  if (configured && configured !== account.id) {
    throw new Stop(
      `wrangler.jsonc has vars.CLOUDFLARE_ACCOUNT_ID = ${configured}, but this deploy goes to account ${account.id}. ` +
        "The Worker would build its AI Gateway URLs for the wrong account.",
      "Correct or empty vars.CLOUDFLARE_ACCOUNT_ID in wrangler.jsonc (deploycf fills an empty one), or set " +
        `CLOUDFLARE_ACCOUNT_ID=${configured} to deploy to that account.`,
    );
  }
  const databaseName = config.db.name ?? DEFAULT_DATABASE_NAME;
  if (!isDatabaseName(databaseName)) {
    throw new Stop(
      `The D1 database_name ${JSON.stringify(databaseName)} in wrangler.jsonc is not a valid name.`,
      "Use letters, digits, '-' and '_' only.",
    );
  }
  checkBuildTools(config.buildCommand);
  text = save(configPath, text, { accountId: account.id, overrides: overrides.values });

  // ---- 3. AUTH_KEY (check only; it is stored in step 5)
  step(3, "AUTH_KEY");
  if (authKey !== undefined) {
    info("given in the environment: it will be stored as a Worker secret in step 5");
  } else {
    const result = await run(["secret", "list", "--format", "json"]);
    const secrets = parseSecretList(result);
    if (secrets === undefined) {
      throw new Stop(
        `Could not list the Worker's secrets:\n${tail(result)}`,
        `Fix the error above and re-run, or give the key explicitly: ${FIRST_DEPLOY_HELP}`,
      );
    }
    if (!secrets.exists) {
      throw new Stop(
        `The Worker "${config.name ?? "one-balance"}" does not exist yet, and AUTH_KEY is not set. ` +
          "A first deploy needs a service key; there is no default.",
        FIRST_DEPLOY_HELP,
      );
    }
    if (!secrets.names.includes("AUTH_KEY")) {
      throw new Stop(
        `The Worker "${config.name ?? "one-balance"}" has no AUTH_KEY secret (a Worker of the original TypeScript ` +
          "project keeps it as a plain var, which does not count).",
        FIRST_DEPLOY_HELP,
      );
    }
    info("not given: the Worker's existing AUTH_KEY secret is kept");
  }

  // ---- 4. D1
  step(4, `D1 database "${databaseName}"`);
  const databaseId = await ensureDatabase(run, config, databaseName, account);
  text = save(configPath, text, { databaseId });

  // ---- 5. store AUTH_KEY
  step(5, "AUTH_KEY secret");
  let putAfterDeploy = false;
  if (authKey === undefined) {
    info("skipped: the existing secret is kept");
  } else {
    const result = await run(["secret", "put", "AUTH_KEY"], { input: authKey, echo: true });
    if (result.code !== 0 && isBindingNameInUse(result.output)) {
      putAfterDeploy = true;
      warn(
        "The deployed Worker has AUTH_KEY as a plain var (the original project did that). A secret cannot take " +
          "that name until a deploy removes the var, so the secret is stored right after step 7. Between the two " +
          "the Worker answers every request with an error asking for AUTH_KEY.",
      );
    } else if (result.code !== 0) {
      throw new Stop(
        "Could not store AUTH_KEY as a secret (see wrangler's message above).",
        "Fix the error and re-run. Nothing has been deployed yet.",
      );
    } else {
      info("stored as a secret");
    }
  }

  // ---- 6. migrations
  step(6, "Applying the D1 migrations (wrangler d1 migrations apply DB --remote)");
  const migrate = await run(["d1", "migrations", "apply", DB_BINDING, "--remote"], { echo: true });
  if (migrate.code !== 0) {
    throw new Stop(
      "The migrations failed (see wrangler's message above). Nothing has been deployed.",
      "Fix the error and re-run: migrations that were applied are recorded and skipped next time.",
    );
  }

  // ---- 7. deploy
  step(7, "Deploying the Worker (wrangler deploy; this builds the Rust code first)");
  const deploy = await run(["deploy"], { echo: true });
  if (deploy.code !== 0) {
    throw new Stop("wrangler deploy failed (see its message above).", deployHint(deploy.output, account.id));
  }
  if (putAfterDeploy) {
    info("storing AUTH_KEY now that the plain var is gone");
    const again = await run(["secret", "put", "AUTH_KEY"], { input: authKey, echo: true });
    if (again.code !== 0) {
      throw new Stop(
        "The Worker is deployed but AUTH_KEY could not be stored: it refuses every request until it has one.",
        `Re-run ${FIRST_DEPLOY_HELP} (or \`npx wrangler secret put AUTH_KEY\` and paste the key).`,
      );
    }
  }

  finish(parseDeployUrl(deploy.output), readConfig(text), account.id);
}

// Step 1: who is logged in, and which account to deploy to.
async function whoami(run) {
  let result = await run(["whoami", "--json"]);
  let user = parseWhoamiJson(result.stdout);
  if (!user && /unknown argument/i.test(result.output)) {
    // A wrangler older than `whoami --json`: read its table.
    result = await run(["whoami"]);
    user = parseWhoamiTable(result.output);
  }
  const node = /requires at least Node\.js (v?\d+(?:\.\d+)*)/i.exec(result.output);
  if (node) {
    throw new Stop(
      `This wrangler needs Node.js ${node[1]} or newer; it runs on the \`node\` found on PATH.`,
      "Install a newer Node.js (see DEPLOY.md, \"Node version\"), then `npm ci` and re-run.",
    );
  }
  if (user && !user.loggedIn) throw new Stop("You are not logged in to Cloudflare.", LOGIN_HELP);
  if (!user) {
    throw new Stop(
      `wrangler whoami failed, so the login could not be checked:\n${tail(result)}`,
      `If the message is about credentials: ${LOGIN_HELP} Otherwise fix what it says and re-run.`,
    );
  }
  // Same precedence as wrangler: account_id in wrangler.jsonc, then CLOUDFLARE_ACCOUNT_ID.
  const fromConfig = configuredAccountId();
  const fromEnv = process.env.CLOUDFLARE_ACCOUNT_ID;
  if (fromConfig && fromEnv && fromConfig !== fromEnv) {
    throw new Stop(
      `wrangler.jsonc sets account_id ${fromConfig}, and CLOUDFLARE_ACCOUNT_ID is ${fromEnv}; wrangler would use the first.`,
      "Make them agree, or unset one of them, and re-run.",
    );
  }
  const wanted = fromConfig || fromEnv;
  if (wanted) {
    const known = user.accounts.find((a) => a.id === wanted);
    if (!known && user.accounts.length) {
      warn(`Account ${wanted} is not among the accounts wrangler whoami lists; using it anyway.`);
    }
    return { id: wanted, name: known?.name ?? "" };
  }
  if (user.accounts.length === 1) return user.accounts[0];
  if (user.accounts.length === 0) {
    throw new Stop(
      "wrangler whoami lists no account for these credentials.",
      "Set CLOUDFLARE_ACCOUNT_ID=<your account id> (and give the API token access to that account), then re-run.",
    );
  }
  const list = user.accounts.map((a) => `        ${a.id}  ${a.name}`).join("\n");
  throw new Stop(
    `These credentials reach ${user.accounts.length} accounts:\n${list}`,
    "Choose one: CLOUDFLARE_ACCOUNT_ID=<id> npm run deploycf",
  );
}

// The top-level account_id of an existing wrangler.jsonc, which wrangler itself honours; read errors are left to step 2.
function configuredAccountId() {
  try {
    const id = readConfig(readFileSync(join(root, "wrangler.jsonc"), "utf8")).accountId;
    return isAccountId(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

// Step 2: wrangler deploy runs build.command; check its tools exist before anything on Cloudflare changes.
function checkBuildTools(buildCommand) {
  const tool = buildCommand?.trim().split(/\s+/)[0];
  if (!tool) return;
  const needed = tool === "worker-build" ? ["worker-build", "cargo"] : [tool];
  const missing = needed.filter((name) => !findOnPath(name));
  if (missing.length) {
    throw new Stop(
      `${missing.join(" and ")} not found on PATH; \`wrangler deploy\` runs \`${buildCommand}\` to build the Worker.`,
      "Install Rust (https://rustup.rs), then `rustup target add wasm32-unknown-unknown` and " +
        "`cargo install worker-build --locked`, and re-run. Nothing was changed on Cloudflare.",
    );
  }
}

// Step 4: returns the id of the database to use, creating it if needed.
async function ensureDatabase(run, config, name, account) {
  const list = await run(["d1", "list", "--json"]);
  const databases = list.code === 0 ? parseD1List(list.stdout) : undefined;
  if (!databases) {
    throw new Stop(
      `Could not list the D1 databases:\n${tail(list)}`,
      "Check that the login or API token may read and edit D1 (D1: Edit), then re-run.",
    );
  }
  if (!config.db.isPlaceholder) {
    const byId = databases.find((d) => d.uuid === config.db.id);
    if (!byId) {
      throw new Stop(
        `wrangler.jsonc names D1 database_id ${config.db.id}, which is not a database of account ${account.id}.`,
        "Correct database_id (`npx wrangler d1 list` shows the ids), or set it back to " +
          `00000000-0000-0000-0000-000000000000 to let deploycf find or create "${name}".`,
      );
    }
    info(`using the database from wrangler.jsonc: "${byId.name}" (${byId.uuid})`);
    return byId.uuid;
  }
  const byName = databases.find((d) => d.name === name);
  if (byName) {
    info(`found: ${byName.uuid}; its keys are kept`);
    return byName.uuid;
  }
  info("not found: creating it");
  const created = await run(["d1", "create", name]);
  if (created.code !== 0) {
    throw new Stop(`Could not create the D1 database "${name}":\n${tail(created)}`, "Fix the error and re-run.");
  }
  let id = parseD1CreateId(created.output);
  if (!id) {
    const again = await run(["d1", "list", "--json"]);
    id = parseD1List(again.stdout)?.find((d) => d.name === name)?.uuid;
  }
  if (!id) {
    throw new Stop(
      `The database "${name}" was created, but its id could not be read from wrangler's output.`,
      "Copy its id from `npx wrangler d1 list` into database_id in wrangler.jsonc and re-run.",
    );
  }
  info(`created: ${id}`);
  return id;
}

// Writes wrangler.jsonc if the edits change it; returns the current text.
function save(path, text, edits) {
  const { text: next, changes } = applyEdits(text, edits);
  if (next !== text) {
    writeFileSync(path, next);
    for (const change of changes) info(`wrangler.jsonc: ${change}`);
  }
  return next;
}

function deployHint(output, accountId) {
  if (/workers\.dev subdomain/i.test(output)) {
    return `Register a workers.dev subdomain at https://dash.cloudflare.com/${accountId}/workers/onboarding (or add routes to wrangler.jsonc), then re-run.`;
  }
  if (/worker-build|cargo|rustc|wasm/i.test(output)) {
    return "The Rust build failed: check `rustup target add wasm32-unknown-unknown` and `cargo install worker-build --locked`, then re-run.";
  }
  return "Fix the error and re-run: the database, its migrations and the secret are in place, so only the deploy is repeated.";
}

function finish(url, config, accountId) {
  const gateways = String(config.vars.AI_GATEWAY || "one-balance");
  const base = url ?? "https://<your worker URL>";
  console.log(`
Deployed.${url ? ` The Worker answers at ${url}` : " The Worker's URL is shown in wrangler's output above."}

Next steps:
  1. Create the AI Gateway${gateways.includes(",") ? "s" : ""} named ${gateways
    .split(",")
    .map((g) => `"${g}"`)
    .join(", ")} in the dashboard: https://dash.cloudflare.com/${accountId}/ai/ai-gateway
     (if you turn on "Authenticated Gateway", also store its token: npx wrangler secret put AI_GATEWAY_TOKEN).
  2. Open ${base}/ and log in with your AUTH_KEY to add provider keys.
  3. Try it: curl -H "x-goog-api-key: $AUTH_KEY" ${base}/api/google-ai-studio/v1beta/models/gemini-2.5-flash:generateContent -d '{"contents":[{"parts":[{"text":"hi"}]}]}'
  See DEPLOY.md for the details and troubleshooting.`);
}

main().catch((error) => {
  if (error instanceof Stop) {
    console.error(`\n✘ ${error.message}`);
    if (error.next) console.error(`  Next: ${error.next}`);
  } else {
    console.error(`\n✘ Unexpected error: ${error?.stack ?? error}`);
  }
  process.exitCode = 1;
});
