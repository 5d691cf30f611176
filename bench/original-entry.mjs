// Entry module for the ORIGINAL TypeScript Worker (glidea/one-balance) under bare `workerd serve` (bench only).
//
// The original's code is never part of this repository: bench/notes.md says how to build its single-module bundle
// in a scratch folder, and bench/run.mjs embeds that file (BENCH_ORIGINAL_DIR/index.js) as `original.js` next to
// this module. It runs as workerd would run it — its default export's fetch(request, env, ctx) — with two bindings
// supplied here because bare workerd has neither: `DB`, the same counting D1 stand-in one-balance gets, seeded with
// the same keys through the original's own drizzle schema; and `AI`, whose `gateway(name).getUrl()` (the original
// reads its AI Gateway base from it on every attempt) answers the mock upstream's URL instead of Cloudflare's.
import original from "./original.js";
import { benchEnv, control } from "./d1-standin.mjs";

export { D1Store } from "./d1-standin.mjs";

function withStandIns(env) {
  const base = `${env.UPSTREAM}/`;
  env.AI = { gateway: () => ({ getUrl: async () => base }) };
  delete env.UPSTREAM;
}

export default {
  fetch(request, env, ctx) {
    const url = request.url;
    const at = url.indexOf("/__bench/");
    if (at !== -1) return control(request, env, url.slice(at).split("?")[0]);
    return original.fetch(request, benchEnv(env, withStandIns), ctx);
  },
};
