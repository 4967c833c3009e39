//! An SSE reader as the stream object keeps it: its progress, which survives the
//! object's hibernation, and what the platform's connection to it can do.

use serde::{Deserialize, Serialize};

/// A subscriber's progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriberState {
    /// Identifies the subscriber among the object's others.
    pub id: u64,
    /// The position after the data sent so far.
    pub offset: u64,
    /// The cursor last sent (or the client's, before anything was sent).
    pub cursor: Option<u64>,
    /// Whether anything was sent yet.
    pub started: bool,
    /// The SSE encoding of the stream's data.
    pub base64: bool,
    /// The stream incarnation being read: a stream created at the same path later is
    /// another stream, and ends the response. 0 in states saved before it was kept.
    #[serde(default)]
    pub incarnation: u64,
}

/// One live subscriber, whose progress survives the object's hibernation.
pub trait Subscriber {
    /// Its saved progress, if it has any.
    fn state(&self) -> Option<SubscriberState>;

    /// Saves its progress.
    fn save(&self, state: &SubscriberState);

    /// Sends one chunk of the event stream. `false` if the subscriber is gone.
    fn send(&self, chunk: &[u8]) -> bool;

    /// Ends the subscription.
    fn close(&self, code: u16, reason: &str);
}
