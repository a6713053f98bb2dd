//! The alert form: what fires an alert (a price level or range, or a
//! script's markers), how (closed candles or the forming one, once or
//! every time, until when) and where it goes (email, browser push, a
//! webhook with an optional body template). The `/alerts` page shows it
//! whole; the chart and the workbench show it `compact`, prefilled.
//!
//! A webhook's signing secret comes back once, when the webhook is added:
//! [`WebhookSecret`] shows it with a copy button.
//!
//! Every input has a stable `data-testid` (`alert-level`, `alert-save` …)
//! and the message for a field the server refused sits under it
//! (`alert-error-level` …).

use inchart_api::market::Interval;
use leptos::prelude::*;

use crate::alerts::{
    AlertCreated, AlertDraft, FormField, Kind, PLACEHOLDERS, PriceSource, Repeat, parse_sides, sides_str,
};
use crate::api_client::ApiFailure;
use crate::scripts::ScriptSummary;

use crate::push;

/// The field the last message is for, and the message.
type FieldError = RwSignal<Option<(FormField, String)>>;

/// The alert form. `editing` names the alert being changed; without it
/// the form creates one. `on_saved` gets the server's answer (with the
/// webhook's secret when one was added).
#[component]
pub fn AlertForm(
    csrf: String,
    draft: AlertDraft,
    #[prop(optional)] editing: Option<String>,
    /// The short form of the chart and the workbench: series fixed.
    #[prop(optional)]
    compact: bool,
    on_saved: Callback<AlertCreated>,
    #[prop(optional)] on_cancel: Option<Callback<()>>,
) -> impl IntoView {
    let draft = RwSignal::new(draft);
    let error: FieldError = RwSignal::new(None);
    let refused = RwSignal::new(None::<ApiFailure>);
    let saving = RwSignal::new(false);
    let is_edit = editing.is_some();
    let editing = StoredValue::new(editing);
    let csrf = StoredValue::new(csrf);

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if saving.get_untracked() {
            return;
        }
        refused.set(None);
        let spec = match draft.with_untracked(|d| d.spec(now())) {
            Ok(spec) => spec,
            Err(wrong) => {
                error.set(Some(wrong));
                return;
            }
        };
        error.set(None);
        save(
            csrf.get_value(),
            editing.get_value(),
            spec,
            Saving {
                saving,
                error,
                refused,
                on_saved,
            },
        );
    };

    let series = if compact {
        view! {
            <p class="alert-form-series tabular" data-testid="alert-series">
                {move || draft.with(|d| format!("{} \u{00b7} {}", d.symbol, d.interval))}
            </p>
        }
        .into_any()
    } else {
        view! { <SeriesFields draft error /> }.into_any()
    };

    view! {
        <form class="alert-form settings-form" class:compact=compact data-testid="alert-form" novalidate on:submit=submit>
            {series}
            <ConditionFields draft error />
            <TimingFields draft error compact />
            <ChannelFields draft error csrf />
            {move || refused.get().map(|failure| {
                let upgrade = (failure.status == 402 || failure.upgrade.is_some()).then(|| {
                    let href = failure.upgrade.clone().unwrap_or_else(|| "/pricing".into());
                    view! { " "<a href=href rel="external">"See the plans"</a> }
                });
                view! {
                    <p class="form-error" role="alert" data-testid="alert-error-other" data-status=failure.status>
                        {failure.message.clone()}{upgrade}
                    </p>
                }
            })}
            <FieldMessage error field=FormField::Other />
            <div class="settings-actions">
                {on_cancel.map(|cancel| view! {
                    <button type="button" class="button small" data-testid="alert-cancel" on:click=move |_| cancel.run(())>"Cancel"</button>
                })}
                <button type="submit" class="button small primary" data-testid="alert-save" disabled=move || saving.get()>
                    {move || match (saving.get(), is_edit) {
                        (true, _) => "Saving…",
                        (false, true) => "Save changes",
                        (false, false) => "Create alert",
                    }}
                </button>
            </div>
        </form>
    }
    .into_any()
}

/// The message under `field`, when the last one is for it.
#[component]
fn FieldMessage(error: FieldError, field: FormField) -> impl IntoView {
    move || {
        error.with(|error| match error {
            Some((wrong, message)) if *wrong == field => Some(view! {
                <p class="field-error" role="alert" data-testid=format!("alert-error-{}", field.as_str())>
                    {message.clone()}
                </p>
            }),
            _ => None,
        })
    }
}

