// Shared helpers for the proxy e2e tests (native, Gemini SDK, OpenAI SDK compat, secrets): seeding pool keys in the
// Worker's D1, reading their state back, bounded polling, realistic fake keys, and the next midnight in
// America/Los_Angeles computed independently of the Worker (Intl, DST-aware).
import { randomBytes, randomUUID } from "node:crypto";
import { withTimeout } from "../../harness/project.mjs";

/** Unix seconds now. */
export const nowS = () => Math.floor(Date.now() / 1000);

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
function randomText(length) {
  const bytes = randomBytes(length);
  let out = "";
  for (const b of bytes) out += ALPHABET[b % ALPHABET.length];
  return out;
}

/** A fake key that looks like the provider's real ones (and is unique, so it can be grepped for). */
export function fakeKey(provider) {
  switch (provider) {
    case "google-ai-studio":
      return `AIzaSy${randomText(33)}`;
    case "openai":
      return `sk-proj-${randomText(48)}`;
    case "anthropic":
      return `sk-ant-api03-${randomText(40)}`;
    case "openrouter":
      return `sk-or-v1-${randomText(64).toLowerCase()}`;
    default:
      return `${provider}-${randomText(40)}`;
  }
}

/**
 * Inserts pool keys for `provider`. `specs` is a number (that many fresh fake keys) or an array of
 * `{ key?, coolings?, status? }`. Returns `[{ id, short, key, provider }]` in insertion order.
 */
export async function seedKeys(worker, provider, specs) {
  const list = typeof specs === "number" ? Array.from({ length: specs }, () => ({})) : specs;
  const out = [];
  for (const spec of list) {
    const id = randomUUID();
    const key = spec.key ?? fakeKey(provider);
    // cooling_until is what the Worker keeps beside model_coolings (the latest end_at), as its writes would.
    const coolingUntil = Math.max(0, ...Object.values(spec.coolings ?? {}).map((c) => Math.floor(Number(c?.end_at) || 0)));
    await worker.d1.run(
      "INSERT INTO keys (id, key, provider, model_coolings, status, cooling_until) VALUES (?, ?, ?, ?, ?, ?)",
      id,
      key,
      provider,
      spec.coolings === undefined ? null : JSON.stringify(spec.coolings),
      spec.status ?? "active",
      coolingUntil,
    );
    out.push({ id, short: id.slice(0, 8), key, provider });
  }
  return out;
}

/** The `keys` row of `id` with `model_coolings` parsed (`coolings`, `{}` when NULL). */
export async function keyRow(worker, id) {
  const row = await worker.d1.first("SELECT * FROM keys WHERE id = ?", id);
  if (!row) return null;
  return { ...row, coolings: row.model_coolings ? JSON.parse(row.model_coolings) : {} };
}

/**
 * Polls `probe` (sync or async) until it returns a truthy value, which is returned. Rejects after `timeoutMs` with
 * `message` and the last value seen.
 */
export async function waitFor(probe, { timeoutMs = 8_000, intervalMs = 25, message = "condition" } = {}) {
  const until = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await probe();
    if (last) return last;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${message}; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Polls the row of `id` until `predicate(row)` holds; returns the row. */
export function waitForRow(worker, id, predicate, message) {
  return waitFor(
    async () => {
      const row = await keyRow(worker, id);
      return row && predicate(row) ? row : null;
    },
    { message: message ?? `key ${id} to reach the expected state` },
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Midnight in America/Los_Angeles, from Intl (tz database of Node's ICU), not from the code under test.

const LA = new Intl.DateTimeFormat("en-US", {
  timeZone: "America/Los_Angeles",
  hourCycle: "h23",
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

/** The wall-clock fields in Los Angeles at `ms`. */
export function laWallClock(ms) {
  const p = Object.fromEntries(LA.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return { year: +p.year, month: +p.month, day: +p.day, hour: +p.hour, minute: +p.minute, second: +p.second };
}

/** Los Angeles' UTC offset at `ms`, in ms (negative: -8 h in winter, -7 h in summer). */
function laOffsetMs(ms) {
  const w = laWallClock(ms);
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - Math.floor(ms / 1000) * 1000;
}

/** The first midnight in America/Los_Angeles strictly after unix second `s`, as unix seconds. */
export function nextPacificMidnightS(s) {
  const w = laWallClock(s * 1000);
  const wall = Date.UTC(w.year, w.month - 1, w.day + 1); // tomorrow 00:00, as if it were UTC
  let t = wall - laOffsetMs(wall);
  t = wall - laOffsetMs(t); // the offset at the answer itself (differs on DST change days)
  const check = laWallClock(t);
  if (check.hour !== 0 || check.minute !== 0 || check.second !== 0) throw new Error(`midnight computation failed for ${s}`);
  return t / 1000;
}

// ---------------------------------------------------------------------------------------------------------------
// Responses

/** The `x-one-balance-attempts` header parsed into `[{ id, verdict }]` (without its `affinity=` entry). */
export function attemptsOf(res) {
  const line = res.headers.get("x-one-balance-attempts");
  if (!line) return [];
  return line
    .split(",")
    .map((part) => {
      const [id, verdict] = part.trim().split("=");
      return { id, verdict };
    })
    .filter((a) => a.id !== "affinity");
}

/** The `affinity=` entry of the `x-one-balance-attempts` header: "held", "moved", "lost", or null (no session). */
export function affinityOf(res) {
  const entry = (res.headers.get("x-one-balance-attempts") ?? "").split(",").map((p) => p.trim()).find((p) => p.startsWith("affinity="));
  return entry ? entry.slice("affinity=".length) : null;
}

/** Reads a body reader until `predicate(textSoFar)` holds or the stream ends; bounded by `timeoutMs`. */
export async function readUntil(reader, state, predicate, { timeoutMs = 8_000, message = "stream data" } = {}) {
  const decoder = state.decoder ?? (state.decoder = new TextDecoder());
  state.text ??= "";
  state.bytes ??= [];
  const run = async () => {
    while (!predicate(state.text)) {
      const { value, done } = await reader.read();
      if (done) {
        state.done = true;
        return;
      }
      state.bytes.push(Buffer.from(value));
      state.text += decoder.decode(value, { stream: true });
    }
  };
  await withTimeout(run(), timeoutMs, `waiting for ${message}`);
  return state.text;
}

/** `fetch` with a bounded wait (the whole response, headers and body, must come within `timeoutMs`). */
export function timedFetch(url, init = {}, timeoutMs = 15_000) {
  return fetch(url, { ...init, signal: init.signal ?? AbortSignal.timeout(timeoutMs) });
}
