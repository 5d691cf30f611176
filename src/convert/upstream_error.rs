//! Reads any provider's error body — OpenAI's `{"error":{message,type,param,code}}`, Google's
//! `{"error":{code,message,status}}` (also wrapped in an array, as Gemini streams it), Anthropic's, a bare
//! `{"message"}` or `{"detail"}`, or plain text — into one shape both client error writers use.

use serde_json::Value;

/// The most of a non-JSON error body kept in a message.
const MAX_TEXT_CHARS: usize = 500;

/// What an upstream error said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct UpstreamError {
    /// The message; empty when the body said nothing readable.
    pub message: String,
    /// OpenAI's (or Anthropic's) error `type`.
    pub kind: Option<String>,
    /// A machine-readable code: OpenAI's string `code`, else Google's `status` (`RESOURCE_EXHAUSTED`). A numeric
    /// `code` (Google's, OpenRouter's) is an HTTP status and is read into `status` instead.
    pub code: Option<String>,
    /// OpenAI's `param`.
    pub param: Option<String>,
    /// An HTTP status the body names (Google's numeric `code`), or one implied by Google's `status`.
    pub status: Option<u16>,
}

/// Reads an error body.
pub(crate) fn parse(body: &[u8]) -> UpstreamError {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => from_value(&value).unwrap_or_else(|| text(body)),
        Err(_) => text(body),
    }
}

/// The error in a parsed body, if it has the shape of one.
pub(crate) fn from_value(value: &Value) -> Option<UpstreamError> {
    let value = match value {
        Value::Array(items) => items.first()?,
        other => other,
    };
    let object = value.as_object()?;
    let string = |v: Option<&Value>| match v {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    match object.get("error") {
        Some(Value::Object(error)) => {
            let google_status = string(error.get("status"));
            let numeric = error.get("code").and_then(Value::as_u64).and_then(|c| u16::try_from(c).ok()).filter(|c| (100..600).contains(c));
            let code = match error.get("code") {
                Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                _ => google_status.clone(),
            };
            Some(UpstreamError {
                message: string(error.get("message")).unwrap_or_default(),
                kind: string(error.get("type")),
                status: numeric.or_else(|| google_status.as_deref().and_then(status_of_google)),
                code,
                param: string(error.get("param")),
            })
        }
        Some(Value::String(message)) => Some(UpstreamError { message: message.clone(), ..UpstreamError::default() }),
        _ => {
            let message = string(object.get("message")).or_else(|| string(object.get("detail")))?;
            Some(UpstreamError { message, kind: string(object.get("type")), code: string(object.get("code")), ..UpstreamError::default() })
        }
    }
}

fn text(body: &[u8]) -> UpstreamError {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    let message = match trimmed.char_indices().nth(MAX_TEXT_CHARS) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed.to_string(),
    };
    UpstreamError { message, ..UpstreamError::default() }
}

/// The HTTP status Google pairs with a canonical status name
/// (<https://cloud.google.com/apis/design/errors#handling_errors>).
fn status_of_google(status: &str) -> Option<u16> {
    Some(match status {
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => 400,
        "UNAUTHENTICATED" => 401,
        "PERMISSION_DENIED" => 403,
        "NOT_FOUND" => 404,
        "RESOURCE_EXHAUSTED" => 429,
        "INTERNAL" | "UNKNOWN" | "DATA_LOSS" => 500,
        "UNIMPLEMENTED" => 501,
        "UNAVAILABLE" => 503,
        "DEADLINE_EXCEEDED" => 504,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn every_provider_shape_is_read() {
        let cases: Vec<(&str, Vec<u8>, UpstreamError)> = vec![
            ("openai", fixture("openai/429-rate-limit.json"), UpstreamError {
                message: "Rate limit reached for gpt-4o-mini in organization org-abc on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s. Visit https://platform.openai.com/account/rate-limits to learn more.".into(),
                kind: Some("requests".into()),
                code: Some("rate_limit_exceeded".into()),
                param: None,
                status: None,
            }),
            ("gemini", fixture("gemini/429-plain.json"), UpstreamError {
                message: "Resource has been exhausted (e.g. check quota).".into(),
                code: Some("RESOURCE_EXHAUSTED".into()),
                status: Some(429),
                ..UpstreamError::default()
            }),
            ("gemini in an array", fixture("gemini/429-stream-array.json"), UpstreamError {
                message: "You exceeded your current quota, please check your plan and billing details.".into(),
                code: Some("RESOURCE_EXHAUSTED".into()),
                status: Some(429),
                ..UpstreamError::default()
            }),
            ("anthropic", fixture("anthropic/529-overloaded.json"), UpstreamError {
                message: "Overloaded".into(),
                kind: Some("overloaded_error".into()),
                ..UpstreamError::default()
            }),
            ("openrouter numeric code", fixture("openrouter/402-credits.json"), UpstreamError {
                message: "Insufficient credits. Add more using https://openrouter.ai/settings/credits".into(),
                status: Some(402),
                ..UpstreamError::default()
            }),
            ("google status only", br#"{"error":{"message":"busy","status":"UNAVAILABLE"}}"#.to_vec(), UpstreamError {
                message: "busy".into(),
                code: Some("UNAVAILABLE".into()),
                status: Some(503),
                ..UpstreamError::default()
            }),
            ("bare message", br#"{"object":"error","message":"Invalid model","type":"invalid_model","code":"1500"}"#.to_vec(), UpstreamError {
                message: "Invalid model".into(),
                kind: Some("invalid_model".into()),
                code: Some("1500".into()),
                ..UpstreamError::default()
            }),
            ("detail", br#"{"detail":"Not Found"}"#.to_vec(), UpstreamError { message: "Not Found".into(), ..UpstreamError::default() }),
            ("error string", br#"{"error":"bad key"}"#.to_vec(), UpstreamError { message: "bad key".into(), ..UpstreamError::default() }),
            ("plain text", b"  upstream connect error  ".to_vec(), UpstreamError { message: "upstream connect error".into(), ..UpstreamError::default() }),
            ("json without an error", br#"{"ok":true}"#.to_vec(), UpstreamError { message: r#"{"ok":true}"#.into(), ..UpstreamError::default() }),
            ("empty", Vec::new(), UpstreamError::default()),
        ];
        for (name, body, expected) in cases {
            assert_eq!(parse(&body), expected, "{name}");
        }
    }

    #[test]
    fn long_text_bodies_are_cut_at_a_character_boundary() {
        let body = "错".repeat(MAX_TEXT_CHARS + 10);
        let parsed = parse(body.as_bytes());
        assert_eq!(parsed.message.chars().count(), MAX_TEXT_CHARS + 1);
        assert!(parsed.message.ends_with('…'));
    }
}
