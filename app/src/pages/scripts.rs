//! `/scripts`: the trader's signal scripts, and `/scripts/:id`: the
//! workbench where one is written, run on a chart and set to run live.
//!
//! Both render whole on the server. Without JavaScript the list, creating,
//! deleting and saving work through plain forms; with it the workbench
//! mounts a code editor over the text area, runs the script and draws its
//! signals on the chart beside it, and backtests it: the report and the
//! trades under the chart ([`crate::components::backtest`]), the trades,
//! equity and drawdown on it. "Alert me" sets an alert on the script's
//! signals on the chart's series.

use inchart_api::market::{Interval, Symbol};
use inchart_api::paths::chart_href;
use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::components::Redirect;
use leptos_router::hooks::use_params_map;

use crate::PageError;
use crate::account::PageSession;
use crate::alerts::AlertDraft;
use crate::components::account::{AccountLink, FlashNotice, Hidden, page_session};
use crate::components::alert_form::{AlertForm, WebhookSecret};
use crate::components::backtest::{BacktestPanel, ScriptBacktests};
use crate::components::chart::{Chart, ChartExtras, ChartSignals};
use crate::components::chart_backtest::{DRAWDOWN_PANE, EQUITY_PANE};
use crate::components::live_feed::FeedIndicator;
use crate::scripts::{
    ErrorKind, RunView, ScriptSummary, Workbench, WorkbenchAnswer, get_scripts, get_workbench,
};
use crate::theme::ThemeToggle;

/// The header of the trader's own tools (scripts, alerts); `current`
/// names the page's own link (`scripts`, `alerts`).
#[component]
pub fn ScriptsHeader(current: &'static str) -> impl IntoView {
    let here = move |page: &'static str| (page == current).then_some("page");
    view! {
        <header class="site-header">
            <a class="brand" href="/">"InChart"</a>
            <nav class="site-nav" aria-label="Site">
                <a href=chart_href(&Symbol::default(), Interval::default())>"Charts"</a>
                <a href="/scripts" aria-current=here("scripts")>"Scripts"</a>
                <a href="/alerts" aria-current=here("alerts")>"Alerts"</a>
                <AccountLink />
            </nav>
            <ThemeToggle />
        </header>
    }
}

