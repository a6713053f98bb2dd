//! What the script pages read, through [`ScriptPages`].

use app::PageAnswer as Answer;
use app::ids::{ScriptId, UserId};
use app::scripts::{ScriptPages, ScriptSummary, Workbench};

use super::Scripts;
use crate::web::error::page_error;

pub struct ScriptReader {
    pub scripts: Scripts,
    pub symbols: crate::market::Symbols,
}

/// What the scripts page says when the list cannot be read.
const LIST_UNREAD: &str = "Your scripts could not be read; please reload.";
/// What the workbench says when its script cannot be read.
const SCRIPT_UNREAD: &str = "The script could not be read; please reload.";

impl ScriptPages for ScriptReader {
    fn list(&self, user: UserId) -> Answer<Vec<ScriptSummary>> {
        let store = self.scripts.store.clone();
        Box::pin(async move {
            store
                .list(user.uuid())
                .await
                .map_err(|cause| page_error(cause, LIST_UNREAD))
        })
    }

    fn workbench(&self, user: UserId, script: ScriptId) -> Answer<Option<Workbench>> {
        let scripts = self.scripts.clone();
        let symbols = self.symbols.to_vec();
        Box::pin(async move {
            let failed = |cause| page_error(cause, SCRIPT_UNREAD);
            let (user, id) = (user.uuid(), script.uuid());
            let Some(detail) = scripts.store.get(user, id).await.map_err(failed)? else {
                return Ok(None);
            };
            let last_run = scripts
                .store
                .runs(user, id, 1)
                .await
                .map_err(failed)?
                .and_then(|runs| runs.into_iter().next());
            Ok(Some(Workbench {
                script: detail,
                last_run,
                symbols,
                unavailable: scripts.pool.unavailable(),
                feed: scripts.feed_status(),
            }))
        })
    }
}
