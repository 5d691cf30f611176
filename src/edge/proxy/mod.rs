//! The proxy wing: `/api/{provider}/…` and `/api/compat/…`. A request goes client → native / compat route →
//! forward (the attempt loop's adapter, driven by `relay.js`) → record, with the pool from the key cache.
//!
//! The other wings (the admin site, the scheduled re-check) use only what this module exports: the route handlers
//! the entry point calls, one probe of a given key, the isolate's breaker figures and usage tally, and dropping a
//! provider's cached pool after a change.
//!
//! Inside, in the order a request uses them: [`client`] (reading the client's request), [`native`],
//! [`compat_route`] and [`protocol_route`] (the kinds of route: the provider's own API, OpenAI chat for any provider,
//! and the coding agents' Messages and Responses for any provider), [`outbound`] (what an upstream request carries),
//! [`forward`] with [`relay`] (the attempt loop and its JavaScript half), [`converter`] (a converted answer on its
//! way back), [`key_cache`] with [`store`] (the pool and its D1 rows),
//! [`record`] (what an answer taught about a key), [`usage`] (the per-key tally), [`respond`] (responses),
//! [`isolate`] (the random source and the breaker), [`probe`] (one attempt outside the pool).

mod client;
mod compat_route;
mod converter;
mod forward;
mod isolate;
mod key_cache;
mod native;
mod outbound;
mod probe;
mod protocol_route;
mod record;
mod relay;
mod respond;
mod store;
mod usage;

pub use client::split_url;
pub use compat_route::{handle as compat, models as compat_models};
pub use isolate::{affinity_figures, breaker_figures};
pub use key_cache::invalidate as invalidate_pool;
pub use native::{handle as native, Call};
pub use probe::{probe, Probe};
pub use protocol_route::handle as protocol;
pub use respond::{api_error, api_error_in, fixed, last_resort, preflight, Served};
pub use usage::flush_now as flush_usage;
