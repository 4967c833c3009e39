//! Idempotent-producer state, one row per producer id.
//!
//! The state lives as long as the stream: a persistent store must keep deduplicating
//! retries for as long as the data they wrote exists (§5.2.1).

use super::sql::{Columns, Sql, SqlExt, StorageError, Value};
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
    let r = PRODUCERS.read(values)?;
    Ok(Stored {
        state: ProducerState { epoch: r.get("epoch")?.uint(), last_seq: r.get("last_seq")?.uint() },
        tail: r.get("tail")?.uint(),
    })
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
