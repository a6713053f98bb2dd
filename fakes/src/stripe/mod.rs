//! A local fake of Stripe Billing as InChart uses it: customers, Checkout
//! Sessions in subscription mode, customer-portal sessions, subscriptions,
//! invoices and prices over Stripe's REST API (`/v1/...`, form-encoded
//! bodies in bracket notation, JSON answers and Stripe's error objects),
//! signed webhook events, and plain hosted pages a browser or a developer
//! can click through (`/c/pay/<session>` for Checkout, `/p/session/<id>`
//! for the portal, `/i/<invoice>` for an invoice).
//!
//! Policies:
//! - It binds 127.0.0.1 only.
//! - It renders one API version, [`API_VERSION`] (async-stripe 1.0.0-rc.10's):
//!   a request whose `Stripe-Version` names another is refused (400), since
//!   the objects it answers would have another version's shape.
//! - Stricter than Stripe where a client would be wrong to rely on more: a
//!   parameter the fake does not implement is refused as Stripe refuses an
//!   unknown one ("Received unknown parameter"), and Checkout takes
//!   `mode=subscription` with exactly one line item.
//! - Idempotency is Stripe's: a POST's `Idempotency-Key` is kept with the
//!   request and its successful answer; the same key with the same method,
//!   path and parameters replays that answer unchanged (`Idempotent-Replayed:
//!   true`) and changes nothing, and with anything else is a 400
//!   `idempotency_error`. An error is not kept (the corrected request may
//!   reuse the key); GET and DELETE ignore keys, as on Stripe.
//! - Time is the fake's own clock ([`FakeStripe::now`], [`FakeStripe::advance`]),
//!   which starts at the real time. Nothing happens by itself as it passes:
//!   a test moves a subscription through its life with the lifecycle actions
//!   ([`FakeStripe::complete_checkout`], [`FakeStripe::renew`], ...), each of
//!   which changes state as Stripe would and emits Stripe's events in
//!   Stripe's order. Every event is created at least one second after the
//!   one before it (the clock moves on if needed), so `created` orders them.
//! - Delivery: with `auto_deliver` and a webhook URL, events are POSTed one
//!   at a time, in the order they were emitted, signed with the webhook
//!   secret. The lifecycle actions and the hosted pages' buttons wait until
//!   their events are delivered before they return (so the server has seen
//!   them when the browser lands on the success URL); events an API call
//!   causes (`customer.created`, a DELETE's `customer.subscription.deleted`)
//!   are delivered after its answer, as Stripe does, and
//!   [`FakeStripe::settle`] waits for them. A failed delivery is recorded
//!   (status 0 when there was no HTTP answer) and not retried;
//!   [`FakeStripe::deliver`] sends an event again.
//! - Everything a test can observe (objects, events, requests, deliveries)
//!   is updated before the call that caused it returns.

mod api;
mod calendar;
mod hosted;
mod lifecycle;
mod objects;
mod webhook;

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use serde_json::Value;
use tokio::task::JoinHandle;

use self::api::{ApiError, Replay};
use self::objects::{CheckoutSession, Customer, Invoice, PortalSession, Price, Subscription};
use self::webhook::Outbox;
pub use self::webhook::sign_with;
use crate::seeded::Rng;

/// The API version the fake renders, and the one async-stripe 1.0.0-rc.10 sends.
pub const API_VERSION: &str = "2026-09-30.endive";

/// How often a price bills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Month,
    Year,
}

impl Interval {
    /// Stripe's name: `month` or `year`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Month => "month",
            Self::Year => "year",
        }
    }
}

/// A recurring price the fake sells (its product is named `product_name`;
/// prices with the same product name share one product).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakePrice {
    /// The price id the server is configured with, e.g. `price_pro_monthly`.
    pub id: String,
    /// In the currency's smallest unit (cents).
    pub unit_amount: i64,
    /// Lower case ISO code, e.g. `usd`.
    pub currency: String,
    pub interval: Interval,
    pub product_name: String,
}

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct FakeStripeConfig {
    /// The only API key accepted (`Authorization: Bearer <key>`).
    pub secret_key: String,
    /// The webhook endpoint's signing secret (`whsec_...`).
    pub webhook_secret: String,
    /// Where events are POSTed; settable later with [`FakeStripe::set_webhook_url`].
    pub webhook_url: Option<String>,
    /// Deliver every event as it is emitted (see the module's policies).
    pub auto_deliver: bool,
    pub prices: Vec<FakePrice>,
}

