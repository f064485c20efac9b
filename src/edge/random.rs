//! The one source of randomness: the runtime's CSPRNG through getrandom.

use crate::domain::access::token::Token;

/// This isolate's name in the ids of the lease reports it sends: 16 random hex digits, drawn
/// once ("unnamed" should the runtime have no randomness, never expected).
pub fn isolate_name() -> String {
    thread_local! {
        static NAME: String = {
            let mut bytes = [0u8; 8];
            match getrandom::fill(&mut bytes) {
                Ok(()) => crate::domain::hex::encode(&bytes),
                Err(_) => "unnamed".to_owned(),
            }
        };
    }
    NAME.with(Clone::clone)
}

/// A new token, or `None` if the runtime has no randomness to give (never expected).
pub fn new_token() -> Option<Token> {
    let mut body = [0u8; 32];
    getrandom::fill(&mut body).ok()?;
    Some(Token::from_random(body))
}
