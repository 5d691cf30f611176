//! The admin page's form posts: sign in, log out, and the key actions. Every post but the sign-in form is checked
//! for a same-origin browser context and the session's CSRF token before any of its fields is acted on, and answers
//! 403 without changing anything when either is wrong.

use super::http::{self, BodyError};
use super::pages::{Extras, SignedIn, Visit};
use super::{auth, ops, store};
use crate::admin::commands::{self, Selected, Target};
use crate::admin::i18n::fill;
use crate::admin::listing::ListQuery;
use crate::admin::routes::Action;
use crate::admin::session::{AdminKeys, NONCE_BYTES};
use crate::admin::views::{self, list_url, Notice, CSRF_FIELD};
use crate::admin::{display, wire};
use crate::api_error::ApiError;
use crate::recheck::Finding;
use crate::edge::guess_limit;
use crate::guess_limit::Gate;
use crate::service_keys::ServiceKeys;
use web_sys::{Request, Response};
use worker::{D1Database, Env, Result};

fn same_origin(req: &Request) -> bool {
    wire::is_same_origin(&req.url(), http::header(req, "origin").as_deref(), http::header(req, "sec-fetch-site").as_deref())
}

fn body_error(error: BodyError, limit: usize) -> ApiError {
    match error {
        BodyError::TooLarge => ApiError::too_large(limit),
        BodyError::Unreadable => ApiError::bad_request("unreadable_body", "the form could not be read"),
    }
}

fn length_required() -> ApiError {
    ApiError {
        status: 411,
        kind: "invalid_request_error",
        code: "length_required",
        message: "send the sign-in form with a Content-Length header".to_string(),
        retry_after_s: None,
    }
}

/// `POST /login`. In this order, so nothing is read or judged that need not be:
/// 1. the body's declared size: none (a chunked upload) → 411, over 8 KiB → 413, before a byte is read;
/// 2. a same-origin browser context;
/// 3. the guess limit: a client this isolate knows to be locked → 429; else the attempt is counted in D1 BEFORE
///    its key is looked at, and an attempt over the budget → 429 unjudged (see `crate::guess_limit`);
/// 4. the form (read with a running byte count) and its `auth_key`: wrong → 401 (the attempt stays counted);
///    right → the attempt is given back; a restricted key → 403, an unrestricted one gets a session cookie.
pub async fn login(req: &Request, visit: &Visit, env: &Env, service_keys: &ServiceKeys, keys: &AdminKeys, db: &D1Database, now_s: u64) -> Result<Response> {
    let t = visit.lang.text();
    let chrome = visit.chrome(None);
    match http::declared_length(req) {
        None => return visit.fail(&length_required(), None),
        Some(length) if length > http::MAX_LOGIN_BYTES as u64 => return visit.fail(&ApiError::too_large(http::MAX_LOGIN_BYTES), None),
        Some(_) => {}
    }
    if !same_origin(req) {
        return visit.refused_form(None);
    }
    let throttled = |retry_after_s: u64| {
        let message = fill(t.login_throttled, &[("time", &display::duration(retry_after_s, t))]);
        http::page_retry_after(429, views::login_page(&chrome, Some(&message)), retry_after_s)
    };
    let client = guess_limit::client_of(&req.headers());
    if let Some(retry_after_s) = guess_limit::locked(client, now_s) {
        return throttled(retry_after_s);
    }
    let tag = guess_limit::tag_of(env, client);
    let counted = match guess_limit::count(db, &tag, now_s).await {
        Ok(counted) => counted,
        Err(error) => return visit.fail(&auth::storage(error), None),
    };
    if let Gate::Closed { retry_after_s } = guess_limit::judged(counted, now_s) {
        guess_limit::learn_count(client, counted, now_s);
        return throttled(retry_after_s);
    }
    let body = match http::read_text(req, http::MAX_LOGIN_BYTES).await {
        Ok(body) => body,
        Err(error) => return visit.fail(&body_error(error, http::MAX_LOGIN_BYTES), None),
    };
    let pairs = wire::parse_pairs(&body);
    let presented = wire::first(&pairs, "auth_key").unwrap_or_default().trim();
    let grant = match service_keys.authenticate(presented, now_s) {
        Ok(grant) => grant,
        Err(_) => {
            guess_limit::learn_count(client, counted, now_s);
            return visit.page(401, views::login_page(&chrome, Some(t.login_failed)));
        }
    };
    if let Err(error) = guess_limit::give_back(db, &tag, counted).await {
        return visit.fail(&auth::storage(error), None);
    }
    if grant.permits_admin().is_err() {
        return visit.page(403, views::login_page(&chrome, Some(t.login_restricted)));
    }
    let Some(nonce) = http::random_bytes::<NONCE_BYTES>() else {
        return visit.fail(&ApiError::misconfigured("the runtime offers no crypto.getRandomValues"), None);
    };
    let (token, session) = keys.issue(nonce, now_s, grant.expires_at_s);
    let mut cookies = visit.cookies.clone();
    cookies.push(wire::session_cookie(&token, session.expires_at_s.saturating_sub(now_s)));
    http::redirect("/", &cookies)
}

