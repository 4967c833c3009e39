//! `DsSubscriptionDO`: one Durable Object per subscription (§6, §7), named
//! `<project>/<id>`, and one more, [`KEYS_OBJECT`], that keeps the deployment's webhook
//! signing key. Every decision is made by [`Subscription`]; this object stores it,
//! answers the control routes, delivers webhooks, appends wake events and keeps its
//! alarm on [`Subscription::next_alarm`].

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use futures_util::future::{select, Either, LocalBoxFuture};
use serde::{Deserialize, Serialize};
use worker::{
    durable_object, DurableObject, Env, Method as WorkerMethod, Request, RequestInit, Response, Result, State,
};

use super::host::{fill_random, send_call};
use super::STREAMS_BINDING;
use crate::adapters::convert::{read_request, to_response};
use crate::adapters::timing::now_ms;
use crate::auth::bearer;
use crate::ds::config::{self, Delivery, SubscriptionConfig};
use crate::ds::signing::{WebhookKey, JWKS_CONTENT_TYPE, SIGNATURE_HEADER};
use crate::ds::subscription::{
    DeliveryOutcome, Effect, Fresh, Subscription, WakeReport, DELIVERY_TIMEOUT_MS,
};
use crate::ds::token::{self, WakeClaims, TOKEN_LIFETIME_SECS};
use crate::ds::webhook_url::Loopback;
use crate::ds::{self as control, Action, ControlRequest, Notice, Target, KEYS_OBJECT};
use crate::http::{Method, Reply, Request as Incoming};
use crate::protocol::path::StreamName;
use crate::protocol::time::format_rfc3339_millis;
use crate::protocol::{ErrorCode, ProtocolError};
use crate::stream_do::calls::{Call, CallReply};

/// The binding of the subscription objects' namespace; without it the `__ds` routes
/// answer 404.
pub const SUBSCRIPTIONS_BINDING: &str = "DS_SUBSCRIPTIONS";

/// The secret holding the signing key's seed (32 bytes, base64url). Without it the keys
/// object makes one and keeps it.
const SIGNING_KEY_SECRET: &str = "WEBHOOK_SIGNING_KEY";

/// The most a control request body may hold.
const MAX_BODY_BYTES: usize = 1 << 20;

/// What one subscription object stores.
#[derive(Clone, Serialize, Deserialize)]
struct Stored {
    project: String,
    /// Signs this subscription's wake tokens, base64url.
    token_secret: String,
    subscription: Subscription,
}

impl Stored {
    fn subject(&self) -> String {
        self.subscription.token_subject(&self.project)
    }

    fn secret(&self) -> Vec<u8> {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&self.token_secret).unwrap_or_default()
    }
}

/// A subscription's Durable Object.
#[durable_object]
pub struct DsSubscriptionDO {
    inner: Rc<Inner>,
}

struct Inner {
    state: State,
    env: Env,
    /// The stored state, once loaded (`Some(None)`: loaded, no subscription).
    stored: RefCell<Option<Option<Stored>>>,
    key: RefCell<Option<Rc<WebhookKey>>>,
    /// The alarm as last set (`Some(None)`: none), once known, so an unchanged one is
    /// not written again on every notice.
    alarm: std::cell::Cell<Option<Option<i64>>>,
}

