//! Browser push against a push service that is not ours: web-push-testing
//! (npm), which checks the VAPID token and decrypts with `http_ece`.
//! `scripts/setup.sh`'s `setup_push_service` installs it and exports
//! `INCHART_PUSH_SERVICE_BIN` (the test fails without it, as the webhook
//! tests do without their verifier).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use inchart::alerts::push::{PushClient, PushOutcome, VapidKeys};
use inchart_api::alerts::{PushMessage, PushSubscription};
use serde_json::{Value, json};

/// The running mock push service; killed when dropped, also when the test
/// fails.
pub(crate) struct PushService {
    child: Child,
    address: String,
}

impl Drop for PushService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl PushService {
    pub(crate) fn start(bin: &str) -> Self {
        let mut child = Command::new("node")
            .arg(bin)
            .stdout(Stdio::piped())
            // It logs every token it refuses; the test asserts on answers.
            .stderr(Stdio::null())
            .spawn()
            .expect("node starts the mock push service");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut first = String::new();
        let read = BufReader::new(stdout).read_line(&mut first);
        // Built before checking the line, so a failure still kills it.
        let mut service = PushService {
            child,
            address: String::new(),
        };
        read.expect("the push service's first line");
        let bound = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("the push service said {first:?}; try `node {bin}`"));
        service.address = format!("http://{bound}");
        service
    }

    /// A subscription for `application_server_key`, as a browser would
    /// get it, and its id at the push service.
    pub(crate) async fn subscribe(&self, http: &reqwest::Client, key: &str) -> (PushSubscription, String) {
        let answer: Value = http
            .post(format!("{}/subscribe", self.address))
            .json(&json!({ "applicationServerKey": key, "userVisibleOnly": "true" }))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        let data = &answer["data"];
        let client_hash = data["clientHash"].as_str().unwrap().to_string();
        let subscription: PushSubscription = serde_json::from_value(json!({
            "endpoint": data["endpoint"],
            "keys": data["keys"],
        }))
        .unwrap();
        (subscription, client_hash)
    }

    /// Every message the push service decrypted for a subscription.
    pub(crate) async fn received(&self, http: &reqwest::Client, client_hash: &str) -> Vec<String> {
        let answer: Value = http
            .post(format!("{}/get-notifications", self.address))
            .json(&json!({ "clientHash": client_hash }))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        serde_json::from_value(answer["data"]["messages"].clone()).unwrap()
    }

    async fn expire(&self, http: &reqwest::Client, client_hash: &str) {
        http.post(format!("{}/expire-subscription/{client_hash}", self.address))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
    }
}

fn push_service_bin() -> String {
    std::env::var("INCHART_PUSH_SERVICE_BIN").expect(
        "INCHART_PUSH_SERVICE_BIN names web-push-testing's wrapper; `source scripts/setup.sh && setup_push_service` sets it",
    )
}

#[tokio::test]
async fn a_firing_reaches_the_browser_decrypted_and_an_expired_subscription_is_gone() {
    let bin = push_service_bin();
    let service = PushService::start(&bin);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let keys = VapidKeys::generate().unwrap();
    let (subscription, client_hash) = service.subscribe(&http, &keys.public_key()).await;
    let push = PushClient::new(
        keys.clone(),
        "mailto:alerts@inchart.test".to_string(),
        http.clone(),
    );

    let message = PushMessage {
        title: "BTCUSDT crossed up 65,000".to_string(),
        body: "1h close 65,012.5 — “Breakout” alert".to_string(),
        url: "/chart/BTCUSDT?interval=1h".to_string(),
        tag: "firing-7f3a".to_string(),
    };
    let payload = serde_json::to_vec(&message).unwrap();
    let outcome = push
        .send(&subscription, &payload, Duration::from_secs(3600))
        .await;
    assert_eq!(
        outcome,
        PushOutcome::Delivered { status: 201 },
        "{}",
        outcome.outcome()
    );
    assert_eq!(outcome.outcome(), "HTTP 201 Created");

    let received = service.received(&http, &client_hash).await;
    assert_eq!(received.len(), 1, "{received:?}");
    let shown: PushMessage = serde_json::from_str(&received[0]).unwrap();
    assert_eq!(shown, message);

    // Another server's key: the push service refuses its token.
    let stranger = PushClient::new(
        VapidKeys::generate().unwrap(),
        "mailto:someone@else.test".to_string(),
        http.clone(),
    );
    let refused = stranger
        .send(&subscription, &payload, Duration::from_secs(60))
        .await;
    assert!(
        matches!(refused, PushOutcome::Refused { status: 400, .. }),
        "{refused:?}"
    );

    service.expire(&http, &client_hash).await;
    let gone = push.send(&subscription, &payload, Duration::from_secs(60)).await;
    assert_eq!(gone, PushOutcome::Gone { status: 410 }, "{}", gone.outcome());
    assert_eq!(service.received(&http, &client_hash).await.len(), 1);

    // The service stopped: nothing answers at the endpoint any more. A
    // new client, so that no pooled connection to it is tried.
    drop(service);
    let push = PushClient::new(
        keys,
        "mailto:alerts@inchart.test".to_string(),
        reqwest::Client::new(),
    );
    let unreachable = push.send(&subscription, &payload, Duration::from_secs(60)).await;
    match unreachable {
        PushOutcome::Retry {
            status: None,
            outcome,
            ..
        } => assert_eq!(outcome, "connection refused"),
        other => panic!("expected a retry, got {other:?}"),
    }
}
