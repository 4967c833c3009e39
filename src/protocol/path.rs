//! Stream URLs and the names of their objects.
//!
//! A stream lives at `/v1/<project>/stream/<stream-id>`; `/v1/stream/<stream-id>` is the
//! same stream in the default project. The id may contain `/` (§3). Each stream has one
//! Durable Object, named by its *key* `<project>/<stream-id>`: a project id never
//! contains `/`, so two different streams never share a key, whichever spelling their
//! URLs use.

use super::{percent, ProtocolError};
use crate::protocol::ErrorCode;

/// The path prefix of the default project's streams.
pub const STREAM_PREFIX: &str = "/v1/stream/";

/// The project of `/v1/stream/<id>`.
pub const DEFAULT_PROJECT: &str = "_default";

/// The longest project id accepted, in bytes.
pub const MAX_PROJECT_BYTES: usize = 64;

/// The first segment of the reserved subscription API (§6).
pub const RESERVED_SEGMENT: &str = "__ds";

/// The registry stream of each project: creations and deletions of every other stream of
/// the project, written by the server only.
pub const REGISTRY_ID: &str = "__registry__";

/// The longest stream id accepted, in bytes.
pub const MAX_STREAM_ID_BYTES: usize = 1024;

/// A stream, as a project and an id within it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StreamName {
    /// The project id: 1–64 of `A-Z a-z 0-9 _ -`.
    pub project: String,
    /// The stream id within the project, decoded.
    pub id: String,
}

impl StreamName {
    /// A stream of the default project.
    pub fn default_project(id: impl Into<String>) -> Self {
        Self { project: DEFAULT_PROJECT.to_owned(), id: id.into() }
    }

    /// Parses a request path (still percent-encoded). `None` if the path names no
    /// stream at all; an error if it names one badly.
    pub fn parse(path: &str) -> Option<Result<Self, ProtocolError>> {
        if let Some(raw) = path.strip_prefix(STREAM_PREFIX) {
            return Some(decode_id(raw).map(Self::default_project));
        }
        let (project, raw) = path.strip_prefix("/v1/")?.split_once("/stream/")?;
        if !is_project_id(project) {
            return Some(Err(ProtocolError::new(
                ErrorCode::InvalidProjectId,
                "a project id is 1 to 64 letters, digits, '_' or '-'",
            )));
        }
        Some(decode_id(raw).map(|id| Self { project: project.to_owned(), id }))
    }

    /// The name of the stream's object, unique per stream (see the module docs).
    pub fn key(&self) -> String {
        format!("{}/{}", self.project, self.id)
    }

    /// The inverse of [`StreamName::key`].
    pub fn from_key(key: &str) -> Option<Self> {
        let (project, id) = key.split_once('/')?;
        is_project_id(project).then(|| Self { project: project.to_owned(), id: id.to_owned() })
    }

    /// The stream's canonical path: the short form in the default project.
    pub fn path(&self) -> String {
        let id = percent::encode_path(&self.id);
        if self.project == DEFAULT_PROJECT {
            format!("{STREAM_PREFIX}{id}")
        } else {
            format!("/v1/{}/stream/{id}", self.project)
        }
    }

    /// The registry stream of this stream's project.
    pub fn registry(&self) -> Self {
        Self { project: self.project.clone(), id: REGISTRY_ID.to_owned() }
    }

    /// Whether this is its project's registry stream.
    pub fn is_registry(&self) -> bool {
        self.id == REGISTRY_ID
    }

    /// Whether the id falls under the reserved `__ds` namespace.
    pub fn is_reserved(&self) -> bool {
        self.id.split('/').next() == Some(RESERVED_SEGMENT)
    }
}