impl DurableObject for DsSubscriptionDO {
    fn new(state: State, env: Env) -> Self {
        Self {
            inner: Rc::new(Inner {
                state,
                env,
                stored: RefCell::new(None),
                key: RefCell::new(None),
                alarm: Default::default(),
            }),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let reply = match read_request(req, MAX_BODY_BYTES).await {
            Ok(req) => self.inner.handle(req).await.unwrap_or_else(|e| Reply::error(&e)),
            Err(e) => Reply::error(&e),
        };
        to_response(reply)
    }

    async fn alarm(&self) -> Result<Response> {
        let inner = &self.inner;
        // The alarm that went off is no longer set.
        inner.alarm.set(Some(None));
        // A failed alarm is retried by the platform.
        if let Some(mut stored) = inner.load().await.map_err(|e| e.to_string())? {
            let fresh = inner.fresh();
            let effects = stored.subscription.on_alarm(now_ms(), &fresh);
            inner.commit(stored, effects).await.map_err(|e| e.to_string())?;
        }
        Response::empty()
    }
}

fn not_found() -> ProtocolError {
    ProtocolError::new(ErrorCode::SubscriptionNotFound, "no subscription with this id")
}

impl Inner {
    async fn handle(self: &Rc<Self>, req: Incoming) -> std::result::Result<Reply, ProtocolError> {
        match req.path() {
            control::NOTICE_PATH => return self.notice(&req).await,
            control::SIGNING_KEY_PATH => {
                return Ok(Reply::new(200).bytes(self.key(true).await?.encoded_seed().into_bytes()))
            }
            _ => {}
        }
        let control = control::parse(req.method, req.path()).ok_or_else(ProtocolError::not_found)??;
        let root_url = format!("{}{}", req.origin(), control.root);
        let Target::Subscription { id, action } = &control.target else {
            let key = self.key(true).await?;
            return Ok(Reply::new(200)
                .header("Content-Type", JWKS_CONTENT_TYPE)
                .header("Cache-Control", "public, max-age=300")
                .bytes(key.jwks().to_string().into_bytes()));
        };
        match (action, req.method) {
            (Action::Base, Method::Put) => self.create(&control, id, root_url, &req.body).await,
            (Action::Base, Method::Get) => {
                let stored = self.load().await?.ok_or_else(not_found)?;
                Ok(Reply::json(200, &self.view(&stored, &root_url).await?))
            }
            (Action::Base, _) => self.delete(&control, id).await,
            (Action::AddStreams, _) => {
                let body = config::json_object(&req.body)?;
                let paths = config::stream_list(body.get("streams"))?;
                if paths.is_empty() {
                    return Err(ProtocolError::new(
                        ErrorCode::InvalidSubscription,
                        "streams must list stream paths",
                    ));
                }
                let mut stored = self.load().await?.ok_or_else(not_found)?;
                stored.subscription.add_explicit(&paths);
                self.commit(stored, Vec::new()).await?;
                self.relink().await?;
                Ok(Reply::new(204))
            }
            (Action::RemoveStream(path), _) => {
                let mut stored = self.load().await?.ok_or_else(not_found)?;
                stored.subscription.remove_explicit(path);
                self.commit(stored, Vec::new()).await?;
                self.relink().await?;
                Ok(Reply::new(204))
            }
            (Action::Claim, _) => self.claim(&req).await,
            (Action::Callback | Action::Ack | Action::Release, _) => self.report(action, &req).await,
        }
    }

    fn fresh(&self) -> Fresh {
        let mut bytes = [0u8; 18];
        if let Err(e) = fill_random(&mut bytes) {
            worker::console_error!("no randomness for a wake id: {e}");
        }
        let id: String = bytes[..16].iter().map(|b| format!("{b:02x}")).collect();
        Fresh { wake_id: format!("w_{id}"), jitter: crate::ds::retry::jitter_from([bytes[16], bytes[17]]) }
    }

    /// The stored state (cached once read). A failed read is an error, never "no
    /// subscription": a PUT must not overwrite a subscription it could not read.
    async fn load(&self) -> std::result::Result<Option<Stored>, ProtocolError> {
        if let Some(loaded) = self.stored.borrow().as_ref() {
            return Ok(loaded.clone());
        }
        let loaded = self
            .state
            .storage()
            .get::<Stored>("state")
            .await
            .map_err(|e| ProtocolError::unavailable(format!("reading the subscription failed: {e}")))?;
        *self.stored.borrow_mut() = Some(loaded.clone());
        Ok(loaded)
    }

    /// Stores the new state, sets the alarm, and carries out the effects. A state that
    /// could not be stored is an error for the client; its effects are not carried out.
    async fn commit(
        self: &Rc<Self>,
        stored: Stored,
        effects: Vec<Effect>,
    ) -> std::result::Result<(), ProtocolError> {
        // The cache first: a request that runs while the writes below are pending works
        // on this state, not on the one before it.
        *self.stored.borrow_mut() = Some(Some(stored.clone()));
        let storage = self.state.storage();
        if let Err(e) = storage.put("state", &stored).await {
            // What is stored is what a reload sees: the cache must not run ahead of it.
            self.stored.borrow_mut().take();
            return Err(ProtocolError::unavailable(format!("storing the subscription failed: {e}")));
        }
        let next = stored.subscription.next_alarm();
        if self.alarm.get() != Some(next) {
            let set = match next {
                Some(at) => {
                    storage
                        .set_alarm(worker::ScheduledTime::new(js_sys::Date::new(&(at as f64).into())))
                        .await
                }
                None => storage.delete_alarm().await,
            };
            match set {
                Ok(()) => self.alarm.set(Some(next)),
                Err(e) => {
                    self.alarm.set(None);
                    worker::console_error!("setting a subscription's alarm failed: {e}");
                }
            }
        }
        for effect in effects {
            let me = Rc::clone(self);
            let stored = stored.clone();
            self.state.wait_until(async move { me.carry_out(stored, effect).await });
        }
        Ok(())
    }

