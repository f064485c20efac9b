//! The admin actions on entitlements, tokens, usage and the audit trail. They write entitlements
//! to KV in exactly the documented layout, so the API and `wrangler kv key put` stay
//! interchangeable. Every input is validated before anything is written; changes that must take
//! effect at once go through the account's guard first; every change is appended to an audit
//! chain under the admin who made it.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use worker::kv::KvStore;
use worker::{Env, Response};

use crate::edge::clock::EdgeClock;
use crate::edge::guard::client::{self as guard_client, ADMIN_LOG};
use crate::domain::guard::command::{Command, Reply};
use crate::domain::guard::service::MAX_PAGE;
use crate::domain::record::audit::AdminChange;
use crate::edge::{log, random};
use crate::domain::admin::caller::Caller;
use crate::domain::time::clock::Clock;
use crate::domain::access::entitlement::{decode, AccountRecord, AccountStatus, AppRecord, AppStatus, PlanRecord, Record, VERSION};
use crate::domain::access::id::Id;
use crate::domain::access::kv_layout;
use crate::domain::record::ledger;
use crate::domain::time::day::Day;
use crate::domain::time::month::Month;
use crate::domain::redistribution::recipient::Recipient;
use crate::domain::access::token::TokenHash;
use crate::domain::access::use_case::{UseCase, UseCaseStatus};

/// An admin answer that is not a success: status, title, detail.
pub struct Fail(pub u16, pub &'static str, pub String);

pub type Answer = Result<Response, Fail>;

pub fn bad(detail: impl Into<String>) -> Fail {
    Fail(400, "Invalid Request", detail.into())
}

pub fn not_found(detail: impl Into<String>) -> Fail {
    Fail(404, "Not Found", detail.into())
}

pub fn unavailable(detail: impl Into<String>) -> Fail {
    Fail(503, "Service Unavailable", detail.into())
}

pub fn problem(Fail(status, title, detail): Fail) -> Response {
    let body = json!({ "type": "about:blank", "title": title, "detail": detail, "status": status }).to_string();
    respond(body.into_bytes(), status, "application/problem+json")
}

pub fn respond(body: Vec<u8>, status: u16, content_type: &str) -> Response {
    let headers = worker::Headers::new();
    let _ = headers.set("content-type", content_type);
    let _ = headers.set("cache-control", "no-store");
    Response::from_bytes(body)
        .unwrap_or_else(|_| Response::builder().fixed(Vec::new()))
        .with_status(status)
        .with_headers(headers)
}

pub fn ok(value: &Value) -> Answer {
    Ok(respond(value.to_string().into_bytes(), 200, "application/json"))
}

/// The counters of the enforcer's isolate that passed the request on (the control plane's own
/// isolate serves no API requests).
pub fn enforcer_counters(header: Option<&str>) -> Answer {
    match header.and_then(|h| serde_json::from_str::<Value>(h).ok()) {
        Some(counters) => ok(&counters),
        None => Err(unavailable("The counters are the enforcer's: call the admin API through the enforcer.")),
    }
}

/// Audit entries an export page returns when the query names no `limit`.
const DEFAULT_PAGE: u64 = 1_000;

fn id_of(text: &str) -> Result<Id, Fail> {
    Id::new(text).map_err(|e| bad(e.to_string()))
}

pub struct Admin<'a> {
    pub env: &'a Env,
    pub kv: KvStore,
    pub body: &'a [u8],
    pub query: &'a [(String, String)],
    /// Who is acting: every change is recorded under this name.
    pub caller: &'a Caller,
}

