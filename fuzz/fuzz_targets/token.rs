//! `Token::parse` on arbitrary text, and the round trip of `Token::from_random`.
//!
//! Invariants: parse accepts exactly `tg_` + 72 lowercase hex digits whose last 8 are the
//! checksum of the first 64, and each error names the first thing wrong; every issued token
//! parses back to itself, any change to its checksum is refused, and `Debug` never shows it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::domain::hex;
use tollgate::domain::access::token::{Token, TokenError, TokenHash, LEN, PREFIX};

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn round_trip(body: [u8; 32], twist: u8, digit: u8) {
    let token = Token::from_random(body);
    let text = token.reveal();
    assert_eq!(text.len(), LEN);
    assert!(text.starts_with(PREFIX));
    assert!(is_lower_hex(&text[PREFIX.len()..]));
    assert_eq!(&text[PREFIX.len()..PREFIX.len() + 64], hex::encode(&body));
    assert_eq!(Token::parse(text), Ok(token.clone()));

    // Any other lowercase digit in the checksum is refused as a checksum error.
    let at = PREFIX.len() + 64 + usize::from(twist % 8);
    let mut tampered = text.as_bytes().to_vec();
    let digits = b"0123456789abcdef";
    let old = digits.iter().position(|&d| d == tampered[at]).unwrap();
    tampered[at] = digits[(old + 1 + usize::from(digit % 15)) % 16];
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(Token::parse(&tampered), Err(TokenError::Checksum));

    // One spelling per token: an uppercase letter anywhere after the prefix is an encoding error.
    if let Some(i) = text.bytes().skip(PREFIX.len()).position(|b| b.is_ascii_lowercase()) {
        let mut upper = text.as_bytes().to_vec();
        upper[PREFIX.len() + i].make_ascii_uppercase();
        assert_eq!(Token::parse(std::str::from_utf8(&upper).unwrap()), Err(TokenError::Encoding));
    }

    let shown = format!("{token:?}");
    assert!(!shown.contains(&text[PREFIX.len()..]), "Debug shows the secret");
    assert!(!shown.contains(&text[PREFIX.len()..PREFIX.len() + 16]), "Debug shows part of the secret");

    let hash = token.hash();
    assert_eq!(hash.as_str().len(), 64);
    assert_eq!(TokenHash::from_hex(hash.as_str()).as_ref(), Some(&hash));
    assert_eq!(hash.short(), &hash.as_str()[..12]);
    assert_ne!(hash.as_str(), &text[PREFIX.len()..PREFIX.len() + 64]);
}

fn parse_arbitrary(text: &str) {
    match Token::parse(text) {
        Ok(token) => {
            assert_eq!(token.reveal(), text);
            assert_eq!(text.len(), LEN);
            assert!(text.starts_with(PREFIX) && is_lower_hex(&text[PREFIX.len()..]));
            // A token that parses is exactly the one its body issues.
            let body: [u8; 32] = hex::decode(&text[PREFIX.len()..PREFIX.len() + 64]).unwrap().try_into().unwrap();
            assert_eq!(Token::from_random(body), token);
        }
        Err(TokenError::Prefix) => assert!(!text.starts_with(PREFIX)),
        Err(TokenError::Length) => assert!(text.starts_with(PREFIX) && text.len() != LEN),
        Err(TokenError::Encoding) => {
            assert!(text.starts_with(PREFIX) && text.len() == LEN && !is_lower_hex(&text[PREFIX.len()..]));
        }
        Err(TokenError::Checksum) => {
            assert!(text.starts_with(PREFIX) && text.len() == LEN && is_lower_hex(&text[PREFIX.len()..]));
        }
    }

    let stored = TokenHash::from_hex(text);
    assert_eq!(stored.is_some(), text.len() == 64 && is_lower_hex(text));
    if let Some(hash) = stored {
        assert_eq!(hash.as_str(), text);
        assert_eq!(hash.short().len(), 12);
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        parse_arbitrary(text);
    }
    if data.len() >= 32 {
        let body: [u8; 32] = data[..32].try_into().unwrap();
        let twist = data.get(32).copied().unwrap_or(0);
        let digit = data.get(33).copied().unwrap_or(0);
        round_trip(body, twist, digit);
    }
});
