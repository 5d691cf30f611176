//! Wire formats the admin site reads and writes by hand: `application/x-www-form-urlencoded` (form bodies and
//! query strings), percent-encoding for the URLs it builds, the `Cookie` request header and `Set-Cookie` values,
//! and the origin check of state-changing browser requests.
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

/// The origin (`scheme://host[:port]`) of an absolute URL.
pub fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..].find(['/', '?', '#']).map_or(url.len(), |i| after_scheme + i);
    &url[..end]
}

/// Whether a state-changing request may come from a page of this site. Browsers send `Sec-Fetch-Site` on form
/// posts; when present it must say same-origin (a sibling subdomain is not). `Origin`, when it names an origin,
/// must be this one; `Origin: null` says nothing (browsers send it for every post from a page served with
/// `Referrer-Policy: no-referrer`, as these pages are). Clients that send neither header (scripts, old browsers)
/// are judged by the CSRF token alone.
pub fn is_same_origin(url: &str, origin: Option<&str>, fetch_site: Option<&str>) -> bool {
    let site_ok = fetch_site.is_none_or(|site| matches!(site.trim(), "same-origin" | "none"));
    let origin_ok = origin.map(str::trim).filter(|o| *o != "null").is_none_or(|o| o.eq_ignore_ascii_case(origin_of(url)));
    site_ok && origin_ok
}

/// A link back to this page: the path (falling back to `/` unless it is a plain local path) and the query without
/// parameter `drop`.
pub fn local_url(path: &str, query: &str, drop: &str) -> String {
    let path = if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') { path } else { "/" };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some(drop))
        .collect();
    if kept.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", kept.join("&"))
    }
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

    #[test]
    fn only_same_origin_browser_posts_pass_the_origin_check() {
        let url = "https://ob.example.workers.dev/keys/openai/add";
        assert_eq!(origin_of(url), "https://ob.example.workers.dev");
        assert_eq!(origin_of("http://127.0.0.1:8787"), "http://127.0.0.1:8787");
        assert!(is_same_origin(url, Some("https://ob.example.workers.dev"), Some("same-origin")));
        assert!(is_same_origin(url, None, None), "a script without browser headers relies on the token");
        assert!(!is_same_origin(url, Some("https://evil.example"), None));
        assert!(is_same_origin(url, Some("null"), Some("same-origin")), "no-referrer pages post with Origin: null");
        assert!(!is_same_origin(url, Some("null"), Some("cross-site")));
        assert!(!is_same_origin(url, None, Some("cross-site")));
        assert!(!is_same_origin(url, None, Some("same-site")), "a sibling subdomain is another site here");
    }

    #[test]
    fn links_back_stay_local_and_drop_the_language() {
        assert_eq!(local_url("/keys/openai", "lang=zh&q=a%20b", "lang"), "/keys/openai?q=a%20b");
        assert_eq!(local_url("/", "lang=en", "lang"), "/");
        assert_eq!(local_url("//evil.example/x", "", "lang"), "/");
        assert_eq!(local_url("/\\evil", "", "lang"), "/");
    }
}
