//! Where signing secrets come from, for any of our workers: the `AUTH_SECRETS` secret, a
//! JSON object of every project's secrets, or the `AUTH_KV` namespace, one key per
//! project; either turns auth on. KV answers are kept in the isolate for a minute, so a
//! busy worker reads KV about once a minute per project, not once per request.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use worker::Env;

use super::timing::now_ms;
use crate::auth::secrets::{self, ProjectSecrets};
use crate::protocol::ProtocolError;

/// The secret holding every project's signing secrets.
pub const SECRETS_VAR: &str = "AUTH_SECRETS";
/// The KV namespace holding one signing-secret record per project.
pub const KV_BINDING: &str = "AUTH_KV";

/// How long a KV answer (found or not) is reused.
const KV_REUSE_MS: i64 = 60_000;
/// Past this many projects the remembered answers are dropped.
const KV_REMEMBERED: usize = 1024;

/// A KV answer and when it was read (ms).
type Remembered = (i64, Option<Rc<ProjectSecrets>>);

/// How long a write token from [`AuthSettings::write_token`] is valid, in seconds.
const WRITE_TOKEN_SECS: i64 = 300;

thread_local! {
    static KV_ANSWERS: RefCell<HashMap<String, Remembered>> = RefCell::default();
    /// Write tokens by project, with the time (ms) until which each is reused.
    static TOKENS: RefCell<HashMap<String, (i64, String)>> = RefCell::default();
}

/// Where this deployment's secrets are. `None`: auth is off.
pub struct AuthSettings {
    /// From `AUTH_SECRETS`; an error if it could not be parsed (then every request is
    /// refused rather than let through).
    table: Option<Result<HashMap<String, Rc<ProjectSecrets>>, String>>,
    kv: bool,
}

impl AuthSettings {
    /// Reads the deployment's auth configuration.
    pub fn from_env(env: &Env) -> Option<Self> {
        let raw = env
            .secret(SECRETS_VAR)
            .map(|s| s.to_string())
            .or_else(|_| env.var(SECRETS_VAR).map(|v| v.to_string()));
        let table = raw.ok().filter(|s| !s.trim().is_empty()).map(|s| {
            secrets::parse_table(&s)
                .map(|t| t.into_iter().map(|(p, s)| (p, Rc::new(s))).collect())
                .map_err(|e| e.0)
        });
        if let Some(Err(e)) = &table {
            worker::console_error!("{SECRETS_VAR} is invalid, so every request is refused: {e}");
        }
        let kv = env.kv(KV_BINDING).is_ok();
        if table.is_none() && !kv {
            worker::console_warn!(
                "auth is off: no {SECRETS_VAR} and no {KV_BINDING}; anyone may read and write"
            );
            return None;
        }
        Some(Self { table, kv })
    }

    /// The project's secrets, `None` if it has none.
    pub async fn secrets(
        &self,
        env: &Env,
        project: &str,
    ) -> Result<Option<Rc<ProjectSecrets>>, ProtocolError> {
        match &self.table {
            Some(Err(_)) => return Err(ProtocolError::internal("the auth configuration is invalid")),
            Some(Ok(t)) => {
                if let Some(s) = t.get(project) {
                    return Ok(Some(Rc::clone(s)));
                }
            }
            None => {}
        }
        if !self.kv {
            return Ok(None);
        }
        let now = now_ms();
        let remembered = KV_ANSWERS.with(|m| {
            m.borrow().get(project).filter(|(at, _)| now - at < KV_REUSE_MS).map(|(_, s)| s.clone())
        });
        if let Some(answer) = remembered {
            return Ok(answer);
        }
        let kv = env.kv(KV_BINDING).map_err(|e| ProtocolError::unavailable(format!("{KV_BINDING}: {e}")))?;
        let record = kv
            .get(project)
            .cache_ttl(60)
            .text()
            .await
            .map_err(|e| ProtocolError::unavailable(format!("{KV_BINDING} could not be read: {e}")))?;
        let answer = match record {
            None => None,
            Some(json) => match secrets::parse_kv_record(&json) {
                Ok(s) => Some(Rc::new(s)),
                Err(e) => {
                    worker::console_error!("{KV_BINDING} record of project {project} is invalid: {}", e.0);
                    None
                }
            },
        };
        KV_ANSWERS.with(|m| {
            let mut m = m.borrow_mut();
            if m.len() >= KV_REMEMBERED {
                m.clear();
            }
            m.insert(project.to_owned(), (now, answer.clone()));
        });
        Ok(answer)
    }

    /// A short-lived write token for `project`, signed with its first secret: what one of
    /// our workers sends when it writes for a project (to core, or to the subscription
    /// worker). Each is reused for half its life, so it never expires on the way.
    pub async fn write_token(&self, env: &Env, project: &str) -> Result<String, ProtocolError> {
        let now = now_ms();
        let held = TOKENS
            .with(|t| t.borrow().get(project).filter(|(until, _)| *until > now).map(|(_, t)| t.clone()));
        if let Some(token) = held {
            return Ok(token);
        }
        let secrets = self.secrets(env, project).await?;
        let Some(secret) = secrets.as_deref().and_then(|s| s.first()) else {
            return Err(ProtocolError::unavailable(format!(
                "project {project} has no signing secret, so it cannot be written for"
            )));
        };
        let claims =
            serde_json::json!({ "sub": project, "scope": "write", "exp": now / 1000 + WRITE_TOKEN_SECS });
        let token = crate::auth::jwt::sign(secret, &claims);
        TOKENS.with(|t| {
            let mut t = t.borrow_mut();
            if t.len() >= KV_REMEMBERED {
                t.clear();
            }
            t.insert(project.to_owned(), (now + WRITE_TOKEN_SECS * 500, token.clone()));
        });
        Ok(token)
    }
}