/// The fields of a form post, once its origin and CSRF token are right; otherwise the answer to send.
async fn checked_form(s: &SignedIn<'_>) -> std::result::Result<Vec<(String, String)>, Result<Response>> {
    if !same_origin(s.req) {
        return Err(s.visit.refused_form(Some(s.csrf)));
    }
    let body = http::read_text(s.req, http::MAX_BODY_BYTES).await.map_err(|e| s.visit.fail(&body_error(e, http::MAX_BODY_BYTES), Some(s.csrf)))?;
    let pairs = wire::parse_pairs(&body);
    if !s.keys.check_csrf(s.session, wire::first(&pairs, CSRF_FIELD).unwrap_or_default()) {
        return Err(s.visit.refused_form(Some(s.csrf)));
    }
    Ok(pairs)
}

/// `POST /logout`: remembers the session as ended and clears the cookie.
pub async fn logout(s: &SignedIn<'_>) -> Result<Response> {
    if let Err(answer) = checked_form(s).await {
        return answer;
    }
    if let Err(error) = store::revoke(s.db, &s.session.nonce, s.session.expires_at_s, s.now_s).await {
        return s.visit.fail(&auth::storage(error), Some(s.csrf));
    }
    http::redirect("/login", &[wire::cleared_session_cookie()])
}

/// What a key action did.
enum Done {
    /// Redirect back to the list with this notice.
    Notice(Notice),
    /// Show the list with this bulk-add report.
    Report(commands::AddReport),
}

/// `POST /keys/{provider}/{action}`.
pub async fn key_action(s: &SignedIn<'_>, provider: &str, action: Action) -> Result<Response> {
    let pairs = match checked_form(s).await {
        Ok(pairs) => pairs,
        Err(answer) => return answer,
    };
    let back = ListQuery::from_pairs(&pairs).unwrap_or_default();
    match run(s, provider, action, &pairs).await {
        Ok(Done::Notice(notice)) => {
            let query = [back.to_query(None, None, None), notice.to_query()].into_iter().filter(|q| !q.is_empty()).collect::<Vec<_>>().join("&");
            http::redirect(&list_url(provider, &query), &s.visit.cookies)
        }
        Ok(Done::Report(report)) => s.list(200, provider, &back, Extras { report: Some(&report), ..Extras::default() }).await,
        Err(error) if error.status < 500 => {
            let t = s.visit.lang.text();
            let message = t.for_error(error.code).unwrap_or(&error.message);
            s.list(error.status, provider, &back, Extras { error: Some(message), ..Extras::default() }).await
        }
        Err(error) => s.visit.fail(&error, Some(s.csrf)),
    }
}

async fn run(s: &SignedIn<'_>, provider: &str, action: Action, pairs: &[(String, String)]) -> std::result::Result<Done, ApiError> {
    let (db, now_s) = (s.db, s.now_s);
    match action {
        Action::Add => {
            let command = commands::add_from_form(provider, pairs)?;
            Ok(Done::Report(ops::add_keys(db, command, now_s).await?))
        }
        Action::Selected => {
            let selected = Selected::parse(wire::first(pairs, "action"))?;
            let ids = selected.ids(&wire::all(pairs, "id"))?;
            match selected {
                Selected::Delete => Ok(Done::Notice(Notice::Deleted(ops::delete(db, provider, &Target::Ids(ids)).await?))),
                Selected::Unblock => Ok(Done::Notice(Notice::Unblocked(ops::unblock(db, provider, &ids).await?))),
                Selected::Reset => Ok(Done::Notice(Notice::Reset(ops::reset_cooldowns(db, provider, &ids).await?))),
                Selected::Check => {
                    let findings = ops::check(s.app, s.env, db, provider, &ids).await?;
                    let passed = findings.iter().filter(|(_, finding)| *finding == Finding::Restore).count() as u64;
                    Ok(Done::Notice(Notice::Checked { checked: findings.len() as u64, passed }))
                }
            }
        }
        Action::Remark => {
            let ids = commands::check_ids(&wire::all(pairs, "id"))?;
            let [id] = ids.as_slice() else { return Err(ApiError::bad_request("invalid_id", "edit one key's remark at a time")) };
            let remark = commands::check_remark(wire::first(pairs, "remark"))?;
            match ops::set_remark(db, id, Some(provider), remark.as_deref()).await? {
                Some(_) => Ok(Done::Notice(Notice::RemarkSaved)),
                None => Err(ApiError::not_found("unknown_key", "no such key for this provider")),
            }
        }
        Action::DeleteBlocked => Ok(Done::Notice(Notice::Deleted(ops::delete(db, provider, &Target::AllBlocked).await?))),
        Action::DeleteActive => {
            let target = commands::all_active(provider, wire::first(pairs, "confirm"))?;
            Ok(Done::Notice(Notice::Deleted(ops::delete(db, provider, &target).await?)))
        }
    }
}
