//! The Cloudflare Access application token: a JWT signed RS256 with one of the team's keys.
//!
//! This module reads the token and checks its claims; the signature itself is checked by the
//! runtime's WebCrypto at the edge (`edge/admin/access.rs`), over the bytes [`Signed`] names.
//! Only RS256 is accepted, whatever the header says: `none`, HS256 (a token "signed" with the
//! public key as an HMAC secret) and every other algorithm are refused before any key is looked
//! up.

use serde::Deserialize;
use serde_json::Value;

use super::base64url;

/// Longer tokens are refused unread. Access's own are about 1 KB.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Clock skew allowed between Access and the runtime, for `exp`, `nbf` and `iat`.
pub const LEEWAY_SECS: u64 = 30;

/// Why a token is not accepted. Every one is a 401 for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("the Access token is not a signed JWT (three base64url parts of JSON)")]
    Malformed,
    #[error("the Access token is longer than {MAX_TOKEN_BYTES} bytes")]
    TooLong,
    #[error("the Access token's algorithm is not accepted: only RS256")]
    Algorithm,
    #[error("the Access token names no key (`kid`)")]
    NoKeyId,
    #[error("the Access token's key is not one of the team's keys")]
    UnknownKey,
    #[error("the Access token's signature does not verify")]
    Signature,
    #[error("the Access token's issuer is not this deployment's Access team")]
    Issuer,
    #[error("the Access token's audience is not this deployment's Access application")]
    Audience,
    #[error("the Access token has expired")]
    Expired,
    #[error("the Access token is not valid yet")]
    NotYetValid,
    #[error("the Access token was issued in the future")]
    IssuedInFuture,
    #[error("the Access token has no expiry (`exp`)")]
    NoExpiry,
    #[error("the Access token names no email and no service token")]
    NoIdentity,
}

/// A token whose form is right: what its signature covers, the signature, and the claims (not
/// yet checked).
#[derive(Debug, Clone)]
pub struct Signed<'a> {
    pub kid: String,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a str,
    pub signature: Vec<u8>,
    pub claims: Claims,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    /// Extensions the token says must be understood: none are, so such a token is refused.
    #[serde(default)]
    crit: Option<Value>,
}

/// The claims Tollgate reads; any others are ignored.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Claims {
    #[serde(default)]
    pub iss: Option<String>,
    /// A string or an array of strings.
    #[serde(default)]
    pub aud: Option<Value>,
    #[serde(default)]
    pub exp: Option<u64>,
    #[serde(default)]
    pub nbf: Option<u64>,
    #[serde(default)]
    pub iat: Option<u64>,
    /// A person signed in through the team's identity provider.
    #[serde(default)]
    pub email: Option<String>,
    /// A service token: its Client ID.
    #[serde(default)]
    pub common_name: Option<String>,
    /// Group names, when the identity provider's groups reach the token: `groups`, or
    /// `custom.groups` (an OIDC claim Access passes through).
    #[serde(default)]
    pub groups: Option<Value>,
    #[serde(default)]
    pub custom: Option<Value>,
}

/// Who the token says the caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A person: the email (lowercase) and the groups the token names.
    Person { email: String, groups: Vec<String> },
    /// An Access service token, by its Client ID.
    ServiceToken { client_id: String },
}

impl Identity {
    /// The name the audit trail and the console show.
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Self::Person { email, .. } => email,
            Self::ServiceToken { client_id } => client_id,
        }
    }
}

/// What this deployment expects of a token.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// `https://<team>.cloudflareaccess.com`.
    pub issuer: &'a str,
    /// The Access application's AUD tag.
    pub audience: &'a str,
}

fn part<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, JwtError> {
    let bytes = base64url::decode(text).ok_or(JwtError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)
}

/// Reads a compact JWS: three parts, a header naming RS256 and a key, JSON claims.
///
/// # Errors
/// The first thing wrong with the token's form.
pub fn parse(token: &str) -> Result<Signed<'_>, JwtError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwtError::TooLong);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwtError::Malformed);
    };
    let head: Header = part(header)?;
    if head.alg != "RS256" {
        return Err(JwtError::Algorithm);
    }
    if head.crit.is_some() {
        return Err(JwtError::Malformed);
    }
    let kid = head.kid.filter(|k| !k.is_empty()).ok_or(JwtError::NoKeyId)?;
    let claims: Claims = part(payload)?;
    let signature = base64url::decode(signature).filter(|s| !s.is_empty()).ok_or(JwtError::Malformed)?;
    Ok(Signed { kid, signing_input: &token[..header.len() + 1 + payload.len()], signature, claims })
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        Some(Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    }
}

