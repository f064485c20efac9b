//! What an account owes: the prices a plan carries (versioned by the month they take effect),
//! amounts in integer minor units, and the monthly statement built from the ledger.

pub mod export;
pub mod fleet;
pub mod money;
pub mod own_usage;
pub mod price;
pub mod statement;
