//! A response shape: where an endpoint's responses carry their items, and what `ids_only` keeps
//! and removes. Declared per plan, and per endpoint where one differs; without a declaration it
//! is X API v2's envelope, [`Shape::x_v2`]:
//!
//! ```json
//! {"items": "/data", "id": "/id", "remove": ["/includes"], "count": "/meta/result_count", "omit_empty": true}
//! ```
//!
//! - `items`: a JSON Pointer to the items: an array (each entry is an item) or one object (one
//!   item). `""` is the whole body, for an API that answers with a top-level array.
//! - `id`: the item's id, a pointer inside the item (`/id`, or `/data/id` in a nested listing).
//!   The ledger's distinct count and the recipients' 30-day count are kept by it.
//! - `keep`: what `ids_only` keeps of each item, pointers inside the item; by default the id alone.
//!   It must keep the id.
//! - `remove`: what `ids_only` removes from the rest of the body (expansions such as `includes`).
//! - `count`: the count field set to what is delivered when a page is cut for a recipient.
//! - `omit_empty`: a page cut to nothing leaves the items' member out instead of emptying it (X
//!   omits `data` on an empty page).

use serde::{Deserialize, Serialize};

use super::pointer::Pointer;

/// Pointers a shape may list in `keep` or `remove`.
pub const MAX_LISTED: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shape {
    pub items: Pointer,
    #[serde(default = "id_member")]
    pub id: Pointer,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keep: Vec<Pointer>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<Pointer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<Pointer>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub omit_empty: bool,
}

fn id_member() -> Pointer {
    Pointer::from_tokens(&["id"])
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `skip_serializing_if` passes a reference
fn is_false(b: &bool) -> bool {
    !*b
}

impl Default for Shape {
    fn default() -> Self {
        Self::x_v2()
    }
}

impl Shape {
    /// X API v2: `{"data":[…] or {…}, "includes":{…}, "meta":{"result_count":…}}`.
    #[must_use]
    pub fn x_v2() -> Self {
        Self {
            items: Pointer::from_tokens(&["data"]),
            id: id_member(),
            keep: Vec::new(),
            remove: vec![Pointer::from_tokens(&["includes"])],
            count: Some(Pointer::from_tokens(&["meta", "result_count"])),
            omit_empty: true,
        }
    }

    /// What `ids_only` keeps of each item.
    #[must_use]
    pub fn kept(&self) -> &[Pointer] {
        if self.keep.is_empty() {
            std::slice::from_ref(&self.id)
        } else {
            &self.keep
        }
    }

    /// What is wrong with the declaration, if anything.
    #[must_use]
    pub fn problem(&self) -> Option<String> {
        let bad = |what: &str| Some(what.to_owned());
        if self.id.is_root() {
            return bad("`id` must name a member of the item");
        }
        if self.keep.len() > MAX_LISTED || self.remove.len() > MAX_LISTED {
            return Some(format!("`keep` and `remove` list at most {MAX_LISTED} pointers each"));
        }
        let kept = self.kept();
        if kept.iter().any(Pointer::is_root) {
            return bad("`keep` names members of the item, not the whole item");
        }
        if !kept.iter().any(|k| self.id.within(k)) {
            return bad("`keep` must keep the id");
        }
        if overlap(kept) || overlap(&self.remove) {
            return bad("a pointer in `keep` or `remove` lies within another of the same list");
        }
        if self.items.is_root() && (!self.remove.is_empty() || self.count.is_some() || self.omit_empty) {
            return bad("with the items as the whole body (`\"items\": \"\"`) there is nothing beside them: no `remove`, `count` or `omit_empty`");
        }
        let tangled = |p: &Pointer| p.within(&self.items) || self.items.within(p);
        if self.remove.iter().any(tangled) {
            return bad("`remove` may not name the items, a part of them, or a member that holds them");
        }
        if let Some(count) = &self.count {
            if tangled(count) || self.remove.iter().any(|r| count.within(r)) {
                return bad("`count` may not lie within the items or a removed member, nor hold the items");
            }
        }
        None
    }
}

fn overlap(list: &[Pointer]) -> bool {
    list.iter().enumerate().any(|(i, a)| list.iter().enumerate().any(|(j, b)| i != j && a.within(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(json: &str) -> Shape {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn the_default_is_x_api_v2_and_valid() {
        let x = Shape::default();
        assert_eq!(x, shape(r#"{"items":"/data","id":"/id","remove":["/includes"],"count":"/meta/result_count","omit_empty":true}"#));
        assert_eq!(x.problem(), None);
        assert_eq!(x.kept(), [Pointer::from_tokens(&["id"])]);
    }

    #[test]
    fn reads_the_documented_shapes_and_writes_them_back() {
        let array = shape(r#"{"items":""}"#);
        assert!(array.items.is_root());
        assert_eq!(array.id, Pointer::from_tokens(&["id"]));
        assert_eq!(array.problem(), None);
        let listing = r#"{"items":"/data/children","id":"/data/id","keep":["/kind","/data/id","/data/name"],"count":"/data/dist"}"#;
        let l = shape(listing);
        assert_eq!(l.problem(), None);
        assert_eq!(serde_json::to_string(&l).unwrap(), listing);
        assert_eq!(serde_json::to_string(&array).unwrap(), r#"{"items":"","id":"/id"}"#);
    }

    #[test]
    fn refuses_pointers_that_are_not_pointers_and_unknown_fields() {
        for bad in [r#"{"items":"data"}"#, r#"{"items":"/a~2"}"#, r#"{"items":"/data","keep":["id"]}"#, r#"{"items":"/data","ids":"/id"}"#, r#"{"id":"/id"}"#] {
            assert!(serde_json::from_str::<Shape>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refuses_shapes_that_contradict_themselves() {
        for bad in [
            r#"{"items":"/data","id":""}"#,
            r#"{"items":"/data","keep":["/text"]}"#,
            r#"{"items":"/data","keep":[""]}"#,
            r#"{"items":"/data","id":"/data/id","keep":["/data","/data/id"]}"#,
            r#"{"items":"","remove":["/includes"]}"#,
            r#"{"items":"","count":"/total"}"#,
            r#"{"items":"","omit_empty":true}"#,
            r#"{"items":"/data/children","remove":["/data"]}"#,
            r#"{"items":"/data","remove":["/data/0"]}"#,
            r#"{"items":"/data","count":"/data/total"}"#,
            r#"{"items":"/page/items","count":"/page"}"#,
            r#"{"items":"/data","remove":["/meta"],"count":"/meta/result_count"}"#,
            r#"{"items":"/data","remove":["/a","/a/b"]}"#,
        ] {
            assert!(shape(bad).problem().is_some(), "{bad}");
        }
        // The id kept within a kept member.
        assert_eq!(shape(r#"{"items":"/data/children","id":"/data/id","keep":["/data"]}"#).problem(), None);
    }
}
