//! Streams (`GET /2/tweets/search/stream`, `GET /2/tweets/sample/stream`): one response that stays
//! open, carrying newline-delimited JSON, one post a line, with a blank line (`\r\n`) as a
//! keep-alive. The edge passes each line on as soon as it is whole; what is decided here, per
//! line, as the bytes flow:
//!
//! - [`Splitter`]: byte chunks in, whole lines out, whatever the chunking. A line longer than its
//!   limit ([`MAX_LINE_BYTES`]) is skipped to its end without being kept, so memory per stream
//!   stays below the limit however long the stream or the line.
//! - [`classify`]: a post line (its items and ids, counted like a page of the endpoint's shape:
//!   X's `data` by default), a keep-alive, an error line (`errors` and no items, X's own rule),
//!   another JSON object, or not JSON (or not the shape).
//! - [`LineFilter`]: what leaves. Without a recipient every whole line passes, and only post lines
//!   count. For a recipient every line goes through the page filter (`rewrite`): `ids_only`
//!   reduces each post to `{"id":…}` (other fields such as `matching_rules` stay), and a line the
//!   filter cannot read is dropped. Under a monthly cap, a line that is not JSON of the endpoint's
//!   shape is dropped too: it would carry items the cap never sees. Nothing carrying items passes
//!   beyond the stream's budget: a post that comes when it is spent waits, with the lines after
//!   it, until it is renewed.
//! - [`Budget`]: what the stream may still send, from the holds the guard keeps for it against
//!   the monthly cap and a recipient entity's 30 days (`throttle::hold`).
//! - [`Meter`]: what was sent and not yet reported, and when a report (the stream's heartbeat at
//!   the guard) is due.

use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::domain::redistribution::items::{self, Metering};
use crate::domain::redistribution::recipient::Mode;
use crate::domain::redistribution::rewrite::{self, Filtered};
use crate::domain::redistribution::shape::Shape;
use crate::domain::redistribution::words;

mod budget;
mod meter;

pub use budget::Budget;
pub use meter::{Meter, GUARD_SILENCE_MS, REPORT_EVERY_MS, REPORT_ITEMS};

/// The longest line passed on, its line ending not counted: 1 MiB. A post with every field and
/// expansion is tens of kilobytes; a longer line is dropped, never passed on uncounted.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

const LINE_END: &[u8] = b"\r\n";

/// What the splitter yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// A whole line, without its `\n` or a `\r` before it.
    Line(&'a [u8]),
    /// A line longer than the limit has ended; its bytes were not kept.
    TooLong,
}

/// Splits byte chunks into lines ended by `\n` (`\r\n` as the API sends them, or a bare `\n`).
#[derive(Debug)]
pub struct Splitter {
    max_line: usize,
    /// The start of a line whose end has not come yet.
    partial: Vec<u8>,
    /// Inside a line already longer than the limit: its bytes are thrown away until it ends.
    skipping: bool,
}

impl Splitter {
    #[must_use]
    pub fn new(max_line: usize) -> Self {
        Self { max_line, partial: Vec::new(), skipping: false }
    }

    /// Takes the next chunk and hands each line it completes to `each`, in order.
    pub fn push(&mut self, chunk: &[u8], each: &mut dyn FnMut(Piece<'_>)) {
        let mut rest = chunk;
        while let Some(at) = words::position(rest, |w| words::has(w, b'\n'), |b| b == b'\n') {
            let head = &rest[..at];
            rest = &rest[at + 1..];
            if self.skipping || self.partial.len() + head.len() > self.max_line + 1 {
                self.skipping = false;
                self.partial.clear();
                each(Piece::TooLong);
            } else if self.partial.is_empty() {
                if let Some(line) = self.within_limit(head) {
                    each(Piece::Line(line));
                } else {
                    each(Piece::TooLong);
                }
            } else {
                self.partial.extend_from_slice(head);
                let whole = std::mem::take(&mut self.partial);
                if let Some(line) = self.within_limit(&whole) {
                    each(Piece::Line(line));
                } else {
                    each(Piece::TooLong);
                }
                // Keep the allocation for the next unended line, bounded by the limit.
                self.partial = whole;
                self.partial.clear();
            }
        }
        if !self.skipping {
            if self.partial.len() + rest.len() > self.max_line + 1 {
                self.skipping = true;
                self.partial = Vec::new();
            } else {
                self.partial.extend_from_slice(rest);
            }
        }
    }

    /// Whether a line has begun and not ended (kept, or being skipped past the limit).
    #[must_use]
    pub fn unended(&self) -> bool {
        self.skipping || !self.partial.is_empty()
    }

    /// Bytes held for the unended line: never more than the limit and one byte.
    #[must_use]
    pub fn held(&self) -> usize {
        self.partial.len()
    }

    /// The line without a `\r` before its `\n`, if it is within the limit.
    fn within_limit<'a>(&self, raw: &'a [u8]) -> Option<&'a [u8]> {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        (line.len() <= self.max_line).then_some(line)
    }
}

