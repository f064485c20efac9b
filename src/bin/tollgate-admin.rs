//! `tollgate-admin`: the admins' command. It validates an entitlement file before it is written to
//! KV, and talks to a deployment's admin API.
//!
//!   tollgate-admin validate FILE
//!   tollgate-admin issue  --account ID --app ID [--use-case ID] [--expires-at UNIX]
//!   tollgate-admin revoke (--token TOKEN | --token-sha256 HASH)
//!   tollgate-admin usage  --account ID [--month YYYY-MM] [--csv]
//!
//! The API commands read the deployment's URL from `--url` or `TOLLGATE_URL`, and the admin
//! secret from `TOLLGATE_ADMIN_SECRET` (never from the command line, where `ps` would show it).
//!
//! Exit codes: 0 done; 1 the file is invalid or the API refused; 2 the command line is wrong;
//! 3 the API could not be reached.

use std::process::ExitCode;

use tollgate::domain::entitlement_file;
use tollgate::domain::token::Token;

const USAGE: &str = "usage:
  tollgate-admin validate FILE
  tollgate-admin issue  --account ID --app ID [--use-case ID] [--expires-at UNIX]
  tollgate-admin revoke (--token TOKEN | --token-sha256 HASH)
  tollgate-admin usage  --account ID [--month YYYY-MM] [--csv]
API commands take --url URL (or TOLLGATE_URL) and read TOLLGATE_ADMIN_SECRET.";

enum Failure {
    Usage(String),
    Refused(String),
    Unreachable(String),
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Refused(m)) => {
            eprintln!("{m}");
            ExitCode::from(1)
        }
        Err(Failure::Usage(m)) => {
            eprintln!("{m}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Unreachable(m)) => {
            eprintln!("{m}");
            ExitCode::from(3)
        }
    }
}

/// `--name value` pairs and bare flags.
struct Flags<'a>(&'a [String]);

impl Flags<'_> {
    fn value(&self, name: &str) -> Option<&str> {
        self.0.iter().position(|a| a == name).and_then(|i| self.0.get(i + 1)).map(String::as_str)
    }

    fn required(&self, name: &str) -> Result<&str, Failure> {
        self.value(name).ok_or_else(|| Failure::Usage(format!("{name} is required")))
    }

    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|a| a == name)
    }
}

fn run(args: &[String]) -> Result<(), Failure> {
    let Some((command, rest)) = args.split_first() else { return Err(Failure::Usage("no command".into())) };
    let flags = Flags(rest);
    match command.as_str() {
        "validate" => validate(rest.first().ok_or_else(|| Failure::Usage("validate needs a FILE".into()))?),
        "issue" => {
            let mut body = serde_json::json!({ "app": flags.required("--app")? });
            if let Some(case) = flags.value("--use-case") {
                body["use_case"] = case.into();
            }
            if let Some(at) = flags.value("--expires-at") {
                let at: u64 = at.parse().map_err(|_| Failure::Usage("--expires-at takes Unix seconds".into()))?;
                body["expires_at"] = at.into();
            }
            let answer = api(&flags, "POST", &format!("accounts/{}/tokens", flags.required("--account")?), Some(&body))?;
            let v: serde_json::Value = serde_json::from_str(&answer).unwrap_or_default();
            println!("{}", v["token"].as_str().unwrap_or_default());
            eprintln!("issued for app `{}`; sha256 {}; shown once, store it now", v["app"].as_str().unwrap_or("?"), v["token_sha256"].as_str().unwrap_or("?"));
            Ok(())
        }
        "revoke" => {
            let hash = match (flags.value("--token"), flags.value("--token-sha256")) {
                (Some(t), None) => Token::parse(t).map_err(|e| Failure::Usage(format!("--token: {e}")))?.hash().to_string(),
                (None, Some(h)) => h.to_owned(),
                _ => return Err(Failure::Usage("give exactly one of --token and --token-sha256".into())),
            };
            println!("{}", api(&flags, "POST", &format!("tokens/{hash}/revoke"), None)?);
            Ok(())
        }
        "usage" => {
            let mut route = format!("accounts/{}/usage?format={}", flags.required("--account")?, if flags.has("--csv") { "csv" } else { "json" });
            if let Some(month) = flags.value("--month") {
                route.push_str(&format!("&month={month}"));
            }
            print!("{}", api(&flags, "GET", &route, None)?);
            Ok(())
        }
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(Failure::Usage(format!("unknown command `{other}`"))),
    }
}

fn validate(path: &str) -> Result<(), Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| Failure::Usage(format!("{path}: {e}")))?;
    let errors = entitlement_file::validate(&text);
    if errors.is_empty() {
        println!("{path}: valid");
        return Ok(());
    }
    for e in &errors {
        eprintln!("{path}: {e}");
    }
    Err(Failure::Refused(format!("{path}: {} problem(s); nothing should be written to KV", errors.len())))
}

fn api(flags: &Flags<'_>, method: &str, route: &str, body: Option<&serde_json::Value>) -> Result<String, Failure> {
    let base = flags
        .value("--url")
        .map(str::to_owned)
        .or_else(|| std::env::var("TOLLGATE_URL").ok())
        .ok_or_else(|| Failure::Usage("--url or TOLLGATE_URL is required".into()))?;
    let secret = std::env::var("TOLLGATE_ADMIN_SECRET").map_err(|_| Failure::Usage("TOLLGATE_ADMIN_SECRET is not set".into()))?;
    let url = format!("{}/_tollgate/admin/v1/{route}", base.trim_end_matches('/'));
    let request = ureq::request(method, &url).set("authorization", &format!("Bearer {secret}"));
    let result = match body {
        Some(b) => request.send_json(b.clone()),
        None => request.call(),
    };
    match result {
        Ok(response) => response.into_string().map_err(|e| Failure::Unreachable(format!("{url}: {e}"))),
        Err(ureq::Error::Status(status, response)) => {
            let text = response.into_string().unwrap_or_default();
            let detail = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["detail"].as_str().map(str::to_owned))
                .unwrap_or(text);
            Err(Failure::Refused(format!("{status}: {detail}")))
        }
        Err(e) => Err(Failure::Unreachable(format!("{url}: {e}"))),
    }
}
