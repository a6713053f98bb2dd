//! `/alerts`: the trader's alerts, newest first, each with its state
//! (a paused one says why when InChart paused it), its channels and when
//! it last fired; pause, resume, change and delete; opened, its firings
//! and every delivery attempt, and "Send again". "New alert" opens the
//! whole form.
//!
//! The server renders the frame (a visitor is sent to log in first); the
//! list is read from the API in the browser, like the chart's alerts.

use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::components::Redirect;

use crate::alerts::{
    Alert, AlertCreated, AlertDraft, AlertState, Attempt, Delivery, Firing, channel_label, channel_names,
    condition_sentence, delivery_words, fired_words, repeat_words, state_view,
};
use crate::api_client::ApiFailure;
use crate::components::account::page_session;
use crate::components::alert_form::{AlertForm, WebhookSecret};
use crate::pages::account::format_time;
use crate::pages::scripts::ScriptsHeader;

#[component]
pub fn AlertsPage() -> impl IntoView {
    view! {
        <Title text="Your alerts · InChart" />
        <Meta name="robots" content="noindex" />
        <ScriptsHeader current="alerts" />
        <main class="page alerts-page">
            <Suspense fallback=|| view! { <p class="muted" aria-busy="true">"Loading your alerts…"</p> }>
                {move || Suspend::new(async move {
                    let session = page_session().await;
                    if session.viewer.is_none() {
                        return view! { <Redirect path="/login?next=/alerts" /> }.into_any();
                    }
                    view! { <AlertsView csrf=session.csrf /> }.into_any()
                })}
            </Suspense>
        </main>
    }
}

/// The list as loaded: `None` while it loads.
type Listed = RwSignal<Option<Result<Vec<Alert>, String>>>;

/// What the page's rows share.
#[derive(Clone, Copy)]
struct Page {
    csrf: StoredValue<String>,
    alerts: Listed,
    /// The alert whose form is open, by id.
    editing: RwSignal<Option<String>>,
    /// A webhook's secret, shown once after a save.
    secret: RwSignal<Option<String>>,
    /// What the last action on the list said, when it failed.
    notice: RwSignal<Option<String>>,
}

impl Page {
    /// Puts a saved or changed alert in the list (new ones first).
    fn put(self, alert: Alert) {
        self.alerts.update(|list| {
            if let Some(Ok(list)) = list {
                match list.iter_mut().find(|a| a.id == alert.id) {
                    Some(old) => *old = alert,
                    None => list.insert(0, alert),
                }
            }
        });
    }

    fn saved(self, created: AlertCreated) {
        if let Some(secret) = created.webhook_secret {
            self.secret.set(Some(secret));
        }
        self.editing.set(None);
        self.put(created.alert);
    }
}

#[component]
fn AlertsView(csrf: String) -> impl IntoView {
    let page = Page {
        csrf: StoredValue::new(csrf),
        alerts: RwSignal::new(None),
        editing: RwSignal::new(None),
        secret: RwSignal::new(None),
        notice: RwSignal::new(None),
    };
    let creating = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(async move {
        let answer = crate::alerts::list_alerts(None)
            .await
            .map_err(|failure| failure.message);
        page.alerts.set(Some(answer));
    });

    let on_created = Callback::new(move |created: AlertCreated| {
        creating.set(false);
        page.saved(created);
    });
    let new_form = move || {
        creating.get().then(|| {
            view! {
                <section class="alert-new" aria-label="New alert">
                    <h2>"New alert"</h2>
                    <AlertForm csrf=page.csrf.get_value()
                        draft=AlertDraft::price(&Default::default(), Default::default(), None)
                        on_saved=on_created on_cancel=Callback::new(move |_| creating.set(false)) />
                </section>
            }
        })
    };

    view! {
        <div class="scripts-heading">
            <h1>"Your alerts"</h1>
            <button type="button" class="button primary" data-testid="alert-new"
                disabled=move || creating.get() on:click=move |_| creating.set(true)>"New alert"</button>
        </div>
        <p class="muted">
            "An alert watches a price level or a script's signals and tells you by email, a browser notification or a webhook. "
            "Price alerts are lines on the chart too: drag one to move its level."
        </p>
        {move || page.secret.get().map(|secret| view! {
            <WebhookSecret secret on_done=Callback::new(move |_| page.secret.set(None)) />
        })}
        {move || page.notice.get().map(|message| view! {
            <p class="form-error" role="alert" data-testid="alerts-notice">
                {message}" "
                <button type="button" class="link-button" on:click=move |_| page.notice.set(None)>"Dismiss"</button>
            </p>
        })}
        {new_form}
        <AlertList page />
    }
}

