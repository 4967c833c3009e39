//! The projects API on the platform: records in core's registry (the `AUTH_KV`
//! namespace, bound here too), and a project's streams from its registry stream and its
//! streams' own objects.
//!
//! KV has no transactions: two operators changing one project at the same moment can
//! lose one change (the last write wins). Each change is read, checked and written
//! whole, so a record is never left invalid.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use serde::Serialize;
use worker::kv::KvStore;
use worker::{Env, Response};

use durable_streams_cloudflare::adapters::convert::{read_request, to_request, to_response};
use durable_streams_cloudflare::adapters::secrets::KV_BINDING;
use durable_streams_cloudflare::auth::project::{KeyView, ProjectRecord, RecordSummary};
use durable_streams_cloudflare::http::{Method, Reply, Request};
use durable_streams_cloudflare::internal::INSPECT_PATH;
use durable_streams_cloudflare::protocol::headers as h;
use durable_streams_cloudflare::protocol::path::StreamName;
use durable_streams_cloudflare::protocol::{ErrorCode, ProtocolError};

use super::unavailable_error as unavailable;
use crate::projects::{self as pure, ProjectRoute, Registered, StreamRow};
use crate::route::{after, query_value};

/// The largest request body the projects API reads.
const MAX_BODY_BYTES: usize = 4096;
/// The most pages of the registry stream one listing reads.
const MAX_REGISTRY_PAGES: usize = 1000;

/// Answers a projects API request.
pub async fn respond(env: &Env, call: &ProjectRoute, req: worker::Request) -> worker::Result<Response> {
    let query = req.url()?.query().unwrap_or_default().to_owned();
    let body = match read_request(req, MAX_BODY_BYTES).await {
        Ok(r) => r.body,
        Err(e) => return to_response(Reply::error(&e)),
    };
    let answer = match call {
        ProjectRoute::Streams(project) => streams(env, project, after(&query).as_deref()).await,
        _ => match env.kv(KV_BINDING) {
            Ok(kv) => registry(&kv, call, &body, &query).await,
            Err(_) => Err(ProtocolError::new(
                ErrorCode::RegistryUnconfigured,
                format!(
                    "no project registry: bind core's {KV_BINDING} namespace to the admin worker \
                     (with auth off, core has none and every project is open)"
                ),
            )),
        },
    };
    to_response(answer.unwrap_or_else(|e| Reply::error(&e)))
}

/// A project as the pages show it: never a secret, except once, just after it was made.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProjectView {
    id: String,
    public: bool,
    cors_origins: Vec<String>,
    keys: Vec<KeyView>,
    /// A secret just generated: shown in this answer only.
    #[serde(skip_serializing_if = "Option::is_none")]
    new_secret: Option<String>,
}

