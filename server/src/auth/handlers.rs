//! The account forms and endpoints. Each form answers as every form of
//! the site does ([`Answer`]): a redirect for a browser without
//! JavaScript, JSON for the page's script.

use std::time::Duration;

use app::account::{Viewer, safe_next};
use axum::extract::{FromRef, Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Json, Router};
use axum_extra::extract::cookie::{Cookie, CookieJar};
use inchart_api::market::{Interval, Symbol};
use inchart_api::paths::chart_href;
use serde::Deserialize;
use uuid::Uuid;

use super::mail::Mail;
use super::password::check_strength;
use super::session::{RequestAuth, new_csrf_token};
use super::store::{EmailPurpose, SignUpError, User};
use super::throttle::Verdict;
use super::{Auth, RESET_LINK_LIFETIME, VERIFY_LINK_LIFETIME, normalize_email};
use crate::platform::clock::now_ms;
use crate::web::cookies::append_cookies;
use crate::web::error::describe_wait;
use crate::web::{Answer, ApiError, Cookies, SignedIn};

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Auth: FromRef<S>,
    Cookies: FromRef<S>,
{
    Router::new()
        .route("/signup", post(sign_up))
        .route("/login", post(log_in))
        .route("/logout", post(log_out))
        .route("/logout-everywhere", post(log_out_everywhere))
        .route("/verify-email", post(verify_email))
        .route("/forgot-password", post(forgot_password))
        .route("/reset-password", post(reset_password))
        .route("/account/password", post(change_password))
        .route("/account/verification", post(resend_verification))
        .route("/account/sessions/{id}/revoke", post(revoke_session))
        .route("/account/delete", post(delete_account))
        .route("/api/v1/auth/refresh", post(refresh))
        .route("/api/v1/me", get(me))
}

/// Where a signed-in user goes by default: the chart.
fn home() -> String {
    chart_href(&Symbol::default(), Interval::default())
}

