//! What a handler asks for in its signature, checked once here:
//! [`SignedIn`] (the signed-in user, or 401), `Option<SignedIn>` (a form
//! that sends a visitor to log in instead), and [`JsonBody`] (a JSON body
//! whose rejection is our 400 naming `body`, never axum's plain text).

use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::error::ApiError;

/// The signed-in user of a request.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: Uuid,
    pub session: Uuid,
    pub email: String,
    pub email_verified: bool,
}

/// Who sent a request, as the accounts' session middleware found out and
/// put in its extensions. Absent on public paths, which it skips: there
/// nobody counts as signed in.
#[derive(Debug, Clone, Default)]
pub struct Caller(pub Option<SignedIn>);

impl Caller {
    fn of(parts: &Parts) -> Option<SignedIn> {
        parts
            .extensions
            .get::<Caller>()
            .and_then(|caller| caller.0.clone())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Caller::of(parts).ok_or(ApiError::Unauthenticated)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for SignedIn {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(Caller::of(parts))
    }
}

/// A JSON request body: anything that is not the JSON `T` is a 400
/// naming the field `body` and what is wrong.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

/// The largest JSON body a handler reads: axum's default, so that a body
/// just over a field's own limit (a script's source) is refused by that
/// field's check, with its message.
const JSON_LIMIT: usize = 2 * 1024 * 1024;

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _: &S) -> Result<Self, Self::Rejection> {
        parse(&body_of(request).await?).map(JsonBody)
    }
}

/// A JSON body that may be left out: `None` when it is empty.
#[derive(Debug, Clone)]
pub struct OptionalJsonBody<T>(pub Option<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _: &S) -> Result<Self, Self::Rejection> {
        let bytes = body_of(request).await?;
        if bytes.is_empty() {
            return Ok(Self(None));
        }
        parse(&bytes).map(|value| Self(Some(value)))
    }
}

async fn body_of(request: Request) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(request.into_body(), JSON_LIMIT)
        .await
        .map_err(|_| ApiError::invalid("body", "The request body is too large."))
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|error| ApiError::invalid("body", format!("The request body is not right: {error}.")))
}
