//! Errors the Worker itself answers on `/api/…`, in the shape the caller's SDK reads, so it raises the right
//! exception: OpenAI's (`{"error":{"message","type","code"}}`) by default, Anthropic's
//! (`{"type":"error","error":{"type","message"}}`) on the Messages routes and Anthropic's native routes
//! ([`ErrorShape`]). A message never quotes a key.

use crate::providers::ErrorShape;
use crate::service_keys::Denial;
use serde::Serialize;

/// One error answer of the Worker's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// OpenAI's error `type`.
    pub kind: &'static str,
    /// A stable machine-readable code.
    pub code: &'static str,
    /// What went wrong and, where it helps, what to do.
    pub message: String,
    /// Seconds for a `Retry-After` header.
    pub retry_after_s: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    code: &'a str,
}

impl ApiError {
    fn new(status: u16, kind: &'static str, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, kind, code, message: message.into(), retry_after_s: None }
    }

    /// 400: the request is malformed.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(400, "invalid_request_error", code, message)
    }

    /// 401 or 403 from a refused service key.
    pub fn denied(denial: Denial) -> ApiError {
        let (kind, code) = if denial.status() == 401 {
            ("authentication_error", "invalid_service_key")
        } else {
            ("permission_error", "not_allowed")
        };
        ApiError::new(denial.status(), kind, code, denial.message())
    }

    /// 400: the provider authenticates with OAuth or request signing, so it has no keys to pool.
    pub fn not_poolable(slug: &str) -> ApiError {
        ApiError::bad_request("provider_not_poolable", format!("{slug} uses OAuth or request signing, not static API keys, so it cannot be pooled"))
    }

    /// 404: no such route or provider.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(404, "not_found_error", code, message)
    }

    /// 413: the request body is over the limit.
    pub fn too_large(limit_bytes: usize) -> ApiError {
        ApiError::new(413, "invalid_request_error", "body_too_large", format!("the request body is over the {limit_bytes}-byte limit"))
    }

    /// 500: the deployment is misconfigured; the message tells the operator what to set.
    pub fn misconfigured(message: impl Into<String>) -> ApiError {
        ApiError::new(500, "server_error", "misconfigured", message)
    }

    /// 503: the provider has no active key.
    pub fn no_keys(provider: &str) -> ApiError {
        ApiError::new(
            503,
            "server_error",
            "no_active_keys",
            format!("no active key for provider {provider}: add keys on the admin page"),
        )
    }

    /// 429: every key is cooling for this model.
    pub fn all_cooling(provider: &str, retry_after_s: u64) -> ApiError {
        ApiError {
            retry_after_s: Some(retry_after_s),
            ..ApiError::new(
                429,
                "rate_limit_error",
                "all_keys_cooling",
                format!("every {provider} key is rate-limited for this model; retry in {retry_after_s} s"),
            )
        }
    }

    /// 429: most keys of the provider were rate-limited at once (an IP- or region-wide limit), so none is spent.
    pub fn pool_throttled(provider: &str, retry_after_s: u64) -> ApiError {
        ApiError {
            retry_after_s: Some(retry_after_s),
            ..ApiError::new(
                429,
                "rate_limit_error",
                "pool_throttled",
                format!("most {provider} keys were rate-limited at once (an IP- or region-wide limit); pausing for {retry_after_s} s"),
            )
        }
    }

    /// 504: the upstream sent no response headers in time.
    pub fn upstream_timeout(retry_after_s: u64) -> ApiError {
        ApiError {
            retry_after_s: Some(retry_after_s),
            ..ApiError::new(504, "server_error", "upstream_timeout", "the upstream did not answer in time")
        }
    }

    /// 502: the upstream could not be reached at all.
    pub fn upstream_unreachable() -> ApiError {
        ApiError::new(502, "server_error", "upstream_unreachable", "the upstream could not be reached")
    }

    /// The JSON body in `shape`.
    pub fn body_in(&self, shape: ErrorShape) -> String {
        match shape {
            ErrorShape::OpenAi => self.body(),
            ErrorShape::Anthropic => crate::convert::anthropic::error_body(self.status, &self.message),
        }
    }

    /// Whether a client should not send the same request again: the answer is about the request or the service
    /// key, which a retry does not change (sent as `x-should-retry: false`, which the Stainless-built SDKs and
    /// Claude Code honour; without it Claude Code retries a 401 for about three minutes).
    pub fn is_final(&self) -> bool {
        matches!(self.status, 400 | 401 | 403 | 404 | 405 | 413 | 422 | 431)
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        let body = Body { error: Inner { message: &self.message, kind: self.kind, code: self.code } };
        serde_json::to_string(&body).unwrap_or_else(|_| String::from(r#"{"error":{"message":"error"}}"#))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_openai_shaped_and_escaped() {
        let err = ApiError::bad_request("bad_model", "model \"x\" </script>");
        let parsed: serde_json::Value = serde_json::from_str(&err.body()).expect("json");
        assert_eq!(parsed["error"]["message"], "model \"x\" </script>");
        assert_eq!(parsed["error"]["type"], "invalid_request_error");
        assert_eq!(parsed["error"]["code"], "bad_model");
    }

    #[test]
    fn the_anthropic_shape_types_the_error_by_status() {
        let cases = [
            (ApiError::denied(Denial::Unknown), "authentication_error"),
            (ApiError::denied(Denial::ModelNotAllowed), "permission_error"),
            (ApiError::all_cooling("google-ai-studio", 30), "rate_limit_error"),
            (ApiError::no_keys("google-ai-studio"), "api_error"),
            (ApiError::bad_request("invalid_model", "x"), "invalid_request_error"),
            (ApiError::upstream_timeout(5), "timeout_error"),
        ];
        for (error, kind) in cases {
            let parsed: serde_json::Value = serde_json::from_str(&error.body_in(ErrorShape::Anthropic)).expect("json");
            assert_eq!(parsed["type"], "error");
            assert_eq!(parsed["error"]["type"], kind, "{error:?}");
            assert_eq!(parsed["error"]["message"], error.message.as_str());
        }
        assert_eq!(ApiError::no_keys("x").body_in(ErrorShape::OpenAi), ApiError::no_keys("x").body());
    }

    #[test]
    fn only_answers_a_retry_cannot_change_are_final() {
        assert!(ApiError::denied(Denial::Unknown).is_final());
        assert!(ApiError::bad_request("x", "y").is_final());
        assert!(!ApiError::all_cooling("x", 3).is_final(), "a 429 with Retry-After is worth retrying");
        assert!(!ApiError::no_keys("x").is_final());
        assert!(!ApiError::upstream_timeout(3).is_final());
    }

    #[test]
    fn statuses_match_what_sdks_expect() {
        assert_eq!(ApiError::denied(Denial::Unknown).kind, "authentication_error");
        assert_eq!(ApiError::denied(Denial::ModelNotAllowed).kind, "permission_error");
        assert_eq!(ApiError::all_cooling("openai", 30).retry_after_s, Some(30));
        assert_eq!(ApiError::no_keys("groq").status, 503);
        assert!(ApiError::no_keys("groq").message.contains("groq"));
    }
}
