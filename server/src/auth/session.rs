//! Who is asking: the session middleware.
//!
//! For every request but assets, health and the public market API it reads
//! the cookies and puts a [`RequestSession`] in the request's extensions:
//! the signed-in user (from a good, unrevoked access token), the CSRF
//! token (made and set on first visit) and a carried form message.
//!
//! A page load (a navigation) whose access token is missing or expired,
//! with a refresh token, rotates the refresh token and sets fresh cookies
//! on the response. Scripts' requests do not: they get a 401 and call
//! `POST /api/v1/auth/refresh`, so one tab's fetches never race each other
//! for a single-use token.

use std::net::SocketAddr;
use std::time::Duration;

use app::account::{Flash, PageSession, RequestSession, Viewer};
use app::ids::{SessionId, UserId};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use axum_extra::extract::cookie::{Cookie, CookieJar};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use super::store::{Device, Rotation, User};
use super::tokens::random_bytes;
use super::{Auth, revoked_key};
use crate::platform::clock::now_ms;
use crate::web::cookies::append_cookies;
use crate::web::{Caller, SignedIn};

/// What the middleware learned, for handlers.
#[derive(Debug, Clone)]
pub struct RequestAuth {
    pub signed_in: Option<SignedIn>,
    pub csrf: String,
    pub device: Device,
}

impl Auth {
    /// The CSRF cookie, kept for a year: a form left open in a tab still
    /// works tomorrow.
    pub fn csrf_cookie(&self, token: String) -> Cookie<'static> {
        self.cookies.cookie(
            &self.cookies.names().csrf,
            token,
            Some(Duration::from_secs(365 * 86_400)),
        )
    }

    /// The cookies of a signed-in session: a new access token, and the
    /// refresh token when there is a new one.
    pub fn session_cookies(
        &self,
        user: &User,
        session: Uuid,
        refresh: Option<String>,
    ) -> anyhow::Result<Vec<Cookie<'static>>> {
        let names = self.cookies.names();
        let access = self.tokens.issue(
            user.id,
            session,
            &user.email,
            user.email_verified_at.is_some(),
            now_ms(),
        )?;
        let mut cookies = vec![
            self.cookies
                .cookie(&names.access, access, Some(self.tokens.lifetime())),
        ];
        if let Some(refresh) = refresh {
            cookies.push(
                self.cookies
                    .cookie(&names.refresh, refresh, Some(self.settings.session_ttl)),
            );
        }
        Ok(cookies)
    }

    /// Cookies that end the session in this browser.
    pub fn signed_out_cookies(&self) -> Vec<Cookie<'static>> {
        let names = self.cookies.names();
        vec![
            self.cookies.removal(&names.access),
            self.cookies.removal(&names.refresh),
        ]
    }

    /// The user an access token names, unless it is bad or its session
    /// has ended. A cache that cannot say counts as ended: the page load
    /// then goes to the database through the refresh token.
    /// Who sent a request on a public path (which the middleware skips):
    /// the access cookie's user, when it is valid. Never refreshes.
    pub async fn user_of_public_request(&self, headers: &HeaderMap) -> Option<Uuid> {
        let jar = CookieJar::from_headers(headers);
        let access = jar.get(&self.cookies.names().access)?;
        self.signed_in_by_access(access.value())
            .await
            .map(|signed_in| signed_in.user)
    }

    async fn signed_in_by_access(&self, token: &str) -> Option<SignedIn> {
        let claims = self.tokens.verify(token).ok()?;
        match self.cache.get(&revoked_key(claims.sid)).await {
            Ok(None) => Some(SignedIn {
                user: claims.sub,
                session: claims.sid,
                email: claims.email,
                email_verified: claims.email_verified,
            }),
            Ok(Some(_)) => None,
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "revocations unreadable");
                None
            }
        }
    }

    /// Trades the refresh token; returns the user and the cookies to set.
    pub async fn refresh(
        &self,
        token: &str,
        device: &Device,
    ) -> anyhow::Result<(Option<SignedIn>, Vec<Cookie<'static>>)> {
        let rotation = self
            .store
            .rotate(
                token,
                device,
                now_ms(),
                self.settings.session_ttl,
                self.settings.refresh_grace,
            )
            .await?;
        Ok(match rotation {
            Rotation::Rotated { user, session, token } => {
                let cookies = self.session_cookies(&user, session, Some(token))?;
                (Some(signed_in(&user, session)), cookies)
            }
            Rotation::Raced { user, session } => (Some(signed_in(&user, session)), Vec::new()),
            Rotation::Reused { session } => {
                tracing::warn!(%session, "a used refresh token came back: the session is revoked");
                self.forget_sessions(&[session]).await;
                (None, self.signed_out_cookies())
            }
            Rotation::Invalid => (None, self.signed_out_cookies()),
        })
    }
}

/// A fresh CSRF token: 32 random bytes.
pub fn new_csrf_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

fn signed_in(user: &User, session: Uuid) -> SignedIn {
    SignedIn {
        user: user.id,
        session,
        email: user.email.clone(),
        email_verified: user.email_verified_at.is_some(),
    }
}

