//! Webhooks: where a trader's alert is POSTed, signed per the Standard
//! Webhooks specification (`webhook-id` is the firing's id, the same on
//! every attempt; `webhook-timestamp`; `webhook-signature: v1,<base64
//! HMAC-SHA256 of "id.timestamp.body">` with the alert's `whsec_` secret).
//!
//! Policy: a webhook goes to a public address only. The URL is checked
//! when it is saved and again on every attempt, after DNS resolution (a
//! name that resolves to 127.0.0.1 is refused like 127.0.0.1 itself),
//! by the client's own resolver, so the address checked is the address
//! connected to. Loopback is allowed only with
//! `INCHART_ALERTS_ALLOW_LOOPBACK` (tests, self-hosting); private and
//! link-local never. Redirects are not followed, an answer takes at most
//! the timeout (5 s), and only the status is read.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use inchart_api::alerts::MAX_WEBHOOK_URL;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER, USER_AGENT};
use sha2::Sha256;

use super::Answer;

/// Whether a webhook may reach `ip`.
pub fn allowed(ip: IpAddr, allow_loopback: bool) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    if ip.is_loopback() {
        return allow_loopback;
    }
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                // Carrier-grade NAT, and benchmarking networks.
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_unspecified()
                || v6.is_multicast()
                // Unique local (fc00::/7) and link-local (fe80::/10).
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// Why a webhook URL is refused, as the trader reads it, or the URL.
pub async fn check_url(raw: &str, allow_loopback: bool) -> Result<reqwest::Url, String> {
    if raw.len() > MAX_WEBHOOK_URL {
        return Err(format!("A webhook URL has at most {MAX_WEBHOOK_URL} characters."));
    }
    let url = reqwest::Url::parse(raw.trim()).map_err(|error| format!("This is not a URL ({error})."))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "A webhook URL starts with https:// (not {}:).",
            url.scheme()
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "A webhook URL carries no user name or password; put a token in its path or query.".into(),
        );
    }
    let host = url.host_str().ok_or("A webhook URL names a host.")?.to_string();
    let port = url.port_or_known_default().unwrap_or(443);
    let addresses: Vec<SocketAddr> = match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        _ => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|_| format!("{host} does not resolve to an address."))?
            .collect(),
    };
    if addresses.is_empty() {
        return Err(format!("{host} does not resolve to an address."));
    }
    if let Some(refused) = addresses
        .iter()
        .find(|address| !allowed(address.ip(), allow_loopback))
    {
        return Err(format!(
            "{host} is a private, loopback or link-local address ({}); webhooks go to public addresses only.",
            refused.ip()
        ));
    }
    Ok(url)
}

/// The resolver the webhook client connects through: the system's, with
/// every address a webhook may not reach left out.
struct PublicOnly {
    allow_loopback: bool,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_loopback = self.allow_loopback;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found
                .into_iter()
                .filter(|address| allowed(address.ip(), allow_loopback))
                .collect();
            if public.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            let addrs: Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// A new signing secret: `whsec_` and 24 random bytes in base64.
pub fn new_secret() -> String {
    format!(
        "whsec_{}",
        STANDARD.encode(crate::auth::tokens::random_bytes::<24>())
    )
}

/// The `webhook-signature` value for a message.
pub fn signature(secret: &str, id: &str, timestamp: i64, body: &str) -> anyhow::Result<String> {
    let key = STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .context("while reading a webhook secret")?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).context("while keying a signature")?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Ok(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
}

/// The client that calls webhooks.
#[derive(Clone)]
pub struct WebhookClient {
    http: reqwest::Client,
    allow_loopback: bool,
    timeout: Duration,
}

impl WebhookClient {
    pub fn new(timeout: Duration, allow_loopback: bool) -> anyhow::Result<Self> {
        let mut headers = HeaderMap::new();
        headers.insert(USER_AGENT, HeaderValue::from_static("InChart-Webhooks/1"));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_max_idle_per_host(64)
            .dns_resolver(Arc::new(PublicOnly { allow_loopback }))
            .build()
            .context("while building the webhook client")?;
        Ok(Self {
            http,
            allow_loopback,
            timeout,
        })
    }

