//! The common case of [`super::read`], read by hand: a body whose way to the items is plain
//! objects, whose items are objects and whose ids are plain strings or integers. One pass over
//! the bytes, checking every value it skips as strictly as the full reader does, and keeping
//! nothing but the ids: a stream's lines are all read so, and this is most of a line's decisions.
//!
//! It answers only when it is sure to answer as the full reader (`serde_json`, token by token)
//! would; anything else — not JSON, an escape in a member name or an id, an id that is a number
//! other than a plain integer of up to 18 digits, a number on the way to the items, a repeated
//! member on the way, nesting deeper than [`MAX_DEPTH`] — it leaves to that reader (`None`),
//! which then decides. The `items` fuzz target holds the two readers to the same answers.

use super::Reading;
use crate::domain::redistribution::words;

/// Deeper nesting is left to the full reader.
const MAX_DEPTH: usize = 64;

/// Items and ids as [`super::read`] finds them, or `None` to let the full reader decide.
#[must_use]
pub fn read(body: &[u8], items: &[String], id: &[String], with_ids: bool) -> Option<Reading> {
    let mut scan = Scan { bytes: body, at: 0, depth: 0 };
    let found = scan.walk(items, true, with_ids.then_some(id))?;
    scan.space();
    if scan.at != body.len() {
        return None;
    }
    Some(match found {
        Found::Items(reading) => reading,
        Found::Absent => Reading { items: 0, ids: with_ids.then(Vec::new) },
    })
}

enum Found {
    Absent,
    Items(Reading),
}

struct Scan<'a> {
    bytes: &'a [u8],
    at: usize,
    depth: usize,
}

impl<'a> Scan<'a> {
    /// Follows `path` down plain objects; where it ends, counts the items (and their ids at
    /// `id`, if asked).
    fn walk(&mut self, path: &[String], root: bool, id: Option<&[String]>) -> Option<Found> {
        self.space();
        let Some((name, rest)) = path.split_first() else {
            return self.items(id).map(Found::Items);
        };
        match self.peek()? {
            b'{' => {
                let mut found = None;
                self.members(|scan, key| {
                    if key != name.as_bytes() {
                        return scan.skip();
                    }
                    // A repeated member on the way: the full reader refuses it.
                    if found.is_some() {
                        return None;
                    }
                    found = Some(scan.deeper(|scan| scan.walk(rest, false, id))?);
                    Some(())
                })?;
                Some(found.unwrap_or(Found::Absent))
            }
            b'n' if !root => {
                self.literal(b"null")?;
                Some(Found::Absent)
            }
            _ => None,
        }
    }

    /// The items where the path ends: an array of objects, one object, or `null`.
    fn items(&mut self, id: Option<&[String]>) -> Option<Reading> {
        match self.peek()? {
            b'[' => {
                let mut items = 0;
                let mut ids = id.map(|_| Vec::new());
                self.elements(|scan| {
                    items += 1;
                    let Some(id) = id else { return scan.skip() };
                    if scan.peek()? != b'{' {
                        return None;
                    }
                    if let (Some(one), Some(list)) = (scan.deeper(|scan| scan.id_in(id))?, ids.as_mut()) {
                        list.push(one);
                    }
                    Some(())
                })?;
                Some(Reading { items, ids })
            }
            b'{' => {
                let ids = match id {
                    Some(id) => Some(self.id_in(id)?.into_iter().collect()),
                    None => {
                        self.skip()?;
                        None
                    }
                };
                Some(Reading { items: 1, ids })
            }
            b'n' => {
                self.literal(b"null")?;
                Some(Reading { items: 0, ids: id.map(|_| Vec::new()) })
            }
            _ => None,
        }
    }

    /// The id at `path` inside the object here (a repeated member counts as its last).
    fn id_in(&mut self, path: &[String]) -> Option<Option<String>> {
        let Some((name, rest)) = path.split_first() else {
            self.skip()?;
            return Some(None);
        };
        let mut found = None;
        self.members(|scan, key| {
            if key != name.as_bytes() {
                return scan.skip();
            }
            found = scan.deeper(|scan| scan.id_value(rest))?;
            Some(())
        })?;
        Some(found)
    }

