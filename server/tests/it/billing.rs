//! Billing over HTTP against a local fake Stripe that speaks Stripe's wire
//! format and signs its webhooks with Stripe's scheme: upgrading through
//! Checkout, renewal, a failed payment and its recovery, cancelling at the
//! period's end, deletion, the same events redelivered and shuffled, bad
//! signatures, each plan's limits, and billing switched off.

use inchart_fakes::stripe::{FakeEvent, FakeStripe, FakeStripeConfig};
use reqwest::header::LOCATION;
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

use crate::accounts::Visitor;
use crate::helpers::{CacheKind, Db, TestApp, spawn_app_with};
use crate::scripts::{api, create};

/// An app that sells Pro through `fake`, whose webhooks reach the app.
pub(crate) async fn billing_app(
    db: Db,
    cache: CacheKind,
    fake: &FakeStripe,
    extra: &[(&str, &str)],
) -> TestApp {
    let url = fake.url();
    let mut env = vec![
        ("INCHART_STRIPE_SECRET_KEY", "sk_test_inchart"),
        ("INCHART_STRIPE_WEBHOOK_SECRET", "whsec_inchart"),
        ("INCHART_STRIPE_API_BASE", url.as_str()),
        ("INCHART_STRIPE_PRICE_MONTHLY", "price_pro_monthly"),
        ("INCHART_STRIPE_PRICE_YEARLY", "price_pro_yearly"),
    ];
    env.extend_from_slice(extra);
    let app = spawn_app_with(db, cache, &env).await;
    fake.set_webhook_url(Some(format!("{}/webhooks/stripe", app.address)));
    app
}

pub(crate) async fn fake_stripe(auto_deliver: bool) -> FakeStripe {
    FakeStripe::start(FakeStripeConfig {
        auto_deliver,
        ..FakeStripeConfig::default()
    })
    .await
    .unwrap()
}

async fn signed_up(app: &TestApp, email: &str) -> Visitor {
    let visitor = Visitor::new(app).await;
    assert_eq!(visitor.sign_up(email).await.status(), StatusCode::SEE_OTHER);
    visitor
}