fn throttled(wait: Duration, what: &str) -> ApiError {
    ApiError::Throttled {
        retry_after: wait,
        message: format!("Too many {what}. Try again in {}.", describe_wait(wait)),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Credentials {
    email: String,
    password: String,
    next: Option<String>,
}

async fn sign_up(
    State(auth): State<Auth>,
    Extension(request): Extension<RequestAuth>,
    answer: Answer,
    Form(form): Form<Credentials>,
) -> Response {
    let typed = Some(form.email.trim().to_string());
    match sign_up_inner(&auth, &request, &form).await {
        Ok((user, cookies)) => {
            let notice = if auth.mailer.sends() {
                format!(
                    "Welcome! We sent a link to {} to verify your address.",
                    user.email
                )
            } else {
                "Welcome! Mail is off on this server: the verification link is in its log.".to_string()
            };
            answer.with(cookies).done("/account", Some(("account", notice)))
        }
        Err(error) => answer.failed("signup", "/signup", error, typed),
    }
}

async fn sign_up_inner(
    auth: &Auth,
    request: &RequestAuth,
    form: &Credentials,
) -> Result<(User, Vec<Cookie<'static>>), ApiError> {
    if let Verdict::Blocked(wait) = auth
        .throttle
        .attempt(
            "signup",
            &request.device.ip,
            u64::from(auth.settings.signup_limit),
            Duration::from_secs(3600),
        )
        .await
    {
        return Err(throttled(wait, "sign-ups from your network"));
    }
    let email = normalize_email(&form.email).map_err(|message| ApiError::invalid("email", message))?;
    check_strength(&form.password, &email).map_err(|weak| ApiError::invalid("password", weak.0))?;
    let hash = auth.passwords.hash(&form.password).await?;
    let user = match auth.store.create_user(&email, &hash, now_ms()).await {
        Ok(user) => user,
        Err(SignUpError::EmailTaken) => {
            return Err(ApiError::conflict(
                "email",
                "An account with this email exists. Log in, or reset the password if you forgot it.",
            ));
        }
        Err(SignUpError::Internal(error)) => return Err(error.into()),
    };
    tracing::info!(user = %user.id, "account created");
    send_link(auth, &user, EmailPurpose::Verify).await?;
    let cookies = sign_in(auth, &user, request).await?;
    Ok((user, cookies))
}

/// Starts a session for `user` in this browser: the cookies that carry it,
/// and a new CSRF token, so that none known before the login outlives it.
async fn sign_in(auth: &Auth, user: &User, request: &RequestAuth) -> anyhow::Result<Vec<Cookie<'static>>> {
    let (session, refresh) = auth
        .store
        .start_session(user.id, &request.device, now_ms(), auth.settings.session_ttl)
        .await?;
    tracing::info!(user = %user.id, %session, "signed in");
    let mut cookies = auth.session_cookies(user, session, Some(refresh))?;
    cookies.push(auth.csrf_cookie(new_csrf_token()));
    Ok(cookies)
}

/// Mails `user` a one-time link for `purpose`.
async fn send_link(auth: &Auth, user: &User, purpose: EmailPurpose) -> anyhow::Result<()> {
    let (lifetime, path, subject, lead) = match purpose {
        EmailPurpose::Verify => (
            VERIFY_LINK_LIFETIME,
            "verify-email",
            "Verify your email for InChart",
            "Open this link to verify the address of your InChart account. It works for 24 hours.",
        ),
        EmailPurpose::Reset => (
            RESET_LINK_LIFETIME,
            "reset-password",
            "Reset your InChart password",
            "Open this link to choose a new password for your InChart account. It works for 30 \
             minutes, once. If you did not ask for it, ignore this mail: your password stays as it is.",
        ),
    };
    let token = auth
        .store
        .issue_email_token(user.id, purpose, now_ms(), lifetime)
        .await?;
    let link = format!("{}/{path}?token={token}", auth.settings.public_url);
    auth.mailer.send_later(Mail {
        to: user.email.clone(),
        subject: subject.to_string(),
        body: format!("{lead}\n\n{link}\n\n— InChart\n"),
        link,
        unsubscribe: None,
    });
    Ok(())
}

async fn log_in(
    State(auth): State<Auth>,
    Extension(request): Extension<RequestAuth>,
    answer: Answer,
    Form(form): Form<Credentials>,
) -> Response {
    let typed = Some(form.email.trim().to_string());
    let back = match safe_next(form.next.as_deref()) {
        Some(next) => format!("/login?next={}", urlencode(&next)),
        None => "/login".to_string(),
    };
    match log_in_inner(&auth, &request, &form).await {
        Ok(cookies) => {
            let to = safe_next(form.next.as_deref()).unwrap_or_else(home);
            answer.with(cookies).done(&to, None)
        }
        Err(error) => answer.failed("login", &back, error, typed),
    }
}

async fn log_in_inner(
    auth: &Auth,
    request: &RequestAuth,
    form: &Credentials,
) -> Result<Vec<Cookie<'static>>, ApiError> {
    let email = normalize_email(&form.email).map_err(|message| ApiError::invalid("email", message))?;
    let ip = &request.device.ip;
    if let Verdict::Blocked(wait) = auth.throttle.login_allowed(&email, ip).await {
        return Err(throttled(wait, "login attempts"));
    }
    let user = auth.store.user_by_email(&email).await?;
    let stored = user.as_ref().map(|user| user.password_hash.as_str());
    if !auth.passwords.verify(&form.password, stored).await? {
        auth.throttle.login_failed(&email, ip).await;
        return Err(ApiError::InvalidCredentials);
    }
    let Some(user) = user else {
        return Err(ApiError::InvalidCredentials);
    };
    auth.throttle.login_succeeded(&email).await;
    Ok(sign_in(auth, &user, request).await?)
}

async fn log_out(
    State(auth): State<Auth>,
    Extension(request): Extension<RequestAuth>,
    answer: Answer,
) -> Response {
    if let Some(user) = &request.signed_in {
        match auth.store.revoke_session(user.user, user.session, now_ms()).await {
            Ok(_) => auth.forget_sessions(&[user.session]).await,
            Err(error) => return answer.failed("sessions", "/account", error.into(), None),
        }
    }
    answer.with(auth.signed_out_cookies()).done("/", None)
}

