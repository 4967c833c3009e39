//! The target worker: its URLs, authenticated requests, and the stream-object counters it
//! exposes when `DEBUG_STATS` is on.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::{Client, RequestBuilder, Response};
use serde::Deserialize;

use crate::stats::Counts;

/// A worker under test.
#[derive(Clone, Debug)]
pub struct Target {
    /// Base URL, without a trailing slash.
    pub base: String,
    /// Path under which streams live.
    pub stream_path: String,
    token: Option<String>,
    client: Client,
    /// The reader key of each protected stream the run created, by stream URL.
    reader_keys: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// A request error with its causes (`error sending request …: connection closed
/// before message completed`), which say more than its first line.
pub fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text = format!("{text}: {c}");
        cause = c.source();
    }
    text
}

/// A response header as text.
pub fn header(resp: &Response, name: &str) -> Option<String> {
    resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// The content type of the streams the load test creates.
pub fn content_type(json: bool) -> &'static str {
    if json {
        "application/json"
    } else {
        "text/plain"
    }
}

impl Target {
    /// A target at `base` (for example `http://127.0.0.1:8787`).
    pub fn new(base: &str, stream_path: &str, token: Option<String>) -> Result<Self, String> {
        let base = base.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(format!("{base}: the URL must start with http:// or https://"));
        }
        let stream_path = format!("/{}/", stream_path.trim_matches('/'));
        // One connection per concurrent request, as separate clients would have: HTTP/1.1,
        // no multiplexing.
        let client = Client::builder()
            .http1_only()
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Self { base, stream_path, token, client, reader_keys: Default::default() })
    }

    /// The URL of stream `name`.
    pub fn stream_url(&self, name: &str) -> String {
        format!("{}{}{name}", self.base, self.stream_path)
    }

    fn auth(&self, req: RequestBuilder) -> RequestBuilder {
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    /// A GET with the credentials.
    pub fn get(&self, url: &str) -> RequestBuilder {
        self.auth(self.client.get(url))
    }

    /// An append of `body`.
    pub fn append(&self, url: &str, json: bool, body: impl Into<reqwest::Body>) -> RequestBuilder {
        self.auth(self.client.post(url).header("Content-Type", content_type(json)).body(body))
    }

    /// A POST of a JSON body with the credentials.
    pub fn post_json(&self, url: &str, body: &serde_json::Value) -> RequestBuilder {
        let req = self.client.post(url).header("Content-Type", "application/json");
        self.auth(req.body(body.to_string()))
    }

    /// A DELETE with the credentials.
    pub fn delete(&self, url: &str) -> RequestBuilder {
        self.auth(self.client.delete(url))
    }

    /// A HEAD with the credentials.
    pub fn head(&self, url: &str) -> RequestBuilder {
        self.auth(self.client.head(url))
    }

    /// Creates stream `name` and returns its URL.
    pub async fn create_stream(&self, name: &str, json: bool) -> Result<String, String> {
        let url = self.stream_url(name);
        let resp = self
            .auth(self.client.put(&url).header("Content-Type", content_type(json)))
            .send()
            .await
            .map_err(|e| format!("creating {url}: {e}"))?;
        match resp.status().as_u16() {
            200 | 201 => {
                // A protected stream's reads are shared by caches only with its reader key.
                if let Some(key) = resp.headers().get("stream-reader-key").and_then(|v| v.to_str().ok()) {
                    self.reader_keys
                        .lock()
                        .map_err(|_| "poisoned".to_owned())?
                        .insert(url.clone(), key.to_owned());
                }
                Ok(url)
            }
            other => Err(format!("creating {url}: HTTP {other}")),
        }
    }

    /// Remembers the reader key of stream `url`, which this run did not create (a
    /// session's stream), so its reads carry it like those of streams it created.
    pub fn set_reader_key(&self, url: &str, key: &str) {
        if let Ok(mut keys) = self.reader_keys.lock() {
            keys.insert(url.to_owned(), key.to_owned());
        }
    }

    /// A read URL of stream `url` with `query`, plus the stream's reader key if it has one
    /// (last, like clients add it).
    pub fn read_url(&self, url: &str, query: &str) -> String {
        match self.reader_keys.lock().ok().and_then(|k| k.get(url).cloned()) {
            Some(key) => format!("{url}?{query}&rk={key}"),
            None => format!("{url}?{query}"),
        }
    }

    /// Deletes a stream the run created. Best effort: a failure is reported and the run
    /// goes on (the stream then stays on the target).
    pub async fn delete_stream(&self, url: &str) {
        match self.delete(url).timeout(Duration::from_secs(30)).send().await {
            Ok(resp) if resp.status().is_success() || resp.status().as_u16() == 404 => {}
            Ok(resp) => eprintln!("could not delete {url}: HTTP {}", resp.status()),
            Err(e) => eprintln!("could not delete {url}: {e}"),
        }
    }

    /// The counters of stream `name`'s object, or `None` when the worker does not expose
    /// them (`DEBUG_STATS` off, or another implementation).
    pub async fn object_counters(&self, name: &str) -> Option<ObjectCounters> {
        #[derive(Deserialize)]
        struct Requests {
            by_kind: Counts,
        }
        #[derive(Deserialize)]
        struct Body {
            requests: Requests,
        }
        let url = format!("{}/debug/stats/{name}", self.base);
        let resp = self.get(&url).timeout(Duration::from_secs(10)).send().await.ok()?;
        if resp.status().as_u16() != 200 {
            return None;
        }
        let body: Body = serde_json::from_slice(&resp.bytes().await.ok()?).ok()?;
        Some(ObjectCounters { by_kind: body.requests.by_kind })
    }
}

