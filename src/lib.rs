//! one-balance: a Cloudflare Worker that pools many API keys of AI providers behind one URL.
//!
//! Modules at the crate root are pure policy: they take plain data (and `now_s` / `now_ms` where time matters), use
//! no `worker` types, and are unit-tested on the host with `cargo test`. Everything that touches the Workers
//! runtime (D1, fetch, the isolate cache, `wait_until`, the clock) lives under `edge`, which is compiled only for
//! `wasm32` and only moves values between the runtime and these modules.
//!
//! In the order a proxied request meets them:
//! - route: [`routes`] (method and path → which wing serves it);
//! - authenticate: [`credentials`] (where a caller's service key may be presented), [`guess_limit`] (the limit on
//!   guessing it, for every place a key is checked), [`service_keys`] (the `AUTH_KEY` grammar, constant-time
//!   comparison, grants);
//! - parse: [`request_model`] (the model a request names), [`compat`] (the OpenAI-compatible route's target and
//!   body rewrite), [`protocols`] (the Messages and Responses routes of coding agents: which provider and model,
//!   passed through or converted, the answer converted back), [`convert`] (Anthropic Messages and OpenAI Responses ⇄
//!   Chat Completions, for Claude Code and Codex);
//! - pick and forward: [`attempt`] (the attempt loop's decisions), [`pool`] (the keys of a provider and the choice
//!   among them), [`affinity`] (which conversation a request belongs to, so it stays on one key), [`upstream`] (URLs
//!   and which headers travel);
//! - classify: [`verdict`] (what an answer means), [`hints`] (the wait hints providers send), [`redact`] (masking a
//!   pool key an upstream error body echoes);
//! - record: [`key_update`] (what a verdict changes about a key), [`cooldown`] (how long a key rests), [`breaker`]
//!   (the pool-wide 429 breaker), [`usage_tally`] (per-key request figures).
//!
//! Shared facts and types: [`config`] (validated vars), [`providers`] (the provider data table), [`api_error`] (the
//! Worker's own error answers). The other wings: [`admin`] (the operator's pages and JSON API) and [`recheck`] (the
//! scheduled re-check of keys that left the pool).

pub mod api_error;
pub mod config;
pub mod providers;

pub mod routes;
pub mod credentials;
pub mod guess_limit;
pub mod service_keys;

pub mod compat;
pub mod convert;
pub mod protocols;
pub mod request_model;

pub mod affinity;
pub mod attempt;
pub mod pool;
pub mod upstream;

pub mod hints;
pub mod redact;
pub mod verdict;

pub mod breaker;
pub mod cooldown;
pub mod key_update;
pub mod usage_tally;

pub mod admin;
pub mod recheck;

#[cfg(target_arch = "wasm32")]
mod edge;
