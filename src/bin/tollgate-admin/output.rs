//! What the command prints: the API's own JSON with `--json`, otherwise a short summary for a
//! person. Data goes to standard output, notes to standard error.

use serde_json::Value;

use crate::client::Answer;

/// The answer as the API gave it, pretty-printed when it is JSON.
pub fn raw(answer: &Answer) {
    match serde_json::from_str::<Value>(&answer.text) {
        Ok(v) => println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default()),
        Err(_) => println!("{}", answer.text.trim_end()),
    }
}

/// A record is JSON either way.
pub fn record(answer: &Answer) {
    raw(answer);
}

/// A change: one line saying what happened, or the API's answer.
pub fn done(answer: &Answer, json: bool, summary: &str) {
    if json {
        raw(answer);
    } else {
        println!("{summary}");
    }
}

/// A list of ids: one a line.
pub fn ids(answer: &Answer, json: bool) {
    if json {
        return raw(answer);
    }
    let v = answer.json();
    for id in v["ids"].as_array().into_iter().flatten() {
        println!("{}", id.as_str().unwrap_or_default());
    }
    if v["complete"].as_bool() == Some(false) {
        eprintln!("(the list is cut at 1,000)");
    }
}

/// A new token: the token alone on standard output, the rest on standard error.
pub fn issued(answer: &Answer, json: bool) {
    if json {
        return raw(answer);
    }
    let v = answer.json();
    println!("{}", v["token"].as_str().unwrap_or_default());
    eprintln!(
        "issued for app `{}`; sha256 {}; shown once, store it now",
        v["app"].as_str().unwrap_or("?"),
        v["token_sha256"].as_str().unwrap_or("?")
    );
}

/// A new admin key: the key alone on standard output, the rest on standard error.
pub fn key_issued(answer: &Answer, json: bool) {
    if json {
        return raw(answer);
    }
    let v = answer.json();
    println!("{}", v["key"].as_str().unwrap_or_default());
    eprintln!(
        "admin key {} for `{}` as {}, until {}; shown once, store it now",
        v["id"].as_str().unwrap_or("?"),
        v["owner"].as_str().unwrap_or("?"),
        v["role"].as_str().unwrap_or("?"),
        v["expires_at"]
    );
}

/// The admin keys: id, role, owner, expiry, state.
pub fn keys(answer: &Answer, json: bool) {
    if json {
        return raw(answer);
    }
    let v = answer.json();
    println!("{:<16} {:<9} {:<12} {:<10} owner", "id", "role", "expires_at", "state");
    for k in v["keys"].as_array().into_iter().flatten() {
        let state = if k["revoked_at"].is_u64() { "revoked" } else { "issued" };
        println!(
            "{:<16} {:<9} {:<12} {:<10} {}",
            k["id"].as_str().unwrap_or("?"),
            k["role"].as_str().unwrap_or("?"),
            k["expires_at"],
            state,
            k["owner"].as_str().unwrap_or("?")
        );
    }
}

/// An account's tokens: hash, app, status.
pub fn tokens(answer: &Answer, json: bool) {
    if json {
        return raw(answer);
    }
    let v = answer.json();
    println!("{:<64}  {:<24}  status", "sha256", "app");
    for t in v["tokens"].as_array().into_iter().flatten() {
        println!(
            "{:<64}  {:<24}  {}",
            t["token_sha256"].as_str().unwrap_or_default(),
            t["app"].as_str().unwrap_or_default(),
            t["status"].as_str().unwrap_or_default()
        );
    }
}

/// A month's usage: the totals, then a line per day, app, group and recipient.
pub fn usage(v: &Value) {
    let t = &v["totals"];
    println!(
        "{} {}: forwarded {}, refused {}, items {}, distinct items {}, bytes {}",
        v["account"].as_str().unwrap_or("?"),
        v["month"].as_str().unwrap_or("?"),
        t["forwarded"],
        t["refused"],
        t["items"],
        t["distinct_items"],
        t["bytes"]
    );
    for r in v["rows"].as_array().into_iter().flatten() {
        let refused: u64 = r["refused"].as_object().map_or(0, |m| m.values().filter_map(Value::as_u64).sum());
        println!(
            "  day {}  {:<20} {:<12} {:<16} forwarded {:>8}  refused {:>6}  items {:>9}  distinct {:>9}",
            r["day"].as_str().unwrap_or_default(),
            r["app"].as_str().unwrap_or_default(),
            r["group"].as_str().unwrap_or_default(),
            r["recipient"].as_str().filter(|s| !s.is_empty()).unwrap_or("-"),
            r["forwarded"],
            refused,
            r["items"],
            r["distinct_items"]
        );
    }
}

