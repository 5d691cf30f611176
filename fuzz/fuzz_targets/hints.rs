//! Wait-hint parsers: 8 bytes of "now", then the header value. Never panic, never wrap; every result, bounded by
//! hint_until_s, lies within [now + 1, now + MAX_HINT_S].
#![no_main]
use libfuzzer_sys::fuzz_target;
use one_balance::cooldown::{hint_until_s, MAX_HINT_S};
use one_balance::hints::CoolHint;
use one_balance::hints;
use one_balance::providers::DailyReset;

fn bounded(hint: CoolHint, now: u64) {
    let until = hint_until_s(hint, DailyReset::PacificMidnight, now);
    assert!(until >= now.saturating_add(1) && until <= now.saturating_add(MAX_HINT_S), "{hint:?} at {now}");
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let now = u64::from_le_bytes(data[..8].try_into().expect("8 bytes"));
    let value = String::from_utf8_lossy(&data[8..]);
    if let Some(s) = hints::retry_delay_s(&value) {
        bounded(CoolHint::Seconds(s.saturating_add(2)), now);
    }
    if let Some(until) = hints::retry_after_until_s(&value, now) {
        bounded(CoolHint::UntilS(until), now);
    }
    if let Some(s) = hints::go_duration_s(&value) {
        bounded(CoolHint::Seconds(s), now);
    }
    if let Some(until) = hints::rfc3339_s(&value) {
        bounded(CoolHint::UntilS(until), now);
    }
    if let Some(until) = hints::ratelimit_reset_until_s(&value, now) {
        bounded(CoolHint::UntilS(until.saturating_add(5)), now);
    }
});
