// The JavaScript half of the proxy's hot path, called from src/edge/hot_path.rs.
//
// Rust decides everything (which key, which URL, which headers may travel, what an answer means); these functions
// only do the runtime work that would otherwise take one wasm-to-JS crossing per header, per setter and per timer.
// Each is called once per request or attempt, so the success path crosses into JS a handful of times in all.

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

// One upstream attempt. Resolves to the Response once its headers arrive, or to "timeout" when none arrive within
// timeoutMs (the fetch is then aborted), or to "unreachable" when the fetch fails. The timer is cleared as soon as
// the headers are in, so a streamed body is never cut by it. Redirects are not followed: a pool key must not travel
// to another origin.
export async function sendAttempt(url, method, base, keyName, keyValue, metadata, token, body, timeoutMs) {
  const headers = new Headers(base);
  headers.set(keyName, keyValue);
  if (metadata !== undefined) headers.set("cf-aig-metadata", metadata);
  if (token !== undefined) headers.set("cf-aig-authorization", `Bearer ${token}`);
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
