//! Every client-visible failure: its code, its status and its headers, in one place.
//!
//! Error bodies are `{"error":{"code":"…","message":"…"}}`. Each [`ErrorCode`] is
//! always sent with the same status, so the status follows from the code and cannot
//! disagree with it. The headers an error carries come from it too: the data of
//! [`ProtocolError::StreamClosed`] and the producer rejections, `WWW-Authenticate` for
//! a 401 and `Allow` for a 405.

use std::borrow::Cow;
use std::fmt;

use super::headers;
use super::Offset;

/// Declares [`ErrorCode`] from one table: variant, wire code, status.
macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $wire:literal, $status:literal;)*) => {
        /// A machine-readable error code, as sent in the JSON body.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code.
            pub const ALL: &'static [ErrorCode] = &[$(Self::$variant,)*];

            /// The code as sent on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $wire,)*
                }
            }

            /// The HTTP status this code is always sent with.
            pub fn status(self) -> u16 {
                match self {
                    $(Self::$variant => $status,)*
                }
            }
        }
    };
}

error_codes! {
    // 400: the request is malformed.
    /// The stream id in the path is not valid.
    InvalidStreamId = "INVALID_STREAM_ID", 400;
    /// The project id in the path is not valid.
    InvalidProjectId = "INVALID_PROJECT_ID", 400;
    /// An offset that is malformed, or not at a JSON message boundary.
    InvalidOffset = "INVALID_OFFSET", 400;
    /// An offset past the stream's tail.
    OffsetBeyondTail = "OFFSET_BEYOND_TAIL", 400;
    /// A live read without an offset.
    OffsetRequired = "OFFSET_REQUIRED", 400;
    /// A query parameter that cannot be read.
    InvalidQuery = "INVALID_QUERY", 400;
    /// A `live` value other than `long-poll` or `sse`.
    InvalidLive = "INVALID_LIVE", 400;
    /// A `public` value other than `true` or `false`.
    InvalidPublic = "INVALID_PUBLIC", 400;
    /// A parameter given twice.
    DuplicateParameter = "DUPLICATE_PARAMETER", 400;
    /// An `rk` that is not a reader key the server issues.
    InvalidReaderKey = "INVALID_READER_KEY", 400;
    /// A reader-key rotation that is not an empty POST with `Stream-Reader-Key: rotate`.
    InvalidReaderKeyRequest = "INVALID_READER_KEY_REQUEST", 400;
    /// A `Content-Type` that is too long.
    InvalidContentType = "INVALID_CONTENT_TYPE", 400;
    /// A `Stream-Seq` that is too long.
    InvalidStreamSeq = "INVALID_STREAM_SEQ", 400;
    /// A body that is not JSON, on a JSON stream.
    InvalidJson = "INVALID_JSON", 400;
    /// An empty JSON array appended to a JSON stream.
    EmptyJsonArray = "EMPTY_JSON_ARRAY", 400;
    /// An append with neither a body nor `Stream-Closed: true`.
    EmptyBody = "EMPTY_BODY", 400;
    /// An append with a body and no `Content-Type`.
    MissingContentType = "MISSING_CONTENT_TYPE", 400;
    /// A `Stream-TTL` that is not a plain decimal number of seconds.
    InvalidTtl = "INVALID_TTL", 400;
    /// A `Stream-Expires-At` that is not an RFC 3339 timestamp.
    InvalidExpiresAt = "INVALID_EXPIRES_AT", 400;
    /// Both `Stream-TTL` and `Stream-Expires-At`.
    TtlAndExpiresAt = "TTL_AND_EXPIRES_AT", 400;
    /// An empty or overlong `Producer-Id`.
    InvalidProducerId = "INVALID_PRODUCER_ID", 400;
    /// Some of the producer headers but not all three.
    IncompleteProducerHeaders = "INCOMPLETE_PRODUCER_HEADERS", 400;
    /// A `Producer-Epoch` or `Producer-Seq` that is not a number in range.
    InvalidProducerNumber = "INVALID_PRODUCER_NUMBER", 400;
    /// A new producer epoch that does not start at sequence 0.
    InvalidProducerSeq = "INVALID_PRODUCER_SEQ", 400;
    /// Fork offsets without `Stream-Forked-From`.
    ForkHeadersWithoutSource = "FORK_HEADERS_WITHOUT_SOURCE", 400;
    /// A fork source that is not a stream path, or the stream itself.
    InvalidForkSource = "INVALID_FORK_SOURCE", 400;
    /// A fork offset that is malformed or beyond the source's tail.
    InvalidForkOffset = "INVALID_FORK_OFFSET", 400;
    /// A `Stream-Fork-Sub-Offset` that is not a number.
    InvalidSubOffset = "INVALID_SUB_OFFSET", 400;
    /// A sub-offset beyond the record after the fork offset.
    SubOffsetOutOfRange = "SUB_OFFSET_OUT_OF_RANGE", 400;
    /// A request body that broke off before it was complete.
    IncompleteBody = "INCOMPLETE_BODY", 400;
    /// A session id that is not 1–128 of `A-Z a-z 0-9 _ - : .`.
    InvalidSessionId = "INVALID_SESSION_ID", 400;
    /// A request body that is not the JSON the route takes.
    InvalidBody = "INVALID_BODY", 400;
    /// A call between stream objects that cannot be read.
    InvalidInternalCall = "INVALID_INTERNAL_CALL", 400;
    /// An SSE read that reached a stream object without a WebSocket upgrade.
    UpgradeRequired = "UPGRADE_REQUIRED", 400;
    /// A subscription's configuration is not valid (§6.2).
    InvalidSubscription = "INVALID_SUBSCRIPTION", 400;
    /// A webhook URL the server will not call (§12.8).
    WebhookUrlRejected = "WEBHOOK_URL_REJECTED", 400;

    // 401: credentials are missing or not valid.
    /// No token where one is needed.
    AuthRequired = "AUTH_REQUIRED", 401;
    /// An `Authorization` header that is not `Bearer <token>`.
    InvalidAuthorization = "INVALID_AUTHORIZATION", 401;
    /// A project without a signing secret.
    UnknownProject = "UNKNOWN_PROJECT", 401;
    /// A token that is malformed or wrongly signed.
    InvalidToken = "INVALID_TOKEN", 401;
    /// A token past its `exp`.
    TokenExpired = "TOKEN_EXPIRED", 401;
    /// A token before its `nbf`.
    TokenNotYetValid = "TOKEN_NOT_YET_VALID", 401;
    /// An admin request without a Cloudflare Access token.
    AccessRequired = "ACCESS_REQUIRED", 401;

    // 403: the request is understood and refused.
    /// A token for another project.
    WrongProject = "WRONG_PROJECT", 403;
    /// A read token used for a write.
    InsufficientScope = "INSUFFICIENT_SCOPE", 403;
    /// A token restricted to another stream.
    StreamNotAllowed = "STREAM_NOT_ALLOWED", 403;
    /// A fork of another project's stream.
    ForkAcrossProjects = "FORK_ACROSS_PROJECTS", 403;
    /// A write to the registry stream.
    RegistryReadOnly = "REGISTRY_READ_ONLY", 403;
    /// A producer epoch older than the stored one (§5.2.1).
    ProducerStaleEpoch = "PRODUCER_STALE_EPOCH", 403;
    /// A Cloudflare Access token that does not verify for the admin application.
    AccessDenied = "ACCESS_DENIED", 403;

    // 404, 405, 409, 410, 413.
    /// No stream at this path (or it expired).
    StreamNotFound = "STREAM_NOT_FOUND", 404;
    /// No such route.
    NotFound = "NOT_FOUND", 404;
    /// No session with this id.
    SessionNotFound = "SESSION_NOT_FOUND", 404;
    /// No subscription with this id (§6.3).
    SubscriptionNotFound = "SUBSCRIPTION_NOT_FOUND", 404;
    /// No project with this id in the registry.
    ProjectNotFound = "PROJECT_NOT_FOUND", 404;
    /// A method the route does not support.
    MethodNotAllowed = "METHOD_NOT_ALLOWED", 405;
    /// A PUT of an existing stream with another configuration.
    StreamConfigMismatch = "STREAM_CONFIG_MISMATCH", 409;
    /// An append to a closed stream (§5.3).
    StreamClosed = "STREAM_CLOSED", 409;
    /// An append, or fork, of another content type than the stream's.
    ContentTypeMismatch = "CONTENT_TYPE_MISMATCH", 409;
    /// A `Stream-Seq` not greater than the last one.
    SeqRegression = "SEQ_REGRESSION", 409;
    /// A producer sequence number that skips ahead (§5.2.1).
    ProducerSeqGap = "PRODUCER_SEQ_GAP", 409;
    /// A fork of a stream that was deleted.
    ForkSourceGone = "FORK_SOURCE_GONE", 409;
    /// A fork reading a source that was replaced by a new stream.
    ForkGenerationMismatch = "FORK_GENERATION_MISMATCH", 409;
    /// A PUT at the path of a deleted stream still retained for its forks.
    StreamRetained = "STREAM_RETAINED", 409;
    /// A reader-key rotation on a public stream.
    PublicStream = "PUBLIC_STREAM", 409;
    /// A project created with an id the registry already holds.
    ProjectExists = "PROJECT_EXISTS", 409;
    /// Revoking a project's only signing key.
    LastSigningKey = "LAST_SIGNING_KEY", 409;
    /// A project record at its limit of keys or origins.
    LimitReached = "LIMIT_REACHED", 409;
    /// A subscription with this id exists with another configuration (§6.2).
    SubscriptionExists = "SUBSCRIPTION_ALREADY_EXISTS", 409;
    /// A callback, ack or release for a wake that is no longer current (§7.3).
    Fenced = "FENCED", 409;
    /// Another worker holds the subscription's lease (§7.2).
    AlreadyClaimed = "ALREADY_CLAIMED", 409;
    /// A claim while no linked stream has anything unacknowledged (§7.2).
    NoPendingWork = "NO_PENDING_WORK", 409;
    /// An ack for a stream the subscription does not link, or an offset behind its
    /// cursor or beyond the stream's tail (§7).
    InvalidAck = "INVALID_ACK", 409;
    /// A stream deleted but retained for its forks (§4.2).
    StreamGone = "STREAM_GONE", 410;
    /// A body over the configured limit.
    PayloadTooLarge = "PAYLOAD_TOO_LARGE", 413;

    // 5xx: never the client's doing.
    /// A storage or platform failure.
    Internal = "INTERNAL", 500;
    /// A cold segment that is missing, truncated or corrupt.
    SegmentUnreadable = "SEGMENT_UNREADABLE", 500;
    /// A dependency (another stream's object, a binding) that could not be reached.
    Unavailable = "UNAVAILABLE", 503;
    /// The admin worker's gate is not configured, so it lets nothing through.
    AdminGateUnconfigured = "ADMIN_GATE_UNCONFIGURED", 503;
    /// The admin worker has no project registry (`AUTH_KV`) bound.
    RegistryUnconfigured = "REGISTRY_UNCONFIGURED", 503;
}