fn invalid(error: FieldError, field: FormField) -> impl Fn() -> bool + Copy {
    move || error.with(|e| e.as_ref().is_some_and(|(wrong, _)| *wrong == field))
}

#[component]
fn SeriesFields(draft: RwSignal<AlertDraft>, error: FieldError) -> impl IntoView {
    let intervals = Interval::ALL
        .into_iter()
        .map(|i| view! { <option value=i.as_str() selected=move || draft.with(|d| d.interval == i)>{i.as_str()}</option> })
        .collect_view();
    view! {
        <div class="settings-grid">
            <div class="field" class:invalid=invalid(error, FormField::Symbol)>
                <label for="alert-symbol">"Symbol"</label>
                <input id="alert-symbol" data-testid="alert-symbol" autocomplete="off" spellcheck="false" required
                    prop:value=move || draft.with(|d| d.symbol.clone())
                    on:input=move |ev| draft.update(|d| d.symbol = event_target_value(&ev).to_ascii_uppercase()) />
                <FieldMessage error field=FormField::Symbol />
            </div>
            <div class="field" class:invalid=invalid(error, FormField::Interval)>
                <label for="alert-interval">"Interval"</label>
                <select id="alert-interval" data-testid="alert-interval" on:change=move |ev| {
                    if let Ok(interval) = event_target_value(&ev).parse::<Interval>() {
                        draft.update(|d| d.interval = interval);
                    }
                }>{intervals}</select>
                <FieldMessage error field=FormField::Interval />
            </div>
        </div>
    }
}

#[component]
fn ConditionFields(draft: RwSignal<AlertDraft>, error: FieldError) -> impl IntoView {
    let kinds = Kind::ALL
        .into_iter()
        .map(|k| view! { <option value=k.as_str() selected=move || draft.with(|d| d.kind == k)>{k.label()}</option> })
        .collect_view();
    let kind = Memo::new(move |_| draft.with(|d| d.kind));
    let body = move || match kind.get() {
        Kind::Script => view! { <ScriptFields draft error /> }.into_any(),
        k if k.is_range() => view! {
            <PriceField draft error field=FormField::Low label="Low" />
            <PriceField draft error field=FormField::High label="High" />
        }
        .into_any(),
        _ => view! { <PriceField draft error field=FormField::Level label="Level" /> }.into_any(),
    };
    view! {
        <div class="settings-grid">
            <div class="field">
                <label for="alert-kind">"Alert when"</label>
                <select id="alert-kind" data-testid="alert-kind" on:change=move |ev| {
                    if let Some(kind) = Kind::parse(&event_target_value(&ev)) {
                        draft.update(|d| d.kind = kind);
                    }
                }>{kinds}</select>
            </div>
            {body}
        </div>
    }
}

/// A level, a low or a high.
#[component]
fn PriceField(
    draft: RwSignal<AlertDraft>,
    error: FieldError,
    field: FormField,
    label: &'static str,
) -> impl IntoView {
    let id = format!("alert-{}", field.as_str());
    let value = move || {
        draft.with(|d| match field {
            FormField::Low => d.low.clone(),
            FormField::High => d.high.clone(),
            _ => d.level.clone(),
        })
    };
    let set = move |ev| {
        let text = event_target_value(&ev);
        draft.update(|d| match field {
            FormField::Low => d.low = text,
            FormField::High => d.high = text,
            _ => d.level = text,
        })
    };
    view! {
        <div class="field" class:invalid=invalid(error, field)>
            <label for=id.clone()>{label}</label>
            <input id=id.clone() data-testid=id class="tabular" inputmode="decimal" autocomplete="off" required
                prop:value=value on:input=set />
            <FieldMessage error field />
        </div>
    }
}