/// Whether `s` is a valid project id.
pub fn is_project_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_PROJECT_BYTES
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn decode_id(raw: &str) -> Result<String, ProtocolError> {
    let id = percent::decode(raw).ok_or_else(|| {
        ProtocolError::new(ErrorCode::InvalidStreamId, "stream id is not valid percent-encoded UTF-8")
    })?;
    if id.is_empty() {
        return Err(ProtocolError::new(ErrorCode::InvalidStreamId, "stream id is empty"));
    }
    if id.len() > MAX_STREAM_ID_BYTES {
        return Err(ProtocolError::new(ErrorCode::InvalidStreamId, "stream id is too long"));
    }
    if id.chars().any(char::is_control) {
        return Err(ProtocolError::new(ErrorCode::InvalidStreamId, "stream id contains control characters"));
    }
    // The runtime turns raw path bytes that are not UTF-8 into U+FFFD before we see the
    // URL, so different raw paths would collapse into one mangled id.
    if id.contains(char::REPLACEMENT_CHARACTER) {
        return Err(ProtocolError::new(
            ErrorCode::InvalidStreamId,
            "stream id contains U+FFFD, the stand-in for bytes that were not UTF-8",
        ));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(path: &str) -> StreamName {
        StreamName::parse(path).unwrap().unwrap()
    }

    #[test]
    fn ids_are_decoded_and_may_contain_slashes() {
        assert_eq!(parse("/v1/stream/a/b%20c"), StreamName::default_project("a/b c"));
        assert!(StreamName::parse("/v1/streams/x").is_none());
        assert!(StreamName::parse("/v2/p/stream/x").is_none());
        assert!(StreamName::parse("/v1/stream/").unwrap().is_err());
        assert!(StreamName::parse("/v1/stream/%zz").unwrap().is_err());
        assert!(StreamName::parse("/v1/stream/a%00b").unwrap().is_err());
    }

    #[test]
    fn project_paths() {
        let n = parse("/v1/acme-1/stream/chat/room");
        assert_eq!((n.project.as_str(), n.id.as_str()), ("acme-1", "chat/room"));
        assert_eq!(parse("/v1/_default/stream/x"), parse("/v1/stream/x"));
        // The short form wins: this is the default project's stream `stream/x`.
        assert_eq!(parse("/v1/stream/stream/x"), StreamName::default_project("stream/x"));
        for bad in ["/v1/a.b/stream/x", "/v1/a%2Fb/stream/x", "/v1//stream/x", "/v1/a b/stream/x"] {
            assert_eq!(StreamName::parse(bad).unwrap().unwrap_err().status(), 400, "{bad}");
        }
        let long = format!("/v1/{}/stream/x", "p".repeat(65));
        assert!(StreamName::parse(&long).unwrap().is_err());
    }

    #[test]
    fn ids_with_bytes_that_were_not_utf8_are_rejected() {
        // Percent-encoded invalid UTF-8, and the U+FFFD the runtime puts in place of raw
        // invalid bytes.
        for path in ["/v1/stream/a%ff", "/v1/stream/a%C3", "/v1/stream/a%EF%BF%BDb"] {
            assert_eq!(
                StreamName::parse(path).unwrap().unwrap_err().code().as_str(),
                "INVALID_STREAM_ID",
                "{path}"
            );
        }
        assert_eq!(parse("/v1/stream/caf%C3%A9").id, "café");
    }

    #[test]
    fn keys_are_unique_per_stream_and_round_trip() {
        // A default-project id that looks like another project's stream keeps its own key.
        let a = parse("/v1/stream/acme/x");
        let b = parse("/v1/acme/stream/x");
        assert_ne!(a.key(), b.key());
        for n in [a, b, StreamName::default_project("ü/?#")] {
            assert_eq!(StreamName::from_key(&n.key()).unwrap(), n);
            assert_eq!(parse(&n.path()), n);
        }
        assert_eq!(StreamName::default_project("x").path(), "/v1/stream/x");
    }

    #[test]
    fn registry_and_reserved_names() {
        let n = parse("/v1/acme/stream/x");
        assert!(n.registry().is_registry() && n.registry().project == "acme");
        assert!(StreamName::default_project("__ds/subscriptions/x").is_reserved());
        assert!(!StreamName::default_project("x/__ds").is_reserved());
        assert!(!StreamName::default_project("__dsx").is_reserved());
    }
}
