//! InChart's pages and components. Every page renders completely on the
//! server (readable with JavaScript off, indexable), then hydrates in the
//! browser from the same code compiled to WebAssembly.

pub mod account;
pub mod components;
pub mod live;
pub mod market;
pub mod pages;
pub mod theme;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, path};

use crate::components::account::provide_page_session;
use crate::pages::account::AccountPage;
use crate::pages::auth::{ForgotPasswordPage, LoginPage, ResetPasswordPage, SignUpPage, VerifyEmailPage};
use crate::pages::{chart::ChartPage, landing::LandingPage, not_found::NotFound};

/// The HTML document around the app, rendered only on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                // Sets the remembered theme before the first paint, so a
                // light-mode reader never sees a dark flash.
                <script>{theme::EARLY_THEME_SCRIPT}</script>
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
                // Async: the page is sent once the symbol list is known, so the
                // whole page is in the HTML before any script runs.
                <Route path=path!("/chart/:symbol") view=ChartPage ssr=SsrMode::Async />
                // Async: forms and their messages are whole in the HTML, and
                // a signed-out visit to /account redirects before any byte.
                <Route path=path!("/signup") view=SignUpPage ssr=SsrMode::Async />
                <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async />
                <Route path=path!("/forgot-password") view=ForgotPasswordPage ssr=SsrMode::Async />
                <Route path=path!("/reset-password") view=ResetPasswordPage ssr=SsrMode::Async />
                <Route path=path!("/verify-email") view=VerifyEmailPage ssr=SsrMode::Async />
                <Route path=path!("/account") view=AccountPage ssr=SsrMode::Async />
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
}
