//! Every response Tollgate makes itself: one problem type each, in the API's own error shape
//! (`type`, `title`, `detail`, `status`, RFC 9457 style), so client libraries read them as the
//! API's errors.

use serde::Serialize;

use crate::domain::access::bearer::BearerError;
use crate::domain::http::overrides::Override;
use crate::domain::redistribution::recipient::RecipientRefusal;
use crate::domain::http::request_shape::ShapeError;
use crate::domain::access::use_case::UseCaseRefusal;

/// Why a request was not served. Every client-visible refusal is one of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// 401: no token, a malformed one, or one that is not (or no longer) valid.
    Unauthorized(Unauthorized),
    /// 403: the token is valid but may not do this.
    Forbidden(Forbidden),
    /// 503: the entitlement table could not be read or is invalid for this token, or the
    /// deployment is misconfigured (fail closed).
    EntitlementUnavailable,
    /// 429: a request window of the plan is full; `retry_after` in seconds.
    RateLimited { retry_after: u64 },
    /// 429: the account's monthly cap is reached; `retry_after` in seconds.
    UsageCapped { retry_after: u64 },
    /// 429: the recipient's entity has received its 30-day volume of IDs.
    RedistributionCapped { retry_after: u64 },
    /// 429: a stream would pass the plan's limit of streams open at once.
    TooManyConnections,
    /// 502: the response must be filtered for its recipient and is not JSON that can be.
    OriginResponseUnfilterable,
    /// 502: the origin answered with a part of a body (206), which cannot be metered.
    OriginResponsePartial,
    /// 502: the plan caps items and a successful response does not have its endpoint's shape,
    /// so its items cannot be counted.
    OriginResponseUncountable,
    /// 503: the account's guard could not be reached and the plan fails closed.
    GuardUnavailable,
    /// 400, 414 or 431: the request's shape is refused before any policy.
    BadRequest(ShapeError),
    /// 400: a query parameter an endpoint Tollgate answers itself does not take.
    InvalidQuery,
    /// 502: the origin could not be reached.
    OriginUnreachable,
    /// 504: the origin did not answer within the configured time.
    OriginTimeout,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unauthorized {
    Missing,
    Malformed,
    Unknown,
    Expired,
    Suspended,
    Revoked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forbidden {
    /// The method and path are not in the account's plan.
    EndpointNotInPlan,
    /// The whole account is suspended.
    AccountSuspended,
    /// The app declares no use case, or one the account does not list.
    UseCaseMissing,
    UseCasePending,
    UseCaseWithdrawn,
    /// The account serves downstream recipients and the request names none.
    RecipientRequired,
    RecipientMalformed,
    RecipientUnknown,
    RecipientNotApproved,
    /// A government recipient without a written approval on record.
    GovernmentApprovalRequired,
    /// Surveillance and intelligence recipients are never served.
    RecipientClassProhibited,
    /// The recipient's redistribution mode is `none`.
    RedistributionNotAllowed,
}

impl From<RecipientRefusal> for Forbidden {
    fn from(r: RecipientRefusal) -> Self {
        match r {
            RecipientRefusal::Required => Self::RecipientRequired,
            RecipientRefusal::Malformed => Self::RecipientMalformed,
            RecipientRefusal::Unknown => Self::RecipientUnknown,
            RecipientRefusal::NotApproved => Self::RecipientNotApproved,
            RecipientRefusal::GovernmentApprovalRequired => Self::GovernmentApprovalRequired,
            RecipientRefusal::ClassProhibited => Self::RecipientClassProhibited,
            RecipientRefusal::RedistributionNotAllowed => Self::RedistributionNotAllowed,
        }
    }
}

impl From<UseCaseRefusal> for Forbidden {
    fn from(r: UseCaseRefusal) -> Self {
        match r {
            UseCaseRefusal::Missing => Self::UseCaseMissing,
            UseCaseRefusal::Pending => Self::UseCasePending,
            UseCaseRefusal::Withdrawn => Self::UseCaseWithdrawn,
        }
    }
}

/// The JSON body of a problem response.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ProblemBody {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub detail: &'static str,
    pub status: u16,
    /// A stable machine-readable reason where one status has several causes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// The API's own name for a stream connection problem (`TooManyConnections`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_issue: Option<&'static str>,
}

