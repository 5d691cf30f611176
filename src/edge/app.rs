//! The per-isolate application state: configuration and service keys, read from the environment once.
//!
//! Vars and secrets cannot change under a running isolate (a new deployment starts new isolates), so they are
//! parsed on the first request and kept. A bad value is kept as its error message, and every request answers it
//! with a 500 that tells the operator what to fix.

use crate::api_error::ApiError;
use crate::config::Config;
use crate::service_keys::ServiceKeys;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsValue;
use worker::Env;

/// What every handler needs from the environment.
pub struct App {
    /// Validated vars.
    pub config: Config,
    /// Parsed `AUTH_KEY`.
    pub service_keys: ServiceKeys,
    /// `AI_GATEWAY_TOKEN`, sent as `cf-aig-authorization` to authenticated gateways.
    pub gateway_token: Option<String>,
}

thread_local! {
    static APP: RefCell<Option<Result<Rc<App>, String>>> = const { RefCell::new(None) };
}

/// The var or secret `name` (both are plain strings on the env object): one property read, where `Env::secret` and
/// `Env::var` each check the binding's type and format it (and build an error for every var that is not set).
pub fn read(env: &Env, name: &str) -> Option<String> {
    js_sys::Reflect::get(env, &JsValue::from_str(name)).ok()?.as_string()
}

fn build(env: &Env) -> Result<Rc<App>, String> {
    let config = Config::from_lookup(|name| read(env, name)).map_err(|e| e.to_string())?;
    let service_keys = ServiceKeys::parse(&read(env, "AUTH_KEY").unwrap_or_default()).map_err(|e| e.to_string())?;
    let gateway_token = read(env, "AI_GATEWAY_TOKEN").filter(|t| !t.trim().is_empty());
    Ok(Rc::new(App { config, service_keys, gateway_token }))
}

/// The isolate's application state, or the misconfiguration to report.
pub fn app(env: &Env) -> Result<Rc<App>, ApiError> {
    APP.with(|cell| {
        let mut slot = cell.borrow_mut();
        let state = slot.get_or_insert_with(|| build(env));
        state.clone().map_err(ApiError::misconfigured)
    })
}
