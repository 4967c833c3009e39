//! The projects pages' API, as pure decisions: which route a request is, what its body
//! says, and how a project's streams are listed from its registry stream.
//!
//! Projects live in core's registry (`AUTH_KV`, one record per project; see
//! [`durable_streams_cloudflare::auth::project`]). A project's streams are the ones its
//! `__registry__` stream says were created and not deleted since; each row's figures
//! then come from that stream's own object, so nothing here is a copy that could drift.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use durable_streams_cloudflare::http::Method;
use durable_streams_cloudflare::protocol::path::is_project_id;
use durable_streams_cloudflare::protocol::{percent, ErrorCode, ProtocolError};

/// Projects listed per page.
pub const PROJECTS_PAGE: u64 = 50;
/// Streams listed per page (each row is one call to the stream's object).
pub const STREAMS_PAGE: usize = 50;

/// A request of the projects API, under `/admin/api/projects`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProjectRoute {
    /// `GET`: a page of projects (`?cursor=` from the previous page).
    List,
    /// `POST` `{"id"}`: registers a project with a new signing key, shown once.
    Create,
    /// `GET /<id>`: the project's settings and keys (never a secret).
    Show(String),
    /// `POST /<id>/public` `{"public": bool}`.
    SetPublic(String),
    /// `POST /<id>/origins` `{"origin"}`.
    AddOrigin(String),
    /// `DELETE /<id>/origins/<origin>` (percent-encoded).
    RemoveOrigin(String, String),
    /// `POST /<id>/keys`: a new signing key, shown once; older keys stay valid.
    AddKey(String),
    /// `DELETE /<id>/keys/<key id>`.
    RevokeKey(String, String),
    /// `GET /<id>/streams`: a page of the project's streams (`?after=` the last id).
    Streams(String),
}

impl ProjectRoute {
    /// Whether it changes the registry (so it must come from our own pages).
    pub fn changes(&self) -> bool {
        !matches!(self, Self::List | Self::Show(_) | Self::Streams(_))
    }
}

/// Routes `rest`, the path after `/admin/api/projects` (empty or `/…`).
pub fn route(method: Method, rest: &str) -> Result<ProjectRoute, ProtocolError> {
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    if rest.is_empty() {
        return match method {
            Method::Get => Ok(ProjectRoute::List),
            Method::Post => Ok(ProjectRoute::Create),
            _ => Err(ProtocolError::method_not_allowed()),
        };
    }
    let mut parts = rest.splitn(3, '/');
    let id = project_id(parts.next().unwrap_or_default())?;
    let part = (parts.next(), parts.next());
    let route = match (part, method) {
        ((Some(_), Some("")), _) => return Err(ProtocolError::not_found()),
        ((None, _), Method::Get) => ProjectRoute::Show(id),
        ((Some("public"), None), Method::Post) => ProjectRoute::SetPublic(id),
        ((Some("origins"), None), Method::Post) => ProjectRoute::AddOrigin(id),
        ((Some("origins"), Some(o)), Method::Delete) => {
            ProjectRoute::RemoveOrigin(id, percent::decode(o).ok_or_else(ProtocolError::not_found)?)
        }
        ((Some("keys"), None), Method::Post) => ProjectRoute::AddKey(id),
        ((Some("keys"), Some(k)), Method::Delete) if !k.is_empty() => {
            ProjectRoute::RevokeKey(id, k.to_owned())
        }
        ((Some("streams"), None), Method::Get) => ProjectRoute::Streams(id),
        ((None, _), _)
        | ((Some("public" | "origins" | "keys"), None), _)
        | ((Some("origins" | "keys"), Some(_)), _)
        | ((Some("streams"), None), _) => return Err(ProtocolError::method_not_allowed()),
        _ => return Err(ProtocolError::not_found()),
    };
    Ok(route)
}

/// A project id from a path segment, checked as core checks it.
fn project_id(segment: &str) -> Result<String, ProtocolError> {
    let id = percent::decode(segment).ok_or_else(ProtocolError::not_found)?;
    if !is_project_id(&id) {
        return Err(invalid_project_id());
    }
    Ok(id)
}

fn invalid_project_id() -> ProtocolError {
    ProtocolError::new(ErrorCode::InvalidProjectId, "a project id is 1–64 of A-Z a-z 0-9 _ -")
}

/// The body of [`ProjectRoute::Create`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    id: String,
}

/// The body of [`ProjectRoute::SetPublic`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PublicBody {
    public: bool,
}

/// The body of [`ProjectRoute::AddOrigin`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OriginBody {
    origin: String,
}

fn body<'a, T: Deserialize<'a>>(bytes: &'a [u8], shape: &str) -> Result<T, ProtocolError> {
    serde_json::from_slice(bytes)
        .map_err(|_| ProtocolError::new(ErrorCode::InvalidBody, format!("the body must be JSON {shape}")))
}

