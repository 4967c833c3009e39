//! The edge worker: routes requests, authorizes them (before the cache is consulted),
//! answers preflights and health checks, serves cacheable reads through the edge cache
//! (with request collapsing), forwards everything else to the stream's Durable Object,
//! and puts CORS, security, `X-Cache` and `Server-Timing` headers on every response,
//! errors included.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::rc::Rc;

use durable_streams_cache::{collapse, policy, CacheKey, CacheOutcome, CacheReport, InFlight, Lookup};
use futures_util::FutureExt;
use worker::{Context, Env, Response, ResponseBuilder, Stub};

use super::auth;
use super::bridge::{self, SessionLimits};
use super::cache::{CachedResponse, WorkerCache};
use super::origin::DoOrigin;
use super::STREAMS_BINDING;
use crate::adapters::convert::to_response;
use crate::adapters::incoming::Incoming;
use crate::adapters::secrets::AuthSettings;
use crate::adapters::timing::now_precise;
use crate::auth::{Access, ACCESS_HEADER};
use crate::edge::read::{self, CachedRead, EdgeInFlight, Served};
use crate::edge::{AllowedOrigins, Route};
use crate::http::{Method, Reply, Request};
use crate::internal::STATS_PATH;
use crate::protocol::path::StreamName;
use crate::protocol::query::{with_offset, ReadQuery, LAST_EVENT_ID};
use crate::protocol::ProtocolError;
use crate::server_timing::ServerTiming;
use crate::stream_do::Config;

thread_local! {
    /// Identical misses in this isolate share one request to the stream object.
    static IN_FLIGHT: EdgeInFlight = InFlight::new(collapse::DEFAULT_CAPACITY, collapse::EDGE_LINGER_MS);
    /// The deployment's settings; they cannot change during an isolate's life.
    static SETTINGS: OnceCell<Rc<EdgeSettings>> = const { OnceCell::new() };
}

/// What the edge reads from the worker's variables.
struct EdgeSettings {
    allowed_origins: AllowedOrigins,
    long_poll_timeout_ms: u64,
    sse: SessionLimits,
    stats_enabled: bool,
    /// `None` when auth is off.
    auth: Option<AuthSettings>,
}

impl EdgeSettings {
    /// The settings, read on the isolate's first request. What an operator must know
    /// about them is logged after that request's answer: a first log line costs the
    /// runtime milliseconds, which the first reader should not wait for.
    fn get(env: &Env, ctx: &Context) -> Rc<Self> {
        SETTINGS.with(|cell| {
            Rc::clone(cell.get_or_init(|| {
                let config = Config::from_vars(|k| var(env, k));
                let settings = Rc::new(Self {
                    allowed_origins: AllowedOrigins::parse(var(env, "CORS_ORIGINS").as_deref()),
                    long_poll_timeout_ms: config.long_poll_timeout_ms,
                    sse: SessionLimits {
                        session_ms: config.sse_session_ms,
                        keepalive_ms: config.sse_keepalive_ms,
                    },
                    stats_enabled: var(env, "DEBUG_STATS").as_deref() == Some("1"),
                    auth: AuthSettings::from_env(env),
                });
                let logged = Rc::clone(&settings);
                ctx.wait_until(async move {
                    worker::Delay::from(std::time::Duration::ZERO).await;
                    AuthSettings::log_state(logged.auth.as_ref());
                });
                settings
            }))
        })
    }
}

/// What the edge was doing when the platform failed it: the log and the client's error
/// both say so.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// Finding the stream's object through the `STREAMS` binding.
    FindObject,
    /// Sending the request to the stream's object and waiting for its answer.
    AskObject,
    /// Building the response.
    Respond,
}

impl Step {
    fn doing(self) -> &'static str {
        match self {
            Self::FindObject => "finding the stream object",
            Self::AskObject => "asking the stream object",
            Self::Respond => "building the response",
        }
    }

    /// The client's error: an object that did not answer is a dependency failure, the
    /// rest is the edge's own.
    fn error(self) -> ProtocolError {
        match self {
            Self::AskObject => ProtocolError::unavailable("the stream object could not be reached"),
            Self::FindObject | Self::Respond => {
                ProtocolError::internal(format!("the edge failed while {}", self.doing()))
            }
        }
    }
}

/// A platform failure at the edge, with the step it happened in.
struct Failure {
    step: Step,
    cause: worker::Error,
}

/// Marks a platform result with the step it belongs to.
trait During<T> {
    fn during(self, step: Step) -> Result<T, Failure>;
}

impl<T> During<T> for worker::Result<T> {
    fn during(self, step: Step) -> Result<T, Failure> {
        self.map_err(|cause| Failure { step, cause })
    }
}

