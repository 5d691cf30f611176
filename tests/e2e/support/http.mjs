// Raw HTTP for the e2e tests where fetch will not do: a chunked upload that stops when the answer comes, a request
// with any method, and the resident memory of this test process's workerd children (to show a body is not buffered).
import { request as httpRequest } from "node:http";
import { readFileSync } from "node:fs";
import { workerdChildren } from "../../harness/worker.mjs";

/** Resident memory of this test process's workerd children, in bytes (Linux /proc). */
export function workerdRss() {
  let total = 0;
  for (const pid of workerdChildren()) {
    try {
      const kb = Number(readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m)?.[1] ?? 0);
      total += kb * 1024;
    } catch {
      // the process ended while we looked
    }
  }
  return total;
}

/**
 * POSTs up to `totalBytes` with Transfer-Encoding: chunked (no Content-Length), 64 KiB per write, and stops sending
 * once the response arrives. `paceMs` waits between writes (0: as fast as the socket takes them, like an attacker).
 * With `expectContinue`, it sends `Expect: 100-continue` and writes only after `100 Continue`, as a polite client
 * does (workerd never sends one, so use it only where the Worker answers without reading). Resolves `{ status, headers, text, reset, continued, sentBytes, ms }`: a server that answers without reading
 * may reset the connection, and a reset can overtake its answer (`status` null, `reset` true; RFC 9112 §9.6).
 */
export function chunkedPost(url, path, totalBytes, headers = {}, { paceMs = 0, expectContinue = false } = {}) {
  const { hostname, port } = new URL(url);
  const chunk = Buffer.alloc(64 * 1024, "a");
  const started = Date.now();
  return new Promise((resolve, reject) => {
    let finished = false;
    let answered = false;
    let sentBytes = 0;
    let continued = false;
    const req = httpRequest({ host: hostname, port, method: "POST", path, headers: expectContinue ? { ...headers, expect: "100-continue" } : headers });
    const finish = (result) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      req.destroy();
      resolve({ status: null, headers: {}, text: "", reset: false, continued, sentBytes, ms: Date.now() - started, ...result });
    };
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer after ${sentBytes} bytes`));
    }, 20_000);
    req.on("response", (res) => {
      answered = true;
      const sentAtAnswer = sentBytes;
      const parts = [];
      res.on("data", (d) => parts.push(d));
      res.on("end", () => finish({ status: res.statusCode, headers: res.headers, text: Buffer.concat(parts).toString(), sentBytes: sentAtAnswer }));
      res.on("error", () => finish({ status: res.statusCode, headers: res.headers, reset: true, sentBytes: sentAtAnswer }));
    });
    req.on("error", (error) => {
      if (!answered) finish({ reset: error.code === "ECONNRESET" || error.code === "EPIPE" });
    });
    const upload = async () => {
      while (!answered && !finished && sentBytes < totalBytes) {
        const flushed = req.write(chunk);
        sentBytes += chunk.length;
        if (paceMs > 0) await new Promise((resolve) => setTimeout(resolve, paceMs));
        else if (!flushed) await new Promise((resolve) => (req.once("drain", resolve), req.once("close", resolve)));
        else await new Promise((resolve) => setImmediate(resolve));
      }
      if (!answered && !finished) req.end();
    };
    if (expectContinue) {
      req.flushHeaders();
      req.on("continue", () => {
        continued = true;
        upload().catch(() => {});
      });
    } else {
      upload().catch(() => {});
    }
  });
}

/** A raw request with any method (fetch refuses TRACE). */
export function rawMethod(url, method, path) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, method, path }, (res) => {
      const parts = [];
      res.on("data", (d) => parts.push(d));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(parts).toString() }));
    });
    req.on("error", reject);
    req.end();
  });
}