impl ErrorCode {
    /// The code for a wire name.
    pub fn parse(wire: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_str() == wire)
    }

    /// Headers every error with this code carries.
    fn headers(self) -> Vec<(&'static str, String)> {
        match self {
            // Without a token the client is told what to send; with a bad one, that it
            // is bad (RFC 6750 §3).
            Self::AuthRequired => vec![("WWW-Authenticate", "Bearer realm=\"durable-streams\"".to_owned())],
            // Access sends its token in a header of its own; there is no bearer to ask for.
            Self::AccessRequired => Vec::new(),
            _ if self.status() == 401 => vec![(
                "WWW-Authenticate",
                "Bearer realm=\"durable-streams\", error=\"invalid_token\"".to_owned(),
            )],
            Self::MethodNotAllowed => vec![("Allow", ALLOWED_METHODS.to_owned())],
            _ => Vec::new(),
        }
    }
}

/// The methods the worker serves, for `Allow`.
pub const ALLOWED_METHODS: &str = "GET, HEAD, PUT, POST, DELETE, OPTIONS";

/// A protocol-level failure. Client mistakes are 4xx; only the codes of storage,
/// platform and dependency failures are 5xx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    /// A failure that its code and message describe completely.
    Failed {
        /// What failed; also decides the status.
        code: ErrorCode,
        /// For people: what was wrong.
        message: Cow<'static, str>,
    },
    /// The stream is closed; carries the final offset (§5.3).
    StreamClosed {
        /// The stream's final offset.
        next_offset: Offset,
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
    /// A pull-wake claim while another worker holds the lease (§7.2).
    AlreadyClaimed {
        /// The worker holding the lease.
        holder: String,
        /// The subscription's current generation.
        generation: u64,
    },
}