impl Admin<'_> {
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Fail> {
        serde_json::from_slice(self.body).map_err(|e| bad(format!("The body is not valid: {e}")))
    }

    /// The first value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub(super) fn text(&self) -> Result<&str, Fail> {
        std::str::from_utf8(self.body).map_err(|_| bad("The body is not UTF-8."))
    }

    pub(super) async fn read(&self, key: &str) -> Result<Option<String>, Fail> {
        self.kv.get(key).text().await.map_err(|_| unavailable("KV could not be read."))
    }

    pub(super) async fn write(&self, key: &str, value: String) -> Result<(), Fail> {
        let put = self.kv.put(key, value).map_err(|_| unavailable("KV could not be written."))?;
        put.execute().await.map_err(|_| unavailable("KV could not be written."))
    }

    pub(super) async fn load<R: Record>(&self, key: &str) -> Result<R, Fail> {
        let text = self.read(key).await?.ok_or_else(|| not_found(format!("No record under `{key}`.")))?;
        decode::<R>(&text).map_err(|e| Fail(409, "Conflict", format!("The stored record is invalid: {e}")))
    }

    pub async fn guard(&self, name: &str, command: &Command) -> Result<Reply, Fail> {
        guard_client::call_named(self.env, name, command)
            .await
            .map_err(|e| unavailable(format!("The account guard did not answer: {e}")))
    }

    pub async fn audit_change(&self, log_name: &str, change: AdminChange, detail: Value) -> Result<(), Fail> {
        let actor = Some(self.caller.actor());
        self.guard(log_name, &Command::Audit { change, detail, actor }).await.map(|_| ())
    }

    pub async fn list(&self, kind: &str) -> Answer {
        let prefix = format!("{}{kind}", kv_layout::PREFIX);
        let listed = self.kv.list().prefix(prefix.clone()).limit(1000).execute().await.map_err(|_| unavailable("KV could not be listed."))?;
        let ids: Vec<String> = listed.keys.into_iter().map(|k| k.name.trim_start_matches(&prefix).to_owned()).collect();
        ok(&json!({ "ids": ids, "complete": listed.list_complete }))
    }

    pub async fn get_record<R: Record + serde::Serialize>(&self, id: &str, key: fn(&Id) -> String) -> Answer {
        let record: R = self.load(&key(&id_of(id)?)).await?;
        Ok(respond(serde_json::to_string(&record).unwrap_or_default().into_bytes(), 200, "application/json"))
    }

    pub async fn put_plan(&self, id: &str) -> Answer {
        let id = id_of(id)?;
        let record: PlanRecord = decode(self.text()?).map_err(|e| bad(e.to_string()))?;
        if record.id != id {
            return Err(bad(format!("Field `id` is `{}` but the path names `{id}`.", record.id)));
        }
        self.check_price_change(&record).await?;
        let text = serde_json::to_string(&record).unwrap_or_default();
        // The record as written (read back as JSON rather than converted: one serialiser for plans).
        let written: Value = serde_json::from_str(&text).unwrap_or_default();
        self.write(&kv_layout::plan_key(&id), text).await?;
        self.audit_change(ADMIN_LOG, AdminChange::PlanWritten, json!({ "plan": id, "record": written })).await?;
        ok(&json!({ "plan": id, "written": true }))
    }

    pub async fn put_account(&self, id: &str) -> Answer {
        let id = id_of(id)?;
        let record: AccountRecord = decode(self.text()?).map_err(|e| bad(e.to_string()))?;
        if record.id != id {
            return Err(bad(format!("Field `id` is `{}` but the path names `{id}`.", record.id)));
        }
        self.save_account(&record, AdminChange::AccountWritten).await?;
        ok(&json!({ "account": id, "written": true }))
    }

    /// Writes an account record: the guard learns a suspension first, then KV, then the audit.
    pub(super) async fn save_account(&self, record: &AccountRecord, change: AdminChange) -> Result<(), Fail> {
        let suspended = record.status == AccountStatus::Suspended;
        self.guard(record.id.as_str(), &Command::SetSuspended { suspended }).await?;
        self.write(&kv_layout::account_key(&record.id), serde_json::to_string(record).unwrap_or_default()).await?;
        // The fleet's directory follows; if D1 fails, the hourly sync repairs it.
        if let Err(e) = crate::edge::billing::fleet::remember(self.env, record).await {
            log::event("warn", "fleet_directory_not_written", json!({ "account": record.id.as_str(), "error": e.to_string() }));
        }
        self.audit_change(record.id.as_str(), change, json!({ "record": record })).await
    }

    pub async fn set_suspended(&self, id: &str, suspended: bool) -> Answer {
        let id = id_of(id)?;
        let record: AccountRecord = self.load(&kv_layout::account_key(&id)).await?;
        let status = if suspended { AccountStatus::Suspended } else { AccountStatus::Active };
        let updated = AccountRecord { status, ..record };
        self.save_account(&updated, if suspended { AdminChange::AccountSuspended } else { AdminChange::AccountReinstated }).await?;
        ok(&json!({ "account": id, "status": status }))
    }

    pub async fn put_use_case(&self, id: &str, case: &str) -> Answer {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Body {
            status: UseCaseStatus,
            #[serde(default)]
            description: String,
        }
        let id = id_of(id)?;
        let case_id = id_of(case)?;
        let body: Body = self.json()?;
        let mut record: AccountRecord = self.load(&kv_layout::account_key(&id)).await?;
        let case = UseCase { id: case_id.clone(), status: body.status, description: body.description };
        record.use_cases.retain(|c| c.id != case_id);
        record.use_cases.push(case);
        record.validate().map_err(|e| bad(e.to_string()))?;
        self.save_account(&record, AdminChange::UseCaseWritten).await?;
        ok(&json!({ "account": id, "use_case": case_id, "written": true }))
    }

    pub async fn put_recipient(&self, id: &str, rid: &str) -> Answer {
        let id = id_of(id)?;
        let rid = id_of(rid)?;
        let mut value: Value = self.json()?;
        if let Some(obj) = value.as_object_mut() {
            obj.entry("id").or_insert_with(|| Value::String(rid.to_string()));
        }
        let recipient: Recipient = serde_json::from_value(value).map_err(|e| bad(format!("The recipient is not valid: {e}")))?;
        if recipient.id != rid {
            return Err(bad("Field `id` does not match the path."));
        }
        let mut record: AccountRecord = self.load(&kv_layout::account_key(&id)).await?;
        record.redistribution.recipients.retain(|r| r.id != rid);
        record.redistribution.recipients.push(recipient);
        record.validate().map_err(|e| bad(e.to_string()))?;
        self.save_account(&record, AdminChange::RecipientWritten).await?;
        ok(&json!({ "account": id, "recipient": rid, "written": true }))
    }

    /// Issues a token: returned once in clear, stored only as its hash.
    pub async fn issue(&self, id: &str) -> Answer {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Body {
            app: String,
            #[serde(default)]
            use_case: Option<String>,
            #[serde(default)]
            expires_at: Option<u64>,
        }
        let account = id_of(id)?;
        let body: Body = self.json()?;
        let app = Id::new(&body.app).map_err(|e| bad(format!("Field `app`: {e}")))?;
        let use_case = body.use_case.as_deref().map(Id::new).transpose().map_err(|e| bad(format!("Field `use_case`: {e}")))?;
        let _: AccountRecord = self.load(&kv_layout::account_key(&account)).await?;
        let record = AppRecord { v: VERSION, account: account.clone(), app: app.clone(), status: AppStatus::Active, expires_at: body.expires_at, use_case };
        self.create_token(record, AdminChange::TokenIssued, None).await
    }

    pub(super) async fn create_token(&self, record: AppRecord, change: AdminChange, replaces: Option<&TokenHash>) -> Answer {
        let token = random::new_token().ok_or_else(|| unavailable("No randomness available."))?;
        let hash = token.hash();
        let account = record.account.clone();
        self.guard(
            account.as_str(),
            &Command::RegisterApp { token_hash: hash.clone(), app: record.app.clone(), status: AppStatus::Active },
        )
        .await?;
        self.write(&kv_layout::token_key(&hash), serde_json::to_string(&record).unwrap_or_default()).await?;
        let detail = json!({ "app": record.app, "token_sha256": hash.as_str(), "replaces": replaces.map(TokenHash::as_str) });
        self.audit_change(account.as_str(), change, detail).await?;
        log::event("info", "token_issued", json!({ "account": account.as_str(), "app": record.app.as_str(), "token_hash": hash.short() }));
        ok(&json!({ "token": token.reveal(), "token_sha256": hash.as_str(), "account": account, "app": record.app,
            "note": "The token is shown once. Only its hash is stored." }))
    }

    pub async fn token_action(&self, hash: &str, action: &str) -> Answer {
        let hash = TokenHash::from_hex(hash).ok_or_else(|| bad("The token hash must be 64 lowercase hex digits."))?;
        let key = kv_layout::token_key(&hash);
        let record: AppRecord = self.load(&key).await?;
        let account = record.account.clone();
        let status = match action {
            "revoke" | "rotate" => AppStatus::Revoked,
            "suspend" => AppStatus::Suspended,
            "reinstate" => AppStatus::Active,
            _ => return Err(not_found("Token actions are revoke, suspend, reinstate and rotate.")),
        };
        if record.status == AppStatus::Revoked && status != AppStatus::Revoked {
            return Err(Fail(409, "Conflict", "A revoked token stays revoked: issue a new one.".into()));
        }
        // The guard first: from this moment every location refuses a revoked token.
        if status == AppStatus::Revoked {
            self.guard(account.as_str(), &Command::RevokeToken { token_hash: hash.clone() }).await?;
        }
        let status_name = status.as_str();
        self.guard(
            account.as_str(),
            &Command::RegisterApp { token_hash: hash.clone(), app: record.app.clone(), status },
        )
        .await?;
        let updated = AppRecord { status, ..record.clone() };
        self.write(&key, serde_json::to_string(&updated).unwrap_or_default()).await?;
        log::event(
            "info",
            "token_status_changed",
            json!({ "account": account.as_str(), "app": record.app.as_str(), "token_hash": hash.short(), "status": status_name }),
        );
        let change = match status {
            AppStatus::Active => AdminChange::TokenActive,
            AppStatus::Suspended => AdminChange::TokenSuspended,
            AppStatus::Revoked => AdminChange::TokenRevoked,
        };
        self.audit_change(account.as_str(), change, json!({ "app": record.app, "token_sha256": hash.as_str() }))
            .await?;
        if action == "rotate" {
            let fresh = AppRecord { status: AppStatus::Active, ..record };
            return self.create_token(fresh, AdminChange::TokenRotated, Some(&hash)).await;
        }
        ok(&json!({ "account": account, "app": updated.app, "token_sha256": hash.as_str(), "status": status_name }))
    }

    pub async fn usage(&self, id: &str) -> Answer {
        let id = id_of(id)?;
        let month = match self.param("month") {
            Some(m) => parse_month(m).ok_or_else(|| bad("Query `month` must be YYYY-MM."))?,
            None => Month::of(EdgeClock.now()),
        };
        let from = Day::of(month.start());
        let to = Day::of(month.next().start()).minus(1);
        let Reply::Usage { rows } = self.guard(id.as_str(), &Command::Usage { from, to }).await? else {
            return Err(unavailable("The account guard gave an unexpected answer."));
        };
        match self.param("format") {
            Some("csv") => Ok(respond(ledger::to_csv(&rows).into_bytes(), 200, "text/csv; charset=utf-8")),
            None | Some("json") => {
                let total = |f: fn(&ledger::Row) -> u64| rows.iter().map(f).sum::<u64>();
                ok(&json!({
                    "account": id,
                    "month": month.key(),
                    "totals": {
                        "forwarded": total(|r| r.forwarded),
                        "refused": total(|r| r.refused.values().sum()),
                        "items": total(|r| r.items),
                        "distinct_items": total(|r| r.distinct_items),
                        "bytes": total(|r| r.bytes),
                    },
                    "rows": rows,
                }))
            }
            Some(_) => Err(bad("Query `format` must be json or csv.")),
        }
    }

    /// The audit chain: a page of it (`after`, `limit`), or its verification (`full` to walk it
    /// from the start instead of from the last checkpoint).
    pub async fn audit(&self, name: &str, verify: bool) -> Answer {
        if name != ADMIN_LOG {
            id_of(name)?;
        }
        let number = |name: &str, default: u64, max: u64| -> Result<u64, Fail> {
            match self.param(name) {
                None => Ok(default),
                Some(v) => v.parse().ok().filter(|n| *n <= max).ok_or_else(|| bad(format!("Query `{name}` must be a number up to {max}."))),
            }
        };
        let command = if verify {
            let full = match self.param("full") {
                None | Some("false") => false,
                Some("true") => true,
                Some(_) => return Err(bad("Query `full` must be true or false.")),
            };
            Command::AuditVerify { full }
        } else {
            let limit = number("limit", DEFAULT_PAGE, MAX_PAGE)?;
            if limit == 0 {
                return Err(bad(format!("Query `limit` must be from 1 to {MAX_PAGE}.")));
            }
            Command::AuditExport { after: number("after", 0, u64::MAX)?, limit }
        };
        match self.guard(name, &command).await? {
            Reply::Verified(v) => ok(&v),
            Reply::Audit { entries, next } => ok(&json!({ "entries": entries, "next": next })),
            _ => Err(unavailable("The account guard gave an unexpected answer.")),
        }
    }

    /// Seals the account's finished days not sealed yet and prunes what is past its retention,
    /// now instead of at the guard's next daily pass.
    pub async fn housekeep(&self, id: &str) -> Answer {
        let id = id_of(id)?;
        match self.guard(id.as_str(), &Command::Housekeep).await? {
            Reply::Housekept(done) => ok(&serde_json::to_value(done).unwrap_or_default()),
            _ => Err(unavailable("The account guard gave an unexpected answer.")),
        }
    }

    pub async fn report(&self, id: &str) -> Result<Value, Fail> {
        let id = id_of(id)?;
        match self.guard(id.as_str(), &Command::Report).await? {
            Reply::Report(report) => Ok(serde_json::to_value(report).unwrap_or_default()),
            _ => Err(unavailable("The account guard gave an unexpected answer.")),
        }
    }
}

fn parse_month(text: &str) -> Option<Month> {
    let (y, m) = text.split_once('-')?;
    let month: u32 = m.parse().ok()?;
    ((1..=12).contains(&month) && y.len() == 4).then_some(Month { year: y.parse().ok()?, month })
}
