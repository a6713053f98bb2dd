//! Browser push: a firing sent to the browsers a trader turned
//! notifications on in, through their push services (Web Push, RFC 8030).
//!
//! A message is encrypted for the subscription's keys (RFC 8291: ECDH on
//! P-256, HKDF-SHA-256, one `aes128gcm` record of RFC 8188) and signed for
//! by the server's VAPID key (RFC 8292), so a push service knows who sends
//! and only the browser can read it. [`PushClient::send`] never fails: it
//! answers with a [`PushOutcome`] that tells the caller whether to keep,
//! retry or delete the subscription.
//!
//! The server's key is a secret: [`VapidKeys`]'s `Debug` shows only the
//! public half.

use std::fmt;
use std::time::Duration;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use anyhow::{Context, bail, ensure};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use inchart_api::alerts::PushSubscription;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use sha2::Sha256;

use crate::platform::clock;

/// The record size written in the header. One record holds the whole
/// message, so this only has to exceed it; 4096 is what browsers expect.
const RECORD_SIZE: u32 = 4096;
/// The header before the ciphertext: salt (16), record size (4), key id
/// length (1) and the sender's public key (65).
const HEADER_LEN: usize = 16 + 4 + 1 + 65;
/// AES-GCM's tag.
const TAG_LEN: usize = 16;
/// The most a push service must accept in one message (RFC 8030 §7.2).
const MAX_BODY: usize = 4096;
/// The longest payload that fits one message: its body less the header,
/// the tag and the last-record delimiter.
pub const MAX_PAYLOAD: usize = MAX_BODY - HEADER_LEN - TAG_LEN - 1;
/// How long a VAPID token is valid; RFC 8292 allows at most 24 hours.
const VAPID_VALIDITY_SECS: i64 = 12 * 60 * 60;

/// The server's VAPID key pair (P-256), which identifies InChart to push
/// services; browsers subscribe with its public half.
#[derive(Clone)]
pub struct VapidKeys {
    secret: SecretKey,
}

impl VapidKeys {
    /// A new random key pair.
    pub fn generate() -> anyhow::Result<Self> {
        Ok(Self {
            secret: random_secret().context("while generating a VAPID key")?,
        })
    }

    /// The key pair from its private scalar (32 bytes, big-endian), as
    /// [`VapidKeys::private_bytes`] gives it.
    pub fn from_private_bytes(bytes: &[u8]) -> anyhow::Result<Self> {
        ensure!(
            bytes.len() == 32,
            "a VAPID private key is 32 bytes, this one is {}",
            bytes.len()
        );
        let secret = SecretKey::from_slice(bytes)
            .context("the VAPID private key is not a P-256 scalar (zero or too large)")?;
        Ok(Self { secret })
    }

    /// The private scalar, to store.
    pub fn private_bytes(&self) -> [u8; 32] {
        self.secret.to_bytes().into()
    }

    /// The public key, base64url without padding of the uncompressed
    /// point: what `pushManager.subscribe`'s `applicationServerKey` takes.
    pub fn public_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(uncompressed(&self.secret.public_key()))
    }

    /// The `Authorization` header for a message to `endpoint`: a token
    /// for the endpoint's origin, valid for 12 hours from `now_secs`.
    fn authorization(&self, endpoint: &reqwest::Url, subject: &str, now_secs: i64) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({
            "aud": endpoint.origin().ascii_serialization(),
            "exp": now_secs + VAPID_VALIDITY_SECS,
            "sub": subject,
        });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signing_input = format!("{header}.{claims}");
        let signature: Signature = SigningKey::from(&self.secret).sign(signing_input.as_bytes());
        // JOSE's ES256 signature is r and s side by side (RFC 7518 §3.4).
        let signature = URL_SAFE_NO_PAD.encode(signature.to_bytes());
        format!("vapid t={signing_input}.{signature}, k={}", self.public_key())
    }
}

