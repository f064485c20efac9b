//! The body of Tollgate's own errors, chosen per deployment (`ERROR_BODY`): an RFC 9457 problem
//! (`problem`, the default), or the API's own error shape as a JSON template, such as
//! `{"error":{"code":"{code}","message":"{detail}","status":"{status}"}}`.
//!
//! In a template, every string may hold placeholders: `{status}`, `{code}` (the problem's
//! `reason`, or its type slug where it has none: one value per row of the README's error table),
//! `{title}`, `{detail}` and `{type}` (the problem's type URI). A string that is exactly
//! `"{status}"` becomes the number. Any other `{` is refused when the settings are read, so a
//! typo cannot slip through. Status codes and headers (`Retry-After`, the rate-limit headers) are
//! the same whatever the body.

use serde_json::Value;

use crate::domain::http::problem::{Problem, CONTENT_TYPE};

/// Largest template accepted.
pub const MAX_TEMPLATE_BYTES: usize = 4096;

const NAMES: [&str; 5] = ["status", "code", "title", "detail", "type"];

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ErrorBody {
    #[default]
    Problem,
    /// The template as compact JSON text, checked when it was read.
    Template(String),
}

impl ErrorBody {
    /// # Errors
    /// Why the setting is not `problem` or a valid template.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let text = text.trim();
        if text == "problem" {
            return Ok(Self::Problem);
        }
        if text.len() > MAX_TEMPLATE_BYTES {
            return Err("is longer than 4096 bytes");
        }
        let template: Value = serde_json::from_str(text).map_err(|_| "must be `problem` or a JSON template")?;
        if !template.is_object() {
            return Err("must be a JSON object");
        }
        if !strings_ok(&template) {
            return Err("has a `{` that does not start {status}, {code}, {title}, {detail} or {type}");
        }
        Ok(Self::Template(template.to_string()))
    }

    #[must_use]
    pub fn content_type(&self) -> &'static str {
        match self {
            Self::Problem => CONTENT_TYPE,
            Self::Template(_) => "application/json",
        }
    }

    /// The body of one problem, with `type` under the deployment's problem base URI.
    #[must_use]
    pub fn render(&self, problem: &Problem, type_base: &str) -> String {
        let Self::Template(template) = self else { return problem.to_json(type_base) };
        let status = problem.status().to_string();
        let kind = format!("{type_base}{}", problem.slug());
        // In the order of `NAMES`, each as it is written inside a JSON string.
        let values = [status.as_str(), problem.ledger_reason(), problem.title(), problem.detail(), kind.as_str()].map(escaped);
        // In compact JSON a string value opens after `:`, `[` or `,` (a `"` inside a string is
        // `\"`): there a whole `"{status}"` becomes the number. Then a `{` is an object's when
        // `"` or `}` follows it, and a placeholder's otherwise: every other `{` inside a string
        // was refused when the template was read.
        let mut text = template.clone();
        for open in [':', '[', ','] {
            text = text.replace(&format!("{open}\"{{status}}\""), &format!("{open}{status}"));
        }
        substitute(&text, &values).unwrap_or_default()
    }
}

/// Text as it is written inside a JSON string.
fn escaped(text: &str) -> String {
    let quoted = serde_json::to_string(text).unwrap_or_default();
    quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or_default().to_owned()
}

/// Whether every `{` in the template's strings starts a placeholder (and none is in a name).
fn strings_ok(v: &Value) -> bool {
    let placeholders_only = |s: &str| {
        s.match_indices('{').all(|(at, _)| NAMES.iter().any(|n| s[at + 1..].strip_prefix(n).is_some_and(|t| t.starts_with('}'))))
    };
    match v {
        Value::String(s) => placeholders_only(s),
        Value::Array(a) => a.iter().all(strings_ok),
        Value::Object(o) => o.iter().all(|(k, v)| !k.contains('{') && strings_ok(v)),
        _ => true,
    }
}

