// The benchmark driver (run by scripts/bench after the release build). Everything listens on 127.0.0.1 only.
//
// Runs, in one sitting and on the same machine:
//   - nginx as the fast mock upstream (bench/nginx.conf.tpl) and a small Node SSE server (bench/sse-server.mjs);
//   - bare `workerd serve` (the binary from node_modules/workerd, one process per target, capnp configs written to
//     bench/out/) with the trivial proxy (bench/proxy-worker.mjs), the plain-JS floor (bench/js-floor-worker.mjs:
//     the runtime work one-balance must do, without policy) and one-balance (build/index.js + index_bg.wasm,
//     entered through bench/ob-entry.mjs, which supplies and counts D1);
//   - `oha` closed-loop keep-alive load, targets alternating inside each repetition, a warm-up before each run;
//   - the scale section: one provider with 1,000 / 100,000 / 1,000,000 keys seeded in SQL inside the D1 stand-in —
//     the cold isolate's first request (CPU with and without the stand-in's own SQLite work), memory, D1 rows read by
//     the pool load, the change-feed polls, the usage flush and the admin views (`measureScale`);
// and writes the figures to stdout and to bench/results.md.
//
// Environment: BENCH_QUICK=1 (one repetition, short runs), OHA (path of oha), BENCH_SECONDS / BENCH_WARMUP_SECONDS /
// BENCH_REPS (override), BENCH_CRITERION_DIR (criterion output to include; scripts/bench sets it), BENCH_COLD_RESTARTS
// (restarts per target for the cold start, default 10),
//   BENCH_ORIGINAL_DIR: a folder holding the ORIGINAL TypeScript Worker (glidea/one-balance) built to one module,
//     `index.js`, and its drizzle migration(s) `*.sql` (bench/notes.md says how; never committed here): adds the
//     target "original" (10 keys) to every section; skipped when unset;
//   BENCH_SCALE_ONLY=1: only the scale section, which replaces the section of that name in bench/results.md;
//     BENCH_SCALE_SIZES (comma-separated key counts; default 1000,100000,1000000, with BENCH_QUICK 1000,100000),
//     BENCH_SCALE_ROUNDS (cold rounds per size, default 7, quick 3), BENCH_SCALE_LOAD_SECONDS (default 30, quick 12),
//     BENCH_SCALE_KEEP=1 (keep each size's database in bench/out/ instead of deleting it);
//   BENCH_BASELINE_BUILD_DIR: the build/ folder of a second one-balance build (another commit), measured as
//     "one-balance (baseline build)" with 10 keys next to this one; its migrations are taken from
//     BENCH_BASELINE_MIGRATIONS_DIR, else from the folder beside it (../migrations);
//   BENCH_D1_LATENCY_MS: a network hop to D1 for every target, waited before each statement or batch by the D1
//     stand-in (default 0: the stand-in is in the same process); shows what a D1 round trip costs a request.
import { spawn, spawnSync, execFileSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { request as httpRequest, Agent } from "node:http";
import { connect as netConnect, createServer } from "node:net";
import { cpus, loadavg, totalmem } from "node:os";
import { join, relative } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { BUILD_DIR as DEFAULT_BUILD_DIR, ROOT, listMigrations, readTemplate, splitSql } from "../tests/harness/project.mjs";
import { conversionMarkdown, measureConversion } from "./conversion.mjs";

const BUILD_DIR = process.env.BENCH_BUILD_DIR || DEFAULT_BUILD_DIR;
const ORIGINAL_DIR = process.env.BENCH_ORIGINAL_DIR || "";
const BASELINE_BUILD_DIR = process.env.BENCH_BASELINE_BUILD_DIR || "";
const BASELINE_MIGRATIONS_DIR = process.env.BENCH_BASELINE_MIGRATIONS_DIR || (BASELINE_BUILD_DIR ? join(BASELINE_BUILD_DIR, "..", "migrations") : "");
// The smallest workers-rs Worker (bench/empty-worker, built by scripts/bench): measured in the cold-start section.
const EMPTY_RS_BUILD_DIR = process.env.BENCH_EMPTY_RS_BUILD_DIR || join(ROOT, "bench", "empty-worker", "build");
// Bindings that give each target's D1 stand-in the latency asked for (none by default).
const D1_LATENCY_BINDINGS = process.env.BENCH_D1_LATENCY_MS ? [["BENCH_D1_LATENCY_MS", process.env.BENCH_D1_LATENCY_MS]] : [];
const COLD_RESTARTS = Number(process.env.BENCH_COLD_RESTARTS ?? (process.env.BENCH_QUICK === "1" ? 3 : 10));
const BIG_BODY_BYTES = 100 * 1024;
const BIG_BODY_CONCURRENCY = 8;
const ROTATION_COST_CONCURRENCY = 8;

const QUICK = process.env.BENCH_QUICK === "1";
const SECONDS = Number(process.env.BENCH_SECONDS ?? (QUICK ? 2 : 5));
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? (QUICK ? 1 : 2));
const REPS = Number(process.env.BENCH_REPS ?? (QUICK ? 1 : 3));
const CONCURRENCY = [1, 8, 32];
const ROTATION_CONCURRENCY = [8, 32];
const SSE_REQUESTS = QUICK ? 5 : 15;
const SSE_CHUNKS = 6;
const SSE_SPACING_MS = 50;
const SSE_FIRST_MS = 20;
const OHA = process.env.OHA || "oha";
const WORKERD = join(ROOT, "node_modules", "workerd", "bin", "workerd");
const OUT = join(ROOT, "bench", "out");
const RESULTS = join(ROOT, "bench", "results.md");
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;

const PROVIDER = "google-ai-studio";
const MODEL = "gemini-2.5-flash";
const UPSTREAM_PATH = `/${PROVIDER}/v1beta/models/${MODEL}:generateContent`;
const OB_PATH = `/api${UPSTREAM_PATH}`;
const SSE_UPSTREAM_PATH = `/${PROVIDER}/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`;
const SERVICE_KEY = "bench-service-key-0123456789abcdef";
// A few definitions, as a real deployment has; the bench key is the unrestricted one.
const AUTH_KEY = `bench-openai-only-0123456789=openai;bench-gemini-pro-only-0123456789=${PROVIDER},gemini-2.5-pro;${SERVICE_KEY}`;
const RL_KEY = "bench-key-rate-limited";
const BODY = JSON.stringify({ contents: [{ role: "user", parts: [{ text: "Say hello in five words." }] }] });
const FAR_FUTURE_S = 4_102_444_800; // 2100-01-01

const children = [];
const log = (...a) => console.log(...a);

// ---------------------------------------------------------------------------------------------------------------
// processes

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function start(name, cmd, args, opts = {}) {
  // The child writes straight into its log file, never into a pipe: oha runs synchronously (execFileSync), so a pipe
  // would not be drained while it runs, and a Worker that logs per request (the original does) would block on it.
  const logFile = join(OUT, `${name}.log`);
  const fd = openSync(logFile, "w");
  const child = spawn(cmd, args, { detached: true, stdio: ["ignore", fd, fd], ...opts });
  closeSync(fd);
  const entry = {
    name,
    child,
    pgid: child.pid,
    get lines() {
      try {
        return [readFileSync(logFile, "utf8").slice(-4000)];
      } catch {
        return [];
      }
    },
  };
  children.push(entry);
  return entry;
}

async function stopProcess(entry) {
  if (entry.child.exitCode !== null || entry.child.signalCode !== null) return;
  const exited = new Promise((resolve) => entry.child.once("exit", resolve));
  try {
    process.kill(-entry.pgid, "SIGTERM");
  } catch {
    /* gone */
  }
  const done = await Promise.race([exited.then(() => true), sleep(3_000).then(() => false)]);
  if (!done) {
    try {
      process.kill(-entry.pgid, "SIGKILL");
    } catch {
      /* gone */
    }
    await Promise.race([exited, sleep(2_000)]);
  }
  children.splice(children.indexOf(entry), 1);
}

async function stopAll() {
  for (const c of [...children].reverse()) await stopProcess(c);
}

/** utime+stime (seconds) of every process in the group. */
function groupCpuSeconds(pgid) {
  let ticks = 0;
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // after "(comm) ": state=0 ppid=1 pgrp=2 … utime=11 stime=12
      if (Number(f[2]) === pgid) ticks += Number(f[11]) + Number(f[12]);
    } catch {
      /* ended */
    }
  }
  return ticks / CLK_TCK;
}

function httpCall(url, { method = "GET", headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers, agent: false }, (res) => {
      const parts = [];
      res.on("data", (d) => parts.push(d));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(parts).toString() }));
    });
    req.on("error", reject);
    req.setTimeout(60_000, () => req.destroy(new Error(`timeout ${url}`)));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

async function waitReady(url, entry, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  let last;
  while (Date.now() < until) {
    if (entry.child.exitCode !== null) break;
    try {
      return await httpCall(url);
    } catch (e) {
      last = e;
    }
    await sleep(50);
  }
  throw new Error(`${entry.name} did not answer ${url}: ${last?.message}\n${entry.lines.join("").slice(-3000)}`);
}

// ---------------------------------------------------------------------------------------------------------------
// workerd configs

const capStr = (s) => JSON.stringify(String(s));

function workerdConfig({ dir, port, workers, v8Flags = [] }) {
  // workers: [{ name, socketPort, modules: [{name, file, type}], bindings: [[name, capnpValue]], d1: bool }]
  const services = [`(name = "internet", network = (allow = ["public", "private", "local"]))`];
  const sockets = [];
  const defs = [];
  for (const w of workers) {
    services.push(`(name = ${capStr(w.name)}, worker = .w${w.name})`);
    sockets.push(`(name = ${capStr(`http-${w.name}`)}, address = ${capStr(`127.0.0.1:${w.port}`)}, http = (), service = ${capStr(w.name)})`);
    const modules = w.modules.map((m) => `(name = ${capStr(m.name)}, ${m.type} = embed ${capStr(relative(dir, m.file))})`);
    const bindings = w.bindings.map(([name, value]) => `(name = ${capStr(name)}, text = ${capStr(value)})`);
    let extra = "";
    if (w.d1) {
      const disk = join(dir, `do-${w.name}`);
      mkdirSync(disk, { recursive: true });
      services.push(`(name = ${capStr(`disk-${w.name}`)}, disk = (path = ${capStr(disk)}, writable = true))`);
      bindings.push(`(name = "D1STORE", durableObjectNamespace = (className = "D1Store"))`);
      extra = `durableObjectNamespaces = [(className = "D1Store", uniqueKey = ${capStr(`bench-d1-${w.name}`)}, enableSql = true)],
    durableObjectStorage = (localDisk = ${capStr(`disk-${w.name}`)}),`;
    }
    defs.push(`const w${w.name} :Workerd.Worker = (
    modules = [${modules.join(", ")}],
    compatibilityDate = ${capStr(w.compatibilityDate)},
    compatibilityFlags = [${(w.compatibilityFlags ?? []).map(capStr).join(", ")}],
    bindings = [${bindings.join(",\n      ")}],
    ${extra}
    globalOutbound = "internet",
  );`);
  }
  void port;
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (${v8Flags.length ? `\n  v8Flags = [${v8Flags.map(capStr).join(", ")}],` : ""}
  services = [${services.join(",\n    ")}],
  sockets = [${sockets.join(",\n    ")}],
);
${defs.join("\n")}
`;
}

async function startWorkerd(name, workers) {
  const dir = join(OUT, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const w of workers) w.port ??= await freePort();
  const file = join(dir, "config.capnp");
  writeFileSync(file, workerdConfig({ dir, workers }));
  const entry = start(name, WORKERD, ["serve", file, "--experimental"], { cwd: dir });
  for (const w of workers) await waitReady(`http://127.0.0.1:${w.port}/__ready`, entry);
  entry.workers = workers;
  entry.port = workers[0].port;
  return entry;
}

/** Restarts a target on its existing config and Durable Object storage (a cold isolate, the same D1 data). */
async function startWorkerdKeepingDisk(name, workers) {
  const dir = join(OUT, name);
  const entry = start(name, WORKERD, ["serve", join(dir, "config.capnp"), "--experimental"], { cwd: dir });
  const port = Number(readFileSync(join(dir, "config.capnp"), "utf8").match(/127\.0\.0\.1:(\d+)/)[1]);
  await waitReady(`http://127.0.0.1:${port}/__ready`, entry);
  entry.workers = workers;
  entry.port = port;
  entry.base = `http://127.0.0.1:${port}`;
  return entry;
}

function proxyWorker(name, upstream) {
  return {
    name,
    compatibilityDate: readTemplate().compatibility_date,
    modules: [{ name: "proxy-worker.mjs", file: join(ROOT, "bench", "proxy-worker.mjs"), type: "esModule" }],
    bindings: [["UPSTREAM", upstream]],
  };
}

function floorWorker(name, upstream) {
  return {
    name,
    d1: true,
    compatibilityDate: readTemplate().compatibility_date,
    modules: [
      { name: "floor-entry.mjs", file: join(ROOT, "bench", "floor-entry.mjs"), type: "esModule" },
      { name: "d1-standin.mjs", file: join(ROOT, "bench", "d1-standin.mjs"), type: "esModule" },
      { name: "js-floor-worker.mjs", file: join(ROOT, "bench", "js-floor-worker.mjs"), type: "esModule" },
    ],
    bindings: [["UPSTREAM", upstream], ["SERVICE_KEY", SERVICE_KEY], ["POOL_KEY", "bench-key-0000001"], ["PROVIDER", PROVIDER], ...D1_LATENCY_BINDINGS],
  };
}

function obWorker(name, upstream, { buildDir = BUILD_DIR, vars: extraVars = {} } = {}) {
  const template = readTemplate();
  const vars = { ...template.vars, AUTH_KEY, AI_GATEWAY_BASE_URL: upstream, ...extraVars };
  return {
    name,
    d1: true,
    compatibilityDate: template.compatibility_date,
    compatibilityFlags: template.compatibility_flags ?? [],
    modules: [
      { name: "ob-entry.mjs", file: join(ROOT, "bench", "ob-entry.mjs"), type: "esModule" },
      { name: "wasm-memory.mjs", file: join(ROOT, "bench", "wasm-memory.mjs"), type: "esModule" },
      { name: "d1-standin.mjs", file: join(ROOT, "bench", "d1-standin.mjs"), type: "esModule" },
      { name: "index.js", file: join(buildDir, "index.js"), type: "esModule" },
      { name: "index_bg.wasm", file: join(buildDir, "index_bg.wasm"), type: "wasm" },
    ],
    bindings: [...Object.entries(vars).map(([k, v]) => [k, String(v)]), ...D1_LATENCY_BINDINGS],
  };
}

/** The original TypeScript Worker's bundle (BENCH_ORIGINAL_DIR/index.js) behind bench/original-entry.mjs. */
function originalWorker(name, upstream) {
  return {
    name,
    d1: true,
    compatibilityDate: readTemplate().compatibility_date,
    modules: [
      { name: "original-entry.mjs", file: join(ROOT, "bench", "original-entry.mjs"), type: "esModule" },
      { name: "d1-standin.mjs", file: join(ROOT, "bench", "d1-standin.mjs"), type: "esModule" },
      { name: "original.js", file: join(ORIGINAL_DIR, "index.js"), type: "esModule" },
    ],
    // The original's own vars (its wrangler.jsonc.tpl), with the bench's AUTH_KEY; UPSTREAM feeds the AI stand-in.
    bindings: [["AUTH_KEY", AUTH_KEY], ["AI_GATEWAY", "one-balance"], ["CONSECUTIVE_429_THRESHOLD", "2"], ["UPSTREAM", upstream], ...D1_LATENCY_BINDINGS],
  };
}

/** Migration files of each kind of target: this build's, the baseline build's, the original's (drizzle). */
function migrationsOf(kind) {
  if (kind === "original") return sqlFilesIn(ORIGINAL_DIR);
  if (kind === "baseline") return sqlFilesIn(BASELINE_MIGRATIONS_DIR);
  return listMigrations();
}
function sqlFilesIn(dir) {
  const files = readdirSync(dir).filter((n) => n.endsWith(".sql")).sort().map((n) => join(dir, n));
  if (!files.length) throw new Error(`no *.sql migration in ${dir}`);
  return files;
}

// ---------------------------------------------------------------------------------------------------------------
// D1 seeding

