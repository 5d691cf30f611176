//! The Workers-runtime edge: everything that does I/O (D1, fetch, the isolate cache, `wait_until`, the clock).
//! Compiled only for `wasm32`; the policy it applies lives in the pure modules at the crate root.

mod admin;
mod app;
mod clock;
mod compat;
mod entry;
mod forward;
mod guess_limit;
mod hot_path;
mod key_cache;
mod native;
mod recheck;
mod request;
mod respond;
mod store;
mod usage;
