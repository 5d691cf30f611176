//! Which key a request tries next.
//!
//! Uniformly random among the keys that are not blocked, not cooling for the model and not yet tried by this
//! request. The cost does not grow with the pool: random probes find a usable key whenever a fair share of keys is
//! usable (with half the pool cooling, 48 probes all miss once in 2^48); only when nearly every key is unusable does
//! it fall back to one scan, which also finds the key whose cooldown ends soonest. A large pool gets more probes (one
//! per 16 keys): a probe costs about what scanning one key does, so this adds at most a sixteenth of a scan, and with
//! 99 % of 100,000 keys cooling it avoids the scan on all but about 1 in 10^27 picks instead of 62 % of them
//! (benches/pure.rs: 5 ms → microseconds).

use super::hash::mix;
use super::KeyPool;
use crate::cooldown::is_cooling;

/// Random probes before falling back to a scan, at least (a pool of more than 16 × this many keys gets one per 16 keys).
pub const RANDOM_PROBES: usize = 48;

/// Keys per random probe in a large pool.
const KEYS_PER_PROBE: usize = 16;

/// The key chosen for the next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// A usable key.
    Ready(usize),
    /// No key is usable; this one's cooldown ends soonest (at `until_s`).
    Cooling {
        /// The key's index in the pool.
        index: usize,
        /// When its cooldown ends.
        until_s: u64,
    },
}

/// Most keys of a session's own order looked at before it gives up and the choice is uniform.
pub const SESSION_CHOICES: u64 = 32;

/// A session's choice: the first key of its own order that is usable for `model` and not in `tried`, with its rank
/// in that order (0: the session's first choice). `None` when none of its first [`SESSION_CHOICES`] is.
///
/// The order comes from the pool's session table ([`KeyPool::session_slot`], a Maglev table: Eisenbud et al., 2016):
/// rank r of a session is the key in slot `hash(session, r) mod M`. Every isolate that holds the same keys builds
/// the same table, so it agrees on every session's order without coordination; each key holds the same number of
/// slots give or take one, so sessions spread evenly; a key added or removed changes few slots besides its own, so
/// few sessions move; and a step costs one hash and one lookup, whatever the size of the pool.
pub fn pick_for_session(pool: &KeyPool, model: Option<&str>, tried: &[usize], now_s: u64, session: u64) -> Option<(usize, u64)> {
    (0..SESSION_CHOICES).find_map(|rank| {
        let index = pool.session_slot(mix(session ^ rank.wrapping_mul(0x9e37_79b9_7f4a_7c15)))?;
        let usable = !tried.contains(&index) && !pool.is_blocked(index) && !is_cooling(&pool.state(index, model), now_s);
        usable.then_some((index, rank))
    })
}

