//! The `Authorization` header, read the way the API's own clients send it.

use crate::domain::access::token::{Token, TokenError};

/// Why a request carries no usable token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BearerError {
    #[error("no Authorization header")]
    Missing,
    #[error("more than one Authorization header")]
    Repeated,
    #[error("the Authorization header is not `Bearer <token>`")]
    Scheme,
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// Longest header value looked at; anything longer is refused unread.
const MAX_VALUE: usize = 512;

/// Extracts the token from the values of every `Authorization` header on the request.
///
/// Runtimes join repeated headers with `", "`; a comma in the value therefore means the client
/// sent several, and Tollgate refuses to guess which one counts.
///
/// # Errors
/// A [`BearerError`] for a missing, repeated or malformed header.
pub fn token_from_header(value: Option<&str>) -> Result<Token, BearerError> {
    let value = value.ok_or(BearerError::Missing)?;
    if value.len() > MAX_VALUE {
        return Err(BearerError::Scheme);
    }
    if value.contains(',') {
        return Err(BearerError::Repeated);
    }
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').ok_or(BearerError::Scheme)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(BearerError::Scheme);
    }
    Ok(Token::parse(rest.trim_start())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_bearer_token_in_any_scheme_case() {
        let token = Token::from_random([1; 32]);
        for scheme in ["Bearer", "bearer", "BEARER"] {
            let header = format!("{scheme} {}", token.reveal());
            assert_eq!(token_from_header(Some(&header)).unwrap(), token);
        }
    }

    #[test]
    fn refuses_missing_repeated_and_foreign_schemes() {
        let token = Token::from_random([1; 32]);
        assert_eq!(token_from_header(None), Err(BearerError::Missing));
        assert_eq!(token_from_header(Some("")), Err(BearerError::Scheme));
        assert_eq!(token_from_header(Some("Basic dXNlcjpwYXNz")), Err(BearerError::Scheme));
        let twice = format!("Bearer {0}, Bearer {0}", token.reveal());
        assert_eq!(token_from_header(Some(&twice)), Err(BearerError::Repeated));
        assert_eq!(
            token_from_header(Some("Bearer nope")),
            Err(BearerError::Token(TokenError::Prefix))
        );
        assert_eq!(token_from_header(Some(&"x".repeat(10_000))), Err(BearerError::Scheme));
    }
}