impl ProtocolError {
    /// A failure with `code`.
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self::Failed { code, message: message.into() }
    }

    /// No stream at this path (or it expired).
    pub fn stream_not_found() -> Self {
        Self::new(ErrorCode::StreamNotFound, "stream not found")
    }

    /// The stream was deleted but is retained for its forks (§4.2).
    pub fn stream_gone() -> Self {
        Self::new(ErrorCode::StreamGone, "stream was deleted and is retained only for its forks")
    }

    /// No such route.
    pub fn not_found() -> Self {
        Self::new(ErrorCode::NotFound, "not found")
    }

    /// The route does not support the method.
    pub fn method_not_allowed() -> Self {
        Self::new(ErrorCode::MethodNotAllowed, "method not allowed")
    }

    /// An existing stream has another configuration: `what` differs.
    pub fn config_mismatch(what: &str) -> Self {
        Self::new(ErrorCode::StreamConfigMismatch, format!("stream already exists with a different {what}"))
    }

    /// A body over `limit` bytes.
    pub fn payload_too_large(limit: u64) -> Self {
        Self::new(ErrorCode::PayloadTooLarge, format!("request body exceeds the limit of {limit} bytes"))
    }

    /// A storage or platform failure.
    pub fn internal(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    /// A cold segment that cannot be read, and why.
    pub fn segment_unreadable(why: &str) -> Self {
        Self::new(ErrorCode::SegmentUnreadable, format!("stored data could not be read: {why}"))
    }

    /// A dependency that could not be reached.
    pub fn unavailable(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::Unavailable, message)
    }

    /// The machine-readable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Failed { code, .. } => *code,
            Self::StreamClosed { .. } => ErrorCode::StreamClosed,
            Self::StaleProducerEpoch { .. } => ErrorCode::ProducerStaleEpoch,
            Self::ProducerSeqGap { .. } => ErrorCode::ProducerSeqGap,
            Self::AlreadyClaimed { .. } => ErrorCode::AlreadyClaimed,
        }
    }

    /// The HTTP status, which the code decides.
    pub fn status(&self) -> u16 {
        self.code().status()
    }

    /// The human-readable message in the JSON body.
    pub fn message(&self) -> Cow<'_, str> {
        match self {
            Self::Failed { message, .. } => Cow::Borrowed(message.as_ref()),
            Self::StreamClosed { .. } => "stream is closed".into(),
            Self::StaleProducerEpoch { current } => {
                format!("producer epoch is stale; current epoch is {current}").into()
            }
            Self::ProducerSeqGap { expected, received } => {
                format!("producer sequence gap: expected {expected}, received {received}").into()
            }
            Self::AlreadyClaimed { holder, .. } => format!("the subscription is claimed by {holder}").into(),
        }
    }

    /// Headers the error carries besides the JSON body.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::Failed { code, .. } => code.headers(),
            Self::StreamClosed { next_offset } => vec![
                (headers::STREAM_CLOSED, "true".to_owned()),
                (headers::STREAM_NEXT_OFFSET, next_offset.to_string()),
            ],
            Self::StaleProducerEpoch { current } => vec![(headers::PRODUCER_EPOCH, current.to_string())],
            Self::ProducerSeqGap { expected, received } => vec![
                (headers::PRODUCER_EXPECTED_SEQ, expected.to_string()),
                (headers::PRODUCER_RECEIVED_SEQ, received.to_string()),
            ],
            Self::AlreadyClaimed { .. } => Vec::new(),
        }
    }

    /// The JSON error body.
    pub fn to_json(&self) -> String {
        let mut error = serde_json::json!({ "code": self.code().as_str(), "message": self.message() });
        if let (Self::AlreadyClaimed { holder, generation }, Some(fields)) = (self, error.as_object_mut()) {
            fields.insert("current_holder".into(), holder.as_str().into());
            fields.insert("generation".into(), (*generation).into());
        }
        serde_json::json!({ "error": error }).to_string()
    }

    /// The error another worker or stream object answered with, from its status, headers
    /// and body, so that relaying it keeps its code, status, message and headers. An
    /// answer that is not one of ours (no error body, an unknown code, or a status that
    /// does not match the code) is a dependency failure: it says what came back.
    pub fn relayed<'a>(status: u16, header: impl Fn(&str) -> Option<&'a str>, body: &[u8]) -> Self {
        #[derive(serde::Deserialize)]
        struct Body {
            error: Inner,
        }
        #[derive(serde::Deserialize)]
        struct Inner {
            code: String,
            message: String,
        }
        let Ok(Body { error }) = serde_json::from_slice::<Body>(body) else {
            let text = String::from_utf8_lossy(body);
            return Self::unavailable(format!("answered {status} without an error body: {text}"));
        };
        let Some(code) = ErrorCode::parse(&error.code).filter(|c| c.status() == status) else {
            return Self::unavailable(format!("answered {status} {}: {}", error.code, error.message));
        };
        let number = |name: &str| header(name).and_then(|v| v.trim().parse::<u64>().ok());
        let structured = match code {
            ErrorCode::StreamClosed => header(headers::STREAM_NEXT_OFFSET)
                .and_then(|o| o.parse::<Offset>().ok())
                .map(|next_offset| Self::StreamClosed { next_offset }),
            ErrorCode::ProducerStaleEpoch => {
                number(headers::PRODUCER_EPOCH).map(|current| Self::StaleProducerEpoch { current })
            }
            ErrorCode::ProducerSeqGap => {
                match (number(headers::PRODUCER_EXPECTED_SEQ), number(headers::PRODUCER_RECEIVED_SEQ)) {
                    (Some(expected), Some(received)) => Some(Self::ProducerSeqGap { expected, received }),
                    _ => None,
                }
            }
            _ => None,
        };
        structured.unwrap_or_else(|| Self::new(code, error.message))
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status(), self.code().as_str(), self.message())
    }
}

