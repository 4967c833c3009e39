//! The stream's full state for an admin dashboard (`GET /_internal/inspect`): its row,
//! hot log, segments, producers, readers and request counters. Everything is read from
//! storage (or the object's live counters) on each request, so the view cannot drift
//! from what the object holds; nothing here is cached or derived elsewhere.
//!
//! After lazy expiry the reply is built with no `.await`, so the row, the segments and
//! the producers it shows are one consistent snapshot.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Host, StreamService};
use crate::http::Reply;
use crate::protocol::ProtocolError;
use crate::store::{Meta, Offsets, ProducerRow, SegmentEntry, Sql, State};
use durable_streams_cache::control;

/// The most producer rows one reply lists. Producer state lives as long as the stream and
/// is never pruned, so a stream written by many short-lived producer ids holds any number
/// of rows; the reply is built in the object's memory, while no other request runs.
const MAX_PRODUCERS: usize = 1000;

/// The most segments one reply lists: the newest. A long-lived stream can hold any
/// number, and an admin page needs the recent ones; `segmentsTotal` says how many there
/// are.
const MAX_SEGMENTS: usize = 1000;

/// The reply's body.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Inspection {
    stream_id: String,
    /// Tells this stream from earlier ones at the same path (forks name it).
    incarnation: u64,
    content_type: String,
    created_at: i64,
    touched_at: i64,
    tail_offset: String,
    closed: bool,
    closed_by: Option<ClosedBy>,
    last_stream_seq: Option<String>,
    public: bool,
    /// Deleted, but retained for its forks.
    deleted: bool,
    expiry: ExpiryView,
    fork: Option<Fork>,
    fork_count: u64,
    /// When it was last appended to (ms); `None` if never since it was created.
    written_at: Option<i64>,
    /// Its own messages and log bytes, hot and cold (a fork's source is not counted).
    totals: Totals,
    hot: Hot,
    /// The newest [`MAX_SEGMENTS`] segments, oldest first.
    segments: Vec<Segment>,
    /// How many segments the stream has.
    segments_total: usize,
    /// Whether older segments were left out.
    segments_truncated: bool,
    producers: Vec<ProducerView>,
    /// Whether there are more producers than [`MAX_PRODUCERS`] listed.
    producers_truncated: bool,
    readers: Readers,
    /// Requests counted since the object was loaded, by kind.
    requests: BTreeMap<&'static str, u64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClosedBy {
    producer_id: String,
    epoch: u64,
    seq: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExpiryView {
    ttl_seconds: Option<u64>,
    /// The deadline: for a TTL, the last activity plus the TTL.
    expires_at: Option<i64>,
    /// Taken from the fork source rather than requested.
    inherited: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Fork {
    source: String,
    /// The fork point, spelled as the source's offset there.
    offset: String,
    sub_offset: u64,
    source_incarnation: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Totals {
    /// Messages (JSON streams) or appends (other types).
    messages: u64,
    bytes: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Hot {
    messages: u64,
    bytes: u64,
    start_offset: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Segment {
    /// The segment's number among the stream's own, from 0 (as in its object key).
    read_seq: u64,
    start_offset: String,
    end_offset: String,
    /// Log bytes it covers (as `hot.bytes` counts them).
    bytes: u64,
    /// The object's size in R2.
    object_bytes: u64,
    rows: u64,
    object_key: String,
    created_at: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProducerView {
    id: String,
    epoch: u64,
    last_seq: u64,
    /// The tail right after its last accepted append.
    last_offset: String,
    last_active_at: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Readers {
    long_poll: usize,
    sse: usize,
}

impl<S: Sql + 'static, H: Host + 'static> StreamService<S, H> {
    /// The inspect reply. Like HEAD it is not activity, so it never extends a TTL; like
    /// every request it applies lazy expiry first, so an expired stream is missing.
    pub(super) async fn inspect_reply(&self) -> Reply {
        self.inspect().await.into()
    }

    async fn inspect(&self) -> Result<Reply, ProtocolError> {
        let m = match self.state_at(self.host.now_ms()).await? {
            // An admin still wants to see a stream kept for its forks (`deleted`).
            State::Live(m) | State::Gone(m) => m,
            State::Missing => return Err(ProtocolError::stream_not_found()),
        };
        let body = serde_json::to_vec(&self.inspection(m)?)
            .map_err(|e| ProtocolError::internal(format!("encoding the inspection failed: {e}")))?;
        Ok(Reply::new(200)
            .header("Content-Type", "application/json")
            .header("Cache-Control", control::NO_STORE)
            .bytes(body))
    }

    /// Everything known about stream `m`, read synchronously.
    fn inspection(&self, m: Meta) -> Result<Inspection, ProtocolError> {
        let entries = self.store.segment_entries()?;
        let offsets = Offsets::new(&m, &entries);
        // One row more than listed tells whether the list is cut.
        let mut producers = self.store.producers(MAX_PRODUCERS + 1)?;
        let producers_truncated = producers.len() > MAX_PRODUCERS;
        producers.truncate(MAX_PRODUCERS);
        let (ttl_seconds, _) = m.expiry.parts();
        let totals = Totals {
            messages: m.tiering.hot_messages + entries.iter().map(|s| s.rows).sum::<u64>(),
            bytes: m.tiering.hot_bytes
                + entries.iter().map(|s| s.info.end.saturating_sub(s.info.start)).sum::<u64>(),
        };
        Ok(Inspection {
            written_at: self.store.written_at()?,
            totals,
            tail_offset: self.offset(&m, m.tail)?,
            hot: Hot {
                messages: m.tiering.hot_messages,
                bytes: m.tiering.hot_bytes,
                start_offset: self.offset(&m, m.hot_start())?,
            },
            expiry: ExpiryView { ttl_seconds, expires_at: m.deadline(), inherited: m.expiry_inherited },
            closed_by: m.closed_by.map(|c| ClosedBy { producer_id: c.id, epoch: c.epoch, seq: c.seq }),
            fork: m.fork.map(|f| Fork {
                source: f.source,
                offset: offsets.of(f.offset).to_string(),
                sub_offset: f.sub_offset,
                source_incarnation: f.source_incarnation,
            }),
            segments_total: entries.len(),
            segments_truncated: entries.len() > MAX_SEGMENTS,
            segments: newest(entries, MAX_SEGMENTS).into_iter().map(|s| segment_view(s, &offsets)).collect(),
            producers: producers.into_iter().map(|p| producer_view(p, &offsets)).collect(),
            producers_truncated,
            readers: Readers { long_poll: self.changes.waiting(), sse: self.host.subscribers().len() },
            requests: self.stats.requests(),
            stream_id: m.stream_id,
            incarnation: m.incarnation,
            content_type: m.content_type,
            created_at: m.created_at,
            touched_at: m.touched_at,
            closed: m.closed,
            last_stream_seq: m.last_stream_seq,
            public: m.public,
            deleted: m.deleted,
            fork_count: m.fork_count,
        })
    }
}

/// The last `max` of `items`, in their order.
fn newest<T>(mut items: Vec<T>, max: usize) -> Vec<T> {
    let excess = items.len().saturating_sub(max);
    items.drain(..excess);
    items
}

fn segment_view(s: SegmentEntry, offsets: &Offsets) -> Segment {
    let info = s.info;
    Segment {
        read_seq: info.read_seq,
        start_offset: offsets.of(info.start).to_string(),
        end_offset: offsets.of(info.end).to_string(),
        bytes: info.end.saturating_sub(info.start),
        object_bytes: s.object_bytes,
        rows: s.rows,
        object_key: info.key,
        created_at: s.created_at,
    }
}

fn producer_view(p: ProducerRow, offsets: &Offsets) -> ProducerView {
    ProducerView {
        last_offset: offsets.of(p.stored.tail).to_string(),
        id: p.id,
        epoch: p.stored.state.epoch,
        last_seq: p.stored.state.last_seq,
        last_active_at: p.updated_at,
    }
}

#[cfg(test)]
mod tests {
    use super::newest;

    #[test]
    fn only_the_newest_segments_are_listed() {
        assert_eq!(newest(vec![1, 2, 3, 4], 2), vec![3, 4]);
        assert_eq!(newest(vec![1, 2], 5), vec![1, 2]);
        assert_eq!(newest(Vec::<u8>::new(), 0), Vec::<u8>::new());
    }
}
