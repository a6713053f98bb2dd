//! `/news` and `/news/:symbol?page=`: the carried coins' news with its
//! sentiment, whole in the HTML, a page per Marketaux page. An unknown
//! symbol or a page past the end is a 404.

use inchart_api::market::Symbol;
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::PageError;
use crate::components::news::NewsFeedView;
use crate::components::site::{SiteFooter, SiteHeader};
use crate::markets::get_market_overview;
use crate::news::{MAX_PAGES, NewsFeed, NewsView, get_news, news_href};
use crate::pages::not_found::{NotFoundContent, set_not_found};
use crate::seo::{Seo, json_ld, site_url};

#[component]
pub fn NewsIndexPage() -> impl IntoView {
    view! { <NewsListing symbol=None /> }
}

#[component]
pub fn SymbolNewsPage() -> impl IntoView {
    let params = use_params_map();
    let raw = params.with_untracked(|p| p.get("symbol").unwrap_or_default());
    view! { <NewsListing symbol=Some(raw) /> }
}

/// The page number asked for: absent is 1, anything not in 1..=MAX_PAGES
/// is `None`.
fn page_asked(raw: Option<String>) -> Option<u32> {
    match raw {
        None => Some(1),
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|page| (1..=MAX_PAGES).contains(page)),
    }
}

#[component]
fn NewsListing(symbol: Option<String>) -> impl IntoView {
    let query = use_query_map();
    let page = page_asked(query.with_untracked(|q| q.get("page")));
    let asked = symbol.clone();
    let overview = Resource::new_blocking(|| (), |_| get_market_overview());
    let news = Resource::new_blocking(
        move || (asked.clone(), page),
        |(symbol, page)| async move {
            match page {
                Some(page) => get_news(symbol, page).await.map(Some),
                None => Ok(None),
            }
        },
    );
    let current = if symbol.is_some() { "" } else { "news" };
    view! {
        <SiteHeader current />
        <main class="page news-page">
            <Suspense fallback=|| view! { <p class="muted" aria-busy="true">"Loading the news…"</p> }>
                {
                    let symbol = symbol.clone();
                    move || {
                        let symbol = symbol.clone();
                        Suspend::new(async move {
                            let carried = overview.await.map(|o| o.symbols).unwrap_or_default();
                            let symbol = match symbol.as_deref().map(Symbol::parse) {
                                None => None,
                                Some(Ok(symbol)) if carried.contains(&symbol) => Some(symbol),
                                Some(_) => return missing("InChart has no news for that symbol."),
                            };
                            match news.await {
                                Ok(Some(view)) => listing(symbol, view, carried),
                                Ok(None) => missing("There is no such page of news."),
                                Err(error) => view! {
                                    <p class="form-error" role="alert">
                                        {PageError::from_server_fn_error(&error).to_string()}
                                    </p>
                                }
                                .into_any(),
                            }
                        })
                    }
                }
            </Suspense>
        </main>
        <SiteFooter />
    }
}

fn missing(sentence: &'static str) -> AnyView {
    set_not_found();
    view! { <NotFoundContent sentence /> }.into_any()
}

