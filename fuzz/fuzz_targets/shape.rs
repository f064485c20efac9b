//! The shape-driven item counter and recipient filter (`items`, `rewrite`) on arbitrary bodies,
//! in arbitrary valid response shapes (pointers drawn from a few member names, so that bodies
//! built from the seeds meet them).
//!
//! Invariants, against `serde_json::Value` as the reference reader and a pointer walk written
//! from the shape's documented rules: the count is the length of an array where the items are,
//! 1 for any other value but `null`, 0 when a member on the way is missing or `null`, and none
//! when something other than an object lies on the way (or a member on the way is repeated); the
//! ids are the string or number ids of the items, when all are objects. The filter never passes
//! more items than the allowance or than the body has; what it writes is JSON whose count (read
//! in the same shape) is what it says it delivered; under `ids_only` every item left holds only
//! what the shape keeps and has its id, and the parts the shape removes are gone; the count field
//! says what was delivered when a page was cut; and it refuses only a body the counter cannot
//! read, an item it cannot reduce, or a count it cannot set.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;
use tollgate::domain::redistribution::items::{self, Reading};
use tollgate::domain::redistribution::pointer::Pointer;
use tollgate::domain::redistribution::recipient::Mode;
use tollgate::domain::redistribution::rewrite::{filter, FilterError, Filtered};
use tollgate::domain::redistribution::shape::Shape;

const NAMES: [&str; 8] = ["data", "items", "children", "id", "meta", "result_count", "includes", "a/b~"];

/// The input: a few bytes that pick the shape, the mode and the allowance, then the body.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> Option<usize> {
        let (first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(usize::from(*first))
    }

    fn flag(&mut self) -> Option<bool> {
        Some(self.byte()? % 2 == 1)
    }

    /// A length byte (`min` plus the byte modulo the span), then a byte per name.
    fn pointer(&mut self, min: usize, max: usize) -> Option<Pointer> {
        let n = min + self.byte()? % (max - min + 1);
        let names = (0..n).map(|_| Some(NAMES[self.byte()? % NAMES.len()])).collect::<Option<Vec<&str>>>()?;
        Some(Pointer::from_tokens(&names))
    }

    fn shape(&mut self) -> Option<Shape> {
        let items = self.pointer(0, 3)?;
        let id = self.pointer(1, 2)?;
        let mut keep = Vec::new();
        if self.flag()? {
            keep.push(id.clone());
            for _ in 0..self.byte()? % 3 {
                keep.push(self.pointer(1, 2)?);
            }
        }
        let remove = (0..self.byte()? % 3).map(|_| self.pointer(1, 2)).collect::<Option<Vec<_>>>()?;
        let count = if self.flag()? { Some(self.pointer(1, 2)?) } else { None };
        Some(Shape { items, id, keep, remove, count, omit_empty: self.flag()? })
    }
}

enum Ref<'a> {
    Absent,
    Mismatch,
    Here(&'a Value),
}

/// The documented walk: through objects only; a missing member or `null` is nothing there, but a
/// whole body of `null` is not an object.
fn lookup<'a>(v: &'a Value, path: &[String]) -> Ref<'a> {
    if v.is_null() && !path.is_empty() {
        return Ref::Mismatch;
    }
    let mut at = v;
    for name in path {
        at = match at {
            Value::Object(m) => match m.get(name) {
                None | Some(Value::Null) => return Ref::Absent,
                Some(x) => x,
            },
            Value::Null => return Ref::Absent,
            _ => return Ref::Mismatch,
        };
    }
    if at.is_null() {
        Ref::Absent
    } else {
        Ref::Here(at)
    }
}

fn ref_count(v: &Value, shape: &Shape) -> Option<u64> {
    match lookup(v, shape.items.tokens()) {
        Ref::Absent => Some(0),
        Ref::Mismatch => None,
        Ref::Here(Value::Array(a)) => Some(a.len() as u64),
        Ref::Here(_) => Some(1),
    }
}

