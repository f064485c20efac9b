//! The control plane's Cloudflare Access settings: the team (the tokens' issuer), the Access
//! application's audience tag, and where the team's keys are fetched. Without a team, Access
//! sign-in is off and only admin keys and the break-glass secret open the admin API.

use crate::domain::settings::SettingsError;

pub const ACCESS_TEAM_DOMAIN: &str = "ACCESS_TEAM_DOMAIN";
pub const ACCESS_AUD: &str = "ACCESS_AUD";
/// For local runs and tests only: Access's own is `<team>/cdn-cgi/access/certs`.
pub const ACCESS_JWKS_URL: &str = "ACCESS_JWKS_URL";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessSettings {
    /// `https://<team>.cloudflareaccess.com`, exactly as the tokens' `iss`.
    pub issuer: String,
    pub audience: String,
    pub jwks_url: String,
}

/// The settings, `None` when no team is set (Access sign-in off).
///
/// # Errors
/// A team without an audience, or a value that is not what it should be.
pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Option<AccessSettings>, SettingsError> {
    let set = |name| get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let Some(team) = set(ACCESS_TEAM_DOMAIN) else { return Ok(None) };
    let host = team.strip_prefix("https://").unwrap_or(&team).trim_end_matches('/');
    if host.is_empty() || host.contains(['/', ':', '@', '?', '#', ' ']) {
        return Err(SettingsError::Invalid { name: ACCESS_TEAM_DOMAIN, why: "must be the team's host, like myteam.cloudflareaccess.com" });
    }
    let issuer = format!("https://{host}");
    let audience = set(ACCESS_AUD).ok_or(SettingsError::Missing(ACCESS_AUD))?;
    let jwks_url = set(ACCESS_JWKS_URL).unwrap_or_else(|| format!("{issuer}/cdn-cgi/access/certs"));
    if !(jwks_url.starts_with("https://") || jwks_url.starts_with("http://")) {
        return Err(SettingsError::Invalid { name: ACCESS_JWKS_URL, why: "must be an http(s) URL" });
    }
    Ok(Some(AccessSettings { issuer, audience, jwks_url }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<Option<AccessSettings>, SettingsError> {
        from_lookup(|k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned()))
    }

    #[test]
    fn a_team_and_an_audience_turn_access_on() {
        assert_eq!(with(&[]), Ok(None));
        assert_eq!(with(&[(ACCESS_TEAM_DOMAIN, " ")]), Ok(None));
        let s = with(&[(ACCESS_TEAM_DOMAIN, "myteam.cloudflareaccess.com"), (ACCESS_AUD, "tag")]).unwrap().unwrap();
        assert_eq!(s.issuer, "https://myteam.cloudflareaccess.com");
        assert_eq!(s.jwks_url, "https://myteam.cloudflareaccess.com/cdn-cgi/access/certs");
        let same = with(&[(ACCESS_TEAM_DOMAIN, "https://myteam.cloudflareaccess.com/"), (ACCESS_AUD, "tag")]).unwrap().unwrap();
        assert_eq!(same, s);
        let local = with(&[(ACCESS_TEAM_DOMAIN, "t.cloudflareaccess.com"), (ACCESS_AUD, "tag"), (ACCESS_JWKS_URL, "http://127.0.0.1:9/certs")]);
        assert_eq!(local.unwrap().unwrap().jwks_url, "http://127.0.0.1:9/certs");
    }

    #[test]
    fn a_team_without_an_audience_or_with_a_path_is_refused() {
        assert_eq!(with(&[(ACCESS_TEAM_DOMAIN, "t.cloudflareaccess.com")]), Err(SettingsError::Missing(ACCESS_AUD)));
        assert!(with(&[(ACCESS_TEAM_DOMAIN, "http://t.example/x"), (ACCESS_AUD, "a")]).is_err());
        assert!(with(&[(ACCESS_TEAM_DOMAIN, "t.cloudflareaccess.com"), (ACCESS_AUD, "a"), (ACCESS_JWKS_URL, "file:///x")]).is_err());
    }
}