fn listing(symbol: Option<Symbol>, view: NewsView, carried: Vec<Symbol>) -> AnyView {
    // Past the last page is a 404; without articles (news off, or none
    // to show) the page says why, whichever page it is.
    let (page, pages) = match &view.feed {
        NewsFeed::Page(page) => (page.page, page.pages),
        _ => (1, 1),
    };
    if page > pages {
        return missing("There is no such page of news.");
    }
    let subject = symbol
        .as_ref()
        .map_or_else(|| "Crypto".to_string(), |symbol| symbol.to_string());
    let page_note = if page > 1 {
        format!(", page {page}")
    } else {
        String::new()
    };
    let title = format!("{subject} news and sentiment{page_note} · InChart");
    let description = match &symbol {
        Some(symbol) => format!(
            "The latest {symbol} headlines with Marketaux sentiment for {}{page_note}: positive, neutral or negative at a glance.",
            crate::news::base_asset(symbol)
        ),
        None => format!(
            "The latest crypto headlines for Bitcoin, Ethereum and the other coins InChart charts, each with its sentiment{page_note}."
        ),
    };
    let path = news_href(symbol.as_ref(), page);
    let structured = item_list(&view, &title, &path);
    let heading = match &symbol {
        Some(symbol) => format!("{symbol} news"),
        None => "Crypto news".to_string(),
    };
    let chart_link = symbol.as_ref().map(|symbol| {
        view! {
            <p class="news-links">
                <a href=format!("/markets/{symbol}")>{format!("{symbol} market summary")}</a>
                <a href=format!("/chart/{symbol}")>{format!("Open the {symbol} chart")}</a>
            </p>
        }
    });
    let filters = carried
        .into_iter()
        .map(|candidate| {
            let current = (Some(&candidate) == symbol.as_ref()).then_some("page");
            view! { <a href=news_href(Some(&candidate), 1) rel="external" aria-current=current>{candidate.to_string()}</a> }
        })
        .collect_view();
    let all_current = symbol.is_none().then_some("page");
    view! {
        <Seo title description path structured />
        <h1>{heading}</h1>
        <p class="lede">"Headlines for the coins InChart charts, with Marketaux's sentiment for each."</p>
        {chart_link}
        <nav class="chip-row" aria-label="Symbols">
            <a href="/news" rel="external" aria-current=all_current>"All"</a>
            {filters}
        </nav>
        <NewsFeedView view />
        <Pager symbol page pages />
    }
    .into_any()
}

/// Previous and next, and where the reader is.
#[component]
fn Pager(symbol: Option<Symbol>, page: u32, pages: u32) -> impl IntoView {
    (pages > 1).then(|| {
        let previous = (page > 1).then(|| news_href(symbol.as_ref(), page - 1));
        let next = (page < pages).then(|| news_href(symbol.as_ref(), page + 1));
        view! {
            <nav class="pager" aria-label="Pages">
                {previous.map(|href| view! { <a href=href rel="prev external">"\u{2190} Newer"</a> })}
                <span>{format!("Page {page} of {pages}")}</span>
                {next.map(|href| view! { <a href=href rel="next external">"Older \u{2192}"</a> })}
            </nav>
        }
    })
}

/// The page's articles as schema.org's `ItemList` of `NewsArticle`s.
fn item_list(view: &NewsView, title: &str, path: &str) -> String {
    let NewsFeed::Page(page) = &view.feed else {
        return json_ld(&serde_json::json!({
            "@context": "https://schema.org",
            "@type": "CollectionPage",
            "name": title,
            "url": format!("{}{path}", site_url()),
        }));
    };
    let items: Vec<serde_json::Value> = page
        .articles
        .iter()
        .enumerate()
        .map(|(index, article)| {
            serde_json::json!({
                "@type": "ListItem",
                "position": index + 1,
                "item": {
                    "@type": "NewsArticle",
                    "headline": article.title,
                    "url": article.url,
                    "datePublished": crate::components::news::iso_time(article.published_at),
                    "publisher": { "@type": "Organization", "name": article.source },
                }
            })
        })
        .collect();
    json_ld(&serde_json::json!({
        "@context": "https://schema.org",
        "@type": "CollectionPage",
        "name": title,
        "url": format!("{}{path}", site_url()),
        "mainEntity": { "@type": "ItemList", "itemListElement": items },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_one_to_twenty() {
        assert_eq!(page_asked(None), Some(1));
        assert_eq!(page_asked(Some("3".into())), Some(3));
        assert_eq!(page_asked(Some("0".into())), None);
        assert_eq!(page_asked(Some("21".into())), None);
        assert_eq!(page_asked(Some("two".into())), None);
    }
}
