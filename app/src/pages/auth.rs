//! The pages of signing up and in: `/signup`, `/login`,
//! `/forgot-password`, `/reset-password` and `/verify-email`. Each is a
//! server-rendered form that works with JavaScript off.

use inchart_api::market::{Interval, Symbol};
use inchart_api::paths::chart_href;
use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::hooks::use_query_map;

use crate::account::{PageSession, safe_next};
use crate::components::account::{AccountForm, AccountLink, Field, FlashNotice, Hidden, page_session};
use crate::theme::ThemeToggle;

/// The frame of the account pages: the header and a narrow card.
#[component]
pub fn AccountShell(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <Title text=format!("{title} · InChart") />
        <Meta name="robots" content="noindex" />
        <header class="site-header">
            <a class="brand" href="/">"InChart"</a>
            <nav class="site-nav" aria-label="Site">
                <a href=chart_href(&Symbol::default(), Interval::default())>"Charts"</a>
                <AccountLink />
            </nav>
            <ThemeToggle />
        </header>
        <main class="page auth">
            <div class="auth-card">{children()}</div>
        </main>
    }
}

/// Renders `page` once the visitor's session is known.
fn with_session<V: IntoView + 'static>(
    page: impl Fn(PageSession) -> V + Send + Sync + Clone + 'static,
) -> impl IntoView {
    view! {
        <Suspense fallback=|| view! { <p class="muted" aria-busy="true">"Loading…"</p> }>
            {move || {
                let page = page.clone();
                Suspend::new(async move { page(page_session().await) })
            }}
        </Suspense>
    }
}

/// The email typed last time, when a form came back with a problem.
fn typed_email(session: &PageSession, form: &str) -> String {
    session
        .flash_for(form)
        .and_then(|flash| flash.email.clone())
        .unwrap_or_default()
}

/// A note that mail is off on this server, where a page promises a link.
fn mail_off_note(session: &PageSession) -> impl IntoView + use<> {
    (!session.mail_sends).then(|| {
        view! {
            <p class="form-hint">
                "This server does not send mail: the links it would send are written to its log."
            </p>
        }
    })
}

#[component]
pub fn SignUpPage() -> impl IntoView {
    view! {
        <AccountShell title="Create your account">
            <h1>"Create your account"</h1>
            <p class="muted">"Save signal scripts and run them on every closed candle."</p>
            {with_session(|session| {
                let email = typed_email(&session, "signup");
                view! {
                    <FlashNotice session=session.clone() form="signup" />
                    <AccountForm session=session.clone() name="signup" action="/signup".to_string()
                        submit="Create account" busy_label="Creating your account…">
                        <Field name="email" label="Email" kind="email" autocomplete="email" value=email autofocus=true />
                        <Field name="password" label="Password" kind="password" autocomplete="new-password"
                            hint="At least 8 characters. A few uncommon words make a strong one." />
                    </AccountForm>
                    {mail_off_note(&session)}
                }
            })}
            <p class="form-footer">"Have an account? " <a href="/login">"Log in"</a></p>
        </AccountShell>
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = Memo::new(move |_| safe_next(query.with(|q| q.get("next")).as_deref()));
    view! {
        <AccountShell title="Log in">
            <h1>"Log in"</h1>
            {move || {
                let next = next.get();
                with_session(move |session| {
                    let email = typed_email(&session, "login");
                    let next = next.clone();
                    let action = match &next {
                        Some(next) => format!("/login?next={}", urlencode(next)),
                        None => "/login".to_string(),
                    };
                    view! {
                        <FlashNotice session=session.clone() form="login" />
                        <AccountForm session=session.clone() name="login" action submit="Log in" busy_label="Logging in…">
                            <Field name="email" label="Email" kind="email" autocomplete="email" value=email autofocus=true />
                            <Field name="password" label="Password" kind="password" autocomplete="current-password" />
                            {next.map(|next| view! { <Hidden name="next" value=next /> })}
                        </AccountForm>
                    }
                })
            }}
            <p class="form-footer">
                <a href="/forgot-password">"Forgot your password?"</a>
                " · New here? " <a href="/signup">"Create an account"</a>
            </p>
        </AccountShell>
    }
}

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    view! {
        <AccountShell title="Reset your password">
            <h1>"Reset your password"</h1>
            <p class="muted">"We will mail you a link to choose a new one."</p>
            {with_session(|session| {
                let email = typed_email(&session, "forgot");
                view! {
                    <FlashNotice session=session.clone() form="forgot" />
                    <AccountForm session=session.clone() name="forgot" action="/forgot-password".to_string()
                        submit="Send the link" busy_label="Sending…">
                        <Field name="email" label="Email" kind="email" autocomplete="email" value=email autofocus=true />
                    </AccountForm>
                    {mail_off_note(&session)}
                }
            })}
            <p class="form-footer"><a href="/login">"Back to log in"</a></p>
        </AccountShell>
    }
}

fn query_token() -> Memo<String> {
    let query = use_query_map();
    Memo::new(move |_| query.with(|q| q.get("token")).unwrap_or_default())
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let token = query_token();
    view! {
        <AccountShell title="Choose a new password">
            <h1>"Choose a new password"</h1>
            {move || {
                let token = token.get();
                with_session(move |session| {
                    let token = token.clone();
                    view! {
                        <AccountForm session=session.clone() name="reset" action="/reset-password".to_string()
                            submit="Save the password" busy_label="Saving…">
                            <Hidden name="token" value=token />
                            <Field name="password" label="New password" kind="password" autocomplete="new-password"
                                hint="At least 8 characters. Every other device is logged out." autofocus=true />
                        </AccountForm>
                    }
                })
            }}
            <p class="form-footer"><a href="/forgot-password">"Ask for a new link"</a></p>
        </AccountShell>
    }
}

#[component]
pub fn VerifyEmailPage() -> impl IntoView {
    let token = query_token();
    view! {
        <AccountShell title="Verify your email">
            <h1>"Verify your email"</h1>
            <p class="muted">"Confirm that this address is yours."</p>
            {move || {
                let token = token.get();
                with_session(move |session| {
                    let token = token.clone();
                    view! {
                        <AccountForm session=session.clone() name="verify" action="/verify-email".to_string()
                            submit="Verify my email" busy_label="Verifying…">
                            <Hidden name="token" value=token />
                        </AccountForm>
                    }
                })
            }}
        </AccountShell>
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