    fn carry_out(self: Rc<Self>, stored: Stored, effect: Effect) -> LocalBoxFuture<'static, ()> {
        Box::pin(async move {
            match effect {
                Effect::Deliver { wake_id } => self.deliver(&stored, wake_id).await,
                Effect::WriteWake { wake_stream, event } => {
                    let name = StreamName { project: stored.project.clone(), id: wake_stream };
                    if let Err(e) = self.append_wake(&name, &event).await {
                        worker::console_error!("writing a wake event to {} failed: {e}", name.id);
                    }
                }
            }
        })
    }

    /// The webhook signing key: the secret's if it is set; otherwise the keys object's,
    /// which this object keeps itself when it is the keys object (`own`) and asks the
    /// keys object for otherwise.
    async fn key(&self, own: bool) -> std::result::Result<Rc<WebhookKey>, ProtocolError> {
        if let Some(key) = self.key.borrow().as_ref() {
            return Ok(Rc::clone(key));
        }
        let key = match self.secret_key() {
            Some(key) => key,
            None if own => self.kept_key().await?,
            None => {
                let stub = self.namespace()?.get_by_name(KEYS_OBJECT).map_err(unavailable)?;
                let url = format!("https://ds.internal{}", control::SIGNING_KEY_PATH);
                let req = Request::new(&url, WorkerMethod::Get).map_err(unavailable)?;
                let mut res = stub.fetch_with_request(req).await.map_err(unavailable)?;
                let seed = res.text().await.map_err(unavailable)?;
                WebhookKey::from_encoded_seed(&seed)
                    .ok_or_else(|| ProtocolError::unavailable("bad signing key"))?
            }
        };
        let key = Rc::new(key);
        *self.key.borrow_mut() = Some(Rc::clone(&key));
        Ok(key)
    }

    fn secret_key(&self) -> Option<WebhookKey> {
        let seed = self.env.secret(SIGNING_KEY_SECRET).ok().map(|s| s.to_string())?;
        let key = WebhookKey::from_encoded_seed(&seed);
        if key.is_none() {
            worker::console_error!("{SIGNING_KEY_SECRET} is not 32 bytes of base64url; ignoring it");
        }
        key
    }

    /// The keys object's key: made once and kept.
    async fn kept_key(&self) -> std::result::Result<WebhookKey, ProtocolError> {
        let storage = self.state.storage();
        let seed: Option<String> = storage.get("seed").await.map_err(unavailable)?;
        if let Some(key) = seed.and_then(|s| WebhookKey::from_encoded_seed(&s)) {
            return Ok(key);
        }
        let mut seed = [0u8; 32];
        fill_random(&mut seed)?;
        let key = WebhookKey::from_seed(seed);
        storage.put("seed", key.encoded_seed()).await.map_err(unavailable)?;
        Ok(key)
    }

    fn namespace(&self) -> std::result::Result<worker::ObjectNamespace, ProtocolError> {
        self.env.durable_object(SUBSCRIPTIONS_BINDING).map_err(unavailable)
    }

