// The D1 stand-in shared by the bench's entry modules (bench only; never deployed).
//
// Bare workerd has no D1 service (Miniflare brings its own), so this module supplies one: a class named
// `D1Database` (the name workers-rs checks) with the D1 client API a Worker uses — prepare/bind/all/run/first/raw,
// batch, exec — backed by a SQLite Durable Object in the same workerd process (`ctx.storage.sql`), with D1's result
// shape ({results, success, meta}). Every statement passes through it and is counted, reads and writes apart: that
// is how the bench counts D1 statements per request. It also sums the rows SQLite read (`meta.rows_read`, the figure
// D1 bills: rows, not statements) and keeps a short trace of the statements with their parameters and rows read,
// which the scale section replays (POST /__bench/replay) to time the stand-in's own work apart from the Worker's.
// `control` answers the /__bench/ routes (seed SQL, read or reset the counters, replay) before a Worker is entered.
import { DurableObject } from "cloudflare:workers";

const counts = { reads: 0, writes: 0, batches: 0, rowsRead: 0, rowsWritten: 0, statements: [], trace: [], waitedMs: 0 };
const KEEP_STATEMENTS = 50;
let nextBatch = 1;

/** "reads" or "writes", by the statement's first keyword (after any leading `--` comment lines). */
function classify(sql) {
  const head = sql.replace(/^(\s*--[^\n]*\n)*/, "").trimStart().slice(0, 12).toUpperCase();
  return head.startsWith("SELECT") || head.startsWith("WITH") || head.startsWith("PRAGMA") ? "reads" : "writes";
}

function note(sql) {
  counts[classify(sql)]++;
  if (counts.statements.length < KEEP_STATEMENTS) counts.statements.push(sql.replace(/\s+/g, " ").trim().slice(0, 120));
}

/** Adds a statement's result to the row counters and, while there is room, to the trace (`batch`: its batch's number). */
function tally(sql, params, result, batch) {
  const rowsRead = result?.meta?.rows_read ?? 0;
  counts.rowsRead += rowsRead;
  counts.rowsWritten += result?.meta?.rows_written ?? 0;
  if (counts.trace.length < KEEP_STATEMENTS) counts.trace.push({ sql, params, batch, rowsRead, rows: result?.results?.length ?? 0 });
}

class D1PreparedStatement {
  constructor(db, sql, params) {
    this.db = db;
    this.sql = sql;
    this.params = params;
  }
  bind(...params) {
    return new D1PreparedStatement(this.db, this.sql, params);
  }
  async all() {
    await this.db.roundTrip();
    note(this.sql);
    if (this.db.discardWrites && classify(this.sql) === "writes") return DISCARDED;
    const started = Date.now(); // the Workers clock moves across I/O, so this is the time spent waiting on the store
    try {
      const result = await this.db.store.query(this.sql, this.params);
      tally(this.sql, this.params, result, null);
      return result;
    } finally {
      counts.waitedMs += Date.now() - started;
    }
  }
  run() {
    return this.all();
  }
  async first(column) {
    const { results } = await this.all();
    const row = results[0] ?? null;
    if (column === undefined || column === null) return row;
    return row === null ? null : (row[column] ?? null);
  }
  async raw() {
    const { results } = await this.all();
    return results.map((row) => Object.values(row));
  }
}

/** What a write gets when writes are discarded: D1's shape for a statement that changed nothing. */
const DISCARDED = { success: true, results: [], meta: { duration: 0, changes: 0, rows_read: 0, rows_written: 0, last_row_id: 0, changed_db: false, size_after: 0 } };

