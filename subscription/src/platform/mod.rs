//! The subscription worker on workers-rs (wasm32 only): its fetch and queue handlers, the
//! `SessionDO` and `SubscriptionDO` classes, and the platform behind [`crate::host`].

mod host;
// The `durable_object` macro generates undocumented wasm-bindgen glue.
#[allow(missing_docs)]
mod objects;

use std::cell::OnceCell;
use std::rc::Rc;

use worker::{Context, Env, MessageBatch, MessageExt, Response};

use durable_streams_cloudflare::adapters::convert::{read_request, to_response};
use durable_streams_cloudflare::adapters::secrets::AuthSettings;
use durable_streams_cloudflare::edge::{
    cors_headers_exposing, preflight_headers, AllowedOrigins, SECURITY_HEADERS,
};
use durable_streams_cloudflare::http::{Method, Reply, Request};
use durable_streams_cloudflare::protocol::ProtocolError;

use crate::api::{self, Api, JobOutcome};
use crate::config::Config;
use crate::route::{self, Route};
use crate::wire::FanoutJob;

pub use objects::{ProjectDO, SessionDO, SubscriptionDO};

/// The largest publish body accepted (core applies its own limit too).
const MAX_BODY_BYTES: usize = 16 << 20;

thread_local! {
    /// The deployment's settings; they cannot change during an isolate's life.
    static SETTINGS: OnceCell<Rc<Settings>> = const { OnceCell::new() };
}

/// What the worker reads from its variables once.
pub(crate) struct Settings {
    /// The layer's settings, or why they are unusable.
    pub config: Result<Config, String>,
    pub allowed_origins: AllowedOrigins,
    pub auth: Option<AuthSettings>,
    /// Whether metric events are also counted in the project objects.
    pub counters: bool,
}

impl Settings {
    pub(crate) fn get(env: &Env) -> Rc<Self> {
        SETTINGS.with(|cell| {
            Rc::clone(cell.get_or_init(|| {
                let var = |k: &str| env.var(k).ok().map(|v| v.to_string());
                let config = Config::from_vars(var).map_err(|e| e.to_string());
                if let Err(e) = &config {
                    worker::console_error!(
                        "the subscription worker's settings are invalid, so it refuses requests: {e}"
                    );
                }
                let auth = AuthSettings::from_env(env);
                AuthSettings::log_state(auth.as_ref());
                Rc::new(Self {
                    config,
                    allowed_origins: AllowedOrigins::parse(var("CORS_ORIGINS").as_deref()),
                    auth,
                    counters: var(host::COUNTERS_VAR).as_deref() == Some("1"),
                })
            }))
        })
    }

    /// The configuration, or the 500 every request gets while it is invalid.
    pub(crate) fn config(&self) -> Result<&Config, ProtocolError> {
        self.config
            .as_ref()
            .map_err(|e| ProtocolError::internal(format!("the subscription worker is misconfigured: {e}")))
    }
}

/// The worker's fetch handler. A worker that embeds this crate calls it from its own
/// `#[event(fetch)]`.
pub async fn handle_fetch(req: worker::Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let settings = Settings::get(&env);
    let origin = req.headers().get("Origin").ok().flatten();
    let method = Method::parse(&req.inner().method());
    let target = Request::new(method, req.inner().url());
    let reply = match route::route(method, target.path()) {
        Ok(Route::Preflight) => {
            let requested = req.headers().get("Access-Control-Request-Headers").ok().flatten();
            let mut reply = Reply::new(204);
            reply.headers.extend(preflight_headers(requested.as_deref()));
            reply
        }
        Ok(Route::Health) => Reply::new(200)
            .header("Content-Type", "application/json")
            .header("Cache-Control", "no-store")
            .bytes(br#"{"status":"ok"}"#.to_vec()),
        Ok(route) => match (settings.config(), read_request(req, MAX_BODY_BYTES).await) {
            (Ok(config), Ok(request)) => {
                let host = host::Platform::for_worker(&env, &ctx, config.clone(), Rc::clone(&settings));
                Api { host: &host, secrets: &host }.handle(route, request).await
            }
            (Err(e), _) | (_, Err(e)) => Reply::error(&e),
        },
        Err(e) => Reply::error(&e),
    };
    let mut response = to_response(reply)?;
    let headers = response.headers_mut();
    for (k, v) in SECURITY_HEADERS {
        headers.set(k, v)?;
    }
    for (k, v) in cors_headers_exposing(&settings.allowed_origins, origin.as_deref(), &api::FANOUT_HEADERS) {
        headers.set(k, &v)?;
    }
    Ok(response)
}

/// The worker's queue handler: runs each fan-out job, acknowledging it when it is done or
/// failed for good, and asking for a retry when a session write may succeed later.
pub async fn handle_queue(batch: MessageBatch<FanoutJob>, env: Env, ctx: Context) -> worker::Result<()> {
    let settings = Settings::get(&env);
    let config = match settings.config() {
        Ok(config) => config.clone(),
        Err(e) => {
            worker::console_error!("{e}");
            batch.retry_all();
            return Ok(());
        }
    };
    let host = host::Platform::for_worker(&env, &ctx, config, Rc::clone(&settings));
    for message in batch.messages()? {
        match api::consume(&host, message.body()).await {
            JobOutcome::Ack => message.ack(),
            JobOutcome::Retry => message.retry(),
        }
    }
    Ok(())
}

#[cfg(feature = "entry")]
#[worker::event(fetch)]
async fn fetch(req: worker::Request, env: Env, ctx: Context) -> worker::Result<Response> {
    handle_fetch(req, env, ctx).await
}

#[cfg(feature = "entry")]
#[worker::event(queue)]
async fn queue(batch: MessageBatch<FanoutJob>, env: Env, ctx: Context) -> worker::Result<()> {
    handle_queue(batch, env, ctx).await
}
