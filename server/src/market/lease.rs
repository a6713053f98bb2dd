//! Who ingests: one instance at a time holds a lease in Redis
//! (`<prefix>:ingest:lease`, a `SET NX PX` renewed every third of its time
//! to live). When the holder dies the lease runs out and another instance
//! takes it within a time to live; an instance that stops cleanly gives it
//! up, and another takes it within a third of that. Without Redis there is one instance, and
//! it always holds the lease.
//!
//! Two holders at once (a stalled one that has not noticed yet) would be
//! harmless: every write is an upsert that never undoes a newer one.
//!
//! Deep history takes one lease per series the same way
//! ([`Lease::for_key`]), so that one instance fetches each series.

use std::time::{Duration, Instant};

use anyhow::Context;
use redis::aio::ConnectionManager;

use crate::platform::redis::Redis;

/// Extends the lease only for its holder.
const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";

/// Gives the lease up only for its holder.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

pub struct Lease {
    redis: Option<ConnectionManager>,
    key: String,
    /// What the lease is for, in the logs ("ingestion", "deep history").
    purpose: &'static str,
    holder: String,
    ttl: Duration,
}

impl Lease {
    /// The ingestion lease.
    pub fn new(redis: Option<&Redis>, prefix: &str, ttl: Duration) -> Self {
        Self::for_key(redis, format!("{prefix}:ingest:lease"), "ingestion", ttl)
    }

    /// A lease on `key` (already under the deployment's prefix).
    pub fn for_key(redis: Option<&Redis>, key: String, purpose: &'static str, ttl: Duration) -> Self {
        Self {
            redis: redis.map(Redis::connection),
            key,
            purpose,
            holder: format!("{}-{:016x}", std::process::id(), fastrand::u64(..)),
            ttl,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Takes the lease when nobody holds it.
    pub async fn acquire(&self) -> anyhow::Result<bool> {
        let Some(redis) = &self.redis else {
            return Ok(true);
        };
        let mut connection = redis.clone();
        let taken: Option<String> = redis::cmd("SET")
            .arg(&self.key)
            .arg(&self.holder)
            .arg("NX")
            .arg("PX")
            .arg(self.ttl_millis())
            .query_async(&mut connection)
            .await
            .with_context(|| format!("while taking the {} lease", self.purpose))?;
        Ok(taken.is_some())
    }

    /// Renews the lease every third of its time to live; returns when it
    /// is lost (another instance holds it, or Redis did not confirm a
    /// renewal before it would have run out).
    pub async fn hold(&self) {
        let Some(redis) = &self.redis else {
            return std::future::pending().await;
        };
        let mut renewed = Instant::now();
        loop {
            tokio::time::sleep(self.ttl / 3).await;
            let mut connection = redis.clone();
            let result: redis::RedisResult<i64> = redis::Script::new(RENEW)
                .key(&self.key)
                .arg(&self.holder)
                .arg(self.ttl_millis())
                .invoke_async(&mut connection)
                .await;
            match result {
                Ok(1) => renewed = Instant::now(),
                Ok(_) => {
                    tracing::warn!(
                        purpose = self.purpose,
                        key = self.key,
                        "another instance holds the lease"
                    );
                    return;
                }
                Err(error) => {
                    tracing::warn!(%error, purpose = self.purpose, key = self.key, "could not renew the lease");
                    if renewed.elapsed() >= self.ttl {
                        return;
                    }
                }
            }
        }
    }

    /// Gives the lease up so another instance can take it at once.
    pub async fn release(&self) {
        if let Some(redis) = &self.redis {
            let mut connection = redis.clone();
            let result: redis::RedisResult<i64> = redis::Script::new(RELEASE)
                .key(&self.key)
                .arg(&self.holder)
                .invoke_async(&mut connection)
                .await;
            if let Err(error) = result {
                tracing::warn!(%error, purpose = self.purpose, key = self.key, "could not release the lease");
            }
        }
    }

    fn ttl_millis(&self) -> u64 {
        u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX).max(1)
    }
}
