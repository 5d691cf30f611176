//! The guess limit at the edge: the isolate's memory of clients, and the D1 statements that count failures. Every
//! decision is `crate::guess_limit`'s; its module doc states what holds across isolates.
//!
//! Two ways in:
//! - [`check_key`] for every Bearer route (the proxy, `/api/compat/…`, `/admin/api/…`): finds the presented key
//!   (`crate::credentials`), and either answers at once — admitted from the isolate's memory with no D1, or
//!   refused — or hands back a [`Pending`] check that needs one D1 statement ([`Pending::settle`]).
//! - [`count`], [`give_back`] and [`locked`] for the sign-in form, which counts each attempt before its key is
//!   looked at.
//!
//! Failures live in the `admin_login_failures` table of migrations/0002_admin.sql (it was the sign-in throttle's;
//! its columns are exactly what the limit needs: a client tag, a count, a window start).

use super::app::{self, App};
use super::web_headers::WebHeaders;
use crate::api_error::ApiError;
use crate::credentials::{self, Conflict};
use crate::guess_limit::{self, Client, Counted, Decision, Failures, Gate, GuessCache, TagKey, CLIENT_HEADER, WINDOW_S};
use crate::service_keys::{Denial, Grant};
use crate::verdict::HeaderLookup;
use serde::Deserialize;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsValue;
use web_sys::Headers;
use worker::{console_error, D1Database, Env};

thread_local! {
    static CACHE: RefCell<GuessCache> = RefCell::new(GuessCache::default());
    static TAG_KEY: RefCell<Option<Rc<TagKey>>> = const { RefCell::new(None) };
}

/// The client of a request with these headers.
pub fn client_of(headers: &Headers) -> Client {
    Client::from_header(headers.get(CLIENT_HEADER).ok().flatten().as_deref())
}

/// The 429 of a locked client.
pub fn locked_error(retry_after_s: u64) -> ApiError {
    ApiError {
        status: 429,
        kind: "rate_limit_error",
        code: "too_many_wrong_keys",
        message: format!("too many wrong service keys from this address; retry in {retry_after_s} s"),
        retry_after_s: Some(retry_after_s),
    }
}

fn denied(denial: Denial) -> ApiError {
    ApiError::denied(denial)
}

/// What [`check_key`] found.
pub enum KeyCheck<'a> {
    /// The key is right and this isolate already vouched for the client with it: go on (no D1 was touched).
    Admitted(&'a Grant),
    /// Answer this error: no key, two keys, or a client this isolate knows to be locked (429).
    Refused(ApiError),
    /// One D1 statement decides: await [`Pending::settle`].
    Pending(Pending),
}

/// A key check that needs D1: a right key from a client this isolate has not vouched for (one indexed read), or a
/// wrong key (one atomic increment). Holds no borrow, so it can move into a `'static` future.
pub struct Pending {
    client: Client,
    now_s: u64,
    step: Step,
}

enum Step {
    Read { definition: usize },
    Count { denial: Denial },
}

/// Checks the service key presented in `headers` (and in `query` when the route takes `?key=`, see
/// `Provider::takes_query_key`) under the guess limit. Synchronous: a vouched right key is admitted with no await.
pub fn check_key<'a>(app: &'a App, headers: &Headers, query: Option<&str>, now_s: u64) -> KeyCheck<'a> {
    check_credentials(app, &WebHeaders(headers), query, now_s)
}