/// Paths that never need to know who is asking.
fn is_public(path: &str) -> bool {
    [
        "/pkg/",
        "/vendor/",
        "/favicon",
        "/api/v1/candles",
        "/api/v1/symbols",
    ]
    .iter()
    .any(|prefix| path.starts_with(prefix))
        || matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// A browser loading a page, as opposed to a script fetching data.
/// A form submission is a navigation too: a browser sends them one at a
/// time, so they may rotate the refresh token.
fn is_navigation(method: &Method, headers: &HeaderMap) -> bool {
    if !matches!(*method, Method::GET | Method::POST) {
        return false;
    }
    match headers.get("sec-fetch-mode").and_then(|mode| mode.to_str().ok()) {
        Some(mode) => mode == "navigate",
        None => headers
            .get(header::ACCEPT)
            .and_then(|accept| accept.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html")),
    }
}

pub async fn middleware(State(auth): State<Auth>, mut request: Request, next: Next) -> Response {
    if is_public(request.uri().path()) {
        return next.run(request).await;
    }
    let jar = CookieJar::from_headers(request.headers());
    let names = auth.cookies.names();
    let device = device_of(&request, auth.settings.trust_proxy);
    let mut set_cookies = Vec::new();

    let csrf = match jar.get(&names.csrf).map(Cookie::value) {
        Some(token) if token.len() >= 32 => token.to_string(),
        _ => {
            let token = new_csrf_token();
            set_cookies.push(auth.csrf_cookie(token.clone()));
            token
        }
    };

    let mut signed_in = match jar.get(&names.access) {
        Some(access) => auth.signed_in_by_access(access.value()).await,
        None => None,
    };
    let navigation = is_navigation(request.method(), request.headers());
    if signed_in.is_none()
        && navigation
        && let Some(refresh) = jar.get(&names.refresh)
    {
        match auth.refresh(refresh.value(), &device).await {
            Ok((user, cookies)) => {
                signed_in = user;
                set_cookies.extend(cookies);
            }
            Err(error) => tracing::error!(error = format!("{error:#}"), "refresh failed"),
        }
    }

    // A page shows the carried message and it is gone; a form post keeps
    // it (its own answer may carry the next one).
    let flash = if navigation && request.method() == Method::GET {
        jar.get(&names.flash).and_then(|cookie| {
            set_cookies.push(auth.cookies.removal(&names.flash));
            let bytes = URL_SAFE_NO_PAD.decode(cookie.value()).ok()?;
            serde_json::from_slice::<Flash>(&bytes).ok()
        })
    } else {
        None
    };

    request.extensions_mut().insert(RequestSession {
        page: PageSession {
            viewer: signed_in.as_ref().map(|user| Viewer {
                email: user.email.clone(),
                email_verified: user.email_verified,
            }),
            csrf: csrf.clone(),
            flash,
            mail_sends: auth.mailer.sends(),
        },
        ids: signed_in
            .as_ref()
            .map(|user| (UserId::from(user.user), SessionId::from(user.session))),
    });
    request.extensions_mut().insert(Caller(signed_in.clone()));
    request.extensions_mut().insert(RequestAuth {
        signed_in,
        csrf,
        device,
    });

    let mut response = next.run(request).await;
    // The handler's cookies win: a logout that follows a refresh in the
    // same request clears the cookies the refresh would have set.
    let set_by_handler: Vec<String> = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|value| {
            value
                .to_str()
                .ok()?
                .split_once('=')
                .map(|(name, _)| name.to_string())
        })
        .collect();
    set_cookies.retain(|cookie| !set_by_handler.iter().any(|name| name == cookie.name()));
    append_cookies(&mut response, set_cookies);
    // What passed through here may name the visitor or carry their form
    // token: no shared cache may keep it.
    response
        .headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("private, no-cache"));
    response
}

/// The client's address and browser. Behind a proxy (`INCHART_TRUST_PROXY`)
/// the address is the last `X-Forwarded-For` hop: the one our proxy added,
/// which the client cannot forge.
pub fn device_of(request: &Request, trust_proxy: bool) -> Device {
    let forwarded = trust_proxy
        .then(|| {
            request
                .headers()
                .get("x-forwarded-for")?
                .to_str()
                .ok()?
                .rsplit(',')
                .next()
                .map(|hop| hop.trim().to_string())
        })
        .flatten()
        .filter(|hop| !hop.is_empty());
    let ip = forwarded.unwrap_or_else(|| {
        request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(address)| address.ip().to_string())
            .unwrap_or_else(|| "unknown".into())
    });
    let user_agent = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|agent| agent.to_str().ok())
        .unwrap_or_default()
        .to_string();
    Device { user_agent, ip }
}

/// "Firefox on Linux": a browser and system read from a User-Agent.
pub fn describe_device(user_agent: &str) -> String {
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .iter()
    .find(|(marker, _)| user_agent.contains(marker))
    .map(|(_, name)| *name);
    let system = [
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Android", "Android"),
        ("Mac OS X", "macOS"),
        ("Windows", "Windows"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(marker, _)| user_agent.contains(marker))
    .map(|(_, name)| *name);
    match (browser, system) {
        (Some(browser), Some(system)) => format!("{browser} on {system}"),
        (Some(browser), None) => browser.to_string(),
        (None, Some(system)) => format!("A browser on {system}"),
        (None, None) => "An unknown device".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_read_as_people_say_them() {
        let chrome_mac = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 \
                          (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
        assert_eq!(describe_device(chrome_mac), "Chrome on macOS");
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
        assert_eq!(describe_device(firefox), "Firefox on Linux");
        assert_eq!(describe_device(""), "An unknown device");
    }
}
