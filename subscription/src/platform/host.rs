//! The platform behind [`crate::host`]: core over the `CORE` service binding (or
//! `CORE_URL`), the `SESSIONS` and `SUBSCRIPTIONS` Durable Object namespaces, the
//! `FANOUT_QUEUE` producer, the `METRICS` Analytics Engine dataset, alarms and clocks.

use std::rc::Rc;
use std::time::Duration;

use futures_util::future::LocalBoxFuture;
use worker::{AnalyticsEngineDataPointBuilder, Context, Delay, Env, Response, State};

use durable_streams_cloudflare::adapters::convert::{from_response, to_request};
use durable_streams_cloudflare::adapters::timing::now_ms;
use durable_streams_cloudflare::auth::secrets::ProjectSecrets;
use durable_streams_cloudflare::http::{Reply, Request};
use durable_streams_cloudflare::protocol::headers::EXPOSED;
use durable_streams_cloudflare::protocol::ProtocolError;

use super::Settings;
use crate::api::Secrets;
use crate::config::Config;
use crate::core_api::CORE_ORIGIN;
use crate::host::{Alarms, FanoutQueue, Host};
use crate::metrics::{Metric, Point};
use crate::project::{project_of, ProjectCall};
use crate::wire;
use crate::wire::FanoutJob;

/// The service binding to core.
pub const CORE_BINDING: &str = "CORE";
/// Core's URL, when there is no service binding.
pub const CORE_URL_VAR: &str = "CORE_URL";
/// The namespace of session objects.
pub const SESSIONS_BINDING: &str = "SESSIONS";
/// The namespace of source-stream objects.
pub const SUBSCRIPTIONS_BINDING: &str = "SUBSCRIPTIONS";
/// The namespace of project objects.
pub const PROJECTS_BINDING: &str = "PROJECTS";
/// `"1"` also counts metric events in the project objects (for local dashboards).
pub const COUNTERS_VAR: &str = "METRICS_COUNTERS";
/// The fan-out queue's producer binding.
pub const QUEUE_BINDING: &str = "FANOUT_QUEUE";
/// The Analytics Engine dataset.
pub const METRICS_BINDING: &str = "METRICS";

/// The most messages one `sendBatch` takes (the platform allows 100 and 256 KB).
const SEND_BATCH: usize = 50;
/// Where background work runs.
enum Spawner<'a> {
    Worker(&'a Context),
    Object(Rc<State>),
}

/// The platform of one request, queue batch or object.
pub struct Platform<'a> {
    env: Env,
    spawner: Spawner<'a>,
    settings: Rc<Settings>,
    config: Config,
}

impl<'a> Platform<'a> {
    /// For the stateless worker.
    pub fn for_worker(env: &Env, ctx: &'a Context, config: Config, settings: Rc<Settings>) -> Self {
        Self { env: env.clone(), spawner: Spawner::Worker(ctx), settings, config }
    }
}

impl Platform<'static> {
    /// For a Durable Object.
    pub fn for_object(env: Env, state: Rc<State>, config: Config, settings: Rc<Settings>) -> Self {
        Self { env, spawner: Spawner::Object(state), settings, config }
    }
}

impl Platform<'_> {
    /// A write token for `project`'s core streams, when auth is on.
    async fn core_token(&self, project: &str) -> Result<Option<String>, ProtocolError> {
        match &self.settings.auth {
            Some(auth) => auth.write_token(&self.env, project).await.map(Some),
            None => Ok(None),
        }
    }

    async fn send_core(&self, project: &str, mut req: Request) -> Result<Reply, ProtocolError> {
        if let Some(token) = self.core_token(project).await? {
            req = req.with_header("authorization", format!("Bearer {token}"));
        }
        let unreachable =
            |e: worker::Error| ProtocolError::unavailable(format!("core could not be reached: {e}"));
        let response = if let Ok(core) = self.env.service(CORE_BINDING) {
            core.fetch_request(to_request(&req).map_err(unreachable)?).await.map_err(unreachable)?
        } else if let Some(base) = self.env.var(CORE_URL_VAR).ok().map(|v| v.to_string()) {
            req.url = req.url.replacen(CORE_ORIGIN, base.trim_end_matches('/'), 1);
            worker::Fetch::Request(to_request(&req).map_err(unreachable)?)
                .send()
                .await
                .map_err(unreachable)?
        } else {
            return Err(ProtocolError::unavailable(format!(
                "neither a {CORE_BINDING} service binding nor {CORE_URL_VAR} is configured"
            )));
        };
        read_answer(response).await
    }

    async fn send_object(&self, binding: &str, key: &str, req: Request) -> Result<Reply, ProtocolError> {
        let failed =
            |e: worker::Error| ProtocolError::unavailable(format!("object {key} could not be reached: {e}"));
        let stub = self.env.durable_object(binding).and_then(|ns| ns.get_by_name(key)).map_err(failed)?;
        let response = stub.fetch_with_request(to_request(&req).map_err(failed)?).await.map_err(failed)?;
        read_answer(response).await
    }
}

/// The headers of answers that this layer reads.
fn kept(name: &str) -> Option<&'static str> {
    const OTHERS: [&str; 3] = ["Content-Type", "WWW-Authenticate", "Allow"];
    EXPOSED.iter().chain(OTHERS.iter()).copied().find(|known| known.eq_ignore_ascii_case(name))
}

