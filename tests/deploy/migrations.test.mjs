// The committed migrations, applied by the REAL wrangler to a local D1 that already holds the original TypeScript
// project's `keys` table (created the way the original deployed it: a drizzle-kit migration applied with
// `wrangler d1 migrations apply`), must keep every row, be recorded, and be a no-op when applied again.
// This is what `npm run deploycf` does to an existing deployment's database on every run.
//
// Needs node_modules (wrangler 4.164) and Node >= 22.12, both provided by scripts/test. Only 127.0.0.1 is used.

import assert from "node:assert/strict";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { repo, runCollecting } from "./sandbox.mjs";

const wrangler = join(repo, "node_modules", ".bin", process.platform === "win32" ? "wrangler.cmd" : "wrangler");
const skip = existsSync(wrangler) ? false : "wrangler is not installed (run `npm ci`, or use scripts/test)";

// The original project's schema as drizzle-kit generated it (src/service/d1/schema.ts of glidea/one-balance).
const ORIGINAL_MIGRATION = `CREATE TABLE \`keys\` (
\t\`id\` text PRIMARY KEY NOT NULL,
\t\`key\` text NOT NULL,
\t\`provider\` text NOT NULL,
\t\`model_coolings\` text,
\t\`total_cooling_seconds\` integer DEFAULT 0 NOT NULL,
\t\`status\` text DEFAULT 'active' NOT NULL,
\t\`remark\` text,
\t\`created_at\` integer DEFAULT (strftime('%s', 'now')) NOT NULL,
\t\`updated_at\` integer DEFAULT (strftime('%s', 'now')) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX \`provider_key_unq_idx\` ON \`keys\` (\`provider\`,\`key\`);--> statement-breakpoint
CREATE INDEX \`provider_status_created_at_idx\` ON \`keys\` (\`provider\`,\`status\`,\`created_at\`);--> statement-breakpoint
CREATE INDEX \`total_cooling_seconds_idx\` ON \`keys\` (\`total_cooling_seconds\`);
`;

const ROWS = [
  {
    id: "6f1c2a9e-0000-4000-8000-000000000001",
    key: "AIzaSyOriginalKeyNumberOne000000000000",
    provider: "google-ai-studio",
    model_coolings: JSON.stringify({ "gemini-2.5-flash": { end_at: 1767225600, total_seconds: 3600 } }),
    total_cooling_seconds: 3600,
    status: "active",
    remark: "from the original",
    created_at: 1750000000,
    updated_at: 1750000100,
  },
  {
    id: "6f1c2a9e-0000-4000-8000-000000000002",
    key: "sk-original-blocked-key",
    provider: "openai",
    model_coolings: null,
    total_cooling_seconds: 0,
    status: "blocked",
    remark: null,
    created_at: 1750000200,
    updated_at: 1750000300,
  },
];

const sql = (v) => (v === null ? "NULL" : typeof v === "number" ? String(v) : `'${String(v).replace(/'/g, "''")}'`);
const INSERT = ROWS.map((r) => `INSERT INTO keys (${Object.keys(r).join(", ")}) VALUES (${Object.values(r).map(sql).join(", ")});`).join(" ");

