//! The route table: a request's method and path → which handler owns it. Pure, so every route is unit-tested.
//!
//! Under `/api/`, a method outside [`PROXY_METHODS`] (TRACE, CONNECT, WebDAV verbs, made-up ones) is answered 405
//! with `Allow` before anything else: no provider serves them, and TRACE would echo the caller's headers back.
//! `/api/compat/…` is matched before `/api/{provider}/…`. The path after the provider is checked here once:
//! encoded slashes, backslashes and dot segments are refused, so nothing a client sends can climb out of the
//! provider's prefix on the gateway.

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
    if let Some(compat) = api.strip_prefix("compat/") {
        return match (method.to_ascii_uppercase().as_str(), compat.trim_end_matches('/')) {
            ("POST", "chat/completions") => Route::Api(ApiRoute::CompatChat),
            ("POST", "embeddings") => Route::Api(ApiRoute::CompatEmbeddings),
            ("GET", "models") => Route::Api(ApiRoute::CompatModels),
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
    Route::Api(ApiRoute::Native { provider, rest })
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
