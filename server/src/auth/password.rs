//! Passwords: what makes one acceptable, and how it is stored.
//!
//! Policy (NIST SP 800-63B, OWASP ASVS 2.1): 8 to 128 characters, any
//! characters, no composition rules, and not one that is common or easy to
//! guess: zxcvbn scores it against its lists of leaked passwords, names,
//! words and keyboard patterns, and against the account's own email.
//!
//! Storage: Argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane),
//! in PHC string form, so parameters can rise later and old hashes still
//! verify. Hashing is deliberately slow, so it runs on the blocking pool,
//! at most one per core at a time: a burst of logins waits its turn
//! rather than starving the async runtime or the memory.

use std::sync::Arc;

use anyhow::Context;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

pub const MIN_LENGTH: usize = 8;
pub const MAX_LENGTH: usize = 128;

/// Why a password is refused, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeakPassword(pub String);

/// Checks a new password for the account `email`.
pub fn check_strength(password: &str, email: &str) -> Result<(), WeakPassword> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(WeakPassword(format!(
            "Use at least {MIN_LENGTH} characters; a few words strung together are easy to remember."
        )));
    }
    if length > MAX_LENGTH {
        return Err(WeakPassword(format!("Use at most {MAX_LENGTH} characters.")));
    }
    let local_part = email.split('@').next().unwrap_or_default();
    let entropy = zxcvbn::zxcvbn(password, &[email, local_part, "inchart", "trading"]);
    if u8::from(entropy.score()) >= 3 {
        return Ok(());
    }
    let reason = entropy
        .feedback()
        .and_then(|feedback| feedback.warning())
        .map(|warning| warning.to_string())
        .filter(|warning| !warning.is_empty())
        .unwrap_or_else(|| "This password would be easy to guess.".to_string());
    Err(WeakPassword(format!(
        "{reason} Add a few uncommon words, or make it longer."
    )))
}

/// Hashes and verifies passwords off the async runtime.
#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    /// A real hash of nothing anyone knows: a login for an unknown email is
    /// checked against it, so it takes as long as one for a known email.
    decoy: Arc<str>,
}

impl Passwords {
    pub fn new() -> anyhow::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let salt = SaltString::encode_b64(&super::tokens::random_bytes::<16>())
            .map_err(|error| anyhow::anyhow!("{error}"))?;
        let decoy = hasher()
            .hash_password(&super::tokens::random_bytes::<24>(), &salt)
            .map_err(|error| anyhow::anyhow!("{error}"))
            .context("while making the decoy password hash")?
            .to_string();
        Ok(Self {
            permits: Arc::new(Semaphore::new(cores)),
            decoy: decoy.into(),
        })
    }

    /// The PHC string of `password` with a fresh salt.
    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let password = password.to_owned();
        self.blocking(move || {
            let salt = SaltString::encode_b64(&super::tokens::random_bytes::<16>())
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            let hash = hasher()
                .hash_password(password.as_bytes(), &salt)
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            Ok(hash.to_string())
        })
        .await
    }

    /// Whether `password` matches `stored` (a PHC string); with no stored
    /// hash it still does the work, against the decoy, and says no.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> anyhow::Result<bool> {
        let password = password.to_owned();
        let known = stored.is_some();
        let stored = stored.map_or_else(|| self.decoy.to_string(), str::to_owned);
        self.blocking(move || {
            let parsed = PasswordHash::new(&stored).map_err(|error| anyhow::anyhow!("{error}"))?;
            // The comparison inside is constant-time.
            let matches = hasher().verify_password(password.as_bytes(), &parsed).is_ok();
            Ok(matches && known)
        })
        .await
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .context("the password hashing pool is closed")?;
        tokio::task::spawn_blocking(work)
            .await
            .context("while hashing a password")?
    }
}

fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_common_and_personal_passwords_are_refused() {
        assert!(
            check_strength("short", "ann@example.com")
                .unwrap_err()
                .0
                .contains("at least 8")
        );
        assert!(check_strength("password1", "ann@example.com").is_err());
        assert!(check_strength("qwertyuiop", "ann@example.com").is_err());
        assert!(check_strength("annexample", "ann@example.com").is_err());
        assert!(check_strength("violet heron sails at dusk", "ann@example.com").is_ok());
    }

    #[tokio::test]
    async fn a_hash_verifies_only_its_password() {
        let passwords = Passwords::new().unwrap();
        let hash = passwords.hash("violet heron sails").await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(passwords.verify("violet heron sails", Some(&hash)).await.unwrap());
        assert!(!passwords.verify("violet heron sail", Some(&hash)).await.unwrap());
        assert!(!passwords.verify("violet heron sails", None).await.unwrap());
    }
}
