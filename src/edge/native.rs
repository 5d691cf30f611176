//! `ANY /api/{provider}/{rest}`: the native proxy. Authenticate → parse → forward with the pool.

use super::app::App;
use super::forward::{forward, Outbound};
use super::{clock, request};
use crate::api_error::ApiError;
use crate::providers;
use crate::request_model::{check_model, is_models_listing, model_of};
use crate::upstream::query_param;
use web_sys::{Request, Response};
use worker::{Context, Env};

/// Serves one native request.
pub async fn handle(
    app: &App,
    req: &Request,
    slug: &str,
    rest: &str,
    query: &str,
    env: &Env,
    ctx: &Context,
) -> Result<Response, ApiError> {
    let provider = providers::find(slug).ok_or_else(|| {
        ApiError::not_found("unknown_provider", format!("unknown provider {slug:?}: use an AI Gateway provider slug such as google-ai-studio, openai or openrouter"))
    })?;
    if !provider.poolable {
        return Err(ApiError::bad_request("provider_not_poolable", format!("{slug} uses OAuth or request signing, not static API keys, so it cannot be pooled")));
    }
    let headers = req.headers();
    let query_key = provider.accepts_query_key.then(|| query_param(query, "key")).flatten();
    let presented = request::presented_key(&headers, provider.service_key_placements(), query_key)?;
    let grant = app.service_keys.authenticate(&presented, clock::now_s()).map_err(|d| ApiError::denied(d.status(), d.message()))?;
    grant.permits(provider.slug, None).map_err(|d| ApiError::denied(d.status(), d.message()))?;

    let body = request::read_body(req).await?;
    let method = req.method();
    let model = model_of(rest, body.as_ref().map_or(&[][..], |(_, bytes)| bytes.as_slice()))
        .map_err(|problem| ApiError::bad_request("conflicting_model", problem))?;
    match &model {
        Some(model) => check_model(model).map_err(|problem| ApiError::bad_request("invalid_model", problem))?,
        None if is_models_listing(&method, rest) => {}
        None => {
            return Err(ApiError::bad_request(
                "missing_model",
                "the request names no model: put \"model\" in the JSON body, or use a path like …/models/{model}:generateContent",
            ))
        }
    }
    grant.permits(provider.slug, model.as_deref()).map_err(|d| ApiError::denied(d.status(), d.message()))?;

    let outbound = Outbound {
        provider,
        segment: provider.slug,
        key_placement: provider.key_placement_for(rest),
        rest: rest.to_string(),
        query: query.to_string(),
        method,
        headers: request::forwarded_headers(&headers)?,
        body: body.map(|(js, _)| js),
        model,
    };
    forward(app, env, ctx, outbound).await
}