    pub fn allows_loopback(&self) -> bool {
        self.allow_loopback
    }

    /// POSTs `body`, signed with `secret`, under the firing's `id`.
    pub async fn send(&self, url: &str, secret: &str, id: &str, body: String, now_secs: i64) -> Answer {
        let url = match reqwest::Url::parse(url) {
            Ok(url) => url,
            Err(error) => return Answer::refused(None, format!("not a URL: {error}")),
        };
        // An address written in the URL never meets the resolver.
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if literal.is_some_and(|ip| !allowed(ip, self.allow_loopback)) {
            return Answer::refused(None, "a private, loopback or link-local address".into());
        }
        let signature = match signature(secret, id, now_secs, &body) {
            Ok(signature) => signature,
            Err(error) => return Answer::refused(None, format!("{error:#}")),
        };
        let sent = self
            .http
            .post(url)
            .header("webhook-id", id)
            .header("webhook-timestamp", now_secs.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(response) => {
                let status = response.status();
                let code = status.as_u16();
                let outcome = format!("HTTP {code} {}", status.canonical_reason().unwrap_or(""))
                    .trim_end()
                    .to_string();
                let retry_after = response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|value| value.to_str().ok())
                    .and_then(parse_retry_after);
                if status.is_success() {
                    Answer::Delivered {
                        status: Some(code),
                        outcome,
                    }
                } else if code == 429 || code == 408 || status.is_server_error() {
                    Answer::Retry {
                        status: Some(code),
                        outcome,
                        after: retry_after,
                    }
                } else if status.is_redirection() {
                    Answer::refused(Some(code), format!("{outcome} (redirects are not followed)"))
                } else {
                    Answer::refused(Some(code), outcome)
                }
            }
            Err(error) if error.is_timeout() => Answer::Retry {
                status: None,
                outcome: format!("no answer within {} s", self.timeout.as_secs_f64()),
                after: None,
            },
            Err(error) => {
                let cause = describe_send_error(&error);
                if cause.contains("no public address") {
                    Answer::refused(None, cause)
                } else {
                    Answer::Retry {
                        status: None,
                        outcome: cause,
                        after: None,
                    }
                }
            }
        }
    }
}

/// The innermost cause of a failed request, as one line.
fn describe_send_error(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    let text = cause.to_string();
    if error.is_connect() && !text.contains("public address") {
        format!("could not connect: {text}")
    } else {
        text
    }
}

/// `Retry-After` as seconds, or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at =
        time::OffsetDateTime::parse(value.trim(), &time::format_description::well_known::Rfc2822).ok()?;
    let wait = at - time::OffsetDateTime::now_utc();
    Some(Duration::from_secs(wait.whole_seconds().max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_allowed() {
        for refused in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!allowed(refused.parse().unwrap(), false), "{refused}");
        }
        for public in ["1.1.1.1", "93.184.216.34", "2606:4700::1111"] {
            assert!(allowed(public.parse().unwrap(), false), "{public}");
        }
        assert!(allowed("127.0.0.1".parse().unwrap(), true));
        assert!(allowed("::1".parse().unwrap(), true));
        assert!(!allowed("10.0.0.1".parse().unwrap(), true), "loopback only");
    }

    #[test]
    fn signatures_follow_the_specification() {
        // The example in the Standard Webhooks specification's test suite.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn retry_after_reads_seconds() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[tokio::test]
    async fn urls_are_checked_after_resolution() {
        assert!(
            check_url("ftp://example.com/x", false)
                .await
                .unwrap_err()
                .contains("https://")
        );
        assert!(
            check_url("http://127.0.0.1:9/x", false)
                .await
                .unwrap_err()
                .contains("private")
        );
        assert!(
            check_url("http://localhost:9/x", false)
                .await
                .unwrap_err()
                .contains("private")
        );
        assert!(check_url("http://localhost:9/x", true).await.is_ok());
        assert!(check_url("http://user:pw@1.1.1.1/x", false).await.is_err());
        assert!(check_url("http://[fd00::1]/x", true).await.is_err());
    }
}
