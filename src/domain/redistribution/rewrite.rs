//! The response filter for downstream recipients: `ids_only` reduces every object in `data` to
//! its `id` and removes `includes`; every mode cuts `data` to the IDs the recipient's entity may
//! still receive. Everything else in the response (`meta`, `errors`, …) stays, so client
//! libraries still parse it.
//!
//! The body is parsed once into borrowed raw fragments: memory stays near twice the body, and
//! bodies above [`MAX_FILTER_BYTES`] are refused rather than filtered (the edge answers 502 and
//! nothing leaves unfiltered).

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::domain::redistribution::recipient::Mode;

/// Largest body the filter reads. X API pages are far smaller; anything larger is refused.
pub const MAX_FILTER_BYTES: usize = 32 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("the response is not a JSON object")]
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

#[derive(Deserialize)]
struct IdOnly<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
}

/// Filters one response body for a recipient whose entity may receive at most `allowance` more
/// items.
///
/// # Errors
/// [`FilterError`] when the body cannot be filtered; the caller must not send it.
pub fn filter(body: &[u8], mode: Mode, allowance: u64) -> Result<Filtered, FilterError> {
    if body.len() > MAX_FILTER_BYTES {
        return Err(FilterError::TooLarge);
    }
    let mut doc: std::collections::BTreeMap<String, &RawValue> =
        serde_json::from_slice(body).map_err(|_| FilterError::NotJson)?;
    let limit = usize::try_from(allowance).unwrap_or(usize::MAX);

    let Some(data) = doc.get("data").copied() else {
        // No items: only the expansions can carry data.
        if mode == Mode::IdsOnly && doc.remove("includes").is_some() {
            return Ok(Filtered::Rewritten { body: serialise(&doc)?, items: 0 });
        }
        return Ok(Filtered::Unchanged { items: 0 });
    };

    let trimmed = data.get().trim_start();
    if trimmed.starts_with('[') {
        let items: Vec<&RawValue> = serde_json::from_str(data.get()).map_err(|_| FilterError::NotJson)?;
        let total = items.len();
        if mode == Mode::Full && total <= limit {
            return Ok(Filtered::Unchanged { items: total as u64 });
        }
        let kept: Vec<String> = items
            .into_iter()
            .take(limit)
            .map(|item| if mode == Mode::IdsOnly { id_only(item) } else { Ok(Some(item.get().to_owned())) })
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect();
        let delivered = kept.len();
        let data_json = format!("[{}]", kept.join(","));
        let meta_json = if delivered == total { None } else { Some(recount(doc.get("meta").copied(), delivered)?) };
        let data_raw = RawValue::from_string(data_json).map_err(|_| FilterError::NotJson)?;
        let meta_raw = meta_json.map(RawValue::from_string).transpose().map_err(|_| FilterError::NotJson)?;
        doc.insert("data".into(), &data_raw);
        if let Some(meta) = &meta_raw {
            doc.insert("meta".into(), meta);
        }
        if mode == Mode::IdsOnly {
            doc.remove("includes");
        }
        if delivered == 0 {
            doc.remove("data");
        }
        return Ok(Filtered::Rewritten { body: serialise(&doc)?, items: delivered as u64 });
    }

    // A single object in `data`.
    if limit == 0 {
        doc.remove("data");
        doc.remove("includes");
        return Ok(Filtered::Rewritten { body: serialise(&doc)?, items: 0 });
    }
    if mode == Mode::Full {
        return Ok(Filtered::Unchanged { items: 1 });
    }
    let one = id_only(data)?;
    let raw = one.map(RawValue::from_string).transpose().map_err(|_| FilterError::NotJson)?;
    doc.remove("includes");
    match &raw {
        Some(r) => {
            doc.insert("data".into(), r);
        }
        None => {
            doc.remove("data");
        }
    }
    let items = u64::from(raw.is_some());
    Ok(Filtered::Rewritten { body: serialise(&doc)?, items })
}

/// `{"id": …}` of one object; `None` for an element without an id (it cannot be passed on).
fn id_only(item: &RawValue) -> Result<Option<String>, FilterError> {
    let parsed: IdOnly<'_> = serde_json::from_str(item.get()).map_err(|_| FilterError::NotJson)?;
    Ok(parsed.id.map(|id| format!("{{\"id\":{}}}", id.get())))
}

/// `meta` with `result_count` set to what is actually delivered.
fn recount(meta: Option<&RawValue>, delivered: usize) -> Result<String, FilterError> {
    let mut meta: Map<String, Value> = match meta {
        Some(raw) => serde_json::from_str(raw.get()).map_err(|_| FilterError::NotJson)?,
        None => Map::new(),
    };
    meta.insert("result_count".into(), Value::from(delivered));
    serde_json::to_string(&meta).map_err(|_| FilterError::NotJson)
}

fn serialise(doc: &std::collections::BTreeMap<String, &RawValue>) -> Result<Vec<u8>, FilterError> {
    serde_json::to_vec(doc).map_err(|_| FilterError::NotJson)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
