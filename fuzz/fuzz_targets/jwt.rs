//! The admin sign-in's parsers on arbitrary input: Access tokens (`jwt::parse` and
//! `jwt::check`), the team's key set (`jwks::parse`), base64url, and the roles record.
//!
//! Invariants: nothing panics; a token is read only when it is three dot-separated parts whose
//! first two are what the signature covers, with a key id and a signature; `check` accepts only
//! the expected issuer and audience, a future expiry, and names an identity; base64url decodes
//! to three bytes per four characters; a key set's keys all have ids; a roles record that
//! decodes names each identity once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::domain::access::entitlement::decode;
use tollgate::domain::admin::jwt::{self, Expected};
use tollgate::domain::admin::roles::RolesRecord;
use tollgate::domain::admin::{base64url, jwks};

const EXPECTED: Expected<'static> = Expected { issuer: "https://team.cloudflareaccess.com", audience: "aud" };

fuzz_target!(|data: &[u8]| {
    let Some((&skew, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    if let Ok(signed) = jwt::parse(&text) {
        assert!(text.len() <= jwt::MAX_TOKEN_BYTES);
        assert_eq!(text.split('.').count(), 3);
        assert!(text.starts_with(signed.signing_input) && text[signed.signing_input.len()..].starts_with('.'));
        assert_eq!(signed.signing_input.matches('.').count(), 1);
        assert!(!signed.kid.is_empty() && !signed.signature.is_empty());
        // A moment near the token's own issue time, so the time checks are reached both ways.
        let now = signed.claims.iat.unwrap_or(0).saturating_add(u64::from(skew) * 8).saturating_sub(1024);
        if let Ok(identity) = jwt::check(&signed.claims, EXPECTED, now) {
            assert_eq!(signed.claims.iss.as_deref().map(|i| i.trim_end_matches('/')), Some(EXPECTED.issuer));
            assert!(signed.claims.exp.is_some_and(|exp| now < exp + jwt::LEEWAY_SECS));
            assert!(!identity.name().is_empty());
        }
    }
    if let Some(bytes) = base64url::decode(&text) {
        assert_eq!(bytes.len(), text.len() * 3 / 4);
    }
    if let Ok(keys) = jwks::parse(&text) {
        assert!(!keys.is_empty() && keys.len() <= jwks::MAX_KEYS);
        assert!(keys.iter().all(|k| !k.kid.is_empty() && base64url::decode(&k.n).is_some()));
    }
    if let Ok(record) = decode::<RolesRecord>(&text) {
        let mut seen = std::collections::HashSet::new();
        for g in &record.identities {
            assert!(seen.insert((g.email.clone(), g.group.clone(), g.service_token.clone())));
        }
    }
});
