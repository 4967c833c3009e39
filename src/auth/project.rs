//! A project's record in the registry (the `AUTH_KV` namespace, one key per project):
//! its signing secrets, whether anyone may read its streams, and the browser origins
//! allowed to read them. The edge reads records; the admin worker edits them with the
//! changes below, which keep every record valid (a project always has a secret).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::secrets::{ProjectSecrets, SecretsError};
use crate::protocol::{ErrorCode, ProtocolError};

/// The most signing secrets one project holds at once.
pub const MAX_SECRETS: usize = 10;
/// The most CORS origins one project lists.
pub const MAX_ORIGINS: usize = 50;

/// What the edge needs of a project.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Project {
    /// Newest first; tokens signed with any of them are accepted.
    pub secrets: ProjectSecrets,
    /// Anyone may read the project's streams, without a token.
    pub public: bool,
    /// Browser origins allowed to read responses; empty: the deployment's `CORS_ORIGINS`.
    pub cors_origins: Vec<String>,
}

impl Project {
    /// A project known only by its secrets (from `AUTH_SECRETS`).
    pub fn with_secrets(secrets: ProjectSecrets) -> Self {
        Self { secrets, ..Self::default() }
    }
}

/// A project's record as stored. `signingSecret` is the older, single-secret spelling
/// and is still read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectRecord {
    /// The older single secret; moved to the front of `signing_secrets` when parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_secret: Option<String>,
    /// Newest first; the first signs new tokens.
    #[serde(default)]
    pub signing_secrets: Vec<String>,
    /// Anyone may read the project's streams.
    #[serde(default)]
    pub public: bool,
    /// Browser origins allowed to read; empty: the deployment's.
    #[serde(default)]
    pub cors_origins: Vec<String>,
}

/// What a registry listing shows of a record without reading it: stored beside each key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordSummary {
    /// How many signing keys it holds.
    pub keys: usize,
    /// Whether its reads are public.
    pub public: bool,
    /// How many origins it lists.
    pub cors_origins: usize,
}

/// A signing key as the admin shows it: never the secret, only an id derived from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    /// See [`key_id`].
    pub id: String,
    /// The key new tokens are signed with (the first).
    pub primary: bool,
}

impl ProjectRecord {
    /// A new project's record with one secret.
    pub fn new(secret: String) -> Self {
        Self { signing_secrets: vec![secret], ..Self::default() }
    }

    /// Parses a stored record; one without a secret is refused.
    pub fn parse(json: &str) -> Result<Self, SecretsError> {
        let mut r: Self = serde_json::from_str(json)
            .map_err(|e| SecretsError(format!("project record is not valid JSON: {e}")))?;
        // The older spelling comes first: it was the only (so the signing) secret.
        if let Some(old) = r.signing_secret.take() {
            r.signing_secrets.insert(0, old);
        }
        if r.signing_secrets.is_empty() || r.signing_secrets.iter().any(String::is_empty) {
            return Err(SecretsError("a project needs at least one non-empty secret".into()));
        }
        Ok(r)
    }

    /// The record as stored.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// What the edge uses.
    pub fn project(&self) -> Project {
        Project {
            secrets: self.signing_secrets.iter().map(|s| s.as_bytes().to_vec()).collect(),
            public: self.public,
            cors_origins: self.cors_origins.clone(),
        }
    }

    /// What a listing shows of it.
    pub fn summary(&self) -> RecordSummary {
        RecordSummary {
            keys: self.signing_secrets.len(),
            public: self.public,
            cors_origins: self.cors_origins.len(),
        }
    }

    /// Its keys, by id, the signing one first.
    pub fn keys(&self) -> Vec<KeyView> {
        self.signing_secrets
            .iter()
            .enumerate()
            .map(|(i, s)| KeyView { id: key_id(s), primary: i == 0 })
            .collect()
    }

    /// Adds `secret` as the new signing key; older keys stay valid until revoked.
    pub fn add_key(&mut self, secret: String) -> Result<(), ProtocolError> {
        if self.signing_secrets.len() >= MAX_SECRETS {
            return Err(ProtocolError::new(
                ErrorCode::LimitReached,
                format!("a project holds at most {MAX_SECRETS} signing keys; revoke one first"),
            ));
        }
        self.signing_secrets.insert(0, secret);
        Ok(())
    }

    /// Revokes the key with id `id`. The last key cannot go: a project without one could
    /// not be written to, and its tokens would all fail.
    pub fn revoke_key(&mut self, id: &str) -> Result<(), ProtocolError> {
        let Some(at) = self.signing_secrets.iter().position(|s| key_id(s) == id) else {
            return Err(ProtocolError::new(ErrorCode::NotFound, "the project has no key with this id"));
        };
        if self.signing_secrets.len() == 1 {
            return Err(ProtocolError::new(
                ErrorCode::LastSigningKey,
                "this is the project's last signing key; generate another before revoking it",
            ));
        }
        self.signing_secrets.remove(at);
        Ok(())
    }

