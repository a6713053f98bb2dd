//! What a page says when its content could not be read: one sentence the
//! server chose for the visitor ("Your plan could not be read right now;
//! please reload the page."). The cause stays in the server's log (the
//! server's `error` module makes these and logs it); nothing here carries
//! it.
//!
//! A server function passes the sentence on as
//! `ServerFnError::new(error.message())`, and the page reads it back with
//! [`PageError::from_server_fn_error`].

use leptos::prelude::ServerFnError;
use serde::{Deserialize, Serialize};

/// What a page shows when the server's answer never came.
pub const UNREACHABLE: &str = "InChart could not be reached. Check your connection and reload the page.";

/// What a page shows when an answer came but could not be used.
pub const FAILED: &str = "Something went wrong on our side; please reload the page.";

/// Why a page's content could not be read, as the visitor is told: a
/// public sentence and nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct PageError {
    message: String,
}

impl PageError {
    /// A page error saying `message`, which is shown as it is: a sentence
    /// for the visitor, never an error's cause.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The sentence for the visitor.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What a page shows for a server function's failure: the sentence
    /// the server function carried (they carry only public sentences), or
    /// [`UNREACHABLE`] / [`FAILED`] when the failure happened on the way.
    pub fn from_server_fn_error(error: &ServerFnError) -> Self {
        match error {
            ServerFnError::ServerError(message) => Self::new(message.clone()),
            ServerFnError::Request(_) => Self::new(UNREACHABLE),
            _ => Self::new(FAILED),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_shows_the_sentence_a_server_function_carried() {
        let sentence = "Your plan could not be read right now; please reload the page.";
        let carried = ServerFnError::new(PageError::new(sentence).message());
        assert_eq!(PageError::from_server_fn_error(&carried).message(), sentence);
        assert_eq!(PageError::new(sentence).to_string(), sentence);
        let lost = ServerFnError::Request("connection reset by peer".into());
        assert_eq!(PageError::from_server_fn_error(&lost).message(), UNREACHABLE);
        let garbled = ServerFnError::Deserialization("expected value at line 1".into());
        assert_eq!(PageError::from_server_fn_error(&garbled).message(), FAILED);
    }
}
