//! The Workers-runtime edge: everything that does I/O (D1, fetch, the isolate cache, `wait_until`, the clock).
//! Compiled only for `wasm32`; the policy it applies lives in the pure modules at the crate root.
//!
//! [`entry`] routes each request to one of three wings: [`proxy`] (the key pool's API routes), [`admin`] (the
//! operator's pages and JSON API) and [`cron`] (the scheduled re-check). The admin and re-check wings use the proxy
//! only through what it exports. Below them: [`app`] (configuration and service keys, parsed once per isolate),
//! [`guess_limit`] (the limit on guessing service keys, shared by the proxy and the admin site), [`clock`] (the only
//! clock reader), [`d1`] (binding values to D1 statements) and [`web_headers`] (a `Headers` read by name).

mod admin;
mod app;
mod clock;
mod cron;
mod d1;
mod entry;
mod guess_limit;
mod proxy;
mod web_headers;
