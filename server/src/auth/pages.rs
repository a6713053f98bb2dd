//! The account page's content, read for the Leptos pages through
//! [`AccountPages`].

use app::PageAnswer as Answer;
use app::account::{AccountOverview, AccountPages, SessionInfo};
use app::ids::{SessionId, UserId};

use super::session::describe_device;
use super::store::AccountStore;
use crate::platform::clock::now_ms;
use crate::web::error::page_error;

pub struct AccountReader(pub AccountStore);

impl AccountPages for AccountReader {
    fn overview(&self, user: UserId, session: SessionId) -> Answer<AccountOverview> {
        let store = self.0.clone();
        Box::pin(async move {
            let read = async {
                let user = user.uuid();
                let Some(found) = store.user(user).await? else {
                    anyhow::bail!("the account is gone");
                };
                let sessions = store.sessions(user, now_ms()).await?;
                Ok(AccountOverview {
                    email: found.email,
                    email_verified: found.email_verified_at.is_some(),
                    created_at: found.created_at,
                    sessions: sessions
                        .into_iter()
                        .map(|listed| SessionInfo {
                            current: SessionId::from(listed.id) == session,
                            id: listed.id.to_string(),
                            device: describe_device(&listed.user_agent),
                            ip: listed.ip,
                            created_at: listed.created_at,
                            last_seen_at: listed.last_seen_at,
                        })
                        .collect(),
                })
            };
            read.await
                .map_err(|cause| page_error(cause, "Your account could not be read; please reload."))
        })
    }
}
