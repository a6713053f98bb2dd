//! `GET /api/v1/symbols?q=&limit=`: search the exchange's symbols.
//!
//! The list comes from Binance's `exchangeInfo` (symbols trading now), kept
//! in the cache for [`LIST_TTL`] so that searching costs Binance nothing.
//! When Binance cannot be reached, the carried symbols stand in, kept only
//! briefly so that the full list appears once Binance answers.

use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use inchart_api::market::{Symbol, SymbolInfo, SymbolList};
use serde::Deserialize;

use super::Market;
use crate::web::error::ApiError;

const LIST_TTL: Duration = Duration::from_secs(3600);
const FALLBACK_TTL: Duration = Duration::from_secs(30);
const CACHE_KEY: &str = "symbols:v1";
pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;
/// Quote assets whose pairs are listed; others are a long tail of markets
/// InChart does not chart.
const QUOTES: [&str; 4] = ["USDT", "USDC", "FDUSD", "BTC"];

#[derive(Debug, Deserialize)]
pub struct SymbolQuery {
    q: Option<String>,
    limit: Option<String>,
}

pub async fn search(
    State(market): State<Market>,
    Query(query): Query<SymbolQuery>,
) -> Result<Json<SymbolList>, ApiError> {
    let limit = match query.limit.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => DEFAULT_LIMIT,
        Some(text) => match text.parse::<usize>() {
            Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => limit,
            _ => {
                return Err(ApiError::invalid(
                    "limit",
                    format!("limit must be a whole number from 1 to {MAX_LIMIT}"),
                ));
            }
        },
    };
    let needle = query.q.unwrap_or_default().trim().to_ascii_uppercase();
    if needle.len() > 20 {
        return Err(ApiError::invalid("q", "q is at most 20 characters"));
    }
    let all = listed(&market).await;
    Ok(Json(SymbolList {
        symbols: matching(all, &needle, limit),
    }))
}

/// Every listed symbol, from the cache or from Binance.
async fn listed(state: &Market) -> Vec<SymbolInfo> {
    if let Ok(Some(bytes)) = state.cache.get(CACHE_KEY).await
        && let Ok(list) = serde_json::from_slice::<Vec<SymbolInfo>>(&bytes)
    {
        return list;
    }
    let carried = &state.symbols;
    let (list, ttl) = match state.binance.exchange_info().await {
        Ok(info) => {
            let list: Vec<SymbolInfo> = info
                .symbols
                .into_iter()
                .filter(|symbol| symbol.status == "TRADING" && QUOTES.contains(&symbol.quote_asset.as_str()))
                .filter_map(|symbol| {
                    let parsed = Symbol::parse(&symbol.symbol).ok()?;
                    Some(SymbolInfo {
                        carried: carried.contains(&parsed),
                        symbol: parsed,
                        base: symbol.base_asset,
                        quote: symbol.quote_asset,
                    })
                })
                .collect();
            (list, LIST_TTL)
        }
        Err(error) => {
            tracing::info!(
                error = format!("{error:#}"),
                "exchangeInfo unavailable; listing the carried symbols"
            );
            (carried.iter().map(carried_info).collect(), FALLBACK_TTL)
        }
    };
    if let Ok(bytes) = serde_json::to_vec(&list)
        && let Err(error) = state.cache.set(CACHE_KEY, &bytes, ttl).await
    {
        tracing::warn!(error = format!("{error:#}"), "cache write failed");
    }
    list
}

/// A carried symbol when the exchange's list is missing: the quote is the
/// known quote asset it ends with.
fn carried_info(symbol: &Symbol) -> SymbolInfo {
    let text = symbol.as_str();
    let quote = QUOTES
        .iter()
        .find(|quote| text.len() > quote.len() && text.ends_with(*quote))
        .copied()
        .unwrap_or("");
    SymbolInfo {
        symbol: symbol.clone(),
        base: text[..text.len() - quote.len()].to_string(),
        quote: quote.to_string(),
        carried: true,
    }
}

/// The symbols matching `needle` (upper case), best first: carried ones,
/// then those whose base asset is the needle, then whose symbol starts with
/// it, then the rest; alphabetical within each.
fn matching(all: Vec<SymbolInfo>, needle: &str, limit: usize) -> Vec<SymbolInfo> {
    let mut hits: Vec<(u8, SymbolInfo)> = all
        .into_iter()
        .filter(|info| {
            needle.is_empty() || info.symbol.as_str().contains(needle) || info.base.contains(needle)
        })
        .map(|info| {
            let rank = if info.carried {
                0
            } else if info.base == needle {
                1
            } else if info.symbol.as_str().starts_with(needle) {
                2
            } else {
                3
            };
            (rank, info)
        })
        .collect();
    hits.sort_by(|(a_rank, a), (b_rank, b)| a_rank.cmp(b_rank).then_with(|| a.symbol.cmp(&b.symbol)));
    hits.into_iter().take(limit).map(|(_, info)| info).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(symbol: &str, base: &str, carried: bool) -> SymbolInfo {
        SymbolInfo {
            symbol: Symbol::parse(symbol).unwrap(),
            base: base.into(),
            quote: symbol[base.len()..].into(),
            carried,
        }
    }

    #[test]
    fn carried_then_exact_base_then_prefix() {
        let all = vec![
            info("WETHUSDT", "WETH", false),
            info("ETHBTC", "ETH", false),
            info("ETHFIUSDT", "ETHFI", false),
            info("ETHUSDT", "ETH", true),
            info("BTCUSDT", "BTC", true),
        ];
        let names: Vec<String> = matching(all, "ETH", 10)
            .into_iter()
            .map(|info| info.symbol.to_string())
            .collect();
        assert_eq!(names, ["ETHUSDT", "ETHBTC", "ETHFIUSDT", "WETHUSDT"]);
    }

    #[test]
    fn a_carried_symbol_knows_its_quote() {
        let fallback = carried_info(&Symbol::parse("DOGEUSDT").unwrap());
        assert_eq!(
            (fallback.base.as_str(), fallback.quote.as_str()),
            ("DOGE", "USDT")
        );
    }
}
