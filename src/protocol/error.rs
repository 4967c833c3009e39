//! Every client-visible failure, with its status, code and message in one place.
//!
//! Error bodies are `{"error":{"code":"…","message":"…"}}`. Headers that an error must
//! carry (for example `Stream-Closed` on a 409) are added by the reply builder, which
//! knows the stream's state.

use std::borrow::Cow;
use std::fmt;

use super::headers;
use super::Offset;

/// A protocol-level failure. Client mistakes map to 4xx; only [`ProtocolError::Internal`]
/// and [`ProtocolError::Unavailable`] map to 5xx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    /// A request parameter or header is malformed. `code` names the field.
    BadRequest {
        /// Machine-readable code.
        code: &'static str,
        /// What was wrong.
        message: Cow<'static, str>,
    },
    /// The stream does not exist (or expired).
    StreamNotFound,
    /// The stream was deleted but is retained for its forks (§4.2).
    StreamGone,
    /// The stream exists with a different configuration (idempotent PUT).
    ConfigMismatch(&'static str),
    /// The stream is closed; carries the final offset (§5.3).
    StreamClosed {
        /// The stream's final offset.
        next_offset: Offset,
    },
    /// The request conflicts with the stream's state (sequence, content type).
    Conflict {
        /// Machine-readable code.
        code: &'static str,
        /// What conflicted.
        message: Cow<'static, str>,
    },
    /// Credentials are missing or invalid.
    Unauthorized {
        /// Machine-readable code.
        code: &'static str,
        /// Why.
        message: Cow<'static, str>,
    },
    /// The operation is not allowed on this stream.
    Forbidden {
        /// Machine-readable code.
        code: &'static str,
        /// Why.
        message: Cow<'static, str>,
    },
    /// A producer epoch older than the stored one (§5.2.1).
    StaleProducerEpoch {
        /// The producer's current epoch.
        current: u64,
    },
    /// A producer sequence number that skips ahead (§5.2.1).
    ProducerSeqGap {
        /// The sequence number the server expected.
        expected: u64,
        /// The sequence number it received.
        received: u64,
    },
    /// The request body exceeds the configured limit.
    PayloadTooLarge {
        /// The configured limit in bytes.
        limit: u64,
    },
    /// No such route.
    NotFound,
    /// The method is not supported on this route.
    MethodNotAllowed,
    /// Storage or platform failure; never caused by the client.
    Internal(Cow<'static, str>),
    /// A cold segment could not be read (missing, truncated or corrupt).
    SegmentUnreadable(Cow<'static, str>),
    /// A dependency (another stream's object) could not be reached.
    Unavailable(Cow<'static, str>),
}

impl ProtocolError {
    /// A 400 with the given machine-readable code.
    pub fn bad_request(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::BadRequest { code, message: message.into() }
    }

    /// A 409 with the given machine-readable code.
    pub fn conflict(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::Conflict { code, message: message.into() }
    }

    /// A 500 for a storage or platform failure.
    pub fn internal(message: impl Into<Cow<'static, str>>) -> Self {
        Self::Internal(message.into())
    }

    /// The HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            Self::BadRequest { .. } => 400,
            Self::Unauthorized { .. } => 401,
            Self::StaleProducerEpoch { .. } | Self::Forbidden { .. } => 403,
            Self::StreamNotFound | Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::ConfigMismatch(_)
            | Self::StreamClosed { .. }
            | Self::Conflict { .. }
            | Self::ProducerSeqGap { .. } => 409,
            Self::StreamGone => 410,
            Self::PayloadTooLarge { .. } => 413,
            Self::Internal(_) | Self::SegmentUnreadable(_) => 500,
            Self::Unavailable(_) => 503,
        }
    }

    /// The machine-readable code in the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. }
            | Self::Conflict { code, .. }
            | Self::Forbidden { code, .. }
            | Self::Unauthorized { code, .. } => code,
            Self::StreamNotFound => "STREAM_NOT_FOUND",
            Self::StreamGone => "STREAM_GONE",
            Self::StreamClosed { .. } => "STREAM_CLOSED",
            Self::ConfigMismatch(_) => "STREAM_CONFIG_MISMATCH",
            Self::StaleProducerEpoch { .. } => "PRODUCER_STALE_EPOCH",
            Self::ProducerSeqGap { .. } => "PRODUCER_SEQ_GAP",
            Self::PayloadTooLarge { .. } => "PAYLOAD_TOO_LARGE",
            Self::NotFound => "NOT_FOUND",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::Internal(_) => "INTERNAL",
            Self::SegmentUnreadable(_) => "SEGMENT_UNREADABLE",
            Self::Unavailable(_) => "UNAVAILABLE",
        }
    }

    /// The human-readable message in the JSON body.
    pub fn message(&self) -> Cow<'_, str> {
        match self {
            Self::BadRequest { message, .. }
            | Self::Conflict { message, .. }
            | Self::Forbidden { message, .. }
            | Self::Unauthorized { message, .. } => Cow::Borrowed(message.as_ref()),
            Self::StreamNotFound => "stream not found".into(),
            Self::StreamGone => "stream was deleted and is retained only for its forks".into(),
            Self::StreamClosed { .. } => "stream is closed".into(),
            Self::ConfigMismatch(what) => format!("stream already exists with a different {what}").into(),
            Self::StaleProducerEpoch { current } => {
                format!("producer epoch is stale; current epoch is {current}").into()
            }
            Self::ProducerSeqGap { expected, received } => {
                format!("producer sequence gap: expected {expected}, received {received}").into()
            }
            Self::PayloadTooLarge { limit } => {
                format!("request body exceeds the limit of {limit} bytes").into()
            }
            Self::NotFound => "not found".into(),
            Self::MethodNotAllowed => "method not allowed".into(),
            Self::Internal(m) | Self::Unavailable(m) => Cow::Borrowed(m.as_ref()),
            Self::SegmentUnreadable(why) => format!("stored data could not be read: {why}").into(),
        }
    }

    /// Headers the error carries besides the JSON body.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::StreamClosed { next_offset } => vec![
                (headers::STREAM_CLOSED, "true".to_owned()),
                (headers::STREAM_NEXT_OFFSET, next_offset.to_string()),
            ],
            Self::StaleProducerEpoch { current } => {
                vec![(headers::PRODUCER_EPOCH, current.to_string())]
            }
            Self::ProducerSeqGap { expected, received } => vec![
                (headers::PRODUCER_EXPECTED_SEQ, expected.to_string()),
                (headers::PRODUCER_RECEIVED_SEQ, received.to_string()),
            ],
            Self::Unauthorized { code, .. } => {
                let error = if *code == "AUTH_REQUIRED" { "" } else { ", error=\"invalid_token\"" };
                vec![("WWW-Authenticate", format!("Bearer realm=\"durable-streams\"{error}"))]
            }
            _ => Vec::new(),
        }
    }

    /// The JSON error body.
    pub fn to_json(&self) -> String {
        serde_json::json!({ "error": { "code": self.code(), "message": self.message() } }).to_string()
    }

    /// Parses a body produced by [`ProtocolError::to_json`] back into an error with the
    /// given status. Used when one stream object relays another's answer.
    pub fn from_json(status: u16, body: &[u8]) -> Self {
        #[derive(serde::Deserialize)]
        struct Body {
            error: Inner,
        }
        #[derive(serde::Deserialize)]
        struct Inner {
            code: String,
            message: String,
        }
        let parsed: Option<Body> = serde_json::from_slice(body).ok();
        let (code, message) = match parsed {
            Some(b) => (b.error.code, b.error.message),
            None => ("UPSTREAM".to_owned(), String::from_utf8_lossy(body).into_owned()),
        };
        let code = intern_code(&code);
        match status {
            400 => Self::bad_request(code, message),
            404 => Self::StreamNotFound,
            409 => Self::conflict(code, message),
            410 => Self::StreamGone,
            413 => Self::bad_request(code, message),
            s if s >= 500 => Self::Unavailable(message.into()),
            _ => Self::bad_request(code, message),
        }
    }
}

