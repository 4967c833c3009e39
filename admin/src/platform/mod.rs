//! The admin worker on workers-rs (wasm32 only): the gate before everything, the JSON
//! API, and the page assets behind it (`[assets]` with `run_worker_first`, so no page is
//! served without the gate).

mod keys;
mod live;
mod overview;
mod projects;
mod subscriptions;

use std::cell::OnceCell;
use std::rc::Rc;

use worker::{Env, Response};

use durable_streams_cloudflare::adapters::convert::{read_request, to_request, to_response};
use durable_streams_cloudflare::adapters::secrets::AuthSettings;
use durable_streams_cloudflare::adapters::timing::now_ms;
use durable_streams_cloudflare::auth::{Access, ACCESS_HEADER};
use durable_streams_cloudflare::edge::SECURITY_HEADERS;
use durable_streams_cloudflare::http::{Method, Reply, Request};
use durable_streams_cloudflare::internal::INSPECT_PATH;
use durable_streams_cloudflare::protocol::path::StreamName;
use durable_streams_cloudflare::protocol::ProtocolError;

use crate::access::{same_origin, Admitted, Gate};
use crate::route::{self, Route, StreamAction};

/// Core's stream objects, bound from the streams worker (`script_name`).
pub(crate) const STREAMS_BINDING: &str = "STREAMS";
/// The page assets.
const ASSETS_BINDING: &str = "ASSETS";
/// The largest message the console sends (core applies its own limit too).
const MAX_BODY_BYTES: usize = 1 << 20;
/// The header Access puts its token in.
const ACCESS_ASSERTION: &str = "Cf-Access-Jwt-Assertion";

thread_local! {
    /// The gate the deployment's settings describe; they cannot change during an
    /// isolate's life.
    static GATE: OnceCell<Rc<Gate>> = const { OnceCell::new() };
    /// Where core's signing secrets are (`AUTH_KV`, `AUTH_SECRETS`), read once; `None`
    /// when core runs with auth off.
    static CORE_AUTH: OnceCell<Option<Rc<AuthSettings>>> = const { OnceCell::new() };
}

/// Core's auth settings, as this worker is given them: with auth on, what the admin
/// writes is written as a token holder would.
pub(crate) fn core_auth(env: &Env) -> Option<Rc<AuthSettings>> {
    CORE_AUTH.with(|cell| {
        cell.get_or_init(|| {
            let settings = AuthSettings::from_env(env);
            AuthSettings::log_state(settings.as_ref());
            settings.map(Rc::new)
        })
        .clone()
    })
}

fn gate(env: &Env) -> Rc<Gate> {
    GATE.with(|cell| {
        Rc::clone(cell.get_or_init(|| {
            let var = |k: &str| env.var(k).ok().map(|v| v.to_string());
            let gate = Gate::from_settings(
                var("ADMIN_AUTH").as_deref(),
                var("ACCESS_TEAM_DOMAIN").as_deref(),
                var("ACCESS_AUD").as_deref(),
            );
            match &gate {
                Gate::Closed(why) => worker::console_error!("{why}"),
                Gate::DevOpen => worker::console_warn!(
                    "ADMIN_AUTH=dev-open: the admin dashboards are open to anyone who reaches them"
                ),
                Gate::Access(_) => {}
            }
            Rc::new(gate)
        }))
    })
}