/// The trader's scripts to pick from, as the scripts page lists them,
/// and which markers fire the alert.
#[component]
fn ScriptFields(draft: RwSignal<AlertDraft>, error: FieldError) -> impl IntoView {
    let scripts = RwSignal::new(None::<Result<Vec<ScriptSummary>, String>>);
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(async move {
        let answer = match crate::scripts::get_scripts().await {
            Ok(Some(list)) => Ok(list),
            Ok(None) => Err("Log in again to pick one of your scripts.".to_string()),
            Err(error) => Err(crate::PageError::from_server_fn_error(&error).to_string()),
        };
        if let Ok(list) = &answer {
            // The first script, when none is picked yet.
            let first = list.first().map(|s| s.id.clone());
            draft.update(|d| {
                if d.script_id.is_empty()
                    && let Some(first) = first
                {
                    d.script_id = first;
                }
            });
        }
        scripts.set(Some(answer));
    });
    let picker = move || match scripts.get() {
        None => view! { <p class="field-hint" aria-busy="true">"Loading your scripts…"</p> }.into_any(),
        Some(Err(message)) => view! { <p class="field-error">{message}</p> }.into_any(),
        Some(Ok(list)) if list.is_empty() => view! {
            <p class="field-hint">"No scripts yet. "<a href="/scripts" rel="external">"Write one"</a></p>
        }
        .into_any(),
        Some(Ok(list)) => {
            let options = list
                .into_iter()
                .map(|script| {
                    let id = script.id.clone();
                    let selected = move || draft.with(|d| d.script_id == id);
                    view! { <option value=script.id.clone() selected=selected>{script.name.clone()}</option> }
                })
                .collect_view();
            view! {
                <select id="alert-script" data-testid="alert-script"
                    on:change=move |ev| draft.update(|d| d.script_id = event_target_value(&ev))>{options}</select>
            }
            .into_any()
        }
    };
    let sides = [("both", "Buys and sells"), ("buy", "Buys"), ("sell", "Sells")]
        .into_iter()
        .map(|(value, label)| {
            view! { <option value=value selected=move || draft.with(|d| sides_str(d.sides) == value)>{label}</option> }
        })
        .collect_view();
    view! {
        <div class="field" class:invalid=invalid(error, FormField::Script)>
            <label for="alert-script">"Script"</label>
            {picker}
            <FieldMessage error field=FormField::Script />
        </div>
        <div class="field">
            <label for="alert-sides">"Markers"</label>
            <select id="alert-sides" data-testid="alert-sides"
                on:change=move |ev| draft.update(|d| d.sides = parse_sides(&event_target_value(&ev)))>{sides}</select>
        </div>
    }
}

/// Which price, how often, until when. The compact form leaves the
/// expiry out: it is never there, and the alerts page changes it.
#[component]
fn TimingFields(draft: RwSignal<AlertDraft>, error: FieldError, compact: bool) -> impl IntoView {
    let is_price = move || draft.with(|d| d.kind != Kind::Script);
    let expiry = (!compact).then(|| {
        view! {
            <div class="field" class:invalid=invalid(error, FormField::Expiry)>
                <label for="alert-expires">"Expires (UTC)"</label>
                <input id="alert-expires" data-testid="alert-expires" type="datetime-local"
                    prop:value=move || draft.with(|d| d.expires.clone())
                    on:input=move |ev| draft.update(|d| d.expires = event_target_value(&ev)) />
                <p class="field-hint">"Empty: never."</p>
                <FieldMessage error field=FormField::Expiry />
            </div>
        }
    });
    view! {
        <div class="settings-grid">
            <div class="field" hidden=move || !is_price()>
                <label for="alert-source">"Price"</label>
                <select id="alert-source" data-testid="alert-source" on:change=move |ev| {
                    let source = if event_target_value(&ev) == "forming" { PriceSource::Forming } else { PriceSource::Close };
                    draft.update(|d| d.source = source);
                }>
                    <option value="close" selected=move || draft.with(|d| d.source == PriceSource::Close)>"Closed candles"</option>
                    <option value="forming" selected=move || draft.with(|d| d.source == PriceSource::Forming)>"Forming candle"</option>
                </select>
            </div>
            <div class="field">
                <label for="alert-repeat">"Fires"</label>
                <select id="alert-repeat" data-testid="alert-repeat" on:change=move |ev| {
                    let repeat = if event_target_value(&ev) == "every_time" { Repeat::EveryTime } else { Repeat::Once };
                    draft.update(|d| d.repeat = repeat);
                }>
                    <option value="once" selected=move || draft.with(|d| d.repeat == Repeat::Once)>"Once"</option>
                    <option value="every_time" selected=move || draft.with(|d| d.repeat == Repeat::EveryTime)>"Every time (at most once a candle)"</option>
                </select>
            </div>
            {expiry}
        </div>
    }
}