/// What the list shows as a whole; a change to one alert leaves it be, so
/// the rows keep their state (an opened row stays open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListState {
    Loading,
    Failed,
    Empty,
    Listed,
}

#[component]
fn AlertList(page: Page) -> impl IntoView {
    let shown = Memo::new(move |_| {
        page.alerts.with(|alerts| match alerts {
            None => ListState::Loading,
            Some(Err(_)) => ListState::Failed,
            Some(Ok(list)) if list.is_empty() => ListState::Empty,
            Some(Ok(_)) => ListState::Listed,
        })
    });
    move || {
        match shown.get() {
        ListState::Loading => view! { <p class="muted" aria-busy="true" data-testid="alerts-loading">"Loading your alerts…"</p> }.into_any(),
        ListState::Failed => {
            let message = page.alerts.with_untracked(|alerts| match alerts {
                Some(Err(message)) => message.clone(),
                _ => String::new(),
            });
            view! {
                <p class="form-error" role="alert">{format!("Your alerts could not be loaded: {message}")}</p>
            }
            .into_any()
        }
        ListState::Empty => view! {
            <p class="empty-state" data-testid="alerts-empty">
                "No alerts yet. "<strong>"New alert"</strong>" sets one, or the "<strong>"Alert"</strong>" button on any chart."
            </p>
        }
        .into_any(),
        ListState::Listed => view! {
            <ul class="alert-list" data-testid="alert-list">
                <For
                    each=move || page.alerts.with(|a| a.as_ref().and_then(|r| r.as_ref().ok()).cloned().unwrap_or_default())
                    // A changed alert is a new row: its words change with it.
                    key=|alert| serde_json::to_string(alert).unwrap_or_else(|_| alert.id.clone())
                    children=move |alert| view! { <AlertRow alert page /> }
                />
            </ul>
        }
        .into_any(),
    }
    }
}

#[component]
fn AlertRow(alert: Alert, page: Page) -> impl IntoView {
    let id = alert.id.clone();
    let open = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let editing = {
        let id = id.clone();
        move || page.editing.with(|e| e.as_deref() == Some(id.as_str()))
    };
    let form = {
        let alert = alert.clone();
        move || {
            editing().then(|| {
                view! {
                    <div class="alert-edit">
                        <AlertForm csrf=page.csrf.get_value() draft=AlertDraft::of_alert(&alert) editing=alert.id.clone()
                            on_saved=Callback::new(move |created| page.saved(created))
                            on_cancel=Callback::new(move |_| page.editing.set(None)) />
                    </div>
                }
                .into_any()
            })
        }
    };
    let firings = {
        let id = id.clone();
        move || {
            open.get()
                .then(|| view! { <FiringList alert_id=id.clone() page /> }.into_any())
        }
    };
    let state = alert.state.as_str();
    let summary = alert_summary(&alert, open);
    let actions = view! { <AlertActions alert page busy /> };
    view! {
        <li class="alert-row" data-testid="alert-row" data-alert-id=id data-state=state>
            {summary}
            {actions}
            {form}
            {firings}
        </li>
    }
    .into_any()
}

/// The row's words: series, state, channels, condition, why InChart paused
/// it, when it last fired. The series opens the firings.
fn alert_summary(alert: &Alert, open: RwSignal<bool>) -> AnyView {
    let state = state_view(alert);
    let sentence = format!(
        "{}, {}",
        condition_sentence(alert),
        repeat_words(alert.spec.repeat)
    );
    let expires = alert
        .spec
        .expires_at
        .map(|at| format!(" \u{00b7} Expires {}", format_time(at)));
    let badges = channel_names(&alert.spec.channels)
        .into_iter()
        .map(|name| view! { <span class="badge channel-badge" data-channel=name.to_ascii_lowercase()>{name}</span> })
        .collect_view();
    let reason = state.reason.map(|reason| {
        view! {
            <p class="alert-paused-reason" role="alert" data-testid="alert-paused-reason">
                <strong>"InChart paused this alert: "</strong>{reason}" Fix the webhook, then resume it."
            </p>
        }
    });
    let head = view! {
        <div class="alert-main">
            <button type="button" class="alert-toggle" data-testid="alert-expand"
                aria-expanded=move || open.get().to_string() on:click=move |_| open.update(|o| *o = !*o)>
                <span class="chevron" aria-hidden="true"></span>
                <span class="alert-series tabular">{format!("{} \u{00b7} {}", alert.spec.symbol, alert.spec.interval)}</span>
            </button>
            <span class=format!("badge alert-state {}", state.class) data-testid="alert-state">{state.label}</span>
            <span class="alert-channels">{badges}</span>
        </div>
    }
    .into_any();
    view! {
        {head}
        <p class="alert-sentence" data-testid="alert-sentence">{sentence}</p>
        {reason}
        <p class="muted small tabular">{fired_words(alert)}{expires}</p>
    }
    .into_any()
}