/// Checks issuer, audience and times at `now` (Unix seconds), and names the caller.
///
/// # Errors
/// The first claim that does not hold.
pub fn check(claims: &Claims, expected: Expected<'_>, now: u64) -> Result<Identity, JwtError> {
    if claims.iss.as_deref().map(|i| i.trim_end_matches('/')) != Some(expected.issuer.trim_end_matches('/')) {
        return Err(JwtError::Issuer);
    }
    if !strings(claims.aud.as_ref()).iter().any(|a| a == expected.audience) {
        return Err(JwtError::Audience);
    }
    let exp = claims.exp.ok_or(JwtError::NoExpiry)?;
    if now >= exp.saturating_add(LEEWAY_SECS) {
        return Err(JwtError::Expired);
    }
    if claims.nbf.is_some_and(|nbf| now.saturating_add(LEEWAY_SECS) < nbf) {
        return Err(JwtError::NotYetValid);
    }
    if claims.iat.is_some_and(|iat| now.saturating_add(LEEWAY_SECS) < iat) {
        return Err(JwtError::IssuedInFuture);
    }
    if let Some(email) = claims.email.as_deref().filter(|e| !e.is_empty()) {
        let mut groups = strings(claims.groups.as_ref());
        groups.extend(strings(claims.custom.as_ref().and_then(|c| c.get("groups"))));
        return Ok(Identity::Person { email: email.to_lowercase(), groups });
    }
    match claims.common_name.as_deref().filter(|c| !c.is_empty()) {
        Some(client_id) => Ok(Identity::ServiceToken { client_id: client_id.to_owned() }),
        None => Err(JwtError::NoIdentity),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Base64url of `text`, for building tokens by hand.
    fn b64(bytes: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
            for i in 0..=chunk.len() {
                out.push(char::from(A[(n >> (18 - 6 * i) & 63) as usize]));
            }
        }
        out
    }

    fn token(header: &str, claims: &str) -> String {
        format!("{}.{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()), b64(b"signature"))
    }

    const NOW: u64 = 1_800_000_000;
    const EXPECTED: Expected<'static> = Expected { issuer: "https://team.cloudflareaccess.com", audience: "aud-tag" };

    fn claims(extra: &str) -> String {
        format!(r#"{{"iss":"https://team.cloudflareaccess.com","aud":["aud-tag"],"exp":{},"iat":{NOW},"nbf":{NOW}{extra}}}"#, NOW + 600)
    }

    fn checked(claims_text: &str) -> Result<Identity, JwtError> {
        let t = token(r#"{"alg":"RS256","kid":"k1"}"#, claims_text);
        let signed = parse(&t)?;
        check(&signed.claims, EXPECTED, NOW)
    }

    #[test]
    fn a_person_and_a_service_token_are_named() {
        let person = checked(&claims(r#","email":"Alice@Example.com","groups":["ops"],"custom":{"groups":["audit"]}"#)).unwrap();
        assert_eq!(person, Identity::Person { email: "alice@example.com".into(), groups: vec!["ops".into(), "audit".into()] });
        let service = checked(&claims(r#","common_name":"88bf.access","sub":""}"#.trim_end_matches('}'))).unwrap();
        assert_eq!(service.name(), "88bf.access");
        assert_eq!(checked(&claims("")), Err(JwtError::NoIdentity));
    }

    #[test]
    fn the_signed_bytes_are_header_dot_payload() {
        let t = token(r#"{"alg":"RS256","kid":"k1"}"#, &claims(r#","email":"a@b.c""#));
        let signed = parse(&t).unwrap();
        assert_eq!(signed.kid, "k1");
        assert_eq!(signed.signature, b"signature");
        assert_eq!(format!("{}.{}", signed.signing_input, t.rsplit('.').next().unwrap()), t);
    }

    #[test]
    fn only_rs256_with_a_key_id_is_read() {
        let body = claims(r#","email":"a@b.c""#);
        for header in [r#"{"alg":"none","kid":"k1"}"#, r#"{"alg":"HS256","kid":"k1"}"#, r#"{"alg":"RS512","kid":"k1"}"#, r#"{"alg":"rs256","kid":"k1"}"#] {
            assert_eq!(parse(&token(header, &body)).err(), Some(JwtError::Algorithm), "{header}");
        }
        assert_eq!(parse(&token(r#"{"alg":"RS256"}"#, &body)).err(), Some(JwtError::NoKeyId));
        assert_eq!(parse(&token(r#"{"alg":"RS256","kid":"k","crit":["b64"]}"#, &body)).err(), Some(JwtError::Malformed));
        // `alg: none` with an empty signature, as such tokens are sent.
        let unsigned = format!("{}.{}.", b64(br#"{"alg":"RS256","kid":"k1"}"#), b64(body.as_bytes()));
        assert_eq!(parse(&unsigned).err(), Some(JwtError::Malformed));
        for bad in ["", "a.b", "a.b.c.d", "!!.e30.c2ln", &"a".repeat(MAX_TOKEN_BYTES + 1)] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn issuer_audience_and_times_are_checked() {
        let ok = r#","email":"a@b.c""#;
        assert!(checked(&claims(ok)).is_ok());
        let other = |from: &str, to: &str| checked(&claims(ok).replace(from, to));
        assert_eq!(other("https://team.cloudflareaccess.com", "https://evil.cloudflareaccess.com"), Err(JwtError::Issuer));
        assert_eq!(other(r#"["aud-tag"]"#, r#"["other"]"#), Err(JwtError::Audience));
        assert!(other(r#"["aud-tag"]"#, r#""aud-tag""#).is_ok(), "a single audience as a string");
        assert_eq!(other(&format!(r#""exp":{}"#, NOW + 600), &format!(r#""exp":{}"#, NOW - 31)), Err(JwtError::Expired));
        assert!(other(&format!(r#""exp":{}"#, NOW + 600), &format!(r#""exp":{}"#, NOW - 5)).is_ok(), "within the leeway");
        assert_eq!(other(&format!(r#""nbf":{NOW}"#), &format!(r#""nbf":{}"#, NOW + 600)), Err(JwtError::NotYetValid));
        assert_eq!(other(&format!(r#""iat":{NOW}"#), &format!(r#""iat":{}"#, NOW + 600)), Err(JwtError::IssuedInFuture));
        assert_eq!(other(&format!(r#""exp":{},"#, NOW + 600), ""), Err(JwtError::NoExpiry));
    }
}
