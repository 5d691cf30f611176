//! Server-Sent Events: an incremental parser (bytes in, whole events out) and a writer.
//!
//! The parser follows the WHATWG `text/event-stream` grammar: lines end in `\n`, `\r\n` or `\r` (a `\r\n` pair may
//! be split between chunks); `data:` lines of one event are joined with `\n`; `event:` names the event; lines that
//! start with `:` are comments; `id:` and `retry:` are read and dropped (nothing here reconnects); a blank line
//! dispatches the event, and an event without any `data:` line is not dispatched. A leading byte-order mark is
//! skipped.
//!
//! Bytes are held until a whole line has arrived and only then decoded, so a multi-byte UTF-8 character split
//! between network chunks is never turned into U+FFFD; bytes that are not UTF-8 at all are replaced, lossily.
//!
//! Memory is bounded: an event whose pending line plus data grows past the limit ([`DEFAULT_MAX_EVENT_BYTES`]
//! unless set) is an error, and the parser refuses further input.
//!
//! One leniency: at the end of the body, a last event that lacks its blank line is still dispatched (the standard
//! drops it), because a provider that omits the final blank line would otherwise lose its last chunk.

use serde::Serialize;

/// The default bound on one event: 1 MiB.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 1 << 20;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` name, if the event had one.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// An event grew past the parser's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTooLong {
    /// The limit that was passed, in bytes.
    pub limit_bytes: usize,
}

/// An incremental event-stream parser.
#[derive(Debug)]
pub struct SseParser {
    line: Vec<u8>,
    /// The previous chunk ended in `\r`: a `\n` at the start of the next one belongs to that line end.
    after_cr: bool,
    at_start: bool,
    event: Option<String>,
    data: String,
    limit_bytes: usize,
    failed: bool,
}

impl Default for SseParser {
    fn default() -> Self {
        SseParser::new()
    }
}

impl SseParser {
    /// A parser bounded by [`DEFAULT_MAX_EVENT_BYTES`].
    pub fn new() -> SseParser {
        SseParser::with_limit(DEFAULT_MAX_EVENT_BYTES)
    }

    /// A parser that refuses any event longer than `limit_bytes`.
    pub fn with_limit(limit_bytes: usize) -> SseParser {
        SseParser {
            line: Vec::new(),
            after_cr: false,
            at_start: true,
            event: None,
            data: String::new(),
            limit_bytes,
            failed: false,
        }
    }