/// Email, browser push, webhook.
#[component]
fn ChannelFields(draft: RwSignal<AlertDraft>, error: FieldError, csrf: StoredValue<String>) -> impl IntoView {
    let webhook_on = move || draft.with(|d| d.webhook);
    let placeholders = PLACEHOLDERS
        .iter()
        .map(|name| view! { <code>{format!("{{{{{name}}}}}")}</code>" " })
        .collect_view();
    view! {
        <fieldset class="alert-channel-fields" class:invalid=invalid(error, FormField::Channels) data-testid="alert-channels">
            <legend>"Tell me by"</legend>
            <label class="choice">
                <input type="checkbox" data-testid="alert-email" prop:checked=move || draft.with(|d| d.email)
                    on:change=move |ev| draft.update(|d| d.email = event_target_checked(&ev)) />
                "Email"
            </label>
            <label class="choice">
                <input type="checkbox" data-testid="alert-push" prop:checked=move || draft.with(|d| d.push)
                    on:change=move |ev| draft.update(|d| d.push = event_target_checked(&ev)) />
                "Browser notification"
            </label>
            <PushSwitch csrf />
            <label class="choice">
                <input type="checkbox" data-testid="alert-webhook" prop:checked=webhook_on
                    on:change=move |ev| draft.update(|d| d.webhook = event_target_checked(&ev)) />
                "Webhook"
            </label>
            <FieldMessage error field=FormField::Channels />
            <div class="alert-webhook" hidden=move || !webhook_on()>
                <div class="field" class:invalid=invalid(error, FormField::WebhookUrl)>
                    <label for="alert-webhook-url">"Webhook URL"</label>
                    <input id="alert-webhook-url" data-testid="alert-webhook-url" type="url" inputmode="url"
                        placeholder="https://example.com/hooks/inchart" autocomplete="off" spellcheck="false"
                        prop:value=move || draft.with(|d| d.webhook_url.clone())
                        on:input=move |ev| draft.update(|d| d.webhook_url = event_target_value(&ev)) />
                    <FieldMessage error field=FormField::WebhookUrl />
                </div>
                <div class="field" class:invalid=invalid(error, FormField::WebhookTemplate)>
                    <label for="alert-webhook-template">"Body template (optional)"</label>
                    <textarea id="alert-webhook-template" data-testid="alert-webhook-template" rows="4" spellcheck="false"
                        placeholder=r#"{"text": "{{symbol}} {{side}} at {{price}}"}"#
                        prop:value=move || draft.with(|d| d.template.clone())
                        on:input=move |ev| draft.update(|d| d.template = event_target_value(&ev))></textarea>
                    <p class="field-hint alert-placeholders">"Empty sends InChart's standard JSON. Placeholders: "{placeholders}</p>
                    <FieldMessage error field=FormField::WebhookTemplate />
                </div>
            </div>
        </fieldset>
    }
}

/// Whether this browser shows notifications, and the button that turns
/// them on when it can but does not yet.
#[component]
fn PushSwitch(csrf: StoredValue<String>) -> impl IntoView {
    let state = RwSignal::new(None::<push::PushState>);
    let message = RwSignal::new(None::<String>);
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(async move { state.set(Some(push::push_state().await)) });
    // The server renders the button; only the browser can press it.
    #[cfg(not(feature = "hydrate"))]
    let _ = csrf;
    let enable = move |_| {
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            match push::enable_push(&csrf.get_value()).await {
                Ok(()) => message.set(None),
                Err(why) => message.set(Some(why)),
            }
            state.set(Some(push::push_state().await));
        });
    };
    view! {
        <div class="push-switch" data-push-state=move || match state.get() {
            None => "",
            Some(push::PushState::Unsupported) => "unsupported",
            Some(push::PushState::Denied) => "denied",
            Some(push::PushState::Off) => "off",
            Some(push::PushState::On) => "on",
        }>
            {move || match state.get() {
                Some(push::PushState::Off) => Some(view! {
                    <button type="button" class="button small" data-testid="push-enable" on:click=enable>
                        "Turn on browser notifications"
                    </button>
                }.into_any()),
                Some(push::PushState::Denied) => Some(view! {
                    <p class="field-hint">"Notifications are blocked for InChart in this browser's site settings."</p>
                }.into_any()),
                Some(push::PushState::Unsupported) => Some(view! {
                    <p class="field-hint">"This browser cannot show notifications; your other browsers still can."</p>
                }.into_any()),
                Some(push::PushState::On) => Some(view! {
                    <p class="field-hint">"Notifications are on in this browser."</p>
                }.into_any()),
                None => None,
            }}
            {move || message.get().map(|m| view! { <p class="field-error">{m}</p> })}
        </div>
    }
}

