// Entry module for one-balance under bare `workerd serve` (bench only; never deployed).
//
// The built Worker (build/index.js, the worker-build output) is run exactly as workerd would run it: its default
// export is constructed per request with (ctx, env) and its fetch called. The only differences are env.DB (the D1
// stand-in of bench/d1-standin.mjs, which counts every statement) and the /__bench/ control routes (seed SQL,
// read/reset the counters; /__bench/memory: the Worker's wasm linear memory), which answer before the Worker is
// entered. bench/wasm-memory.mjs is imported first, so that it sees the Worker's wasm instance being made.
import { wasmMemoryBytes } from "./wasm-memory.mjs";
import Worker from "./index.js";
import { benchEnv, control } from "./d1-standin.mjs";

export { D1Store } from "./d1-standin.mjs";

export default {
  fetch(request, env, ctx) {
    const url = request.url;
    const at = url.indexOf("/__bench/");
    if (at !== -1) {
      const path = url.slice(at).split("?")[0];
      if (path === "/__bench/memory") return Response.json({ wasmMemoryBytes: wasmMemoryBytes() });
      return control(request, env, path);
    }
    const worker = new Worker(ctx, benchEnv(env));
    return worker.fetch(request);
  },
};
