//! Request counts of one stream object, so tests and the load-test harness can see how
//! many requests reached it (and so prove that the edge collapsed the rest).
//!
//! Counts live in memory: they start at zero whenever the object is (re)loaded.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use crate::store::meta::Tiering;

/// Counters of one stream object.
#[derive(Default)]
pub struct Stats {
    requests: RefCell<BTreeMap<&'static str, u64>>,
    storage_reads: Cell<u64>,
    reused_reads: Cell<u64>,
}

impl Stats {
    /// Counts one request of `kind`.
    pub fn request(&self, kind: &'static str) {
        *self.requests.borrow_mut().entry(kind).or_default() += 1;
    }

    /// Counts a read that went to storage (or to a fork source).
    pub fn storage_read(&self) {
        self.storage_reads.set(self.storage_reads.get() + 1);
    }

    /// Counts a read answered by an identical read in progress or just finished.
    pub fn reused_read(&self) {
        self.reused_reads.set(self.reused_reads.get() + 1);
    }

    /// The requests counted so far, by kind.
    pub fn requests(&self) -> BTreeMap<&'static str, u64> {
        self.requests.borrow().clone()
    }

    /// The counters as JSON, with the number of readers waiting now and the stream's
    /// storage tiers (if it exists).
    pub fn to_json(&self, waiting: usize, tiering: Option<&Tiering>) -> String {
        let requests = self.requests.borrow();
        let total: u64 = requests.values().sum();
        let storage = tiering.map(|t| {
            serde_json::json!({
                "hot_messages": t.hot_messages,
                "hot_bytes": t.hot_bytes,
                "segments": t.segments,
            })
        });
        serde_json::json!({
            "requests": { "total": total, "by_kind": &*requests },
            "reads": { "storage": self.storage_reads.get(), "reused": self.reused_reads.get() },
            "waiting": waiting,
            "storage": storage,
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up() {
        let s = Stats::default();
        s.request("long_poll");
        s.request("long_poll");
        s.request("append");
        s.storage_read();
        let tiering = Tiering { segments: 2, ..Tiering::default() };
        let v: serde_json::Value = serde_json::from_str(&s.to_json(3, Some(&tiering))).unwrap();
        assert_eq!(v["storage"]["segments"], 2);
        assert_eq!(v["requests"]["total"], 3);
        assert_eq!(v["requests"]["by_kind"]["long_poll"], 2);
        assert_eq!(v["reads"]["storage"], 1);
        assert_eq!(v["waiting"], 3);
    }
}
