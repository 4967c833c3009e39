//! Calls between stream objects: for forks (§4.2), registry events, and the links of
//! subscriptions (§6) to streams.
//!
//! A fork's object asks its source's object to validate and count the fork, to read
//! inherited bytes, to hand over the record a sub-offset slices, and to drop the
//! fork's reference. One call serves a whole read range, so a read of inherited data
//! costs one round trip per ancestor, whatever the number of messages.
//!
//! On the wire a call is `POST /_internal/<op>` with a JSON body; replies carry JSON,
//! or raw stored bytes with the metadata in headers. Clients cannot reach these paths:
//! the edge forwards only `/v1/stream/…` URLs.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::{Host, StreamService};
use crate::http::{Body, Method, Reply, Request};
use crate::internal::PREFIX;
use crate::protocol::expiry::Expiry;
use crate::protocol::headers as h;
use crate::protocol::ErrorCode;
use crate::protocol::ProtocolError;
use crate::store::{Chunk, Span, Sql};

const END_HEADER: &str = "X-Stream-End";

/// A call to another stream's object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Call {
    /// Validate a fork request against the source and count the new fork.
    Acquire {
        /// The requested fork offset (the source's tail when absent).
        offset: Option<u64>,
        /// The requested sub-offset (0 when absent).
        sub_offset: u64,
        /// The fork's requested content type, if any.
        content_type: Option<String>,
    },
    /// A fork of this incarnation went away.
    Release {
        /// The source incarnation the fork was made from.
        incarnation: u64,
    },
    /// Read stored bytes (on the wire, the span's fields sit beside `incarnation`).
    Read {
        /// The source incarnation the fork was made from.
        incarnation: u64,
        /// What to read, ending at the fork point at the latest.
        #[serde(flatten)]
        span: Span,
    },
    /// Append an event to the registry stream (sent to the registry's object).
    Registry {
        /// The registry stream's key (its object learns its own name from this).
        registry: String,
        /// The event, as JSON text.
        event: String,
    },
    /// Link a subscription to this stream (from the registry, when the subscription is
    /// created or gains explicit streams); answered with the stream's tail.
    Link {
        /// The subscription id.
        subscription: String,
    },
    /// Record a subscription's interest and link the project's streams it wants (sent to
    /// the registry's object); answered with the linked streams and their tails.
    Watch {
        /// The registry stream's key.
        registry: String,
        /// The subscription id.
        subscription: String,
        /// Its pattern, if any.
        pattern: Option<String>,
        /// Its explicit streams.
        streams: Vec<String>,
    },
    /// Forget a subscription (sent to the registry's object).
    Unwatch {
        /// The registry stream's key.
        registry: String,
        /// The subscription id.
        subscription: String,
    },
    /// The rest of the record containing `at`, up to `until`.
    Record {
        /// The source incarnation the fork was made from.
        incarnation: u64,
        /// The position.
        at: u64,
        /// End of the inherited range.
        until: u64,
    },
}

/// What an [`Call::Acquire`] grants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The source's incarnation.
    pub incarnation: u64,
    /// The source's content type.
    pub content_type: String,
    /// The resolved fork point.
    pub offset: u64,
    /// The source's segment count at the fork point (the `readSeq` of its offset).
    #[serde(default)]
    pub read_seq: u64,
    /// The source's expiry, which a fork without its own inherits.
    pub ttl_seconds: Option<u64>,
    /// The source's absolute expiry (ms).
    pub expires_at: Option<i64>,
    /// The materialized sub-offset prefix, in stored form, base64.
    #[serde(default)]
    pub prefix_b64: String,
}

impl Grant {
    /// The inherited expiry.
    pub fn expiry(&self) -> Expiry {
        Expiry::from_parts(self.ttl_seconds, self.expires_at)
    }

    /// The decoded prefix.
    pub fn prefix(&self) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD.decode(&self.prefix_b64).unwrap_or_default()
    }

    /// Sets the prefix.
    pub fn with_prefix(mut self, prefix: &[u8]) -> Self {
        self.prefix_b64 = base64::engine::general_purpose::STANDARD.encode(prefix);
        self
    }
}

/// The answer to a [`Call`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallReply {
    /// For `Acquire`.
    Granted(Grant),
    /// For `Release`.
    Released,
    /// For `Read`.
    Read(Chunk),
    /// For `Record`.
    Record(Option<Vec<u8>>),
    /// For `Registry`: the subscriptions that want the stream just created.
    Watchers(Vec<String>),
    /// For `Link`: the stream's tail, if it is live.
    Tail(Option<String>),
    /// For `Watch`: the linked streams (ids within the project) and their tails.
    Linked(Vec<(String, String)>),
}

