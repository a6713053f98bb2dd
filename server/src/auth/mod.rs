//! Accounts: sign-up, email verification, login, sessions, password
//! changes and resets, and deleting an account.
//!
//! Policy, after RFC 8725 (JWT best practice), RFC 9700 (OAuth security
//! best practice) and OWASP ASVS level 1:
//! - A session is a family of refresh tokens. The browser holds a
//!   short-lived access JWT and an opaque refresh token, both in
//!   `HttpOnly`, `SameSite=Lax` cookies (`__Host-` and `Secure` unless
//!   turned off for plain-http local development).
//! - A page load with an expired access token trades the refresh token for
//!   a new pair; a refresh token works once, and presenting a used one
//!   revokes its session. Revoked sessions are remembered in the shared
//!   cache for an access token's lifetime, so logging out anywhere takes
//!   effect everywhere at once.
//! - Every state-changing request passes the CSRF check (`csrf.rs`).
//! - Login failures are throttled per account and per address; their
//!   messages never say whether an email has an account.

pub mod csrf;
pub mod entity;
pub mod handlers;
pub mod mail;
pub mod pages;
pub mod password;
pub mod session;
pub mod store;
pub mod throttle;
pub mod tokens;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sea_orm::DatabaseConnection;

use crate::cache::Cache;
use crate::config::AuthSettings;

use self::mail::Mailer;
use self::password::Passwords;
use self::store::AccountStore;
use self::throttle::Throttle;
use self::tokens::AccessTokens;

/// How long a mailed verification link works.
pub const VERIFY_LINK_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// How long a mailed password-reset link works.
pub const RESET_LINK_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// Everything accounts need, cloned cheaply per request.
#[derive(Clone)]
pub struct Auth {
    pub settings: Arc<AuthSettings>,
    pub tokens: Arc<AccessTokens>,
    pub passwords: Passwords,
    pub store: AccountStore,
    pub throttle: Throttle,
    pub mailer: Mailer,
    pub cache: Cache,
}

impl Auth {
    pub fn new(settings: &AuthSettings, db: DatabaseConnection, cache: Cache) -> anyhow::Result<Self> {
        Ok(Self {
            tokens: Arc::new(AccessTokens::new(
                settings.jwt_secret.as_ref(),
                &settings.public_url,
                settings.access_ttl,
            )),
            passwords: Passwords::new()?,
            store: AccountStore::new(db),
            throttle: Throttle::new(
                cache.clone(),
                settings.login_window,
                settings.login_limit_account,
                settings.login_limit_ip,
            ),
            mailer: Mailer::new(settings.smtp_url.as_ref(), &settings.mail_from)?,
            cache,
            settings: Arc::new(settings.clone()),
        })
    }

    /// Remembers that a session has ended, for as long as an access token
    /// issued in it could still be presented.
    pub async fn forget_sessions(&self, sessions: &[uuid::Uuid]) {
        for session in sessions {
            let key = revoked_key(*session);
            if let Err(error) = self.cache.set(&key, b"1", self.settings.access_ttl).await {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "a revoked session is not in the cache"
                );
            }
        }
    }
}

fn revoked_key(session: uuid::Uuid) -> String {
    format!("auth:revoked:{session}")
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

/// An email address as accounts key it: trimmed and lower-cased, if it
/// looks like one a mail server would take.
pub fn normalize_email(raw: &str) -> Result<String, &'static str> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err("Enter your email address.");
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err("An email address has an @, like ann@example.com.");
    };
    let labels_ok = domain.split('.').count() >= 2
        && domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if local.is_empty()
        || local.len() > 64
        || email.len() > 254
        || local.contains(char::is_whitespace)
        || local.contains('@')
        || !labels_ok
    {
        return Err("That does not look like an email address; check it for typos.");
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_typos_caught() {
        assert_eq!(normalize_email(" Ann@Example.COM ").unwrap(), "ann@example.com");
        for typo in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "ann@@example.com",
            "a nn@example.com",
            "ann@example..com",
            "ann@-example.com",
        ] {
            assert!(normalize_email(typo).is_err(), "{typo:?}");
        }
    }
}