async function sql(base, statements) {
  const res = await httpCall(`${base}/__bench/sql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(statements),
  });
  if (res.status !== 200) throw new Error(`bench SQL failed (${res.status}): ${res.body.slice(0, 2000)}`);
  return JSON.parse(res.body);
}

async function migrate(base, kind = "ob") {
  for (const file of migrationsOf(kind)) await sql(base, splitSql(readFileSync(file, "utf8")));
}

/** Inserts `count` keys with SQL, 10,000 rows per statement; `coolingEvery`: every n-th key cools for MODEL. */
async function seedKeys(base, count, { coolingEvery = 0, extraKeys = [] } = {}) {
  const cooling = JSON.stringify({ [MODEL]: { end_at: FAR_FUTURE_S, total_seconds: 0, streak: 0 } });
  const batch = 10_000;
  const statements = [];
  for (let from = 1; from <= count; from += batch) {
    const to = Math.min(count, from + batch - 1);
    statements.push(
      `WITH RECURSIVE n(i) AS (SELECT ${from} UNION ALL SELECT i + 1 FROM n WHERE i < ${to})
       INSERT INTO keys (id, key, provider, model_coolings, status)
       SELECT printf('%08x-0000-4000-8000-%012x', i, i), printf('bench-key-%07d', i), '${PROVIDER}',
              ${coolingEvery > 0 ? `CASE WHEN i % ${coolingEvery} = 0 THEN '${cooling}' END` : "NULL"}, 'active' FROM n`,
    );
  }
  for (const [i, key] of extraKeys.entries()) {
    statements.push(`INSERT INTO keys (id, key, provider, status) VALUES ('ffffffff-0000-4000-8000-${String(i).padStart(12, "0")}', '${key}', '${PROVIDER}', 'active')`);
  }
  for (let i = 0; i < statements.length; i += 5) await sql(base, statements.slice(i, i + 5));
  const check = await sql(base, [`SELECT count(*) AS n FROM keys WHERE provider = '${PROVIDER}'`]);
  return check.last[0].n;
}

// ---------------------------------------------------------------------------------------------------------------
// load

function oha(url, seconds, concurrency, headers = {}, bodyFile = null) {
  const args = ["-z", `${seconds}s`, "-c", String(concurrency), "-w", "--no-tui", "--output-format", "json", "-m", "POST"];
  for (const [k, v] of Object.entries({ "content-type": "application/json", ...headers })) args.push("-H", `${k}: ${v}`);
  if (bodyFile) args.push("-D", bodyFile, url);
  else args.push("-d", BODY, url);
  const out = execFileSync(OHA, args, { maxBuffer: 64 * 1024 * 1024, timeout: (seconds + 60) * 1000 }).toString();
  const j = JSON.parse(out);
  const pct = j.latencyPercentiles ?? {};
  const statuses = j.statusCodeDistribution ?? {};
  const answers = Object.values(statuses).reduce((a, b) => a + b, 0);
  const errors = Object.values(j.errorDistribution ?? {}).reduce((a, b) => a + b, 0);
  return {
    p50: pct.p50 * 1000,
    p90: pct.p90 * 1000,
    p99: pct.p99 * 1000,
    rps: j.summary.requestsPerSec,
    answers,
    statuses,
    errors,
    errorKinds: j.errorDistribution ?? {},
  };
}

/** Lines nginx logged so far, by status. */
function nginxCounts(file) {
  const counts = { total: 0 };
  if (!existsSync(file)) return counts;
  const text = readFileSync(file, "utf8");
  for (const line of text.split("\n")) {
    if (!line) continue;
    counts.total++;
    counts[line] = (counts[line] ?? 0) + 1;
  }
  return counts;
}

async function d1Counts(base, reset = false) {
  const res = await httpCall(`${base}/__bench/d1${reset ? "/reset" : ""}`);
  return JSON.parse(res.body);
}

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// ---------------------------------------------------------------------------------------------------------------
// streaming

function sseOnce(url, headers, body) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;
    const req = httpRequest(url, { method: "POST", headers: { ...headers, "content-length": Buffer.byteLength(body) }, agent: sseAgent }, (res) => {
      const headersMs = ms();
      const chunks = [];
      let buffered = "";
      res.on("data", (d) => {
        const at = ms();
        buffered += d.toString();
        // count complete SSE events in this read
        let idx;
        while ((idx = buffered.indexOf("\r\n\r\n")) !== -1) {
          buffered = buffered.slice(idx + 4);
          chunks.push(at);
        }
      });
      res.on("end", () => resolve({ status: res.statusCode, headersMs, chunks }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}
const sseAgent = new Agent({ keepAlive: true, maxSockets: 1 });

/** The cold-start section: a fresh workerd process per measurement, targets alternating. */
async function measureColdStarts(extraVariants, mockBase) {
  log(`== cold start: ${COLD_RESTARTS} restarts per target, alternating (process start → port open → first 200)`);
  const coldTargets = [
    { id: "proxy", worker: (n) => proxyWorker(n, mockBase), path: UPSTREAM_PATH },
    { id: "floor", kind: "ob", worker: (n) => floorWorker(n, mockBase), path: OB_PATH },
    { id: "ob10", kind: "ob", worker: (n) => obWorker(n, mockBase), path: OB_PATH },
    ...extraVariants.map((v) => ({ id: v.id, kind: v.kind, worker: (n) => v.worker(n, mockBase), path: OB_PATH })),
    // What the runtime allows Rust in wasm: one-balance's own wasm answering `GET /health` (the same module to compile
    // and instantiate, almost none of its code run), and the smallest workers-rs Worker (bench/empty-worker).
    { id: "obhealth", kind: "ob", worker: (n) => obWorker(n, mockBase), path: "/health", method: "GET" },
    ...(existsSync(join(EMPTY_RS_BUILD_DIR, "index_bg.wasm")) ? [{ id: "emptyrs", kind: "ob", worker: (n) => obWorker(n, mockBase, { buildDir: EMPTY_RS_BUILD_DIR }), path: "/", method: "GET" }] : []),
  ];
  for (const t of coldTargets) {
    // Seed once (the D1 stand-in's storage stays on disk), then stop: every measurement starts a new process.
    const proc = await startWorkerd(`cold-${t.id}`, [t.worker(`cold${t.id}`)]);
    t.port = proc.port;
    if (t.kind) {
      await migrate(`http://127.0.0.1:${proc.port}`, t.kind);
      await seedKeys(`http://127.0.0.1:${proc.port}`, 10);
    }
    await stopProcess(proc);
    t.runs = [];
  }
  for (let round = 1; round <= COLD_RESTARTS; round++) {
    for (const t of coldTargets) {
      const r = await coldStart(`cold-${t.id}`, t.port, t.path, t.method);
      t.runs.push(r);
    }
    log(`   round ${round}: ${coldTargets.map((t) => `${t.id} ${f(t.runs.at(-1).toFirst200, 1)} (${f(t.runs.at(-1).firstRequest, 1)})`).join(", ")} ms`);
  }
  const coldSummary = Object.fromEntries(
    coldTargets.map((t) => [
      t.id,
      {
        portOpen: median(t.runs.map((r) => r.portOpen)),
        firstRequest: median(t.runs.map((r) => r.firstRequest)),
        toFirst200: median(t.runs.map((r) => r.toFirst200)),
        cpu: median(t.runs.map((r) => r.cpuMs)),
        range: [Math.min(...t.runs.map((r) => r.toFirst200)), Math.max(...t.runs.map((r) => r.toFirst200))],
      },
    ]),
  );
  return { coldTargets, coldSummary };
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function canConnect(port) {
  return new Promise((resolve) => {
    const socket = netConnect({ host: "127.0.0.1", port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

/**
 * Starts the named target's workerd on its existing config and times: process start → its port accepts, the first
 * request from then (a POST with the bench body, its own connection), and the two together; plus the process group's
 * CPU up to the answer (10 ms ticks). Stops the process after.
 */
async function coldStart(name, port, path, method = "POST") {
  const dir = join(OUT, name);
  const t0 = performance.now();
  const entry = start(name, WORKERD, ["serve", join(dir, "config.capnp"), "--experimental"], { cwd: dir });
  try {
    while (!(await canConnect(port))) {
      if (entry.child.exitCode !== null) throw new Error(`${name} exited: ${entry.lines.join("").slice(-2000)}`);
      if (performance.now() - t0 > 30_000) throw new Error(`${name}: port ${port} not open after 30 s`);
      await sleep(1);
    }
    const tOpen = performance.now();
    const r = await httpCall(`http://127.0.0.1:${port}${path}`, method === "POST" ? { method, headers: { "content-type": "application/json", "x-goog-api-key": SERVICE_KEY }, body: BODY } : { method });
    const tEnd = performance.now();
    const cpuMs = groupCpuSeconds(entry.pgid) * 1000;
    if (r.status !== 200) throw new Error(`${name}: first request answered ${r.status}: ${r.body.slice(0, 300)}`);
    return { portOpen: tOpen - t0, firstRequest: tEnd - tOpen, toFirst200: tEnd - t0, cpuMs };
  } finally {
    await stopProcess(entry);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// V8 CPU profile through workerd's inspector

/** Profiles target `id` ("proxy" or one-balance with 10 keys) under `oha -c concurrency` for `seconds`. */
async function profileTarget(id, mockBase, seconds, concurrency) {
  const inspectorPort = await freePort();
  const worker = id === "proxy" ? proxyWorker("pproxy", mockBase) : obWorker("pob", mockBase);
  const dir = join(OUT, `profile-${id}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  worker.port = await freePort();
  writeFileSync(join(dir, "config.capnp"), workerdConfig({ dir, workers: [worker] }));
  const proc = start(`profile-${id}`, WORKERD, ["serve", join(dir, "config.capnp"), "--experimental", `--inspector-addr=127.0.0.1:${inspectorPort}`], { cwd: dir });
  try {
    const base = `http://127.0.0.1:${worker.port}`;
    await waitReady(`${base}/__ready`, proc);
    const url = id === "proxy" ? base + UPSTREAM_PATH : base + OB_PATH;
    if (id !== "proxy") {
      await migrate(base);
      await seedKeys(base, 10);
    }
    oha(url, 2, concurrency, { "x-goog-api-key": SERVICE_KEY });
    const list = JSON.parse((await httpCall(`http://127.0.0.1:${inspectorPort}/json/list`)).body);
    const ws = new WebSocket(list[0].webSocketDebuggerUrl);
    await new Promise((resolve, reject) => ((ws.onopen = resolve), (ws.onerror = reject)));
    let nextId = 1;
    const pending = new Map();
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg.id && pending.has(msg.id)) pending.get(msg.id)(msg);
    };
    const send = (method, params = {}) =>
      new Promise((resolve) => {
        const mid = nextId++;
        pending.set(mid, resolve);
        ws.send(JSON.stringify({ id: mid, method, params }));
      });
    await send("Profiler.enable");
    await send("Profiler.setSamplingInterval", { interval: 100 });
    await send("Profiler.start");
    const cpu0 = groupCpuSeconds(proc.pgid);
    const r = oha(url, seconds, concurrency, { "x-goog-api-key": SERVICE_KEY });
    const cpuMs = (groupCpuSeconds(proc.pgid) - cpu0) * 1000;
    const { result } = await send("Profiler.stop");
    ws.close();
    const profile = result.profile;
    writeFileSync(join(OUT, `profile-${id}.cpuprofile`), JSON.stringify(profile));
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const self = new Map();
    profile.samples.forEach((nid, i) => {
      const cf = byId.get(nid).callFrame;
      const where = cf.url ? `${cf.url.split("/").pop()}` : "";
      const key = `${cf.functionName || "(anonymous)"}${where ? ` (${where})` : ""}`;
      self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
    });
    const sampled = [...self.values()].reduce((a, b) => a + b, 0);
    const busy = sampled - (self.get("(idle)") ?? 0);
    const rows = [...self.entries()]
      .filter(([k]) => k !== "(idle)")
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => [f((100 * v) / busy, 1) + " %", f(v / r.answers, 1), `\`${k.slice(0, 90).replaceAll("|", "/")}\``]);
    log(`== profile of ${id}: ${r.answers} answers in ${seconds} s at c=${concurrency}; workerd CPU ${f(cpuMs / r.answers, 3)} ms/answer under the profiler`);
    return { id, answers: r.answers, cpuPerAnswer: cpuMs / r.answers, rows };
  } finally {
    await stopProcess(proc);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// scale: one provider (google-ai-studio) with 1,000 / 100,000 / 1,000,000 keys

const SCALE_SIZES = (process.env.BENCH_SCALE_SIZES ?? (QUICK ? "1000,100000" : "1000,100000,1000000")).split(",").map(Number);
const SCALE_ROUNDS = Number(process.env.BENCH_SCALE_ROUNDS ?? (QUICK ? 3 : 7));
const SCALE_LOAD_SECONDS = Number(process.env.BENCH_SCALE_LOAD_SECONDS ?? (QUICK ? 12 : 60)); // 60: one minute's look at the removals
const SCALE_LOAD_CONCURRENCY = 8;
const SCALE_SEED_ROWS_PER_STATEMENT = 10_000;
const SCALE_SEED_STATEMENTS_PER_CALL = 10;
const SCALE_SEED_LIMIT_MS = 20 * 60 * 1000; // per size
const SCALE_PASTE = 10_000; // keys added by one admin request: they share one created_at
const SCALE_CPU_BUDGET_MS = 10;
const SCALE_ROWS_BUDGET = 1_000; // rows read per isolate-hour
const SCALE_MINUTE_LOOKS_PER_HOUR = 60; // src/edge/proxy/sql/poll.sql: a minute's first poll also reads the removals' index

/** CPU time (ms, from /proc/<pid>/task/<tid>/schedstat: nanoseconds) of a process: all its threads, and its main thread. */
function threadCpuMs(pid) {
  let all = 0;
  let main = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      all += ns;
      if (tid === String(pid)) main = ns;
    } catch {
      /* the thread ended */
    }
  }
  return { all: all / 1e6, main: main / 1e6 };
}

/** Resident set size of a process, MB (VmRSS). */
function rssMb(pid) {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Waits (≤ 3 s) until a process uses less than 0.3 ms of CPU per 100 ms: the start-up's background work is over. */
async function waitQuiet(pid) {
  for (let i = 0; i < 30; i++) {
    const a = threadCpuMs(pid).all;
    await sleep(100);
    if (threadCpuMs(pid).all - a < 0.3) return;
  }
}

/**
 * The scale seeding, in SQL inside the D1 stand-in (the real schema is migrated first): `count` keys of one provider
 * with uuid-like ids (a bijective hash of the row number, so ids are spread over the id space as random v4 uuids are)
 * and 39-character Gemini-like key strings; added in pastes of 10,000 keys that share a `created_at` an hour apart
 * (what the admin API's add does); 2 % blocked (a re-check scheduled), 5 % cooling for the bench's model (up to an
 * hour), 1 % exhausted (cooling for every model for a day), 22 % with a cooldown that has ended, the rest never
 * cooled; every fourth key with a `key_usage` row. Every `updated_at` is at least two minutes old.
 */
async function seedScale(base, count, nowS) {
  const pastes = Math.ceil(count / SCALE_PASTE);
  const statements = [];
  for (let from = 1; from <= count; from += SCALE_SEED_ROWS_PER_STATEMENT) {
    const to = Math.min(count, from + SCALE_SEED_ROWS_PER_STATEMENT - 1);
    statements.push(`WITH RECURSIVE n(i) AS (SELECT ${from} UNION ALL SELECT i + 1 FROM n WHERE i < ${to}),
      r AS (SELECT i, i % 100 AS kind, (i * 2654435761) & 4294967295 AS h1, (i * 40503) & 65535 AS h2, (i * 69069 + 12345) & 4095 AS h3,
                   (i * 1103515245 + 12345) & 4095 AS h4, (i * 2246822519) & 281474976710655 AS h5, (i * 3266489917) & 4294967295 AS h6,
                   ${nowS} - (${pastes} - (i - 1) / ${SCALE_PASTE}) * 3600 AS created FROM n),
      c AS (SELECT *, CASE WHEN kind BETWEEN 2 AND 6 THEN ${nowS} + 300 + i % 3300 WHEN kind = 7 THEN ${nowS} + 86400 - i % 3600
                           WHEN kind BETWEEN 8 AND 29 THEN ${nowS} - 3600 - i % 86400 ELSE 0 END AS end_at FROM r)
      INSERT INTO keys (id, key, provider, model_coolings, total_cooling_seconds, status, remark, created_at, updated_at,
                        check_after, check_failures, last_checked_at, last_check_result, cooling_until)
      SELECT printf('%08x-%04x-4%03x-%x%03x-%012x', h1, h2, h3, 8 + i % 4, h4, h5),
             printf('AIzaSy%08x%08x%08x%09d', h6, h1, h5 & 4294967295, i), '${PROVIDER}',
             CASE WHEN kind = 7 THEN json_object('*', json_object('end_at', end_at, 'total_seconds', 86400, 'streak', 0))
                  WHEN end_at > 0 THEN json_object('${MODEL}', json_object('end_at', end_at, 'total_seconds', 60 + i % 600, 'streak', kind < 8))
                  ELSE '{}' END,
             CASE WHEN kind = 7 THEN 86400 WHEN end_at > 0 THEN 60 + i % 600 ELSE 0 END,
             CASE WHEN kind < 2 THEN 'blocked' ELSE 'active' END,
             'import ' || ((i - 1) / ${SCALE_PASTE} + 1), created,
             CASE WHEN end_at > 0 THEN max(created, ${nowS} - 120 - i % 3600) ELSE created END,
             CASE WHEN kind < 2 THEN ${nowS} + i % 86400 WHEN kind = 7 THEN ${nowS} + 3600 END,
             CASE WHEN kind < 2 THEN 1 + i % 3 ELSE 0 END,
             CASE WHEN kind < 2 THEN ${nowS} - 3600 END,
             CASE WHEN kind < 2 THEN 'invalid_key' END,
             end_at
      FROM c`);
    statements.push(`INSERT INTO key_usage (key_id, requests, successes, rate_limited, errors, last_used_at, updated_at)
      SELECT id, 100 + created_at % 900, 90 + created_at % 800, 5, 5, ${nowS} - 600, ${nowS} - 600 FROM keys
      WHERE provider = '${PROVIDER}' AND rowid BETWEEN ${from} AND ${to} AND rowid % 4 = 0`);
  }
  const t0 = performance.now();
  for (let i = 0; i < statements.length; i += SCALE_SEED_STATEMENTS_PER_CALL) {
    if (performance.now() - t0 > SCALE_SEED_LIMIT_MS) throw new Error(`seeding ${count} keys took over ${SCALE_SEED_LIMIT_MS / 60_000} min`);
    await sql(base, statements.slice(i, i + SCALE_SEED_STATEMENTS_PER_CALL));
  }
  const seconds = (performance.now() - t0) / 1000;
  const check = await sql(base, [
    `SELECT count(*) AS total, sum(status = 'blocked') AS blocked, sum(status = 'active' AND cooling_until > ${nowS}) AS cooling,
            sum(status = 'active' AND model_coolings LIKE '%"*"%') AS exhausted, (SELECT count(*) FROM key_usage) AS usage
     FROM keys WHERE provider = '${PROVIDER}'`,
  ]);
  return { seconds, ...check.last[0] };
}

/**
 * Folds the write-ahead logs of a stopped target's SQLite files into the databases (`wal_checkpoint(TRUNCATE)`, with
 * Node's own SQLite). workerd exits without closing them, so the bulk seeding's last WAL (240 MB for a million keys)
 * would otherwise be read again, to rebuild its index, by every fresh process's first statement: the cost of this
 * stand-in after a bulk load, not of D1, whose database stays open and checkpointed.
 */
async function checkpointSqlite(dir) {
  const { DatabaseSync } = await import("node:sqlite");
  for (const name of readdirSync(dir, { recursive: true })) {
    if (!String(name).endsWith(".sqlite")) continue;
    const db = new DatabaseSync(join(dir, String(name)));
    try {
      db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    } finally {
      db.close();
    }
  }
}

/** Starts a target's workerd on its existing config and disk, and waits for its port (no request sent). */
async function startCold(name, port, config = "config.capnp") {
  const dir = join(OUT, name);
  const entry = start(name, WORKERD, ["serve", join(dir, config), "--experimental"], { cwd: dir });
  const t0 = performance.now();
  while (!(await canConnect(port))) {
    if (entry.child.exitCode !== null) throw new Error(`${name} exited: ${entry.lines.join("").slice(-2000)}`);
    if (performance.now() - t0 > 30_000) throw new Error(`${name}: port ${port} not open after 30 s`);
    await sleep(2);
  }
  entry.base = `http://127.0.0.1:${port}`;
  return entry;
}

/** Times `call()` as the first request of a fresh process: wall ms, CPU ms (all threads, main thread), RSS before and after. */
async function timeFirst(entry, call) {
  await waitQuiet(entry.pgid);
  const rssBefore = rssMb(entry.pgid);
  const cpu0 = threadCpuMs(entry.pgid);
  const t0 = performance.now();
  const r = await call();
  const wall = performance.now() - t0;
  const cpu1 = threadCpuMs(entry.pgid);
  return { r, wall, cpu: cpu1.all - cpu0.all, cpuMain: cpu1.main - cpu0.main, rssBefore, rssAfter: rssMb(entry.pgid) };
}

const geminiCall = (base) => httpCall(base + OB_PATH, { method: "POST", headers: { "content-type": "application/json", "x-goog-api-key": SERVICE_KEY }, body: BODY });
const adminCall = (base, path) => httpCall(base + path, { headers: { authorization: `Bearer ${SERVICE_KEY}` } });
const brief = (trace) => trace.map((t) => [t.sql.replace(/\s+/g, " ").trim().slice(0, 100), t.rowsRead, t.rows]);
const isPoll = (t) => t.sql.includes("FROM keys WHERE updated_at >="); // src/edge/proxy/sql/poll.sql: one statement

/** The D1 rows one action reads: counters reset, the action, then the counters (and the statements seen). */
async function rowsOf(base, action) {
  await d1Counts(base, true);
  const r = await action();
  await sleep(150); // work the action left in waitUntil
  const d = await d1Counts(base);
  return { r, rowsRead: d.rowsRead, rowsWritten: d.rowsWritten, statements: d.reads + d.writes, trace: d.trace };
}

/** Measures one pool size (see the markdown of the section for what each figure includes). */
async function measureScaleSize(count, mockBase, floorSetup) {
  const id = `scale${count}`;
  const seedProc = await startWorkerd(id, [obWorker(id, mockBase)]);
  const port = seedProc.port;
  // The same target with V8 compiling all of the wasm when the script loads instead of each function on its first
  // call: how much of the first request is compiling the code it runs.
  writeFileSync(join(OUT, id, "config-eager.capnp"), workerdConfig({ dir: join(OUT, id), workers: seedProc.workers, v8Flags: ["--no-wasm-lazy-compilation"] }));
  const base = `http://127.0.0.1:${port}`;
  await migrate(base);
  const nowS = Math.floor(Date.now() / 1000);
  const seeded = await seedScale(base, count, nowS);
  await stopProcess(seedProc);
  await checkpointSqlite(join(OUT, id));
  const dbBytes = readdirSync(join(OUT, id, `do-${id}`), { recursive: true }).reduce((a, n) => {
    try {
      const st = statSync(join(OUT, id, `do-${id}`, String(n)));
      return a + (st.isFile() ? st.size : 0);
    } catch {
      return a;
    }
  }, 0);
  log(`   ${fi(count)} keys: seeded in ${f(seeded.seconds, 1)} s (${fi(seeded.total)} rows: ${fi(seeded.blocked)} blocked, ${fi(seeded.cooling)} cooling, ${fi(seeded.exhausted)} of them exhausted; ${fi(seeded.usage)} usage rows; database ${f(dbBytes / 2 ** 20, 0)} MB)`);

  // Cold first requests, kinds alternating in each round: one-balance's first request; the stand-in alone replaying
  // that request's statements (same pivot, same rows) as a fresh process's first request; a fresh process's first
  // request that touches no statement (the replay's baseline); the plain-JS floor's first request (1,000 keys).
  const rounds = [];
  for (let round = 1; round <= SCALE_ROUNDS; round++) {
    const row = {};
    let entry = await startCold(id, port);
    try {
      row.ob = await timeFirst(entry, () => geminiCall(entry.base));
      if (row.ob.r.status !== 200) throw new Error(`${id}: first request answered ${row.ob.r.status}: ${row.ob.r.body.slice(0, 300)}`);
      const d = await d1Counts(entry.base);
      row.ob.rowsRead = d.rowsRead;
      row.ob.statements = d.reads + d.writes;
      row.ob.trace = d.trace;
      row.ob.detail = brief(d.trace);
      row.ob.wasm = JSON.parse((await httpCall(`${entry.base}/__bench/memory`)).body).wasmMemoryBytes;
    } finally {
      await stopProcess(entry);
    }
    entry = await startCold(id, port);
    try {
      const trace = row.ob.trace.map(({ sql, params, batch }) => ({ sql, params, batch }));
      row.replay = await timeFirst(entry, () => httpCall(`${entry.base}/__bench/replay`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(trace) }));
      if (row.replay.r.status !== 200) throw new Error(`${id}: replay answered ${row.replay.r.status}: ${row.replay.r.body.slice(0, 300)}`);
      row.replay.rowsRead = JSON.parse(row.replay.r.body).rowsRead;
    } finally {
      await stopProcess(entry);
    }
    entry = await startCold(id, port);
    try {
      row.noop = await timeFirst(entry, () => httpCall(`${entry.base}/__bench/d1`));
    } finally {
      await stopProcess(entry);
    }
    entry = await startCold(id, port, "config-eager.capnp");
    try {
      row.eager = await timeFirst(entry, () => geminiCall(entry.base));
      if (row.eager.r.status !== 200) throw new Error(`${id}: first request (eager wasm) answered ${row.eager.r.status}`);
    } finally {
      await stopProcess(entry);
    }
    entry = await startCold(floorSetup.ref.name, floorSetup.ref.port);
    try {
      row.ref = await timeFirst(entry, () => geminiCall(entry.base));
      if (row.ref.r.status !== 200) throw new Error(`10 keys: first request answered ${row.ref.r.status}`);
    } finally {
      await stopProcess(entry);
    }
    entry = await startCold(floorSetup.name, floorSetup.port);
    try {
      row.floor = await timeFirst(entry, () => geminiCall(entry.base));
      if (row.floor.r.status !== 200) throw new Error(`floor: first request answered ${row.floor.r.status}`);
    } finally {
      await stopProcess(entry);
    }
    if (floorSetup.emptyrs) {
      entry = await startCold(floorSetup.emptyrs.name, floorSetup.emptyrs.port);
      try {
        row.emptyrs = await timeFirst(entry, () => httpCall(`${entry.base}/`));
        if (row.emptyrs.r.status !== 200) throw new Error(`the smallest workers-rs Worker: first request answered ${row.emptyrs.r.status}`);
      } finally {
        await stopProcess(entry);
      }
    }
    rounds.push(row);
    log(
      `   ${fi(count)} keys, round ${round}: first request CPU ${f(row.ob.cpu, 2)} ms (main thread ${f(row.ob.cpuMain, 2)}), wall ${f(row.ob.wall, 1)} ms, ` +
        `${fi(row.ob.rowsRead)} rows read; stand-in replay ${f(row.replay.cpu, 2)} ms, no-op ${f(row.noop.cpu, 2)} ms; wasm compiled at load ${f(row.eager.cpu, 2)} ms (main ${f(row.eager.cpuMain, 2)}); 10 keys ${f(row.ref.cpu, 2)} ms (main ${f(row.ref.cpuMain, 2)}); floor ${f(row.floor.cpu, 2)} ms`,
    );
  }
  const med = (pick) => median(rounds.map(pick));
  const cold = {
    cpu: med((r) => r.ob.cpu),
    cpuMain: med((r) => r.ob.cpuMain),
    wall: med((r) => r.ob.wall),
    standinCpu: med((r) => r.replay.cpu) - med((r) => r.noop.cpu),
    standinCpuMain: med((r) => r.replay.cpuMain) - med((r) => r.noop.cpuMain),
    standinWall: med((r) => r.replay.wall) - med((r) => r.noop.wall),
    eagerCpu: med((r) => r.eager.cpu),
    eagerCpuMain: med((r) => r.eager.cpuMain),
    eagerWall: med((r) => r.eager.wall),
    refCpu: med((r) => r.ref.cpu),
    refCpuMain: med((r) => r.ref.cpuMain),
    refWall: med((r) => r.ref.wall),
    floorCpu: med((r) => r.floor.cpu),
    floorCpuMain: med((r) => r.floor.cpuMain),
    emptyrsCpu: rounds[0].emptyrs ? med((r) => r.emptyrs.cpu) : NaN,
    emptyrsCpuMain: rounds[0].emptyrs ? med((r) => r.emptyrs.cpuMain) : NaN,
    emptyrsWall: rounds[0].emptyrs ? med((r) => r.emptyrs.wall) : NaN,
    floorWall: med((r) => r.floor.wall),
    cpuRange: [Math.min(...rounds.map((r) => r.ob.cpu)), Math.max(...rounds.map((r) => r.ob.cpu))],
    rowsRead: med((r) => r.ob.rowsRead),
    statements: med((r) => r.ob.statements),
    rssBefore: med((r) => r.ob.rssBefore),
    rssAfter: med((r) => r.ob.rssAfter),
    wasm: med((r) => r.ob.wasm),
    replayRows: med((r) => r.replay.rowsRead),
  };

  // Steady state on one more fresh process: change-feed polls, a load, the usage flush, the admin views.
  const ttl = Number(readTemplate().vars.KEY_CACHE_TTL_SECONDS ?? 10);
  const pollEveryMs = (ttl * 1000) / 2;
  const entry = await startCold(id, port);
  const steady = { ttl };
  try {
    await waitQuiet(entry.pgid);
    steady.rssIdle = rssMb(entry.pgid);
    const first = await rowsOf(entry.base, () => geminiCall(entry.base));
    let lastPollAt = performance.now();
    steady.firstRows = first.rowsRead;
    steady.rssFirst = rssMb(entry.pgid);
    /** One poll: waits until it is due, sends one request (which starts it in waitUntil), and counts its rows. */
    const onePoll = async () => {
      await sleep(Math.max(0, pollEveryMs + 300 - (performance.now() - lastPollAt)));
      const p = await rowsOf(entry.base, async () => {
        const r = await geminiCall(entry.base);
        lastPollAt = performance.now();
        await sleep(350);
        return r;
      });
      return { rowsRead: p.rowsRead, polls: p.trace.filter(isPoll).length, statements: p.statements, detail: brief(p.trace) };
    };
    steady.idlePolls = [await onePoll(), await onePoll()];
    // Another isolate cools one key: its row is written with D1's clock, as the Worker's cooldown write does.
    const end = Math.floor(Date.now() / 1000) + 600;
    await sql(entry.base, [
      `UPDATE keys SET model_coolings = json_set(model_coolings, '$."${MODEL}"', json_object('end_at', ${end}, 'total_seconds', 600, 'streak', 1)),
         cooling_until = max(cooling_until, ${end}), updated_at = CAST(strftime('%s', 'now') AS INTEGER)
       WHERE id = (SELECT id FROM keys WHERE provider = '${PROVIDER}' AND status = 'active' ORDER BY id LIMIT 1 OFFSET ${Math.floor(count / 2)})`,
    ]);
    steady.changedPolls = [await onePoll(), await onePoll()];
    // Steady load: polls happen every KEY_CACHE_TTL_SECONDS / 2 while the requests come in.
    await d1Counts(entry.base, true);
    const cpu0 = threadCpuMs(entry.pgid);
    const load = oha(entry.base + OB_PATH, SCALE_LOAD_SECONDS, SCALE_LOAD_CONCURRENCY, { "x-goog-api-key": SERVICE_KEY });
    const cpu1 = threadCpuMs(entry.pgid);
    await sleep(300);
    const d = await d1Counts(entry.base);
    steady.load = {
      seconds: SCALE_LOAD_SECONDS,
      answers: load.answers,
      non200: load.answers - (load.statuses["200"] ?? 0) + load.errors,
      rps: load.rps,
      cpuPerAnswer: (cpu1.all - cpu0.all) / Math.max(1, load.answers),
      rowsRead: d.rowsRead,
      rowsWritten: d.rowsWritten,
      statements: d.reads + d.writes,
      polls: d.trace.filter(isPoll).length,
    };
    steady.rssLoad = rssMb(entry.pgid);
    steady.wasmLoad = JSON.parse((await httpCall(`${entry.base}/__bench/memory`)).body).wasmMemoryBytes;
    // The usage figures the load left in the isolate: the key list writes them before it reads (one upsert).
    const flush = await rowsOf(entry.base, () => adminCall(entry.base, `/admin/api/keys?provider=${PROVIDER}`));
    if (flush.r.status !== 200) throw new Error(`${id}: key list answered ${flush.r.status}: ${flush.r.body.slice(0, 300)}`);
    const upsert = flush.trace.find((t) => t.sql.includes("INSERT INTO key_usage"));
    steady.flush = upsert ? { rowsRead: upsert.rowsRead, keys: JSON.parse(upsert.params[0]).length, rowsWritten: flush.rowsWritten } : { rowsRead: 0, keys: 0, rowsWritten: 0 };
    // The admin views, each on its own: D1 rows read per view.
    const views = [
      ["overview (`GET /admin/api/providers`)", "/admin/api/providers"],
      ["key list, active tab, page 1", `/admin/api/keys?provider=${PROVIDER}`],
      ["key list, cooling tab, page 1", `/admin/api/keys?provider=${PROVIDER}&status=cooling`],
      ["key list, blocked tab, page 1", `/admin/api/keys?provider=${PROVIDER}&status=blocked`],
      ["key list, active tab, page 50", `/admin/api/keys?provider=${PROVIDER}&page=50`],
      ["key list, active tab, sorted by usage", `/admin/api/keys?provider=${PROVIDER}&sort=usage`],
      ["key list, search `q=import 7`", `/admin/api/keys?provider=${PROVIDER}&q=${encodeURIComponent("import 7")}`],
    ];
    steady.views = [];
    for (const [label, path] of views) {
      let wall = NaN;
      const v = await rowsOf(entry.base, async () => {
        const t0 = performance.now();
        const r = await adminCall(entry.base, path);
        wall = performance.now() - t0;
        return r;
      });
      if (v.r.status !== 200) throw new Error(`${id}: ${path} answered ${v.r.status}: ${v.r.body.slice(0, 300)}`);
      const body = JSON.parse(v.r.body);
      const shown = body.providers?.find((p) => p.provider === PROVIDER) ?? body.counts;
      steady.views.push({ label, path, rowsRead: v.rowsRead, statements: v.statements, wall, counts: shown ? `${shown.active} / ${shown.cooling} / ${shown.blocked}` : "", detail: brief(v.trace) });
    }
  } finally {
    await stopProcess(entry);
  }
  // The plain-JS floor's process through the same steps (its first request, the same load): the runtime's own RSS.
  const floorEntry = await startCold(floorSetup.name, floorSetup.port);
  try {
    await waitQuiet(floorEntry.pgid);
    steady.floorRssIdle = rssMb(floorEntry.pgid);
    await geminiCall(floorEntry.base);
    steady.floorRssFirst = rssMb(floorEntry.pgid);
    oha(floorEntry.base + OB_PATH, SCALE_LOAD_SECONDS, SCALE_LOAD_CONCURRENCY, { "x-goog-api-key": SERVICE_KEY });
    steady.floorRssLoad = rssMb(floorEntry.pgid);
  } finally {
    await stopProcess(floorEntry);
  }
  if (!process.env.BENCH_SCALE_KEEP) rmSync(join(OUT, id), { recursive: true, force: true }); // up to 700 MB of SQLite per size
  const s = steady;
  log(
    `   ${fi(count)} keys: cold first request CPU ${f(cold.cpu, 2)} ms (stand-in ${f(cold.standinCpu, 2)}), wall ${f(cold.wall, 1)} ms; ` +
      `rows read: first load ${fi(cold.rowsRead)}, idle poll ${s.idlePolls.map((p) => p.rowsRead).join("/")}, one key changed ${s.changedPolls.map((p) => p.rowsRead).join("/")}, ` +
      `${f(s.load.seconds, 0)} s of load ${fi(s.load.rowsRead)} (${s.load.polls} polls), flush ${fi(s.flush.rowsRead)} (${s.flush.keys} keys); ` +
      `RSS ${f(s.rssIdle, 1)} → ${f(s.rssFirst, 1)} → ${f(s.rssLoad, 1)} MB, wasm ${f(s.wasmLoad / 2 ** 20, 2)} MB; ` +
      `views ${s.views.map((v) => fi(v.rowsRead)).join(" / ")}`,
  );
  // Every round's figures (bench/out/scale.json), the statements without their parameters.
  const roundFigures = rounds.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, { ...v, r: v.r.status, trace: undefined }])));
  return { count, seeded, dbBytes, cold, steady, rounds: roundFigures };
}

