//! The fake Stripe as its clients see it: the real async-stripe client
//! (the library the server uses) against its API, stripe-webhook against
//! its events, and reqwest against its hosted pages and raw wire format.

// A test's helpers fail the test by panicking, like its assertions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use inchart_fakes::stripe::{API_VERSION, FakeEvent, FakeStripe, FakeStripeConfig, sign_with};
use serde_json::Value;
use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest as _};
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_billing::invoice::{ListInvoice, RetrieveInvoice};
use stripe_billing::subscription::{CancelSubscription, RetrieveSubscription};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionSubscriptionData,
    RetrieveCheckoutSession,
};
use stripe_core::customer::CreateCustomer;
use stripe_product::price::RetrievePrice;
use stripe_shared::{
    CheckoutSessionMode, CheckoutSessionPaymentStatus, CheckoutSessionStatus, InvoiceStatus,
    RecurringInterval, SubscriptionStatus,
};
use stripe_webhook::{EventObject, Webhook, WebhookError};

const SECRET: &str = "whsec_inchart";

async fn start() -> FakeStripe {
    FakeStripe::start(FakeStripeConfig::default()).await.unwrap()
}

fn client(fake: &FakeStripe) -> Client {
    ClientBuilder::new("sk_test_inchart")
        .url(fake.url())
        .build()
        .unwrap()
}

fn key(key: &str) -> RequestStrategy {
    RequestStrategy::Idempotent(IdempotencyKey::new(key).unwrap())
}

fn real_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn types(events: &[FakeEvent]) -> Vec<&str> {
    events.iter().map(|event| event.type_.as_str()).collect()
}

fn stripe_error(error: StripeError) -> (Box<stripe::ApiErrors>, u16) {
    match error {
        StripeError::Stripe(error, status) => (error, status),
        other => panic!("expected an error from Stripe, got {other:?}"),
    }
}

async fn create_customer(client: &Client, email: &str, idempotency: &str) -> stripe_shared::Customer {
    CreateCustomer::new()
        .email(email)
        .metadata(HashMap::from([("user_id".to_owned(), "7".to_owned())]))
        .customize()
        .request_strategy(key(idempotency))
        .send(client)
        .await
        .unwrap()
}

fn new_session(customer: &str, price: &str) -> CreateCheckoutSession {
    let mut line = CreateCheckoutSessionLineItems::new();
    line.price = Some(price.to_owned());
    line.quantity = Some(1);
    let mut subscription_data = CreateCheckoutSessionSubscriptionData::new();
    subscription_data.metadata = Some(HashMap::from([("user_id".to_owned(), "7".to_owned())]));
    CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Subscription)
        .customer(customer)
        .client_reference_id("7")
        .line_items(vec![line])
        .success_url("http://127.0.0.1:3000/billing/success?session_id={CHECKOUT_SESSION_ID}")
        .cancel_url("http://127.0.0.1:3000/pricing")
        .subscription_data(subscription_data)
        .metadata(HashMap::from([("user_id".to_owned(), "7".to_owned())]))
}

