//! JSON Pointers (RFC 6901): where a response shape finds its items, an item's id, and the
//! fields `ids_only` keeps or removes. `""` is the whole document; `/data/children` is the member
//! `children` of the member `data`; `~1` stands for `/` and `~0` for `~` inside a name.
//!
//! Shapes only ever step into objects: a token is always a member name, also when it is made of
//! digits. A pointer that meets an array or a scalar on its way finds nothing there.

/// The longest pointer text accepted, and the most tokens: response shapes are a few levels deep.
pub const MAX_POINTER_BYTES: usize = 256;
pub const MAX_TOKENS: usize = 8;

/// A parsed pointer: its member names, unescaped. Records hold it as its text.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Pointer(Vec<String>);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PointerError {
    #[error("a JSON Pointer is empty or starts with `/`")]
    NoSlash,
    #[error("`~` must be followed by `0` or `1`")]
    Escape,
    #[error("a JSON Pointer here is at most {MAX_POINTER_BYTES} bytes and {MAX_TOKENS} names")]
    TooLong,
}

impl Pointer {
    /// # Errors
    /// A [`PointerError`] for text that is not an RFC 6901 pointer, or a longer one than shapes use.
    pub fn parse(text: &str) -> Result<Self, PointerError> {
        if text.len() > MAX_POINTER_BYTES {
            return Err(PointerError::TooLong);
        }
        if text.is_empty() {
            return Ok(Self::default());
        }
        let rest = text.strip_prefix('/').ok_or(PointerError::NoSlash)?;
        let mut tokens = Vec::new();
        for raw in rest.split('/') {
            if tokens.len() == MAX_TOKENS {
                return Err(PointerError::TooLong);
            }
            let mut token = String::with_capacity(raw.len());
            let mut chars = raw.chars();
            while let Some(c) = chars.next() {
                if c == '~' {
                    token.push(match chars.next() {
                        Some('0') => '~',
                        Some('1') => '/',
                        _ => return Err(PointerError::Escape),
                    });
                } else {
                    token.push(c);
                }
            }
            tokens.push(token);
        }
        Ok(Self(tokens))
    }

    /// The member names, outermost first.
    #[must_use]
    pub fn tokens(&self) -> &[String] {
        &self.0
    }

    /// Whether this is the whole document (`""`).
    #[must_use]
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `self` is `other` or lies inside it.
    #[must_use]
    pub fn within(&self, other: &Pointer) -> bool {
        self.0.starts_with(&other.0)
    }

    /// A pointer from its member names.
    #[must_use]
    pub fn from_tokens(tokens: &[&str]) -> Self {
        Self(tokens.iter().map(|t| (*t).to_owned()).collect())
    }
}

impl std::fmt::Display for Pointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for token in &self.0 {
            f.write_str("/")?;
            f.write_str(&token.replace('~', "~0").replace('/', "~1"))?;
        }
        Ok(())
    }
}

impl TryFrom<String> for Pointer {
    type Error = PointerError;
    fn try_from(text: String) -> Result<Self, PointerError> {
        Self::parse(&text)
    }
}

impl From<Pointer> for String {
    fn from(p: Pointer) -> String {
        p.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_rfc_examples() {
        assert!(Pointer::parse("").unwrap().is_root());
        assert_eq!(Pointer::parse("/foo").unwrap().tokens(), ["foo"]);
        assert_eq!(Pointer::parse("/foo/0").unwrap().tokens(), ["foo", "0"]);
        assert_eq!(Pointer::parse("/").unwrap().tokens(), [""]);
        assert_eq!(Pointer::parse("/a~1b").unwrap().tokens(), ["a/b"]);
        assert_eq!(Pointer::parse("/m~0n").unwrap().tokens(), ["m~n"]);
        assert_eq!(Pointer::parse("/~01").unwrap().tokens(), ["~1"], "unescaped once, in order");
        assert_eq!(Pointer::parse("/ /\"").unwrap().tokens(), [" ", "\""]);
        assert_eq!(Pointer::parse("/data/children").unwrap().tokens(), ["data", "children"]);
    }

    #[test]
    fn refuses_what_is_not_a_pointer() {
        assert_eq!(Pointer::parse("data"), Err(PointerError::NoSlash));
        assert_eq!(Pointer::parse("#/data"), Err(PointerError::NoSlash));
        assert_eq!(Pointer::parse("/a~"), Err(PointerError::Escape));
        assert_eq!(Pointer::parse("/a~2"), Err(PointerError::Escape));
        assert_eq!(Pointer::parse(&"/a".repeat(9)), Err(PointerError::TooLong));
        assert!(Pointer::parse(&"/a".repeat(8)).is_ok());
        assert_eq!(Pointer::parse(&format!("/{}", "x".repeat(MAX_POINTER_BYTES))), Err(PointerError::TooLong));
    }

    #[test]
    fn prints_what_it_parsed() {
        for text in ["", "/", "/data", "/a~1b/m~0n", "/~01", "/data/children/0"] {
            assert_eq!(Pointer::parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn knows_what_lies_within_what() {
        let data = Pointer::parse("/data").unwrap();
        let children = Pointer::parse("/data/children").unwrap();
        assert!(children.within(&data));
        assert!(data.within(&data));
        assert!(!data.within(&children));
        assert!(children.within(&Pointer::default()));
        assert!(!Pointer::parse("/database").unwrap().within(&data));
    }
}
