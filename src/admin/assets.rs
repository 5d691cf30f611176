//! The stylesheet and script the admin pages load, compiled into the Worker (no CDN), and their versions.
//!
//! A version is a hash of the file computed at compile time; pages link `/assets/app.css?v={version}`, and a
//! request carrying the current version may be cached for a year (`immutable`), because a changed file gets a new
//! URL.

/// The admin stylesheet.
pub const CSS: &str = include_str!("assets/app.css");
/// The admin script: conveniences only (copy, select all, confirmations); every action works without it.
pub const JS: &str = include_str!("assets/app.js");

const CSS_DIGITS: [u8; 16] = fnv1a_hex(CSS);
const JS_DIGITS: [u8; 16] = fnv1a_hex(JS);
/// Version of [`CSS`].
pub const CSS_VERSION: &str = as_str(&CSS_DIGITS);
/// Version of [`JS`].
pub const JS_VERSION: &str = as_str(&JS_DIGITS);

/// 64-bit FNV-1a of `text` as 16 lower-case hex digits, computed at compile time.
const fn fnv1a_hex(text: &str) -> [u8; 16] {
    let bytes = text.as_bytes();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    let digits = b"0123456789abcdef";
    let mut out = [0u8; 16];
    let mut j = 0;
    while j < 16 {
        out[j] = digits[((hash >> (60 - 4 * j)) & 0xf) as usize];
        j += 1;
    }
    out
}

const fn as_str(digits: &'static [u8; 16]) -> &'static str {
    match std::str::from_utf8(digits) {
        Ok(text) => text,
        Err(_) => "0",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_hex_and_differ_per_file() {
        for v in [CSS_VERSION, JS_VERSION] {
            assert_eq!(v.len(), 16);
            assert!(v.bytes().all(|b| b.is_ascii_hexdigit()), "{v}");
        }
        assert_ne!(CSS_VERSION, JS_VERSION);
        assert_eq!(&fnv1a_hex(""), b"cbf29ce484222325", "FNV-1a offset basis");
    }

    #[test]
    fn the_script_is_plain_and_defers_to_data_attributes() {
        assert!(!JS.contains("eval(") && !JS.contains("innerHTML"), "no string-to-code or HTML injection paths");
        assert!(JS.contains("data-copy-url") && JS.contains("data-select-all"));
    }
}