/// A response and what the edge did to produce it.
struct Handled {
    response: Response,
    /// For cacheable reads: how it was served, and the lookup time.
    cache: Option<(CacheReport, f64)>,
    /// Time spent waiting for the stream object, when it was asked.
    origin_ms: Option<f64>,
}

impl Handled {
    fn local(response: Response) -> Self {
        Self { response, cache: None, origin_ms: None }
    }
}

/// The worker's fetch handler. A worker that embeds this crate calls it from its own
/// `#[event(fetch)]`, with the request as [`Incoming`] (cheapest: the handler can take
/// that type itself) or as a `worker::Request`.
pub async fn handle_fetch(req: impl Into<Incoming>, env: Env, ctx: Context) -> worker::Result<Response> {
    let started = now_precise();
    let req = req.into();
    let method = req.method();
    let target = Request::new(method, req.url());
    let origin = req.header("Origin");
    let settings = EdgeSettings::get(&env, &ctx);
    let route = crate::edge::route(method, target.path());
    // The project's record decides auth and its CORS origins, preflights included.
    let project = match &route {
        Ok(Route::Stream(name)) => {
            Some(auth::project(&env, settings.auth.as_ref(), name).boxed_local().await)
        }
        Ok(Route::Preflight) => match crate::edge::route(Method::Get, target.path()) {
            Ok(Route::Stream(name)) => {
                auth::project(&env, settings.auth.as_ref(), &name).boxed_local().await.ok()
            }
            _ => None,
        }
        .map(Ok),
        _ => None,
    };
    let project_origins = project.as_ref().and_then(|p| p.as_ref().ok()).and_then(Option::as_ref);
    let allowed = match project_origins {
        Some(p) => settings.allowed_origins.for_project(&p.cors_origins),
        None => settings.allowed_origins.clone(),
    };
    // Each route's work is a boxed future: its code is then a wasm function of its own,
    // which the runtime compiles on its first call, so an isolate's first request compiles
    // only the code its route runs (inlined into one function, every route would be
    // compiled by the first request of any).
    let handled = match route {
        Ok(Route::Preflight) => preflight(&req).map(Handled::local).during(Step::Respond),
        Ok(Route::Health) => health().map(Handled::local).during(Step::Respond),
        Ok(Route::Stats(name)) => stats(&env, &settings, &name).boxed_local().await,
        Ok(Route::Control(control)) => subscriptions(&env, &settings, control, &req).boxed_local().await,
        Ok(Route::Stream(name)) => {
            let decided = match project.unwrap_or(Ok(None)) {
                Ok(p) => auth::authorize(settings.auth.as_ref(), p.as_deref(), method, &name, &req.headers()),
                Err(e) => Err(e),
            };
            match decided {
                Err(e) => refused(&e),
                Ok(access) if method == Method::Get => {
                    cached_read(&env, &ctx, &settings, &name, access, &target, &req).boxed_local().await
                }
                Ok(access) => forward(&env, &name, access, &req).boxed_local().await,
            }
        }
        Err(e) => refused(&e),
    };
    let handled = match handled {
        Ok(h) => h,
        Err(Failure { step, cause }) => {
            worker::console_error!(
                "{} {} failed while {}: {cause}",
                req.raw().method(),
                target.path(),
                step.doing()
            );
            Handled::local(to_response(Reply::error(&step.error()))?)
        }
    };
    decorate(handled, &allowed, origin.as_deref(), now_precise() - started)
}

