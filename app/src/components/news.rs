//! News as every page shows it: headline, source, time ago and a
//! sentiment badge in the chart's green and red, linking out.

use leptos::prelude::*;

use crate::news::{Article, Mood, NOT_CONFIGURED, NewsFeed, NewsView, StaleReason, format_score, time_ago};
use crate::pages::account::format_time;

/// One article. `now` is the server's clock, so the age reads the same
/// before and after hydration.
#[component]
pub fn ArticleItem(article: Article, now: i64, #[prop(optional)] compact: bool) -> impl IntoView {
    let published = format_time(article.published_at * 1000);
    let iso = iso_time(article.published_at);
    view! {
        <li class="article">
            <a class="article-title" href=article.url.clone() rel="noopener nofollow" target="_blank">
                {article.title.clone()}
            </a>
            {(!compact && !article.summary.is_empty()).then(|| view! { <p class="article-summary">{article.summary.clone()}</p> })}
            <p class="article-meta">
                <span class="article-source">{article.source.clone()}</span>
                <span aria-hidden="true">" · "</span>
                <time datetime=iso title=published>{time_ago(now, article.published_at)}</time>
                {article.sentiment.map(|score| view! { <MoodBadge score /> })}
            </p>
        </li>
    }
}

/// "Positive +0.42": the sentiment of the coin the page is about.
#[component]
pub fn MoodBadge(score: f64) -> impl IntoView {
    let mood = Mood::of(score);
    let score_text = format_score(score);
    let title = format!("Marketaux sentiment {score_text} (from \u{2212}1 to +1)");
    view! {
        <span class=mood.class() title=title data-score=format!("{score:.2}")>
            {mood.label()}
            <span class="mood-score">{score_text}</span>
        </span>
    }
}

/// A feed's articles, or a sentence saying why there are none. `compact`
/// leaves out the summaries (the chart's side panel).
#[component]
pub fn NewsFeedView(view: NewsView, #[prop(optional)] compact: bool) -> impl IntoView {
    let now = view.now;
    match view.feed {
        NewsFeed::NotConfigured => view! { <p class="news-notice">{NOT_CONFIGURED}</p> }.into_any(),
        NewsFeed::Unavailable { reason } => view! {
            <p class="news-notice" role="status">
                {format!("No news to show: {}. Try again later.", reason.sentence())}
            </p>
        }
        .into_any(),
        NewsFeed::Page(page) => {
            let stale = page
                .stale
                .map(|reason| stale_sentence(reason, now - page.fetched_at));
            let empty = page.articles.is_empty();
            let items = page
                .articles
                .into_iter()
                .map(|article| view! { <ArticleItem article now compact /> })
                .collect_view();
            view! {
                {stale.map(|sentence| view! { <p class="news-notice" role="status">{sentence}</p> })}
                {empty.then(|| view! { <p class="news-notice">"No recent articles."</p> })}
                <ul class="articles">{items}</ul>
            }
            .into_any()
        }
    }
}

/// "Showing news from 2 h ago: the news service is not answering."
pub fn stale_sentence(reason: StaleReason, age: i64) -> String {
    let age = time_ago(age.max(0), 0);
    let when = if age == "just now" {
        "moments ago".to_string()
    } else {
        age
    };
    format!("Showing news from {when}: {}.", reason.sentence())
}

/// `2026-11-24T16:05:00Z`, for `<time datetime>`.
pub fn iso_time(seconds: i64) -> String {
    let day = crate::pages::account::format_day(seconds * 1000);
    let of_day = seconds.rem_euclid(86_400);
    format!(
        "{day}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_news_says_how_old_and_why() {
        assert_eq!(
            stale_sentence(StaleReason::Unavailable, 7200),
            "Showing news from 2 h ago: the news service is not answering."
        );
        assert_eq!(
            stale_sentence(StaleReason::BudgetSpent, 5),
            "Showing news from moments ago: today's news allowance is spent."
        );
        assert_eq!(iso_time(1_795_996_800 + 3661), "2026-11-30T01:01:01Z");
    }
}