    /// Allows browsers at `origin` (an exact origin, or `*`) to read the project's streams.
    pub fn add_origin(&mut self, origin: &str) -> Result<(), ProtocolError> {
        let origin = valid_origin(origin)?;
        if self.cors_origins.contains(&origin) {
            return Ok(());
        }
        if self.cors_origins.len() >= MAX_ORIGINS {
            return Err(ProtocolError::new(
                ErrorCode::LimitReached,
                format!("a project lists at most {MAX_ORIGINS} origins"),
            ));
        }
        self.cors_origins.push(origin);
        Ok(())
    }

    /// Removes `origin`; one that is not listed is not an error.
    pub fn remove_origin(&mut self, origin: &str) {
        let origin = origin.trim().trim_end_matches('/');
        self.cors_origins.retain(|o| o != origin);
    }
}

/// A key's public id: the first 16 hex digits of its SHA-256, which names it in the
/// admin without revealing it.
pub fn key_id(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// `*`, or `scheme://host[:port]` with nothing after it (what browsers send as `Origin`).
fn valid_origin(origin: &str) -> Result<String, ProtocolError> {
    let origin = origin.trim().trim_end_matches('/');
    if origin == "*" {
        return Ok(origin.to_owned());
    }
    let bad = || {
        ProtocolError::new(
            ErrorCode::InvalidBody,
            "an origin is `*` or scheme://host[:port], such as https://app.example.com",
        )
    };
    let (scheme, host) = origin.split_once("://").ok_or_else(bad)?;
    let scheme_ok =
        !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host.chars().all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
    if !scheme_ok || !host_ok {
        return Err(bad());
    }
    Ok(origin.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_both_spellings_and_need_a_secret() {
        let r = ProjectRecord::parse(r#"{"signingSecret": "new", "signingSecrets": ["old"]}"#).unwrap();
        assert_eq!(r.signing_secrets, ["new", "old"]);
        assert_eq!(r.project().secrets, vec![b"new".to_vec(), b"old".to_vec()]);
        let full = ProjectRecord::parse(
            r#"{"signingSecrets": ["s"], "public": true, "corsOrigins": ["https://a.example"]}"#,
        )
        .unwrap();
        assert!(full.project().public);
        assert_eq!(full.project().cors_origins, ["https://a.example"]);
        for bad in [r#"{}"#, r#"{"signingSecret": ""}"#, r#"{"signingSecrets": []}"#, "[]", "no"] {
            assert!(ProjectRecord::parse(bad).is_err(), "{bad}");
        }
        // What is written reads back the same.
        assert_eq!(ProjectRecord::parse(&full.to_json()).unwrap(), full);
        assert_eq!(ProjectRecord::parse(&r.to_json()).unwrap(), r);
    }

    #[test]
    fn keys_rotate_and_the_last_cannot_be_revoked() {
        let mut r = ProjectRecord::new("first".into());
        let first = key_id("first");
        let e = r.revoke_key(&first).unwrap_err();
        assert_eq!((e.status(), e.code().as_str()), (409, "LAST_SIGNING_KEY"));
        r.add_key("second".into()).unwrap();
        assert_eq!(
            r.keys(),
            [KeyView { id: key_id("second"), primary: true }, KeyView { id: first.clone(), primary: false }]
        );
        assert_eq!(r.revoke_key("0000").unwrap_err().status(), 404);
        r.revoke_key(&first).unwrap();
        assert_eq!(r.signing_secrets, ["second"]);
        for i in 0..MAX_SECRETS - 1 {
            r.add_key(format!("k{i}")).unwrap();
        }
        assert_eq!(r.add_key("one too many".into()).unwrap_err().status(), 409);
        assert_eq!(key_id("first").len(), 16);
        assert_ne!(key_id("first"), key_id("second"));
    }

    #[test]
    fn origins_are_checked_normalized_and_kept_once() {
        let mut r = ProjectRecord::new("s".into());
        r.add_origin("https://App.example.com/").unwrap();
        r.add_origin("https://app.example.com").unwrap();
        r.add_origin("http://localhost:8080").unwrap();
        r.add_origin("*").unwrap();
        assert_eq!(r.cors_origins, ["https://app.example.com", "http://localhost:8080", "*"]);
        for bad in
            ["", "example.com", "https://", "https://a.example/path", "https://a b", "javascript:alert(1)"]
        {
            let e = r.add_origin(bad).unwrap_err();
            assert_eq!(e.status(), 400, "{bad}");
        }
        r.remove_origin("https://app.example.com/");
        r.remove_origin("https://never.example");
        assert_eq!(r.cors_origins, ["http://localhost:8080", "*"]);
        assert_eq!(r.summary(), RecordSummary { keys: 1, public: false, cors_origins: 2 });
    }
}