fn id_of(item: &Value, shape: &Shape) -> Option<String> {
    match lookup(item, shape.id.tokens()) {
        Ref::Here(Value::String(s)) => Some(s.clone()),
        Ref::Here(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn ref_ids(v: &Value, shape: &Shape) -> Option<Vec<String>> {
    match lookup(v, shape.items.tokens()) {
        Ref::Absent => Some(Vec::new()),
        Ref::Here(Value::Array(a)) if a.iter().all(Value::is_object) => Some(a.iter().filter_map(|i| id_of(i, shape)).collect()),
        Ref::Here(item @ Value::Object(_)) => Some(id_of(item, shape).into_iter().collect()),
        _ => None,
    }
}

/// Whether an item holds only members the shape keeps (names are matched down to each kept
/// pointer's end, which keeps everything below it).
fn only_kept(v: &Value, kept: &[&[String]]) -> bool {
    let Value::Object(m) = v else { return false };
    m.iter().all(|(k, x)| {
        let tails: Vec<&[String]> = kept.iter().filter(|p| p.first() == Some(k)).map(|p| &p[1..]).collect();
        !tails.is_empty() && (tails.iter().any(|t| t.is_empty()) || only_kept(x, &tails))
    })
}

/// Whether a member on the way to the count is something other than an object (where a count
/// cannot be set).
fn count_blocked(v: &Value, shape: &Shape) -> bool {
    let Some(count) = &shape.count else { return false };
    let mut at = v;
    for name in &count.tokens()[..count.tokens().len() - 1] {
        match at.get(name) {
            None => return false,
            Some(x @ Value::Object(_)) => at = x,
            Some(_) => return true,
        }
    }
    false
}

/// An object's members with repeats kept, an array's elements, or nothing.
enum Node<'a> {
    Members(Vec<(String, &'a RawValue)>),
    Elements(Vec<&'a RawValue>),
    Leaf,
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Node<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Node<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Node<'a>, A::Error> {
                let mut all = Vec::new();
                while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
                    all.push(entry);
                }
                Ok(Node::Members(all))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Node<'a>, A::Error> {
                let mut all = Vec::new();
                while let Some(e) = seq.next_element::<&'de RawValue>()? {
                    all.push(e);
                }
                Ok(Node::Elements(all))
            }
            fn visit_unit<E>(self) -> std::result::Result<Node<'a>, E> {
                Ok(Node::Leaf)
            }
            fn visit_bool<E>(self, _: bool) -> std::result::Result<Node<'a>, E> {
                Ok(Node::Leaf)
            }
            fn visit_i64<E>(self, _: i64) -> std::result::Result<Node<'a>, E> {
                Ok(Node::Leaf)
            }
            fn visit_u64<E>(self, _: u64) -> std::result::Result<Node<'a>, E> {
                Ok(Node::Leaf)
            }
            fn visit_f64<E>(self, _: f64) -> std::result::Result<Node<'a>, E> {
                Ok(Node::Leaf)
            }
            fn visit_str<E>(self, _: &str) -> std::result::Result<Node<'a>, E> {
                Ok(Node::Leaf)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// Whether any object in the text repeats a member name (readers differ on which one counts).
fn repeats(json: &str) -> bool {
    match serde_json::from_str::<Node<'_>>(json) {
        Ok(Node::Members(m)) => {
            m.iter().enumerate().any(|(i, (k, _))| m[..i].iter().any(|(j, _)| j == k)) || m.iter().any(|(_, v)| repeats(v.get()))
        }
        Ok(Node::Elements(e)) => e.iter().any(|v| repeats(v.get())),
        _ => false,
    }
}

