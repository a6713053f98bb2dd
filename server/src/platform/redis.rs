//! The one Redis connection of an application, when `REDIS_URL` is set.
//!
//! Everything that shares state across instances (the cache, the live
//! window, the ingestion lease, the signal bus) takes this handle instead
//! of opening Redis itself: one client, one multiplexed connection (which
//! reconnects by itself), and dedicated connections only where Redis needs
//! them, for pub/sub. Keys are put under the application's prefix here, so
//! instances of two deployments, or two tests, never read each other's.

use std::sync::Arc;

use anyhow::Context;
use redis::aio::{ConnectionManager, PubSub};
use secrecy::{ExposeSecret, SecretString};

#[derive(Clone)]
pub struct Redis {
    client: redis::Client,
    connection: ConnectionManager,
    prefix: Arc<str>,
}

impl Redis {
    /// Connects to Redis at `url`; every key is put under `prefix:`.
    pub async fn connect(url: &SecretString, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url.expose_secret())
            .context("REDIS_URL is not a Redis URL (expected redis://host:port)")?;
        let connection = ConnectionManager::new(client.clone())
            .await
            .context("while connecting to Redis at REDIS_URL")?;
        Ok(Self {
            client,
            connection,
            prefix: Arc::from(prefix),
        })
    }

    /// Connects when `url` is given; `None` means "in process".
    pub async fn connect_if(url: Option<&SecretString>, prefix: &str) -> anyhow::Result<Option<Self>> {
        match url {
            Some(url) => Ok(Some(Self::connect(url, prefix).await?)),
            None => Ok(None),
        }
    }

    /// The shared connection (a cheap clone of one multiplexed connection).
    pub fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }

    /// A connection of its own for subscribing, which a multiplexed
    /// connection cannot do.
    pub async fn pubsub(&self) -> anyhow::Result<PubSub> {
        self.client
            .get_async_pubsub()
            .await
            .context("while opening a Redis subscription")
    }

    /// `name` under this application's prefix.
    pub fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}
