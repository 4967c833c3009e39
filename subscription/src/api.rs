//! The subscription worker's routes (`/v1/…/subscribe`, `/publish/…`, `/session/…`) and
//! its queue consumer, over the [`Host`] traits.

use std::rc::Rc;

use futures_util::future::{join_all, LocalBoxFuture};

use durable_streams_cloudflare::auth::jwt::{self, Claims};
use durable_streams_cloudflare::auth::{self, secrets::ProjectSecrets};
use durable_streams_cloudflare::http::{Body, Method, Reply, Request};
use durable_streams_cloudflare::protocol::content_type;
use durable_streams_cloudflare::protocol::headers as h;
use durable_streams_cloudflare::protocol::path::StreamName;
use durable_streams_cloudflare::protocol::{ErrorCode, ProtocolError};

use crate::access::{self, Action};
use crate::core_api;
use crate::host::Host;
use crate::ids::{self, Session};
use crate::metrics::Metric;
use crate::route::Route;
use crate::source::Outcome;
use crate::wire::{
    self, Delivered, Delivery, FanoutJob, FanoutReport, Page, SessionCall, SessionInfo, SourceCall,
    Subscribed, SubscriptionBody,
};

/// The fan-out headers of a publish answer.
pub const FANOUT_HEADERS: [&str; 4] =
    ["Stream-Fanout-Count", "Stream-Fanout-Successes", "Stream-Fanout-Failures", "Stream-Fanout-Mode"];

/// Request headers a publish passes on to core.
const PUBLISH_HEADERS: [&str; 6] =
    ["content-type", h::PRODUCER_ID, h::PRODUCER_EPOCH, h::PRODUCER_SEQ, h::STREAM_SEQ, h::STREAM_CLOSED];

/// Answer headers of core's append that a publish passes back.
const APPEND_HEADERS: [&str; 4] =
    [h::STREAM_NEXT_OFFSET, h::STREAM_CLOSED, h::PRODUCER_EPOCH, h::PRODUCER_SEQ];

/// Where the signing secrets of projects come from.
pub trait Secrets {
    /// Whether auth is on.
    fn enabled(&self) -> bool;

    /// The project's secrets; `None` if it has none.
    fn secrets<'a>(
        &'a self,
        project: &'a str,
    ) -> LocalBoxFuture<'a, Result<Option<Rc<ProjectSecrets>>, ProtocolError>>;
}

/// The subscription API over a platform.
pub struct Api<'a, H, T> {
    /// The platform.
    pub host: &'a H,
    /// Where tokens are checked.
    pub secrets: &'a T,
}