impl From<BearerError> for Problem {
    fn from(e: BearerError) -> Self {
        Self::Unauthorized(match e {
            BearerError::Missing => Unauthorized::Missing,
            BearerError::Repeated | BearerError::Scheme | BearerError::Token(_) => Unauthorized::Malformed,
        })
    }
}

impl Problem {
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::Unauthorized(_) => 401,
            Self::Forbidden(_) => 403,
            Self::EntitlementUnavailable | Self::GuardUnavailable => 503,
            Self::RateLimited { .. } | Self::UsageCapped { .. } | Self::RedistributionCapped { .. } | Self::TooManyConnections => 429,
            Self::OriginUnreachable
            | Self::OriginResponseUnfilterable
            | Self::OriginResponsePartial
            | Self::OriginResponseUncountable => 502,
            Self::BadRequest(ShapeError::PathNotCanonical | ShapeError::Override(_)) | Self::InvalidQuery => 400,
            Self::BadRequest(ShapeError::TargetTooLong) => 414,
            Self::BadRequest(ShapeError::HeadersTooLarge) => 431,
            Self::OriginTimeout => 504,
        }
    }

    /// The last segment of the problem `type` URI.
    #[must_use]
    pub fn slug(&self) -> &'static str {
        match self {
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "client-forbidden",
            Self::EntitlementUnavailable | Self::GuardUnavailable => "service-unavailable",
            Self::RateLimited { .. } => "rate-limit-exceeded",
            Self::UsageCapped { .. } => "usage-capped",
            Self::RedistributionCapped { .. } => "redistribution-capped",
            Self::TooManyConnections => "streaming-connection",
            Self::BadRequest(_) | Self::InvalidQuery => "invalid-request",
            Self::OriginResponseUnfilterable | Self::OriginResponsePartial | Self::OriginResponseUncountable => "bad-gateway",
            Self::OriginUnreachable => "bad-gateway",
            Self::OriginTimeout => "gateway-timeout",
        }
    }

    #[must_use]
    pub fn title(&self) -> &'static str {
        match self {
            Self::Unauthorized(_) => "Unauthorized",
            Self::Forbidden(_) => "Forbidden",
            Self::EntitlementUnavailable | Self::GuardUnavailable => "Service Unavailable",
            Self::RateLimited { .. } => "Too Many Requests",
            Self::UsageCapped { .. } => "Usage Capped",
            Self::RedistributionCapped { .. } => "Redistribution Capped",
            Self::TooManyConnections => "ConnectionException",
            Self::BadRequest(ShapeError::PathNotCanonical | ShapeError::Override(_)) | Self::InvalidQuery => "Invalid Request",
            Self::BadRequest(ShapeError::TargetTooLong) => "URI Too Long",
            Self::BadRequest(ShapeError::HeadersTooLarge) => "Request Header Fields Too Large",
            Self::OriginResponseUnfilterable | Self::OriginResponsePartial | Self::OriginResponseUncountable => "Bad Gateway",
            Self::OriginUnreachable => "Bad Gateway",
            Self::OriginTimeout => "Gateway Timeout",
        }
    }

    #[must_use]
    pub fn detail(&self) -> &'static str {
        match self {
            Self::Unauthorized(u) => match u {
                Unauthorized::Missing => "No bearer token was sent.",
                Unauthorized::Malformed => "The Authorization header is not a well-formed bearer token.",
                Unauthorized::Unknown => "The bearer token is not recognised.",
                Unauthorized::Expired => "The bearer token has expired.",
                Unauthorized::Suspended => "The bearer token is suspended.",
                Unauthorized::Revoked => "The bearer token has been revoked.",
            },
            Self::Forbidden(f) => match f {
                Forbidden::EndpointNotInPlan => "This app is not entitled to call this endpoint with this method.",
                Forbidden::AccountSuspended => "The account that owns this app is suspended.",
                Forbidden::UseCaseMissing => "This app has no approved use case on record.",
                Forbidden::UseCasePending => "This app's use case is still under review.",
                Forbidden::UseCaseWithdrawn => "This app's use case has been withdrawn.",
                Forbidden::RecipientRequired => "This account must name the downstream recipient of every request.",
                Forbidden::RecipientMalformed => "The named recipient is not a valid recipient id.",
                Forbidden::RecipientUnknown => "The named recipient is not declared by this account.",
                Forbidden::RecipientNotApproved => "The named recipient is not approved.",
                Forbidden::GovernmentApprovalRequired => {
                    "Government recipients need a written approval on record."
                }
                Forbidden::RecipientClassProhibited => "Data may not be provided to this class of recipient.",
                Forbidden::RedistributionNotAllowed => "Data may not be passed on to this recipient.",
            },
            Self::EntitlementUnavailable => "Entitlements for this app cannot be read right now. Try again later.",
            Self::GuardUnavailable => "Usage for this account cannot be checked right now. Try again later.",
            Self::RateLimited { .. } => "Too many requests in the current window. Retry after the window resets.",
            Self::UsageCapped { .. } => "The monthly usage cap of this account has been reached.",
            Self::RedistributionCapped { .. } => {
                "The recipient's organisation has received its 30-day volume of identifiers."
            }
            Self::TooManyConnections => "This stream is at the most connections the plan allows open at once.",
            Self::OriginResponseUnfilterable => "The upstream response could not be filtered for its recipient.",
            Self::OriginResponsePartial => "The upstream service answered with part of a response, which cannot be metered.",
            Self::OriginResponseUncountable => {
                "The upstream response does not have the shape declared for this endpoint, so its items cannot be counted."
            }
            Self::BadRequest(ShapeError::Override(o)) => override_detail(*o),
            Self::BadRequest(ShapeError::PathNotCanonical) => {
                "The path contains encoded separators, dot segments or characters that are not allowed."
            }
            Self::BadRequest(ShapeError::TargetTooLong) => "The request path and query are too long.",
            Self::BadRequest(ShapeError::HeadersTooLarge) => "The request headers are too large.",
            Self::InvalidQuery => "A query parameter is not valid for this endpoint.",
            Self::OriginUnreachable => "The upstream service could not be reached.",
            Self::OriginTimeout => "The upstream service did not answer in time.",
        }
    }

    #[must_use]
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            Self::Unauthorized(u) => Some(match u {
                Unauthorized::Missing => "missing-token",
                Unauthorized::Malformed => "malformed-token",
                Unauthorized::Unknown => "unknown-token",
                Unauthorized::Expired => "expired-token",
                Unauthorized::Suspended => "suspended-token",
                Unauthorized::Revoked => "revoked-token",
            }),
            Self::Forbidden(f) => Some(match f {
                Forbidden::EndpointNotInPlan => "endpoint-not-in-plan",
                Forbidden::AccountSuspended => "account-suspended",
                Forbidden::UseCaseMissing => "use-case-missing",
                Forbidden::UseCasePending => "use-case-pending",
                Forbidden::UseCaseWithdrawn => "use-case-withdrawn",
                Forbidden::RecipientRequired => "recipient-required",
                Forbidden::RecipientMalformed => "recipient-malformed",
                Forbidden::RecipientUnknown => "recipient-unknown",
                Forbidden::RecipientNotApproved => "recipient-not-approved",
                Forbidden::GovernmentApprovalRequired => "government-approval-required",
                Forbidden::RecipientClassProhibited => "recipient-class-prohibited",
                Forbidden::RedistributionNotAllowed => "redistribution-not-allowed",
            }),
            Self::TooManyConnections => Some("too-many-connections"),
            Self::OriginResponseUnfilterable => Some("origin-response-unfilterable"),
            Self::OriginResponsePartial => Some("origin-response-partial"),
            Self::OriginResponseUncountable => Some("origin-response-uncountable"),
            Self::BadRequest(ShapeError::Override(o)) => Some(if o.is_method() { "method-override" } else { "target-override" }),
            Self::BadRequest(ShapeError::PathNotCanonical) => Some("path-not-canonical"),
            Self::BadRequest(ShapeError::TargetTooLong) => Some("target-too-long"),
            Self::BadRequest(ShapeError::HeadersTooLarge) => Some("headers-too-large"),
            Self::InvalidQuery => Some("query-invalid"),
            Self::GuardUnavailable => Some("guard-unavailable"),
            Self::EntitlementUnavailable => Some("entitlements-unavailable"),
            _ => None,
        }
    }

    /// The reason a ledger counts this refusal under: the `reason` where one status has several
    /// causes, the type slug otherwise (`rate-limit-exceeded`, `usage-capped`, …).
    #[must_use]
    pub fn ledger_reason(&self) -> &'static str {
        self.reason().unwrap_or(self.slug())
    }

    /// The body, with `type` under the deployment's problem base URI.
    #[must_use]
    pub fn body(&self, type_base: &str) -> ProblemBody {
        ProblemBody {
            kind: format!("{type_base}{}", self.slug()),
            title: self.title(),
            detail: self.detail(),
            status: self.status(),
            reason: self.reason(),
            connection_issue: (*self == Self::TooManyConnections).then_some("TooManyConnections"),
        }
    }

    /// Seconds a client should wait, for problems that have such a time.
    #[must_use]
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after }
            | Self::UsageCapped { retry_after }
            | Self::RedistributionCapped { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    #[must_use]
    pub fn to_json(&self, type_base: &str) -> String {
        // Serialising a struct of strings and a number cannot fail.
        serde_json::to_string(&self.body(type_base)).unwrap_or_default()
    }

    /// The line an open stream ends with when this problem ends it: the problem as the one entry
    /// of `errors`, and no `data`, the API's shape for the error lines it ends a stream with
    /// (so clients read it as such), ended by `\r\n`.
    #[must_use]
    pub fn stream_error_line(&self, type_base: &str) -> Vec<u8> {
        [b"{\"errors\":[", self.to_json(type_base).as_bytes(), b"]}\r\n"].concat()
    }
}

