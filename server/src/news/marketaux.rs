//! Marketaux's news API (`GET /v1/news/all`), as its documentation and
//! its answers describe it: the API token in the query, articles newest
//! first with per-entity sentiment, errors as `{"error": {"code",
//! "message"}}`.

use std::time::Duration;

use anyhow::Context;
use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// How long one request may take before it counts as a failure.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A Marketaux client.
#[derive(Clone)]
pub struct Marketaux {
    http: reqwest::Client,
    /// E.g. `https://api.marketaux.com` (no trailing slash).
    base: String,
    token: SecretString,
}

/// One `/v1/news/all` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Entity symbols, e.g. `CC:BTC`; empty asks for every entity.
    pub symbols: Vec<String>,
    /// Keep only the entities named in `symbols` in each article.
    pub filter_entities: bool,
    /// E.g. `en`.
    pub language: String,
    /// `Y-m-dTH:i:s` in UTC, when only newer articles are wanted.
    pub published_after: Option<String>,
    pub limit: u32,
    /// 1-based.
    pub page: u32,
}

/// The body of a successful answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct NewsAnswer {
    pub meta: Meta,
    pub data: Vec<Article>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Meta {
    pub found: u64,
    pub returned: u64,
    pub limit: u32,
    pub page: u32,
}

/// An article. Marketaux sends more (keywords, similar articles, …); these
/// are the fields InChart shows.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Article {
    pub uuid: String,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub snippet: Option<String>,
    pub url: String,
    #[serde(default)]
    pub image_url: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    /// E.g. `2026-11-24T16:05:00.000000Z`.
    pub published_at: String,
    pub source: String,
    #[serde(default)]
    pub entities: Vec<Entity>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Entity {
    pub symbol: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub match_score: Option<f64>,
    #[serde(default)]
    pub sentiment_score: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

/// Why a request brought no articles.
#[derive(Debug, thiserror::Error)]
pub enum MarketauxError {
    /// 429 `rate_limit_reached`: too many requests within a minute.
    #[error("Marketaux is rate limiting us ({message})")]
    RateLimited {
        retry_after: Option<Duration>,
        message: String,
    },
    /// 402 `usage_limit_reached`: the plan's daily allowance is spent.
    #[error("Marketaux's daily allowance is spent ({message})")]
    UsageLimit { message: String },
    /// 401 `invalid_api_token` or 403 `endpoint_access_restricted`: the
    /// token is wrong or the plan does not include this.
    #[error("Marketaux refused our API token ({code}: {message})")]
    Refused { code: String, message: String },
    /// Any other error Marketaux answered with (`malformed_parameters`,
    /// `server_error`, `maintenance_mode`, …).
    #[error("Marketaux answered {status} ({code}: {message})")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    /// No answer, or an answer that is not Marketaux's JSON.
    #[error("Marketaux could not be read: {0}")]
    Transport(String),
}

impl Marketaux {
    pub fn new(base: &str, token: SecretString) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("InChart/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("while building the Marketaux client")?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            token,
        })
    }

    /// `GET /v1/news/all`.
    pub async fn news(&self, query: &Query) -> Result<NewsAnswer, MarketauxError> {
        let mut params: Vec<(&str, String)> = vec![
            ("api_token", self.token.expose_secret().to_string()),
            ("language", query.language.clone()),
            ("filter_entities", query.filter_entities.to_string()),
            ("limit", query.limit.to_string()),
            ("page", query.page.to_string()),
        ];
        if !query.symbols.is_empty() {
            params.push(("symbols", query.symbols.join(",")));
        }
        if let Some(after) = &query.published_after {
            params.push(("published_after", after.clone()));
        }
        let response = self
            .http
            .get(format!("{}/v1/news/all", self.base))
            .query(&params)
            .send()
            .await
            // Without the URL: it carries the token.
            .map_err(|error| MarketauxError::Transport(error.without_url().to_string()))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response
            .bytes()
            .await
            .map_err(|error| MarketauxError::Transport(error.without_url().to_string()))?;
        if status.is_success() {
            return serde_json::from_slice(&body)
                .map_err(|error| MarketauxError::Transport(format!("an unexpected answer: {error}")));
        }
        let (code, message) = match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(ErrorBody { error }) => (error.code, error.message),
            Err(_) => (
                "unknown".to_string(),
                String::from_utf8_lossy(&body).chars().take(200).collect(),
            ),
        };
        Err(match status {
            StatusCode::TOO_MANY_REQUESTS => MarketauxError::RateLimited { retry_after, message },
            StatusCode::PAYMENT_REQUIRED => MarketauxError::UsageLimit { message },
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => MarketauxError::Refused { code, message },
            status => MarketauxError::Api {
                status: status.as_u16(),
                code,
                message,
            },
        })
    }
}

/// Seconds since the epoch of Marketaux's `2026-11-24T16:05:00.000000Z`.
pub fn parse_published_at(text: &str) -> Option<i64> {
    let parsed = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    Some(parsed.unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publication_times_are_read_with_their_fraction() {
        assert_eq!(parse_published_at("1970-01-01T00:01:00.000000Z"), Some(60));
        assert_eq!(
            parse_published_at("2026-11-24T16:05:00.000000Z"),
            Some(1_795_996_800 - 6 * 86_400 + 16 * 3600 + 5 * 60)
        );
        assert_eq!(parse_published_at("yesterday"), None);
    }
}
