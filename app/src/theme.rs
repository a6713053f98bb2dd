//! Light and dark theme: follows `prefers-color-scheme` until the trader
//! picks one with the toggle, then remembers the choice in `localStorage`.
//! The choice lives in `<html data-theme>`, which the CSS and the chart read.

use leptos::prelude::*;

pub use chart_bridge::Theme;

/// Runs in `<head>` before the first paint.
pub const EARLY_THEME_SCRIPT: &str = "(function(){try{var t=localStorage.getItem('inchart-theme');\
if(t!=='light'&&t!=='dark'){t=matchMedia('(prefers-color-scheme: light)').matches?'light':'dark';}\
document.documentElement.dataset.theme=t;}catch(e){document.documentElement.dataset.theme='dark';}})();";

/// The page's current theme, shared through context.
#[derive(Clone, Copy)]
pub struct ThemeSignal(pub RwSignal<Theme>);

/// Puts the theme in context. On the server it is always the default: the
/// real one is applied by [`EARLY_THEME_SCRIPT`] before paint and read back
/// when the page hydrates.
pub fn provide_theme() {
    let theme = RwSignal::new(Theme::default());
    #[cfg(feature = "hydrate")]
    {
        theme.set(browser::current());
        Effect::new(move |_| browser::apply(theme.get()));
    }
    provide_context(ThemeSignal(theme));
}

/// The theme from context.
pub fn use_theme() -> RwSignal<Theme> {
    use_context::<ThemeSignal>()
        .map(|ThemeSignal(signal)| signal)
        .unwrap_or_else(|| RwSignal::new(Theme::default()))
}

/// A button that flips between light and dark. Its icon comes from CSS so
/// that the server's HTML and the hydrated page agree.
#[component]
pub fn ThemeToggle() -> impl IntoView {
    let theme = use_theme();
    let flip = move |_| {
        theme.update(|current| {
            *current = match current {
                Theme::Dark => Theme::Light,
                Theme::Light => Theme::Dark,
            }
        })
    };
    view! {
        <button class="theme-toggle" type="button" aria-label="Switch light or dark theme" on:click=flip>
            <span class="theme-icon" aria-hidden="true"></span>
        </button>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::Theme;

    const STORAGE_KEY: &str = "inchart-theme";

    pub fn current() -> Theme {
        let attribute = web_sys::window()
            .and_then(|window| window.document())
            .and_then(|document| document.document_element())
            .and_then(|root| root.get_attribute("data-theme"));
        match attribute.as_deref() {
            Some("light") => Theme::Light,
            _ => Theme::Dark,
        }
    }

    pub fn apply(theme: Theme) {
        let name = match theme {
            Theme::Dark => "dark",
            Theme::Light => "light",
        };
        let Some(window) = web_sys::window() else { return };
        if let Some(root) = window.document().and_then(|d| d.document_element()) {
            let _ = root.set_attribute("data-theme", name);
        }
        // Private browsing may refuse storage; the theme still applies.
        if let Ok(Some(storage)) = window.local_storage() {
            let _ = storage.set_item(STORAGE_KEY, name);
        }
    }
}