/// A GET of a stream: through the cache when it is cacheable, straight to the stream
/// object otherwise (SSE). Anonymous reads have cache keys of their own.
async fn cached_read(
    env: &Env,
    ctx: &Context,
    settings: &EdgeSettings,
    name: &StreamName,
    access: Access,
    target: &Request,
    req: &Incoming,
) -> Result<Handled, Failure> {
    let mut query = match ReadQuery::parse(target.query()) {
        Ok(q) => q,
        // Malformed reads are answered here; they never reach the stream object.
        Err(e) => return refused(&e),
    };
    // A browser's EventSource reconnects to the URL it started with: its Last-Event-ID
    // says where it really is, and the read goes on from there (object and cache alike).
    let resumed_target;
    let target = match query.resume(req.header(LAST_EVENT_ID).as_deref()) {
        Err(e) => return refused(&e),
        Ok(None) => target,
        Ok(Some(offset)) => {
            let url =
                format!("{}{}?{}", target.origin(), target.path(), with_offset(target.query(), &offset));
            resumed_target = Request { url, ..target.clone() };
            &resumed_target
        }
    };
    let facts = read::facts(name, &query, access == Access::Anonymous);
    let lookup = policy::lookup(&facts, req.header("Cache-Control").as_deref());
    if lookup == Lookup::NotCacheable {
        let started = now_precise();
        let stub = stub(env, name)?;
        let response =
            bridge::open(&stub, &target.url, access, settings.sse).await.during(Step::AskObject)?;
        return Ok(Handled { response, cache: None, origin_ms: Some(now_precise() - started) });
    }
    let key = CacheKey::for_read(target.origin(), &facts);
    let if_none_match = req.header("If-None-Match");
    let read = CachedRead {
        key: &key,
        facts: &facts,
        lookup,
        if_none_match: if_none_match.as_deref(),
        follower_bound_ms: read::follower_bound_ms(facts.mode, settings.long_poll_timeout_ms),
    };
    let origin = DoOrigin::new(stub(env, name)?, target.url.clone(), access);
    let cache = WorkerCache::new(ctx);
    let in_flight = IN_FLIGHT.with(Rc::clone);
    let started = now_precise();
    let result = read::serve(&cache, &origin, &in_flight, read).await;
    let elapsed = now_precise() - started;
    let (served, report, lookup_ms) = match result {
        Ok(r) => (r.served, r.report, r.lookup_ms),
        Err(e) => {
            let response = to_response(Reply::error(&e)).during(Step::Respond)?;
            return Ok(Handled {
                response,
                cache: Some((CacheReport::without_fetch(CacheOutcome::Error), 0.0)),
                origin_ms: Some(elapsed),
            });
        }
    };
    let asked_origin = report.outcome.asked_origin();
    Ok(Handled {
        response: served_response(served, asked_origin).during(Step::Respond)?,
        cache: Some((report, lookup_ms)),
        origin_ms: asked_origin.then_some(elapsed - lookup_ms),
    })
}

/// Builds the response for what the read path served. The stream object's
/// `Server-Timing` is kept only when this request asked it.
fn served_response(served: Served<CachedResponse>, asked_origin: bool) -> worker::Result<Response> {
    match served {
        Served::Entry(CachedResponse(response)) => Ok(response),
        Served::NotModified(headers) => {
            let h = worker::Headers::new();
            for (k, v) in headers {
                h.set(k, &v)?;
            }
            Ok(ResponseBuilder::new().with_status(304).with_headers(h).empty())
        }
        Served::Answer(answer) => {
            let h = worker::Headers::new();
            for (k, v) in &answer.headers {
                if asked_origin || !k.eq_ignore_ascii_case("server-timing") {
                    h.append(k, v)?;
                }
            }
            let builder = ResponseBuilder::new().with_status(answer.status).with_headers(h);
            // The body is copied only if followers or the cache still hold the answer.
            let body = Rc::try_unwrap(answer).map_or_else(|shared| shared.body.clone(), |own| own.body);
            Ok(if body.is_empty() { builder.empty() } else { builder.fixed(body) })
        }
    }
}

/// Sends the request, body and all, to the stream's object, saying how it was
/// authorized.
async fn forward(env: &Env, name: &StreamName, access: Access, req: &Incoming) -> Result<Handled, Failure> {
    let started = now_precise();
    let stub = stub(env, name)?;
    let response =
        with_access(req, access).during(Step::AskObject)?.send_to(stub).await.during(Step::AskObject)?;
    Ok(Handled { response, cache: None, origin_ms: Some(now_precise() - started) })
}

/// The request marked with how it was authorized (see [`auth::mark_access`]). Incoming
/// headers are immutable, so a changed request is a new one with the same body stream;
/// with auth off and no such header sent, the request goes as it came.
fn with_access(req: &Incoming, access: Access) -> worker::Result<Cow<'_, Incoming>> {
    let original = req.headers();
    if access.header_value().is_none() && !original.has(ACCESS_HEADER)? {
        return Ok(Cow::Borrowed(req));
    }
    let headers = original.clone();
    auth::mark_access(&headers, access)?;
    let mut init = worker::RequestInit::new();
    init.with_method(worker::Method::from(req.raw().method())).with_headers(headers);
    if let Some(body) = req.raw().body() {
        init.with_body(Some(body.into()));
    }
    worker::Request::new_with_init(&req.url(), &init).map(|r| Cow::Owned(r.into()))
}

