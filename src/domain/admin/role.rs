//! Admin roles and what each may do. A role is a set of permissions; an admin route needs one
//! permission, decided here from its method and path alone, so the table is one function that
//! the host tests read whole.

use serde::{Deserialize, Serialize};

/// What an admin is allowed, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read only: accounts, plans, tokens, usage, statements, reports, audit export and verify.
    Auditor,
    /// The auditor's reads, and accounts, use cases, recipients, tokens, suspend and reinstate.
    Operator,
    /// Everything, including plans, who is an admin (the roles record) and admin keys.
    Owner,
}

/// What one admin route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Any reading route.
    Read,
    /// Changing accounts and tokens.
    Operate,
    /// Changing plans, and reading or changing who is an admin.
    Own,
}

impl Role {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auditor => "auditor",
            Self::Operator => "operator",
            Self::Owner => "owner",
        }
    }

    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "auditor" => Some(Self::Auditor),
            "operator" => Some(Self::Operator),
            "owner" => Some(Self::Owner),
            _ => None,
        }
    }

    /// Whether this role may do what `permission` covers.
    #[must_use]
    pub fn allows(self, permission: Permission) -> bool {
        match permission {
            Permission::Read => true,
            Permission::Operate => self >= Self::Operator,
            Permission::Own => self == Self::Owner,
        }
    }

    /// The permissions this role has, for the console and `whoami`.
    #[must_use]
    pub fn permissions(self) -> Vec<Permission> {
        [Permission::Read, Permission::Operate, Permission::Own].into_iter().filter(|p| self.allows(*p)).collect()
    }
}

/// The permission a route needs: `method` as sent, `route` the path's segments after
/// `/_tollgate/admin/v1/`. Who is an admin (`roles`, `keys`) is the owner's alone, reads included;
/// plans are the owner's to change; every other change is an operator's; every other read is
/// anyone's. A route that does not exist needs `Read`, so any admin learns it is a 404.
#[must_use]
pub fn required(method: &str, route: &[&str]) -> Permission {
    let reads = matches!(method, "GET" | "HEAD");
    match route.first().copied() {
        Some("roles" | "keys") => Permission::Own,
        Some("plans") if !reads => Permission::Own,
        _ if reads => Permission::Read,
        _ => Permission::Operate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs(method: &str, path: &str) -> Permission {
        let route: Vec<&str> = path.split('/').collect();
        required(method, &route)
    }

    #[test]
    fn every_route_needs_what_its_role_table_says() {
        for path in ["accounts", "accounts/acme", "accounts/acme/usage", "accounts/acme/audit", "accounts/acme/audit/verify",
            "accounts/acme/report", "accounts/acme/tokens", "plans", "plans/standard", "audit", "audit/verify", "metrics",
            "openapi.json", "whoami"] {
            assert_eq!(needs("GET", path), Permission::Read, "{path}");
        }
        for (method, path) in [("PUT", "accounts/acme"), ("POST", "accounts/acme/suspend"), ("POST", "accounts/acme/reinstate"),
            ("PUT", "accounts/acme/use-cases/x"), ("PUT", "accounts/acme/recipients/r"), ("POST", "accounts/acme/tokens"),
            ("POST", "tokens/abc/revoke"), ("POST", "tokens/abc/rotate"), ("POST", "accounts/acme/housekeep")] {
            assert_eq!(needs(method, path), Permission::Operate, "{method} {path}");
        }
        for (method, path) in [("PUT", "plans/standard"), ("GET", "roles"), ("PUT", "roles"), ("GET", "keys"),
            ("POST", "keys"), ("POST", "keys/k1/revoke"), ("DELETE", "plans/x")] {
            assert_eq!(needs(method, path), Permission::Own, "{method} {path}");
        }
    }

    #[test]
    fn the_openapi_document_states_each_routes_permission_as_this_table_decides_it() {
        let doc: serde_json::Value = serde_json::from_str(include_str!("../../edge/openapi.json")).unwrap();
        let mut checked = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in ["get", "put", "post"] {
                let Some(op) = item.get(method) else { continue };
                let route: Vec<&str> = path.trim_start_matches('/').split('/').map(|s| if s.starts_with('{') { "x" } else { s }).collect();
                let needed = serde_json::to_value(required(&method.to_uppercase(), &route)).unwrap();
                assert_eq!(op["x-permission"], needed, "{method} {path}");
                for status in ["401", "403"] {
                    assert!(op["responses"].get(status).is_some(), "{method} {path} has no {status}");
                }
                checked += 1;
            }
        }
        assert!(checked >= 28, "{checked} operations");
    }

    #[test]
    fn each_role_has_its_own_and_the_lesser_permissions() {
        assert_eq!(Role::Auditor.permissions(), [Permission::Read]);
        assert_eq!(Role::Operator.permissions(), [Permission::Read, Permission::Operate]);
        assert_eq!(Role::Owner.permissions(), [Permission::Read, Permission::Operate, Permission::Own]);
        for role in [Role::Auditor, Role::Operator, Role::Owner] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            assert_eq!(serde_json::to_string(&role).unwrap(), format!("\"{}\"", role.as_str()));
        }
        assert_eq!(Role::parse("admin"), None);
    }
}
