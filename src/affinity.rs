//! Sessions: which conversation a request belongs to, so that every turn of it goes to the same pool key while that
//! key is healthy — providers cache long prompt prefixes per key (or per project behind it), and a coding agent
//! resends the same growing prefix on every turn. The key a session goes to is chosen in [`crate::pool::pick_for_session`]; this
//! module only names the session, from what clients already send, in this order:
//!
//! 1. the `x-one-balance-session` header, for users who want to choose;
//! 2. Claude Code's `x-claude-code-session-id`;
//! 3. Codex's `session-id` (then `conversation_id`, `thread-id`);
//! 4. the body's `prompt_cache_key` (OpenAI), `user` (OpenAI), `metadata.user_id` (Anthropic), `cachedContent`
//!    (Gemini);
//! 5. for clients that send none of these (Gemini CLI), a fingerprint of the conversation: its system prompt and its
//!    first message, as they appear in the body, each hashed over at most [`FINGERPRINT_BYTES`] — the same on every
//!    turn, since a conversation only ever grows at its end.
//!    A request is fingerprinted only when it is a conversation worth keeping on one key: a later turn (three
//!    messages or more) or a start of at least [`FINGERPRINT_MIN_BYTES`] (a coding agent's system prompt). Short
//!    one-off requests that happen to be alike (a batch job, a load test, "hi") keep the uniform choice instead of
//!    crowding onto one key; providers cache no prefix that short anyway.
//!
//! A session is a 64-bit hash (FNV-1a over the source's name and value), never the value itself: nothing a client
//! sends is kept or logged. Reading the body costs one pass of the JSON parser over it, skipping what it does not
//! keep, and happens only when no header named the session.

use crate::config::SessionAffinity;
use crate::verdict::HeaderLookup;
use serde::de::{IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// Most bytes of the system prompt, and of the first message, that a fingerprint hashes.
pub const FINGERPRINT_BYTES: usize = 4 * 1024;

/// Fewest bytes of system prompt and first message together that make a first turn worth a fingerprint.
pub const FINGERPRINT_MIN_BYTES: usize = 1024;

/// Fewest messages that make a request a later turn of a conversation (user, assistant, user).
const LATER_TURN_MESSAGES: usize = 3;

/// The header a user sets to name a session.
pub const SESSION_HEADER: &str = "x-one-balance-session";

/// Headers that name a session, in order of trust.
const SESSION_HEADERS: &[&str] = &[SESSION_HEADER, "x-claude-code-session-id", "session-id", "conversation_id", "thread-id"];

/// Where a session's name came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionSource {
    /// A request header.
    Header(&'static str),
    /// A body field.
    Body(&'static str),
    /// The conversation's first message (and system prompt).
    Fingerprint,
}

/// A conversation, as far as key choice is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// The session's hash.
    pub hash: u64,
    /// Where it came from.
    pub source: SessionSource,
}

/// The session of a request under `mode`: what its headers name, else (unless the mode is off) what its body names,
/// else (when the mode is on) its fingerprint. `body` is read only when the headers named none.
pub fn session_of(mode: SessionAffinity, headers: &(impl HeaderLookup + ?Sized), body: &[u8]) -> Option<Session> {
    match mode {
        SessionAffinity::Off => None,
        SessionAffinity::Named => session_from_headers(headers).or_else(|| session_from_body(body).filter(|s| s.source != SessionSource::Fingerprint)),
        SessionAffinity::On => session_from_headers(headers).or_else(|| session_from_body(body)),
    }
}

/// The session a request's headers name, if any (no body needed).
pub fn session_from_headers(headers: &(impl HeaderLookup + ?Sized)) -> Option<Session> {
    SESSION_HEADERS.iter().find_map(|name| {
        let value = headers.header(name)?;
        let value = value.trim();
        (!value.is_empty()).then(|| Session { hash: hash_parts(&[name.as_bytes(), value.as_bytes()]), source: SessionSource::Header(name) })
    })
}

/// The session a JSON body names, or its fingerprint; `None` for a body that is not a JSON object or holds no
/// conversation.
pub fn session_from_body(body: &[u8]) -> Option<Session> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first != b'{' {
        return None;
    }
    let fields: Fields<'_> = serde_json::from_slice(body).ok()?;
    let named = [
        ("prompt_cache_key", fields.prompt_cache_key),
        ("user", fields.user),
        ("metadata.user_id", fields.metadata.and_then(user_id)),
        ("cachedContent", fields.cached_content),
    ];
    for (name, value) in named {
        if let Some(value) = value.and_then(string_of) {
            return Some(Session { hash: hash_parts(&[name.as_bytes(), value.as_bytes()]), source: SessionSource::Body(name) });
        }
    }
    let system = fields.system.or(fields.system_instruction).or(fields.instructions).map(|raw| clip(raw.get()));
    let list = [fields.messages, fields.contents, fields.input].into_iter().flatten().find(|list| list.first.is_some())?;
    let (first, system) = (clip(list.first.as_deref().unwrap_or_default()), system.unwrap_or_default());
    if list.count < LATER_TURN_MESSAGES && system.len() + first.len() < FINGERPRINT_MIN_BYTES {
        return None;
    }
    let parts: [&[u8]; 3] = [b"fingerprint", system.as_bytes(), first.as_bytes()];
    Some(Session { hash: hash_parts(&parts), source: SessionSource::Fingerprint })
}

