//! Alerts: a script's new signal, or a price reaching a level, delivered
//! to the trader by webhook, email and browser push, once per alert and
//! candle, and recorded attempt by attempt.
//!
//! How an alert goes:
//! - [`watch`] hears every candle change and every live run this instance
//!   makes, and decides with [`rules`] which alerts fire;
//! - [`store::AlertStore::fire`] records the firings of a batch in one
//!   transaction; the unique `(alert, candle)` key makes a firing happen
//!   once however many instances see the close, and a firing once
//!   recorded survives any instance stopping;
//! - [`deliver`] sends each firing on each channel at once, and retries
//!   with exponential backoff and jitter (honouring `Retry-After`) for up
//!   to a day on 5xx, 429, timeouts and connection errors; any instance
//!   takes over a delivery whose lease ran out. A webhook that keeps
//!   failing pauses its alert, and the trader is told by email and on
//!   `/alerts`;
//! - [`webhook`] signs per Standard Webhooks and reaches public addresses
//!   only; [`push`] encrypts per RFC 8291 and signs per RFC 8292 (VAPID);
//!   email goes through the accounts' mailer, with an unsubscribe link per
//!   alert.
//!
//! - [`handlers`]: the HTTP API and the unsubscribe page.
//!
//! What a plan allows (active alerts, webhooks, firings a day) is checked
//! by [`crate::plans`] and, for firings, when they are recorded.

pub mod deliver;
pub mod entity;
pub mod handlers;
pub mod push;
pub mod rules;
pub mod store;
pub mod watch;
pub mod webhook;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use inchart_api::alerts::{
    Alert, AlertSpec, AlertState, Channel, Channels, Condition, MAX_TEMPLATE, PriceSource, Repeat, Webhook,
};
use inchart_api::market::Interval;
use secrecy::ExposeSecret;
use uuid::Uuid;

use crate::auth::Auth;
use crate::config::AlertSettings;
use crate::market::Symbols;
use crate::market::window::SeriesKey;
use crate::plans::{Action, Plans};
use crate::platform::clock::now_ms;
use crate::scripts::Scripts;
use crate::web::ApiError;
use entity::alert;
use push::{PushClient, VapidKeys};
use store::AlertStore;
use webhook::WebhookClient;

/// Webhook deliveries that end failed in a row before the alert pauses.
pub const PAUSE_AFTER: i32 = 3;

/// What one attempt on one channel came to.
#[derive(Debug, Clone)]
pub enum Answer {
    Delivered {
        status: Option<u16>,
        outcome: String,
    },
    /// Worth trying again: a 5xx, a 429, a timeout, no connection.
    Retry {
        status: Option<u16>,
        outcome: String,
        after: Option<Duration>,
    },
    /// Not worth trying again.
    Refused {
        status: Option<u16>,
        outcome: String,
    },
}

impl Answer {
    pub fn refused(status: Option<u16>, outcome: String) -> Self {
        Answer::Refused { status, outcome }
    }
}

/// Everything alerts need, cloned cheaply.
#[derive(Clone)]
pub struct Alerts {
    inner: Arc<Inner>,
}

struct Inner {
    store: AlertStore,
    plans: Plans,
    symbols: Symbols,
    scripts: Scripts,
    auth: Auth,
    settings: AlertSettings,
    webhook: WebhookClient,
    push: PushClient,
    /// Where the trader's links lead.
    public_url: String,
    /// The active alerts of each series this instance watches, read
    /// again at most every [`watch::INDEX_TTL`].
    index: Mutex<HashMap<SeriesKey, watch::Slot>>,
    outbox: deliver::Outbox,
}

