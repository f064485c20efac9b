//! Items in an origin response, where the endpoint's shape says they are (`shape`): an array
//! there counts its length, anything else but `null` counts one, and a body without that member
//! counts none. This is what monthly caps and the ledger count.
//!
//! The body is read once, as a stream of tokens: only the members on the way to the items and the
//! ids inside them are looked at; everything else is skipped without being kept, so the cost is
//! one pass over the body whatever the shape.

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::rc::Rc;

use serde_json::value::RawValue;

use super::shape::Shape;

pub mod scan;

/// What a body holds where its shape puts the items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    pub items: u64,
    /// The ids of the items that have one (a string or a number), when they were asked for and
    /// every item is an object; `None` otherwise.
    pub ids: Option<Vec<String>>,
}

/// Items in a JSON body, or `None` when the body does not have the shape: it is not JSON, or
/// something other than an object lies on the way to the items (a top-level array where the
/// items are `/data`, say). A repeated member on that way is refused too: readers differ on
/// which one counts.
#[must_use]
pub fn count(body: &[u8], shape: &Shape) -> Option<u64> {
    read(body, shape, false).map(|r| r.items)
}

/// The ids of the items in a JSON body (items without an id are left out), or `None` when the
/// body does not have the shape or an item is not an object.
#[must_use]
pub fn ids(body: &[u8], shape: &Shape) -> Option<Vec<String>> {
    read(body, shape, true).and_then(|r| r.ids)
}

/// The items of a JSON body, and their ids if `with_ids`, in one pass; `None` as for [`count`].
/// Counting skips the items unread, while listing ids reads each item's member names and values;
/// an item that cannot be read so (a name that is not UTF-8, a number beyond `f64`) leaves the
/// items counted without ids (counted as distinct), never fewer. The common case is read by hand
/// ([`scan`]); whatever it is not sure of, by [`read_by_tokens`].
#[must_use]
pub fn read(body: &[u8], shape: &Shape, with_ids: bool) -> Option<Reading> {
    scan::read(body, shape.items.tokens(), shape.id.tokens(), with_ids).or_else(|| read_by_tokens(body, shape, with_ids))
}

/// [`read`] by the full reader alone (`serde_json`, token by token), whatever the body.
#[must_use]
pub fn read_by_tokens(body: &[u8], shape: &Shape, with_ids: bool) -> Option<Reading> {
    let want = if with_ids { Want::Ids(shape.id.tokens()) } else { Want::Count };
    let Some(found) = walk(body, shape.items.tokens(), want) else {
        return if with_ids { read_by_tokens(body, shape, false) } else { None };
    };
    match found {
        Found::Items(reading) => Some(reading),
        Found::Absent | Found::Raw(_) => Some(Reading { items: 0, ids: with_ids.then(Vec::new) }),
        Found::Mismatch => None,
    }
}

/// How one endpoint's responses are counted: its shape, and whether the plan counts their items
/// against a monthly cap (which decides what a body of another shape gets, see [`meter`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Metering {
    pub shape: Rc<Shape>,
    pub capped: bool,
}

/// A successful body that does not have its endpoint's shape (not JSON, or JSON of another
/// shape), and what becomes of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unshaped {
    /// Under a monthly cap: refused, since passing it on would deliver items the cap never sees.
    Refused,
    /// Without a cap: passed on as the origin's answer, counting no items.
    Passed,
}

/// The rule for a successful body: one of the declared shape is read; one that is not is
/// [`Unshaped`], refused under a cap and passed on as no items without one. An empty body
/// (`HEAD`, `204`) carries nothing. (A body for a recipient goes through the filter instead,
/// which refuses what it cannot read.)
///
/// # Errors
/// [`Unshaped`] for a body that does not have its shape.
pub fn meter(body: &[u8], metering: &Metering) -> Result<Reading, Unshaped> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Reading { items: 0, ids: Some(Vec::new()) });
    }
    read(body, &metering.shape, true).ok_or(if metering.capped { Unshaped::Refused } else { Unshaped::Passed })
}

/// Whether a response with this content type is worth parsing for items.
#[must_use]
pub fn is_json(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|t| {
        let t = t.trim_start().to_ascii_lowercase();
        t.starts_with("application/json") || (t.starts_with("application/") && t.contains("+json"))
    })
}

/// What lies at a pointer in a JSON text: the raw value, borrowed from the text.
#[derive(Debug, Clone, Copy)]
pub enum At<'a> {
    /// A member on the way is missing or `null`.
    Absent,
    /// An array or a scalar lies on the way (or the whole text is `null`).
    Mismatch,
    Here(&'a RawValue),
}