impl fmt::Debug for VapidKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VapidKeys")
            .field("public_key", &self.public_key())
            .finish_non_exhaustive()
    }
}

/// What became of one message to one subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// The push service took it (2xx, 201 usually).
    Delivered { status: u16 },
    /// 404 or 410: the subscription has expired or the browser left it;
    /// the caller deletes it.
    Gone { status: u16 },
    /// Worth trying again later: 5xx, 429 (with its `Retry-After`), a
    /// timeout or a failed connection.
    Retry {
        status: Option<u16>,
        retry_after: Option<Duration>,
        outcome: String,
    },
    /// Any other 4xx: trying again would get the same answer.
    Refused { status: u16, outcome: String },
    /// Not sent: the subscription's keys or endpoint cannot be used
    /// (see [`check_subscription`]), or the payload is over
    /// [`MAX_PAYLOAD`]. Trying again would fail the same way.
    Unsendable { outcome: String },
}

impl PushOutcome {
    /// What happened, as a person reads it: "HTTP 201 Created",
    /// "timed out", "connection refused".
    pub fn outcome(&self) -> String {
        match self {
            PushOutcome::Delivered { status } | PushOutcome::Gone { status } => http_line(*status),
            PushOutcome::Retry { outcome, .. }
            | PushOutcome::Refused { outcome, .. }
            | PushOutcome::Unsendable { outcome } => outcome.clone(),
        }
    }

    /// The HTTP status, when the push service answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            PushOutcome::Delivered { status }
            | PushOutcome::Gone { status }
            | PushOutcome::Refused { status, .. } => Some(*status),
            PushOutcome::Retry { status, .. } => *status,
            PushOutcome::Unsendable { .. } => None,
        }
    }
}

/// Sends encrypted, VAPID-signed messages to push services.
#[derive(Debug, Clone)]
pub struct PushClient {
    keys: VapidKeys,
    subject: String,
    http: reqwest::Client,
}

impl PushClient {
    /// A client signing as `keys`, with `subject` (a `mailto:` or
    /// `https:` URL) as the contact push services may write to. `http`
    /// should have a timeout and follow no redirects.
    pub fn new(keys: VapidKeys, subject: String, http: reqwest::Client) -> Self {
        Self { keys, subject, http }
    }

    /// The server's public key, for browsers to subscribe with.
    pub fn public_key(&self) -> String {
        self.keys.public_key()
    }

    /// Sends `payload` to one subscription; the push service keeps it for
    /// at most `ttl` while the browser is offline.
    pub async fn send(&self, subscription: &PushSubscription, payload: &[u8], ttl: Duration) -> PushOutcome {
        let prepared = endpoint_of(subscription).and_then(|endpoint| {
            let body = encrypt(subscription, payload)?;
            Ok((endpoint, body))
        });
        let (endpoint, body) = match prepared {
            Ok(prepared) => prepared,
            Err(error) => {
                return PushOutcome::Unsendable {
                    outcome: format!("{error:#}"),
                };
            }
        };
        let authorization = self
            .keys
            .authorization(&endpoint, &self.subject, clock::now_secs());
        let answer = self
            .http
            .post(endpoint)
            .header("TTL", ttl.as_secs().to_string())
            .header(CONTENT_ENCODING, "aes128gcm")
            .header(CONTENT_TYPE, "application/octet-stream")
            .header("Urgency", "high")
            .header(AUTHORIZATION, authorization)
            .body(body)
            .send()
            .await;
        match answer {
            Ok(response) => classify(response).await,
            Err(error) => PushOutcome::Retry {
                status: None,
                retry_after: None,
                outcome: transport_failure(&error),
            },
        }
    }
}

/// Whether a browser's subscription can be sent to: its endpoint is an
/// http(s) URL and its keys are a P-256 point and a 16-byte secret. For
/// the endpoint that stores subscriptions, so that a bad one is refused
/// when it arrives rather than failing every firing.
pub fn check_subscription(subscription: &PushSubscription) -> anyhow::Result<()> {
    endpoint_of(subscription)?;
    user_agent_keys(subscription)?;
    Ok(())
}

