//! Stream URLs: `/v1/stream/<stream-id>`, where the id may contain `/` (§3).

use super::{percent, ProtocolError};

/// The path prefix under which every stream lives.
pub const STREAM_PREFIX: &str = "/v1/stream/";

/// The first segment of the reserved subscription API (§6).
pub const RESERVED_SEGMENT: &str = "__ds";

/// The registry stream: creations and deletions of every other stream, written by the
/// server only.
pub const REGISTRY_ID: &str = "__registry__";

/// The longest stream id accepted, in bytes.
pub const MAX_STREAM_ID_BYTES: usize = 1024;

/// Extracts the decoded stream id from a request path, or `None` if the path is not
/// under [`STREAM_PREFIX`].
pub fn stream_id(path: &str) -> Option<Result<String, ProtocolError>> {
    let raw = path.strip_prefix(STREAM_PREFIX)?;
    Some(decode_id(raw))
}

/// The path of the stream with the given id.
pub fn stream_path(id: &str) -> String {
    format!("{STREAM_PREFIX}{}", percent::encode_path(id))
}

fn decode_id(raw: &str) -> Result<String, ProtocolError> {
    let id = percent::decode(raw).ok_or_else(|| {
        ProtocolError::bad_request("INVALID_STREAM_ID", "stream id is not valid percent-encoded UTF-8")
    })?;
    if id.is_empty() {
        return Err(ProtocolError::bad_request("INVALID_STREAM_ID", "stream id is empty"));
    }
    if id.len() > MAX_STREAM_ID_BYTES {
        return Err(ProtocolError::bad_request("INVALID_STREAM_ID", "stream id is too long"));
    }
    if id.chars().any(char::is_control) {
        return Err(ProtocolError::bad_request("INVALID_STREAM_ID", "stream id contains control characters"));
    }
    // The runtime turns raw path bytes that are not UTF-8 into U+FFFD before we see the
    // URL, so different raw paths would collapse into one mangled id.
    if id.contains(char::REPLACEMENT_CHARACTER) {
        return Err(ProtocolError::bad_request(
            "INVALID_STREAM_ID",
            "stream id contains U+FFFD, the stand-in for bytes that were not UTF-8",
        ));
    }
    Ok(id)
}

/// Whether a stream id falls under the reserved `__ds` namespace.
pub fn is_reserved(id: &str) -> bool {
    id.split('/').next() == Some(RESERVED_SEGMENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_decoded_and_may_contain_slashes() {
        assert_eq!(stream_id("/v1/stream/a/b%20c").unwrap().unwrap(), "a/b c");
        assert!(stream_id("/v1/streams/x").is_none());
        assert!(stream_id("/v1/stream/").unwrap().is_err());
        assert!(stream_id("/v1/stream/%zz").unwrap().is_err());
        assert!(stream_id("/v1/stream/a%00b").unwrap().is_err());
    }

    #[test]
    fn ids_with_bytes_that_were_not_utf8_are_rejected() {
        // Percent-encoded invalid UTF-8, and the U+FFFD the runtime puts in place of raw
        // invalid bytes.
        for path in ["/v1/stream/a%ff", "/v1/stream/a%C3", "/v1/stream/a%EF%BF%BDb"] {
            assert_eq!(stream_id(path).unwrap().unwrap_err().code(), "INVALID_STREAM_ID", "{path}");
        }
        assert_eq!(stream_id("/v1/stream/caf%C3%A9").unwrap().unwrap(), "café");
    }

    #[test]
    fn paths_round_trip_through_ids() {
        let id = "events/2026 ü?#";
        assert_eq!(stream_id(&stream_path(id)).unwrap().unwrap(), id);
    }

    #[test]
    fn reserved_namespace() {
        assert!(is_reserved("__ds/subscriptions/x") && is_reserved("__ds"));
        assert!(!is_reserved("x/__ds") && !is_reserved("__dsx"));
    }
}
