//! Delivering firings: each delivery (a firing on one channel) is tried
//! at once by the instance that recorded the firing, which holds its
//! lease; a delivery not done when its lease runs out (the instance
//! stopped) is taken by any instance's sweep, as are retries when due.
//!
//! Retries: on 5xx, 429, timeouts and connection errors, after
//! `INCHART_ALERT_RETRY_BASE` doubled at every attempt (at most an hour),
//! times a random factor between ½ and 1½ so that receivers that come
//! back are not met by every retry at once; `Retry-After` when the
//! receiver gives one. A delivery still failing `INCHART_ALERT_RETRY_FOR`
//! (a day) after its firing is given up. Attempts are written in batches,
//! so a thousand firings at once do not wait on a thousand commits.

use std::sync::Arc;
use std::time::{Duration, Instant};

use inchart_api::alerts::{Attempt, Channel, DeliveryState, PushMessage};
use tokio::sync::{Semaphore, mpsc};

use super::entity::alert;
use super::push::PushOutcome;
use super::rules::{Message, render, standard_body};
use super::store::{Due, Tried};
use super::{Alerts, Answer};
use crate::auth::mail::{Mail, MailAnswer};
use crate::platform::clock::now_ms;

/// How long an instance holds a delivery it is trying: longer than an
/// attempt (the webhook timeout, 5 s) and its queueing; an instance that
/// dies leaves its deliveries to the others after this.
pub const LEASE: Duration = Duration::from_secs(20);
/// Sends in flight at once, per instance.
const IN_FLIGHT: usize = 256;
/// How often the sweep looks for due deliveries.
const SWEEP: Duration = Duration::from_millis(500);
/// The longest wait between two attempts.
const LONGEST_WAIT: Duration = Duration::from_secs(3600);
/// Attempts written in one transaction, at most.
const RECORD_BATCH: usize = 1000;

/// What delivering needs beside the service: the sends in flight and the
/// attempts waiting to be written.
pub struct Outbox {
    sending: Arc<Semaphore>,
    tried: mpsc::UnboundedSender<Tried>,
    tried_rx: std::sync::Mutex<Option<mpsc::UnboundedReceiver<Tried>>>,
    wake: tokio::sync::Notify,
}

impl Outbox {
    pub fn new() -> Self {
        let (tried, tried_rx) = mpsc::unbounded_channel();
        Self {
            sending: Arc::new(Semaphore::new(IN_FLIGHT)),
            tried,
            tried_rx: std::sync::Mutex::new(Some(tried_rx)),
            wake: tokio::sync::Notify::new(),
        }
    }
}

impl Default for Outbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Alerts {
    /// Tries each delivery now, in the background; `alert` is the alert as
    /// the caller read it (read again when absent).
    pub(crate) fn deliver(&self, dues: Vec<(Due, Option<Arc<alert::Model>>)>) {
        for (due, model) in dues {
            let alerts = self.clone();
            let sending = self.inner.outbox.sending.clone();
            tokio::spawn(async move {
                let Ok(_permit) = sending.acquire_owned().await else {
                    return;
                };
                let tried = alerts.attempt(&due, model).await;
                let _ = alerts.inner.outbox.tried.send(tried);
            });
        }
    }

    /// Has the sweep look for due deliveries now ("send again").
    pub(crate) fn deliver_due_now(&self) {
        self.inner.outbox.wake.notify_one();
    }

    /// One attempt at one delivery.
    async fn attempt(&self, due: &Due, model: Option<Arc<alert::Model>>) -> Tried {
        let delivery = &due.delivery;
        let channel = Channel::parse(&delivery.channel).unwrap_or(Channel::Email);
        let started = Instant::now();
        let at = now_ms();
        let model = match model {
            Some(model) => Some(model),
            None => self
                .inner
                .store
                .by_id(delivery.alert_id)
                .await
                .ok()
                .flatten()
                .map(Arc::new),
        };
        let answer = match (&model, serde_json::from_str::<Message>(&due.message)) {
            (None, _) => Answer::refused(None, "the alert was deleted".into()),
            (_, Err(error)) => Answer::refused(None, format!("the firing does not read: {error}")),
            (Some(model), Ok(message)) => match channel {
                Channel::Webhook => self.send_webhook(model, &message, due.fired_at).await,
                Channel::Email => self.send_email(model, &message).await,
                Channel::Push => self.send_push(model, &message).await,
            },
        };
        let latency_ms = started.elapsed().as_millis().min(u128::from(u32::MAX)) as u32;
        let attempts = delivery.attempts.max(0) as u32 + 1;
        let (status, outcome, ok, state, next_at) = match answer {
            Answer::Delivered { status, outcome } => (status, outcome, true, DeliveryState::Delivered, 0),
            Answer::Refused { status, outcome } => (status, outcome, false, DeliveryState::Failed, 0),
            Answer::Retry {
                status,
                outcome,
                after,
            } => {
                let wait = after.unwrap_or_else(|| self.backoff(attempts)).min(LONGEST_WAIT);
                let next_at = now_ms() + wait.as_millis() as i64;
                let deadline = due.fired_at + self.inner.settings.retry_for.as_millis() as i64;
                if next_at > deadline {
                    (
                        status,
                        format!("{outcome}; given up after retrying for a day"),
                        false,
                        DeliveryState::Failed,
                        0,
                    )
                } else {
                    (status, outcome, false, DeliveryState::Pending, next_at)
                }
            }
        };
        Tried {
            delivery: delivery.id,
            alert: delivery.alert_id,
            channel,
            attempt: Attempt {
                at,
                status,
                outcome,
                ok,
                latency_ms,
            },
            state,
            next_at,
        }
    }