/// What one line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Blank: the API's keep-alive.
    KeepAlive,
    /// Carries `data`: counted like a page (one object is one item), with the ids it has.
    Post { items: u64, ids: Vec<String> },
    /// `errors` and no `data`, as an operational disconnect: passed on, counted as nothing.
    Error,
    /// Any other JSON object: passed on, counted as nothing.
    Other,
    /// Not a JSON object.
    NotJson,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    errors: Option<IgnoredAny>,
}

/// What a line is, read in the endpoint's shape.
#[must_use]
pub fn classify(line: &[u8], shape: &Shape) -> Kind {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Kind::KeepAlive;
    }
    // One pass for the items and their ids; a line it cannot read so is counted as a page's
    // body is, its items then without ids (counted as distinct).
    let Some(reading) = items::read(line, shape, true) else { return Kind::NotJson };
    if reading.items > 0 {
        return Kind::Post { items: reading.items, ids: reading.ids.unwrap_or_default() };
    }
    match serde_json::from_slice::<Envelope>(line) {
        Ok(Envelope { errors: Some(_) }) => Kind::Error,
        Ok(_) => Kind::Other,
        Err(_) => Kind::NotJson,
    }
}

/// Lines dropped, by why.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Longer than the limit.
    pub too_long: u64,
    /// Not JSON, or not the endpoint's shape (passed on without a recipient and without a monthly
    /// cap, so only counted here for a recipient or under a cap).
    pub not_json: u64,
    /// JSON the recipient filter cannot read (for example `"data":[5]`).
    pub unfilterable: u64,
}

impl Dropped {
    /// Adds another count of dropped lines to this one.
    pub fn add(&mut self, other: Dropped) {
        self.too_long += other.too_long;
        self.not_json += other.not_json;
        self.unfilterable += other.unfilterable;
    }
}

/// What one chunk from the origin gives the client.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Batch {
    /// Whole lines, each ended by `\r\n`, to send on as they are.
    pub bytes: Vec<u8>,
    /// Items in those lines.
    pub items: u64,
    pub ids: Vec<String>,
    /// Lines not sent.
    pub dropped: Dropped,
    /// Lines without a recipient that are not JSON, passed on uncounted.
    pub passed_not_json: u64,
}

impl Batch {
    /// Appends a later batch to this one, as if both chunks had come as one.
    pub fn absorb(&mut self, later: Batch) {
        self.bytes.extend(later.bytes);
        self.items += later.items;
        self.ids.extend(later.ids);
        self.dropped.add(later.dropped);
        self.passed_not_json += later.passed_not_json;
    }
}

/// The per-line decisions of one stream.
#[derive(Debug)]
pub struct LineFilter {
    splitter: Splitter,
    /// The recipient's form, when the stream names one: every line goes through its filter.
    recipient: Option<Mode>,
    /// Whole lines that came once nothing more could be sent, each ended by `\n`, in order: they
    /// wait for the budget to be renewed (the stream reads nothing more meanwhile, so this is at
    /// most one chunk's lines).
    waiting: Vec<u8>,
    /// The endpoint's shape, and whether its plan has a monthly cap.
    metering: Metering,
}

impl LineFilter {
    #[must_use]
    pub fn new(recipient: Option<Mode>) -> Self {
        Self::with_limit(recipient, MAX_LINE_BYTES)
    }

    /// With another line limit (tests and fuzzing use small ones).
    #[must_use]
    pub fn with_limit(recipient: Option<Mode>, max_line: usize) -> Self {
        Self { splitter: Splitter::new(max_line), recipient, waiting: Vec::new(), metering: Metering::default() }
    }

    /// Lines read in the endpoint's shape, under its plan's cap (X's shape and no cap otherwise).
    #[must_use]
    pub fn metered(self, metering: Metering) -> Self {
        Self { metering, ..self }
    }

    /// Whether a line has begun and not ended; at the end of a stream it is dropped.
    #[must_use]
    pub fn unended(&self) -> bool {
        self.splitter.unended()
    }

