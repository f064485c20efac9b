//! Finding a line's end in a stream's bytes, eight bytes at a time: the splitter looks at every
//! byte of a stream, and a byte-by-byte search was the largest part of a line's decisions. The
//! words are plain `u64`s, so the search is as quick in the worker's wasm as on the host.

const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
const NEWLINES: u64 = u64::from_ne_bytes([b'\n'; 8]);

/// Where the first `\n` is in `bytes`, if there is one.
#[must_use]
pub fn find(bytes: &[u8]) -> Option<usize> {
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in words.by_ref() {
        let x = u64::from_ne_bytes(word.try_into().unwrap_or([0; 8])) ^ NEWLINES;
        // A byte of `x` is zero where the word has a `\n`: this sets its high bit (and may set
        // others only after a zero byte), so any bit set means the word has one.
        if x.wrapping_sub(ONES) & !x & HIGHS != 0 {
            return word.iter().position(|&b| b == b'\n').map(|i| at + i);
        }
        at += 8;
    }
    words.remainder().iter().position(|&b| b == b'\n').map(|i| at + i)
}

#[cfg(test)]
mod tests {
    use super::find;

    #[test]
    fn finds_the_first_newline_wherever_it_lies() {
        for len in 0..40 {
            for at in 0..len {
                let mut bytes = vec![b'a'; len];
                bytes[at] = b'\n';
                if at + 3 < len {
                    bytes[at + 3] = b'\n';
                }
                assert_eq!(find(&bytes), Some(at), "len {len}, at {at}");
            }
            assert_eq!(find(&vec![b'a'; len]), None, "len {len}");
        }
    }

    #[test]
    fn bytes_near_a_newline_are_not_taken_for_one() {
        // 0x0b (one above), 0x09 (one below), 0x8a (high bit set) and 0x00 around no newline.
        let bytes = [0x0b, 0x09, 0x8a, 0x00, 0x0b, 0x8a, 0xff, 0x09, 0x0b, 0x8a];
        assert_eq!(find(&bytes), None);
        let mut with = bytes.to_vec();
        with.push(b'\n');
        assert_eq!(find(&with), Some(bytes.len()));
    }
}
