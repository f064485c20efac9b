//! A plan: the endpoints an account may call, each in a named endpoint group, and the shape of
//! their responses (where the items are) when it is not X API v2's.

use serde::{Deserialize, Serialize};

use super::{Record, RecordError};
use crate::domain::access::id::Id;
use crate::domain::billing::price::{self, PriceVersion};
use crate::domain::throttle::limit::{GuardFailure, Limit, MAX_CONNECTIONS};
use crate::domain::access::route::{RouteError, RouteTable};
use crate::domain::redistribution::shape::Shape;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Method {
    #[serde(rename = "GET")]
    Get,
    #[serde(rename = "POST")]
    Post,
    #[serde(rename = "PUT")]
    Put,
    #[serde(rename = "PATCH")]
    Patch,
    #[serde(rename = "DELETE")]
    Delete,
}

impl Method {
    /// The request's method as the runtime spells it; `HEAD` is served as `GET`.
    #[must_use]
    pub fn from_request(text: &str) -> Option<Self> {
        match text {
            "GET" | "HEAD" => Some(Self::Get),
            "POST" => Some(Self::Post),
            "PUT" => Some(Self::Put),
            "PATCH" => Some(Self::Patch),
            "DELETE" => Some(Self::Delete),
            _ => None,
        }
    }
}

/// One endpoint: `{"method":"GET","path":"/2/tweets/:id","group":"lookup"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub method: Method,
    /// Literal segments and `:name` parameters, as the API's own reference writes them.
    pub path: String,
    pub group: Id,
    /// A stream (`"stream": true`): the response stays open and carries one post a line, each
    /// passed on and metered as it arrives. Declared in the plan because the edge must know
    /// before the origin answers, and a stream's response head looks like a page's.
    #[serde(default, skip_serializing_if = "is_false")]
    pub stream: bool,
    /// This endpoint's response shape, where it differs from the plan's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<Shape>,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `skip_serializing_if` passes a reference
fn is_false(b: &bool) -> bool {
    !*b
}

/// `tollgate:v1:plan:<id>` → `{"v":1,"id":"pro","endpoints":[…]}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanRecord {
    pub v: u32,
    pub id: Id,
    pub endpoints: Vec<Endpoint>,
    /// Request windows per endpoint group and scope.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<Limit>,
    /// Items (entries of `data` in responses) the account may receive per calendar month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_item_cap: Option<u64>,
    /// Whether to refuse (`closed`, the default) or forward (`open`) when the guard is down.
    #[serde(default)]
    pub guard_failure: GuardFailure,
    /// The response shape of the plan's endpoints (X API v2's when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<Shape>,
    /// Streams of one endpoint group open at once, per app (one token); the API's own model is
    /// one per app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_connections_per_app: Option<u64>,
    /// Streams of one endpoint group open at once for the whole account, across its apps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_connections_per_account: Option<u64>,
    /// What the plan costs, version by version (`billing::price`); optional. The enforcer
    /// skips it unread (prices are the control plane's business, and reading them would cost
    /// the request path's module size); the control plane reads and checks it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(all(feature = "enforcer", not(feature = "control")), serde(deserialize_with = "price::skip"))]
    pub prices: Vec<PriceVersion>,
}

pub const MAX_ENDPOINTS: usize = 256;
pub const MAX_LIMITS: usize = 64;

impl Record for PlanRecord {
    fn version(&self) -> u32 {
        self.v
    }

    fn validate(&self) -> Result<(), RecordError> {
        if self.endpoints.len() > MAX_ENDPOINTS {
            return Err(RecordError::Field {
                field: "endpoints",
                why: format!("at most {MAX_ENDPOINTS} endpoints"),
            });
        }
        RouteTable::build(&self.endpoints, self.shape.as_ref()).map_err(route_field)?;
        if let Some(why) = self.shape.as_ref().and_then(Shape::problem) {
            return Err(RecordError::Field { field: "shape", why });
        }
        let odd = self.endpoints.iter().enumerate().find_map(|(i, e)| Some((i, e, e.shape.as_ref()?.problem()?)));
        if let Some((i, e, why)) = odd {
            return Err(RecordError::Field { field: "endpoints", why: format!("endpoint {i} (`{}`): shape: {why}", e.path) });
        }
        if let Some((i, e)) = self.endpoints.iter().enumerate().find(|(_, e)| e.stream && e.method != Method::Get) {
            return Err(RecordError::Field {
                field: "endpoints",
                why: format!("endpoint {i} (`{}`): only a GET endpoint can be a stream", e.path),
            });
        }
        self.validate_limits()?;
        self.validate_prices()
    }
}

