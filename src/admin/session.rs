//! Admin sessions, CSRF tokens and the client tag of the login throttle: HMAC-SHA256 under keys derived from the
//! whole `AUTH_KEY` secret.
//!
//! A session is a stateless signed token, `v1.{expires_at_s}.{nonce}.{signature}` (nonce 16 random bytes and the
//! signature in lower-case hex), kept in an `HttpOnly` cookie; the service key itself is never stored anywhere. The
//! signing key is `HMAC(AUTH_KEY, "one-balance session v1")`, so rotating `AUTH_KEY` ends every session at once.
//! A CSRF token is `HMAC(session key, "csrf" || nonce)`: bound to one session, useless with any other, and never
//! stored. Signatures and tokens are compared in constant time. Randomness comes from the caller (the edge reads
//! `crypto.getRandomValues`), which keeps this module pure.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// How long a session lasts unless the service key expires sooner.
pub const SESSION_TTL_S: u64 = 12 * 3600;
/// Random bytes in a session nonce.
pub const NONCE_BYTES: usize = 16;
const VERSION: &str = "v1";

fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        // HMAC hashes or pads a key of any length; `new_from_slice` has no failing case for it.
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

fn is_lower_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The keys the admin site derives from `AUTH_KEY`. `Debug` is not implemented: nothing here may be printed.
pub struct AdminKeys {
    session: [u8; 32],
    client: [u8; 32],
}

/// A verified (or freshly issued) session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The token's nonce, hex; identifies the session for revocation and CSRF.
    pub nonce: String,
    /// Unix seconds when it ends.
    pub expires_at_s: u64,
}

/// Why a session token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionError {
    /// Not a token of this shape or version.
    Malformed,
    /// The signature does not match (made up, tampered with, or signed under an older `AUTH_KEY`).
    BadSignature,
    /// The token's time is over.
    Expired,
}

impl AdminKeys {
    /// Derives the session and client-tag keys from the whole `AUTH_KEY` secret string.
    pub fn derive(auth_key: &str) -> AdminKeys {
        AdminKeys {
            session: mac(auth_key.as_bytes(), &[b"one-balance session v1"]),
            client: mac(auth_key.as_bytes(), &[b"one-balance login throttle v1"]),
        }
    }

    fn signature(&self, expires_at_s: u64, nonce: &str) -> [u8; 32] {
        mac(&self.session, &[VERSION.as_bytes(), b".", expires_at_s.to_string().as_bytes(), b".", nonce.as_bytes()])
    }

    /// A new session token and its session. It ends after [`SESSION_TTL_S`], or when the service key used to log
    /// in expires (`key_expires_at_s`), whichever is sooner.
    pub fn issue(&self, nonce: [u8; NONCE_BYTES], now_s: u64, key_expires_at_s: Option<u64>) -> (String, Session) {
        let ttl_end = now_s.saturating_add(SESSION_TTL_S);
        let expires_at_s = key_expires_at_s.map_or(ttl_end, |k| k.min(ttl_end));
        let nonce = hex(&nonce);
        let token = format!("{VERSION}.{expires_at_s}.{nonce}.{}", hex(&self.signature(expires_at_s, &nonce)));
        (token, Session { nonce, expires_at_s })
    }

