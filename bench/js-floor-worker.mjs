// The plain-JS floor (bench only): the runtime work one-balance's success path cannot avoid, written in a few lines
// of JavaScript with no policy at all — read the service key header and compare it, buffer the body (one-balance
// must, to replay it on the next key), copy the allow-listed headers and add a pool key, one fetch bounded by a
// timer, and pass the answer through with the attempts and CORS headers added. What separates one-balance from
// this row is its own cost (Rust in wasm, the glue, the policy); what separates this row from the trivial proxy is
// the work the product requires.
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

export default {
  async fetch(request, env) {
    const url = request.url;
    const path = url.slice(url.indexOf("/", url.indexOf("//") + 2));
    if (request.headers.get("x-goog-api-key") !== env.SERVICE_KEY) return new Response("unauthorized", { status: 401 });
    const body = await request.arrayBuffer();
    const headers = new Headers();
    for (const name of ALLOWED) {
      const value = request.headers.get(name);
      if (value !== null) headers.set(name, value);
    }
    headers.set("x-goog-api-key", env.POOL_KEY);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
    let upstream;
    try {
      upstream = await fetch(env.UPSTREAM + path.slice("/api".length), { method: request.method, headers, body, redirect: "manual", signal: controller.signal });
    } finally {
      clearTimeout(timer);
    }
    const response = new Response(upstream.body, upstream);
    response.headers.set("access-control-allow-origin", "*");
    response.headers.set("access-control-expose-headers", "x-one-balance-attempts, retry-after");
    response.headers.set("x-one-balance-attempts", "00000001:ok");
    return response;
  },
};