impl Alerts {
    pub async fn new(
        store: AlertStore,
        plans: Plans,
        symbols: Symbols,
        scripts: Scripts,
        auth: Auth,
        settings: AlertSettings,
        public_url: &str,
    ) -> anyhow::Result<Self> {
        let keys = match &settings.vapid_private_key {
            Some(key) => VapidKeys::from_private_bytes(
                &URL_SAFE_NO_PAD
                    .decode(key.expose_secret().trim())
                    .map_err(|_| anyhow::anyhow!("INCHART_VAPID_PRIVATE_KEY must be base64url"))?,
            )?,
            None => {
                let kept = store
                    .server_key(
                        "vapid",
                        || {
                            URL_SAFE_NO_PAD.encode(
                                VapidKeys::generate()
                                    .map(|k| k.private_bytes())
                                    .unwrap_or_default(),
                            )
                        },
                        now_ms(),
                    )
                    .await?;
                VapidKeys::from_private_bytes(
                    &URL_SAFE_NO_PAD
                        .decode(kept)
                        .map_err(|_| anyhow::anyhow!("the stored VAPID key is not base64url"))?,
                )?
            }
        };
        let webhook = WebhookClient::new(settings.webhook_timeout, settings.allow_loopback)?;
        let push_http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.webhook_timeout)
            .build()
            .map_err(|error| anyhow::anyhow!("while building the push client: {error}"))?;
        let push = PushClient::new(keys, settings.vapid_subject.clone(), push_http);
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                plans,
                symbols,
                scripts,
                auth,
                settings,
                webhook,
                push,
                public_url: public_url.trim_end_matches('/').to_string(),
                index: Mutex::new(HashMap::new()),
                outbox: deliver::Outbox::new(),
            }),
        })
    }

    pub fn store(&self) -> &AlertStore {
        &self.inner.store
    }

    /// The VAPID public key browsers subscribe with.
    pub fn push_key(&self) -> String {
        self.inner.push.public_key()
    }

    /// How many active alerts the user has (for the billing page).
    pub async fn active_count(&self, user: Uuid) -> anyhow::Result<u32> {
        self.inner.store.active_count(user).await
    }

    /// Checks what a trader wrote; answers the script's name for script
    /// alerts. Asks the plan about webhooks.
    async fn check(&self, user: Uuid, spec: &mut AlertSpec) -> Result<Option<String>, ApiError> {
        spec.symbol = self.inner.symbols.check(spec.symbol.clone(), "symbol")?;
        let finite = |value: f64, field: &'static str| {
            if value.is_finite() && value > 0.0 {
                Ok(())
            } else {
                Err(ApiError::invalid(field, "A price level is a number above zero."))
            }
        };
        let script_name = match &spec.condition {
            Condition::Script { script_id, .. } => {
                let id = Uuid::parse_str(script_id).map_err(|_| {
                    ApiError::unknown("condition.script_id", "There is no such script in your account.")
                })?;
                let runnable = self
                    .inner
                    .scripts
                    .runnable(user, id, None)
                    .await?
                    .ok_or_else(|| {
                        ApiError::unknown("condition.script_id", "There is no such script in your account.")
                    })?;
                Some(runnable.name)
            }
            Condition::CrossingUp { level }
            | Condition::CrossingDown { level }
            | Condition::Crossing { level } => {
                finite(*level, "condition.level")?;
                None
            }
            Condition::EnteringRange { low, high } | Condition::LeavingRange { low, high } => {
                finite(*low, "condition.low")?;
                finite(*high, "condition.high")?;
                if low >= high {
                    return Err(ApiError::invalid(
                        "condition.high",
                        "The range's top is above its bottom.",
                    ));
                }
                None
            }
        };
        if spec.expires_at.is_some_and(|at| at <= now_ms()) {
            return Err(ApiError::invalid(
                "expires_at",
                "The expiry is in the past; pick a later time or none.",
            ));
        }
        let channels = &mut spec.channels;
        if channels.webhook.is_none() && !channels.email && !channels.push {
            return Err(ApiError::invalid(
                "channels",
                "Pick where the alert goes: a webhook, email or browser push.",
            ));
        }
        if let Some(webhook) = &mut channels.webhook {
            self.inner.plans.check(Some(user), Action::Webhook).await?;
            let url = webhook::check_url(&webhook.url, self.inner.settings.allow_loopback)
                .await
                .map_err(|message| ApiError::invalid("channels.webhook.url", message))?;
            webhook.url = url.to_string();
            if let Some(template) = &webhook.template {
                if template.trim().is_empty() {
                    webhook.template = None;
                } else if template.len() > MAX_TEMPLATE {
                    return Err(ApiError::invalid(
                        "channels.webhook.template",
                        format!("A body template has at most {MAX_TEMPLATE} bytes."),
                    ));
                } else if let Some(problem) = rules::template_problem(template) {
                    return Err(ApiError::invalid("channels.webhook.template", problem));
                }
            }
        }
        Ok(script_name)
    }

    /// Creates an alert; answers it with its webhook secret, shown once.
    pub async fn create(&self, user: Uuid, mut spec: AlertSpec) -> Result<(Alert, Option<String>), ApiError> {
        let allowance = self.inner.plans.check(Some(user), Action::KeepAlert).await?;
        let script_name = self.check(user, &mut spec).await?;
        let now = now_ms();
        let secret = spec.channels.webhook.as_ref().map(|_| webhook::new_secret());
        let model = model_of(Uuid::new_v4(), user, &spec, secret.clone(), now);
        match self.inner.store.add(model.clone(), allowance.limit).await? {
            store::Added::Yes => {}
            store::Added::Full => return Err(allowance.refused()),
        }
        self.forget_index(&spec.symbol.to_string(), spec.interval);
        Ok((
            view_of(model, script_name).ok_or_else(|| anyhow::anyhow!("a new alert does not read"))?,
            secret,
        ))
    }

    /// Replaces what an alert watches and where it goes; it becomes
    /// active again. A webhook newly added gets a secret, answered once.
    pub async fn replace(
        &self,
        user: Uuid,
        id: Uuid,
        mut spec: AlertSpec,
    ) -> Result<(Alert, Option<String>), ApiError> {
        let old = self.inner.store.get(user, id).await?.ok_or_else(not_found)?;
        let allowance = self.inner.plans.check(Some(user), Action::KeepAlert).await?;
        let script_name = self.check(user, &mut spec).await?;
        let now = now_ms();
        let (secret, new_secret) = match (&spec.channels.webhook, &old.webhook_secret) {
            (None, _) => (None, None),
            (Some(_), Some(kept)) => (Some(kept.clone()), None),
            (Some(_), None) => {
                let made = webhook::new_secret();
                (Some(made.clone()), Some(made))
            }
        };
        let mut model = model_of(id, user, &spec, secret, old.created_at);
        model.firings = old.firings;
        model.last_fired_at = old.last_fired_at;
        model.unsubscribe_token = old.unsubscribe_token;
        model.updated_at = now;
        match self.inner.store.replace(model.clone(), allowance.limit).await? {
            None => return Err(not_found()),
            Some(store::Added::Full) => return Err(allowance.refused()),
            Some(store::Added::Yes) => {}
        }
        self.forget_index(&old.symbol, old.interval.parse().unwrap_or(spec.interval));
        self.forget_index(&spec.symbol.to_string(), spec.interval);
        Ok((
            view_of(model, script_name).ok_or_else(|| anyhow::anyhow!("an alert does not read"))?,
            new_secret,
        ))
    }

    /// Pauses, resumes or moves an alert.
    pub async fn patch(
        &self,
        user: Uuid,
        id: Uuid,
        patch: inchart_api::alerts::AlertPatch,
    ) -> Result<Alert, ApiError> {
        let old = self.inner.store.get(user, id).await?.ok_or_else(not_found)?;
        let mut spec = spec_of(&old).ok_or_else(|| anyhow::anyhow!("an alert does not read"))?;
        if let Some(condition) = patch.condition {
            if condition.is_price() != spec.condition.is_price() {
                return Err(ApiError::invalid(
                    "condition",
                    "A price alert stays a price alert.",
                ));
            }
            spec.condition = condition;
        }
        let mut script_name = None;
        // Only what changed is checked again: a paused alert with a webhook
        // is resumed without resolving its host twice.
        if spec.condition
            != spec_of(&old)
                .map(|s| s.condition)
                .unwrap_or(spec.condition.clone())
        {
            let mut only_condition = spec.clone();
            only_condition.channels = Channels {
                webhook: None,
                email: true,
                push: false,
            };
            only_condition.expires_at = None;
            script_name = self.check(user, &mut only_condition).await?;
        }
        let mut model = old.clone();
        model.condition = serde_json::to_string(&spec.condition).map_err(anyhow::Error::from)?;
        model.updated_at = now_ms();
        match patch.paused {
            Some(true) => {
                model.state = AlertState::Paused.as_str().into();
                model.paused_reason = None;
            }
            Some(false) => {
                model.state = AlertState::Active.as_str().into();
                model.paused_reason = None;
                model.failures = 0;
                if model.expires_at.is_some_and(|at| at <= now_ms()) {
                    return Err(ApiError::invalid(
                        "expires_at",
                        "This alert has expired; give it a later expiry.",
                    ));
                }
            }
            None => {}
        }
        let allowance = self.inner.plans.check(Some(user), Action::KeepAlert).await?;
        match self.inner.store.replace(model.clone(), allowance.limit).await? {
            None => return Err(not_found()),
            Some(store::Added::Full) => return Err(allowance.refused()),
            Some(store::Added::Yes) => {}
        }
        self.forget_index(&model.symbol, spec.interval);
        if script_name.is_none() {
            script_name = self.script_name(user, &model).await;
        }
        Ok(view_of(model, script_name).ok_or_else(|| anyhow::anyhow!("an alert does not read"))?)
    }

    async fn script_name(&self, user: Uuid, model: &alert::Model) -> Option<String> {
        let id = model.script_id?;
        self.inner
            .scripts
            .runnable(user, id, None)
            .await
            .ok()
            .flatten()
            .map(|r| r.name)
    }

    pub async fn delete(&self, user: Uuid, id: Uuid) -> Result<(), ApiError> {
        let old = self.inner.store.get(user, id).await?.ok_or_else(not_found)?;
        self.inner.store.delete(user, id).await?;
        self.forget_index(&old.symbol, old.interval.parse().unwrap_or(Interval::M1));
        Ok(())
    }

    pub async fn get(&self, user: Uuid, id: Uuid) -> Result<Alert, ApiError> {
        let model = self.inner.store.get(user, id).await?.ok_or_else(not_found)?;
        let name = self.script_name(user, &model).await;
        view_of(model, name).ok_or_else(|| anyhow::anyhow!("an alert does not read").into())
    }

    pub async fn list(&self, user: Uuid, series: Option<(&str, &str)>) -> Result<Vec<Alert>, ApiError> {
        let models = self.inner.store.list(user, series).await?;
        let names = if models.iter().any(|m| m.script_id.is_some()) {
            self.inner.scripts.names_of(user).await?
        } else {
            HashMap::new()
        };
        Ok(models
            .into_iter()
            .filter_map(|model| {
                let name = model.script_id.and_then(|id| names.get(&id).cloned());
                view_of(model, name)
            })
            .collect())
    }

    /// The alert's newest firings, with every delivery and attempt.
    pub async fn firings(&self, user: Uuid, id: Uuid) -> Result<Vec<inchart_api::alerts::Firing>, ApiError> {
        self.inner.store.get(user, id).await?.ok_or_else(not_found)?;
        Ok(self.inner.store.firings(id, 50).await?)
    }

    /// Sends a firing again on the alert's channels, now.
    pub async fn resend(
        &self,
        user: Uuid,
        id: Uuid,
        firing: Uuid,
    ) -> Result<inchart_api::alerts::Firing, ApiError> {
        let model = self.inner.store.get(user, id).await?.ok_or_else(not_found)?;
        self.inner
            .store
            .firing(id, firing)
            .await?
            .ok_or_else(|| ApiError::NotFound("This alert has no such firing.".into()))?;
        let channels = channels_of(&model);
        if channels.is_empty() {
            return Err(ApiError::invalid(
                "channels",
                "This alert goes nowhere now; add a channel first.",
            ));
        }
        self.inner
            .store
            .resend(&model, firing, &channels, now_ms())
            .await?;
        self.deliver_due_now();
        self.inner
            .store
            .firing(id, firing)
            .await?
            .ok_or_else(|| ApiError::NotFound("This alert has no such firing.".into()))
    }

    /// Keeps a browser's push subscription.
    pub async fn subscribe_push(
        &self,
        user: Uuid,
        subscription: &inchart_api::alerts::PushSubscription,
    ) -> Result<(), ApiError> {
        let endpoint = webhook::check_url(&subscription.endpoint, self.inner.settings.allow_loopback)
            .await
            .map_err(|message| ApiError::invalid("endpoint", message))?;
        if endpoint.scheme() != "https" && !self.inner.settings.allow_loopback {
            return Err(ApiError::invalid(
                "endpoint",
                "A push service is reached over https.",
            ));
        }
        push::check_subscription(subscription)
            .map_err(|error| ApiError::invalid("endpoint", format!("{error:#}")))?;
        let key_ok = |raw: &str, len: usize| {
            URL_SAFE_NO_PAD
                .decode(raw.trim_end_matches('='))
                .is_ok_and(|k| k.len() == len)
        };
        if !key_ok(&subscription.keys.p256dh, 65) {
            return Err(ApiError::invalid(
                "keys.p256dh",
                "p256dh is a P-256 public key in base64url.",
            ));
        }
        if !key_ok(&subscription.keys.auth, 16) {
            return Err(ApiError::invalid("keys.auth", "auth is 16 bytes in base64url."));
        }
        self.inner.store.subscribe(user, subscription, now_ms()).await?;
        Ok(())
    }

    pub async fn unsubscribe_push(&self, user: Uuid, endpoint: &str) -> Result<(), ApiError> {
        self.inner.store.unsubscribe_push(Some(user), endpoint).await?;
        Ok(())
    }

    /// Turns an alert's email off, when `token` is its unsubscribe token.
    pub async fn unsubscribe_email(&self, id: Uuid, token: &str) -> anyhow::Result<Option<String>> {
        let Some(model) = self.inner.store.by_id(id).await? else {
            return Ok(None);
        };
        let matches: bool =
            subtle::ConstantTimeEq::ct_eq(model.unsubscribe_token.as_bytes(), token.as_bytes()).into();
        if !matches {
            return Ok(None);
        }
        self.inner.store.unsubscribe(id, now_ms()).await?;
        let spec = spec_of(&model);
        Ok(Some(spec.map_or_else(String::new, |spec| {
            format!("{} {} {}", spec.symbol, spec.interval, spec.condition.describe())
        })))
    }

    /// Expires alerts past their expiry, every few seconds.
    pub async fn housekeeping(self) {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            match self.inner.store.expire(now_ms()).await {
                Ok(0) => {}
                Ok(expired) => {
                    tracing::info!(expired, "alerts expired");
                    self.inner.index.lock().unwrap_or_else(|e| e.into_inner()).clear();
                }
                Err(error) => tracing::warn!(error = format!("{error:#}"), "could not expire alerts"),
            }
        }
    }
}

