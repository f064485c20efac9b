//! The policy decision for one request, as a value. Pure: the edge loads the records, this
//! decides, and one place turns the outcome into a response.

use crate::domain::time::clock::UnixMillis;
use crate::domain::access::entitlement::{AccountRecord, AccountStatus, AppRecord, AppStatus, Method, Plan};
use crate::domain::access::id::Id;
use crate::domain::http::problem::{Forbidden, Problem, Unauthorized};
use crate::domain::redistribution::items::Metering;
use crate::domain::redistribution::recipient::Delivery;
use crate::domain::access::use_case;

/// What the request is granted: who it is charged to and which endpoint group it falls in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub account: Id,
    pub app: Id,
    pub plan: Id,
    pub group: Id,
    /// The endpoint is a stream: its response is passed on and metered line by line.
    pub stream: bool,
    /// How its responses are counted: the endpoint's shape, and whether the plan caps items.
    pub metering: Metering,
    /// The downstream recipient the request is served to, if it names one.
    pub delivery: Option<Delivery>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow(Grant),
    Deny(Problem),
}

/// The request as the decision sees it.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The method as received (`GET`, `HEAD`, …).
    pub method: &'a str,
    /// The path as received, still percent-encoded.
    pub path: &'a str,
    /// The value of the recipient header, if sent.
    pub recipient: Option<&'a str>,
}

/// Decides on a request whose token, account and plan records have been read and validated.
#[must_use]
pub fn decide(app: &AppRecord, account: &AccountRecord, plan: &Plan, call: Call<'_>, now: UnixMillis) -> Decision {
    if let Err(problem) = admissible(app, account, now) {
        return Decision::Deny(problem);
    }
    let Some(route) = Method::from_request(call.method).and_then(|m| plan.routes.route(m, call.path)) else {
        return Decision::Deny(Problem::Forbidden(Forbidden::EndpointNotInPlan));
    };
    match account.redistribution.resolve(call.recipient) {
        Ok(delivery) => Decision::Allow(Grant {
            account: account.id.clone(),
            app: app.app.clone(),
            plan: plan.record.id.clone(),
            group: route.group.clone(),
            stream: route.stream,
            metering: Metering { shape: route.shape.clone(), capped: plan.record.monthly_item_cap.is_some() },
            delivery,
        }),
        Err(refusal) => Decision::Deny(Problem::Forbidden(refusal.into())),
    }
}

/// Whether the app may make any request at all: its token's status and expiry, its account's
/// standing, its use case. The endpoints Tollgate answers itself check this alone.
///
/// # Errors
/// The problem the request is refused with.
pub fn admissible(app: &AppRecord, account: &AccountRecord, now: UnixMillis) -> Result<(), Problem> {
    match app.status {
        AppStatus::Active => {}
        AppStatus::Suspended => return Err(Problem::Unauthorized(Unauthorized::Suspended)),
        AppStatus::Revoked => return Err(Problem::Unauthorized(Unauthorized::Revoked)),
    }
    if app.expires_at.is_some_and(|at| now.as_secs() >= at) {
        return Err(Problem::Unauthorized(Unauthorized::Expired));
    }
    if account.status == AccountStatus::Suspended {
        return Err(Problem::Forbidden(Forbidden::AccountSuspended));
    }
    use_case::check(app.use_case.as_ref(), &account.use_cases).map_err(|refusal| Problem::Forbidden(refusal.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::entitlement::decode;

    fn app(status: &str, expires_at: Option<u64>) -> AppRecord {
        let mut v = serde_json::json!({"v":1,"account":"acme","app":"acme-search","status":status,"use_case":"monitoring"});
        if let Some(at) = expires_at {
            v["expires_at"] = at.into();
        }
        decode(&v.to_string()).unwrap()
    }

    fn account(status: &str) -> AccountRecord {
        decode(
            &serde_json::json!({"v":1,"id":"acme","name":"Acme","plan":"pro","status":status,
                "use_cases":[{"id":"monitoring","status":"approved"},{"id":"resale","status":"pending"}]})
            .to_string(),
        )
            .unwrap()
    }

    fn plan() -> Plan {
        Plan::compile(
            decode(r#"{"v":1,"id":"pro","endpoints":[{"method":"GET","path":"/2/tweets/:id","group":"lookup"}]}"#)
                .unwrap(),
        )
        .unwrap()
    }

    const GET_TWEET: Call<'static> = Call { method: "GET", path: "/2/tweets/20", recipient: None };
    const NOW: UnixMillis = UnixMillis(1_700_000_000_000);

    #[test]
    fn allows_an_active_app_on_a_planned_endpoint() {
        let d = decide(&app("active", None), &account("active"), &plan(), GET_TWEET, NOW);
        let Decision::Allow(grant) = d else { panic!("denied: {d:?}") };
        assert_eq!(grant.group.as_str(), "lookup");
        assert_eq!(grant.account.as_str(), "acme");
        assert_eq!(grant.app.as_str(), "acme-search");
    }

    #[test]
    fn denies_suspended_revoked_and_expired_tokens_with_401() {
        let cases = [
            (app("suspended", None), Unauthorized::Suspended),
            (app("revoked", None), Unauthorized::Revoked),
            (app("active", Some(NOW.as_secs())), Unauthorized::Expired),
        ];
        for (a, why) in cases {
            let d = decide(&a, &account("active"), &plan(), GET_TWEET, NOW);
            assert_eq!(d, Decision::Deny(Problem::Unauthorized(why)));
        }
        let not_yet = decide(&app("active", Some(NOW.as_secs() + 1)), &account("active"), &plan(), GET_TWEET, NOW);
        assert!(matches!(not_yet, Decision::Allow(_)));
    }

    #[test]
    fn denies_suspended_accounts_and_unplanned_endpoints_with_403() {
        let d = decide(&app("active", None), &account("suspended"), &plan(), GET_TWEET, NOW);
        assert_eq!(d, Decision::Deny(Problem::Forbidden(Forbidden::AccountSuspended)));
        for call in [
            Call { method: "DELETE", path: "/2/tweets/20", recipient: None },
            Call { method: "GET", path: "/2/users/1/tweets", recipient: None },
            Call { method: "BREW", path: "/2/tweets/20", recipient: None },
        ] {
            let d = decide(&app("active", None), &account("active"), &plan(), call, NOW);
            assert_eq!(d, Decision::Deny(Problem::Forbidden(Forbidden::EndpointNotInPlan)), "{call:?}");
        }
    }

    #[test]
    fn refuses_apps_without_an_approved_use_case() {
        let mut a = app("active", None);
        a.use_case = None;
        let d = decide(&a, &account("active"), &plan(), GET_TWEET, NOW);
        assert_eq!(d, Decision::Deny(Problem::Forbidden(Forbidden::UseCaseMissing)));
        a.use_case = Some(Id::new("resale").unwrap());
        let d = decide(&a, &account("active"), &plan(), GET_TWEET, NOW);
        assert_eq!(d, Decision::Deny(Problem::Forbidden(Forbidden::UseCasePending)));
    }

    #[test]
    fn a_recipient_named_to_an_account_without_recipients_is_refused() {
        let call = Call { recipient: Some("someone"), ..GET_TWEET };
        let d = decide(&app("active", None), &account("active"), &plan(), call, NOW);
        assert_eq!(d, Decision::Deny(Problem::Forbidden(Forbidden::RecipientUnknown)));
    }
}
