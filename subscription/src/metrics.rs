//! The subscription layer's metrics: one value per event, written to Analytics Engine
//! in production (`METRICS`). Every point has blobs `[stream, session, event, detail]`,
//! doubles as listed per event, and the event's category as its index. Streams and
//! sessions are project-qualified keys (`<project>/<id>`), so projects never collide.

/// One event.
#[derive(Clone, Debug, PartialEq)]
pub enum Metric {
    /// A subscription was made.
    Subscribe {
        /// The source key.
        stream: String,
        /// The session key.
        session: String,
        /// Whether it created the session.
        new_session: bool,
        /// How long it took (ms).
        latency_ms: f64,
    },
    /// A subscription was removed.
    Unsubscribe {
        /// The source key.
        stream: String,
        /// The session key.
        session: String,
        /// How long it took (ms).
        latency_ms: f64,
    },
    /// A message was published.
    Publish {
        /// The source key.
        stream: String,
        /// Subscribers it fanned out to.
        fanout: usize,
        /// How long publish and fan-out took (ms).
        latency_ms: f64,
    },
    /// A publish failed.
    PublishError {
        /// The source key.
        stream: String,
        /// The status it failed with.
        status: u16,
        /// How long it took (ms).
        latency_ms: f64,
    },
    /// A fan-out wrote to sessions (inline, or a queue job).
    Fanout {
        /// The source key.
        stream: String,
        /// `inline`, `queued` (a consumed job) or `circuit-open`.
        mode: &'static str,
        /// Sessions it covered.
        sessions: usize,
        /// Sessions brought up to date.
        successes: usize,
        /// Sessions that were not.
        failures: usize,
        /// How long it took (ms).
        latency_ms: f64,
    },
    /// A fan-out was handed to the queue.
    FanoutQueued {
        /// The source key.
        stream: String,
        /// Sessions enqueued.
        sessions: usize,
        /// How long enqueueing took (ms).
        latency_ms: f64,
    },
    /// A session changed.
    Session {
        /// The session key.
        session: String,
        /// What happened.
        event: SessionEvent,
        /// Subscriptions it had (for expire and delete).
        subscriptions: usize,
        /// How long it took, or for an expiry, the session's age (ms).
        ms: f64,
    },
}

/// What happened to a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionEvent {
    /// Created by its first subscribe.
    Create,
    /// Kept alive.
    Touch,
    /// Deleted by a client.
    Delete,
    /// Expired.
    Expire,
}

/// An Analytics Engine data point.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Point {
    /// Blobs: stream, session, event, detail.
    pub blobs: [String; 4],
    /// Doubles, per event.
    pub doubles: Vec<f64>,
    /// The index: the event's category.
    pub index: String,
}

impl Metric {
    /// The data point.
    pub fn point(&self) -> Point {
        let p =
            |stream: &str, session: &str, event: &str, detail: &str, doubles: Vec<f64>, index: &str| Point {
                blobs: [stream.to_owned(), session.to_owned(), event.to_owned(), detail.to_owned()],
                doubles,
                index: index.to_owned(),
            };
        match self {
            Self::Subscribe { stream, session, new_session, latency_ms } => p(
                stream,
                session,
                "subscribe",
                "",
                vec![1.0, *latency_ms, f64::from(u8::from(*new_session))],
                "subscription",
            ),
            Self::Unsubscribe { stream, session, latency_ms } => {
                p(stream, session, "unsubscribe", "", vec![1.0, *latency_ms], "subscription")
            }
            Self::Publish { stream, fanout, latency_ms } => {
                p(stream, "", "publish", "", vec![1.0, *fanout as f64, *latency_ms], "publish")
            }
            Self::PublishError { stream, status, latency_ms } => p(
                stream,
                "",
                "publish_error",
                &format!("http_{status}"),
                vec![1.0, *latency_ms],
                "publish_error",
            ),
            Self::Fanout { stream, mode, sessions, successes, failures, latency_ms } => p(
                stream,
                "",
                "fanout",
                mode,
                vec![*sessions as f64, *successes as f64, *failures as f64, *latency_ms],
                "fanout",
            ),
            Self::FanoutQueued { stream, sessions, latency_ms } => {
                p(stream, "", "fanout_queued", "", vec![*sessions as f64, *latency_ms], "fanout")
            }
            Self::Session { session, event, subscriptions, ms } => {
                let name = match event {
                    SessionEvent::Create => "session_create",
                    SessionEvent::Touch => "session_touch",
                    SessionEvent::Delete => "session_delete",
                    SessionEvent::Expire => "session_expire",
                };
                p("", session, name, "", vec![1.0, *ms, *subscriptions as f64], "session")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_keep_the_reference_layout_with_qualified_ids() {
        let point = Metric::Fanout {
            stream: "acme/chat".into(),
            mode: "inline",
            sessions: 3,
            successes: 2,
            failures: 1,
            latency_ms: 4.0,
        }
        .point();
        assert_eq!(point.blobs[0], "acme/chat");
        assert_eq!(point.blobs[2], "fanout");
        assert_eq!(point.doubles, vec![3.0, 2.0, 1.0, 4.0]);
        assert_eq!(point.index, "fanout");
        let error = Metric::PublishError { stream: "acme/chat".into(), status: 409, latency_ms: 1.0 }.point();
        assert_eq!(error.blobs[3], "http_409");
    }
}