    /// The GET view (§6.3).
    async fn view(
        &self,
        stored: &Stored,
        root_url: &str,
    ) -> std::result::Result<serde_json::Value, ProtocolError> {
        let s = &stored.subscription;
        let streams: Vec<serde_json::Value> = s
            .stream_infos()
            .into_iter()
            .map(|mut info| {
                if let Some(map) = info.as_object_mut() {
                    map.remove("tail_offset");
                    map.remove("has_pending");
                }
                info
            })
            .collect();
        let (webhook, wake_stream) = match &s.config.delivery {
            Delivery::Webhook { url } => {
                let key = self.key(false).await?;
                let signing = serde_json::json!({
                    "alg": "ed25519",
                    "kid": key.kid(),
                    "jwks_url": format!("{root_url}/__ds/jwks.json"),
                });
                (serde_json::json!({ "url": url, "signing": signing }), serde_json::Value::Null)
            }
            Delivery::PullWake { wake_stream } => (serde_json::Value::Null, wake_stream.as_str().into()),
        };
        Ok(serde_json::json!({
            "id": s.id,
            "subscription_id": s.id,
            "type": match s.config.delivery { Delivery::Webhook { .. } => "webhook", Delivery::PullWake { .. } => "pull-wake" },
            "pattern": s.config.pattern,
            "streams": streams,
            "webhook": webhook,
            "wake_stream": wake_stream,
            "lease_ttl_ms": s.config.lease_ttl_ms,
            "created_at": format_rfc3339_millis(s.created_at_ms),
            "status": s.status(),
            // While `failed`: when the next delivery attempt is due (kept across restarts).
            "retry": s.retry.as_ref().map(|r| serde_json::json!({
                "attempts": r.attempts,
                "next_attempt_at": format_rfc3339_millis(r.next_attempt_at_ms),
            })),
            "description": s.config.description,
        }))
    }