fn endpoint_of(subscription: &PushSubscription) -> anyhow::Result<reqwest::Url> {
    let endpoint =
        reqwest::Url::parse(&subscription.endpoint).context("the subscription's endpoint is not a URL")?;
    if !matches!(endpoint.scheme(), "https" | "http") || endpoint.host().is_none() {
        bail!("the subscription's endpoint is not an http(s) URL");
    }
    Ok(endpoint)
}

/// The browser's public key and authentication secret.
fn user_agent_keys(subscription: &PushSubscription) -> anyhow::Result<(PublicKey, [u8; 16])> {
    let p256dh =
        decode_base64url(&subscription.keys.p256dh).context("the subscription's p256dh is not base64url")?;
    let public =
        PublicKey::from_sec1_bytes(&p256dh).context("the subscription's p256dh is not a P-256 public key")?;
    let auth =
        decode_base64url(&subscription.keys.auth).context("the subscription's auth is not base64url")?;
    let auth: [u8; 16] = auth.try_into().map_err(|auth: Vec<u8>| {
        anyhow::anyhow!("the subscription's auth is {} bytes, not 16", auth.len())
    })?;
    Ok((public, auth))
}

/// Browsers give keys without padding; some libraries add it.
fn decode_base64url(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('='))
}

/// `payload` encrypted for `subscription` with a fresh key and salt: the
/// body of a push message.
fn encrypt(subscription: &PushSubscription, payload: &[u8]) -> anyhow::Result<Vec<u8>> {
    let (user_agent, auth) = user_agent_keys(subscription)?;
    let ephemeral = random_secret().context("while making a message key")?;
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|error| anyhow::anyhow!("no randomness for a salt: {error}"))?;
    encrypt_with(payload, &user_agent, &auth, &ephemeral, &salt)
}

/// RFC 8291 §3.3–3.4 and §4 with the sender's key and the salt given, so
/// the RFC's example can be checked byte for byte.
fn encrypt_with(
    payload: &[u8],
    user_agent: &PublicKey,
    auth: &[u8; 16],
    sender: &SecretKey,
    salt: &[u8; 16],
) -> anyhow::Result<Vec<u8>> {
    ensure!(
        payload.len() <= MAX_PAYLOAD,
        "the message is {} bytes, over the {MAX_PAYLOAD} a push carries",
        payload.len()
    );
    let sender_public = uncompressed(&sender.public_key());
    let user_agent_public = uncompressed(user_agent);

    let shared = p256::ecdh::diffie_hellman(sender.to_nonzero_scalar(), user_agent.as_affine());
    // The input key: the shared secret mixed with the browser's secret,
    // bound to both public keys.
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(auth), shared.raw_secret_bytes())
        .expand_multi_info(
            &[&b"WebPush: info\0"[..], &user_agent_public, &sender_public],
            &mut ikm,
        )
        .map_err(|_| anyhow::anyhow!("HKDF refused 32 bytes"))?;
    let content = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let mut key = [0u8; 16];
    let mut nonce = [0u8; 12];
    content
        .expand(b"Content-Encoding: aes128gcm\0", &mut key)
        .and_then(|()| content.expand(b"Content-Encoding: nonce\0", &mut nonce))
        .map_err(|_| anyhow::anyhow!("HKDF refused a key or nonce"))?;

    // The only record is the last: its delimiter is 2, with no padding.
    let mut record = Vec::with_capacity(payload.len() + 1);
    record.extend_from_slice(payload);
    record.push(2);
    let cipher = Aes128Gcm::new_from_slice(&key).context("while keying AES-128-GCM")?;
    // The first record's nonce is the derived one as is (sequence 0).
    let ciphertext = cipher
        .encrypt(Nonce::from_slice(&nonce), record.as_slice())
        .map_err(|_| anyhow::anyhow!("AES-GCM refused the message"))?;

    let mut body = Vec::with_capacity(HEADER_LEN + ciphertext.len());
    body.extend_from_slice(salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(65);
    body.extend_from_slice(&sender_public);
    body.extend_from_slice(&ciphertext);
    Ok(body)
}

