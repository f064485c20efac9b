//! The item counter as it was before response shapes (X API v2's `data` only), copied unchanged
//! from `src/domain/redistribution/items.rs` at the commit before them, so that `make bench`
//! times it beside the shape-driven counter on the same bodies, in the same run.

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

fn is_object(body: &[u8]) -> bool {
    body.trim_ascii_start().first() == Some(&b'{')
}

/// Items in a JSON body, or `None` when the body is not a JSON object.
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

/// The ids of the items in a JSON body.
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
