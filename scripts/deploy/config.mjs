// What `deploycf` reads from and writes to `wrangler.jsonc`.
//
// The file belongs to the operator once it exists. deploycf fills in only what a deployment cannot do without and
// what the operator asked for in the environment: the account id when it is empty, the D1 database id while it is
// still a placeholder, and the optional AI_GATEWAY / CONSECUTIVE_429_THRESHOLD / MAX_ATTEMPTS overrides. Each is a
// one-value edit through ./jsonc.mjs, so comments and formatting stay as they were, and a second run with the
// same inputs changes nothing.

import { findNode, parseJsonc, setValue } from "./jsonc.mjs";

/** database_id values that mean "not created yet": this template's, and the original project's. */
export const PLACEHOLDER_DATABASE_IDS = new Set(["", "00000000-0000-0000-0000-000000000000", "my-database-id"]);

/** The D1 binding the Worker reads. */
export const DB_BINDING = "DB";

/** Vars that must never be plain vars: they are secrets, and a var of the same name would replace the secret. */
export const SECRET_NAMES = ["AUTH_KEY", "AI_GATEWAY_TOKEN"];

/**
 * Reads the facts deploycf needs from the config text. Throws an Error with an operator-facing message when the
 * file cannot be used.
 */
export function readConfig(text) {
  const { value: config, root } = parseJsonc(text);
  if (config === null || typeof config !== "object" || Array.isArray(config)) {
    throw new Error("wrangler.jsonc must hold a JSON object.");
  }
  const databases = Array.isArray(config.d1_databases) ? config.d1_databases : [];
  const dbIndex = databases.findIndex((d) => d && d.binding === DB_BINDING);
  if (dbIndex === -1) {
    throw new Error(
      `wrangler.jsonc has no D1 database with "binding": "${DB_BINDING}" in "d1_databases". ` +
        "Copy that entry back from wrangler.jsonc.tpl.",
    );
  }
  const db = databases[dbIndex];
  const vars = config.vars && typeof config.vars === "object" ? config.vars : undefined;
  return {
    name: typeof config.name === "string" ? config.name : undefined,
    accountId: typeof config.account_id === "string" ? config.account_id : undefined,
    buildCommand: typeof config.build?.command === "string" ? config.build.command : undefined,
    hasVars: findNode(root, ["vars"])?.kind === "object",
    vars: vars ?? {},
    db: {
      index: dbIndex,
      name: typeof db.database_name === "string" ? db.database_name : undefined,
      id: typeof db.database_id === "string" ? db.database_id : "",
      isPlaceholder: PLACEHOLDER_DATABASE_IDS.has(typeof db.database_id === "string" ? db.database_id : ""),
    },
  };
}

/**
 * Applies deploycf's edits to `text`. `edits` may hold `accountId` (written to vars.CLOUDFLARE_ACCOUNT_ID only when
 * that var is missing or empty), `databaseId` (written only while database_id is a placeholder) and `overrides`
 * ({ NAME: value }, written when different). Returns `{ text, changes }`; `changes` lists human-readable lines.
 */
export function applyEdits(text, edits) {
  let current = text;
  const changes = [];
  const info = () => readConfig(current);

  if (edits.databaseId !== undefined && info().db.isPlaceholder) {
    current = setValue(current, ["d1_databases", info().db.index, "database_id"], edits.databaseId);
    changes.push(`d1_databases[binding=${DB_BINDING}].database_id = ${edits.databaseId}`);
  }

  const wanted = {};
  if (edits.accountId !== undefined && !info().vars.CLOUDFLARE_ACCOUNT_ID) {
    wanted.CLOUDFLARE_ACCOUNT_ID = edits.accountId;
  }
  Object.assign(wanted, edits.overrides ?? {});
  for (const [name, value] of Object.entries(wanted)) {
    const state = info();
    if (state.vars[name] === value) continue;
    current = state.hasVars ? setValue(current, ["vars", name], value) : setValue(current, ["vars"], { [name]: value });
    changes.push(`vars.${name} = ${value}`);
  }
  return { text: current, changes };
}
