//! Redaction: removes echoes of the pool key from an upstream error body before it is replayed to a client.
//!
//! Error bodies go back to whoever holds a service key, and some providers quote the key they were sent: OpenAI's
//! 401 says `Incorrect API key provided: sk-PMafP****…****E873` (its first 8 and last 4 characters, or the whole
//! key when it is short), DeepSeek's says `Your api key: ****fcc2 is invalid`, Gemini's suspension notice names
//! `Consumer 'api_key:AIza…'` in full. [`redact`] masks, with `*`:
//!
//! - any run of at least [`MIN_ECHO`] bytes that also occurs in the key (the whole key included);
//! - next to a run of mask characters (`*`, `.`, `…`), a prefix of the key of 4 or more characters before it and
//!   the key's last 4 characters after it — the way providers show a key.
//!
//! Masking replaces bytes one for one and, in a JSON body, only inside strings and never a `"`, `\` or non-ASCII
//! byte, so JSON stays valid and UTF-8 stays UTF-8. When there is nothing to mask the body comes back borrowed:
//! no allocation and no copy in the common case. Keys shorter than 4 characters are not looked for (too short to
//! tell from ordinary text).
//!
//! Pure; the attempt loop calls it on every error body it replays.

use std::borrow::Cow;

/// The shortest run of the key's characters that counts as an echo (shorter keys: the whole key).
pub const MIN_ECHO: usize = 8;
/// Keys shorter than this are never looked for.
const MIN_KEY: usize = 4;
/// The longest key prefix looked for before a mask run.
const MAX_SHOWN_PREFIX: usize = 16;
/// How many trailing characters providers show after a mask run.
const SHOWN_SUFFIX: usize = 4;

/// `body` with every echo of `key` masked; borrowed when there was none.
pub fn redact<'a>(body: &'a [u8], key: &str) -> Cow<'a, [u8]> {
    let key = key.as_bytes();
    if key.len() < MIN_KEY || body.is_empty() {
        return Cow::Borrowed(body);
    }
    let mut spans: Vec<(usize, usize)> = Vec::new();
    find_substrings(body, key, &mut spans);
    find_shown_ends(body, key, &mut spans);
    if spans.is_empty() {
        return Cow::Borrowed(body);
    }
    Cow::Owned(mask(body, &spans))
}

