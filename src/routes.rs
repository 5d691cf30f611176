//! The route table: a request's method and path → which handler owns it. Pure, so every route is unit-tested.
//!
//! Under `/api/`, a method outside [`PROXY_METHODS`] (TRACE, CONNECT, WebDAV verbs, made-up ones) is answered 405
//! with `Allow` before anything else: no provider serves them, and TRACE would echo the caller's headers back.
//! `/api/compat/…` is matched before `/api/{provider}/…`. The path after the provider is checked here once:
//! encoded slashes, backslashes and dot segments are refused, so nothing a client sends can climb out of the
//! provider's prefix on the gateway.
//!
//! The client protocols of coding agents (see [`crate::protocols`]):
//! - Anthropic Messages, `POST …/v1/messages` and `…/v1/messages/count_tokens`, under `/api/compat` (any provider,
//!   `model` is `provider/model` or an alias) and under `/api/{provider}` for a provider whose own API has no
//!   Messages endpoint (converted; a provider that has one, Anthropic, stays the native proxy);
//! - OpenAI Responses, `POST /api/compat/responses`.
//!
//! Compat paths may repeat the `/v1` guides put in base URLs: `/api/compat/v1/chat/completions` is
//! `/api/compat/chat/completions`.

use crate::providers::ErrorShape;
use crate::providers;

/// Which handler serves a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route<'a> {
    /// `GET /health`.
    Health,
    /// A proxy route, served with the key pool.
    Api(ApiRoute<'a>),
    /// `OPTIONS /api/…`: a browser's CORS preflight, answered without authentication.
    Preflight,
    /// A path under `/api/` that is malformed: answer 400 with this message.
    BadApiPath(&'static str),
    /// A method no proxy route takes: answer 405 with this `Allow` header value.
    MethodNotAllowed {
        /// The value of the `Allow` header.
        allow: &'static str,
    },
    /// `/api/compat/…` with a path or method it does not serve.
    CompatNotFound,
    /// Everything else belongs to the admin site (pages, assets, `/admin/api/…`).
    Admin,
}

/// The routes that authenticate a service key and use the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiRoute<'a> {
    /// `ANY /api/{provider}/{rest}`.
    Native {
        /// The provider slug as written in the path.
        provider: &'a str,
        /// Everything after `/api/{provider}/`, without the query.
        rest: &'a str,
    },
    /// `POST /api/compat/chat/completions`.
    CompatChat,
    /// `POST /api/compat/embeddings`.
    CompatEmbeddings,
    /// `GET /api/compat/models`.
    CompatModels,
    /// `POST /api/compat/v1/messages[/count_tokens]`, or `POST /api/{provider}/v1/messages[/count_tokens]` for a
    /// provider without a Messages API of its own: Anthropic Messages, for Claude Code.
    Messages {
        /// The provider slug of `/api/{provider}/…`; `None` under `/api/compat`.
        provider: Option<&'a str>,
        /// `…/count_tokens`.
        count_tokens: bool,
    },
    /// `POST /api/compat/responses`: OpenAI Responses, for Codex.
    Responses,
}

impl ApiRoute<'_> {
    /// The shape of the Worker's own errors on this route: Anthropic's on the Messages routes and on the native
    /// routes of a provider whose SDKs read that shape; OpenAI's everywhere else.
    pub fn error_shape(&self) -> ErrorShape {
        match self {
            ApiRoute::Messages { .. } => ErrorShape::Anthropic,
            ApiRoute::Native { provider, .. } => providers::find(provider).map_or(ErrorShape::OpenAi, |p| p.error_shape),
            ApiRoute::CompatChat | ApiRoute::CompatEmbeddings | ApiRoute::CompatModels | ApiRoute::Responses => ErrorShape::OpenAi,
        }
    }
}

/// The methods the proxy routes take, as the `Allow` header of a 405 lists them.
pub const PROXY_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

/// Whether `method` is one of [`PROXY_METHODS`] (case ignored, as the routes below do).
fn is_proxy_method(method: &str) -> bool {
    PROXY_METHODS.split(", ").any(|m| m.eq_ignore_ascii_case(method))
}

