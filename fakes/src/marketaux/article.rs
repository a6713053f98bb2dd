//! A news article exactly as Marketaux's `/v1/news/all` writes it in `data`:
//! the types serialize to (and read back from) Marketaux's JSON field for
//! field, so a test can build the articles the fake serves and compare
//! what a client received with what it put in.

use serde::{Deserialize, Serialize};

use super::dates;

/// Marketaux's entity names for the crypto bases InChart trades (`CC:<BASE>`).
const CRYPTO_NAMES: &[(&str, &str)] = &[
    ("BTC", "Bitcoin"),
    ("ETH", "Ethereum"),
    ("BNB", "BNB"),
    ("SOL", "Solana"),
    ("XRP", "XRP"),
    ("DOGE", "Dogecoin"),
    ("ADA", "Cardano"),
    ("TRX", "TRON"),
    ("AVAX", "Avalanche"),
    ("LINK", "Chainlink"),
    ("DOT", "Polkadot"),
    ("LTC", "Litecoin"),
    ("TON", "Toncoin"),
];

/// The name Marketaux gives a crypto base (`BTC` → `Bitcoin`); the base
/// itself for one it does not know.
pub fn crypto_name(base: &str) -> String {
    CRYPTO_NAMES
        .iter()
        .find(|(known, _)| *known == base)
        .map_or_else(|| base.to_owned(), |(_, name)| (*name).to_owned())
}

/// One article of `data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Article {
    /// Marketaux's id, a UUID (`8c3c…-…`).
    pub uuid: String,
    pub title: String,
    pub description: String,
    /// Comma-separated, as the publisher tagged it (may be empty).
    pub keywords: String,
    /// The start of the article's text.
    pub snippet: String,
    pub url: String,
    pub image_url: String,
    /// ISO 639-1, e.g. `en`.
    pub language: String,
    /// Unix seconds (UTC); on the wire `2026-11-24T16:05:00.000000Z`.
    #[serde(with = "published_at")]
    pub published_at: i64,
    /// The publisher's domain, e.g. `coindesk.com`.
    pub source: String,
    /// Only set for a `search` query; the fake never has one, so `null`.
    pub relevance_score: Option<f64>,
    pub entities: Vec<Entity>,
    /// Near-duplicates grouped under this article (`group_similar`); the
    /// fake's own corpus leaves it empty.
    #[serde(default)]
    pub similar: Vec<Article>,
}

/// An entity Marketaux recognised in an article, with its sentiment there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// E.g. `CC:BTC` for a cryptocurrency, `TSLA` for a stock.
    pub symbol: String,
    pub name: String,
    /// `null` for a cryptocurrency.
    pub exchange: Option<String>,
    pub exchange_long: Option<String>,
    /// `global` for a cryptocurrency.
    pub country: String,
    /// `cryptocurrency`, `equity`, `index`, ...
    #[serde(rename = "type")]
    pub type_: String,
    /// `N/A` for a cryptocurrency.
    pub industry: String,
    /// How strongly the article is about the entity (unbounded, higher is stronger).
    pub match_score: f64,
    /// The mean of its highlights' sentiments, in [-1, 1].
    pub sentiment_score: f64,
    pub highlights: Vec<Highlight>,
}

impl Entity {
    /// A cryptocurrency entity (`CC:<base>`) with Marketaux's constant fields
    /// and one main-text highlight of `sentiment`, which is also its score.
    pub fn crypto(base: &str, sentiment: f64) -> Entity {
        let name = crypto_name(base);
        Entity {
            symbol: format!("CC:{base}"),
            highlights: vec![Highlight {
                highlight: format!("<em>{name}</em> was in focus for traders on the day."),
                sentiment,
                highlighted_in: "main_text".to_owned(),
            }],
            name,
            exchange: None,
            exchange_long: None,
            country: "global".to_owned(),
            type_: "cryptocurrency".to_owned(),
            industry: "N/A".to_owned(),
            match_score: 20.0,
            sentiment_score: sentiment,
        }
    }
}

/// A passage naming the entity, its name wrapped in `<em>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Highlight {
    pub highlight: String,
    /// In [-1, 1]; 0 is neutral.
    pub sentiment: f64,
    /// `main_text` or `title`.
    pub highlighted_in: String,
}

/// `published_at` on the wire.
mod published_at {
    use serde::de::Error as _;
    use serde::ser::Error as _;
    use serde::{Deserialize as _, Deserializer, Serializer};

    use super::dates;

    pub(super) fn serialize<S: Serializer>(at: &i64, serializer: S) -> Result<S::Ok, S::Error> {
        let written = dates::format_published_at(*at)
            .ok_or_else(|| S::Error::custom(format!("published_at {at} is outside years 0..=9999")))?;
        serializer.serialize_str(&written)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
        let raw = String::deserialize(deserializer)?;
        dates::parse_published_at(&raw).ok_or_else(|| {
            D::Error::custom(format!(
                "published_at {raw:?} is not like 2026-11-24T16:05:00.000000Z"
            ))
        })
    }
}
