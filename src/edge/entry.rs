//! The Worker's fetch entry point: route, then hand the request to its wing (the proxy or the admin site). A
//! proxy handler's error becomes the client's JSON error here, in the shape the route's clients read
//! (`ApiRoute::error_shape`); the admin wing answers its own errors.
//!
//! The export is synchronous: a handler that needs no await (the native proxy with its pool cached, health, CORS
//! preflight, refusals) answers at once with a response or `relay`'s promise, and only the rest runs as a
//! wasm-bindgen future.

use super::admin;
use super::app::{self, App};
use super::proxy::{self, Served};
use crate::api_error::ApiError;
use crate::providers::ErrorShape;
use crate::compat::Operation;
use crate::protocols::ClientCall;
use crate::routes::{route, ApiRoute, Route};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use web_sys::{Request, Response};
use worker::wasm_bindgen_futures::future_to_promise;
use worker::{console_error, Context, Env};

/// The `fetch` handler (worker-build wires an export of this name to the Worker's entry point).
#[wasm_bindgen]
pub fn fetch(req: Request, env: Env, ctx: worker::worker_sys::Context) -> JsValue {
    let ctx = Rc::new(Context::new(ctx));
    let url = req.url();
    let (path, query) = proxy::split_url(&url);
    let method = req.method();
    let route = route(&method, path);
    let shape = match &route {
        Route::Api(api) => api.error_shape(),
        _ => ErrorShape::OpenAi,
    };
    let served = match route {
        Route::Health => proxy::fixed(200, "text/plain; charset=utf-8", "ok").map(|r| Served::Now(r.into())).map_err(|e| internal(&e)),
        Route::Admin => {
            let (path, query) = (path.to_string(), query.to_string());
            return future_to_promise(async move {
                let response = admin::handle(&req, &env, &path, &query).await.or_else(|e| proxy::api_error(&internal(&e), None));
                response.map(JsValue::from).map_err(|e| JsValue::from_str(&e.to_string()))
            })
            .into();
        }
        Route::BadApiPath(problem) => Err(ApiError::bad_request("bad_path", problem)),
        Route::MethodNotAllowed { allow } => method_not_allowed(allow).map(|r| Served::Now(r.into())).map_err(|e| internal(&e)),
        Route::CompatNotFound => Err(ApiError::not_found(
            "unknown_route",
            "the compat API serves POST /api/compat/chat/completions, POST /api/compat/embeddings, GET /api/compat/models, \
             POST /api/compat/v1/messages (Anthropic Messages), POST /api/compat/v1/messages/count_tokens and \
             POST /api/compat/responses (OpenAI Responses)",
        )),
        Route::Preflight => proxy::preflight().map(|r| Served::Now(r.into())).map_err(|e| internal(&e)),
        Route::Api(api) => app::app(&env).and_then(|app| serve_api(app, api, &req, method, query, &env, ctx)),
    };
    match served {
        Ok(Served::Now(response)) => response,
        Ok(Served::Later(work)) => future_to_promise(async move { Ok(answer(work.await, shape).into()) }).into(),
        Err(error) => answer(Err(error), shape).into(),
    }
}

fn serve_api(app: Rc<App>, api: ApiRoute<'_>, req: &Request, method: String, query: &str, env: &Env, ctx: Rc<Context>) -> Result<Served, ApiError> {
    // `Clone::clone`: a second handle, not the JS `Request.clone()` (which would tee the body).
    let owned = || (Clone::clone(req), env.clone());
    match api {
        ApiRoute::Native { provider, rest } => proxy::native(app, req, proxy::Call { slug: provider, rest, query, method }, env, ctx),
        ApiRoute::CompatChat | ApiRoute::CompatEmbeddings => {
            let operation = if matches!(api, ApiRoute::CompatChat) { Operation::Chat } else { Operation::Embeddings };
            let (req, env) = owned();
            Ok(Served::Later(Box::pin(async move { proxy::compat(app, &req, operation, &env, ctx).await })))
        }
        ApiRoute::CompatModels => {
            let (req, env) = owned();
            Ok(Served::Later(Box::pin(async move { proxy::compat_models(&app, &req, &env, &ctx).await })))
        }
        ApiRoute::Messages { provider, count_tokens } => {
            let call = if count_tokens { ClientCall::CountTokens } else { ClientCall::Messages };
            let (req, env) = owned();
            let (provider, query) = (provider.map(str::to_string), query.to_string());
            Ok(Served::Later(Box::pin(async move { proxy::protocol(app, &req, call, provider.as_deref(), &query, &env, ctx).await })))
        }
        ApiRoute::Responses => {
            let (req, env) = owned();
            let query = query.to_string();
            Ok(Served::Later(Box::pin(async move { proxy::protocol(app, &req, ClientCall::Responses, None, &query, &env, ctx).await })))
        }
    }
}

/// 405 for a method no proxy route takes, with `Allow` (see `crate::routes::PROXY_METHODS`).
fn method_not_allowed(allow: &'static str) -> worker::Result<Response> {
    let error = ApiError {
        status: 405,
        kind: "invalid_request_error",
        code: "method_not_allowed",
        message: format!("the proxy routes take {allow}"),
        retry_after_s: None,
    };
    let response = proxy::api_error(&error, None)?;
    response.headers().set("allow", allow)?;
    Ok(response)
}

/// The client's response: the handler's, or its error as JSON in `shape`.
fn answer(outcome: Result<Response, ApiError>, shape: ErrorShape) -> Response {
    match outcome.or_else(|error| proxy::api_error_in(&error, None, shape).map_err(|e| internal(&e))) {
        Ok(response) => response,
        Err(error) => proxy::last_resort(&error),
    }
}

fn internal(error: &worker::Error) -> ApiError {
    console_error!("building a response failed: {error}");
    ApiError::misconfigured("the Worker could not build the response")
}