fn not_found() -> ApiError {
    ApiError::NotFound("There is no such alert in your account.".into())
}

/// The channels an alert has now.
pub fn channels_of(model: &alert::Model) -> Vec<Channel> {
    let mut channels = Vec::new();
    if model.webhook_url.is_some() {
        channels.push(Channel::Webhook);
    }
    if model.email {
        channels.push(Channel::Email);
    }
    if model.push {
        channels.push(Channel::Push);
    }
    channels
}

fn model_of(id: Uuid, user: Uuid, spec: &AlertSpec, secret: Option<String>, created_at: i64) -> alert::Model {
    let script_id = match &spec.condition {
        Condition::Script { script_id, .. } => Uuid::parse_str(script_id).ok(),
        _ => None,
    };
    alert::Model {
        id,
        user_id: user,
        symbol: spec.symbol.to_string(),
        interval: spec.interval.as_str().to_string(),
        condition: serde_json::to_string(&spec.condition).unwrap_or_default(),
        script_id,
        source: match spec.source {
            PriceSource::Close => "close",
            PriceSource::Forming => "forming",
        }
        .into(),
        repeat: match spec.repeat {
            Repeat::Once => "once",
            Repeat::EveryTime => "every_time",
        }
        .into(),
        expires_at: spec.expires_at,
        webhook_url: spec.channels.webhook.as_ref().map(|w| w.url.clone()),
        webhook_template: spec.channels.webhook.as_ref().and_then(|w| w.template.clone()),
        webhook_secret: secret,
        email: spec.channels.email,
        push: spec.channels.push,
        state: AlertState::Active.as_str().into(),
        paused_reason: None,
        failures: 0,
        unsubscribe_token: URL_SAFE_NO_PAD.encode(crate::auth::tokens::random_bytes::<24>()),
        firings: 0,
        last_fired_at: None,
        created_at,
        updated_at: created_at,
    }
}

