//! The one source of randomness: the runtime's CSPRNG through getrandom.

/// This isolate's name in the ids of the lease reports it sends: 16 random hex digits, drawn
/// once ("unnamed" should the runtime have no randomness, never expected).
#[cfg(feature = "enforcer")]
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
#[cfg(feature = "control")]
pub fn new_token() -> Option<crate::domain::access::token::Token> {
    let mut body = [0u8; 32];
    getrandom::fill(&mut body).ok()?;
    Some(crate::domain::access::token::Token::from_random(body))
}