/// Pause or resume, edit, delete.
#[component]
fn AlertActions(alert: Alert, page: Page, busy: RwSignal<bool>) -> impl IntoView {
    let id = alert.id.clone();
    let can_pause = matches!(alert.state, AlertState::Active | AlertState::Paused);
    let paused = alert.state == AlertState::Paused;
    let toggle = {
        let id = id.clone();
        move |_| pause(page, id.clone(), !paused, busy)
    };
    let remove = {
        let id = id.clone();
        let question = format!(
            "Delete the alert on {} {}? Its firings go with it.",
            alert.spec.symbol, alert.spec.interval
        );
        move |_| {
            if confirm(&question) {
                delete(page, id.clone(), busy);
            }
        }
    };
    let edit = move |_| page.editing.set(Some(id.clone()));
    let pause_button = can_pause.then(|| {
        view! {
            <button type="button" class="button small" data-testid="alert-pause" disabled=move || busy.get() on:click=toggle>
                {if paused { "Resume" } else { "Pause" }}
            </button>
        }
    });
    view! {
        <div class="alert-actions">
            {pause_button}
            <button type="button" class="button small" data-testid="alert-edit" on:click=edit>"Edit"</button>
            <button type="button" class="button small quiet-danger" data-testid="alert-delete" disabled=move || busy.get() on:click=remove>"Delete"</button>
        </div>
    }
    .into_any()
}

/// An alert's firings, read when the row opens.
#[component]
fn FiringList(alert_id: String, page: Page) -> impl IntoView {
    let firings = RwSignal::new(None::<Result<Vec<Firing>, String>>);
    #[cfg(feature = "hydrate")]
    {
        let id = alert_id.clone();
        leptos::task::spawn_local(async move {
            let answer = crate::alerts::list_firings(&id)
                .await
                .map_err(|failure| failure.message);
            firings.set(Some(answer));
        });
    }
    let alert_id = StoredValue::new(alert_id);
    move || match firings.get() {
        None => view! { <p class="muted small" aria-busy="true">"Loading its firings…"</p> }.into_any(),
        Some(Err(message)) => {
            view! { <p class="field-error">{format!("Its firings could not be loaded: {message}")}</p> }
                .into_any()
        }
        Some(Ok(list)) if list.is_empty() => view! {
            <p class="muted small" data-testid="firings-empty">"It has not fired yet."</p>
        }
        .into_any(),
        Some(Ok(list)) => {
            let rows = list
                .into_iter()
                .map(|firing| view! { <FiringRow firing alert_id=alert_id.get_value() firings page /> })
                .collect_view();
            view! { <ol class="firing-list" data-testid="firing-list">{rows}</ol> }.into_any()
        }
    }
}

#[component]
fn FiringRow(
    firing: Firing,
    alert_id: String,
    firings: RwSignal<Option<Result<Vec<Firing>, String>>>,
    page: Page,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    let side = firing
        .side
        .map(|side| match side {
            worker_protocol::Side::Buy => " \u{00b7} buy",
            worker_protocol::Side::Sell => " \u{00b7} sell",
        })
        .unwrap_or_default();
    let label = firing
        .label
        .as_ref()
        .map(|label| format!(" \u{00b7} {label}"))
        .unwrap_or_default();
    let heading = format!(
        "{} at {}{side}{label}",
        format_time(firing.fired_at),
        crate::alerts::level_words(firing.price)
    );
    let firing_id = firing.id.clone();
    let resend = move |_| resend(page, alert_id.clone(), firing_id.clone(), firings, busy);
    let deliveries = firing
        .deliveries
        .into_iter()
        .map(|delivery| view! { <DeliveryRow delivery /> })
        .collect_view();
    view! {
        <li class="firing-row" data-testid="firing-row" data-firing-id=firing.id.clone()>
            <div class="firing-head">
                <span class="tabular">{heading}</span>
                <button type="button" class="button small" data-testid="firing-resend" disabled=move || busy.get() on:click=resend>
                    {move || if busy.get() { "Sending…" } else { "Send again" }}
                </button>
            </div>
            <ul class="delivery-list">{deliveries}</ul>
        </li>
    }
    .into_any()
}

