//! Placeholder until the push branch merges (replaced by it).
use std::time::Duration;

use inchart_api::alerts::PushSubscription;

pub struct VapidKeys;

impl VapidKeys {
    pub fn generate() -> anyhow::Result<Self> {
        Ok(Self)
    }
    pub fn from_private_bytes(_bytes: &[u8]) -> anyhow::Result<Self> {
        Ok(Self)
    }
    pub fn private_bytes(&self) -> [u8; 32] {
        [1; 32]
    }
    pub fn public_key(&self) -> String {
        String::new()
    }
}

pub enum PushOutcome {
    Delivered {
        status: u16,
    },
    Gone {
        status: u16,
    },
    Retry {
        status: Option<u16>,
        retry_after: Option<Duration>,
        outcome: String,
    },
    Refused {
        status: u16,
        outcome: String,
    },
}

impl PushOutcome {
    pub fn outcome(&self) -> String {
        String::new()
    }
}

pub struct PushClient {
    keys: VapidKeys,
}

impl PushClient {
    pub fn new(keys: VapidKeys, _subject: String, _http: reqwest::Client) -> Self {
        Self { keys }
    }
    pub fn public_key(&self) -> String {
        self.keys.public_key()
    }
    pub async fn send(&self, _s: &PushSubscription, _p: &[u8], _ttl: Duration) -> PushOutcome {
        PushOutcome::Retry {
            status: None,
            retry_after: None,
            outcome: String::new(),
        }
    }
}