/// An 8-byte window as a number (the caller guarantees 8 bytes from `at`).
fn gram(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// Which of the 4,096 bits of the filter a gram sets.
fn bit(gram: u64) -> usize {
    (gram.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 52) as usize
}

/// Runs of the body that also occur in the key, at least [`MIN_ECHO`] long (or the whole key, if shorter).
fn find_substrings(body: &[u8], key: &[u8], spans: &mut Vec<(usize, usize)>) {
    if key.len() < MIN_ECHO {
        let mut at = 0;
        while let Some(found) = body.get(at..).and_then(|rest| rest.windows(key.len()).position(|w| w == key)) {
            spans.push((at + found, at + found + key.len()));
            at += found + 1;
        }
        return;
    }
    if body.len() < MIN_ECHO {
        return;
    }
    // A bit set of the key's 8-byte grams: most body positions are ruled out by one lookup, on the stack.
    let mut filter = [0u64; 64];
    for j in 0..=key.len() - MIN_ECHO {
        let b = bit(gram(key, j));
        filter[b / 64] |= 1 << (b % 64);
    }
    let mut covered_to = 0;
    for i in 0..=body.len() - MIN_ECHO {
        let g = gram(body, i);
        let b = bit(g);
        if filter[b / 64] & (1 << (b % 64)) == 0 {
            continue;
        }
        // The longest match starting here, over every place the gram occurs in the key.
        let longest = (0..=key.len() - MIN_ECHO)
            .filter(|&j| gram(key, j) == g)
            .map(|j| body[i..].iter().zip(&key[j..]).take_while(|(a, b)| a == b).count())
            .max()
            .unwrap_or(0);
        if longest >= MIN_ECHO && i + longest > covered_to {
            spans.push((i, i + longest));
            covered_to = i + longest;
        }
    }
}

fn is_mask_byte(b: u8) -> bool {
    matches!(b, b'*' | b'.' | 0xE2 | 0x80 | 0xA6)
}

/// Prefixes of the key right before a mask run, and the key's last characters right after one.
fn find_shown_ends(body: &[u8], key: &[u8], spans: &mut Vec<(usize, usize)>) {
    let mut i = 0;
    while i < body.len() {
        if !is_mask_byte(body[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < body.len() && is_mask_byte(body[i]) {
            i += 1;
        }
        let run = &body[start..i];
        let stars_or_dots = run.iter().filter(|b| matches!(b, b'*' | b'.')).count();
        let ellipsis = run.windows(3).any(|w| w == "…".as_bytes());
        if stars_or_dots < 3 && !ellipsis {
            continue;
        }
        let longest_prefix = MAX_SHOWN_PREFIX.min(key.len().saturating_sub(1));
        if let Some(n) = (MIN_KEY..=longest_prefix).rev().find(|&n| start >= n && body[start - n..start] == key[..n]) {
            spans.push((start - n, start));
        }
        let suffix = &key[key.len() - SHOWN_SUFFIX..];
        if body.get(i..i + SHOWN_SUFFIX) == Some(suffix) {
            spans.push((i, i + SHOWN_SUFFIX));
        }
    }
}

/// A copy of `body` with the bytes in `spans` replaced by `*` where that keeps the body valid.
fn mask(body: &[u8], spans: &[(usize, usize)]) -> Vec<u8> {
    let mut out = body.to_vec();
    let mut masked = vec![false; body.len()];
    for &(start, end) in spans {
        for flag in &mut masked[start..end.min(body.len())] {
            *flag = true;
        }
    }
    let json = matches!(body.iter().find(|b| !b.is_ascii_whitespace()), Some(b'{' | b'['));
    let mut in_string = false;
    let mut escaped = false;
    // Hex digits of a `\uXXXX` escape still to come.
    let mut hex_left = 0u8;
    for (i, byte) in body.iter().enumerate() {
        let inside = !json || in_string;
        // The letter after a backslash and the digits of `\uXXXX` belong to the escape, not to the text: masking
        // one (`\t` → `\*`) would break the JSON. What they stand for is a character no key holds.
        let part_of_escape = json && (escaped || hex_left > 0);
        if json {
            if hex_left > 0 {
                hex_left -= 1;
            } else if escaped {
                escaped = false;
                if *byte == b'u' {
                    hex_left = 4;
                }
            } else if in_string && *byte == b'\\' {
                escaped = true;
            } else if *byte == b'"' {
                in_string = !in_string;
            }
        }
        if masked[i] && inside && !part_of_escape && byte.is_ascii_graphic() && *byte != b'"' && *byte != b'\\' {
            out[i] = b'*';
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const OPENAI_KEY: &str = "sk-PMafPq8Xz2Lr5Tn7Wv1Yb4Cd6Ef9Gh0Jk3Mn5Pq7E873";
    const GEMINI_KEY: &str = "AIzaSyDUMMYdummy0123456789abcdefghiJK";
    const ANTHROPIC_KEY: &str = "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcdefghAA";

    fn text(body: &[u8]) -> String {
        String::from_utf8(body.to_vec()).expect("utf-8")
    }

    fn assert_no_echo(out: &str, key: &str) {
        let k = key.as_bytes();
        for start in 0..=k.len() - MIN_ECHO {
            let piece = std::str::from_utf8(&k[start..start + MIN_ECHO]).expect("ascii");
            assert!(!out.contains(piece), "{piece:?} still in {out}");
        }
    }

    #[test]
    fn openai_shows_the_first_eight_and_last_four_and_both_are_masked() {
        let body = r#"{"error":{"message":"Incorrect API key provided: sk-PMafP***************************************E873. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#;
        let out = redact(body.as_bytes(), OPENAI_KEY);
        let out = text(&out);
        let shown = out.split("provided: ").nth(1).and_then(|rest| rest.split(". You can").next()).expect("the message");
        assert!(shown.len() > 40 && shown.bytes().all(|b| b == b'*'), "{out}");
        assert!(!out.contains("E873") && !out.contains("sk-PMafP"), "{out}");
        assert_eq!(out.len(), body.len());
        let parsed: Value = serde_json::from_str(&out).expect("still JSON");
        assert_eq!(parsed["error"]["code"], "invalid_api_key");
    }

    #[test]
    fn escapes_next_to_an_echo_stay_escapes() {
        // See tests/properties.proptest-regressions: a key holding "…0taa_0a--0" echoed right after a tab, which JSON
        // writes `\t`, once masked the `t` of the escape.
        let cases = [
            ("a___AA_-0Aa-_A00a_AA0taa_0a--0", "\taa_0a--0", "aa_0a--0"),
            ("a___AA_-0Aa-_A00a_AA0taa_0a--0", "x\\taa_0a--0", "aa_0a--0"),
            // JSON writes U+0001 as `\u0001`; the key holds those digits right before the echo.
            ("zz0001AA_-0Aa-_A00azz", "\u{1}AA_-0Aa-_A00a", "AA_-0Aa-"),
        ];
        for (key, message, echo) in cases {
            let body = serde_json::json!({"error": {"message": message, "code": 401}}).to_string();
            let out = text(&redact(body.as_bytes(), key));
            let parsed: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{out}: {e}"));
            let shown = parsed["error"]["message"].as_str().expect("text");
            assert!(!shown.contains(echo), "{shown}");
        }
    }

    #[test]
    fn a_short_prefix_and_an_ellipsis_are_masked_too() {
        let key = "sk-abc1defghijklmnopqrstuvwxyz";
        let body = r#"{"error":{"message":"Incorrect API key provided: sk-abc1***…wxyz."}}"#;
        let out = text(&redact(body.as_bytes(), key));
        assert!(out.contains("provided: **********…****."), "{out}");
        serde_json::from_str::<Value>(&out).expect("still JSON");
    }

    #[test]
    fn the_whole_key_echoed_by_gemini_is_masked() {
        let body = format!(
            r#"{{"error":{{"code":403,"message":"Permission denied: Consumer 'api_key:{GEMINI_KEY}' has been suspended.","status":"PERMISSION_DENIED"}}}}"#
        );
        let out = text(&redact(body.as_bytes(), GEMINI_KEY));
        assert_no_echo(&out, GEMINI_KEY);
        let stars = "*".repeat(GEMINI_KEY.len());
        assert!(out.contains(&format!("Consumer 'api_key:{stars}' has been suspended.")), "{out}");
        serde_json::from_str::<Value>(&out).expect("still JSON");
    }

    #[test]
    fn deepseek_shows_the_last_four_after_stars() {
        let key = "sk-40b7a17adc70aa83215c69cebc2ffcc2";
        let body = r#"{"error":{"message":"Authentication Fails, Your api key: ****fcc2 is invalid","type":"authentication_error","param":null,"code":"invalid_request_error"}}"#;
        let out = text(&redact(body.as_bytes(), key));
        assert!(out.contains("Your api key: ******** is invalid"), "{out}");
    }

    #[test]
    fn any_eight_character_piece_of_the_key_is_masked_anywhere() {
        let piece = &ANTHROPIC_KEY[20..31];
        let body = format!(r#"{{"type":"error","error":{{"type":"authentication_error","message":"key ending {piece} was revoked"}}}}"#);
        let out = text(&redact(body.as_bytes(), ANTHROPIC_KEY));
        assert!(out.contains(&format!("key ending {} was revoked", "*".repeat(piece.len()))), "{out}");
        let html = format!("<html><body>bad key {ANTHROPIC_KEY}</body></html>");
        let out = text(&redact(html.as_bytes(), ANTHROPIC_KEY));
        assert_no_echo(&out, ANTHROPIC_KEY);
        assert!(out.starts_with("<html><body>bad key ***"), "{out}");
    }

    #[test]
    fn a_body_without_an_echo_comes_back_borrowed_and_unchanged() {
        for body in [
            &br#"{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}"#[..],
            br#"{"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed the rate limit... of 50 requests per minute"}}"#,
            br#"{"error":{"message":"Incorrect API key provided: sk-other***********************************ZZZZ.","code":"invalid_api_key"}}"#,
            b"",
            b"short",
        ] {
            for key in [OPENAI_KEY, GEMINI_KEY, ANTHROPIC_KEY] {
                assert!(matches!(redact(body, key), Cow::Borrowed(b) if b == body), "{}", String::from_utf8_lossy(body));
            }
        }
    }

    #[test]
    fn masking_keeps_json_valid_when_the_key_meets_quotes_and_escapes() {
        let key = r#"ab"cdefgh\ijklmnop"#;
        let body = br#"{"error":{"message":"bad key ab\"cdefgh\\ijklmnop here","n":12345678}}"#;
        let out = redact(body, key);
        serde_json::from_slice::<Value>(&out).expect("still JSON");
        // A key made of digits: a number outside strings is left alone, its echo inside a string is masked.
        let digits = "1234567890123456";
        let body = br#"{"id":12345678901,"error":{"message":"key 1234567890123456 refused"}}"#;
        let out = text(&redact(body, digits));
        assert!(out.starts_with(r#"{"id":12345678901,"#) && out.contains("key **************** refused"), "{out}");
    }

    #[test]
    fn short_keys_are_masked_whole_and_tiny_ones_ignored() {
        assert_eq!(text(&redact(b"bad key k3y9z!", "k3y9z")), "bad key *****!");
        assert!(matches!(redact(b"abc abc", "abc"), Cow::Borrowed(_)));
    }

    #[test]
    fn masking_never_breaks_utf8() {
        let key = "日本語キー0123456789abcdef";
        let body = format!(r#"{{"error":{{"message":"key {key} refused"}}}}"#);
        let out = redact(body.as_bytes(), key);
        let out = String::from_utf8(out.to_vec()).expect("utf-8");
        assert!(out.starts_with(r#"{"error":{"message":"key 日本語キー****************"#), "{out}");
    }
}