#[component]
fn DeliveryRow(delivery: Delivery) -> impl IntoView {
    let attempts = delivery.attempts.iter().map(attempt_row).collect_view();
    let any = !delivery.attempts.is_empty();
    view! {
        <li class="delivery-row" data-testid="delivery-row" data-channel=delivery.channel.as_str() data-state=delivery.state.as_str()>
            <p class="delivery-head">
                <span class="badge channel-badge">{channel_label(delivery.channel)}</span>
                <span class=format!("delivery-state {}", delivery.state.as_str())>{delivery_words(&delivery)}</span>
            </p>
            {any.then(|| view! {
                <div class="table-scroll">
                    <table class="attempts">
                        <thead><tr><th scope="col">"Time"</th><th scope="col">"Answer"</th><th scope="col" class="num">"Latency"</th></tr></thead>
                        <tbody>{attempts}</tbody>
                    </table>
                </div>
            })}
        </li>
    }
    .into_any()
}

fn attempt_row(attempt: &Attempt) -> impl IntoView + use<> {
    view! {
        <tr data-testid="attempt-row" data-ok=attempt.ok.to_string() data-status=attempt.status>
            <td>{format_time(attempt.at)}</td>
            <td class:attempt-failed=!attempt.ok>{attempt.outcome.clone()}</td>
            <td class="num">{format!("{} ms", attempt.latency_ms)}</td>
        </tr>
    }
}

/// Asks before an alert goes; without JavaScript nothing here runs.
fn confirm(question: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|window| window.confirm_with_message(question).ok())
            .unwrap_or(false)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = question;
        false
    }
}

fn said(failure: ApiFailure) -> String {
    failure.message
}

#[cfg(feature = "hydrate")]
fn pause(page: Page, id: String, paused: bool, busy: RwSignal<bool>) {
    busy.set(true);
    leptos::task::spawn_local(async move {
        let patch = crate::alerts::AlertPatch {
            paused: Some(paused),
            condition: None,
        };
        match crate::alerts::patch_alert(&page.csrf.get_value(), &id, &patch).await {
            Ok(alert) => page.put(alert),
            Err(failure) => page.notice.set(Some(said(failure))),
        }
        busy.set(false);
    });
}

#[cfg(feature = "hydrate")]
fn delete(page: Page, id: String, busy: RwSignal<bool>) {
    busy.set(true);
    leptos::task::spawn_local(async move {
        match crate::alerts::delete_alert(&page.csrf.get_value(), &id).await {
            Ok(()) => page.alerts.update(|list| {
                if let Some(Ok(list)) = list {
                    list.retain(|a| a.id != id);
                }
            }),
            Err(failure) => {
                page.notice.set(Some(said(failure)));
                busy.set(false);
            }
        }
    });
}

#[cfg(feature = "hydrate")]
fn resend(
    page: Page,
    alert_id: String,
    firing_id: String,
    firings: RwSignal<Option<Result<Vec<Firing>, String>>>,
    busy: RwSignal<bool>,
) {
    busy.set(true);
    leptos::task::spawn_local(async move {
        // False once the row is closed: nothing is left to show.
        let show = move |firing: Firing| {
            firings
                .try_update(|list| {
                    if let Some(Ok(list)) = list
                        && let Some(old) = list.iter_mut().find(|f| f.id == firing.id)
                    {
                        *old = firing;
                    }
                })
                .is_some()
        };
        match crate::alerts::resend_firing(&page.csrf.get_value(), &alert_id, &firing_id).await {
            Ok(firing) => {
                let mut sending = pending(&firing);
                sending &= show(firing);
                // The server answers once the sends are queued: the row
                // follows them, for half a minute at most, until none is
                // pending, so that their attempts show.
                for _ in 0..RESEND_POLLS {
                    if !sending {
                        break;
                    }
                    sleep(1_000).await;
                    let Ok(list) = crate::alerts::list_firings(&alert_id).await else {
                        break;
                    };
                    let Some(firing) = list.into_iter().find(|f| f.id == firing_id) else {
                        break;
                    };
                    sending = pending(&firing);
                    sending &= show(firing);
                }
            }
            Err(failure) => page.notice.set(Some(said(failure))),
        }
        busy.try_set(false);
    });
}

/// How many seconds "Send again" follows a firing's deliveries.
#[cfg(feature = "hydrate")]
const RESEND_POLLS: u32 = 30;

/// Whether a delivery of the firing is still being sent.
#[cfg(feature = "hydrate")]
fn pending(firing: &Firing) -> bool {
    firing
        .deliveries
        .iter()
        .any(|d| d.state == crate::alerts::DeliveryState::Pending)
}

/// Resolves after `ms`.
#[cfg(feature = "hydrate")]
async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