async fn log_out_everywhere(
    State(auth): State<Auth>,
    Extension(request): Extension<RequestAuth>,
    answer: Answer,
) -> Response {
    let Some(user) = &request.signed_in else {
        return answer.failed("login", "/login?next=/account", ApiError::Unauthenticated, None);
    };
    match auth.store.revoke_all(user.user, None, now_ms()).await {
        Ok(ended) => {
            auth.forget_sessions(&ended).await;
            answer.with(auth.signed_out_cookies()).done(
                "/login",
                Some(("login", "You are logged out on every device.".to_string())),
            )
        }
        Err(error) => answer.failed("sessions", "/account", error.into(), None),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TokenForm {
    token: String,
    password: String,
}

async fn verify_email(
    State(auth): State<Auth>,
    Extension(request): Extension<RequestAuth>,
    answer: Answer,
    Form(form): Form<TokenForm>,
) -> Response {
    let back = format!("/verify-email?token={}", urlencode(&form.token));
    let user = match auth.store.verify_email(&form.token, now_ms()).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            let error = ApiError::invalid(
                "token",
                "This link has expired or was used already. Log in and send a new one from your account page.",
            );
            return answer.failed("verify", &back, error, None);
        }
        Err(error) => return answer.failed("verify", &back, error.into(), None),
    };
    tracing::info!(user = %user.id, "email verified");
    // The browser signed in as this user gets an access token that says so.
    let mut answer = answer;
    if let Some(signed_in) = request
        .signed_in
        .as_ref()
        .filter(|signed_in| signed_in.user == user.id)
    {
        match auth.session_cookies(&user, signed_in.session, None) {
            Ok(cookies) => answer = answer.with(cookies),
            Err(error) => return answer.failed("verify", &back, error.into(), None),
        }
    }
    let (to, form) = if request.signed_in.is_some() {
        ("/account", "account")
    } else {
        ("/login", "login")
    };
    answer.done(to, Some((form, "Your email address is verified.".to_string())))
}

async fn forgot_password(
    State(auth): State<Auth>,
    Extension(request): Extension<RequestAuth>,
    answer: Answer,
    Form(form): Form<Credentials>,
) -> Response {
    let typed = Some(form.email.trim().to_string());
    let email = match normalize_email(&form.email) {
        Ok(email) => email,
        Err(message) => {
            let error = ApiError::invalid("email", message);
            return answer.failed("forgot", "/forgot-password", error, typed);
        }
    };
    if let Verdict::Blocked(wait) = auth
        .throttle
        .attempt("reset", &request.device.ip, 20, Duration::from_secs(3600))
        .await
    {
        let error = throttled(wait, "reset requests from your network");
        return answer.failed("forgot", "/forgot-password", error, typed);
    }
    // Whether the account exists changes only what is mailed, never the
    // answer: the same words, and the mail goes out in the background.
    match auth.store.user_by_email(&email).await {
        Ok(Some(user)) => {
            let within_limit = auth
                .throttle
                .attempt("reset-mail", &user.id.to_string(), 5, Duration::from_secs(3600))
                .await
                == Verdict::Allowed;
            if within_limit && let Err(error) = send_link(&auth, &user, EmailPurpose::Reset).await {
                return answer.failed("forgot", "/forgot-password", error.into(), typed);
            }
        }
        Ok(None) => {}
        Err(error) => return answer.failed("forgot", "/forgot-password", error.into(), typed),
    }
    let notice = if auth.mailer.sends() {
        format!(
            "If {email} has an InChart account, a link to reset its password is on its way. It works for 30 minutes."
        )
    } else {
        format!(
            "Mail is off on this server: if {email} has an account, the reset link is in the server's log."
        )
    };
    answer.done("/forgot-password", Some(("forgot", notice)))
}

