//! Idempotent-producer state, one row per producer id.
//!
//! The state lives as long as the stream: a persistent store must keep deduplicating
//! retries for as long as the data they wrote exists (§5.2.1).

use super::sql::{Columns, NamedRow, Sql, SqlExt, StorageError, Value};
use super::Store;
use crate::protocol::producer::{Producer, ProducerState};

/// A producer's state and the stream tail after its last accepted append.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stored {
    /// Epoch and highest accepted sequence number.
    pub state: ProducerState,
    /// The tail right after the producer's last accepted append.
    pub tail: u64,
}

/// The `producers` columns a [`Stored`] state is read from.
const PRODUCERS: Columns = Columns::new("producers", &["epoch", "last_seq", "tail"]);

/// Loads a producer's state.
pub fn load(sql: &impl Sql, id: &str) -> Result<Option<Stored>, StorageError> {
    let row = sql.query_row(
        &format!("SELECT {} FROM producers WHERE producer_id = ?", PRODUCERS.list()),
        &[id.into()],
    )?;
    row.map(|mut values| decode(&mut values)).transpose()
}

/// The state in a row of [`PRODUCERS`] values.
fn decode(values: &mut [Value]) -> Result<Stored, StorageError> {
    stored(&PRODUCERS.read(values)?)
}

/// The state in a row that has the [`PRODUCERS`] columns (and maybe others).
fn stored(r: &NamedRow<'_>) -> Result<Stored, StorageError> {
    Ok(Stored {
        state: ProducerState { epoch: r.get("epoch")?.uint(), last_seq: r.get("last_seq")?.uint() },
        tail: r.get("tail")?.uint(),
    })
}

/// A producer's row, as [`Store::producers`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerRow {
    /// `Producer-Id`.
    pub id: String,
    /// Its state and the tail after its last accepted append.
    pub stored: Stored,
    /// When its last append was accepted (ms).
    pub updated_at: i64,
}

/// The `producers` columns a [`ProducerRow`] is read from.
const LISTED: Columns =
    Columns::new("producers", &["producer_id", "epoch", "last_seq", "tail", "updated_at"]);

impl<S: Sql> Store<S> {
    /// The first `limit` producers, ordered by id.
    pub fn producers(&self, limit: usize) -> Result<Vec<ProducerRow>, StorageError> {
        let mut out = Vec::new();
        self.sql().try_query(
            &format!("SELECT {} FROM producers ORDER BY producer_id LIMIT ?", LISTED.list()),
            &[u64::try_from(limit).unwrap_or(u64::MAX).into()],
            |values| {
                let r = LISTED.read(values)?;
                out.push(ProducerRow {
                    id: r.get("producer_id")?.text(),
                    stored: stored(&r)?,
                    updated_at: r.get("updated_at")?.int(),
                });
                Ok::<_, StorageError>(true)
            },
        )?;
        Ok(out)
    }
}

/// Records an accepted append.
pub fn save(sql: &impl Sql, p: &Producer, tail: u64, now_ms: i64) -> Result<(), StorageError> {
    sql.execute(
        "INSERT INTO producers (producer_id, epoch, last_seq, tail, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (producer_id) DO UPDATE SET epoch = excluded.epoch,
            last_seq = excluded.last_seq, tail = excluded.tail, updated_at = excluded.updated_at",
        &[p.id.as_str().into(), p.epoch.into(), p.seq.into(), tail.into(), now_ms.into()],
    )
}

/// Removes every producer.
pub fn clear(sql: &impl Sql) -> Result<(), StorageError> {
    sql.execute("DELETE FROM producers", &[])
}
