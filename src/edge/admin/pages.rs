//! The admin pages: the language and frame of a visit and the GET pages (overview with this isolate's breaker
//! figures, key list). The sign-in gate and routing are in [`super::site`], form posts in [`super::actions`].

use super::{auth, http, store};
use crate::admin::i18n::{self, Lang};
use crate::admin::listing::ListQuery;
use crate::admin::rows::overview;
use crate::admin::session::{AdminKeys, Session};
use crate::admin::views::{self, Chrome, KeysPage, Notice, ThrottleView};
use crate::admin::{commands, wire};
use crate::api_error::ApiError;
use crate::edge::app::App;
use crate::edge::proxy;
use crate::providers;
use maud::Markup;
use web_sys::{Request, Response};
use worker::{D1Database, Env, Result};

/// One page view: its language, its own URL for the language switch, and cookies to set.
pub struct Visit {
    /// The language chosen for this request.
    pub lang: Lang,
    /// This page's local URL without `lang`.
    pub here: String,
    /// `Set-Cookie` values for the answer (the language choice).
    pub cookies: Vec<String>,
}

impl Visit {
    pub fn new(req: &Request, path: &str, query: &str) -> Visit {
        let pairs = wire::parse_pairs(query);
        let asked = wire::first(&pairs, "lang").and_then(Lang::parse);
        let cookie_header = http::header(req, "cookie").unwrap_or_default();
        let lang = i18n::negotiate(
            asked.map(Lang::code),
            wire::cookie(&cookie_header, wire::LANG_COOKIE),
            http::header(req, "accept-language").as_deref(),
        );
        let cookies = asked.map(|lang| vec![wire::lang_cookie(lang.code())]).unwrap_or_default();
        Visit { lang, here: wire::local_url(path, query, "lang"), cookies }
    }

    /// The frame's view of this visit (`csrf`: signed in).
    pub fn chrome<'a>(&'a self, csrf: Option<&'a str>) -> Chrome<'a> {
        Chrome { lang: self.lang, here: &self.here, csrf }
    }

    /// A page with this visit's cookies.
    pub fn page(&self, status: u16, markup: Markup) -> Result<Response> {
        http::page(status, markup, &self.cookies)
    }

    /// The error page for `error`, in this visit's language where the refusal is one the operator can fix.
    pub fn fail(&self, error: &ApiError, csrf: Option<&str>) -> Result<Response> {
        let t = self.lang.text();
        let (title, hint) = if error.status >= 500 { (t.misconfigured_title, Some(t.misconfigured_hint)) } else { (t.error_title, None) };
        let message = t.for_error(error.code).unwrap_or(&error.message);
        self.page(error.status, views::error_page(&self.chrome(csrf), title, message, hint))
    }

    /// 403: the form's CSRF token or origin is wrong; nothing was changed.
    pub fn refused_form(&self, csrf: Option<&str>) -> Result<Response> {
        let t = self.lang.text();
        self.page(403, views::error_page(&self.chrome(csrf), t.error_title, t.csrf_failed, None))
    }
}

/// A request from a signed-in operator, with what every page and action needs.
pub struct SignedIn<'a> {
    /// The request.
    pub req: &'a Request,
    /// The Worker's environment.
    pub env: &'a Env,
    /// Configuration and service keys, parsed once per isolate.
    pub app: &'a App,
    /// D1.
    pub db: &'a D1Database,
    /// Keys derived from `AUTH_KEY`.
    pub keys: &'a AdminKeys,
    /// Language and frame.
    pub visit: &'a Visit,
    /// The session.
    pub session: &'a Session,
    /// The session's CSRF token.
    pub csrf: &'a str,
    /// Now, unix seconds.
    pub now_s: u64,
}

/// What a key list shows besides the keys.
#[derive(Default)]
pub struct Extras<'a> {
    /// A notice from a redirect.
    pub notice: Option<Notice>,
    /// A bulk-add report.
    pub report: Option<&'a commands::AddReport>,
    /// A refusal, already worded.
    pub error: Option<&'a str>,
}

impl SignedIn<'_> {
    pub async fn overview(&self) -> Result<Response> {
        match store::provider_counts(self.db, self.now_s).await {
            Ok(stored) => {
                let lines = overview(stored);
                let figures = proxy::breaker_figures(&self.app.config, self.now_s);
                let throttle = ThrottleView { config: &self.app.config.breaker, figures: &figures, now_s: self.now_s };
                self.visit.page(200, views::overview_page(&self.visit.chrome(Some(self.csrf)), &lines, &throttle, &proxy::affinity_figures()))
            }
            Err(error) => self.visit.fail(&auth::storage(error), Some(self.csrf)),
        }
    }

    pub fn open_provider(&self, query: &str) -> Result<Response> {
        let pairs = wire::parse_pairs(query);
        match commands::check_provider(wire::first(&pairs, "provider").unwrap_or_default()) {
            Ok(slug) => http::redirect(&views::list_url(&slug, ""), &self.visit.cookies),
            Err(error) => self.visit.fail(&error, Some(self.csrf)),
        }
    }

    /// The key list of `provider`, answered with `status` (200, or the status of the refusal it shows).
    pub async fn list(&self, status: u16, provider: &str, query: &ListQuery, extras: Extras<'_>) -> Result<Response> {
        proxy::flush_usage(self.env, self.now_s).await;
        let loaded = async {
            let counts = store::tab_counts(self.db, provider, query, self.now_s).await?;
            let keys = store::list_keys(self.db, provider, query, self.now_s).await?;
            Ok::<_, worker::Error>((counts, keys))
        };
        let (counts, keys) = match loaded.await {
            Ok(loaded) => loaded,
            Err(error) => return self.visit.fail(&auth::storage(error), Some(self.csrf)),
        };
        let page = KeysPage {
            provider,
            known: providers::find(provider).is_some(),
            query,
            counts: &counts,
            keys: &keys,
            now_s: self.now_s,
            notice: extras.notice,
            report: extras.report,
            error: extras.error,
        };
        self.visit.page(status, views::keys_page(&self.visit.chrome(Some(self.csrf)), self.csrf, &page))
    }
}