#[component]
pub fn ScriptsPage() -> impl IntoView {
    let scripts = Resource::new_blocking(|| (), |_| get_scripts());
    view! {
        <Title text="Your scripts · InChart" />
        <Meta name="robots" content="noindex" />
        <ScriptsHeader current="scripts" />
        <main class="page scripts-page">
            <Suspense fallback=|| view! { <p class="muted" aria-busy="true">"Loading your scripts…"</p> }>
                {move || Suspend::new(async move {
                    let session = page_session().await;
                    match scripts.await {
                        Ok(Some(list)) => view! { <ScriptList list session /> }.into_any(),
                        Ok(None) => view! { <Redirect path="/login?next=/scripts" /> }.into_any(),
                        Err(error) => view! {
                            <p class="form-error" role="alert">
                                {PageError::from_server_fn_error(&error).to_string()}
                            </p>
                        }
                        .into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}

#[component]
fn ScriptList(list: Vec<ScriptSummary>, session: PageSession) -> impl IntoView {
    let csrf = session.csrf.clone();
    let empty = list.is_empty();
    let rows = list
        .into_iter()
        .map(|script| {
            let href = format!("/scripts/{}", script.id);
            let question = format!(
                "Delete \u{201c}{}\u{201d} with its {} versions and its runs?",
                script.name, script.version
            );
            let delete = format!("/scripts/{}/delete", script.id);
            let live = script
                .attached
                .iter()
                .map(|series| format!("{} {}", series.symbol, series.interval))
                .collect::<Vec<_>>()
                .join(", ");
            view! {
                <li class="script-row">
                    <a class="script-name" href=href>{script.name.clone()}</a>
                    <span class="muted small">{format!("Version {} · changed {}", script.version, crate::pages::account::format_time(script.updated_at))}</span>
                    {(!live.is_empty()).then(|| view! { <span class="badge live-badge">{format!("Live on {live}")}</span> })}
                    <form method="post" action=delete class="inline-form" on:submit=move |event| {
                        if !confirm_delete(&question) {
                            event.prevent_default();
                        }
                    }>
                        <Hidden name="csrf" value=csrf.clone() />
                        <button type="submit" class="button small quiet-danger" aria-label=format!("Delete {}", script.name)>"Delete"</button>
                    </form>
                </li>
            }
        })
        .collect_view();
    view! {
        <div class="scripts-heading">
            <h1>"Your scripts"</h1>
            <form method="post" action="/scripts">
                <Hidden name="csrf" value=csrf.clone() />
                <button type="submit" class="button primary">"New script"</button>
            </form>
        </div>
        <FlashNotice session=session.clone() form="script" />
        <p class="muted">
            "A script is Python: a function "<code>"signals(candles)"</code>" that returns buy and sell markers and lines. "
            "Run it on a chart, or let it run on every closed candle."
        </p>
        {if empty {
            view! { <p class="empty-state">"No scripts yet. "<strong>"New script"</strong>" starts you from a moving-average cross."</p> }.into_any()
        } else {
            view! { <ul class="script-list">{rows}</ul> }.into_any()
        }}
    }
}

/// Asks before a script and its history go; without JavaScript the form
/// posts at once.
fn confirm_delete(question: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|window| window.confirm_with_message(question).ok())
            .unwrap_or(true)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = question;
        true
    }
}

#[component]
pub fn WorkbenchPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let workbench = Resource::new_blocking(id, get_workbench);
    view! {
        <Meta name="robots" content="noindex" />
        <Suspense fallback=|| view! { <p class="muted" aria-busy="true">"Loading the script…"</p> }>
            {move || Suspend::new(async move {
                let session = page_session().await;
                match workbench.await {
                    Ok(WorkbenchAnswer::Found(workbench)) => view! { <WorkbenchView workbench=*workbench session /> }.into_any(),
                    Ok(WorkbenchAnswer::SignedOut) => {
                        let back = format!("/login?next=/scripts/{}", id());
                        view! { <Redirect path=back /> }.into_any()
                    }
                    Ok(WorkbenchAnswer::NotFound) => view! {
                        <Title text="No such script · InChart" />
                        <ScriptsHeader current="scripts" />
                        <main class="page narrow">
                            <h1>"No such script"</h1>
                            <p>"This script is not in your account. "<a href="/scripts">"Your scripts"</a></p>
                        </main>
                    }
                    .into_any(),
                    Err(error) => view! {
                        <p class="form-error" role="alert">{PageError::from_server_fn_error(&error).to_string()}</p>
                    }
                    .into_any(),
                }
            })}
        </Suspense>
    }
}

/// Where a run stands, for the panel under the editor.
#[derive(Debug, Clone, PartialEq)]
pub enum RunState {
    Idle,
    Busy(&'static str),
    Done(Box<RunView>),
    Failed(String),
}

#[component]
fn WorkbenchView(workbench: Workbench, session: PageSession) -> impl IntoView {
    let Workbench {
        script,
        last_run,
        symbols,
        unavailable,
        feed,
    } = workbench;
    let id = script.summary.id.clone();
    let (first_symbol, first_interval) = last_run
        .as_ref()
        .map(|run| (run.symbol.clone(), run.interval))
        .or_else(|| {
            script
                .summary
                .attached
                .first()
                .map(|s| (s.symbol.clone(), s.interval))
        })
        .unwrap_or((Symbol::default(), Interval::H1));
    let symbol = RwSignal::new(first_symbol);
    let interval = RwSignal::new(first_interval);
    let name = RwSignal::new(script.summary.name.clone());
    let version = RwSignal::new(script.summary.version);
    let attached = RwSignal::new(script.summary.attached.clone());
    let signals: ChartSignals = RwSignal::new(
        last_run
            .clone()
            .map(|run| vec![(script.summary.name.clone(), run)])
            .unwrap_or_default(),
    );
    let run_state = RwSignal::new(match last_run {
        Some(run) => RunState::Done(Box::new(run)),
        None => RunState::Idle,
    });
    let status = RwSignal::new(String::new());
    let editor_host = NodeRef::<leptos::html::Div>::new();
    let enhanced = RwSignal::new(false);
    let live_here = Memo::new(move |_| {
        let (s, i) = (symbol.get(), interval.get());
        attached.with(|list| list.iter().any(|a| a.symbol == s && a.interval == i))
    });

    let backtests = ScriptBacktests::new(id.clone(), session.csrf.clone(), symbol, interval, version);
    // Each backtest shown brings its equity and drawdown panes back, if the
    // trader closed them on an earlier one.
    let panes = crate::components::chart_panes::pane_view();
    Effect::new(move |previous: Option<Option<String>>| {
        let shown = backtests.current.with(|current| {
            current
                .as_deref()
                .filter(|b| b.result.is_some())
                .map(|b| b.id.clone())
        });
        if shown.is_some() && previous.as_ref() != Some(&shown) {
            panes.update(|view| {
                view.closed
                    .retain(|name| name != EQUITY_PANE && name != DRAWDOWN_PANE)
            });
        }
        shown
    });

    let actions = Actions {
        id: id.clone(),
        csrf: session.csrf.clone(),
        name,
        version,
        symbol,
        interval,
        attached,
        signals,
        run_state,
        status,
        backtests,
    };
    #[cfg(feature = "hydrate")]
    let editor = browser::mount_editor(editor_host, script.source.clone(), enhanced, actions.clone());
    #[cfg(not(feature = "hydrate"))]
    let editor = ();

    let run_click = {
        let actions = actions.clone();
        move |_| actions.run(&editor)
    };
    let save_click = {
        let actions = actions.clone();
        move |_: leptos::ev::MouseEvent| actions.save(&editor)
    };
    let backtest_click = {
        let actions = actions.clone();
        move |_| actions.backtest(&editor)
    };
    let on_start = {
        let actions = actions.clone();
        Callback::new(move |_: ()| actions.backtest(&editor))
    };
    let live_click = {
        let actions = actions.clone();
        move |_| actions.toggle_live(live_here.get_untracked())
    };

    let indicator = FeedIndicator::new(feed);
    let alert_open = RwSignal::new(false);
    let save_action = format!("/scripts/{id}/save");
    let busy = move || matches!(run_state.get(), RunState::Busy(_));
    let symbol_options = symbols
        .iter()
        .map(|s| view! { <option value=s.to_string() selected=s == &symbol.get_untracked()>{s.to_string()}</option> })
        .collect_view();
    let interval_options = Interval::ALL
        .iter()
        .map(|i| view! { <option value=i.as_str() selected=*i == interval.get_untracked()>{i.as_str()}</option> })
        .collect_view();
    view! {
        <Title text=move || format!("{} · Scripts · InChart", name.get()) />
        <ScriptsHeader current="scripts" />
        <main class="workbench" data-enhanced=move || enhanced.get().to_string()>
            <section class="workbench-editor" aria-label="Script">
                <form method="post" action=save_action class="script-form">
                    <Hidden name="csrf" value=session.csrf.clone() />
                    <div class="script-toolbar">
                        <a class="back-link" href="/scripts" aria-label="All scripts">"←"</a>
                        <label class="visually-hidden" for="script-name">"Name"</label>
                        <input id="script-name" name="name" class="script-name-input" maxlength="80" required
                            prop:value=move || name.get()
                            on:input=move |event| name.set(event_target_value(&event)) />
                        <span class="muted small" data-version="">{move || format!("v{}", version.get())}</span>
                        <span class="toolbar-gap"></span>
                        <button type="submit" class="button small" data-save="" disabled=busy
                            on:click=move |event| {
                                if enhanced.get_untracked() {
                                    event.prevent_default();
                                    save_click(event);
                                }
                            }>"Save"</button>
                        <button type="button" class="button small primary" data-run="" disabled=move || busy() || !enhanced.get()
                            title="Run on chart (Ctrl+Enter)" on:click=run_click>"Run on chart"</button>
                        <button type="button" class="button small" data-backtest=""
                            disabled=move || busy() || !enhanced.get() || backtests.busy()
                            title="Trade the script's signals over the chart's history" on:click=backtest_click>
                            {move || if backtests.busy() { "Backtesting…" } else { "Backtest" }}
                        </button>
                        <button type="button" class="button small" data-testid="workbench-alert"
                            aria-expanded=move || alert_open.get().to_string()
                            title="Be told of the script's new signals on the chart's series"
                            on:click=move |_| alert_open.update(|open| *open = !*open)>"Alert me"</button>
                    </div>
                    <FlashNotice session=session.clone() form="script" />
                    <div class="editor-host" node_ref=editor_host></div>
                    <textarea name="source" class="source-fallback" spellcheck="false" rows="24"
                        aria-label="Python source">{script.source.clone()}</textarea>
                </form>
                <WorkbenchAlert open=alert_open csrf=session.csrf.clone() script=id.clone() symbol interval />
                <RunPanel run_state status unavailable />
            </section>
            <section class="workbench-chart" aria-label="Chart">
                <div class="chart-toolbar">
                    <label>
                        <span class="visually-hidden">"Symbol"</span>
                        <select data-symbol="" on:change=move |event| {
                            if let Ok(parsed) = Symbol::parse(&event_target_value(&event)) {
                                symbol.set(parsed);
                            }
                        }>{symbol_options}</select>
                    </label>
                    <label>
                        <span class="visually-hidden">"Interval"</span>
                        <select data-interval="" on:change=move |event| {
                            if let Ok(parsed) = event_target_value(&event).parse::<Interval>() {
                                interval.set(parsed);
                            }
                        }>{interval_options}</select>
                    </label>
                    <span class="toolbar-gap"></span>
                    <button type="button" class="button small" data-live="" aria-pressed=move || live_here.get().to_string()
                        disabled=move || !enhanced.get() on:click=live_click
                        title="Re-run on every closed candle; new signals arrive on their own">
                        {move || if live_here.get() { "Live: on" } else { "Run live" }}
                    </button>
                </div>
                <Chart symbol=symbol.into() interval=interval.into() indicator signals
                    extras=ChartExtras { panes: Some(panes), backtest: Some(backtests.layer()), ..ChartExtras::default() } />
                <BacktestPanel backtests on_start />
            </section>
        </main>
    }
}

/// "Alert me": the short alert form, preset to this script's signals on
/// the chart's series.
#[component]
fn WorkbenchAlert(
    open: RwSignal<bool>,
    csrf: String,
    script: String,
    symbol: RwSignal<Symbol>,
    interval: RwSignal<Interval>,
) -> impl IntoView {
    let secret = RwSignal::new(None::<String>);
    let saved = RwSignal::new(None::<String>);
    let on_saved = Callback::new(move |created: crate::alerts::AlertCreated| {
        open.set(false);
        saved.set(Some(format!(
            "Alert set: {}. ",
            crate::alerts::condition_sentence(&created.alert)
        )));
        secret.set(created.webhook_secret);
    });
    let form = move || {
        open.get().then(|| {
            let draft = AlertDraft::script(&symbol.get_untracked(), interval.get_untracked(), &script);
            view! {
                <AlertForm csrf=csrf.clone() draft compact=true on_saved
                    on_cancel=Callback::new(move |_| open.set(false)) />
            }
        })
    };
    view! {
        <div class="workbench-alert">
            {form}
            {move || saved.get().map(|text| view! {
                <p class="form-notice" role="status" data-testid="workbench-alert-saved">
                    {text}<a href="/alerts" rel="external">"Your alerts"</a>
                </p>
            })}
            {move || secret.get().map(|value| view! {
                <WebhookSecret secret=value on_done=Callback::new(move |_| secret.set(None)) />
            })}
        </div>
    }
    .into_any()
}

/// What the run panel says: the outcome of the newest run, its error
/// with the line, and what the script printed.
#[component]
fn RunPanel(
    run_state: RwSignal<RunState>,
    status: RwSignal<String>,
    unavailable: Option<String>,
) -> impl IntoView {
    view! {
        <div class="run-panel" role="status" aria-live="polite" data-run-state=move || match run_state.get() {
            RunState::Idle => "idle",
            RunState::Busy(_) => "busy",
            RunState::Done(run) if run.result.is_ok() => "ok",
            RunState::Done(_) | RunState::Failed(_) => "error",
        }>
            {unavailable.map(|reason| view! { <p class="form-error">{reason}</p> })}
            <p class="muted small">{move || status.get()}</p>
            {move || match run_state.get() {
                RunState::Idle => view! { <p class="muted">"Run the script to see its signals on the chart. Ctrl+Enter runs it."</p> }.into_any(),
                RunState::Busy(what) => view! { <p class="muted" aria-busy="true">{what}</p> }.into_any(),
                RunState::Failed(message) => view! { <p class="form-error">{message}</p> }.into_any(),
                RunState::Done(run) => run_summary(&run).into_any(),
            }}
        </div>
    }
}

fn run_summary(run: &RunView) -> impl IntoView + use<> {
    let timing = format!(
        "v{} on {} {} · {} candles · {} ms",
        run.version, run.symbol, run.interval, run.candles, run.wall_ms
    );
    let body = match &run.result {
        Ok(output) => {
            let buys = output
                .markers
                .iter()
                .filter(|m| m.side == crate::scripts::Side::Buy)
                .count();
            let sells = output.markers.len() - buys;
            view! {
                <p class="run-ok" data-markers=output.markers.len()>
                    {format!("{buys} buy and {sells} sell markers, {} lines", output.lines.len())}
                </p>
            }
            .into_any()
        }
        Err(error) => {
            let place = match (error.line, error.column) {
                (Some(line), Some(column)) => format!("Line {line}, column {column}: "),
                (Some(line), None) => format!("Line {line}: "),
                _ => String::new(),
            };
            // A syntax error's place is its line; it has no call stack.
            let frames = error
                .traceback
                .iter()
                .filter(|_| error.kind != ErrorKind::Syntax)
                .map(|frame| view! { <li><code>{format!("line {} in {}: {}", frame.line, frame.function, frame.text)}</code></li> })
                .collect_view();
            view! {
                <p class="run-error" data-error-kind=error_kind_name(error.kind) data-line=error.line>
                    <strong>{error_title(error.kind)}</strong>" "{place}{error.message.clone()}
                </p>
                <ol class="traceback">{frames}</ol>
            }
            .into_any()
        }
    };
    let log = (!run.log.is_empty())
        .then(|| view! { <pre class="run-log" aria-label="Printed output">{run.log.clone()}</pre> });
    view! {
        {body}
        <p class="muted small">{timing}</p>
        {log}
    }
}

pub fn error_title(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Syntax => "Syntax error.",
        ErrorKind::Exception => "The script raised an error.",
        ErrorKind::CpuLimit => "Too much CPU time.",
        ErrorKind::TimeLimit => "Too slow.",
        ErrorKind::MemoryLimit => "Too much memory.",
        ErrorKind::OutputTooLarge => "Output too large.",
        ErrorKind::InvalidOutput => "The script returned something InChart cannot draw.",
        ErrorKind::Crashed => "The script crashed.",
        ErrorKind::Unavailable => "Scripts cannot run right now.",
    }
}

fn error_kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Syntax => "syntax",
        ErrorKind::Exception => "exception",
        ErrorKind::CpuLimit => "cpu_limit",
        ErrorKind::TimeLimit => "time_limit",
        ErrorKind::MemoryLimit => "memory_limit",
        ErrorKind::OutputTooLarge => "output_too_large",
        ErrorKind::InvalidOutput => "invalid_output",
        ErrorKind::Crashed => "crashed",
        ErrorKind::Unavailable => "unavailable",
    }
}

