//! `decide()` on records built from fuzz input (written as JSON and read back through the real
//! `decode`, so they are exactly what KV could hold), with arbitrary method, path, recipient
//! header and time.
//!
//! Invariants: the token's own state (suspended, revoked, expired) is answered before anything
//! about the account or the plan; an allowed request has an active, unexpired app of an active
//! account with an approved use case, a known method, a path the plan routes to the granted
//! group, and a recipient that resolves; `HEAD` is `GET`; whitespace around the recipient header
//! does not matter; the only effect of time is expiry, and it is monotone.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use tollgate::domain::time::clock::UnixMillis;
use tollgate::domain::access::decision::{decide, Call, Decision};
use tollgate::domain::access::entitlement::{decode, AccountRecord, AccountStatus, AppRecord, AppStatus, Method, Plan};
use tollgate::domain::http::problem::{Forbidden, Problem, Unauthorized};
use tollgate::domain::redistribution::recipient::{Approval, Mode, RecipientClass};
use tollgate::domain::access::use_case::UseCaseStatus;

const USE_CASES: [&str; 4] = ["monitoring", "resale", "research", "ads"];
const RECIPIENTS: [&str; 5] = ["nw-east", "nw-west", "uni", "agency", "watchers"];
const ENTITIES: [&str; 3] = ["northwind", "uni", "agency"];
const CLASSES: [&str; 7] = ["commercial", "academic", "nonprofit", "internal", "government", "surveillance", "intelligence"];
const APPROVALS: [&str; 3] = ["approved", "pending", "rejected"];
const MODES: [&str; 3] = ["none", "ids_only", "full"];
const METHOD_NAMES: [&str; 10] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "get", "OPTIONS", "TRACE", ""];
const ENDPOINTS: [(&str, &str, &str); 8] = [
    ("GET", "/2/tweets", "lookup"),
    ("GET", "/2/tweets/:id", "lookup"),
    ("DELETE", "/2/tweets/:id", "write"),
    ("POST", "/2/tweets", "write"),
    ("GET", "/2/tweets/search/recent", "search"),
    ("GET", "/2/users/:id/tweets", "timeline"),
    ("PUT", "/2/lists/:id", "lists"),
    ("PATCH", "/2/lists/:id/members/:user_id", "lists"),
];

#[derive(Arbitrary, Debug)]
struct RecipientIn {
    id: u8,
    class: u8,
    entity: u8,
    approval: u8,
    mode: Option<u8>,
    government_approval: Option<u32>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    app_status: u8,
    expires_at: Option<u64>,
    use_case: Option<u8>,
    account_suspended: bool,
    use_cases: Vec<(u8, u8)>,
    serves_recipients: bool,
    mode: u8,
    ids_cap: u32,
    recipients: Vec<RecipientIn>,
    endpoints: u8,
    method: u8,
    path_template: u8,
    params: Vec<String>,
    raw_path: Option<String>,
    header: Option<(u8, Option<String>)>,
    now: u64,
    later: u64,
}

fn pick<'a>(list: &[&'a str], i: u8) -> &'a str {
    list[usize::from(i) % list.len()]
}

fn records(input: &Input) -> Option<(AppRecord, AccountRecord, Plan)> {
    let mut app = json!({"v":1,"account":"acme","app":"acme-search",
        "status": pick(&["active", "suspended", "revoked"], input.app_status)});
    if let Some(at) = input.expires_at {
        app["expires_at"] = at.into();
    }
    if let Some(u) = input.use_case {
        app["use_case"] = pick(&USE_CASES, u).into();
    }
    let use_cases: Vec<Value> = input
        .use_cases
        .iter()
        .map(|&(id, s)| json!({"id": pick(&USE_CASES, id), "status": pick(&["approved", "pending", "withdrawn"], s)}))
        .collect();
    let recipients: Vec<Value> = input
        .recipients
        .iter()
        .map(|r| {
            let mut v = json!({"id": pick(&RECIPIENTS, r.id), "class": pick(&CLASSES, r.class),
                "entity": pick(&ENTITIES, r.entity), "approval": pick(&APPROVALS, r.approval)});
            if let Some(m) = r.mode {
                v["mode"] = pick(&MODES, m).into();
            }
            if let Some(at) = r.government_approval {
                v["government_approval"] = json!({"reference": "LTR-1", "approved_at": at});
            }
            v
        })
        .collect();
    let account = json!({"v":1,"id":"acme","name":"Acme","plan":"pro",
        "status": if input.account_suspended { "suspended" } else { "active" },
        "use_cases": use_cases,
        "redistribution": {"serves_recipients": input.serves_recipients, "mode": pick(&MODES, input.mode),
            "ids_per_entity_30d": input.ids_cap, "recipients": recipients}});
    let endpoints: Vec<Value> = ENDPOINTS
        .iter()
        .enumerate()
        .filter(|(i, _)| input.endpoints >> i & 1 == 1)
        .map(|(_, (m, p, g))| json!({"method": m, "path": p, "group": g}))
        .collect();
    let plan = json!({"v":1,"id":"pro","endpoints": endpoints});
    // Inputs that make invalid records (a use case listed twice, say) are not what KV holds.
    let app: AppRecord = decode(&app.to_string()).ok()?;
    let account: AccountRecord = decode(&account.to_string()).ok()?;
    let plan = Plan::compile(decode(&plan.to_string()).ok()?).ok()?;
    Some((app, account, plan))
}

