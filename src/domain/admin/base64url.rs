//! Base64url without padding (RFC 4648 §5), the encoding of every part of a JWT and of a JSON
//! Web Key's numbers. Decoding only: Tollgate never writes either.

fn value(c: u8) -> Option<u32> {
    match c {
        b'A'..=b'Z' => Some(u32::from(c - b'A')),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    }
}

/// The bytes, or `None` for a character outside the alphabet (padding included), a length no
/// encoding has (one character over a multiple of four), or stray bits in the last character:
/// every byte string has exactly one spelling.
#[must_use]
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if bytes.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c)? << (18 - 6 * i);
        }
        let [_, a, b, c] = acc.to_be_bytes();
        let kept = chunk.len() - 1;
        out.extend_from_slice(&[a, b, c][..kept]);
        // The bits past the last whole byte must be zero.
        let spare = match chunk.len() {
            2 => u32::from(b) << 8 | u32::from(c),
            3 => u32::from(c),
            _ => 0,
        };
        if spare != 0 {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn decodes_the_rfc_vectors_without_padding() {
        for (text, bytes) in [("", ""), ("Zg", "f"), ("Zm8", "fo"), ("Zm9v", "foo"), ("Zm9vYg", "foob"), ("Zm9vYmE", "fooba"), ("Zm9vYmFy", "foobar")] {
            assert_eq!(decode(text).unwrap(), bytes.as_bytes(), "{text}");
        }
        assert_eq!(decode("-_8").unwrap(), [0xfb, 0xff]);
    }

    #[test]
    fn refuses_padding_other_alphabets_bad_lengths_and_stray_bits() {
        // `Zh` carries a stray bit after the one byte it encodes.
        for text in ["Zg==", "Zm9v+", "Zm9v/", "Z", "Zm9vY", "Zh", "a b"] {
            assert_eq!(decode(text), None, "{text}");
        }
    }
}
