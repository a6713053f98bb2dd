//! Signal scripts as the API and the pages see them. A run and its
//! signals are [`inchart_api::scripts`]'s, re-exported here, since the
//! chart's WebSocket carries them too.

use serde::{Deserialize, Serialize};

use inchart_api::market::{FeedStatus, Interval, Symbol};
pub use inchart_api::scripts::{
    ErrorKind, Frame, Level, Line, LineStyle, Marker, Output, RunError, RunView, Side, Trigger,
};

/// The longest script name, in characters.
pub const MAX_NAME: usize = 80;
/// The largest script, in bytes.
pub const MAX_SOURCE: usize = 64 * 1024;

/// What a new script starts as: a moving-average cross, complete, and an
/// RSI in a pane of its own with its 30 and 70.
pub const TEMPLATE: &str = r#"# InChart calls signals(candles) with the chart's closed
# candles (.time .open .high .low .close .volume: numpy
# arrays, oldest first) and draws the markers and lines
# it returns. Lines go over the candles; a line that
# names a pane goes under them, with its own scale, and
# a level() joins the pane of the line before it.
# histogram(values, pane=...) draws bars (MACD's).
from inchart import sma, rsi, crossover, crossunder, buy, sell, line, level


def signals(candles):
    t, close = candles.time, candles.close
    fast, slow = sma(close, 9), sma(close, 21)
    buys = [buy(t[i], close[i]) for i in crossover(fast, slow)]
    sells = [sell(t[i], close[i]) for i in crossunder(fast, slow)]
    return buys + sells, {
        "SMA 9": fast,
        "SMA 21": slow,
        "RSI 14": line(rsi(close, 14), pane="RSI"),
        "Overbought": level(70),
        "Oversold": level(30),
    }
"#;

/// A script in its owner's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptSummary {
    pub id: String,
    pub name: String,
    /// The newest saved version, from 1.
    pub version: u32,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    pub updated_at: i64,
    /// The series it re-runs on at every closed candle.
    #[serde(default)]
    pub attached: Vec<SeriesRef>,
}

/// A script with its newest source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptDetail {
    #[serde(flatten)]
    pub summary: ScriptSummary,
    pub source: String,
}

/// One saved version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    pub version: u32,
    pub created_at: i64,
    /// Its source, when asked for one version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// A series a script is attached to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SeriesRef {
    pub symbol: Symbol,
    pub interval: Interval,
}

/// `POST /api/v1/scripts/{id}/runs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRequest {
    pub symbol: Symbol,
    pub interval: Interval,
    /// The version to run; the newest when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// How many of the newest candles the script sees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candles: Option<u32>,
}

/// `POST /api/v1/scripts` and `PATCH /api/v1/scripts/{id}`: a new name,
/// a new version of the source, or both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// What the script workbench page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workbench {
    pub script: ScriptDetail,
    /// The newest run, drawn on the chart when the page opens.
    pub last_run: Option<RunView>,
    /// Symbols the chart can show.
    pub symbols: Vec<Symbol>,
    /// Why runs cannot happen on this server, when they cannot.
    pub unavailable: Option<String>,
    /// The feed's status as the page is rendered, where the chart starts.
    pub feed: FeedStatus,
}

#[cfg(feature = "ssr")]
pub use server_side::*;

#[cfg(feature = "ssr")]
mod server_side {
    use std::sync::Arc;

    use super::{ScriptSummary, Workbench};

    use crate::PageAnswer as Answer;
    use crate::ids::{ScriptId, UserId};

    /// What the script pages read, implemented by the server.
    pub trait ScriptPages: Send + Sync {
        /// `user`'s scripts.
        fn list(&self, user: UserId) -> Answer<Vec<ScriptSummary>>;
        /// `None` when `user` has no script `script`.
        fn workbench(&self, user: UserId, script: ScriptId) -> Answer<Option<Workbench>>;
    }

    /// The server's [`ScriptPages`], in each request's context.
    #[derive(Clone)]
    pub struct ScriptService(pub Arc<dyn ScriptPages>);
}

#[cfg(feature = "ssr")]
fn script_pages()
-> Result<(crate::ids::UserId, std::sync::Arc<dyn ScriptPages>), leptos::prelude::ServerFnError> {
    use leptos::prelude::{ServerFnError, use_context};
    let user = crate::account::request_session()
        .and_then(|session| session.ids)
        .map(|(user, _)| user)
        .ok_or_else(|| ServerFnError::new("signed out"))?;
    let ScriptService(pages) = use_context::<ScriptService>()
        .ok_or_else(|| ServerFnError::new("Scripts are not configured on this server."))?;
    Ok((user, pages))
}

/// The signed-in user's scripts; `None` when nobody is signed in.
#[leptos::server(input = leptos::server_fn::codec::GetUrl)]
pub async fn get_scripts() -> Result<Option<Vec<ScriptSummary>>, leptos::prelude::ServerFnError> {
    let Ok((user, pages)) = script_pages() else {
        return Ok(None);
    };
    pages
        .list(user)
        .await
        .map(Some)
        .map_err(|error| leptos::prelude::ServerFnError::new(error.message()))
}

/// Whether the visitor may see the script: signed out, not theirs, or here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WorkbenchAnswer {
    SignedOut,
    NotFound,
    Found(Box<Workbench>),
}

/// One script's workbench; an `id` that is not a script id is not found,
/// like the id of a script that is not the visitor's.
#[leptos::server(input = leptos::server_fn::codec::GetUrl)]
pub async fn get_workbench(id: String) -> Result<WorkbenchAnswer, leptos::prelude::ServerFnError> {
    let Ok((user, pages)) = script_pages() else {
        return Ok(WorkbenchAnswer::SignedOut);
    };
    let Ok(script) = id.parse::<crate::ids::ScriptId>() else {
        return Ok(WorkbenchAnswer::NotFound);
    };
    match pages.workbench(user, script).await {
        Ok(Some(workbench)) => Ok(WorkbenchAnswer::Found(Box::new(workbench))),
        Ok(None) => Ok(WorkbenchAnswer::NotFound),
        Err(error) => Err(leptos::prelude::ServerFnError::new(error.message())),
    }
}

/// Checks a script's name as the trader typed it.
pub fn check_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("Give the script a name.".into());
    }
    if name.chars().count() > MAX_NAME {
        return Err(format!("A name has at most {MAX_NAME} characters."));
    }
    if name.chars().any(char::is_control) {
        return Err("A name is one line of text.".into());
    }
    Ok(name.to_string())
}

/// Checks a script's source before it is saved.
pub fn check_source(source: &str) -> Result<(), String> {
    if source.len() > MAX_SOURCE {
        return Err(format!("A script has at most {} KiB.", MAX_SOURCE / 1024));
    }
    if source.contains('\0') {
        return Err("A script cannot contain NUL characters.".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_trimmed_line() {
        assert_eq!(check_name("  MA cross ").as_deref(), Ok("MA cross"));
        assert!(check_name("   ").is_err());
        assert!(check_name("a\nb").is_err());
        assert!(check_name(&"x".repeat(MAX_NAME + 1)).is_err());
        assert!(check_source(&"#".repeat(MAX_SOURCE + 1)).is_err());
        assert!(check_source(TEMPLATE).is_ok());
    }
}