#[cfg(not(feature = "hydrate"))]
fn pause(_page: Page, _id: String, _paused: bool, _busy: RwSignal<bool>) {}

#[cfg(not(feature = "hydrate"))]
fn delete(_page: Page, _id: String, _busy: RwSignal<bool>) {}

#[cfg(not(feature = "hydrate"))]
fn resend(
    _page: Page,
    _alert_id: String,
    _firing_id: String,
    _firings: RwSignal<Option<Result<Vec<Firing>, String>>>,
    _busy: RwSignal<bool>,
) {
    let _ = said;
}

#[cfg(test)]
mod tests {
    use inchart_api::market::{Interval, Symbol};

    use super::*;
    use crate::alerts::{
        AlertSpec, Channel, Channels, Condition, DeliveryState, PriceSource, Repeat, Webhook,
    };

    fn failing_alert() -> Alert {
        Alert {
            id: "a1".into(),
            spec: AlertSpec {
                symbol: Symbol::parse("BTCUSDT").unwrap(),
                interval: Interval::M1,
                condition: Condition::CrossingUp { level: 65_000.0 },
                source: PriceSource::Close,
                repeat: Repeat::EveryTime,
                expires_at: None,
                channels: Channels {
                    webhook: Some(Webhook {
                        url: "https://example.com/hook".into(),
                        template: None,
                    }),
                    email: true,
                    push: false,
                },
            },
            state: AlertState::Paused,
            paused_reason: Some("The webhook answered HTTP 500 for a day.".into()),
            script_name: None,
            created_at: 0,
            last_fired_at: Some(1_704_117_600_000),
            firings: 2,
        }
    }

    fn page() -> Page {
        Page {
            csrf: StoredValue::new("token".into()),
            alerts: RwSignal::new(Some(Ok(vec![failing_alert()]))),
            editing: RwSignal::new(None),
            secret: RwSignal::new(None),
            notice: RwSignal::new(None),
        }
    }

    #[test]
    fn a_row_says_what_the_alert_watches_and_why_inchart_paused_it() {
        let owner = Owner::new();
        let html = owner.with(|| view! { <AlertList page=page() /> }.to_html());
        assert!(html.contains(r#"data-testid="alert-row""#), "{html}");
        assert!(html.contains(r#"data-state="paused""#), "{html}");
        assert!(html.contains("Paused: failing"), "{html}");
        assert!(
            html.contains("The webhook answered HTTP 500 for a day."),
            "{html}"
        );
        assert!(
            html.contains("Price crosses up 65000 on a closed candle, every time"),
            "{html}"
        );
        assert!(html.contains(">Resume<"), "{html}");
        assert!(
            html.contains("Last fired 2024-01-01 14:00 UTC · 2 firings"),
            "{html}"
        );
        assert!(html.contains(r#"data-channel="email""#) && html.contains(r#"data-channel="webhook""#));
    }

    fn firing() -> Firing {
        Firing {
            id: "f1".into(),
            alert_id: "a1".into(),
            candle_time: 0,
            fired_at: 1_704_117_600_000,
            price: 65_012.5,
            side: None,
            label: None,
            deliveries: vec![Delivery {
                channel: Channel::Webhook,
                state: DeliveryState::Pending,
                next_attempt_at: Some(1_704_117_660_000),
                attempts: vec![Attempt {
                    at: 1_704_117_600_000,
                    status: Some(500),
                    outcome: "HTTP 500 Internal Server Error".into(),
                    ok: false,
                    latency_ms: 231,
                }],
            }],
        }
    }

    #[test]
    fn a_firing_lists_each_delivery_and_attempt_with_send_again() {
        let firing = firing();
        let owner = Owner::new();
        let html = owner.with(|| {
            let firings = RwSignal::new(None);
            view! { <FiringRow firing alert_id="a1".to_string() firings page=page() /> }.to_html()
        });
        assert!(
            html.contains(r#"data-testid="firing-row""#) && html.contains(r#"data-firing-id="f1""#),
            "{html}"
        );
        assert!(
            html.contains(r#"data-testid="firing-resend""#) && html.contains("Send again"),
            "{html}"
        );
        assert!(
            html.contains(r#"data-channel="webhook""#) && html.contains(r#"data-state="pending""#),
            "{html}"
        );
        assert!(html.contains("Retrying at 2024-01-01 14:01 UTC"), "{html}");
        assert!(html.contains(r#"data-testid="attempt-row""#), "{html}");
        assert!(
            html.contains("HTTP 500 Internal Server Error") && html.contains("231 ms"),
            "{html}"
        );
        assert!(html.contains("65,012.5"), "{html}");
    }
}