async fn reset_password(
    State(auth): State<Auth>,
    Extension(request): Extension<RequestAuth>,
    answer: Answer,
    Form(form): Form<TokenForm>,
) -> Response {
    let back = format!("/reset-password?token={}", urlencode(&form.token));
    match reset_password_inner(&auth, &request, &form).await {
        Ok(cookies) => answer.with(cookies).done(
            "/account",
            Some((
                "account",
                "Your password is changed, and every other device is logged out.".to_string(),
            )),
        ),
        Err(error) => answer.failed("reset", &back, error, None),
    }
}

async fn reset_password_inner(
    auth: &Auth,
    request: &RequestAuth,
    form: &TokenForm,
) -> Result<Vec<Cookie<'static>>, ApiError> {
    let expired = || {
        ApiError::invalid(
            "token",
            "This link has expired or was used already. Ask for a new one below.",
        )
    };
    let Some(owner) = auth
        .store
        .email_token_owner(&form.token, EmailPurpose::Reset, now_ms())
        .await?
    else {
        return Err(expired());
    };
    check_strength(&form.password, &owner.email).map_err(|weak| ApiError::invalid("password", weak.0))?;
    let hash = auth.passwords.hash(&form.password).await?;
    let Some((user, ended)) = auth.store.reset_password(&form.token, &hash, now_ms()).await? else {
        return Err(expired());
    };
    auth.forget_sessions(&ended).await;
    tracing::info!(user = %user.id, ended = ended.len(), "password reset");
    Ok(sign_in(auth, &user, request).await?)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PasswordChange {
    current: String,
    password: String,
}

async fn change_password(
    State(auth): State<Auth>,
    Extension(request): Extension<RequestAuth>,
    answer: Answer,
    Form(form): Form<PasswordChange>,
) -> Response {
    match change_password_inner(&auth, &request, &form).await {
        Ok(()) => answer.done(
            "/account",
            Some((
                "password",
                "Your password is changed, and every other device is logged out.".to_string(),
            )),
        ),
        Err(error) => answer.failed("password", "/account", error, None),
    }
}

/// Checks the signed-in user's password, with the login throttle: a
/// stolen session must not become a way to guess it.
async fn confirm_password(auth: &Auth, request: &RequestAuth, password: &str) -> Result<User, ApiError> {
    let signed_in = request.signed_in.as_ref().ok_or(ApiError::Unauthenticated)?;
    let user = auth
        .store
        .user(signed_in.user)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    if let Verdict::Blocked(wait) = auth.throttle.login_allowed(&user.email, &request.device.ip).await {
        return Err(throttled(wait, "password attempts"));
    }
    if !auth.passwords.verify(password, Some(&user.password_hash)).await? {
        auth.throttle.login_failed(&user.email, &request.device.ip).await;
        return Err(ApiError::invalid("current", "That is not your current password."));
    }
    Ok(user)
}

async fn change_password_inner(
    auth: &Auth,
    request: &RequestAuth,
    form: &PasswordChange,
) -> Result<(), ApiError> {
    let user = confirm_password(auth, request, &form.current).await?;
    check_strength(&form.password, &user.email).map_err(|weak| ApiError::invalid("password", weak.0))?;
    let session = request
        .signed_in
        .as_ref()
        .ok_or(ApiError::Unauthenticated)?
        .session;
    let hash = auth.passwords.hash(&form.password).await?;
    let ended = auth
        .store
        .change_password(user.id, &hash, session, now_ms())
        .await?;
    auth.forget_sessions(&ended).await;
    tracing::info!(user = %user.id, ended = ended.len(), "password changed");
    Ok(())
}