/// The workbench's requests to the API, shared by its buttons.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Clone)]
struct Actions {
    id: String,
    csrf: String,
    name: RwSignal<String>,
    version: RwSignal<u32>,
    symbol: RwSignal<Symbol>,
    interval: RwSignal<Interval>,
    attached: RwSignal<Vec<crate::scripts::SeriesRef>>,
    signals: ChartSignals,
    run_state: RwSignal<RunState>,
    status: RwSignal<String>,
    backtests: ScriptBacktests,
}

#[cfg(not(feature = "hydrate"))]
impl Actions {
    fn run(&self, _editor: &()) {}
    fn backtest(&self, _editor: &()) {}
    fn save(&self, _editor: &()) {}
    fn toggle_live(&self, _on: bool) {}
}

#[cfg(feature = "hydrate")]
mod browser {
    use chart_bridge::editor::{Diagnostic, Editor};
    use leptos::prelude::*;
    use leptos::task::spawn_local;
    use wasm_bindgen::JsCast;

    use super::{Actions, RunState};
    use crate::api_client::send;
    use crate::scripts::{RunRequest, RunView, ScriptChange, ScriptDetail};
    use crate::theme::use_theme;

    /// The mounted editor, once its bundle has loaded.
    pub type EditorSlot = StoredValue<Option<Editor>, LocalStorage>;