/// A request for the subscription APIs (§6), sent to the subscription's object (or the
/// keys object for `jwks.json`). The signing keys are public; callbacks, acks and
/// releases carry a wake's token, which the object checks; everything else needs the
/// project's credentials, as writes do, and an anonymous caller gets nothing.
async fn subscriptions(
    env: &Env,
    settings: &EdgeSettings,
    control: crate::ds::ControlRequest,
    req: &Incoming,
) -> Result<Handled, Failure> {
    let Ok(namespace) = env.durable_object(super::ds_subscription_do::SUBSCRIPTIONS_BINDING) else {
        // The deployment does not offer subscriptions.
        return refused(&ProtocolError::not_found());
    };
    let open = match &control.target {
        crate::ds::Target::Jwks => true,
        crate::ds::Target::Subscription { action, .. } => action.uses_wake_token(),
    };
    if !open {
        let name = StreamName {
            project: control.project.clone(),
            id: crate::protocol::path::RESERVED_SEGMENT.into(),
        };
        let project = match auth::project(env, settings.auth.as_ref(), &name).await {
            Ok(p) => p,
            Err(e) => return refused(&e),
        };
        // Reading a subscription needs what writing a stream needs: it names the
        // project's streams and how far they are processed.
        let need = crate::auth::Need::Write;
        match auth::authorize_need(
            settings.auth.as_ref(),
            project.as_deref(),
            need,
            &name,
            None,
            &req.headers(),
        ) {
            Err(e) => return refused(&e),
            Ok(Access::Anonymous | Access::Public) => {
                return refused(&ProtocolError::new(
                    crate::protocol::ErrorCode::AuthRequired,
                    "the subscription APIs need a token with write scope",
                ))
            }
            Ok(_) => {}
        }
    }
    let started = now_precise();
    let stub = namespace.get_by_name(&control.object_name()).during(Step::FindObject)?;
    let response = req.send_to(stub).await.during(Step::AskObject)?;
    Ok(Handled { response, cache: None, origin_ms: Some(now_precise() - started) })
}

/// The stream object's request counters, when the deployment enables them
/// (`DEBUG_STATS = "1"`).
async fn stats(env: &Env, settings: &EdgeSettings, name: &StreamName) -> Result<Handled, Failure> {
    if !settings.stats_enabled {
        return refused(&ProtocolError::not_found());
    }
    let url = format!("https://stream.internal{STATS_PATH}");
    let req = worker::Request::new(&url, worker::Method::Get).during(Step::AskObject)?;
    let response = stub(env, name)?.fetch_with_request(req).await.during(Step::AskObject)?;
    Ok(Handled::local(response))
}

/// The edge's own answer to a request it refuses.
fn refused(e: &ProtocolError) -> Result<Handled, Failure> {
    to_response(Reply::error(e)).map(Handled::local).during(Step::Respond)
}

fn preflight(req: &Incoming) -> worker::Result<Response> {
    let mut reply = Reply::new(204);
    reply
        .headers
        .extend(crate::edge::preflight_headers(req.header("Access-Control-Request-Headers").as_deref()));
    to_response(reply)
}

fn health() -> worker::Result<Response> {
    to_response(
        Reply::new(200)
            .header("Content-Type", "application/json")
            .header("Cache-Control", durable_streams_cache::control::NO_STORE)
            .bytes(br#"{"status":"ok"}"#.to_vec()),
    )
}

/// Adds CORS, security, `X-Cache` and `Server-Timing` headers. Responses from stubs and
/// the cache have immutable headers, so they are copied first.
fn decorate(
    handled: Handled,
    allowed: &AllowedOrigins,
    origin: Option<&str>,
    edge_ms: f64,
) -> worker::Result<Response> {
    let headers = handled.response.headers().clone();
    for (k, v) in crate::edge::SECURITY_HEADERS {
        headers.set(k, v)?;
    }
    for (k, v) in crate::edge::cors_headers(allowed, origin) {
        headers.set(k, &v)?;
    }
    let mut timing = ServerTiming::after(headers.get("Server-Timing")?.as_deref());
    if let Some((report, lookup_ms)) = handled.cache {
        // The Cache API marks its matches with a status of its own; X-Cache reports our
        // lookup, so a `cf-cache-status` the client sees is always a CDN's.
        headers.delete("cf-cache-status")?;
        headers.set("X-Cache", report.outcome.x_cache())?;
        timing.add("cache", lookup_ms, Some(&report.to_string()));
    }
    if let Some(ms) = handled.origin_ms {
        timing.add("origin", ms, None);
    }
    timing.add("edge", edge_ms, None);
    headers.set("Server-Timing", &timing.value())?;
    Ok(handled.response.with_headers(headers))
}

fn stub(env: &Env, name: &StreamName) -> Result<Stub, Failure> {
    env.durable_object(STREAMS_BINDING).and_then(|ns| ns.get_by_name(&name.key())).during(Step::FindObject)
}

fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name).ok().map(|v| v.to_string())
}
