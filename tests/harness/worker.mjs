// Runs the BUILT Worker (build/index.js + build/index_bg.wasm, from `worker-build --release`) in workerd through the
// Miniflare 4 API, on a real HTTP port on 127.0.0.1, with a fresh in-memory D1 that has every migration applied.
//
//   const w = await startWorker({ vars: { AUTH_KEY: "…" }, mock });
//   const res = await fetch(`${w.url}/health`);
//   await w.d1.all("SELECT * FROM keys WHERE provider = ?", "openai");
//   w.logs.join("\n");             // everything the Worker printed (OB_SHOW_WORKER_LOGS=1 also echoes it to stderr)
//   await w.stop();
//
// Why Miniflare and not `wrangler dev` here: it is ready in well under a second, adds far less overhead per request
// (BENCHMARKING.md), and gives direct D1 access. tests/harness/wrangler-dev.mjs covers the real wrangler path.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Miniflare } from "miniflare";
import { BUILD_DIR, listMigrations, readTemplate, splitSql, withTimeout } from "./project.mjs";

const DISPOSE_TIMEOUT_MS = 5_000;
const SCRIPT_PATH = join(BUILD_DIR, "index.js");
const WASM_PATH = join(BUILD_DIR, "index_bg.wasm");

let builtModules;
let startLock = Promise.resolve();

/**
 * The built Worker's modules, read once per test process. Reading them into memory (instead of handing Miniflare a
 * scriptPath) means a concurrent rebuild — `wrangler dev` in the smoke test runs `worker-build` — can never show a
 * half-swapped build/ to a Worker starting at that moment.
 */
function readBuild() {
  if (builtModules) return builtModules;
  let lastError;
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      builtModules = [
        { type: "ESModule", path: SCRIPT_PATH, contents: readFileSync(SCRIPT_PATH) },
        { type: "CompiledWasm", path: WASM_PATH, contents: readFileSync(WASM_PATH) },
      ];
      return builtModules;
    } catch (err) {
      lastError = err;
      if (err.code !== "ENOENT") break;
      // worker-build swaps files in with remove + rename; a missing file for a moment is expected. Busy-wait a few
      // milliseconds rather than make this function async.
      const until = Date.now() + 20;
      while (Date.now() < until);
    }
  }
  throw new Error(
    `The built Worker is missing (${lastError.message}). Build it first: \`bash scripts/test\` does, or run ` +
      "`worker-build --release` after sourcing scripts/lib/toolchain.sh.",
  );
}

