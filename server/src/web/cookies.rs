//! Cookies with the attributes every InChart cookie has: `Path=/`,
//! `HttpOnly`, `SameSite=Lax`, and `Secure` with a `__Host-` name when the
//! site is served over HTTPS.

use std::sync::Arc;
use std::time::Duration;

use app::account::Flash;
use axum::http::HeaderValue;
use axum::http::header;
use axum::response::Response;
use axum_extra::extract::cookie::{Cookie, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// How long a form's carried message waits for the page it redirects to.
const FLASH_LIFETIME: Duration = Duration::from_secs(60);

/// The cookies of a deployment: `__Host-` names when they are `Secure`.
#[derive(Debug, Clone)]
pub struct CookieNames {
    pub access: String,
    pub refresh: String,
    pub csrf: String,
    pub flash: String,
}

impl CookieNames {
    pub fn new(secure: bool) -> Self {
        let prefix = if secure { "__Host-" } else { "" };
        Self {
            access: format!("{prefix}inchart_access"),
            refresh: format!("{prefix}inchart_refresh"),
            csrf: format!("{prefix}inchart_csrf"),
            flash: format!("{prefix}inchart_flash"),
        }
    }
}

/// Makes this deployment's cookies. Cloned with every request's state,
/// so the names are shared, not copied.
#[derive(Debug, Clone)]
pub struct Cookies {
    secure: bool,
    names: Arc<CookieNames>,
}

impl Cookies {
    pub fn new(secure: bool) -> Self {
        Self {
            secure,
            names: Arc::new(CookieNames::new(secure)),
        }
    }

    pub fn names(&self) -> &CookieNames {
        &self.names
    }

    /// A cookie with the attributes every InChart cookie has.
    pub fn cookie(&self, name: &str, value: String, max_age: Option<Duration>) -> Cookie<'static> {
        let mut cookie = Cookie::build((name.to_string(), value))
            .path("/")
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .build();
        if let Some(max_age) = max_age {
            cookie.set_max_age(time::Duration::seconds(max_age.as_secs() as i64));
        }
        cookie
    }

    /// A cookie that removes `name` from the browser.
    pub fn removal(&self, name: &str) -> Cookie<'static> {
        self.cookie(name, String::new(), Some(Duration::ZERO))
    }

    /// A form message for the page a redirect lands on.
    pub fn flash(&self, flash: &Flash) -> Cookie<'static> {
        let json = serde_json::to_vec(flash).unwrap_or_default();
        self.cookie(
            &self.names.flash,
            URL_SAFE_NO_PAD.encode(json),
            Some(FLASH_LIFETIME),
        )
    }
}

/// Adds `Set-Cookie` headers for `cookies` to a response.
pub fn append_cookies(response: &mut Response, cookies: Vec<Cookie<'static>>) {
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie.encoded().to_string()) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_cookies_take_the_host_prefix() {
        assert_eq!(CookieNames::new(true).refresh, "__Host-inchart_refresh");
        assert_eq!(CookieNames::new(false).refresh, "inchart_refresh");
    }
}
