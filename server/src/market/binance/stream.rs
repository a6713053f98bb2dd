//! One connection to Binance's combined kline stream.
//!
//! The reader answers the server's pings (a pong with the ping's payload,
//! as Binance requires within a minute), hands every text frame to the
//! ingester with the instant it arrived, and ends when the connection does.

use std::time::Duration;

use anyhow::Context;
use futures::{SinkExt, StreamExt};
use inchart_api::market::{Interval, Symbol};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::platform::clock::now_micros;

/// A frame from the stream, stamped when it arrived.
#[derive(Debug)]
pub enum StreamItem {
    Frame {
        text: String,
        received_us: i64,
    },
    /// The connection ended (closed by either side, or failed).
    Ended(String),
}

/// The combined stream's URL for every series of `symbols`.
pub fn stream_url(base: &str, symbols: &[Symbol]) -> String {
    let streams: Vec<String> = symbols
        .iter()
        .flat_map(|symbol| {
            Interval::ALL
                .into_iter()
                .map(move |interval| format!("{}@kline_{interval}", symbol.as_str().to_ascii_lowercase()))
        })
        .collect();
    format!(
        "{}/stream?streams={}",
        base.trim_end_matches('/'),
        streams.join("/")
    )
}

/// Connects and starts reading; frames arrive on the returned channel until
/// `Ended`. Dropping the receiver closes the connection.
pub async fn connect(url: &str) -> anyhow::Result<mpsc::Receiver<StreamItem>> {
    let (socket, _) = tokio::time::timeout(Duration::from_secs(10), tokio_tungstenite::connect_async(url))
        .await
        .context("Binance's stream did not answer within 10 s")?
        .context("while connecting to Binance's stream")?;
    let (sender, receiver) = mpsc::channel(4096);
    tokio::spawn(read(socket, sender));
    Ok(receiver)
}

async fn read(
    mut socket: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    sender: mpsc::Sender<StreamItem>,
) {
    let ended = loop {
        let message = tokio::select! {
            message = socket.next() => message,
            () = sender.closed() => break "closed by us".to_string(),
        };
        match message {
            Some(Ok(Message::Text(text))) => {
                let item = StreamItem::Frame {
                    text: text.to_string(),
                    received_us: now_micros(),
                };
                if sender.send(item).await.is_err() {
                    break "closed by us".to_string();
                }
            }
            // tungstenite queues the pong (with the ping's payload) as it
            // reads the ping; flushing sends it now rather than with the
            // next write, which on a read-only stream never comes.
            Some(Ok(Message::Ping(_))) => {
                if let Err(error) = socket.flush().await {
                    break format!("could not answer a ping: {error}");
                }
            }
            Some(Ok(Message::Close(frame))) => break format!("closed by Binance: {frame:?}"),
            Some(Ok(_)) => {}
            Some(Err(error)) => break format!("the connection failed: {error}"),
            None => break "the connection ended".to_string(),
        }
    };
    let _ = socket.close(None).await;
    let _ = sender.send(StreamItem::Ended(ended)).await;
}
