//! Bounded pools: an isolate holds at most [`WINDOW_KEYS`] of a provider's keys, the run of row ids that follows a
//! random pivot (ids are random uuids, so the run is a uniform sample, and different isolates hold different runs,
//! which spreads the load over every key). A provider with fewer keys is held whole, exactly as an unbounded pool.
//! Reading a window costs at most [`WINDOW_KEYS`] rows through the `(provider, status, id)` index, so a cold
//! isolate's first request, its memory and its rows read do not grow with the pool. When a window has no usable
//! key left for a model, the request loads another window before it gives up.

/// Most keys of one provider an isolate holds.
pub const WINDOW_KEYS: usize = 1_024;

/// Where a window starts: a random row id prefix (eight lowercase hex digits, the first group of a uuid).
pub fn pivot(rng: &mut fastrand::Rng) -> String {
    format!("{:08x}", rng.u32(..))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pivots_are_eight_hex_digits_and_spread_over_the_id_space() {
        let mut rng = fastrand::Rng::with_seed(3);
        let pivots: Vec<String> = (0..1_000).map(|_| pivot(&mut rng)).collect();
        assert!(pivots.iter().all(|p| p.len() == 8 && p.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())));
        let first_digits: std::collections::BTreeSet<char> = pivots.iter().filter_map(|p| p.chars().next()).collect();
        assert_eq!(first_digits.len(), 16, "every sixteenth of the id space is a possible start");
    }
}