/// The detail of an override refusal, naming the header or parameter.
fn override_detail(o: Override) -> &'static str {
    match o {
        Override::XHttpMethodOverride => "The X-HTTP-Method-Override header is not accepted: send the request with the method itself.",
        Override::XHttpMethod => "The X-HTTP-Method header is not accepted: send the request with the method itself.",
        Override::XMethodOverride => "The X-Method-Override header is not accepted: send the request with the method itself.",
        Override::XOriginalMethod => "The X-Original-Method header is not accepted: send the request with the method itself.",
        Override::MethodParameter => "The _method query parameter is not accepted: send the request with the method itself.",
        Override::XOriginalUrl => "The X-Original-URL header is not accepted: send the request to the path itself.",
        Override::XRewriteUrl => "The X-Rewrite-URL header is not accepted: send the request to the path itself.",
    }
}

/// Media type of every problem response.
pub const CONTENT_TYPE: &str = "application/problem+json";

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://api.example.com/2/problems/";

    fn all() -> Vec<Problem> {
        use Unauthorized::*;
        let mut all: Vec<Problem> = [Missing, Malformed, Unknown, Expired, Suspended, Revoked]
            .into_iter()
            .map(Problem::Unauthorized)
            .collect();
        all.extend([
            Problem::Forbidden(Forbidden::EndpointNotInPlan),
            Problem::Forbidden(Forbidden::AccountSuspended),
            Problem::EntitlementUnavailable,
            Problem::GuardUnavailable,
            Problem::RateLimited { retry_after: 5 },
            Problem::UsageCapped { retry_after: 5 },
            Problem::RedistributionCapped { retry_after: 5 },
            Problem::TooManyConnections,
            Problem::OriginResponseUnfilterable,
            Problem::BadRequest(ShapeError::PathNotCanonical),
            Problem::BadRequest(ShapeError::TargetTooLong),
            Problem::BadRequest(ShapeError::HeadersTooLarge),
            Problem::Forbidden(Forbidden::UseCaseMissing),
            Problem::Forbidden(Forbidden::RecipientClassProhibited),
            Problem::OriginUnreachable,
            Problem::OriginTimeout,
            Problem::OriginResponsePartial,
            Problem::OriginResponseUncountable,
            Problem::BadRequest(ShapeError::Override(Override::XHttpMethodOverride)),
            Problem::BadRequest(ShapeError::Override(Override::XOriginalUrl)),
            Problem::InvalidQuery,
        ]);
        all
    }

    #[test]
    fn every_problem_renders_the_api_error_shape() {
        for p in all() {
            let v: serde_json::Value = serde_json::from_str(&p.to_json(BASE)).unwrap();
            assert_eq!(v["status"], p.status());
            assert_eq!(v["type"], format!("{BASE}{}", p.slug()));
            assert!(!v["title"].as_str().unwrap().is_empty());
            assert!(!v["detail"].as_str().unwrap().is_empty());
        }
    }

    #[test]
    fn a_problem_that_ends_a_stream_is_its_last_line_in_the_apis_error_shape() {
        let line = Problem::UsageCapped { retry_after: 9 }.stream_error_line(BASE);
        assert!(line.ends_with(b"}\r\n"));
        let v: serde_json::Value = serde_json::from_slice(&line[..line.len() - 2]).unwrap();
        assert_eq!(v.as_object().unwrap().len(), 1, "errors, and no data");
        let kind = crate::domain::redistribution::stream::classify(&line[..line.len() - 2], &crate::domain::redistribution::shape::Shape::x_v2());
        assert_eq!(kind, crate::domain::redistribution::stream::Kind::Error, "an error line, as clients and the meter read it");
        assert_eq!(v["errors"][0]["type"], format!("{BASE}usage-capped"));
        assert_eq!(v["errors"][0]["status"], 429);
        let revoked = Problem::Unauthorized(Unauthorized::Revoked).stream_error_line(BASE);
        assert!(String::from_utf8(revoked).unwrap().contains(r#""reason":"revoked-token""#));
    }

    #[test]
    fn statuses_are_the_documented_ones() {
        assert_eq!(Problem::from(BearerError::Missing).status(), 401);
        assert_eq!(Problem::Forbidden(Forbidden::EndpointNotInPlan).status(), 403);
        assert_eq!(Problem::EntitlementUnavailable.status(), 503);
        assert_eq!(Problem::OriginUnreachable.status(), 502);
        assert_eq!(Problem::OriginTimeout.status(), 504);
        assert_eq!(Problem::RateLimited { retry_after: 1 }.slug(), "rate-limit-exceeded");
        assert_eq!(Problem::UsageCapped { retry_after: 1 }.slug(), "usage-capped");
        assert_eq!(Problem::UsageCapped { retry_after: 1 }.status(), 429);
        assert_eq!(Problem::OriginResponsePartial.status(), 502);
        let many = Problem::TooManyConnections;
        assert_eq!((many.status(), many.slug(), many.ledger_reason()), (429, "streaming-connection", "too-many-connections"));
        let body: serde_json::Value = serde_json::from_str(&many.to_json("https://x/")).unwrap();
        assert_eq!((body["title"].as_str(), body["connection_issue"].as_str()), (Some("ConnectionException"), Some("TooManyConnections")));
        assert_eq!(Problem::UsageCapped { retry_after: 1 }.body("").connection_issue, None);
        assert_eq!(Problem::OriginResponsePartial.reason(), Some("origin-response-partial"));
        let o = Problem::BadRequest(ShapeError::Override(Override::MethodParameter));
        assert_eq!((o.status(), o.reason()), (400, Some("method-override")));
        assert!(o.detail().contains("_method"));
        let t = Problem::BadRequest(ShapeError::Override(Override::XRewriteUrl));
        assert_eq!(t.reason(), Some("target-override"));
        assert!(t.detail().contains("X-Rewrite-URL"));
        assert_eq!(
            Problem::from(BearerError::Repeated),
            Problem::Unauthorized(Unauthorized::Malformed)
        );
    }
}