/** The scale section: every size in SCALE_SIZES (the figures; `scaleMarkdown` writes them up). */
async function measureScale(mockBase) {
  const loadStart = readFileSync("/proc/loadavg", "utf8").trim().split(" ").slice(0, 3).join(", ");
  const date = new Date().toISOString();
  log(`== scale: ${SCALE_SIZES.map(fi).join(" / ")} keys of ${PROVIDER}; ${SCALE_ROUNDS} cold rounds each, ${SCALE_LOAD_SECONDS} s of load at c=${SCALE_LOAD_CONCURRENCY}`);
  // The plain-JS floor's cold first request (it reads every active key: 1,000 keys, about one window's rows).
  const floorName = "scalefloor";
  const floorProc = await startWorkerd(floorName, [floorWorker(floorName, mockBase)]);
  const floorBase = `http://127.0.0.1:${floorProc.port}`;
  await migrate(floorBase);
  await seedScale(floorBase, 1_000, Math.floor(Date.now() / 1000));
  const floorSetup = { name: floorName, port: floorProc.port };
  await stopProcess(floorProc);
  await checkpointSqlite(join(OUT, floorName));
  // One-balance with 10 keys: the same first request with a window of 10 instead of 1,024 keys.
  const refName = "scaleref10";
  const refProc = await startWorkerd(refName, [obWorker(refName, mockBase)]);
  const refBase = `http://127.0.0.1:${refProc.port}`;
  await migrate(refBase);
  await seedScale(refBase, 10, Math.floor(Date.now() / 1000));
  floorSetup.ref = { name: refName, port: refProc.port };
  await stopProcess(refProc);
  await checkpointSqlite(join(OUT, refName));
  // The smallest workers-rs Worker (bench/empty-worker, `GET /`), when built: the runtime's floor for Rust in wasm.
  if (existsSync(join(EMPTY_RS_BUILD_DIR, "index_bg.wasm"))) {
    const emptyName = "scaleemptyrs";
    const emptyProc = await startWorkerd(emptyName, [obWorker(emptyName, mockBase, { buildDir: EMPTY_RS_BUILD_DIR })]);
    floorSetup.emptyrs = { name: emptyName, port: emptyProc.port };
    await stopProcess(emptyProc);
  }
  const sizes = [];
  for (const count of SCALE_SIZES) sizes.push(await measureScaleSize(count, mockBase, floorSetup));
  return {
    sizes,
    date,
    command: process.env.BENCH_COMMAND ?? "bash scripts/bench",
    head: versionOf("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"]),
    loadStart,
    loadEnd: readFileSync("/proc/loadavg", "utf8").trim().split(" ").slice(0, 3).join(", "),
    rounds: SCALE_ROUNDS,
    loadSeconds: SCALE_LOAD_SECONDS,
  };
}