    async fn create(
        self: &Rc<Self>,
        control: &ControlRequest,
        id: &str,
        root_url: String,
        body: &[u8],
    ) -> std::result::Result<Reply, ProtocolError> {
        let loopback =
            Loopback::from_var(self.env.var("WEBHOOK_ALLOW_LOOPBACK").ok().map(|v| v.to_string()).as_deref());
        let config = SubscriptionConfig::parse(body, loopback)?;
        if let Some(existing) = self.load().await? {
            if existing.subscription.config_hash != config.hash() {
                return Err(ProtocolError::new(
                    ErrorCode::SubscriptionExists,
                    "a subscription with this id exists with another configuration",
                ));
            }
            // Telling the registry again repairs a creation that failed halfway.
            self.relink().await?;
            let current = self.load().await?.ok_or_else(not_found)?;
            return Ok(Reply::json(200, &self.view(&current, &root_url).await?));
        }
        let mut secret = [0u8; 32];
        fill_random(&mut secret)?;
        use base64::Engine as _;
        let stored = Stored {
            project: control.project.clone(),
            token_secret: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret),
            subscription: Subscription::new(id.to_owned(), config, root_url.clone(), now_ms()),
        };
        // Stored before streams are linked, so that an append to a stream linked while
        // this runs finds the subscription.
        self.commit(stored, Vec::new()).await?;
        if let Err(e) = self.relink().await {
            self.forget().await;
            return Err(e);
        }
        let current = self.load().await?.ok_or_else(not_found)?;
        Ok(Reply::json(201, &self.view(&current, &root_url).await?))
    }

    /// Tells the registry what the subscription wants and links the streams it finds,
    /// into the state as it is once the registry has answered (appends may have come
    /// meanwhile).
    async fn relink(self: &Rc<Self>) -> std::result::Result<(), ProtocolError> {
        let Some(stored) = self.load().await? else { return Ok(()) };
        let registry =
            StreamName { project: stored.project.clone(), id: crate::protocol::path::REGISTRY_ID.into() }
                .key();
        let s = &stored.subscription;
        let call = Call::Watch {
            registry: registry.clone(),
            subscription: s.id.clone(),
            pattern: s.config.pattern.clone(),
            streams: s.config.streams.clone(),
        };
        let CallReply::Linked(found) = self.call_stream(&registry, call).await? else {
            return Err(ProtocolError::unavailable("the registry answered a watch oddly"));
        };
        let Some(mut current) = self.load().await? else { return Ok(()) };
        current.subscription.backfill(&found);
        self.commit(current, Vec::new()).await
    }

    /// Drops everything this object stores.
    async fn forget(&self) {
        let storage = self.state.storage();
        if let Err(e) = storage.delete_alarm().await {
            worker::console_error!("deleting a subscription's alarm failed: {e}");
        }
        if let Err(e) = storage.delete_all().await {
            worker::console_error!("deleting a subscription failed: {e}");
        }
        *self.stored.borrow_mut() = Some(None);
        self.alarm.set(None);
    }

    async fn call_stream(&self, key: &str, call: Call) -> std::result::Result<CallReply, ProtocolError> {
        call.decode_reply(send_call(&self.env, key, &call).await.map_err(unavailable)?)
    }

    async fn delete(
        self: &Rc<Self>,
        control: &ControlRequest,
        id: &str,
    ) -> std::result::Result<Reply, ProtocolError> {
        if self.load().await?.is_some() {
            let registry = StreamName {
                project: control.project.clone(),
                id: crate::protocol::path::REGISTRY_ID.into(),
            }
            .key();
            let call = Call::Unwatch { registry: registry.clone(), subscription: id.to_owned() };
            self.call_stream(&registry, call).await?;
            // Streams still linked to it learn on their next append that it is gone.
            self.forget().await;
        }
        Ok(Reply::new(204))
    }

    /// A stream's object reports an append.
    async fn notice(self: &Rc<Self>, req: &Incoming) -> std::result::Result<Reply, ProtocolError> {
        let notice: Notice = serde_json::from_slice(&req.body)
            .map_err(|e| ProtocolError::new(ErrorCode::InvalidInternalCall, e.to_string()))?;
        let Some(mut stored) = self.load().await? else {
            return Ok(Reply::json(200, &serde_json::json!({ "linked": false })));
        };
        let fresh = self.fresh();
        let (linked, effects) = if notice.deleted {
            (stored.subscription.on_deleted(&notice.stream), Vec::new())
        } else {
            stored.subscription.on_append(
                &notice.stream,
                &notice.tail,
                notice.created_at.as_deref(),
                now_ms(),
                &fresh,
            )
        };
        self.commit(stored, effects).await?;
        Ok(Reply::json(200, &serde_json::json!({ "linked": linked })))
    }

    async fn claim(self: &Rc<Self>, req: &Incoming) -> std::result::Result<Reply, ProtocolError> {
        let body = config::json_object(&req.body)?;
        let worker = body
            .get("worker")
            .and_then(serde_json::Value::as_str)
            .filter(|w| !w.is_empty() && w.len() <= 256)
            .ok_or_else(|| {
                ProtocolError::new(ErrorCode::InvalidBody, "worker must be a name of 1 to 256 bytes")
            })?;
        let mut stored = self.load().await?.ok_or_else(not_found)?;
        let now = now_ms();
        let fresh = self.fresh();
        let claimed = stored.subscription.claim(worker, now, &fresh)?;
        let claims = WakeClaims {
            sub: stored.subject(),
            generation: claimed.generation,
            wake_id: claimed.wake_id.clone(),
            exp: now / 1000 + TOKEN_LIFETIME_SECS,
        };
        let reply = serde_json::json!({
            "wake_id": claimed.wake_id,
            "generation": claimed.generation,
            "token": token::issue(&stored.secret(), &claims),
            "streams": stored.subscription.stream_infos(),
            "lease_ttl_ms": stored.subscription.config.lease_ttl_ms,
        });
        self.commit(stored, Vec::new()).await?;
        Ok(Reply::json(200, &reply))
    }

    /// A callback, ack or release.
    async fn report(
        self: &Rc<Self>,
        action: &Action,
        req: &Incoming,
    ) -> std::result::Result<Reply, ProtocolError> {
        let token = bearer(req.header("Authorization"))?
            .ok_or_else(|| {
                ProtocolError::new(ErrorCode::InvalidToken, "this route needs the wake's bearer token")
            })?
            .to_owned();
        let report: WakeReport = serde_json::from_slice(&req.body).map_err(|e| {
            ProtocolError::new(ErrorCode::InvalidBody, format!("the body is not a wake report: {e}"))
        })?;
        let mut stored = self.load().await?.ok_or_else(not_found)?;
        let now = now_ms();
        let claims = token::check(&token, &stored.secret(), &stored.subject(), now / 1000)?;
        let pull = matches!(stored.subscription.config.delivery, Delivery::PullWake { .. });
        if matches!(action, Action::Ack | Action::Release) && !pull {
            return Err(ProtocolError::new(
                ErrorCode::InvalidSubscription,
                "only pull-wake subscriptions ack and release",
            ));
        }
        let fresh = self.fresh();
        let s = &mut stored.subscription;
        if *action == Action::Release {
            let effects = s.release(claims.generation, &claims.wake_id, &report, now, &fresh)?;
            self.commit(stored, effects).await?;
            return Ok(Reply::new(204));
        }
        let (next_wake, effects) = s.report(claims.generation, &claims.wake_id, &report, now, &fresh)?;
        self.commit(stored, effects).await?;
        Ok(Reply::json(200, &serde_json::json!({ "ok": true, "next_wake": next_wake })))
    }

    /// Delivers the current wake and records how it went.
    async fn deliver(self: &Rc<Self>, stored: &Stored, wake_id: String) {
        let outcome = match self.post_webhook(stored, &wake_id).await {
            Ok(outcome) => outcome,
            Err(e) => {
                worker::console_error!(
                    "delivering a webhook for subscription {} failed: {e}",
                    stored.subscription.id
                );
                DeliveryOutcome::Failed
            }
        };
        let Ok(Some(mut current)) = self.load().await else { return };
        let fresh = self.fresh();
        let effects = current.subscription.delivered(&wake_id, outcome, now_ms(), &fresh);
        if let Err(e) = self.commit(current, effects).await {
            worker::console_error!("{e}");
        }
    }

    async fn post_webhook(
        &self,
        stored: &Stored,
        wake_id: &str,
    ) -> std::result::Result<DeliveryOutcome, ProtocolError> {
        let s = &stored.subscription;
        let Delivery::Webhook { url } = &s.config.delivery else { return Ok(DeliveryOutcome::Failed) };
        let now = now_ms();
        let claims = WakeClaims {
            sub: stored.subject(),
            generation: s.generation,
            wake_id: wake_id.to_owned(),
            exp: now / 1000 + TOKEN_LIFETIME_SECS,
        };
        let body = serde_json::json!({
            "subscription_id": s.id,
            "wake_id": wake_id,
            "generation": s.generation,
            "streams": s.stream_infos(),
            "callback_url": s.action_url("callback"),
            "callback_token": token::issue(&stored.secret(), &claims),
        })
        .to_string();
        let key = self.key(false).await?;
        let headers = worker::Headers::new();
        headers.set("Content-Type", "application/json").map_err(unavailable)?;
        headers
            .set(SIGNATURE_HEADER, &key.signature_header(body.as_bytes(), now / 1000))
            .map_err(unavailable)?;
        let mut init = RequestInit::new();
        init.with_method(WorkerMethod::Post).with_headers(headers).with_body(Some(body.into()));
        let req = Request::new_with_init(url, &init).map_err(unavailable)?;
        let sent = Box::pin(async move {
            let mut res = worker::Fetch::Request(req).send().await?;
            let status = res.status_code();
            let text = res.text().await.unwrap_or_default();
            Ok::<_, worker::Error>((status, text))
        });
        let timeout = worker::Delay::from(Duration::from_millis(DELIVERY_TIMEOUT_MS));
        let (status, text) = match select(sent, timeout).await {
            Either::Left((answer, _)) => answer.map_err(unavailable)?,
            Either::Right(_) => return Ok(DeliveryOutcome::Failed),
        };
        if !(200..300).contains(&status) {
            return Ok(DeliveryOutcome::Failed);
        }
        let done =
            serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| v.get("done")?.as_bool());
        Ok(if done == Some(true) { DeliveryOutcome::Done } else { DeliveryOutcome::Accepted })
    }

    async fn append_wake(
        &self,
        name: &StreamName,
        event: &serde_json::Value,
    ) -> std::result::Result<(), ProtocolError> {
        let stub = self
            .env
            .durable_object(STREAMS_BINDING)
            .and_then(|ns| ns.get_by_name(&name.key()))
            .map_err(unavailable)?;
        let headers = worker::Headers::new();
        headers.set("Content-Type", "application/json").map_err(unavailable)?;
        let mut init = RequestInit::new();
        init.with_method(WorkerMethod::Post).with_headers(headers).with_body(Some(event.to_string().into()));
        let req = Request::new_with_init(&format!("https://stream.internal{}", name.path()), &init)
            .map_err(unavailable)?;
        let res = stub.fetch_with_request(req).await.map_err(unavailable)?;
        if res.status_code() >= 300 {
            return Err(ProtocolError::unavailable(format!(
                "the wake stream answered {}",
                res.status_code()
            )));
        }
        Ok(())
    }
}

fn unavailable(e: worker::Error) -> ProtocolError {
    ProtocolError::unavailable(e.to_string())
}
