//! Searching bytes eight at a time, with plain `u64` words (as quick in the worker's wasm as on
//! the host): a stream's line ends and the ends of the strings in its lines are found so, since
//! those searches look at every byte a stream carries.

const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);

/// A word with every byte `b`.
#[must_use]
pub const fn splat(b: u8) -> u64 {
    u64::from_ne_bytes([b; 8])
}

/// Whether a byte of `word` is below `n` (at most `0x80`). Exact as to whether one is: the
/// subtraction sets a byte's high bit where it is below `n`, and may set others only after one.
#[must_use]
pub const fn has_below(word: u64, n: u8) -> bool {
    word.wrapping_sub(ONES.wrapping_mul(n as u64)) & !word & HIGHS != 0
}

/// Whether a byte of `word` is `b`.
#[must_use]
pub const fn has(word: u64, b: u8) -> bool {
    has_below(word ^ splat(b), 1)
}

/// The first position in `bytes` whose byte is `hit`, skipping eight bytes at a time while
/// `word_has` says a word has none (it must never say so of a word that has one).
#[must_use]
pub fn position(bytes: &[u8], word_has: impl Fn(u64) -> bool, hit: impl Fn(u8) -> bool) -> Option<usize> {
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in words.by_ref() {
        if word_has(u64::from_ne_bytes(word.try_into().unwrap_or([0; 8]))) {
            break;
        }
        at += 8;
    }
    bytes[at..].iter().position(|&b| hit(b)).map(|i| at + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_tests_are_exact_whatever_the_bytes_around() {
        for at in 0..8 {
            for fill in [0x00, 0x09, 0x0b, 0x1f, 0x20, 0x61, 0x8a, 0xff] {
                let mut bytes = [fill; 8];
                let word = u64::from_ne_bytes(bytes);
                assert!(!has(word, b'\n'), "fill {fill:#x}");
                assert_eq!(has_below(word, 0x20), fill < 0x20, "fill {fill:#x}");
                bytes[at] = b'\n';
                let word = u64::from_ne_bytes(bytes);
                assert!(has(word, b'\n') && has_below(word, 0x20), "at {at}, fill {fill:#x}");
            }
        }
    }

    #[test]
    fn finds_the_first_hit_wherever_it_lies() {
        let newline = |bytes: &[u8]| position(bytes, |w| has(w, b'\n'), |b| b == b'\n');
        for len in 0..40 {
            for at in 0..len {
                let mut bytes = vec![b'a'; len];
                bytes[at] = b'\n';
                if at + 3 < len {
                    bytes[at + 3] = b'\n';
                }
                assert_eq!(newline(&bytes), Some(at), "len {len}, at {at}");
            }
            assert_eq!(newline(&vec![b'a'; len]), None, "len {len}");
        }
    }
}