impl<H: Host, T: Secrets> Api<'_, H, T> {
    /// Answers a routed request (preflights and health checks are the platform's).
    pub async fn handle(&self, route: Route, req: Request) -> Reply {
        let answer = match route {
            Route::Preflight | Route::Health => Err(ProtocolError::not_found()),
            Route::Subscribe { project } => self.subscribe(&project, &req).await,
            Route::Unsubscribe { project } => self.unsubscribe(&project, &req).await,
            Route::Publish(source) => self.publish(&source, req).await,
            Route::GetSession(session) => self.get_session(&session, &req).await,
            Route::Touch(session) => self.touch(&session, &req).await,
            Route::DeleteSession(session) => self.delete_session(&session, &req).await,
        };
        answer.unwrap_or_else(|e| Reply::error(&e))
    }

    /// Checks the request's token for `action`; with auth off, everything is allowed.
    async fn authorize(&self, project: &str, action: Action<'_>, req: &Request) -> Result<(), ProtocolError> {
        if !self.secrets.enabled() {
            return Ok(());
        }
        let token = auth::bearer(req.header("authorization"))?;
        let claims: Option<Claims> = match token {
            None => None,
            Some(token) => {
                let secrets = self.secrets.secrets(project).await?.ok_or_else(|| {
                    ProtocolError::new(
                        ErrorCode::UnknownProject,
                        "this project has no signing secret configured",
                    )
                })?;
                let claims = jwt::verify(token, &secrets, self.host.now_ms() / 1000).map_err(|e| {
                    let code = match e {
                        jwt::TokenError::Expired => ErrorCode::TokenExpired,
                        jwt::TokenError::NotYetValid => ErrorCode::TokenNotYetValid,
                        _ => ErrorCode::InvalidToken,
                    };
                    ProtocolError::new(code, e.message())
                })?;
                Some(claims)
            }
        };
        access::decide(project, action, claims.as_ref())
    }

    async fn subscribe(&self, project: &str, req: &Request) -> Result<Reply, ProtocolError> {
        let started = self.host.now_ms();
        let body = SubscriptionBody::parse(&req.body)?;
        let session = Session::new(project, &body.session_id)?;
        let source = ids::source(project, &body.stream_id)?;
        self.authorize(project, Action::Manage { session: &session }, req).await?;
        let head = core_api::parse_head(&self.host.core(project, core_api::head(&source)).await?)?;
        let subscribe = SessionCall::Subscribe {
            session: session.key(),
            stream: source.id.clone(),
            content_type: head.content_type.clone(),
            start: head.tail.clone(),
        };
        let subscribed: Subscribed = self.session_call(&session, &subscribe).await?;
        let add =
            SourceCall::Add { source: source.key(), session: session.id.clone(), start: head.tail.clone() };
        let added = self.source_call::<Added>(&source, &add).await;
        if let Err(e) = added.clone() {
            // Undo the half that was done, so no session follows a stream whose index does
            // not know it.
            let undo = if subscribed.is_new_session {
                SessionCall::Delete
            } else {
                SessionCall::Unsubscribe { stream: source.id.clone() }
            };
            if let Err(undo_error) = self.session_call::<serde_json::Value>(&session, &undo).await {
                self.host.log_error(&format!(
                    "subscribe {} to {}: undoing after a failed index write failed too: {undo_error}",
                    session.key(),
                    source.key()
                ));
            }
            return Err(e);
        }
        if let Ok(added) = added {
            self.catch_up(&session, &source, head.tail, added.fanned).await;
        }
        self.host.metric(Metric::Subscribe {
            stream: source.key(),
            session: session.key(),
            new_session: subscribed.is_new_session,
            latency_ms: (self.host.now_ms() - started) as f64,
        });
        Ok(wire::json_reply(200, &subscribed))
    }

    /// Messages published between the subscribe's HEAD and the index write were fanned
    /// out before the index knew the session: it fetches them now, up to where that
    /// fan-out reached. Later fan-outs include it.
    async fn catch_up(&self, session: &Session, source: &StreamName, start: String, fanned: String) {
        let behind = matches!(
            (core_api::position(&start), core_api::position(&fanned)),
            (Ok(start), Ok(fanned)) if fanned > start
        );
        if !behind {
            return;
        }
        let deliver =
            SessionCall::Deliver(Delivery { stream: source.id.clone(), from: start, to: fanned, page: None });
        if let Err(e) = self.session_call::<Delivered>(session, &deliver).await {
            self.host.log_error(&format!("catching {} up on {} failed: {e}", session.key(), source.key()));
        }
    }

    async fn unsubscribe(&self, project: &str, req: &Request) -> Result<Reply, ProtocolError> {
        let started = self.host.now_ms();
        let body = SubscriptionBody::parse(&req.body)?;
        let session = Session::new(project, &body.session_id)?;
        let source = ids::source(project, &body.stream_id)?;
        self.authorize(project, Action::Manage { session: &session }, req).await?;
        self.source_call::<serde_json::Value>(
            &source,
            &SourceCall::Remove { source: source.key(), sessions: vec![session.id.clone()] },
        )
        .await?;
        self.session_call::<serde_json::Value>(
            &session,
            &SessionCall::Unsubscribe { stream: source.id.clone() },
        )
        .await?;
        self.host.metric(Metric::Unsubscribe {
            stream: source.key(),
            session: session.key(),
            latency_ms: (self.host.now_ms() - started) as f64,
        });
        let answer =
            serde_json::json!({ "sessionId": session.id, "streamId": source.id, "unsubscribed": true });
        Ok(wire::json_reply(200, &answer))
    }

    async fn publish(&self, source: &StreamName, req: Request) -> Result<Reply, ProtocolError> {
        let started = self.host.now_ms();
        self.authorize(&source.project, Action::Publish { stream: &source.id }, &req).await?;
        if req.header("content-type").is_none() {
            return Err(ProtocolError::new(ErrorCode::MissingContentType, "a publish needs a Content-Type"));
        }
        let appended = self.append(source, &req, None).await?;
        // An application/octet-stream source holds bytes of any kind: a publish of another
        // type is stored as bytes, the way the seed's walk-through publishes JSON to a
        // stream created without a type. Core's own POST keeps refusing the mismatch.
        let mismatch =
            appended.status == 409 && core_api::error(&appended).code() == ErrorCode::ContentTypeMismatch;
        let appended = if mismatch {
            match core_api::parse_head(&self.host.core(&source.project, core_api::head(source)).await?) {
                Ok(head)
                    if content_type::essence(&head.content_type) == content_type::DEFAULT_CONTENT_TYPE =>
                {
                    self.append(source, &req, Some(&head.content_type)).await?
                }
                _ => appended,
            }
        } else {
            appended
        };
        if appended.status >= 300 {
            let latency_ms = (self.host.now_ms() - started) as f64;
            self.host.metric(Metric::PublishError {
                stream: source.key(),
                status: appended.status,
                latency_ms,
            });
            return Ok(with_fanout(
                relay(appended),
                &FanoutReport { mode: "none".into(), ..FanoutReport::default() },
            ));
        }
        let tail = appended
            .get(h::STREAM_NEXT_OFFSET)
            .ok_or_else(|| ProtocolError::unavailable("core answered an append without Stream-Next-Offset"))?
            .to_owned();
        let fanout = SourceCall::Fanout { source: source.key(), to: tail };
        let report = match self.source_call::<FanoutReport>(source, &fanout).await {
            Ok(report) => report,
            Err(e) => {
                // The message is stored; the next publish's fan-out brings it along.
                self.host.log_error(&format!("fan-out of {} failed: {e}", source.key()));
                FanoutReport { mode: "unavailable".into(), ..FanoutReport::default() }
            }
        };
        let mut reply = Reply::new(appended.status).header("Cache-Control", "no-store");
        for name in APPEND_HEADERS {
            if let Some(value) = appended.get(name) {
                reply = reply.header(name, value);
            }
        }
        self.host.metric(Metric::Publish {
            stream: source.key(),
            fanout: report.count,
            latency_ms: (self.host.now_ms() - started) as f64,
        });
        Ok(with_fanout(reply, &report))
    }

    /// Appends a publish's body to the source, with its headers (and `content_type` in
    /// place of its own, when given).
    async fn append(
        &self,
        source: &StreamName,
        req: &Request,
        content_type: Option<&str>,
    ) -> Result<Reply, ProtocolError> {
        let mut append = Request::new(Method::Post, format!("{}{}", core_api::CORE_ORIGIN, source.path()));
        for name in PUBLISH_HEADERS {
            let value = match (name, content_type) {
                ("content-type", Some(ct)) => Some(ct),
                _ => req.header(name),
            };
            if let Some(value) = value {
                append = append.with_header(name, value);
            }
        }
        self.host.core(&source.project, append.with_body(req.body.clone())).await
    }

    async fn get_session(&self, session: &Session, req: &Request) -> Result<Reply, ProtocolError> {
        self.authorize(&session.project, Action::Read { session }, req).await?;
        let info: SessionInfo = self.session_call(session, &SessionCall::Info).await?;
        Ok(wire::json_reply(200, &info))
    }

    async fn touch(&self, session: &Session, req: &Request) -> Result<Reply, ProtocolError> {
        self.authorize(&session.project, Action::Manage { session }, req).await?;
        let touched: serde_json::Value = self.session_call(session, &SessionCall::Touch).await?;
        Ok(wire::json_reply(200, &touched))
    }

    async fn delete_session(&self, session: &Session, req: &Request) -> Result<Reply, ProtocolError> {
        self.authorize(&session.project, Action::Manage { session }, req).await?;
        self.session_call::<serde_json::Value>(session, &SessionCall::Delete).await?;
        Ok(wire::json_reply(200, &serde_json::json!({ "sessionId": session.id, "deleted": true })))
    }

    async fn session_call<R: serde::de::DeserializeOwned>(
        &self,
        session: &Session,
        call: &SessionCall,
    ) -> Result<R, ProtocolError> {
        let reply = self.host.session(&session.key(), wire::call_request(call)?).await?;
        wire::parse_reply(&reply)
    }

    async fn source_call<R: serde::de::DeserializeOwned>(
        &self,
        source: &StreamName,
        call: &SourceCall,
    ) -> Result<R, ProtocolError> {
        let reply = self.host.source(&source.key(), wire::call_request(call)?).await?;
        wire::parse_reply(&reply)
    }
}

