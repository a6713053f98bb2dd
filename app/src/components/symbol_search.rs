//! Symbol search in the top bar: a combobox over `GET /api/v1/symbols`.
//!
//! `/` focuses it; typing asks the server (debounced) for matches, carried
//! symbols first. A carried symbol is a link to its chart at the current
//! interval, followed by the router without a reload; one InChart does not
//! carry is listed greyed, as "not carried", and cannot be picked. Arrow
//! keys move through the list, Enter opens, Escape closes.
//!
//! On the server it renders the labelled, empty field: the page is complete
//! without it, and the symbol strip beside it still links every chart.

use inchart_api::market::{Interval, SymbolInfo};
use inchart_api::paths::chart_href;
use leptos::prelude::*;

/// How many matches the list shows.
pub const SEARCH_LIMIT: usize = 20;
/// How long typing must pause before the server is asked, in milliseconds.
pub const SEARCH_DEBOUNCE_MS: u64 = 150;

const INPUT_ID: &str = "symbol-search";
const LIST_ID: &str = "symbol-search-list";

/// What a query sends to the server: the letters and digits of what was
/// typed, upper-cased, as symbols are written (`btc/usdt` → `BTCUSDT`).
pub fn normalise_query(typed: &str) -> String {
    typed
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .take(20)
        .collect()
}

/// The option after (`step` = 1) or before (-1) `current`, wrapping, among
/// `count` options; the first or the last when none is active.
pub fn step_option(current: Option<usize>, count: usize, step: isize) -> Option<usize> {
    if count == 0 {
        return None;
    }
    let next = match current {
        None if step >= 0 => 0,
        None => count - 1,
        Some(index) => (index as isize + step).rem_euclid(count as isize) as usize,
    };
    Some(next)
}

fn option_id(index: usize) -> String {
    format!("{LIST_ID}-{index}")
}