/** The scale section of results.md (also printed). */
function scaleMarkdown(scale) {
  const { sizes } = scale;
  const md = [];
  const mb = (x) => f(x, 1);
  const head = (label) => ["", ...sizes.map((s) => `${fi(s.count)} keys`)].map((h, i) => (i === 0 ? label : h));
  const ttl = sizes[0]?.steady.ttl ?? 10;
  const pollsPerHour = 3600 / (ttl / 2);
  const flushS = Number(readTemplate().vars.USAGE_FLUSH_SECONDS ?? 300);
  const flushesPerHour = 3600 / flushS;
  const window = 1_024;
  const medOf = (key) => median(sizes.map((x) => x.cold[key]));
  md.push(`## Scale: ${sizes.map((s) => fi(s.count)).join(" / ")} keys in one provider (${PROVIDER})`);
  md.push("");
  md.push(`Measured ${scale.date} by \`${scale.command}\`, Worker from commit ${scale.head}; load average (1, 5, 15 min) at the section's start ${scale.loadStart}, at its end ${scale.loadEnd}.`);
  md.push(`${scale.rounds} cold rounds per size (medians), ${scale.loadSeconds} s of load at c=${SCALE_LOAD_CONCURRENCY}; KEY_CACHE_TTL_SECONDS ${ttl} (a change-feed poll every ${ttl / 2} s), USAGE_FLUSH_SECONDS ${flushS}, KEY_WINDOW_SIZE ${fi(window)} (the defaults).`);
  md.push("");
  md.push("Each size is its own D1 stand-in database (the SQLite Durable Object of bench/d1-standin.mjs), migrated with");
  md.push("migrations/ and seeded in SQL inside the stand-in (`seedScale` in bench/run.mjs, statements of 10,000 rows): ids");
  md.push("shaped like the Worker's v4 uuids and spread over the id space, 39-character Gemini-like keys, added in pastes of");
  md.push("10,000 keys that share one `created_at` an hour apart (what the admin API's add writes), 2 % blocked with a re-check");
  md.push("due, 5 % cooling for the bench's model, 1 % exhausted (cooling for every model for a day), 22 % with a cooldown");
  md.push("that has ended, a `key_usage` row for every fourth key, every `updated_at` at least two minutes old. No `ANALYZE`");
  md.push("(a deployed D1 database has none either).");
  md.push("");
  md.push(
    table(
      ["keys", "seeding s", "blocked", "cooling now (of them exhausted)", "key_usage rows", "database MB"],
      sizes.map((s) => [fi(s.count), f(s.seeded.seconds, 1), fi(s.seeded.blocked), `${fi(s.seeded.cooling)} (${fi(s.seeded.exhausted)})`, fi(s.seeded.usage), f(s.dbBytes / 2 ** 20, 0)]),
    ),
  );
  md.push("");
  md.push("### Cold isolate's first request");
  md.push("");
  md.push("Each measurement starts a new `workerd serve` on the size's config and database (as the cold-start section does),");
  md.push("waits for its port and for its start-up work to end, then sends the first proxied request: a native Gemini");
  md.push("`generateContent` with the service key (the pool load: D1's clock and one window of at most 1,024 active keys from a");
  md.push("random id, through the `(provider, status, id)` index). Wall: request sent → answer read. CPU: the process's threads");
  md.push("over the request, from `/proc/<pid>/task/*/schedstat` (nanoseconds); the JS thread is workerd's main thread, which");
  md.push("runs the Worker, its wasm and the stand-in (all of the stand-in's and the floor's CPU is there); the rest is V8's");
  md.push("background threads compiling and optimizing the wasm. Cloudflare counts the isolate's thread.");
  md.push("");
  md.push("The D1 stand-in runs in the same process (on Cloudflare D1 runs elsewhere): its share is measured by replaying the");
  md.push("first request's statements, with the same parameters and so the same rows, through the stand-in");
  md.push("(`POST /__bench/replay`) as the first request of another fresh process, minus a fresh process's first request that");
  md.push("runs no statement. That share includes the Durable Object's start, SQLite reading the rows from a cold page cache,");
  md.push("and handing them to the Worker's isolate; on Cloudflare the Worker still receives the rows (as JSON), so");
  md.push("\"outside the stand-in\" slightly flatters it. \"wasm compiled at load\" is the same first request with V8's");
  md.push("`--no-wasm-lazy-compilation` (the whole module compiled before the port opens): the difference is the compiling of");
  md.push("the wasm functions the first request runs. One-balance with 10 keys is the same first request with a window of");
  md.push("10 keys instead of 1,024 (rows converted into the pool). The plain-JS floor reads every active key of a pool of");
  md.push("1,000 (980 rows, about one window) on its first request. Before the rounds, each seeded database's write-ahead log");
  md.push("is checkpointed (workerd exits without closing SQLite, and the bulk load's log would otherwise be re-read by every");
  md.push("fresh process: a cost of this stand-in, not of D1).");
  md.push("");
  md.push(
    table(
      ["keys", "CPU ms: all threads", "JS thread", "of which the D1 stand-in's", "outside the stand-in: JS thread (all threads)", "wasm compiled at load: JS thread (all)", "wall ms", "of which the stand-in's", "rows read", "vs the floor's CPU (JS thread)"],
      [
        ...sizes.map((s) => {
          const c = s.cold;
          return [fi(s.count), `${f(c.cpu, 1)} (${f(c.cpuRange[0], 1)}–${f(c.cpuRange[1], 1)})`, f(c.cpuMain, 1), f(c.standinCpuMain, 1), `${f(c.cpuMain - c.standinCpuMain, 1)} (${f(c.cpu - c.standinCpu, 1)})`, `${f(c.eagerCpuMain, 1)} (${f(c.eagerCpu, 1)})`, f(c.wall, 1), f(c.standinWall, 1), fi(c.rowsRead), `${f(c.cpuMain / c.floorCpuMain, 1)}×`];
        }),
        ["one-balance, 10 keys (a window of 10; in every round)", f(medOf("refCpu"), 1), f(medOf("refCpuMain"), 1), "—", "—", "—", f(medOf("refWall"), 1), "—", "10", `${f(medOf("refCpuMain") / medOf("floorCpuMain"), 1)}×`],
        ["plain-JS floor, 1,000 keys (in every round)", f(medOf("floorCpu"), 1), f(medOf("floorCpuMain"), 1), "—", "—", "—", f(medOf("floorWall"), 1), "—", "980", "1.0×"],
        ...(Number.isFinite(medOf("emptyrsCpuMain"))
          ? [["the smallest workers-rs Worker (bench/empty-worker, `GET /`, no D1; in every round)", f(medOf("emptyrsCpu"), 1), f(medOf("emptyrsCpuMain"), 1), "—", "—", "—", f(medOf("emptyrsWall"), 1), "—", "0", `${f(medOf("emptyrsCpuMain") / medOf("floorCpuMain"), 1)}×`]]
          : []),
      ],
    ),
  );
  md.push("");
  md.push("### Isolate memory");
  md.push("");
  md.push("RSS of the whole workerd process (the runtime, the Worker's isolate, the stand-in's SQLite), MB: after start-up, after");
  md.push(`the first request, after ${scale.loadSeconds} s of load at c=${SCALE_LOAD_CONCURRENCY}; the plain-JS floor's process through the same steps; and`);
  md.push("the Worker's wasm linear memory (its Rust heap: the pool window, the tallies), read through bench/wasm-memory.mjs.");
  md.push(`However large the pool, an isolate holds one window of at most KEY_WINDOW_SIZE = ${fi(window)} keys.`);
  md.push("");
  md.push(
    table(
      ["keys", "RSS after start-up", "after the first request", "after the load", "plain-JS floor: start-up / first / load", "wasm memory after the first request", "after the load"],
      sizes.map((s) => [fi(s.count), mb(s.steady.rssIdle), mb(s.steady.rssFirst), mb(s.steady.rssLoad), `${mb(s.steady.floorRssIdle)} / ${mb(s.steady.floorRssFirst)} / ${mb(s.steady.floorRssLoad)}`, f(s.cold.wasm / 2 ** 20, 2), f(s.steady.wasmLoad / 2 ** 20, 2)]),
    ),
  );
  md.push("");
  const computedPerHour = (s) => Math.min(...s.steady.idlePolls.map((p) => p.rowsRead)) * pollsPerHour + SCALE_MINUTE_LOOKS_PER_HOUR;
  md.push("### D1 rows read");
  md.push("");
  md.push("Rows, not statements: the sum of `meta.rows_read` over the statements, which the stand-in takes from workerd's");
  md.push("SQLite (`cursor.rowsRead`: libsql's rows-read counter, the one Cloudflare bills SQL storage by; it counts an index");
  md.push("seek as a row read even when the range is empty). A poll is one statement (src/edge/proxy/sql/poll.sql: D1's clock,");
  md.push("the key rows changed since the cursor through `keys_updated_at_idx`, and the removals only when a row changed, or");
  md.push("in the first poll of a minute); each poll below was started by one request once it was due, alone, so a pair may");
  md.push("hold one minute's first poll (one row more). \"One key changed\": another isolate's cooldown, written behind this");
  md.push("isolate's back with D1's clock, as the Worker's cooldown write does; then the poll after it. Per isolate-hour,");
  md.push(`measured: the rows read over the ${scale.loadSeconds} s of load (polls every ${ttl / 2} s while requests come in) × 3600 / ${scale.loadSeconds};`);
  md.push(`computed: the smaller nothing-changed poll × ${fi(pollsPerHour)} polls an hour + ${SCALE_MINUTE_LOOKS_PER_HOUR} minute looks at the removals (1 row each). The usage flush (one upsert of the figures of every key`);
  md.push(`used since the last flush, at most once per USAGE_FLUSH_SECONDS = ${flushS}: ${fi(flushesPerHour)} an hour under steady traffic) is read off`);
  md.push("the key list's first call after the load, which writes the isolate's pending figures before it reads.");
  md.push("");
  md.push(
    table(
      ["keys", "first request (pool load)", "poll, nothing changed", "poll, one key changed (the next)", `${scale.loadSeconds} s of load: rows (polls)`, "per isolate-hour: measured / computed", "usage flush after the load: rows read (keys; rows written)", `per isolate-hour with ${fi(flushesPerHour)} such flushes`],
      sizes.map((s) => {
        const st = s.steady;
        const idle = computedPerHour(s);
        const perHourMeasured = (st.load.rowsRead * 3600) / st.load.seconds;
        return [
          fi(s.count),
          fi(s.cold.rowsRead),
          st.idlePolls.map((p) => fi(p.rowsRead)).join(", "),
          `${fi(st.changedPolls[0].rowsRead)} (${fi(st.changedPolls[1].rowsRead)})`,
          `${fi(st.load.rowsRead)} (${st.load.polls})`,
          `${fi(perHourMeasured)} / ${fi(idle)}`,
          `${fi(st.flush.rowsRead)} (${fi(st.flush.keys)}; ${fi(st.flush.rowsWritten)})`,
          fi(idle + st.flush.rowsRead * flushesPerHour),
        ];
      }),
    ),
  );
  md.push("");
  md.push("### Admin views");
  md.push("");
  md.push("D1 rows read by one call of the JSON admin API (docs/admin-api.md; `Authorization: Bearer <service key>`), each on");
  md.push("its own after the usage flush above; in brackets, the key lists' two statements: the tab counts (capped index");
  md.push("ranges: at most 10,001 rows per tab) + the page of 20 keys with their usage figures. In the default order a page");
  md.push("walks an index in that order (`keys_provider_status_created_idx`: `created_at DESC, id`; the cooling tab by");
  md.push("`keys_provider_status_cooling_id_idx`: the cooldowns that end first), so it reads about the keys before and on it;");
  md.push("sorted by usage it reads and sorts every key of the tab. A search reads every key of the provider by design (a");
  md.push("fragment can be anywhere in a key or a remark).");
  md.push("");
  const viewLabels = sizes[0]?.steady.views.map((v) => v.label) ?? [];
  md.push(
    table(
      ["view", ...sizes.map((s) => `${fi(s.count)} keys`)],
      viewLabels.map((label, i) => [label, ...sizes.map((s) => {
        const v = s.steady.views[i];
        return v.detail.length === 2 ? `${fi(v.rowsRead)} (${fi(v.detail[0][1])} + ${fi(v.detail[1][1])})` : fi(v.rowsRead);
      })]),
    ),
  );
  md.push("");
  md.push("Counts shown (active / cooling / blocked, 10001 = \"10,000+\"): " + sizes.map((s) => `${fi(s.count)} keys: ${s.steady.views[0].counts}`).join("; ") + ".");
  md.push("");
  md.push("### Cross-isolate lag");
  md.push("");
  md.push("Not measured here: tests/scale/change-feed.test.mjs runs two isolates of the built Worker on one D1 and checks that");
  md.push("a cooldown learned by one, and an admin's reset, delete and add on one, are used by the other within");
  md.push("KEY_CACHE_TTL_SECONDS (10 s); it measured 2.5–5 s when it was written (commit f193fc9), and 2.1–5.1 s with the");
  md.push("one-statement poll (commit e3937b8: cooldown 5.1 s, reset 2.1 s, delete 4.7 s, add 2.3 s).");
  md.push("");
  md.push("### Scale budgets");
  md.push("");
  const ok = (b) => (b ? "met" : "**missed**");
  const per = (fn) => sizes.map((s) => `${fi(s.count)}: ${fn(s)}`).join("; ");
  const outsideMain = (s) => s.cold.cpuMain - s.cold.standinCpuMain;
  const outsideAll = (s) => s.cold.cpu - s.cold.standinCpu;
  const measuredPerHour = (s) => (s.steady.load.rowsRead * 3600) / s.steady.load.seconds;
  const withFlush = (s) => computedPerHour(s) + s.steady.flush.rowsRead * flushesPerHour;
  const smallest = sizes[0];
  const largest = sizes.at(-1);
  const c0 = (key) => median(sizes.map((x) => x.cold[key]));
  const emptyrs = Number.isFinite(c0("emptyrsCpuMain")) ? `; the smallest workers-rs Worker (bench/empty-worker, no D1): ${f(c0("emptyrsCpuMain"), 1)} (${f(c0("emptyrsCpu"), 1)}) ms` : "";
  md.push("The budgets of issue 14 (\"The pool at scale\"), then figures kept for information (no budget of the issue).");
  md.push("");
  const rows = [
    [
      `cold first request ≤ ${SCALE_CPU_BUDGET_MS} ms CPU at every size (JS thread, outside the D1 stand-in; all threads in brackets)`,
      `${per((s) => `${f(outsideMain(s), 1)} (${f(outsideAll(s), 1)}) ms`)}. Floors, whole first requests in the same rounds, JS thread (all threads): ` +
        `the nearest reached, one-balance with a window of 10 keys, ${f(c0("refCpuMain"), 1)} (${f(c0("refCpu"), 1)}) ms${emptyrs}; the plain-JS floor reading 980 keys: ${f(c0("floorCpuMain"), 1)} (${f(c0("floorCpu"), 1)}) ms`,
      ok(sizes.every((s) => outsideMain(s) <= SCALE_CPU_BUDGET_MS)),
    ],
    [
      `≤ ${fi(SCALE_ROWS_BUDGET)} rows read per isolate-hour in steady state at every size (change-feed polls; computed / measured over the load)`,
      per((s) => `${fi(computedPerHour(s))} / ${fi(measuredPerHour(s))}`),
      ok(sizes.every((s) => Math.max(computedPerHour(s), measuredPerHour(s)) <= SCALE_ROWS_BUDGET)),
    ],
    [
      `a cooldown learned in one isolate used by every other within ${ttl} s`,
      "tested, not timed here: tests/scale/change-feed.test.mjs (two isolates on one D1; also an admin's reset, delete and add)",
      "tested",
    ],
  ];
  const info = [
    [
      "cold first request independent of pool size (outside the stand-in, JS thread: largest ÷ smallest)",
      `${f(outsideMain(largest), 1)} ÷ ${f(outsideMain(smallest), 1)} ms = ${f(outsideMain(largest) / outsideMain(smallest), 2)}×`,
    ],
    [`the first request's pool load reads ≤ KEY_WINDOW_SIZE (${fi(window)}) rows`, per((s) => fi(s.cold.rowsRead))],
    [
      `rows read per isolate-hour with ${fi(flushesPerHour)} usage flushes an hour after load like this run's (traffic on every key of the window)`,
      per((s) => fi(withFlush(s))),
    ],
    [
      "isolate memory independent of pool size (wasm memory after the load: largest ÷ smallest)",
      `${f(largest.steady.wasmLoad / 2 ** 20, 2)} ÷ ${f(smallest.steady.wasmLoad / 2 ** 20, 2)} MB; RSS after the load ${per((s) => `${mb(s.steady.rssLoad)} MB (floor ${mb(s.steady.floorRssLoad)})`)}`,
    ],
  ];
  // Admin views from the smallest to the largest pool (the counts are capped at 10,000 per tab).
  if (sizes.length >= 2) {
    for (const [i, label] of viewLabels.entries()) {
      const a = smallest.steady.views[i].rowsRead;
      const b = largest.steady.views[i].rowsRead;
      info.push([`admin ${label}: rows read, ${fi(smallest.count)} → ${fi(largest.count)} keys`, `${fi(a)} → ${fi(b)} (${f(b / a, 1)}×)`]);
    }
  }
  md.push(table(["budget (issue 14)", "measured", "verdict"], rows));
  md.push("");
  if (Number.isFinite(c0("emptyrsCpuMain"))) {
    md.push(
      `The cold first request misses its budget by about the same at every size. The smallest workers-rs Worker's first request (${f(c0("emptyrsCpuMain"), 1)} ms) ` +
        `shows that the runtime alone allows 10 ms for Rust in wasm; the nearest one-balance reaches is its first request with a window of 10 keys ` +
        `(${f(c0("refCpuMain"), 1)} ms): its own module, of which compiling, lazily, the wasm functions the first request runs is about ` +
        `${f(largest.cold.cpuMain - largest.cold.eagerCpuMain, 1)} ms of the JS thread at ${fi(largest.count)} keys (the difference to "wasm compiled at load"); ` +
        `the window of ${fi(window)} rows adds about ${f(outsideMain(largest) - c0("refCpuMain"), 1)} ms outside the stand-in.`,
    );
    md.push("");
  }
  md.push(table(["for information", "measured"], info));
  md.push("");
  return md;
}

