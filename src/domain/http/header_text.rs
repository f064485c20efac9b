//! Headers as one text, to cross between the runtime and wasm in one call: `name \n value \n`
//! for each header. Neither a name nor a value can hold a line feed (the runtime refuses one in
//! either), so the text splits back into exactly the pairs it was made from.

/// The text of `pairs`.
#[must_use]
pub fn join<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut text = String::new();
    for (name, value) in pairs {
        text.push_str(name);
        text.push('\n');
        text.push_str(value);
        text.push('\n');
    }
    text
}

/// The pairs of a text; `None` if it does not split into whole pairs (an empty text is no pairs).
#[must_use]
pub fn split(text: &str) -> Option<Vec<(String, String)>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    let body = text.strip_suffix('\n')?;
    let mut parts = body.split('\n');
    let mut out = Vec::new();
    while let Some(name) = parts.next() {
        out.push((name.to_owned(), parts.next()?.to_owned()));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_text_splits_into_the_pairs_it_was_made_from() {
        let pairs = [
            ("accept", "application/json"),
            ("x-empty", ""),
            ("user-agent", "a: b; c=d"),
        ];
        let text = join(pairs);
        assert_eq!(
            text,
            "accept\napplication/json\nx-empty\n\nuser-agent\na: b; c=d\n"
        );
        assert_eq!(split(&text), Some(owned(&pairs)));
    }

    #[test]
    fn no_headers_is_an_empty_text() {
        assert_eq!(join([]), "");
        assert_eq!(split(""), Some(Vec::new()));
    }

    #[test]
    fn a_text_that_is_not_whole_pairs_is_refused() {
        assert_eq!(split("accept\n"), None, "a name without its value");
        assert_eq!(
            split("accept\napplication/json"),
            None,
            "no final line feed"
        );
        assert_eq!(split("a\n1\nb\n"), None, "the second value is missing");
    }
}