    pub fn mount_editor(
        host: NodeRef<leptos::html::Div>,
        source: String,
        enhanced: RwSignal<bool>,
        actions: Actions,
    ) -> EditorSlot {
        let slot: EditorSlot = StoredValue::new_local(None);
        let theme = use_theme();
        Effect::new(move |_| {
            let Some(element) = host.get() else { return };
            if slot.with_value(Option::is_some) {
                return;
            }
            let source = source.clone();
            let actions = actions.clone();
            spawn_local(async move {
                if let Err(error) = chart_bridge::editor::load().await {
                    actions.status.set(format!(
                        "The editor could not load ({error}); the plain text box still saves."
                    ));
                    return;
                }
                let html: &web_sys::HtmlElement = element.unchecked_ref();
                match Editor::mount(html, &source, theme.get_untracked()) {
                    Ok(mut editor) => {
                        let on_run = actions.clone();
                        editor.on_run(move || on_run.run(&slot));
                        slot.set_value(Some(editor));
                        enhanced.set(true);
                    }
                    Err(error) => actions
                        .status
                        .set(format!("The editor could not start ({error}).")),
                }
            });
        });
        Effect::new(move |_| {
            let theme = theme.get();
            slot.with_value(|editor| {
                if let Some(editor) = editor {
                    editor.set_theme(theme);
                }
            });
        });
        on_cleanup(move || {
            if let Some(editor) = slot.try_update_value(Option::take).flatten() {
                editor.destroy();
            }
        });
        slot
    }

