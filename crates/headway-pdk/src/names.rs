//! Comparing names cheaply inside the sandbox, where every instruction counts:
//! wasm has no vector `memcmp`, and a byte-wise one made each measure lookup
//! cost hundreds of instructions.

/// Whether two names are equal, eight bytes at a time.
pub(crate) fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().unwrap_or([0; 8]));
    let n = a.len();
    if n < 8 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    let mut at = 0;
    while at + 8 <= n {
        if word(a, at) != word(b, at) {
            return false;
        }
        at += 8;
    }
    // The last, partial word: compare the final eight bytes (overlapping).
    at == n || word(a, n - 8) == word(b, n - 8)
}

/// A name of up to 24 bytes held in three words: two names are equal exactly
/// when their keys are, so a name remembered as a key is recognised in a few
/// instructions, wherever its bytes live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Key {
    len: usize,
    head: u64,
    mid: u64,
    tail: u64,
}

impl Key {
    /// The key of `name`; `None` for a name over 24 bytes, which is compared
    /// with [`same`] instead.
    #[inline]
    pub fn of(name: &str) -> Option<Self> {
        let b = name.as_bytes();
        let word = |w: Option<&[u8; 8]>| w.map_or(0, |w| u64::from_le_bytes(*w));
        let len = b.len();
        match len {
            // Bytes 0-8, 8-16 (where there are eight) and the last eight cover
            // every byte.
            8..=24 => Some(Self {
                len,
                head: word(b.first_chunk()),
                mid: word(b.get(8..16).and_then(|m| m.first_chunk())),
                tail: word(b.last_chunk()),
            }),
            0..8 => {
                let mut head = 0;
                for (i, byte) in b.iter().enumerate() {
                    head |= u64::from(*byte) << (8 * i);
                }
                Some(Self {
                    len,
                    head,
                    ..Self::default()
                })
            }
            _ => None,
        }
    }

    /// Whether `name` is the name this is the key of: the length, then as few
    /// words as it takes, without building `name`'s key.
    #[inline(always)]
    pub fn matches(&self, name: &str) -> bool {
        let b = name.as_bytes();
        if b.len() != self.len {
            return false;
        }
        let word = |w: Option<&[u8; 8]>| w.map_or(0, |w| u64::from_le_bytes(*w));
        if b.len() < 8 {
            return Self::of(name).is_some_and(|k| k.head == self.head);
        }
        word(b.first_chunk()) == self.head
            && word(b.last_chunk()) == self.tail
            && (b.len() <= 16 || word(b.get(8..16).and_then(|m| m.first_chunk())) == self.mid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 12] = [
        "",
        "a",
        "nps",
        "seats-ac",
        "seats-active",
        "seats-activf",
        "seats-purchased",
        "feature-adoption",
        "weekly-active-users",
        "weekly-active-userz",
        "twenty-four-bytes-long!!",
        "twenty-four-bytes-long!?",
    ];

    #[test]
    fn names_compare_like_strings() {
        for a in NAMES {
            for b in NAMES {
                assert_eq!(same(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn keys_are_equal_exactly_when_names_are() {
        for a in NAMES {
            for b in NAMES {
                assert_eq!(Key::of(a) == Key::of(b), a == b, "{a:?} {b:?}");
            }
        }
        // A NUL byte is a byte like any other, and lengths differ.
        assert_ne!(Key::of("a"), Key::of("a\0"));
        assert_ne!(Key::of("abcdefgh\0"), Key::of("abcdefgh"));
        assert_eq!(Key::of("twenty-five-bytes-long!!!"), None);
        for a in NAMES {
            let key = Key::of(a).unwrap();
            for b in NAMES
                .iter()
                .chain(&["a\0", "abcdefgh\0", "twenty-five-bytes-long!!!"])
            {
                assert_eq!(key.matches(b), a == *b, "{a:?} {b:?}");
            }
        }
    }
}
