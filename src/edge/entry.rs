//! The Worker's fetch entry point: route, then hand the request to its handler. Errors become responses here.

use super::app::{self, App};
use super::{admin, compat, native, request, respond};
use crate::api_error::ApiError;
use crate::compat::Operation;
use crate::routes::{route, ApiRoute, Route};
use web_sys::{Request, Response};
use worker::{event, Context, Env, Result};

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let url = req.url();
    let (path, query) = request::split_url(&url);
    let outcome = match route(&req.method(), path) {
        Route::Health => return respond::fixed(200, "text/plain; charset=utf-8", "ok"),
        Route::Admin => return admin::handle(&req, &env, path, query).await,
        Route::BadApiPath(problem) => Err(ApiError::bad_request("bad_path", problem)),
        Route::CompatNotFound => Err(ApiError::not_found(
            "unknown_route",
            "the compat API serves POST /api/compat/chat/completions, POST /api/compat/embeddings and GET /api/compat/models",
        )),
        Route::Preflight => return respond::preflight(),
        Route::Api(api) => match app::app(&env) {
            Ok(app) => serve_api(&app, api, &req, query, &env, &ctx).await,
            Err(error) => Err(error),
        },
    };
    outcome.or_else(|error| respond::api_error(&error, None))
}

async fn serve_api(app: &App, api: ApiRoute<'_>, req: &Request, query: &str, env: &Env, ctx: &Context) -> std::result::Result<Response, ApiError> {
    match api {
        ApiRoute::Native { provider, rest } => native::handle(app, req, provider, rest, query, env, ctx).await,
        ApiRoute::CompatChat => compat::handle(app, req, Operation::Chat, env, ctx).await,
        ApiRoute::CompatEmbeddings => compat::handle(app, req, Operation::Embeddings, env, ctx).await,
        ApiRoute::CompatModels => compat::models(app, req, env, ctx).await,
    }
}