/// Maps a relayed code onto the static codes this crate emits, so relayed errors keep
/// their code without allocating a `'static` string.
fn intern_code(code: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "INVALID_OFFSET",
        "OFFSET_BEYOND_TAIL",
        "INVALID_FORK_OFFSET",
        "INVALID_SUB_OFFSET",
        "SUB_OFFSET_OUT_OF_RANGE",
        "CONTENT_TYPE_MISMATCH",
        "FORK_SOURCE_GONE",
        "FORK_GENERATION_MISMATCH",
        "STREAM_CLOSED",
        "SEGMENT_UNREADABLE",
    ];
    KNOWN.iter().find(|k| **k == code).copied().unwrap_or("UPSTREAM")
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status(), self.code(), self.message())
    }
}

impl std::error::Error for ProtocolError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_are_4xx_and_platform_errors_5xx() {
        let client = [
            ProtocolError::bad_request("X", "x"),
            ProtocolError::StreamNotFound,
            ProtocolError::StreamGone,
            ProtocolError::ConfigMismatch("content type"),
            ProtocolError::conflict("X", "x"),
            ProtocolError::StreamClosed { next_offset: Offset::ZERO },
            ProtocolError::StaleProducerEpoch { current: 1 },
            ProtocolError::Forbidden { code: "X", message: "x".into() },
            ProtocolError::Unauthorized { code: "X", message: "x".into() },
            ProtocolError::ProducerSeqGap { expected: 1, received: 3 },
            ProtocolError::PayloadTooLarge { limit: 1 },
            ProtocolError::NotFound,
            ProtocolError::MethodNotAllowed,
        ];
        for e in client {
            assert!((400..500).contains(&e.status()), "{e}");
        }
        assert_eq!(ProtocolError::internal("x").status(), 500);
    }

    #[test]
    fn json_body_round_trips_through_a_relay() {
        let e = ProtocolError::bad_request("INVALID_OFFSET", "bad offset");
        let back = ProtocolError::from_json(e.status(), e.to_json().as_bytes());
        assert_eq!(back, e);
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(v["error"]["code"], "INVALID_OFFSET");
        assert_eq!(v["error"]["message"], "bad offset");
    }
}
