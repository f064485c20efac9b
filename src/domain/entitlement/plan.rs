//! A plan: the endpoints an account may call, each in a named endpoint group.

use serde::{Deserialize, Serialize};

use super::{Record, RecordError};
use crate::domain::id::Id;
use crate::domain::route::{RouteError, RouteTable};

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
}

/// `tollgate:v1:plan:<id>` → `{"v":1,"id":"pro","endpoints":[…]}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanRecord {
    pub v: u32,
    pub id: Id,
    pub endpoints: Vec<Endpoint>,
}

pub const MAX_ENDPOINTS: usize = 256;

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
        RouteTable::build(&self.endpoints).map(|_| ()).map_err(route_field)
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
        let routes = RouteTable::build(&record.endpoints).map_err(route_field)?;
        Ok(Self { record, routes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::entitlement::decode;

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
    fn head_is_served_as_get_and_other_methods_are_unknown() {
        assert_eq!(Method::from_request("HEAD"), Some(Method::Get));
        assert_eq!(Method::from_request("TRACE"), None);
        assert_eq!(Method::from_request("get"), None);
    }
}
