// @ts-check
// The JavaScript half of the proxy: awaiting and moving bytes, nothing else. Called from src/edge/proxy/relay.rs
// and src/edge/proxy/forward.rs; type-checked by `tsc --checkJs` in `npm test` against the TypeScript declarations
// wasm-bindgen writes for the Rust exports (build/index.d.ts).
//
// Rust decides everything: which key, which URL, which headers may travel, what an answer means, every size and
// time limit, and what the client gets. These functions do the runtime work that would otherwise take one
// wasm-to-JS crossing per header, per setter and per timer, and `relay` does the awaiting, so a request's success
// path needs no wasm-bindgen future at all.

/** @typedef {import("../../../build/types/one_balance.js").Forwarding} Forwarding */
/** @typedef {import("../../../build/types/one_balance.js").Converter} Converter */

/** @typedef {Uint8Array<ArrayBuffer>} Bytes */

/**
 * What `send` resolves to: the upstream's answer once its headers arrived, or why there is none.
 * @typedef {{ response: Response, timedOut: false } | { response: undefined, timedOut: boolean }} Sent
 */

/**
 * What `readBody` and `readBounded` resolve to: the bytes, or why there are none.
 * @typedef {{ bytes: Bytes, problem: undefined } | { bytes: undefined, problem: "too_large" | "unreadable" | "late" }} Read
 */

/**
 * The limits `relay` applies, decided in Rust (src/edge/proxy/forward.rs `RelayLimits`): the client's body at most
 * `bodyBytes`, read within `bodyTimeoutMs`; an error answer's body at most `errorBodyBytes` (the rest is not read).
 * @typedef {{ bodyBytes: number, bodyTimeoutMs: number, errorBodyBytes: number }} Limits
 */

/**
 * A copy of the client's headers holding only the allow-listed names (lower-case), in one crossing; or, when one
 * of them is longer than maxLength, that header's name (header values are byte strings: length = bytes).
 * @param {Headers} source
 * @param {string[]} names
 * @param {number} maxLength
 * @returns {Headers | string}
 */
export function allowedHeaders(source, names, maxLength) {
  const out = new Headers();
  for (const name of names) {
    const value = source.get(name);
    if (value === null) continue;
    if (value.length > maxLength) return name;
    out.set(name, value);
  }
  return out;
}

/**
 * One upstream request. Resolves once the answer's headers arrive, or when none arrive within timeoutMs (the fetch
 * is then aborted), or when the fetch fails. The timer is cleared as soon as the headers are in, so a streamed body
 * is never cut by it. Redirects are not followed: a pool key must not travel to another origin.
 * @param {string} url
 * @param {string} method
 * @param {Headers} headers
 * @param {Bytes | undefined} body
 * @param {number} timeoutMs
 * @returns {Promise<Sent>}
 */