/// The index's answer to an added subscriber: where fan-outs have reached.
#[derive(Clone, Debug, serde::Deserialize)]
struct Added {
    fanned: String,
}

/// What to do with a consumed queue message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobOutcome {
    /// Done, or failed for good (logged): drop it.
    Ack,
    /// Some session could not be written for a reason that may pass: deliver it again.
    Retry,
}

/// Runs one fan-out job from the queue: reads the source once, brings every session of
/// the job up to its target, and drops stale sessions from the index.
pub async fn consume<H: Host>(host: &H, job: &FanoutJob) -> JobOutcome {
    let started = host.now_ms();
    let Some(source) = StreamName::from_key(&job.source) else {
        host.log_error(&format!("dropping a fan-out job for a malformed source key {:?}", job.source));
        return JobOutcome::Ack;
    };
    let page = match host.core(&source.project, core_api::read(&source, &job.from)).await {
        Ok(reply) => core_api::parse_read(reply).ok().map(|read| Page::new(&read.body, read.end)),
        Err(_) => None,
    };
    let delivery = Delivery { stream: source.id.clone(), from: job.from.clone(), to: job.to.clone(), page };
    let call = match wire::call_request(&SessionCall::Deliver(delivery)) {
        Ok(call) => call,
        Err(e) => {
            host.log_error(&format!("fan-out job of {}: {e}", job.source));
            return JobOutcome::Ack;
        }
    };
    let writes = job.sessions.iter().map(|id| {
        let key = format!("{}/{id}", source.project);
        let call = call.clone();
        async move {
            let delivered = match host.session(&key, call).await {
                Ok(reply) => wire::parse_reply::<Delivered>(&reply).unwrap_or(Delivered::Failed),
                Err(_) => Delivered::Failed,
            };
            (id, delivered)
        }
    });
    let mut outcome = Outcome::default();
    for (id, delivered) in join_all(writes).await {
        outcome.add(id, delivered);
    }
    if !outcome.stale.is_empty() {
        let remove = SourceCall::Remove { source: job.source.clone(), sessions: outcome.stale.clone() };
        let removed = match wire::call_request(&remove) {
            Ok(call) => host.source(&job.source, call).await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = removed {
            host.log_error(&format!("removing stale subscribers of {} failed: {e}", job.source));
        }
    }
    if outcome.refused > 0 {
        host.log_error(&format!(
            "fan-out job of {}: core refused {} session write(s) for good; not retried",
            job.source, outcome.refused
        ));
    }
    host.metric(Metric::Fanout {
        stream: job.source.clone(),
        mode: "queued",
        sessions: job.sessions.len(),
        successes: outcome.done,
        failures: outcome.not_done(),
        latency_ms: (host.now_ms() - started) as f64,
    });
    if outcome.failed > 0 {
        JobOutcome::Retry
    } else {
        JobOutcome::Ack
    }
}

/// Core's answer passed on as it came: status, its headers that matter, body.
fn relay(core: Reply) -> Reply {
    let mut reply = Reply::new(core.status);
    for (name, value) in &core.headers {
        reply = reply.header(name, value.clone());
    }
    match core.body {
        Body::Bytes(b) => reply.bytes(b),
        Body::Empty => reply,
    }
}

/// Adds the `Stream-Fanout-*` headers.
fn with_fanout(reply: Reply, report: &FanoutReport) -> Reply {
    let [count, successes, failures, mode] = FANOUT_HEADERS;
    reply
        .header(count, report.count.to_string())
        .header(successes, report.successes.to_string())
        .header(failures, report.failures.to_string())
        .header(mode, report.mode.clone())
}
