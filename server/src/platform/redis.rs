//! The one Redis connection of an application, when `REDIS_URL` is set.
//!
//! Everything that shares state across instances (the cache, the live
//! window, the ingestion lease, the signal bus) takes this handle instead
//! of opening Redis itself: one client, one multiplexed connection (which
//! reconnects by itself), and dedicated connections only where Redis needs
//! them, for pub/sub. Each user of it puts its keys under the prefix it is
//! given (`INCHART_CACHE_PREFIX`), so two deployments, or two tests, never
//! read each other's.

use anyhow::Context;
use redis::aio::{ConnectionManager, PubSub};
use secrecy::{ExposeSecret, SecretString};

#[derive(Clone)]
pub struct Redis {
    client: redis::Client,
    connection: ConnectionManager,
}

impl Redis {
    /// Connects to Redis at `url`.
    pub async fn connect(url: &SecretString) -> anyhow::Result<Self> {
        let client = redis::Client::open(url.expose_secret())
            .context("REDIS_URL is not a Redis URL (expected redis://host:port)")?;
        let connection = ConnectionManager::new(client.clone())
            .await
            .context("while connecting to Redis at REDIS_URL")?;
        Ok(Self { client, connection })
    }

    /// Connects when `url` is given; `None` means "in process".
    pub async fn connect_if(url: Option<&SecretString>) -> anyhow::Result<Option<Self>> {
        match url {
            Some(url) => Ok(Some(Self::connect(url).await?)),
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
}
