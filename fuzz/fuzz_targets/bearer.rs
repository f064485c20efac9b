//! `token_from_header` on arbitrary header values, and on well-formed `Bearer <token>` values
//! dressed in any scheme case and surrounding whitespace.
//!
//! Invariants: a token is only ever read from a value of at most 512 bytes, without a comma,
//! whose trimmed form is `bearer` (any case), a space, optional whitespace and the token, and
//! nothing after it; padding a value with whitespace never changes the outcome; every
//! well-formed value of at most 512 bytes yields its token.
#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use tollgate::domain::access::bearer::{token_from_header, BearerError};
use tollgate::domain::access::token::Token;

const MAX_VALUE: usize = 512;

/// Characters `str::trim` removes, ASCII and not.
const SPACES: [char; 10] =
    [' ', '\t', '\n', '\r', '\u{b}', '\u{c}', '\u{85}', '\u{a0}', '\u{2003}', '\u{3000}'];

fn check(value: &str) {
    let outcome = token_from_header(Some(value));
    match &outcome {
        Ok(token) => {
            assert!(value.len() <= MAX_VALUE);
            assert!(!value.contains(','));
            let trimmed = value.trim().as_bytes();
            assert!(trimmed.len() > 7 && trimmed[..6].eq_ignore_ascii_case(b"bearer") && trimmed[6] == b' ');
            assert!(trimmed.ends_with(token.reveal().as_bytes()), "something follows the token");
            assert!(std::str::from_utf8(&trimmed[7..trimmed.len() - token.reveal().len()])
                .unwrap()
                .chars()
                .all(char::is_whitespace));
        }
        Err(BearerError::Missing) => panic!("a present header was read as missing"),
        Err(BearerError::Repeated) => assert!(value.len() <= MAX_VALUE && value.contains(',')),
        Err(BearerError::Token(_)) => {
            assert!(value.len() <= MAX_VALUE && !value.contains(','));
            let trimmed = value.trim().as_bytes();
            assert!(trimmed.len() >= 7 && trimmed[..6].eq_ignore_ascii_case(b"bearer") && trimmed[6] == b' ');
        }
        Err(BearerError::Scheme) => {}
    }
    // Whitespace around the whole value is never significant (within the size limit).
    let padded = format!(" \t{value}\u{a0} ");
    if padded.len() <= MAX_VALUE {
        assert_eq!(token_from_header(Some(&padded)), outcome);
    } else {
        assert_eq!(token_from_header(Some(&padded)), Err(BearerError::Scheme));
    }
}

fn spaces(u: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    let n = u.int_in_range(0..=4)?;
    (0..n).map(|_| u.choose(&SPACES).copied()).collect()
}

/// `<lead>bearer <mid><token><trail>`, the scheme in a case the input picks.
fn well_formed(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let token = Token::from_random(u.arbitrary()?);
    let case: u8 = u.arbitrary()?;
    let scheme: String = "bearer"
        .chars()
        .enumerate()
        .map(|(i, c)| if case >> i & 1 == 1 { c.to_ascii_uppercase() } else { c })
        .collect();
    let (lead, mid, trail) = (spaces(u)?, spaces(u)?, spaces(u)?);
    let value = format!("{lead}{scheme} {mid}{}{trail}", token.reveal());
    let outcome = token_from_header(Some(&value));
    if value.len() <= MAX_VALUE {
        assert_eq!(outcome, Ok(token.clone()), "{value:?}");
    } else {
        assert_eq!(outcome, Err(BearerError::Scheme));
    }
    // A second header joined by the runtime is refused, never guessed at.
    let twice = format!("{value}, {value}");
    if twice.len() <= MAX_VALUE {
        assert_eq!(token_from_header(Some(&twice)), Err(BearerError::Repeated));
    }
    check(&value);
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        assert_eq!(token_from_header(None), Err(BearerError::Missing));
        return;
    };
    if mode & 1 == 0 {
        check(&String::from_utf8_lossy(rest));
    } else {
        let _ = well_formed(&mut Unstructured::new(rest));
    }
});
