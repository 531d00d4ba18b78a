//! Checks of free text that reaches the database: search texts, descriptions, JSON from
//! pushers.

use crate::error::{AppError, AppResult};

/// A search text (the parameter `field`), trimmed and at most [`crate::model::MAX_QUERY_LEN`]
/// characters.
pub fn bounded_query(field: &str, q: &str) -> AppResult<String> {
    let q = q.trim();
    if q.chars().count() > crate::model::MAX_QUERY_LEN {
        return Err(AppError::invalid(field, format!("must be at most {} characters", crate::model::MAX_QUERY_LEN)));
    }
    Ok(q.to_string())
}

/// The longest description of a team, namespace or repository.
pub const MAX_DESCRIPTION_LEN: usize = 2000;

/// Checks a description of a team, namespace or repository.
pub fn validate_description(description: &str) -> AppResult<()> {
    if description.chars().count() > MAX_DESCRIPTION_LEN {
        return Err(AppError::invalid("description", format!("must be at most {MAX_DESCRIPTION_LEN} characters")));
    }
    Ok(())
}

/// The same JSON without NUL characters, which PostgreSQL's `jsonb` cannot hold (labels,
/// annotations and whatever a pusher wrote reach us in events and manifests).
pub fn without_nul(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) if s.contains('\0') => Value::String(s.replace('\0', "")),
        Value::Array(a) => Value::Array(a.into_iter().map(without_nul).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k.replace('\0', ""), without_nul(v))).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_characters_are_removed_everywhere() {
        let v = serde_json::json!({"a\u{0}": ["b\u{0}c", 1, {"k": "\u{0}"}]});
        assert_eq!(without_nul(v), serde_json::json!({"a": ["bc", 1, {"k": ""}]}));
    }
}
