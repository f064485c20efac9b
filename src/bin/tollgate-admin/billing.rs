//! The billing commands: an account's billing events by cursor, the export pass, the dead
//! letters and their replay; and the fleet page with its directory's sync.

use clap::{Subcommand, ValueEnum};
use serde_json::Value;

use crate::client::{segment, Api, Failure};
use crate::output;

#[derive(Clone, Copy, ValueEnum)]
pub enum Form {
    Cloudevents,
    Stripe,
}

#[derive(Subcommand)]
pub enum BillingCommand {
    /// An account's billing events of sealed days, one JSON event a line.
    Events {
        #[arg(long)]
        account: String,
        /// Resume after this cursor (the `next` a read ended with; printed on standard error).
        #[arg(long, default_value = "")]
        after: String,
        /// Events a page, 1 to 1000.
        #[arg(long, default_value_t = 100)]
        limit: u64,
        #[arg(long, value_enum, default_value = "cloudevents")]
        form: Form,
        /// Follow the pages to the end.
        #[arg(long)]
        all: bool,
    },
    /// Run the export pass now: every account's events not sent yet, onto the billing queue.
    Export,
    /// The events that ran out of delivery retries.
    DeadLetters,
    /// Send every dead letter to the billing queue again.
    Replay,
}

#[derive(Subcommand)]
pub enum FleetCommand {
    /// Every account's month so far, as a table.
    Show {
        /// amount, requests, items, cap_used, events, account or status.
        #[arg(long, default_value = "amount")]
        sort: String,
        /// asc or desc (default: desc, asc for account and status).
        #[arg(long)]
        order: Option<String>,
    },
    /// Copy every account record in KV into the fleet's directory, now.
    Sync,
}

pub fn billing(api: &Api, command: BillingCommand, json: bool) -> Result<(), Failure> {
    match command {
        BillingCommand::Events { account, mut after, limit, form, all } => {
            let form = match form {
                Form::Cloudevents => "cloudevents",
                Form::Stripe => "stripe",
            };
            loop {
                let mut route = format!("accounts/{}/billing-events?form={form}&limit={limit}", segment(&account)?);
                if !after.is_empty() {
                    route.push_str(&format!("&after={}", segment(&after)?));
                }
                let v = api.get(&route)?.json();
                for event in v["events"].as_array().into_iter().flatten() {
                    println!("{event}");
                }
                after = v["next"].as_str().unwrap_or(&after).to_owned();
                if !all || v["more"].as_bool() != Some(true) {
                    break;
                }
            }
            eprintln!("next: {after}");
        }
        BillingCommand::Export => {
            let answer = api.post("billing/export", None)?;
            let v = answer.json();
            let summary = if v["enabled"].as_bool() == Some(true) {
                format!("{} events of {} accounts sent; {} accounts failed", v["events"], v["accounts"], v["failed"].as_array().map_or(0, Vec::len))
            } else {
                "the export is off: no billing endpoint is configured".to_owned()
            };
            output::done(&answer, json, &summary);
        }
        BillingCommand::DeadLetters => {
            let answer = api.get("billing/dead-letters")?;
            if json {
                output::raw(&answer);
            } else {
                for letter in answer.json()["dead_letters"].as_array().into_iter().flatten() {
                    println!("{}  {}", letter["id"].as_str().unwrap_or_default(), letter["account"].as_str().unwrap_or_default());
                }
            }
        }
        BillingCommand::Replay => {
            let answer = api.post("billing/dead-letters/replay", None)?;
            output::done(&answer, json, &format!("{} dead letters sent again", answer.json()["replayed"]));
        }
    }
    Ok(())
}

pub fn fleet(api: &Api, command: FleetCommand, json: bool) -> Result<(), Failure> {
    match command {
        FleetCommand::Show { sort, order } => {
            let mut route = format!("fleet?sort={}", segment(&sort)?);
            if let Some(order) = order {
                route.push_str(&format!("&order={}", segment(&order)?));
            }
            let answer = api.get(&route)?;
            if json {
                output::raw(&answer);
                return Ok(());
            }
            let v = answer.json();
            let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            println!("{:<24}  {:<12}  {:<9}  {:>10}  {:>12}  {:>16}  {:>8}  {:>6}", "account", "plan", "status", "requests", "items", "amount (minor)", "cap %", "events");
            for l in v["lines"].as_array().into_iter().flatten() {
                let amount = match (l["amount_minor"].as_u64(), l["currency"].as_str()) {
                    (Some(a), Some(c)) => format!("{a} {c}"),
                    _ => "-".into(),
                };
                let cap = l["cap_used_pct"].as_f64().map_or_else(|| "-".into(), |p| format!("{p:.1}"));
                println!(
                    "{:<24}  {:<12}  {:<9}  {:>10}  {:>12}  {:>16}  {:>8}  {:>6}",
                    text(&l["account"]),
                    text(&l["plan"]),
                    text(&l["status"]),
                    l["requests"],
                    l["items"],
                    amount,
                    cap,
                    l["events"]
                );
            }
            eprintln!("{} accounts in {}; one D1 query ({} ms); rows at most {} s behind their guards", v["accounts"], text(&v["month"]), v["query_ms"], v["rollup_seconds"]);
        }
        FleetCommand::Sync => {
            let answer = api.post("fleet/sync", None)?;
            let v = answer.json();
            output::done(&answer, json, &format!("{} accounts in the directory; {} failed", v["synced"], v["failed"]));
        }
    }
    Ok(())
}
