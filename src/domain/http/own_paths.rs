//! The paths Tollgate answers itself instead of passing them to the origin: the admin API and the
//! admin console. Everything else is the API's.

/// The admin API, versioned.
pub const ADMIN_PREFIX: &str = "/_tollgate/admin/v1/";
/// The admin console's static files.
pub const CONSOLE_PREFIX: &str = "/_tollgate/console";

#[must_use]
pub fn is_admin(path: &str) -> bool {
    path.starts_with(ADMIN_PREFIX)
}

/// `/_tollgate/console` and everything under `/_tollgate/console/`.
#[must_use]
pub fn is_console(path: &str) -> bool {
    path.strip_prefix(CONSOLE_PREFIX).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_owns_its_prefix_and_nothing_beside_it() {
        for p in ["/_tollgate/console", "/_tollgate/console/", "/_tollgate/console/app.js"] {
            assert!(is_console(p), "{p}");
        }
        for p in ["/_tollgate/consoleX", "/_tollgate/admin/v1/accounts", "/2/tweets/20", "/"] {
            assert!(!is_console(p), "{p}");
        }
    }

    #[test]
    fn the_admin_api_owns_its_versioned_prefix() {
        assert!(is_admin("/_tollgate/admin/v1/accounts"));
        assert!(!is_admin("/_tollgate/admin/v2/accounts"));
        assert!(!is_admin("/_tollgate/console/"));
        assert!(!is_admin("/2/tweets/20"));
    }
}
