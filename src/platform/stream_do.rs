//! `StreamDO`: one Durable Object per stream, wrapping [`StreamService`].

use std::cell::Cell;
use std::rc::Rc;

use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use super::convert::{read_request, to_response};
use super::host::DoHost;
use super::sqlite::DoSql;
use super::timing::{now_precise, Metered};
use crate::gateway::timing::ServerTiming;
use crate::protocol::ProtocolError;
use crate::service::{Config, Reply, StreamService};

type Service = StreamService<DoSql, DoHost>;

/// The Durable Object that owns one stream: it sequences writes, stores the log in its
/// SQLite database, and serves reads and live readers.
#[durable_object(alarm)]
pub struct StreamDO {
    service: std::result::Result<Rc<Service>, String>,
    /// Milliseconds spent in SQL, across all requests.
    sql_meter: Rc<Cell<f64>>,
}

impl DurableObject for StreamDO {
    fn new(state: State, env: Env) -> Self {
        let config = Config::from_vars(|k| env.var(k).ok().map(|v| v.to_string()));
        let sql_meter = Rc::new(Cell::new(0.0));
        let sql = DoSql::new(&state.storage(), Rc::clone(&sql_meter));
        let host = DoHost::new(env, state.storage());
        let service = StreamService::new(sql, host, config).map(Rc::new).map_err(|e| e.to_string());
        Self { service, sql_meter }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let started = now_precise();
        let service = match &self.service {
            Ok(s) => Rc::clone(s),
            Err(e) => return to_response(Reply::error(&ProtocolError::internal(e.clone()))),
        };
        let work = async {
            match read_request(req, service.config().max_append_bytes).await {
                Ok(req) => service.handle(req).await,
                Err(e) => Reply::error(&e),
            }
        };
        let (reply, storage_ms) = Metered::new(work, Rc::clone(&self.sql_meter)).await;
        let mut timing = ServerTiming::after(None);
        timing.add("do", now_precise() - started, None).add("storage", storage_ms, None);
        to_response(reply.header("Server-Timing", timing.value()))
    }

    async fn alarm(&self) -> Result<Response> {
        if let Ok(service) = &self.service {
            service.on_alarm().await;
        }
        Response::empty()
    }
}
