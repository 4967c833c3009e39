//! The stream engine: one stream's durable state and the protocol rules that change it.
//!
//! [`Store`] runs on any [`Sql`]: the Durable Object's SQLite in production, an
//! in-memory SQLite in tests. Each operation that writes runs in one transaction, so an
//! append is stored whole or not at all, and no reader sees part of it. Operations that
//! need another stream (forks) or a clock take their inputs as values; the caller
//! performs cross-stream calls (see `stream_do`).

// Slicing and indexing panic on a bad bound, and a panic aborts the whole Durable
// Object: parsers and storage code use `get` and friends.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

mod append;
pub mod cold;
mod create;
pub mod log;
pub mod meta;
mod producers;
pub mod rows;
pub mod schema;
pub mod segment;
pub mod sql;
pub mod watch;

pub use append::{Append, AppendOutcome};
pub use cold::{Offsets, Rotation, SegmentEntry, SegmentInfo, SegmentLimits};
pub use create::{CreateRequest, NewStream};
pub use meta::{ForkOrigin, Meta};
pub use producers::ProducerRow;
pub use rows::{Chunk, Span};
pub use sql::{Sql, SqlExt, StorageError, Value};

use crate::protocol::ProtocolError;

/// Whether the stream exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// No stream at this path.
    Missing,
    /// Deleted, but retained while forks read from it (§4.2): 410 to clients.
    Gone(Meta),
    /// A live stream.
    Live(Meta),
}

/// What removing a stream's data left to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Removal {
    /// Forks still read from the stream: it is marked deleted and kept.
    Retained,
    /// The data is gone. If the stream was a fork, its source must be released, and its
    /// segment objects must be deleted.
    Purged {
        /// The source to release.
        release: Option<ForkOrigin>,
        /// The keys of the segment objects to delete.
        segments: Vec<String>,
    },
}

/// One stream's storage.
pub struct Store<S> {
    sql: S,
}

impl<S: Sql> Store<S> {
    /// Opens the store, creating or upgrading the schema.
    pub fn open(sql: S) -> Result<Self, StorageError> {
        schema::ensure(&sql)?;
        Ok(Self { sql })
    }

    fn sql(&self) -> &S {
        &self.sql
    }

    /// The stream's current state (without applying expiry).
    pub fn state(&self) -> Result<State, StorageError> {
        Ok(match meta::load(&self.sql)? {
            None => State::Missing,
            Some(m) if m.deleted => State::Gone(m),
            Some(m) => State::Live(m),
        })
    }

    /// When the stream was last appended to (ms); `None` if never since it was created.
    pub fn written_at(&self) -> Result<Option<i64>, StorageError> {
        meta::written_at(&self.sql)
    }

    /// The stream's state at `now_ms`, after lazy expiry: a stream past its deadline is
    /// removed (or retained for its forks) first, and what that did (with the expired
    /// stream's metadata) is returned too.
    pub fn current(&self, now_ms: i64) -> Result<(State, Option<(Removal, Meta)>), ProtocolError> {
        let Some(m) = meta::load(&self.sql)? else { return Ok((State::Missing, None)) };
        if m.deleted {
            return Ok((State::Gone(m), None));
        }
        if !m.is_expired(now_ms) {
            return Ok((State::Live(m), None));
        }
        let removal = self.remove(&m)?;
        let state = match removal {
            Removal::Retained => State::Gone(Meta { deleted: true, ..m.clone() }),
            Removal::Purged { .. } => State::Missing,
        };
        Ok((state, Some((removal, m))))
    }

    /// Deletes the stream: purges it, or marks it deleted while forks remain.
    pub fn remove(&self, m: &Meta) -> Result<Removal, ProtocolError> {
        if m.fork_count > 0 {
            meta::soft_delete(&self.sql)?;
            return Ok(Removal::Retained);
        }
        let segments = self.segment_keys()?;
        self.sql.in_transaction(|| {
            log::clear(&self.sql)?;
            producers::clear(&self.sql)?;
            self.sql.execute("DELETE FROM segments", &[])?;
            self.sql.execute("DELETE FROM stream", &[])?;
            Ok(())
        })?;
        Ok(Removal::Purged { release: m.fork.clone(), segments })
    }

    /// Pushes back a sliding TTL. Streams without one are not written to.
    pub fn touch(&self, m: &Meta, now_ms: i64) -> Result<(), StorageError> {
        if m.expiry.slides() && !m.deleted {
            meta::touch(&self.sql, now_ms)?;
        }
        Ok(())
    }

    /// Feeds a reader the hot log's rows from where it stands. Rows below the hot log
    /// are in cold segments, which the stream object feeds first.
    pub fn feed_hot(&self, reader: &mut impl rows::RowReader) -> Result<(), ProtocolError> {
        log::continue_reader(&self.sql, reader)
    }

    /// Counts a new fork reading from this stream.
    pub fn add_fork(&self) -> Result<(), StorageError> {
        meta::adjust_fork_count(&self.sql, 1)
    }

    /// Drops a fork's reference. A deleted stream whose last fork went away is purged.
    pub fn release_fork(&self, incarnation: u64) -> Result<Option<Removal>, ProtocolError> {
        let Some(m) = meta::load(&self.sql)? else {
            return Ok(None);
        };
        if m.incarnation != incarnation {
            return Ok(None);
        }
        meta::adjust_fork_count(&self.sql, -1)?;
        if m.deleted && m.fork_count <= 1 {
            let remaining = Meta { fork_count: 0, ..m };
            return self.remove(&remaining).map(Some);
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests;
