//! Route matching: which endpoint group, if any, a method and path fall in.

use std::collections::HashMap;
use std::rc::Rc;

use crate::domain::access::entitlement::{Endpoint, Method};
use crate::domain::access::id::Id;
use crate::domain::redistribution::shape::Shape;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("path `{0}` must start with `/` and use only literal segments and `:name` parameters")]
    Pattern(String),
    #[error("`{method:?} {path}` is listed twice or overlaps another path")]
    Conflict { method: Method, path: String },
}

/// Compiled routes of one plan. Paths go through the router once; each path then holds the
/// endpoints of the methods allowed on it: group, whether it is a stream, its response shape.
pub struct RouteTable {
    router: matchit::Router<usize>,
    by_path: Vec<Vec<Entry>>,
}

/// One method on a path: its group, whether it is a stream, its shape.
type Entry = (Method, Id, bool, Rc<Shape>);

/// The endpoint a request falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route<'a> {
    pub group: &'a Id,
    pub stream: bool,
    pub shape: &'a Rc<Shape>,
}

impl std::fmt::Debug for RouteTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteTable").field("by_path", &self.by_path).finish_non_exhaustive()
    }
}

impl RouteTable {
    /// The endpoints, each with its own shape, or else the plan's (`shape`), or else X API v2's.
    ///
    /// # Errors
    /// A [`RouteError`] for a malformed or duplicate pattern.
    pub fn build(endpoints: &[Endpoint], shape: Option<&Shape>) -> Result<Self, RouteError> {
        let plan_shape = Rc::new(shape.cloned().unwrap_or_default());
        let mut router = matchit::Router::new();
        let mut by_path: Vec<Vec<Entry>> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for endpoint in endpoints {
            check_pattern(&endpoint.path)?;
            let slot = if let Some(&slot) = index.get(endpoint.path.as_str()) {
                slot
            } else {
                let slot = by_path.len();
                router.insert(endpoint.path.clone(), slot).map_err(|_| RouteError::Conflict {
                    method: endpoint.method,
                    path: endpoint.path.clone(),
                })?;
                index.insert(&endpoint.path, slot);
                by_path.push(Vec::new());
                slot
            };
            if by_path[slot].iter().any(|(m, ..)| *m == endpoint.method) {
                return Err(RouteError::Conflict { method: endpoint.method, path: endpoint.path.clone() });
            }
            let shape = endpoint.shape.as_ref().map_or_else(|| plan_shape.clone(), |s| Rc::new(s.clone()));
            by_path[slot].push((endpoint.method, endpoint.group.clone(), endpoint.stream, shape));
        }
        Ok(Self { router, by_path })
    }

    /// The endpoint group of a request path (still percent-encoded, as received).
    #[must_use]
    pub fn find(&self, method: Method, path: &str) -> Option<&Id> {
        self.route(method, path).map(|r| r.group)
    }

    /// The endpoint of a request path: its group, whether it is a stream, its shape.
    #[must_use]
    pub fn route(&self, method: Method, path: &str) -> Option<Route<'_>> {
        let matched = self.router.at(path).ok()?;
        // The router lets a parameter match an empty segment (`/2/users//tweets`); no path of the
        // API has one, and an origin that collapses `//` would serve a different endpoint.
        if matched.params.iter().any(|(_, value)| value.is_empty()) {
            return None;
        }
        let slot = *matched.value;
        self.by_path[slot]
            .iter()
            .find(|(m, ..)| *m == method)
            .map(|(_, group, stream, shape)| Route { group, stream: *stream, shape })
    }
}

/// Literal segments of unreserved characters, or `:name`; no wildcards, no empty segments.
fn check_pattern(path: &str) -> Result<(), RouteError> {
    let bad = || RouteError::Pattern(path.chars().take(100).collect());
    let rest = path.strip_prefix('/').ok_or_else(bad)?;
    if path.len() > 512 {
        return Err(bad());
    }
    for segment in rest.split('/') {
        let ok = if let Some(name) = segment.strip_prefix(':') {
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        } else {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
        };
        if !ok {
            return Err(bad());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(method: Method, path: &str, group: &str) -> Endpoint {
        Endpoint { method, path: path.into(), group: Id::new(group).unwrap(), stream: false, shape: None }
    }

    fn table() -> RouteTable {
        RouteTable::build(&[
            endpoint(Method::Get, "/2/tweets/search/recent", "search"),
            endpoint(Method::Get, "/2/tweets", "lookup"),
            endpoint(Method::Get, "/2/tweets/:id", "lookup"),
            endpoint(Method::Get, "/2/users/:id/tweets", "timeline"),
            endpoint(Method::Post, "/2/tweets", "write"),
        ], None)
        .unwrap()
    }

    #[test]
    fn finds_groups_by_method_and_path() {
        let t = table();
        assert_eq!(t.find(Method::Get, "/2/tweets/search/recent").unwrap().as_str(), "search");
        assert_eq!(t.find(Method::Get, "/2/tweets/123").unwrap().as_str(), "lookup");
        assert_eq!(t.find(Method::Get, "/2/users/9/tweets").unwrap().as_str(), "timeline");
        assert_eq!(t.find(Method::Post, "/2/tweets").unwrap().as_str(), "write");
    }

    #[test]
    fn misses_what_the_plan_does_not_list() {
        let t = table();
        assert_eq!(t.find(Method::Delete, "/2/tweets/123"), None);
        assert_eq!(t.find(Method::Get, "/2/tweets/123/likes"), None);
        assert_eq!(t.find(Method::Get, "/2/users/9/tweets/"), None);
        assert_eq!(t.find(Method::Get, "/2/tweets/1%2F2/x"), None);
        assert_eq!(t.find(Method::Get, ""), None);
        assert_eq!(t.find(Method::Get, "/"), None);
    }

    #[test]
    fn refuses_malformed_and_duplicate_patterns() {
        for bad in ["", "x", "/a//b", "/a/*rest", "/a/:", "/a/../b", "/a/b c"] {
            assert!(RouteTable::build(&[endpoint(Method::Get, bad, "g")], None).is_err(), "{bad:?}");
        }
        let twice = [endpoint(Method::Get, "/a", "g"), endpoint(Method::Get, "/a", "h")];
        assert!(matches!(RouteTable::build(&twice, None), Err(RouteError::Conflict { .. })));
    }

    #[test]
    fn empty_parameters_match_nothing() {
        // Found by fuzzing: the router let `:id` match an empty segment.
        let t = table();
        assert_eq!(t.find(Method::Get, "/2/users//tweets"), None);
        assert_eq!(t.find(Method::Get, "/2/tweets/"), None);
        assert_eq!(t.find(Method::Get, "/2/users/9/tweets").unwrap().as_str(), "timeline");
    }
}
