//! Auth at the edge: the decision for each stream request (see [`crate::auth`]), with
//! the project [`AuthSettings`] finds.

use std::rc::Rc;

use worker::Env;

use crate::adapters::secrets::AuthSettings;
use crate::adapters::timing::now_ms;
use crate::auth::project::Project;
use crate::auth::{self, Access, Need, ACCESS_HEADER};
use crate::http::Method;
use crate::protocol::fork::ForkRequest;
use crate::protocol::headers as h;
use crate::protocol::path::StreamName;
use crate::protocol::ProtocolError;

/// Writes how a request was authorized into the headers it goes to a stream object
/// with: [`ACCESS_HEADER`] set, or removed when auth is off.
pub fn mark_access(headers: &worker::Headers, access: Access) -> worker::Result<()> {
    match access.header_value() {
        Some(value) => headers.set(ACCESS_HEADER, value),
        None => headers.delete(ACCESS_HEADER),
    }
}

/// The project of stream `name` as the registry holds it: `Ok(None)` when auth is off or
/// the project has no configuration.
pub async fn project(
    env: &Env,
    settings: Option<&AuthSettings>,
    name: &StreamName,
) -> Result<Option<Rc<Project>>, ProtocolError> {
    match settings {
        Some(settings) => settings.project(env, &name.project).await,
        None => Ok(None),
    }
}

/// Decides a request for stream `name` of `project` (from [`project`]).
pub fn authorize(
    settings: Option<&AuthSettings>,
    project: Option<&Project>,
    method: Method,
    name: &StreamName,
    headers: &worker::Headers,
) -> Result<Access, ProtocolError> {
    let need = if matches!(method, Method::Get | Method::Head) { Need::Read } else { Need::Write };
    // A fork reads its source, which the token must also allow. A malformed fork header
    // is left for the stream object to reject.
    let fork_source = if method == Method::Put {
        let header = headers.get(h::STREAM_FORKED_FROM).ok().flatten();
        ForkRequest::from_headers(header.as_deref(), None, None).ok().flatten().map(|f| f.source)
    } else {
        None
    };
    authorize_need(settings, project, need, name, fork_source.as_ref(), headers)
}

/// Decides a request that needs `need` of `name`, and reads `fork_source` if any.
pub fn authorize_need(
    settings: Option<&AuthSettings>,
    project: Option<&Project>,
    need: Need,
    name: &StreamName,
    fork_source: Option<&StreamName>,
    headers: &worker::Headers,
) -> Result<Access, ProtocolError> {
    if settings.is_none() {
        return Ok(Access::Open);
    }
    let authorization = headers.get("Authorization").ok().flatten();
    let token = auth::bearer(authorization.as_deref())?;
    auth::authorize(need, name, token, project, fork_source, now_ms() / 1000)
}