/// Requests a stream object has served, by kind (`append`, `long_poll`, `read`, `sse`, …).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectCounters {
    /// Counts by kind.
    pub by_kind: Counts,
}

/// Kinds that are reads answered per request: what edge caching and collapsing are
/// meant to save. (SSE sessions are counted apart: one lasts many messages.)
pub const READ_KINDS: [&str; 2] = ["read", "long_poll"];

impl ObjectCounters {
    /// Requests served between `before` and `self`. Counters live in the object's memory,
    /// so if any went down the object was reloaded: then the counts since the reload are
    /// returned and the second value is `true`.
    pub fn since(&self, before: &ObjectCounters) -> (Counts, bool) {
        let restarted = before.by_kind.0.iter().any(|(k, v)| self.by_kind.get(k) < *v);
        let mut delta = Counts::default();
        for (k, v) in &self.by_kind.0 {
            let d = if restarted { *v } else { v - before.by_kind.get(k) };
            if d > 0 {
                delta.add(k, d);
            }
        }
        (delta, restarted)
    }
}

/// Each object's requests between two snapshots of a run's objects (see
/// [`ObjectCounters::since`]); `None` if the target did not expose one of them.
pub fn deltas(
    before: Vec<Option<ObjectCounters>>,
    after: Vec<Option<ObjectCounters>>,
) -> Option<Vec<(Counts, bool)>> {
    before
        .into_iter()
        .zip(after)
        .map(|(b, a)| match (b, a) {
            (Some(b), Some(a)) => Some(a.since(&b)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(pairs: &[(&str, u64)]) -> ObjectCounters {
        let mut by_kind = Counts::default();
        for (k, v) in pairs {
            by_kind.add(k, *v);
        }
        ObjectCounters { by_kind }
    }

    #[test]
    fn deltas_between_snapshots() {
        let before = counters(&[("append", 1), ("long_poll", 5)]);
        let after = counters(&[("append", 11), ("long_poll", 16), ("read", 2)]);
        let (d, restarted) = after.since(&before);
        assert!(!restarted);
        assert_eq!((d.get("append"), d.get("long_poll"), d.get("read")), (10, 11, 2));
    }

    #[test]
    fn deltas_need_every_object_counted_twice() {
        let (a, b) = (counters(&[("append", 1)]), counters(&[("append", 4)]));
        let d =
            deltas(vec![Some(a.clone()), Some(a.clone())], vec![Some(b.clone()), Some(a.clone())]).unwrap();
        assert_eq!((d[0].0.get("append"), d[1].0.total(), d[0].1), (3, 0, false));
        assert!(deltas(vec![Some(a), None], vec![Some(b.clone()), Some(b)]).is_none());
    }

    #[test]
    fn a_reloaded_object_counts_from_zero() {
        let before = counters(&[("append", 50)]);
        let after = counters(&[("append", 7), ("long_poll", 8)]);
        let (d, restarted) = after.since(&before);
        assert!(restarted);
        assert_eq!((d.get("append"), d.get("long_poll")), (7, 8));
    }

    #[test]
    fn read_urls_carry_the_reader_key_last() {
        let t = Target::new("http://127.0.0.1:1", "/v1/stream/", None).unwrap();
        let u = t.stream_url("a");
        assert_eq!(t.read_url(&u, "offset=-1"), "http://127.0.0.1:1/v1/stream/a?offset=-1");
        t.reader_keys.lock().unwrap().insert(u.clone(), "rk_1".into());
        assert_eq!(
            t.read_url(&u, "live=sse&offset=-1"),
            "http://127.0.0.1:1/v1/stream/a?live=sse&offset=-1&rk=rk_1"
        );
    }

    #[test]
    fn stream_urls_are_built_under_the_stream_path() {
        let t = Target::new("http://127.0.0.1:1/", "v1/stream", None).unwrap();
        assert_eq!(t.stream_url("a"), "http://127.0.0.1:1/v1/stream/a");
        assert!(Target::new("127.0.0.1:1", "/v1/stream/", None).is_err());
    }
}
