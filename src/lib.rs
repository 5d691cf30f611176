//! one-balance: a Cloudflare Worker that pools many API keys of AI providers behind one URL.
//!
//! The crate reads top-down in the order a request travels: route → authenticate → parse → pick key → forward →
//! classify → record.
//!
//! Modules at the top level are pure policy: they take plain data (and `now_ms` where time matters), use no `worker`
//! types, and are unit-tested on the host with `cargo test`. Everything that touches the Workers runtime (D1, fetch,
//! the isolate cache, `wait_until`, the clock) lives under [`edge`], which is compiled only for `wasm32`.

pub mod admin;
pub mod api_error;
pub mod compat;
pub mod config;
pub mod credentials;
pub mod guess_limit;
pub mod cooldown;
pub mod hints;
pub mod pool;
pub mod providers;
pub mod recheck;
pub mod key_update;
pub mod request_model;
pub mod routes;
pub mod service_keys;
pub mod breaker;
pub mod upstream;
pub mod usage_tally;
pub mod verdict;

#[cfg(target_arch = "wasm32")]
mod edge;
