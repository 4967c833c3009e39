//! What goes over the wire: the JSON bodies of the public API (the reference's field
//! names, so its clients work unchanged), the calls between the worker and its Durable
//! Objects, and the queue's fan-out jobs.

use durable_streams_cloudflare::http::{Body, Method, Reply, Request};
use durable_streams_cloudflare::protocol::{ErrorCode, ProtocolError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The body of `POST …/subscribe` and `DELETE …/unsubscribe`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionBody {
    /// The source stream's id.
    pub stream_id: String,
    /// The session's id.
    pub session_id: String,
}

impl SubscriptionBody {
    /// Parses a request body; anything else is a 400 that says what is expected.
    pub fn parse(body: &[u8]) -> Result<Self, ProtocolError> {
        serde_json::from_slice(body).map_err(|e| {
            ProtocolError::new(
                ErrorCode::InvalidBody,
                format!("the body must be JSON {{\"streamId\": …, \"sessionId\": …}}: {e}"),
            )
        })
    }
}

/// The answer to a subscribe.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscribed {
    /// The session's id.
    pub session_id: String,
    /// The source stream's id.
    pub stream_id: String,
    /// Where the session's messages are read, in core.
    pub session_stream_path: String,
    /// When the session expires unless touched (ms since the epoch).
    pub expires_at: i64,
    /// Whether this subscribe created the session.
    pub is_new_session: bool,
    /// With auth on: the key readers put in session-stream URLs as `rk=…`, so caches in
    /// front of core can serve them (see docs/security.md).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reader_key: Option<String>,
}

/// One subscription of a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionInfo {
    /// The source stream's id.
    pub stream_id: String,
    /// When it was made (ms since the epoch).
    pub subscribed_at: i64,
}

/// The answer to `GET …/session/<id>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    /// The session's id.
    pub session_id: String,
    /// Where its messages are read, in core.
    pub session_stream_path: String,
    /// When it expires unless touched (ms since the epoch).
    pub expires_at: i64,
    /// The content type of its stream (that of the first stream it followed).
    pub content_type: String,
    /// What it follows.
    pub subscriptions: Vec<SubscriptionInfo>,
    /// With auth on, the session stream's reader key.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reader_key: Option<String>,
}

/// A call to a session's object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum SessionCall {
    /// Follow `stream` from `start`, creating the session (and its stream) if it is new.
    Subscribe {
        /// The session's object key, `<project>/<id>` (its object learns its name here).
        session: String,
        /// The source stream's id.
        stream: String,
        /// The source's content type, which a new session stream takes.
        content_type: String,
        /// The source offset the subscription starts at: its tail now.
        start: String,
    },
    /// Stop following `stream`.
    Unsubscribe {
        /// The source stream's id.
        stream: String,
    },
    /// The session's state.
    Info,
    /// Keep the session alive for another TTL.
    Touch,
    /// End the session.
    Delete,
    /// Bring the session's copy of `stream` up to `to` at least. `bytes` are the source's
    /// stored bytes from `from` to `page_end`, when the caller has them.
    Deliver(Delivery),
}

/// Source data for sessions, see [`SessionCall::Deliver`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The source stream's id.
    pub stream: String,
    /// Where `bytes` start.
    pub from: String,
    /// The offset every session must reach.
    pub to: String,
    /// The source's read answer from `from`: its body (base64) and where it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<Page>,
}

/// One read answer of a source: its body and the offset after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// The body, base64.
    pub body_b64: String,
    /// `Stream-Next-Offset`.
    pub end: String,
}

impl Page {
    /// A page of `body`, ending at `end`.
    pub fn new(body: &[u8], end: String) -> Self {
        use base64::Engine as _;
        Self { body_b64: base64::engine::general_purpose::STANDARD.encode(body), end }
    }

    /// The body.
    pub fn body(&self) -> Result<Vec<u8>, ProtocolError> {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(&self.body_b64)
            .map_err(|e| ProtocolError::new(ErrorCode::InvalidInternalCall, format!("page body: {e}")))
    }
}

/// How a delivery to one session went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivered {
    /// The session has everything up to the target.
    Done,
    /// The session does not exist or no longer follows the source: drop it.
    Stale,
    /// Core could not be written or read; worth a retry.
    Failed,
    /// Core refused the write for good (a 4xx other than 404); retrying will not help.
    Refused,
}