/// Routes `path` (no query) for `method`.
pub fn route<'a>(method: &str, path: &'a str) -> Route<'a> {
    if path == "/health" && method.eq_ignore_ascii_case("GET") {
        return Route::Health;
    }
    let Some(api) = path.strip_prefix("/api/") else { return Route::Admin };
    if !is_proxy_method(method) {
        return Route::MethodNotAllowed { allow: PROXY_METHODS };
    }
    if method.eq_ignore_ascii_case("OPTIONS") {
        return Route::Preflight;
    }
    let post = method.eq_ignore_ascii_case("POST");
    if let Some(compat) = api.strip_prefix("compat/") {
        let compat = compat.trim_end_matches('/');
        let compat = compat.strip_prefix("v1/").unwrap_or(compat);
        return match (method.to_ascii_uppercase().as_str(), compat) {
            ("POST", "chat/completions") => Route::Api(ApiRoute::CompatChat),
            ("POST", "embeddings") => Route::Api(ApiRoute::CompatEmbeddings),
            ("GET", "models") => Route::Api(ApiRoute::CompatModels),
            ("POST", "messages") => Route::Api(ApiRoute::Messages { provider: None, count_tokens: false }),
            ("POST", "messages/count_tokens") => Route::Api(ApiRoute::Messages { provider: None, count_tokens: true }),
            ("POST", "responses") => Route::Api(ApiRoute::Responses),
            _ => Route::CompatNotFound,
        };
    }
    let (provider, rest) = api.split_once('/').unwrap_or((api, ""));
    if provider.is_empty() {
        return Route::BadApiPath("the path must be /api/{provider}/{provider path}");
    }
    if let Err(problem) = check_rest(rest) {
        return Route::BadApiPath(problem);
    }
    if post {
        if let Some(count_tokens) = converted_messages(provider, rest) {
            return Route::Api(ApiRoute::Messages { provider: Some(provider), count_tokens });
        }
    }
    Route::Api(ApiRoute::Native { provider, rest })
}

/// Whether `rest` under `provider` is a Messages call to convert (`Some(count_tokens)`): the provider has static
/// keys and no Messages API of its own, and the path is `v1/messages` or `v1/messages/count_tokens` as Anthropic's
/// clients append it to a base URL (also after a version the slug stands for: `…/api/openai/v1` + `/v1/messages`).
fn converted_messages(provider: &str, rest: &str) -> Option<bool> {
    let provider = providers::find_poolable(provider).ok().filter(|p| p.messages_path.is_none())?;
    let call = |rest: &str| match rest.trim_end_matches('/') {
        "v1/messages" => Some(false),
        "v1/messages/count_tokens" => Some(true),
        _ => None,
    };
    call(rest).or_else(|| call(provider.native_rest(rest)))
}

