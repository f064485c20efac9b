//! The one source of randomness: the runtime's CSPRNG through getrandom.

use crate::domain::access::token::Token;

/// A new token, or `None` if the runtime has no randomness to give (never expected).
pub fn new_token() -> Option<Token> {
    let mut body = [0u8; 32];
    getrandom::fill(&mut body).ok()?;
    Some(Token::from_random(body))
}
