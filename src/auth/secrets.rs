//! Signing secrets as the `AUTH_SECRETS` secret holds them: a JSON object of every
//! project's secrets (the `AUTH_KV` registry's records are [`super::project`]). A
//! project may have several secrets at once, so a secret can be rotated without a moment
//! in which valid tokens fail.

use std::collections::HashMap;

use serde::Deserialize;

/// One project's secrets, newest first.
pub type ProjectSecrets = Vec<Vec<u8>>;

/// Why a secrets value was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretsError(pub String);

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_secrets(self) -> Result<ProjectSecrets, SecretsError> {
        let list = match self {
            Self::One(s) => vec![s],
            Self::Many(v) => v,
        };
        if list.is_empty() || list.iter().any(String::is_empty) {
            return Err(SecretsError("a project needs at least one non-empty secret".into()));
        }
        Ok(list.into_iter().map(String::into_bytes).collect())
    }
}

/// Parses `AUTH_SECRETS`: `{"<project>": "<secret>"}` or `{"<project>": ["<new>", "<old>"]}`.
pub fn parse_table(json: &str) -> Result<HashMap<String, ProjectSecrets>, SecretsError> {
    let raw: HashMap<String, OneOrMany> = serde_json::from_str(json)
        .map_err(|e| SecretsError(format!("AUTH_SECRETS is not a JSON object of secrets: {e}")))?;
    raw.into_iter()
        .map(|(project, s)| {
            if !crate::protocol::path::is_project_id(&project) {
                return Err(SecretsError(format!("AUTH_SECRETS names an invalid project id {project:?}")));
            }
            Ok((project, s.into_secrets()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_take_one_secret_or_several() {
        let t = parse_table(r#"{"_default": "s1", "acme": ["new", "old"]}"#).unwrap();
        assert_eq!(t["_default"], vec![b"s1".to_vec()]);
        assert_eq!(t["acme"], vec![b"new".to_vec(), b"old".to_vec()]);
    }

    #[test]
    fn bad_tables_are_refused() {
        for bad in [r#"[]"#, r#"{"a": ""}"#, r#"{"a": []}"#, r#"{"a/b": "s"}"#, r#"{"a": 5}"#, "not json"] {
            assert!(parse_table(bad).is_err(), "{bad}");
        }
    }
}
