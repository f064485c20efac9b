//! Deployment settings, read from wrangler vars and secrets through one lookup function so that
//! parsing them is pure and tested here.

use crate::domain::http::error_body::ErrorBody;

/// Everything the edge needs to know about its deployment.
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    /// Base URL of the origin, without a trailing slash.
    pub origin_url: String,
    pub origin_timeout_ms: u64,
    /// How long an open stream's origin may send nothing, not even a keep-alive, before the
    /// stream is ended.
    pub stream_silence_ms: u64,
    pub cache_ttl_ms: u64,
    /// Prefix of every problem `type` URI.
    pub problem_type_base: String,
    /// The body of Tollgate's own errors: a problem, or the API's own shape.
    pub error_body: ErrorBody,
    /// HMAC key of the signed context header (a secret).
    pub signing_key: Vec<u8>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("origin_url", &self.origin_url)
            .field("origin_timeout_ms", &self.origin_timeout_ms)
            .field("stream_silence_ms", &self.stream_silence_ms)
            .field("cache_ttl_ms", &self.cache_ttl_ms)
            .field("problem_type_base", &self.problem_type_base)
            .field("error_body", &self.error_body)
            .field("signing_key", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("setting `{0}` is missing")]
    Missing(&'static str),
    #[error("setting `{name}` is invalid: {why}")]
    Invalid { name: &'static str, why: &'static str },
}

pub const ORIGIN_URL: &str = "ORIGIN_URL";
pub const ORIGIN_TIMEOUT_MS: &str = "ORIGIN_TIMEOUT_MS";
pub const STREAM_SILENCE_SECONDS: &str = "STREAM_SILENCE_SECONDS";
pub const ENTITLEMENT_CACHE_TTL_SECONDS: &str = "ENTITLEMENT_CACHE_TTL_SECONDS";
pub const PROBLEM_TYPE_BASE: &str = "PROBLEM_TYPE_BASE";
pub const ERROR_BODY: &str = "ERROR_BODY";
pub const CONTEXT_SIGNING_KEY: &str = "CONTEXT_SIGNING_KEY";

const DEFAULT_TIMEOUT_MS: u64 = 10_000;
/// Three of the API's 20 s keep-alives missed.
const DEFAULT_SILENCE_SECONDS: u64 = 60;
const DEFAULT_TTL_SECONDS: u64 = 30;
const DEFAULT_TYPE_BASE: &str = "https://api.example.com/2/problems/";
const MIN_KEY_BYTES: usize = 32;

impl Settings {
    /// # Errors
    /// The first missing or invalid setting.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let origin_url = get(ORIGIN_URL).ok_or(SettingsError::Missing(ORIGIN_URL))?;
        if !(origin_url.starts_with("http://") || origin_url.starts_with("https://")) {
            return Err(SettingsError::Invalid { name: ORIGIN_URL, why: "must be an http(s) URL" });
        }
        let origin_timeout_ms = number(&get, ORIGIN_TIMEOUT_MS, DEFAULT_TIMEOUT_MS, 1..=300_000)?;
        let silence_seconds = number(&get, STREAM_SILENCE_SECONDS, DEFAULT_SILENCE_SECONDS, 1..=3600)?;
        let ttl_seconds = number(&get, ENTITLEMENT_CACHE_TTL_SECONDS, DEFAULT_TTL_SECONDS, 0..=3600)?;
        let problem_type_base = get(PROBLEM_TYPE_BASE).unwrap_or_else(|| DEFAULT_TYPE_BASE.to_owned());
        let error_body = match get(ERROR_BODY) {
            Some(text) => ErrorBody::parse(&text).map_err(|why| SettingsError::Invalid { name: ERROR_BODY, why })?,
            None => ErrorBody::Problem,
        };
        let signing_key = get(CONTEXT_SIGNING_KEY).ok_or(SettingsError::Missing(CONTEXT_SIGNING_KEY))?;
        if signing_key.len() < MIN_KEY_BYTES {
            return Err(SettingsError::Invalid { name: CONTEXT_SIGNING_KEY, why: "must be at least 32 bytes" });
        }
        Ok(Self {
            origin_url: origin_url.trim_end_matches('/').to_owned(),
            origin_timeout_ms,
            stream_silence_ms: silence_seconds * 1000,
            cache_ttl_ms: ttl_seconds * 1000,
            problem_type_base,
            error_body,
            signing_key: signing_key.into_bytes(),
        })
    }
}