fn path(input: &Input) -> String {
    if let Some(raw) = &input.raw_path {
        return raw.clone();
    }
    let (_, pattern, _) = ENDPOINTS[usize::from(input.path_template) % ENDPOINTS.len()];
    let mut params = input.params.iter();
    pattern
        .split('/')
        .map(|seg| if seg.starts_with(':') { params.next().map_or("20", String::as_str) } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

fn header(input: &Input) -> Option<String> {
    let (pad, raw) = input.header.as_ref()?;
    Some(match raw {
        Some(raw) => raw.clone(),
        None => {
            let name = pick(&RECIPIENTS, *pad);
            if pad & 0x80 == 0 { name.to_owned() } else { format!(" {name}\t") }
        }
    })
}

fn check(input: &Input) {
    let Some((app, account, plan)) = records(input) else { return };
    let method = pick(&METHOD_NAMES, input.method);
    let path = path(input);
    let recipient = header(input);
    let call = Call { method, path: &path, recipient: recipient.as_deref() };
    let now = UnixMillis(input.now);
    let d = decide(&app, &account, &plan, call, now);

    // The token's own state comes first, whatever the account and plan say.
    let expired = app.expires_at.is_some_and(|at| now.as_secs() >= at);
    let token_state = match app.status {
        AppStatus::Suspended => Some(Unauthorized::Suspended),
        AppStatus::Revoked => Some(Unauthorized::Revoked),
        AppStatus::Active if expired => Some(Unauthorized::Expired),
        AppStatus::Active => None,
    };
    if let Some(why) = token_state {
        assert_eq!(d, Decision::Deny(Problem::Unauthorized(why)));
        return;
    }
    assert!(!matches!(d, Decision::Deny(Problem::Unauthorized(_))), "{d:?}");
    if account.status == AccountStatus::Suspended {
        assert_eq!(d, Decision::Deny(Problem::Forbidden(Forbidden::AccountSuspended)));
        return;
    }

    // Then the app's use case, then the route, then the recipient.
    let case = account.use_cases.iter().find(|c| Some(&c.id) == app.use_case.as_ref());
    let use_case_refusal = match case.map(|c| c.status) {
        None => Some(Forbidden::UseCaseMissing),
        Some(UseCaseStatus::Approved) => None,
        Some(UseCaseStatus::Pending) => Some(Forbidden::UseCasePending),
        Some(UseCaseStatus::Withdrawn) => Some(Forbidden::UseCaseWithdrawn),
    };
    if let Some(why) = use_case_refusal {
        assert_eq!(d, Decision::Deny(Problem::Forbidden(why)));
        return;
    }
    let routed = Method::from_request(method).and_then(|m| plan.routes.find(m, &path));
    if routed.is_none() {
        assert_eq!(d, Decision::Deny(Problem::Forbidden(Forbidden::EndpointNotInPlan)));
    }
    match &d {
        Decision::Allow(grant) => {
            assert_eq!(routed, Some(&grant.group));
            assert_eq!((&grant.account, &grant.app, &grant.plan), (&account.id, &app.app, &plan.record.id));
            match (&grant.delivery, recipient.as_deref()) {
                (None, None) => assert!(!account.redistribution.serves_recipients),
                (Some(delivery), Some(named)) => {
                    assert_eq!(delivery.recipient.as_str(), named.trim());
                    let r = account.redistribution.recipients.iter().find(|r| r.id == delivery.recipient).unwrap();
                    assert!(!matches!(r.class, RecipientClass::Surveillance | RecipientClass::Intelligence));
                    assert_eq!(r.approval, Approval::Approved);
                    assert!(r.class != RecipientClass::Government || r.government_approval.is_some());
                    assert_ne!(delivery.mode, Mode::None);
                    assert_eq!(delivery.mode, r.mode.unwrap_or(account.redistribution.mode));
                    assert_eq!(delivery.entity, r.entity);
                }
                (delivery, named) => panic!("delivery {delivery:?} for recipient header {named:?}"),
            }
        }
        Decision::Deny(Problem::Forbidden(Forbidden::EndpointNotInPlan)) => assert_eq!(routed, None),
        Decision::Deny(Problem::Forbidden(why)) => {
            // Only the recipient can refuse a routed request of an approved app.
            let refusal = account.redistribution.resolve(recipient.as_deref()).expect_err("refused for no reason");
            assert_eq!(Forbidden::from(refusal), *why);
        }
        Decision::Deny(other) => panic!("decide answered {other:?}"),
    }

    // HEAD is served as GET.
    if method == "HEAD" {
        assert_eq!(decide(&app, &account, &plan, Call { method: "GET", ..call }, now), d);
    }
    // Whitespace around the recipient header is not significant.
    if let Some(named) = &recipient {
        let padded = format!("\t {named} ");
        assert_eq!(decide(&app, &account, &plan, Call { recipient: Some(&padded), ..call }, now), d);
    }
    // Time only matters through expiry: later, the answer is the same or `Expired`.
    let later = UnixMillis(input.now.saturating_add(input.later));
    let then = decide(&app, &account, &plan, call, later);
    if then != d {
        assert_eq!(then, Decision::Deny(Problem::Unauthorized(Unauthorized::Expired)));
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) {
        check(&input);
    }
});
