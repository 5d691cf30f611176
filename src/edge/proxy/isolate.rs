//! The proxy's per-isolate state besides the key cache: the random number generator every choice draws from, the
//! pool-wide 429 breaker ([`crate::breaker`]), the attempts in flight ([`InFlightAttempts`]) and the figures of how
//! requests chose their keys ([`AffinityFigures`]). All live as long as the isolate; nothing here is shared with
//! other isolates.

use crate::attempt::{Affinity, AffinityFigures, InFlightAttempts, Isolate};
use crate::breaker::{Breaker, BreakerConfig, Figures};
use crate::config::Config;
use std::cell::RefCell;

thread_local! {
    static RNG: RefCell<fastrand::Rng> = RefCell::new(fastrand::Rng::with_seed((js_sys::Math::random() * 1.8e19) as u64));
    static BREAKER: RefCell<Breaker> = RefCell::new(Breaker::default());
    static IN_FLIGHT: RefCell<InFlightAttempts> = RefCell::new(InFlightAttempts::default());
    static AFFINITY: RefCell<AffinityFigures> = RefCell::new(AffinityFigures::default());
}

/// Counts how one request's key was chosen.
pub fn count_affinity(affinity: Affinity) {
    AFFINITY.with(|figures| figures.borrow_mut().count(affinity));
}

/// The isolate's affinity figures, for the admin overview.
pub fn affinity_figures() -> AffinityFigures {
    AFFINITY.with(|figures| *figures.borrow())
}

/// Runs `f` with the isolate's breaker and attempts in flight.
pub fn with_isolate<T>(breaker_config: &BreakerConfig, f: impl FnOnce(Isolate<'_>) -> T) -> T {
    BREAKER.with(|breaker| {
        IN_FLIGHT.with(|in_flight| {
            f(Isolate { breaker: &mut breaker.borrow_mut(), breaker_config, in_flight: &mut in_flight.borrow_mut() })
        })
    })
}

/// Runs `f` with the isolate's random number generator.
pub fn with_rng<T>(f: impl FnOnce(&mut fastrand::Rng) -> T) -> T {
    RNG.with(|rng| f(&mut rng.borrow_mut()))
}

/// The isolate's breaker figures, for the admin overview.
pub fn breaker_figures(config: &Config, now_s: u64) -> Vec<Figures> {
    BREAKER.with(|breaker| breaker.borrow().figures(&config.breaker, now_s))
}
