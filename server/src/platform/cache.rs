//! A shared cache of byte values with a time to live: Redis when
//! `REDIS_URL` is set (shared by every instance), an in-process map when it
//! is not (one instance, nothing to install). Both behave the same: a value
//! is readable until its time to live runs out, then it is gone.
//!
//! A cache failure never fails a request: callers treat an error as a miss
//! and go to the database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use super::redis::Redis;

/// The most entries the in-process cache holds; past it, expired entries
/// go first, then the oldest.
const MEMORY_CAPACITY: usize = 10_000;

/// The cache, one interface over both kinds.
#[derive(Clone)]
pub struct Cache {
    kind: CacheKind,
    prefix: Arc<str>,
}

#[derive(Clone)]
enum CacheKind {
    Redis(ConnectionManager),
    Memory(Arc<Mutex<MemoryCache>>),
}

impl Cache {
    /// On Redis when given, in-process otherwise. Every key is put under
    /// `prefix:`.
    pub fn new(redis: Option<&Redis>, prefix: &str) -> Self {
        let kind = match redis {
            Some(redis) => CacheKind::Redis(redis.connection()),
            None => CacheKind::Memory(Arc::new(Mutex::new(MemoryCache::default()))),
        };
        Self {
            kind,
            prefix: Arc::from(prefix),
        }
    }

    /// `redis` or `memory`, for logs and readiness.
    pub fn kind(&self) -> &'static str {
        match self.kind {
            CacheKind::Redis(_) => "redis",
            CacheKind::Memory(_) => "memory",
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}:{key}", self.prefix)
    }

    pub async fn get(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let key = self.key(key);
        match &self.kind {
            CacheKind::Redis(manager) => {
                let mut connection = manager.clone();
                let value: Option<Vec<u8>> =
                    connection.get(&key).await.context("while reading from Redis")?;
                Ok(value)
            }
            CacheKind::Memory(memory) => Ok(lock(memory).get(&key, Instant::now())),
        }
    }

    pub async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> anyhow::Result<()> {
        let key = self.key(key);
        match &self.kind {
            CacheKind::Redis(manager) => {
                let mut connection = manager.clone();
                let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
                let _: () = redis::cmd("SET")
                    .arg(&key)
                    .arg(value)
                    .arg("PX")
                    .arg(millis)
                    .query_async(&mut connection)
                    .await
                    .context("while writing to Redis")?;
                Ok(())
            }
            CacheKind::Memory(memory) => {
                lock(memory).set(key, value.to_vec(), Instant::now() + ttl);
                Ok(())
            }
        }
    }

    /// Adds one to the counter at `key` and returns its new value and how
    /// long it has left. The counter starts at one when absent and lives
    /// `window` from then: a fixed window, shared by every instance.
    pub async fn increment(&self, key: &str, window: Duration) -> anyhow::Result<(u64, Duration)> {
        let key = self.key(key);
        let millis = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        match &self.kind {
            CacheKind::Redis(manager) => {
                let mut connection = manager.clone();
                let (count, left): (u64, i64) = redis::pipe()
                    .atomic()
                    .incr(&key, 1u64)
                    .cmd("PEXPIRE")
                    .arg(&key)
                    .arg(millis)
                    .arg("NX")
                    .ignore()
                    .cmd("PTTL")
                    .arg(&key)
                    .query_async(&mut connection)
                    .await
                    .context("while counting in Redis")?;
                Ok((count, Duration::from_millis(left.max(0) as u64)))
            }
            CacheKind::Memory(memory) => {
                let now = Instant::now();
                let mut memory = lock(memory);
                let (expires, count) = match memory.entries.get(&key) {
                    Some((expires, value)) if *expires > now => (*expires, counter_value(value) + 1),
                    _ => (now + Duration::from_millis(millis), 1),
                };
                memory.set(key, count.to_le_bytes().to_vec(), expires);
                Ok((count, expires - now))
            }
        }
    }

    /// The counter at `key` and how long it has left, without adding to it.
    pub async fn counter(&self, key: &str) -> anyhow::Result<(u64, Duration)> {
        let key = self.key(key);
        match &self.kind {
            CacheKind::Redis(manager) => {
                let mut connection = manager.clone();
                let (count, left): (Option<u64>, i64) = redis::pipe()
                    .get(&key)
                    .cmd("PTTL")
                    .arg(&key)
                    .query_async(&mut connection)
                    .await
                    .context("while reading a counter from Redis")?;
                Ok((count.unwrap_or(0), Duration::from_millis(left.max(0) as u64)))
            }
            CacheKind::Memory(memory) => {
                let now = Instant::now();
                Ok(match lock(memory).entries.get(&key) {
                    Some((expires, value)) if *expires > now => (counter_value(value), *expires - now),
                    _ => (0, Duration::ZERO),
                })
            }
        }
    }

    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        let key = self.key(key);
        match &self.kind {
            CacheKind::Redis(manager) => {
                let mut connection = manager.clone();
                let _: () = connection.del(&key).await.context("while deleting from Redis")?;
            }
            CacheKind::Memory(memory) => {
                lock(memory).entries.remove(&key);
            }
        }
        Ok(())
    }

    /// Takes `key` for `ttl` unless someone holds it: answers whether
    /// this caller got it. Several instances hearing of the same event use
    /// it so that one of them acts.
    pub async fn claim(&self, key: &str, ttl: Duration) -> anyhow::Result<bool> {
        let key = self.key(key);
        match &self.kind {
            CacheKind::Redis(manager) => {
                let mut connection = manager.clone();
                let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
                let taken: Option<String> = redis::cmd("SET")
                    .arg(&key)
                    .arg(1)
                    .arg("NX")
                    .arg("PX")
                    .arg(millis)
                    .query_async(&mut connection)
                    .await
                    .context("while claiming a key in Redis")?;
                Ok(taken.is_some())
            }
            CacheKind::Memory(memory) => {
                let now = Instant::now();
                let mut memory = lock(memory);
                if memory.get(&key, now).is_some() {
                    return Ok(false);
                }
                memory.set(key, Vec::new(), now + ttl);
                Ok(true)
            }
        }
    }

    /// Whether the cache answers; the in-process one always does.
    pub async fn ping(&self) -> anyhow::Result<()> {
        match &self.kind {
            CacheKind::Redis(manager) => {
                let mut connection = manager.clone();
                let _: String = redis::cmd("PING")
                    .query_async(&mut connection)
                    .await
                    .context("Redis did not answer PING")?;
                Ok(())
            }
            CacheKind::Memory(_) => Ok(()),
        }
    }
}

