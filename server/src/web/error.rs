//! The HTTP API's errors, and the pages'.
//!
//! Policy: a client gets a status and a JSON body `{"error": {"kind",
//! "field"?, "message"}}` it can act on: `kind` is stable for programs,
//! `message` is a sentence for a person, `field` names the bad parameter.
//! An `Internal` error logs its whole cause chain and shows the client only
//! that something failed on our side: never a cause, a query or a secret.
//!
//! The pages are held to the same: a page the server cannot read for a
//! visitor gets a [`PageError`] made by [`page_error`], which logs the
//! cause chain and carries only a sentence chosen for the visitor.

use std::time::Duration;

use app::PageError;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use inchart_api::error::{ApiErrorBody, ApiErrorDetail};

/// "3 minutes", "40 seconds": how long to wait, for a person.
pub fn describe_wait(wait: Duration) -> String {
    let seconds = wait.as_secs().max(1);
    if seconds >= 90 {
        format!("{} minutes", seconds.div_ceil(60))
    } else if seconds == 1 {
        "a second".to_string()
    } else {
        format!("{seconds} seconds")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A query parameter is missing or wrong.
    #[error("{message}")]
    InvalidParameter { field: &'static str, message: String },
    /// The parameter is well-formed, but names something we do not have.
    #[error("{message}")]
    Unknown { field: &'static str, message: String },
    /// The value clashes with something that exists (an email in use).
    #[error("{message}")]
    Conflict { field: &'static str, message: String },
    /// Nobody is signed in, or their session has ended.
    #[error("Log in to continue.")]
    Unauthenticated,
    /// A login with an email and password that do not match an account.
    /// One message for both, so it never says whether the email exists.
    #[error("The email or password is not right.")]
    InvalidCredentials,
    /// Signed in, but this is not allowed (or the CSRF check failed).
    #[error("{message}")]
    Forbidden { field: &'static str, message: String },
    /// Too many attempts; the answer carries `Retry-After`.
    #[error("{message}")]
    Throttled { retry_after: Duration, message: String },
    /// What the path names does not exist, or is not the caller's (the
    /// two look the same, so nobody learns what others have).
    #[error("{0}")]
    NotFound(String),
    /// The account's plan does not allow this: 402, with where to upgrade.
    #[error("{message}")]
    PlanLimit { limit: &'static str, message: String },
    /// The account has used its plan's allowance for now (runs a minute):
    /// 429 with `Retry-After`, and where to upgrade when a higher plan is
    /// on sale.
    #[error("{message}")]
    PlanRate {
        limit: &'static str,
        message: String,
        retry_after: Duration,
        upgrade: bool,
    },
    /// The server cannot do this right now (no script workers, say).
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        ApiError::InvalidParameter {
            field,
            message: message.into(),
        }
    }

    pub fn unknown(field: &'static str, message: impl Into<String>) -> Self {
        ApiError::Unknown {
            field,
            message: message.into(),
        }
    }

    pub fn conflict(field: &'static str, message: impl Into<String>) -> Self {
        ApiError::Conflict {
            field,
            message: message.into(),
        }
    }

    pub fn forbidden(field: &'static str, message: impl Into<String>) -> Self {
        ApiError::Forbidden {
            field,
            message: message.into(),
        }
    }

    /// The sentence for a person. An internal error's cause is logged here
    /// and never shown.
    pub fn message(&self) -> String {
        match self {
            ApiError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "request failed");
                "Something went wrong on our side; please try again.".to_string()
            }
            other => other.to_string(),
        }
    }

    /// The field the error is about, if any.
    pub fn field(&self) -> Option<&'static str> {
        self.parts().2
    }

    fn parts(&self) -> (StatusCode, &'static str, Option<&'static str>) {
        match self {
            ApiError::InvalidParameter { field, .. } => {
                (StatusCode::BAD_REQUEST, "invalid_parameter", Some(field))
            }
            ApiError::Unknown { field, .. } => (StatusCode::BAD_REQUEST, "unknown_value", Some(field)),
            ApiError::Conflict { field, .. } => (StatusCode::CONFLICT, "conflict", Some(field)),
            ApiError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated", None),
            ApiError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials", None),
            ApiError::Forbidden { field, .. } => (StatusCode::FORBIDDEN, "forbidden", Some(field)),
            ApiError::Throttled { .. } => (StatusCode::TOO_MANY_REQUESTS, "throttled", None),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", None),
            ApiError::PlanLimit { limit, .. } => (StatusCode::PAYMENT_REQUIRED, "plan_limit", Some(limit)),
            ApiError::PlanRate { limit, .. } => (StatusCode::TOO_MANY_REQUESTS, "plan_limit", Some(limit)),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", None),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", None),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind, field) = self.parts();
        let message = self.message();
        let body = ApiErrorBody {
            error: ApiErrorDetail {
                kind: kind.into(),
                field: field.map(str::to_string),
                message,
                upgrade: matches!(
                    self,
                    ApiError::PlanLimit { .. } | ApiError::PlanRate { upgrade: true, .. }
                )
                .then(|| "/pricing".to_string()),
            },
        };
        let mut response = (status, Json(body)).into_response();
        if let ApiError::Throttled { retry_after, .. } | ApiError::PlanRate { retry_after, .. } = &self {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                // Whole seconds, rounded up: a client that waits exactly
                // this long is not refused again.
                HeaderValue::from(retry_after.as_secs_f64().ceil().max(1.0) as u64),
            );
        }
        response
    }
}

/// A page's failure for its visitor: logs `cause`'s whole chain and says
/// only `message`, a sentence chosen for the visitor ("Your plan could
/// not be read; please reload.").
pub fn page_error(cause: anyhow::Error, message: &'static str) -> PageError {
    tracing::error!(
        error = format!("{cause:#}"),
        page = message,
        "a page could not be read"
    );
    PageError::new(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_error_says_only_its_chosen_sentence() {
        let cause =
            anyhow::anyhow!("relation \"subscriptions\" does not exist").context("reading the plan of 42");
        let error = page_error(cause, "Your plan could not be read; please reload.");
        assert_eq!(error.message(), "Your plan could not be read; please reload.");
        let carried = serde_json::to_string(&error).unwrap();
        assert!(
            !carried.contains("subscriptions") && !carried.contains("42"),
            "{carried}"
        );
    }
}
