//! PUT: create a stream or a fork, idempotently (§5.1, §4.2).

use super::access::access_of;
use super::calls::{Call, CallReply, Grant};
use super::headers::create_request;
use super::registry::RegistryOp;
use super::{Host, StreamService};
use crate::http::{Reply, Request};
use crate::protocol::expiry::Expiry;
use crate::protocol::fork::ForkRequest;
use crate::protocol::path::StreamName;
use crate::protocol::ErrorCode;
use crate::protocol::{content_type, json, ProtocolError};
use crate::store::{CreateRequest, ForkOrigin, Meta, NewStream, Sql, State};

impl<S: Sql + 'static, H: Host + 'static> StreamService<S, H> {
    pub(super) async fn create(&self, req: Request, name: &StreamName) -> Result<Reply, ProtocolError> {
        if req.body.len() > self.config.max_append_bytes {
            return Err(ProtocolError::payload_too_large(self.config.max_append_bytes as u64));
        }
        let wanted = create_request(&req)?;
        if let Some(f) = &wanted.fork {
            if f.source == *name {
                return Err(ProtocolError::new(ErrorCode::InvalidForkSource, "a stream cannot fork itself"));
            }
            if f.source.project != name.project {
                return Err(ProtocolError::new(
                    ErrorCode::ForkAcrossProjects,
                    "a stream can only fork a stream of its own project",
                ));
            }
        }
        let stream_id = &name.key();
        let _writing = self.writes.lock().await;
        let now = self.host.now_ms();
        match self.state_at(now).await? {
            State::Live(m) => {
                wanted.check_matches(&m)?;
                return self.created(200, &m, &req);
            }
            State::Gone(_) => {
                return Err(ProtocolError::new(
                    ErrorCode::StreamRetained,
                    "a deleted stream is retained for its forks; the path cannot be reused yet",
                ))
            }
            State::Missing => {}
        }
        // With auth on, a protected stream gets a reader key, so caches in front of the
        // edge can only be read by those who were given it. Made before a fork source is
        // asked, so a failure here leaves nothing to release.
        let reader_key = if access_of(&req).auth_enabled() && !wanted.public {
            Some(self.new_reader_key()?)
        } else {
            None
        };
        let mut new = match &wanted.fork {
            None => plain_stream(stream_id, &wanted, &req.body)?,
            Some(fork) => {
                let grant = self.acquire(fork, &wanted).await?;
                match fork_stream(stream_id, &wanted, fork, &grant, &req.body) {
                    Ok(new) => new,
                    Err(e) => {
                        self.release_source(&origin(fork, &grant)).await;
                        return Err(e);
                    }
                }
            }
        };
        new.reader_key = reader_key;
        let fork = new.fork.clone();
        let m = match self.store.create(new, now) {
            Ok(m) => m,
            Err(e) => {
                if let Some(origin) = fork {
                    self.release_source(&origin).await;
                }
                return Err(e);
            }
        };
        if let Some(deadline) = m.deadline() {
            self.host.schedule_alarm(deadline);
        }
        self.announce_change();
        self.register(RegistryOp::Insert, &m);
        self.created(201, &m, &req)
    }

    /// 201 for a new stream, 200 for an idempotent repeat.
    fn created(&self, status: u16, m: &Meta, req: &Request) -> Result<Reply, ProtocolError> {
        Ok(self.describe(status, m)?.header("Location", format!("{}{}", req.origin(), req.path())))
    }

    /// Asks the source to validate and count the fork.
    async fn acquire(&self, fork: &ForkRequest, wanted: &CreateRequest) -> Result<Grant, ProtocolError> {
        let call = Call::Acquire {
            offset: fork.offset.map(|o| o.position()),
            sub_offset: fork.sub_offset,
            content_type: wanted.content_type.clone(),
        };
        match self.host.call(&fork.source.key(), call).await? {
            CallReply::Granted(g) => Ok(g),
            _ => Err(ProtocolError::unavailable("unexpected reply to a fork request")),
        }
    }
}

/// A new stream that is not a fork.
fn plain_stream(stream_id: &str, wanted: &CreateRequest, body: &[u8]) -> Result<NewStream, ProtocolError> {
    let ct = content_type::for_create(wanted.content_type.as_deref());
    Ok(NewStream {
        stream_id: stream_id.to_owned(),
        body: stored_body(&ct, body)?,
        content_type: ct,
        expiry: wanted.expiry,
        expiry_inherited: false,
        closed: wanted.closed,
        fork: None,
        prefix: Vec::new(),
        read_seq_base: 0,
        public: wanted.public,
        reader_key: None,
    })
}

/// A new fork: the source's type unless one was given (the source checked it matches),
/// and the source's expiry unless the fork has its own.
fn fork_stream(
    stream_id: &str,
    wanted: &CreateRequest,
    fork: &ForkRequest,
    grant: &Grant,
    body: &[u8],
) -> Result<NewStream, ProtocolError> {
    let ct = match &wanted.content_type {
        Some(ct) if content_type::is_valid(ct) => ct.clone(),
        _ => grant.content_type.clone(),
    };
    let inherit = wanted.expiry == Expiry::None;
    Ok(NewStream {
        stream_id: stream_id.to_owned(),
        body: stored_body(&ct, body)?,
        content_type: ct,
        expiry: if inherit { grant.expiry() } else { wanted.expiry },
        expiry_inherited: inherit && grant.expiry() != Expiry::None,
        closed: wanted.closed,
        fork: Some(origin(fork, grant)),
        prefix: grant.prefix(),
        read_seq_base: grant.read_seq,
        public: wanted.public,
        reader_key: None,
    })
}

fn origin(fork: &ForkRequest, grant: &Grant) -> ForkOrigin {
    ForkOrigin {
        source: fork.source.key(),
        offset: grant.offset,
        sub_offset: fork.sub_offset,
        source_incarnation: grant.incarnation,
    }
}

/// The initial body in stored form. A JSON body may be `[]` (an empty stream).
fn stored_body(ct: &str, body: &[u8]) -> Result<Vec<u8>, ProtocolError> {
    if body.is_empty() {
        Ok(Vec::new())
    } else if content_type::is_json(ct) {
        json::encode_body(body, true).map(|(wire, _)| wire)
    } else {
        Ok(body.to_vec())
    }
}
