// Bench only: remembers every WebAssembly instance created in this isolate, so that a bench route can report the
// Worker's linear memory (its Rust heap: the key pools, the tallies) apart from the process's RSS. bench/ob-entry.mjs
// imports it before the built Worker, whose glue calls `new WebAssembly.Instance(...)` once when its module is
// evaluated; nothing here runs per request.
const instances = [];
const Original = WebAssembly.Instance;
class Remembered extends Original {
  constructor(module, imports) {
    super(module, imports);
    instances.push(this);
  }
}
WebAssembly.Instance = Remembered;

/** Bytes of linear memory of the instances created so far (wasm memory only grows). */
export function wasmMemoryBytes() {
  let bytes = 0;
  for (const instance of instances) {
    for (const value of Object.values(instance.exports)) if (value instanceof WebAssembly.Memory) bytes += value.buffer.byteLength;
  }
  return bytes;
}