    /// The wait before attempt `attempts + 1`: the base doubled per
    /// attempt made, times a random factor in [½, 1½).
    fn backoff(&self, attempts: u32) -> Duration {
        let doubled = self
            .inner
            .settings
            .retry_base
            .saturating_mul(1u32 << attempts.saturating_sub(1).min(20));
        doubled.min(LONGEST_WAIT).mul_f64(0.5 + fastrand::f64())
    }

    async fn send_webhook(&self, model: &alert::Model, message: &Message, fired_at: i64) -> Answer {
        let (Some(url), Some(secret)) = (&model.webhook_url, &model.webhook_secret) else {
            return Answer::refused(None, "the alert no longer has a webhook".into());
        };
        let body = match &model.webhook_template {
            Some(template) => render(template, message),
            None => standard_body(message, fired_at / 1000),
        };
        self.inner
            .webhook
            .send(url, secret, &message.firing_id, body, now_ms() / 1000)
            .await
    }

    async fn send_email(&self, model: &alert::Model, message: &Message) -> Answer {
        if !model.email {
            return Answer::refused(None, "email is off for this alert".into());
        }
        let to = match self.inner.auth.email_of(model.user_id).await {
            Ok(Some(to)) => to,
            Ok(None) => return Answer::refused(None, "the account is gone".into()),
            Err(error) => {
                return Answer::Retry {
                    status: None,
                    outcome: format!("could not read the address: {error:#}"),
                    after: None,
                };
            }
        };
        let base = &self.inner.public_url;
        let chart = format!("{base}/chart/{}?interval={}", message.symbol, message.interval);
        let unsubscribe = format!(
            "{base}/alerts/{}/unsubscribe?token={}",
            model.id, model.unsubscribe_token
        );
        let mail = Mail {
            to,
            subject: format!("Alert: {}", message.summary),
            body: format!(
                "{} at {} (candle of {}).\n\nOpen the chart: {chart}\nYour alerts and their deliveries: {base}/alerts\n\n\
                 Stop emails for this alert: {unsubscribe}\n\n— InChart\n",
                message.summary,
                message.price,
                format_time(message.time),
            ),
            link: chart,
            unsubscribe: Some(unsubscribe),
        };
        match self.inner.auth.mailer.send_with_answer(&mail).await {
            MailAnswer::Accepted(answer) => Answer::Delivered {
                status: None,
                outcome: answer,
            },
            MailAnswer::Logged => Answer::Delivered {
                status: None,
                outcome: "mail is off on this server (no INCHART_SMTP_URL): written to its log".into(),
            },
            MailAnswer::Transient(answer) => Answer::Retry {
                status: None,
                outcome: answer,
                after: None,
            },
            MailAnswer::Permanent(answer) => Answer::refused(None, answer),
        }
    }

    async fn send_push(&self, model: &alert::Model, message: &Message) -> Answer {
        if !model.push {
            return Answer::refused(None, "browser push is off for this alert".into());
        }
        let subscriptions = match self.inner.store.push_subscriptions(model.user_id).await {
            Ok(subscriptions) => subscriptions,
            Err(error) => {
                return Answer::Retry {
                    status: None,
                    outcome: format!("could not read the browsers: {error:#}"),
                    after: None,
                };
            }
        };
        if subscriptions.is_empty() {
            return Answer::refused(
                None,
                "no browser has notifications on: turn them on at /alerts".into(),
            );
        }
        let payload = PushMessage {
            title: format!("{} {}", message.symbol, message.interval),
            body: message.summary.clone(),
            url: format!("/chart/{}?interval={}", message.symbol, message.interval),
            tag: message.firing_id.clone(),
        };
        let Ok(payload) = serde_json::to_vec(&payload) else {
            return Answer::refused(None, "the notification does not encode".into());
        };
        let (mut delivered, mut retry, mut outcomes) = (None, None, Vec::new());
        for subscription in &subscriptions {
            let outcome = self
                .inner
                .push
                .send(subscription, &payload, Duration::from_secs(3600))
                .await;
            outcomes.push(outcome.outcome());
            match outcome {
                PushOutcome::Delivered { status } => delivered = Some(status),
                PushOutcome::Gone { .. } => {
                    if let Err(error) = self
                        .inner
                        .store
                        .unsubscribe_push(None, &subscription.endpoint)
                        .await
                    {
                        tracing::warn!(
                            error = format!("{error:#}"),
                            "could not forget an expired push subscription"
                        );
                    }
                }
                PushOutcome::Retry { retry_after, .. } => retry = Some(retry_after),
                PushOutcome::Refused { .. } | PushOutcome::Unsendable { .. } => {}
            }
        }
        let outcome = format!("{} browser(s): {}", subscriptions.len(), outcomes.join("; "));
        match (delivered, retry) {
            (Some(status), _) => Answer::Delivered {
                status: Some(status),
                outcome,
            },
            (None, Some(after)) => Answer::Retry {
                status: None,
                outcome,
                after,
            },
            (None, None) => Answer::refused(None, outcome),
        }
    }

