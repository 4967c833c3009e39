//! Appending and closing (§5.2, §5.3), with idempotent producers (§5.2.1).
//!
//! The order of checks is the protocol's: the request's shape, then producer fencing
//! (so a retry is recognised even on a closed stream), then closure, content type, and
//! `Stream-Seq`.

use std::borrow::Cow;

use super::meta::{self, ClosedBy, Meta};
use super::sql::{Sql, SqlExt};
use super::{log, producers, Store};
use crate::protocol::producer::{fence, Admission, Producer};
use crate::protocol::ErrorCode;
use crate::protocol::{content_type, json, ProtocolError};

/// A POST, as parsed from its headers and body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Append {
    /// `Content-Type`, as sent.
    pub content_type: Option<String>,
    /// The body, as sent.
    pub body: Vec<u8>,
    /// `Stream-Closed: true`.
    pub close: bool,
    /// `Stream-Seq`.
    pub stream_seq: Option<String>,
    /// The producer headers.
    pub producer: Option<Producer>,
}

/// A successful POST.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppendOutcome {
    /// Data was stored and/or the stream closed. 200 with a producer, else 204.
    Written {
        /// The new tail.
        tail: u64,
        /// Whether the stream is now closed.
        closed: bool,
        /// Whether anything besides closure was written.
        data: bool,
        /// Messages written (JSON) or 1 for an append of another type; 0 for a close only.
        messages: u64,
    },
    /// A producer retry of something already stored: 204, nothing written.
    Duplicate {
        /// The tail after the producer's last accepted append.
        tail: u64,
        /// Whether the stream is closed.
        closed: bool,
        /// The producer's epoch.
        epoch: u64,
        /// The producer's highest accepted sequence number.
        last_seq: u64,
    },
}

impl<S: Sql> Store<S> {
    /// Appends to (and/or closes) the live stream `m`.
    pub fn append(&self, m: &Meta, req: &Append, now_ms: i64) -> Result<AppendOutcome, ProtocolError> {
        let close_only = req.body.is_empty();
        if close_only && !req.close {
            return Err(ProtocolError::new(
                ErrorCode::EmptyBody,
                "an append needs a body, or Stream-Closed: true to close the stream",
            ));
        }
        if let Some(p) = &req.producer {
            if let Some(dup) = self.producer_retry(m, p)? {
                return Ok(dup);
            }
        }
        if m.closed {
            if close_only && req.producer.is_none() {
                return Ok(AppendOutcome::Written { tail: m.tail, closed: true, data: false, messages: 0 });
            }
            return Err(ProtocolError::StreamClosed { next_offset: self.offset(m, m.tail)? });
        }
        let (stored, messages) =
            if close_only { (Cow::Borrowed(&[][..]), 0) } else { self.stored_form(m, req)? };
        if let (Some(seq), Some(last)) = (&req.stream_seq, &m.last_stream_seq) {
            if seq <= last {
                return Err(ProtocolError::new(
                    ErrorCode::SeqRegression,
                    "Stream-Seq must be greater than the last accepted value",
                ));
            }
        }
        let sql = self.sql();
        let tail = sql.in_transaction(|| {
            let tail = log::append_record(sql, m.tail, &stored, m.is_json())?;
            let closed_by = req.close.then(|| {
                req.producer.as_ref().map(|p| ClosedBy { id: p.id.clone(), epoch: p.epoch, seq: p.seq })
            });
            let written = (messages, stored.len() as u64);
            meta::record_write(
                sql,
                now_ms,
                tail,
                written,
                req.stream_seq.as_deref(),
                closed_by.as_ref().map(Option::as_ref),
            )?;
            if let Some(p) = &req.producer {
                producers::save(sql, p, tail, now_ms)?;
            }
            Ok(tail)
        })?;
        Ok(AppendOutcome::Written { tail, closed: req.close, data: !close_only, messages })
    }

    /// Recognises a producer retry (204) or rejects a fenced producer. `None` means the
    /// append is new.
    fn producer_retry(&self, m: &Meta, p: &Producer) -> Result<Option<AppendOutcome>, ProtocolError> {
        if m.closed_by.as_ref().is_some_and(|c| c.is(p)) {
            return Ok(Some(AppendOutcome::Duplicate {
                tail: m.tail,
                closed: true,
                epoch: p.epoch,
                last_seq: p.seq,
            }));
        }
        let stored = producers::load(self.sql(), &p.id)?;
        match fence(stored.map(|s| s.state), p)? {
            Admission::Accept => Ok(None),
            Admission::Duplicate { last_seq } => {
                let s = stored.map_or(m.tail, |s| s.tail);
                let epoch = stored.map_or(p.epoch, |s| s.state.epoch);
                Ok(Some(AppendOutcome::Duplicate { tail: s, closed: m.closed, epoch, last_seq }))
            }
        }
    }

    /// Validates the body against the stream's type and converts it to stored form. Also
    /// returns how many messages it holds (one per append for non-JSON streams).
    fn stored_form<'a>(&self, m: &Meta, req: &'a Append) -> Result<(Cow<'a, [u8]>, u64), ProtocolError> {
        let Some(ct) = &req.content_type else {
            return Err(ProtocolError::new(
                ErrorCode::MissingContentType,
                "an append with a body needs a Content-Type",
            ));
        };
        if !content_type::same_media_type(ct, &m.content_type) {
            return Err(ProtocolError::new(
                ErrorCode::ContentTypeMismatch,
                format!("the stream's content type is {}", m.content_type),
            ));
        }
        if m.is_json() {
            json::encode_body(&req.body, false).map(|(wire, n)| (Cow::Owned(wire), n as u64))
        } else {
            Ok((Cow::Borrowed(&req.body), 1))
        }
    }
}