/// The fields of a body that can name a session; everything else is skipped unread.
#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow, default)]
    prompt_cache_key: Option<&'a RawValue>,
    #[serde(borrow, default)]
    user: Option<&'a RawValue>,
    #[serde(borrow, default)]
    metadata: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "cachedContent")]
    cached_content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    system: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "systemInstruction")]
    system_instruction: Option<&'a RawValue>,
    #[serde(borrow, default)]
    instructions: Option<&'a RawValue>,
    #[serde(borrow, default)]
    messages: Option<First<'a>>,
    #[serde(borrow, default)]
    contents: Option<First<'a>>,
    #[serde(borrow, default)]
    input: Option<First<'a>>,
}

/// The first element of a JSON array as raw JSON (the rest is skipped unread, only counted), or a whole string
/// (Responses' `input` may be one).
struct First<'a> {
    first: Option<Cow<'a, str>>,
    count: usize,
}

impl<'de: 'a, 'a> Deserialize<'de> for First<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FirstVisitor;
        impl<'de> Visitor<'de> for FirstVisitor {
            type Value = First<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of messages, or a string")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let first = seq.next_element::<&'de RawValue>()?;
                let mut count = usize::from(first.is_some());
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    count += 1;
                }
                Ok(First { first: first.map(|raw| Cow::Borrowed(raw.get())), count })
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
                Ok(First { first: Some(Cow::Borrowed(text)), count: 1 })
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(First { first: Some(Cow::Owned(text.to_string())), count: 1 })
            }
        }
        deserializer.deserialize_any(FirstVisitor)
    }
}

fn user_id(metadata: &RawValue) -> Option<&RawValue> {
    #[derive(Deserialize)]
    struct Metadata<'a> {
        #[serde(borrow, default)]
        user_id: Option<&'a RawValue>,
    }
    serde_json::from_str::<Metadata<'_>>(metadata.get()).ok()?.user_id
}

/// A non-empty JSON string's text.
fn string_of(raw: &RawValue) -> Option<String> {
    let text: String = serde_json::from_str(raw.get()).ok()?;
    (!text.trim().is_empty()).then_some(text)
}

