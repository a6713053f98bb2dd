//! Accounts in the database. Every change that touches more than one row
//! runs in one transaction, so an account is never left half-changed.

use std::time::Duration;

use anyhow::Context;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QueryOrder, SqlErr, TransactionTrait,
};
use uuid::Uuid;

use super::entity::{email_token, refresh_token, session, user};
use super::tokens::{opaque_token, token_hash};

pub use super::entity::session::Model as Session;
pub use super::entity::user::Model as User;

/// What a one-time mailed token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailPurpose {
    Verify,
    Reset,
}

impl EmailPurpose {
    fn as_str(self) -> &'static str {
        match self {
            EmailPurpose::Verify => "verify",
            EmailPurpose::Reset => "reset",
        }
    }
}

/// Where a login comes from, as the sessions list shows it.
#[derive(Debug, Clone)]
pub struct Device {
    pub user_agent: String,
    pub ip: String,
}

/// The outcome of presenting a refresh token.
#[derive(Debug)]
pub enum Rotation {
    /// A new refresh token replaces the presented one.
    Rotated {
        user: User,
        session: Uuid,
        token: String,
    },
    /// The token was used a moment ago by the same browser (two tabs at
    /// once): the request is the user's, but no new token is issued; the
    /// browser has it already.
    Raced { user: User, session: Uuid },
    /// A token used before was presented again: its whole family (the
    /// session) is now revoked.
    Reused { session: Uuid },
    /// Unknown, expired or revoked.
    Invalid,
}