/// The guard's report: summary lines, then the events with their evidence.
pub fn report(answer: &Answer, json: bool) {
    if json {
        return raw(answer);
    }
    let v = answer.json();
    println!("month {}: {} distinct items", v["month"].as_str().unwrap_or("?"), v["month_distinct_items"]);
    println!("suspended: {}", v["suspended"]);
    println!("audit entries: {}", v["audit_entries"]);
    let apps = v["apps"].as_array().map_or(0, Vec::len);
    println!("tokens known to the guard: {apps}");
    let events = v["events"].as_array().cloned().unwrap_or_default();
    println!("events: {}", events.len());
    for e in events {
        println!("  {} at {}: {}", e["kind"].as_str().unwrap_or("?"), e["at"], e["evidence"]);
    }
}

/// Audit entries, one a line: sequence, time, kind, detail.
pub fn audit_entries(answer: &Answer, json: bool) {
    if json {
        return raw(answer);
    }
    let v = answer.json();
    for e in v["entries"].as_array().into_iter().flatten() {
        // Who made the change, `id (role)`; `-` for the guard's own entries.
        let actor = e["actor"]["id"].as_str().map_or_else(|| "-".to_owned(), |id| format!("{id} ({})", e["actor"]["role"].as_str().unwrap_or("?")));
        println!("{}\t{}\t{}\t{actor}\t{}", e["seq"], e["at"], e["kind"].as_str().unwrap_or_default(), e["detail"].as_str().unwrap_or_default());
    }
}

/// A verification: whether the chain holds, and its head.
pub fn verification(answer: &Answer, json: bool) {
    if json {
        return raw(answer);
    }
    let v = answer.json();
    if v["ok"].as_bool() == Some(true) {
        println!("verified: {} entries; head {}", v["entries"], v["head"].as_str().unwrap_or_default());
        println!("walked {} entries after entry {}", v["checked"], v["from_seq"]);
    } else {
        let day = v["first_break"]["day"].as_str().map(|d| format!(" (the seal of {d})")).unwrap_or_default();
        println!(
            "BROKEN at entry {}{day}: {} ({} entries)",
            v["first_break"]["seq"],
            v["first_break"]["reason"].as_str().unwrap_or("?"),
            v["entries"]
        );
    }
}

/// A statement: the heading, a line per app and group, the charges and the amount due.
pub fn statement(answer: &Answer, json: bool) {
    if json {
        return raw(answer);
    }
    let v = answer.json();
    let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    let currency = v["currency"].as_str().unwrap_or("");
    println!(
        "{} {} ({} to {}{}), plan {} price version {}",
        text(&v["account"]),
        text(&v["month"]),
        text(&v["from"]),
        text(&v["to"]),
        if v["final"].as_bool() == Some(true) { ", final" } else { ", open" },
        text(&v["plan"]),
        text(&v["price_version"])
    );
    println!("{:<24}  {:<14}  {:>10}  {:>12}  {:>12}  {:>8}", "app", "group", "requests", "items", "distinct", "refused");
    for l in v["lines"].as_array().into_iter().flatten() {
        println!(
            "{:<24}  {:<14}  {:>10}  {:>12}  {:>12}  {:>8}",
            text(&l["app"]),
            text(&l["group"]),
            l["requests"],
            l["items"],
            l["distinct_items"],
            l["refused_total"]
        );
    }
    for c in v["charges"].as_array().into_iter().flatten() {
        let kind = match c["group"].as_str() {
            Some(group) => format!("{} {group}", text(&c["kind"])),
            None => text(&c["kind"]),
        };
        println!("{kind:<24}  {} × {} / {} = {} minor units", c["quantity"], c["rate"], c["per"], c["amount_minor"]);
    }
    match v["amount_due"].as_str() {
        Some(amount) => println!("amount due: {amount} {currency}"),
        None => println!("amount due: none (the plan has no price for this month)"),
    }
    println!("ledger sha256: {}", text(&v["pinned_by"]["ledger_sha256"]));
}
