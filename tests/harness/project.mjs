// Facts about the repository that every harness module needs: where things are, the Worker configuration template,
// the D1 migrations (split into statements the way wrangler applies them), and the environment that keeps wrangler,
// Miniflare and worker-build off the network.
//
// Nothing here starts a process or opens a socket.
import { readdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Absolute path of the repository root. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** worker-build's output directory (build/index.js + build/index_bg.wasm). */
export const BUILD_DIR = join(ROOT, "build");
/** The committed configuration template that wrangler.jsonc is generated from. */
export const TEMPLATE_PATH = join(ROOT, "wrangler.jsonc.tpl");
export const MIGRATIONS_DIR = join(ROOT, "migrations");

/**
 * Parses JSON with comments (`//`, `/* *\/`) and trailing commas, as wrangler accepts in wrangler.jsonc.
 * Comment markers inside strings (such as `"https://…"`) are left alone.
 */
export function parseJsonc(text) {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      if (end < 0) throw new SyntaxError("unterminated /* comment in JSONC");
      i = end + 2;
    } else {
      out += c;
      i++;
    }
  }
  // Trailing commas: a comma followed only by whitespace before } or ]. Strings were copied verbatim above, so
  // this regex could only misfire on a string containing ",}" — re-tokenising is not worth it for our template.
  return JSON.parse(out.replace(/,(\s*[}\]])/g, "$1"));
}

/** The parsed wrangler.jsonc.tpl: `compatibility_date`, `vars`, `d1_databases`, … */
export function readTemplate() {
  return parseJsonc(readFileSync(TEMPLATE_PATH, "utf8"));
}

/** Absolute paths of `migrations/*.sql`, in the order wrangler applies them (by file name). */
export function listMigrations() {
  return readdirSync(MIGRATIONS_DIR)
    .filter((name) => name.endsWith(".sql"))
    .sort()
    .map((name) => join(MIGRATIONS_DIR, name));
}

/**
 * Splits a SQL script into statements without their `--` and `/* *\/` comments.
 *
 * Semicolons inside quotes ('…', "…", `…`, […]) do not split. Inside `CREATE TRIGGER … BEGIN … END;` the body's
 * semicolons do not split either (BEGIN/CASE … END nesting is counted only in trigger statements, because a plain
 * `BEGIN TRANSACTION;` has no END).
 */
export function splitSql(sql) {
  const statements = [];
  let current = "";
  let depth = 0;
  let i = 0;
  const isTrigger = () => /^\s*CREATE\s+(TEMP\s+|TEMPORARY\s+)?TRIGGER\b/i.test(current);
  const flush = () => {
    const s = current.trim();
    if (s) statements.push(s);
    current = "";
    depth = 0;
  };
  while (i < sql.length) {
    const c = sql[i];
    if (c === "-" && sql[i + 1] === "-") {
      while (i < sql.length && sql[i] !== "\n") i++;
    } else if (c === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2);
      i = end < 0 ? sql.length : end + 2;
      current += " ";
    } else if (c === "'" || c === '"' || c === "`" || c === "[") {
      const close = c === "[" ? "]" : c;
      let j = i + 1;
      while (j < sql.length) {
        if (sql[j] === close) {
          if (close !== "]" && sql[j + 1] === close) j += 2; // doubled quote = escaped quote
          else break;
        } else j++;
      }
      current += sql.slice(i, j + 1);
      i = j + 1;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i;
      while (j < sql.length && /[A-Za-z0-9_$]/.test(sql[j])) j++;
      const word = sql.slice(i, j);
      current += word;
      i = j;
      if (isTrigger()) {
        const upper = word.toUpperCase();
        if (upper === "BEGIN" || upper === "CASE") depth++;
        else if (upper === "END" && depth > 0) depth--;
      }
    } else if (c === ";") {
      if (depth > 0) current += c;
      else flush();
      i++;
    } else {
      current += c;
      i++;
    }
  }
  flush();
  return statements;
}

/**
 * Environment for wrangler / Miniflare / worker-build child processes: no metrics, no `Request.cf` download, no
 * local trace store, and the build tools that scripts/lib/toolchain.sh installs (defaults here too, so one test file
 * can be run with plain `node --test` after a bootstrap).
 */
export function toolEnv(extra = {}) {
  const cargoHome = process.env.CARGO_HOME || join(homedir(), ".cargo");
  const env = {
    ...process.env,
    CI: "true",
    WRANGLER_SEND_METRICS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    X_LOCAL_OBSERVABILITY: "false",
    WASM_BINDGEN_BIN: process.env.WASM_BINDGEN_BIN || join(cargoHome, "bin", "wasm-bindgen"),
    ESBUILD_BIN: process.env.ESBUILD_BIN || join(ROOT, "node_modules", ".bin", "esbuild"),
    WASM_OPT_BIN: process.env.WASM_OPT_BIN || join(ROOT, "node_modules", ".bin", "wasm-opt"),
    // The Node running the tests (>= 22.12) must also run wrangler, and worker-build must be found.
    PATH: [dirname(process.execPath), join(cargoHome, "bin"), process.env.PATH].join(":"),
    ...extra,
  };
  return env;
}

/** Resolves with `promise`'s value, or rejects with `message` after `ms`. The timer never keeps the process alive. */
export function withTimeout(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} (after ${ms} ms)`)), ms);
    timer.unref?.();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