/// Chooses the next key for `model` (`None`: a models listing), skipping keys in `tried`.
pub fn pick(pool: &KeyPool, model: Option<&str>, tried: &[usize], now_s: u64, rng: &mut fastrand::Rng) -> Option<Pick> {
    let len = pool.len();
    if len == 0 {
        return None;
    }
    let usable = |i: usize| !tried.contains(&i) && !pool.is_blocked(i) && !is_cooling(&pool.state(i, model), now_s);
    for _ in 0..RANDOM_PROBES.max(len / KEYS_PER_PROBE) {
        let i = rng.usize(..len);
        if usable(i) {
            return Some(Pick::Ready(i));
        }
    }
    let mut ready_seen = 0usize;
    let mut chosen: Option<usize> = None;
    let mut soonest: Option<(usize, u64)> = None;
    for i in (0..len).filter(|i| !tried.contains(i) && !pool.is_blocked(*i)) {
        let end = pool.state(i, model).end_at_s;
        if end <= now_s {
            // Reservoir sampling keeps the choice uniform in one pass.
            ready_seen += 1;
            if rng.usize(..ready_seen) == 0 {
                chosen = Some(i);
            }
        } else if soonest.is_none_or(|(_, s)| end < s) {
            soonest = Some((i, end));
        }
    }
    chosen.map(Pick::Ready).or(soonest.map(|(index, until_s)| Pick::Cooling { index, until_s }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cooldown::ModelCooling;
    use crate::pool::{PoolKey, Secret};

    fn pool(ends: &[u64]) -> KeyPool {
        KeyPool::new(
            ends.iter()
                .enumerate()
                .map(|(i, end)| PoolKey {
                    id: format!("{i:08}-id"),
                    secret: Secret::new(format!("key-{i}")),
                    coolings: vec![("m".to_string(), ModelCooling { end_at_s: *end, ..Default::default() })],
                })
                .collect(),
        )
    }

    fn keys_with_ids(ids: &[String]) -> KeyPool {
        KeyPool::new(ids.iter().map(|id| PoolKey { id: id.clone(), secret: Secret::new(format!("s-{id}")), coolings: vec![] }).collect())
    }

    #[test]
    fn a_session_maps_to_the_same_key_whatever_order_the_keys_were_loaded_in() {
        let ids: Vec<String> = (0..50).map(|i| format!("{:08x}-key", i * 7919)).collect();
        let mut reversed = ids.clone();
        reversed.reverse();
        let (a, b) = (keys_with_ids(&ids), keys_with_ids(&reversed));
        for session in 0..500u64 {
            let one = pick_for_session(&a, Some("m"), &[], 0, session).and_then(|(i, _)| a.key(i)).map(|k| k.id.clone());
            let two = pick_for_session(&b, Some("m"), &[], 0, session).and_then(|(i, _)| b.key(i)).map(|k| k.id.clone());
            assert_eq!(one, two, "two isolates, two load orders, one choice (session {session})");
        }
    }

    #[test]
    fn a_cooling_first_choice_is_skipped_for_the_sessions_stable_second_choice() {
        let ids: Vec<String> = (0..20).map(|i| format!("key-{i:02}")).collect();
        let mut p = keys_with_ids(&ids);
        let (first, rank) = pick_for_session(&p, Some("m"), &[], 100, 42).expect("a key");
        assert_eq!(rank, 0);
        let first_id = p.key(first).map(|k| k.id.clone()).expect("held");
        p.learn_state(&first_id, "m", ModelCooling { end_at_s: 500, ..Default::default() }, 100);
        let (second, rank) = pick_for_session(&p, Some("m"), &[], 100, 42).expect("a key");
        assert!(rank > 0 && second != first);
        for _ in 0..10 {
            assert_eq!(pick_for_session(&p, Some("m"), &[], 100, 42).map(|(i, _)| i), Some(second), "it stays there");
        }
        assert_eq!(pick_for_session(&p, Some("m"), &[], 600, 42).map(|(i, _)| i), Some(first), "and comes back when the first is free");
        assert_eq!(pick_for_session(&p, Some("other"), &[], 100, 42).map(|(i, _)| i), Some(first), "per model");
    }

    #[test]
    fn sessions_spread_evenly_over_the_keys() {
        let ids: Vec<String> = (0..100).map(|i| format!("{:08x}", (i as u64).wrapping_mul(2_654_435_761) % 0xffff_ffff)).collect();
        let p = keys_with_ids(&ids);
        let mut counts = vec![0u32; 100];
        for session in 0..10_000u64 {
            let (i, _) = pick_for_session(&p, None, &[], 0, mix(session)).expect("a key");
            counts[i] += 1;
        }
        // Total variation distance from the even spread: half the sum of |share - 1%|.
        let distance: f64 = counts.iter().map(|c| (f64::from(*c) / 10_000.0 - 0.01).abs()).sum::<f64>() / 2.0;
        assert!(distance < 0.05, "within a few percent of even: {distance:.3} ({:?} .. {:?})", counts.iter().min(), counts.iter().max());
    }

    /// Which id each of `sessions` goes to in a pool of `ids`.
    fn choices(ids: &[String], sessions: u64) -> Vec<String> {
        let p = keys_with_ids(ids);
        (0..sessions).map(|s| pick_for_session(&p, None, &[], 0, mix(s)).and_then(|(i, _)| p.key(i)).map(|k| k.id.clone()).expect("a key")).collect()
    }

    #[test]
    fn a_key_that_joins_or_leaves_moves_few_sessions_besides_its_own() {
        let ids: Vec<String> = (0..50).map(|i| format!("key-{i:03}")).collect();
        let before = choices(&ids, 20_000);
        let mut more = ids.clone();
        more.push("key-025a".to_string());
        let after = choices(&more, 20_000);
        let to_new = (0..before.len()).filter(|s| after[*s] == "key-025a").count();
        let moved_elsewhere = (0..before.len()).filter(|s| before[*s] != after[*s] && after[*s] != "key-025a").count();
        // Its share is about 392. Measured: 403 to the new key, 1,161 between other keys (Maglev reshuffles some slots).
        assert!((300..500).contains(&to_new), "{to_new} sessions went to the new key");
        assert!(moved_elsewhere < 20_000 / 51 * 4, "{moved_elsewhere} sessions moved between other keys");

        let fewer: Vec<String> = ids.iter().filter(|id| *id != "key-007").cloned().collect();
        let after = choices(&fewer, 20_000);
        let own = before.iter().filter(|id| *id == "key-007").count();
        let others_moved = (0..before.len()).filter(|s| before[*s] != "key-007" && before[*s] != after[*s]).count();
        // Measured: 398 on the key that left; 1,060 others moved.
        assert!(others_moved < own * 4, "{others_moved} sessions of other keys moved ({own} were on the key that left)");
    }

    #[test]
    fn a_pick_passes_over_tried_and_blocked_keys_and_counts_them() {
        let ids: Vec<String> = (0..10).map(|i| format!("key-{i}")).collect();
        let mut p = keys_with_ids(&ids);
        let (first, rank) = pick_for_session(&p, Some("m"), &[], 0, 7).expect("a key");
        assert_eq!(rank, 0);
        let (second, second_rank) = pick_for_session(&p, Some("m"), &[first], 0, 7).expect("a key");
        assert!(second_rank >= 1 && second != first);
        let second_id = p.key(second).map(|k| k.id.clone()).expect("a key");
        p.learn_blocked(&second_id, 0);
        let (third, third_rank) = pick_for_session(&p, Some("m"), &[first], 0, 7).expect("a key");
        assert!(third_rank > second_rank && third != first && third != second);
        let all: Vec<usize> = (0..10).collect();
        assert_eq!(pick_for_session(&p, Some("m"), &all, 0, 7), None, "nothing usable: no session pick");
    }

    #[test]
    fn an_empty_pool_has_no_pick() {
        assert_eq!(pick(&pool(&[]), Some("m"), &[], 0, &mut fastrand::Rng::with_seed(1)), None);
    }

    #[test]
    fn cooling_tried_and_blocked_keys_are_skipped() {
        let mut p = pool(&[0, 500, 0, 0]);
        p.learn_blocked("00000003-id", 0);
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..200 {
            assert_eq!(pick(&p, Some("m"), &[0], 100, &mut rng), Some(Pick::Ready(2)));
        }
    }

    #[test]
    fn a_cooldown_for_one_model_leaves_the_key_usable_for_another() {
        let p = pool(&[500]);
        assert_eq!(pick(&p, Some("other"), &[], 100, &mut fastrand::Rng::with_seed(1)), Some(Pick::Ready(0)));
        assert_eq!(pick(&p, None, &[], 100, &mut fastrand::Rng::with_seed(1)), Some(Pick::Ready(0)));
    }

    #[test]
    fn when_every_key_cools_the_one_that_ends_soonest_is_offered() {
        let p = pool(&[900, 300, 600]);
        let got = pick(&p, Some("m"), &[], 100, &mut fastrand::Rng::with_seed(3));
        assert_eq!(got, Some(Pick::Cooling { index: 1, until_s: 300 }));
        assert_eq!(pick(&p, Some("m"), &[0, 1, 2], 100, &mut fastrand::Rng::with_seed(3)), None);
    }

    #[test]
    fn the_choice_is_uniform_among_usable_keys() {
        let p = pool(&[0, 0, 0, 999, 0]);
        let mut counts = [0u32; 5];
        let mut rng = fastrand::Rng::with_seed(42);
        for _ in 0..40_000 {
            if let Some(Pick::Ready(i)) = pick(&p, Some("m"), &[], 100, &mut rng) {
                counts[i] += 1;
            }
        }
        assert_eq!(counts[3], 0);
        for i in [0, 1, 2, 4] {
            assert!((9_000..11_000).contains(&counts[i]), "{counts:?}");
        }
    }

    #[test]
    fn a_large_pool_with_one_percent_usable_picks_only_usable_keys_and_spreads_them() {
        let ends: Vec<u64> = (0..20_000).map(|i| if i % 100 == 0 { 0 } else { 999 }).collect();
        let p = pool(&ends);
        let mut rng = fastrand::Rng::with_seed(11);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2_000 {
            match pick(&p, Some("m"), &[], 100, &mut rng) {
                Some(Pick::Ready(i)) if i % 100 == 0 => {
                    seen.insert(i);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(seen.len() > 180, "200 usable keys, {} seen", seen.len());
    }

    #[test]
    fn a_nearly_all_cooling_pool_still_finds_its_one_usable_key_uniformly_via_the_scan() {
        let mut ends = vec![999; 2_000];
        ends[1_234] = 0;
        ends[77] = 0;
        let p = pool(&ends);
        let mut rng = fastrand::Rng::with_seed(9);
        let mut seen = [0u32; 2];
        for _ in 0..400 {
            match pick(&p, Some("m"), &[], 100, &mut rng) {
                Some(Pick::Ready(77)) => seen[0] += 1,
                Some(Pick::Ready(1_234)) => seen[1] += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(seen[0] > 120 && seen[1] > 120, "{seen:?}");
    }
}
