//! Who is calling the admin API, once their credential has been checked: the name the audit
//! trail records, their role, and how they signed in.

use serde::Serialize;

use super::role::Role;
use crate::domain::record::audit::Actor;

/// How a caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// A Cloudflare Access token: a person (by email) or an Access service token (by Client ID).
    Access,
    /// An admin key (by its id).
    Key,
    /// The deployment's shared `ADMIN_SECRET`: break-glass, always `owner`.
    BreakGlass,
}

impl Via {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Key => "key",
            Self::BreakGlass => "break_glass",
        }
    }
}

/// The name break-glass use is recorded under.
pub const BREAK_GLASS: &str = "break-glass";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caller {
    /// An email, an Access service token's Client ID, an admin key's id, or `break-glass`.
    pub id: String,
    pub role: Role,
    pub via: Via,
}

impl Caller {
    #[must_use]
    pub fn break_glass() -> Self {
        Self { id: BREAK_GLASS.to_owned(), role: Role::Owner, via: Via::BreakGlass }
    }

    /// As the audit trail names it.
    #[must_use]
    pub fn actor(&self) -> Actor {
        Actor { id: self.id.clone(), role: self.role.as_str().to_owned(), via: self.via.as_str().to_owned() }
    }
}