/// [`check_key`] over any header lookup that holds at least `credentials::CREDENTIAL_HEADERS` and
/// `guess_limit::CLIENT_HEADER` (a caller that counts JS crossings can fetch those in one call and pass a
/// `[(&str, &str)]` slice).
pub fn check_credentials<'a>(app: &'a App, headers: &(impl HeaderLookup + ?Sized), query: Option<&str>, now_s: u64) -> KeyCheck<'a> {
    let presented = match credentials::presented_key(headers, query) {
        Ok(Some(key)) => key,
        Ok(None) => return KeyCheck::Refused(denied(Denial::Missing)),
        Err(conflict) => return KeyCheck::Refused(ApiError::bad_request(Conflict::CODE, conflict.message())),
    };
    let client = Client::from_header(headers.header(CLIENT_HEADER).as_deref());
    let mut outcome: Option<Result<&'a Grant, Denial>> = None;
    let decision = CACHE.with(|cache| {
        cache.borrow().decide(client, now_s, || {
            let recognised = app.service_keys.recognise(&presented, now_s);
            outcome = Some(recognised.map(|r| r.grant));
            recognised.ok().map(|r| r.definition)
        })
    });
    match (decision, outcome) {
        (Decision::Refuse { retry_after_s }, _) => KeyCheck::Refused(locked_error(retry_after_s)),
        (Decision::Admit, Some(Ok(grant))) => KeyCheck::Admitted(grant),
        (Decision::Read { definition }, _) => KeyCheck::Pending(Pending { client, now_s, step: Step::Read { definition } }),
        (Decision::Count, Some(Err(denial))) => KeyCheck::Pending(Pending { client, now_s, step: Step::Count { denial } }),
        // `decide` admits or counts only after `check` ran, with the outcome it saw.
        (Decision::Admit | Decision::Count, _) => KeyCheck::Refused(denied(Denial::Unknown)),
    }
}

impl Pending {
    /// Whether the key is right (the statement only reads whether the client is locked): a right key is admitted
    /// unless it is.
    pub fn key_is_right(&self) -> bool {
        matches!(self.step, Step::Read { .. })
    }

    /// Runs the D1 statement and decides: the grant of a right key from a client that is not locked, else the
    /// error to answer (401 for a wrong key within the budget, 429 beyond it or for a locked client).
    pub async fn settle<'a>(self, app: &'a App, env: &Env) -> Result<&'a Grant, ApiError> {
        let Pending { client, now_s, step } = self;
        let tag = tag_of(env, client);
        let db = env.d1("DB");
        match step {
            Step::Read { definition } => {
                let grant = app.service_keys.grant(definition).ok_or_else(|| denied(Denial::Unknown))?;
                let stored = match db {
                    Ok(db) => read(&db, &tag).await,
                    Err(error) => Err(error),
                };
                match stored {
                    Ok(stored) => match CACHE.with(|c| c.borrow_mut().after_read(client, definition, stored, now_s)) {
                        Gate::Open => Ok(grant),
                        Gate::Closed { retry_after_s } => Err(locked_error(retry_after_s)),
                    },
                    Err(error) => {
                        // Fail open: the limit defends against guessing; this key is right.
                        console_error!("guess limit: reading a client's failures from D1 failed: {error}");
                        Ok(grant)
                    }
                }
            }
            Step::Count { denial } => {
                let counted = match db {
                    Ok(db) => count(&db, &tag, now_s).await,
                    Err(error) => Err(error),
                };
                match counted {
                    Ok(counted) => match CACHE.with(|c| c.borrow_mut().after_count(client, counted, now_s)) {
                        Counted::Wrong => Err(denied(denial)),
                        Counted::Withheld { retry_after_s } => Err(locked_error(retry_after_s)),
                    },
                    Err(error) => {
                        console_error!("guess limit: counting a wrong key in D1 failed: {error}");
                        Err(denied(denial))
                    }
                }
            }
        }
    }
}

/// [`check_key`] for callers that are async anyway: waits for the D1 statement when one is needed.
pub async fn checked_key<'a>(app: &'a App, env: &Env, headers: &Headers, query: Option<&str>, now_s: u64) -> Result<&'a Grant, ApiError> {
    match check_key(app, headers, query, now_s) {
        KeyCheck::Admitted(grant) => Ok(grant),
        KeyCheck::Refused(error) => Err(error),
        KeyCheck::Pending(pending) => pending.settle(app, env).await,
    }
}

/// Seconds until `client`'s lock ends, if this isolate knows it is locked.
pub fn locked(client: Client, now_s: u64) -> Option<u64> {
    CACHE.with(|c| c.borrow().locked(client, now_s))
}

