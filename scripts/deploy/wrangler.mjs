// Finding wrangler, running it, and reading what it prints.
//
// Which wrangler runs (first match wins):
//   1. ONE_BALANCE_WRANGLER=<path>: that executable (a .js/.mjs/.cjs file is run with the current node).
//   2. <repo>/node_modules/.bin/wrangler (wrangler.cmd on Windows): the version pinned in package.json, after `npm install`.
//   3. `wrangler` on PATH.
//   4. `npx --yes wrangler@<version pinned in package.json>`.
//
// Every command runs non-interactively (stdout is captured, so wrangler sees no terminal and never prompts): the same
// behaviour at a terminal and in CI. Output meant for the operator is echoed as it arrives.
// Wrangler mixes banners ("⛅️ wrangler 4.x"), warnings and colour codes into its output even with --json, so JSON is
// taken from the output by scanning for a complete JSON value rather than by parsing the whole text.

import { spawn } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { delimiter, extname, isAbsolute, join, resolve } from "node:path";

const isWindows = process.platform === "win32";

/** Finds an executable named `name` on PATH (with PATHEXT on Windows). Returns its path or undefined. */
export function findOnPath(name, env = process.env) {
  const dirs = (env.PATH ?? env.Path ?? "").split(delimiter).filter(Boolean);
  const exts = isWindows ? (env.PATHEXT ?? ".EXE;.CMD;.BAT;.COM").split(";").filter(Boolean) : [""];
  for (const dir of dirs) {
    for (const ext of exts) {
      const candidate = join(dir, name + ext);
      try {
        if (statSync(candidate).isFile()) return candidate;
      } catch {
        // not there
      }
    }
  }
  return undefined;
}

/**
 * Decides which wrangler to run (see the rule at the top of this file).
 * Returns `{ command, prefix, shell, origin }`: run `command` with `[...prefix, ...args]`.
 */
export function resolveWrangler(root, env = process.env) {
  const override = env.ONE_BALANCE_WRANGLER;
  if (override) {
    const path = isAbsolute(override) ? override : resolve(root, override);
    if (!existsSync(path)) {
      throw new Error(`ONE_BALANCE_WRANGLER points at ${path}, which does not exist.`);
    }
    if ([".js", ".mjs", ".cjs"].includes(extname(path))) {
      return { command: process.execPath, prefix: [path], shell: false, origin: `ONE_BALANCE_WRANGLER (${path})` };
    }
    return { command: path, prefix: [], shell: isWindows, origin: `ONE_BALANCE_WRANGLER (${path})` };
  }
  const local = join(root, "node_modules", ".bin", isWindows ? "wrangler.cmd" : "wrangler");
  if (existsSync(local)) {
    return { command: local, prefix: [], shell: isWindows, origin: "node_modules/.bin/wrangler" };
  }
  const onPath = findOnPath("wrangler", env);
  if (onPath) {
    return { command: onPath, prefix: [], shell: isWindows, origin: `wrangler on PATH (${onPath})` };
  }
  const pinned = pinnedWranglerVersion(root);
  const spec = pinned ? `wrangler@${pinned}` : "wrangler";
  return { command: isWindows ? "npx.cmd" : "npx", prefix: ["--yes", spec], shell: isWindows, origin: `npx ${spec}` };
}

function pinnedWranglerVersion(root) {
  try {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    const version = pkg.devDependencies?.wrangler ?? pkg.dependencies?.wrangler;
    return typeof version === "string" && /^\d+\.\d+\.\d+$/.test(version) ? version : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs wrangler with `args`. Options: `input` (a string written to stdin, then stdin is closed; otherwise stdin is
 * empty), `echo` (copy stdout/stderr to ours as they arrive), `env` (the child's environment).
 * Resolves to `{ code, stdout, stderr, output }` (`output` = both, colour codes removed). Never rejects for a non-zero
 * exit; rejects only when wrangler cannot be started at all.
 */
export function runWrangler(wrangler, args, { cwd, env, input, echo = false } = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(wrangler.command, [...wrangler.prefix, ...args], {
      cwd,
      env,
      shell: wrangler.shell,
      stdio: ["pipe", "pipe", "pipe"],
      windowsHide: true,
    });
    let stdout = "";
    let stderr = "";
    let both = "";
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      both += chunk;
      if (echo) process.stdout.write(chunk);
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
      both += chunk;
      if (echo) process.stderr.write(chunk);
    });
    child.on("error", (error) => reject(new Error(`could not start ${wrangler.origin}: ${error.message}`)));
    child.on("close", (code, signal) => {
      resolvePromise({ code: code ?? (signal ? 128 : 1), stdout, stderr, output: stripAnsi(both) });
    });
    // A closed pipe is fine: wrangler may exit before reading stdin.
    child.stdin.on("error", () => {});
    child.stdin.end(input ?? "");
  });
}