impl Default for FakeStripeConfig {
    /// `sk_test_inchart`, `whsec_inchart`, auto delivery (once a webhook URL
    /// is set), and InChart Pro at $19 a month or $190 a year.
    fn default() -> Self {
        let pro = |id: &str, unit_amount, interval| FakePrice {
            id: id.to_owned(),
            unit_amount,
            currency: "usd".to_owned(),
            interval,
            product_name: "InChart Pro".to_owned(),
        };
        Self {
            secret_key: "sk_test_inchart".to_owned(),
            webhook_secret: "whsec_inchart".to_owned(),
            webhook_url: None,
            auto_deliver: true,
            prices: vec![
                pro("price_pro_monthly", 1900, Interval::Month),
                pro("price_pro_yearly", 19000, Interval::Year),
            ],
        }
    }
}

/// One API request as the fake saw it (hosted pages are not logged here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeRequest {
    /// `GET`, `POST` or `DELETE`.
    pub method: String,
    /// E.g. `/v1/checkout/sessions`.
    pub path: String,
    pub idempotency_key: Option<String>,
    /// The query's and the form body's pairs, keys decoded
    /// (`line_items[0][price]`), in the order sent.
    pub params: Vec<(String, String)>,
    /// The `Stripe-Version` header, if sent.
    pub stripe_version: Option<String>,
    /// The HTTP status answered.
    pub status: u16,
}

impl StripeRequest {
    /// The first value sent for `key`.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }
}

/// One event the fake emitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeEvent {
    /// `evt_...`.
    pub id: String,
    /// E.g. `invoice.paid`.
    pub type_: String,
    /// The fake clock when it was emitted.
    pub created: i64,
    /// The exact JSON body Stripe would POST.
    pub payload: String,
}

impl FakeEvent {
    /// `data.object` of the payload: the object as it was when the event happened.
    pub fn object(&self) -> Value {
        serde_json::from_str::<Value>(&self.payload)
            .ok()
            .and_then(|mut event| event.pointer_mut("/data/object").map(Value::take))
            .unwrap_or(Value::Null)
    }
}

/// The API request behind an event (`request` in its envelope).
#[derive(Debug, Clone, Default)]
struct EventRequest {
    id: Option<String>,
    idempotency_key: Option<String>,
}

/// Stripe-looking random ids (`cus_NZKdYqrwEYx6iK`), unique per fake and
/// unlikely to repeat across runs, so a developer's database kept between
/// runs of `fake-stripe` does not meet an old id again.
#[derive(Debug)]
struct Ids {
    rng: Rng,
}

impl Ids {
    fn seeded() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|since| since.as_nanos())
            .unwrap_or(0);
        Self {
            rng: Rng::from_state((nanos as u64) ^ (u64::from(std::process::id()) << 32)),
        }
    }

    /// `prefix` and `len` random letters and digits.
    fn next(&mut self, prefix: &str, len: usize) -> String {
        const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut id = String::with_capacity(prefix.len() + len);
        id.push_str(prefix);
        for _ in 0..len {
            id.push(char::from(ALPHABET[(self.rng.next_u64() % 62) as usize]));
        }
        id
    }
}

