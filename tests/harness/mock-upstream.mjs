// A scriptable stand-in for Cloudflare AI Gateway (and the providers behind it) on 127.0.0.1.
//
//   const mock = await startMock();
//   mock.on({ method: "POST", path: /:generateContent$/ }, gemini.success("hi"));   // persistent rule
//   mock.queue(gemini.rateLimited(), { status: 200, body: { ok: 1 } });           // one-shot replies, in order
//   mock.on((req) => req.headers["x-goog-api-key"] === "k1", gemini.invalidKey());
//   …
//   mock.requests[0].headers["x-goog-api-key"]; mock.requests[0].json();
//   await mock.close();
//
// Which reply answers a request: the oldest queued reply if any, else the most recently added matching rule, else the
// default reply (200 JSON). A reply is an object (below) or a function `(req) => reply` (may be async).
//
// Reply object:
//   status    HTTP status (default 200)
//   headers   object of response headers (content-type defaults to application/json for object bodies)
//   body      string | Buffer | Uint8Array | any other value → JSON.stringify
//   chunks    array of chunks streamed one by one without content-length; each is a string/Buffer or
//             { data, delayMs, after } — `after` is a promise the chunk waits for (see `deferred()`), so a test can
//             release chunks exactly when it has seen the previous one (no timing assumptions).
//   hang      true: read the request, then never send headers (the socket stays open until the client gives up
//             or mock.close()).
//   dropAfter n: send headers and n chunks (or the body as one chunk), then destroy the socket mid-response.
//   delayMs   wait before sending headers.
import { createServer } from "node:http";

const DEFAULT_REPLY = Object.freeze({ status: 200, body: { ok: true, mock: "default reply" } });

/** A promise with its resolve function exposed: `const gate = deferred(); … gate.resolve();` */
export function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Starts the mock on 127.0.0.1 with an ephemeral port.
 * @param {{ defaultReply?: object|Function }} [options]
 */
