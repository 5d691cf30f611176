//! Pasted keys → the keys to insert, and the ones refused with a reason.
//!
//! A paste is split on newlines, commas and any whitespace; a list (the JSON API's `keys`) is taken item by item,
//! trimmed. Keys are deduplicated within the paste, first occurrence kept. A key is refused when it is empty, longer
//! than [`MAX_KEY_CHARS`] characters, holds whitespace inside (only possible in a list), or holds a control or
//! invisible formatting character (NUL, escape codes, zero-width spaces, a byte-order mark in the middle): such a
//! key would never match what the provider issued, and would be invisible on the page. A refused key is reported
//! masked, never whole.

use crate::pool::Secret;
use std::collections::HashSet;

/// Longest key accepted, in characters.
pub const MAX_KEY_CHARS: usize = 512;
/// Most keys one paste may hold (after splitting, before deduplication).
pub const MAX_KEYS_PER_PASTE: usize = 20_000;

/// Why a pasted key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Nothing left after trimming (a list item `""`).
    Empty,
    /// More than [`MAX_KEY_CHARS`] characters.
    TooLong,
    /// Whitespace inside the key.
    Whitespace,
    /// A control or invisible formatting character.
    ControlCharacter,
}

impl Rejection {
    /// The stable code the JSON API reports.
    pub fn code(self) -> &'static str {
        match self {
            Rejection::Empty => "empty",
            Rejection::TooLong => "too_long",
            Rejection::Whitespace => "whitespace",
            Rejection::ControlCharacter => "control_character",
        }
    }
}

/// One refused key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The key masked, with unprintable characters shown as `?`.
    pub key_masked: String,
    /// Why.
    pub reason: Rejection,
}

/// What a paste holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Paste {
    /// Distinct acceptable keys, in paste order.
    pub keys: Vec<String>,
    /// Repeats of a key already earlier in the paste.
    pub duplicates: usize,
    /// Refused keys, in paste order.
    pub rejected: Vec<Rejected>,
}

/// Characters that are neither visible nor whitespace: control codes and invisible formatting (zero-width
/// space/joiners, direction marks, word joiner, byte-order mark).
fn is_invisible(c: char) -> bool {
    c.is_control() || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

fn is_separator(c: char) -> bool {
    c == ',' || c.is_whitespace()
}

fn mask(key: &str) -> String {
    let printable: String = key.chars().map(|c| if is_invisible(c) { '?' } else { c }).collect();
    Secret::new(printable).masked()
}

fn check(key: &str) -> Result<(), Rejection> {
    if key.is_empty() {
        Err(Rejection::Empty)
    } else if key.chars().count() > MAX_KEY_CHARS {
        Err(Rejection::TooLong)
    } else if key.chars().any(is_invisible) {
        Err(Rejection::ControlCharacter)
    } else if key.chars().any(char::is_whitespace) {
        Err(Rejection::Whitespace)
    } else {
        Ok(())
    }
}

fn collect<'a>(candidates: impl Iterator<Item = &'a str>) -> Paste {
    let mut paste = Paste::default();
    let mut seen: HashSet<&str> = HashSet::new();
    for key in candidates {
        match check(key) {
            Err(reason) => paste.rejected.push(Rejected { key_masked: mask(key), reason }),
            Ok(()) if !seen.insert(key) => paste.duplicates += 1,
            Ok(()) => paste.keys.push(key.to_string()),
        }
    }
    paste
}

/// The pieces of a paste; a leading byte-order mark (from some editors) is dropped.
fn pieces(text: &str) -> impl Iterator<Item = &str> {
    text.trim_start_matches('\u{FEFF}').split(is_separator).filter(|piece| !piece.is_empty())
}

/// How many keys a paste splits into (to refuse an oversized paste before any work).
pub fn count_text(text: &str) -> usize {
    pieces(text).count()
}

/// Parses a paste: keys separated by newlines, commas or whitespace.
pub fn parse_text(text: &str) -> Paste {
    collect(pieces(text))
}

/// Parses a list of keys, one per item, each trimmed.
pub fn parse_list(items: &[String]) -> Paste {
    collect(items.iter().map(|item| item.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gemini(n: usize) -> String {
        format!("AIzaSyD{n:0>32}")
    }

    #[test]
    fn keys_split_on_newlines_commas_and_whitespace() {
        let text = format!("{}\r\n{}, {}\t{}  \n\n,,{}", gemini(1), gemini(2), gemini(3), gemini(4), gemini(5));
        let paste = parse_text(&text);
        assert_eq!(paste.keys, (1..=5).map(gemini).collect::<Vec<_>>());
        assert!(paste.rejected.is_empty());
        assert_eq!(paste.duplicates, 0);
        assert_eq!(count_text(&text), 5);
    }

    #[test]
    fn repeats_within_a_paste_are_counted_once() {
        let paste = parse_text(&format!("{a} {b} {a}\n{a},{b}", a = gemini(1), b = gemini(2)));
        assert_eq!(paste.keys, vec![gemini(1), gemini(2)]);
        assert_eq!(paste.duplicates, 3);
    }

    #[test]
    fn every_rejection_reason_is_reported_masked() {
        let long = "x".repeat(MAX_KEY_CHARS + 1);
        let items = vec![
            "  ".to_string(),
            long.clone(),
            "sk-abc def-1234567890".to_string(),
            "sk-abc\u{0}def-1234567890".to_string(),
            "sk-abc\u{200B}def-1234567890".to_string(),
            "x".repeat(MAX_KEY_CHARS),
        ];
        let paste = parse_list(&items);
        let reasons: Vec<Rejection> = paste.rejected.iter().map(|r| r.reason).collect();
        assert_eq!(
            reasons,
            vec![Rejection::Empty, Rejection::TooLong, Rejection::Whitespace, Rejection::ControlCharacter, Rejection::ControlCharacter]
        );
        assert_eq!(paste.keys, vec!["x".repeat(MAX_KEY_CHARS)], "exactly the limit is fine");
        assert_eq!(paste.rejected[1].key_masked, "xxxx…xxxx");
        assert!(paste.rejected.iter().all(|r| !r.key_masked.contains("def-123") && !r.key_masked.contains('\u{0}')));
        assert_eq!(paste.rejected[0].reason.code(), "empty");
    }

    #[test]
    fn control_characters_in_a_paste_are_refused_but_a_leading_bom_is_dropped() {
        let paste = parse_text(&format!("\u{FEFF}{}\n{}\u{1b}[0m", gemini(1), gemini(2)));
        assert_eq!(paste.keys, vec![gemini(1)]);
        assert_eq!(paste.rejected.len(), 1);
        assert_eq!(paste.rejected[0].reason, Rejection::ControlCharacter);
        assert!(paste.rejected[0].key_masked.ends_with("[0m"), "{}", paste.rejected[0].key_masked);
    }

    #[test]
    fn a_paste_of_ten_thousand_keys_parses_whole() {
        let text: String = (0..10_000).map(|n| gemini(n) + "\n").collect();
        let paste = parse_text(&text);
        assert_eq!(paste.keys.len(), 10_000);
        assert!(count_text(&text) <= MAX_KEYS_PER_PASTE);
    }

    #[test]
    fn an_empty_paste_holds_nothing() {
        assert_eq!(parse_text(" \n,\t"), Paste::default());
        assert_eq!(parse_list(&[]), Paste::default());
    }
}
