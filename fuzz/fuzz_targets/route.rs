//! Route matching: a fixed, valid plan against arbitrary methods and paths, and route tables
//! built from arbitrary endpoint lists.
//!
//! Invariants, against a reference written from the documented rules: a table builds only when
//! every pattern is `/`-separated literal segments of unreserved characters or `:name`
//! parameters and no method+path is listed twice; a path falls in the pattern with the same
//! number of segments, equal literals and non-empty parameters, the most literal one (leftmost
//! first) winning; the group is that pattern's group for the method, or none.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use tollgate::domain::access::entitlement::{Endpoint, Method};
use tollgate::domain::access::id::Id;
use tollgate::domain::access::route::{RouteError, RouteTable};

const METHODS: [Method; 5] = [Method::Get, Method::Post, Method::Put, Method::Patch, Method::Delete];

/// A plan shaped like the API's own: literal and parameter siblings, shared prefixes, and
/// one path under several methods.
const FIXED: &[(Method, &str, &str)] = &[
    (Method::Get, "/2/tweets", "lookup"),
    (Method::Post, "/2/tweets", "write"),
    (Method::Get, "/2/tweets/:id", "lookup"),
    (Method::Delete, "/2/tweets/:id", "write"),
    (Method::Get, "/2/tweets/search/recent", "search"),
    (Method::Get, "/2/tweets/search/all", "search-all"),
    (Method::Get, "/2/tweets/counts/recent", "counts"),
    (Method::Get, "/2/tweets/:id/liking_users", "likes"),
    (Method::Get, "/2/users/me", "users"),
    (Method::Get, "/2/users/:id", "users"),
    (Method::Get, "/2/users/:id/tweets", "timeline"),
    (Method::Get, "/2/users/:id/mentions", "timeline"),
    (Method::Get, "/2/users/by/username/:username", "users"),
    (Method::Post, "/2/users/:id/likes", "write"),
    (Method::Delete, "/2/users/:id/likes/:tweet_id", "write"),
    (Method::Put, "/2/lists/:id", "lists"),
    (Method::Patch, "/2/lists/:id/members/:user_id", "lists"),
    (Method::Get, "/2/lists/:id/members/count", "lists"),
    (Method::Get, "/2/spaces/search", "spaces"),
    (Method::Get, "/2/spaces/:id", "spaces"),
    (Method::Get, "/2/spaces/:id/buyers", "spaces"),
];

/// Segments to build patterns and paths from: valid and invalid, literal and parameter.
const SEGMENTS: &[&str] = &[
    "2", "tweets", "users", "search", "recent", "a", "b", "ab", "a.b", "~x", "_", "-", "v1.2",
    ":id", ":id", ":user_id", ":x", ":name2", "", ".", "..", ":", "*rest", "a b", "%2F", ":a-b",
    "é", "{id}", "a:b", "?q", "#",
];

/// The documented pattern rules, written independently of `route.rs`.
fn valid_pattern(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else { return false };
    path.len() <= 512
        && rest.split('/').all(|seg| match seg.strip_prefix(':') {
            Some(name) => !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            None => {
                !seg.is_empty()
                    && seg != "."
                    && seg != ".."
                    && seg.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
            }
        })
}

/// Which of the patterns a path falls in, per the documented matching rules.
fn pattern_of<'a>(patterns: impl IntoIterator<Item = &'a str>, path: &str) -> Option<&'a str> {
    let segs: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    let mut best: Option<(&str, Vec<bool>)> = None;
    for pattern in patterns {
        let pat: Vec<&str> = pattern[1..].split('/').collect();
        if pat.len() != segs.len() {
            continue;
        }
        let fits = pat.iter().zip(&segs).all(|(p, s)| if p.starts_with(':') { !s.is_empty() } else { p == s });
        if !fits {
            continue;
        }
        let literal: Vec<bool> = pat.iter().map(|p| !p.starts_with(':')).collect();
        if best.as_ref().is_none_or(|(_, b)| literal > *b) {
            best = Some((pattern, literal));
        }
    }
    best.map(|(p, _)| p)
}