export async function send(url, method, headers, body, timeoutMs) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await fetch(url, { method, headers, body, redirect: "manual", signal: controller.signal });
    return { response, timedOut: false };
  } catch {
    return { response: undefined, timedOut: controller.signal.aborted };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The length a message's body will have, when it is known before reading: its `content-length`, provided it has
 * neither a `transfer-encoding` (workerd reads a chunked body to its end whatever `content-length` says: a raw
 * request carrying both and 5,000 chunked bytes gave `content-length: 10` and 5,000 bytes) nor a
 * `content-encoding` (fetch decompresses an answer, so its `content-length` counts the compressed bytes: 230 of them
 * gave 200,000). Otherwise undefined: the body's length is known only once it is read.
 * @param {Headers} headers
 * @returns {number | undefined}
 */
function knownLength(headers) {
  const declared = headers.get("content-length");
  if (declared === null || headers.has("transfer-encoding") || headers.has("content-encoding")) return undefined;
  return /^[0-9]{1,15}$/.test(declared) ? Number(declared) : undefined;
}

/**
 * A request's or an answer's body, at most maxBytes, given up when it has not arrived within timeoutMs. A body whose
 * length is known (`knownLength`) and within maxBytes is read whole, with one `arrayBuffer()` raced once against the
 * time-out: reading it chunk by chunk costs a JS round trip per chunk (a 100 KB body: 0.95 → 0.48 ms of CPU per
 * request, measured). Any other body goes through `readBounded`, which cancels it at maxBytes. (A whole read that
 * comes too late is abandoned, not cancelled: the runtime ends it with the request.)
 * @param {Request | Response} message
 * @param {number} maxBytes
 * @param {number} timeoutMs
 * @returns {Promise<Read>}
 */
export async function readBody(message, maxBytes, timeoutMs) {
  const length = knownLength(message.headers);
  if (length === undefined || length > maxBytes) return readBounded(message.body, maxBytes, timeoutMs);
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  /** @type {Promise<"late">} */
  const late = new Promise((resolve) => {
    timer = setTimeout(resolve, timeoutMs, "late");
  });
  try {
    const read = await Promise.race([message.arrayBuffer(), late]);
    if (read === "late") return { bytes: undefined, problem: "late" };
    // The framing holds the body to its declared length; checked all the same.
    if (read.byteLength > maxBytes) return { bytes: undefined, problem: "too_large" };
    return { bytes: new Uint8Array(read), problem: undefined };
  } catch {
    return { bytes: undefined, problem: "unreadable" };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A body read with a running byte count: the stream is cancelled as soon as it passes maxBytes (whatever
 * Content-Length said, or whether it said anything), and given up when it has not ended within timeoutMs.
 * @param {ReadableStream<Bytes> | null} stream
 * @param {number} maxBytes
 * @param {number} timeoutMs
 * @returns {Promise<Read>}
 */
async function readBounded(stream, maxBytes, timeoutMs) {
  if (stream === null) return { bytes: new Uint8Array(0), problem: undefined };
  const reader = stream.getReader();
  /** @type {Bytes[]} */
  const chunks = [];
  let total = 0;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  /** @type {Promise<"late">} */
  const late = new Promise((resolve) => {
    timer = setTimeout(resolve, timeoutMs, "late");
  });
  try {
    for (;;) {
      const next = await Promise.race([reader.read(), late]);
      if (next === "late") {
        reader.cancel().catch(() => {});
        return { bytes: undefined, problem: "late" };
      }
      if (next.done) break;
      total += next.value.byteLength;
      if (total > maxBytes) {
        reader.cancel().catch(() => {});
        return { bytes: undefined, problem: "too_large" };
      }
      chunks.push(next.value);
    }
  } catch {
    return { bytes: undefined, problem: "unreadable" };
  } finally {
    clearTimeout(timer);
  }
  if (chunks.length === 1) return { bytes: chunks[0], problem: undefined };
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return { bytes, problem: undefined };
}

/**
 * An upstream answer passed on: same status, the body streamed through untouched, only the headers in `allowed` or
 * starting with one of `prefixes` (lower-case; src/upstream.rs decides them), plus the `fixed` pairs
 * ([name, value, name, value, …]) and one more `name: value`.
 * @param {Response} upstream
 * @param {string[]} allowed
 * @param {string[]} prefixes
 * @param {string[]} fixed
 * @param {string} name
 * @param {string} value
 * @returns {Response}
 */
export function passThrough(upstream, allowed, prefixes, fixed, name, value) {
  const headers = new Headers();
  for (const [header, headerValue] of upstream.headers) {
    if (allowed.includes(header) || prefixes.some((prefix) => header.startsWith(prefix))) headers.append(header, headerValue);
  }
  for (let i = 0; i + 1 < fixed.length; i += 2) headers.set(fixed[i], fixed[i + 1]);
  headers.set(name, value);
  return new Response(upstream.body, { status: upstream.status, statusText: upstream.statusText, headers });
}

/**
 * An upstream success converted into the client's protocol on its way (a converted Messages or Responses request):
 * the upstream body is pulled chunk by chunk and each chunk handed to `converter` (src/edge/proxy/converter.rs),
 * whose answer — the client bytes to write now, often none — goes out at once. Bytes the converter holds (a burst
 * goes out as one write: each write costs the runtime more CPU than the conversion) go out when a timer set to
 * `converter.waitMs()` asks `converter.flush()` for them, unless a later chunk lets them out first. Rust decides
 * every byte and when it is written; this only moves them. The end of the upstream body asks `converter.finish()`
 * for the closing bytes; a body that breaks off asks `converter.abort()` for the client's error ending (a cut
 * answer must not look whole); a client that goes away cancels the upstream read. The converter is freed exactly
 * once, at whichever comes first.
 * Headers: those in `allowed` or starting with one of `prefixes`, plus the `fixed` pairs ([name, value, …]).
 * A pull-based ReadableStream rather than a TransformStream: it sees the upstream's read error and the client's
 * cancel, which a pipe through a TransformStream would turn into an aborted body with no error event.
 * @param {Response} upstream
 * @param {Converter} converter
 * @param {string[]} allowed
 * @param {string[]} prefixes
 * @param {string[]} fixed
 * @returns {Response}
 */
export function convertThrough(upstream, converter, allowed, prefixes, fixed) {
  const headers = new Headers();
  for (const [header, headerValue] of upstream.headers) {
    if (allowed.includes(header) || prefixes.some((prefix) => header.startsWith(prefix))) headers.append(header, headerValue);
  }
  for (let i = 0; i + 1 < fixed.length; i += 2) headers.set(fixed[i], fixed[i + 1]);
  const reader = upstream.body?.getReader();
  let live = true;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const stopTimer = () => {
    clearTimeout(timer);
    timer = undefined;
  };
  /** @param {(c: Converter) => Uint8Array} last */
  const end = (last) => {
    if (!live) return new Uint8Array(0);
    live = false;
    stopTimer();
    const bytes = last(converter);
    converter.free();
    return bytes;
  };
  /** @type {ReadableStream<Uint8Array>} */
  const body = new ReadableStream({
    // Reads until the converter has bytes for the client (or the body ends): a pull that enqueues nothing would
    // not be called again. Held bytes go out from the timer meanwhile.
    async pull(controller) {
      while (live) {
        /** @type {ReadableStreamReadResult<Uint8Array>} */
        let next;
        try {
          next = reader === undefined ? { done: true, value: undefined } : await reader.read();
        } catch {
          if (!live) return;
          const bytes = end((c) => c.abort());
          if (bytes.byteLength > 0) controller.enqueue(bytes);
          controller.close();
          return;
        }
        if (!live) return;
        if (next.done) {
          const bytes = end((c) => c.finish());
          if (bytes.byteLength > 0) controller.enqueue(bytes);
          controller.close();
          return;
        }
        const bytes = converter.push(next.value);
        if (bytes.byteLength > 0) {
          stopTimer();
          controller.enqueue(bytes);
          return;
        }
        const wait = converter.waitMs();
        if (wait !== undefined && timer === undefined) {
          timer = setTimeout(() => {
            timer = undefined;
            if (!live) return;
            const held = converter.flush();
            if (held.byteLength > 0) controller.enqueue(held);
          }, wait);
        }
      }
    },
    cancel(reason) {
      end(() => new Uint8Array(0));
      reader?.cancel(reason).catch(() => {});
    },
  });
  return new Response(body, { status: upstream.status, statusText: upstream.statusText, headers });
}

/**
 * The attempt loop's waiting. `job` (src/edge/proxy/forward.rs) decides synchronously which key to try, what an
 * answer means and what the client gets; this function only awaits: the client's body (when `request` is given:
 * read here within `maxBodyBytes`, then shown to `job.admit`), each attempt, an error answer's body, the pause
 * between attempts. Resolves to the client's Response. `headers` is the allow-listed copy of the client's headers;
 * `job` is freed when the loop ends.
 * @param {Forwarding} job
 * @param {string} method
 * @param {Headers} headers
 * @param {Bytes | undefined} body
 * @param {Request | undefined} request
 * @param {Limits} limits
 * @returns {Promise<Response>}
 */
export async function relay(job, method, headers, body, request, limits) {
  try {
    if (request !== undefined) {
      if (Number(request.headers.get("content-length")) > limits.bodyBytes) return job.tooLarge();
      const read = await readBody(request, limits.bodyBytes, limits.bodyTimeoutMs);
      if (read.bytes === undefined) return read.problem === "too_large" ? job.tooLarge() : job.unreadable();
      body = read.bytes;
      const refused = job.admit(body);
      if (refused !== undefined) return refused;
    }
    for (;;) {
      // `next` puts the next key (and the gateway's headers) into `headers`, and gives the URL.
      const url = job.next(headers);
      if (url === undefined) {
        // This isolate's window of keys had none left to try: another window may (Rust says whether to look).
        if (!job.canRefill()) return job.finish();
        await job.refill();
        continue;
      }
      const timeoutMs = job.attemptTimeoutMs();
      const sent = await send(url, method, headers, body, timeoutMs);
      if (sent.response === undefined) {
        if (sent.timedOut) job.timedOut();
        else job.unreachable();
        continue;
      }
      const delivered = job.answered(sent.response);
      if (delivered !== undefined) return delivered;
      const read = await readBody(sent.response, limits.errorBodyBytes, timeoutMs);
      const final = job.rejected(sent.response, read.bytes ?? new Uint8Array(0));
      if (final !== undefined) return final;
      const pauseMs = job.pauseMs();
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  } finally {
    job.free();
  }
}
