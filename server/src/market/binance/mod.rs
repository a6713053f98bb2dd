//! Binance's public market data: the kline stream ([`stream`]), REST
//! history and exchange info ([`rest`]), and the checks every message
//! passes before it is believed ([`wire`]).

pub mod rest;
pub mod stream;
pub mod wire;