/// The in-process cache keeps a counter as eight little-endian bytes.
fn counter_value(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_le_bytes).unwrap_or(0)
}

fn lock(memory: &Mutex<MemoryCache>) -> std::sync::MutexGuard<'_, MemoryCache> {
    // A panic while holding the lock cannot leave the map half-written in a
    // way that matters for a cache, so a poisoned lock is still used.
    memory.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Default)]
struct MemoryCache {
    entries: HashMap<String, (Instant, Vec<u8>)>,
}

impl MemoryCache {
    fn get(&mut self, key: &str, now: Instant) -> Option<Vec<u8>> {
        match self.entries.get(key) {
            Some((expires, value)) if *expires > now => Some(value.clone()),
            Some(_) => {
                self.entries.remove(key);
                None
            }
            None => None,
        }
    }

    fn set(&mut self, key: String, value: Vec<u8>, expires: Instant) {
        if self.entries.len() >= MEMORY_CAPACITY && !self.entries.contains_key(&key) {
            let now = Instant::now();
            self.entries.retain(|_, (at, _)| *at > now);
            if self.entries.len() >= MEMORY_CAPACITY
                && let Some(soonest) = self
                    .entries
                    .iter()
                    .min_by_key(|(_, (at, _))| *at)
                    .map(|(k, _)| k.clone())
            {
                self.entries.remove(&soonest);
            }
        }
        self.entries.insert(key, (expires, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_entries_expire_and_capacity_holds() {
        let mut memory = MemoryCache::default();
        let now = Instant::now();
        memory.set("a".into(), b"1".to_vec(), now + Duration::from_secs(1));
        assert_eq!(memory.get("a", now), Some(b"1".to_vec()));
        assert_eq!(memory.get("a", now + Duration::from_secs(2)), None);

        for i in 0..MEMORY_CAPACITY + 10 {
            memory.set(format!("k{i}"), vec![], now + Duration::from_secs(60 + i as u64));
        }
        assert_eq!(memory.entries.len(), MEMORY_CAPACITY);
        assert!(memory.get(&format!("k{}", MEMORY_CAPACITY + 9), now).is_some());
    }
}