#[component]
pub fn SymbolSearch(interval: Signal<Interval>) -> impl IntoView {
    let input = NodeRef::<leptos::html::Input>::new();
    let query = RwSignal::new(String::new());
    let matches = RwSignal::new(Vec::<SymbolInfo>::new());
    let open = RwSignal::new(false);
    let active = RwSignal::new(None::<usize>);
    let failed = RwSignal::new(false);

    #[cfg(feature = "hydrate")]
    let on_input = browser::searcher(query, matches, open, active, failed);
    #[cfg(not(feature = "hydrate"))]
    let on_input = move |_: leptos::ev::Event| {};

    #[cfg(feature = "hydrate")]
    let on_keydown = browser::keys(input, interval, query, matches, open, active);
    #[cfg(not(feature = "hydrate"))]
    let on_keydown = move |_: leptos::ev::KeyboardEvent| {};

    #[cfg(feature = "hydrate")]
    browser::slash_focuses(input);

    let close = move || {
        open.set(false);
        active.set(None);
    };
    let picked = move || {
        close();
        query.set(String::new());
        matches.set(Vec::new());
    };
    let expanded = move || (open.get() && !query.with(String::is_empty)).to_string();

    let options = move || {
        let list = matches.get();
        if list.is_empty() {
            let text = if failed.get() {
                "Search is unavailable right now. Try again in a moment."
            } else {
                "No symbol matches."
            };
            return view! { <li class="search-empty" role="presentation">{text}</li> }.into_any();
        }
        list.into_iter()
            .enumerate()
            .map(|(index, info)| {
                let selected = move || active.get() == Some(index);
                let pair = format!("{} / {}", info.base, info.quote);
                let symbol = info.symbol.to_string();
                if info.carried {
                    let href = move || chart_href(&info.symbol, interval.get());
                    view! {
                        <li id=option_id(index) role="option" aria-selected=move || selected().to_string()>
                            <a href=href tabindex="-1" on:click=move |_| picked()>
                                <span class="search-symbol">{symbol}</span>
                                <span class="search-pair">{pair}</span>
                            </a>
                        </li>
                    }
                    .into_any()
                } else {
                    view! {
                        <li
                            id=option_id(index)
                            role="option"
                            class="not-carried"
                            aria-disabled="true"
                            aria-selected=move || selected().to_string()
                        >
                            <span class="search-symbol">{symbol}</span>
                            <span class="search-pair">"not carried"</span>
                        </li>
                    }
                    .into_any()
                }
            })
            .collect_view()
            .into_any()
    };

    view! {
        <div class="symbol-search">
            <label class="visually-hidden" for=INPUT_ID>"Search symbols"</label>
            <input
                id=INPUT_ID
                node_ref=input
                type="search"
                role="combobox"
                placeholder="Search"
                autocomplete="off"
                spellcheck="false"
                aria-keyshortcuts="/"
                aria-autocomplete="list"
                aria-controls=LIST_ID
                aria-expanded=expanded
                aria-activedescendant=move || active.get().map(option_id)
                prop:value=query
                on:input=on_input
                on:keydown=on_keydown
                on:focus=move |_| open.set(true)
                on:blur=move |_| close()
            />
            <kbd class="search-key" aria-hidden="true">"/"</kbd>
            <ul
                id=LIST_ID
                role="listbox"
                aria-label="Matching symbols"
                hidden=move || expanded() != "true"
                // Keeps the focus in the field, so a click on an option is not
                // lost to the field's blur closing the list first.
                on:mousedown=move |event| event.prevent_default()
            >
                {options}
            </ul>
        </div>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::time::Duration;

    use inchart_api::market::{Interval, SymbolInfo, SymbolList};
    use inchart_api::paths::chart_href;
    use leptos::prelude::*;
    use leptos::task::spawn_local;
    use leptos_router::hooks::use_navigate;
    use wasm_bindgen::JsCast;

    use super::{SEARCH_DEBOUNCE_MS, SEARCH_LIMIT, normalise_query, step_option};

    /// The `input` handler: remembers the text and asks the server once
    /// typing pauses. Answers to older queries are dropped.
    pub fn searcher(
        query: RwSignal<String>,
        matches: RwSignal<Vec<SymbolInfo>>,
        open: RwSignal<bool>,
        active: RwSignal<Option<usize>>,
        failed: RwSignal<bool>,
    ) -> impl Fn(leptos::ev::Event) + 'static {
        let pending = StoredValue::new_local(None::<TimeoutHandle>);
        let asked = StoredValue::new(0_u64);
        on_cleanup(move || {
            if let Some(handle) = pending.try_update_value(Option::take).flatten() {
                handle.clear();
            }
        });
        move |event: leptos::ev::Event| {
            let typed = event_target_value(&event);
            query.set(typed.clone());
            open.set(true);
            active.set(None);
            if let Some(handle) = pending.try_update_value(Option::take).flatten() {
                handle.clear();
            }
            let wanted = normalise_query(&typed);
            let this_ask = asked.get_value() + 1;
            asked.set_value(this_ask);
            if wanted.is_empty() {
                matches.set(Vec::new());
                return;
            }
            let handle = set_timeout_with_handle(
                move || {
                    spawn_local(async move {
                        let url = format!("/api/v1/symbols?q={wanted}&limit={SEARCH_LIMIT}");
                        let answer = match gloo_net::http::Request::get(&url).send().await {
                            Ok(response) if response.ok() => response.json::<SymbolList>().await.ok(),
                            _ => None,
                        };
                        if asked.try_get_value() != Some(this_ask) {
                            return;
                        }
                        failed.set(answer.is_none());
                        matches.set(answer.map(|list| list.symbols).unwrap_or_default());
                    });
                },
                Duration::from_millis(SEARCH_DEBOUNCE_MS),
            );
            pending.set_value(handle.ok());
        }
    }

    /// Arrow keys, Enter and Escape in the field.
    pub fn keys(
        input: NodeRef<leptos::html::Input>,
        interval: Signal<Interval>,
        query: RwSignal<String>,
        matches: RwSignal<Vec<SymbolInfo>>,
        open: RwSignal<bool>,
        active: RwSignal<Option<usize>>,
    ) -> impl Fn(leptos::ev::KeyboardEvent) + 'static {
        let navigate = use_navigate();
        move |event: leptos::ev::KeyboardEvent| {
            let count = matches.with(Vec::len);
            match event.key().as_str() {
                "ArrowDown" | "ArrowUp" => {
                    event.prevent_default();
                    open.set(true);
                    let step = if event.key() == "ArrowDown" { 1 } else { -1 };
                    active.update(|current| *current = step_option(*current, count, step));
                    scroll_active_into_view(active.get_untracked());
                }
                "Enter" => {
                    event.prevent_default();
                    // The highlighted symbol, or the first carried match.
                    let chosen = matches.with(|list| {
                        let pick = match active.get_untracked() {
                            Some(index) => list.get(index),
                            None => list.iter().find(|info| info.carried),
                        };
                        pick.filter(|info| info.carried).map(|info| info.symbol.clone())
                    });
                    if let Some(symbol) = chosen {
                        query.set(String::new());
                        matches.set(Vec::new());
                        active.set(None);
                        if let Some(field) = input.get_untracked() {
                            let _ = field.blur();
                        }
                        navigate(&chart_href(&symbol, interval.get_untracked()), Default::default());
                    }
                }
                "Escape" => {
                    if open.get_untracked() && !query.with_untracked(String::is_empty) {
                        open.set(false);
                        active.set(None);
                    } else if let Some(field) = input.get_untracked() {
                        query.set(String::new());
                        let _ = field.blur();
                    }
                }
                _ => {}
            }
        }
    }

    fn scroll_active_into_view(active: Option<usize>) {
        let element = active
            .and_then(|index| document().get_element_by_id(&super::option_id(index)))
            .and_then(|element| element.dyn_into::<web_sys::HtmlElement>().ok());
        if let Some(element) = element {
            element.scroll_into_view_with_bool(false);
        }
    }

    /// `/` anywhere on the page, except while typing, focuses the field.
    pub fn slash_focuses(input: NodeRef<leptos::html::Input>) {
        let listener = window_event_listener(leptos::ev::keydown, move |event| {
            if event.key() != "/" || event.ctrl_key() || event.meta_key() || event.alt_key() {
                return;
            }
            let typing = event
                .target()
                .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
                .is_some_and(|element| {
                    matches!(element.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                        || element.has_attribute("contenteditable")
                });
            if typing {
                return;
            }
            if let Some(field) = input.get_untracked() {
                event.prevent_default();
                let _ = field.focus();
            }
        });
        on_cleanup(move || listener.remove());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_what_a_symbol_can_hold() {
        assert_eq!(normalise_query(" btc/usdt "), "BTCUSDT");
        assert_eq!(normalise_query("é$%"), "");
        assert_eq!(normalise_query(&"a".repeat(40)).len(), 20);
    }

    #[test]
    fn arrows_wrap_around_the_list() {
        assert_eq!(step_option(None, 3, 1), Some(0));
        assert_eq!(step_option(None, 3, -1), Some(2));
        assert_eq!(step_option(Some(2), 3, 1), Some(0));
        assert_eq!(step_option(Some(0), 3, -1), Some(2));
        assert_eq!(step_option(Some(1), 0, 1), None);
    }
}
