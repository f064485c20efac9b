//! The admin console's static files, served by a Worker of their own (www/wrangler.toml) and
//! reached through the CONSOLE service binding. Only the console's paths come here
//! (`domain::own_paths`), so API traffic never passes through static-asset routing.

use worker::{web_sys, Env, Request, Response};

use super::log;

pub async fn serve(req: web_sys::Request, env: &Env) -> web_sys::Response {
    let response = match env.service("CONSOLE") {
        Ok(console) => console.fetch_request(Request::from(req)).await,
        Err(e) => Err(e),
    };
    response
        .unwrap_or_else(|e| {
            log::event("error", "console_unavailable", serde_json::json!({ "error": e.to_string() }));
            Response::error("The admin console is not deployed with this worker.", 404)
                .unwrap_or_else(|_| Response::empty().unwrap_or_else(|_| Response::builder().fixed(Vec::new())))
        })
        .into()
}
