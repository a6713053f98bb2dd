//! Accounts over HTTP, against the real server, PostgreSQL and Redis (and
//! SQLite with the in-process cache for the whole flow), with mail caught
//! by a local SMTP sink: sign-up → verify → login → refresh → logout,
//! refresh-token reuse, forged access tokens, throttling, CSRF, password
//! reset, sessions, and deleting an account.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use inchart_fakes::smtp::SmtpSink;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::{ACCEPT, COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use reqwest::{StatusCode, redirect};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};

use crate::helpers::{CacheKind, Db, TestApp, spawn_app_with};

const SECRET: &str = "a test signing secret that is long enough for HS256";
pub(crate) const PASSWORD: &str = "violet heron sails at dusk";
const MAIL_WAIT: Duration = Duration::from_secs(10);

/// An app that mails through `sink`, with a known JWT secret.
async fn app_with_mail(db: Db, cache: CacheKind, sink: &SmtpSink, extra: &[(&str, &str)]) -> TestApp {
    let url = sink.url();
    let mut env = vec![
        ("INCHART_SMTP_URL", url.as_str()),
        ("INCHART_JWT_SECRET", SECRET),
        ("INCHART_MAIL_FROM", "InChart <no-reply@inchart.test>"),
    ];
    env.extend_from_slice(extra);
    spawn_app_with(db, cache, &env).await
}

/// One browser: its own cookies, redirects not followed (the tests read
/// them), and the page's Origin on every form it posts.
pub(crate) struct Visitor {
    pub(crate) base: String,
    pub(crate) client: reqwest::Client,
    pub(crate) jar: Arc<Jar>,
}

impl Visitor {
    pub(crate) async fn new(app: &TestApp) -> Self {
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(redirect::Policy::none())
            .user_agent("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36")
            .build()
            .unwrap();
        let visitor = Self {
            base: app.address.clone(),
            client,
            jar,
        };
        // The first page load sets the CSRF cookie.
        let page = visitor.page("/login").await;
        assert_eq!(page.status(), StatusCode::OK);
        visitor
    }

