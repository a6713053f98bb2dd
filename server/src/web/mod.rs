//! HTTP plumbing every domain's handlers share, written once: the error
//! type and its JSON body ([`error`]), cookies with InChart's attributes
//! ([`cookies`]), the form-or-JSON answer of the site's forms
//! ([`answer`]), and the extractors a handler names in its signature
//! ([`extract`]: who is signed in, a JSON body that fails as our 400).
//!
//! Nothing here knows a domain: the accounts' session middleware puts the
//! request's [`Caller`](extract::Caller) in its extensions, and domains
//! turn their own errors into [`ApiError`](error::ApiError).

pub mod answer;
pub mod cookies;
pub mod error;
pub mod extract;

pub use answer::Answer;
pub use cookies::Cookies;
pub use error::ApiError;
pub use extract::{Caller, JsonBody, SignedIn};