#[derive(Debug, thiserror::Error)]
pub enum SignUpError {
    #[error("an account with this email exists")]
    EmailTaken,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

#[derive(Clone)]
pub struct AccountStore {
    db: DatabaseConnection,
}

impl AccountStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    pub async fn create_user(&self, email: &str, password_hash: &str, now: i64) -> Result<User, SignUpError> {
        let model = user::ActiveModel {
            id: Set(Uuid::new_v4()),
            email: Set(email.to_string()),
            password_hash: Set(password_hash.to_string()),
            email_verified_at: Set(None),
            created_at: Set(now),
            password_changed_at: Set(now),
        };
        match user::Entity::insert(model).exec_with_returning(&self.db).await {
            Ok(user) => Ok(user),
            Err(error) if matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                Err(SignUpError::EmailTaken)
            }
            Err(error) => Err(anyhow::Error::from(error).context("while creating a user").into()),
        }
    }

    pub async fn user_by_email(&self, email: &str) -> anyhow::Result<Option<User>> {
        user::Entity::find()
            .filter(user::Column::Email.eq(email))
            .one(&self.db)
            .await
            .context("while looking a user up by email")
    }

    pub async fn user(&self, id: Uuid) -> anyhow::Result<Option<User>> {
        user::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .context("while reading a user")
    }

    /// A new session for `user`, and its first refresh token.
    pub async fn start_session(
        &self,
        user: Uuid,
        device: &Device,
        now: i64,
        lifetime: Duration,
    ) -> anyhow::Result<(Uuid, String)> {
        let id = Uuid::new_v4();
        let (token, hash) = opaque_token();
        self.db
            .transaction::<_, _, DbErr>(|txn| {
                let device = device.clone();
                Box::pin(async move {
                    session::Entity::insert(session::ActiveModel {
                        id: Set(id),
                        user_id: Set(user),
                        created_at: Set(now),
                        last_seen_at: Set(now),
                        expires_at: Set(now + millis(lifetime)),
                        user_agent: Set(truncate(&device.user_agent, 512)),
                        ip: Set(truncate(&device.ip, 64)),
                        revoked_at: Set(None),
                    })
                    .exec(txn)
                    .await?;
                    insert_refresh_token(txn, id, hash, now).await
                })
            })
            .await
            .context("while starting a session")?;
        Ok((id, token))
    }

    /// Trades a refresh token for a new one (RFC 9700 §4.14.2): each token
    /// works once; a second use, past `grace`, revokes the session.
    pub async fn rotate(
        &self,
        presented: &str,
        device: &Device,
        now: i64,
        lifetime: Duration,
        grace: Duration,
    ) -> anyhow::Result<Rotation> {
        let hash = token_hash(presented);
        let device = device.clone();
        self.db
            .transaction::<_, _, DbErr>(|txn| {
                Box::pin(async move {
                    let Some(token) = refresh_token::Entity::find_by_id(hash.clone()).one(txn).await? else {
                        return Ok(Rotation::Invalid);
                    };
                    let Some(found) = session::Entity::find_by_id(token.session_id).one(txn).await? else {
                        return Ok(Rotation::Invalid);
                    };
                    if found.revoked_at.is_some() || found.expires_at <= now {
                        return Ok(Rotation::Invalid);
                    }
                    let Some(owner) = user::Entity::find_by_id(found.user_id).one(txn).await? else {
                        return Ok(Rotation::Invalid);
                    };
                    // Marks the token used only if it was not: of two
                    // requests racing with one token, exactly one wins.
                    let claimed = refresh_token::Entity::update_many()
                        .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
                        .filter(refresh_token::Column::TokenHash.eq(hash.clone()))
                        .filter(refresh_token::Column::UsedAt.is_null())
                        .exec(txn)
                        .await?
                        .rows_affected
                        == 1;
                    if !claimed {
                        let used_at = refresh_token::Entity::find_by_id(hash)
                            .one(txn)
                            .await?
                            .and_then(|token| token.used_at)
                            .unwrap_or(now);
                        if now - used_at <= millis(grace) {
                            return Ok(Rotation::Raced {
                                user: owner,
                                session: found.id,
                            });
                        }
                        revoke(txn, found.id, now).await?;
                        return Ok(Rotation::Reused { session: found.id });
                    }
                    let (token, new_hash) = opaque_token();
                    insert_refresh_token(txn, found.id, new_hash, now).await?;
                    session::Entity::update_many()
                        .col_expr(session::Column::LastSeenAt, Expr::value(now))
                        .col_expr(session::Column::ExpiresAt, Expr::value(now + millis(lifetime)))
                        .col_expr(session::Column::Ip, Expr::value(truncate(&device.ip, 64)))
                        .filter(session::Column::Id.eq(found.id))
                        .exec(txn)
                        .await?;
                    Ok(Rotation::Rotated {
                        user: owner,
                        session: found.id,
                        token,
                    })
                })
            })
            .await
            .context("while rotating a refresh token")
    }

    /// Revokes one of `user`'s sessions; false when it is not theirs or
    /// already over.
    pub async fn revoke_session(&self, user: Uuid, session_id: Uuid, now: i64) -> anyhow::Result<bool> {
        let result = session::Entity::update_many()
            .col_expr(session::Column::RevokedAt, Expr::value(now))
            .filter(session::Column::Id.eq(session_id))
            .filter(session::Column::UserId.eq(user))
            .filter(session::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await
            .context("while revoking a session")?;
        Ok(result.rows_affected == 1)
    }

    /// Revokes every live session of `user` but `keep`; returns those it
    /// revoked.
    pub async fn revoke_all(&self, user: Uuid, keep: Option<Uuid>, now: i64) -> anyhow::Result<Vec<Uuid>> {
        self.db
            .transaction::<_, _, DbErr>(|txn| Box::pin(async move { revoke_all(txn, user, keep, now).await }))
            .await
            .context("while revoking sessions")
    }

    /// The live sessions of `user`, most recently seen first.
    pub async fn sessions(&self, user: Uuid, now: i64) -> anyhow::Result<Vec<Session>> {
        session::Entity::find()
            .filter(session::Column::UserId.eq(user))
            .filter(session::Column::RevokedAt.is_null())
            .filter(session::Column::ExpiresAt.gt(now))
            .order_by_desc(session::Column::LastSeenAt)
            .all(&self.db)
            .await
            .context("while listing sessions")
    }

    /// Whether the session is live (not revoked, not expired).
    pub async fn session_live(&self, session_id: Uuid, now: i64) -> anyhow::Result<bool> {
        let found = session::Entity::find_by_id(session_id)
            .one(&self.db)
            .await
            .context("while reading a session")?;
        Ok(found.is_some_and(|found| found.revoked_at.is_none() && found.expires_at > now))
    }

    /// A fresh one-time token for `purpose`; earlier unused ones for the
    /// same purpose stop working.
    pub async fn issue_email_token(
        &self,
        user: Uuid,
        purpose: EmailPurpose,
        now: i64,
        lifetime: Duration,
    ) -> anyhow::Result<String> {
        let (token, hash) = opaque_token();
        self.db
            .transaction::<_, _, DbErr>(|txn| {
                Box::pin(async move {
                    email_token::Entity::update_many()
                        .col_expr(email_token::Column::UsedAt, Expr::value(now))
                        .filter(email_token::Column::UserId.eq(user))
                        .filter(email_token::Column::Purpose.eq(purpose.as_str()))
                        .filter(email_token::Column::UsedAt.is_null())
                        .exec(txn)
                        .await?;
                    email_token::Entity::insert(email_token::ActiveModel {
                        token_hash: Set(hash),
                        user_id: Set(user),
                        purpose: Set(purpose.as_str().to_string()),
                        expires_at: Set(now + millis(lifetime)),
                        used_at: Set(None),
                    })
                    .exec(txn)
                    .await?;
                    Ok(())
                })
            })
            .await
            .context("while issuing a mailed token")?;
        Ok(token)
    }

    /// The user a live token of `purpose` belongs to, without using it.
    pub async fn email_token_owner(
        &self,
        token: &str,
        purpose: EmailPurpose,
        now: i64,
    ) -> anyhow::Result<Option<User>> {
        let found = email_token::Entity::find_by_id(token_hash(token))
            .one(&self.db)
            .await
            .context("while reading a mailed token")?
            .filter(|found| {
                found.purpose == purpose.as_str() && found.used_at.is_none() && found.expires_at > now
            });
        match found {
            Some(found) => self.user(found.user_id).await,
            None => Ok(None),
        }
    }

    /// Uses a verification token: the address is verified. Returns the user.
    pub async fn verify_email(&self, token: &str, now: i64) -> anyhow::Result<Option<User>> {
        let hash = token_hash(token);
        self.db
            .transaction::<_, _, DbErr>(|txn| {
                Box::pin(async move {
                    let Some(user_id) = use_email_token(txn, &hash, EmailPurpose::Verify, now).await? else {
                        return Ok(None);
                    };
                    user::Entity::update_many()
                        .col_expr(user::Column::EmailVerifiedAt, Expr::value(now))
                        .filter(user::Column::Id.eq(user_id))
                        .filter(user::Column::EmailVerifiedAt.is_null())
                        .exec(txn)
                        .await?;
                    user::Entity::find_by_id(user_id).one(txn).await
                })
            })
            .await
            .context("while verifying an email address")
    }

    /// Uses a reset token: the password is replaced, the address counts as
    /// verified (the link reached it) and every session ends. Returns the
    /// user and the sessions it ended.
    pub async fn reset_password(
        &self,
        token: &str,
        password_hash: &str,
        now: i64,
    ) -> anyhow::Result<Option<(User, Vec<Uuid>)>> {
        let hash = token_hash(token);
        let password_hash = password_hash.to_string();
        self.db
            .transaction::<_, _, DbErr>(|txn| {
                Box::pin(async move {
                    let Some(user_id) = use_email_token(txn, &hash, EmailPurpose::Reset, now).await? else {
                        return Ok(None);
                    };
                    let Some(found) = user::Entity::find_by_id(user_id).one(txn).await? else {
                        return Ok(None);
                    };
                    user::Entity::update_many()
                        .col_expr(user::Column::PasswordHash, Expr::value(password_hash))
                        .col_expr(user::Column::PasswordChangedAt, Expr::value(now))
                        .col_expr(
                            user::Column::EmailVerifiedAt,
                            Expr::value(found.email_verified_at.unwrap_or(now)),
                        )
                        .filter(user::Column::Id.eq(user_id))
                        .exec(txn)
                        .await?;
                    let ended = revoke_all(txn, user_id, None, now).await?;
                    let updated = user::Entity::find_by_id(user_id).one(txn).await?;
                    Ok(updated.map(|user| (user, ended)))
                })
            })
            .await
            .context("while resetting a password")
    }

    /// Replaces the password and ends every other session. Returns those.
    pub async fn change_password(
        &self,
        user: Uuid,
        password_hash: &str,
        keep: Uuid,
        now: i64,
    ) -> anyhow::Result<Vec<Uuid>> {
        let password_hash = password_hash.to_string();
        self.db
            .transaction::<_, _, DbErr>(|txn| {
                Box::pin(async move {
                    user::Entity::update_many()
                        .col_expr(user::Column::PasswordHash, Expr::value(password_hash))
                        .col_expr(user::Column::PasswordChangedAt, Expr::value(now))
                        .filter(user::Column::Id.eq(user))
                        .exec(txn)
                        .await?;
                    revoke_all(txn, user, Some(keep), now).await
                })
            })
            .await
            .context("while changing a password")
    }

    /// Deletes what nobody can use any more: sessions that ended (revoked
    /// or expired) before `before`, with their refresh tokens, and mailed
    /// tokens that expired before it. Returns how many of each went.
    pub async fn purge(&self, before: i64) -> anyhow::Result<(u64, u64)> {
        self.db
            .transaction::<_, _, DbErr>(|txn| {
                Box::pin(async move {
                    let ended = sea_orm::Condition::any()
                        .add(session::Column::RevokedAt.lt(before))
                        .add(session::Column::ExpiresAt.lt(before));
                    let ids: Vec<Uuid> = session::Entity::find()
                        .filter(ended)
                        .all(txn)
                        .await?
                        .into_iter()
                        .map(|session| session.id)
                        .collect();
                    let mut sessions = 0;
                    for chunk in ids.chunks(500) {
                        refresh_token::Entity::delete_many()
                            .filter(refresh_token::Column::SessionId.is_in(chunk.to_vec()))
                            .exec(txn)
                            .await?;
                        sessions += session::Entity::delete_many()
                            .filter(session::Column::Id.is_in(chunk.to_vec()))
                            .exec(txn)
                            .await?
                            .rows_affected;
                    }
                    let mailed = email_token::Entity::delete_many()
                        .filter(email_token::Column::ExpiresAt.lt(before))
                        .exec(txn)
                        .await?
                        .rows_affected;
                    Ok((sessions, mailed))
                })
            })
            .await
            .context("while purging ended sessions")
    }

    /// Deletes the user and everything that is theirs, in one transaction:
    /// what other domains keep of the user (scripts, billing records, the
    /// watchlist) goes with it through their cascading foreign keys.
    /// Returns the sessions that ended.
    pub async fn delete_user(&self, user: Uuid) -> anyhow::Result<Vec<Uuid>> {
        self.db
            .transaction::<_, _, DbErr>(|txn| {
                Box::pin(async move {
                    let sessions: Vec<Uuid> = session::Entity::find()
                        .filter(session::Column::UserId.eq(user))
                        .all(txn)
                        .await?
                        .into_iter()
                        .map(|session| session.id)
                        .collect();
                    refresh_token::Entity::delete_many()
                        .filter(refresh_token::Column::SessionId.is_in(sessions.clone()))
                        .exec(txn)
                        .await?;
                    session::Entity::delete_many()
                        .filter(session::Column::UserId.eq(user))
                        .exec(txn)
                        .await?;
                    email_token::Entity::delete_many()
                        .filter(email_token::Column::UserId.eq(user))
                        .exec(txn)
                        .await?;
                    user::Entity::delete_by_id(user).exec(txn).await?;
                    Ok(sessions)
                })
            })
            .await
            .context("while deleting an account")
    }
}

