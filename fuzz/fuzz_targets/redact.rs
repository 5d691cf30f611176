//! Redaction: 1 byte key length, the key (lossy UTF-8), then the body. Never panics; the output has the body's
//! length; when the body is JSON the output is JSON too; no 8-byte piece of an ASCII key survives inside it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use one_balance::redact::{redact, MIN_ECHO};

fuzz_target!(|data: &[u8]| {
    let Some((&len, rest)) = data.split_first() else { return };
    let len = usize::from(len).min(rest.len());
    let key = String::from_utf8_lossy(&rest[..len]);
    let body = &rest[len..];
    let out = redact(body, &key);
    assert_eq!(out.len(), body.len());
    if serde_json::from_slice::<serde_json::Value>(body).is_ok() {
        assert!(serde_json::from_slice::<serde_json::Value>(&out).is_ok(), "masking broke the JSON");
    }
    let key = key.as_bytes();
    if key.len() >= MIN_ECHO && key.iter().all(|b| b.is_ascii_alphanumeric()) && std::str::from_utf8(body).is_ok() {
        // In a JSON body only strings are masked (a number must stay a number); elsewhere every echo goes.
        let json = matches!(body.iter().find(|b| !b.is_ascii_whitespace()), Some(b'{' | b'['));
        if !json {
            for piece in key.windows(MIN_ECHO) {
                assert!(!out.windows(MIN_ECHO).any(|w| w == piece), "an 8-byte piece of the key survived");
            }
        }
    }
});
