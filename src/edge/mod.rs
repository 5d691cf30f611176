//! The Workers-runtime edge: everything that does I/O. Compiled only for `wasm32`.

mod entry;
