//! The session table: a Maglev lookup table (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load
//! Balancer", NSDI 2016) over a pool's keys, so that a session ([`crate::affinity`]) maps to a key with one hash and
//! one lookup.
//!
//! The table has M slots, M the first prime of a fixed ladder ([`TABLE_SIZES`]) at or above [`SLOTS_PER_KEY`] × keys,
//! so adding or removing a key rarely changes M (a changed M would move almost every session). Each key walks its own
//! permutation of the slots (an offset and a step, both from a hash of its id) and the keys take turns claiming the
//! next free slot of theirs until the table is full. So every key holds ⌊M/n⌋ or ⌈M/n⌉ slots (an even spread), the
//! table depends only on the set of ids (every isolate holding the same keys builds the same one, whatever order it
//! loaded them in), and a key added or removed changes few slots besides its own (few sessions move).
//!
//! Building walks about M ln M slots in all, once per pool, on the first request that names a session: about 0.5 ms
//! on the host for a window of 1,024 keys (`benches/pure.rs`), some 0.5 µs a key on top of loading the keys.

use super::hash::{id_hash, mix};

/// Slots per key at least: more makes a change of keys move fewer sessions and the spread finer, and costs time
/// to build and 4 bytes a slot.
pub const SLOTS_PER_KEY: usize = 16;

/// The table sizes: the first prime after each power of two from 2^8.
pub const TABLE_SIZES: &[usize] = &[
    257, 521, 1_031, 2_053, 4_099, 8_209, 16_411, 32_771, 65_537, 131_101, 262_147, 524_309, 1_048_583, 2_097_169, 4_194_319,
];

/// The table for keys given in id order as (index, id) pairs: slot → index.
pub fn build(by_id: &[(u32, &str)]) -> Vec<u32> {
    if by_id.is_empty() {
        return Vec::new();
    }
    let wanted = by_id.len() * SLOTS_PER_KEY;
    let slots = TABLE_SIZES.iter().copied().find(|m| *m >= wanted).unwrap_or_else(|| first_prime_at_least(wanted)) as u64;
    // Each key's walk: where it is now and its step (both below `slots`, so one subtraction keeps a step in range).
    let mut walks: Vec<(u64, u64)> = by_id
        .iter()
        .map(|(_, id)| {
            let hash = id_hash(id);
            (hash % slots, mix(hash) % (slots - 1) + 1)
        })
        .collect();
    let advance = |walk: &mut (u64, u64)| {
        walk.0 += walk.1;
        if walk.0 >= slots {
            walk.0 -= slots;
        }
    };
    let mut taken = vec![u32::MAX; slots as usize];
    let mut turn = 0usize;
    for _ in 0..slots {
        let walk = &mut walks[turn];
        while taken[walk.0 as usize] != u32::MAX {
            advance(walk);
        }
        taken[walk.0 as usize] = by_id[turn].0;
        advance(walk);
        turn = if turn + 1 == by_id.len() { 0 } else { turn + 1 };
    }
    taken
}

fn first_prime_at_least(n: usize) -> usize {
    (n..).find(|&c| c >= 2 && (2..).take_while(|d| d * d <= c).all(|d| c % d != 0)).unwrap_or(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table over `ids` (in any order), as the id owning each slot.
    fn owners(ids: &[String]) -> Vec<String> {
        let mut by_id: Vec<(u32, &str)> = ids.iter().enumerate().map(|(i, id)| (i as u32, id.as_str())).collect();
        by_id.sort_by(|a, b| a.1.cmp(b.1));
        build(&by_id).iter().map(|i| ids[*i as usize].clone()).collect()
    }

    #[test]
    fn every_key_holds_an_even_share_of_the_slots() {
        for n in [1usize, 2, 3, 17, 100, 1_000] {
            let ids: Vec<String> = (0..n).map(|i| format!("{:08x}-{i}", i * 104_729)).collect();
            let table = owners(&ids);
            let size = TABLE_SIZES.iter().copied().find(|m| *m >= n * SLOTS_PER_KEY).expect("on the ladder");
            assert_eq!(table.len(), size, "{n} keys: the first size of the ladder at or above {}", n * SLOTS_PER_KEY);
            let mut counts = std::collections::HashMap::new();
            for owner in &table {
                *counts.entry(owner.as_str()).or_insert(0usize) += 1;
            }
            assert_eq!(counts.len(), n, "{n} keys: every key holds slots");
            let (least, most) = (counts.values().min().copied(), counts.values().max().copied());
            assert_eq!((least, most), (Some(size / n), Some(size.div_ceil(n))), "{n} keys: ⌊M/n⌋ or ⌈M/n⌉ slots each");
        }
    }

    #[test]
    fn the_table_depends_on_the_ids_not_the_order_they_were_loaded_in() {
        let ids: Vec<String> = (0..30).map(|i| format!("key-{i:03}")).collect();
        let mut shuffled = ids.clone();
        shuffled.reverse();
        shuffled.swap(3, 17);
        assert_eq!(owners(&ids), owners(&shuffled));
    }

    #[test]
    fn a_new_key_takes_its_share_and_disturbs_few_other_slots() {
        let ids: Vec<String> = (0..50).map(|i| format!("key-{i:03}")).collect();
        let before = owners(&ids);
        let mut more = ids.clone();
        more.push("key-025a".to_string());
        let after = owners(&more);
        assert_eq!(before.len(), after.len(), "the same size of table");
        let moved = (0..20_000u64)
            .map(|h| h.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .filter(|h| before[(h % before.len() as u64) as usize] != after[(h % after.len() as u64) as usize])
            .count();
        // Measured: 1,574 (about 392 to the new key, the rest reshuffled by the slots it took). Jump hashing by
        // position moves about half of all sessions for a key added in the middle of the id order.
        assert!(moved < 20_000 / 51 * 5, "{moved} of 20,000 sessions moved for one key in 51 (its own share is about 392)");
    }

    #[test]
    fn an_empty_or_single_key_pool_is_handled() {
        assert!(owners(&[]).is_empty());
        let one = owners(&["only".to_string()]);
        assert!(one.iter().all(|o| o == "only") && !one.is_empty());
    }
}