async fn billing(visitor: &Visitor) -> Value {
    let (status, body) = api(visitor, Method::GET, "/api/v1/billing", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Posts the pricing page's form; returns the Checkout Session's id.
async fn start_checkout(visitor: &Visitor, price: &str) -> String {
    let response = visitor.form("/billing/checkout", &[("price", price)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()[LOCATION].to_str().unwrap().to_string();
    let (_, id) = location
        .rsplit_once("/c/pay/")
        .unwrap_or_else(|| panic!("{location} is not the fake's Checkout page"));
    id.to_string()
}

/// Pays on the fake's hosted Checkout page and follows the way back.
async fn pay(visitor: &Visitor, fake: &FakeStripe, session: &str) -> reqwest::Response {
    let paid = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/c/pay/{session}", fake.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), StatusCode::SEE_OTHER);
    let back = paid.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(back.contains(&format!("session_id={session}")), "{back}");
    visitor.client.get(back).send().await.unwrap()
}

/// The only subscription the fake has.
fn subscription_id(fake: &FakeStripe) -> String {
    let subscriptions = fake.subscriptions();
    assert_eq!(subscriptions.len(), 1);
    subscriptions[0]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn upgrading_through_checkout_makes_the_account_pro_with_its_invoice() {
    let fake = fake_stripe(true).await;
    let app = billing_app(Db::Postgres, CacheKind::Redis, &fake, &[]).await;
    let ann = signed_up(&app, "ann@example.com").await;
    let before = billing(&ann).await;
    assert_eq!(
        (before["plan"].as_str(), before["billing_on"].as_bool()),
        (Some("free"), Some(true))
    );
    assert_eq!(before["can_manage"], false);

    // The pricing page's button, twice in a row: one customer, one session.
    let session = start_checkout(&ann, "monthly").await;
    assert_eq!(start_checkout(&ann, "monthly").await, session);
    assert_eq!(fake.customers().len(), 1);
    let created = fake.checkout_session(&session).unwrap();
    assert_eq!(created["mode"], "subscription");
    assert_eq!(created["customer"], fake.customers()[0]["id"]);
    assert_eq!(fake.customers()[0]["email"], "ann@example.com");
    let user = created["client_reference_id"].as_str().unwrap().to_string();
    assert_eq!(fake.customers()[0]["metadata"]["user_id"], user.as_str());
    for request in fake.requests().iter().filter(|r| r.method == "POST") {
        assert!(
            request.idempotency_key.is_some(),
            "{} without an idempotency key",
            request.path
        );
    }

    // Paying brings the customer back to /billing, already on Pro.
    let back = pay(&ann, &fake, &session).await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    assert_eq!(back.headers()[LOCATION], "/billing");
    let after = billing(&ann).await;
    assert_eq!(after["plan"], "pro", "{after}");
    assert_eq!(after["subscription"]["status"], "active");
    assert_eq!(after["subscription"]["cadence"], "monthly");
    assert_eq!(after["can_manage"], true);
    let invoices = after["invoices"].as_array().unwrap();
    assert_eq!(invoices.len(), 1, "{after}");
    assert_eq!(
        (invoices[0]["amount"].as_i64(), invoices[0]["status"].as_str()),
        (Some(1900), Some("paid"))
    );
    assert!(invoices[0]["url"].as_str().unwrap().starts_with(&fake.url()));
    let html = ann.html("/billing").await;
    assert!(html.contains("Welcome to Pro"), "the return says so once");

    // Every event was delivered and accepted; Pro's limits apply.
    fake.settle().await;
    assert!(
        fake.deliveries().iter().all(|(_, status)| *status == 200),
        "{:?}",
        fake.deliveries()
    );
    assert_eq!(after["limits"]["scripts"], 50);
    for n in 0..5 {
        create(&ann, &format!("s{n}"), app::scripts::TEMPLATE).await;
    }

    // Buying again is refused; the portal opens for the customer instead.
    let again = ann.form("/billing/checkout", &[("price", "yearly")]).await;
    assert_eq!(again.headers()[LOCATION], "/pricing");
    let portal = ann.form("/billing/portal", &[]).await;
    assert_eq!(portal.status(), StatusCode::SEE_OTHER);
    assert!(
        portal.headers()[LOCATION]
            .to_str()
            .unwrap()
            .starts_with(&format!("{}/p/session/", fake.url()))
    );
    let opened = fake
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1/billing_portal/sessions")
        .unwrap();
    assert_eq!(opened.param("customer"), created["customer"].as_str());
    assert!(opened.idempotency_key.is_some());

    // Someone else's session cannot be claimed by returning with its id.
    let bob = signed_up(&app, "bob@example.com").await;
    let stolen = bob
        .client
        .get(format!("{}/billing/return?session_id={session}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(stolen.status(), StatusCode::SEE_OTHER);
    assert_eq!(billing(&bob).await["plan"], "free");
}

#[tokio::test]
async fn a_subscription_renews_fails_recovers_cancels_and_ends_as_stripe_says() {
    let fake = fake_stripe(true).await;
    let app = billing_app(Db::Sqlite, CacheKind::Memory, &fake, &[]).await;
    let ann = signed_up(&app, "ann@example.com").await;
    let session = start_checkout(&ann, "yearly").await;
    fake.complete_checkout(&session).await.unwrap();
    let sub = subscription_id(&fake);
    let state = billing(&ann).await;
    assert_eq!(
        (state["plan"].as_str(), state["subscription"]["cadence"].as_str()),
        (Some("pro"), Some("yearly"))
    );
    let first_end = state["subscription"]["current_period_end"].as_i64().unwrap();

    fake.renew(&sub).await.unwrap();
    let state = billing(&ann).await;
    let renewed_end = state["subscription"]["current_period_end"].as_i64().unwrap();
    assert!(
        renewed_end > first_end,
        "the period moves on: {first_end} → {renewed_end}"
    );
    assert_eq!(state["invoices"].as_array().unwrap().len(), 2);

    fake.fail_payment(&sub).await.unwrap();
    let state = billing(&ann).await;
    assert_eq!(state["subscription"]["status"], "past_due");
    assert_eq!(
        state["plan"], "pro",
        "Stripe retries for a while; Pro stays meanwhile"
    );
    assert_eq!(state["invoices"][0]["status"], "open");
    assert!(ann.html("/billing").await.contains("payment failed"));

    fake.recover(&sub).await.unwrap();
    let state = billing(&ann).await;
    assert_eq!(state["subscription"]["status"], "active");
    assert_eq!(state["invoices"][0]["status"], "paid");

    fake.cancel_at_period_end(&sub, true).await.unwrap();
    let state = billing(&ann).await;
    assert_eq!(state["subscription"]["cancel_at_period_end"], true);
    assert_eq!(state["plan"], "pro", "paid until the period ends");

    fake.end_period(&sub).await.unwrap();
    let state = billing(&ann).await;
    assert_eq!(state["subscription"]["status"], "canceled");
    assert_eq!(state["plan"], "free");
    assert!(state["subscription"]["ended_at"].is_i64());

    // Upgrading again works, and deleting the account ends it at Stripe.
    let session = start_checkout(&ann, "monthly").await;
    fake.complete_checkout(&session).await.unwrap();
    assert_eq!(billing(&ann).await["plan"], "pro");
    let deleted = ann
        .form("/account/delete", &[("current", crate::accounts::PASSWORD)])
        .await;
    assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
    let statuses: Vec<_> = fake
        .subscriptions()
        .iter()
        .map(|s| s["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(statuses, ["canceled", "canceled"]);
    fake.settle().await;
}

/// The state the app shows for a user, compared across delivery orders.
async fn shown(visitor: &Visitor) -> Value {
    let mut state = billing(visitor).await;
    state["usage"] = Value::Null;
    state
}

#[tokio::test]
async fn events_delivered_late_twice_and_shuffled_end_in_stripes_state() {
    // Events pile up at the fake and reach the app only when sent.
    let fake = fake_stripe(false).await;
    let app = billing_app(Db::Postgres, CacheKind::Redis, &fake, &[]).await;
    let ann = signed_up(&app, "ann@example.com").await;
    let session = start_checkout(&ann, "monthly").await;
    fake.complete_checkout(&session).await.unwrap();
    let sub = subscription_id(&fake);
    fake.renew(&sub).await.unwrap();
    fake.fail_payment(&sub).await.unwrap();
    fake.recover(&sub).await.unwrap();
    fake.cancel_at_period_end(&sub, true).await.unwrap();
    let events: Vec<FakeEvent> = fake.events();
    assert!(events.len() >= 15, "a full life: {}", events.len());

    // In order, once: the reference.
    for event in &events {
        assert_eq!(fake.deliver(event).await.unwrap(), 200, "{}", event.type_);
    }
    let reference = shown(&ann).await;
    assert_eq!(reference["subscription"]["status"], "active");
    assert_eq!(reference["subscription"]["cancel_at_period_end"], true);
    assert_eq!(reference["invoices"].as_array().unwrap().len(), 3);

    // A second account, the same life, delivered shuffled and twice over
    // (some at once), ends in the same state.
    let bob = signed_up(&app, "bob@example.com").await;
    let before = fake.events().len();
    let session = start_checkout(&bob, "monthly").await;
    fake.complete_checkout(&session).await.unwrap();
    let bobs_sub = fake
        .subscriptions()
        .iter()
        .find(|s| s["id"] != sub.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    fake.renew(&bobs_sub).await.unwrap();
    fake.fail_payment(&bobs_sub).await.unwrap();
    fake.recover(&bobs_sub).await.unwrap();
    fake.cancel_at_period_end(&bobs_sub, true).await.unwrap();
    let mut bobs: Vec<FakeEvent> = fake.events()[before..].to_vec();
    let mut rng = fastrand::Rng::with_seed(7);
    rng.shuffle(&mut bobs);
    let mut twice = bobs.clone();
    rng.shuffle(&mut twice);
    for pair in bobs.chunks(2) {
        let sent = futures::future::join_all(pair.iter().map(|event| fake.deliver(event))).await;
        assert!(
            sent.iter().all(|status| *status.as_ref().unwrap() == 200),
            "{sent:?}"
        );
    }
    for event in &twice {
        assert_eq!(
            fake.deliver(event).await.unwrap(),
            200,
            "a redelivery is acknowledged"
        );
    }
    let mut theirs = shown(&bob).await;
    let mut ours = reference.clone();
    // Times and numbers differ between the two accounts, not the shape.
    for state in [&mut theirs, &mut ours] {
        state["subscription"]["current_period_end"] = Value::Null;
        for invoice in state["invoices"].as_array_mut().unwrap() {
            for key in ["created", "number", "url"] {
                invoice[key] = Value::Null;
            }
        }
    }
    assert_eq!(theirs, ours);

    // Each event was recorded once.
    let db = Database::connect(&app.database_url).await.unwrap();
    let recorded = db
        .query_one(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM stripe_events",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(recorded as usize, fake.events().len());

    // And an old event arriving after the end changes nothing.
    fake.end_period(&bobs_sub).await.unwrap();
    for event in &fake.events()[fake.events().len() - 1..] {
        fake.deliver(event).await.unwrap();
    }
    let stale = bobs
        .iter()
        .find(|event| event.type_ == "customer.subscription.created")
        .unwrap();
    let replayed_as_new = FakeEvent {
        id: format!("{}_late", stale.id),
        payload: stale.payload.replace(&stale.id, &format!("{}_late", stale.id)),
        ..stale.clone()
    };
    assert_eq!(fake.deliver(&replayed_as_new).await.unwrap(), 200);
    let ended = billing(&bob).await;
    assert_eq!(
        (ended["plan"].as_str(), ended["subscription"]["status"].as_str()),
        (Some("free"), Some("canceled"))
    );
}

#[tokio::test]
async fn webhooks_with_bad_or_stale_signatures_are_refused() {
    let fake = fake_stripe(false).await;
    let app = billing_app(Db::Sqlite, CacheKind::Memory, &fake, &[]).await;
    let ann = signed_up(&app, "ann@example.com").await;
    let session = start_checkout(&ann, "monthly").await;
    let events = fake.complete_checkout(&session).await.unwrap();
    let created = events
        .iter()
        .find(|e| e.type_ == "customer.subscription.created")
        .unwrap();
    let client = reqwest::Client::new();
    let url = format!("{}/webhooks/stripe", app.address);
    let post = |payload: String, signature: Option<String>| {
        let mut request = client
            .post(&url)
            .header("content-type", "application/json")
            .body(payload);
        if let Some(signature) = signature {
            request = request.header("stripe-signature", signature);
        }
        request.send()
    };
    let now = unix_now();
    let other = inchart_fakes::stripe::sign_with("whsec_someone_else", &created.payload, now);
    let cases = [
        ("no signature", created.payload.clone(), None),
        ("another secret", created.payload.clone(), Some(other)),
        (
            "stale",
            created.payload.clone(),
            Some(fake.sign(&created.payload, now - 400)),
        ),
        (
            "from the future",
            created.payload.clone(),
            Some(fake.sign(&created.payload, now + 400)),
        ),
        (
            "tampered",
            created.payload.replace("\"active\"", "\"trialing\""),
            Some(fake.sign(&created.payload, now)),
        ),
        ("garbage", "{}".to_string(), Some(fake.sign("{}", now))),
    ];
    for (case, payload, signature) in cases {
        let response = post(payload, signature).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{case}");
    }
    assert_eq!(
        billing(&ann).await["plan"],
        "free",
        "nothing refused had an effect"
    );
    // Within the tolerance it is accepted.
    let fresh = post(
        created.payload.clone(),
        Some(fake.sign(&created.payload, now - 200)),
    )
    .await
    .unwrap();
    assert_eq!(fresh.status(), StatusCode::OK);
    assert_eq!(billing(&ann).await["plan"], "pro");
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn each_plan_s_limits_hold_on_the_server() {
    let fake = fake_stripe(true).await;
    let app = billing_app(
        Db::Postgres,
        CacheKind::Redis,
        &fake,
        &[
            (
                "INCHART_FREE_LIMITS",
                "scripts=2,live=1,watchlist=1,history=100,cpu=1s",
            ),
            (
                "INCHART_PRO_LIMITS",
                "scripts=4,live=2,watchlist=2,history=500,cpu=2s",
            ),
        ],
    )
    .await;
    let ann = signed_up(&app, "ann@example.com").await;
    let mut scripts = Vec::new();
    for n in 0..2 {
        scripts.push(create(&ann, &format!("s{n}"), app::scripts::TEMPLATE).await);
    }
    let (status, body) = api(
        &ann,
        Method::POST,
        "/api/v1/scripts",
        Some(json!({ "name": "one too many" })),
    )
    .await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
    assert_eq!(body["error"]["kind"], "plan_limit");
    assert_eq!(body["error"]["field"], "scripts");
    assert_eq!(body["error"]["upgrade"], "/pricing");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("Free plan allows 2 saved scripts") && message.contains("Pro for 4"),
        "{message}"
    );
    // Without JavaScript: back to the list with the same message.
    let form = ann.form("/scripts", &[]).await;
    assert_eq!(form.headers()[LOCATION], "/scripts");
    assert!(
        ann.html("/scripts")
            .await
            .contains("Free plan allows 2 saved scripts")
    );

    let live = |id: &str, symbol: &str| format!("/api/v1/scripts/{id}/live/{symbol}/1h");
    let (status, _) = api(&ann, Method::PUT, &live(&scripts[0], "BTCUSDT"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = api(&ann, Method::PUT, &live(&scripts[1], "BTCUSDT"), None).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::PAYMENT_REQUIRED, Some("live_scripts"))
    );

    let (status, _) = api(&ann, Method::PUT, "/api/v1/watchlist/BTCUSDT", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = api(&ann, Method::PUT, "/api/v1/watchlist/ETHUSDT", None).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::PAYMENT_REQUIRED, Some("watchlist"))
    );

    // History: the newest 100 candles, for visitors and Free alike.
    let candles = |visitor: &Visitor, query: &str| {
        let url = format!(
            "{}/api/v1/candles?symbol=BTCUSDT&interval=1m&{query}",
            visitor.base
        );
        let client = visitor.client.clone();
        async move {
            let response = client.get(url).send().await.unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = candles(&ann, "limit=1000").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["candles"].as_array().unwrap().len() <= 100);
    let (status, body) = candles(&ann, "start=0&limit=1000").await;
    assert_eq!(status, StatusCode::OK);
    let first = body["candles"][0]["open_time"].as_i64().unwrap();
    let newest = body["candles"].as_array().unwrap().last().unwrap()["open_time"]
        .as_i64()
        .unwrap();
    assert!(newest - first <= 99 * 60_000, "{first}..{newest}");
    let (status, body) = candles(&ann, &format!("end={}&limit=10", first - 60_000)).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::PAYMENT_REQUIRED, Some("history"))
    );
    let (status, body) = api(
        &ann,
        Method::POST,
        &format!("/api/v1/scripts/{}/runs", scripts[0]),
        Some(json!({ "symbol": "BTCUSDT", "interval": "1h", "candles": 300 })),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::PAYMENT_REQUIRED, Some("history"))
    );

    // Pro lifts every limit to Pro's.
    let session = start_checkout(&ann, "monthly").await;
    fake.complete_checkout(&session).await.unwrap();
    let (status, _) = api(
        &ann,
        Method::POST,
        "/api/v1/scripts",
        Some(json!({ "name": "third" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = api(&ann, Method::PUT, &live(&scripts[1], "BTCUSDT"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = api(&ann, Method::PUT, "/api/v1/watchlist/ETHUSDT", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["symbols"], json!(["BTCUSDT", "ETHUSDT"]));
    assert_eq!(body["limit"], 2);
    let (status, body) = candles(&ann, "start=0&limit=1000").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body["candles"].as_array().unwrap().len() > 100,
        "Pro reaches further back"
    );
    let usage = billing(&ann).await["usage"].clone();
    assert_eq!(
        usage,
        json!({ "scripts": 3, "live_scripts": 2, "watchlist": 2, "drawings": 0, "alerts": 0 })
    );

    // Back on Free, nothing is deleted, but nothing new fits.
    let sub = subscription_id(&fake);
    fake.delete_subscription(&sub).await.unwrap();
    fake.settle().await;
    assert_eq!(billing(&ann).await["plan"], "free");
    let (status, _) = api(
        &ann,
        Method::POST,
        "/api/v1/scripts",
        Some(json!({ "name": "fourth" })),
    )
    .await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    let (status, body) = api(&ann, Method::GET, "/api/v1/scripts", None).await;
    assert_eq!((status, body.as_array().unwrap().len()), (StatusCode::OK, 3));
}

#[tokio::test]
async fn without_stripe_billing_is_off_and_everyone_is_on_free() {
    let app = spawn_app_with(Db::Sqlite, CacheKind::Memory, &[]).await;
    let ann = signed_up(&app, "ann@example.com").await;
    let state = billing(&ann).await;
    assert_eq!(
        (state["billing_on"].as_bool(), state["plan"].as_str()),
        (Some(false), Some("free"))
    );
    assert_eq!(state["limits"]["scripts"], 3);
    let checkout = ann.form("/billing/checkout", &[("price", "monthly")]).await;
    assert_eq!(checkout.headers()[LOCATION], "/pricing");
    let pricing = ann.html("/pricing").await;
    assert!(
        pricing.contains("Billing is off on this server"),
        "the page says so"
    );
    let webhook = reqwest::Client::new()
        .post(format!("{}/webhooks/stripe", app.address))
        .header("stripe-signature", "t=1,v1=00")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(webhook.status(), StatusCode::NOT_FOUND);
    // The visitor's pricing page shows both plans and their limits.
    let visitor = reqwest::get(format!("{}/pricing", app.address))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for limit in ["3 saved scripts", "50 saved scripts", "2,000 candles of history"] {
        assert!(visitor.contains(limit), "the pricing page lists {limit:?}");
    }
    assert!(
        !visitor.contains("action=\"/billing/checkout\""),
        "nothing to buy while billing is off"
    );
}