/**
 * Puts a section (its lines start with its `## ` heading) into results.md in place of the section whose heading starts
 * with `heading`, or before the streaming section when there is none: a one-section run keeps the rest.
 */
function writeSection(heading, lines) {
  const section = lines.join("\n");
  let text = existsSync(RESULTS) ? readFileSync(RESULTS, "utf8") : "# Benchmark results\n";
  const at = text.indexOf(`\n${heading}`);
  if (at !== -1) {
    const next = text.indexOf("\n## ", at + 1);
    text = text.slice(0, at + 1) + section + (next === -1 ? "\n" : text.slice(next));
  } else {
    const before = text.indexOf("\n## Streaming");
    text = before === -1 ? `${text.trimEnd()}\n\n${section}\n` : `${text.slice(0, before + 1)}${section}${text.slice(before)}`;
  }
  writeFileSync(RESULTS, text);
}

// ---------------------------------------------------------------------------------------------------------------
// report helpers

const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : "—");
const fi = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "—");
function table(head, rows) {
  return [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}
function versionOf(cmd, args) {
  try {
    const r = spawnSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    return (r.stdout.toString().trim() || r.stderr.toString().trim()).split("\n")[0] || "?";
  } catch (e) {
    return (e.stderr?.toString() ?? "").trim().split("\n")[0] || "?";
  }
}

// ---------------------------------------------------------------------------------------------------------------
// main

async function main() {
  const startedAt = new Date();
  // The sources as built (scripts/bench builds just before this runs), not as they are when the figures are written.
  const head = versionOf("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"]);
  const dirty = spawnSync("git", ["-C", ROOT, "status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock"]).stdout.toString().trimEnd();
  const loadStart = readFileSync("/proc/loadavg", "utf8").trim();
  mkdirSync(OUT, { recursive: true });
  if (!existsSync(join(BUILD_DIR, "index_bg.wasm"))) throw new Error("build/index_bg.wasm is missing: run worker-build --release first");

  // --- mock upstreams
  const nginxDir = join(OUT, "nginx");
  rmSync(nginxDir, { recursive: true, force: true });
  mkdirSync(nginxDir, { recursive: true });
  const nginxPort = await freePort();
  const rlFixture = JSON.parse(readFileSync(join(ROOT, "tests", "fixtures", "gemini", "429-retry-info.json"), "utf8"));
  const rlBody = JSON.stringify(rlFixture);
  // The rotation-cost mock's 429: the same per-minute body without its RetryInfo (nginx adds `Retry-After: 0`).
  const rotFixture = structuredClone(rlFixture);
  rotFixture.error.details = rotFixture.error.details.filter((d) => !String(d["@type"]).endsWith("RetryInfo"));
  const rotBody = JSON.stringify(rotFixture);
  const nginxQuote = (text) => text.replaceAll("\\", "\\\\").replaceAll("'", "\\'");
  const rotPort = await freePort();
  const conf = readFileSync(join(ROOT, "bench", "nginx.conf.tpl"), "utf8")
    .replaceAll("@DIR@", nginxDir)
    .replaceAll("@ROT_PORT@", String(rotPort))
    .replaceAll("@PORT@", String(nginxPort))
    .replaceAll("@RL_KEY@", RL_KEY)
    .replaceAll("@RL_BODY@", nginxQuote(rlBody))
    .replaceAll("@ROT_BODY@", nginxQuote(rotBody));
  writeFileSync(join(nginxDir, "nginx.conf"), conf);
  const nginxBin = process.env.NGINX || "nginx";
  const nginx = start("nginx", nginxBin, ["-c", join(nginxDir, "nginx.conf"), "-p", nginxDir, "-e", join(nginxDir, "error.log")]);
  const mockBase = `http://127.0.0.1:${nginxPort}`;
  const rotMockBase = `http://127.0.0.1:${rotPort}`;
  await waitReady(`${mockBase}/ready`, nginx);
  const accessLog = join(nginxDir, "access.log");

  const ssePort = await freePort();
  const sse = start("sse", process.execPath, [join(ROOT, "bench", "sse-server.mjs"), String(ssePort), String(SSE_CHUNKS), String(SSE_SPACING_MS), String(SSE_FIRST_MS)]);
  const sseBase = `http://127.0.0.1:${ssePort}`;
  await sleep(100);
  await waitReady(`${sseBase}/ready`, sse);

  const conversionDeps = { startWorkerd, obWorker, migrate, seedKeys, groupCpuSeconds, stopProcess, log, root: ROOT, serviceKey: SERVICE_KEY, quick: QUICK, reps: REPS };
  if (process.env.BENCH_CONVERSION_ONLY) {
    // Only the conversion section (bench/conversion.mjs): it replaces that section of bench/results.md.
    const lines = conversionMarkdown(await measureConversion(conversionDeps));
    lines.splice(1, 0, "", `Measured ${new Date().toISOString()} by \`${process.env.BENCH_COMMAND ?? "node bench/run.mjs"}\`, Worker from commit ${head}${dirty ? " (with uncommitted changes)" : ""}; load average (1, 5, 15 min) at the start ${loadStart.split(" ").slice(0, 3).join(", ")}.`);
    writeSection("## Conversion", lines);
    log(lines.join("\n"));
    return;
  }

  if (process.env.BENCH_SCALE_ONLY) {
    // Only the scale section: it replaces the section of that name in bench/results.md and leaves the rest.
    const scale = await measureScale(mockBase);
    writeFileSync(join(OUT, "scale.json"), JSON.stringify(scale, null, 1));
    const lines = scaleMarkdown(scale);
    writeSection("## Scale", lines);
    log("");
    log(lines.join("\n"));
    log(`\n== wrote the scale section of ${relative(ROOT, RESULTS)}`);
    return;
  }

  // --- runtimes: one workerd process per measured target
  log("== starting workerd targets");
  const proxy = await startWorkerd("proxy", [proxyWorker("proxy", mockBase)]);
  const floor = await startWorkerd("floor", [floorWorker("floor", mockBase)]);
  await migrate(`http://127.0.0.1:${floor.port}`);
  await seedKeys(`http://127.0.0.1:${floor.port}`, 10);
  const obVariants = [
    { id: "ob10", label: "one-balance, 10 keys", keys: 10 },
    { id: "ob1k", label: "one-balance, 1,000 keys", keys: 1_000 },
    { id: "ob100k", label: "one-balance, 100,000 keys", keys: 100_000 },
    { id: "ob100kh", label: "one-balance, 100,000 keys, half cooling", keys: 100_000, coolingEvery: 2 },
  ].filter((v) => !process.env.BENCH_PROFILE && (!process.env.BENCH_COLD_ONLY || v.id === "ob10" || v.id === "ob100k") && (!process.env.BENCH_COLD_START_ONLY || v.id === "ob10"));
  for (const v of obVariants) v.worker = (name, upstream) => obWorker(name, upstream);
  // Optional targets, 10 keys each: the original TypeScript Worker and a second one-balance build.
  const extraVariants = process.env.BENCH_PROFILE || process.env.BENCH_COLD_ONLY ? [] : [
    ...(ORIGINAL_DIR ? [{ id: "orig10", label: "original TypeScript Worker, 10 keys", keys: 10, kind: "original", worker: (name, upstream) => originalWorker(name, upstream) }] : []),
    ...(BASELINE_BUILD_DIR ? [{ id: "base10", label: "one-balance (baseline build), 10 keys", keys: 10, kind: "baseline", worker: (name, upstream) => obWorker(name, upstream, { buildDir: BASELINE_BUILD_DIR }) }] : []),
  ];
  const allVariants = [...obVariants, ...extraVariants];
  const coldLoad = {};
  const coldLoadD1 = {}; // of which waiting on the D1 stand-in (query + transfer of the rows to the Worker's isolate)
  for (const v of allVariants) {
    v.proc = await startWorkerd(v.id, [v.worker(v.id, mockBase)]);
    v.base = `http://127.0.0.1:${v.proc.port}`;
    await migrate(v.base, v.kind);
    const seeded = await seedKeys(v.base, v.keys, { coolingEvery: v.coolingEvery ?? 0 });
    const t0 = performance.now();
    const first = await httpCall(v.base + OB_PATH, { method: "POST", headers: { "content-type": "application/json", "x-goog-api-key": SERVICE_KEY }, body: BODY });
    coldLoad[v.id] = performance.now() - t0;
    coldLoadD1[v.id] = (await d1Counts(v.base)).waitedMs;
    if (first.status !== 200) throw new Error(`${v.id}: first request answered ${first.status}: ${first.body.slice(0, 500)}\n${v.proc.lines.join("").slice(-2000)}`);
    log(`   ${v.id}: ${seeded} keys seeded; first request (loads the pool from D1) ${f(coldLoad[v.id], 1)} ms, of which waiting on D1 ${coldLoadD1[v.id]} ms; attempts: ${first.headers["x-one-balance-attempts"]}`);
  }

  if (process.env.BENCH_PROFILE) {
    // Only a V8 CPU profile of one target (BENCH_PROFILE=ob10|proxy, BENCH_PROFILE_C, BENCH_PROFILE_SECONDS).
    const p = await profileTarget(process.env.BENCH_PROFILE, mockBase, Number(process.env.BENCH_PROFILE_SECONDS ?? 5), Number(process.env.BENCH_PROFILE_C ?? 8));
    for (const row of p.rows.slice(0, Number(process.env.BENCH_PROFILE_TOP ?? 40))) log(`   ${row.join("  ")}`);
    return;
  }

  if (process.env.BENCH_COLD_ONLY) {
    // Just the pool load: restart the 100,000-key target N times and time its first request (for before/after).
    const times = { total: [], d1: [] };
    const v = obVariants.find((x) => x.id === "ob100k");
    for (let i = 0; i < Number(process.env.BENCH_COLD_ONLY); i++) {
      await stopProcess(v.proc);
      v.proc = await startWorkerdKeepingDisk(v.id, [obWorker(v.id, mockBase)]);
      await sleep(500);
      const cpu0 = groupCpuSeconds(v.proc.pgid);
      const t0 = performance.now();
      const r = await httpCall(v.proc.base + OB_PATH, { method: "POST", headers: { "content-type": "application/json", "x-goog-api-key": SERVICE_KEY }, body: BODY });
      times.total.push(performance.now() - t0);
      times.cpu ??= [];
      times.cpu.push((groupCpuSeconds(v.proc.pgid) - cpu0) * 1000);
      times.d1.push((await d1Counts(v.proc.base)).waitedMs);
      if (r.status !== 200) throw new Error(`cold ${r.status}`);
      log(`   cold ${i + 1}: ${f(times.total.at(-1), 1)} ms, of which waiting on D1 ${times.d1.at(-1)} ms; workerd CPU ${f(times.cpu.at(-1), 0)} ms`);
    }
    log(`== cold load of 100,000 keys: median ${f(median(times.total), 1)} ms, of which waiting on D1 ${median(times.d1)} ms; workerd CPU ${f(median(times.cpu), 0)} ms (ob10 first request: ${f(coldLoad.ob10, 1)} ms)`);
    return;
  }

  if (process.env.BENCH_COLD_START_ONLY) {
    // Only the cold-start section (for A/B of builds: BENCH_BASELINE_BUILD_DIR names the other one).
    const { coldTargets, coldSummary } = await measureColdStarts(extraVariants, mockBase);
    for (const t of coldTargets) {
      const c = coldSummary[t.id];
      log(`== ${t.id}: start → port open ${f(c.portOpen, 1)} ms, first request ${f(c.firstRequest, 1)} ms, start → first 200 ${f(c.toFirst200, 1)} ms (${f(c.range[0], 1)}–${f(c.range[1], 1)}), CPU ${f(c.cpu, 0)} ms`);
    }
    return;
  }

  const targets = [
    { id: "direct", label: "mock called directly", url: mockBase + UPSTREAM_PATH },
    { id: "proxy", label: "trivial proxy Worker", url: `http://127.0.0.1:${proxy.port}${UPSTREAM_PATH}`, proc: proxy },
    { id: "floor", label: "plain-JS floor (the same runtime work, no policy)", url: `http://127.0.0.1:${floor.port}${OB_PATH}`, proc: floor },
    ...allVariants.map((v) => ({ id: v.id, label: v.label, url: v.base + OB_PATH, proc: v.proc, base: v.base })),
  ];
  const results = {}; // id -> c -> [runs]
  for (const t of targets) results[t.id] = Object.fromEntries(CONCURRENCY.map((c) => [c, []]));

  // --- main matrix: repetitions outermost, then concurrency, targets alternating innermost
  log(`== load: ${REPS} repetition(s) × c ∈ {${CONCURRENCY}} × ${targets.length} targets, ${WARMUP_SECONDS} s warm-up + ${SECONDS} s each`);
  for (let rep = 1; rep <= REPS; rep++) {
    for (const c of CONCURRENCY) {
      for (const t of targets) {
        const headers = { "x-goog-api-key": SERVICE_KEY };
        oha(t.url, WARMUP_SECONDS, c, headers);
        await sleep(250);
        if (t.base) await d1Counts(t.base, true);
        const ngBefore = nginxCounts(accessLog).total;
        const cpuBefore = t.proc ? groupCpuSeconds(t.proc.pgid) : groupCpuSeconds(nginx.pgid);
        const r = oha(t.url, SECONDS, c, headers);
        const cpuAfter = t.proc ? groupCpuSeconds(t.proc.pgid) : groupCpuSeconds(nginx.pgid);
        await sleep(300); // nginx flushes its access log every 100 ms
        r.upstreamCalls = nginxCounts(accessLog).total - ngBefore;
        r.cpuMsPerReq = ((cpuAfter - cpuBefore) * 1000) / Math.max(1, r.answers);
        if (t.base) r.d1 = await d1Counts(t.base);
        results[t.id][c].push(r);
        const non200 = r.answers - (r.statuses["200"] ?? 0);
        log(
          `   rep ${rep} c=${String(c).padStart(2)} ${t.id.padEnd(8)} p50 ${f(r.p50, 3)} p90 ${f(r.p90, 3)} p99 ${f(r.p99, 3)} ms  ` +
            `${fi(r.rps)} req/s  cpu ${f(r.cpuMsPerReq, 3)} ms/req  upstream/answer ${f(r.upstreamCalls / Math.max(1, r.answers), 3)}` +
            (r.d1 ? `  d1 r/w ${r.d1.reads}/${r.d1.writes}` : "") +
            (non200 || r.errors ? `  NON-200: ${JSON.stringify(r.statuses)} errors ${JSON.stringify(r.errorKinds)}` : ""),
        );
      }
    }
  }

  // --- rotation: one key always answers 429
  log("== rotation: 10 keys, one answers 429 (Gemini per-minute body with RetryInfo)");
  const rotation = [];
  for (let rep = 1; rep <= REPS; rep++) {
    for (const c of ROTATION_CONCURRENCY) {
      // A fresh isolate and a fresh database each run, so every run meets the 429 key before it cools.
      const proc = await startWorkerd("obrot", [obWorker("obrot", mockBase)]);
      const base = `http://127.0.0.1:${proc.port}`;
      await migrate(base);
      await seedKeys(base, 9, { extraKeys: [RL_KEY] });
      await d1Counts(base, true);
      const before = nginxCounts(accessLog);
      const r = oha(base + OB_PATH, SECONDS, c, { "x-goog-api-key": SERVICE_KEY });
      await sleep(300);
      const after = nginxCounts(accessLog);
      r.upstream429 = (after["429"] ?? 0) - (before["429"] ?? 0);
      r.upstream200 = (after["200"] ?? 0) - (before["200"] ?? 0);
      r.d1 = await d1Counts(base);
      r.non200 = r.answers - (r.statuses["200"] ?? 0);
      r.c = c;
      rotation.push(r);
      log(
        `   rep ${rep} c=${c}: ${r.answers} answers, statuses ${JSON.stringify(r.statuses)}, transport errors ${r.errors}; ` +
          `upstream 429s ${r.upstream429}, upstream 200s ${r.upstream200}; D1 writes ${r.d1.writes}` +
          (r.non200 ? `  <-- ${r.non200} NON-200 ANSWERS (a bug)` : ""),
      );
      await stopProcess(proc);
    }
  }

  // --- rotation cost: a random half of the upstream answers are 429s that cool no key (bench/nginx.conf.tpl)
  log(`== rotation cost: c=${ROTATION_COST_CONCURRENCY}, the mock answers 429 to a random half of the requests, whatever the key`);
  const rotVars = { CONSECUTIVE_429_THRESHOLD: "100", THROTTLE_MIN_KEYS: "0", MAX_ATTEMPTS: "40" };
  // 1,000 keys: a `Retry-After: 0` still rests a key until the next second, so 10 keys would all be resting under
  // load; the steady-state reference for one-balance is the 1,000-key row of the main table.
  const rotCostTargets = [
    { id: "floor", steady: "floor", kind: "ob", worker: (n) => floorWorker(n, rotMockBase) },
    { id: "ob10", steady: "ob1k", kind: "ob", worker: (n) => obWorker(n, rotMockBase, { vars: rotVars }) },
    // The same, with the D1 stand-in counting the writes but not running them: the Worker's own cost per 429 (real
    // D1 runs its SQL on another machine; the stand-in runs it in this process, where its CPU is counted).
    { id: "ob10nw", steady: "ob1k", kind: "ob", worker: (n) => obWorker(n, rotMockBase, { vars: { ...rotVars, BENCH_D1_DISCARD_WRITES: "1" } }) },
    ...extraVariants.map((v) => ({ id: v.id, steady: v.id, kind: v.kind, worker: (n) => (v.kind === "original" ? originalWorker(n, rotMockBase) : obWorker(n, rotMockBase, { buildDir: BASELINE_BUILD_DIR, vars: rotVars })) })),
  ];
  for (const t of rotCostTargets) {
    t.proc = await startWorkerd(`rot-${t.id}`, [t.worker(`rot${t.id}`)]);
    t.base = `http://127.0.0.1:${t.proc.port}`;
    if (t.kind) {
      await migrate(t.base, t.kind);
      await seedKeys(t.base, 1_000);
    }
    t.runs = [];
  }
  for (let rep = 1; rep <= REPS; rep++) {
    for (const t of rotCostTargets) {
      const headers = { "x-goog-api-key": SERVICE_KEY };
      oha(t.base + OB_PATH, WARMUP_SECONDS, ROTATION_COST_CONCURRENCY, headers);
      await sleep(300);
      if (t.kind) await d1Counts(t.base, true);
      const before = nginxCounts(accessLog);
      const cpu0 = groupCpuSeconds(t.proc.pgid);
      const r = oha(t.base + OB_PATH, SECONDS, ROTATION_COST_CONCURRENCY, headers);
      const cpuMs = (groupCpuSeconds(t.proc.pgid) - cpu0) * 1000;
      await sleep(300);
      const after = nginxCounts(accessLog);
      r.upstream429 = (after["429"] ?? 0) - (before["429"] ?? 0);
      r.upstream200 = (after["200"] ?? 0) - (before["200"] ?? 0);
      r.cpuMsPerReq = cpuMs / Math.max(1, r.answers);
      r.d1 = t.kind ? await d1Counts(t.base) : null;
      r.non200 = r.answers - (r.statuses["200"] ?? 0) + r.errors;
      t.runs.push(r);
      log(`   rep ${rep} ${t.id.padEnd(8)} ${fi(r.answers)} answers, ${fi(r.rps)} req/s, cpu ${f(r.cpuMsPerReq, 3)} ms/answer, upstream 429s/answer ${f(r.upstream429 / Math.max(1, r.answers), 3)}${r.d1 ? `, D1 writes ${r.d1.writes}` : ""}${r.non200 ? `, NON-200 ${r.non200}` : ""}`);
    }
  }
  for (const t of rotCostTargets) await stopProcess(t.proc);

  // --- a 100 KB request body
  const bigBodyFile = join(OUT, "body-100k.json");
  const filler = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(Math.ceil(BIG_BODY_BYTES / 57));
  writeFileSync(bigBodyFile, JSON.stringify({ contents: [{ role: "user", parts: [{ text: filler.slice(0, BIG_BODY_BYTES - 60) }] }] }));
  const bigTargets = targets.filter((t) => ["proxy", "floor", "ob10", "orig10", "base10"].includes(t.id));
  const bigRuns = Object.fromEntries(bigTargets.map((t) => [t.id, []]));
  log(`== 100 KB body (${statSync(bigBodyFile).size} bytes), c=${BIG_BODY_CONCURRENCY}`);
  for (let rep = 1; rep <= REPS; rep++) {
    for (const t of bigTargets) {
      const headers = { "x-goog-api-key": SERVICE_KEY };
      oha(t.url, WARMUP_SECONDS, BIG_BODY_CONCURRENCY, headers, bigBodyFile);
      await sleep(250);
      const ngBefore = nginxCounts(accessLog).total;
      const cpu0 = groupCpuSeconds(t.proc.pgid);
      const r = oha(t.url, SECONDS, BIG_BODY_CONCURRENCY, headers, bigBodyFile);
      r.cpuMsPerReq = ((groupCpuSeconds(t.proc.pgid) - cpu0) * 1000) / Math.max(1, r.answers);
      await sleep(300);
      r.upstreamCalls = nginxCounts(accessLog).total - ngBefore;
      r.non200 = r.answers - (r.statuses["200"] ?? 0) + r.errors;
      bigRuns[t.id].push(r);
      log(`   rep ${rep} ${t.id.padEnd(8)} p50 ${f(r.p50, 3)} ms  ${fi(r.rps)} req/s  cpu ${f(r.cpuMsPerReq, 3)} ms/req  upstream/answer ${f(r.upstreamCalls / Math.max(1, r.answers), 3)}${r.non200 ? `  NON-200 ${JSON.stringify(r.statuses)}` : ""}`);
    }
  }

  // --- streaming
  log(`== streaming: ${SSE_CHUNKS} chunks, first ${SSE_FIRST_MS} ms after the headers, then every ${SSE_SPACING_MS} ms; ${SSE_REQUESTS} requests per target`);
  const sseProc = await startWorkerd("sse", [proxyWorker("ssepx", sseBase), obWorker("sseob", sseBase)]);
  const [ssePx, sseOb] = sseProc.workers;
  const obSseBase = `http://127.0.0.1:${sseOb.port}`;
  await migrate(obSseBase);
  await seedKeys(obSseBase, 10);
  const sseTargets = [
    { id: "direct", url: sseBase + SSE_UPSTREAM_PATH },
    { id: "proxy", url: `http://127.0.0.1:${ssePx.port}${SSE_UPSTREAM_PATH}` },
    { id: "one-balance", url: `${obSseBase}/api${SSE_UPSTREAM_PATH}` },
  ];
  const sseHeaders = { "content-type": "application/json", "x-goog-api-key": SERVICE_KEY };
  for (const t of sseTargets) await sseOnce(t.url, sseHeaders, BODY); // warm (and load the pool)
  const sseRuns = Object.fromEntries(sseTargets.map((t) => [t.id, []]));
  for (let i = 0; i < SSE_REQUESTS; i++) {
    for (const t of sseTargets) {
      const r = await sseOnce(t.url, sseHeaders, BODY);
      if (r.status !== 200 || r.chunks.length !== SSE_CHUNKS) throw new Error(`SSE ${t.id}: status ${r.status}, ${r.chunks.length} chunks`);
      sseRuns[t.id].push(r);
    }
  }
  const sseSummary = {};
  for (const t of sseTargets) {
    const runs = sseRuns[t.id];
    const gaps = runs.flatMap((r) => r.chunks.slice(1).map((at, i) => at - r.chunks[i]));
    sseSummary[t.id] = {
      headers: median(runs.map((r) => r.headersMs)),
      first: median(runs.map((r) => r.chunks[0])),
      firstAfterHeaders: median(runs.map((r) => r.chunks[0] - r.headersMs)),
      gap: median(gaps),
      gapMin: Math.min(...gaps),
      gapMax: Math.max(...gaps),
      total: median(runs.map((r) => r.chunks.at(-1))),
    };
  }
  for (const [id, s] of Object.entries(sseSummary)) {
    log(`   ${id.padEnd(12)} headers ${f(s.headers)} ms, first chunk ${f(s.first)} ms, chunk gap median ${f(s.gap)} (min ${f(s.gapMin)}, max ${f(s.gapMax)}) ms, last chunk ${f(s.total)} ms`);
  }

  const conversion = await measureConversion(conversionDeps);

  const { coldTargets, coldSummary } = await measureColdStarts(extraVariants, mockBase);

  // --- scale: 1,000 / 100,000 / 1,000,000 keys in one provider (BENCH_QUICK: the first two)
  const scale = await measureScale(mockBase);
  writeFileSync(join(OUT, "scale.json"), JSON.stringify(scale, null, 1));

  // --- where the time goes: V8 CPU profiles (sampling every 100 µs) of the trivial proxy and one-balance
  log("== V8 CPU profiles (inspector), c=8");
  const profiles = [];
  for (const id of ["proxy", "ob10"]) profiles.push(await profileTarget(id, mockBase, QUICK ? 2 : 4, 8));

  await stopAll();
  const loadEnd = readFileSync("/proc/loadavg", "utf8").trim();

  // --- sizes
  const wasm = readFileSync(join(BUILD_DIR, "index_bg.wasm"));
  const js = readFileSync(join(BUILD_DIR, "index.js"));
  const size = {
    wasm: wasm.length,
    wasmGz: gzipSync(wasm, { level: 9 }).length,
    js: js.length,
    jsGz: gzipSync(js, { level: 9 }).length,
  };
  size.totalGz = size.wasmGz + size.jsGz;
  const sizeOf = (file) => {
    const bytes = readFileSync(file);
    return { raw: bytes.length, gz: gzipSync(bytes, { level: 9 }).length };
  };
  const extraSizes = [];
  if (BASELINE_BUILD_DIR) {
    const w = sizeOf(join(BASELINE_BUILD_DIR, "index_bg.wasm"));
    const j = sizeOf(join(BASELINE_BUILD_DIR, "index.js"));
    extraSizes.push({ id: "base10", label: "one-balance (baseline build): index_bg.wasm + index.js", raw: w.raw + j.raw, gz: w.gz + j.gz });
  }
  if (ORIGINAL_DIR) extraSizes.push({ id: "orig10", label: "original TypeScript Worker: index.js (wrangler's bundle)", ...sizeOf(join(ORIGINAL_DIR, "index.js")) });

  // --- summaries
  const summary = {};
  for (const t of targets) {
    summary[t.id] = {};
    for (const c of CONCURRENCY) {
      const runs = results[t.id][c];
      summary[t.id][c] = {
        p50: median(runs.map((r) => r.p50)),
        p90: median(runs.map((r) => r.p90)),
        p99: median(runs.map((r) => r.p99)),
        rps: median(runs.map((r) => r.rps)),
        cpu: median(runs.map((r) => r.cpuMsPerReq)),
        answers: runs.reduce((a, r) => a + r.answers, 0),
        non200: runs.reduce((a, r) => a + r.answers - (r.statuses["200"] ?? 0) + r.errors, 0),
        upstreamPerAnswer: runs.reduce((a, r) => a + r.upstreamCalls, 0) / Math.max(1, runs.reduce((a, r) => a + r.answers, 0)),
        d1Reads: runs.reduce((a, r) => a + (r.d1?.reads ?? 0), 0),
        d1Writes: runs.reduce((a, r) => a + (r.d1?.writes ?? 0), 0),
        d1Statements: [...new Set(runs.flatMap((r) => r.d1?.statements ?? []))],
      };
    }
  }

  const cost = (id) => ({
    p50: summary[id][1].p50 - summary.proxy[1].p50,
    ratio: summary[id][32].rps / summary.proxy[32].rps,
    cpu: summary[id][32].cpu - summary.proxy[32].cpu,
  });
  const obIds = obVariants.map((v) => v.id);
  const rotationNon200 = rotation.reduce((a, r) => a + r.non200 + r.errors, 0);
  const rotation32 = rotation.filter((r) => r.c === 32);
  const d1PerReq = (id) => {
    const answers = CONCURRENCY.reduce((a, c) => a + summary[id][c].answers, 0);
    const reads = CONCURRENCY.reduce((a, c) => a + summary[id][c].d1Reads, 0);
    const writes = CONCURRENCY.reduce((a, c) => a + summary[id][c].d1Writes, 0);
    return { answers, reads, writes };
  };
  const firstChunkDelta = sseSummary["one-balance"].first - sseSummary.direct.first;
  const firstChunkDeltaProxy = sseSummary["one-balance"].first - sseSummary.proxy.first;
  const sel = obIds.map((id) => cost(id));

  const targetLabel = (id) =>
    ({ proxy: "trivial proxy", floor: "plain-JS floor", ob10: "one-balance, 10 keys", ob10nw: "one-balance, D1 writes counted but not run", obhealth: "one-balance's wasm, `GET /health`", emptyrs: "the smallest workers-rs Worker (bench/empty-worker)" })[id] ??
    allVariants.find((v) => v.id === id)?.label ??
    id;
  const rotCost = rotCostTargets.map((t) => {
    const answers = t.runs.reduce((a, r) => a + r.answers, 0);
    const n429 = t.runs.reduce((a, r) => a + r.upstream429, 0);
    const cpu = median(t.runs.map((r) => r.cpuMsPerReq));
    const per429 = n429 / Math.max(1, answers);
    const d1Writes = t.kind ? t.runs.reduce((a, r) => a + r.d1.writes, 0) : null;
    return {
      id: t.id,
      answers,
      rps: median(t.runs.map((r) => r.rps)),
      cpu,
      per429,
      steady: t.steady,
      cpuPer429: (cpu - summary[t.steady][8].cpu) / per429,
      d1PerAnswer: d1Writes === null ? null : d1Writes / Math.max(1, answers),
      d1WritesPer429: d1Writes === null ? NaN : d1Writes / Math.max(1, n429),
      non200: t.runs.reduce((a, r) => a + r.non200, 0),
    };
  });
  const rotCostOf = (id) => rotCost.find((r) => r.id === id);
  const big = Object.fromEntries(
    bigTargets.map((t) => {
      const runs = bigRuns[t.id];
      const answers = runs.reduce((a, r) => a + r.answers, 0);
      return [t.id, {
        p50: median(runs.map((r) => r.p50)),
        p99: median(runs.map((r) => r.p99)),
        rps: median(runs.map((r) => r.rps)),
        cpu: median(runs.map((r) => r.cpuMsPerReq)),
        upstreamPerAnswer: runs.reduce((a, r) => a + r.upstreamCalls, 0) / Math.max(1, answers),
        non200: runs.reduce((a, r) => a + r.non200, 0),
      }];
    }),
  );

  // --- criterion
  const criterion = readCriterion(process.env.BENCH_CRITERION_DIR);

  // --- markdown
  const cpuModel = (readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.*)/) ?? [])[1] ?? "?";
  const md = [];
  md.push("# Benchmark results");
  md.push("");
  md.push("Written by `scripts/bench` (bench/run.mjs); every run rewrites this file. Figures move 10–30 % between sittings:");
  md.push("compare only figures from the same run.");
  md.push("");
  md.push(`- Date: ${startedAt.toISOString()}`);
  md.push(`- Command: \`${process.env.BENCH_COMMAND ?? "bash scripts/bench"}\`${QUICK ? " (BENCH_QUICK=1: one repetition, short runs — a smoke run, not a measurement)" : ""}`);
  md.push(`- Worker built from: commit ${head}${dirty ? ` plus uncommitted changes in ${[...new Set(dirty.split("\n").map((l) => l.slice(3)))].join(", ")}` : ""}`);
  md.push(`- Machine: ${cpus().length} CPUs (nproc ${versionOf("nproc", [])}), ${cpuModel}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`);
  md.push(`- Load average (1, 5, 15 min) at start: ${loadStart.split(" ").slice(0, 3).join(", ")}; at end: ${loadEnd.split(" ").slice(0, 3).join(", ")}${process.env.BENCH_LOAD_NOTE ? ` (${process.env.BENCH_LOAD_NOTE})` : ""}`);
  md.push(`- Runtime: bare \`workerd serve\` (${versionOf(WORKERD, ["--version"])}, node_modules/workerd), one process per target, capnp configs in bench/out/`);
  md.push(`- Load generator: ${versionOf(OHA, ["--version"])}, closed loop, keep-alive, \`oha -z ${SECONDS}s -c N -w\`, ${WARMUP_SECONDS} s warm-up before each run, ${REPS} repetition(s), targets alternating within each repetition; figures are medians over repetitions`);
  md.push(`- Mock upstream: ${versionOf(nginxBin, ["-v"])} (bench/nginx.conf.tpl, own config, loopback port), fixed small JSON; SSE: bench/sse-server.mjs (Node ${process.version})`);
  md.push(`- one-balance request: \`POST ${OB_PATH}\` with \`x-goog-api-key: <service key>\` and a ${BODY.length}-byte JSON body; AI_GATEWAY_BASE_URL → the mock; KEY_CACHE_TTL_SECONDS ${readTemplate().vars.KEY_CACHE_TTL_SECONDS}; AUTH_KEY with 3 definitions`);
  md.push("- CPU per request: utime+stime of the target's workerd process group (/proc) over the measured run ÷ answers (for the direct row: nginx's)");
  md.push("");
  md.push("## Latency and throughput");
  md.push("");
  const rows = [];
  for (const t of targets) {
    for (const c of CONCURRENCY) {
      const s = summary[t.id][c];
      rows.push([t.label, c, f(s.p50, 3), f(s.p90, 3), f(s.p99, 3), fi(s.rps), f(s.cpu, 3), f(s.upstreamPerAnswer, 3), s.non200]);
    }
  }
  md.push(table(["target", "c", "p50 ms", "p90 ms", "p99 ms", "req/s", "CPU ms/req", "upstream calls/answer", "non-200"], rows));
  md.push("");
  md.push("## one-balance's cost over the trivial proxy (same runtime, same sitting)");
  md.push("");
  md.push("The plain-JS floor (bench/js-floor-worker.mjs) does the runtime work one-balance cannot avoid — compare a header,");
  md.push("buffer the body for replay, copy the allow-listed headers, one timed fetch, pass the answer through with headers");
  md.push("added — and nothing else: its gap to the trivial proxy is what the product's job costs in this runtime, and");
  md.push("one-balance's gap to it is what Rust in wasm, the glue and the policy cost.");
  md.push("");
  md.push(
    table(
      ["target", "p50 c=1 over proxy (ms)", "req/s c=32 vs proxy", "CPU ms/req c=32 over proxy", "CPU ms/req c=32 over the plain-JS floor", "first request (pool load) ms", "of which waiting on D1 ms"],
      [
        ["plain-JS floor", f(cost("floor").p50, 3), `${f(cost("floor").ratio * 100, 1)} %`, f(cost("floor").cpu, 3), "—", "—", "—"],
        ...allVariants.map((v) => [v.label, f(cost(v.id).p50, 3), `${f(cost(v.id).ratio * 100, 1)} %`, f(cost(v.id).cpu, 3), f(summary[v.id][32].cpu - summary.floor[32].cpu, 3), f(coldLoad[v.id], 1), coldLoadD1[v.id]]),
      ],
    ),
  );
  md.push("");
  md.push("## D1 statements on the success path");
  md.push("");
  md.push("Counted by bench/ob-entry.mjs, which gives the Worker its `DB` binding (a `D1Database` class over a SQLite Durable");
  md.push("Object) and counts every statement the Worker prepares and runs; counters are reset after each warm-up, so the");
  md.push("figures are steady state. One change-feed poll (1 statement) per KEY_CACHE_TTL_SECONDS / 2 per isolate is");
  md.push("expected.");
  md.push("");
  md.push(
    table(
      ["target", "answers", "D1 reads", "D1 writes", "reads/request", "writes/request"],
      allVariants.map((v) => v.id).map((id) => {
        const d = d1PerReq(id);
        return [targets.find((t) => t.id === id).label, fi(d.answers), d.reads, d.writes, (d.reads / d.answers).toExponential(1), (d.writes / d.answers).toExponential(1)];
      }),
    ),
  );
  const seen = [...new Set(obIds.flatMap((id) => CONCURRENCY.flatMap((c) => summary[id][c].d1Statements)))];
  if (seen.length) {
    md.push("");
    md.push("Statements seen in measured runs:");
    for (const s of seen.slice(0, 10)) md.push(`- \`${s}\``);
  }
  md.push("");
  md.push("## Rotation (10 keys; one always answers 429 with Gemini's per-minute body and RetryInfo)");
  md.push("");
  md.push("Each run starts a fresh workerd and database, so it meets the 429 key before the key cools.");
  md.push("");
  md.push(
    table(
      ["c", "answers", "statuses", "transport errors", "upstream 429s", "upstream 200s", "D1 writes"],
      rotation.map((r) => [r.c, fi(r.answers), JSON.stringify(r.statuses), r.errors, r.upstream429, r.upstream200, r.d1.writes]),
    ),
  );
  md.push("");
  md.push(`Non-200 answers under rotation: **${rotationNon200}**${rotationNon200 ? " — a bug" : ""}.`);
  md.push("");
  md.push(`## Rotation cost (1,000 keys, c=${ROTATION_COST_CONCURRENCY}; the mock answers 429 to a random half of the requests, whatever the key)`);
  md.push("");
  md.push("The 429 is Gemini's per-minute body without RetryInfo and with `Retry-After: 0`: a rate limit that rests the key until");
  md.push("the next second at most, so with 1,000 keys the 429s keep coming at the same rate for the whole run (one-balance runs with");
  md.push("`CONSECUTIVE_429_THRESHOLD=100`, `THROTTLE_MIN_KEYS=0`, `MAX_ATTEMPTS=40` here, so that neither the daily rest nor the");
  md.push("pool-wide breaker ends the experiment; the original has no such settings: it rests each key 65 s, re-reads its");
  md.push("1,000 keys from D1 after each new rest, and once all rest keeps trying them). CPU per 429 = (CPU per answer here −");
  md.push("CPU per answer at c=8 in the main table: the 1,000-key row for one-balance, the 10-key rows for the others) ÷");
  md.push("upstream 429s per answer; it includes the extra upstream call, reading the error body, the");
  md.push("verdict, and the D1 write the 429 causes. The plain-JS floor does only the runtime part: read the error body,");
  md.push("fetch again with the next key. One-balance's figure minus the floor's is its cost per 429 beyond the extra call.");
  md.push("");
  md.push(
    table(
      ["target", "answers", "req/s", "CPU ms/answer", "upstream 429s/answer", "CPU ms per 429", "beyond the floor's, ms per 429", "D1 writes per 429", "non-200"],
      rotCost.map((r) => [{ floor: "plain-JS floor", ob10: "one-balance", ob10nw: "one-balance, D1 writes counted but not run", orig10: "original TypeScript Worker", base10: "one-balance (baseline build)" }[r.id] ?? r.id, fi(r.answers), fi(r.rps), f(r.cpu, 3), f(r.per429, 3), f(r.cpuPer429, 3), r.id === "floor" ? "—" : f(r.cpuPer429 - rotCostOf("floor").cpuPer429, 3), r.d1PerAnswer === null ? "—" : f(r.d1WritesPer429, 2), r.non200]),
    ),
  );
  md.push("");
  md.push(`## A 100 KB request body (c=${BIG_BODY_CONCURRENCY}, ${fi(statSync(bigBodyFile).size)} bytes of JSON)`);
  md.push("");
  md.push(
    table(
      ["target", "p50 ms", "p99 ms", "req/s", "CPU ms/req", "req/s vs the plain-JS floor", "CPU vs the floor", "upstream calls/answer", "non-200"],
      bigTargets.map((t) => {
        const b = big[t.id];
        return [t.label, f(b.p50, 3), f(b.p99, 3), fi(b.rps), f(b.cpu, 3), f(b.rps / big.floor.rps, 2) + "×", f(b.cpu / big.floor.cpu, 2) + "×", f(b.upstreamPerAnswer, 3), b.non200];
      }),
    ),
  );
  md.push("");
  md.push(`## Cold start (${COLD_RESTARTS} restarts per target, alternating; medians)`);
  md.push("");
  md.push("Each measurement starts a new `workerd serve` process on the target's config (the D1 stand-in's storage, seeded");
  md.push("with 10 keys, stays on disk) and times: process start → the port accepts a connection (workerd has compiled and");
  md.push("evaluated the Worker's modules by then), the first request from there (a POST with the bench body on its own");
  md.push("connection: for one-balance and the original it includes reading the keys from D1), and the two together.");
  md.push("");
  md.push(
    table(
      ["target", "start → port open ms", "first request ms", "start → first 200 ms (min–max)", "first request vs the floor's", "start → first 200 vs the floor's", "workerd CPU to the first 200 ms"],
      coldTargets.map((t) => {
        const c = coldSummary[t.id];
        return [targetLabel(t.id), f(c.portOpen, 1), f(c.firstRequest, 1), `${f(c.toFirst200, 1)} (${f(c.range[0], 1)}–${f(c.range[1], 1)})`, `${c.firstRequest - coldSummary.floor.firstRequest >= 0 ? "+" : ""}${f(c.firstRequest - coldSummary.floor.firstRequest, 1)} ms`, f(c.toFirst200 / coldSummary.floor.toFirst200, 2) + "×", f(c.cpu, 0)];
      }),
    ),
  );
  md.push("");
  md.push(...scaleMarkdown(scale));
  md.push(`## Streaming (SSE: ${SSE_CHUNKS} chunks, first ${SSE_FIRST_MS} ms after the headers, then every ${SSE_SPACING_MS} ms; ${SSE_REQUESTS} requests per target, medians)`);
  md.push("");
  md.push(
    table(
      ["path", "headers ms", "first chunk ms", "first chunk after headers ms", "chunk gap median ms", "gap min–max ms", "last chunk ms"],
      Object.entries(sseSummary).map(([id, s]) => [id, f(s.headers), f(s.first), f(s.firstAfterHeaders), f(s.gap), `${f(s.gapMin)}–${f(s.gapMax)}`, f(s.total)]),
    ),
  );
  md.push("");
  md.push(`First chunk through one-balance vs the upstream called directly: +${f(firstChunkDelta)} ms (vs the trivial proxy: ${firstChunkDeltaProxy >= 0 ? "+" : ""}${f(firstChunkDeltaProxy)} ms).`);
  md.push("");
  md.push(...conversionMarkdown(conversion));
  md.push("## Worker size");
  md.push("");
  md.push(
    table(
      ["file", "raw bytes", "gzip -9 bytes"],
      [
        ["build/index_bg.wasm", fi(size.wasm), fi(size.wasmGz)],
        ["build/index.js", fi(size.js), fi(size.jsGz)],
        ["total", fi(size.wasm + size.js), fi(size.totalGz)],
        ...extraSizes.map((x) => [x.label, fi(x.raw), fi(x.gz)]),
      ],
    ),
  );
  md.push("");
  if (criterion.length) {
    md.push("## Host micro-benchmarks (criterion, `cargo bench --bench pure`)");
    md.push("");
    md.push(table(["benchmark", "median", "95 % interval"], criterion.map((c) => [c.name, c.median, c.interval])));
    md.push("");
  }
  md.push("## Where the CPU goes (V8 sampling profile through workerd's inspector, c=8, one run)");
  md.push("");
  md.push("Self time per function, busy samples only; µs per answer are inflated by the profiler (compare the two targets,");
  md.push("not these with the table above). `fetch` is the runtime's own fetch; `__wbg_*` are wasm-bindgen's JS glue for one");
  md.push("crossing each; `wasm-function[n]` is Rust; `(program)` is the runtime's C++ outside JS.");
  md.push("");
  for (const p of profiles) {
    md.push(`**${p.id === "proxy" ? "trivial proxy" : "one-balance, 10 keys"}**: ${fi(p.answers)} answers, workerd CPU ${f(p.cpuPerAnswer, 3)} ms/answer under the profiler`);
    md.push("");
    md.push(table(["share", "µs/answer", "function"], p.rows.slice(0, p.id === "proxy" ? 8 : 25)));
    md.push("");
  }
  // Figures compared side by side: lower is better unless `higher`.
  const figures = (id) => {
    const rows = [];
    for (const c of CONCURRENCY) rows.push({ name: `req/s, c=${c}`, value: summary[id]?.[c]?.rps, higher: true, d: 0 });
    for (const c of CONCURRENCY) rows.push({ name: `CPU ms/req, c=${c}`, value: summary[id]?.[c]?.cpu, d: 3 });
    rows.push({ name: "p50 ms, c=1", value: summary[id]?.[1]?.p50, d: 3 });
    rows.push({ name: "CPU ms per 429 (rotation cost)", value: rotCostOf(id)?.cpuPer429, d: 3 });
    rows.push({ name: `100 KB body: req/s, c=${BIG_BODY_CONCURRENCY}`, value: big[id]?.rps, higher: true, d: 0 });
    rows.push({ name: `100 KB body: CPU ms/req, c=${BIG_BODY_CONCURRENCY}`, value: big[id]?.cpu, d: 3 });
    rows.push({ name: "cold start: first request ms", value: coldSummary[id]?.firstRequest, d: 1 });
    rows.push({ name: "cold start: process start → first 200 ms", value: coldSummary[id]?.toFirst200, d: 1 });
    const gz = id === "ob10" ? size.totalGz : extraSizes.find((x) => x.id === id)?.gz;
    rows.push({ name: "size, gzip -9 bytes", value: gz, d: 0 });
    return rows;
  };
  const sideBySide = (idA, idB, labelA, labelB) => {
    const a = figures(idA);
    const b = figures(idB);
    return table(
      ["figure", labelA, labelB, `${labelA} ÷ ${labelB}`, `${labelA} better`],
      a.map((row, i) => {
        const x = row.value;
        const y = b[i].value;
        const fmt = (v) => (row.d === 0 ? fi(v) : f(v, row.d));
        const better = Number.isFinite(x) && Number.isFinite(y) ? (row.higher ? x > y : x < y) : null;
        return [row.name, fmt(x), fmt(y), Number.isFinite(x / y) ? f(x / y, 2) : "—", better === null ? "—" : better ? "yes" : "**no**"];
      }),
    );
  };
  if (ORIGINAL_DIR) {
    md.push("## One-balance against the original TypeScript Worker (same run, 10 keys each)");
    md.push("");
    md.push(sideBySide("ob10", "orig10", "one-balance", "original"));
    md.push("");
  }
  if (BASELINE_BUILD_DIR) {
    md.push(`## This build against the baseline build (same run, 10 keys each; baseline: ${BASELINE_BUILD_DIR})`);
    md.push("");
    md.push(sideBySide("ob10", "base10", "this build", "baseline"));
    md.push("");
  }
  md.push("## Budgets");
  md.push("");
  const ok = (b) => (b ? "met" : "**missed**");
  // The floor-relative budgets (issue "ahead of the original everywhere"): ratios to the plain-JS floor, same run.
  const ours = obIds;
  const rpsRatio = (c) => ours.map((id) => summary[id][c].rps / summary.floor[c].rps);
  const cpuRatio = (c) => ours.map((id) => summary[id][c].cpu / summary.floor[c].cpu);
  const range = (xs, d = 2) => `${f(Math.min(...xs), d)} … ${f(Math.max(...xs), d)}×`;
  const coldOb = coldSummary.ob10;
  const coldFloor = coldSummary.floor;
  const beyond = rotCostOf("ob10").cpuPer429 - rotCostOf("floor").cpuPer429;
  const versusOriginal = ORIGINAL_DIR ? figures("ob10").map((row, i) => ({ row, other: figures("orig10")[i].value })) : [];
  const lost = versusOriginal.filter(({ row, other }) => Number.isFinite(row.value) && Number.isFinite(other) && (row.higher ? row.value <= other : row.value >= other));
  md.push(
    table(
      ["budget", "measured (ratios to the plain-JS floor, this run)", "verdict"],
      [
        ["cold start: first request ≤ the floor's + 3 ms", `${f(coldOb.firstRequest, 1)} ms vs ${f(coldFloor.firstRequest, 1)} ms (${coldOb.firstRequest - coldFloor.firstRequest >= 0 ? "+" : ""}${f(coldOb.firstRequest - coldFloor.firstRequest, 1)} ms)`, ok(coldOb.firstRequest <= coldFloor.firstRequest + 3)],
        ["cold start: process start → first 200 ≤ 1.15× the floor's", `${f(coldOb.toFirst200, 1)} ms vs ${f(coldFloor.toFirst200, 1)} ms (${f(coldOb.toFirst200 / coldFloor.toFirst200, 2)}×)`, ok(coldOb.toFirst200 <= 1.15 * coldFloor.toFirst200)],
        ["size ≤ 200 KB (204,800 bytes) gzipped", `${fi(size.totalGz)} bytes (wasm ${fi(size.wasmGz)} + JS ${fi(size.jsGz)})`, ok(size.totalGz <= 204_800)],
        ["steady state ≥ 0.95× the floor's req/s at c=8", `${range(rpsRatio(8))} (10 / 1k / 100k / 100k half cooling keys)`, ok(Math.min(...rpsRatio(8)) >= 0.95)],
        ["steady state ≥ 0.95× the floor's req/s at c=32", range(rpsRatio(32)), ok(Math.min(...rpsRatio(32)) >= 0.95)],
        ["CPU per request ≤ 1.05× the floor's (c=1 / 8 / 32)", CONCURRENCY.map((c) => range(cpuRatio(c))).join(" / "), ok(CONCURRENCY.every((c) => Math.max(...cpuRatio(c)) <= 1.05))],
        ["rotation ≤ 0.3 ms CPU per 429 beyond the second upstream call (the floor's cost per 429)", `${f(rotCostOf("ob10").cpuPer429, 3)} − ${f(rotCostOf("floor").cpuPer429, 3)} = ${f(beyond, 3)} ms (with the D1 stand-in's writes not run: ${f(rotCostOf("ob10nw").cpuPer429 - rotCostOf("floor").cpuPer429, 3)} ms)`, ok(beyond <= 0.3)],
        ...(ORIGINAL_DIR ? [["every figure beats the original's from the same run (table above)", lost.length ? `behind on: ${lost.map(({ row }) => row.name).join("; ")}` : `ahead on all ${versusOriginal.length}`, ok(lost.length === 0)]] : []),
      ],
    ),
  );
  md.push("");
  md.push("The scale budgets (cold first request, rows read per isolate-hour, admin views at 1,000,000 keys) are in the");
  md.push("Scale section's own table.");
  md.push("");
  md.push("Earlier budgets, kept so that nothing regresses:");
  md.push("");
  const worstP50 = Math.max(...sel.map((s) => s.p50));
  const worstRatio = Math.min(...sel.map((s) => s.ratio));
  const p50s = obIds.map((id) => summary[id][1].p50);
  const d1Total = obIds.reduce((a, id) => ({ r: a.r + d1PerReq(id).reads, w: a.w + d1PerReq(id).writes }), { r: 0, w: 0 });
  const sumSeconds = obIds.length * CONCURRENCY.length * REPS * SECONDS;
  const ttl = Number(readTemplate().vars.KEY_CACHE_TTL_SECONDS ?? 60);
  // Since 1142a6c an isolate polls D1's change feed every KEY_CACHE_TTL_SECONDS / 2 instead of reloading the pool every
  // KEY_CACHE_TTL_SECONDS: 3 statements until the scale work, one since (src/edge/proxy/sql/poll.sql).
  const FEED_STATEMENTS = 1;
  const allowedReads = obIds.length * CONCURRENCY.length * REPS * Math.ceil(SECONDS / (ttl / 2) + 1) * FEED_STATEMENTS;
  md.push(
    table(
      ["budget", "measured", "verdict"],
      [
        ["cost over the trivial proxy ≤ 0.1 ms p50 at c=1", `${f(Math.min(...sel.map((s) => s.p50)), 3)} … ${f(worstP50, 3)} ms`, ok(worstP50 <= 0.1)],
        ["throughput ≥ 90 % of the trivial proxy's at c=32", `${f(worstRatio * 100, 1)} … ${f(Math.max(...sel.map((s) => s.ratio)) * 100, 1)} % (the plain-JS floor: ${f(cost("floor").ratio * 100, 1)} %)`, ok(worstRatio >= 0.9)],
        ["100 % 200s under rotation at c=32", `${rotation32.reduce((a, r) => a + r.non200 + r.errors, 0)} non-200 of ${fi(rotation32.reduce((a, r) => a + r.answers, 0))}`, ok(rotation32.every((r) => r.non200 === 0 && r.errors === 0))],
        ["selection flat from 10 to 100,000 keys (p50 c=1 of 100k, 100k half cooling minus 10 keys ≤ 0.05 ms; criterion per pick below)", `${p50s.map((x) => f(x, 3)).join(" / ")} ms (10 / 1k / 100k / 100k half cooling)`, ok(Math.max(p50s[2], p50s[3]) - p50s[0] <= 0.05)],
        ["0 D1 reads and 0 writes per request in steady state (≤ one change-feed poll, 1 statement, per half cache period)", `${d1Total.r} reads (≤ ${allowedReads} allowed by the TTL over ${sumSeconds} s of runs), ${d1Total.w} writes`, ok(d1Total.w === 0 && d1Total.r <= allowedReads)],
        ["Worker ≤ 1 MB gzipped", `${fi(size.totalGz)} bytes`, ok(size.totalGz <= 1_000_000)],
        ["first streamed chunk leaves the Worker within 5 ms of arriving", `+${f(firstChunkDelta)} ms over direct`, ok(firstChunkDelta <= 5)],
      ],
    ),
  );
  md.push("");
  const notes = join(ROOT, "bench", "notes.md");
  if (existsSync(notes)) {
    md.push(readFileSync(notes, "utf8").trim());
    md.push("");
  }
  writeFileSync(RESULTS, md.join("\n"));
  log("");
  log(md.join("\n"));
  log(`\n== wrote ${relative(ROOT, RESULTS)}`);
}