    impl Actions {
        fn url(&self, rest: &str) -> String {
            format!("/api/v1/scripts/{}{rest}", self.id)
        }

        /// Saves the editor's text as a new version if it changed.
        async fn save_now(&self, slot: &EditorSlot) -> Result<(), String> {
            let source = slot
                .try_with_value(|editor| editor.as_ref().map(Editor::doc))
                .flatten();
            let change = ScriptChange {
                name: Some(self.name.get_untracked()),
                source,
            };
            let body = serde_json::to_string(&change).map_err(|error| error.to_string())?;
            let saved: Option<ScriptDetail> = send(
                gloo_net::http::Request::patch(&self.url("")),
                &self.csrf,
                Some(body),
            )
            .await?;
            if let Some(saved) = saved {
                if saved.summary.version != self.version.get_untracked() {
                    self.status
                        .set(format!("Saved as version {}.", saved.summary.version));
                }
                self.version.set(saved.summary.version);
            }
            Ok(())
        }

        pub fn save(&self, slot: &EditorSlot) {
            let actions = self.clone();
            let slot = *slot;
            spawn_local(async move {
                if let Err(message) = actions.save_now(&slot).await {
                    actions.status.set(message);
                } else if actions.status.get_untracked().is_empty() {
                    actions.status.set("Saved.".into());
                }
            });
        }