    /// Writes attempts in batches as they come, and pauses alerts whose
    /// webhook keeps failing (telling the trader).
    pub async fn record_attempts(self) {
        let Some(mut tried_rx) = self
            .inner
            .outbox
            .tried_rx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return;
        };
        let mut batch = Vec::new();
        while tried_rx.recv_many(&mut batch, RECORD_BATCH).await > 0 {
            let given_up: Vec<uuid::Uuid> = batch
                .iter()
                .filter(|t| t.channel == Channel::Webhook && t.state == DeliveryState::Failed)
                .filter(|t| t.attempt.outcome.ends_with("given up after retrying for a day"))
                .map(|t| t.alert)
                .collect();
            let mut written = false;
            for _ in 0..5 {
                match self.inner.store.record(&batch, super::PAUSE_AFTER).await {
                    Ok(mut failing) => {
                        failing.extend(given_up.iter().copied());
                        failing.sort();
                        failing.dedup();
                        for alert in failing {
                            let last = batch
                                .iter()
                                .rfind(|t| t.alert == alert && t.channel == Channel::Webhook)
                                .map(|t| t.attempt.outcome.clone())
                                .unwrap_or_default();
                            self.pause_failing(alert, &last).await;
                        }
                        written = true;
                        break;
                    }
                    Err(error) => {
                        tracing::warn!(
                            error = format!("{error:#}"),
                            "could not write attempts; trying again"
                        );
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
            if !written {
                // The deliveries' leases run out and the sweep tries them
                // again: a receiver may see one twice, under one id.
                tracing::error!(attempts = batch.len(), "attempts not written");
            }
            batch.clear();
        }
    }

    /// Pauses an alert whose webhook keeps failing, and tells its owner.
    async fn pause_failing(&self, alert: uuid::Uuid, last: &str) {
        let reason = format!(
            "Paused by InChart: its webhook kept failing (last answer: {last}). Fix the receiver, then resume it."
        );
        match self.inner.store.pause(alert, &reason, now_ms()).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "could not pause a failing alert");
                return;
            }
        }
        tracing::info!(%alert, "alert paused: its webhook kept failing");
        let Ok(Some(model)) = self.inner.store.by_id(alert).await else {
            return;
        };
        self.forget_index(
            &model.symbol,
            model
                .interval
                .parse()
                .unwrap_or(inchart_api::market::Interval::M1),
        );
        let Ok(Some(to)) = self.inner.auth.email_of(model.user_id).await else {
            return;
        };
        let link = format!("{}/alerts", self.inner.public_url);
        self.inner.auth.mailer.send_later(Mail {
            to,
            subject: format!("Your {} {} alert is paused", model.symbol, model.interval),
            body: format!(
                "Your alert on {} {} is paused: its webhook kept failing (last answer: {last}).\n\n\
                 Its firings and every attempt are at {link}; fix the receiver, then resume the alert there.\n\n— InChart\n",
                model.symbol, model.interval
            ),
            link,
            unsubscribe: None,
        });
    }

    /// Takes due deliveries (retries, and those whose instance stopped)
    /// every half second, or at once when woken.
    pub async fn sweep(self) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(SWEEP) => {}
                () = self.inner.outbox.wake.notified() => {}
            }
            let now = now_ms();
            match self
                .inner
                .store
                .take_due(now, now + LEASE.as_millis() as i64, 200)
                .await
            {
                Ok(dues) => self.deliver(dues.into_iter().map(|due| (due, None)).collect()),
                Err(error) => tracing::warn!(error = format!("{error:#}"), "could not read due deliveries"),
            }
        }
    }
}

/// "2026-12-04 18:00 UTC".
fn format_time(millis: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(millis / 1000)
        .ok()
        .map(|at| {
            format!(
                "{}-{:02}-{:02} {:02}:{:02} UTC",
                at.year(),
                u8::from(at.month()),
                at.day(),
                at.hour(),
                at.minute()
            )
        })
        .unwrap_or_else(|| millis.to_string())
}
