//! The response filter for downstream recipients, by the endpoint's shape (`shape`): `ids_only`
//! reduces every item to what the shape keeps (its id, by default) and removes the parts beside
//! the items that the shape names (X's `includes`); every mode cuts the items to the ids the
//! recipient's entity may still receive, and sets the shape's count field (X's
//! `meta.result_count`) to what is delivered. Everything else in the response (`meta`, `errors`,
//! …) stays, so client libraries still parse it.
//!
//! The body is parsed into borrowed raw fragments: memory stays near twice the body, and bodies
//! above [`MAX_FILTER_BYTES`] are refused rather than filtered (the edge answers 502 and nothing
//! leaves unfiltered).

use std::collections::BTreeMap;

use serde_json::value::RawValue;

use crate::domain::redistribution::items::{self, At};
use crate::domain::redistribution::pointer::Pointer;
use crate::domain::redistribution::recipient::Mode;
use crate::domain::redistribution::shape::Shape;

/// Largest body the filter reads. X API pages are far smaller; anything larger is refused.
pub const MAX_FILTER_BYTES: usize = 32 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("the response does not have its endpoint's shape")]
    NotJson,
    #[error("the response is larger than the filter reads")]
    TooLarge,
}

/// The filtered response.
#[derive(Debug, PartialEq, Eq)]
pub enum Filtered {
    /// Nothing to change: send the origin's bytes as they are.
    Unchanged { items: u64 },
    Rewritten { body: Vec<u8>, items: u64 },
}

impl Filtered {
    #[must_use]
    pub fn items(&self) -> u64 {
        match self {
            Self::Unchanged { items } | Self::Rewritten { items, .. } => *items,
        }
    }
}

/// Filters one response body for a recipient whose entity may receive at most `allowance` more
/// items.
///
/// # Errors
/// [`FilterError`] when the body cannot be filtered (not JSON, not the shape, an item that is
/// not an object under `ids_only`); the caller must not send it.
pub fn filter(body: &[u8], shape: &Shape, mode: Mode, allowance: u64) -> Result<Filtered, FilterError> {
    if body.len() > MAX_FILTER_BYTES {
        return Err(FilterError::TooLarge);
    }
    // JSON is UTF-8, and what the filter does not rewrite it passes on unread: check it all once.
    std::str::from_utf8(body).map_err(|_| FilterError::NotJson)?;
    let limit = usize::try_from(allowance).unwrap_or(usize::MAX);
    let ids_only = mode == Mode::IdsOnly;
    let items_at = shape.items.tokens();
    let container = match items::at(body, items_at) {
        Some(At::Here(raw)) if raw.get() != "null" => raw,
        Some(At::Here(_) | At::Absent) => {
            // No items: only the parts beside them can carry data.
            let edits = if ids_only { removals(shape) } else { Vec::new() };
            return Ok(match apply(body, &edits)? {
                Some(out) => Filtered::Rewritten { body: out.into_bytes(), items: 0 },
                None => Filtered::Unchanged { items: 0 },
            });
        }
        _ => return Err(FilterError::NotJson),
    };

    let text = container.get();
    if text.starts_with('[') {
        let list: Vec<&RawValue> = serde_json::from_str(text).map_err(|_| FilterError::NotJson)?;
        let total = list.len();
        if mode == Mode::Full && total <= limit {
            return Ok(Filtered::Unchanged { items: total as u64 });
        }
        let mut out = String::with_capacity(if ids_only { 32 * total.min(limit) } else { text.len() });
        out.push('[');
        let mut delivered = 0_usize;
        for item in list.into_iter().take(limit) {
            let reduced = if ids_only { reduce(item, shape)? } else { None };
            let one = match (&reduced, ids_only) {
                (Some(r), _) => r.as_str(),
                (None, true) => continue, // without an id it cannot be passed on
                (None, false) => item.get(),
            };
            if delivered > 0 {
                out.push(',');
            }
            out.push_str(one);
            delivered += 1;
        }
        out.push(']');
        if shape.items.is_root() {
            return Ok(Filtered::Rewritten { body: out.into_bytes(), items: delivered as u64 });
        }
        let recounted = delivered.to_string();
        let mut edits = vec![Edit { path: items_at, put: (delivered > 0 || !shape.omit_empty).then_some(out.as_str()) }];
        if let Some(count) = shape.count.as_ref().filter(|_| delivered != total) {
            edits.push(Edit { path: count.tokens(), put: Some(&recounted) });
        }
        if ids_only || delivered == 0 {
            edits.extend(removals(shape));
        }
        return Ok(Filtered::Rewritten { body: rewritten(body, &edits)?, items: delivered as u64 });
    }

    // One item (an object; anything else counts one, and cannot be reduced to an id).
    let one = if limit == 0 {
        None
    } else if ids_only {
        reduce(container, shape)?
    } else {
        return Ok(Filtered::Unchanged { items: 1 });
    };
    let items = u64::from(one.is_some());
    if shape.items.is_root() {
        return Ok(Filtered::Rewritten { body: one.unwrap_or_else(|| "null".into()).into_bytes(), items });
    }
    let put = match &one {
        Some(one) => Some(one.as_str()),
        None if shape.omit_empty => None,
        None => Some("null"),
    };
    let mut edits = vec![Edit { path: items_at, put }];
    edits.extend(removals(shape));
    Ok(Filtered::Rewritten { body: rewritten(body, &edits)?, items })
}