async fn resend_verification(
    State(auth): State<Auth>,
    Extension(request): Extension<RequestAuth>,
    answer: Answer,
) -> Response {
    let result = async {
        let signed_in = request.signed_in.as_ref().ok_or(ApiError::Unauthenticated)?;
        let user = auth
            .store
            .user(signed_in.user)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        if user.email_verified_at.is_some() {
            return Ok("Your email address is verified already.".to_string());
        }
        if let Verdict::Blocked(wait) = auth
            .throttle
            .attempt("verify-mail", &user.id.to_string(), 5, Duration::from_secs(3600))
            .await
        {
            return Err(throttled(wait, "verification mails"));
        }
        send_link(&auth, &user, EmailPurpose::Verify).await?;
        Ok(if auth.mailer.sends() {
            format!("We sent a new link to {}.", user.email)
        } else {
            "Mail is off on this server: the new link is in its log.".to_string()
        })
    }
    .await;
    match result {
        Ok(message) => answer.done("/account", Some(("account", message))),
        Err(error) => answer.failed("verification", "/account", error, None),
    }
}

async fn revoke_session(
    State(auth): State<Auth>,
    Extension(request): Extension<RequestAuth>,
    Path(id): Path<String>,
    answer: Answer,
) -> Response {
    let Some(user) = &request.signed_in else {
        return answer.failed("login", "/login?next=/account", ApiError::Unauthenticated, None);
    };
    let Ok(session) = Uuid::parse_str(&id) else {
        let error = ApiError::invalid("session", "That session does not exist.");
        return answer.failed("sessions", "/account", error, None);
    };
    match auth.store.revoke_session(user.user, session, now_ms()).await {
        Ok(true) => {
            auth.forget_sessions(&[session]).await;
            if session == user.session {
                answer.with(auth.signed_out_cookies()).done("/login", None)
            } else {
                answer.done(
                    "/account",
                    Some(("sessions", "That device is logged out.".to_string())),
                )
            }
        }
        Ok(false) => {
            let error = ApiError::invalid("session", "That session has ended already.");
            answer.failed("sessions", "/account", error, None)
        }
        Err(error) => answer.failed("sessions", "/account", error.into(), None),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DeleteForm {
    current: String,
}

async fn delete_account(
    State(auth): State<Auth>,
    Extension(request): Extension<RequestAuth>,
    answer: Answer,
    Form(form): Form<DeleteForm>,
) -> Response {
    let result = async {
        let user = confirm_password(&auth, &request, &form.current).await?;
        // Nobody is charged for an account that is gone: what would go on
        // (a subscription) ends first, or the account stays.
        for closer in auth.closers.iter() {
            closer
                .close_account(user.id)
                .await
                .map_err(ApiError::Unavailable)?;
        }
        let ended = auth.store.delete_user(user.id).await?;
        auth.forget_sessions(&ended).await;
        tracing::info!(user = %user.id, "account deleted");
        Ok::<_, ApiError>(())
    }
    .await;
    match result {
        Ok(()) => answer.with(auth.signed_out_cookies()).done(
            "/signup",
            Some((
                "signup",
                "Your account and everything in it are deleted.".to_string(),
            )),
        ),
        Err(error) => answer.failed("delete", "/account", error, None),
    }
}

/// `POST /api/v1/auth/refresh`: a script's way to a new access token
/// (with the `x-csrf-token` header). 200 with the user, or 401.
async fn refresh(
    State(auth): State<Auth>,
    Extension(request): Extension<RequestAuth>,
    jar: CookieJar,
) -> Result<Response, ApiError> {
    let Some(token) = jar
        .get(&auth.cookies.names().refresh)
        .map(|cookie| cookie.value().to_string())
    else {
        return Err(ApiError::Unauthenticated);
    };
    let (signed_in, cookies) = auth.refresh(&token, &request.device).await?;
    let response = match signed_in {
        Some(user) => Json(Viewer {
            email: user.email,
            email_verified: user.email_verified,
        })
        .into_response(),
        None => ApiError::Unauthenticated.into_response(),
    };
    let mut response = response;
    append_cookies(&mut response, cookies);
    Ok(response)
}

/// `GET /api/v1/me`: the signed-in user, or 401.
async fn me(user: SignedIn) -> Json<Viewer> {
    Json(Viewer {
        email: user.email,
        email_verified: user.email_verified,
    })
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