/** Removes ANSI colour and cursor codes. */
export function stripAnsi(text) {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, "");
}

/**
 * Finds the first complete JSON object or array in `text` that parses and that `accept` accepts, skipping banners,
 * warnings and colour codes around it (a "[WARNING]" or "[code: 10007]" is not JSON and is passed over).
 * Returns undefined when there is none.
 */
export function extractJson(text, accept = () => true) {
  const clean = stripAnsi(text);
  for (let i = 0; i < clean.length; i += 1) {
    if (clean[i] !== "{" && clean[i] !== "[") continue;
    const end = matchingClose(clean, i);
    if (end === -1) continue;
    let value;
    try {
      value = JSON.parse(clean.slice(i, end + 1));
    } catch {
      continue;
    }
    if (accept(value)) return value;
  }
  return undefined;
}

// Index of the bracket that closes the one at `start`, honouring JSON strings; -1 if unbalanced.
function matchingClose(text, start) {
  const stack = [];
  let inString = false;
  for (let i = start; i < text.length; i += 1) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i += 1;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if (c === "{" || c === "[") {
      stack.push(c === "{" ? "}" : "]");
    } else if (c === "}" || c === "]") {
      if (stack.pop() !== c) return -1;
      if (stack.length === 0) return i;
    }
  }
  return -1;
}

/**
 * Reads `wrangler whoami --json` (stdout): `{ loggedIn: true, accounts: [{ id, name }] }` or `{ loggedIn: false }`.
 * Older wranglers without --json print a table; `parseWhoamiTable` reads that instead.
 */
export function parseWhoamiJson(stdout) {
  const value = extractJson(stdout, (v) => isObject(v) && typeof v.loggedIn === "boolean");
  if (!value) return undefined;
  const accounts = Array.isArray(value.accounts)
    ? value.accounts.filter((a) => isObject(a) && typeof a.id === "string").map((a) => ({ id: a.id, name: String(a.name ?? "") }))
    : [];
  return { loggedIn: value.loggedIn, accounts };
}

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Reads the account table of plain `wrangler whoami` (│ Account Name │ Account ID │). */
export function parseWhoamiTable(output) {
  const text = stripAnsi(output);
  if (/not authenticated|not logged in/i.test(text)) return { loggedIn: false, accounts: [] };
  const accounts = [];
  for (const line of text.split(/\r?\n/)) {
    const cells = line.split(/[│|]/).map((c) => c.trim()).filter(Boolean);
    const id = cells.find((c) => /^[0-9a-f]{32}$/i.test(c));
    if (id) accounts.push({ id, name: cells.filter((c) => c !== id).join(" ") });
  }
  return accounts.length ? { loggedIn: true, accounts } : undefined;
}

/** Reads `wrangler d1 list --json` (stdout) into `[{ name, uuid }]`, or undefined when it holds no such list. */
export function parseD1List(stdout) {
  const value = extractJson(
    stdout,
    (v) => Array.isArray(v) && v.every((d) => isObject(d) && typeof d.name === "string" && typeof d.uuid === "string"),
  );
  return value?.map((d) => ({ name: d.name, uuid: d.uuid }));
}

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

/**
 * Reads the new database id from `wrangler d1 create` output. Wrangler 4 prints a config snippet:
 * JSON (`"database_id": "<uuid>"`) for a .jsonc/.json config, TOML (`database_id = "<uuid>"`) for wrangler.toml.
 */
export function parseD1CreateId(output) {
  const match = new RegExp(`database_id"?\\s*[:=]\\s*"(${UUID})"`, "i").exec(stripAnsi(output));
  return match?.[1];
}

/**
 * Reads the result of `wrangler secret list --format json`: `{ exists: true, names: [...] }`, `{ exists: false }`
 * when the Worker does not exist yet, or undefined when it is neither (an error to show the operator).
 */
export function parseSecretList(result) {
  if (result.code === 0) {
    const value = extractJson(result.stdout, (v) => Array.isArray(v) && v.every((s) => isObject(s) && typeof s.name === "string"));
    return value ? { exists: true, names: value.map((s) => s.name) } : undefined;
  }
  if (/Worker "[^"]*"(?: \(env: [^)]*\))? not found|\[code: 10007\]|script_not_found/i.test(result.output)) {
    return { exists: false };
  }
  return undefined;
}

/** True when `secret put` failed because the Worker has a plain variable of that name (the original project's AUTH_KEY). */
export function isBindingNameInUse(output) {
  return /\[code: 10053\]|binding name '[^']*' already in use/i.test(stripAnsi(output));
}

/** The workers.dev URL `wrangler deploy` printed, if any. */
export function parseDeployUrl(output) {
  return /https:\/\/[A-Za-z0-9.-]+\.workers\.dev\b/.exec(stripAnsi(output))?.[0];
}
