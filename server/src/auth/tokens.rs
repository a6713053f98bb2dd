//! The two kinds of token a session is made of, and the one-time tokens
//! sent by mail.
//!
//! - The **access token** is a short-lived JWT (RFC 8725): HS256 only, its
//!   header typed `at+jwt` (RFC 9068), and `iss`, `aud`, `exp`, `iat`,
//!   `sub` and `sid` all required. A token signed any other way, with
//!   another type, for another audience or past its time is refused.
//! - The **refresh token** and the mailed tokens are opaque: 32 random
//!   bytes, shown to the client once and stored only as their SHA-256
//!   hash. They are not JWTs, so neither kind can stand in for the other.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The `typ` header of InChart's access tokens.
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";
/// The audience of access tokens: this web application.
pub const AUDIENCE: &str = "inchart-web";

/// What an access token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The user's id.
    pub sub: Uuid,
    /// The session (refresh-token family) it was issued in.
    pub sid: Uuid,
    pub iat: i64,
    pub exp: i64,
    pub email: String,
    /// Whether the email address is verified.
    pub email_verified: bool,
}

/// Signs and checks access tokens.
pub struct AccessTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    lifetime: Duration,
}

impl AccessTokens {
    /// `secret` signs the tokens; without one a random key is made, good
    /// for this process only.
    pub fn new(secret: Option<&SecretString>, issuer: &str, lifetime: Duration) -> Self {
        let key = match secret {
            Some(secret) => secret.expose_secret().as_bytes().to_vec(),
            None => {
                tracing::warn!(
                    "INCHART_JWT_SECRET is not set: access tokens are signed with a key of this \
                     process's own, so other instances cannot read them (sessions still survive a \
                     restart through their refresh tokens)"
                );
                random_bytes::<64>().to_vec()
            }
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(&key),
            decoding: DecodingKey::from_secret(&key),
            validation,
            issuer: issuer.to_string(),
            lifetime,
        }
    }

    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    pub fn issue(
        &self,
        user: Uuid,
        session: Uuid,
        email: &str,
        email_verified: bool,
        now_ms: i64,
    ) -> anyhow::Result<String> {
        let iat = now_ms / 1000;
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: AUDIENCE.to_string(),
            sub: user,
            sid: session,
            iat,
            exp: iat + self.lifetime.as_secs() as i64,
            email: email.to_string(),
            email_verified,
        };
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(ACCESS_TOKEN_TYPE.to_string());
        Ok(jsonwebtoken::encode(&header, &claims, &self.encoding)?)
    }

    /// The claims of a token this server issued and that is still good.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, jsonwebtoken::errors::Error> {
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)?;
        if data.header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE) {
            return Err(jsonwebtoken::errors::ErrorKind::InvalidToken.into());
        }
        Ok(data.claims)
    }
}

/// A fresh opaque token (what the client gets) and its hash (what the
/// database keeps).
pub fn opaque_token() -> (String, String) {
    let token = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
    let hash = token_hash(&token);
    (token, hash)
}

/// The SHA-256 of a token, in hex: how tokens are looked up.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Bytes from the operating system's random source.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).unwrap_or_else(|error| {
        // Without randomness no token can be safe; stopping is the only
        // honest answer, and no supported system fails here.
        panic!("the operating system's random source failed: {error}")
    });
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> AccessTokens {
        let secret = SecretString::from("a test secret that is long enough to sign with");
        AccessTokens::new(Some(&secret), "http://inchart.test", Duration::from_secs(900))
    }

    #[test]
    fn an_issued_token_verifies_and_says_who() {
        let keys = keys();
        let (user, session) = (Uuid::new_v4(), Uuid::new_v4());
        let now = jsonwebtoken::get_current_timestamp() as i64 * 1000;
        let token = keys.issue(user, session, "a@b.test", true, now).unwrap();
        let claims = keys.verify(&token).unwrap();
        assert_eq!((claims.sub, claims.sid), (user, session));
        assert!(claims.email_verified);
    }

    #[test]
    fn an_expired_or_foreign_token_is_refused() {
        let keys = keys();
        let long_ago = (jsonwebtoken::get_current_timestamp() as i64 - 3600) * 1000;
        let expired = keys
            .issue(Uuid::new_v4(), Uuid::new_v4(), "a@b.test", false, long_ago)
            .unwrap();
        assert!(keys.verify(&expired).is_err());

        let other = AccessTokens::new(
            Some(&SecretString::from("another secret that is also long enough!!")),
            "http://inchart.test",
            Duration::from_secs(900),
        );
        let now = jsonwebtoken::get_current_timestamp() as i64 * 1000;
        let foreign = other
            .issue(Uuid::new_v4(), Uuid::new_v4(), "a@b.test", false, now)
            .unwrap();
        assert!(keys.verify(&foreign).is_err());
    }

    #[test]
    fn opaque_tokens_are_random_and_hashed() {
        let (a, hash) = opaque_token();
        let (b, _) = opaque_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(hash, token_hash(&a));
        assert_eq!(hash.len(), 64);
    }
}
