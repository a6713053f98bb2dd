//! `/account`: the signed-in user's email, password, signed-in devices and
//! the way out. Signed out, it sends the visitor to log in and back.

use leptos::prelude::*;
use leptos_router::components::Redirect;

use crate::PageError;
use crate::account::{AccountOverview, PageSession, SessionInfo, get_account_overview};
use crate::components::account::{AccountForm, Field, FlashNotice, page_session};
use crate::pages::auth::AccountShell;

#[component]
pub fn AccountPage() -> impl IntoView {
    let overview = Resource::new_blocking(|| (), |_| get_account_overview());
    view! {
        <AccountShell title="Your account">
            <Suspense fallback=|| view! { <p class="muted" aria-busy="true">"Loading your account…"</p> }>
                {move || Suspend::new(async move {
                    let session = page_session().await;
                    match overview.await {
                        Ok(Some(overview)) => view! { <Account overview session /> }.into_any(),
                        Ok(None) => view! { <Redirect path="/login?next=/account" /> }.into_any(),
                        Err(error) => view! {
                            <p class="form-error" role="alert">
                                {PageError::from_server_fn_error(&error).to_string()}
                            </p>
                        }
                        .into_any(),
                    }
                })}
            </Suspense>
        </AccountShell>
    }
}

#[component]
fn Account(overview: AccountOverview, session: PageSession) -> impl IntoView {
    let csrf = session.csrf.clone();
    let sessions = overview
        .sessions
        .iter()
        .map(|listed| view! { <SessionRow listed=listed.clone() csrf=csrf.clone() /> })
        .collect_view();
    view! {
        <h1>"Your account"</h1>
        <FlashNotice session=session.clone() form="account" />
        <section class="account-section" aria-labelledby="email-heading">
            <h2 id="email-heading">"Email"</h2>
            <p class="account-email">
                {overview.email.clone()}
                {if overview.email_verified {
                    view! { <span class="badge verified">"Verified"</span> }.into_any()
                } else {
                    view! { <span class="badge">"Not verified"</span> }.into_any()
                }}
            </p>
            {(!overview.email_verified).then(|| view! {
                <p class="muted">
                    {if session.mail_sends {
                        "Open the link we mailed you to verify this address."
                    } else {
                        "This server does not send mail: the verification link is in its log."
                    }}
                </p>
                <AccountForm session=session.clone() name="verification" action="/account/verification".to_string()
                    submit="Send a new link" busy_label="Sending…" quiet=true />
            })}
            <p class="muted small">{format!("Member since {}", format_day(overview.created_at))}</p>
        </section>

        <section class="account-section" aria-labelledby="password-heading">
            <h2 id="password-heading">"Password"</h2>
            <FlashNotice session=session.clone() form="password" />
            <AccountForm session=session.clone() name="password" action="/account/password".to_string()
                submit="Change password" busy_label="Changing…">
                <Field name="current" label="Current password" kind="password" autocomplete="current-password" />
                <Field name="password" label="New password" kind="password" autocomplete="new-password"
                    hint="At least 8 characters. Every other device is logged out." />
            </AccountForm>
        </section>

        <section class="account-section" aria-labelledby="sessions-heading">
            <h2 id="sessions-heading">"Signed-in devices"</h2>
            <FlashNotice session=session.clone() form="sessions" errors=true />
            <ul class="sessions">{sessions}</ul>
            <form method="post" action="/logout-everywhere" class="inline-form">
                <input type="hidden" name="csrf" value=session.csrf.clone() />
                <button type="submit" class="button">"Log out everywhere"</button>
            </form>
            <form method="post" action="/logout" class="inline-form">
                <input type="hidden" name="csrf" value=session.csrf.clone() />
                <button type="submit" class="button">"Log out"</button>
            </form>
        </section>

        <section class="account-section danger-zone" aria-labelledby="delete-heading">
            <h2 id="delete-heading">"Delete account"</h2>
            <p class="muted">"Your account, its sessions and everything saved in it are deleted at once. This cannot be undone."</p>
            <AccountForm session=session.clone() name="delete" action="/account/delete".to_string()
                submit="Delete my account" busy_label="Deleting…" danger=true>
                <Field name="current" label="Your password, to confirm" kind="password" autocomplete="current-password" />
            </AccountForm>
        </section>
    }
}

#[component]
fn SessionRow(listed: SessionInfo, csrf: String) -> impl IntoView {
    let action = format!("/account/sessions/{}/revoke", listed.id);
    let label = if listed.current { "Log out" } else { "Revoke" };
    view! {
        <li class="session" class:current=listed.current>
            <div>
                <p class="session-device">
                    {listed.device.clone()}
                    {listed.current.then(|| view! { <span class="badge">"This device"</span> })}
                </p>
                <p class="muted small">
                    {format!("{} · last seen {} · signed in {}", listed.ip, format_time(listed.last_seen_at), format_day(listed.created_at))}
                </p>
            </div>
            <form method="post" action=action>
                <input type="hidden" name="csrf" value=csrf />
                <button type="submit" class="button small" aria-label=format!("{label}: {}", listed.device)>{label}</button>
            </form>
        </li>
    }
}

/// `2026-11-24` (UTC), the same on the server and in the browser.
pub fn format_day(ms: i64) -> String {
    let (year, month, day) = worker_protocol::utc::civil_date(ms.div_euclid(86_400_000));
    format!("{year}-{month:02}-{day:02}")
}

/// `2026-11-24 18:05 UTC`.
pub fn format_time(ms: i64) -> String {
    let minutes = ms.div_euclid(60_000).rem_euclid(1440);
    format!("{} {:02}:{:02} UTC", format_day(ms), minutes / 60, minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_in_utc() {
        assert_eq!(format_day(0), "1970-01-01");
        assert_eq!(
            format_time(1_795_996_800_000 + 18 * 3_600_000 + 5 * 60_000),
            "2026-11-30 18:05 UTC"
        );
        assert_eq!(format_day(951_782_400_000), "2000-02-29");
    }
}
