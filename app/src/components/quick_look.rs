//! Quick Look: the current symbol's latest news beside the chart, read
//! again when the symbol changes. It slides in from the right (a bottom
//! sheet on a phone) and can be closed; closed, a button in its place
//! opens it again, and the choice is remembered.

use inchart_api::market::Symbol;
use leptos::prelude::*;

use super::news::NewsFeedView;
use crate::PageError;
use crate::news::{NewsView, get_news, news_href};

const REMEMBERED: &str = "inchart.quick-look";

#[component]
pub fn QuickLook(symbol: Signal<Symbol>) -> impl IntoView {
    let open = RwSignal::new(true);
    // Read in the browser after hydration, so the server's page (and its
    // first paint) never waits for the news service.
    Effect::new(move |_| {
        if remembered_closed() {
            open.set(false);
        }
    });
    // Read in the browser once the page is live, and again for each new
    // symbol: the server's page (and its first paint) never waits for the
    // news service. An answer for a symbol no longer shown is dropped.
    let news: RwSignal<Option<Result<NewsView, String>>> = RwSignal::new(None);
    Effect::new(move |_| {
        let wanted = symbol.get();
        news.set(None);
        leptos::task::spawn_local(async move {
            let answer = get_news(Some(wanted.to_string()), 1)
                .await
                .map_err(|error| PageError::from_server_fn_error(&error).to_string());
            if symbol.get_untracked() == wanted {
                news.set(Some(answer));
            }
        });
    });
    let toggle = move |_| {
        let now_open = !open.get_untracked();
        open.set(now_open);
        remember(now_open);
    };

    view! {
        <aside class="quick-look" data-open=move || open.get().to_string() aria-label="Quick Look news">
            <header class="quick-look-head">
                <h2>"Quick Look"</h2>
                <a class="quick-look-more" href=move || news_href(Some(&symbol.get()), 1)>
                    {move || format!("All {} news", symbol.get())}
                </a>
                <button type="button" class="icon-button" on:click=toggle aria-label="Close Quick Look" title="Close">
                    "\u{00d7}"
                </button>
            </header>
            <div class="quick-look-body">
                {move || match news.get() {
                    None => view! { <p class="news-notice" aria-busy="true">"Loading news…"</p> }.into_any(),
                    Some(Ok(view)) => view! { <NewsFeedView view compact=true /> }.into_any(),
                    Some(Err(error)) => view! {
                        <p class="news-notice" role="alert">
                            {format!("News could not be loaded: {error} It is tried again when you change symbols.")}
                        </p>
                    }
                    .into_any(),
                }}
            </div>
        </aside>
        <button
            type="button"
            class="quick-look-open button small"
            hidden=move || open.get()
            on:click=toggle
            aria-label="Open Quick Look news"
        >
            "News"
        </button>
    }
}

fn remembered_closed() -> bool {
    #[cfg(feature = "hydrate")]
    {
        leptos::prelude::window()
            .local_storage()
            .ok()
            .flatten()
            .and_then(|storage| storage.get_item(REMEMBERED).ok().flatten())
            .is_some_and(|value| value == "closed")
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = REMEMBERED;
        false
    }
}

fn remember(open: bool) {
    #[cfg(feature = "hydrate")]
    if let Some(storage) = leptos::prelude::window().local_storage().ok().flatten() {
        let _ = storage.set_item(REMEMBERED, if open { "open" } else { "closed" });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = open;
}
