//! What each public page tells search engines and link previews: its
//! title, description, canonical address, Open Graph and Twitter card
//! tags, and structured data (JSON-LD) where it fits.

use leptos::prelude::*;
use leptos::text_prop::TextProp;
use leptos_meta::{Link, Meta, Script, Title};

/// Where the site is reached (`https://inchart.example`, no trailing
/// slash), put in each request's context by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteUrl(pub String);

/// The site's own address: the server's `INCHART_PUBLIC_URL`, or in the
/// browser the page's origin (the same, once deployed).
pub fn site_url() -> String {
    #[cfg(feature = "hydrate")]
    {
        leptos::prelude::window().location().origin().unwrap_or_default()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        use_context::<SiteUrl>()
            .map(|SiteUrl(url)| url)
            .unwrap_or_default()
    }
}

pub const SITE_NAME: &str = "InChart";

/// The head of a page: `<title>`, the description, the canonical link and
/// the preview cards. `path` is the page's own path (`/pricing`).
#[component]
pub fn Seo(
    #[prop(into)] title: TextProp,
    #[prop(into)] description: TextProp,
    #[prop(into)] path: TextProp,
    /// Structured data (from [`json_ld`]).
    #[prop(optional)]
    structured: Option<String>,
) -> impl IntoView {
    let site = site_url();
    let canonical = {
        let path = path.clone();
        move || format!("{site}{}", path.get())
    };
    let (t1, t2, t3) = (title.clone(), title.clone(), title.clone());
    let (d1, d2, d3) = (description.clone(), description.clone(), description.clone());
    view! {
        <Title text=move || t1.get().to_string() />
        <Meta name="description" content=move || d1.get().to_string() />
        {
            let canonical = canonical.clone();
            move || view! { <Link rel="canonical" href=canonical() /> }
        }
        <Meta property="og:site_name" content=SITE_NAME />
        <Meta property="og:type" content="website" />
        <Meta property="og:title" content=move || t2.get().to_string() />
        <Meta property="og:description" content=move || d2.get().to_string() />
        <Meta property="og:url" content=canonical />
        <Meta name="twitter:card" content="summary" />
        <Meta name="twitter:title" content=move || t3.get().to_string() />
        <Meta name="twitter:description" content=move || d3.get().to_string() />
        {structured.map(|data| view! { <Script type_="application/ld+json">{data}</Script> })}
    }
}

/// `value` as JSON-LD's text: JSON with `<`, `>` and `&` written as
/// escapes, so it can sit inside a `<script>` element as it is.
pub fn json_ld(value: &serde_json::Value) -> String {
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}