/// What the reference reader refuses and the counter, skipping what it does not read, accepts:
/// a lone surrogate escape or a number beyond `f64` (as in the `items` target).
fn lenient(data: &[u8]) -> bool {
    data.windows(3).any(|w| w.eq_ignore_ascii_case(b"\\ud"))
        || serde_json::from_str::<Value>(&String::from_utf8_lossy(data)).is_err_and(|e| e.to_string().starts_with("number out of range"))
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let (Some(shape), Some(ids_only), Some(allowance)) = (input.shape(), input.flag(), input.byte()) else { return };
    if shape.problem().is_some() {
        return;
    }
    let allowance = (allowance % 9) as u64;
    let body = input.0;
    let mode = if ids_only { Mode::IdsOnly } else { Mode::Full };

    // The counter.
    let counted = items::count(body, &shape);
    let reading = items::read(body, &shape, true);
    assert_eq!(reading.as_ref().map(|r| r.items), counted, "reading and counting differ");
    let lossy = serde_json::from_str::<Value>(&String::from_utf8_lossy(body)).ok();
    let strict = serde_json::from_slice::<Value>(body).ok();
    match (counted, &lossy) {
        (Some(n), Some(v)) => assert_eq!(Some(n), ref_count(v, &shape), "counted {n}"),
        (Some(_), None) => assert!(lenient(body), "counted a body that is not JSON"),
        (None, _) => {
            if let Some(v) = &strict {
                let text = std::str::from_utf8(body).unwrap_or_default();
                assert!(ref_count(v, &shape).is_none() || repeats(text), "a body of the shape was not counted");
            }
        }
    }
    if let (Some(Reading { ids: Some(listed), .. }), Some(v)) = (&reading, &lossy) {
        assert_eq!(Some(listed), ref_ids(v, &shape).as_ref());
    }
    if let (Some(Reading { ids: None, .. }), Some(v)) = (&reading, &strict) {
        assert_eq!(ref_ids(v, &shape), None, "ids not listed where every item is an object");
    }

    // The filter.
    match filter(body, &shape, mode, allowance) {
        Ok(filtered) => {
            // The filter takes the items' value raw: a number beyond `f64` there is read as it is.
            let Some(total) = counted else {
                assert!(lenient(body), "the filter read a body the counter refused");
                return;
            };
            let sent = filtered.items();
            assert!(sent <= allowance && sent <= total, "{sent} items of {total} for an allowance of {allowance}");
            let out = match &filtered {
                Filtered::Unchanged { items } => {
                    assert_eq!(*items, total);
                    return;
                }
                Filtered::Rewritten { body, .. } => body,
            };
            assert_eq!(items::count(out, &shape), Some(sent), "the rewritten body counts differently");
            let Ok(v) = serde_json::from_slice::<Value>(out) else {
                assert!(lenient(out), "the rewritten body is not JSON");
                return;
            };
            if mode == Mode::IdsOnly {
                let kept: Vec<&[String]> = shape.kept().iter().map(Pointer::tokens).collect();
                let left: Vec<&Value> = match lookup(&v, shape.items.tokens()) {
                    Ref::Here(Value::Array(a)) => a.iter().collect(),
                    Ref::Here(one) => vec![one],
                    _ => Vec::new(),
                };
                for item in left {
                    assert!(only_kept(item, &kept), "more than the shape keeps left: {item}");
                    assert!(matches!(lookup(item, shape.id.tokens()), Ref::Here(_)), "an item left without its id: {item}");
                }
                for removed in &shape.remove {
                    assert!(!matches!(lookup(&v, removed.tokens()), Ref::Here(_)), "{removed} left under ids_only");
                }
            }
            let cut = sent < total;
            if let (Some(count), true, Ref::Here(Value::Array(_))) = (&shape.count, cut, lookup(lossy.as_ref().unwrap_or(&v), shape.items.tokens())) {
                let says = matches!(lookup(&v, count.tokens()), Ref::Here(Value::Number(x)) if x.as_u64() == Some(sent));
                assert!(says, "{count} does not say {sent}");
            }
        }
        Err(FilterError::TooLarge) => panic!("a small body refused as too large"),
        Err(FilterError::NotJson) => {
            let Some(v) = &lossy else { return };
            // Not UTF-8 is not JSON: the filter, which keeps the raw text it passes on, refuses it.
            if counted.is_none() || lenient(body) || std::str::from_utf8(body).is_err() || count_blocked(v, &shape) {
                return;
            }
            let taken = usize::try_from(allowance).unwrap_or(usize::MAX);
            let unreducible = match lookup(v, shape.items.tokens()) {
                Ref::Here(Value::Array(a)) => a.iter().take(taken).any(|i| !i.is_object()),
                Ref::Here(Value::Object(_)) => false,
                Ref::Here(_) => allowance > 0,
                _ => false,
            };
            let text = String::from_utf8_lossy(body);
            assert!(mode == Mode::IdsOnly && (unreducible || repeats(&text)), "a body of the shape was refused");
        }
    }
});
