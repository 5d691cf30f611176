//! AUTH_KEY grammar: `AUTH_KEY` text, NUL, a presented key, NUL, 8 bytes of "now". Never panics; a parsed secret
//! never shows a key in its Debug output; a definition taken verbatim from the secret authenticates (unless expired).
#![no_main]
use libfuzzer_sys::fuzz_target;
use one_balance::service_keys::{Denial, ServiceKeys};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\0');
    let raw = parts.next().unwrap_or_default();
    let presented = parts.next().unwrap_or_default();
    let now = parts.next().map_or(0, |n| n.bytes().fold(0u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b))));
    let Ok(keys) = ServiceKeys::parse(raw) else { return };
    let _ = keys.authenticate(presented, now);
    let shown = format!("{keys:?}");
    assert!(shown.starts_with("ServiceKeys("), "{shown}");
    // The first definition's bare key (no expiry, no scope) must be recognised.
    let first = raw.split(';').map(str::trim).find(|d| !d.is_empty()).unwrap_or_default();
    if !first.contains(['(', ')', '=']) {
        assert!(!matches!(keys.authenticate(first, now), Err(Denial::Unknown | Denial::Missing)), "{first:?} not recognised");
    }
});
