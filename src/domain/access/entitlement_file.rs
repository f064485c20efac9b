//! An entitlement file: plans, accounts and apps in one JSON document, as admins keep them in
//! version control before writing them to KV (`demo/entitlements.json` is one). Checked record by
//! record with the same rules as the edge, and across records (every app's account exists, every
//! account's plan exists, every app's use case is listed).

use serde::Deserialize;
use serde_json::Value;

use crate::domain::access::entitlement::{decode, AccountRecord, AppRecord, PlanRecord};
use crate::domain::access::token::{Token, TokenHash};

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    plans: Vec<Value>,
    #[serde(default)]
    accounts: Vec<Value>,
    #[serde(default)]
    apps: Vec<FileApp>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileApp {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    token_sha256: Option<String>,
    record: Value,
}

/// One problem, with where it is (`plans[1]`, `apps[0].record`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub at: String,
    pub message: String,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

/// Every problem in the file; empty when it can be written to KV as it is.
#[must_use]
pub fn validate(text: &str) -> Vec<FileError> {
    let mut errors = Vec::new();
    let mut fail = |at: String, message: String| errors.push(FileError { at, message });
    let parsed = serde_json::from_str::<Value>(text).and_then(|v| {
        if v.is_object() {
            serde_json::from_value::<File>(v)
        } else {
            Err(serde::de::Error::custom("the top level must be an object"))
        }
    });
    let file: File = match parsed {
        Ok(f) => f,
        Err(e) => {
            fail("file".into(), format!("not an entitlement file: {e}"));
            return errors;
        }
    };
    let plans: Vec<PlanRecord> = file
        .plans
        .iter()
        .enumerate()
        .filter_map(|(i, v)| decode::<PlanRecord>(&v.to_string()).map_err(|e| fail(format!("plans[{i}]"), e.to_string())).ok())
        .collect();
    let accounts: Vec<AccountRecord> = file
        .accounts
        .iter()
        .enumerate()
        .filter_map(|(i, v)| decode::<AccountRecord>(&v.to_string()).map_err(|e| fail(format!("accounts[{i}]"), e.to_string())).ok())
        .collect();
    for (i, a) in accounts.iter().enumerate() {
        if !plans.iter().any(|p| p.id == a.plan) {
            fail(format!("accounts[{i}]"), format!("plan `{}` is not in the file", a.plan));
        }
    }
    let mut hashes: Vec<String> = Vec::new();
    for (i, app) in file.apps.iter().enumerate() {
        let at = format!("apps[{i}]");
        let hash = match (&app.token, &app.token_sha256) {
            (Some(t), None) => Token::parse(t).map(|t| t.hash()).map_err(|e| e.to_string()),
            (None, Some(h)) => TokenHash::from_hex(h).ok_or_else(|| "`token_sha256` must be 64 lowercase hex digits".to_owned()),
            _ => Err("give exactly one of `token` and `token_sha256`".to_owned()),
        };
        match hash {
            Ok(h) if hashes.contains(&h.to_string()) => fail(at.clone(), "the same token is listed twice".into()),
            Ok(h) => hashes.push(h.to_string()),
            Err(e) => fail(at.clone(), e),
        }
        let record = match decode::<AppRecord>(&app.record.to_string()) {
            Ok(r) => r,
            Err(e) => {
                fail(format!("{at}.record"), e.to_string());
                continue;
            }
        };
        match accounts.iter().find(|a| a.id == record.account) {
            None => fail(format!("{at}.record"), format!("account `{}` is not in the file", record.account)),
            Some(account) => {
                if let Some(case) = &record.use_case {
                    if !account.use_cases.iter().any(|c| c.id == *case) {
                        fail(format!("{at}.record"), format!("use case `{case}` is not listed by account `{}`", account.id));
                    }
                }
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_file_is_valid() {
        let text = include_str!("../../../demo/entitlements.json");
        assert_eq!(validate(text), Vec::new());
    }

    #[test]
    fn reports_every_problem_with_its_place() {
        let text = r#"{
          "plans": [{"v":1,"id":"p","endpoints":[{"method":"GET","path":"bad","group":"g"}]},
                    {"v":1,"id":"q","endpoints":[{"method":"GET","path":"/a","group":"g","shape":{"items":"","count":"/total"}}]}],
          "accounts": [{"v":1,"id":"a","name":"A","plan":"p","status":"active","use_cases":[{"id":"u","status":"approved"}]}],
          "apps": [
            {"token":"tg_nope","record":{"v":1,"account":"a","app":"x","status":"active"}},
            {"token_sha256":"0000000000000000000000000000000000000000000000000000000000000000","record":{"v":1,"account":"b","app":"y","status":"active"}},
            {"token_sha256":"1111111111111111111111111111111111111111111111111111111111111111","record":{"v":1,"account":"a","app":"z","status":"active","use_case":"other"}}
          ]}"#;
        let errors: Vec<String> = validate(text).iter().map(ToString::to_string).collect();
        assert!(errors.iter().any(|e| e.starts_with("plans[0]: record field `endpoints`")), "{errors:?}");
        assert!(errors.iter().any(|e| e.starts_with("plans[1]: record field `endpoints` is invalid: endpoint 0 (`/a`): shape:")), "{errors:?}");
        assert!(errors.iter().any(|e| e == "accounts[0]: plan `p` is not in the file"), "{errors:?}");
        assert!(errors.iter().any(|e| e.starts_with("apps[0]: ")), "{errors:?}");
        assert!(errors.iter().any(|e| e == "apps[1].record: account `b` is not in the file"), "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("use case `other` is not listed")), "{errors:?}");
        assert_eq!(validate("[]").len(), 1);
    }
}
