//! Where projects' signing secrets and settings come from, for any of our workers: the
//! `AUTH_SECRETS` secret, a JSON object of every project's secrets, or the `AUTH_KV`
//! registry, one record per project (see [`crate::auth::project`]); either turns auth
//! on. KV answers are kept in the isolate for `AUTH_KV_REUSE_MS` (a minute by default),
//! so a busy worker reads KV about once a minute per project, not once per request, and
//! a change made in the admin takes effect within that time.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use worker::Env;

use super::timing::now_ms;
use crate::auth::project::{Project, ProjectRecord};
use crate::auth::secrets::{self, ProjectSecrets};
use crate::protocol::ProtocolError;

/// The secret holding every project's signing secrets.
pub const SECRETS_VAR: &str = "AUTH_SECRETS";
/// The KV namespace holding one signing-secret record per project.
pub const KV_BINDING: &str = "AUTH_KV";

/// The variable that sets how long a KV answer (found or not) is reused, in ms.
pub const KV_REUSE_VAR: &str = "AUTH_KV_REUSE_MS";
/// How long a KV answer is reused by default.
const KV_REUSE_MS: i64 = 60_000;
/// Past this many projects the remembered answers are dropped.
const KV_REMEMBERED: usize = 1024;

/// A KV answer and when it was read (ms).
type Remembered = (i64, Option<Rc<Project>>);

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
    table: Option<Result<HashMap<String, Rc<Project>>, String>>,
    kv: bool,
    kv_reuse_ms: i64,
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
                .map(|t| t.into_iter().map(|(p, s)| (p, Rc::new(Project::with_secrets(s)))).collect())
                .map_err(|e| e.0)
        });
        let kv = env.kv(KV_BINDING).is_ok();
        if table.is_none() && !kv {
            return None;
        }
        let kv_reuse_ms =
            env.var(KV_REUSE_VAR).ok().and_then(|v| v.to_string().trim().parse().ok()).unwrap_or(KV_REUSE_MS);
        Some(Self { table, kv, kv_reuse_ms })
    }

    /// Logs what an operator must know about these settings (`None`: auth is off): that
    /// anyone may read and write, or that the secrets cannot be parsed and every request
    /// is refused. A worker calls it once per isolate.
    pub fn log_state(settings: Option<&Self>) {
        match settings {
            None => worker::console_warn!(
                "auth is off: no {SECRETS_VAR} and no {KV_BINDING}; anyone may read and write"
            ),
            Some(Self { table: Some(Err(e)), .. }) => {
                worker::console_error!("{SECRETS_VAR} is invalid, so every request is refused: {e}")
            }
            Some(_) => {}
        }
    }

    /// The project's secrets, `None` if it has none.
    pub async fn secrets(
        &self,
        env: &Env,
        project: &str,
    ) -> Result<Option<Rc<ProjectSecrets>>, ProtocolError> {
        Ok(self.project(env, project).await?.map(|p| Rc::new(p.secrets.clone())))
    }

    /// The project's configuration, `None` if it has none (so it cannot be used).
    pub async fn project(&self, env: &Env, project: &str) -> Result<Option<Rc<Project>>, ProtocolError> {
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
            m.borrow().get(project).filter(|(at, _)| now - at < self.kv_reuse_ms).map(|(_, s)| s.clone())
        });
        if let Some(answer) = remembered {
            return Ok(answer);
        }
        let kv = env.kv(KV_BINDING).map_err(|e| ProtocolError::unavailable(format!("{KV_BINDING}: {e}")))?;
        let mut get = kv.get(project);
        // KV's own edge cache takes no less than 60 s; a shorter reuse reads through it.
        if self.kv_reuse_ms >= 60_000 {
            get = get.cache_ttl(60);
        }
        let record = get
            .text()
            .await
            .map_err(|e| ProtocolError::unavailable(format!("{KV_BINDING} could not be read: {e}")))?;
        let answer = match record {
            None => None,
            Some(json) => match ProjectRecord::parse(&json) {
                Ok(r) => Some(Rc::new(r.project())),
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