fn wall_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| i64::try_from(since.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Takes a lock even if a panicking test thread poisoned it: the fake's state
/// stays usable, and the panic itself is what the test reports.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Everything the fake knows, behind one lock: an API call or a lifecycle
/// action runs start to finish under it.
#[derive(Debug)]
struct State {
    /// `http://127.0.0.1:PORT`, for the URLs objects carry.
    base_url: String,
    webhook_url: Option<String>,
    clock_offset: i64,
    last_event_created: i64,
    ids: Ids,
    /// The one portal configuration (`bpc_...`) every portal session uses.
    portal_configuration: String,
    prices: Vec<Price>,
    customers: Vec<Customer>,
    checkout_sessions: Vec<CheckoutSession>,
    portal_sessions: Vec<PortalSession>,
    subscriptions: Vec<Subscription>,
    invoices: Vec<Invoice>,
    events: Vec<FakeEvent>,
    requests: Vec<StripeRequest>,
    idempotency: HashMap<String, Replay>,
    deliveries: Vec<(String, u16)>,
}

impl State {
    fn now(&self) -> i64 {
        wall_seconds() + self.clock_offset
    }

    /// Moves the clock forward to `at` (never back).
    fn move_clock_to(&mut self, at: i64) {
        let now = self.now();
        if at > now {
            self.clock_offset += at - now;
        }
    }

    /// Records an event about `object` (its snapshot now) and returns it.
    fn emit(
        &mut self,
        type_: &str,
        object: Value,
        previous_attributes: Option<Value>,
        request: &EventRequest,
    ) -> FakeEvent {
        let created = self.now().max(self.last_event_created + 1);
        self.move_clock_to(created);
        self.last_event_created = created;
        let id = self.ids.next("evt_1", 23);
        let payload = webhook::envelope(&id, type_, created, object, previous_attributes, request);
        let event = FakeEvent {
            id,
            type_: type_.to_owned(),
            created,
            payload,
        };
        self.events.push(event.clone());
        event
    }

    fn price(&self, id: &str) -> Option<&Price> {
        self.prices.iter().find(|price| price.id == id)
    }

    fn customer(&self, id: &str) -> Option<&Customer> {
        self.customers.iter().find(|customer| customer.id == id)
    }

    fn customer_json(&self, id: &str) -> Option<Value> {
        self.customer(id).map(Customer::json)
    }

    fn checkout_session_json(&self, id: &str) -> Option<Value> {
        self.checkout_sessions
            .iter()
            .find(|session| session.id == id)
            .map(|session| session.json(&self.base_url))
    }

    fn portal_session_json(&self, id: &str) -> Option<Value> {
        self.portal_sessions
            .iter()
            .find(|session| session.id == id)
            .map(|session| session.json(&self.base_url))
    }

    fn subscription_json(&self, id: &str) -> Option<Value> {
        self.subscriptions
            .iter()
            .find(|subscription| subscription.id == id)
            .map(Subscription::json)
    }

    fn invoice_json(&self, id: &str) -> Option<Value> {
        self.invoices
            .iter()
            .find(|invoice| invoice.id == id)
            .map(|invoice| invoice.json(&self.base_url))
    }

    /// Any object the fake holds, by id (for `expand`).
    fn object_json(&self, id: &str) -> Option<Value> {
        self.customer_json(id)
            .or_else(|| self.subscription_json(id))
            .or_else(|| self.invoice_json(id))
            .or_else(|| self.checkout_session_json(id))
            .or_else(|| self.price(id).map(Price::json))
            .or_else(|| {
                self.prices
                    .iter()
                    .find(|price| price.product == id)
                    .map(Price::product_json)
            })
    }
}

/// State shared by the handle, the HTTP handlers and the delivery task.
#[derive(Debug)]
struct Shared {
    secret_key: String,
    webhook_secret: String,
    auto_deliver: bool,
    state: Mutex<State>,
    outbox: Outbox,
    http: reqwest::Client,
}

impl Shared {
    /// Runs one lifecycle step under the lock, then (with auto delivery)
    /// delivers its events and waits until they are.
    async fn act(
        &self,
        step: impl FnOnce(&mut State) -> Result<Vec<FakeEvent>, ApiError>,
    ) -> Result<Vec<FakeEvent>, ApiError> {
        let (events, target) = {
            let mut state = lock(&self.state);
            let events = step(&mut state)?;
            (events, state.webhook_url.clone())
        };
        if let Some(delivered) = self.queue(&events, target) {
            // The task only goes away with the fake.
            let _ = delivered.await;
        }
        Ok(events)
    }

    /// Queues `events` for delivery to `target` if the fake delivers by
    /// itself; the receiver fires once the last has been sent.
    fn queue(
        &self,
        events: &[FakeEvent],
        target: Option<String>,
    ) -> Option<tokio::sync::oneshot::Receiver<()>> {
        let target = target.filter(|_| self.auto_deliver && !events.is_empty())?;
        Some(self.outbox.push(events, &target))
    }
}

/// A running fake Stripe. Dropping it (or [`FakeStripe::shutdown`]) stops
/// the server and any delivery in flight.
#[derive(Debug)]
pub struct FakeStripe {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl FakeStripe {
    /// Starts the fake on 127.0.0.1 on a free port.
    pub async fn start(config: FakeStripeConfig) -> anyhow::Result<FakeStripe> {
        Self::start_on(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
    }

    /// Starts the fake on `listen`, which must be on 127.0.0.1 (port 0 picks
    /// a free one). For the `fake-stripe` binary and fixed-port setups.
    pub async fn start_on(config: FakeStripeConfig, listen: SocketAddr) -> anyhow::Result<FakeStripe> {
        // Its webhook client (and a test's Stripe client) speak TLS through
        // rustls; with more than one provider in the build, ring is chosen.
        let _ = rustls::crypto::ring::default_provider().install_default();
        anyhow::ensure!(
            listen.ip() == Ipv4Addr::LOCALHOST,
            "the fake Stripe listens on 127.0.0.1 only, not {listen}; use 127.0.0.1:{}",
            listen.port()
        );
        anyhow::ensure!(
            config.secret_key.starts_with("sk_test_"),
            "the fake Stripe's secret key must be a test key (sk_test_...), not {:?}",
            config.secret_key
        );
        anyhow::ensure!(
            !config.webhook_secret.is_empty(),
            "the fake Stripe needs a webhook secret"
        );
        for (index, price) in config.prices.iter().enumerate() {
            anyhow::ensure!(
                !price.id.is_empty() && config.prices[..index].iter().all(|other| other.id != price.id),
                "price ids must be unique and not empty: {:?}",
                price.id
            );
            anyhow::ensure!(price.unit_amount >= 0, "price {} has a negative amount", price.id);
            anyhow::ensure!(
                price.currency.len() == 3 && price.currency.bytes().all(|b| b.is_ascii_lowercase()),
                "price {}'s currency must be a lower case ISO code like usd, not {:?}",
                price.id,
                price.currency
            );
        }
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("while binding {listen}"))?;
        let addr = listener.local_addr().context("while reading the bound address")?;
        let now = wall_seconds();
        let mut ids = Ids::seeded();
        let mut products: BTreeMap<String, String> = BTreeMap::new();
        let prices = config
            .prices
            .iter()
            .map(|price| Price {
                id: price.id.clone(),
                product: products
                    .entry(price.product_name.clone())
                    .or_insert_with(|| ids.next("prod_", 14))
                    .clone(),
                product_name: price.product_name.clone(),
                unit_amount: price.unit_amount,
                currency: price.currency.clone(),
                interval: price.interval,
                created: now,
            })
            .collect();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .no_proxy()
            .build()
            .context("while building the webhook client")?;
        let (outbox, jobs) = Outbox::new();
        let state = State {
            base_url: format!("http://{addr}"),
            webhook_url: config.webhook_url,
            clock_offset: 0,
            last_event_created: 0,
            portal_configuration: ids.next("bpc_1", 23),
            ids,
            prices,
            customers: Vec::new(),
            checkout_sessions: Vec::new(),
            portal_sessions: Vec::new(),
            subscriptions: Vec::new(),
            invoices: Vec::new(),
            events: Vec::new(),
            requests: Vec::new(),
            idempotency: HashMap::new(),
            deliveries: Vec::new(),
        };
        let shared = Arc::new(Shared {
            secret_key: config.secret_key,
            webhook_secret: config.webhook_secret,
            auto_deliver: config.auto_deliver,
            state: Mutex::new(state),
            outbox,
            http,
        });
        let router = api::router(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(%error, "fake stripe: the server stopped");
            }
        });
        let deliverer = tokio::spawn(webhook::run(Arc::downgrade(&shared), jobs));
        tracing::debug!(%addr, "fake stripe started");
        Ok(FakeStripe {
            shared,
            tasks: vec![server, deliverer],
        })
    }

    /// The API base and the hosted pages' origin: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        lock(&self.shared.state).base_url.clone()
    }

    /// Where events go from now on (`None`: nowhere, they are only recorded).
    pub fn set_webhook_url(&self, url: Option<String>) {
        lock(&self.shared.state).webhook_url = url;
    }

    /// The fake's clock, Unix seconds: the wall clock plus whatever
    /// [`FakeStripe::advance`] and the lifecycle actions added.
    pub fn now(&self) -> i64 {
        lock(&self.shared.state).now()
    }

    /// Moves the fake's clock forward by `secs` (a negative value does nothing).
    pub fn advance(&self, secs: i64) {
        let mut state = lock(&self.shared.state);
        state.clock_offset += secs.max(0);
    }

    /// Every API request so far, oldest first.
    pub fn requests(&self) -> Vec<StripeRequest> {
        lock(&self.shared.state).requests.clone()
    }

    /// Every customer as the API would answer it, oldest first.
    pub fn customers(&self) -> Vec<Value> {
        lock(&self.shared.state)
            .customers
            .iter()
            .map(Customer::json)
            .collect()
    }

    pub fn customer(&self, id: &str) -> Option<Value> {
        lock(&self.shared.state).customer_json(id)
    }

    /// Every Checkout Session as the API would answer it, oldest first.
    pub fn checkout_sessions(&self) -> Vec<Value> {
        let state = lock(&self.shared.state);
        state
            .checkout_sessions
            .iter()
            .map(|session| session.json(&state.base_url))
            .collect()
    }

    pub fn checkout_session(&self, id: &str) -> Option<Value> {
        lock(&self.shared.state).checkout_session_json(id)
    }

    /// Every customer-portal session, oldest first.
    pub fn portal_sessions(&self) -> Vec<Value> {
        let state = lock(&self.shared.state);
        state
            .portal_sessions
            .iter()
            .map(|session| session.json(&state.base_url))
            .collect()
    }

    /// Every subscription (canceled ones too), oldest first.
    pub fn subscriptions(&self) -> Vec<Value> {
        lock(&self.shared.state)
            .subscriptions
            .iter()
            .map(Subscription::json)
            .collect()
    }

    pub fn subscription(&self, id: &str) -> Option<Value> {
        lock(&self.shared.state).subscription_json(id)
    }

    /// Every invoice, oldest first.
    pub fn invoices(&self) -> Vec<Value> {
        let state = lock(&self.shared.state);
        state
            .invoices
            .iter()
            .map(|invoice| invoice.json(&state.base_url))
            .collect()
    }

    pub fn invoice(&self, id: &str) -> Option<Value> {
        lock(&self.shared.state).invoice_json(id)
    }

    /// The customer pays on the hosted Checkout page: Checkout makes the
    /// customer if the session had none (`customer.created`), then the
    /// subscription, active for now..now+interval, and its first invoice,
    /// paid, and completes the session. Emits `customer.subscription.created`,
    /// `invoice.created`, `invoice.finalized`, `invoice.paid`,
    /// `invoice.payment_succeeded`, `checkout.session.completed`.
    pub async fn complete_checkout(&self, session_id: &str) -> anyhow::Result<Vec<FakeEvent>> {
        self.shared
            .act(|state| state.complete_checkout(session_id))
            .await
            .with_context(|| format!("while completing Checkout Session {session_id}"))
    }

    /// The period ends and the renewal is paid: the clock moves to the
    /// period's end if it is before it, the next period starts, and its
    /// invoice is paid. Emits `customer.subscription.updated` (the items'
    /// periods, `latest_invoice`), `invoice.created`, `invoice.finalized`,
    /// `invoice.paid`, `invoice.payment_succeeded`.
    pub async fn renew(&self, subscription_id: &str) -> anyhow::Result<Vec<FakeEvent>> {
        self.shared
            .act(|state| state.renew(subscription_id))
            .await
            .with_context(|| format!("while renewing {subscription_id}"))
    }

    /// The period ends and the renewal payment fails. On an active
    /// subscription: the next period starts (clock as in [`FakeStripe::renew`]),
    /// its invoice stays open after a failed attempt, and the subscription
    /// goes `past_due`: `customer.subscription.updated` (periods),
    /// `invoice.created`, `invoice.finalized`, `invoice.payment_failed`,
    /// `customer.subscription.updated` (status). On a `past_due` one: a
    /// retry of the open invoice fails, `invoice.payment_failed` only.
    pub async fn fail_payment(&self, subscription_id: &str) -> anyhow::Result<Vec<FakeEvent>> {
        self.shared
            .act(|state| state.fail_payment(subscription_id))
            .await
            .with_context(|| format!("while failing a payment of {subscription_id}"))
    }

    /// A `past_due` subscription's open invoice gets paid: `invoice.paid`,
    /// `invoice.payment_succeeded`, `customer.subscription.updated` (active).
    pub async fn recover(&self, subscription_id: &str) -> anyhow::Result<Vec<FakeEvent>> {
        self.shared
            .act(|state| state.recover(subscription_id))
            .await
            .with_context(|| format!("while recovering {subscription_id}"))
    }

    /// Sets (or, with `false`, undoes) cancellation at the period's end, as
    /// the portal's "Cancel plan" / "Renew plan" do: `cancel_at_period_end`,
    /// `cancel_at` (the period's end), `canceled_at` (now) and
    /// `cancellation_details.reason` change, and `customer.subscription.updated`
    /// is emitted; nothing is emitted when nothing changes.
    pub async fn cancel_at_period_end(
        &self,
        subscription_id: &str,
        cancel: bool,
    ) -> anyhow::Result<Vec<FakeEvent>> {
        self.shared
            .act(|state| state.set_cancel_at_period_end(subscription_id, cancel, &EventRequest::default()))
            .await
            .with_context(|| format!("while setting cancel_at_period_end={cancel} on {subscription_id}"))
    }

    /// A subscription set to cancel reaches its `cancel_at`: the clock moves
    /// there if it is before, and the subscription ends (status `canceled`,
    /// `ended_at`): `customer.subscription.deleted`.
    pub async fn end_period(&self, subscription_id: &str) -> anyhow::Result<Vec<FakeEvent>> {
        self.shared
            .act(|state| state.end_period(subscription_id))
            .await
            .with_context(|| format!("while ending the period of {subscription_id}"))
    }

    /// Cancels at once, as `DELETE /v1/subscriptions/{id}` does (status
    /// `canceled`, `canceled_at` and `ended_at` now):
    /// `customer.subscription.deleted`.
    pub async fn delete_subscription(&self, subscription_id: &str) -> anyhow::Result<Vec<FakeEvent>> {
        self.shared
            .act(|state| {
                state
                    .cancel_now(subscription_id, None, None, &EventRequest::default())
                    .map(|(_, events)| events)
            })
            .await
            .with_context(|| format!("while deleting {subscription_id}"))
    }

    /// Every event emitted so far, in order.
    pub fn events(&self) -> Vec<FakeEvent> {
        lock(&self.shared.state).events.clone()
    }

    /// The `Stripe-Signature` header for `payload` signed at `timestamp`
    /// with the webhook secret.
    pub fn sign(&self, payload: &str, timestamp: i64) -> String {
        sign_with(&self.shared.webhook_secret, payload, timestamp)
    }

    /// POSTs `event` to the webhook URL now, signed at the real time, and
    /// returns the HTTP status (the delivery is recorded either way).
    pub async fn deliver(&self, event: &FakeEvent) -> anyhow::Result<u16> {
        let target = lock(&self.shared.state)
            .webhook_url
            .clone()
            .context("no webhook URL is set; call set_webhook_url first")?;
        self.shared.post_event(event, &target).await
    }

    /// Every delivery attempt so far: the event's id and the HTTP status
    /// (0 when no answer came), oldest first.
    pub fn deliveries(&self) -> Vec<(String, u16)> {
        lock(&self.shared.state).deliveries.clone()
    }

    /// Waits until every event queued for delivery so far has been sent.
    pub async fn settle(&self) {
        self.shared.outbox.settled().await;
    }

    /// Stops everything and waits for the server to end.
    pub async fn shutdown(mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for FakeStripe {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
