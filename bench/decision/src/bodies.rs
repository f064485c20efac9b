//! Response bodies for the item-counter benchmark: one page of 100 items in each response shape
//! the demo origin serves (X API v2's envelope, a top-level array with numeric ids, a nested
//! listing), built the same way on every run so the figures compare across runs.

/// Items on each page: X API v2's largest page.
pub const ITEMS: usize = 100;

/// `{"data":[…],"includes":{"users":[…]},"meta":{…}}`: a search page with the author expansion.
#[must_use]
pub fn x_v2() -> Vec<u8> {
    let data: Vec<String> = (0..ITEMS)
        .map(|i| {
            let id = 1_746_000_000_000_000_000_u64 + i as u64 * 7_919;
            format!(
                r#"{{"id":"{id}","text":"Post number {i} about the edge, with a link https://example.com/{i} and a #tag","author_id":"{}","created_at":"2024-01-15T12:00:{:02}.000Z","edit_history_tweet_ids":["{id}"],"public_metrics":{{"retweet_count":{i},"reply_count":3,"like_count":{},"quote_count":0}}}}"#,
                1_000_000_000 + i % 16,
                i % 60,
                i * 3
            )
        })
        .collect();
    let users: Vec<String> = (0..16)
        .map(|u| format!(r#"{{"id":"{}","name":"User {u}","username":"user_{u}"}}"#, 1_000_000_000 + u))
        .collect();
    format!(
        r#"{{"data":[{}],"includes":{{"users":[{}]}},"meta":{{"newest_id":"1","oldest_id":"2","result_count":{ITEMS},"next_token":"b26v89c19zqg8o3fpzbkk"}}}}"#,
        data.join(","),
        users.join(",")
    )
    .into_bytes()
}

/// `[{…}, …]`: a catalogue page, numeric ids at the top level of each item.
#[must_use]
pub fn array() -> Vec<u8> {
    let items: Vec<String> = (0..ITEMS)
        .map(|i| {
            format!(
                r#"{{"id":{},"sku":"SKU-{i:05}","name":"Product number {i}, a thing with a fairly long name","price_cents":{},"currency":"EUR","stock":{},"tags":["demo","bench","item-{i}"],"supplier":{{"id":{},"name":"Supplier {}"}}}}"#,
                100_001 + i,
                199 + i * 10,
                i % 40,
                500 + i % 8,
                i % 8
            )
        })
        .collect();
    format!("[{}]", items.join(",")).into_bytes()
}

/// `{"kind":"Listing","data":{"children":[{"kind":"t3","data":{…}}, …],…}}`: a nested listing.
#[must_use]
pub fn listing() -> Vec<u8> {
    let children: Vec<String> = (0..ITEMS)
        .map(|i| {
            let id = format!("1a{:04x}", 0x2000 + i);
            format!(
                r#"{{"kind":"t3","data":{{"id":"{id}","name":"t3_{id}","title":"Post number {i} on the demo board, with a title of some length","author":"user_{}","subreddit":"demo","created_utc":{},"score":{},"num_comments":{},"url":"https://example.com/r/demo/{id}"}}}}"#,
                i % 16,
                1_705_320_000 + i * 60,
                i * 3,
                i % 9
            )
        })
        .collect();
    format!(
        r#"{{"kind":"Listing","data":{{"after":"t3_1a2063","before":null,"dist":{ITEMS},"modhash":"","children":[{}]}}}}"#,
        children.join(",")
    )
    .into_bytes()
}
