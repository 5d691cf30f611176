//! The hashes behind sticky keys: a key id's, which places the key in the session table ([`super::session_table`]),
//! and a mixer that spreads a session's ranks over the table ([`super::pick_for_session`]). Both are fixed functions
//! of their input, so every isolate that holds the same keys builds the same table and makes the same choices.

/// SplitMix64's finaliser: spreads nearby inputs over the whole range.
pub fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A 64-bit hash of a key id, eight bytes at a time.
pub fn id_hash(id: &str) -> u64 {
    let mut hash = 0x6f6e_652d_6261_6c61u64;
    for chunk in id.as_bytes().chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        hash = mix(hash ^ u64::from_le_bytes(word));
    }
    // The length last, so that zero padding cannot make two ids alike.
    mix(hash ^ id.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_differ_in_one_byte_or_in_length_hash_apart() {
        let base = "0199a3b4-7c1d-7e2f-8a3b-4c5d6e7f8091";
        let mut seen = std::collections::HashSet::new();
        assert!(seen.insert(id_hash(base)));
        for at in 0..base.len() {
            let mut changed = base.as_bytes().to_vec();
            changed[at] ^= 1;
            assert!(seen.insert(id_hash(std::str::from_utf8(&changed).expect("ascii"))), "byte {at}");
        }
        assert!(seen.insert(id_hash(&base[..35])));
        assert!(seen.insert(id_hash(&format!("{base}\0"))), "a trailing zero byte is not padding");
    }
}