    /// Consumes `bytes`; returns the events they complete, in order. After an error every call errs again.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, EventTooLong> {
        let mut events = Vec::new();
        self.push_into(bytes, &mut events)?;
        Ok(events)
    }

    /// Like [`SseParser::push`], appending to `events`. On error, the events completed before it are kept there.
    pub fn push_into(&mut self, bytes: &[u8], events: &mut Vec<SseEvent>) -> Result<(), EventTooLong> {
        if self.failed {
            return Err(self.too_long());
        }
        let mut rest = bytes;
        if self.after_cr && !rest.is_empty() {
            self.after_cr = false;
            if rest[0] == b'\n' {
                rest = &rest[1..];
            }
        }
        while !rest.is_empty() {
            let Some(end) = rest.iter().position(|b| *b == b'\n' || *b == b'\r') else {
                self.line.extend_from_slice(rest);
                return self.check_limit();
            };
            self.line.extend_from_slice(&rest[..end]);
            self.check_limit()?;
            let was_cr = rest[end] == b'\r';
            rest = &rest[end + 1..];
            if was_cr {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            self.end_line(events);
        }
        Ok(())
    }

    /// The body ended: a pending line counts as ended, and a pending event with data is dispatched.
    pub fn finish(&mut self) -> Option<SseEvent> {
        if self.failed {
            return None;
        }
        let mut events = Vec::new();
        if !self.line.is_empty() {
            self.end_line(&mut events);
        }
        self.dispatch(&mut events);
        events.pop()
    }

    fn too_long(&self) -> EventTooLong {
        EventTooLong { limit_bytes: self.limit_bytes }
    }

    fn check_limit(&mut self) -> Result<(), EventTooLong> {
        let pending = self.line.len() + self.data.len() + self.event.as_ref().map_or(0, String::len);
        if pending > self.limit_bytes {
            self.failed = true;
            self.line = Vec::new();
            self.data = String::new();
            return Err(self.too_long());
        }
        Ok(())
    }

    fn end_line(&mut self, events: &mut Vec<SseEvent>) {
        let bytes = std::mem::take(&mut self.line);
        let decoded = String::from_utf8_lossy(&bytes);
        let mut line: &str = &decoded;
        if self.at_start {
            self.at_start = false;
            line = line.strip_prefix('\u{feff}').unwrap_or(line);
        }
        if line.is_empty() {
            self.dispatch(events);
        } else if !line.starts_with(':') {
            let (field, value) = match line.split_once(':') {
                Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
                None => (line, ""),
            };
            match field {
                "data" => {
                    self.data.push_str(value);
                    self.data.push('\n');
                }
                "event" => self.event = (!value.is_empty()).then(|| value.to_string()),
                _ => {}
            }
        }
        drop(decoded);
        // Keep the line buffer's allocation for the next line.
        self.line = bytes;
        self.line.clear();
    }

    fn dispatch(&mut self, events: &mut Vec<SseEvent>) {
        let event = self.event.take();
        if self.data.is_empty() {
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        data.pop();
        events.push(SseEvent { event, data });
    }
}

/// Appends one event to `out`: an `event:` line when named, one `data:` line per line of `data`, a blank line.
/// A line break inside `event` would end the field, so the name is cut there.
pub fn write_event(out: &mut Vec<u8>, event: Option<&str>, data: &str) {
    if let Some(name) = event {
        let name = name.split(['\r', '\n']).next().unwrap_or_default();
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(name.as_bytes());
        out.push(b'\n');
    }
    let mut rest = data;
    loop {
        let end = rest.find(['\r', '\n']).unwrap_or(rest.len());
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(&rest.as_bytes()[..end]);
        out.push(b'\n');
        if end == rest.len() {
            break;
        }
        let skip = if rest[end..].starts_with("\r\n") { 2 } else { 1 };
        rest = &rest[end + skip..];
    }
    out.push(b'\n');
}

/// Appends an event named `event` whose data is `value` as compact JSON (which never holds a raw line break).
pub(crate) fn write_json(out: &mut Vec<u8>, event: &str, value: &impl Serialize) {
    // Serializing the derive-based event types cannot fail (string keys only); should it ever, the event is
    // left out rather than half-written.
    if let Ok(json) = serde_json::to_vec(value) {
        write_json_bytes(out, event, &json);
    }
}

/// Appends an event named `event` whose data is `json`, compact JSON already written.
pub(crate) fn write_json_bytes(out: &mut Vec<u8>, event: &str, json: &[u8]) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(event.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(json);
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent { event: event.map(str::to_string), data: data.to_string() }
    }

    fn parse_whole(input: &[u8]) -> Vec<SseEvent> {
        let mut parser = SseParser::new();
        let mut events = parser.push(input).expect("within the limit");
        events.extend(parser.finish());
        events
    }

    #[test]
    fn the_grammar_is_read_as_the_standard_says() {
        let cases: &[(&str, &[u8], &[SseEvent])] = &[
            ("one data line", b"data: hello\n\n", &[ev(None, "hello")]),
            ("no space after the colon", b"data:hello\n\n", &[ev(None, "hello")]),
            ("only one leading space is dropped", b"data:  two\n\n", &[ev(None, " two")]),
            ("lines join with a line feed", b"data: a\ndata: b\n\n", &[ev(None, "a\nb")]),
            ("an empty data line counts", b"data\n\n", &[ev(None, "")]),
            ("named events", b"event: message_start\ndata: {}\n\n", &[ev(Some("message_start"), "{}")]),
            ("the name does not leak into the next event", b"event: x\ndata: 1\n\ndata: 2\n\n", &[
                ev(Some("x"), "1"),
                ev(None, "2"),
            ]),
            ("comments are skipped", b": keep-alive\ndata: x\n: more\n\n", &[ev(None, "x")]),
            ("id and retry and unknown fields are dropped", b"id: 7\nretry: 10\nfoo: bar\ndata: x\n\n", &[ev(None, "x")]),
            ("an event without data is not dispatched", b"event: ping\n\ndata: x\n\n", &[ev(None, "x")]),
            ("carriage returns end lines", b"data: a\rdata: b\r\r", &[ev(None, "a\nb")]),
            ("crlf ends lines", b"data: a\r\ndata: b\r\n\r\n", &[ev(None, "a\nb")]),
            ("mixed line ends", b"data: a\r\n\ndata: b\r\rdata: c\n\r\n", &[ev(None, "a"), ev(None, "b"), ev(None, "c")]),
            ("a byte-order mark at the start is skipped", b"\xef\xbb\xbfdata: x\n\n", &[ev(None, "x")]),
            ("colons after the first stay in the value", b"data: {\"a\":\"b:c\"}\n\n", &[ev(None, "{\"a\":\"b:c\"}")]),
            ("utf-8 text is kept", "data: 你好😀\n\n".as_bytes(), &[ev(None, "你好😀")]),
            ("invalid utf-8 is replaced, not refused", b"data: \xff\n\n", &[ev(None, "\u{fffd}")]),
            ("a last event without its blank line is still dispatched", b"data: [DONE]", &[ev(None, "[DONE]")]),
            ("a last event ended by one line feed is dispatched", b"data: [DONE]\n", &[ev(None, "[DONE]")]),
            ("nothing at all", b"", &[]),
        ];
        for (name, input, expected) in cases {
            assert_eq!(parse_whole(input), *expected, "{name}");
        }
    }

    #[test]
    fn any_split_of_the_input_yields_the_same_events() {
        let input = "event: a\r\ndata: 中文\r\n\r\n: c\rdata: 😀 emoji\r\rdata: x\ndata: y\n\ndata: [DONE]\n\n".as_bytes();
        let whole = parse_whole(input);
        assert_eq!(whole.len(), 4);
        for split in 0..=input.len() {
            let mut parser = SseParser::new();
            let mut events = parser.push(&input[..split]).expect("small");
            events.extend(parser.push(&input[split..]).expect("small"));
            events.extend(parser.finish());
            assert_eq!(events, whole, "split at {split}");
        }
        let mut parser = SseParser::new();
        let mut events = Vec::new();
        for byte in input {
            events.extend(parser.push(std::slice::from_ref(byte)).expect("small"));
        }
        events.extend(parser.finish());
        assert_eq!(events, whole, "one byte at a time");
    }

    #[test]
    fn an_event_over_the_limit_is_an_error_and_the_parser_stays_failed() {
        let mut parser = SseParser::with_limit(16);
        assert_eq!(parser.push(b"data: short\n\n"), Ok(vec![ev(None, "short")]));
        assert_eq!(parser.push(b"data: 0123456789"), Ok(vec![]));
        assert_eq!(parser.push(b"abcdef"), Err(EventTooLong { limit_bytes: 16 }));
        assert_eq!(parser.push(b"\n\n"), Err(EventTooLong { limit_bytes: 16 }));
        assert_eq!(parser.finish(), None);

        let mut lines = SseParser::with_limit(16);
        assert!(lines.push(b"data: 12345\ndata: 12345\n").is_err(), "the limit counts all lines of one event");
    }

    #[test]
    fn a_stream_of_small_events_never_hits_the_limit() {
        let mut parser = SseParser::with_limit(32);
        for _ in 0..1000 {
            assert_eq!(parser.push(b"data: 0123456789\n\n").map(|e| e.len()), Ok(1));
        }
    }

    #[test]
    fn written_events_parse_back_to_themselves() {
        let cases: &[(Option<&str>, &str, &[u8])] = &[
            (Some("message_stop"), "{\"type\":\"message_stop\"}", b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"),
            (None, "a\nb", b"data: a\ndata: b\n\n"),
            (None, "a\r\nb\rc", b"data: a\ndata: b\ndata: c\n\n"),
            (None, "", b"data: \n\n"),
            (Some("x\ny"), "1", b"event: x\ndata: 1\n\n"),
        ];
        for (event, data, expected) in cases {
            let mut out = Vec::new();
            write_event(&mut out, *event, data);
            assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(expected));
            let parsed = parse_whole(&out);
            assert_eq!(parsed.len(), 1);
            assert_eq!(parsed[0].data, data.replace("\r\n", "\n").replace('\r', "\n"));
        }
    }

    #[test]
    fn json_events_are_one_data_line() {
        let mut out = Vec::new();
        write_json(&mut out, "ping", &serde_json::json!({"type": "ping", "text": "a\nb"}));
        assert_eq!(out, b"event: ping\ndata: {\"text\":\"a\\nb\",\"type\":\"ping\"}\n\n");
    }
}