        /// Saves, then runs the newest version on the chart's series.
        pub fn run(&self, slot: &EditorSlot) {
            if matches!(self.run_state.get_untracked(), RunState::Busy(_)) {
                return;
            }
            let actions = self.clone();
            let slot = *slot;
            self.run_state.set(RunState::Busy("Running…"));
            spawn_local(async move {
                let outcome = async {
                    actions.save_now(&slot).await?;
                    let request = RunRequest {
                        symbol: actions.symbol.get_untracked(),
                        interval: actions.interval.get_untracked(),
                        version: None,
                        candles: None,
                    };
                    let body = serde_json::to_string(&request).map_err(|error| error.to_string())?;
                    send::<RunView>(
                        gloo_net::http::Request::post(&actions.url("/runs")),
                        &actions.csrf,
                        Some(body),
                    )
                    .await?
                    .ok_or_else(|| "The server sent no run.".to_string())
                };
                match outcome.await {
                    Ok(run) => {
                        let diagnostics: Vec<Diagnostic> = match &run.result {
                            Err(error) => error
                                .line
                                .map(|line| Diagnostic {
                                    line,
                                    column: error.column,
                                    message: error.message.clone(),
                                    error: true,
                                })
                                .into_iter()
                                .collect(),
                            Ok(_) => Vec::new(),
                        };
                        slot.with_value(|editor| {
                            if let Some(editor) = editor {
                                editor.set_diagnostics(&diagnostics);
                            }
                        });
                        let name = actions.name.get_untracked();
                        actions.signals.update(|shown| {
                            shown.retain(|(_, old)| old.script_id != run.script_id);
                            if run.result.is_ok() {
                                shown.push((name, run.clone()));
                            }
                        });
                        actions.run_state.set(RunState::Done(Box::new(run)));
                    }
                    Err(message) => actions.run_state.set(RunState::Failed(message)),
                }
            });
        }