/// The id a create asks for.
pub fn create_body(bytes: &[u8]) -> Result<String, ProtocolError> {
    let CreateBody { id } = body(bytes, r#"{"id": "<project id>"}"#)?;
    if !is_project_id(&id) {
        return Err(invalid_project_id());
    }
    Ok(id)
}

/// Whether reads are to be public.
pub fn public_body(bytes: &[u8]) -> Result<bool, ProtocolError> {
    body::<PublicBody>(bytes, r#"{"public": true | false}"#).map(|b| b.public)
}

/// The origin to allow (checked when added to the record).
pub fn origin_body(bytes: &[u8]) -> Result<String, ProtocolError> {
    body::<OriginBody>(bytes, r#"{"origin": "https://app.example.com"}"#).map(|b| b.origin)
}

/// A signing secret from 32 random bytes: 256 bits, in hex.
pub fn secret_from(random: &[u8; 32]) -> String {
    random.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the registry stream says of one stream.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Registered {
    /// The content type it was created with.
    pub content_type: String,
    /// When it was created (ms).
    pub created_at: i64,
}

#[derive(Deserialize)]
struct Event {
    key: String,
    #[serde(default)]
    value: Option<Registered>,
    headers: EventHeaders,
}

#[derive(Deserialize)]
struct EventHeaders {
    operation: String,
}

/// Applies a page of registry messages (a JSON array, as a read of it returns) to
/// `streams`: inserts add a stream, deletes remove it. Messages of other shapes are
/// skipped, so a registry written by a newer version still lists what it can.
pub fn apply_registry(streams: &mut BTreeMap<String, Registered>, page: &[u8]) -> Result<(), ProtocolError> {
    let events: Vec<serde_json::Value> = serde_json::from_slice(page)
        .map_err(|e| ProtocolError::internal(format!("the registry stream is not a JSON array: {e}")))?;
    for event in events {
        let Ok(event) = serde_json::from_value::<Event>(event) else { continue };
        match (event.headers.operation.as_str(), event.value) {
            ("insert", Some(value)) => {
                streams.insert(event.key, value);
            }
            ("delete", _) => {
                streams.remove(&event.key);
            }
            _ => {}
        }
    }
    Ok(())
}

/// The page of `streams` after `after`, and the id to ask the next page after.
pub fn streams_page<'a>(
    streams: &'a BTreeMap<String, Registered>,
    after: Option<&str>,
    limit: usize,
) -> (Vec<(&'a String, &'a Registered)>, Option<String>) {
    let start = match after {
        Some(a) => std::ops::Bound::Excluded(a.to_owned()),
        None => std::ops::Bound::Unbounded,
    };
    let mut rows: Vec<_> = streams.range((start, std::ops::Bound::Unbounded)).take(limit + 1).collect();
    let next = (rows.len() > limit).then(|| {
        rows.truncate(limit);
        rows.last().map(|(id, _)| (*id).clone()).unwrap_or_default()
    });
    (rows, next)
}

/// One row of the streams table: the registry's facts and the stream object's figures.
#[derive(Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamRow {
    /// The id within the project.
    pub id: String,
    /// Its content type.
    pub content_type: String,
    /// When it was created (ms).
    pub created_at: i64,
    /// Messages (JSON) or appends, hot and cold; `None` if its object did not answer.
    pub messages: Option<u64>,
    /// Log bytes, hot and cold.
    pub bytes: Option<u64>,
    /// Its last append (ms), or its creation if none since.
    pub last_write_at: Option<i64>,
    /// Whether it is closed.
    pub closed: Option<bool>,
    /// The reason its figures are missing, if they are.
    pub error: Option<String>,
}

/// A row from the registry entry and the stream object's inspect answer.
pub fn stream_row(
    id: &str,
    registered: &Registered,
    inspected: Result<serde_json::Value, String>,
) -> StreamRow {
    let mut row = StreamRow {
        id: id.to_owned(),
        content_type: registered.content_type.clone(),
        created_at: registered.created_at,
        messages: None,
        bytes: None,
        last_write_at: None,
        closed: None,
        error: None,
    };
    match inspected {
        Ok(v) => {
            row.messages = v["totals"]["messages"].as_u64();
            row.bytes = v["totals"]["bytes"].as_u64();
            row.last_write_at = v["writtenAt"].as_i64().or_else(|| v["createdAt"].as_i64());
            row.closed = v["closed"].as_bool();
        }
        Err(why) => row.error = Some(why),
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_routes() {
        let r = |m, p: &str| route(m, p);
        assert_eq!(r(Method::Get, ""), Ok(ProjectRoute::List));
        assert_eq!(r(Method::Post, ""), Ok(ProjectRoute::Create));
        assert_eq!(r(Method::Get, "/acme"), Ok(ProjectRoute::Show("acme".into())));
        assert_eq!(r(Method::Post, "/acme/public"), Ok(ProjectRoute::SetPublic("acme".into())));
        assert_eq!(r(Method::Post, "/acme/origins"), Ok(ProjectRoute::AddOrigin("acme".into())));
        assert_eq!(
            r(Method::Delete, "/acme/origins/https%3A%2F%2Fa.example"),
            Ok(ProjectRoute::RemoveOrigin("acme".into(), "https://a.example".into()))
        );
        assert_eq!(r(Method::Post, "/acme/keys"), Ok(ProjectRoute::AddKey("acme".into())));
        assert_eq!(
            r(Method::Delete, "/acme/keys/ab12"),
            Ok(ProjectRoute::RevokeKey("acme".into(), "ab12".into()))
        );
        assert_eq!(r(Method::Get, "/acme/streams"), Ok(ProjectRoute::Streams("acme".into())));
        assert!(r(Method::Post, "/acme/keys").unwrap().changes());
        assert!(!r(Method::Get, "/acme/streams").unwrap().changes());
        for (m, p, status) in [
            (Method::Delete, "", 405),
            (Method::Post, "/acme", 405),
            (Method::Get, "/acme/public", 405),
            (Method::Get, "/acme/keys/ab", 405),
            (Method::Delete, "/acme/keys/", 404),
            (Method::Post, "/acme/streams", 405),
            (Method::Get, "/acme/other", 404),
            (Method::Get, "/bad%20id", 400),
            (Method::Get, "/%ZZ", 404),
        ] {
            assert_eq!(r(m, p).unwrap_err().status(), status, "{m:?} {p}");
        }
    }

    #[test]
    fn bodies_are_checked() {
        assert_eq!(create_body(br#"{"id": "acme-2"}"#).unwrap(), "acme-2");
        for bad in
            [&br#"{"id": "a b"}"#[..], br#"{"id": ""}"#, br#"{}"#, b"[]", b"", br#"{"id": "a", "x": 1}"#]
        {
            assert_eq!(create_body(bad).unwrap_err().status(), 400, "{}", String::from_utf8_lossy(bad));
        }
        assert!(public_body(br#"{"public": true}"#).unwrap());
        assert_eq!(public_body(br#"{"public": "yes"}"#).unwrap_err().code(), ErrorCode::InvalidBody);
        assert_eq!(origin_body(br#"{"origin": "https://a"}"#).unwrap(), "https://a");
        assert_eq!(origin_body(br#"{"origin": 5}"#).unwrap_err().status(), 400);
        let secret = secret_from(&[0xab; 32]);
        assert_eq!((secret.len(), &secret[..4]), (64, "abab"));
    }

    #[test]
    fn the_registry_lists_streams_created_and_not_deleted_in_pages() {
        let insert = |k: &str, at: i64| serde_json::json!({"type": "stream", "key": k, "value": {"path": k, "contentType": "text/plain", "createdAt": at}, "headers": {"operation": "insert"}});
        let delete =
            |k: &str| serde_json::json!({"type": "stream", "key": k, "headers": {"operation": "delete"}});
        let mut streams = BTreeMap::new();
        let first = serde_json::json!([insert("b", 1), insert("a", 2), insert("c", 3), {"type": "other"}]);
        apply_registry(&mut streams, first.to_string().as_bytes()).unwrap();
        // A stream deleted and created again is listed once, as created again.
        let second = serde_json::json!([delete("b"), insert("d", 4), delete("c"), insert("c", 5)]);
        apply_registry(&mut streams, second.to_string().as_bytes()).unwrap();
        assert_eq!(streams.keys().collect::<Vec<_>>(), ["a", "c", "d"]);
        assert_eq!(streams["c"].created_at, 5);
        let (rows, next) = streams_page(&streams, None, 2);
        assert_eq!(
            (rows.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), next.clone()),
            (vec!["a", "c"], Some("c".into()))
        );
        let (rows, next) = streams_page(&streams, next.as_deref(), 2);
        assert_eq!((rows.len(), rows[0].0.as_str(), next), (1, "d", None));
        assert_eq!(streams_page(&streams, None, 3).1, None);
        assert!(apply_registry(&mut streams, b"not json").is_err());
    }

    #[test]
    fn rows_take_their_figures_from_the_stream_object() {
        let reg = Registered { content_type: "text/plain".into(), created_at: 10 };
        let inspected = serde_json::json!({"totals": {"messages": 3, "bytes": 12}, "writtenAt": 20, "createdAt": 10, "closed": true});
        let row = stream_row("s", &reg, Ok(inspected));
        assert_eq!(
            (row.messages, row.bytes, row.last_write_at, row.closed),
            (Some(3), Some(12), Some(20), Some(true))
        );
        let never_written = stream_row(
            "s",
            &reg,
            Ok(
                serde_json::json!({"totals": {"messages": 0, "bytes": 0}, "writtenAt": null, "createdAt": 10, "closed": false}),
            ),
        );
        assert_eq!(never_written.last_write_at, Some(10));
        let failed = stream_row("s", &reg, Err("unreachable".into()));
        assert_eq!((failed.messages, failed.error.as_deref()), (None, Some("unreachable")));
    }
}