fn check_rest(rest: &str) -> Result<(), &'static str> {
    let lower = rest.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%5c") || rest.contains('\\') {
        return Err("encoded slashes and backslashes are not allowed in the provider path");
    }
    if rest.split('/').any(|s| matches!(s.to_ascii_lowercase().as_str(), "." | ".." | "%2e" | "%2e%2e" | ".%2e" | "%2e.")) {
        return Err("dot segments are not allowed in the provider path");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_and_compat_routes_are_matched_exactly() {
        assert_eq!(route("GET", "/health"), Route::Health);
        assert_eq!(route("POST", "/health"), Route::Admin);
        assert_eq!(route("POST", "/api/compat/chat/completions"), Route::Api(ApiRoute::CompatChat));
        assert_eq!(route("post", "/api/compat/chat/completions/"), Route::Api(ApiRoute::CompatChat));
        assert_eq!(route("GET", "/api/compat/models"), Route::Api(ApiRoute::CompatModels));
        assert_eq!(route("POST", "/api/compat/embeddings"), Route::Api(ApiRoute::CompatEmbeddings));
        assert_eq!(route("GET", "/api/compat/chat/completions"), Route::CompatNotFound);
        assert_eq!(route("POST", "/api/compat/anything"), Route::CompatNotFound);
    }

    #[test]
    fn compat_paths_may_repeat_the_v1_of_a_base_url() {
        assert_eq!(route("POST", "/api/compat/v1/chat/completions"), Route::Api(ApiRoute::CompatChat));
        assert_eq!(route("GET", "/api/compat/v1/models"), Route::Api(ApiRoute::CompatModels));
        assert_eq!(route("POST", "/api/compat/v1/embeddings"), Route::Api(ApiRoute::CompatEmbeddings));
        assert_eq!(route("POST", "/api/compat/v1/v1/chat/completions"), Route::CompatNotFound, "once");
    }

    #[test]
    fn messages_and_responses_are_served_under_compat() {
        let messages = |count_tokens| Route::Api(ApiRoute::Messages { provider: None, count_tokens });
        assert_eq!(route("POST", "/api/compat/v1/messages"), messages(false), "Claude Code: ANTHROPIC_BASE_URL=…/api/compat");
        assert_eq!(route("POST", "/api/compat/messages"), messages(false));
        assert_eq!(route("POST", "/api/compat/v1/messages/count_tokens"), messages(true));
        assert_eq!(route("POST", "/api/compat/responses"), Route::Api(ApiRoute::Responses), "Codex: base_url=…/api/compat");
        assert_eq!(route("POST", "/api/compat/v1/responses"), Route::Api(ApiRoute::Responses));
        assert_eq!(route("GET", "/api/compat/v1/messages"), Route::CompatNotFound);
        assert_eq!(route("GET", "/api/compat/responses"), Route::CompatNotFound);
    }

    #[test]
    fn messages_under_a_provider_without_its_own_messages_api_are_converted() {
        assert_eq!(
            route("POST", "/api/google-ai-studio/v1/messages"),
            Route::Api(ApiRoute::Messages { provider: Some("google-ai-studio"), count_tokens: false })
        );
        assert_eq!(
            route("POST", "/api/openrouter/v1/messages/count_tokens"),
            Route::Api(ApiRoute::Messages { provider: Some("openrouter"), count_tokens: true })
        );
        assert_eq!(
            route("POST", "/api/openai/v1/messages"),
            Route::Api(ApiRoute::Messages { provider: Some("openai"), count_tokens: false }),
            "the path an Anthropic client appends to …/api/openai"
        );
        assert_eq!(
            route("POST", "/api/openai/v1/v1/messages"),
            Route::Api(ApiRoute::Messages { provider: Some("openai"), count_tokens: false }),
            "…/api/openai/v1 as the base URL"
        );
        assert_eq!(route("POST", "/api/anthropic/v1/messages"), Route::Api(ApiRoute::Native { provider: "anthropic", rest: "v1/messages" }), "Anthropic serves it");
        assert_eq!(route("POST", "/api/nope/v1/messages"), Route::Api(ApiRoute::Native { provider: "nope", rest: "v1/messages" }), "unknown: the native 404");
        assert_eq!(route("POST", "/api/google-vertex-ai/v1/messages"), Route::Api(ApiRoute::Native { provider: "google-vertex-ai", rest: "v1/messages" }));
        assert_eq!(route("GET", "/api/google-ai-studio/v1/messages"), Route::Api(ApiRoute::Native { provider: "google-ai-studio", rest: "v1/messages" }));
    }

    #[test]
    fn errors_take_the_shape_the_routes_clients_read() {
        let shape = |method, path| match route(method, path) {
            Route::Api(api) => api.error_shape(),
            other => panic!("{other:?}"),
        };
        assert_eq!(shape("POST", "/api/compat/v1/messages"), ErrorShape::Anthropic);
        assert_eq!(shape("POST", "/api/google-ai-studio/v1/messages"), ErrorShape::Anthropic);
        assert_eq!(shape("POST", "/api/anthropic/v1/messages"), ErrorShape::Anthropic);
        assert_eq!(shape("POST", "/api/compat/responses"), ErrorShape::OpenAi);
        assert_eq!(shape("POST", "/api/compat/chat/completions"), ErrorShape::OpenAi);
        assert_eq!(shape("POST", "/api/google-ai-studio/v1beta/models/m:generateContent"), ErrorShape::OpenAi);
        assert_eq!(shape("POST", "/api/nope/x"), ErrorShape::OpenAi);
    }

    #[test]
    fn options_under_api_is_a_preflight_and_elsewhere_the_admin_sites() {
        assert_eq!(route("OPTIONS", "/api/compat/chat/completions"), Route::Preflight);
        assert_eq!(route("options", "/api/openai/chat/completions"), Route::Preflight);
        assert_eq!(route("OPTIONS", "/login"), Route::Admin);
    }

    #[test]
    fn native_routes_split_provider_and_rest() {
        assert_eq!(
            route("POST", "/api/google-ai-studio/v1beta/models/gemini-2.5-flash:generateContent"),
            Route::Api(ApiRoute::Native { provider: "google-ai-studio", rest: "v1beta/models/gemini-2.5-flash:generateContent" })
        );
        assert_eq!(route("GET", "/api/openai"), Route::Api(ApiRoute::Native { provider: "openai", rest: "" }));
        assert!(matches!(route("GET", "/api/"), Route::BadApiPath(_)));
    }

    #[test]
    fn traversal_and_encoded_slashes_are_refused() {
        for path in [
            "/api/openai/../admin",
            "/api/openai/v1/%2e%2e/x",
            "/api/openai/v1%2Fchat",
            "/api/openai/v1%5cchat",
            "/api/openai/v1\\chat",
            "/api/openai/./models",
            "/api/openai/.%2E/x",
        ] {
            assert!(matches!(route("GET", path), Route::BadApiPath(_)), "{path}");
        }
        assert!(matches!(route("GET", "/api/openai/v1/files/file..abc"), Route::Api(ApiRoute::Native { .. })), "dots inside a segment are fine");
    }

    #[test]
    fn everything_else_is_the_admin_site() {
        for path in ["/", "/login", "/keys/openai", "/admin/api/keys", "/assets/app.css", "/apix"] {
            assert_eq!(route("GET", path), Route::Admin, "{path}");
        }
    }

    #[test]
    fn unusual_methods_on_the_proxy_routes_get_405_with_allow() {
        for method in ["TRACE", "CONNECT", "PROPFIND", "MKCOL", "QUERY", "FOO", "trace", ""] {
            for path in ["/api/openai/chat/completions", "/api/compat/chat/completions", "/api/compat/models", "/api/", "/api/openai/../x"] {
                assert_eq!(route(method, path), Route::MethodNotAllowed { allow: PROXY_METHODS }, "{method} {path}");
            }
        }
        for method in ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "patch"] {
            assert!(matches!(route(method, "/api/openai/files/x"), Route::Api(ApiRoute::Native { .. })), "{method}");
        }
        assert_eq!(route("HEAD", "/api/compat/models"), Route::CompatNotFound, "a known method on a compat path it does not serve");
        assert_eq!(route("TRACE", "/login"), Route::Admin, "the admin site answers its own 405s");
        assert_eq!(route("TRACE", "/health"), Route::Admin);
    }
}