fn uncompressed(public: &PublicKey) -> [u8; 65] {
    let point = public.to_encoded_point(false);
    let mut bytes = [0u8; 65];
    bytes.copy_from_slice(point.as_bytes());
    bytes
}

fn random_secret() -> anyhow::Result<SecretKey> {
    // A random 32 bytes is a valid scalar but for a chance of about 2^-32;
    // the loop is for that chance.
    for _ in 0..8 {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|error| anyhow::anyhow!("no randomness for a key: {error}"))?;
        if let Ok(secret) = SecretKey::from_slice(&bytes) {
            return Ok(secret);
        }
    }
    bail!("no valid P-256 scalar in 8 random draws")
}

async fn classify(response: reqwest::Response) -> PushOutcome {
    let status = response.status();
    let code = status.as_u16();
    if status.is_success() {
        return PushOutcome::Delivered { status: code };
    }
    if matches!(status, StatusCode::NOT_FOUND | StatusCode::GONE) {
        return PushOutcome::Gone { status: code };
    }
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        return PushOutcome::Retry {
            status: Some(code),
            retry_after,
            outcome: http_line(code),
        };
    }
    // A refusal's body says why (a bad token, a payload too large): keep
    // its start for whoever reads the delivery log.
    let reason = response.text().await.unwrap_or_default();
    let reason: String = reason.trim().chars().take(200).collect();
    let outcome = if reason.is_empty() {
        http_line(code)
    } else {
        format!("{}: {reason}", http_line(code))
    };
    PushOutcome::Refused {
        status: code,
        outcome,
    }
}

fn http_line(status: u16) -> String {
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|status| status.canonical_reason());
    match reason {
        Some(reason) => format!("HTTP {status} {reason}"),
        None => format!("HTTP {status}"),
    }
}

