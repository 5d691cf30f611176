//! Bounded pools: an isolate holds at most `KEY_WINDOW_SIZE` (default [`WINDOW_KEYS`]) of a provider's keys, the
//! run of row ids that follows a random pivot (ids are random uuids, so the run is a uniform sample, and different
//! isolates hold different runs, which spreads the load over every key). A provider with fewer keys is held whole,
//! exactly as an unbounded pool. Reading a window costs at most that many rows through the `(provider, status, id)`
//! index, so a cold isolate's first request, its memory and its rows read do not grow with the pool. When a window
//! has no usable key left for a model, the request loads the window that follows it (wrapping around), before it
//! gives up: two windows cover two distinct runs of keys.

/// Most keys of one provider an isolate holds, by default.
pub const WINDOW_KEYS: usize = 1_024;

/// Where a window's run of ids starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowStart {
    /// At the first id at or after this one.
    At(String),
    /// At the first id after this one (the window that follows one ending there).
    After(String),
}

/// A random start: a row id prefix of eight lowercase hex digits (the first group of a uuid).
pub fn random_start(rng: &mut fastrand::Rng) -> WindowStart {
    WindowStart::At(format!("{:08x}", rng.u32(..)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pivots_are_eight_hex_digits_and_spread_over_the_id_space() {
        let mut rng = fastrand::Rng::with_seed(3);
        let pivots: Vec<String> = (0..1_000)
            .map(|_| match random_start(&mut rng) {
                WindowStart::At(pivot) => pivot,
                WindowStart::After(id) => panic!("a random start is inclusive: {id}"),
            })
            .collect();
        assert!(pivots.iter().all(|p| p.len() == 8 && p.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())));
        let first_digits: std::collections::BTreeSet<char> = pivots.iter().filter_map(|p| p.chars().next()).collect();
        assert_eq!(first_digits.len(), 16, "every sixteenth of the id space is a possible start");
    }
}