/// A session for a new customer, through the library.
async fn open_session(fake: &FakeStripe, client: &Client) -> stripe_shared::CheckoutSession {
    let customer = create_customer(client, "trader@example.com", &format!("customer-{}", fake.now())).await;
    new_session(customer.id.as_str(), "price_pro_monthly")
        .customize()
        .request_strategy(key(&format!("checkout-{}", customer.id.as_str())))
        .send(client)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_library_makes_every_call_inchart_makes() {
    let fake = start().await;
    let client = client(&fake);

    let customer = create_customer(&client, "trader@example.com", "customer-1").await;
    assert!(customer.id.as_str().starts_with("cus_"));
    assert_eq!(customer.email.as_deref(), Some("trader@example.com"));
    assert_eq!(
        customer.metadata.unwrap().get("user_id").map(String::as_str),
        Some("7")
    );

    let session = new_session(customer.id.as_str(), "price_pro_monthly")
        .customize()
        .request_strategy(key("checkout-1"))
        .send(&client)
        .await
        .unwrap();
    assert!(session.id.as_str().starts_with("cs_test_"));
    assert_eq!(session.status, Some(CheckoutSessionStatus::Open));
    assert_eq!(session.payment_status, CheckoutSessionPaymentStatus::Unpaid);
    assert_eq!(
        session.url.as_deref(),
        Some(format!("{}/c/pay/{}", fake.url(), session.id.as_str()).as_str())
    );
    assert_eq!(session.client_reference_id.as_deref(), Some("7"));
    assert_eq!(session.amount_total, Some(1900));

    // The wire format: bracket notation, the key, the pinned version.
    let sent = fake
        .requests()
        .into_iter()
        .find(|request| request.path == "/v1/checkout/sessions")
        .unwrap();
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.idempotency_key.as_deref(), Some("checkout-1"));
    assert_eq!(sent.stripe_version.as_deref(), Some(API_VERSION));
    assert_eq!(sent.param("line_items[0][price]"), Some("price_pro_monthly"));
    assert_eq!(sent.param("subscription_data[metadata][user_id]"), Some("7"));
    assert_eq!(sent.param("mode"), Some("subscription"));

    let events = fake.complete_checkout(session.id.as_str()).await.unwrap();
    assert_eq!(events.last().unwrap().type_, "checkout.session.completed");

    let session = RetrieveCheckoutSession::new(session.id.clone())
        .send(&client)
        .await
        .unwrap();
    assert_eq!(session.status, Some(CheckoutSessionStatus::Complete));
    assert_eq!(session.payment_status, CheckoutSessionPaymentStatus::Paid);
    assert_eq!(session.customer.as_ref().unwrap().id(), &customer.id);
    let subscription_id = session.subscription.unwrap().id().clone();

    let subscription = RetrieveSubscription::new(subscription_id.clone())
        .send(&client)
        .await
        .unwrap();
    assert_eq!(subscription.status, SubscriptionStatus::Active);
    assert_eq!(
        subscription.metadata.get("user_id").map(String::as_str),
        Some("7")
    );
    assert!(!subscription.cancel_at_period_end);
    let item = &subscription.items.data[0];
    assert_eq!(item.price.id.as_str(), "price_pro_monthly");
    let length = item.current_period_end - item.current_period_start;
    assert!(
        (28 * 86_400..=31 * 86_400).contains(&length),
        "a month, not {length} s"
    );
    // An invoice's id is optional in the library (upcoming invoices have none).
    let latest_invoice = subscription.latest_invoice.unwrap().id().clone().unwrap();

    let invoice = RetrieveInvoice::new(latest_invoice.clone())
        .send(&client)
        .await
        .unwrap();
    assert_eq!(invoice.status, Some(InvoiceStatus::Paid));
    assert_eq!(invoice.amount_paid, 1900);
    let parent = invoice.parent.unwrap().subscription_details.unwrap();
    assert_eq!(parent.subscription.id(), &subscription_id);
    assert_eq!(invoice.lines.data[0].period.end, item.current_period_end);

    let price = RetrievePrice::new("price_pro_monthly")
        .send(&client)
        .await
        .unwrap();
    assert_eq!(price.unit_amount, Some(1900));
    assert_eq!(price.recurring.unwrap().interval, RecurringInterval::Month);

    let portal = CreateBillingPortalSession::new()
        .customer(customer.id.as_str())
        .return_url("http://127.0.0.1:3000/account")
        .customize()
        .request_strategy(key("portal-1"))
        .send(&client)
        .await
        .unwrap();
    assert!(portal.id.as_str().starts_with("bps_"));
    assert_eq!(
        portal.url,
        format!("{}/p/session/{}", fake.url(), portal.id.as_str())
    );

    fake.renew(subscription_id.as_str()).await.unwrap();
    let invoices = ListInvoice::new()
        .customer(customer.id.as_str())
        .limit(10)
        .send(&client)
        .await
        .unwrap();
    assert_eq!(invoices.data.len(), 2);
    assert!(!invoices.has_more);
    assert_eq!(invoices.url, "/v1/invoices");
    assert_eq!(
        invoices.data[1].id.as_ref(),
        Some(&latest_invoice),
        "newest first"
    );
    let first_page = ListInvoice::new()
        .customer(customer.id.as_str())
        .limit(1)
        .send(&client)
        .await
        .unwrap();
    assert!(first_page.has_more);

    let canceled = CancelSubscription::new(subscription_id.clone())
        .send(&client)
        .await
        .unwrap();
    assert_eq!(canceled.status, SubscriptionStatus::Canceled);
    assert!(canceled.ended_at.is_some() && canceled.canceled_at.is_some());
    assert_eq!(
        fake.events().last().unwrap().type_,
        "customer.subscription.deleted"
    );
    // Canceled subscriptions stay retrievable.
    let again = RetrieveSubscription::new(subscription_id)
        .send(&client)
        .await
        .unwrap();
    assert_eq!(again.status, SubscriptionStatus::Canceled);

    let (error, status) = stripe_error(
        RetrieveSubscription::new("sub_nope")
            .send(&client)
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 404);
    assert_eq!(error.code, Some(stripe::ApiErrorsCode::ResourceMissing));
}

