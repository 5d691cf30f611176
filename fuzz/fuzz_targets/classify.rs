//! Classification: 2 bytes status, 8 bytes now, 1 byte provider (an index into PROVIDERS), then header lines
//! `name: value` up to a blank line, then the body. Never panics; a rate limit's cooldown is always between 1 s and
//! cooldown::MAX_HINT_S from now, and it names a window exactly when it is key-scoped.
#![no_main]
use libfuzzer_sys::fuzz_target;
use one_balance::cooldown::{hint_until_s, MAX_HINT_S};
use one_balance::providers::{DailyReset, PROVIDERS};
use one_balance::verdict::{classify, QuotaWindow, Verdict};

fuzz_target!(|data: &[u8]| {
    if data.len() < 11 {
        return;
    }
    let status = u16::from_le_bytes([data[0], data[1]]) % 1000;
    let now = u64::from_le_bytes(data[2..10].try_into().expect("8 bytes"));
    let provider = &PROVIDERS[usize::from(data[10]) % PROVIDERS.len()];
    let rest = &data[11..];
    let (head, body) = match rest.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&rest[..i], &rest[i + 2..]),
        None => (&[][..], rest),
    };
    let head = String::from_utf8_lossy(head);
    let headers: Vec<(&str, &str)> = head.lines().filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim(), v.trim())).collect();
    let verdict = classify(provider, status, headers.as_slice(), body, now);
    if (200..300).contains(&status) {
        assert_eq!(verdict, Verdict::Success);
    }
    if let Verdict::RateLimited(limit) = verdict {
        assert_eq!(status, 429);
        assert_eq!(limit.key_scoped(), limit.window != QuotaWindow::Unknown);
        for reset in [DailyReset::PacificMidnight, DailyReset::UtcMidnight, DailyReset::Rolling24h] {
            let until = hint_until_s(limit.hint, reset, now);
            assert!(until >= now.saturating_add(1) && until <= now.saturating_add(MAX_HINT_S), "{limit:?}");
        }
    }
});
