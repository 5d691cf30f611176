//! The Worker's fetch entry point: route, then hand the request to its handler. Errors become responses here.

use super::{app, native, request, respond};
use crate::api_error::ApiError;
use crate::routes::{route, Route};
use web_sys::{Request, Response};
use worker::{event, Context, Env, Result};

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let url = req.url();
    let (path, query) = request::split_url(&url);
    let method = req.method();
    let outcome = match route(&method, path) {
        Route::Health => return respond::fixed(200, "text/plain; charset=utf-8", "ok"),
        Route::Native { provider, rest } => match app::app(&env) {
            Ok(app) => native::handle(&app, &req, provider, rest, query, &env, &ctx).await,
            Err(error) => Err(error),
        },
        Route::CompatChat | Route::CompatEmbeddings | Route::CompatModels => {
            Err(ApiError::not_found("not_implemented", "the OpenAI-compatible endpoint is not available yet"))
        }
        Route::BadApiPath(problem) => Err(ApiError::bad_request("bad_path", problem)),
        Route::CompatNotFound => Err(ApiError::not_found(
            "unknown_route",
            "the compat API serves POST /api/compat/chat/completions, POST /api/compat/embeddings and GET /api/compat/models",
        )),
        Route::Admin => return respond::fixed(404, "text/plain; charset=utf-8", "not found"),
    };
    match outcome {
        Ok(response) => Ok(response),
        Err(error) => respond::api_error(&error, None),
    }
}
