//! The admin site's pages and form posts: the language of the visit, the sign-in gate in front of every page
//! (session cookie; only the login form is served without one), then the page ([`super::pages`]) or the action
//! ([`super::actions`]) the route names.

use super::pages::{Extras, SignedIn, Visit};
use super::{actions, auth, http, store};
use crate::admin::listing::ListQuery;
use crate::admin::routes::AdminRoute;
use crate::admin::views::{self, Notice};
use crate::admin::wire;
use crate::api_error::ApiError;
use crate::edge::app;
use crate::edge::clock;
use web_sys::{Request, Response};
use worker::{Env, Result};

/// Serves a page route.
pub async fn serve(req: &Request, env: &Env, route: AdminRoute<'_>, path: &str, query: &str) -> Result<Response> {
    // A page answering a form post links its language switch to the page the form belongs to.
    let visit = match route {
        AdminRoute::KeysAction(provider, _) => Visit::new(req, &views::list_url(provider, ""), ""),
        AdminRoute::Login | AdminRoute::Logout => Visit::new(req, "/login", ""),
        _ => Visit::new(req, path, query),
    };
    let t = visit.lang.text();
    match route {
        AdminRoute::NotFound { .. } => return visit.page(404, views::error_page(&visit.chrome(None), t.error_title, t.not_found, None)),
        AdminRoute::MethodNotAllowed(allow) => return http::plain(405, "method not allowed", Some(allow)),
        _ => {}
    }
    let app = match app::app(env) {
        Ok(app) => app,
        Err(error) => return visit.fail(&error, None),
    };
    let db = match env.d1("DB") {
        Ok(db) => db,
        Err(_) => return visit.fail(&ApiError::misconfigured("the D1 binding DB is missing from wrangler.jsonc"), None),
    };
    let keys = auth::admin_keys(env);
    let now_s = clock::now_s();
    let session = match auth::signed_in(req, &keys, &db, now_s).await {
        Ok(session) => session,
        Err(error) => return visit.fail(&error, None),
    };
    let Some(session) = session else {
        return match route {
            AdminRoute::LoginForm => visit.page(200, views::login_page(&visit.chrome(None), None)),
            AdminRoute::Login => actions::login(req, &visit, env, &app.service_keys, &keys, &db, now_s).await,
            AdminRoute::KeySecret(..) => http::plain(401, "sign in first", None),
            // Not signed in (or a made-up cookie): nothing is read or changed, the browser goes to the sign-in form.
            _ => http::redirect("/login", &visit.cookies),
        };
    };
    let csrf = keys.csrf(&session);
    let signed_in = SignedIn { req, env, app: &app, db: &db, keys: &keys, visit: &visit, session: &session, csrf: &csrf, now_s };
    match route {
        AdminRoute::LoginForm | AdminRoute::Login => http::redirect("/", &visit.cookies),
        AdminRoute::Overview => signed_in.overview().await,
        AdminRoute::OpenProvider => signed_in.open_provider(query),
        AdminRoute::Keys(provider) => {
            let pairs = wire::parse_pairs(query);
            match ListQuery::from_pairs(&pairs) {
                Ok(list) => signed_in.list(200, provider, &list, Extras { notice: Notice::from_pairs(&pairs), ..Extras::default() }).await,
                Err(message) => visit.fail(&ApiError::bad_request("invalid_query", message), Some(&csrf)),
            }
        }
        AdminRoute::KeySecret(provider, id) => match store::secret(&db, provider, id).await {
            Ok(Some(key)) => http::secret(&key),
            Ok(None) => http::plain(404, "no such key", None),
            Err(error) => http::api_error(&auth::storage(error), None),
        },
        AdminRoute::Logout => actions::logout(&signed_in).await,
        AdminRoute::KeysAction(provider, action) => actions::key_action(&signed_in, provider, action).await,
        AdminRoute::Asset(_) | AdminRoute::Api(_) | AdminRoute::MethodNotAllowed(_) | AdminRoute::NotFound { .. } => {
            visit.page(404, views::error_page(&visit.chrome(Some(&csrf)), t.error_title, t.not_found, None))
        }
    }
}

