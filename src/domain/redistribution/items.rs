//! Items in an origin response: the entries of its top-level `data` (an array counts its length,
//! a single object counts one). This is what monthly caps and the ledger count.

use serde::de::IgnoredAny;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(untagged)]
enum Data {
    Many(Vec<IgnoredAny>),
    One(IgnoredAny),
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    data: Option<Data>,
}

/// Whether a body can be a JSON object. Serde also reads a struct from an array, so without this
/// `[[1, 2]]` would count two items and `[[{"id":"1"}]]` list an id.
fn is_object(body: &[u8]) -> bool {
    body.trim_ascii_start().first() == Some(&b'{')
}

/// Items in a JSON body, or `None` when the body is not a JSON object (it is then passed on
/// unchanged and counted as zero items).
#[must_use]
pub fn count(body: &[u8]) -> Option<u64> {
    if !is_object(body) {
        return None;
    }
    let envelope: Envelope = serde_json::from_slice(body).ok()?;
    Some(match envelope.data {
        None => 0,
        Some(Data::Many(items)) => items.len() as u64,
        Some(Data::One(_)) => 1,
    })
}

/// One item of `data`. A map, not a derived struct: serde reads a struct from an array too, and
/// `"data":[5]` would then list the id `5`.
type Item = serde_json::Map<String, serde_json::Value>;

#[derive(Deserialize)]
#[serde(untagged)]
enum IdData {
    Many(Vec<Item>),
    One(Item),
}

#[derive(Deserialize)]
struct IdEnvelope {
    #[serde(default)]
    data: Option<IdData>,
}

/// The ids of the items in a JSON body (items without an id are left out), or `None` when the
/// body is not a JSON object with a well-formed `data`.
#[must_use]
pub fn ids(body: &[u8]) -> Option<Vec<String>> {
    if !is_object(body) {
        return None;
    }
    let envelope: IdEnvelope = serde_json::from_slice(body).ok()?;
    let id = |mut item: Item| match item.remove("id") {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    Some(match envelope.data {
        None => Vec::new(),
        Some(IdData::Many(items)) => items.into_iter().filter_map(id).collect(),
        Some(IdData::One(item)) => id(item).into_iter().collect(),
    })
}

/// Whether a response with this content type is worth parsing for items.
#[must_use]
pub fn is_json(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|t| {
        let t = t.trim_start().to_ascii_lowercase();
        t.starts_with("application/json") || (t.starts_with("application/") && t.contains("+json"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_arrays_objects_and_absences() {
        assert_eq!(count(br#"{"data":[{"id":"1"},{"id":"2"}],"meta":{"result_count":2}}"#), Some(2));
        assert_eq!(count(br#"{"data":{"id":"1","text":"x"}}"#), Some(1));
        assert_eq!(count(br#"{"meta":{"result_count":0}}"#), Some(0));
        assert_eq!(count(br#"{"errors":[{"detail":"x"}]}"#), Some(0));
    }

    #[test]
    fn malformed_bodies_are_not_counted() {
        assert_eq!(count(b"<html>oops"), None);
        assert_eq!(count(b"[1,2,3]"), None);
        assert_eq!(count(br#"{"data":[1,2"#), None);
        assert_eq!(count(b""), None);
    }

    #[test]
    fn a_lone_surrogate_in_a_skipped_field_is_counted_not_refused() {
        // Found by the `items` fuzz target: counting skips fields it does not read.
        let body = b"{\"errors\":[{\"deff)fffj'a\\udfffX,tail\":\"x\"}]}";
        assert_eq!(count(body), Some(0));
    }

    #[test]
    fn lists_the_ids_of_items() {
        assert_eq!(ids(br#"{"data":[{"id":"1","text":"a"},{"id":2},{"text":"no id"}]}"#).unwrap(), ["1", "2"]);
        assert_eq!(ids(br#"{"data":{"id":"20"}}"#).unwrap(), ["20"]);
        assert_eq!(ids(br#"{"meta":{}}"#).unwrap(), Vec::<String>::new());
        assert_eq!(ids(b"oops"), None);
    }

    #[test]
    fn recognises_json_content_types() {
        assert!(is_json(Some("application/json; charset=utf-8")));
        assert!(is_json(Some("application/problem+json")));
        assert!(!is_json(Some("text/html")));
        assert!(!is_json(None));
    }

    #[test]
    fn arrays_are_not_objects() {
        // Found by fuzzing: serde reads a struct from an array, so these were counted, or listed
        // as ids.
        assert_eq!(count(b"[]"), None);
        assert_eq!(count(b" [[1,2]]"), None);
        assert_eq!(ids(br#"[[{"id":"1"}]]"#), None);
        assert_eq!(ids(br#"{"data":[5]}"#), None);
        assert_eq!(ids(br#"{"data":["7"]}"#), None);
        assert_eq!(ids(br#"{"data":[[1],[2]]}"#), None);
        assert_eq!(count(b" \n{\"data\":[1,2]}"), Some(2));
    }
}