/// The worker's fetch handler. A worker that embeds this crate calls it from its own
/// `#[event(fetch)]`.
pub async fn handle_fetch(req: worker::Request, env: Env) -> worker::Result<Response> {
    let method = Method::parse(&req.inner().method());
    let path = req.path();
    let route = route::route(method, &path);
    let gate = gate(&env);
    let assertion = req.headers().get(ACCESS_ASSERTION).ok().flatten();
    let keys = match (&*gate, &assertion) {
        (Gate::Access(app), Some(token)) => keys::for_token(app, token).await,
        _ => None,
    };
    let admitted = gate.admit(assertion.as_deref(), keys.as_deref(), now_ms() / 1000);
    let response = match (admitted, route) {
        // Before the gate's verdict: it tells nothing but that the worker runs.
        (_, Ok(Route::Health)) => to_response(
            Reply::new(200).header("Content-Type", "application/json").bytes(br#"{"status":"ok"}"#.to_vec()),
        )?,
        (Err(e), _) | (Ok(_), Err(e)) => to_response(Reply::error(&e))?,
        (Ok(_), Ok(Route::Asset)) => {
            // The assets binding answers conditional requests and content types itself.
            return with_headers(env.assets(ASSETS_BINDING)?.fetch_request(req).await?, false);
        }
        (Ok(who), Ok(Route::WhoAmI)) => to_response(whoami(&who))?,
        (Ok(_), Ok(Route::Overview)) => overview::respond(&env).await?,
        (Ok(_), Ok(Route::Stream(name, action))) => stream(&env, &name, action, req).await?,
        (Ok(_), Ok(Route::Projects(call))) => {
            if call.changes() {
                if let Err(e) = from_own_pages(&req) {
                    return with_headers(to_response(Reply::error(&e))?, true);
                }
            }
            projects::respond(&env, &call, req).await?
        }
        (Ok(_), Ok(Route::Live(name))) => live::respond(&env, &name, &req, live_session_ms(&env)).await?,
        (Ok(_), Ok(Route::SubscriptionChange(project, action))) => match from_own_pages(&req) {
            Ok(()) => subscriptions::change(&env, &project, &action, req).await?,
            Err(e) => to_response(Reply::error(&e))?,
        },
        (Ok(_), Ok(Route::Subscriptions(project, view))) => {
            let query = req.url()?.query().unwrap_or_default().to_owned();
            subscriptions::respond(&env, &project, &view, &query).await?
        }
    };
    with_headers(response, true)
}

/// Refuses a change sent from another site's page (see [`same_origin`]).
fn from_own_pages(req: &worker::Request) -> Result<(), ProtocolError> {
    let own = req.url().map(|u| u.origin().ascii_serialization()).unwrap_or_default();
    same_origin(req.headers().get("Origin").ok().flatten().as_deref(), &own)
}

/// How long a live-log response lasts: `LIVE_SESSION_MS`, for tests that make the
/// browser reconnect, or [`crate::live::SESSION_MS`].
fn live_session_ms(env: &Env) -> u64 {
    env.var("LIVE_SESSION_MS")
        .ok()
        .and_then(|v| v.to_string().parse().ok())
        .filter(|ms| *ms > 0)
        .unwrap_or(crate::live::SESSION_MS)
}

/// How the request was admitted, for the pages' header (and the dev-open banner).
fn whoami(who: &Admitted) -> Reply {
    let body = match who {
        Admitted::Operator(op) => serde_json::json!({ "mode": "access", "operator": op.name }),
        Admitted::DevOpen => serde_json::json!({ "mode": "dev-open", "operator": null }),
    };
    Reply::new(200).header("Content-Type", "application/json").bytes(body.to_string().into_bytes())
}

/// Asks the stream's object, and passes its answer on as it came: its own account of the
/// stream (inspect), or the protocol's answer to a create or an append. The request to
/// the object is made here, from the method, `Content-Type` and body only, so nothing
/// else a browser sends reaches the object.
async fn stream(
    env: &Env,
    name: &StreamName,
    action: StreamAction,
    req: worker::Request,
) -> worker::Result<Response> {
    let req = match action {
        StreamAction::Inspect => Request::new(Method::Get, format!("https://stream.internal{INSPECT_PATH}")),
        StreamAction::Create | StreamAction::Append => {
            if let Err(e) = from_own_pages(&req) {
                return to_response(Reply::error(&e));
            }
            let content_type = req.headers().get("Content-Type").ok().flatten();
            let body = match read_request(req, MAX_BODY_BYTES).await {
                Ok(body) => body.body,
                Err(e) => return to_response(Reply::error(&e)),
            };
            let method = if action == StreamAction::Create { Method::Put } else { Method::Post };
            let mut object =
                Request::new(method, format!("https://stream.internal{}", name.path())).with_body(body);
            // With auth on, the stream is written as a token holder's request would be, so
            // a stream made here is protected (has a reader key) like any other.
            if let Some(value) = core_auth(env).and(Access::Token.header_value()) {
                object = object.with_header(ACCESS_HEADER, value);
            }
            if let Some(content_type) = content_type {
                object = object.with_header("content-type", content_type);
            }
            object
        }
    };
    let answer = match stream_stub(env, name) {
        Ok(stub) => stub.fetch_with_request(to_request(&req)?).await,
        Err(e) => Err(e),
    };
    answer.or_else(|e| unavailable(format!("asking the stream object of {}: {e}", name.key())))
}

/// The stream's object, through the `STREAMS` binding.
pub(crate) fn stream_stub(env: &Env, name: &StreamName) -> worker::Result<worker::Stub> {
    env.durable_object(STREAMS_BINDING).and_then(|ns| ns.get_by_name(&name.key()))
}

/// The error for a binding that could not be reached, logged.
pub(crate) fn unavailable_error(what: String) -> ProtocolError {
    worker::console_error!("{what}");
    ProtocolError::unavailable(what)
}

/// The 503 for a binding that could not be reached, logged.
pub(crate) fn unavailable(what: String) -> worker::Result<Response> {
    to_response(Reply::error(&unavailable_error(what)))
}

/// The security headers on everything; API answers are never stored by a cache.
fn with_headers(response: Response, api: bool) -> worker::Result<Response> {
    // Responses from bindings have immutable headers: copy them first.
    let headers = response.headers().clone();
    for (k, v) in SECURITY_HEADERS {
        headers.set(k, v)?;
    }
    headers.set("X-Frame-Options", "DENY")?;
    headers.set("Referrer-Policy", "no-referrer")?;
    if api {
        headers.set("Cache-Control", "no-store")?;
    }
    Ok(response.with_headers(headers))
}