impl PlanRecord {
    fn validate_limits(&self) -> Result<(), RecordError> {
        let field = |why: String| RecordError::Field { field: "limits", why };
        if self.limits.len() > MAX_LIMITS {
            return Err(field(format!("at most {MAX_LIMITS} limits")));
        }
        for (i, limit) in self.limits.iter().enumerate() {
            if let Some(why) = limit.problem() {
                return Err(field(format!("limit {i}: {why}")));
            }
            if !self.endpoints.iter().any(|e| e.group == limit.group) {
                return Err(field(format!("limit {i}: no endpoint is in group `{}`", limit.group)));
            }
            let twin = self.limits[..i]
                .iter()
                .any(|l| l.group == limit.group && l.scope == limit.scope && l.window_seconds == limit.window_seconds);
            if twin {
                return Err(field(format!("limit {i}: the same group, scope and window is listed twice")));
            }
        }
        if self.monthly_item_cap == Some(0) {
            return Err(RecordError::Field { field: "monthly_item_cap", why: "must be at least 1 (omit it for no cap)".into() });
        }
        self.validate_connections()
    }

    fn validate_connections(&self) -> Result<(), RecordError> {
        for (field, max) in [
            ("stream_connections_per_app", self.stream_connections_per_app),
            ("stream_connections_per_account", self.stream_connections_per_account),
        ] {
            let Some(max) = max else { continue };
            let why = if !(1..=MAX_CONNECTIONS).contains(&max) {
                "must be from 1 to 10000 (omit it for no limit)"
            } else if !self.endpoints.iter().any(|e| e.stream) {
                "the plan has no stream endpoint"
            } else {
                continue;
            };
            return Err(RecordError::Field { field, why: why.into() });
        }
        Ok(())
    }

    /// The enforcer skips prices unread (see `prices`): nothing to check there.
    #[cfg(all(feature = "enforcer", not(feature = "control")))]
    #[allow(clippy::unused_self, clippy::unnecessary_wraps)]
    fn validate_prices(&self) -> Result<(), RecordError> {
        Ok(())
    }

    #[cfg(not(all(feature = "enforcer", not(feature = "control"))))]
    fn validate_prices(&self) -> Result<(), RecordError> {
        let groups: Vec<&Id> = self.endpoints.iter().map(|e| &e.group).collect();
        match price::problem(&self.prices, &groups) {
            Some(why) => Err(RecordError::Field { field: "prices", why }),
            None => Ok(()),
        }
    }

    /// The limits that apply to one endpoint group.
    #[must_use]
    pub fn limits_for(&self, group: &Id) -> Vec<Limit> {
        self.limits.iter().filter(|l| l.group == *group).cloned().collect()
    }
}

fn route_field(e: RouteError) -> RecordError {
    RecordError::Field { field: "endpoints", why: e.to_string() }
}

/// A validated plan with its routes compiled once, then cached per isolate.
#[derive(Debug)]
pub struct Plan {
    pub record: PlanRecord,
    pub routes: RouteTable,
}