/** Criterion's estimates under target/criterion/<group>/<bench>/new/estimates.json. */
function readCriterion(dir) {
  if (!dir || !existsSync(dir)) return [];
  const out = [];
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (!statSync(p).isDirectory()) continue;
      if (name === "new" && existsSync(join(p, "estimates.json")) && existsSync(join(p, "benchmark.json"))) {
        const e = JSON.parse(readFileSync(join(p, "estimates.json"), "utf8"));
        const b = JSON.parse(readFileSync(join(p, "benchmark.json"), "utf8"));
        const m = e.median;
        out.push({ name: b.full_id, median: ns(m.point_estimate), interval: `${ns(m.confidence_interval.lower_bound)} – ${ns(m.confidence_interval.upper_bound)}` });
      } else if (name !== "base" && name !== "change" && name !== "report") walk(p);
    }
  };
  walk(dir);
  return out.sort((a, b) => a.name.localeCompare(b.name));
}
function ns(x) {
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} ms`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(2)} µs`;
  return `${x.toFixed(1)} ns`;
}

const deadline = setTimeout(
  () => {
    console.error("bench: overall time limit (60 min) reached; stopping");
    stopAll().finally(() => process.exit(2));
  },
  60 * 60 * 1000,
);
deadline.unref();
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => stopAll().finally(() => process.exit(130)));

main()
  .then(() => stopAll())
  .catch(async (e) => {
    console.error(e.stack ?? e);
    await stopAll();
    process.exitCode = 1;
  });
