//! The billing queue's consumer: each event is posted on its own to the configured endpoint, in
//! the configured form, with its id as the `Idempotency-Key`; a 2xx acknowledges it, anything
//! else leaves it to the queue's retries. What runs out of retries reaches the dead-letter
//! queue, whose messages are kept in D1 until an admin replays them: nothing is dropped.

use serde_json::json;
use worker::wasm_bindgen::JsValue;
use worker::{Env, Fetch, Headers, Method, MessageBatch, MessageExt, Request, RequestInit};

use super::store::{self, DeadLetter};
use super::{endpoint, setting, DEAD_QUEUE_NAME, ENDPOINT_TOKEN, FORM};
use crate::domain::billing::export::{Form, UsageEvent};
use crate::domain::time::clock::Clock;
use crate::edge::clock::EdgeClock;
use crate::edge::log;

pub async fn consume(batch: MessageBatch<JsValue>, env: &Env) {
    let dead = batch.queue() == DEAD_QUEUE_NAME;
    for message in batch.raw_iter() {
        let text = message.body().as_string().unwrap_or_default();
        let Ok(event) = serde_json::from_str::<UsageEvent>(&text) else {
            // Not an event this build wrote: nothing could ever deliver it.
            log::event("error", "billing_message_unreadable", json!({ "queue": batch.queue() }));
            message.ack();
            continue;
        };
        let done = if dead { keep(env, &event, text).await } else { deliver(env, &event).await };
        match done {
            Ok(()) => message.ack(),
            Err(why) => {
                log::event("warn", "billing_delivery_failed", json!({ "id": event.id(), "account": event.account, "dead": dead, "error": why }));
                message.retry();
            }
        }
    }
}

async fn deliver(env: &Env, event: &UsageEvent) -> Result<(), String> {
    let url = endpoint(env).ok_or("no billing endpoint is configured")?;
    let form = setting(env, FORM).as_deref().and_then(Form::parse).unwrap_or(Form::Cloudevents);
    let headers = Headers::new();
    let set = |name: &str, value: &str| headers.set(name, value).map_err(|e| e.to_string());
    set("content-type", form.content_type())?;
    set("idempotency-key", &event.id())?;
    if let Some(token) = setting(env, ENDPOINT_TOKEN) {
        set("authorization", &format!("Bearer {token}"))?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(headers).with_body(Some(form.render(event).to_string().into()));
    let request = Request::new_with_init(&url, &init).map_err(|e| e.to_string())?;
    let response = Fetch::Request(request).send().await.map_err(|e| e.to_string())?;
    match response.status_code() {
        200..=299 => Ok(()),
        status => Err(format!("the endpoint answered {status}")),
    }
}

async fn keep(env: &Env, event: &UsageEvent, body: String) -> Result<(), String> {
    let letter = DeadLetter { id: event.id(), account: event.account.clone(), body, failed_at: i64::try_from(EdgeClock.now().0).unwrap_or(0) };
    store::keep_dead_letter(env, &letter).await.map_err(|e| e.to_string())
}