    /// Checks a token's shape, then its signature (in constant time), then its expiry.
    pub fn verify(&self, token: &str, now_s: u64) -> Result<Session, SessionError> {
        let mut parts = token.split('.');
        let (Some(version), Some(expiry), Some(nonce), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SessionError::Malformed);
        };
        let valid_expiry = !expiry.is_empty() && expiry.len() <= 20 && expiry.bytes().all(|b| b.is_ascii_digit());
        if version != VERSION || !valid_expiry || !is_lower_hex(nonce, NONCE_BYTES * 2) || !is_lower_hex(signature, 64) {
            return Err(SessionError::Malformed);
        }
        let expires_at_s = expiry.parse::<u64>().map_err(|_| SessionError::Malformed)?;
        let expected = hex(&self.signature(expires_at_s, nonce));
        if !bool::from(expected.as_bytes().ct_eq(signature.as_bytes())) {
            return Err(SessionError::BadSignature);
        }
        if now_s >= expires_at_s {
            return Err(SessionError::Expired);
        }
        Ok(Session { nonce: nonce.to_string(), expires_at_s })
    }

    /// The CSRF token of `session`, for every form the session's pages show.
    pub fn csrf(&self, session: &Session) -> String {
        hex(&mac(&self.session, &[b"csrf", session.nonce.as_bytes()]))
    }

    /// Whether `presented` is the CSRF token of `session` (constant time).
    pub fn check_csrf(&self, session: &Session, presented: &str) -> bool {
        bool::from(self.csrf(session).as_bytes().ct_eq(presented.as_bytes()))
    }

    /// What the login throttle stores for a client address: a keyed hash, never the address itself.
    pub fn client_tag(&self, address: &str) -> String {
        hex(&mac(&self.client, &[address.as_bytes()])[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_764_000_000;

    fn keys() -> AdminKeys {
        AdminKeys::derive("admin-secret;app=openai")
    }

    #[test]
    fn a_fresh_token_verifies_and_carries_its_nonce() {
        let (token, session) = keys().issue([7; NONCE_BYTES], NOW, None);
        assert!(token.starts_with("v1."), "{token}");
        assert_eq!(keys().verify(&token, NOW + 1), Ok(session.clone()));
        assert_eq!(session.expires_at_s, NOW + SESSION_TTL_S);
        assert_eq!(session.nonce, "07".repeat(NONCE_BYTES));
    }

    #[test]
    fn a_token_expires_after_twelve_hours_or_with_the_service_key() {
        let (token, _) = keys().issue([1; NONCE_BYTES], NOW, None);
        assert!(keys().verify(&token, NOW + SESSION_TTL_S - 1).is_ok());
        assert_eq!(keys().verify(&token, NOW + SESSION_TTL_S), Err(SessionError::Expired));
        let (short, session) = keys().issue([1; NONCE_BYTES], NOW, Some(NOW + 60));
        assert_eq!(session.expires_at_s, NOW + 60);
        assert_eq!(keys().verify(&short, NOW + 60), Err(SessionError::Expired));
    }

    #[test]
    fn tampering_with_any_part_breaks_the_signature() {
        let (token, _) = keys().issue([2; NONCE_BYTES], NOW, None);
        let parts: Vec<&str> = token.split('.').collect();
        let later = format!("v1.{}.{}.{}", NOW + 10 * SESSION_TTL_S, parts[2], parts[3]);
        assert_eq!(keys().verify(&later, NOW), Err(SessionError::BadSignature));
        let other_nonce = format!("v1.{}.{}.{}", parts[1], "03".repeat(NONCE_BYTES), parts[3]);
        assert_eq!(keys().verify(&other_nonce, NOW), Err(SessionError::BadSignature));
        let mut flipped = token.clone();
        let last = if flipped.ends_with('0') { "1" } else { "0" };
        flipped.replace_range(flipped.len() - 1.., last);
        assert_eq!(keys().verify(&flipped, NOW), Err(SessionError::BadSignature));
    }

    #[test]
    fn rotating_auth_key_ends_every_session() {
        let (token, _) = keys().issue([4; NONCE_BYTES], NOW, None);
        assert_eq!(AdminKeys::derive("admin-secret-2;app=openai").verify(&token, NOW), Err(SessionError::BadSignature));
    }

    #[test]
    fn tokens_made_up_by_hand_are_refused() {
        for bad in [
            "",
            "admin-secret",
            "v1",
            "v2.1.2.3",
            "v1.abc.00000000000000000000000000000000.00",
            "v1.99999999999.0000.0000",
            &format!("v1.99999999999.{}.{}", "0".repeat(32), "0".repeat(64)),
            &format!("v1.99999999999.{}.{}.x", "0".repeat(32), "0".repeat(64)),
            &format!("v1.99999999999.{}.{}", "0".repeat(32), "A".repeat(64)),
            &format!("v1.999999999999999999999.{}.{}", "0".repeat(32), "0".repeat(64)),
        ] {
            assert!(keys().verify(bad, NOW).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn csrf_tokens_belong_to_one_session() {
        let k = keys();
        let (_, a) = k.issue([5; NONCE_BYTES], NOW, None);
        let (_, b) = k.issue([6; NONCE_BYTES], NOW, None);
        let token = k.csrf(&a);
        assert_eq!(token.len(), 64);
        assert!(k.check_csrf(&a, &token));
        assert!(!k.check_csrf(&b, &token), "another session's token");
        assert!(!k.check_csrf(&a, ""), "a missing token");
        assert!(!k.check_csrf(&a, &token[..63]), "a truncated token");
        assert!(!AdminKeys::derive("other").check_csrf(&a, &token));
    }

    #[test]
    fn client_tags_hide_the_address_and_are_stable() {
        let k = keys();
        let tag = k.client_tag("203.0.113.9");
        assert_eq!(tag, k.client_tag("203.0.113.9"));
        assert_ne!(tag, k.client_tag("203.0.113.10"));
        assert!(!tag.contains("203") && tag.len() == 32, "{tag}");
        assert_ne!(tag, AdminKeys::derive("rotated").client_tag("203.0.113.9"));
    }

    #[test]
    fn hex_is_lower_case_and_two_digits_per_byte() {
        assert_eq!(hex(&[0, 15, 16, 255]), "000f10ff");
    }
}
