//! A stream's per-line decisions (`redistribution::stream`) on arbitrary bytes, in arbitrary
//! chunks, with or without a recipient, with or without a budget, under a small line limit.
//!
//! Invariants: the same bytes give the same lines, items, ids and drops however they are chunked;
//! what is held for an unended line never passes the limit (and one byte); what leaves is whole
//! lines ended by `\r\n`; nothing carrying items leaves past the budget, and once lines wait for
//! it, nothing more leaves until it is renewed. Without a recipient and a budget every line that
//! leaves is an input line as it came (or a keep-alive), within the limit, and the items counted
//! are exactly those of the post lines that left. For a recipient every line that leaves is a
//! keep-alive or a JSON object, and under `ids_only` every item that leaves is `{"id":…}` with no
//! expansions beside it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tollgate::domain::redistribution::recipient::Mode;
use tollgate::domain::redistribution::shape::Shape;
use tollgate::domain::redistribution::stream::{classify, Batch, Kind, LineFilter};

/// Feeds the chunks, each with what is left of the budget, and adds up what comes out; whether
/// lines wait for the budget at the end.
fn run(chunks: &[&[u8]], recipient: Option<Mode>, budget: Option<u64>, max_line: usize) -> (Batch, bool) {
    let mut filter = LineFilter::with_limit(recipient, max_line);
    let mut all = Batch::default();
    for chunk in chunks {
        let waited = filter.waiting();
        let b = filter.feed(chunk, budget.map(|n| n.saturating_sub(all.items)));
        assert!(filter.held() <= max_line + 1, "held {} past the limit {max_line}", filter.held());
        if waited {
            assert!(b.bytes.is_empty(), "a line left while others waited for the budget");
        }
        all.absorb(b);
    }
    (all, filter.waiting())
}

/// The input's lines as the splitter sees them (ended by `\n`, one `\r` before it stripped).
fn input_lines(data: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    lines.pop(); // the unended tail
    lines.into_iter().map(|l| l.strip_suffix(b"\r").unwrap_or(l)).collect()
}

/// What the reference reader refuses and the line's own readers accept, as in the `items`
/// target: a lone surrogate escape (`\udfff`) in a field they skip, or a number beyond `f64`.
fn lenient(line: &[u8], error: &serde_json::Error) -> bool {
    line.windows(3).any(|w| w.eq_ignore_ascii_case(b"\\ud")) || error.to_string().starts_with("number out of range")
}

fuzz_target!(|data: &[u8]| {
    let [mode, allowance, limit, seed, body @ ..] = data else { return };
    let max_line = 8 + usize::from(*limit);
    let recipient = match mode % 3 {
        0 => None,
        1 => Some(Mode::IdsOnly),
        _ => Some(Mode::Full),
    };
    // No budget (only without a recipient), or one of up to 7 items.
    let budget = (*allowance >= 128 || recipient.is_some()).then_some(u64::from(*allowance % 8));
    // Chunks of 1 to 16 bytes, sized from the seed.
    let mut chunks = Vec::new();
    let mut rest = body;
    let mut state = u32::from(*seed) | 1;
    while !rest.is_empty() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let n = (1 + (state >> 16) as usize % 16).min(rest.len());
        let (head, tail) = rest.split_at(n);
        chunks.push(head);
        rest = tail;
    }
    let (whole, waiting) = run(&[body], recipient, budget, max_line);
    let (chunked, waiting_chunked) = run(&chunks, recipient, budget, max_line);
    assert_eq!(whole, chunked, "chunking changed the outcome");
    assert_eq!(waiting, waiting_chunked);
    if let Some(budget) = budget {
        assert!(whole.items <= budget, "{} items past a budget of {budget}", whole.items);
        if waiting {
            assert_eq!(whole.items, budget, "lines waited with budget left");
        }
    }

    let out = &whole.bytes;
    assert!(out.is_empty() || out.ends_with(b"\r\n"), "what leaves ends mid-line");
    let lines = input_lines(out);
    match recipient {
        // Without a budget every line passes as it came; with one, a post may be cut to it.
        None if budget.is_none() => {
            let inputs = input_lines(body);
            let mut items = 0;
            let mut ids = Vec::new();
            let mut at = 0;
            for line in &lines {
                assert!(line.len() <= max_line, "a line of {} bytes left under a limit of {max_line}", line.len());
                // Each line that leaves is the next input line within the limit, or a keep-alive.
                let next = inputs[at..].iter().position(|i| i.len() <= max_line).map(|p| at + p).expect("a line from nowhere");
                let blank = inputs[next].iter().all(u8::is_ascii_whitespace);
                assert!(if blank { line.is_empty() } else { *line == inputs[next] }, "a line was changed");
                at = next + 1;
                if let Kind::Post { items: n, ids: i } = classify(line, &Shape::x_v2()) {
                    items += n;
                    ids.extend(i);
                }
            }
            assert_eq!(whole.items, items);
            assert_eq!(whole.ids, ids);
        }
        None => assert!(whole.ids.len() as u64 <= whole.items),
        Some(mode) => {
            assert!(whole.ids.len() as u64 <= whole.items);
            for line in &lines {
                if line.is_empty() {
                    continue;
                }
                let value = match serde_json::from_slice::<Value>(line) {
                    Ok(v) => v,
                    Err(e) if lenient(line, &e) => continue,
                    Err(e) => panic!("a line that is not JSON left for a recipient ({e}): {}", String::from_utf8_lossy(line)),
                };
                let map = value.as_object().expect("a recipient's line is a JSON object");
                if mode == Mode::IdsOnly {
                    assert!(!map.contains_key("includes"), "expansions left under ids_only");
                    let only_id = |v: &Value| v.as_object().is_some_and(|o| o.len() == 1 && o.contains_key("id"));
                    match map.get("data") {
                        None => {}
                        Some(Value::Array(items)) => assert!(items.iter().all(only_id), "an item left whole under ids_only"),
                        Some(item) => assert!(only_id(item), "an item left whole under ids_only"),
                    }
                }
            }
        }
    }
});
