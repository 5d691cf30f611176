//! The proxy's per-isolate state besides the key cache: the random number generator every choice draws from, and
//! the pool-wide 429 breaker ([`crate::breaker`]). Both live as long as the isolate; nothing here is shared with
//! other isolates.

use crate::breaker::{Breaker, Figures};
use crate::config::Config;
use std::cell::RefCell;

thread_local! {
    static RNG: RefCell<fastrand::Rng> = RefCell::new(fastrand::Rng::with_seed((js_sys::Math::random() * 1.8e19) as u64));
    static BREAKER: RefCell<Breaker> = RefCell::new(Breaker::default());
}

/// Runs `f` with the isolate's random number generator.
pub fn with_rng<T>(f: impl FnOnce(&mut fastrand::Rng) -> T) -> T {
    RNG.with(|rng| f(&mut rng.borrow_mut()))
}

/// Runs `f` with the isolate's breaker.
pub fn with_breaker<T>(f: impl FnOnce(&mut Breaker) -> T) -> T {
    BREAKER.with(|breaker| f(&mut breaker.borrow_mut()))
}

/// The isolate's breaker figures, for the admin overview.
pub fn breaker_figures(config: &Config, now_s: u64) -> Vec<Figures> {
    BREAKER.with(|breaker| breaker.borrow().figures(&config.breaker, now_s))
}
