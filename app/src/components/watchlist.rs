//! The signed-in trader's watchlist on the chart page: a star that adds or
//! removes the symbol on screen, and a slim row of the symbols followed.
//!
//! The star is a plain form (`POST /watchlist`): the server answers with a
//! redirect back to the chart, carrying the refusal (the plan allows no
//! more) that shows beside the row with an upgrade link. Scripts use the
//! JSON API (`/api/v1/watchlist`).

use inchart_api::market::{Interval, Symbol};
use inchart_api::paths::chart_href;
use leptos::prelude::*;

use crate::account::{PageSession, Tone};
use crate::watchlist::Watchlist;

/// What the watchlist row says about the last change, next to the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchMessage {
    pub text: String,
    pub tone: Tone,
    /// Where to upgrade, when the plan is what stopped the change.
    pub upgrade: Option<String>,
}

/// The watchlist of the page, shared by the star and the row.
#[derive(Debug, Clone, Copy)]
pub struct WatchlistState {
    pub list: RwSignal<Watchlist>,
    pub message: RwSignal<Option<WatchMessage>>,
    /// What screen readers hear after a change that worked.
    pub announcement: RwSignal<String>,
    csrf: StoredValue<String>,
}

impl WatchlistState {
    /// Starts from the server's list and any message a form's redirect
    /// carried here.
    pub fn new(list: Watchlist, session: &PageSession) -> Self {
        let message = session.flash_for("watchlist").map(|flash| WatchMessage {
            text: flash.message.clone(),
            tone: flash.tone,
            // The server names the limit as the field of a plan's refusal.
            upgrade: (flash.tone == Tone::Error && flash.field.as_deref() == Some("watchlist"))
                .then(|| "/pricing".to_string()),
        });
        Self {
            list: RwSignal::new(list),
            message: RwSignal::new(message),
            announcement: RwSignal::new(String::new()),
            csrf: StoredValue::new(session.csrf.clone()),
        }
    }
}

/// "☆ Watch" / "★ Watching": adds `symbol` to the watchlist or removes it.
#[component]
pub fn WatchToggle(
    state: WatchlistState,
    symbol: Signal<Symbol>,
    interval: Signal<Interval>,
) -> impl IntoView {
    let watched = move || state.list.with(|list| list.contains(&symbol.get()));
    view! {
        <form class="watch-form" method="post" action="/watchlist">
            <input type="hidden" name="csrf" value=state.csrf.get_value() />
            <input type="hidden" name="symbol" value=move || symbol.get().to_string() />
            <input type="hidden" name="action" value=move || if watched() { "remove" } else { "add" } />
            // Back to this chart, when the server answers with a redirect.
            <input type="hidden" name="next" value=move || chart_href(&symbol.get(), interval.get()) />
            <button
                type="submit"
                class="watch-toggle"
                aria-pressed=move || watched().to_string()
                title=move || {
                    let symbol = symbol.get();
                    if watched() {
                        format!("Remove {symbol} from your watchlist")
                    } else {
                        format!("Add {symbol} to your watchlist")
                    }
                }
            >
                <span class="watch-star" aria-hidden="true">{move || if watched() { "★" } else { "☆" }}</span>
                {move || if watched() { "Watching" } else { "Watch" }}
            </button>
        </form>
    }
}

/// "3 / 10": how many symbols are on a watchlist, of how many allowed.
pub fn watch_count(list: &Watchlist) -> String {
    format!("{} / {}", list.symbols.len(), list.limit)
}

/// The row of watched symbols, each a link to its chart at the interval
/// on screen, with the count and the last change's message.
#[component]
pub fn WatchlistRow(
    state: WatchlistState,
    symbol: Signal<Symbol>,
    interval: Signal<Interval>,
) -> impl IntoView {
    let links = move || {
        let list = state.list.get();
        if list.symbols.is_empty() {
            return view! {
                <p class="watchlist-empty">"Nothing here yet: ☆ Watch a symbol to follow it."</p>
            }
            .into_any();
        }
        let current = symbol.get();
        let interval = interval.get();
        let items = list
            .symbols
            .into_iter()
            .map(|watched| {
                let is_current = watched == current;
                view! {
                    <li>
                        <a class="watchlist-link" href=chart_href(&watched, interval)
                            aria-current=is_current.then_some("page")>{watched.to_string()}</a>
                    </li>
                }
            })
            .collect_view();
        view! { <ul class="watchlist-symbols">{items}</ul> }.into_any()
    };
    // A message is about the chart it was given on; another chart starts clean.
    Effect::watch(
        move || symbol.get(),
        move |_, _, _| {
            state.message.set(None);
            state.announcement.set(String::new());
        },
        false,
    );
    let count = move || state.list.with(watch_count);
    let spoken_count = move || {
        state
            .list
            .with(|list| format!("{} of {} symbols", list.symbols.len(), list.limit))
    };
    view! {
        <div class="watchlist-bar">
            <nav class="watchlist" aria-label="Watchlist">
                <span class="watchlist-title">"Watchlist"</span>
                <span class="watchlist-count">
                    <span aria-hidden="true">{count}</span>
                    <span class="visually-hidden">{spoken_count}</span>
                </span>
                {links}
            </nav>
            <div class="watchlist-message" role="status" aria-live="polite">
                {move || state.message.get().map(|message| {
                    let class = match message.tone {
                        Tone::Error => "watchlist-problem",
                        Tone::Notice => "watchlist-notice",
                    };
                    view! {
                        <span class=class>{message.text}</span>
                        {message.upgrade.map(|href| view! {
                            " "<a class="watchlist-upgrade" href=href rel="external">"Upgrade"</a>
                        })}
                    }
                })}
                <span class="visually-hidden">{move || state.announcement.get()}</span>
            </div>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_reads_used_of_allowed() {
        let list = Watchlist {
            symbols: vec![Symbol::default(), Symbol::parse("ETHUSDT").unwrap()],
            limit: 10,
        };
        assert_eq!(watch_count(&list), "2 / 10");
    }
}

#[cfg(all(test, feature = "ssr"))]
mod rendered {
    use super::*;

    #[test]
    fn the_star_is_a_form_that_works_without_javascript() {
        let owner = Owner::new();
        let html = owner.with(|| {
            let session = PageSession {
                csrf: "token123".into(),
                ..PageSession::default()
            };
            let list = Watchlist {
                symbols: vec![Symbol::parse("ETHUSDT").unwrap()],
                limit: 10,
            };
            let state = WatchlistState::new(list, &session);
            let symbol = Signal::stored(Symbol::default());
            let interval = Signal::stored(Interval::H4);
            view! {
                <WatchToggle state symbol interval />
                <WatchlistRow state symbol interval />
            }
            .to_html()
        });
        assert!(html.contains(r#"method="post" action="/watchlist""#), "{html}");
        for field in [
            r#"name="csrf" value="token123""#,
            r#"name="symbol" value="BTCUSDT""#,
            r#"name="action" value="add""#,
            r#"name="next" value="/chart/BTCUSDT?interval=4h""#,
        ] {
            assert!(html.contains(field), "{field} in {html}");
        }
        assert!(html.contains(r#"aria-pressed="false""#) && html.contains("Watch"));
        assert!(html.contains(r#"href="/chart/ETHUSDT?interval=4h""#), "{html}");
        assert!(html.contains("1 / 10") && html.contains(r#"aria-live="polite""#));
    }
}
