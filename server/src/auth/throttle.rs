//! Throttling of guessable actions, in the shared cache (Redis across
//! instances, in process otherwise).
//!
//! Logins: each failure counts against the account and against the client
//! address, in fixed windows. While either count is at its limit, every
//! login for that account or from that address is refused without the
//! password being looked at, and the answer says when to try again. A
//! success clears the account's count. Accounts are keyed by a hash of the
//! address, so the cache holds no email addresses.
//!
//! Other actions (sign-ups, mail sends) count every attempt.

use std::time::Duration;

use crate::platform::cache::Cache;

use super::tokens::token_hash;

/// Whether an action may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Not until this much time has passed.
    Blocked(Duration),
}

#[derive(Clone)]
pub struct Throttle {
    cache: Cache,
    window: Duration,
    account_limit: u64,
    ip_limit: u64,
}

impl Throttle {
    pub fn new(cache: Cache, window: Duration, account_limit: u32, ip_limit: u32) -> Self {
        Self {
            cache,
            window,
            account_limit: u64::from(account_limit),
            ip_limit: u64::from(ip_limit),
        }
    }

    /// Whether a login for `email` from `ip` may be tried now.
    pub async fn login_allowed(&self, email: &str, ip: &str) -> Verdict {
        let mut wait = Duration::ZERO;
        for (key, limit) in [
            (account_key(email), self.account_limit),
            (ip_key("login", ip), self.ip_limit),
        ] {
            match self.cache.counter(&key).await {
                Ok((count, left)) if count >= limit => wait = wait.max(left),
                Ok(_) => {}
                // The cache is down: throttling cannot count, and refusing
                // every login would be worse than not throttling for a while.
                Err(error) => tracing::warn!(error = format!("{error:#}"), "login throttle unreadable"),
            }
        }
        if wait.is_zero() {
            Verdict::Allowed
        } else {
            Verdict::Blocked(wait.max(Duration::from_secs(1)))
        }
    }

    pub async fn login_failed(&self, email: &str, ip: &str) {
        for key in [account_key(email), ip_key("login", ip)] {
            if let Err(error) = self.cache.increment(&key, self.window).await {
                tracing::warn!(error = format!("{error:#}"), "login throttle not counted");
            }
        }
    }

    pub async fn login_succeeded(&self, email: &str) {
        if let Err(error) = self.cache.delete(&account_key(email)).await {
            tracing::warn!(error = format!("{error:#}"), "login throttle not cleared");
        }
    }

    /// Counts one `action` from `subject` (an address, or an account's
    /// hash) and says whether it stays within `limit` per `window`.
    pub async fn attempt(&self, action: &str, subject: &str, limit: u64, window: Duration) -> Verdict {
        match self.cache.increment(&ip_key(action, subject), window).await {
            Ok((count, left)) if count > limit => Verdict::Blocked(left.max(Duration::from_secs(1))),
            Ok(_) => Verdict::Allowed,
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), action, "throttle not counted");
                Verdict::Allowed
            }
        }
    }
}

fn account_key(email: &str) -> String {
    format!("auth:throttle:login:account:{}", token_hash(email))
}

fn ip_key(action: &str, subject: &str) -> String {
    format!("auth:throttle:{action}:{subject}")
}
