//! `decode` of the three record kinds (apps, accounts, plans) from arbitrary bytes read as
//! UTF-8 lossily, then `Plan::compile` of every plan that decodes.
//!
//! Invariants: a record that decodes has version 1 and satisfies its validation rules; it
//! serialises and decodes back to itself; a plan that decodes always compiles, and its compiled
//! routes send every endpoint's own pattern to that endpoint's group; every named recipient of
//! an account resolves to something other than "unknown", however the header is padded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::domain::access::entitlement::{
    decode, AccountRecord, AppRecord, Plan, PlanRecord, Record, RecordError, VERSION,
};
use tollgate::domain::redistribution::recipient::RecipientRefusal;

/// Decodes, and checks that what decodes survives a serialise/decode round trip unchanged.
fn decoded<R>(text: &str) -> Option<R>
where
    R: Record + serde::Serialize + PartialEq + std::fmt::Debug,
{
    match decode::<R>(text) {
        Ok(record) => {
            assert_eq!(record.version(), VERSION);
            assert_eq!(record.validate(), Ok(()));
            let again = serde_json::to_string(&record).expect("a record always serialises");
            assert_eq!(decode::<R>(&again).as_ref(), Ok(&record), "round trip through {again}");
            Some(record)
        }
        Err(e) => {
            let shown = e.to_string();
            assert!(!shown.is_empty());
            if let RecordError::Version(v) = e {
                assert_ne!(v, VERSION);
            }
            None
        }
    }
}

fn app(text: &str) {
    let _ = decoded::<AppRecord>(text);
}

fn account(text: &str) {
    let Some(account) = decoded::<AccountRecord>(text) else { return };
    assert!(!account.name.trim().is_empty() && account.name.len() <= 200);
    assert!(!account.name.chars().any(char::is_control));
    for (i, case) in account.use_cases.iter().enumerate() {
        assert!(account.use_cases[..i].iter().all(|c| c.id != case.id));
    }
    let terms = &account.redistribution;
    assert_eq!(terms.problem(), None);
    for r in &terms.recipients {
        let named = terms.resolve(Some(r.id.as_str()));
        assert!(!matches!(named, Err(RecipientRefusal::Unknown | RecipientRefusal::Malformed)), "{named:?}");
        assert_eq!(terms.resolve(Some(&format!(" \t{}  ", r.id))), named);
        if let Ok(Some(d)) = &named {
            assert_eq!((&d.recipient, &d.entity), (&r.id, &r.entity));
            assert_eq!(d.ids_cap_30d, terms.ids_per_entity_30d);
        }
    }
    if terms.serves_recipients {
        assert_eq!(terms.resolve(None), Err(RecipientRefusal::Required));
    } else {
        assert_eq!(terms.resolve(None), Ok(None));
    }
}

fn plan(text: &str) {
    let Some(record) = decoded::<PlanRecord>(text) else { return };
    assert!(record.endpoints.len() <= 256 && record.limits.len() <= 64);
    assert_ne!(record.monthly_item_cap, Some(0));
    for limit in &record.limits {
        assert_eq!(limit.problem(), None);
        assert!(record.endpoints.iter().any(|e| e.group == limit.group));
        let own = record.limits_for(&limit.group);
        assert!(own.contains(limit) && own.iter().all(|l| l.group == limit.group));
    }
    let plan = Plan::compile(record.clone()).expect("a plan that decodes compiles");
    assert_eq!(plan.record, record);
    for e in &record.endpoints {
        // A pattern's own text is a path it matches: no literal segment starts with `:`, and
        // sibling parameters must share their name, so nothing else can claim it.
        assert_eq!(plan.routes.find(e.method, &e.path), Some(&e.group), "{} {}", e.path, e.group);
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    app(&text);
    account(&text);
    plan(&text);
});
