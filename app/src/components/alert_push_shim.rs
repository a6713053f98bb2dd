//! PUSH SHIM — DELETE AT MERGE. A stand-in for `crate::push` (browser push,
//! built on another branch: `app/src/push.rs`), with the same API, so the
//! alert form compiles and works without it. At merge: delete this file,
//! its `mod` line in `components/mod.rs`, and change the one
//! `use super::alert_push_shim as push;` in `components/alert_form.rs` to
//! `use crate::push;`.

/// Where browser notifications stand in this browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushState {
    Unsupported,
    Denied,
    Off,
    On,
}

/// Until push lands: the browser says nothing, so the form offers nothing.
pub async fn push_state() -> PushState {
    PushState::Unsupported
}

pub async fn enable_push() -> Result<(), String> {
    Err("Browser notifications are not available yet.".into())
}

#[allow(dead_code)]
pub async fn disable_push() {}
