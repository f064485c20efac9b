//! The admin API over HTTP(S), and the three ways a command fails.

use serde_json::Value;

/// Why a command did not do what it was asked; each has its exit code.
pub enum Failure {
    /// 1: the file is invalid, the API refused, or a check (audit verify) failed.
    Refused(String),
    /// 2: the command line is wrong (clap reports its own errors with the same code).
    Usage(String),
    /// 3: the API could not be reached.
    Unreachable(String),
}

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Refused(_) => 1,
            Self::Usage(_) => 2,
            Self::Unreachable(_) => 3,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Self::Refused(m) | Self::Usage(m) | Self::Unreachable(m) => m,
        }
    }
}

/// A deployment's admin API: its base URL and the credential read from the environment.
pub struct Api {
    base: String,
    credential: String,
}

/// What the API answered: its body as text, and as JSON when it is JSON.
pub struct Answer {
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

impl Api {
    /// `url` from `--url` or `TOLLGATE_URL`; the credential only ever from the environment,
    /// never the command line, where `ps` would show it: an admin key from `TOLLGATE_ADMIN_KEY`,
    /// or else the break-glass secret from `TOLLGATE_ADMIN_SECRET`.
    pub fn new(url: Option<String>) -> Result<Self, Failure> {
        let base = url.ok_or_else(|| Failure::Usage("--url or TOLLGATE_URL is required".into()))?;
        let from = |name| std::env::var(name).ok().filter(|s: &String| !s.is_empty());
        let credential = from("TOLLGATE_ADMIN_KEY")
            .or_else(|| from("TOLLGATE_ADMIN_SECRET"))
            .ok_or_else(|| Failure::Usage("TOLLGATE_ADMIN_KEY is not set (an admin key; TOLLGATE_ADMIN_SECRET for break-glass)".into()))?;
        Ok(Self { base: base.trim_end_matches('/').to_owned(), credential })
    }

    pub fn get(&self, route: &str) -> Result<Answer, Failure> {
        self.call("GET", route, None)
    }

    pub fn post(&self, route: &str, body: Option<&Value>) -> Result<Answer, Failure> {
        self.call("POST", route, body)
    }

    pub fn put(&self, route: &str, body: &Value) -> Result<Answer, Failure> {
        self.call("PUT", route, Some(body))
    }

    fn call(&self, method: &str, route: &str, body: Option<&Value>) -> Result<Answer, Failure> {
        let url = format!("{}/_tollgate/admin/v1/{route}", self.base);
        let request = ureq::request(method, &url).set("authorization", &format!("Bearer {}", self.credential));
        let result = match body {
            Some(b) => request.send_json(b.clone()),
            None => request.call(),
        };
        match result {
            Ok(response) => {
                let text = response.into_string().map_err(|e| Failure::Unreachable(format!("{url}: {e}")))?;
                Ok(Answer { text })
            }
            Err(ureq::Error::Status(status, response)) => {
                let text = response.into_string().unwrap_or_default();
                let detail = serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|v| v["detail"].as_str().map(str::to_owned))
                    .unwrap_or(text);
                Err(Failure::Refused(format!("{status}: {detail}")))
            }
            Err(e) => Err(Failure::Unreachable(format!("{url}: {e}"))),
        }
    }
}

/// One path segment of a route: ids are checked by the API, but a `/` or `?` must not change
/// which route is called.
pub fn segment(value: &str) -> Result<&str, Failure> {
    if value.is_empty() || value.contains(['/', '?', '#', '%']) || value.chars().any(char::is_whitespace) {
        return Err(Failure::Usage(format!("`{value}` is not a valid id")));
    }
    Ok(value)
}
