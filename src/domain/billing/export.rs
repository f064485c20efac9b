//! Billing export: usage as events for the billing system the provider already runs. One event
//! per account, app, endpoint group and UTC **day**, made once the day is sealed, so its
//! figures are final and pinned by the seal it names. Each has a stable id (the same bucket
//! always gets the same id, so a receiver that sees it twice can drop the second), and two
//! forms: CloudEvents 1.0 JSON (as OpenMeter ingests it) and Stripe's meter event.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::domain::hex;
use crate::domain::time::day::Day;

/// The CloudEvents `type` of a usage event.
pub const EVENT_TYPE: &str = "com.tollgate.usage.daily";
/// The Stripe meter the events feed: distinct items (what the statement bills).
pub const STRIPE_EVENT_NAME: &str = "tollgate_distinct_items";
/// Events one page (and one export pass of one account) carries at most.
pub const MAX_PAGE: u64 = 1_000;

/// Whether `text` is a Stripe customer id as the account record takes it: `cus_` and 1 to 60
/// ASCII letters and digits.
#[must_use]
pub fn is_stripe_customer(text: &str) -> bool {
    text.strip_prefix("cus_").is_some_and(|rest| (1..=60).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Reads past a field without keeping it (the enforcer's build of the account record).
///
/// # Errors
/// The reader's own error, when the field is not JSON.
pub fn skip<'de, D: serde::Deserializer<'de>>(reader: D) -> Result<Option<String>, D::Error> {
    serde::de::IgnoredAny::deserialize(reader).map(|_| None)
}

/// The usage of one account, app and endpoint group on one sealed UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageEvent {
    pub account: String,
    pub app: String,
    pub group: String,
    pub day: Day,
    /// Requests forwarded to the origin.
    pub requests: u64,
    pub items: u64,
    /// The billed count: items new to the account on their day.
    pub distinct_items: u64,
    /// The day's seal in the account's audit chain, and the digest it carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal_seq: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger_sha256: Option<String>,
    /// The account's Stripe customer, when its record names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stripe_customer_id: Option<String>,
}

impl UsageEvent {
    /// The idempotency id: `tgu_` and the first 32 hex digits of SHA-256 over
    /// `account \n app \n group \n YYYY-MM-DD`. It depends on the bucket only.
    #[must_use]
    pub fn id(&self) -> String {
        let digest = Sha256::digest(format!("{}\n{}\n{}\n{}", self.account, self.app, self.group, self.day.label()).as_bytes());
        format!("tgu_{}", &hex::encode(&digest)[..32])
    }

    /// Where a reader resumes after this event.
    #[must_use]
    pub fn cursor(&self) -> Cursor {
        Cursor { day: self.day, app: self.app.clone(), group: self.group.clone() }
    }

    /// CloudEvents 1.0, structured JSON.
    #[must_use]
    pub fn cloud_event(&self) -> Value {
        json!({
            "specversion": "1.0",
            "id": self.id(),
            "source": format!("tollgate/{}", self.account),
            "type": EVENT_TYPE,
            "subject": self.account,
            "time": format!("{}T00:00:00Z", self.day.label()),
            "datacontenttype": "application/json",
            "data": {
                "account": self.account,
                "app": self.app,
                "group": self.group,
                "day": self.day.label(),
                "requests": self.requests,
                "items": self.items,
                "distinct_items": self.distinct_items,
                "seal_seq": self.seal_seq,
                "ledger_sha256": self.ledger_sha256,
            },
        })
    }

    /// A Stripe meter event: the distinct items for the account's Stripe customer (the
    /// account id when its record names none), timestamped at the day's start.
    #[must_use]
    pub fn stripe_event(&self) -> Value {
        let customer = self.stripe_customer_id.as_deref();
        json!({
            "event_name": STRIPE_EVENT_NAME,
            "identifier": self.id(),
            "timestamp": self.day.start().as_secs(),
            "payload": {
                "stripe_customer_id": customer.unwrap_or(&self.account),
                "value": self.distinct_items.to_string(),
                "app": self.app,
                "group": self.group,
            },
        })
    }
}

/// The two forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    Cloudevents,
    Stripe,
}

impl Form {
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "cloudevents" => Some(Self::Cloudevents),
            "stripe" => Some(Self::Stripe),
            _ => None,
        }
    }

    #[must_use]
    pub fn render(self, event: &UsageEvent) -> Value {
        match self {
            Self::Cloudevents => event.cloud_event(),
            Self::Stripe => event.stripe_event(),
        }
    }

    /// The content type of one event sent alone.
    #[must_use]
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Cloudevents => "application/cloudevents+json",
            Self::Stripe => "application/json",
        }
    }
}

