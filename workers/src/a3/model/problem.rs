//! A3's error body: RFC 7807 problem details, and the one-line summary kept as `last_error`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// RFC 7807 problem details, as A3 sends errors.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProblemDetails {
    /// Type URI.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// HTTP status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Validation errors by field.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, Vec<String>>,
}

impl ProblemDetails {
    /// One line for logs and `last_error`.
    pub fn summary(&self) -> String {
        let mut s = self.title.clone().unwrap_or_default();
        if let Some(d) = &self.detail {
            if !s.is_empty() {
                s.push_str(": ");
            }
            s.push_str(d);
        }
        for (field, errs) in &self.errors {
            s.push_str(&format!("; {field}: {}", errs.join(", ")));
        }
        s
    }
}