export async function startMock({ defaultReply = DEFAULT_REPLY } = {}) {
  const sockets = new Set();
  const timers = new Set();
  const waiters = new Set();
  let queue = [];
  let rules = [];
  let closed = false;

  const mock = {
    /** Base URL without a trailing slash, e.g. http://127.0.0.1:40123 */
    url: "",
    /** Every request received, oldest first (see `recordOf` for the fields). */
    requests: [],
    /**
     * Adds a persistent rule. `matcher` is `(req) => boolean` or `{ method?, path? }` where path is an exact
     * pathname string or a RegExp tested against the pathname. Newer rules win over older ones.
     */
    on(matcher, reply) {
      rules.unshift({ match: toPredicate(matcher), reply });
      return mock;
    },
    /** Appends one-shot replies, used in order by the next requests whatever their path. */
    queue(...replies) {
      queue.push(...replies);
      return mock;
    },
    /** Forgets recorded requests, queued replies and rules (open connections are left alone). */
    reset() {
      mock.requests.length = 0;
      queue = [];
      rules = [];
      return mock;
    },
    /** Resolves once at least `count` requests have been recorded; rejects after `timeoutMs`. */
    waitForRequests(count, { timeoutMs = 10_000 } = {}) {
      if (mock.requests.length >= count) return Promise.resolve(mock.requests.slice());
      return new Promise((resolve, reject) => {
        const waiter = {
          check: () => {
            if (mock.requests.length < count) return;
            finish();
            resolve(mock.requests.slice());
          },
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`mock: expected ${count} requests, got ${mock.requests.length} within ${timeoutMs} ms`));
        }, timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          waiters.delete(waiter);
        };
        waiters.add(waiter);
      });
    },
    /** Closes the server and destroys every open socket (hanging replies included). Never hangs. */
    async close() {
      if (closed) return;
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const s of sockets) s.destroy();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };

  const server = createServer((req, res) => {
    const parts = [];
    req.on("data", (chunk) => parts.push(chunk));
    req.on("error", () => {});
    req.on("end", () => {
      const record = recordOf(req, Buffer.concat(parts));
      mock.requests.push(record);
      for (const w of [...waiters]) w.check();
      // Inside the promise chain, so a throwing matcher or reply function answers 500 instead of crashing the mock.
      Promise.resolve()
        .then(() => {
          const reply = queue.length > 0 ? queue.shift() : (rules.find((rule) => rule.match(record))?.reply ?? defaultReply);
          return typeof reply === "function" ? reply(record) : reply;
        })
        .then((r) => send(res, r ?? defaultReply))
        .catch((err) => {
          if (!res.headersSent) {
            res.writeHead(500, { "content-type": "text/plain" });
            res.end(`mock reply failed: ${err?.stack ?? err}`);
          } else res.destroy();
        });
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  const wait = (ms) =>
    new Promise((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  async function send(res, reply) {
    const { status = 200, headers = {}, body, chunks, hang, dropAfter, delayMs } = reply;
    if (delayMs) await wait(delayMs);
    if (hang) return; // never answer; close() or the client ends it
    if (res.destroyed) return;
    const outHeaders = lowerKeys(headers);
    if (chunks || dropAfter !== undefined) {
      const list = chunks ?? (body === undefined ? [] : [body]);
      if (!("content-type" in outHeaders) && list.length > 0 && !isBytes(chunkData(list[0])) && typeof chunkData(list[0]) !== "string") {
        outHeaders["content-type"] = "application/json";
      }
      res.writeHead(status, outHeaders);
      res.flushHeaders();
      let sent = 0;
      for (const chunk of list) {
        if (dropAfter !== undefined && sent >= dropAfter) break;
        if (typeof chunk === "object" && chunk !== null && !isBytes(chunk)) {
          if (chunk.after) await chunk.after;
          if (chunk.delayMs) await wait(chunk.delayMs);
        }
        if (res.destroyed) return;
        await new Promise((resolve) => res.write(toBytes(chunkData(chunk)), () => resolve()));
        sent++;
      }
      if (dropAfter !== undefined) {
        // FIN after the bytes already written, without the final empty chunk: the client sees a body cut short.
        res.socket?.end();
        return;
      }
      res.end();
      return;
    }
    const bytes = body === undefined ? Buffer.alloc(0) : toBytes(body);
    if (body !== undefined && !isBytes(body) && typeof body !== "string" && !("content-type" in outHeaders)) {
      outHeaders["content-type"] = "application/json";
    }
    if (!("content-length" in outHeaders)) outHeaders["content-length"] = String(bytes.length);
    res.writeHead(status, outHeaders);
    res.end(bytes);
  }

  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  mock.url = `http://127.0.0.1:${server.address().port}`;
  return mock;
}

/**
 * What the mock records for each request (also what matchers and reply functions receive):
 * { method, url (path + query as sent), path, query (raw, without "?"; "" if none), headers (lower-case names,
 *   Node's joining of repeats), rawHeaders ([name, value, …] as sent), body (Buffer), text(), json(), receivedAt }
 */
function recordOf(req, body) {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  return {
    method: req.method,
    url,
    path: q < 0 ? url : url.slice(0, q),
    query: q < 0 ? "" : url.slice(q + 1),
    headers: { ...req.headers },
    rawHeaders: req.rawHeaders.slice(),
    body,
    text: () => body.toString("utf8"),
    json: () => JSON.parse(body.toString("utf8")),
    receivedAt: Date.now(),
  };
}

function toPredicate(matcher) {
  if (typeof matcher === "function") return matcher;
  const { method, path } = matcher ?? {};
  return (req) =>
    (method === undefined || req.method === method.toUpperCase()) &&
    (path === undefined || (path instanceof RegExp ? path.test(req.path) : req.path === path));
}

function chunkData(chunk) {
  return typeof chunk === "object" && chunk !== null && !isBytes(chunk) ? chunk.data : chunk;
}

function isBytes(v) {
  return Buffer.isBuffer(v) || v instanceof Uint8Array;
}

function toBytes(v) {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (typeof v === "string") return Buffer.from(v, "utf8");
  if (v === undefined) return Buffer.alloc(0);
  return Buffer.from(JSON.stringify(v), "utf8");
}

function lowerKeys(headers) {
  const out = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}
