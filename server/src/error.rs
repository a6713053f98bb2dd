//! The HTTP API's errors.
//!
//! Policy: a client gets a status and a JSON body `{"error": {"kind",
//! "field"?, "message"}}` it can act on: `kind` is stable for programs,
//! `message` is a sentence for a person, `field` names the bad parameter.
//! An `Internal` error logs its whole cause chain and shows the client only
//! that something failed on our side: never a cause, a query or a secret.

use app::market::{ApiErrorBody, ApiErrorDetail};
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A query parameter is missing or wrong.
    #[error("{message}")]
    InvalidParameter { field: &'static str, message: String },
    /// The parameter is well-formed, but names something we do not have.
    #[error("{message}")]
    Unknown { field: &'static str, message: String },
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

    fn parts(&self) -> (StatusCode, &'static str, Option<&'static str>) {
        match self {
            ApiError::InvalidParameter { field, .. } => {
                (StatusCode::BAD_REQUEST, "invalid_parameter", Some(field))
            }
            ApiError::Unknown { field, .. } => (StatusCode::BAD_REQUEST, "unknown_value", Some(field)),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", None),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind, field) = self.parts();
        let message = match &self {
            ApiError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "request failed");
                "Something went wrong on our side; please try again.".to_string()
            }
            other => other.to_string(),
        };
        let body = ApiErrorBody {
            error: ApiErrorDetail {
                kind: kind.into(),
                field: field.map(str::to_string),
                message,
            },
        };
        (status, Json(body)).into_response()
    }
}
