//! The admin API's billing export routes: an account's usage events by cursor (in either form),
//! an export pass now, and the dead letters with their replay.

use serde_json::json;

use super::{bad, ok, unavailable, Admin, Answer};
use crate::domain::access::id::Id;
use crate::domain::access::entitlement::AccountRecord;
use crate::domain::access::kv_layout;
use crate::domain::billing::export::{Cursor, Form, UsageEvent, MAX_PAGE};
use crate::domain::guard::command::{Command, Reply};
use crate::edge::billing::{export, store, QUEUE};

impl Admin<'_> {
    /// `GET accounts/{id}/billing-events?after=<cursor>&limit=<n>&form=cloudevents|stripe`.
    pub(super) async fn billing_events(&self, id: &str) -> Answer {
        let account = Id::new(id).map_err(|e| bad(e.to_string()))?;
        let after = match self.param("after") {
            None | Some("") => None,
            Some(text) => Some(Cursor::parse(text).ok_or_else(|| bad("Query `after` must be a cursor this API returned."))?),
        };
        let limit = match self.param("limit") {
            None => 100,
            Some(text) => text.parse().ok().filter(|n| (1..=MAX_PAGE).contains(n)).ok_or_else(|| bad(format!("Query `limit` must be from 1 to {MAX_PAGE}.")))?,
        };
        let form = match self.param("form") {
            None => Form::Cloudevents,
            Some(text) => Form::parse(text).ok_or_else(|| bad("Query `form` must be cloudevents or stripe."))?,
        };
        let Reply::UsageEvents { events, next, more } = self.guard(account.as_str(), &Command::UsageEvents { account: account.clone(), after, limit }).await? else {
            return Err(unavailable("The account guard gave an unexpected answer."));
        };
        let customer = self.stripe_customer(&account).await?;
        let events: Vec<_> = events.into_iter().map(|e| form.render(&UsageEvent { stripe_customer_id: customer.clone(), ..e })).collect();
        ok(&json!({ "account": account, "form": form, "events": events, "next": next.map(|c| c.text()), "more": more }))
    }

    /// The Stripe customer the account's record names, if any.
    async fn stripe_customer(&self, account: &Id) -> Result<Option<String>, super::Fail> {
        let record: AccountRecord = self.load(&kv_layout::account_key(account)).await?;
        Ok(record.stripe_customer_id)
    }

    /// `POST billing/export`: the export pass now, instead of at the next cron trigger.
    pub(super) async fn billing_export(&self) -> Answer {
        ok(&serde_json::to_value(export::run(self.env).await).unwrap_or_default())
    }

    /// `GET billing/dead-letters`: the events that ran out of retries.
    pub(super) async fn dead_letters(&self) -> Answer {
        let letters = store::dead_letters(self.env).await.map_err(|e| unavailable(format!("D1 could not be read: {e}")))?;
        let letters: Vec<_> = letters
            .iter()
            .map(|l| json!({ "id": l.id, "account": l.account, "failed_at": l.failed_at, "event": serde_json::from_str::<serde_json::Value>(&l.body).unwrap_or_default() }))
            .collect();
        ok(&json!({ "dead_letters": letters }))
    }

    /// `POST billing/dead-letters/replay`: every dead letter back onto the billing queue, then
    /// forgotten. A letter is forgotten only once the queue has taken it.
    pub(super) async fn replay_dead_letters(&self) -> Answer {
        let letters = store::dead_letters(self.env).await.map_err(|e| unavailable(format!("D1 could not be read: {e}")))?;
        if letters.is_empty() {
            return ok(&json!({ "replayed": 0 }));
        }
        let queue = self.env.queue(QUEUE).map_err(|_| unavailable("The billing queue is not bound."))?;
        let bodies: Vec<String> = letters.iter().map(|l| l.body.clone()).collect();
        for chunk in bodies.chunks(100) {
            queue.send_batch(chunk.to_vec()).await.map_err(|e| unavailable(format!("The billing queue refused the events: {e}")))?;
        }
        let ids: Vec<String> = letters.iter().map(|l| l.id.clone()).collect();
        store::forget_dead_letters(self.env, &ids).await.map_err(|e| unavailable(format!("D1 could not be written: {e}")))?;
        ok(&json!({ "replayed": ids.len() }))
    }
}