/// A failure before any answer, in a few words: "timed out",
/// "connection refused", or the innermost cause.
fn transport_failure(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "timed out".to_string();
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut innermost = error.to_string();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return "timed out".to_string();
            }
            if io.kind() != std::io::ErrorKind::Other {
                return io.kind().to_string();
            }
        }
        innermost = cause.to_string();
        source = cause.source();
    }
    if error.is_connect() {
        format!("could not connect: {innermost}")
    } else {
        innermost
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use inchart_api::alerts::PushKeys;

    // RFC 8291 Appendix A.
    const PLAINTEXT: &[u8] = b"When I grow up, I want to be a watermelon";
    const AS_PRIVATE: &str = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
    const AS_PUBLIC: &str =
        "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
    const UA_PRIVATE: &str = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
    const UA_PUBLIC: &str =
        "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    const SALT: &str = "DGv6ra1nlYgDCS1FRnbzlw";
    const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";
    const MESSAGE: &str = concat!(
        "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27ml",
        "mlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPT",
        "pK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN",
    );

    fn bytes(text: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(text).unwrap()
    }

    /// The browser's side, written from RFC 8188 §2 and RFC 8291 §3.4
    /// with the browser's private key: the header's salt and key, the
    /// same derivation seen from the other end.
    fn decrypt(message: &[u8], user_agent: &SecretKey, auth: &[u8; 16]) -> Vec<u8> {
        let salt = &message[..16];
        assert_eq!(u32::from_be_bytes(message[16..20].try_into().unwrap()), 4096);
        let key_len = usize::from(message[20]);
        let sender = &message[21..21 + key_len];
        let ciphertext = &message[21 + key_len..];

        let sender_key = PublicKey::from_sec1_bytes(sender).unwrap();
        let shared = p256::ecdh::diffie_hellman(user_agent.to_nonzero_scalar(), sender_key.as_affine());
        let user_agent_public = user_agent.public_key().to_encoded_point(false);
        let mut info = b"WebPush: info\0".to_vec();
        info.extend_from_slice(user_agent_public.as_bytes());
        info.extend_from_slice(sender);
        let mut ikm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(auth), shared.raw_secret_bytes())
            .expand(&info, &mut ikm)
            .unwrap();
        let content = Hkdf::<Sha256>::new(Some(salt), &ikm);
        let mut key = [0u8; 16];
        let mut nonce = [0u8; 12];
        content
            .expand(b"Content-Encoding: aes128gcm\0", &mut key)
            .unwrap();
        content.expand(b"Content-Encoding: nonce\0", &mut nonce).unwrap();
        let mut record = Aes128Gcm::new_from_slice(&key)
            .unwrap()
            .decrypt(Nonce::from_slice(&nonce), ciphertext)
            .unwrap();
        while record.last() == Some(&0) {
            record.pop();
        }
        assert_eq!(record.pop(), Some(2), "the last record's delimiter");
        record
    }

    fn subscription_for(user_agent: &SecretKey, auth: &[u8; 16]) -> PushSubscription {
        PushSubscription {
            endpoint: "https://push.example.net/send/abc".to_string(),
            keys: PushKeys {
                p256dh: URL_SAFE_NO_PAD.encode(uncompressed(&user_agent.public_key())),
                auth: URL_SAFE_NO_PAD.encode(auth),
            },
        }
    }

    #[test]
    fn the_rfc_8291_example_comes_out_byte_for_byte() {
        let sender = SecretKey::from_slice(&bytes(AS_PRIVATE)).unwrap();
        assert_eq!(
            URL_SAFE_NO_PAD.encode(uncompressed(&sender.public_key())),
            AS_PUBLIC
        );
        let user_agent = PublicKey::from_sec1_bytes(&bytes(UA_PUBLIC)).unwrap();
        let auth: [u8; 16] = bytes(AUTH).try_into().unwrap();
        let salt: [u8; 16] = bytes(SALT).try_into().unwrap();

        let message = encrypt_with(PLAINTEXT, &user_agent, &auth, &sender, &salt).unwrap();

        assert_eq!(URL_SAFE_NO_PAD.encode(&message), MESSAGE);
    }

    #[test]
    fn the_browser_reads_the_rfc_example() {
        let user_agent = SecretKey::from_slice(&bytes(UA_PRIVATE)).unwrap();
        let auth: [u8; 16] = bytes(AUTH).try_into().unwrap();
        assert_eq!(decrypt(&bytes(MESSAGE), &user_agent, &auth), PLAINTEXT);
    }

    #[test]
    fn a_browser_reads_what_is_sent_to_it_and_each_message_is_new() {
        let user_agent = random_secret().unwrap();
        let auth = [7u8; 16];
        let subscription = subscription_for(&user_agent, &auth);
        let payload = br#"{"title":"BTCUSDT crossed 65000","body":"","url":"/","tag":"f1"}"#;

        let first = encrypt(&subscription, payload).unwrap();
        let second = encrypt(&subscription, payload).unwrap();

        assert_eq!(decrypt(&first, &user_agent, &auth), payload);
        assert_eq!(decrypt(&second, &user_agent, &auth), payload);
        assert_ne!(first[..16], second[..16], "a fresh salt each time");
        assert_ne!(first[21..86], second[21..86], "a fresh sender key each time");
    }

    #[test]
    fn a_payload_fills_one_message_and_no_more() {
        let user_agent = random_secret().unwrap();
        let subscription = subscription_for(&user_agent, &[1; 16]);
        let full = encrypt(&subscription, &vec![b'x'; MAX_PAYLOAD]).unwrap();
        assert_eq!(full.len(), MAX_BODY);
        assert!(encrypt(&subscription, &vec![b'x'; MAX_PAYLOAD + 1]).is_err());
    }

    #[test]
    fn subscriptions_with_unusable_keys_or_endpoints_are_refused() {
        let user_agent = random_secret().unwrap();
        let good = subscription_for(&user_agent, &[1; 16]);
        check_subscription(&good).unwrap();

        let mut short_auth = good.clone();
        short_auth.keys.auth = URL_SAFE_NO_PAD.encode([1u8; 8]);
        let mut not_a_point = good.clone();
        not_a_point.keys.p256dh = URL_SAFE_NO_PAD.encode([4u8; 65]);
        let mut not_base64 = good.clone();
        not_base64.keys.p256dh = "not base64!".to_string();
        let mut file_endpoint = good.clone();
        file_endpoint.endpoint = "file:///etc/passwd".to_string();
        for bad in [short_auth, not_a_point, not_base64, file_endpoint] {
            assert!(check_subscription(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn keys_round_trip_and_debug_hides_the_private_half() {
        let keys = VapidKeys::generate().unwrap();
        let again = VapidKeys::from_private_bytes(&keys.private_bytes()).unwrap();
        assert_eq!(again.public_key(), keys.public_key());
        assert_eq!(bytes(&keys.public_key()).len(), 65);

        let shown = format!("{keys:?}");
        assert!(shown.contains(&keys.public_key()));
        let private = keys.private_bytes();
        assert!(!shown.contains(&URL_SAFE_NO_PAD.encode(private)));
        assert!(!shown.contains(&format!("{private:?}")));

        assert!(VapidKeys::from_private_bytes(&[0; 32]).is_err());
        assert!(VapidKeys::from_private_bytes(&[1; 31]).is_err());
    }

    #[test]
    fn the_vapid_token_is_an_es256_jwt_for_the_endpoints_origin() {
        let keys = VapidKeys::from_private_bytes(&bytes(AS_PRIVATE)).unwrap();
        let endpoint = reqwest::Url::parse("https://fcm.googleapis.com:443/fcm/send/xyz?a=1").unwrap();
        let header = keys.authorization(&endpoint, "mailto:ops@inchart.example", 1_000);

        let rest = header.strip_prefix("vapid t=").unwrap();
        let (token, key) = rest.split_once(", k=").unwrap();
        assert_eq!(key, AS_PUBLIC);
        let mut parts = token.split('.');
        let (head, claims, signature) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let head: serde_json::Value = serde_json::from_slice(&bytes(head)).unwrap();
        assert_eq!(head["alg"], "ES256");
        let claims: serde_json::Value = serde_json::from_slice(&bytes(claims)).unwrap();
        assert_eq!(
            claims,
            serde_json::json!({
                "aud": "https://fcm.googleapis.com",
                "exp": 1_000 + 12 * 3600,
                "sub": "mailto:ops@inchart.example",
            })
        );

        // Checked with jsonwebtoken, not with the code that signed it.
        let point = bytes(AS_PUBLIC);
        let decoding = jsonwebtoken::DecodingKey::from_ec_components(
            &URL_SAFE_NO_PAD.encode(&point[1..33]),
            &URL_SAFE_NO_PAD.encode(&point[33..65]),
        )
        .unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.validate_exp = false;
        validation.set_audience(&["https://fcm.googleapis.com"]);
        jsonwebtoken::decode::<serde_json::Value>(token, &decoding, &validation).unwrap();
        assert_eq!(bytes(signature).len(), 64);
    }

    #[test]
    fn outcomes_read_as_a_person_would_say_them() {
        assert_eq!(
            PushOutcome::Delivered { status: 201 }.outcome(),
            "HTTP 201 Created"
        );
        assert_eq!(PushOutcome::Gone { status: 410 }.outcome(), "HTTP 410 Gone");
        assert_eq!(http_line(599), "HTTP 599");
    }
}
