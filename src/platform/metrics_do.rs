//! `MetricsDO`: the one object that counts the stream objects' metrics when the
//! deployment asks for it (`METRICS_COUNTERS = "1"`), for an overview where Analytics
//! Engine cannot be read. Its logic is [`Counters`].

use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use crate::adapters::convert::{read_request, to_response};
use crate::adapters::sqlite::DoSql;
use crate::adapters::timing::now_ms;
use crate::http::Reply;
use crate::metrics::Counters;
use crate::protocol::ProtocolError;

/// The largest call the counters take: one stream object's events of a second.
const MAX_CALL_BYTES: usize = 1 << 20;

/// The counters' Durable Object.
#[durable_object]
pub struct MetricsDO {
    counters: std::result::Result<Counters<DoSql>, String>,
}

impl DurableObject for MetricsDO {
    fn new(state: State, _env: Env) -> Self {
        let counters = Counters::open(DoSql::new(&state.storage())).map_err(|e| e.to_string());
        Self { counters }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let counters = match &self.counters {
            Ok(c) => c,
            Err(e) => return to_response(Reply::error(&ProtocolError::internal(e.clone()))),
        };
        match read_request(req, MAX_CALL_BYTES).await {
            Ok(req) => to_response(counters.handle(&req, now_ms())),
            Err(e) => to_response(Reply::error(&e)),
        }
    }
}