    fn cookie(&self, name: &str) -> Option<String> {
        let url = self.base.parse().unwrap();
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .unwrap()
            .split("; ")
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_string())
    }

    pub(crate) fn csrf(&self) -> String {
        self.cookie("inchart_csrf").expect("the CSRF cookie is set")
    }

    /// A page load, as a browser navigates.
    pub(crate) async fn page(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .header(ACCEPT, "text/html")
            .header("sec-fetch-mode", "navigate")
            .send()
            .await
            .unwrap()
    }

    /// A form posted without JavaScript.
    pub(crate) async fn form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let csrf = self.csrf();
        let mut body: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        body.extend_from_slice(fields);
        self.client
            .post(format!("{}{path}", self.base))
            .header(ORIGIN, &self.base)
            .header("sec-fetch-mode", "navigate")
            .form(&body)
            .send()
            .await
            .unwrap()
    }

    /// A form posted by the page's script; the JSON answer.
    async fn form_json(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, Value) {
        let csrf = self.csrf();
        let mut body: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        body.extend_from_slice(fields);
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header(ORIGIN, &self.base)
            .header(ACCEPT, "application/json")
            .form(&body)
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap())
    }

    /// `GET /api/v1/me`: the status and body.
    async fn me(&self) -> (StatusCode, Value) {
        let response = self
            .client
            .get(format!("{}/api/v1/me", self.base))
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap())
    }

    async fn refresh(&self) -> StatusCode {
        self.client
            .post(format!("{}/api/v1/auth/refresh", self.base))
            .header(ORIGIN, &self.base)
            .header("x-csrf-token", self.csrf())
            .send()
            .await
            .unwrap()
            .status()
    }

    pub(crate) async fn sign_up(&self, email: &str) -> reqwest::Response {
        self.form("/signup", &[("email", email), ("password", PASSWORD)])
            .await
    }

    async fn log_in(&self, email: &str, password: &str) -> reqwest::Response {
        self.form("/login", &[("email", email), ("password", password)])
            .await
    }

    /// The HTML of a page (following nothing).
    pub(crate) async fn html(&self, path: &str) -> String {
        let response = self.page(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        response.text().await.unwrap()
    }
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .map(|value| value.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// The token of a mailed link.
fn token_of(link: &str) -> String {
    link.split("token=")
        .nth(1)
        .expect("the link carries a token")
        .to_string()
}

async fn the_whole_flow(db: Db, cache: CacheKind) {
    let sink = SmtpSink::start().await.unwrap();
    let app = app_with_mail(db, cache, &sink, &[]).await;
    let ann = Visitor::new(&app).await;
    let email = "ann@example.com";

    // Sign-up refuses a weak password and a mistyped email, saying which.
    let (status, body) = ann
        .form_json("/signup", &[("email", email), ("password", "password1")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["field"], "password");
    let (status, body) = ann
        .form_json("/signup", &[("email", "ann@example"), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["field"], "email");
    // Without JavaScript the same problem comes back on the form's page.
    let refused = ann
        .form("/signup", &[("email", email), ("password", "short")])
        .await;
    assert_eq!(refused.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&refused), "/signup");
    let page = ann.html("/signup").await;
    assert!(
        page.contains("Use at least 8 characters"),
        "the message shows on the form"
    );
    assert!(
        page.contains("value=\"ann@example.com\""),
        "the typed email is kept"
    );
    assert!(
        !ann.html("/signup").await.contains("Use at least 8"),
        "a message shows once"
    );

    // Sign-up works, signs in and mails a verification link.
    let created = ann.sign_up(" Ann@Example.com ").await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&created), "/account");
    let (status, me) = ann.me().await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me, json!({"email": email, "email_verified": false}));
    let mail = sink
        .wait_for(email, 1, MAIL_WAIT)
        .await
        .expect("a verification mail");
    assert_eq!(mail.subject(), "Verify your email for InChart");
    let link = mail.link().unwrap();
    assert!(
        link.starts_with(&format!("{}/verify-email?token=", app.address)),
        "{link}"
    );
    let account = ann.html("/account").await;
    assert!(account.contains(email) && account.contains("Not verified"));
    assert!(account.contains("Chrome on Linux"), "the device is listed");

    // The link's page confirms with a POST; the token works once.
    let token = token_of(&link);
    assert!(
        ann.html(&format!("/verify-email?token={token}"))
            .await
            .contains("Verify my email")
    );
    let verified = ann.form("/verify-email", &[("token", &token)]).await;
    assert_eq!(location(&verified), "/account");
    assert_eq!(ann.me().await.1["email_verified"], true);
    let (status, body) = ann.form_json("/verify-email", &[("token", &token)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["field"], "token");

    // The email is taken, and sign-up says so.
    let bob = Visitor::new(&app).await;
    let (status, body) = bob
        .form_json("/signup", &[("email", email), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["field"], "email");

    // Logging in: the same words for a wrong password and an unknown email.
    let (status, wrong) = bob
        .form_json("/login", &[("email", email), ("password", "not it at all")])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, unknown) = bob
        .form_json(
            "/login",
            &[("email", "nobody@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(wrong["error"]["message"], unknown["error"]["message"]);
    assert_eq!(wrong["error"]["kind"], "invalid_credentials");
    let anonymous_csrf = bob.csrf();
    let logged_in = bob
        .form(
            "/login",
            &[("email", email), ("password", PASSWORD), ("next", "/account")],
        )
        .await;
    assert_eq!(location(&logged_in), "/account");
    assert_ne!(bob.csrf(), anonymous_csrf, "a login gets a new CSRF token");
    assert_eq!(bob.me().await.0, StatusCode::OK);
    let elsewhere = bob
        .form(
            "/login",
            &[
                ("email", email),
                ("password", PASSWORD),
                ("next", "https://evil.example/"),
            ],
        )
        .await;
    assert!(location(&elsewhere).starts_with("/chart/"), "no open redirect");

    // Refresh rotates the refresh token.
    let before = bob.cookie("inchart_refresh").unwrap();
    assert_eq!(bob.refresh().await, StatusCode::OK);
    let after = bob.cookie("inchart_refresh").unwrap();
    assert_ne!(before, after);
    assert_eq!(bob.me().await.0, StatusCode::OK);

    // Logging out ends the session here, and only here.
    let out = bob.form("/logout", &[]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(bob.me().await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(bob.refresh().await, StatusCode::UNAUTHORIZED);
    assert_eq!(ann.me().await.0, StatusCode::OK);
}

#[tokio::test]
async fn postgres_sign_up_verify_log_in_refresh_and_log_out() {
    the_whole_flow(Db::Postgres, CacheKind::Redis).await;
}

#[tokio::test]
async fn sqlite_sign_up_verify_log_in_refresh_and_log_out() {
    the_whole_flow(Db::Sqlite, CacheKind::Memory).await;
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_its_whole_session() {
    let sink = SmtpSink::start().await.unwrap();
    let app = app_with_mail(
        Db::Postgres,
        CacheKind::Redis,
        &sink,
        &[("INCHART_REFRESH_GRACE", "0s")],
    )
    .await;
    let ann = Visitor::new(&app).await;
    ann.sign_up("ann@example.com").await;
    let stolen = ann.cookie("inchart_refresh").unwrap();
    assert_eq!(ann.refresh().await, StatusCode::OK);
    let current = ann.cookie("inchart_refresh").unwrap();

    // The thief presents the token the user has already traded.
    let thief = reqwest::Client::new();
    let replay = thief
        .post(format!("{}/api/v1/auth/refresh", app.address))
        .header(ORIGIN, &app.address)
        .header("x-csrf-token", "t".repeat(43))
        .header(
            COOKIE,
            format!("inchart_csrf={}; inchart_refresh={stolen}", "t".repeat(43)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);

    // The family is revoked: the user's newer token and access token too.
    assert_eq!(
        ann.me().await.0,
        StatusCode::UNAUTHORIZED,
        "the access token of a revoked session"
    );
    assert_eq!(ann.cookie("inchart_refresh").as_deref(), Some(current.as_str()));
    assert_eq!(ann.refresh().await, StatusCode::UNAUTHORIZED);
    let page = ann.page("/account").await;
    assert_eq!(
        page.status(),
        StatusCode::FOUND,
        "signed out, /account sends to the login"
    );
}

#[tokio::test]
async fn two_tabs_refreshing_at_once_stay_signed_in() {
    let sink = SmtpSink::start().await.unwrap();
    let app = app_with_mail(Db::Postgres, CacheKind::Redis, &sink, &[]).await;
    let ann = Visitor::new(&app).await;
    ann.sign_up("ann@example.com").await;
    let token = ann.cookie("inchart_refresh").unwrap();
    let csrf = ann.csrf();
    let tab = |client: reqwest::Client| {
        let (address, token, csrf) = (app.address.clone(), token.clone(), csrf.clone());
        async move {
            client
                .post(format!("{address}/api/v1/auth/refresh"))
                .header(ORIGIN, &address)
                .header("x-csrf-token", &csrf)
                .header(COOKIE, format!("inchart_csrf={csrf}; inchart_refresh={token}"))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let (one, two) = tokio::join!(tab(reqwest::Client::new()), tab(reqwest::Client::new()));
    assert_eq!(
        (one, two),
        (StatusCode::OK, StatusCode::OK),
        "within the grace both are the user's"
    );
    assert_eq!(ann.refresh().await, StatusCode::OK, "and the session lives on");
}

/// An access token signed with `key` and `header`, claiming `claims`.
fn forge(header: &Header, claims: &Value, key: &[u8]) -> String {
    jsonwebtoken::encode(header, claims, &EncodingKey::from_secret(key)).unwrap()
}

#[tokio::test]
async fn forged_expired_and_misaddressed_access_tokens_are_refused() {
    let sink = SmtpSink::start().await.unwrap();
    let app = app_with_mail(Db::Postgres, CacheKind::Redis, &sink, &[]).await;
    let ann = Visitor::new(&app).await;
    ann.sign_up("ann@example.com").await;
    let real = ann.cookie("inchart_access").unwrap();
    let payload = real.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["aud"], "inchart-web");

    let me_with = |token: String| {
        let address = app.address.clone();
        async move {
            reqwest::Client::new()
                .get(format!("{address}/api/v1/me"))
                .header(COOKIE, format!("inchart_access={token}"))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let typed = |algorithm| {
        let mut header = Header::new(algorithm);
        header.typ = Some("at+jwt".into());
        header
    };
    let with = |change: &dyn Fn(&mut Value)| {
        let mut forged = claims.clone();
        change(&mut forged);
        forged
    };
    // The baseline: the same claims, signed as the server signs, pass.
    assert_eq!(
        me_with(forge(&typed(Algorithm::HS256), &claims, SECRET.as_bytes())).await,
        StatusCode::OK
    );

    let now = jsonwebtoken::get_current_timestamp() as i64;
    let refused = [
        (
            "expired",
            forge(
                &typed(Algorithm::HS256),
                &with(&|c| c["exp"] = json!(now - 60)),
                SECRET.as_bytes(),
            ),
        ),
        (
            "wrong audience",
            forge(
                &typed(Algorithm::HS256),
                &with(&|c| c["aud"] = json!("billing")),
                SECRET.as_bytes(),
            ),
        ),
        (
            "wrong issuer",
            forge(
                &typed(Algorithm::HS256),
                &with(&|c| c["iss"] = json!("https://evil.example")),
                SECRET.as_bytes(),
            ),
        ),
        (
            "no subject",
            forge(
                &typed(Algorithm::HS256),
                &with(&|c| {
                    c.as_object_mut().unwrap().remove("sub");
                }),
                SECRET.as_bytes(),
            ),
        ),
        (
            "another key",
            forge(
                &typed(Algorithm::HS256),
                &claims,
                b"another secret, long enough to sign with too",
            ),
        ),
        (
            "another HMAC",
            forge(&typed(Algorithm::HS512), &claims, SECRET.as_bytes()),
        ),
        (
            "not typed as an access token",
            forge(&Header::new(Algorithm::HS256), &claims, SECRET.as_bytes()),
        ),
        ("typed as something else", {
            let mut header = typed(Algorithm::HS256);
            header.typ = Some("refresh+jwt".into());
            forge(&header, &claims, SECRET.as_bytes())
        }),
        ("tampered", {
            let mut parts: Vec<String> = real.split('.').map(str::to_string).collect();
            let other = with(&|c| c["email"] = json!("mallory@example.com"));
            parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&other).unwrap());
            parts.join(".")
        }),
        ("alg none", {
            let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt"}"#);
            format!("{header}.{payload}.")
        }),
        ("RS256 header", {
            // The key confusion: an RS256 token must never be checked as HMAC.
            let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"at+jwt"}"#);
            let signature = real.split('.').nth(2).unwrap();
            format!("{header}.{payload}.{signature}")
        }),
        ("garbage", "not.a.jwt".to_string()),
    ];
    for (what, token) in refused {
        assert_eq!(me_with(token).await, StatusCode::UNAUTHORIZED, "{what}");
    }
}

#[tokio::test]
async fn login_throttling_kicks_in_and_releases() {
    let sink = SmtpSink::start().await.unwrap();
    let app = app_with_mail(
        Db::Postgres,
        CacheKind::Redis,
        &sink,
        &[
            ("INCHART_LOGIN_LIMIT", "3"),
            ("INCHART_LOGIN_IP_LIMIT", "5"),
            ("INCHART_LOGIN_WINDOW", "2s"),
        ],
    )
    .await;
    let ann = Visitor::new(&app).await;
    ann.sign_up("ann@example.com").await;
    let guesser = Visitor::new(&app).await;
    for _ in 0..3 {
        let (status, _) = guesser
            .form_json(
                "/login",
                &[("email", "ann@example.com"), ("password", "guess guess guess")],
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Now even the right password waits, and the answer says how long.
    let csrf = guesser.csrf();
    let blocked = guesser
        .client
        .post(format!("{}/login", app.address))
        .header(ORIGIN, &app.address)
        .header(ACCEPT, "application/json")
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "ann@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(blocked.headers().contains_key("retry-after"));
    let body: Value = blocked.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Try again in")
    );

    // Guessing across accounts from one address meets the address's limit.
    let bob = Visitor::new(&app).await;
    bob.sign_up("bob@example.com").await;
    for who in ["carol@example.com", "dan@example.com"] {
        let (status, _) = guesser
            .form_json("/login", &[("email", who), ("password", "guess guess guess")])
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = guesser
        .form_json("/login", &[("email", "bob@example.com"), ("password", PASSWORD)])
        .await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "five failures from this address"
    );

    tokio::time::sleep(Duration::from_millis(2200)).await;
    let (status, _) = guesser
        .form_json("/login", &[("email", "ann@example.com"), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::OK, "the window has passed");
    let (status, _) = guesser
        .form_json("/login", &[("email", "bob@example.com"), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn state_changes_need_the_csrf_token_and_this_origin() {
    let sink = SmtpSink::start().await.unwrap();
    let app = app_with_mail(Db::Sqlite, CacheKind::Memory, &sink, &[]).await;
    let ann = Visitor::new(&app).await;
    ann.sign_up("ann@example.com").await;
    let csrf = ann.csrf();
    let post = |origin: Option<&str>, fields: Vec<(&str, String)>| {
        let mut request = ann
            .client
            .post(format!("{}/logout-everywhere", app.address))
            .form(&fields);
        if let Some(origin) = origin {
            request = request.header(ORIGIN, origin);
        }
        request.send()
    };
    let address = app.address.as_str();
    let cases = [
        ("no token", post(Some(address), vec![]).await.unwrap()),
        (
            "a wrong token",
            post(Some(address), vec![("csrf", "x".repeat(csrf.len()))])
                .await
                .unwrap(),
        ),
        (
            "another site",
            post(Some("https://evil.example"), vec![("csrf", csrf.clone())])
                .await
                .unwrap(),
        ),
        (
            "no origin",
            post(None, vec![("csrf", csrf.clone())]).await.unwrap(),
        ),
    ];
    for (what, response) in cases {
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{what}");
    }
    let script = ann
        .client
        .post(format!("{}/api/v1/auth/refresh", app.address))
        .header(ORIGIN, address)
        .send()
        .await
        .unwrap();
    assert_eq!(
        script.status(),
        StatusCode::FORBIDDEN,
        "a script's request needs the header"
    );
    assert_eq!(ann.me().await.0, StatusCode::OK, "nothing was changed");
    let referer_only = ann
        .client
        .post(format!("{}/logout-everywhere", app.address))
        .header("referer", format!("{address}/account"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        referer_only.status(),
        StatusCode::SEE_OTHER,
        "a Referer of this site stands for Origin"
    );
    assert_eq!(ann.me().await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_password_reset_ends_every_session_and_works_once() {
    let sink = SmtpSink::start().await.unwrap();
    let app = app_with_mail(Db::Postgres, CacheKind::Redis, &sink, &[]).await;
    let ann = Visitor::new(&app).await;
    ann.sign_up("ann@example.com").await;
    let forgetful = Visitor::new(&app).await;

    // The same answer whether or not the account exists; mail only if it does.
    let known = forgetful
        .form("/forgot-password", &[("email", "ann@example.com")])
        .await;
    let unknown = forgetful
        .form("/forgot-password", &[("email", "nobody@example.com")])
        .await;
    assert_eq!(
        (known.status(), location(&known)),
        (unknown.status(), location(&unknown))
    );
    let page = forgetful.html("/forgot-password").await;
    assert!(
        page.contains("If nobody@example.com has an InChart account"),
        "{page}"
    );
    let mail = sink
        .wait_for("ann@example.com", 2, MAIL_WAIT)
        .await
        .expect("a reset mail");
    assert_eq!(mail.subject(), "Reset your InChart password");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sink.messages_to("nobody@example.com").is_empty());

    let token = token_of(&mail.link().unwrap());
    let (status, body) = forgetful
        .form_json("/reset-password", &[("token", &token), ("password", "12345678")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["field"], "password");
    let new_password = "copper kettle hums quietly";
    let reset = forgetful
        .form(
            "/reset-password",
            &[("token", &token), ("password", new_password)],
        )
        .await;
    assert_eq!(location(&reset), "/account");
    assert_eq!(forgetful.me().await.0, StatusCode::OK, "the reset signs in");
    assert_eq!(
        ann.me().await.0,
        StatusCode::UNAUTHORIZED,
        "the other session ended"
    );

    let (status, _) = forgetful
        .form_json(
            "/reset-password",
            &[("token", &token), ("password", "another fine long phrase")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the link works once");
    let fresh = Visitor::new(&app).await;
    assert_eq!(
        fresh.log_in("ann@example.com", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        fresh.me().await.0,
        StatusCode::UNAUTHORIZED,
        "the old password is gone"
    );
    fresh.log_in("ann@example.com", new_password).await;
    assert_eq!(fresh.me().await.0, StatusCode::OK);
}

#[tokio::test]
async fn devices_are_listed_and_logged_out_one_or_all() {
    let sink = SmtpSink::start().await.unwrap();
    let app = app_with_mail(Db::Postgres, CacheKind::Redis, &sink, &[]).await;
    let laptop = Visitor::new(&app).await;
    laptop.sign_up("ann@example.com").await;
    let phone = Visitor::new(&app).await;
    phone.log_in("ann@example.com", PASSWORD).await;
    let tablet = Visitor::new(&app).await;
    tablet.log_in("ann@example.com", PASSWORD).await;

    let account = laptop.html("/account").await;
    assert_eq!(account.matches("<li class=\"session").count(), 3, "three devices");
    assert_eq!(account.matches("This device").count(), 1);

    // Revoke the phone from the laptop: the others stay.
    let sessions = session_ids(&app, "ann@example.com").await;
    let revoked = laptop
        .form(&format!("/account/sessions/{}/revoke", sessions[1]), &[])
        .await;
    assert_eq!(location(&revoked), "/account");
    assert_eq!(phone.me().await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(laptop.me().await.0, StatusCode::OK);
    assert_eq!(tablet.me().await.0, StatusCode::OK);
    assert_eq!(
        laptop
            .html("/account")
            .await
            .matches("<li class=\"session")
            .count(),
        2
    );

    // Someone else's session id is not the laptop's to revoke.
    let bob = Visitor::new(&app).await;
    bob.sign_up("bob@example.com").await;
    let bobs = session_ids(&app, "bob@example.com").await;
    let (status, _) = laptop
        .form_json(&format!("/account/sessions/{}/revoke", bobs[0]), &[])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(bob.me().await.0, StatusCode::OK);

    let everywhere = laptop.form("/logout-everywhere", &[]).await;
    assert_eq!(location(&everywhere), "/login");
    assert_eq!(laptop.me().await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(tablet.me().await.0, StatusCode::UNAUTHORIZED);
}

/// The session ids of `email`'s live sessions, oldest first, from the
/// database (what the account page's revoke buttons carry).
async fn session_ids(app: &TestApp, email: &str) -> Vec<String> {
    let db = Database::connect(&app.database_url).await.unwrap();
    let backend = db.get_database_backend();
    let rows = db
        .query_all(Statement::from_sql_and_values(
            backend,
            "SELECT CAST(s.id AS TEXT) AS id FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE u.email = $1 AND s.revoked_at IS NULL ORDER BY s.created_at",
            [email.into()],
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|row| row.try_get::<String>("", "id").unwrap())
        .collect()
}

async fn count(db: &sea_orm::DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

#[tokio::test]
async fn deleting_an_account_leaves_nothing_behind() {
    deleting_an_account_leaves_nothing_behind_on(Db::Postgres, CacheKind::Redis).await;
}

/// On SQLite, what other parts keep of an account goes with it through
/// the foreign keys' cascades, as on PostgreSQL.
#[tokio::test]
async fn deleting_an_account_leaves_nothing_behind_on_sqlite() {
    deleting_an_account_leaves_nothing_behind_on(Db::Sqlite, CacheKind::Memory).await;
}

async fn deleting_an_account_leaves_nothing_behind_on(db: Db, cache: CacheKind) {
    let sink = SmtpSink::start().await.unwrap();
    let app = app_with_mail(db, cache, &sink, &[]).await;
    let ann = Visitor::new(&app).await;
    ann.sign_up("ann@example.com").await;
    let other_device = Visitor::new(&app).await;
    other_device.log_in("ann@example.com", PASSWORD).await;
    other_device
        .form("/forgot-password", &[("email", "ann@example.com")])
        .await;
    sink.wait_for("ann@example.com", 2, MAIL_WAIT).await.unwrap();
    let bob = Visitor::new(&app).await;
    bob.sign_up("bob@example.com").await;
    for visitor in [&ann, &bob] {
        let (status, _) = crate::scripts::api(visitor, reqwest::Method::POST, "/api/v1/scripts", None).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, _) =
            crate::scripts::api(visitor, reqwest::Method::PUT, "/api/v1/watchlist/BTCUSDT", None).await;
        assert_eq!(status, StatusCode::OK);
    }

    let (status, body) = ann
        .form_json("/account/delete", &[("current", "not my password")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["field"], "current");

    let deleted = ann.form("/account/delete", &[("current", PASSWORD)]).await;
    assert_eq!(location(&deleted), "/signup");
    assert!(
        deleted
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("inchart_refresh=;"))
    );

    let db = Database::connect(&app.database_url).await.unwrap();
    assert_eq!(
        count(&db, "SELECT COUNT(*) AS n FROM users").await,
        1,
        "only Bob is left"
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) AS n FROM users WHERE email = 'ann@example.com'"
        )
        .await,
        0
    );
    let bobs = "(SELECT id FROM users WHERE email = 'bob@example.com')";
    assert_eq!(
        count(
            &db,
            &format!("SELECT COUNT(*) AS n FROM sessions WHERE user_id NOT IN {bobs}")
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &db,
            &format!("SELECT COUNT(*) AS n FROM email_tokens WHERE user_id NOT IN {bobs}")
        )
        .await,
        0
    );
    assert_eq!(
        count(&db, &format!(
            "SELECT COUNT(*) AS n FROM refresh_tokens WHERE session_id NOT IN (SELECT id FROM sessions WHERE user_id IN {bobs})"
        ))
        .await,
        0
    );
    for table in ["scripts", "script_runs", "script_attachments", "watchlist"] {
        assert_eq!(
            count(
                &db,
                &format!("SELECT COUNT(*) AS n FROM {table} WHERE user_id NOT IN {bobs}")
            )
            .await,
            0,
            "{table}"
        );
    }
    assert_eq!(
        count(&db, &format!(
            "SELECT COUNT(*) AS n FROM script_versions WHERE script_id NOT IN (SELECT id FROM scripts WHERE user_id IN {bobs})"
        ))
        .await,
        0
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) AS n FROM scripts").await,
        1,
        "Bob's script stays"
    );
    assert_eq!(
        other_device.me().await.0,
        StatusCode::UNAUTHORIZED,
        "every device is signed out"
    );
    assert_eq!(bob.me().await.0, StatusCode::OK);
    let (status, _) = Visitor::new(&app)
        .await
        .form_json("/login", &[("email", "ann@example.com"), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn signed_out_visitors_are_sent_to_log_in_and_the_api_says_401() {
    let app = spawn_app_with(Db::Sqlite, CacheKind::Memory, &[]).await;
    let visitor = Visitor::new(&app).await;
    let account = visitor.page("/account").await;
    assert_eq!(account.status(), StatusCode::FOUND);
    assert_eq!(location(&account), "/login?next=/account");
    let (status, body) = visitor.me().await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["kind"], "unauthenticated");

    // With no SMTP server, the pages say where the links go.
    let page = visitor.html("/signup").await;
    assert!(page.contains("This server does not send mail"));
    let created = visitor.sign_up("ann@example.com").await;
    assert_eq!(location(&created), "/account");
    assert!(
        visitor
            .html("/account")
            .await
            .contains("verification link is in its log")
    );
}

#[tokio::test]
async fn cookies_are_host_prefixed_and_secure_behind_https() {
    let app = spawn_app_with(
        Db::Sqlite,
        CacheKind::Memory,
        &[("INCHART_PUBLIC_URL", "https://inchart.test")],
    )
    .await;
    let response = app
        .client
        .get(format!("{}/login", app.address))
        .header(ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    let cookie = response
        .headers()
        .get(SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("__Host-inchart_csrf="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert!(!cookie.contains("Domain"), "{cookie}");
    assert_eq!(
        response.headers()["cache-control"],
        "private, no-cache",
        "a page with a form token is nobody else's"
    );
}

#[tokio::test]
async fn metrics_want_this_machine_or_the_token() {
    let app = spawn_app_with(
        Db::Sqlite,
        CacheKind::Memory,
        &[("INCHART_METRICS_TOKEN", "scrape-me-please")],
    )
    .await;
    assert_eq!(app.get("/metrics").await.status(), StatusCode::FORBIDDEN);
    let scraped = app
        .client
        .get(format!("{}/metrics", app.address))
        .bearer_auth("scrape-me-please")
        .send()
        .await
        .unwrap();
    assert_eq!(scraped.status(), StatusCode::OK);
    assert!(
        scraped
            .text()
            .await
            .unwrap()
            .contains("inchart_ws_clients_signed_in")
    );
}

#[tokio::test]
async fn changing_the_password_keeps_this_device_and_ends_the_others() {
    let sink = SmtpSink::start().await.unwrap();
    let app = app_with_mail(Db::Postgres, CacheKind::Redis, &sink, &[]).await;
    let laptop = Visitor::new(&app).await;
    laptop.sign_up("ann@example.com").await;
    let phone = Visitor::new(&app).await;
    phone.log_in("ann@example.com", PASSWORD).await;

    let (status, body) = laptop
        .form_json(
            "/account/password",
            &[("current", "wrong one"), ("password", "copper kettle hums")],
        )
        .await;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("current"))
    );
    let (status, body) = laptop
        .form_json(
            "/account/password",
            &[("current", PASSWORD), ("password", "qwertyuiop")],
        )
        .await;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("password"))
    );
    let changed = laptop
        .form(
            "/account/password",
            &[("current", PASSWORD), ("password", "copper kettle hums")],
        )
        .await;
    assert_eq!(location(&changed), "/account");
    assert!(
        laptop
            .html("/account")
            .await
            .contains("every other device is logged out")
    );
    assert_eq!(laptop.me().await.0, StatusCode::OK);
    assert_eq!(phone.me().await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(phone.refresh().await, StatusCode::UNAUTHORIZED);
    let (status, _) = phone
        .form_json(
            "/login",
            &[("email", "ann@example.com"), ("password", "copper kettle hums")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn chart_connections_carry_the_session_and_refuse_other_sites() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let sink = SmtpSink::start().await.unwrap();
    let app = app_with_mail(Db::Sqlite, CacheKind::Memory, &sink, &[]).await;
    let ann = Visitor::new(&app).await;
    ann.sign_up("ann@example.com").await;
    let ws_url = format!("{}/ws", app.address.replace("http://", "ws://"));
    let connect = |origin: &str, cookie: Option<String>| {
        let mut request = ws_url.as_str().into_client_request().unwrap();
        request.headers_mut().insert("origin", origin.parse().unwrap());
        if let Some(cookie) = cookie {
            request.headers_mut().insert("cookie", cookie.parse().unwrap());
        }
        tokio_tungstenite::connect_async(request)
    };
    let access = format!("inchart_access={}", ann.cookie("inchart_access").unwrap());

    match connect("https://evil.example", Some(access.clone())).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::FORBIDDEN.as_u16())
        }
        other => panic!("another site's page must not connect: {:?}", other.map(|_| ())),
    }
    let (_signed_in, _) = connect(&app.address, Some(access)).await.unwrap();
    let (_anonymous, _) = connect(&app.address, None).await.unwrap();
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("inchart_ws_clients_signed_in 1\n"), "{metrics}");
    assert!(metrics.contains("inchart_ws_clients 2\n"), "{metrics}");
}

#[tokio::test]
async fn housekeeping_deletes_ended_sessions_and_keeps_live_ones() {
    use inchart::auth::store::AccountStore;

    let sink = SmtpSink::start().await.unwrap();
    let app = app_with_mail(Db::Sqlite, CacheKind::Memory, &sink, &[]).await;
    let leaving = Visitor::new(&app).await;
    leaving.sign_up("ann@example.com").await;
    let staying = Visitor::new(&app).await;
    staying.log_in("ann@example.com", PASSWORD).await;
    leaving.form("/logout", &[]).await;

    let db = Database::connect(&app.database_url).await.unwrap();
    let store = AccountStore::new(db.clone());
    let now = inchart::platform::clock::now_ms();
    let (sessions, mailed) = store.purge(now - 60_000).await.unwrap();
    assert_eq!((sessions, mailed), (0, 0), "nothing ended a minute ago");
    let far_future = now + 2 * 86_400_000;
    let (sessions, mailed) = store.purge(now + 1).await.unwrap();
    assert_eq!(
        (sessions, mailed),
        (1, 0),
        "the logged-out session goes, the live one and the link stay"
    );
    assert_eq!(count(&db, "SELECT COUNT(*) AS n FROM sessions").await, 1);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) AS n FROM refresh_tokens WHERE session_id NOT IN (SELECT id FROM sessions)"
        )
        .await,
        0
    );
    assert_eq!(staying.me().await.0, StatusCode::OK);
    let (_, mailed) = store.purge(far_future).await.unwrap();
    assert_eq!(mailed, 1, "the verification link has expired by then");
}

#[tokio::test]
async fn logging_out_with_an_expired_access_token_clears_the_cookies() {
    let app = spawn_app_with(Db::Sqlite, CacheKind::Memory, &[]).await;
    let ann = Visitor::new(&app).await;
    ann.sign_up("ann@example.com").await;
    let (csrf, refresh) = (ann.csrf(), ann.cookie("inchart_refresh").unwrap());
    // The access cookie has run out: only the refresh token is sent, so the
    // session layer refreshes before the logout runs.
    let response = reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/logout", app.address))
        .header(ORIGIN, &app.address)
        .header("sec-fetch-mode", "navigate")
        .header(COOKIE, format!("inchart_csrf={csrf}; inchart_refresh={refresh}"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let set: Vec<String> = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap().to_string())
        .collect();
    for name in ["inchart_access", "inchart_refresh"] {
        let cookies: Vec<_> = set
            .iter()
            .filter(|c| c.starts_with(&format!("{name}=")))
            .collect();
        assert_eq!(cookies.len(), 1, "{set:?}");
        assert!(
            cookies[0].starts_with(&format!("{name}=;")),
            "{name} is cleared: {set:?}"
        );
    }
}
