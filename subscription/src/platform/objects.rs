//! The `SessionDO`, `SubscriptionDO` and `ProjectDO` classes, wrapping
//! [`SessionObject`], [`SourceObject`] and [`ProjectObject`].

use std::rc::Rc;

use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use durable_streams_cloudflare::adapters::convert::{read_request, to_response};
use durable_streams_cloudflare::adapters::sqlite::DoSql;
use durable_streams_cloudflare::http::Reply;
use durable_streams_cloudflare::protocol::ProtocolError;

use super::host::Platform;
use super::Settings;
use crate::project::ProjectObject;
use crate::session::SessionObject;
use crate::source::SourceObject;

/// The largest call an object takes: a delivery carries a page of at most 1 MiB, base64.
const MAX_CALL_BYTES: usize = 4 << 20;

type Session = SessionObject<DoSql, Platform<'static>>;
type Source = SourceObject<DoSql, Platform<'static>>;
type Project = ProjectObject<DoSql, Platform<'static>>;

fn open<T>(
    state: &Rc<State>,
    env: Env,
    make: impl FnOnce(DoSql, Platform<'static>) -> std::result::Result<T, String>,
) -> std::result::Result<T, String> {
    let settings = Settings::get(&env);
    let config = settings.config().map_err(|e| e.to_string())?.clone();
    let host = Platform::for_object(env, Rc::clone(state), config, Rc::clone(&settings));
    make(DoSql::new(&state.storage()), host)
}

async fn answer(
    req: Request,
    handle: impl AsyncFnOnce(durable_streams_cloudflare::http::Request) -> Reply,
) -> Result<Response> {
    match read_request(req, MAX_CALL_BYTES).await {
        Ok(req) => to_response(handle(req).await),
        Err(e) => to_response(Reply::error(&e)),
    }
}

fn broken(why: &str) -> Result<Response> {
    to_response(Reply::error(&ProtocolError::internal(why.to_owned())))
}

/// One session's object: what it follows, its expiry, and deliveries into its stream.
#[durable_object]
pub struct SessionDO {
    object: std::result::Result<Session, String>,
}

impl DurableObject for SessionDO {
    fn new(state: State, env: Env) -> Self {
        let state = Rc::new(state);
        let object = open(&state, env, |sql, host| {
            let config = host.config().clone();
            SessionObject::new(sql, host, config).map_err(|e| e.to_string())
        });
        Self { object }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        match &self.object {
            Ok(object) => answer(req, async |req| object.handle(&req).await).await,
            Err(e) => broken(e),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        if let Ok(object) = &self.object {
            if let Err(e) = object.on_alarm().await {
                // An error makes the platform run the alarm again.
                return Err(worker::Error::from(format!("session expiry failed: {e}")));
            }
        }
        Response::empty()
    }
}

/// One source stream's object: its subscribers, and fan-out.
#[durable_object]
pub struct SubscriptionDO {
    object: std::result::Result<Source, String>,
}

impl DurableObject for SubscriptionDO {
    fn new(state: State, env: Env) -> Self {
        let state = Rc::new(state);
        let object = open(&state, env, |sql, host| {
            let config = host.config().clone();
            SourceObject::new(sql, host, config).map_err(|e| e.to_string())
        });
        Self { object }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        match &self.object {
            Ok(object) => answer(req, async |req| object.handle(&req).await).await,
            Err(e) => broken(e),
        }
    }
}

/// One project's object: its sessions and sources for the dashboard, and counters.
#[durable_object]
pub struct ProjectDO {
    object: std::result::Result<Project, String>,
}

impl DurableObject for ProjectDO {
    fn new(state: State, env: Env) -> Self {
        let state = Rc::new(state);
        let object = open(&state, env, |sql, host| ProjectObject::new(sql, host).map_err(|e| e.to_string()));
        Self { object }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        match &self.object {
            Ok(object) => answer(req, async |req| object.handle(&req)).await,
            Err(e) => broken(e),
        }
    }
}
