//! Webhook events: Stripe's event envelope, its signature scheme
//! (`Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.payload">`),
//! and delivery one event at a time, in order, by a single task.

use std::sync::{Arc, Mutex, Weak};

use anyhow::Context as _;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::{Notify, mpsc, oneshot};

use super::{API_VERSION, EventRequest, FakeEvent, Shared, lock, wall_seconds};

/// The `Stripe-Signature` header for `payload` signed with `secret` at
/// `timestamp`: `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<payload>">`.
pub fn sign_with(secret: &str, payload: &str, timestamp: i64) -> String {
    let v1 = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(format!("{timestamp}.{payload}").as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        // HMAC takes a key of any length: this does not happen.
        Err(_) => String::new(),
    };
    format!("t={timestamp},v1={v1}")
}

/// The body Stripe POSTs for an event, pretty-printed as Stripe sends it.
pub(super) fn envelope(
    id: &str,
    type_: &str,
    created: i64,
    object: Value,
    previous_attributes: Option<Value>,
    request: &EventRequest,
) -> String {
    let mut data = json!({ "object": object });
    if let (Some(previous), Some(data)) = (previous_attributes, data.as_object_mut()) {
        data.insert("previous_attributes".to_owned(), previous);
    }
    let event = json!({
        "id": id,
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": data,
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": request.id, "idempotency_key": request.idempotency_key},
        "type": type_,
    });
    serde_json::to_string_pretty(&event).unwrap_or_else(|_| event.to_string())
}

/// One event to send.
#[derive(Debug)]
pub(super) struct Job {
    event: FakeEvent,
    target: String,
    /// Fired after the send, for the last event of a batch.
    sent: Option<oneshot::Sender<()>>,
}

#[derive(Debug, Default)]
struct Progress {
    queued: u64,
    finished: u64,
}

/// The queue in front of the delivery task.
#[derive(Debug)]
pub(super) struct Outbox {
    jobs: mpsc::UnboundedSender<Job>,
    progress: Mutex<Progress>,
    settled: Notify,
}

impl Outbox {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<Job>) {
        let (jobs, receiver) = mpsc::unbounded_channel();
        let outbox = Self {
            jobs,
            progress: Mutex::new(Progress::default()),
            settled: Notify::new(),
        };
        (outbox, receiver)
    }

    /// Queues `events` (not empty) for `target`; the receiver fires once the
    /// last has been sent.
    pub fn push(&self, events: &[FakeEvent], target: &str) -> oneshot::Receiver<()> {
        let (sent, receiver) = oneshot::channel();
        let mut sent = Some(sent);
        let mut progress = lock(&self.progress);
        for (index, event) in events.iter().enumerate() {
            let job = Job {
                event: event.clone(),
                target: target.to_owned(),
                sent: if index + 1 == events.len() {
                    sent.take()
                } else {
                    None
                },
            };
            if self.jobs.send(job).is_ok() {
                progress.queued += 1;
            }
        }
        receiver
    }

    fn finish_one(&self) {
        lock(&self.progress).finished += 1;
        self.settled.notify_waiters();
    }

    /// Waits until everything queued so far has been sent.
    pub async fn settled(&self) {
        let target = lock(&self.progress).queued;
        loop {
            let notified = self.settled.notified();
            if lock(&self.progress).finished >= target {
                return;
            }
            notified.await;
        }
    }
}

/// The delivery task: sends queued events one at a time, in order, until
/// the fake is gone.
pub(super) async fn run(shared: Weak<Shared>, mut jobs: mpsc::UnboundedReceiver<Job>) {
    while let Some(job) = jobs.recv().await {
        let Some(shared) = shared.upgrade() else { return };
        if let Err(error) = shared.post_event(&job.event, &job.target).await {
            tracing::warn!(error = format!("{error:#}"), event = %job.event.id, "fake stripe: a webhook delivery failed");
        }
        shared.outbox.finish_one();
        if let Some(sent) = job.sent {
            let _ = sent.send(());
        }
    }
}

impl Shared {
    /// POSTs `event` to `target`, signed at the real time (receivers check
    /// the signature's age against their own clock), and records the attempt.
    pub(super) async fn post_event(self: &Arc<Self>, event: &FakeEvent, target: &str) -> anyhow::Result<u16> {
        let signature = sign_with(&self.webhook_secret, &event.payload, wall_seconds());
        let sent = self
            .http
            .post(target)
            .header("content-type", "application/json; charset=utf-8")
            .header("user-agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
            .header("cache-control", "no-cache")
            .header("stripe-signature", signature)
            .body(event.payload.clone())
            .send()
            .await;
        let status = sent
            .as_ref()
            .map(|response| response.status().as_u16())
            .unwrap_or(0);
        lock(&self.state).deliveries.push((event.id.clone(), status));
        sent.with_context(|| format!("while POSTing {} ({}) to {target}", event.id, event.type_))?;
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_stripes() {
        // HMAC-SHA256 of "1700000000.{}" keyed "whsec_test", by Python's hmac.
        let header = sign_with("whsec_test", "{}", 1_700_000_000);
        assert_eq!(
            header,
            "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
        assert_ne!(header, sign_with("whsec_other", "{}", 1_700_000_000));
        assert_ne!(header, sign_with("whsec_test", "{ }", 1_700_000_000));
    }
}