/// A position in an account's events: after this day, app and group. Written
/// `<day number>:<app>:<group>` (ids never hold a `:`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Cursor {
    pub day: Day,
    pub app: String,
    pub group: String,
}

impl Cursor {
    #[must_use]
    pub fn text(&self) -> String {
        format!("{}:{}:{}", self.day.0, self.app, self.group)
    }

    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.splitn(3, ':');
        let day = parts.next()?.parse().ok()?;
        let app = parts.next()?;
        let group = parts.next()?;
        (!app.is_empty() && !group.is_empty() && !group.contains(':')).then(|| Self { day: Day(day), app: app.to_owned(), group: group.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> UsageEvent {
        UsageEvent {
            account: "acme".into(),
            app: "acme-search".into(),
            group: "search".into(),
            day: Day(20_779),
            requests: 12,
            items: 340,
            distinct_items: 300,
            seal_seq: Some(7),
            ledger_sha256: Some("ab".repeat(32)),
            stripe_customer_id: None,
        }
    }

    #[test]
    fn the_id_depends_on_the_bucket_only() {
        let a = event();
        let mut b = event();
        b.requests += 1;
        b.seal_seq = None;
        assert_eq!(a.id(), b.id());
        assert!(a.id().starts_with("tgu_") && a.id().len() == 36);
        for changed in [
            UsageEvent { day: Day(20_780), ..event() },
            UsageEvent { app: "acme-backfill".into(), ..event() },
            UsageEvent { group: "lookup".into(), ..event() },
            UsageEvent { account: "globex".into(), ..event() },
        ] {
            assert_ne!(changed.id(), a.id());
        }
    }

    #[test]
    fn both_forms_carry_the_figures() {
        let e = event();
        let ce = e.cloud_event();
        assert_eq!(ce["specversion"], "1.0");
        for field in ["id", "source", "type", "subject", "time", "data"] {
            assert!(!ce[field].is_null(), "{field}");
        }
        assert_eq!((ce["time"].as_str(), ce["subject"].as_str()), (Some("2026-11-22T00:00:00Z"), Some("acme")));
        assert_eq!(ce["data"]["distinct_items"], 300);
        let stripe = UsageEvent { stripe_customer_id: Some("cus_123".into()), ..e.clone() }.stripe_event();
        assert_eq!(stripe["identifier"], ce["id"]);
        assert_eq!((stripe["payload"]["stripe_customer_id"].as_str(), stripe["payload"]["value"].as_str()), (Some("cus_123"), Some("300")));
        assert_eq!(stripe["timestamp"], 1_795_305_600);
        assert_eq!(e.stripe_event()["payload"]["stripe_customer_id"], "acme");
        assert!(is_stripe_customer("cus_NffrFeUfNV2Hib") && !is_stripe_customer("cus_") && !is_stripe_customer("acme"));
    }

    #[test]
    fn cursors_round_trip_and_order_by_day_app_group() {
        let c = event().cursor();
        assert_eq!(Cursor::parse(&c.text()), Some(c.clone()));
        assert_eq!(c.text(), "20779:acme-search:search");
        for bad in ["", "x:a:b", "1:a", "1::b", "1:a:"] {
            assert_eq!(Cursor::parse(bad), None, "{bad}");
        }
        let later = Cursor { day: Day(20_779), app: "acme-search".into(), group: "timeline".into() };
        assert!(later > c);
    }
}