fn number(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, SettingsError> {
    let Some(text) = get(name) else { return Ok(default) };
    let value: u64 = text.trim().parse().map_err(|_| SettingsError::Invalid { name, why: "must be a whole number" })?;
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(SettingsError::Invalid { name, why: "is out of range" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    const KEY: (&str, &str) = (CONTEXT_SIGNING_KEY, "0123456789abcdef0123456789abcdef");

    #[test]
    fn defaults_fill_what_is_not_set() {
        let s = with(&[(ORIGIN_URL, "http://127.0.0.1:8788/"), KEY]).unwrap();
        assert_eq!(s.origin_url, "http://127.0.0.1:8788");
        assert_eq!(s.origin_timeout_ms, 10_000);
        assert_eq!(s.stream_silence_ms, 60_000);
        assert_eq!(with(&[(ORIGIN_URL, "http://o"), KEY, (STREAM_SILENCE_SECONDS, "3")]).unwrap().stream_silence_ms, 3_000);
        assert_eq!(s.cache_ttl_ms, 30_000);
        assert_eq!(s.problem_type_base, DEFAULT_TYPE_BASE);
        assert_eq!(s.error_body, ErrorBody::Problem);
        assert!(!format!("{s:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn refuses_missing_and_invalid_settings() {
        assert_eq!(with(&[KEY]), Err(SettingsError::Missing(ORIGIN_URL)));
        assert_eq!(with(&[(ORIGIN_URL, "http://o")]), Err(SettingsError::Missing(CONTEXT_SIGNING_KEY)));
        assert!(matches!(with(&[(ORIGIN_URL, "ftp://o"), KEY]), Err(SettingsError::Invalid { .. })));
        assert!(matches!(with(&[(ORIGIN_URL, "http://o"), (CONTEXT_SIGNING_KEY, "short")]), Err(SettingsError::Invalid { .. })));
        assert!(matches!(
            with(&[(ORIGIN_URL, "http://o"), KEY, (ORIGIN_TIMEOUT_MS, "soon")]),
            Err(SettingsError::Invalid { name: ORIGIN_TIMEOUT_MS, .. })
        ));
        assert!(matches!(
            with(&[(ORIGIN_URL, "http://o"), KEY, (ORIGIN_TIMEOUT_MS, "0")]),
            Err(SettingsError::Invalid { name: ORIGIN_TIMEOUT_MS, .. })
        ));
        assert!(matches!(
            with(&[(ORIGIN_URL, "http://o"), KEY, (STREAM_SILENCE_SECONDS, "0")]),
            Err(SettingsError::Invalid { name: STREAM_SILENCE_SECONDS, .. })
        ));
    }

    #[test]
    fn the_error_body_is_a_problem_or_a_valid_template() {
        let template = r#"{"error":{"code":"{code}","message":"{detail}"}}"#;
        let s = with(&[(ORIGIN_URL, "http://o"), KEY, (ERROR_BODY, template)]).unwrap();
        assert!(matches!(s.error_body, ErrorBody::Template(_)));
        assert_eq!(with(&[(ORIGIN_URL, "http://o"), KEY, (ERROR_BODY, "problem")]).unwrap().error_body, ErrorBody::Problem);
        assert!(matches!(
            with(&[(ORIGIN_URL, "http://o"), KEY, (ERROR_BODY, r#"{"error":"{cod}"}"#)]),
            Err(SettingsError::Invalid { name: ERROR_BODY, .. })
        ));
    }
}
