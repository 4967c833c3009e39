//! Fork request headers (§4.2).

use super::path::StreamName;
use super::{Offset, ProtocolError};
use crate::protocol::ErrorCode;

/// A validated fork request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForkRequest {
    /// The source stream.
    pub source: StreamName,
    /// Where the fork diverges; `None` means the source's tail at creation.
    pub offset: Option<Offset>,
    /// How many bytes (or JSON messages) of the record after `offset` the fork keeps.
    pub sub_offset: u64,
}

impl ForkRequest {
    /// Parses the three fork headers. `Ok(None)` when the request is not a fork.
    pub fn from_headers(
        forked_from: Option<&str>,
        fork_offset: Option<&str>,
        sub_offset: Option<&str>,
    ) -> Result<Option<Self>, ProtocolError> {
        let Some(from) = forked_from else {
            if fork_offset.is_some() || sub_offset.is_some() {
                return Err(ProtocolError::new(
                    ErrorCode::ForkHeadersWithoutSource,
                    "Stream-Fork-Offset and Stream-Fork-Sub-Offset require Stream-Forked-From",
                ));
            }
            return Ok(None);
        };
        let source = source_id(from)?;
        let offset = fork_offset
            .map(|o| {
                o.parse::<Offset>().map_err(|_| {
                    ProtocolError::new(
                        ErrorCode::InvalidForkOffset,
                        "Stream-Fork-Offset is not a valid offset",
                    )
                })
            })
            .transpose()?;
        let sub_offset = sub_offset.map(parse_sub_offset).transpose()?.unwrap_or(0);
        Ok(Some(Self { source, offset, sub_offset }))
    }
}

/// Accepts a stream path (`/v1/stream/x`, `/v1/<project>/stream/x`) or an absolute URL
/// on this server.
fn source_id(value: &str) -> Result<StreamName, ProtocolError> {
    let value = value.trim();
    let path = match value.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => value,
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    StreamName::parse(path).unwrap_or_else(|| {
        Err(ProtocolError::new(
            ErrorCode::InvalidForkSource,
            "Stream-Forked-From must be the path of a stream on this server",
        ))
    })
}

fn parse_sub_offset(value: &str) -> Result<u64, ProtocolError> {
    let canonical = !value.is_empty()
        && value.bytes().all(|b| b.is_ascii_digit())
        && (value == "0" || !value.starts_with('0'));
    canonical.then(|| value.parse::<u64>().ok()).flatten().ok_or_else(|| {
        ProtocolError::new(
            ErrorCode::InvalidSubOffset,
            "Stream-Fork-Sub-Offset must be a non-negative integer without sign or leading zeros",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_a_fork_without_headers() {
        assert_eq!(ForkRequest::from_headers(None, None, None).unwrap(), None);
    }

    #[test]
    fn fork_details_without_a_source_are_rejected() {
        assert!(ForkRequest::from_headers(None, Some("0000000000000000_0000000000000000"), None).is_err());
        assert!(ForkRequest::from_headers(None, None, Some("0")).is_err());
    }

    #[test]
    fn parses_source_offset_and_sub_offset() {
        let f = ForkRequest::from_headers(
            Some("/v1/stream/src-1"),
            Some("0000000000000000_0000000000000003"),
            Some("2"),
        )
        .unwrap()
        .unwrap();
        let source = StreamName::default_project("src-1");
        assert_eq!(f, ForkRequest { source, offset: Some(Offset::new(3)), sub_offset: 2 });
        let url = ForkRequest::from_headers(Some("http://h:1/v1/stream/a%2Fb"), None, None).unwrap().unwrap();
        assert_eq!(url.source, StreamName::default_project("a/b"));
        let other = ForkRequest::from_headers(Some("/v1/acme/stream/s"), None, None).unwrap().unwrap();
        assert_eq!(other.source.project, "acme");
    }

    #[test]
    fn malformed_values_are_rejected() {
        for bad in ["-1", "abc", "1.5", "05", "+1", ""] {
            assert!(ForkRequest::from_headers(Some("/v1/stream/s"), None, Some(bad)).is_err(), "{bad}");
        }
        assert!(ForkRequest::from_headers(Some("/v1/stream/s"), Some("-1"), None).is_err());
        assert!(ForkRequest::from_headers(Some("/elsewhere/s"), None, None).is_err());
    }
}