impl Call {
    /// The request path and JSON body of this call.
    pub fn encode(&self) -> (String, Vec<u8>) {
        let op = match self {
            Self::Acquire { .. } => "acquire",
            Self::Release { .. } => "release",
            Self::Read { .. } => "read",
            Self::Record { .. } => "record",
            Self::Registry { .. } => "registry",
            Self::Link { .. } => "link",
            Self::Watch { .. } => "watch",
            Self::Unwatch { .. } => "unwatch",
        };
        (format!("{PREFIX}{op}"), serde_json::to_vec(self).unwrap_or_default())
    }

    /// Parses a call received by a stream object.
    pub fn decode(req: &Request) -> Result<Self, ProtocolError> {
        serde_json::from_slice(&req.body)
            .map_err(|e| ProtocolError::new(ErrorCode::InvalidInternalCall, e.to_string()))
    }

    /// Parses the reply to this call. An error is relayed as the other object sent it:
    /// code, status, message and headers.
    pub fn decode_reply(&self, reply: Reply) -> Result<CallReply, ProtocolError> {
        let body = match reply.body {
            Body::Bytes(ref b) => b.as_slice(),
            Body::Empty => &[],
        };
        if reply.status >= 400 {
            return Err(ProtocolError::relayed(reply.status, |name| reply.get(name), body));
        }
        match self {
            Self::Acquire { .. } => serde_json::from_slice(body)
                .map(CallReply::Granted)
                .map_err(|e| ProtocolError::unavailable(format!("malformed grant: {e}"))),
            Self::Release { .. } | Self::Unwatch { .. } => Ok(CallReply::Released),
            Self::Registry { .. } if reply.status == 204 => Ok(CallReply::Watchers(Vec::new())),
            Self::Registry { .. } => serde_json::from_slice(body)
                .map(CallReply::Watchers)
                .map_err(|e| ProtocolError::unavailable(format!("malformed registry reply: {e}"))),
            Self::Link { .. } => {
                Ok(CallReply::Tail((reply.status == 200).then(|| String::from_utf8_lossy(body).into_owned())))
            }
            Self::Watch { .. } => serde_json::from_slice(body)
                .map(CallReply::Linked)
                .map_err(|e| ProtocolError::unavailable(format!("malformed watch reply: {e}"))),
            Self::Read { .. } => {
                let end = reply
                    .get(END_HEADER)
                    .and_then(|e| e.parse().ok())
                    .ok_or_else(|| ProtocolError::unavailable("read reply without an end position"))?;
                Ok(CallReply::Read(Chunk { bytes: body.to_vec(), end }))
            }
            Self::Record { .. } => Ok(CallReply::Record((reply.status == 200).then(|| body.to_vec()))),
        }
    }
}

impl CallReply {
    /// The reply a stream object sends for this answer.
    pub fn encode(self) -> Reply {
        match self {
            Self::Granted(g) => Reply::new(200).bytes(serde_json::to_vec(&g).unwrap_or_default()),
            Self::Released | Self::Record(None) | Self::Tail(None) => Reply::new(204),
            Self::Watchers(list) if list.is_empty() => Reply::new(204),
            Self::Watchers(list) => Reply::new(200).bytes(serde_json::to_vec(&list).unwrap_or_default()),
            Self::Tail(Some(tail)) => Reply::new(200).bytes(tail.into_bytes()),
            Self::Linked(found) => Reply::new(200).bytes(serde_json::to_vec(&found).unwrap_or_default()),
            Self::Read(chunk) => Reply::new(200).header(END_HEADER, chunk.end.to_string()).bytes(chunk.bytes),
            Self::Record(Some(bytes)) => Reply::new(200).bytes(bytes),
        }
    }
}

/// Headers of internal replies the platform must pass on: the end of a read, and what
/// errors carry (see [`ProtocolError::headers`]).
const RELAYED_HEADERS: [&str; 6] = [
    END_HEADER,
    h::STREAM_CLOSED,
    h::STREAM_NEXT_OFFSET,
    h::PRODUCER_EPOCH,
    h::PRODUCER_EXPECTED_SEQ,
    h::PRODUCER_RECEIVED_SEQ,
];

/// The name of a header that internal replies carry, so the platform can relay it.
pub fn known_header(name: &str) -> Option<&'static str> {
    RELAYED_HEADERS.iter().copied().find(|known| known.eq_ignore_ascii_case(name))
}

