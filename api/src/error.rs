//! The body of every API error, as the server writes it and the browser
//! reads it.

use serde::{Deserialize, Serialize};

/// The body of every API error: a machine-readable kind, the offending
/// field when there is one, and a sentence for a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    pub error: ApiErrorDetail,
}

/// What went wrong with a request: see [`ApiErrorBody`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiErrorDetail {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
    /// Where to upgrade, when the account's plan is what stands in the way
    /// (`kind` is then `plan_limit` and `field` names the limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<String>,
}