/// What a stored alert watches and where it goes; `None` when a row does
/// not read (a symbol or interval no longer known).
pub fn spec_of(model: &alert::Model) -> Option<AlertSpec> {
    Some(AlertSpec {
        symbol: inchart_api::market::Symbol::parse(&model.symbol).ok()?,
        interval: model.interval.parse().ok()?,
        condition: serde_json::from_str(&model.condition).ok()?,
        source: if model.source == "forming" {
            PriceSource::Forming
        } else {
            PriceSource::Close
        },
        repeat: if model.repeat == "every_time" {
            Repeat::EveryTime
        } else {
            Repeat::Once
        },
        expires_at: model.expires_at,
        channels: Channels {
            webhook: model.webhook_url.as_ref().map(|url| Webhook {
                url: url.clone(),
                template: model.webhook_template.clone(),
            }),
            email: model.email,
            push: model.push,
        },
    })
}

fn view_of(model: alert::Model, script_name: Option<String>) -> Option<Alert> {
    Some(Alert {
        id: model.id.to_string(),
        spec: spec_of(&model)?,
        state: AlertState::parse(&model.state)?,
        paused_reason: model.paused_reason,
        script_name,
        created_at: model.created_at,
        last_fired_at: model.last_fired_at,
        firings: model.firings.max(0) as u32,
    })
}