impl ProjectView {
    fn of(id: &str, r: &ProjectRecord, new_secret: Option<String>) -> Self {
        Self {
            id: id.to_owned(),
            public: r.public,
            cors_origins: r.cors_origins.clone(),
            keys: r.keys(),
            new_secret,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListedProject {
    id: String,
    #[serde(flatten)]
    summary: Option<RecordSummary>,
}

async fn registry(
    kv: &KvStore,
    call: &ProjectRoute,
    body: &[u8],
    query: &str,
) -> Result<Reply, ProtocolError> {
    match call {
        ProjectRoute::List => list(kv, query_value(query, "cursor")).await,
        ProjectRoute::Create => {
            let id = pure::create_body(body)?;
            if get(kv, &id).await?.is_some() {
                return Err(ProtocolError::new(
                    ErrorCode::ProjectExists,
                    format!("project {id} already exists"),
                ));
            }
            let secret = new_secret()?;
            let record = ProjectRecord::new(secret.clone());
            put(kv, &id, &record).await?;
            Ok(Reply::json(201, &ProjectView::of(&id, &record, Some(secret))))
        }
        ProjectRoute::Show(id) => Ok(Reply::json(200, &ProjectView::of(id, &existing(kv, id).await?, None))),
        ProjectRoute::SetPublic(id) => {
            let public = pure::public_body(body)?;
            edit(kv, id, None, |r| {
                r.public = public;
                Ok(())
            })
            .await
        }
        ProjectRoute::AddOrigin(id) => {
            let origin = pure::origin_body(body)?;
            edit(kv, id, None, |r| r.add_origin(&origin)).await
        }
        ProjectRoute::RemoveOrigin(id, origin) => {
            edit(kv, id, None, |r| {
                r.remove_origin(origin);
                Ok(())
            })
            .await
        }
        ProjectRoute::AddKey(id) => {
            let secret = new_secret()?;
            let added = secret.clone();
            edit(kv, id, Some(secret), move |r| r.add_key(added.clone())).await
        }
        ProjectRoute::RevokeKey(id, key) => edit(kv, id, None, |r| r.revoke_key(key)).await,
        ProjectRoute::Streams(_) => Err(ProtocolError::not_found()),
    }
}

/// A page of the registry's keys, with each record's summary from the key's metadata
/// (read from the record itself for one written without it).
async fn list(kv: &KvStore, cursor: Option<String>) -> Result<Reply, ProtocolError> {
    let mut listing = kv.list().limit(pure::PROJECTS_PAGE);
    if let Some(c) = cursor {
        listing = listing.cursor(c);
    }
    let page = listing.execute().await.map_err(|e| unavailable(format!("listing {KV_BINDING}: {e}")))?;
    let mut projects = Vec::with_capacity(page.keys.len());
    for key in page.keys {
        let summary = match key.metadata.and_then(|m| serde_json::from_value::<RecordSummary>(m).ok()) {
            Some(s) => Some(s),
            None => get(kv, &key.name).await.ok().flatten().map(|r| r.summary()),
        };
        projects.push(ListedProject { id: key.name, summary });
    }
    let cursor = if page.list_complete { None } else { page.cursor };
    Ok(Reply::json(200, &serde_json::json!({ "projects": projects, "cursor": cursor })))
}

/// Reads, changes and writes back one record, and answers with it.
async fn edit(
    kv: &KvStore,
    id: &str,
    new_secret: Option<String>,
    change: impl FnOnce(&mut ProjectRecord) -> Result<(), ProtocolError>,
) -> Result<Reply, ProtocolError> {
    let mut record = existing(kv, id).await?;
    change(&mut record)?;
    put(kv, id, &record).await?;
    Ok(Reply::json(200, &ProjectView::of(id, &record, new_secret)))
}

async fn existing(kv: &KvStore, id: &str) -> Result<ProjectRecord, ProtocolError> {
    get(kv, id).await?.ok_or_else(|| {
        ProtocolError::new(ErrorCode::ProjectNotFound, format!("no project {id} in the registry"))
    })
}

async fn get(kv: &KvStore, id: &str) -> Result<Option<ProjectRecord>, ProtocolError> {
    let raw = kv.get(id).text().await.map_err(|e| unavailable(format!("reading {KV_BINDING}: {e}")))?;
    match raw {
        None => Ok(None),
        Some(json) => ProjectRecord::parse(&json)
            .map(Some)
            .map_err(|e| ProtocolError::internal(format!("the record of project {id} is invalid: {}", e.0))),
    }
}

async fn put(kv: &KvStore, id: &str, record: &ProjectRecord) -> Result<(), ProtocolError> {
    let failed = |e: worker::kv::KvError| unavailable(format!("writing {KV_BINDING}: {e}"));
    kv.put(id, record.to_json())
        .map_err(failed)?
        .metadata(record.summary())
        .map_err(failed)?
        .execute()
        .await
        .map_err(failed)
}

/// A page of the project's streams: what its registry stream lists, with each stream's
/// figures from its own object.
async fn streams(env: &Env, project: &str, after: Option<&str>) -> Result<Reply, ProtocolError> {
    let registry = StreamName { project: project.to_owned(), id: String::new() }.registry();
    let listed = registered(env, &registry).await?;
    let (rows, next) = pure::streams_page(&listed, after, pure::STREAMS_PAGE);
    let inspections = rows.iter().map(|(id, reg)| async move {
        let name = StreamName { project: project.to_owned(), id: (*id).clone() };
        pure::stream_row(id, reg, inspect(env, &name).await)
    });
    let rows: Vec<StreamRow> = join_all(inspections).await;
    Ok(Reply::json(200, &serde_json::json!({ "streams": rows, "next": next, "total": listed.len() })))
}

/// Every stream the registry stream says exists, read from its start to its tail.
async fn registered(env: &Env, registry: &StreamName) -> Result<BTreeMap<String, Registered>, ProtocolError> {
    let mut streams = BTreeMap::new();
    let mut offset = "-1".to_owned();
    for _ in 0..MAX_REGISTRY_PAGES {
        let url = format!("https://stream.internal{}?offset={offset}", registry.path());
        let answer = object_fetch(env, registry, &Request::new(Method::Get, url)).await?;
        match answer.status_code() {
            200 => {}
            404 => return Ok(streams),
            status => return Err(unavailable(format!("reading {} answered {status}", registry.key()))),
        }
        let next = answer.headers().get(h::STREAM_NEXT_OFFSET).ok().flatten();
        let up_to_date = answer.headers().get(h::STREAM_UP_TO_DATE).ok().flatten().as_deref() == Some("true");
        let mut answer = answer;
        let page =
            answer.bytes().await.map_err(|e| unavailable(format!("reading {}: {e}", registry.key())))?;
        pure::apply_registry(&mut streams, &page)?;
        match next {
            Some(next) if !up_to_date && next != offset => offset = next,
            _ => return Ok(streams),
        }
    }
    Err(unavailable(format!("{} is longer than one listing reads", registry.key())))
}

/// The stream object's inspect answer, or why there is none.
async fn inspect(env: &Env, name: &StreamName) -> Result<serde_json::Value, String> {
    let req = Request::new(Method::Get, format!("https://stream.internal{INSPECT_PATH}"));
    let mut answer = object_fetch(env, name, &req).await.map_err(|e| e.message().into_owned())?;
    match answer.status_code() {
        200 => answer.json().await.map_err(|e| e.to_string()),
        404 => Err("not found: deleted or expired since it was listed".to_owned()),
        status => Err(format!("its object answered {status}")),
    }
}

async fn object_fetch(env: &Env, name: &StreamName, req: &Request) -> Result<Response, ProtocolError> {
    let stub = super::stream_stub(env, name).map_err(|e| unavailable(format!("{}: {e}", name.key())))?;
    let req = to_request(req).map_err(|e| ProtocolError::internal(e.to_string()))?;
    stub.fetch_with_request(req).await.map_err(|e| unavailable(format!("asking {}: {e}", name.key())))
}

/// A new signing secret from the platform's secure random source.
fn new_secret() -> Result<String, ProtocolError> {
    let mut random = [0u8; 32];
    getrandom::getrandom(&mut random)
        .map_err(|e| ProtocolError::internal(format!("no random bytes: {e}")))?;
    Ok(pure::secret_from(&random))
}
