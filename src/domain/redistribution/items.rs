//! Items in an origin response: the entries of its top-level `data` (an array counts its length,
//! a single object counts one). This is what monthly caps and the ledger count.

use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
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

/// What `data` holds, read in one pass: how many items, and the ids of those that are objects
/// with one (`None` when an item is not an object: such a `data` has no ids to list).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Read {
    pub items: u64,
    pub ids: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct ReadEnvelope {
    #[serde(default)]
    data: Option<Read>,
}

/// Reads `data` as it comes: nothing is buffered, every field but an item's `id` is skipped.
impl<'de> Deserialize<'de> for Read {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DataVisitor)
    }
}

struct DataVisitor;

impl<'de> Visitor<'de> for DataVisitor {
    type Value = Read;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("data")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Read, A::Error> {
        let mut read = Read { items: 0, ids: Some(Vec::new()) };
        while let Some(item) = seq.next_element::<Item>()? {
            read.items += 1;
            match (item, read.ids.as_mut()) {
                (Item::Object(Some(id)), Some(ids)) => ids.push(id),
                (Item::Object(None), _) | (_, None) => {}
                (Item::Other, Some(_)) => read.ids = None,
            }
        }
        Ok(read)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Read, A::Error> {
        let id = ItemVisitor.visit_map(map)?;
        Ok(Read { items: 1, ids: Some(match id {
            Item::Object(id) => id.into_iter().collect(),
            Item::Other => Vec::new(),
        }) })
    }

    fn visit_unit<E>(self) -> Result<Read, E> {
        Ok(Read { items: 0, ids: Some(Vec::new()) })
    }

    // Any other value is one item that is not an object.
    fn visit_bool<E>(self, _: bool) -> Result<Read, E> {
        Ok(Read { items: 1, ids: None })
    }
    fn visit_i64<E>(self, _: i64) -> Result<Read, E> {
        Ok(Read { items: 1, ids: None })
    }
    fn visit_u64<E>(self, _: u64) -> Result<Read, E> {
        Ok(Read { items: 1, ids: None })
    }
    fn visit_f64<E>(self, _: f64) -> Result<Read, E> {
        Ok(Read { items: 1, ids: None })
    }
    fn visit_str<E>(self, _: &str) -> Result<Read, E> {
        Ok(Read { items: 1, ids: None })
    }
}

/// One item of `data`: an object, with its id if it has one, or anything else.
enum Item {
    Object(Option<String>),
    Other,
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ItemVisitor)
    }
}

struct ItemVisitor;

impl<'de> Visitor<'de> for ItemVisitor {
    type Value = Item;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an item")
    }

    /// An object: its `id` (a string, or a number as written), every other field skipped; the
    /// last `id` wins, as in a JSON map.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Item, A::Error> {
        let mut id = None;
        while let Some(key) = map.next_key::<Key>()? {
            if key.0 {
                id = match map.next_value::<serde_json::Value>()? {
                    serde_json::Value::String(s) => Some(s),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    _ => None,
                };
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Item::Object(id))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Item, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Item::Other)
    }

    fn visit_unit<E>(self) -> Result<Item, E> {
        Ok(Item::Other)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Item, E> {
        Ok(Item::Other)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Item, E> {
        Ok(Item::Other)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Item, E> {
        Ok(Item::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Item, E> {
        Ok(Item::Other)
    }
    fn visit_str<E>(self, _: &str) -> Result<Item, E> {
        Ok(Item::Other)
    }
}

/// A key of an item: whether it is `id`.
struct Key(bool);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E>(self, key: &str) -> Result<Key, E> {
                Ok(Key(key == "id"))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// Items and ids of a JSON body in one pass, or `None` when the body is not a JSON object whose
/// `data` (and every item's keys and `id`) can be read.
#[must_use]
pub fn read(body: &[u8]) -> Option<Read> {
    if !is_object(body) {
        return None;
    }
    let envelope: ReadEnvelope = serde_json::from_slice(body).ok()?;
    Some(envelope.data.unwrap_or(Read { items: 0, ids: Some(Vec::new()) }))
}

/// The ids of the items in a JSON body (items without an id are left out), or `None` when the
/// body is not a JSON object with a well-formed `data` whose items are all objects.
#[must_use]
pub fn ids(body: &[u8]) -> Option<Vec<String>> {
    read(body)?.ids
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
    fn reads_items_and_ids_in_one_pass_as_count_and_ids_do() {
        let read_as = |items: u64, ids: Option<&[&str]>| Some(Read { items, ids: ids.map(|i| i.iter().map(|s| (*s).to_owned()).collect()) });
        assert_eq!(read(br#"{"data":[{"id":"1","text":"a"},{"id":2},{"text":"no id"}],"meta":{}}"#), read_as(3, Some(&["1", "2"])));
        assert_eq!(read(br#"{"data":{"id":"9","x":{"id":"nested"},"id":"10"}}"#), read_as(1, Some(&["10"])), "the last id wins");
        assert_eq!(read(br#"{"data":[{"id":"1"},5]}"#), read_as(2, None));
        assert_eq!(read(br#"{"data":"x"}"#), read_as(1, None));
        assert_eq!(read(br#"{"data":null}"#), read_as(0, Some(&[])));
        assert_eq!(read(br#"{"errors":[{"detail":"x"}]}"#), read_as(0, Some(&[])));
        assert_eq!(read(br#"{"data":{"id":true}}"#), read_as(1, Some(&[])));
        assert_eq!(read(b"[1]"), None);
        assert_eq!(read(br#"{"data":[1,2"#), None);
        for body in [&br#"{"data":[{"id":"1"},{"id":"2"}]}"#[..], br#"{"data":{"id":"1"}}"#, br#"{"meta":{}}"#, br#"{"data":[5]}"#] {
            assert_eq!(read(body).map(|r| r.items), count(body), "{}", String::from_utf8_lossy(body));
        }
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
