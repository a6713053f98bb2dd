//! Accounts as the pages see them: who is signed in, the form token, a
//! message carried across a form's redirect, and the account overview.
//!
//! The server's session middleware puts a [`RequestSession`] in every
//! request; the server functions here read it. Pages get it once, through
//! a blocking resource, so it is in the server-rendered HTML and the
//! browser hydrates from the same value.

use serde::{Deserialize, Serialize};

/// The signed-in user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub email: String,
    pub email_verified: bool,
}

/// Whether a carried message reports a problem or a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    Error,
    Notice,
}

/// A message for the page a form redirects to (without JavaScript, a
/// form's answer is a redirect, and this is what it has to say).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    /// The form it belongs to: `signup`, `login`, `password` …
    pub form: String,
    /// The field it is about, when it is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
    pub tone: Tone,
    /// The email typed, so the form does not lose it (never a password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// What every page knows of its visitor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageSession {
    pub viewer: Option<Viewer>,
    /// The token every form sends back (`csrf`), or the `x-csrf-token`
    /// header of a script's request.
    pub csrf: String,
    pub flash: Option<Flash>,
    /// Whether this server sends mail; without it links go to its log.
    pub mail_sends: bool,
}

impl PageSession {
    /// The carried message for `form`, if there is one.
    pub fn flash_for(&self, form: &str) -> Option<&Flash> {
        self.flash.as_ref().filter(|flash| flash.form == form)
    }
}

/// One signed-in browser, as the account page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: String,
    /// "Chrome on macOS".
    pub device: String,
    pub ip: String,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    pub last_seen_at: i64,
    /// Whether it is the browser looking at the list.
    pub current: bool,
}

/// The account page's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountOverview {
    pub email: String,
    pub email_verified: bool,
    pub created_at: i64,
    pub sessions: Vec<SessionInfo>,
}

/// The JSON answer to a form sent by script: where to go next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormDone {
    pub redirect: String,
}

/// A path on this site to return to after logging in; anything else (a
/// full URL, `//host`) is refused so a link cannot send users away.
pub fn safe_next(next: Option<&str>) -> Option<String> {
    let next = next?.trim();
    let local = next.starts_with('/') && !next.starts_with("//") && !next.contains('\\');
    (local && next.len() <= 512 && !next.chars().any(char::is_control)).then(|| next.to_string())
}

#[cfg(feature = "ssr")]
pub use server_side::*;

#[cfg(feature = "ssr")]
mod server_side {
    use std::sync::Arc;

    use super::{AccountOverview, PageSession};
    use crate::ids::{SessionId, UserId};

    /// Put in each request's extensions by the server's session middleware.
    #[derive(Debug, Clone, Default)]
    pub struct RequestSession {
        pub page: PageSession,
        /// The signed-in user's id and session id.
        pub ids: Option<(UserId, SessionId)>,
    }

    /// What the account page reads, implemented by the server.
    pub trait AccountPages: Send + Sync {
        /// `user`'s account, seen from their session `session`.
        fn overview(&self, user: UserId, session: SessionId) -> crate::PageAnswer<AccountOverview>;
    }

    /// The server's [`AccountPages`], in each request's context.
    #[derive(Clone)]
    pub struct AccountService(pub Arc<dyn AccountPages>);
}

/// The visitor, the form token and any carried message.
#[leptos::server(input = leptos::server_fn::codec::GetUrl)]
pub async fn get_page_session() -> Result<PageSession, leptos::prelude::ServerFnError> {
    Ok(request_session().map(|session| session.page).unwrap_or_default())
}

/// The account page's content; `None` when nobody is signed in.
#[leptos::server(input = leptos::server_fn::codec::GetUrl)]
pub async fn get_account_overview() -> Result<Option<AccountOverview>, leptos::prelude::ServerFnError> {
    use leptos::prelude::{ServerFnError, use_context};
    let Some((user, session)) = request_session().and_then(|session| session.ids) else {
        return Ok(None);
    };
    let AccountService(pages) = use_context::<AccountService>()
        .ok_or_else(|| ServerFnError::new("Accounts are not configured on this server."))?;
    pages
        .overview(user, session)
        .await
        .map(Some)
        .map_err(|error| ServerFnError::new(error.message()))
}

#[cfg(feature = "ssr")]
pub(crate) fn request_session() -> Option<RequestSession> {
    leptos::prelude::use_context::<http::request::Parts>()?
        .extensions
        .get::<RequestSession>()
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(safe_next(Some("/account")).as_deref(), Some("/account"));
        assert_eq!(
            safe_next(Some("/chart/BTCUSDT?interval=1h")).as_deref(),
            Some("/chart/BTCUSDT?interval=1h")
        );
        for away in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "account",
            "/a\nb",
        ] {
            assert_eq!(safe_next(Some(away)), None, "{away}");
        }
    }
}
