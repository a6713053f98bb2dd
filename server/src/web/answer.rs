//! The answer of the site's forms. Each form works two ways. Posted by a
//! browser without JavaScript, it answers with a redirect (303): onward
//! when it worked, back to the form with a carried message ([`Flash`])
//! when it did not. Posted by the page's script with
//! `Accept: application/json`, it answers with JSON: `{"redirect": …}`, or
//! the API's error body naming the field to fix.

use app::account::{Flash, FormDone, Tone};
use axum::Json;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::Cookie;

use super::cookies::{Cookies, append_cookies};
use super::error::ApiError;

/// How the client wants the answer, and the cookies it will carry.
pub struct Answer {
    json: bool,
    cookies: Cookies,
    set: Vec<Cookie<'static>>,
}

impl<S: Send + Sync> FromRequestParts<S> for Answer
where
    Cookies: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::new(&parts.headers, Cookies::from_ref(state)))
    }
}

/// Whether the client asked for JSON.
fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json"))
}

impl Answer {
    pub fn new(headers: &HeaderMap, cookies: Cookies) -> Self {
        Self {
            json: wants_json(headers),
            cookies,
            set: Vec::new(),
        }
    }

    /// Whether the client asked for JSON.
    pub fn json(&self) -> bool {
        self.json
    }

    /// Sets these cookies too, whatever the outcome.
    pub fn with(mut self, cookies: impl IntoIterator<Item = Cookie<'static>>) -> Self {
        self.set.extend(cookies);
        self
    }

    /// It worked: go to `to`, with an optional notice `(form, message)`
    /// for that page.
    pub fn done(self, to: &str, notice: Option<(&str, String)>) -> Response {
        let mut set = self.set;
        if let Some((form, message)) = notice {
            set.push(self.cookies.flash(&Flash {
                form: form.to_string(),
                field: None,
                message,
                tone: Tone::Notice,
                email: None,
            }));
        }
        let response = if self.json {
            Json(FormDone {
                redirect: to.to_string(),
            })
            .into_response()
        } else {
            Redirect::to(to).into_response()
        };
        with_cookies(response, set)
    }

    /// It did not: say why, on the form `form` at `back` (keeping the
    /// `email` typed, never a password).
    pub fn failed(self, form: &str, back: &str, error: ApiError, email: Option<String>) -> Response {
        if self.json {
            return with_cookies(error.into_response(), self.set);
        }
        let field = error.field().map(str::to_string);
        let message = error.message();
        let mut set = self.set;
        set.push(self.cookies.flash(&Flash {
            form: form.to_string(),
            field,
            message,
            tone: Tone::Error,
            email,
        }));
        with_cookies(Redirect::to(back).into_response(), set)
    }

    /// `done` or `failed`, by the outcome.
    pub fn outcome(self, outcome: Result<String, ApiError>, form: &str, back: &str) -> Response {
        match outcome {
            Ok(to) => self.done(&to, None),
            Err(error) => self.failed(form, back, error, None),
        }
    }

    /// A visitor who must log in first: to the login form, then back to
    /// `back`.
    pub fn log_in_first(self, back: &str) -> Response {
        self.done(&format!("/login?next={back}"), None)
    }
}

fn with_cookies(mut response: Response, cookies: Vec<Cookie<'static>>) -> Response {
    append_cookies(&mut response, cookies);
    response
}