class D1Database {
  /**
   * `discardWrites`: count write statements but do not run them (the bench's rotation cost without the stand-in's
   * own SQLite work, which real D1 does on another machine); reads still run.
   */
  constructor(namespace, discardWrites = false, latencyMs = 0) {
    this.namespace = namespace;
    this.id = namespace.idFromName("DB");
    this.discardWrites = discardWrites;
    this.latencyMs = latencyMs;
  }
  /** `latencyMs`: a network hop to D1, waited before every statement or batch (BENCH_D1_LATENCY_MS; 0: none). */
  async roundTrip() {
    if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
  }
  // A Durable Object stub is an I/O object of the request that made it, so each statement gets its own.
  get store() {
    return this.namespace.get(this.id);
  }
  prepare(sql) {
    return new D1PreparedStatement(this, sql, []);
  }
  async batch(statements) {
    await this.roundTrip();
    counts.batches++;
    for (const s of statements) note(s.sql);
    if (this.discardWrites && statements.every((s) => classify(s.sql) === "writes")) return statements.map(() => DISCARDED);
    const results = await this.store.batch(statements.map((s) => ({ sql: s.sql, params: s.params })));
    const batch = nextBatch++;
    statements.forEach((s, i) => tally(s.sql, s.params, results[i], batch));
    return results;
  }
  async exec(sql) {
    await this.roundTrip();
    note(sql);
    const r = await this.store.query(sql, []);
    tally(sql, [], r, null);
    return { count: 1, duration: r.meta.duration };
  }
  withSession() {
    return this;
  }
}

/** The database: one SQLite Durable Object. */
export class D1Store extends DurableObject {
  query(sql, params) {
    const started = Date.now();
    const cursor = this.ctx.storage.sql.exec(sql, ...(params ?? []));
    const results = cursor.toArray();
    return {
      success: true,
      results,
      meta: {
        duration: Date.now() - started,
        changes: cursor.rowsWritten,
        rows_read: cursor.rowsRead,
        rows_written: cursor.rowsWritten,
        last_row_id: 0,
        changed_db: cursor.rowsWritten > 0,
        size_after: 0,
      },
    };
  }
  batch(statements) {
    return this.ctx.storage.transactionSync(() => statements.map((s) => this.query(s.sql, s.params)));
  }
}

let cachedFrom;
let cachedEnv;
/** The Worker's env: the bindings given, with `DB` the stand-in; `adjust(env)` may add or replace more (once). */
export function benchEnv(env, adjust) {
  if (cachedFrom !== env) {
    cachedEnv = { ...env, DB: new D1Database(env.D1STORE, env.BENCH_D1_DISCARD_WRITES === "1", Number(env.BENCH_D1_LATENCY_MS ?? 0)) };
    delete cachedEnv.D1STORE;
    delete cachedEnv.BENCH_D1_DISCARD_WRITES;
    delete cachedEnv.BENCH_D1_LATENCY_MS;
    adjust?.(cachedEnv);
    cachedFrom = env;
  }
  return cachedEnv;
}

export async function control(request, env, path) {
  const json = (value) => new Response(JSON.stringify(value), { headers: { "content-type": "application/json" } });
  const store = env.D1STORE.get(env.D1STORE.idFromName("DB"));
  if (path === "/__bench/sql" && request.method === "POST") {
    // Body: a JSON array of SQL strings (or {sql, params}); run in one transaction, not counted.
    const list = (await request.json()).map((s) => (typeof s === "string" ? { sql: s, params: [] } : s));
    const results = await store.batch(list);
    return json({ statements: results.length, last: results.at(-1)?.results?.slice(0, 5) ?? [] });
  }
  if (path === "/__bench/replay" && request.method === "POST") {
    // Body: a trace from /__bench/d1 (statements with their parameters and batch numbers). Runs them again through
    // this stand-in exactly as a Worker's calls do (batches as batches), counted like a Worker's: the stand-in's own
    // work for those statements, without the Worker.
    const trace = await request.json();
    const db = new D1Database(env.D1STORE);
    let rowsRead = 0;
    for (let i = 0; i < trace.length; ) {
      const group = trace[i].batch === null ? [trace[i]] : trace.filter((t) => t.batch === trace[i].batch);
      const prepared = group.map((t) => db.prepare(t.sql).bind(...t.params));
      const results = trace[i].batch === null ? [await prepared[0].all()] : await db.batch(prepared);
      rowsRead += results.reduce((a, r) => a + (r.meta?.rows_read ?? 0), 0);
      i += group.length;
    }
    return json({ statements: trace.length, rowsRead });
  }
  if (path === "/__bench/d1") return json(counts);
  if (path === "/__bench/d1/reset") {
    counts.reads = 0;
    counts.writes = 0;
    counts.batches = 0;
    counts.rowsRead = 0;
    counts.rowsWritten = 0;
    counts.statements = [];
    counts.trace = [];
    counts.waitedMs = 0;
    return json(counts);
  }
  return new Response("unknown bench route", { status: 404 });
}