    /// Bytes held for an unended line.
    #[must_use]
    pub fn held(&self) -> usize {
        self.splitter.held()
    }

    /// Whether lines wait for the budget: nothing more should be read until they are decided.
    #[must_use]
    pub fn waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// Decides on every line the chunk completes, with `left` items that may still be sent
    /// (`None`: no cap). A line carrying items that comes when nothing is left waits, and so does
    /// every line after it, until [`LineFilter::resume`]. For a recipient, `None` is nothing left.
    pub fn feed(&mut self, chunk: &[u8], left: Option<u64>) -> Batch {
        let mut batch = Batch::default();
        let mut budget = self.budget(left);
        let (recipient, waiting, metering) = (self.recipient, &mut self.waiting, &self.metering);
        self.splitter.push(chunk, &mut |piece| match piece {
            Piece::TooLong => batch.dropped.too_long += 1,
            Piece::Line(line) => decide(&mut batch, waiting, line, recipient, metering, &mut budget),
        });
        batch
    }

    /// Decides on the lines that waited, with `left` items that may now be sent.
    pub fn resume(&mut self, left: Option<u64>) -> Batch {
        let mut batch = Batch::default();
        let mut budget = self.budget(left);
        let lines = std::mem::take(&mut self.waiting);
        for line in lines.split(|&b| b == b'\n').take(lines.iter().filter(|&&b| b == b'\n').count()) {
            decide(&mut batch, &mut self.waiting, line, self.recipient, &self.metering, &mut budget);
        }
        batch
    }

    fn budget(&self, left: Option<u64>) -> Option<u64> {
        if self.recipient.is_some() {
            Some(left.unwrap_or(0))
        } else {
            left
        }
    }
}

/// One line: sent (as it came, or as the recipient's filter leaves it), dropped, or kept to wait
/// for the budget.
fn decide(batch: &mut Batch, waiting: &mut Vec<u8>, line: &[u8], recipient: Option<Mode>, metering: &Metering, left: &mut Option<u64>) {
    let spent = *left == Some(0) && items::count(line, &metering.shape).is_some_and(|n| n > 0);
    if spent || !waiting.is_empty() {
        waiting.extend_from_slice(line);
        waiting.push(b'\n');
        return;
    }
    let sent = match recipient {
        None => pass(batch, line, metering, *left),
        Some(mode) => filter(batch, line, &metering.shape, mode, left.unwrap_or(0)),
    };
    if let Some(left) = left {
        *left = left.saturating_sub(sent);
    }
}

/// Without a recipient: every line is sent as it came and post lines count; a post with more
/// items than are `left` is cut to them. Under a cap, a line that is not the shape is dropped.
/// Returns the items sent.
fn pass(batch: &mut Batch, line: &[u8], metering: &Metering, left: Option<u64>) -> u64 {
    match classify(line, &metering.shape) {
        // Sent as the API's own keep-alive, whatever blank it was.
        Kind::KeepAlive => {
            batch.bytes.extend_from_slice(LINE_END);
            return 0;
        }
        Kind::Post { items, .. } if left.is_some_and(|l| items > l) => {
            return filter(batch, line, &metering.shape, Mode::Full, left.unwrap_or(0));
        }
        Kind::Post { items, ids } => {
            batch.items += items;
            batch.ids.extend(ids);
            batch.bytes.extend_from_slice(line);
            batch.bytes.extend_from_slice(LINE_END);
            return items;
        }
        Kind::NotJson if metering.capped => {
            batch.dropped.not_json += 1;
            return 0;
        }
        Kind::NotJson => batch.passed_not_json += 1,
        Kind::Error | Kind::Other => {}
    }
    batch.bytes.extend_from_slice(line);
    batch.bytes.extend_from_slice(LINE_END);
    0
}

