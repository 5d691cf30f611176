//! The admin site's route table: method and path (no query) → what serves it. Pure, so every route is tested.
//!
//! Pages: `GET /`, `GET|POST /login`, `POST /logout`, `GET /keys?provider=` (the "open a slug" form),
//! `GET /keys/{provider}`, `POST /keys/{provider}/{add|selected|remark|delete-blocked|delete-active}` and
//! `GET /keys/{provider}/secret/{id}` (the copy button). Assets: `GET /assets/app.css`, `GET /assets/app.js`.
//! JSON API under `/admin/api/` (see docs/admin-api.md). A path segment holding anything but slug or id characters
//! matches nothing, so a provider or id reaches the handlers already well-formed.

use super::commands::is_slug;

/// A static file the Worker ships.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asset {
    /// `app.css`.
    Css,
    /// `app.js`.
    Js,
}

/// A form action on a provider's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Bulk add (`keys`, `remark`).
    Add,
    /// Delete, unblock, reset or check now the selected keys (`action`, `id`…).
    Selected,
    /// Edit one key's remark (`id`, `remark`).
    Remark,
    /// Delete every blocked key.
    DeleteBlocked,
    /// Delete every active key (`confirm` = the provider).
    DeleteActive,
}

/// A JSON admin API call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiCall<'a> {
    /// `GET /admin/api/providers`.
    Providers,
    /// `GET /admin/api/keys`.
    ListKeys,
    /// `POST /admin/api/keys`.
    AddKeys,
    /// `POST /admin/api/keys/delete`.
    Delete,
    /// `POST /admin/api/keys/unblock`.
    Unblock,
    /// `POST /admin/api/keys/reset-cooldowns`.
    ResetCooldowns,
    /// `POST /admin/api/keys/check`: probe keys now.
    Check,
    /// `GET /admin/api/keys/{id}`.
    GetKey(&'a str),
    /// `PATCH /admin/api/keys/{id}`.
    UpdateKey(&'a str),
}

/// What serves an admin request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminRoute<'a> {
    /// A shipped asset.
    Asset(Asset),
    /// `GET /`: the providers overview.
    Overview,
    /// `GET /login`.
    LoginForm,
    /// `POST /login`.
    Login,
    /// `POST /logout`.
    Logout,
    /// `GET /keys?provider=…`: redirect to that provider's list.
    OpenProvider,
    /// `GET /keys/{provider}`.
    Keys(&'a str),
    /// `POST /keys/{provider}/{action}`.
    KeysAction(&'a str, Action),
    /// `GET /keys/{provider}/secret/{id}`: one key in full, for the copy button.
    KeySecret(&'a str, &'a str),
    /// The JSON API.
    Api(ApiCall<'a>),
    /// A known path with another method; the methods it takes.
    MethodNotAllowed(&'static str),
    /// Nothing here (`api` is true under `/admin/api/`, which answers in JSON).
    NotFound {
        /// Whether the path is under the JSON API.
        api: bool,
    },
}

fn is_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn only<'a>(method: &str, wanted: &'static str, route: AdminRoute<'a>) -> AdminRoute<'a> {
    if method == wanted {
        route
    } else {
        AdminRoute::MethodNotAllowed(wanted)
    }
}

/// Routes an admin request.
pub fn route_admin<'a>(method: &str, path: &'a str) -> AdminRoute<'a> {
    let method = method.to_ascii_uppercase();
    let method = method.as_str();
    if let Some(api) = path.strip_prefix("/admin/api/") {
        return api_route(method, api.trim_end_matches('/'));
    }
    let segments: Vec<&str> = path.trim_start_matches('/').trim_end_matches('/').split('/').collect();
    match segments.as_slice() {
        [""] => only(method, "GET", AdminRoute::Overview),
        ["login"] => match method {
            "GET" => AdminRoute::LoginForm,
            "POST" => AdminRoute::Login,
            _ => AdminRoute::MethodNotAllowed("GET, POST"),
        },
        ["logout"] => only(method, "POST", AdminRoute::Logout),
        ["assets", "app.css"] => only(method, "GET", AdminRoute::Asset(Asset::Css)),
        ["assets", "app.js"] => only(method, "GET", AdminRoute::Asset(Asset::Js)),
        ["keys"] => only(method, "GET", AdminRoute::OpenProvider),
        ["keys", provider] if is_slug(provider) => only(method, "GET", AdminRoute::Keys(provider)),
        ["keys", provider, "secret", id] if is_slug(provider) && is_id(id) => {
            only(method, "GET", AdminRoute::KeySecret(provider, id))
        }
        ["keys", provider, action] if is_slug(provider) => {
            let action = match *action {
                "add" => Action::Add,
                "selected" => Action::Selected,
                "remark" => Action::Remark,
                "delete-blocked" => Action::DeleteBlocked,
                "delete-active" => Action::DeleteActive,
                _ => return AdminRoute::NotFound { api: false },
            };
            only(method, "POST", AdminRoute::KeysAction(provider, action))
        }
        _ => AdminRoute::NotFound { api: false },
    }
}

fn api_route<'a>(method: &str, rest: &'a str) -> AdminRoute<'a> {
    let call = |wanted, call| only(method, wanted, AdminRoute::Api(call));
    match rest {
        "providers" => call("GET", ApiCall::Providers),
        "keys" => match method {
            "GET" => AdminRoute::Api(ApiCall::ListKeys),
            "POST" => AdminRoute::Api(ApiCall::AddKeys),
            _ => AdminRoute::MethodNotAllowed("GET, POST"),
        },
        "keys/delete" => call("POST", ApiCall::Delete),
        "keys/unblock" => call("POST", ApiCall::Unblock),
        "keys/reset-cooldowns" => call("POST", ApiCall::ResetCooldowns),
        "keys/check" => call("POST", ApiCall::Check),
        _ => match rest.strip_prefix("keys/") {
            Some(id) if is_id(id) => match method {
                "GET" => AdminRoute::Api(ApiCall::GetKey(id)),
                "PATCH" => AdminRoute::Api(ApiCall::UpdateKey(id)),
                _ => AdminRoute::MethodNotAllowed("GET, PATCH"),
            },
            _ => AdminRoute::NotFound { api: true },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_assets_are_routed_by_method() {
        assert_eq!(route_admin("GET", "/"), AdminRoute::Overview);
        assert_eq!(route_admin("POST", "/"), AdminRoute::MethodNotAllowed("GET"));
        assert_eq!(route_admin("GET", "/login"), AdminRoute::LoginForm);
        assert_eq!(route_admin("post", "/login"), AdminRoute::Login);
        assert_eq!(route_admin("GET", "/logout"), AdminRoute::MethodNotAllowed("POST"), "logging out changes state: POST only");
        assert_eq!(route_admin("GET", "/assets/app.css"), AdminRoute::Asset(Asset::Css));
        assert_eq!(route_admin("GET", "/assets/app.js"), AdminRoute::Asset(Asset::Js));
        assert_eq!(route_admin("GET", "/assets/other.js"), AdminRoute::NotFound { api: false });
    }

    #[test]
    fn key_pages_take_a_slug_and_an_action() {
        assert_eq!(route_admin("GET", "/keys"), AdminRoute::OpenProvider);
        assert_eq!(route_admin("GET", "/keys/google-ai-studio"), AdminRoute::Keys("google-ai-studio"));
        assert_eq!(route_admin("GET", "/keys/google-ai-studio/"), AdminRoute::Keys("google-ai-studio"));
        assert_eq!(route_admin("POST", "/keys/openai/add"), AdminRoute::KeysAction("openai", Action::Add));
        assert_eq!(route_admin("POST", "/keys/openai/delete-active"), AdminRoute::KeysAction("openai", Action::DeleteActive));
        assert_eq!(route_admin("GET", "/keys/openai/add"), AdminRoute::MethodNotAllowed("POST"));
        assert_eq!(route_admin("POST", "/keys/openai/drop"), AdminRoute::NotFound { api: false });
        assert_eq!(route_admin("GET", "/keys/openai/secret/0a1b-2c"), AdminRoute::KeySecret("openai", "0a1b-2c"));
        for bad in ["/keys/Open%41I", "/keys/<script>", "/keys/a%2Fb/add", "/keys/openai/secret/a.b", "/keys/x/y/z/w"] {
            assert_eq!(route_admin("GET", bad), AdminRoute::NotFound { api: false }, "{bad}");
        }
    }

    #[test]
    fn the_json_api_has_its_own_not_found() {
        assert_eq!(route_admin("GET", "/admin/api/providers"), AdminRoute::Api(ApiCall::Providers));
        assert_eq!(route_admin("GET", "/admin/api/keys"), AdminRoute::Api(ApiCall::ListKeys));
        assert_eq!(route_admin("POST", "/admin/api/keys"), AdminRoute::Api(ApiCall::AddKeys));
        assert_eq!(route_admin("POST", "/admin/api/keys/delete"), AdminRoute::Api(ApiCall::Delete));
        assert_eq!(route_admin("POST", "/admin/api/keys/unblock"), AdminRoute::Api(ApiCall::Unblock));
        assert_eq!(route_admin("POST", "/admin/api/keys/reset-cooldowns"), AdminRoute::Api(ApiCall::ResetCooldowns));
        assert_eq!(route_admin("POST", "/admin/api/keys/check"), AdminRoute::Api(ApiCall::Check));
        assert_eq!(route_admin("GET", "/admin/api/keys/check"), AdminRoute::MethodNotAllowed("POST"));
        assert_eq!(route_admin("PATCH", "/admin/api/keys/abc-1"), AdminRoute::Api(ApiCall::UpdateKey("abc-1")));
        assert_eq!(route_admin("GET", "/admin/api/keys/abc-1"), AdminRoute::Api(ApiCall::GetKey("abc-1")));
        assert_eq!(route_admin("DELETE", "/admin/api/keys/abc-1"), AdminRoute::MethodNotAllowed("GET, PATCH"));
        assert_eq!(route_admin("GET", "/admin/api/keys/delete"), AdminRoute::MethodNotAllowed("POST"));
        assert_eq!(route_admin("GET", "/admin/api/nope"), AdminRoute::NotFound { api: true });
        assert_eq!(route_admin("GET", "/admin/api/keys/a/b"), AdminRoute::NotFound { api: true });
    }
}
