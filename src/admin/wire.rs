//! Wire formats the admin site reads and writes by hand: `application/x-www-form-urlencoded` (form bodies and
//! query strings), percent-encoding for the URLs it builds, the `Cookie` request header and `Set-Cookie` values.
//!
//! Decoding never fails: a malformed escape is kept as written and invalid UTF-8 becomes U+FFFD, so hostile input
//! yields odd values that validation then refuses, never a panic.

/// Decodes one urlencoded component (`+` is a space).
pub fn decode_component(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (bytes.get(i + 1).and_then(|b| hex_value(*b)), bytes.get(i + 2).and_then(|b| hex_value(*b))) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The `name=value` pairs of a form body or query string, decoded, in order (names may repeat).
pub fn parse_pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_component(name), decode_component(value))
        })
        .collect()
}

/// The first value named `name`.
pub fn first<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// Every value named `name`.
pub fn all<'a>(pairs: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    pairs.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
}

/// Percent-encodes a query component: everything but unreserved characters (RFC 3986).
pub fn encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A query string from `(name, value)` pairs, empty values left out.
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| format!("{name}={}", encode_component(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').filter_map(|part| part.trim().split_once('=')).find(|(n, _)| *n == name).map(|(_, v)| v.trim())
}

/// The admin session cookie's name. The `__Host-` prefix makes browsers insist on `Secure`, `Path=/` and no
/// `Domain`, so no other site (not even a sibling subdomain) can plant or widen it.
pub const SESSION_COOKIE: &str = "__Host-ob_session";
/// The language cookie's name (a plain preference, not a secret).
pub const LANG_COOKIE: &str = "lang";

/// `Set-Cookie` for a session token that lives `max_age_s`.
pub fn session_cookie(token: &str, max_age_s: u64) -> String {
    format!("{SESSION_COOKIE}={token}; Max-Age={max_age_s}; Path=/; Secure; HttpOnly; SameSite=Strict")
}

/// `Set-Cookie` that deletes the session cookie.
pub fn cleared_session_cookie() -> String {
    format!("{SESSION_COOKIE}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Strict")
}

/// `Set-Cookie` remembering a language choice for a year.
pub fn lang_cookie(code: &str) -> String {
    format!("{LANG_COOKIE}={code}; Max-Age=31536000; Path=/; Secure; SameSite=Lax")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_decode_plus_percent_and_repeated_names() {
        let pairs = parse_pairs("csrf=ab12&id=k1&id=k2&remark=hello+w%C3%B6rld%21&empty=&flag");
        assert_eq!(first(&pairs, "csrf"), Some("ab12"));
        assert_eq!(all(&pairs, "id"), vec!["k1", "k2"]);
        assert_eq!(first(&pairs, "remark"), Some("hello wörld!"));
        assert_eq!(first(&pairs, "empty"), Some(""));
        assert_eq!(first(&pairs, "flag"), Some(""));
        assert_eq!(first(&pairs, "missing"), None);
    }

    #[test]
    fn malformed_escapes_and_bad_utf8_never_fail() {
        assert_eq!(decode_component("100%"), "100%");
        assert_eq!(decode_component("%zz%4"), "%zz%4");
        assert_eq!(decode_component("%41%"), "A%");
        assert_eq!(decode_component("%FF"), "\u{FFFD}");
        assert_eq!(decode_component("a%0Ab"), "a\nb");
    }

    #[test]
    fn encoding_round_trips_through_decoding() {
        for value in ["a b&c=d", "<script>", "100% ✓", "key_-.~", "/?#"] {
            assert_eq!(decode_component(&encode_component(value)), value);
        }
        assert_eq!(encode_component("a b/<"), "a%20b%2F%3C");
        assert_eq!(query_string(&[("status", "cooling"), ("q", ""), ("q2", "x y")]), "status=cooling&q2=x%20y");
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let header = "lang=zh; __Host-ob_session=v1.1.2.3;other=x=y";
        assert_eq!(cookie(header, SESSION_COOKIE), Some("v1.1.2.3"));
        assert_eq!(cookie(header, LANG_COOKIE), Some("zh"));
        assert_eq!(cookie(header, "other"), Some("x=y"));
        assert_eq!(cookie(header, "ob_session"), None);
    }

    #[test]
    fn the_session_cookie_is_locked_down() {
        let set = session_cookie("v1.2.3.4", 60);
        for part in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=60"] {
            assert!(set.contains(part), "{set} lacks {part}");
        }
        assert!(cleared_session_cookie().contains("Max-Age=0"));
    }
}
