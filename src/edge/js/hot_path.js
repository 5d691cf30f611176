// The JavaScript half of the proxy's hot path, called from src/edge/hot_path.rs.
//
// Rust decides everything (which key, which URL, which headers may travel, what an answer means); these functions
// only do the runtime work that would otherwise take one wasm-to-JS crossing per header, per setter and per timer,
// and `relay` does the awaiting, so a request's success path needs no wasm-bindgen future at all.

// A copy of the client's headers holding only the allow-listed names (lower-case), in one crossing; or, when one
// of them is longer than maxLength, that header's name (header values are byte strings: length = bytes).
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

// One upstream attempt outside the pool (the scheduled re-check). Resolves to the Response once its headers arrive, or to "timeout" when none arrive within
// timeoutMs (the fetch is then aborted), or to "unreachable" when the fetch fails. The timer is cleared as soon as
// the headers are in, so a streamed body is never cut by it. Redirects are not followed: a pool key must not travel
// to another origin.
export async function sendAttempt(url, method, headers, body, timeoutMs) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    return await fetch(url, { method, headers, body, redirect: "manual", signal: controller.signal });
  } catch {
    return controller.signal.aborted ? "timeout" : "unreachable";
  } finally {
    clearTimeout(timer);
  }
}

// An upstream answer passed on untouched: same status and headers, the body streamed through, minus the headers
// in `strip`, plus the `fixed` pairs ([name, value, name, value, …]) and one more `name: value`.
export function passThrough(upstream, strip, fixed, name, value) {
  const response = new Response(upstream.body, upstream);
  const headers = response.headers;
  for (const stripped of strip) headers.delete(stripped);
  for (let i = 0; i + 1 < fixed.length; i += 2) headers.set(fixed[i], fixed[i + 1]);
  headers.set(name, value);
  return response;
}

// The attempt loop's waiting. `job` is the Rust `Forwarding` (src/edge/forward.rs): it decides synchronously which key
// to try, what an answer means and what the client gets; this function only awaits — the client's body (when
// `request` is given: read here, at most `maxBodyBytes`, then shown to `job.admit`), each attempt (bounded like
// sendAttempt's), an error answer's body, the pause between attempts. Returns the client's Response. `headers` is
// the allow-listed copy of the client's headers; `job` is freed when the loop ends.
export async function relay(job, method, headers, body, request, maxBodyBytes) {
  try {
    if (request !== undefined) {
      if (Number(request.headers.get("content-length")) > maxBodyBytes) return job.tooLarge();
      try {
        body = await request.arrayBuffer();
      } catch {
        return job.unreadable();
      }
      if (body.byteLength > maxBodyBytes) return job.tooLarge();
      const refused = job.admit(new Uint8Array(body));
      if (refused !== undefined) return refused;
    }
    for (;;) {
      // `next` puts the next key (and the gateway's headers) into `headers`, and gives the URL.
      const url = job.next(headers);
      if (url === undefined) return job.finish();
      // The same request as sendAttempt's, inline: one promise fewer per attempt on the hot path.
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), job.attemptTimeoutMs());
      let answer;
      try {
        answer = await fetch(url, { method, headers, body, redirect: "manual", signal: controller.signal });
      } catch {
        answer = controller.signal.aborted ? "timeout" : "unreachable";
      } finally {
        clearTimeout(timer);
      }
      if (typeof answer === "string") {
        job.failed(answer === "timeout");
        continue;
      }
      if (answer.status >= 200 && answer.status < 300) return job.succeeded(answer, answer.status);
      const outcome = job.rejected(answer, await errorBody(answer, job.attemptTimeoutMs()));
      if (typeof outcome !== "number") return outcome;
      if (outcome > 0) await new Promise((resolve) => setTimeout(resolve, outcome));
    }
  } finally {
    job.free();
  }
}

// An error answer's body (small JSON), or empty bytes when it does not arrive within timeoutMs: an upstream that
// sends error headers and then stalls must not hold the request.
async function errorBody(response, timeoutMs) {
  let timer;
  const late = new Promise((resolve) => {
    timer = setTimeout(resolve, timeoutMs, null);
  });
  try {
    const buffer = await Promise.race([response.arrayBuffer(), late]);
    return buffer === null ? new Uint8Array(0) : new Uint8Array(buffer);
  } catch {
    return new Uint8Array(0);
  } finally {
    clearTimeout(timer);
  }
}
