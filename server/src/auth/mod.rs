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
use std::time::Duration;

use futures::future::BoxFuture;
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::config::AuthSettings;
use crate::platform::cache::Cache;
use crate::platform::clock::now_ms;
use crate::web::Cookies;

use self::mail::Mailer;
use self::password::Passwords;
use self::store::AccountStore;
use self::throttle::Throttle;
use self::tokens::AccessTokens;

/// How long a mailed verification link works.
pub const VERIFY_LINK_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// How long a mailed password-reset link works.
pub const RESET_LINK_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// A part of the site that holds something of an account that must end
/// before the account is deleted (billing: a subscription that would go
/// on charging). Registered at start-up, so accounts need not know who.
/// What a domain merely stores goes with the account through the
/// database's cascading foreign keys.
pub trait AccountCloser: Send + Sync {
    /// Ends what `user` has here; an error keeps the account, and its
    /// message is shown to the trader.
    fn close_account(&self, user: Uuid) -> BoxFuture<'_, Result<(), String>>;
}

/// Everything accounts need, cloned cheaply per request.
#[derive(Clone)]
pub struct Auth {
    pub settings: Arc<AuthSettings>,
    pub cookies: Cookies,
    /// Asked, in turn, before an account is deleted.
    pub closers: Arc<[Arc<dyn AccountCloser>]>,
    pub tokens: Arc<AccessTokens>,
    pub passwords: Passwords,
    pub store: AccountStore,
    pub throttle: Throttle,
    pub mailer: Mailer,
    pub cache: Cache,
}

impl Auth {
    pub fn new(
        settings: &AuthSettings,
        db: DatabaseConnection,
        cache: Cache,
        closers: Vec<Arc<dyn AccountCloser>>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            cookies: Cookies::new(settings.cookie_secure),
            closers: closers.into(),
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
            // An access token's lifetime, plus the leeway its check allows.
            let remembered = self.settings.access_ttl + Duration::from_secs(10);
            if let Err(error) = self.cache.set(&key, b"1", remembered).await {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "a revoked session is not in the cache"
                );
            }
        }
    }
}

/// How long an ended session is kept (for an operator looking into it)
/// before housekeeping deletes it.
const KEEP_ENDED: Duration = Duration::from_secs(24 * 3600);

impl Auth {
    /// Deletes ended sessions and spent mail tokens, every hour while the
    /// app runs (every instance may; the deletes do not mind).
    /// The address mail to `user` goes to; `None` once the account is gone.
    pub async fn email_of(&self, user: uuid::Uuid) -> anyhow::Result<Option<String>> {
        Ok(self.store.user(user).await?.map(|user| user.email))
    }

    pub async fn housekeeping(self) {
        let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
        loop {
            every_hour.tick().await;
            let before = now_ms() - KEEP_ENDED.as_millis() as i64;
            match self.store.purge(before).await {
                Ok((0, 0)) => {}
                Ok((sessions, mail_tokens)) => {
                    tracing::info!(
                        sessions,
                        mail_tokens,
                        "deleted ended sessions and spent mail tokens"
                    )
                }
                Err(error) => tracing::warn!(error = format!("{error:#}"), "housekeeping failed"),
            }
        }
    }
}

fn revoked_key(session: uuid::Uuid) -> String {
    format!("auth:revoked:{session}")
}

/// An email address as accounts key it: trimmed and lower-cased, if it
/// looks like one a mail server would take.
pub fn normalize_email(raw: &str) -> Result<String, String> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err("Enter your email address.".into());
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err("An email address has an @, like ann@example.com.".into());
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
        return Err("That does not look like an email address; check it for typos.".into());
    }
    if let Some(meant) = likely_domain_typo(domain) {
        return Err(format!(
            "Did you mean {local}@{meant}? Check the address for typos."
        ));
    }
    Ok(email)
}

/// Mail providers most addresses are at. A domain one letter away from one
/// of them (`gmial.com`, `gmail.co`) is a typo: nobody receives mail there.
const COMMON_MAIL_DOMAINS: [&str; 14] = [
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "live.com",
    "icloud.com",
    "me.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "gmx.com",
    "gmx.de",
    "yandex.ru",
];

fn likely_domain_typo(domain: &str) -> Option<&'static str> {
    if COMMON_MAIL_DOMAINS.contains(&domain) {
        return None;
    }
    COMMON_MAIL_DOMAINS
        .into_iter()
        .find(|known| one_edit_apart(domain, known))
}

/// Whether one insertion, deletion, substitution or swap of neighbours
/// turns `a` into `b`.
fn one_edit_apart(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (rest_a, rest_b) = (a.len() - prefix - suffix, b.len() - prefix - suffix);
    match (rest_a, rest_b) {
        (1, 1) | (0, 1) | (1, 0) => true,
        (2, 2) => a[prefix] == b[prefix + 1] && a[prefix + 1] == b[prefix],
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_typos_caught() {
        assert_eq!(normalize_email(" Ann@Example.COM ").unwrap(), "ann@example.com");
        assert_eq!(normalize_email("ann@gmail.com").unwrap(), "ann@gmail.com");
        for typo in [
            "ann@gmial.com",
            "ann@gmail.co",
            "ann@gmaill.com",
            "ann@hotmal.com",
        ] {
            assert!(
                normalize_email(typo)
                    .unwrap_err()
                    .starts_with("Did you mean ann@"),
                "{typo}"
            );
        }
        assert!(normalize_email("ann@gnu.org").is_ok());
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
