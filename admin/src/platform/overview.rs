//! `GET /admin/api/overview`: from Analytics Engine's SQL API when the worker has an
//! account and a token (`CF_ACCOUNT_ID`, the secret `CF_API_TOKEN`), otherwise from
//! core's counters object, which holds figures when core runs with
//! `METRICS_COUNTERS = "1"`.

use futures_util::future::try_join_all;
use worker::{Env, Fetch, Headers, Method, RequestInit, Response};

use durable_streams_cloudflare::adapters::convert::{to_request, to_response};
use durable_streams_cloudflare::adapters::timing::now_ms;
use durable_streams_cloudflare::http::Reply;
use durable_streams_cloudflare::metrics::{MetricsCall, COUNTERS_BINDING, COUNTERS_OBJECT};
use durable_streams_cloudflare::protocol::ProtocolError;

use crate::overview::{self as pure, Analytics, Query};

/// Answers the overview.
pub async fn respond(env: &Env) -> worker::Result<Response> {
    let setting = |name: &str| env.secret(name).ok().or_else(|| env.var(name).ok()).map(|v| v.to_string());
    match Analytics::from_vars(
        setting("CF_ACCOUNT_ID"),
        setting("CF_API_TOKEN"),
        setting("ANALYTICS_DATASET"),
    ) {
        Ok(Some(analytics)) => {
            let reply = from_analytics(&analytics).await.map(|o| Reply::json(200, &o));
            to_response(reply.unwrap_or_else(|e| Reply::error(&e)))
        }
        Ok(None) => from_counters(env).await,
        Err(e) => to_response(Reply::error(&e)),
    }
}

async fn from_counters(env: &Env) -> worker::Result<Response> {
    let stub = env.durable_object(COUNTERS_BINDING).and_then(|ns| ns.get_by_name(COUNTERS_OBJECT));
    let answer = match stub {
        Ok(stub) => stub.fetch_with_request(to_request(&MetricsCall::Overview.request())?).await,
        Err(e) => Err(e),
    };
    answer.or_else(|e| {
        super::unavailable(format!("core's counters object ({COUNTERS_BINDING}) did not answer: {e}"))
    })
}

async fn from_analytics(
    a: &Analytics,
) -> Result<durable_streams_cloudflare::metrics::Overview, ProtocolError> {
    let bodies = try_join_all(Query::ALL.map(|q| query(a, q))).await?;
    pure::read(now_ms(), [&bodies[0], &bodies[1], &bodies[2], &bodies[3]])
}

async fn query(a: &Analytics, q: Query) -> Result<Vec<u8>, ProtocolError> {
    let sql = q.sql(&a.dataset)?;
    let failed =
        |e: worker::Error| ProtocolError::unavailable(format!("Analytics Engine could not be reached: {e}"));
    let headers = Headers::new();
    headers.set("Authorization", &format!("Bearer {}", a.token)).map_err(failed)?;
    headers.set("Content-Type", "text/plain").map_err(failed)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(headers).with_body(Some(sql.into()));
    let req = worker::Request::new_with_init(&a.url(), &init).map_err(failed)?;
    let mut resp = Fetch::Request(req).send().await.map_err(failed)?;
    let status = resp.status_code();
    let body = resp.bytes().await.map_err(failed)?;
    if status >= 300 {
        return Err(pure::failure(status, &String::from_utf8_lossy(&body)));
    }
    Ok(body)
}
