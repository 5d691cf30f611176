// Entry module for the plain-JS floor under bare `workerd serve` (bench only): the same wrapper one-balance and the
// original get — the counting D1 stand-in as env.DB and the /__bench/ control routes — around
// bench/js-floor-worker.mjs, so the three differ only in the Worker itself, cold or warm.
import floor from "./js-floor-worker.mjs";
import { benchEnv, control } from "./d1-standin.mjs";

export { D1Store } from "./d1-standin.mjs";

export default {
  fetch(request, env, ctx) {
    const url = request.url;
    const at = url.indexOf("/__bench/");
    if (at !== -1) return control(request, env, url.slice(at).split("?")[0]);
    return floor.fetch(request, benchEnv(env), ctx);
  },
};
