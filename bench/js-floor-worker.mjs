// The plain-JS floor (bench only): the runtime work one-balance's success path cannot avoid, written in a few lines
// of JavaScript with no policy at all — read the service key header and compare it, read the provider's keys from
// D1 once per isolate (the first request; bench/floor-entry.mjs gives it the same D1 stand-in), buffer the body (one-balance
// must, to replay it on the next key), copy the allow-listed headers and add a pool key, one fetch bounded by a
// timer, and pass the answer through with the attempts and CORS headers added. What separates one-balance from
// this row is its own cost (Rust in wasm, the glue, the policy); what separates this row from the trivial proxy is
// the work the product requires. When the answer is a 429 it reads the error body and tries the next key, the
// runtime work of a rotation without its policy (the bench's rotation row).
const ALLOWED = [
  "accept",
  "accept-encoding",
  "accept-language",
  "anthropic-beta",
  "anthropic-version",
  "content-type",
  "openai-beta",
  "openai-organization",
  "openai-project",
  "user-agent",
  "x-goog-api-client",
  "x-stainless-arch",
];
const TIMEOUT_MS = 60_000;

let poolKey; // the isolate's copy of the keys: read from D1 once, on the first request

export default {
  async fetch(request, env) {
    const url = request.url;
    const path = url.slice(url.indexOf("/", url.indexOf("//") + 2));
    if (request.headers.get("x-goog-api-key") !== env.SERVICE_KEY) return new Response("unauthorized", { status: 401 });
    if (poolKey === undefined) {
      const { results } = await env.DB.prepare("SELECT id, key, model_coolings FROM keys WHERE provider = ?1 AND status = 'active'").bind(env.PROVIDER).all();
      poolKey = results[0]?.key ?? env.POOL_KEY;
    }
    const body = await request.arrayBuffer();
    const headers = new Headers();
    for (const name of ALLOWED) {
      const value = request.headers.get(name);
      if (value !== null) headers.set(name, value);
    }
    // The bench's rotation mock answers 429 to about half the requests whatever the key: then, as one-balance
    // does, read the error body and try the next key (up to 40 attempts).
    let upstream;
    for (let attempt = 0; ; attempt++) {
      headers.set("x-goog-api-key", attempt === 0 ? poolKey : poolKey + attempt);
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
      try {
        upstream = await fetch(env.UPSTREAM + path.slice("/api".length), { method: request.method, headers, body, redirect: "manual", signal: controller.signal });
      } finally {
        clearTimeout(timer);
      }
      if (upstream.status !== 429 || attempt === 39) break;
      await upstream.arrayBuffer();
    }
    const response = new Response(upstream.body, upstream);
    response.headers.set("access-control-allow-origin", "*");
    response.headers.set("access-control-expose-headers", "x-one-balance-attempts, retry-after");
    response.headers.set("x-one-balance-attempts", "00000001:ok");
    return response;
  },
};