impl<S: Sql + 'static, H: Host + 'static> StreamService<S, H> {
    /// Answers a call from another stream's object.
    pub(super) async fn handle_internal(&self, req: &Request) -> Result<Reply, ProtocolError> {
        if req.method != Method::Post {
            return Err(ProtocolError::method_not_allowed());
        }
        let answer = match Call::decode(req)? {
            Call::Acquire { offset, sub_offset, content_type } => {
                CallReply::Granted(self.grant_fork(offset, sub_offset, content_type.as_deref()).await?)
            }
            Call::Release { incarnation } => {
                self.release_fork(incarnation).await?;
                CallReply::Released
            }
            Call::Read { incarnation, span } => {
                let m = self.inherited(incarnation).await?;
                CallReply::Read(self.read_range(&m, span).await?)
            }
            Call::Registry { registry, event } => {
                CallReply::Watchers(self.record_registry_event(&registry, &event).await?)
            }
            Call::Link { subscription } => CallReply::Tail(self.link_watcher(subscription).await?),
            Call::Watch { registry, subscription, pattern, streams } => {
                let watch = crate::store::watch::Watch { subscription, pattern, streams };
                CallReply::Linked(self.watch(&registry, watch).await?)
            }
            Call::Unwatch { subscription, .. } => {
                self.store.remove_watch(&subscription)?;
                CallReply::Released
            }
            Call::Record { incarnation, at, until } => {
                let m = self.inherited(incarnation).await?;
                CallReply::Record(self.record_at(&m, at, until.min(m.tail)).await?)
            }
        };
        Ok(answer.encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(call: Call, answer: CallReply) -> CallReply {
        let (path, body) = call.encode();
        assert!(path.starts_with(PREFIX));
        let received =
            Call::decode(&Request::new(Method::Post, format!("https://s{path}")).with_body(body)).unwrap();
        assert_eq!(received, call);
        call.decode_reply(answer.encode()).unwrap()
    }

    #[test]
    fn every_call_and_reply_round_trips() {
        let grant = Grant {
            incarnation: 2,
            content_type: "text/plain".into(),
            offset: 5,
            read_seq: 0,
            ttl_seconds: Some(9),
            expires_at: None,
            prefix_b64: String::new(),
        }
        .with_prefix(b"hel");
        let acquire = Call::Acquire { offset: Some(5), sub_offset: 3, content_type: None };
        assert_eq!(round_trip(acquire, CallReply::Granted(grant.clone())), CallReply::Granted(grant.clone()));
        assert_eq!(grant.prefix(), b"hel");
        assert_eq!(grant.expiry(), Expiry::Ttl(9));
        let read = Call::Read { incarnation: 1, span: Span::page(0, 9, 4) };
        let chunk = Chunk { bytes: b"abcd".to_vec(), end: 4 };
        assert_eq!(round_trip(read, CallReply::Read(chunk.clone())), CallReply::Read(chunk));
        let record = Call::Record { incarnation: 1, at: 0, until: 9 };
        assert_eq!(round_trip(record.clone(), CallReply::Record(None)), CallReply::Record(None));
        assert_eq!(
            round_trip(record, CallReply::Record(Some(b"x".to_vec()))),
            CallReply::Record(Some(b"x".to_vec()))
        );
        assert_eq!(round_trip(Call::Release { incarnation: 3 }, CallReply::Released), CallReply::Released);
        let registry = Call::Registry { registry: "p/__registry__".into(), event: "{}".into() };
        let watchers = CallReply::Watchers(vec!["s".into()]);
        assert_eq!(round_trip(registry.clone(), watchers.clone()), watchers);
        let none = CallReply::Watchers(Vec::new());
        assert_eq!(round_trip(registry, none.clone()), none);
        let link = Call::Link { subscription: "s".into() };
        for tail in [Some("0000000000000000_0000000000000003".to_owned()), None] {
            assert_eq!(round_trip(link.clone(), CallReply::Tail(tail.clone())), CallReply::Tail(tail));
        }
        let watch = Call::Watch {
            registry: "p/__registry__".into(),
            subscription: "s".into(),
            pattern: Some("a/*".into()),
            streams: vec!["b".into()],
        };
        let linked = CallReply::Linked(vec![("a/x".into(), "0000000000000000_0000000000000001".into())]);
        assert_eq!(round_trip(watch, linked.clone()), linked);
        let unwatch = Call::Unwatch { registry: "p/__registry__".into(), subscription: "s".into() };
        assert_eq!(round_trip(unwatch, CallReply::Released), CallReply::Released);
    }

    #[test]
    fn a_read_keeps_its_wire_fields() {
        // Objects of different versions call each other during a deploy.
        let (_, body) = Call::Read { incarnation: 1, span: Span::page(0, 9, 4) }.encode();
        let wire: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let expected = serde_json::json!({
            "op": "read", "incarnation": 1, "from": 0, "until": 9, "cap": 4, "must_progress": true,
        });
        assert_eq!(wire, expected);
    }

    #[test]
    fn errors_are_relayed_with_their_code_status_and_headers() {
        let call = Call::Release { incarnation: 1 };
        for sent in [
            ProtocolError::stream_not_found(),
            ProtocolError::payload_too_large(10),
            ProtocolError::new(ErrorCode::AuthRequired, "a token is needed"),
            ProtocolError::new(ErrorCode::RegistryReadOnly, "read only"),
            ProtocolError::StreamClosed { next_offset: crate::protocol::Offset::new(7) },
        ] {
            let err = call.decode_reply(Reply::error(&sent)).unwrap_err();
            assert_eq!(err, sent);
        }
    }
}
