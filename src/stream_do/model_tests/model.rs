//! The model: what each stream should hold, and the randomness that drives a run.

use super::*;

// ---------------------------------------------------------------------------------------
// Deterministic randomness

/// SplitMix64: tiny, fast, and good enough to drive a test.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `percent`/100.
    pub(super) fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub(super) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

// ---------------------------------------------------------------------------------------
// The model

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Text,
    Binary,
    Json,
}

impl Kind {
    /// Content types of this kind, as a client might spell them.
    pub(super) fn spellings(self) -> &'static [&'static str] {
        match self {
            Kind::Text => &["text/plain", "text/plain; charset=utf-8", "TEXT/PLAIN"],
            Kind::Binary => &["application/octet-stream", "Application/Octet-Stream"],
            Kind::Json => &["application/json", "application/json; charset=utf-8", "APPLICATION/JSON"],
        }
    }

    pub(super) fn of(content_type: &str) -> Kind {
        match essence(content_type).as_str() {
            "text/plain" => Kind::Text,
            "application/json" => Kind::Json,
            _ => Kind::Binary,
        }
    }

    pub(super) fn other(self, rng: &mut Rng) -> Kind {
        let others: Vec<Kind> =
            [Kind::Text, Kind::Binary, Kind::Json].into_iter().filter(|k| *k != self).collect();
        rng.pick(&others)
    }
}

/// The media type without parameters, lowercased.
pub(super) fn essence(ct: &str) -> String {
    ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

/// A request body and what the stream should make of it.
#[derive(Clone, Debug)]
pub(super) enum Units {
    Bytes(Vec<u8>),
    /// JSON messages in compact form (possibly none, for `[]`).
    Msgs(Vec<String>),
    /// Not valid JSON.
    Invalid,
}

impl Units {
    pub(super) fn is_empty(&self) -> bool {
        match self {
            Units::Bytes(b) => b.is_empty(),
            Units::Msgs(m) => m.is_empty(),
            Units::Invalid => false,
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(super) struct ProducerState {
    pub(super) epoch: u64,
    pub(super) last_seq: u64,
    /// The stream length right after its last accepted append.
    pub(super) tail: usize,
}

#[derive(Clone, Debug)]
pub(super) struct Origin {
    pub(super) source: String,
    /// The source incarnation (model id).
    pub(super) source_id: u64,
    /// The fork point, in the source's units.
    pub(super) at: usize,
    pub(super) sub: usize,
}

/// How a stream expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Expiry {
    None,
    /// Seconds without a read or write.
    Ttl(u64),
    /// An absolute time (ms).
    At(i64),
}

/// One stream incarnation, live or retained.
#[derive(Clone, Debug)]
pub(super) struct Stream {
    pub(super) id: u64,
    pub(super) kind: Kind,
    pub(super) content_type: String,
    pub(super) data: Vec<u8>,
    pub(super) msgs: Vec<String>,
    /// Where each record (append) starts, ascending; inherited ones included.
    pub(super) record_starts: Vec<usize>,
    pub(super) closed: bool,
    pub(super) closed_by: Option<(String, u64, u64)>,
    pub(super) last_stream_seq: Option<String>,
    pub(super) next_stream_seq: u64,
    pub(super) producers: HashMap<String, ProducerState>,
    pub(super) origin: Option<Origin>,
    pub(super) forks: usize,
    pub(super) gone: bool,
    pub(super) expiry: Expiry,
    /// The last read or write, for a sliding TTL.
    pub(super) touched_at: i64,
    /// Offsets this stream returned, by position, and back.
    pub(super) offsets: BTreeMap<usize, String>,
    pub(super) positions: HashMap<String, usize>,
    /// Offsets the fork source returned that address the same data here.
    pub(super) borrowed: Vec<(usize, String)>,
}

impl Stream {
    pub(super) fn new(id: u64, content_type: String) -> Self {
        Stream {
            id,
            kind: Kind::of(&content_type),
            content_type,
            data: Vec::new(),
            msgs: Vec::new(),
            record_starts: Vec::new(),
            closed: false,
            closed_by: None,
            last_stream_seq: None,
            next_stream_seq: 0,
            producers: HashMap::new(),
            origin: None,
            forks: 0,
            gone: false,
            expiry: Expiry::None,
            touched_at: 0,
            offsets: BTreeMap::new(),
            positions: HashMap::new(),
            borrowed: Vec::new(),
        }
    }

    pub(super) fn deadline(&self) -> Option<i64> {
        match self.expiry {
            Expiry::None => None,
            Expiry::Ttl(secs) => Some(self.touched_at + secs as i64 * 1000),
            Expiry::At(at) => Some(at),
        }
    }

    /// The headers describing the expiry, as HEAD and PUT replies carry them.
    pub(super) fn expiry_headers(&self) -> (Option<String>, Option<String>) {
        match self.expiry {
            Expiry::None => (None, None),
            Expiry::Ttl(secs) => (Some(secs.to_string()), None),
            Expiry::At(at) => (None, Some(crate::protocol::time::format_rfc3339_millis(at))),
        }
    }

    pub(super) fn len(&self) -> usize {
        if self.kind == Kind::Json {
            self.msgs.len()
        } else {
            self.data.len()
        }
    }

    /// The body a read of `[from, to)` returns.
    pub(super) fn body(&self, from: usize, to: usize) -> Vec<u8> {
        if self.kind == Kind::Json {
            format!("[{}]", self.msgs[from..to].join(",")).into_bytes()
        } else {
            self.data[from..to].to_vec()
        }
    }

    /// Stored bytes of `[from, to)`: what the chunk cap counts.
    pub(super) fn stored(&self, from: usize, to: usize) -> usize {
        if self.kind == Kind::Json {
            self.msgs[from..to].iter().map(|m| m.len() + 1).sum()
        } else {
            to - from
        }
    }

    /// Units from `at` to the end of the record holding it (0 at the tail).
    pub(super) fn record_rest(&self, at: usize) -> usize {
        if at >= self.len() {
            return 0;
        }
        let i = self.record_starts.partition_point(|s| *s <= at);
        let end = self.record_starts.get(i).copied().unwrap_or(self.len());
        end - at
    }

    pub(super) fn push(&mut self, units: &Units) {
        if units.is_empty() {
            return;
        }
        self.record_starts.push(self.len());
        match units {
            Units::Bytes(b) => self.data.extend_from_slice(b),
            Units::Msgs(m) => self.msgs.extend(m.iter().cloned()),
            Units::Invalid => unreachable!("invalid bodies are never stored"),
        }
    }

    /// Every offset known to address this stream, with its position.
    pub(super) fn known(&self) -> Vec<(usize, String)> {
        let mut all: Vec<(usize, String)> = self.offsets.iter().map(|(p, o)| (*p, o.clone())).collect();
        all.extend(self.borrowed.iter().cloned());
        all
    }
}