/// Through the page filter: a keep-alive passes; every other line is sent only as the filter
/// leaves it, within `left` items. Returns the items sent.
fn filter(batch: &mut Batch, line: &[u8], shape: &Shape, mode: Mode, left: u64) -> u64 {
    if line.iter().all(u8::is_ascii_whitespace) {
        batch.bytes.extend_from_slice(LINE_END);
        return 0;
    }
    if items::count(line, shape).is_none() {
        batch.dropped.not_json += 1;
        return 0;
    }
    let Ok(filtered) = rewrite::filter(line, shape, mode, left) else {
        batch.dropped.unfilterable += 1;
        return 0;
    };
    let sent = filtered.items();
    let out = match &filtered {
        Filtered::Unchanged { .. } => line,
        Filtered::Rewritten { body, .. } => body.as_slice(),
    };
    if sent > 0 {
        batch.items += sent;
        batch.ids.extend(items::ids(out, shape).unwrap_or_default());
    }
    batch.bytes.extend_from_slice(out);
    batch.bytes.extend_from_slice(LINE_END);
    sent
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line read in X's shape, as every stream before shapes.
    fn classify(line: &[u8]) -> Kind {
        super::classify(line, &Shape::x_v2())
    }

    fn split(chunks: &[&[u8]], max: usize) -> Vec<Option<Vec<u8>>> {
        let mut s = Splitter::new(max);
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, &mut |p| {
                out.push(match p {
                    Piece::Line(l) => Some(l.to_vec()),
                    Piece::TooLong => None,
                });
            });
        }
        out
    }

    fn post(id: &str) -> String {
        format!(r#"{{"data":{{"id":"{id}","text":"hello {id}","author_id":"9"}},"includes":{{"users":[{{"id":"9"}}]}},"matching_rules":[{{"id":"1","tag":"t"}}]}}"#)
    }

    const DISCONNECT: &str = r#"{"errors":[{"title":"operational-disconnect","disconnect_type":"OperationalDisconnect","detail":"x","type":"https://api.twitter.com/2/problems/operational-disconnect"}]}"#;

    /// Feeds every chunk with what is left of `budget` items (none: no cap).
    fn feed_all(filter: &mut LineFilter, chunks: &[&[u8]], budget: Option<u64>) -> Batch {
        let mut all = Batch::default();
        for c in chunks {
            let left = budget.map(|b| b - all.items);
            all.absorb(filter.feed(c, left));
        }
        all
    }

    fn text(b: &Batch) -> String {
        String::from_utf8(b.bytes.clone()).unwrap()
    }

    #[test]
    fn splits_crlf_and_bare_newlines_and_keeps_the_unended_tail() {
        assert_eq!(
            split(&[b"a\r\nb\nc\r", b"\nd"], 100),
            vec![Some(b"a".to_vec()), Some(b"b".to_vec()), Some(b"c".to_vec())]
        );
        let mut s = Splitter::new(100);
        s.push(b"{\"data\":", &mut |_| panic!("no line yet"));
        assert!(s.unended());
        assert_eq!(s.held(), 8);
    }

    #[test]
    fn a_line_split_anywhere_comes_out_whole() {
        let line = post("1");
        let whole = format!("{line}\r\n\r\n");
        for cut in 0..=whole.len() {
            let (a, b) = whole.as_bytes().split_at(cut);
            assert_eq!(split(&[a, b], 1000), vec![Some(line.as_bytes().to_vec()), Some(Vec::new())], "cut at {cut}");
        }
        // One byte at a time.
        let bytes: Vec<&[u8]> = whole.as_bytes().chunks(1).collect();
        assert_eq!(split(&bytes, 1000).len(), 2);
    }

    #[test]
    fn an_overlong_line_is_skipped_without_being_kept() {
        // The limit counts the line's bytes, not its line ending.
        assert_eq!(split(&[b"12345\r\n"], 5), vec![Some(b"12345".to_vec())]);
        assert_eq!(split(&[b"123456\r\nok\r\n"], 5), vec![None, Some(b"ok".to_vec())]);
        // Across chunks: nothing of it is held once it passes the limit.
        let mut s = Splitter::new(5);
        let mut seen = Vec::new();
        s.push(b"1234", &mut |p| seen.push(p == Piece::TooLong));
        s.push(b"5678", &mut |p| seen.push(p == Piece::TooLong));
        assert_eq!(s.held(), 0);
        s.push(&[b'x'; 10_000], &mut |p| seen.push(p == Piece::TooLong));
        assert_eq!(s.held(), 0);
        assert!(seen.is_empty(), "reported once it ends");
        s.push(b"9\r\nnext\r\n", &mut |p| seen.push(p == Piece::TooLong));
        assert_eq!(seen, [true, false]);
        // A `\r` the limit would cut off still ends the line within it.
        assert_eq!(split(&[b"12345\r", b"\n"], 5), vec![Some(b"12345".to_vec())]);
        assert_eq!(split(&[b"123456\r", b"\n"], 5), vec![None]);
    }

    #[test]
    fn classifies_posts_keepalives_errors_and_the_rest() {
        assert_eq!(classify(b""), Kind::KeepAlive);
        assert_eq!(classify(b"  "), Kind::KeepAlive);
        assert_eq!(classify(post("7").as_bytes()), Kind::Post { items: 1, ids: vec!["7".into()] });
        assert_eq!(classify(br#"{"data":{"text":"no id"}}"#), Kind::Post { items: 1, ids: vec![] });
        assert_eq!(classify(br#"{"data":[{"id":"1"},{"id":"2"}]}"#), Kind::Post { items: 2, ids: vec!["1".into(), "2".into()] });
        assert_eq!(classify(DISCONNECT.as_bytes()), Kind::Error);
        assert_eq!(classify(br#"{"meta":{}}"#), Kind::Other);
        assert_eq!(classify(b"<html>oops</html>"), Kind::NotJson);
        assert_eq!(classify(br#"{"data":{"id":"1"}"#), Kind::NotJson);
        assert_eq!(classify(b"[1,2]"), Kind::NotJson);
        assert_eq!(classify(b"\xff\xfe"), Kind::NotJson);
    }

    #[test]
    fn without_a_recipient_every_whole_line_passes_and_only_posts_count() {
        let mut f = LineFilter::new(None);
        let stream = format!("{}\r\n\r\n<html>\r\n{}\r\n{DISCONNECT}\r\n{}", post("1"), post("2"), &post("3")[..20]);
        let b = feed_all(&mut f, &[stream.as_bytes()], None);
        assert_eq!(b.items, 2);
        assert_eq!(b.ids, ["1", "2"]);
        assert_eq!(b.passed_not_json, 1);
        assert_eq!(text(&b), format!("{}\r\n\r\n<html>\r\n{}\r\n{DISCONNECT}\r\n", post("1"), post("2")));
        assert!(f.unended(), "the cut line is held, never sent");
        assert!(!f.waiting());
    }

    #[test]
    fn for_a_recipient_ids_only_rewrites_each_line_and_drops_what_it_cannot_read() {
        let mut f = LineFilter::new(Some(Mode::IdsOnly));
        let stream = format!("{}\r\n\r\n<html>\r\n{{\"data\":[5]}}\r\n{DISCONNECT}\r\n{}\r\n", post("1"), post("2"));
        let b = feed_all(&mut f, &[stream.as_bytes()], Some(100));
        let out = text(&b);
        let lines: Vec<&str> = out.split("\r\n").collect();
        assert_eq!(lines.len(), 5, "{out}");
        let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(first, serde_json::json!({"data":{"id":"1"},"matching_rules":[{"id":"1","tag":"t"}]}));
        assert_eq!(lines[1], "");
        assert_eq!(lines[2], DISCONNECT);
        assert_eq!(serde_json::from_str::<serde_json::Value>(lines[3]).unwrap()["data"], serde_json::json!({"id":"2"}));
        assert_eq!(lines[4], "");
        assert_eq!(b.items, 2);
        assert_eq!(b.ids, ["1", "2"]);
        assert_eq!(b.dropped, Dropped { too_long: 0, not_json: 1, unfilterable: 1 });
    }

    #[test]
    fn nothing_passes_beyond_the_budget_and_what_comes_after_waits_for_its_renewal() {
        let mut f = LineFilter::new(Some(Mode::Full));
        let stream: String = (1..=4).map(|i| format!("{}\r\n", post(&i.to_string()))).collect();
        let b = feed_all(&mut f, &[stream.as_bytes()], Some(2));
        assert_eq!(b.items, 2);
        assert_eq!(text(&b), format!("{}\r\n{}\r\n", post("1"), post("2")), "full mode: unchanged lines");
        assert!(f.waiting());
        // Lines that come while others wait wait behind them, keep-alives included.
        assert_eq!(f.feed(format!("\r\n{}\r\n", post("5")).as_bytes(), Some(0)), Batch::default());
        // Renewed with room for two: posts 3 and 4, the keep-alive, and post 5 waits again.
        let b = f.resume(Some(2));
        assert_eq!(text(&b), format!("{}\r\n{}\r\n\r\n", post("3"), post("4")));
        assert!(f.waiting());
        let b = f.resume(Some(100));
        assert_eq!((b.items, b.ids.clone()), (1, vec!["5".to_owned()]));
        assert!(!f.waiting());
        // A recipient with no budget at all (the guard not answering) gets nothing that carries
        // items, but keep-alives and error lines still pass.
        let mut f = LineFilter::new(Some(Mode::IdsOnly));
        let b = f.feed(format!("\r\n{DISCONNECT}\r\n{}\r\n", post("1")).as_bytes(), None);
        assert_eq!(text(&b), format!("\r\n{DISCONNECT}\r\n"));
        assert!(f.waiting());
    }

    #[test]
    fn without_a_recipient_a_post_carrying_more_items_than_are_left_is_cut_to_them() {
        let mut f = LineFilter::new(None);
        let b = f.feed(b"{\"data\":[{\"id\":\"1\"},{\"id\":\"2\"},{\"id\":\"3\"}],\"meta\":{\"n\":3}}\r\n", Some(2));
        assert_eq!((b.items, b.ids.clone()), (2, vec!["1".to_owned(), "2".to_owned()]));
        let sent: serde_json::Value = serde_json::from_slice(&b.bytes[..b.bytes.len() - 2]).unwrap();
        assert_eq!(sent["data"].as_array().unwrap().len(), 2);
        assert!(!f.waiting(), "what did not fit is not kept");
    }

    #[test]
    fn an_overlong_line_is_dropped_with_or_without_a_recipient() {
        for recipient in [None, Some(Mode::IdsOnly)] {
            let mut f = LineFilter::with_limit(recipient, 200);
            let long = format!(r#"{{"data":{{"id":"9","text":"{}"}}}}"#, "x".repeat(300));
            let stream = format!("{}\r\n{long}\r\n{}\r\n", post("1"), post("2"));
            let b = feed_all(&mut f, &stream.as_bytes().chunks(7).collect::<Vec<_>>(), Some(10));
            assert_eq!(b.items, 2);
            assert_eq!(b.dropped.too_long, 1);
            assert!(!text(&b).contains("xxx"));
            assert!(f.held() <= 201);
        }
    }

    #[test]
    fn the_same_bytes_give_the_same_lines_however_they_are_chunked() {
        let stream = format!("{}\r\n\r\n{}\r\nnot json\r\n{DISCONNECT}\r\n{}", post("1"), post("2"), post("3"));
        for budget in [None, Some(1), Some(100)] {
            let once = feed_all(&mut LineFilter::new(None), &[stream.as_bytes()], budget);
            for size in [1, 2, 3, 7, 64] {
                let chunks: Vec<&[u8]> = stream.as_bytes().chunks(size).collect();
                assert_eq!(feed_all(&mut LineFilter::new(None), &chunks, budget), once, "chunks of {size}, budget {budget:?}");
            }
        }
    }

    #[test]
    fn lines_are_read_in_the_endpoints_shape() {
        // A stream of one object a line (the whole line is the item), with numeric ids.
        let array: Shape = serde_json::from_str(r#"{"items":""}"#).unwrap();
        let metering = Metering { shape: std::rc::Rc::new(array), capped: false };
        let stream = "{\"id\":101,\"name\":\"a\"}\r\n\r\n{\"id\":102,\"name\":\"b\"}\r\n";
        let b = feed_all(&mut LineFilter::new(None).metered(metering.clone()), &[stream.as_bytes()], None);
        assert_eq!((b.items, b.ids.clone()), (2, vec!["101".to_owned(), "102".to_owned()]));
        assert_eq!(text(&b), stream);
        let b = feed_all(&mut LineFilter::new(Some(Mode::IdsOnly)).metered(metering), &[stream.as_bytes()], Some(10));
        assert_eq!(text(&b), "{\"id\":101}\r\n\r\n{\"id\":102}\r\n");
        assert_eq!(b.ids, ["101", "102"]);
        // X's post lines are not this shape's items where the shape differs.
        assert_eq!(super::classify(post("1").as_bytes(), &serde_json::from_str(r#"{"items":"/includes/users"}"#).unwrap()),
            Kind::Post { items: 1, ids: vec!["9".into()] });
    }

    #[test]
    fn under_a_cap_a_line_of_another_shape_is_dropped_not_passed_uncounted() {
        let capped = Metering { shape: std::rc::Rc::new(Shape::x_v2()), capped: true };
        let stream = format!("{}\r\n<html>\r\n[{{\"id\":\"2\"}}]\r\n{DISCONNECT}\r\n", post("1"));
        let b = feed_all(&mut LineFilter::new(None).metered(capped), &[stream.as_bytes()], Some(100));
        assert_eq!(text(&b), format!("{}\r\n{DISCONNECT}\r\n", post("1")));
        assert_eq!((b.items, b.passed_not_json, b.dropped.not_json), (1, 0, 2));
    }

}