impl Plan {
    /// # Errors
    /// The route error of an invalid endpoint list.
    pub fn compile(record: PlanRecord) -> Result<Self, RecordError> {
        let routes = RouteTable::build(&record.endpoints, record.shape.as_ref()).map_err(route_field)?;
        Ok(Self { record, routes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::entitlement::decode;

    #[test]
    fn reads_and_compiles_the_documented_example() {
        let text = r#"{"v":1,"id":"pro","endpoints":[
            {"method":"GET","path":"/2/tweets/search/recent","group":"search"},
            {"method":"GET","path":"/2/tweets","group":"lookup"},
            {"method":"GET","path":"/2/tweets/:id","group":"lookup"}]}"#;
        let plan = Plan::compile(decode(text).unwrap()).unwrap();
        let hit = plan.routes.find(Method::Get, "/2/tweets/20").unwrap();
        assert_eq!(hit.as_str(), "lookup");
    }

    #[test]
    fn refuses_bad_paths_and_unknown_methods() {
        let bad_path = r#"{"v":1,"id":"p","endpoints":[{"method":"GET","path":"2/tweets","group":"g"}]}"#;
        assert!(matches!(decode::<PlanRecord>(bad_path), Err(RecordError::Field { field: "endpoints", .. })));
        let bad_method = r#"{"v":1,"id":"p","endpoints":[{"method":"TRACE","path":"/a","group":"g"}]}"#;
        assert!(matches!(decode::<PlanRecord>(bad_method), Err(RecordError::Json(_))));
    }

    #[test]
    fn reads_limits_and_refuses_inconsistent_ones() {
        let ok = r#"{"v":1,"id":"p","endpoints":[{"method":"GET","path":"/a","group":"search"}],
            "limits":[{"group":"search","scope":"app","requests":450},
                      {"group":"search","scope":"account","requests":1800,"window_seconds":900}],
            "monthly_item_cap":1000,"guard_failure":"open"}"#;
        let plan: PlanRecord = decode(ok).unwrap();
        assert_eq!(plan.limits[0].window_seconds, 900);
        assert_eq!(plan.limits_for(&Id::new("search").unwrap()).len(), 2);
        assert_eq!(plan.guard_failure, GuardFailure::Open);
        for bad in [
            r#"[{"group":"nope","scope":"app","requests":1}]"#,
            r#"[{"group":"search","scope":"app","requests":0}]"#,
            r#"[{"group":"search","scope":"app","requests":1,"window_seconds":0}]"#,
            r#"[{"group":"search","scope":"app","requests":1},{"group":"search","scope":"app","requests":2}]"#,
            r#"[{"group":"search","scope":"galaxy","requests":1}]"#,
        ] {
            let text = format!(r#"{{"v":1,"id":"p","endpoints":[{{"method":"GET","path":"/a","group":"search"}}],"limits":{bad}}}"#);
            assert!(decode::<PlanRecord>(&text).is_err(), "{bad}");
        }
    }

    #[test]
    fn stream_endpoints_are_flagged_gets() {
        let text = r#"{"v":1,"id":"p","endpoints":[
            {"method":"GET","path":"/2/tweets/search/stream","group":"stream","stream":true},
            {"method":"GET","path":"/2/tweets/search/stream/rules","group":"rules"},
            {"method":"POST","path":"/2/tweets/search/stream/rules","group":"rules","stream":false}]}"#;
        let plan = Plan::compile(decode(text).unwrap()).unwrap();
        let hit = plan.routes.route(Method::Get, "/2/tweets/search/stream").unwrap();
        assert_eq!((hit.group.as_str(), hit.stream), ("stream", true));
        assert!(!plan.routes.route(Method::Post, "/2/tweets/search/stream/rules").unwrap().stream);
        // Written back without the flag where it is false, so existing plans read the same.
        let back = serde_json::to_string(&plan.record).unwrap();
        assert_eq!(back.matches("\"stream\":").count(), 1, "{back}");
        let post = r#"{"v":1,"id":"p","endpoints":[{"method":"POST","path":"/2/s","group":"g","stream":true}]}"#;
        assert!(matches!(decode::<PlanRecord>(post), Err(RecordError::Field { field: "endpoints", .. })));
        let odd = r#"{"v":1,"id":"p","endpoints":[{"method":"GET","path":"/2/s","group":"g","stream":"yes"}]}"#;
        assert!(decode::<PlanRecord>(odd).is_err());
    }

    #[test]
    fn connection_limits_are_for_plans_with_streams() {
        let stream = r#"{"method":"GET","path":"/2/tweets/search/stream","group":"stream","stream":true}"#;
        let page = r#"{"method":"GET","path":"/2/tweets/search/recent","group":"search"}"#;
        let plan = |endpoint: &str, limits: &str| format!(r#"{{"v":1,"id":"p","endpoints":[{endpoint}]{limits}}}"#);
        let ok: PlanRecord = decode(&plan(stream, r#","stream_connections_per_app":1,"stream_connections_per_account":3"#)).unwrap();
        assert_eq!((ok.stream_connections_per_app, ok.stream_connections_per_account), (Some(1), Some(3)));
        for (endpoint, limits, field, why) in [
            (page, r#","stream_connections_per_app":1"#, "stream_connections_per_app", "no stream endpoint"),
            (stream, r#","stream_connections_per_account":0"#, "stream_connections_per_account", "from 1 to 10000"),
            (stream, r#","stream_connections_per_app":10001"#, "stream_connections_per_app", "from 1 to 10000"),
        ] {
            match decode::<PlanRecord>(&plan(endpoint, limits)) {
                Err(RecordError::Field { field: f, why: message }) => assert!(f == field && message.contains(why), "{f}: {message}"),
                other => panic!("{limits}: {other:?}"),
            }
        }
        assert!(decode::<PlanRecord>(&plan(stream, r#","stream_connections_per_app":-1"#)).is_err());
        // Written back only when set.
        let none: PlanRecord = decode(&plan(stream, "")).unwrap();
        assert!(!serde_json::to_string(&none).unwrap().contains("stream_connections"));
    }

    #[test]
    fn head_is_served_as_get_and_other_methods_are_unknown() {
        assert_eq!(Method::from_request("HEAD"), Some(Method::Get));
        assert_eq!(Method::from_request("TRACE"), None);
        assert_eq!(Method::from_request("get"), None);
    }

    #[test]
    fn shapes_are_declared_per_plan_and_overridden_per_endpoint() {
        let text = r#"{"v":1,"id":"catalog","shape":{"items":""},"endpoints":[
            {"method":"GET","path":"/v1/products","group":"catalog"},
            {"method":"GET","path":"/r/:sub/new","group":"listing",
             "shape":{"items":"/data/children","id":"/data/id","keep":["/kind","/data/id"],"count":"/data/dist"}}]}"#;
        let plan = Plan::compile(decode(text).unwrap()).unwrap();
        let products = plan.routes.route(Method::Get, "/v1/products").unwrap();
        assert!(products.shape.items.is_root());
        let listing = plan.routes.route(Method::Get, "/r/demo/new").unwrap();
        assert_eq!(listing.shape.items.to_string(), "/data/children");
        // Written back as it was given.
        let back: serde_json::Value = serde_json::to_value(&plan.record).unwrap();
        assert_eq!(back["shape"], serde_json::json!({"items":"","id":"/id"}));
        assert_eq!(back["endpoints"][1]["shape"]["count"], "/data/dist");
        // Without a declaration, X API v2's shape.
        let x = r#"{"v":1,"id":"p","endpoints":[{"method":"GET","path":"/2/tweets/:id","group":"lookup"}]}"#;
        let plan = Plan::compile(decode(x).unwrap()).unwrap();
        assert_eq!(**plan.routes.route(Method::Get, "/2/tweets/1").unwrap().shape, Shape::x_v2());
        assert!(!serde_json::to_string(&plan.record).unwrap().contains("shape"));
    }

    #[test]
    fn refuses_shapes_that_cannot_be_read() {
        let endpoint = |shape: &str| format!(r#"{{"v":1,"id":"p","endpoints":[{{"method":"GET","path":"/a","group":"g","shape":{shape}}}]}}"#);
        let plan = |shape: &str| format!(r#"{{"v":1,"id":"p","shape":{shape},"endpoints":[{{"method":"GET","path":"/a","group":"g"}}]}}"#);
        let e = decode::<PlanRecord>(&endpoint(r#"{"items":"/data","keep":["/name"]}"#)).unwrap_err();
        assert!(e.to_string().contains("endpoint 0 (`/a`): shape: `keep` must keep the id"), "{e}");
        let e = decode::<PlanRecord>(&plan(r#"{"items":"","count":"/total"}"#)).unwrap_err();
        assert!(matches!(e, RecordError::Field { field: "shape", .. }), "{e}");
        let e = decode::<PlanRecord>(&plan(r#"{"items":"data"}"#)).unwrap_err();
        assert!(e.to_string().contains("JSON Pointer"), "{e}");
        assert!(decode::<PlanRecord>(&plan(r#"{"items":"/data","typo":1}"#)).is_err());
    }
}