#[tokio::test]
async fn expand_replaces_ids_with_objects() {
    let fake = start().await;
    let client = client(&fake);
    let session = open_session(&fake, &client).await;
    fake.complete_checkout(session.id.as_str()).await.unwrap();
    let session = RetrieveCheckoutSession::new(session.id.clone())
        .expand(vec!["subscription".to_owned(), "line_items".to_owned()])
        .send(&client)
        .await
        .unwrap();
    let subscription = session.subscription.unwrap().into_object().unwrap();
    assert_eq!(subscription.status, SubscriptionStatus::Active);
    let line_items = session.line_items.unwrap();
    assert_eq!(
        line_items.data[0].price.as_ref().unwrap().id.as_str(),
        "price_pro_monthly"
    );
    let (error, status) = stripe_error(
        RetrieveCheckoutSession::new(session.id)
            .expand(vec!["nope".to_owned()])
            .send(&client)
            .await
            .unwrap_err(),
    );
    assert_eq!((status, error.param.as_deref()), (400, Some("expand")));
}

#[tokio::test]
async fn idempotency_replays_the_first_answer_and_refuses_a_different_request() {
    let fake = start().await;
    let client = client(&fake);
    let first = create_customer(&client, "a@example.com", "same-key").await;
    let second = create_customer(&client, "a@example.com", "same-key").await;
    assert_eq!(first.id, second.id);
    assert_eq!(fake.customers().len(), 1, "a replay creates nothing");
    assert_eq!(
        types(&fake.events()),
        ["customer.created"],
        "a replay emits nothing"
    );

    let (error, status) = stripe_error(
        CreateCustomer::new()
            .email("b@example.com")
            .customize()
            .request_strategy(key("same-key"))
            .send(&client)
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 400);
    assert_eq!(error.type_, stripe::ApiErrorsType::IdempotencyError);

    // On the wire: the same bytes, marked as a replay.
    let raw = reqwest::Client::new();
    let post = || {
        raw.post(format!("{}/v1/customers", fake.url()))
            .bearer_auth("sk_test_inchart")
            .header("Idempotency-Key", "raw-key")
            .form(&[("email", "c@example.com"), ("metadata[user_id]", "9")])
    };
    let original = post().send().await.unwrap();
    assert!(original.headers().get("idempotent-replayed").is_none());
    let original = original.text().await.unwrap();
    let replayed = post().send().await.unwrap();
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    assert_eq!(replayed.text().await.unwrap(), original);
    // The same key on another endpoint is refused too.
    let elsewhere = raw
        .post(format!("{}/v1/billing_portal/sessions", fake.url()))
        .bearer_auth("sk_test_inchart")
        .header("Idempotency-Key", "raw-key")
        .form(&[("customer", first.id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 400);
    let body: Value = elsewhere.json().await.unwrap();
    assert_eq!(body["error"]["type"], "idempotency_error");
}

#[tokio::test]
async fn errors_are_stripes() {
    let fake = start().await;
    let raw = reqwest::Client::new();

    let no_key = raw
        .get(format!("{}/v1/prices/price_pro_monthly", fake.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(no_key.status(), 401);
    let body: Value = no_key.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did not provide an API key")
    );

    let wrong_key = ClientBuilder::new("sk_test_wrong")
        .url(fake.url())
        .build()
        .unwrap();
    let (error, status) = stripe_error(
        RetrievePrice::new("price_pro_monthly")
            .send(&wrong_key)
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 401);
    assert_eq!(error.type_, stripe::ApiErrorsType::InvalidRequestError);
    assert!(error.message.unwrap().starts_with("Invalid API Key provided"));

    let client = client(&fake);
    let customer = create_customer(&client, "a@example.com", "customer").await;
    let (error, status) = stripe_error(
        new_session(customer.id.as_str(), "price_nope")
            .send(&client)
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 400);
    assert_eq!(error.code, Some(stripe::ApiErrorsCode::ResourceMissing));
    assert_eq!(error.param.as_deref(), Some("line_items[0][price]"));
    assert_eq!(error.message.as_deref(), Some("No such price: 'price_nope'"));

    let unknown = raw
        .post(format!("{}/v1/customers", fake.url()))
        .bearer_auth("sk_test_inchart")
        .form(&[("emial", "a@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(body["error"]["message"], "Received unknown parameter: emial");

    let basic = raw
        .get(format!("{}/v1/prices/price_pro_monthly", fake.url()))
        .basic_auth("sk_test_inchart", Some(""))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 200, "curl -u sk_test_...: works too");

    let other_version = raw
        .get(format!("{}/v1/prices/price_pro_monthly", fake.url()))
        .bearer_auth("sk_test_inchart")
        .header("Stripe-Version", "2024-06-20")
        .send()
        .await
        .unwrap();
    assert_eq!(other_version.status(), 400);

    let unknown_url = raw
        .get(format!("{}/v1/charges", fake.url()))
        .bearer_auth("sk_test_inchart")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_url.status(), 404);
    assert_eq!(
        fake.requests().len(),
        8,
        "every request is logged, refused or not"
    );
}

/// Whether the library parsed `event` into the variant its type names.
fn parsed_as_its_type(type_: &str, object: &EventObject) -> bool {
    use EventObject as E;
    matches!(
        (type_, object),
        ("customer.created", E::CustomerCreated(_))
            | ("customer.subscription.created", E::CustomerSubscriptionCreated(_))
            | ("customer.subscription.updated", E::CustomerSubscriptionUpdated(_))
            | ("customer.subscription.deleted", E::CustomerSubscriptionDeleted(_))
            | ("invoice.created", E::InvoiceCreated(_))
            | ("invoice.finalized", E::InvoiceFinalized(_))
            | ("invoice.paid", E::InvoicePaid(_))
            | ("invoice.payment_succeeded", E::InvoicePaymentSucceeded(_))
            | ("invoice.payment_failed", E::InvoicePaymentFailed(_))
            | ("checkout.session.completed", E::CheckoutSessionCompleted(_))
            | (
                "billing_portal.session.created",
                E::BillingPortalSessionCreated(_)
            )
    )
}

#[tokio::test]
async fn every_event_of_every_action_is_stripes_and_verifies() {
    let fake = start().await;
    let client = client(&fake);

    // A session without a customer: Checkout makes one.
    let mut line = CreateCheckoutSessionLineItems::new();
    line.price = Some("price_pro_yearly".to_owned());
    line.quantity = Some(1);
    let session = CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Subscription)
        .customer_email("new@example.com")
        .line_items(vec![line])
        .success_url("http://127.0.0.1:3000/ok")
        .send(&client)
        .await
        .unwrap();
    let events = fake.complete_checkout(session.id.as_str()).await.unwrap();
    assert_eq!(
        types(&events),
        [
            "customer.created",
            "customer.subscription.created",
            "invoice.created",
            "invoice.finalized",
            "invoice.paid",
            "invoice.payment_succeeded",
            "checkout.session.completed",
        ]
    );
    let sub = fake.subscriptions()[0]["id"].as_str().unwrap().to_owned();
    let first_end = fake.subscriptions()[0]["items"]["data"][0]["current_period_end"]
        .as_i64()
        .unwrap();

    let events = fake.renew(&sub).await.unwrap();
    assert_eq!(
        types(&events),
        [
            "customer.subscription.updated",
            "invoice.created",
            "invoice.finalized",
            "invoice.paid",
            "invoice.payment_succeeded",
        ]
    );
    assert!(fake.now() >= first_end, "the clock reached the renewal");
    let renewed = &events[0];
    let previous: Value =
        serde_json::from_str::<Value>(&renewed.payload).unwrap()["data"]["previous_attributes"].clone();
    assert_eq!(previous["items"]["data"][0]["current_period_end"], first_end);
    let invoice = events[3].object();
    assert_eq!(invoice["billing_reason"], "subscription_cycle");
    assert_eq!(
        invoice["period_end"], first_end,
        "a renewal invoice's period is the one that ended"
    );
    assert_eq!(invoice["lines"]["data"][0]["period"]["start"], first_end);

    let events = fake.fail_payment(&sub).await.unwrap();
    assert_eq!(
        types(&events),
        [
            "customer.subscription.updated",
            "invoice.created",
            "invoice.finalized",
            "invoice.payment_failed",
            "customer.subscription.updated",
        ]
    );
    assert_eq!(events[4].object()["status"], "past_due");
    assert_eq!(events[3].object()["status"], "open");
    assert_eq!(events[3].object()["attempted"], true);
    assert_eq!(
        types(&fake.fail_payment(&sub).await.unwrap()),
        ["invoice.payment_failed"]
    );
    assert!(
        fake.renew(&sub).await.is_err(),
        "a past_due subscription does not renew"
    );

    let events = fake.recover(&sub).await.unwrap();
    assert_eq!(
        types(&events),
        [
            "invoice.paid",
            "invoice.payment_succeeded",
            "customer.subscription.updated"
        ]
    );
    assert_eq!(events[0].object()["attempt_count"], 3);
    assert_eq!(events[2].object()["status"], "active");

    let events = fake.cancel_at_period_end(&sub, true).await.unwrap();
    assert_eq!(types(&events), ["customer.subscription.updated"]);
    let canceling = events[0].object();
    assert_eq!(canceling["cancel_at_period_end"], true);
    assert_eq!(
        canceling["cancel_at"],
        canceling["items"]["data"][0]["current_period_end"]
    );
    assert!(
        fake.cancel_at_period_end(&sub, true).await.unwrap().is_empty(),
        "no change, no event"
    );
    assert!(
        fake.renew(&sub).await.is_err(),
        "a subscription set to cancel does not renew"
    );
    let events = fake.cancel_at_period_end(&sub, false).await.unwrap();
    assert_eq!(events[0].object()["cancel_at"], Value::Null);
    fake.cancel_at_period_end(&sub, true).await.unwrap();

    let events = fake.end_period(&sub).await.unwrap();
    assert_eq!(types(&events), ["customer.subscription.deleted"]);
    assert_eq!(events[0].object()["status"], "canceled");
    assert_eq!(events[0].object()["ended_at"], canceling["cancel_at"]);
    assert!(fake.end_period(&sub).await.is_err());

    let second = open_session(&fake, &client).await;
    fake.complete_checkout(second.id.as_str()).await.unwrap();
    let second_sub = fake.subscriptions()[1]["id"].as_str().unwrap().to_owned();
    let events = fake.delete_subscription(&second_sub).await.unwrap();
    assert_eq!(types(&events), ["customer.subscription.deleted"]);
    CreateBillingPortalSession::new()
        .customer(fake.customers()[1]["id"].as_str().unwrap())
        .send(&client)
        .await
        .unwrap();

    let all = fake.events();
    assert!(
        all.windows(2).all(|pair| pair[0].created < pair[1].created),
        "created orders events"
    );
    let now = real_now();
    for event in &all {
        let parsed = Webhook::construct_event(&event.payload, &fake.sign(&event.payload, now), SECRET)
            .unwrap_or_else(|error| panic!("{} does not parse: {error}\n{}", event.type_, event.payload));
        assert_eq!(parsed.id.as_str(), event.id);
        assert_eq!(parsed.created, event.created);
        assert_eq!(parsed.type_.as_str(), event.type_);
        assert!(
            parsed_as_its_type(&event.type_, &parsed.data.object),
            "{} parsed as {:?}",
            event.type_,
            parsed.data.object
        );
        assert_eq!(
            parsed
                .api_version
                .map(|version| version.as_str().to_owned())
                .as_deref(),
            Some(API_VERSION)
        );
        assert_eq!(
            event.type_.ends_with(".updated"),
            parsed.data.previous_attributes.is_some()
        );
    }
    // An event an API call caused names the request.
    let portal_event: Value = serde_json::from_str(&all.last().unwrap().payload).unwrap();
    assert!(
        portal_event["request"]["id"]
            .as_str()
            .unwrap()
            .starts_with("req_")
    );
}

#[tokio::test]
async fn a_tampered_or_stale_event_fails_verification() {
    let fake = start().await;
    let client = client(&fake);
    let session = open_session(&fake, &client).await;
    fake.complete_checkout(session.id.as_str()).await.unwrap();
    let event = fake.events().last().unwrap().clone();
    let now = real_now();
    assert_eq!(
        fake.sign(&event.payload, now),
        sign_with(SECRET, &event.payload, now)
    );

    let tampered = event.payload.replace("\"paid\"", "\"unpaid\"");
    assert_ne!(tampered, event.payload);
    assert!(matches!(
        Webhook::construct_event(&tampered, &fake.sign(&event.payload, now), SECRET),
        Err(WebhookError::BadSignature)
    ));
    assert!(matches!(
        Webhook::construct_event(&event.payload, &fake.sign(&event.payload, now - 400), SECRET),
        Err(WebhookError::BadTimestamp(_))
    ));
    assert!(matches!(
        Webhook::construct_event(
            &event.payload,
            &sign_with("whsec_other", &event.payload, now),
            SECRET
        ),
        Err(WebhookError::BadSignature)
    ));
}

/// A webhook endpoint that verifies what it receives, like the server's.
#[derive(Clone, Default)]
struct Receiver {
    received: Arc<Mutex<Vec<String>>>,
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let payload = String::from_utf8(body.to_vec()).unwrap();
    let signature = headers["stripe-signature"].to_str().unwrap();
    assert_eq!(headers["content-type"], "application/json; charset=utf-8");
    match Webhook::construct_event(&payload, signature, SECRET) {
        Ok(event) => {
            receiver
                .received
                .lock()
                .unwrap()
                .push(event.type_.as_str().to_owned());
            StatusCode::OK
        }
        Err(_) => StatusCode::BAD_REQUEST,
    }
}

async fn start_receiver() -> (Receiver, String) {
    let receiver = Receiver::default();
    let app = Router::new()
        .route("/webhooks/stripe", post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let url = format!("http://{}/webhooks/stripe", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (receiver, url)
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn assert_self_contained(html: &str) {
    for external in ["<script", "<link", "src=", "@import", "url("] {
        assert!(!html.contains(external), "the page loads something: {external}");
    }
}

#[tokio::test]
async fn the_hosted_pay_page_completes_checkout_and_redirects_after_delivering() {
    let fake = start().await;
    let (receiver, webhook_url) = start_receiver().await;
    fake.set_webhook_url(Some(webhook_url));
    let client = client(&fake);
    let session = open_session(&fake, &client).await;
    // customer.created went out after its API answer.
    fake.settle().await;
    assert_eq!(*receiver.received.lock().unwrap(), ["customer.created"]);

    let browser = no_redirects();
    let page_url = session.url.clone().unwrap();
    let page = browser.get(&page_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("InChart Pro"));
    assert!(html.contains("$19.00 per month"));
    assert!(html.contains(">Pay</button>"));
    assert!(html.contains("href=\"http://127.0.0.1:3000/pricing\">Back</a>"));
    assert_self_contained(&html);

    let paid = browser.post(&page_url).send().await.unwrap();
    assert_eq!(paid.status(), 303);
    assert_eq!(
        paid.headers()["location"],
        format!(
            "http://127.0.0.1:3000/billing/success?session_id={}",
            session.id.as_str()
        )
        .as_str()
    );
    // Delivered, in order, before the redirect.
    assert_eq!(
        *receiver.received.lock().unwrap(),
        [
            "customer.created",
            "customer.subscription.created",
            "invoice.created",
            "invoice.finalized",
            "invoice.paid",
            "invoice.payment_succeeded",
            "checkout.session.completed",
        ]
    );
    assert!(fake.deliveries().iter().all(|(_, status)| *status == 200));
    assert_eq!(
        fake.checkout_session(session.id.as_str()).unwrap()["status"],
        "complete"
    );

    // Paying again (a reload) changes nothing and goes on.
    let again = browser.post(&page_url).send().await.unwrap();
    assert_eq!(again.status(), 303);
    assert_eq!(fake.subscriptions().len(), 1);
}

#[tokio::test]
async fn the_portal_page_cancels_and_renews_the_plan() {
    let fake = start().await;
    let (receiver, webhook_url) = start_receiver().await;
    let client = client(&fake);
    let session = open_session(&fake, &client).await;
    fake.complete_checkout(session.id.as_str()).await.unwrap();
    fake.set_webhook_url(Some(webhook_url));
    let sub = fake.subscriptions()[0]["id"].as_str().unwrap().to_owned();
    let portal = CreateBillingPortalSession::new()
        .customer(session.customer.unwrap().id().as_str())
        .return_url("http://127.0.0.1:3000/account")
        .send(&client)
        .await
        .unwrap();
    fake.settle().await;

    let browser = no_redirects();
    let html = browser
        .get(&portal.url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Customer portal"));
    assert!(html.contains("InChart Pro"));
    assert!(html.contains(">Cancel plan</button>"));
    assert!(html.contains("href=\"http://127.0.0.1:3000/account\">Return to InChart</a>"));
    assert_self_contained(&html);

    let canceled = browser
        .post(&portal.url)
        .form(&[("action", "cancel"), ("subscription", sub.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(canceled.status(), 303);
    assert_eq!(
        canceled.headers()["location"],
        format!("/p/session/{}", portal.id.as_str()).as_str()
    );
    assert_eq!(fake.subscription(&sub).unwrap()["cancel_at_period_end"], true);
    let html = browser
        .get(&portal.url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(">Renew plan</button>"));
    assert!(html.contains("Cancels on "));

    browser
        .post(&portal.url)
        .form(&[("action", "renew"), ("subscription", sub.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(fake.subscription(&sub).unwrap()["cancel_at_period_end"], false);
    assert_eq!(
        *receiver.received.lock().unwrap(),
        [
            "billing_portal.session.created",
            "customer.subscription.updated",
            "customer.subscription.updated"
        ]
    );
}

#[tokio::test]
async fn an_api_cancellation_is_delivered_after_its_answer() {
    let fake = start().await;
    let (receiver, webhook_url) = start_receiver().await;
    let client = client(&fake);
    let session = open_session(&fake, &client).await;
    fake.complete_checkout(session.id.as_str()).await.unwrap();
    fake.set_webhook_url(Some(webhook_url));
    let sub = fake.subscriptions()[0]["id"].as_str().unwrap().to_owned();
    CancelSubscription::new(sub.as_str()).send(&client).await.unwrap();
    fake.settle().await;
    assert_eq!(
        *receiver.received.lock().unwrap(),
        ["customer.subscription.deleted"]
    );

    // Delivering by hand sends again and is recorded.
    let event = fake.events().last().unwrap().clone();
    assert_eq!(fake.deliver(&event).await.unwrap(), 200);
    let deliveries = fake.deliveries();
    assert_eq!(deliveries.len(), 2);
    assert!(
        deliveries
            .iter()
            .all(|(id, status)| *id == event.id && *status == 200)
    );
}
