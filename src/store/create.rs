//! Creating a stream, and the idempotent-create comparison (§5.1).

use super::meta::{self, ForkOrigin, Meta, Tiering};
use super::sql::{Sql, SqlExt};
use super::{log, schema, Store};
use crate::protocol::content_type;
use crate::protocol::expiry::Expiry;
use crate::protocol::fork::ForkRequest;
use crate::protocol::{json, ProtocolError};

/// A PUT's configuration, as parsed from its headers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateRequest {
    /// `Content-Type`, as sent.
    pub content_type: Option<String>,
    /// `Stream-TTL` / `Stream-Expires-At`.
    pub expiry: Expiry,
    /// `Stream-Closed: true`.
    pub closed: bool,
    /// The fork headers.
    pub fork: Option<ForkRequest>,
    /// `?public=true`.
    pub public: bool,
}

impl CreateRequest {
    /// Whether an existing stream has this configuration, so a repeated PUT is a no-op
    /// (200) rather than a conflict (409).
    pub fn check_matches(&self, m: &Meta) -> Result<(), ProtocolError> {
        if let Some(ct) = &self.content_type {
            if !content_type::same_media_type(&content_type::for_create(Some(ct)), &m.content_type) {
                return Err(ProtocolError::config_mismatch("content type"));
            }
        }
        let expiry_matches = match self.expiry {
            Expiry::None => m.expiry == Expiry::None || m.expiry_inherited,
            requested => requested == m.expiry,
        };
        if !expiry_matches {
            return Err(ProtocolError::config_mismatch("TTL or expiry"));
        }
        if self.closed != m.closed {
            return Err(ProtocolError::config_mismatch("closed state"));
        }
        if self.public != m.public {
            return Err(ProtocolError::config_mismatch("public flag"));
        }
        let fork_matches = match (&self.fork, &m.fork) {
            (None, None) => true,
            (Some(r), Some(f)) => {
                r.source.key() == f.source
                    && r.offset.is_none_or(|o| o.position() == f.offset)
                    && r.sub_offset == f.sub_offset
            }
            _ => false,
        };
        if !fork_matches {
            return Err(ProtocolError::config_mismatch("fork source or fork offset"));
        }
        Ok(())
    }
}

/// Everything needed to store a new stream, resolved by the caller (including what a
/// fork inherits from its source).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewStream {
    /// The stream id.
    pub stream_id: String,
    /// The content type to store.
    pub content_type: String,
    /// How it expires.
    pub expiry: Expiry,
    /// Whether `expiry` came from the fork source.
    pub expiry_inherited: bool,
    /// Create it closed.
    pub closed: bool,
    /// For forks: the source and fork point.
    pub fork: Option<ForkOrigin>,
    /// For sub-offset forks: the materialized part of the source's record, in stored form.
    pub prefix: Vec<u8>,
    /// The initial body, in stored form.
    pub body: Vec<u8>,
    /// For forks: the source's segment count at the fork point.
    pub read_seq_base: u64,
    /// Readable without credentials.
    pub public: bool,
    /// The reader key, for a protected stream created with auth on.
    pub reader_key: Option<String>,
}

impl<S: Sql> Store<S> {
    /// Gives the live stream `m` a new reader key.
    pub fn set_reader_key(&self, m: &Meta, key: &str) -> Result<Meta, ProtocolError> {
        meta::set_reader_key(self.sql(), key)?;
        Ok(Meta { reader_key: Some(key.to_owned()), ..m.clone() })
    }

    /// Stores a new stream. The path must be free (no live or retained stream).
    pub fn create(&self, new: NewStream, now_ms: i64) -> Result<Meta, ProtocolError> {
        let sql = self.sql();
        sql.in_transaction(|| {
            let incarnation = schema::next_incarnation(sql)?;
            let json_mode = content_type::is_json(&new.content_type);
            let start = new.fork.as_ref().map_or(0, |f| f.offset);
            let mut tail = start;
            let mut messages = 0;
            for record in [&new.prefix, &new.body] {
                if !record.is_empty() {
                    tail = log::append_record(sql, tail, record, json_mode)?;
                    messages += if json_mode { json::message_ends(record).len() as u64 } else { 1 };
                }
            }
            let m = Meta {
                stream_id: new.stream_id.clone(),
                incarnation,
                content_type: new.content_type.clone(),
                created_at: now_ms,
                tail,
                closed: new.closed,
                closed_by: None,
                last_stream_seq: None,
                expiry: new.expiry,
                expiry_inherited: new.expiry_inherited,
                touched_at: now_ms,
                fork: new.fork.clone(),
                fork_count: 0,
                deleted: false,
                tiering: Tiering {
                    hot_messages: messages,
                    hot_bytes: tail - start,
                    read_seq_base: new.read_seq_base,
                    ..Tiering::default()
                },
                public: new.public,
                reader_key: new.reader_key.clone(),
            };
            meta::insert(sql, &m)?;
            Ok(m)
        })
    }
}