async fn read_answer(response: Response) -> Result<Reply, ProtocolError> {
    from_response(response, kept)
        .await
        .map_err(|e| ProtocolError::unavailable(format!("an answer could not be read: {e}")))
}

impl Host for Platform<'_> {
    fn now_ms(&self) -> i64 {
        now_ms()
    }

    fn sleep(&self, ms: u64) -> LocalBoxFuture<'static, ()> {
        Box::pin(Delay::from(Duration::from_millis(ms)))
    }

    fn spawn(&self, task: LocalBoxFuture<'static, ()>) {
        match &self.spawner {
            Spawner::Worker(ctx) => ctx.wait_until(task),
            Spawner::Object(state) => state.wait_until(task),
        }
    }

    fn core<'b>(
        &'b self,
        project: &'b str,
        req: Request,
    ) -> LocalBoxFuture<'b, Result<Reply, ProtocolError>> {
        Box::pin(self.send_core(project, req))
    }

    fn session<'b>(&'b self, key: &'b str, req: Request) -> LocalBoxFuture<'b, Result<Reply, ProtocolError>> {
        Box::pin(self.send_object(SESSIONS_BINDING, key, req))
    }

    fn source<'b>(&'b self, key: &'b str, req: Request) -> LocalBoxFuture<'b, Result<Reply, ProtocolError>> {
        Box::pin(self.send_object(SUBSCRIPTIONS_BINDING, key, req))
    }

    fn project<'b>(
        &'b self,
        project: &'b str,
        req: Request,
    ) -> LocalBoxFuture<'b, Result<Reply, ProtocolError>> {
        Box::pin(self.send_object(PROJECTS_BINDING, project, req))
    }

    fn metric(&self, metric: Metric) {
        let point = metric.point();
        if self.settings.counters {
            self.count(point.clone());
        }
        let Ok(dataset) = self.env.analytics_engine(METRICS_BINDING) else { return };
        let written = AnalyticsEngineDataPointBuilder::new()
            .indexes([point.index.as_str()])
            .blobs(point.blobs)
            .doubles(point.doubles)
            .write_to(&dataset);
        if let Err(e) = written {
            worker::console_error!("writing a metric failed: {e}");
        }
    }

    fn log_error(&self, message: &str) {
        worker::console_error!("{message}");
    }
}

impl Alarms for Platform<'_> {
    fn schedule_alarm(&self, at_ms: i64) {
        let Spawner::Object(state) = &self.spawner else { return };
        let state = Rc::clone(state);
        wasm_bindgen_futures::spawn_local(async move {
            let at = worker::ScheduledTime::new(js_sys::Date::new(&(at_ms as f64).into()));
            if let Err(e) = state.storage().set_alarm(at).await {
                worker::console_error!("setting a session's expiry alarm failed: {e}");
            }
        });
    }

    fn cancel_alarm(&self) {
        let Spawner::Object(state) = &self.spawner else { return };
        let state = Rc::clone(state);
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = state.storage().delete_alarm().await {
                worker::console_error!("cancelling a session's alarm failed: {e}");
            }
        });
    }
}

impl FanoutQueue for Platform<'_> {
    fn has_queue(&self) -> bool {
        self.env.queue(QUEUE_BINDING).is_ok()
    }

    fn enqueue(&self, jobs: Vec<FanoutJob>) -> LocalBoxFuture<'_, Result<(), ProtocolError>> {
        Box::pin(async move {
            let queue = self
                .env
                .queue(QUEUE_BINDING)
                .map_err(|e| ProtocolError::unavailable(format!("{QUEUE_BINDING}: {e}")))?;
            for batch in jobs.chunks(SEND_BATCH) {
                queue.send_batch(batch.to_vec()).await.map_err(|e| {
                    ProtocolError::unavailable(format!("enqueueing fan-out jobs failed: {e}"))
                })?;
            }
            Ok(())
        })
    }
}

impl Secrets for Platform<'_> {
    fn enabled(&self) -> bool {
        self.settings.auth.is_some()
    }

    fn secrets<'b>(
        &'b self,
        project: &'b str,
    ) -> LocalBoxFuture<'b, Result<Option<Rc<ProjectSecrets>>, ProtocolError>> {
        Box::pin(async move {
            match &self.settings.auth {
                Some(auth) => auth.secrets(&self.env, project).await,
                None => Ok(None),
            }
        })
    }
}

impl Platform<'_> {
    /// Counts a point in its project's object, after the current request.
    fn count(&self, point: Point) {
        let Some(project) = project_of(&point).map(str::to_owned) else { return };
        let env = self.env.clone();
        let call = ProjectCall::Count { at_ms: now_ms(), points: vec![point] };
        self.spawn(Box::pin(async move {
            let sent = async {
                let req = to_request(&wire::call_request(&call)?)
                    .map_err(|e| ProtocolError::internal(e.to_string()))?;
                let stub = env
                    .durable_object(PROJECTS_BINDING)
                    .and_then(|ns| ns.get_by_name(&project))
                    .map_err(|e| ProtocolError::unavailable(e.to_string()))?;
                stub.fetch_with_request(req).await.map_err(|e| ProtocolError::unavailable(e.to_string()))?;
                Ok::<_, ProtocolError>(())
            };
            if let Err(e) = sent.await {
                worker::console_error!("counting a metric for project {project} failed: {e}");
            }
        }));
    }

    /// The layer's settings.
    pub fn config(&self) -> &Config {
        &self.config
    }
}