/// The value at `path` in a JSON text (the whole text checked), or `None` when it is not JSON or
/// repeats a member on the way.
#[must_use]
pub fn at<'a>(json: &'a [u8], path: &[String]) -> Option<At<'a>> {
    Some(match walk(json, path, Want::Raw)? {
        Found::Raw(raw) => At::Here(raw),
        Found::Mismatch => At::Mismatch,
        Found::Absent | Found::Items(_) => At::Absent,
    })
}

fn walk<'a>(json: &'a [u8], path: &[String], want: Want<'_>) -> Option<Found<'a>> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let found = Walk { path, want, root: true }.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(found)
}

/// What a walk does where its pointer leads.
#[derive(Clone, Copy)]
enum Want<'s> {
    /// Count the items there.
    Count,
    /// Count them and list their ids (at this pointer inside each).
    Ids(&'s [String]),
    /// Take the value there as it is written.
    Raw,
}

enum Found<'a> {
    Absent,
    Mismatch,
    Items(Reading),
    Raw(&'a RawValue),
}

/// Follows a pointer down the document, skipping every other member unread, and does what is
/// wanted where it leads.
#[derive(Clone, Copy)]
struct Walk<'s> {
    path: &'s [String],
    want: Want<'s>,
    /// At the top of the document, where only an object fits a pointer that goes further.
    root: bool,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = Found<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Found<'de>, D::Error> {
        if self.path.is_empty() && matches!(self.want, Want::Raw) {
            return <&RawValue as serde::Deserialize>::deserialize(d).map(Found::Raw);
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = Found<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Found<'de>, A::Error> {
        let Some((name, rest)) = self.path.split_first() else {
            // One object: one item.
            let ids = match self.want {
                Want::Ids(id) => Some(IdOf { path: id, item: true }.visit_map(map)?.flatten().into_iter().collect()),
                _ => {
                    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                    None
                }
            };
            return Ok(Found::Items(Reading { items: 1, ids }));
        };
        let mut found = None;
        while let Some(hit) = map.next_key_seed(Name(name))? {
            if !hit {
                map.next_value::<IgnoredAny>()?;
            } else if found.is_some() {
                return Err(de::Error::custom("a member on the way is repeated"));
            } else {
                found = Some(map.next_value_seed(Walk { path: rest, root: false, ..self })?);
            }
        }
        Ok(found.unwrap_or(Found::Absent))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Found<'de>, A::Error> {
        let mut items = 0;
        let id = match (self.path.is_empty(), self.want) {
            (true, Want::Ids(id)) => id,
            (true, _) => {
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    items += 1;
                }
                return Ok(Found::Items(Reading { items, ids: None }));
            }
            (false, _) => {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                return Ok(Found::Mismatch);
            }
        };
        let mut ids = Some(Vec::new());
        while let Some(item) = seq.next_element_seed(IdOf { path: id, item: true })? {
            items += 1;
            match (item, ids.as_mut()) {
                (Some(Some(one)), Some(list)) => list.push(one),
                (None, _) => ids = None,
                _ => {}
            }
        }
        Ok(Found::Items(Reading { items, ids }))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Found<'de>, E> {
        // `null` on the way to the items (or there) is no items; a whole body of `null` where
        // the items are a member is not the shape.
        Ok(if self.root && !self.path.is_empty() { Found::Mismatch } else { Found::Absent })
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Found<'de>, E> {
        Ok(self.scalar())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Found<'de>, E> {
        Ok(self.scalar())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Found<'de>, E> {
        Ok(self.scalar())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Found<'de>, E> {
        Ok(self.scalar())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Found<'de>, E> {
        Ok(self.scalar())
    }
}

impl Walk<'_> {
    /// A scalar where the items are counts one (it is something, and counting never errs low);
    /// on the way to them it is not the shape.
    fn scalar(self) -> Found<'static> {
        if self.path.is_empty() {
            Found::Items(Reading { items: 1, ids: None })
        } else {
            Found::Mismatch
        }
    }
}

/// Whether a member name is the one sought, read without keeping it.
struct Name<'s>(&'s str);

impl<'de> DeserializeSeed<'de> for Name<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Name<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<bool, E> {
        Ok(name == self.0)
    }
}

/// The id at a pointer inside an item: a string as it is, a number as JSON writes it; anything
/// else, or nothing, is no id. A repeated member counts as its last, as JSON readers take it.
/// `None` when the item itself is not an object.
struct IdOf<'s> {
    path: &'s [String],
    /// This is the item itself, not a member inside it.
    item: bool,
}

type IdFound = Option<Option<String>>;

impl IdOf<'_> {
    fn scalar(&self, text: impl FnOnce() -> Option<String>) -> IdFound {
        match (self.item, self.path.is_empty()) {
            (true, _) => None,
            (false, true) => Some(text()),
            (false, false) => Some(None),
        }
    }
}

