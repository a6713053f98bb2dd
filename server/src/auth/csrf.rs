//! Cross-site request forgery protection, for every state-changing request
//! (any method but GET, HEAD and OPTIONS), in three layers (OWASP's CSRF
//! cheat sheet):
//! 1. cookies are `SameSite=Lax`, so another site's form carries none;
//! 2. the `Origin` header (or, without one, the `Referer`) must be this
//!    site: the public URL, or the `Host` the request was sent to;
//! 3. the request must carry the CSRF token, the same random value as the
//!    `inchart_csrf` cookie: a `csrf` form field, or an `x-csrf-token`
//!    header for scripts. The comparison is constant-time.
//!
//! A request that fails gets 403 and a JSON error; nothing else runs.
//! Stripe's webhook, which proves itself by its signature instead, is
//! mounted outside this check (see the router).

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use subtle::ConstantTimeEq;

use super::Auth;
use crate::web::error::ApiError;

/// The largest form body the check reads (forms here are a few fields).
const FORM_LIMIT: usize = 64 * 1024;

pub async fn middleware(State(auth): State<Auth>, request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    if !same_origin(request.headers(), &auth.settings.public_url) {
        return refused("This request did not come from InChart's own pages.");
    }
    let expected = CookieJar::from_headers(request.headers())
        .get(&auth.cookies.names().csrf)
        .map(|cookie| cookie.value().to_string());
    let Some(expected) = expected.filter(|token| !token.is_empty()) else {
        return refused("Your form has expired; reload the page and try again.");
    };

    if let Some(header) = request.headers().get("x-csrf-token") {
        return if matches(header.as_bytes(), &expected) {
            next.run(request).await
        } else {
            refused("Your form has expired; reload the page and try again.")
        };
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return refused("This request needs an x-csrf-token header.");
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, FORM_LIMIT).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response();
    };
    let token = form_urlencoded::parse(&bytes)
        .find(|(name, _)| name == "csrf")
        .map(|(_, value)| value.into_owned());
    match token {
        Some(token) if matches(token.as_bytes(), &expected) => {
            next.run(Request::from_parts(parts, Body::from(bytes))).await
        }
        _ => refused("Your form has expired; reload the page and try again."),
    }
}

fn matches(presented: &[u8], expected: &str) -> bool {
    presented.len() == expected.len() && bool::from(presented.ct_eq(expected.as_bytes()))
}

/// Whether the request says it comes from this site.
pub fn same_origin(headers: &HeaderMap, public_url: &str) -> bool {
    let origin = match headers.get(header::ORIGIN) {
        Some(origin) => origin.to_str().ok().map(str::to_string),
        None => headers
            .get(header::REFERER)
            .and_then(|referer| referer.to_str().ok())
            .and_then(origin_of),
    };
    let Some(origin) = origin else {
        return false;
    };
    if origin == public_url {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|host| host.to_str().ok());
    let authority = origin.split_once("://").map(|(_, authority)| authority);
    matches!((authority, host), (Some(authority), Some(host)) if authority == host)
}

/// `https://host:port` of a URL.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    Some(format!("{scheme}://{authority}"))
}

fn refused(message: &str) -> Response {
    ApiError::forbidden("csrf", message).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        headers
    }

    #[test]
    fn only_this_site_is_the_same_origin() {
        let public = "https://inchart.example";
        assert!(same_origin(&request(&[("origin", public)]), public));
        assert!(same_origin(
            &request(&[("origin", "http://127.0.0.1:3000"), ("host", "127.0.0.1:3000")]),
            public
        ));
        assert!(same_origin(
            &request(&[("referer", "https://inchart.example/login?next=/")]),
            public
        ));
        assert!(!same_origin(
            &request(&[("origin", "https://evil.example"), ("host", "inchart.example")]),
            public
        ));
        assert!(!same_origin(&request(&[("origin", "null")]), public));
        assert!(!same_origin(&request(&[]), public));
    }
}