async fn insert_refresh_token(
    txn: &impl ConnectionTrait,
    session: Uuid,
    hash: String,
    now: i64,
) -> Result<(), DbErr> {
    refresh_token::Entity::insert(refresh_token::ActiveModel {
        token_hash: Set(hash),
        session_id: Set(session),
        issued_at: Set(now),
        used_at: Set(None),
    })
    .on_conflict(
        OnConflict::column(refresh_token::Column::TokenHash)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

async fn revoke(txn: &impl ConnectionTrait, session_id: Uuid, now: i64) -> Result<(), DbErr> {
    session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(now))
        .filter(session::Column::Id.eq(session_id))
        .filter(session::Column::RevokedAt.is_null())
        .exec(txn)
        .await?;
    Ok(())
}

async fn revoke_all(
    txn: &impl ConnectionTrait,
    user: Uuid,
    keep: Option<Uuid>,
    now: i64,
) -> Result<Vec<Uuid>, DbErr> {
    let mut live = session::Entity::find()
        .filter(session::Column::UserId.eq(user))
        .filter(session::Column::RevokedAt.is_null());
    if let Some(keep) = keep {
        live = live.filter(session::Column::Id.ne(keep));
    }
    let ids: Vec<Uuid> = live
        .all(txn)
        .await?
        .into_iter()
        .map(|session| session.id)
        .collect();
    if !ids.is_empty() {
        session::Entity::update_many()
            .col_expr(session::Column::RevokedAt, Expr::value(now))
            .filter(session::Column::Id.is_in(ids.clone()))
            .exec(txn)
            .await?;
    }
    Ok(ids)
}

/// Marks a live token of `purpose` used; returns its user.
async fn use_email_token(
    txn: &impl ConnectionTrait,
    hash: &str,
    purpose: EmailPurpose,
    now: i64,
) -> Result<Option<Uuid>, DbErr> {
    let claimed = email_token::Entity::update_many()
        .col_expr(email_token::Column::UsedAt, Expr::value(now))
        .filter(email_token::Column::TokenHash.eq(hash))
        .filter(email_token::Column::Purpose.eq(purpose.as_str()))
        .filter(email_token::Column::UsedAt.is_null())
        .filter(email_token::Column::ExpiresAt.gt(now))
        .exec(txn)
        .await?
        .rows_affected
        == 1;
    if !claimed {
        return Ok(None);
    }
    Ok(email_token::Entity::find_by_id(hash.to_string())
        .one(txn)
        .await?
        .map(|token| token.user_id))
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 4)
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}
