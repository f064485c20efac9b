//! JSON Pointers (`redistribution::pointer`) on arbitrary text.
//!
//! Invariants, against a reference written from RFC 6901: text is a pointer when it is empty or
//! starts with `/` and every `~` is followed by `0` or `1`; its names are the `/`-separated parts
//! after the first `/`, with `~1` read as `/` and then `~0` as `~`; a pointer longer than the
//! limits is refused, and nothing else is; a parsed pointer prints back as the text it came from
//! and parses again to itself; `within` is a prefix of names.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::domain::redistribution::pointer::{Pointer, PointerError, MAX_POINTER_BYTES, MAX_TOKENS};

/// RFC 6901, section 4, without limits: the names, or `None` when the text is not a pointer.
fn reference(text: &str) -> Option<Vec<String>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    let rest = text.strip_prefix('/')?;
    let bytes = text.as_bytes();
    let escapes_ok = bytes.iter().enumerate().all(|(i, &b)| b != b'~' || matches!(bytes.get(i + 1), Some(b'0' | b'1')));
    if !escapes_ok {
        return None;
    }
    Some(rest.split('/').map(|t| t.replace("~1", "/").replace("~0", "~")).collect())
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let parsed = Pointer::parse(text);
    match (reference(text), &parsed) {
        (Some(names), Ok(p)) => {
            assert_eq!(p.tokens(), names.as_slice());
            assert!(text.len() <= MAX_POINTER_BYTES && names.len() <= MAX_TOKENS);
            assert_eq!(p.to_string(), text, "prints back as it was written");
            assert_eq!(Pointer::parse(&p.to_string()).as_ref(), Ok(p));
            assert_eq!(p.is_root(), text.is_empty());
            assert!(p.within(&Pointer::default()) && p.within(p));
            if let Some((_, parent)) = names.split_last() {
                let parent: Vec<&str> = parent.iter().map(String::as_str).collect();
                assert!(p.within(&Pointer::from_tokens(&parent)));
                assert!(!Pointer::from_tokens(&parent).within(p));
            }
        }
        (Some(names), Err(e)) => {
            assert_eq!(*e, PointerError::TooLong, "{text:?} refused: {e}");
            assert!(text.len() > MAX_POINTER_BYTES || names.len() > MAX_TOKENS, "{text:?} refused within the limits");
        }
        (None, Ok(p)) => panic!("{text:?} is not a pointer, read as {p:?}"),
        (None, Err(_)) => {}
    }
});