/// `text` with every `{name}` replaced by its value, or `None` when a `{` that is not an
/// object's does not start a known placeholder.
fn substitute(text: &str, values: &[String; 5]) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('{') {
        out.push_str(&rest[..=at]);
        let tail = &rest[at + 1..];
        if tail.starts_with(['"', '}']) {
            rest = tail;
            continue;
        }
        out.pop();
        let i = NAMES.iter().position(|n| tail.strip_prefix(n).is_some_and(|t| t.starts_with('}')))?;
        out.push_str(&values[i]);
        rest = &tail[NAMES[i].len() + 1..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::http::problem::{Forbidden, Unauthorized};

    const BASE: &str = "https://api.example.com/problems/";
    const TEMPLATE: &str = r#"{"error":{"code":"{code}","message":"{detail}","status":"{status}","kind":"{title} ({type})"}}"#;

    #[test]
    fn problem_is_the_default_and_renders_as_before() {
        assert_eq!(ErrorBody::parse("problem"), Ok(ErrorBody::Problem));
        let p = Problem::Unauthorized(Unauthorized::Missing);
        assert_eq!(ErrorBody::Problem.render(&p, BASE), p.to_json(BASE));
        assert_eq!(ErrorBody::default().content_type(), "application/problem+json");
    }

    #[test]
    fn a_template_holds_every_problem_in_the_apis_own_shape() {
        let body = ErrorBody::parse(TEMPLATE).unwrap();
        assert_eq!(body.content_type(), "application/json");
        let p = Problem::Forbidden(Forbidden::EndpointNotInPlan);
        let v: Value = serde_json::from_str(&body.render(&p, BASE)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error":{"code":"endpoint-not-in-plan","message":p.detail(),"status":403,
                "kind":"Forbidden (https://api.example.com/problems/client-forbidden)"}})
        );
        // Without a reason, the code is the type slug: every row of the error table has its own.
        let limited: Value = serde_json::from_str(&body.render(&Problem::RateLimited { retry_after: 5 }, BASE)).unwrap();
        assert_eq!(limited["error"]["code"], "rate-limit-exceeded");
        assert_eq!(limited["error"]["status"], 429);
        // Text that needs escaping inside a JSON string is escaped, and nested templates work.
        let nested = ErrorBody::parse(r#"{"errors":[{"message":"{title}: {detail}","status":"HTTP {status}"}],"ok":false}"#).unwrap();
        let v: Value = serde_json::from_str(&nested.render(&p, "https://x/\"q\"/")).unwrap();
        assert_eq!(v["errors"][0]["message"], format!("Forbidden: {}", p.detail()));
        assert_eq!(v["errors"][0]["status"], "HTTP 403");
        let quoted = ErrorBody::parse(r#"{"a":"x\"{status}","b":["{status}"]}"#).unwrap();
        let v: Value = serde_json::from_str(&quoted.render(&p, BASE)).unwrap();
        assert_eq!(v, serde_json::json!({"a":"x\"403","b":[403]}));
        let typed = ErrorBody::parse(r#"{"type":"{type}"}"#).unwrap();
        let v: Value = serde_json::from_str(&typed.render(&p, "https://x/\"q\"/")).unwrap();
        assert_eq!(v["type"], "https://x/\"q\"/client-forbidden");
    }

    #[test]
    fn every_problem_renders_valid_json_in_a_template() {
        let body = ErrorBody::parse(TEMPLATE).unwrap();
        for p in [
            Problem::Unauthorized(Unauthorized::Revoked),
            Problem::UsageCapped { retry_after: 1 },
            Problem::OriginResponseUncountable,
            Problem::OriginTimeout,
            Problem::EntitlementUnavailable,
        ] {
            let v: Value = serde_json::from_str(&body.render(&p, BASE)).unwrap();
            assert_eq!(v["error"]["status"], p.status());
            assert_eq!(v["error"]["code"], p.ledger_reason());
        }
    }

    #[test]
    fn refuses_templates_that_are_not_json_objects_or_name_unknown_placeholders() {
        for bad in ["", "{", "[]", r#""{code}""#, r#"{"error":"{reson}"}"#, r#"{"error":"{code"}"#, r#"{"a":{"b":["{x}"]}}"#, r#"{"{code}":1}"#, r#"{"a":"{}"}"#, r#"{"a":"{\"b"}"#] {
            assert!(ErrorBody::parse(bad).is_err(), "{bad}");
        }
        assert!(ErrorBody::parse(&format!(r#"{{"a":"{}"}}"#, "x".repeat(MAX_TEMPLATE_BYTES))).is_err());
        assert!(ErrorBody::parse(r#"{"errors":[{"message":"{detail}","code":"{code}"}],"ok":false,"n":1}"#).is_ok());
    }

    #[test]
    fn placeholders_in_text_are_replaced_where_they_stand() {
        let values = ["s", "x", "t", "y", "k"].map(String::from);
        assert_eq!(substitute("a{code}b{detail}", &values).as_deref(), Some("axby"));
        assert_eq!(substitute("no placeholders", &values).as_deref(), Some("no placeholders"));
        assert_eq!(substitute("{code}{code}", &values).as_deref(), Some("xx"));
        assert_eq!(substitute("{x}", &values), None);
        assert_eq!(substitute("{statu}", &values), None);
    }
}