/// A call to a source stream's object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum SourceCall {
    /// Add a subscriber (kept with its first subscription time).
    Add {
        /// The source's object key, `<project>/<stream>`.
        source: String,
        /// The session id.
        session: String,
        /// The source's tail when the session subscribed.
        start: String,
    },
    /// Remove subscribers.
    Remove {
        /// The source's object key.
        source: String,
        /// The session ids.
        sessions: Vec<String>,
    },
    /// Bring every subscriber up to `to`, after a publish.
    Fanout {
        /// The source's object key.
        source: String,
        /// The source offset after the publish.
        to: String,
    },
    /// How many subscribers, for checks and the dashboards.
    Count,
    /// A page of subscribers by session id, after `after`, for the dashboards: who follows
    /// this stream, and since when.
    Subscribers {
        /// The last id of the previous page.
        after: Option<String>,
        /// At most this many.
        limit: usize,
    },
}

/// One subscriber of a source, as listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriberRow {
    /// The session id.
    pub session_id: String,
    /// When it subscribed (ms).
    pub subscribed_at: i64,
}

/// How a fan-out went, as `Stream-Fanout-*` headers report it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FanoutReport {
    /// Subscribers of the source.
    pub count: usize,
    /// Sessions brought up to date, or handed to the queue.
    pub successes: usize,
    /// Sessions that could not be.
    pub failures: usize,
    /// `inline`, `queued` or `circuit-open`.
    pub mode: String,
}

/// A fan-out job on the queue: bring these sessions up to `to` on `source`. It carries
/// offsets, not data, so any message size works; the consumer reads the source once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FanoutJob {
    /// The source's object key.
    pub source: String,
    /// Where the consumer starts reading.
    pub from: String,
    /// The offset every session must reach.
    pub to: String,
    /// Session ids, at most a batch.
    pub sessions: Vec<String>,
}

/// The path of every internal call.
pub const CALL_PATH: &str = "/_internal/call";

/// The request that carries `call` to an object.
pub fn call_request<T: Serialize>(call: &T) -> Result<Request, ProtocolError> {
    let body =
        serde_json::to_vec(call).map_err(|e| ProtocolError::internal(format!("encoding a call: {e}")))?;
    Ok(Request::new(Method::Post, format!("https://subscriptions.internal{CALL_PATH}"))
        .with_header("content-type", "application/json")
        .with_body(body))
}

/// Parses a call an object received.
pub fn parse_call<T: DeserializeOwned>(req: &Request) -> Result<T, ProtocolError> {
    serde_json::from_slice(&req.body)
        .map_err(|e| ProtocolError::new(ErrorCode::InvalidInternalCall, e.to_string()))
}

/// A JSON reply.
pub fn json_reply<T: Serialize>(status: u16, value: &T) -> Reply {
    Reply::json(status, value)
}

/// Parses a JSON reply, relaying an error as it came.
pub fn parse_reply<T: DeserializeOwned>(reply: &Reply) -> Result<T, ProtocolError> {
    let body = match &reply.body {
        Body::Bytes(b) => b.as_slice(),
        Body::Empty => &[],
    };
    if reply.status >= 400 {
        return Err(ProtocolError::relayed(reply.status, |n| reply.get(n), body));
    }
    serde_json::from_slice(body).map_err(|e| ProtocolError::unavailable(format!("a malformed answer: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_round_trip() {
        let call = SessionCall::Deliver(Delivery {
            stream: "chat".into(),
            from: "a".into(),
            to: "b".into(),
            page: Some(Page::new(b"hi", "b".into())),
        });
        let req = call_request(&call).unwrap();
        assert_eq!(parse_call::<SessionCall>(&req).unwrap(), call);
        let report = FanoutReport { count: 3, successes: 2, failures: 1, mode: "inline".into() };
        assert_eq!(parse_reply::<FanoutReport>(&json_reply(200, &report)).unwrap(), report);
    }

    #[test]
    fn errors_are_relayed_and_bodies_checked() {
        let e = parse_reply::<FanoutReport>(&Reply::error(&ProtocolError::stream_not_found())).unwrap_err();
        assert_eq!(e, ProtocolError::stream_not_found());
        assert_eq!(
            SubscriptionBody::parse(br#"{"streamId":"s"}"#).unwrap_err().code(),
            ErrorCode::InvalidBody
        );
        let body = SubscriptionBody::parse(br#"{"streamId":"s","sessionId":"u","contentType":"x"}"#).unwrap();
        assert_eq!((body.stream_id.as_str(), body.session_id.as_str()), ("s", "u"));
    }

    #[test]
    fn answers_use_the_reference_field_names() {
        let a = Subscribed {
            session_id: "u".into(),
            stream_id: "s".into(),
            session_stream_path: "/v1/p/stream/session:u".into(),
            expires_at: 5,
            is_new_session: true,
            reader_key: None,
        };
        let v = serde_json::to_value(&a).unwrap();
        for field in ["sessionId", "streamId", "sessionStreamPath", "expiresAt", "isNewSession"] {
            assert!(v.get(field).is_some(), "{field}");
        }
        assert!(v.get("readerKey").is_none());
    }
}
