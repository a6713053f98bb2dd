//! What the script pages read, through [`ScriptPages`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use app::ids::{ScriptId, UserId};
use app::market::Symbol;
use app::scripts::{ScriptPages, ScriptSummary, Workbench};

use super::Scripts;

pub struct ScriptReader {
    pub scripts: Scripts,
    pub symbols: Arc<[Symbol]>,
}

fn failed(error: anyhow::Error) -> String {
    tracing::error!(error = format!("{error:#}"), "script page read failed");
    "Your scripts could not be read; please reload.".to_string()
}

impl ScriptPages for ScriptReader {
    fn list(&self, user: UserId) -> Pin<Box<dyn Future<Output = Result<Vec<ScriptSummary>, String>> + Send>> {
        let store = self.scripts.store.clone();
        Box::pin(async move { store.list(user.uuid()).await.map_err(failed) })
    }

    fn workbench(
        &self,
        user: UserId,
        script: ScriptId,
    ) -> Pin<Box<dyn Future<Output = Result<Option<Workbench>, String>> + Send>> {
        let scripts = self.scripts.clone();
        let symbols = self.symbols.to_vec();
        Box::pin(async move {
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
                unavailable: scripts.engine.unavailable(),
                feed: scripts.feed_status(),
            }))
        })
    }
}
