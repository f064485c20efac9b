//! `items::count` and `items::ids` on arbitrary bytes in X API v2's shape (the default),
//! `items::is_json` on arbitrary content types. (Other shapes: the `shape` target.)
//!
//! Invariants, against `serde_json::Value` as the reference reader: every JSON object (with at
//! most one `data` key) is counted, nothing but an object is, and the count is the length of an
//! array `data`, 1 for any other non-null `data`, 0 without one; the ids listed are exactly the
//! string or number `id`s of the objects in `data`, never more than the count; content types are
//! matched without regard to ASCII case. The hand reader (`items::scan`), whenever it answers,
//! gives what the full reader (`items::read_by_tokens`) gives, in X's shape and a nested one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use tollgate::domain::redistribution::items::{self, is_json};
use tollgate::domain::redistribution::shape::Shape;

/// How many top-level `data` keys an object has (`None` when the body is not an object).
struct DataKeys(Option<usize>);

impl<'de> serde::Deserialize<'de> for DataKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DataKeys;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DataKeys, A::Error> {
                let mut n = 0;
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    n += usize::from(key == "data");
                    map.next_value::<IgnoredAny>()?;
                }
                Ok(DataKeys(Some(n)))
            }
        }
        d.deserialize_map(V)
    }
}

fn items_in(map: &serde_json::Map<String, Value>) -> u64 {
    match map.get("data") {
        None | Some(Value::Null) => 0,
        Some(Value::Array(items)) => items.len() as u64,
        Some(_) => 1,
    }
}

/// Whether the reference reader refused the body only for a number beyond `f64`: valid JSON
/// (RFC 8259 sets no range), which the counter, skipping what it does not count, reads fine.
fn out_of_range(data: &[u8]) -> bool {
    serde_json::from_str::<Value>(&String::from_utf8_lossy(data))
        .is_err_and(|e| e.to_string().starts_with("number out of range"))
}

/// The `id` of one item, as the ledger records it.
fn id_of(item: &serde_json::Map<String, Value>) -> Option<String> {
    match item.get("id") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// The ids in a body's `data`, or `None` when `data` holds something other than objects.
fn ids_in(map: &serde_json::Map<String, Value>) -> Option<Vec<String>> {
    match map.get("data") {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(Value::Array(items)) => {
            let objects: Option<Vec<_>> = items.iter().map(Value::as_object).collect();
            Some(objects?.into_iter().filter_map(id_of).collect())
        }
        Some(Value::Object(item)) => Some(id_of(item).into_iter().collect()),
        Some(_) => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let x = Shape::x_v2();
    let counted = items::count(data, &x);
    // The counter skips ignored strings without checking their UTF-8, so the reference for
    // what it counts reads invalid UTF-8 as U+FFFD; whether it counts at all is checked strictly.
    let lossy = serde_json::from_str::<Value>(&String::from_utf8_lossy(data)).ok();
    match (counted, &lossy) {
        (Some(n), Some(Value::Object(map))) => assert_eq!(n, items_in(map)),
        // Skipped strings are not checked for lone surrogate escapes (`\udfff`); a full parse is.
        (Some(_), None) if out_of_range(data) || data.windows(3).any(|w| w.eq_ignore_ascii_case(b"\\ud")) => {}
        (Some(n), other) => panic!("counted {n} in a body that is not a JSON object: {other:?}"),
        (None, _) => {
            if let Ok(Value::Object(_)) = serde_json::from_slice::<Value>(data) {
                // Only a repeated `data` key makes an object unreadable for counting.
                let keys = serde_json::from_slice::<DataKeys>(data).map(|k| k.0);
                assert!(matches!(keys, Ok(Some(n)) if n > 1), "an object was not counted: {keys:?}");
            }
        }
    }

    if let Some(listed) = items::ids(data, &x) {
        match &lossy {
            Some(Value::Object(map)) => assert_eq!(Some(&listed), ids_in(map).as_ref()),
            // The ids are read in one pass that skips every field but `id`, as the counter does.
            None if out_of_range(data) || data.windows(3).any(|w| w.eq_ignore_ascii_case(b"\\ud")) => {}
            other => panic!("ids {listed:?} in a body that is not a JSON object: {other:?}"),
        }
        if let Some(n) = counted {
            assert!(listed.len() as u64 <= n, "{} ids in {n} items", listed.len());
        }
    }

    // The hand reader (`items::scan`), whenever it answers, answers as the full reader does,
    // in X's shape and in a deeper one.
    let children: Shape = serde_json::from_str(r#"{"items":"/data/children","id":"/data/id"}"#).unwrap();
    for shape in [&x, &children] {
        for with_ids in [false, true] {
            if let Some(hand) = items::scan::read(data, shape.items.tokens(), shape.id.tokens(), with_ids) {
                assert_eq!(Some(hand), items::read_by_tokens(data, shape, with_ids), "with ids: {with_ids}");
            }
        }
    }

    if let Ok(text) = std::str::from_utf8(data) {
        let verdict = is_json(Some(text));
        assert_eq!(is_json(Some(&text.to_ascii_uppercase())), verdict);
        assert_eq!(is_json(Some(&format!("  {text}"))), verdict);
        if verdict {
            assert!(text.trim_start().to_ascii_lowercase().starts_with("application/"));
        }
    }
});