/// A change to one member of the body: its new JSON, or `None` to remove it.
#[derive(Clone, Copy)]
struct Edit<'a> {
    path: &'a [String],
    put: Option<&'a str>,
}

/// The parts `ids_only` removes (and a page cut to nothing: expansions of nothing).
fn removals(shape: &Shape) -> Vec<Edit<'_>> {
    shape.remove.iter().map(|p| Edit { path: p.tokens(), put: None }).collect()
}

fn rewritten(body: &[u8], edits: &[Edit<'_>]) -> Result<Vec<u8>, FilterError> {
    Ok(apply(body, edits)?.map_or_else(|| body.to_vec(), String::into_bytes))
}

/// The object `json` with the edits made, or `None` when none changes anything (a member to
/// remove that is not there). A count is set even where its parents are missing; a member is
/// removed only from objects.
fn apply(json: &[u8], edits: &[Edit<'_>]) -> Result<Option<String>, FilterError> {
    let removals_only = edits.iter().all(|e| e.put.is_none());
    if edits.is_empty() || (removals_only && !json.trim_ascii_start().starts_with(b"{")) {
        return Ok(None); // nothing to remove from what is not an object
    }
    let mut puts: Vec<(String, Box<RawValue>)> = Vec::new();
    let mut doc: BTreeMap<String, &RawValue> = serde_json::from_slice(json).map_err(|_| FilterError::NotJson)?;
    let mut removed = false;
    for (i, edit) in edits.iter().enumerate() {
        let Some(name) = edit.path.first() else { continue };
        if edits[..i].iter().any(|e| e.path.first() == Some(name)) {
            continue; // done with the first edit under this member
        }
        let inner: Vec<Edit<'_>> =
            edits[i..].iter().filter(|e| e.path.first() == Some(name)).map(|e| Edit { path: &e.path[1..], ..*e }).collect();
        let new = if let Some(whole) = inner.iter().find(|e| e.path.is_empty()) {
            whole.put.map(str::to_owned)
        } else {
            let sets = inner.iter().any(|e| e.put.is_some());
            match doc.get(name) {
                Some(child) if child.get().starts_with('{') => match apply(child.get().as_bytes(), &inner)? {
                    Some(changed) => Some(changed),
                    None => continue,
                },
                None if sets => apply(b"{}", &inner)?,
                _ if !sets => continue,
                _ => return Err(FilterError::NotJson),
            }
        };
        match new {
            Some(text) => puts.push((name.clone(), RawValue::from_string(text).map_err(|_| FilterError::NotJson)?)),
            None => removed |= doc.remove(name).is_some(),
        }
    }
    if puts.is_empty() && !removed {
        return Ok(None);
    }
    for (name, value) in &puts {
        doc.insert(name.clone(), value);
    }
    serde_json::to_string(&doc).map(Some).map_err(|_| FilterError::NotJson)
}

/// What `ids_only` leaves of one item: the members the shape keeps, or `None` for an item
/// without an id (it cannot be passed on). An item that is not an object cannot be reduced.
fn reduce(item: &RawValue, shape: &Shape) -> Result<Option<String>, FilterError> {
    if !item.get().starts_with('{') {
        return Err(FilterError::NotJson);
    }
    let json = item.get().as_bytes();
    let value = |p: &Pointer| match items::at(json, p.tokens()) {
        Some(At::Here(raw)) if raw.get() != "null" => Ok(Some(raw)),
        Some(_) => Ok(None),
        None => Err(FilterError::NotJson),
    };
    let Some(id) = value(&shape.id)? else { return Ok(None) };
    let mut kept = Vec::new();
    for p in shape.kept() {
        if let Some(raw) = if *p == shape.id { Some(id) } else { value(p)? } {
            keep(&mut kept, p.tokens(), raw);
        }
    }
    let mut out = String::new();
    write(&mut out, &kept);
    Ok(Some(out))
}

/// The members kept of an item, nested as they were.
enum Kept<'a> {
    Value(&'a RawValue),
    Object(Vec<(&'a str, Kept<'a>)>),
}

fn keep<'a>(object: &mut Vec<(&'a str, Kept<'a>)>, path: &'a [String], raw: &'a RawValue) {
    let Some((name, rest)) = path.split_first() else { return };
    if rest.is_empty() {
        object.push((name, Kept::Value(raw)));
        return;
    }
    let at = object.iter().position(|(n, k)| n == name && matches!(k, Kept::Object(_))).unwrap_or_else(|| {
        object.push((name, Kept::Object(Vec::new())));
        object.len() - 1
    });
    if let Kept::Object(inner) = &mut object[at].1 {
        keep(inner, rest, raw);
    }
}

fn write(out: &mut String, object: &[(&str, Kept<'_>)]) {
    out.push('{');
    for (i, (name, kept)) in object.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // A string always serialises.
        out.push_str(&serde_json::to_string(name).unwrap_or_default());
        out.push(':');
        match kept {
            Kept::Value(raw) => out.push_str(raw.get()),
            Kept::Object(inner) => write(out, inner),
        }
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// X API v2's shape, which every test before shapes used.
    fn filter(body: &[u8], mode: Mode, allowance: u64) -> Result<Filtered, FilterError> {
        super::filter(body, &Shape::x_v2(), mode, allowance)
    }

    fn shaped(json: &str) -> Shape {
        let shape: Shape = serde_json::from_str(json).unwrap();
        assert_eq!(shape.problem(), None);
        shape
    }

    const PAGE: &str = r#"{"data":[{"id":"1","text":"a","author_id":"9"},{"id":"2","text":"b","author_id":"9"},{"id":"3","text":"c","author_id":"8"}],
        "includes":{"users":[{"id":"9","name":"N","username":"n"}]},
        "meta":{"newest_id":"3","oldest_id":"1","result_count":3,"next_token":"t2"}}"#;

    fn parse(f: &Filtered) -> Value {
        match f {
            Filtered::Rewritten { body, .. } => serde_json::from_slice(body).unwrap(),
            Filtered::Unchanged { .. } => panic!("expected a rewrite"),
        }
    }

    #[test]
    fn ids_only_keeps_ids_and_meta_and_drops_expansions() {
        let f = filter(PAGE.as_bytes(), Mode::IdsOnly, 100).unwrap();
        assert_eq!(f.items(), 3);
        let v = parse(&f);
        assert_eq!(v["data"], serde_json::json!([{"id":"1"},{"id":"2"},{"id":"3"}]));
        assert!(v.get("includes").is_none());
        assert_eq!(v["meta"]["result_count"], 3);
        assert_eq!(v["meta"]["next_token"], "t2");
    }

    #[test]
    fn full_mode_within_allowance_leaves_the_body_alone() {
        assert_eq!(filter(PAGE.as_bytes(), Mode::Full, 3).unwrap(), Filtered::Unchanged { items: 3 });
    }

    #[test]
    fn the_allowance_cuts_data_and_recounts_meta() {
        let f = filter(PAGE.as_bytes(), Mode::Full, 2).unwrap();
        let v = parse(&f);
        assert_eq!(f.items(), 2);
        assert_eq!(v["data"].as_array().unwrap().len(), 2);
        assert_eq!(v["data"][0]["text"], "a");
        assert_eq!(v["meta"]["result_count"], 2);
        let none = filter(PAGE.as_bytes(), Mode::IdsOnly, 0).unwrap();
        assert_eq!(none.items(), 0);
        assert!(parse(&none).get("data").is_none());
    }

    #[test]
    fn single_objects_and_error_only_responses() {
        let one = br#"{"data":{"id":"20","text":"t","author_id":"1"},"includes":{"users":[{"id":"1"}]}}"#;
        let f = filter(one, Mode::IdsOnly, 10).unwrap();
        assert_eq!(parse(&f), serde_json::json!({"data":{"id":"20"}}));
        assert_eq!(filter(one, Mode::Full, 10).unwrap(), Filtered::Unchanged { items: 1 });
        let errors = br#"{"errors":[{"value":"7","title":"Not Found Error"}]}"#;
        assert_eq!(filter(errors, Mode::IdsOnly, 10).unwrap(), Filtered::Unchanged { items: 0 });
    }

    #[test]
    fn malformed_bodies_are_refused_not_passed() {
        for bad in [&b"<html>oops"[..], b"[1,2]", br#"{"data":[{"id":"1"},"#, b"", br#"{"data":[1,2]}"#] {
            assert_eq!(filter(bad, Mode::IdsOnly, 10), Err(FilterError::NotJson), "{}", String::from_utf8_lossy(bad));
        }
        let huge = vec![b' '; MAX_FILTER_BYTES + 1];
        assert_eq!(filter(&huge, Mode::IdsOnly, 10), Err(FilterError::TooLarge));
    }

    #[test]
    fn a_large_page_is_filtered_within_bounds() {
        let items: Vec<String> = (0..50_000).map(|i| format!(r#"{{"id":"{i}","text":"{}"}}"#, "x".repeat(100))).collect();
        let body = format!(r#"{{"data":[{}],"meta":{{"result_count":50000}}}}"#, items.join(","));
        let f = filter(body.as_bytes(), Mode::IdsOnly, 1_000_000).unwrap();
        assert_eq!(f.items(), 50_000);
        let Filtered::Rewritten { body: out, .. } = f else { panic!() };
        assert!(out.len() < body.len() / 5);
    }

    #[test]
    fn a_top_level_array_keeps_numeric_ids_and_is_cut_in_place() {
        let array = shaped(r#"{"items":""}"#);
        let body = br#"[{"id":101,"name":"a","price":5},{"id":102,"name":"b"},{"name":"no id"},{"id":104}]"#;
        let f = super::filter(body, &array, Mode::IdsOnly, 10).unwrap();
        assert_eq!(f.items(), 3);
        assert_eq!(parse(&f), serde_json::json!([{"id":101},{"id":102},{"id":104}]));
        let cut = super::filter(body, &array, Mode::Full, 1).unwrap();
        assert_eq!(parse(&cut), serde_json::json!([{"id":101,"name":"a","price":5}]));
        assert_eq!(super::filter(body, &array, Mode::Full, 4).unwrap(), Filtered::Unchanged { items: 4 });
        assert_eq!(parse(&super::filter(body, &array, Mode::Full, 0).unwrap()), serde_json::json!([]));
        // One object as the whole body: one item.
        let one = super::filter(br#"{"id":7,"name":"x"}"#, &array, Mode::IdsOnly, 1).unwrap();
        assert_eq!((parse(&one), one.items()), (serde_json::json!({"id":7}), 1));
        assert_eq!(parse(&super::filter(br#"{"id":7}"#, &array, Mode::Full, 0).unwrap()), serde_json::Value::Null);
        // Not the shape: refused.
        assert_eq!(super::filter(br#"[1,2]"#, &array, Mode::IdsOnly, 5), Err(FilterError::NotJson));
    }

    #[test]
    fn a_nested_listing_keeps_nested_ids_and_recounts_its_own_field() {
        let listing = shaped(r#"{"items":"/data/children","id":"/data/id","keep":["/kind","/data/id","/data/name"],"remove":["/data/facets"],"count":"/data/dist"}"#);
        let body = br#"{"kind":"Listing","data":{"after":"t3_c","dist":3,"facets":{"x":1},"children":[
            {"kind":"t3","data":{"id":"a","name":"t3_a","title":"one","author":"u"}},
            {"kind":"t3","data":{"name":"t3_b","title":"no id"}},
            {"kind":"t3","data":{"id":"c","name":"t3_c","title":"three"}}]}}"#;
        let f = super::filter(body, &listing, Mode::IdsOnly, 10).unwrap();
        let v = parse(&f);
        assert_eq!(f.items(), 2);
        assert_eq!(v["data"]["children"], serde_json::json!([
            {"kind":"t3","data":{"id":"a","name":"t3_a"}},{"kind":"t3","data":{"id":"c","name":"t3_c"}}]));
        assert_eq!(v["data"]["dist"], 2);
        assert_eq!(v["data"]["after"], "t3_c");
        assert_eq!(v["kind"], "Listing");
        assert!(v["data"].get("facets").is_none());
        let cut = super::filter(body, &listing, Mode::Full, 1).unwrap();
        let v = parse(&cut);
        assert_eq!(v["data"]["children"].as_array().unwrap().len(), 1);
        assert_eq!(v["data"]["children"][0]["data"]["title"], "one");
        assert_eq!(v["data"]["dist"], 1);
        assert_eq!(v["data"]["facets"], serde_json::json!({"x":1}), "full mode keeps what it delivers with");
        let none = parse(&super::filter(body, &listing, Mode::Full, 0).unwrap());
        assert_eq!(none["data"]["children"], serde_json::json!([]), "without omit_empty the list stays, empty");
        assert_eq!(none["data"]["dist"], 0);
        // An error body has no items.
        assert_eq!(super::filter(br#"{"message":"Forbidden","error":403}"#, &listing, Mode::IdsOnly, 5).unwrap(), Filtered::Unchanged { items: 0 });
        // Something other than an object on the way to the items.
        assert_eq!(super::filter(br#"{"data":[]}"#, &listing, Mode::IdsOnly, 5), Err(FilterError::NotJson));
    }

    #[test]
    fn a_count_is_set_where_its_parents_are_missing_and_a_repeated_member_is_refused() {
        let f = filter(br#"{"data":[{"id":"1"},{"id":"2"}]}"#, Mode::Full, 1).unwrap();
        assert_eq!(parse(&f)["meta"]["result_count"], 1);
        assert_eq!(filter(br#"{"data":[{"id":"1"}],"data":[{"id":"2"},{"id":"3"}]}"#, Mode::IdsOnly, 10), Err(FilterError::NotJson));
        // `null` items are no items; a `null` body is not the shape (found by the `stream` fuzz
        // target: a `null` line left for a recipient).
        assert_eq!(filter(br#"{"data":null}"#, Mode::Full, 10).unwrap(), Filtered::Unchanged { items: 0 });
        assert_eq!(filter(b"null", Mode::IdsOnly, 10), Err(FilterError::NotJson));
        assert_eq!(super::filter(b"null", &shaped(r#"{"items":""}"#), Mode::IdsOnly, 10).unwrap(), Filtered::Unchanged { items: 0 });
        // Found by the `stream` fuzz target: text that is not UTF-8 beside the items.
        assert_eq!(filter(b"{\"other\":{\"\xe9d\":\"2\"}}", Mode::Full, 10), Err(FilterError::NotJson));
    }
}
