//! The service key a caller presents, wherever its SDK puts a key.
//!
//! Every route accepts the key in each header an AI SDK uses for one — `Authorization: Bearer` (OpenAI and most
//! others), `x-api-key` (Anthropic), `x-goog-api-key` (Gemini), `api-key` (Azure OpenAI) — and Gemini-native paths
//! also take Gemini's `?key=` (the caller decides which paths those are: `Provider::takes_query_key`). A key may be
//! sent in several places, but it must be the same key: two different keys are refused with 400, whichever of them
//! is valid, so no combination of places can smuggle a second key past a check that read only one.
//!
//! A header value holding a `,` is two headers joined (the runtime joins repeated headers with `", "`) or no key at
//! all — `AUTH_KEY`'s grammar has no `,` in a key — and counts as two different keys. Other `Authorization`
//! schemes (`Basic …`) are not service keys and are ignored. This module only finds the key; recognising it is
//! `service_keys`, and limiting guesses is `guess_limit`.

use crate::upstream::query_pairs;
use crate::verdict::HeaderLookup;

/// Headers that carry a bare key, as the SDKs send them.
pub const KEY_HEADERS: &[&str] = &["x-api-key", "x-goog-api-key", "api-key"];

/// Every header [`presented_key`] reads.
pub const CREDENTIAL_HEADERS: &[&str] = &["authorization", "x-api-key", "x-goog-api-key", "api-key"];

/// Two different keys were presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conflict;

impl Conflict {
    /// The stable code of the 400 answer.
    pub const CODE: &'static str = "conflicting_credentials";

    /// What the caller is told.
    pub fn message(self) -> &'static str {
        "send the service key once: two different keys were presented"
    }
}

/// The token of an `Authorization: Bearer <token>` value; `None` for other schemes or an empty token.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(|c: char| c.is_ascii_whitespace())?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The service key presented in `headers`, and in `query` (the raw query string) when the route takes `?key=`:
/// `Ok(None)` when there is none, [`Conflict`] when there are two different ones.
pub fn presented_key(headers: &(impl HeaderLookup + ?Sized), query: Option<&str>) -> Result<Option<String>, Conflict> {
    let from_bearer = headers.header("authorization").and_then(|v| bearer_token(&v).map(str::to_string));
    let from_headers = KEY_HEADERS.iter().filter_map(|name| headers.header(name)).map(|v| v.trim().to_string());
    let from_query = query.into_iter().flat_map(query_pairs).filter(|(name, _)| name == "key").map(|(_, v)| v.trim().to_string());
    let mut found: Option<String> = None;
    for candidate in from_bearer.into_iter().chain(from_headers).chain(from_query).filter(|k| !k.is_empty()) {
        if candidate.contains(',') {
            return Err(Conflict);
        }
        match &found {
            Some(existing) if *existing != candidate => return Err(Conflict),
            Some(_) => {}
            None => found = Some(candidate),
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn presented(headers: &[(&str, &str)], query: Option<&str>) -> Result<Option<String>, Conflict> {
        presented_key(headers, query)
    }

    fn key(k: &str) -> Result<Option<String>, Conflict> {
        Ok(Some(k.to_string()))
    }

    #[test]
    fn every_usual_header_carries_the_key_on_every_route() {
        assert_eq!(presented(&[("authorization", "Bearer sk-1")], None), key("sk-1"));
        assert_eq!(presented(&[("authorization", "bearer   sk-1  ")], None), key("sk-1"), "scheme in any case, spaces trimmed");
        assert_eq!(presented(&[("x-api-key", "sk-1")], None), key("sk-1"));
        assert_eq!(presented(&[("x-goog-api-key", " sk-1 ")], None), key("sk-1"));
        assert_eq!(presented(&[("api-key", "sk-1")], None), key("sk-1"));
    }

    #[test]
    fn the_query_key_counts_only_where_the_caller_allows_it() {
        assert_eq!(presented(&[], Some("alt=sse&key=sk-1")), key("sk-1"));
        assert_eq!(presented(&[], Some("key=sk%2D1")), key("sk-1"), "percent-decoded");
        assert_eq!(presented(&[], None), Ok(None), "not a Gemini-native path: ?key= is no credential");
        assert_eq!(presented(&[], Some("keys=sk-1&akey=x")), Ok(None));
    }

    #[test]
    fn the_same_key_in_several_places_is_one_key() {
        let headers = [("authorization", "Bearer sk-1"), ("x-api-key", "sk-1"), ("x-goog-api-key", "sk-1"), ("api-key", "sk-1")];
        assert_eq!(presented(&headers, Some("key=sk-1&key=sk-1")), key("sk-1"));
    }

    #[test]
    fn two_different_keys_are_a_conflict_whichever_is_valid() {
        assert_eq!(presented(&[("authorization", "Bearer sk-1"), ("x-api-key", "sk-2")], None), Err(Conflict));
        assert_eq!(presented(&[("x-goog-api-key", "sk-1")], Some("key=sk-2")), Err(Conflict));
        assert_eq!(presented(&[], Some("key=sk-1&key=sk-2")), Err(Conflict));
        assert_eq!(presented(&[("api-key", "sk-1"), ("x-goog-api-key", "sk-2")], None), Err(Conflict));
    }

    #[test]
    fn joined_repeated_headers_are_a_conflict_not_a_key() {
        assert_eq!(presented(&[("x-goog-api-key", "sk-1, sk-2")], None), Err(Conflict));
        assert_eq!(presented(&[("authorization", "Bearer sk-1, Bearer sk-2")], None), Err(Conflict));
    }

    #[test]
    fn other_schemes_and_empty_values_are_no_key() {
        assert_eq!(presented(&[("authorization", "Basic abc")], None), Ok(None));
        assert_eq!(presented(&[("authorization", "Bearer")], None), Ok(None));
        assert_eq!(presented(&[("authorization", "Bearer   ")], None), Ok(None));
        assert_eq!(presented(&[("x-api-key", "  ")], None), Ok(None));
        assert_eq!(presented(&[("authorization", "Basic abc"), ("x-api-key", "sk-1")], None), key("sk-1"));
        assert_eq!(presented(&[("cf-aig-authorization", "Bearer gw")], None), Ok(None), "the gateway token is not a service key");
    }

    #[test]
    fn the_credential_headers_are_authorization_and_the_key_headers() {
        assert_eq!(CREDENTIAL_HEADERS[0], "authorization");
        assert_eq!(&CREDENTIAL_HEADERS[1..], KEY_HEADERS);
        for (i, name) in CREDENTIAL_HEADERS.iter().enumerate() {
            let headers = [(*name, if i == 0 { "Bearer sk-9" } else { "sk-9" })];
            assert_eq!(presented(&headers, None), key("sk-9"), "{name}");
        }
    }

    #[test]
    fn the_conflict_message_quotes_no_key() {
        assert_eq!(Conflict::CODE, "conflicting_credentials");
        assert!(!Conflict.message().contains("sk-"));
    }
}
