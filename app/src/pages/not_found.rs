//! The page for any path the router does not know, and for known paths
//! that name nothing (a symbol InChart does not carry): a 404 either way.

use leptos::prelude::*;
use leptos_meta::{Meta, Title};

#[component]
pub fn NotFound() -> impl IntoView {
    set_not_found();
    view! {
        <main class="page narrow">
            <NotFoundContent sentence="There is nothing at this address." />
        </main>
    }
}

/// Answers the request with 404 (on the server; nothing in the browser).
pub fn set_not_found() {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
}

/// The title, heading and way back of a 404, inside a page's frame.
#[component]
pub fn NotFoundContent(sentence: &'static str) -> impl IntoView {
    view! {
        <Title text="Page not found · InChart" />
        <Meta name="robots" content="noindex" />
        <h1>"Page not found"</h1>
        <p>{sentence}" "<a href="/">"Go to the start page"</a>" or "<a href="/markets">"see the markets"</a>"."</p>
    }
}