impl std::error::Error for ProtocolError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_one_wire_name_and_one_status() {
        for (i, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(*code));
            assert!(ErrorCode::ALL[i + 1..].iter().all(|c| c.as_str() != code.as_str()), "{code:?}");
            assert!((400..600).contains(&code.status()), "{code:?}");
        }
        assert_eq!(ErrorCode::parse("UPSTREAM"), None);
    }

    #[test]
    fn client_errors_are_4xx_and_platform_errors_5xx() {
        let client = [
            ProtocolError::new(ErrorCode::InvalidOffset, "x"),
            ProtocolError::stream_not_found(),
            ProtocolError::stream_gone(),
            ProtocolError::config_mismatch("content type"),
            ProtocolError::new(ErrorCode::SeqRegression, "x"),
            ProtocolError::StreamClosed { next_offset: Offset::ZERO },
            ProtocolError::StaleProducerEpoch { current: 1 },
            ProtocolError::new(ErrorCode::WrongProject, "x"),
            ProtocolError::new(ErrorCode::InvalidToken, "x"),
            ProtocolError::ProducerSeqGap { expected: 1, received: 3 },
            ProtocolError::payload_too_large(1),
            ProtocolError::not_found(),
            ProtocolError::method_not_allowed(),
            ProtocolError::new(ErrorCode::IncompleteBody, "x"),
        ];
        for e in client {
            assert!((400..500).contains(&e.status()), "{e}");
        }
        assert_eq!(ProtocolError::internal("x").status(), 500);
        assert_eq!(ProtocolError::segment_unreadable("x").status(), 500);
        assert_eq!(ProtocolError::unavailable("x").status(), 503);
    }

    #[test]
    fn headers_come_from_the_error() {
        let header = |e: &ProtocolError, name: &str| {
            e.headers().into_iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
        };
        let required = ProtocolError::new(ErrorCode::AuthRequired, "x");
        assert_eq!(
            header(&required, "www-authenticate").as_deref(),
            Some("Bearer realm=\"durable-streams\"")
        );
        for code in [ErrorCode::InvalidToken, ErrorCode::TokenExpired, ErrorCode::UnknownProject] {
            let invalid = header(&ProtocolError::new(code, "x"), "www-authenticate").unwrap_or_default();
            assert!(invalid.ends_with("error=\"invalid_token\""), "{code:?}");
        }
        assert_eq!(header(&ProtocolError::method_not_allowed(), "allow").as_deref(), Some(ALLOWED_METHODS));
        assert_eq!(header(&ProtocolError::not_found(), "allow"), None);
        let gap = ProtocolError::ProducerSeqGap { expected: 1, received: 3 };
        assert_eq!(header(&gap, "producer-expected-seq").as_deref(), Some("1"));
    }

    /// What a relay sees of an error: its status, headers and body.
    fn relay(e: &ProtocolError) -> ProtocolError {
        let headers = e.headers();
        let header =
            |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
        ProtocolError::relayed(e.status(), header, e.to_json().as_bytes())
    }

    #[test]
    fn every_error_round_trips_through_a_relay() {
        let mut errors: Vec<ProtocolError> =
            ErrorCode::ALL.iter().map(|c| ProtocolError::new(*c, format!("about {}", c.as_str()))).collect();
        errors.extend([
            ProtocolError::StreamClosed { next_offset: Offset::in_segment(2, 40) },
            ProtocolError::StaleProducerEpoch { current: 4 },
            ProtocolError::ProducerSeqGap { expected: 1, received: 3 },
            ProtocolError::payload_too_large(1024),
        ]);
        for e in errors {
            let back = relay(&e);
            assert_eq!((back.status(), back.code(), back.message()), (e.status(), e.code(), e.message()));
            assert_eq!(back.headers(), e.headers(), "{e}");
        }
        let v: serde_json::Value =
            serde_json::from_str(&ProtocolError::new(ErrorCode::InvalidOffset, "bad offset").to_json())
                .unwrap();
        assert_eq!(v["error"]["code"], "INVALID_OFFSET");
        assert_eq!(v["error"]["message"], "bad offset");
    }

    #[test]
    fn answers_that_are_not_ours_are_dependency_failures() {
        let none = |_: &str| None;
        let foreign = ProtocolError::relayed(500, none, b"worker exceeded its memory");
        assert_eq!(foreign.code(), ErrorCode::Unavailable);
        assert!(foreign.message().contains("worker exceeded its memory"));
        let unknown = ProtocolError::relayed(400, none, br#"{"error":{"code":"NEW_CODE","message":"m"}}"#);
        assert_eq!(unknown.code(), ErrorCode::Unavailable);
        let mismatched =
            ProtocolError::relayed(400, none, br#"{"error":{"code":"STREAM_GONE","message":"m"}}"#);
        assert_eq!(mismatched.code(), ErrorCode::Unavailable);
    }
}