/// Remembers a count D1 returned for `client` (the sign-in form's), locking it in this isolate once the budget is
/// spent; says whether the attempt counted may be judged.
pub fn learn_count(client: Client, counted: Failures, now_s: u64) -> Counted {
    CACHE.with(|c| c.borrow_mut().after_count(client, counted, now_s))
}

/// The stored tag of `client`. The tag key is derived once per isolate (`AUTH_KEY` cannot change under it).
pub fn tag_of(env: &Env, client: Client) -> String {
    let key = TAG_KEY.with(|slot| slot.borrow_mut().get_or_insert_with(|| Rc::new(TagKey::derive(&app::read(env, "AUTH_KEY").unwrap_or_default()))).clone());
    key.tag(client)
}

fn num(value: u64) -> JsValue {
    JsValue::from_f64(value as f64)
}

#[derive(Deserialize)]
struct Row {
    failures: f64,
    window_start_s: f64,
}

impl Row {
    fn failures(&self) -> Failures {
        let whole = |v: f64| if v.is_finite() && v > 0.0 { v as u64 } else { 0 };
        Failures { count: u32::try_from(whole(self.failures)).unwrap_or(u32::MAX), window_start_s: whole(self.window_start_s) }
    }
}

/// Counts one failure (for the sign-in form: one attempt) of the client tagged `tag`, atomically, and returns the
/// count with it included: a closed window starts a new one at 1. Rows of closed windows are swept in the same
/// batch (one round trip, one transaction).
pub async fn count(db: &D1Database, tag: &str, now_s: u64) -> worker::Result<Failures> {
    let count = db
        .prepare(
            "INSERT INTO admin_login_failures (client, failures, window_start_s) VALUES (?1, 1, ?2)
             ON CONFLICT (client) DO UPDATE SET
               failures = CASE WHEN admin_login_failures.window_start_s + ?3 <= ?2 THEN 1 ELSE admin_login_failures.failures + 1 END,
               window_start_s = CASE WHEN admin_login_failures.window_start_s + ?3 <= ?2 THEN ?2 ELSE admin_login_failures.window_start_s END
             RETURNING failures, window_start_s",
        )
        .bind(&[JsValue::from_str(tag), num(now_s), num(WINDOW_S)])?;
    let sweep = db
        .prepare("DELETE FROM admin_login_failures WHERE window_start_s + ?2 <= ?1 AND client <> ?3")
        .bind(&[num(now_s), num(WINDOW_S), JsValue::from_str(tag)])?;
    let results = db.batch(vec![count, sweep]).await?;
    let row = results.first().map(|r| r.results::<Row>()).transpose()?.and_then(|rows| rows.into_iter().next());
    // The statement always returns its row; without one, count this attempt as the one that opened a window.
    Ok(row.map_or(Failures { count: 1, window_start_s: now_s }, |r| r.failures()))
}

/// Gives back the attempt counted as `counted` (a right key at the sign-in form), if its window is still the
/// stored one; a client left with no failures leaves no row.
pub async fn give_back(db: &D1Database, tag: &str, counted: Failures) -> worker::Result<()> {
    let params = [JsValue::from_str(tag), num(counted.window_start_s)];
    let decrement = db
        .prepare("UPDATE admin_login_failures SET failures = failures - 1 WHERE client = ?1 AND window_start_s = ?2 AND failures > 0")
        .bind(&params)?;
    let forget = db.prepare("DELETE FROM admin_login_failures WHERE client = ?1 AND window_start_s = ?2 AND failures <= 0").bind(&params)?;
    db.batch(vec![decrement, forget]).await?;
    Ok(())
}

/// The stored failures of the client tagged `tag` (a read by primary key).
pub async fn read(db: &D1Database, tag: &str) -> worker::Result<Option<Failures>> {
    let row = db
        .prepare("SELECT failures, window_start_s FROM admin_login_failures WHERE client = ?1")
        .bind(&[JsValue::from_str(tag)])?
        .first::<Row>(None)
        .await?;
    Ok(row.map(|r| r.failures()))
}

/// Whether the sign-in form may judge the attempt counted as `counted`.
pub fn judged(counted: Failures, now_s: u64) -> Gate {
    guess_limit::gate_after_count(counted, now_s)
}