        /// Saves, then backtests the newest version on the chart's series
        /// and follows it to its report.
        pub fn backtest(&self, slot: &EditorSlot) {
            let backtests = self.backtests;
            if backtests.busy() {
                return;
            }
            let actions = self.clone();
            let slot = *slot;
            backtests.begin();
            spawn_local(async move {
                match actions.save_now(&slot).await {
                    Ok(()) => backtests.start().await,
                    Err(message) => backtests.refuse(crate::api_client::ApiFailure {
                        status: 0,
                        kind: None,
                        field: None,
                        message,
                        upgrade: None,
                    }),
                }
            });
        }

        /// Attaches the script to the chart's series, or detaches it.
        pub fn toggle_live(&self, on: bool) {
            let actions = self.clone();
            spawn_local(async move {
                let series = crate::scripts::SeriesRef {
                    symbol: actions.symbol.get_untracked(),
                    interval: actions.interval.get_untracked(),
                };
                let url = actions.url(&format!("/live/{}/{}", series.symbol, series.interval));
                let request = if on {
                    gloo_net::http::Request::delete(&url)
                } else {
                    gloo_net::http::Request::put(&url)
                };
                match send::<serde_json::Value>(request, &actions.csrf, None).await {
                    Ok(_) => {
                        actions.attached.update(|list| {
                            list.retain(|a| a != &series);
                            if !on {
                                list.push(series.clone());
                            }
                        });
                        actions.status.set(if on {
                            format!("Stopped running live on {} {}.", series.symbol, series.interval)
                        } else {
                            format!(
                                "Runs live on {} {}: every closed candle re-runs it, and new signals appear here.",
                                series.symbol, series.interval
                            )
                        });
                    }
                    Err(message) => actions.status.set(message),
                }
            });
        }
    }
}
