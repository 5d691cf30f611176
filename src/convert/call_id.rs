//! Gemini thought signatures, carried inside tool-call ids through clients that cannot hold them.
//!
//! Gemini 3 models answer 400 when a multi-turn conversation sends a function call back without the "thought
//! signature" it came with (<https://ai.google.dev/gemini-api/docs/thought-signatures>). Gemini's OpenAI-compatible
//! endpoint returns it as `tool_calls[i].extra_content.google.thought_signature` and expects it in the same place
//! on the assistant message's tool call. Neither an Anthropic `tool_use` block nor a Responses `function_call` item
//! has room for it, but both clients send the call's id back verbatim. So a call that came with a signature gets
//! the id
//!
//! ```text
//! tsig1_ + base64url(id ‖ 0x00 ‖ signature)      (unpadded, RFC 4648 §5)
//! ```
//!
//! which uses only `[A-Za-z0-9_-]`, the characters Anthropic allows in tool-use ids. When the client sends that
//! id back (the `tool_use` id and its `tool_result`'s `tool_use_id`, or a `function_call`'s and its output's
//! `call_id`), [`decode_call_id`] restores the upstream's id and the signature. An id without the prefix, or one
//! that does not decode to exactly that shape, passes unchanged, so ids from other providers or other proxies are
//! never altered. A signature on an id that itself holds a NUL byte cannot be carried and is dropped.
//!
//! The cost is size: the id grows by about 4/3 of the signature, a few hundred bytes per call, sent back with
//! every later request of the conversation.

/// The prefix that marks an id carrying a signature; the `1` is the scheme's version.
pub const PREFIX: &str = "tsig1_";

/// The id to give the client for an upstream tool call `id` that came with `signature`.
pub fn encode_call_id(id: &str, signature: Option<&str>) -> String {
    match signature {
        Some(signature) if !id.contains('\0') => {
            let mut payload = Vec::with_capacity(id.len() + 1 + signature.len());
            payload.extend_from_slice(id.as_bytes());
            payload.push(0);
            payload.extend_from_slice(signature.as_bytes());
            let mut out = String::with_capacity(PREFIX.len() + payload.len() * 4 / 3 + 4);
            out.push_str(PREFIX);
            base64url_encode(&payload, &mut out);
            out
        }
        _ => id.to_string(),
    }
}

/// The upstream id and signature inside an id the client sent back; any other id comes back as it is, with no
/// signature.
pub fn decode_call_id(wire: &str) -> (String, Option<String>) {
    let decoded = wire
        .strip_prefix(PREFIX)
        .and_then(base64url_decode)
        .and_then(|payload| String::from_utf8(payload).ok())
        .and_then(|text| {
            let (id, signature) = text.split_once('\0')?;
            Some((id.to_string(), signature.to_string()))
        });
    match decoded {
        Some((id, signature)) => (id, Some(signature)),
        None => (wire.to_string(), None),
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64url_encode(bytes: &[u8], out: &mut String) {
    for group in bytes.chunks(3) {
        let b = [group[0], group.get(1).copied().unwrap_or(0), group.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=group.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
}

fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for group in text.as_bytes().chunks(4) {
        let mut n = 0u32;
        for (i, c) in group.iter().enumerate() {
            let value = ALPHABET.iter().position(|a| a == c)?;
            n |= (value as u32) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..group.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNATURE: &str = "CiQBjz1rX8p2Vb+5Yt/3q0lH1rQ6b9y0G3y2vXfM8oZ0dY1kZg0SNwGPPWtf==";

    #[test]
    fn signatures_round_trip_through_the_id() {
        let cases = [
            ("function-call-15276532906357384862", SIGNATURE),
            ("call_abc", "x"),
            ("", "sig"),
            ("id with spaces and ünïcödé", "签名 😀"),
            ("a", ""),
        ];
        for (id, signature) in cases {
            let wire = encode_call_id(id, Some(signature));
            assert!(wire.starts_with(PREFIX), "{wire}");
            assert!(wire.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'), "{wire}");
            assert_eq!(decode_call_id(&wire), (id.to_string(), Some(signature.to_string())));
        }
    }

    #[test]
    fn ids_without_a_signature_pass_unchanged_both_ways() {
        for id in ["toolu_01A09q90qw90lq917835lq9", "call_Xk2", "", "tsig1", "tsig1_", "tsig1_!!!", "tsig1_QQ", "tsig1_A"] {
            assert_eq!(decode_call_id(id), (id.to_string(), None), "{id}");
        }
        assert_eq!(encode_call_id("call_1", None), "call_1");
    }

    #[test]
    fn an_id_holding_nul_cannot_carry_a_signature() {
        assert_eq!(encode_call_id("a\0b", Some("sig")), "a\0b");
    }

    #[test]
    fn the_encoding_is_rfc_4648_base64url_without_padding() {
        let cases: [(&[u8], &str); 6] =
            [(b"", ""), (b"f", "Zg"), (b"fo", "Zm8"), (b"foo", "Zm9v"), (b"foob", "Zm9vYg"), (&[0xfb, 0xff, 0xbf], "-_-_")];
        for (bytes, text) in cases {
            let mut out = String::new();
            base64url_encode(bytes, &mut out);
            assert_eq!(out, text);
            assert_eq!(base64url_decode(text).as_deref(), Some(bytes));
        }
        assert_eq!(base64url_decode("Zm9v="), None, "padding is not part of the id alphabet");
    }
}