const dir = mkdtempSync(join(tmpdir(), "ob-migrate-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function real(args) {
  const env = {
    ...process.env,
    CI: "true",
    WRANGLER_SEND_METRICS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    WRANGLER_LOG_PATH: join(dir, "logs"),
    XDG_CONFIG_HOME: join(dir, "xdg"),
  };
  delete env.CLOUDFLARE_API_TOKEN;
  delete env.CLOUDFLARE_ACCOUNT_ID;
  return runCollecting(wrangler, args, { cwd: dir, env, shell: process.platform === "win32" });
}

async function ok(args) {
  const result = await real(args);
  assert.equal(result.code, 0, `wrangler ${args.join(" ")} failed:\n${result.stdout}\n${result.stderr}`);
  return result;
}

const local = (config) => ["--local", "--persist-to", join(dir, "state"), "--config", join(dir, config)];
const query = async (command) => JSON.parse((await ok(["d1", "execute", "DB", ...local("wrangler.jsonc"), "--json", "--command", command])).stdout);

test("the committed migrations keep the rows of the original project's keys table", { skip, timeout: 180_000 }, async () => {
  // Two configs for one local database (same binding and id): the original's drizzle migrations dir, and ours.
  const template = readFileSync(join(repo, "wrangler.jsonc.tpl"), "utf8");
  writeFileSync(join(dir, "wrangler.jsonc"), template);
  writeFileSync(join(dir, "original.jsonc"), template.replace('"migrations_dir": "migrations"', '"migrations_dir": "original-migrations"'));
  cpSync(join(repo, "migrations"), join(dir, "migrations"), { recursive: true });
  mkdirSync(join(dir, "original-migrations"));
  writeFileSync(join(dir, "original-migrations", "0000_flat_rhino.sql"), ORIGINAL_MIGRATION);
  copyFileSync(join(repo, "package.json"), join(dir, "package.json"));

  await ok(["d1", "migrations", "apply", "DB", ...local("original.jsonc")]);
  await ok(["d1", "execute", "DB", ...local("original.jsonc"), "--command", INSERT]);

  const applied = await ok(["d1", "migrations", "apply", "DB", ...local("wrangler.jsonc")]);
  assert.match(applied.stdout, /0001_keys\.sql/);

  const [rows, migrations, indexes] = await query(
    "SELECT * FROM keys ORDER BY id; SELECT name FROM d1_migrations ORDER BY id; " +
      "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'keys' AND name NOT LIKE 'sqlite_%' ORDER BY name;",
  );
  // Every original column keeps its value; columns added by later migrations take their defaults, except that a
  // blocked row is due for its first re-check at once (0004_scale.sql: the re-check finds due rows by index).
  assert.deepEqual(rows.results.map((row) => Object.fromEntries(Object.keys(ROWS[0]).map((c) => [c, row[c]]))), ROWS, "every row and column kept as it was");
  for (const row of rows.results) {
    assert.deepEqual(
      { check_after: row.check_after, check_failures: row.check_failures, last_checked_at: row.last_checked_at, last_check_result: row.last_check_result },
      { check_after: row.status === "blocked" ? 0 : null, check_failures: 0, last_checked_at: null, last_check_result: null },
    );
  }
  const ours = readdirSync(join(repo, "migrations")).filter((f) => f.endsWith(".sql")).sort();
  assert.deepEqual(migrations.results.map((m) => m.name), ["0000_flat_rhino.sql", ...ours]);
  const indexNames = indexes.results.map((i) => i.name);
  for (const name of ["provider_key_unq_idx", "keys_provider_status_created_idx", "keys_provider_status_cooling_id_idx"]) {
    assert.ok(indexNames.includes(name), `${name} kept or made (have ${indexNames.join(", ")})`);
  }
  // Read by no query, and a row written on every cooldown: 0004_scale.sql drops it. The two others are prefixes of
  // the admin pages' indexes (0006_admin_pages.sql), which serve every query they served.
  for (const name of ["total_cooling_seconds_idx", "provider_status_created_at_idx", "keys_provider_status_cooling_idx"]) {
    assert.ok(!indexNames.includes(name), `${name} dropped (have ${indexNames.join(", ")})`);
  }

  // Every deploycf run applies the migrations again: nothing to do, nothing lost.
  const again = await ok(["d1", "migrations", "apply", "DB", ...local("wrangler.jsonc")]);
  assert.match(again.stdout, /No migrations to apply/);
  const [rowsAfter] = await query("SELECT * FROM keys ORDER BY id;");
  assert.deepEqual(rowsAfter.results, rows.results);
});
