//! `rate_headers::headers` from arbitrary quotas and time.
//!
//! Invariants: header names are the five lowercase names, in order; every value is printable
//! ASCII (no CR, LF or NUL: a runtime refuses those, and they would split a response); the trio
//! follows the binding window (least remaining, then latest reset); `RateLimit-Policy` and
//! `RateLimit` parse back, as RFC 8941 lists, to one member per quota with its numbers.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use tollgate::domain::time::clock::UnixMillis;
use tollgate::domain::throttle::verdict::Quota;
use tollgate::domain::http::rate_headers::{binding, headers};

#[derive(Arbitrary, Debug)]
struct QuotaIn {
    name: String,
    limit: u64,
    remaining: u64,
    reset: u64,
    window_seconds: u64,
}

const NAMES: [&str; 5] = ["x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset", "ratelimit-policy", "ratelimit"];

/// One member of an RFC 8941 list of the form `"name";k=int;k=int`, and the rest of the input.
fn member(s: &str) -> (String, Vec<(String, u64)>, &str) {
    let mut chars = s.char_indices();
    assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "member does not start with a string: {s:?}");
    let mut name = String::new();
    let end = loop {
        match chars.next().expect("unterminated sf-string") {
            (_, '\\') => {
                let (_, c) = chars.next().expect("dangling escape");
                assert!(c == '"' || c == '\\', "bad escape {c:?}");
                name.push(c);
            }
            (i, '"') => break i + 1,
            (_, c) => {
                assert!((' '..='~').contains(&c), "{c:?} in an sf-string");
                name.push(c);
            }
        }
    };
    let mut rest = &s[end..];
    let mut params = Vec::new();
    while let Some(p) = rest.strip_prefix(';') {
        let eq = p.find('=').expect("parameter without value");
        let key = &p[..eq];
        assert!(!key.is_empty() && key.bytes().all(|b| b.is_ascii_lowercase()), "bad key {key:?}");
        let digits = p[eq + 1..].bytes().take_while(u8::is_ascii_digit).count();
        assert!(digits > 0, "parameter {key} is not an integer");
        params.push((key.to_owned(), p[eq + 1..eq + 1 + digits].parse().unwrap()));
        rest = &p[eq + 1 + digits..];
    }
    (name, params, rest)
}

fn list(value: &str) -> Vec<(String, Vec<(String, u64)>)> {
    let mut out = Vec::new();
    let mut rest = value;
    loop {
        let (name, params, after) = member(rest);
        out.push((name, params));
        match after.strip_prefix(", ") {
            Some(next) => rest = next,
            None => {
                assert!(after.is_empty(), "trailing {after:?}");
                return out;
            }
        }
    }
}

/// What a name looks like after a list round trip: printable ASCII kept, the rest dropped.
fn printable(name: &str) -> String {
    name.chars().filter(|c| (' '..='~').contains(c)).collect()
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(now) = u64::arbitrary(&mut u) else { return };
    let Ok(quotas) = Vec::<QuotaIn>::arbitrary_take_rest(u) else { return };
    let quotas: Vec<Quota> = quotas
        .into_iter()
        .map(|q| Quota { name: q.name, limit: q.limit, remaining: q.remaining, reset: q.reset, window_seconds: q.window_seconds })
        .collect();
    let now = UnixMillis(now);
    let out = headers(&quotas, now);
    if quotas.is_empty() {
        assert!(out.is_empty());
        return;
    }
    let names: Vec<&str> = out.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, NAMES);
    for (name, value) in &out {
        assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'), "{name:?}");
        assert!(value.bytes().all(|b| (0x20..0x7f).contains(&b)), "{name}: {value:?}");
        assert!(!value.contains(['\r', '\n', '\0']));
    }

    let bind = binding(&quotas).unwrap();
    let least = quotas.iter().map(|q| q.remaining).min().unwrap();
    assert_eq!(bind.remaining, least);
    let latest = quotas.iter().filter(|q| q.remaining == least).map(|q| q.reset).max().unwrap();
    assert_eq!(bind.reset, latest);
    assert_eq!(out[0].1, bind.limit.to_string());
    assert_eq!(out[1].1, bind.remaining.to_string());
    assert_eq!(out[2].1, bind.reset.to_string());

    let policy = list(&out[3].1);
    let state = list(&out[4].1);
    assert_eq!(policy.len(), quotas.len());
    assert_eq!(state.len(), quotas.len());
    for ((q, (pn, pp)), (sn, sp)) in quotas.iter().zip(&policy).zip(&state) {
        assert_eq!(*pn, printable(&q.name));
        assert_eq!(*sn, printable(&q.name));
        assert_eq!(*pp, vec![("q".to_owned(), q.limit), ("w".to_owned(), q.window_seconds)]);
        assert_eq!(*sp, vec![("r".to_owned(), q.remaining), ("t".to_owned(), q.reset.saturating_sub(now.as_secs()))]);
    }
});