fn expected<'a>(endpoints: &'a [Endpoint], method: Method, path: &str) -> Option<&'a Id> {
    let pattern = pattern_of(endpoints.iter().map(|e| e.path.as_str()), path)?;
    endpoints.iter().find(|e| e.path == pattern && e.method == method).map(|e| &e.group)
}

fn check(table: &RouteTable, endpoints: &[Endpoint], method: Method, path: &str) {
    let found = table.find(method, path);
    assert_eq!(found, expected(endpoints, method, path), "{method:?} {path:?}");
}

fn fixed() -> Vec<Endpoint> {
    FIXED
        .iter()
        .map(|&(method, path, group)| Endpoint { method, path: path.into(), group: Id::new(group).unwrap(), stream: false, shape: None })
        .collect()
}

/// A path from known segments (parameters filled with arbitrary text) or entirely arbitrary.
fn path(u: &mut Unstructured<'_>, fill_params: bool) -> arbitrary::Result<String> {
    if u.ratio(1, 8)? {
        return u.arbitrary();
    }
    let n = u.int_in_range(0..=5)?;
    let mut out = String::new();
    for _ in 0..n {
        out.push('/');
        let seg = *u.choose(SEGMENTS)?;
        if fill_params && seg.starts_with(':') {
            let text: String = u.arbitrary()?;
            out.push_str(&text.replace('/', ""));
        } else {
            out.push_str(seg);
        }
    }
    if u.ratio(1, 16)? {
        out.push('/');
    }
    Ok(out)
}

fn fixed_table(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let endpoints = fixed();
    let table = RouteTable::build(&endpoints, None).expect("the fixed plan builds");
    for e in &endpoints {
        check(&table, &endpoints, e.method, &e.path);
    }
    while !u.is_empty() {
        let method = *u.choose(&METHODS)?;
        let p = if u.ratio(1, 2)? {
            // A pattern of the plan with its parameters filled in.
            let (_, pattern, _) = *u.choose(FIXED)?;
            let mut out = String::new();
            for seg in pattern[1..].split('/') {
                out.push('/');
                if seg.starts_with(':') {
                    let text: String = u.arbitrary()?;
                    out.push_str(&text.replace('/', ""));
                } else {
                    out.push_str(seg);
                }
            }
            out
        } else {
            path(u, true)?
        };
        check(&table, &endpoints, method, &p);
    }
    Ok(())
}

fn arbitrary_table(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let groups = ["g0", "g1", "g2"];
    let n = u.int_in_range(0..=8)?;
    let mut endpoints = Vec::with_capacity(n);
    for _ in 0..n {
        let method = *u.choose(&METHODS)?;
        let group = Id::new(u.choose(&groups)?).unwrap();
        endpoints.push(Endpoint { method, path: path(u, false)?, group, stream: false, shape: None });
    }
    match RouteTable::build(&endpoints, None) {
        Ok(table) => {
            assert!(endpoints.iter().all(|e| valid_pattern(&e.path)), "an invalid pattern was accepted");
            for (i, e) in endpoints.iter().enumerate() {
                let twice = endpoints[..i].iter().any(|o| o.method == e.method && o.path == e.path);
                assert!(!twice, "a method and path listed twice was accepted");
            }
            for e in &endpoints {
                check(&table, &endpoints, e.method, &e.path);
            }
            while !u.is_empty() {
                let method = *u.choose(&METHODS)?;
                let p = path(u, true)?;
                check(&table, &endpoints, method, &p);
            }
        }
        Err(RouteError::Pattern(shown)) => {
            assert!(endpoints.iter().any(|e| !valid_pattern(&e.path)), "a valid pattern was refused: {shown}");
            assert!(shown.chars().count() <= 100);
        }
        Err(RouteError::Conflict { method, path }) => {
            assert!(endpoints.iter().any(|e| e.method == method && e.path == path));
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(mode) = bool::arbitrary(&mut u) else { return };
    let _ = if mode { fixed_table(&mut u) } else { arbitrary_table(&mut u) };
});
