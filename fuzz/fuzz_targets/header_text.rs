//! `header_text::split` on arbitrary text, and `join` then `split` on arbitrary header pairs.
//!
//! Invariants: a text splits (`Some`) exactly when it is empty or ends with a line feed and holds
//! an even number of them; what it splits into joins back into the very same text, and no name
//! or value holds a line feed; pairs without line feeds (as the runtime's headers are) split
//! back into exactly themselves, in order.
#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use tollgate::domain::http::header_text::{join, split};

fn check(text: &str) {
    let feeds = text.bytes().filter(|&b| b == b'\n').count();
    let whole = text.is_empty() || (text.ends_with('\n') && feeds % 2 == 0);
    match split(text) {
        Some(pairs) => {
            assert!(whole, "split a text that is not whole pairs: {text:?}");
            assert_eq!(pairs.len(), feeds / 2);
            assert!(pairs.iter().all(|(n, v)| !n.contains('\n') && !v.contains('\n')));
            assert_eq!(join(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))), text);
        }
        None => assert!(!whole, "refused a text of whole pairs: {text:?}"),
    }
}

/// Pairs the input picks, line feeds taken out (the runtime refuses them in names and values).
fn round_trip(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let raw: Vec<(String, String)> = u.arbitrary()?;
    let pairs: Vec<(String, String)> = raw.into_iter().map(|(n, v)| (n.replace('\n', ""), v.replace('\n', ""))).collect();
    let text = join(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    assert_eq!(split(&text), Some(pairs));
    check(&text);
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        check("");
        return;
    };
    if mode & 1 == 0 {
        check(&String::from_utf8_lossy(rest));
    } else {
        let _ = round_trip(&mut Unstructured::new(rest));
    }
});
