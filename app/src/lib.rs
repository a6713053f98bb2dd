//! InChart's pages and components. Every page renders completely on the
//! server (readable with JavaScript off, indexable), then hydrates in the
//! browser from the same code compiled to WebAssembly.

pub mod account;
pub mod alerts;
pub mod api_client;
pub mod backtests;
pub mod billing;
pub mod browser_store;
pub mod components;
pub mod ids;
pub mod markets;
pub mod news;
pub mod page_error;
pub mod pages;
pub mod push;
pub mod scripts;
pub mod seo;
pub mod theme;
pub mod watchlist;

pub use page_error::PageError;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, path};

use crate::components::account::provide_page_session;
use crate::pages::account::AccountPage;
use crate::pages::alerts::AlertsPage;
use crate::pages::auth::{ForgotPasswordPage, LoginPage, ResetPasswordPage, SignUpPage, VerifyEmailPage};
use crate::pages::billing::BillingPage;
use crate::pages::charts::ChartsPage;
use crate::pages::features::FeaturesPage;
use crate::pages::markets::{MarketPage, MarketsPage};
use crate::pages::news::{NewsIndexPage, SymbolNewsPage};
use crate::pages::pricing::PricingPage;
use crate::pages::scripts::{ScriptsPage, WorkbenchPage};
use crate::pages::{chart::ChartPage, landing::LandingPage, not_found::NotFound};

/// A server's answer to a page: what the page traits the server implements
/// (`NewsPages`, `BillingPages`, …) return. A failure is a [`PageError`]:
/// the sentence the visitor is shown, its cause logged by the server.
#[cfg(feature = "ssr")]
pub type PageAnswer<T> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, PageError>> + Send>>;

/// The Content-Security-Policy: scripts from this site, inline scripts
/// only with the page's nonce (Leptos's hydration and streaming scripts,
/// the theme script), WebAssembly compiled by the page, connections to
/// this site only (the API and `/ws`). Styles allow inline ones: the chart
/// widget injects its own. Forms post to this site, whose answers may
/// redirect on to Stripe's hosted Checkout and customer portal (browsers
/// hold those redirects to `form-action` too).
pub fn content_security_policy(nonce: Option<&str>) -> String {
    content_security_policy_with(nonce, &FormTargets::default())
}

/// Where this site's forms may redirect to besides itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormTargets(pub Vec<String>);

impl Default for FormTargets {
    /// Stripe's hosted Checkout and customer portal.
    fn default() -> Self {
        Self(vec![
            "https://checkout.stripe.com".to_string(),
            "https://billing.stripe.com".to_string(),
        ])
    }
}

/// [`content_security_policy`] with the deployment's own form targets (a
/// local Stripe stand-in, say).
pub fn content_security_policy_with(nonce: Option<&str>, targets: &FormTargets) -> String {
    let nonce = nonce.map(|nonce| format!(" 'nonce-{nonce}'")).unwrap_or_default();
    let targets: String = targets.0.iter().map(|target| format!(" {target}")).collect();
    format!(
        "default-src 'self'; script-src 'self'{nonce} 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'{targets}"
    )
}

/// The HTML document around the app, rendered only on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    // The server's integration makes a nonce for every page it renders.
    #[cfg(feature = "ssr")]
    let nonce = leptos::nonce::use_nonce().map(|nonce| nonce.as_inner().to_string());
    #[cfg(not(feature = "ssr"))]
    let nonce: Option<String> = None;
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        let targets = use_context::<FormTargets>().unwrap_or_default();
        let policy = content_security_policy_with(nonce.as_deref(), &targets);
        if let Ok(value) = http::HeaderValue::from_str(&policy) {
            response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                // Sets the remembered theme before the first paint, so a
                // light-mode reader never sees a dark flash.
                <script nonce=nonce>{theme::EARLY_THEME_SCRIPT}</script>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The router and everything every page shares.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    theme::provide_theme();
    provide_page_session();

    view! {
        <Stylesheet id="inchart" href="/pkg/inchart.css" />
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("") view=LandingPage />
                <Route path=path!("/features") view=FeaturesPage />
                // Async: the public pages are whole in the HTML, head
                // included, with their 404s before any byte.
                <Route path=path!("/markets") view=MarketsPage ssr=SsrMode::Async />
                <Route path=path!("/markets/:symbol") view=MarketPage ssr=SsrMode::Async />
                <Route path=path!("/news") view=NewsIndexPage ssr=SsrMode::Async />
                <Route path=path!("/news/:symbol") view=SymbolNewsPage ssr=SsrMode::Async />
                // Async: the page is sent once the symbol list is known, so the
                // whole page is in the HTML before any script runs.
                <Route path=path!("/chart/:symbol") view=ChartPage ssr=SsrMode::Async />
                <Route path=path!("/charts") view=ChartsPage ssr=SsrMode::Async />
                // Async: forms and their messages are whole in the HTML, and
                // a signed-out visit to /account redirects before any byte.
                <Route path=path!("/signup") view=SignUpPage ssr=SsrMode::Async />
                <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async />
                <Route path=path!("/forgot-password") view=ForgotPasswordPage ssr=SsrMode::Async />
                <Route path=path!("/reset-password") view=ResetPasswordPage ssr=SsrMode::Async />
                <Route path=path!("/verify-email") view=VerifyEmailPage ssr=SsrMode::Async />
                <Route path=path!("/account") view=AccountPage ssr=SsrMode::Async />
                <Route path=path!("/scripts") view=ScriptsPage ssr=SsrMode::Async />
                <Route path=path!("/scripts/:id") view=WorkbenchPage ssr=SsrMode::Async />
                <Route path=path!("/alerts") view=AlertsPage ssr=SsrMode::Async />
                // Async: the plans, the forms that buy them and a signed-out
                // visit to /billing's redirect are whole in the HTML.
                <Route path=path!("/pricing") view=PricingPage ssr=SsrMode::Async />
                <Route path=path!("/billing") view=BillingPage ssr=SsrMode::Async />
            </Routes>
        </Router>
    }
}

/// The browser's entry point: attaches the app to the server-rendered HTML.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
    // Tells end-to-end tests (and anyone curious) the page is interactive;
    // the mark puts it on the browser's performance timeline.
    let window = web_sys::window();
    if let Some(root) = window
        .as_ref()
        .and_then(|window| window.document())
        .and_then(|document| document.document_element())
    {
        let _ = root.set_attribute("data-hydrated", "");
    }
    if let Some(performance) = window.and_then(|window| window.performance()) {
        let _ = performance.mark("inchart:hydrated");
    }
}