/// A webhook's signing secret, shown this once, with a copy button.
#[component]
pub fn WebhookSecret(secret: String, on_done: Callback<()>) -> impl IntoView {
    let copied = RwSignal::new(false);
    let copy = {
        let secret = secret.clone();
        move |_| {
            copy_text(&secret);
            copied.set(true);
        }
    };
    view! {
        <div class="webhook-secret form-notice" role="status" data-testid="webhook-secret-box">
            <p>
                <strong>"Your webhook's signing secret. "</strong>
                "It signs every webhook InChart sends for this alert, per Standard Webhooks (the "
                <code>"webhook-id"</code>", "<code>"webhook-timestamp"</code>" and "<code>"webhook-signature"</code>
                " headers). Copy it now: it is shown only this once."
            </p>
            <div class="secret-row">
                <code class="secret" data-testid="webhook-secret">{secret}</code>
                <button type="button" class="button small" data-testid="webhook-secret-copy" on:click=copy>
                    {move || if copied.get() { "Copied" } else { "Copy" }}
                </button>
                <button type="button" class="link-button" data-testid="webhook-secret-done" on:click=move |_| on_done.run(())>
                    "Done"
                </button>
            </div>
        </div>
    }
}

fn copy_text(text: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.navigator().clipboard().write_text(text);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}

/// Milliseconds since the epoch, as the browser tells it.
fn now() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now() as i64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0
    }
}

/// What a save reports to.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
struct Saving {
    saving: RwSignal<bool>,
    error: FieldError,
    refused: RwSignal<Option<ApiFailure>>,
    on_saved: Callback<AlertCreated>,
}

#[cfg(feature = "hydrate")]
fn save(csrf: String, editing: Option<String>, spec: crate::alerts::AlertSpec, to: Saving) {
    to.saving.set(true);
    leptos::task::spawn_local(async move {
        let answer = match &editing {
            Some(id) => crate::alerts::replace_alert(&csrf, id, &spec).await,
            None => crate::alerts::create_alert(&csrf, &spec).await,
        };
        to.saving.set(false);
        match answer {
            Ok(created) => to.on_saved.run(created),
            Err(failure) => match failure.field.as_deref().map(FormField::of_api) {
                Some(field) if field != FormField::Other && matches!(failure.status, 400 | 422) => {
                    to.error.set(Some((field, failure.message)))
                }
                _ => to.refused.set(Some(failure)),
            },
        }
    });
}

#[cfg(not(feature = "hydrate"))]
fn save(_csrf: String, _editing: Option<String>, _spec: crate::alerts::AlertSpec, _to: Saving) {}

#[cfg(test)]
mod tests {
    use inchart_api::market::Symbol;

    use super::*;

    fn render(draft: AlertDraft, compact: bool) -> String {
        let owner = Owner::new();
        owner.with(|| {
            let on_saved = Callback::new(|_: AlertCreated| {});
            view! { <AlertForm csrf="token".to_string() draft compact on_saved /> }.to_html()
        })
    }

    #[test]
    fn the_whole_form_has_a_test_id_on_every_field_and_the_placeholders() {
        let btc = Symbol::parse("BTCUSDT").unwrap();
        let html = render(AlertDraft::price(&btc, Interval::M5, Some(65_000.0)), false);
        for id in [
            "alert-form",
            "alert-symbol",
            "alert-interval",
            "alert-kind",
            "alert-level",
            "alert-source",
            "alert-repeat",
            "alert-expires",
            "alert-email",
            "alert-push",
            "alert-webhook",
            "alert-webhook-url",
            "alert-webhook-template",
            "alert-save",
        ] {
            assert!(html.contains(&format!(r#"data-testid="{id}""#)), "{id} in {html}");
        }
        // The form opens in the browser (a click), where `prop:value`
        // fills the level; the server's HTML has the choices.
        assert!(html.contains(r#"<option value="crossing" selected"#), "{html}");
        assert!(html.contains(r#"<option value="5m" selected"#), "{html}");
        assert!(html.contains("{{firing_id}}"), "{html}");
        assert!(html.contains("Create alert"));
    }

    #[test]
    fn the_short_form_states_its_series_and_a_script_alert_asks_for_the_script() {
        let eth = Symbol::parse("ETHUSDT").unwrap();
        let html = render(AlertDraft::script(&eth, Interval::H4, "s1"), true);
        assert!(html.contains("ETHUSDT \u{00b7} 4h"), "{html}");
        assert!(!html.contains(r#"data-testid="alert-symbol""#), "{html}");
        assert!(!html.contains(r#"data-testid="alert-expires""#), "{html}");
        assert!(html.contains(r#"data-testid="alert-sides""#), "{html}");
        assert!(html.contains("Loading your scripts"), "{html}");
    }
}