/// At most [`FINGERPRINT_BYTES`] of `text`, cut at a character boundary.
fn clip(text: &str) -> &str {
    if text.len() <= FINGERPRINT_BYTES {
        return text;
    }
    let mut end = FINGERPRINT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// FNV-1a over the parts, each followed by a separator byte.
fn hash_parts(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.iter().chain(std::iter::once(&0xff)) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_HEADERS: &[(&str, &str)] = &[];

    #[test]
    fn the_users_own_header_wins_then_claude_codes_then_codexs() {
        let both: &[(&str, &str)] = &[("x-claude-code-session-id", "cc-1"), ("x-one-balance-session", "mine")];
        assert_eq!(session_from_headers(both).map(|s| s.source), Some(SessionSource::Header(SESSION_HEADER)));
        let claude: &[(&str, &str)] = &[("x-claude-code-session-id", "cc-1"), ("session-id", "codex-1")];
        assert_eq!(session_from_headers(claude).map(|s| s.source), Some(SessionSource::Header("x-claude-code-session-id")));
        let codex: &[(&str, &str)] = &[("session-id", "0199-abc"), ("thread-id", "t")];
        assert_eq!(session_from_headers(codex).map(|s| s.source), Some(SessionSource::Header("session-id")));
        assert_eq!(session_from_headers(NO_HEADERS), None);
        assert_eq!(session_from_headers(&[("session-id", "  ")][..]), None, "blank is none");
    }

    #[test]
    fn the_same_name_in_different_places_is_a_different_session() {
        let a = session_from_headers(&[("session-id", "x")][..]).map(|s| s.hash);
        let b = session_from_headers(&[("x-claude-code-session-id", "x")][..]).map(|s| s.hash);
        assert_ne!(a, b);
    }

    #[test]
    fn body_fields_name_a_session_in_order() {
        let openai = br#"{"model":"gpt-5","prompt_cache_key":"conv-9","user":"u-1","messages":[{"role":"user","content":"hi"}]}"#;
        assert_eq!(session_from_body(openai).map(|s| s.source), Some(SessionSource::Body("prompt_cache_key")));
        let user = br#"{"model":"gpt-5","user":"u-1","messages":[{"role":"user","content":"hi"}]}"#;
        assert_eq!(session_from_body(user).map(|s| s.source), Some(SessionSource::Body("user")));
        let anthropic = br#"{"model":"claude","metadata":{"user_id":"user_abc_session_123"},"messages":[]}"#;
        assert_eq!(session_from_body(anthropic).map(|s| s.source), Some(SessionSource::Body("metadata.user_id")));
        let gemini = br#"{"cachedContent":"cachedContents/abc","contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#;
        assert_eq!(session_from_body(gemini).map(|s| s.source), Some(SessionSource::Body("cachedContent")));
    }

    /// A coding agent's system prompt: long enough to fingerprint a first turn.
    fn agent_system() -> String {
        "You are Gemini CLI, an interactive agent for software engineering tasks. ".repeat(20)
    }

    #[test]
    fn a_conversation_without_a_name_keeps_its_fingerprint_as_it_grows() {
        let system = agent_system();
        let turn1 = format!(
            r#"{{"contents":[{{"role":"user","parts":[{{"text":"Fix the bug in main.rs"}}]}}],"systemInstruction":{{"parts":[{{"text":"{system}"}}]}},"generationConfig":{{"temperature":0}}}}"#
        );
        let turn2 = format!(
            r#"{{"contents":[{{"role":"user","parts":[{{"text":"Fix the bug in main.rs"}}]}},{{"role":"model","parts":[{{"text":"Done."}}]}},{{"role":"user","parts":[{{"text":"Thanks, now test it"}}]}}],"systemInstruction":{{"parts":[{{"text":"{system}"}}]}},"generationConfig":{{"temperature":0}}}}"#
        );
        let other = format!(r#"{{"contents":[{{"role":"user","parts":[{{"text":"Write a poem"}}]}}],"systemInstruction":{{"parts":[{{"text":"{system}"}}]}}}}"#);
        let a = session_from_body(turn1.as_bytes()).expect("a conversation");
        assert_eq!(a.source, SessionSource::Fingerprint);
        assert_eq!(Some(a), session_from_body(turn2.as_bytes()), "the same conversation, one turn later");
        assert_ne!(Some(a.hash), session_from_body(other.as_bytes()).map(|s| s.hash), "another conversation");
    }

    #[test]
    fn a_short_first_turn_is_not_fingerprinted_but_a_later_turn_is() {
        let first = br#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#;
        assert_eq!(session_from_body(first), None, "alike one-off requests keep the uniform choice");
        let later = br#"{"contents":[{"role":"user","parts":[{"text":"hi"}]},{"role":"model","parts":[{"text":"Hello!"}]},{"role":"user","parts":[{"text":"more"}]}]}"#;
        assert_eq!(session_from_body(later).map(|s| s.source), Some(SessionSource::Fingerprint));
        let chat_with_system = br#"{"model":"x","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"q"}]}"#;
        assert_eq!(session_from_body(chat_with_system), None, "a system message and one question are one turn");
    }

    #[test]
    fn chat_and_responses_bodies_are_fingerprinted_too() {
        let system = agent_system();
        let chat = format!(r#"{{"model":"x","messages":[{{"role":"system","content":"{system}"}},{{"role":"user","content":"q"}}]}}"#);
        let chat_later = format!(
            r#"{{"model":"x","messages":[{{"role":"system","content":"{system}"}},{{"role":"user","content":"q"}},{{"role":"assistant","content":"a"}}],"stream":true}}"#
        );
        assert!(session_from_body(chat.as_bytes()).is_some());
        assert_eq!(session_from_body(chat.as_bytes()), session_from_body(chat_later.as_bytes()));
        let responses = format!(r#"{{"model":"x","instructions":"{system}","input":"hello"}}"#);
        assert_eq!(session_from_body(responses.as_bytes()).map(|s| s.source), Some(SessionSource::Fingerprint));
        let anthropic = format!(r#"{{"model":"x","system":"{system}","messages":[{{"role":"user","content":"q"}}]}}"#);
        let different_system = format!(r#"{{"model":"x","system":"{system}!","messages":[{{"role":"user","content":"q"}}]}}"#);
        assert_ne!(session_from_body(anthropic.as_bytes()), session_from_body(different_system.as_bytes()));
    }

    #[test]
    fn only_the_first_few_kilobytes_of_a_huge_first_message_count() {
        let long = "x".repeat(100_000);
        let a = format!(r#"{{"messages":[{{"role":"user","content":"{long}A"}}]}}"#);
        let b = format!(r#"{{"messages":[{{"role":"user","content":"{long}B"}}]}}"#);
        assert_eq!(session_from_body(a.as_bytes()), session_from_body(b.as_bytes()), "differences past the clip do not count");
        let multibyte = "é".repeat(FINGERPRINT_BYTES);
        assert_eq!(clip(&multibyte).len() % 2, 0, "cut at a character boundary");
    }

    #[test]
    fn the_mode_decides_which_sources_count() {
        let fingerprinted = br#"{"contents":[{"role":"user","parts":[{"text":"hi"}]},{"role":"model","parts":[{"text":"Hello!"}]},{"role":"user","parts":[{"text":"more"}]}]}"#;
        let named = br#"{"prompt_cache_key":"c1","messages":[{"role":"user","content":"hi"}]}"#;
        let header: &[(&str, &str)] = &[("session-id", "s1")];
        assert_eq!(session_of(SessionAffinity::On, NO_HEADERS, fingerprinted).map(|s| s.source), Some(SessionSource::Fingerprint));
        assert_eq!(session_of(SessionAffinity::Named, NO_HEADERS, fingerprinted), None);
        assert_eq!(session_of(SessionAffinity::Named, NO_HEADERS, named).map(|s| s.source), Some(SessionSource::Body("prompt_cache_key")));
        assert_eq!(session_of(SessionAffinity::Named, header, named).map(|s| s.source), Some(SessionSource::Header("session-id")));
        assert_eq!(session_of(SessionAffinity::Off, header, named), None);
    }

    #[test]
    fn bodies_that_name_no_conversation_have_no_session() {
        for body in [&b""[..], b"[]", b"not json", br#"{"model":"x"}"#, br#"{"messages":[]}"#, br#"{"user":42,"messages":[]}"#, b"{\"messages\":"] {
            assert_eq!(session_from_body(body), None, "{}", String::from_utf8_lossy(body));
        }
    }
}