impl<'de> DeserializeSeed<'de> for IdOf<'_> {
    type Value = IdFound;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<IdFound, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for IdOf<'_> {
    type Value = IdFound;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an item")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IdFound, A::Error> {
        let mut found = None;
        let Some((name, rest)) = self.path.split_first() else {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(Some(None));
        };
        while let Some(hit) = map.next_key_seed(Name(name))? {
            if hit {
                found = map.next_value_seed(IdOf { path: rest, item: false })?.flatten();
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Some(found))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<IdFound, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(self.scalar(|| None))
    }

    fn visit_unit<E: de::Error>(self) -> Result<IdFound, E> {
        Ok(self.scalar(|| None))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<IdFound, E> {
        Ok(self.scalar(|| None))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<IdFound, E> {
        Ok(self.scalar(|| Some(n.to_string())))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<IdFound, E> {
        Ok(self.scalar(|| Some(n.to_string())))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<IdFound, E> {
        Ok(self.scalar(|| serde_json::Number::from_f64(n).map(|n| n.to_string())))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<IdFound, E> {
        Ok(self.scalar(|| Some(s.to_owned())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x() -> Shape {
        Shape::x_v2()
    }

    fn array() -> Shape {
        serde_json::from_str(r#"{"items":""}"#).unwrap()
    }

    fn listing() -> Shape {
        serde_json::from_str(r#"{"items":"/data/children","id":"/data/id","keep":["/kind","/data/id"],"count":"/data/dist"}"#).unwrap()
    }

    #[test]
    fn counts_arrays_objects_and_absences() {
        assert_eq!(count(br#"{"data":[{"id":"1"},{"id":"2"}],"meta":{"result_count":2}}"#, &x()), Some(2));
        assert_eq!(count(br#"{"data":{"id":"1","text":"x"}}"#, &x()), Some(1));
        assert_eq!(count(br#"{"meta":{"result_count":0}}"#, &x()), Some(0));
        assert_eq!(count(br#"{"errors":[{"detail":"x"}]}"#, &x()), Some(0));
    }

    #[test]
    fn malformed_bodies_are_not_counted() {
        assert_eq!(count(b"<html>oops", &x()), None);
        assert_eq!(count(b"[1,2,3]", &x()), None);
        assert_eq!(count(br#"{"data":[1,2"#, &x()), None);
        assert_eq!(count(b"", &x()), None);
        assert_eq!(count(b"null", &x()), None, "a null body is not an object");
        assert_eq!(count(br#"{"data":null}"#, &x()), Some(0));
    }

    #[test]
    fn a_lone_surrogate_in_a_skipped_field_is_counted_not_refused() {
        // Found by the `items` fuzz target: counting skips fields it does not read.
        let body = b"{\"errors\":[{\"deff)fffj'a\\udfffX,tail\":\"x\"}]}";
        assert_eq!(count(body, &x()), Some(0));
    }

    #[test]
    fn lists_the_ids_of_items() {
        assert_eq!(ids(br#"{"data":[{"id":"1","text":"a"},{"id":2},{"text":"no id"}]}"#, &x()).unwrap(), ["1", "2"]);
        assert_eq!(ids(br#"{"data":{"id":"20"}}"#, &x()).unwrap(), ["20"]);
        assert_eq!(ids(br#"{"meta":{}}"#, &x()).unwrap(), Vec::<String>::new());
        assert_eq!(ids(b"oops", &x()), None);
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
        assert_eq!(count(b"[]", &x()), None);
        assert_eq!(count(b" [[1,2]]", &x()), None);
        assert_eq!(ids(br#"[[{"id":"1"}]]"#, &x()), None);
        assert_eq!(ids(br#"{"data":[5]}"#, &x()), None);
        assert_eq!(ids(br#"{"data":["7"]}"#, &x()), None);
        assert_eq!(ids(br#"{"data":[[1],[2]]}"#, &x()), None);
        assert_eq!(count(b" \n{\"data\":[1,2]}", &x()), Some(2));
    }

    #[test]
    fn a_top_level_array_is_its_items() {
        let body = br#"[{"id":101,"name":"a"},{"id":102,"name":"b"},{"name":"no id"}]"#;
        assert_eq!(count(body, &array()), Some(3));
        assert_eq!(ids(body, &array()).unwrap(), ["101", "102"]);
        assert_eq!(ids(br#"{"id":101,"name":"one"}"#, &array()).unwrap(), ["101"], "a single object is one item");
        assert_eq!(count(b"[]", &array()), Some(0));
        assert_eq!(count(b"null", &array()), Some(0));
        assert_eq!(count(br#"{"data":[1,2]}"#, &x()), Some(2));
        assert_eq!(count(b"[1,2", &array()), None);
    }

    #[test]
    fn a_nested_listing_is_followed_down() {
        let body = br#"{"kind":"Listing","data":{"after":"t3_b","dist":2,"children":[
            {"kind":"t3","data":{"id":"a","title":"x"}},{"kind":"t3","data":{"id":"b"}}]}}"#;
        assert_eq!(count(body, &listing()), Some(2));
        assert_eq!(ids(body, &listing()).unwrap(), ["a", "b"]);
        assert_eq!(count(br#"{"kind":"Listing","data":{"dist":0}}"#, &listing()), Some(0));
        assert_eq!(count(br#"{"error":403,"message":"Forbidden"}"#, &listing()), Some(0));
        // Something other than an object on the way: not this shape.
        assert_eq!(count(br#"{"data":[{"children":[1]}]}"#, &listing()), None);
        assert_eq!(count(br#"{"data":"children"}"#, &listing()), None);
        assert_eq!(count(br#"[{"kind":"t3"}]"#, &listing()), None);
        // The X shape does not find these items.
        assert_eq!(count(body, &x()), Some(1));
    }

    #[test]
    fn a_repeated_member_on_the_way_is_not_read() {
        assert_eq!(count(br#"{"data":[1],"data":[1,2,3]}"#, &x()), None);
        // Inside an item, the last id counts, as JSON readers take it.
        assert_eq!(ids(br#"{"data":[{"id":"1","id":"2"}]}"#, &x()).unwrap(), ["2"]);
    }

    #[test]
    fn an_item_that_cannot_be_read_for_its_id_is_still_counted() {
        // Found by the `shape` fuzz target: a number beyond `f64` inside an item.
        let body = br#"[{"id":18},22e2228576]"#;
        assert_eq!(count(body, &array()), Some(2));
        assert_eq!(read(body, &array(), true), Some(Reading { items: 2, ids: None }));
        assert_eq!(count(b"{\"data\":[{\"\xff\":1}]}", &x()), Some(1));
        assert_eq!(read(b"{\"data\":[{\"\xff\":1}]}", &x(), true), Some(Reading { items: 1, ids: None }));
    }

    #[test]
    fn ids_are_strings_or_numbers_as_json_writes_them() {
        let body = br#"[{"id":"s"},{"id":7},{"id":-3},{"id":1.5},{"id":1e2},{"id":true},{"id":null},{"id":{"a":1}},{"id":[1]}]"#;
        assert_eq!(ids(body, &array()).unwrap(), ["s", "7", "-3", "1.5", "100.0"]);
    }

    #[test]
    fn the_metering_rule_refuses_an_unshaped_body_only_under_a_cap() {
        let x = |capped| Metering { shape: Rc::new(Shape::x_v2()), capped };
        let unshaped = br#"[{"id":"1"},{"id":"2"}]"#;
        assert_eq!(meter(unshaped, &x(true)), Err(Unshaped::Refused));
        assert_eq!(meter(unshaped, &x(false)), Err(Unshaped::Passed));
        assert_eq!(meter(b"<html>", &x(true)), Err(Unshaped::Refused));
        assert_eq!(meter(b" \r\n", &x(true)).unwrap().items, 0, "an empty body (HEAD, 204) carries nothing");
        let page = meter(br#"{"data":[{"id":"1"},{"id":"2"}]}"#, &x(true)).unwrap();
        assert_eq!((page.items, page.ids.unwrap()), (2, vec!["1".to_owned(), "2".to_owned()]));
        let declared = Metering { shape: Rc::new(array()), capped: true };
        assert_eq!(meter(unshaped, &declared).unwrap().items, 2);
    }

    #[test]
    fn finds_raw_values_at_pointers() {
        let body = br#"{"a":{"b":[1, 2]},"c":null,"d":5}"#;
        let p = |t: &[&str]| t.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(matches!(at(body, &p(&["a", "b"])), Some(At::Here(raw)) if raw.get() == "[1, 2]"));
        assert!(matches!(at(body, &p(&["c", "x"])), Some(At::Absent)));
        assert!(matches!(at(body, &p(&["e"])), Some(At::Absent)));
        assert!(matches!(at(body, &p(&["d", "x"])), Some(At::Mismatch)));
        assert!(matches!(at(body, &p(&["a", "b", "0"])), Some(At::Mismatch)));
        assert!(matches!(at(body, &[]), Some(At::Here(_))));
        assert!(at(b"{\"a\":1", &p(&["a"])).is_none());
        assert!(at(br#"{"a":1,"a":2}"#, &p(&["a"])).is_none());
    }
}
