//! The request path as the runtime drives it (`src/edge/entry.mjs`): wasm is called, and returns
//! at once, twice a request; the one wait of an admitted request, for the origin, is the
//! runtime's own `await`, not a wasm future's.
//!
//! 1. [`RequestPath::begin`]: the neighbours' own paths passed on (`forward`); any other request
//!    up to the call to the origin (`api::prepare`).
//! 2. The runtime waits for the call.
//! 3. [`RequestPath::finish`]: delivery and record (`api::finish`).
//!
//! Each step runs as far as it goes without waiting. Most requests never wait in a step (the
//! records are cached, the lease holds units, the body was read with the response). A step that
//! has to wait (a KV read, a guard call, a stream) goes on as a promise that the runtime awaits.

use std::future::Future;
use std::task::{Context as TaskContext, Poll::Ready, Waker};

use wasm_bindgen::prelude::wasm_bindgen;
use worker::js_sys::Array;
use worker::wasm_bindgen::JsValue;
use worker::wasm_bindgen_futures::future_to_promise;
use worker::{web_sys, worker_sys, Context, Env};

use super::{finish, prepare, Step, Ticket};
use crate::domain::http::own_paths;
use crate::domain::http::request_shape::split_url;
use crate::edge::{forward, metrics};

/// The enforcer's request path, for the runtime.
#[wasm_bindgen]
pub struct RequestPath;

#[wasm_bindgen]
impl RequestPath {
    /// The request up to the call to the origin: a `Response` (answered without the origin, or
    /// by a neighbour for its own paths), `[ticket, call]` (the call under way, to be waited for
    /// and handed to [`Self::finish`]), or a promise of either.
    pub fn begin(req: web_sys::Request, env: Env, ctx: worker_sys::Context) -> JsValue {
        now_or_later(async move {
            let url = req.url();
            let path = split_url(&url).map_or("", |(path, _)| path);
            if own_paths::is_admin(path) {
                return forward::admin(req, &env).await.into();
            }
            if own_paths::is_console(path) {
                return forward::console(req, &env).await.into();
            }
            metrics::request();
            match prepare(req, &url, env, Context::new(ctx)).await {
                Step::Answered(response) => response.into(),
                Step::Sent(ticket, call) => Array::of2(&JsValue::from(*ticket), &call).into(),
            }
        })
    }

    /// The request from the origin's answer on: `ok` and what the call resolved to, or not `ok`
    /// and what it rejected with. The `Response`, or a promise of it.
    pub fn finish(ticket: Ticket, ok: bool, answer: JsValue) -> JsValue {
        let answer = if ok { Ok(answer) } else { Err(answer) };
        now_or_later(async move { finish(ticket, answer).await.into() })
    }
}

/// Runs `work` as far as it goes without waiting: its value if it got to the end, or else a
/// promise of it, for the runtime to await. A future that waits keeps the waker of its latest
/// poll, so the first one, which wakes nothing, is never the one it needs.
fn now_or_later(work: impl Future<Output = JsValue> + 'static) -> JsValue {
    let mut work = Box::pin(work);
    if let Ready(value) = work.as_mut().poll(&mut TaskContext::from_waker(Waker::noop())) {
        return value;
    }
    future_to_promise(async move { Ok(work.await) }).into()
}
