//! The Worker's fetch entry point and route table.

use worker::{event, Context, Env, Request, Response, Result, Router};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    Router::new().get("/health", |_, _| Response::ok("ok")).run(req, env).await
}
