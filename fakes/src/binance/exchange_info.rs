//! `GET /api/v3/exchangeInfo`: the configured symbols plus a catalogue of
//! other realistic pairs, in Binance's shape.

use inchart_api::market::Symbol;
use serde_json::{Value, json};

use super::market::reference_price;

/// Symbols listed besides the configured ones: USDT, FDUSD, USDC and BTC
/// quotes, and two on `BREAK` (delisted or halted), as the real list has.
const OTHERS: &[(&str, &str, &str, &str)] = &[
    ("BNBUSDT", "BNB", "USDT", "TRADING"),
    ("SOLUSDT", "SOL", "USDT", "TRADING"),
    ("XRPUSDT", "XRP", "USDT", "TRADING"),
    ("DOGEUSDT", "DOGE", "USDT", "TRADING"),
    ("ADAUSDT", "ADA", "USDT", "TRADING"),
    ("AVAXUSDT", "AVAX", "USDT", "TRADING"),
    ("LINKUSDT", "LINK", "USDT", "TRADING"),
    ("DOTUSDT", "DOT", "USDT", "TRADING"),
    ("LTCUSDT", "LTC", "USDT", "TRADING"),
    ("TRXUSDT", "TRX", "USDT", "TRADING"),
    ("MATICUSDT", "MATIC", "USDT", "BREAK"),
    ("ATOMUSDT", "ATOM", "USDT", "TRADING"),
    ("NEARUSDT", "NEAR", "USDT", "TRADING"),
    ("UNIUSDT", "UNI", "USDT", "TRADING"),
    ("AAVEUSDT", "AAVE", "USDT", "TRADING"),
    ("FILUSDT", "FIL", "USDT", "TRADING"),
    ("APTUSDT", "APT", "USDT", "TRADING"),
    ("ARBUSDT", "ARB", "USDT", "TRADING"),
    ("OPUSDT", "OP", "USDT", "TRADING"),
    ("BTCFDUSD", "BTC", "FDUSD", "TRADING"),
    ("ETHFDUSD", "ETH", "FDUSD", "TRADING"),
    ("SOLFDUSD", "SOL", "FDUSD", "TRADING"),
    ("BTCUSDC", "BTC", "USDC", "TRADING"),
    ("ETHUSDC", "ETH", "USDC", "TRADING"),
    ("ETHBTC", "ETH", "BTC", "TRADING"),
    ("BNBBTC", "BNB", "BTC", "TRADING"),
    ("SOLBTC", "SOL", "BTC", "TRADING"),
    ("XRPBTC", "XRP", "BTC", "TRADING"),
    ("LTCBTC", "LTC", "BTC", "TRADING"),
    ("LINKBTC", "LINK", "BTC", "TRADING"),
    ("BCCBTC", "BCC", "BTC", "BREAK"),
    ("BTCUSDT", "BTC", "USDT", "TRADING"),
    ("ETHUSDT", "ETH", "USDT", "TRADING"),
];

/// Quote assets recognised when splitting a configured symbol.
const QUOTES: &[&str] = &["USDT", "FDUSD", "USDC", "TUSD", "BTC", "ETH", "BNB", "EUR", "TRY"];

/// One listed symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Listing {
    pub symbol: String,
    base: String,
    quote: String,
    status: &'static str,
}

/// Splits `BTCUSDT` into `BTC` and `USDT` by its quote suffix.
fn split(symbol: &Symbol) -> (String, String) {
    let name = symbol.as_str();
    QUOTES
        .iter()
        .find_map(|quote| {
            name.strip_suffix(quote)
                .filter(|base| !base.is_empty())
                .map(|base| (base.to_owned(), (*quote).to_owned()))
        })
        .unwrap_or_else(|| {
            let (base, quote) = name.split_at(name.len().saturating_sub(3).max(1));
            (base.to_owned(), quote.to_owned())
        })
}

/// The configured symbols (always `TRADING`) followed by the catalogue.
pub(super) fn catalog(configured: &[Symbol]) -> Vec<Listing> {
    let mut listings: Vec<Listing> = configured
        .iter()
        .map(|symbol| {
            let (base, quote) = split(symbol);
            Listing {
                symbol: symbol.as_str().to_owned(),
                base,
                quote,
                status: "TRADING",
            }
        })
        .collect();
    for (symbol, base, quote, status) in OTHERS {
        if !listings.iter().any(|l| l.symbol == *symbol) {
            listings.push(Listing {
                symbol: (*symbol).to_owned(),
                base: (*base).to_owned(),
                quote: (*quote).to_owned(),
                status,
            });
        }
    }
    listings
}

fn symbol_entry(listing: &Listing) -> Value {
    let price = Symbol::parse(&listing.symbol)
        .map(|s| reference_price(&s))
        .unwrap_or(1.0);
    let tick = match price {
        p if p >= 100.0 => "0.01000000",
        p if p >= 1.0 => "0.00010000",
        p if p >= 0.01 => "0.00000100",
        _ => "0.00000001",
    };
    let step = match price {
        p if p >= 1_000.0 => "0.00001000",
        p if p >= 10.0 => "0.00100000",
        p if p >= 1.0 => "0.01000000",
        _ => "1.00000000",
    };
    let margin = listing.status == "TRADING" && matches!(listing.quote.as_str(), "USDT" | "BTC");
    let permission_set = if margin {
        json!([["SPOT", "MARGIN"]])
    } else {
        json!([["SPOT"]])
    };
    json!({
        "symbol": listing.symbol,
        "status": listing.status,
        "baseAsset": listing.base,
        "baseAssetPrecision": 8,
        "quoteAsset": listing.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": [
            "LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT",
            "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"
        ],
        "icebergAllowed": true,
        "ocoAllowed": true,
        "otoAllowed": true,
        "quoteOrderQtyMarketAllowed": true,
        "allowTrailingStop": true,
        "cancelReplaceAllowed": true,
        "amendAllowed": true,
        "pegInstructionsAllowed": true,
        "isSpotTradingAllowed": true,
        "isMarginTradingAllowed": margin,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": tick, "maxPrice": "1000000.00000000", "tickSize": tick},
            {"filterType": "LOT_SIZE", "minQty": step, "maxQty": "9000.00000000", "stepSize": step},
            {"filterType": "ICEBERG_PARTS", "limit": 50},
            {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": "100.00000000", "stepSize": "0.00000000"},
            {"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 2000,
             "minTrailingBelowDelta": 10, "maxTrailingBelowDelta": 2000},
            {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": "5", "bidMultiplierDown": "0.2",
             "askMultiplierUp": "5", "askMultiplierDown": "0.2", "avgPriceMins": 5},
            {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": true,
             "maxNotional": "9000000.00000000", "applyMaxToMarket": false, "avgPriceMins": 5},
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5}
        ],
        "permissions": [],
        "permissionSets": permission_set,
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT"]
    })
}

/// The whole response body.
pub(super) fn body(
    server_time: i64,
    weight_limit: u32,
    weight_window_ms: i64,
    listings: &[Listing],
) -> Value {
    let (interval, interval_num, _) = super::rest::window_names(weight_window_ms);
    json!({
        "timezone": "UTC",
        "serverTime": server_time,
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": interval, "intervalNum": interval_num, "limit": weight_limit},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
            {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000}
        ],
        "exchangeFilters": [],
        "symbols": listings.iter().map(symbol_entry).collect::<Vec<_>>()
    })
}