/** PIDs of this process's workerd children (Linux /proc); used to clean up after a dispose that hangs. */
export function workerdChildren() {
  const pids = new Set();
  let entries = [];
  try {
    entries = readdirSync("/proc");
  } catch {
    return pids;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === process.pid && comm.startsWith("workerd")) pids.add(Number(name));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/**
 * Starts the Worker. Each call gets its own workerd, port and empty D1 database.
 *
 * @param {object} [options]
 * @param {Record<string,string>} [options.vars]  overrides the template's vars (and adds secrets such as AUTH_KEY)
 * @param {{url: string}} [options.mock]  a started mock upstream; when given and vars has no AI_GATEWAY_BASE_URL,
 *                                       AI_GATEWAY_BASE_URL is set to mock.url
 * @param {string} [options.script]  JavaScript module source to run instead of the built Worker (harness self-tests)
 * @param {string} [options.beforeMigrations]  SQL run on the empty D1 before the migrations (e.g. the original
 *                                              project's schema and rows, to test an upgrade in place)
 * @param {number} [options.isolates]  how many copies of the Worker to run on the one D1 database (default 1). Each is a
 *                                     Worker of its own in workerd, so each runs in its own isolate, as separate
 *                                     isolates of one deployment do in production; reach copy i with `isolate(i)`.
 * @param {number} [options.startTimeoutMs]
 * @returns {Promise<{ url: string, mf: Miniflare, d1: object, logs: string[], fetch: Function, isolate: Function,
 *   waitForLog: Function, dispatchScheduled: Function, stop: Function }>}
 */
export async function startWorker({ vars = {}, mock, script, beforeMigrations, isolates = 1, startTimeoutMs = 30_000 } = {}) {
  const template = readTemplate();
  const bindings = { ...template.vars };
  if (mock && vars.AI_GATEWAY_BASE_URL === undefined) bindings.AI_GATEWAY_BASE_URL = mock.url;
  Object.assign(bindings, vars);
  const d1Bindings = Object.fromEntries(
    (template.d1_databases ?? []).map((db) => [db.binding, db.database_id ?? db.database_name]),
  );
  const modules = script
    ? [{ type: "ESModule", path: join(BUILD_DIR, "harness-script.mjs"), contents: script }]
    : readBuild();

  const logs = [];
  const logWaiters = new Set();
  const echo = process.env.OB_SHOW_WORKER_LOGS === "1";
  const pushLog = (line) => {
    logs.push(line);
    if (echo) process.stderr.write(`[worker] ${line}\n`);
    for (const w of [...logWaiters]) w(line);
  };
  const captureStream = (stream, prefix) => {
    createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => pushLog(prefix + line));
  };

  // One start at a time per process, so the workerd PIDs that appear during this start are this instance's.
  const previous = startLock;
  let release;
  startLock = new Promise((resolve) => (release = resolve));
  await previous;

  let mf;
  let pids = new Set();
  try {
    const before = workerdChildren();
    const workerOptions = {
      modules,
      modulesRoot: BUILD_DIR,
      compatibilityDate: template.compatibility_date,
      compatibilityFlags: template.compatibility_flags ?? [],
      bindings,
      // The same database id in every copy: one D1 shared by all isolates.
      d1Databases: d1Bindings,
    };
    const copies = Array.from({ length: isolates }, (_, i) => ({ name: `isolate-${i}`, ...workerOptions }));
    mf = new Miniflare({
      ...(isolates === 1 ? workerOptions : { workers: copies }),
      // No persistence option: D1 lives in memory and dies with this instance.
      host: "127.0.0.1",
      port: 0,
      cf: false, // never download Request.cf from workers.cloudflare.com
      handleRuntimeStdio(stdout, stderr) {
        captureStream(stdout, "");
        captureStream(stderr, "");
      },
    });
    let url;
    try {
      url = await withTimeout(mf.ready, startTimeoutMs, "Miniflare did not become ready");
    } finally {
      for (const pid of workerdChildren()) if (!before.has(pid)) pids.add(pid);
    }

    const db = await mf.getD1Database(Object.keys(d1Bindings)[0] ?? "DB");
    const upgradeFrom = beforeMigrations ? splitSql(beforeMigrations) : [];
    if (upgradeFrom.length > 0) await db.batch(upgradeFrom.map((sql) => db.prepare(sql)));
    for (const file of listMigrations()) {
      const statements = splitSql(readFileSync(file, "utf8"));
      if (statements.length > 0) await db.batch(statements.map((sql) => db.prepare(sql)));
    }

    const base = url.href.replace(/\/$/, "");
    let stopped;
    const worker = {
      url: base,
      mf,
      logs,
      d1: {
        /** Runs a SQL script (any number of statements) atomically. */
        async exec(sql) {
          const statements = splitSql(sql);
          if (statements.length > 0) await db.batch(statements.map((s) => db.prepare(s)));
        },
        /** All rows of one statement. */
        async all(sql, ...binds) {
          return (await db.prepare(sql).bind(...binds).all()).results;
        },
        /** The first row of one statement, or null. */
        async first(sql, ...binds) {
          return db.prepare(sql).bind(...binds).first();
        },
        /** Runs one statement; returns D1's meta (changes, last_row_id, …). */
        async run(sql, ...binds) {
          return (await db.prepare(sql).bind(...binds).run()).meta;
        },
        /** The D1Database itself (Miniflare's proxy), for anything else. */
        raw: db,
      },
      /** `fetch` relative to the Worker's URL: `w.fetch("/health")` (with several isolates: the first one). */
      fetch(path, init) {
        return fetch(base + path, init);
      },
      /** Copy `i` of the Worker (its own isolate): `{ fetch(path, init) }`, like `fetch` above. */
      isolate(i) {
        if (isolates === 1) return { fetch: (path, init) => fetch(base + path, init) };
        return {
          async fetch(path, init) {
            const fetcher = await mf.getWorker(`isolate-${i}`);
            return fetcher.fetch(`http://127.0.0.1${path}`, init);
          },
        };
      },
      /** Resolves with the first log line (already seen or future) matching `pattern` (RegExp or substring). */
      waitForLog(pattern, { timeoutMs = 5_000 } = {}) {
        const matches = (line) => (pattern instanceof RegExp ? pattern.test(line) : line.includes(pattern));
        const seen = logs.find(matches);
        if (seen !== undefined) return Promise.resolve(seen);
        let waiter;
        const found = new Promise((resolve) => {
          waiter = (line) => matches(line) && resolve(line);
          logWaiters.add(waiter);
        });
        return withTimeout(found, timeoutMs, `no Worker log line matched ${pattern}`).finally(() =>
          logWaiters.delete(waiter),
        );
      },
      /** Runs the Worker's scheduled handler once; resolves with `{ outcome, noRetry }`. */
      async dispatchScheduled({ cron = "* * * * *", scheduledTime = new Date() } = {}) {
        const fetcher = await mf.getWorker();
        return fetcher.scheduled({ cron, scheduledTime });
      },
      /** Disposes Miniflare; if that hangs, kills this instance's workerd. Never rejects, never hangs. */
      stop() {
        stopped ??= disposeOrKill(mf, pids);
        return stopped;
      },
    };
    return worker;
  } catch (err) {
    if (mf) await disposeOrKill(mf, pids);
    const tail = logs.slice(-30).join("\n");
    err.message += tail ? `\n--- workerd output ---\n${tail}` : "";
    throw err;
  } finally {
    release();
  }
}

async function disposeOrKill(mf, pids) {
  const disposed = await withTimeout(mf.dispose().then(() => true), DISPOSE_TIMEOUT_MS, "dispose").catch(() => false);
  if (disposed) return;
  // TOOLCHAIN.md: dispose() can hang after a failed start. Kill what it left behind.
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}
