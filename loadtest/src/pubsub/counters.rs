//! Core's stream-object counters over the run's streams: the source and every session's
//! stream, read a few at a time.

use futures_util::StreamExt;

use crate::http::{ObjectCounters, Target};

/// Counter reads in flight at once.
const CONCURRENCY: usize = 16;

/// The id of the stream at `path` (as a subscribe answers it) for core's
/// `/debug/stats/<id>`, percent-encoded; `None` outside core's stream path (another
/// project's streams have no counters there).
pub fn stats_id(core: &Target, path: &str) -> Option<String> {
    let id = path.strip_prefix(&core.stream_path)?;
    Some(id.replace('%', "%25").replace(':', "%3A").replace('/', "%2F"))
}

/// The counters of each stream of `ids`, in order; `None` for one the target did not
/// expose.
pub async fn snapshot(core: &Target, ids: &[Option<String>]) -> Vec<Option<ObjectCounters>> {
    futures_util::stream::iter(ids)
        .map(|id| async move {
            match id {
                Some(id) => core.object_counters(id).await,
                None => None,
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_streams_are_named_for_the_counters() {
        let core = Target::new("http://h:1", "/v1/stream/", None).unwrap();
        assert_eq!(stats_id(&core, "/v1/stream/session:lt-1-0").as_deref(), Some("session%3Alt-1-0"));
        assert_eq!(stats_id(&core, "/v1/stream/a/b%").as_deref(), Some("a%2Fb%25"));
        assert_eq!(stats_id(&core, "/v1/acme/stream/session:x"), None);
    }
}