    /// A value on the way to an id, `rest` still to go: a plain string or a plain integer where
    /// the way ends is the id; anything else there, and anything before it, is none.
    fn id_value(&mut self, rest: &[String]) -> Option<Option<String>> {
        self.space();
        let text = match self.peek()? {
            b'{' if !rest.is_empty() => return self.id_in(rest),
            b'"' => self.plain_string()?,
            b'-' | b'0'..=b'9' => {
                let start = self.at;
                self.number()?;
                let text = &self.bytes[start..self.at];
                // A plain integer of up to 18 digits is its own text as the full reader writes
                // it; a fraction, an exponent, `-0` or a longer one (which that reader turns into
                // a float, or refuses past the float's range) is left to that reader.
                let digits = text.strip_prefix(b"-").unwrap_or(text);
                if digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) || text == b"-0" {
                    return None;
                }
                text
            }
            _ => {
                self.skip()?;
                return Some(None);
            }
        };
        if !rest.is_empty() {
            return Some(None);
        }
        String::from_utf8(text.to_vec()).ok().map(Some)
    }

    /// The members of the object here, each name (plain, as [`Scan::plain_string`]) handed to
    /// `each` with the scan at its value, which `each` must take.
    fn members(&mut self, mut each: impl FnMut(&mut Self, &[u8]) -> Option<()>) -> Option<()> {
        self.list(b'{', b'}', |scan| {
            let key = scan.plain_string()?;
            scan.space();
            scan.expect(b':')?;
            each(scan, key)
        })
    }

    /// The elements of the array here, `each` taking one at a time, one level deeper.
    fn elements(&mut self, mut each: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.list(b'[', b']', |scan| scan.deeper(&mut each))
    }

    /// `open`, then entries separated by commas (`entry` takes one, the scan at its start), then
    /// `close`.
    fn list(&mut self, open: u8, close: u8, mut entry: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.expect(open)?;
        self.space();
        if self.peek()? == close {
            self.at += 1;
            return Some(());
        }
        loop {
            self.space();
            entry(self)?;
            self.space();
            match self.next()? {
                b',' => {}
                b if b == close => return Some(()),
                _ => return None,
            }
        }
    }

    /// Any value, checked and not kept.
    fn skip(&mut self) -> Option<()> {
        self.space();
        match self.peek()? {
            b'{' => self.members(|scan, _| scan.deeper(Self::skip)),
            b'[' => self.elements(Self::skip),
            b'"' => {
                self.at += 1;
                self.skip_string_rest()
            }
            b'n' => self.literal(b"null"),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// A string with no escape, its text UTF-8: the text's bytes (for a member name or an id).
    fn plain_string(&mut self) -> Option<&'a [u8]> {
        self.expect(b'"')?;
        let start = self.at;
        self.at += plain_run(&self.bytes[self.at..]);
        if self.next()? != b'"' {
            return None;
        }
        let text = &self.bytes[start..self.at - 1];
        (text.is_ascii() || std::str::from_utf8(text).is_ok()).then_some(text)
    }

    /// The rest of a string being skipped: its escapes well formed, no control character.
    fn skip_string_rest(&mut self) -> Option<()> {
        loop {
            self.at += plain_run(&self.bytes[self.at..]);
            match self.next()? {
                b'"' => return Some(()),
                b'\\' => match self.next()? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                    b'u' => {
                        let hex = self.bytes.get(self.at..self.at + 4)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return None;
                        }
                        self.at += 4;
                    }
                    _ => return None,
                },
                _ => return None,
            }
        }
    }

    /// A number as JSON writes it: `-`, an integer without leading zeros, a fraction, an exponent.
    fn number(&mut self) -> Option<()> {
        if self.peek()? == b'-' {
            self.at += 1;
        }
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        // A digit right after (`01`) is not a number's continuation: the caller's separator check
        // refuses it.
        Some(())
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
        self.at - start
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// One level deeper; past [`MAX_DEPTH`] the full reader decides.
    fn deeper<T>(&mut self, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        if self.depth >= MAX_DEPTH {
            return None;
        }
        self.depth += 1;
        let out = f(self);
        self.depth -= 1;
        out
    }

    fn space(&mut self) {
        while matches!(self.bytes.get(self.at), Some(b' ' | b'\n' | b'\t' | b'\r')) {
            self.at += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn expect(&mut self, b: u8) -> Option<()> {
        (self.next()? == b).then_some(())
    }
}

/// How many bytes from the start need no look inside a string (none is `"`, `\` or a control
/// character), eight at a time.
fn plain_run(bytes: &[u8]) -> usize {
    // All three tested, without branching between them.
    let special = |w: u64| words::has_below(w, 0x20) | words::has(w, b'"') | words::has(w, b'\\');
    words::position(bytes, special, |b| b < 0x20 || b == b'"' || b == b'\\').unwrap_or(bytes.len())
}

#[cfg(test)]
mod tests {
    use super::super::{read_by_tokens, Reading};
    use crate::domain::redistribution::shape::Shape;

    fn listing() -> Shape {
        serde_json::from_str(r#"{"items":"/data/children","id":"/data/id"}"#).unwrap()
    }

    fn array() -> Shape {
        serde_json::from_str(r#"{"items":""}"#).unwrap()
    }

    fn by_hand(body: &str, shape: &Shape, with_ids: bool) -> Option<Reading> {
        super::read(body.as_bytes(), shape.items.tokens(), shape.id.tokens(), with_ids)
    }

    /// Read by hand, with and without ids, and the same as the full reader.
    fn sure(body: &str, shape: &Shape) -> Reading {
        for with_ids in [false, true] {
            let hand = by_hand(body, shape, with_ids).unwrap_or_else(|| panic!("not read by hand: {body}"));
            assert_eq!(Some(&hand), read_by_tokens(body.as_bytes(), shape, with_ids).as_ref(), "{body}");
        }
        by_hand(body, shape, true).unwrap()
    }

    /// Left to the full reader, with and without ids.
    fn unsure(body: &str, shape: &Shape) {
        for with_ids in [false, true] {
            assert_eq!(by_hand(body, shape, with_ids), None, "{body} (with ids: {with_ids})");
        }
    }

    #[test]
    fn reads_the_common_shapes_as_the_full_reader_does() {
        let x = Shape::x_v2();
        let line = r#"{"data":{"edit_history_tweet_ids":["1"],"id":"1","text":"caf\u00e9 \"quoted\" \\ é, 𝄞"},"matching_rules":[{"id":"1","tag":"t"}]}"#;
        assert_eq!(sure(line, &x), Reading { items: 1, ids: Some(vec!["1".into()]) });
        let page = r#" { "data" : [ {"id":"1","n":-0.5e+3,"t":true,"f":false,"z":null,"o":{},"a":[]} , {"text":"no id"} , {"id":"3","id":"4"} ] , "meta":{"result_count":3} } "#;
        assert_eq!(sure(page, &x), Reading { items: 3, ids: Some(vec!["1".into(), "4".into()]) });
        assert_eq!(sure(r#"{"data":[]}"#, &x), Reading { items: 0, ids: Some(vec![]) });
        assert_eq!(sure(r#"{"data":null}"#, &x), Reading { items: 0, ids: Some(vec![]) });
        assert_eq!(sure(r#"{"meta":{"result_count":0}}"#, &x), Reading { items: 0, ids: Some(vec![]) });
        assert_eq!(sure(r#"{"data":{"id":{"nested":"x"}}}"#, &x), Reading { items: 1, ids: Some(vec![]) });
        assert_eq!(sure(r#"{"data":{"id":null,"x":[1,[2,{"a":"b"}]]}}"#, &x), Reading { items: 1, ids: Some(vec![]) });
        let children = r#"{"kind":"Listing","data":{"after":null,"children":[{"kind":"t3","data":{"id":"a1"}},{"kind":"t3","data":{"id":"a2"}}]}}"#;
        assert_eq!(sure(children, &listing()), Reading { items: 2, ids: Some(vec!["a1".into(), "a2".into()]) });
        assert_eq!(sure(r#"[{"id":"1"},{"id":"2"}]"#, &array()), Reading { items: 2, ids: Some(vec!["1".into(), "2".into()]) });
        let numbers = r#"[{"id":12},{"id":-7},{"id":0},{"id":123456789012345678},{"id":{"x":1}},{"id":[2]}]"#;
        let listed = ["12", "-7", "0", "123456789012345678"].map(String::from).to_vec();
        assert_eq!(sure(numbers, &array()), Reading { items: 6, ids: Some(listed) });
    }

    #[test]
    fn leaves_what_it_is_not_sure_of_to_the_full_reader() {
        let x = Shape::x_v2();
        for body in [
            "",
            "oops",
            r#"{"data":[{"id":"1"}]"#,
            r#"{"data":[{"id":"1"}]}x"#,
            r#"{"data":[{"id":"1"},]}"#,
            r#"{"data":{"id":"1"},"data":{"id":"2"}}"#,
            r#"{"d\u0061ta":{"id":"1"}}"#,
            r#"{"data":"text"}"#,
            r#"{"data":{"n":01}}"#,
            r#"{"data":{"n":1.}}"#,
            r#"{"data":{"n":-}}"#,
            r#"{"data":{"s":"bad \x escape"}}"#,
            r#"{"data":{"s":"\u12"}}"#,
            "{\"data\":{\"s\":\"a\tb\"}}",
            "null",
            "[]",
        ] {
            unsure(body, &x);
        }
        // Only where the ids are read: a number other than a plain integer of up to 18 digits,
        // or an escape, in an id or on the way to it; an item not an object.
        let nested: Shape = serde_json::from_str(r#"{"items":"/data","id":"/id/n"}"#).unwrap();
        assert_eq!(by_hand(r#"{"data":{"id":1e400}}"#, &nested, true), None);
        assert_eq!(sure(r#"{"data":{"id":7}}"#, &nested), Reading { items: 1, ids: Some(vec![]) });
        for body in [
            r#"{"data":{"id":1.5}}"#,
            r#"{"data":{"id":1e3}}"#,
            r#"{"data":{"id":-0}}"#,
            r#"{"data":{"id":1234567890123456789}}"#,
            r#"{"data":{"id":"a\nb"}}"#,
            r#"{"data":[1,2]}"#,
        ] {
            assert_eq!(by_hand(body, &x, true), None, "{body}");
            assert_eq!(by_hand(body, &x, false), read_by_tokens(body.as_bytes(), &x, false), "{body}");
        }
        let deep = format!(r#"{{"data":{{"id":"1","x":{}{}}}}}"#, "[".repeat(100), "]".repeat(100));
        unsure(&deep, &x);
        // A name that is not UTF-8.
        let mut bytes = br#"{"data":{"id":"1","#.to_vec();
        bytes.extend_from_slice(b"\"\xff\":1}}");
        assert_eq!(super::read(&bytes, x.items.tokens(), x.id.tokens(), true), None);
    }

    #[test]
    fn finds_a_string_end_wherever_it_lies_in_a_word() {
        for len in 0..24 {
            for special in [b'"', b'\\', 0x1f, 0x00] {
                for at in 0..len {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = special;
                    assert_eq!(super::plain_run(&bytes), at, "len {len}, byte {special:#x} at {at}");
                }
            }
            assert_eq!(super::plain_run(&vec![0xc3; len]), len, "non-ASCII bytes are plain");
            assert_eq!(super::plain_run(&vec![b' '; len]), len);
        }
    }
}
