//! The subscription worker's API, as the pub/sub mode uses it: subscribe sessions to the
//! source, publish to it, delete the sessions at the end.

use std::time::Duration;

use futures_util::StreamExt;
use serde::Deserialize;

use crate::http::{describe, Target};

/// Subscribes or deletions in flight at once.
const CONCURRENCY: usize = 16;
/// How long one subscribe may take.
const SUBSCRIBE_LIMIT: Duration = Duration::from_secs(30);
/// How long one deletion may take.
const DELETE_LIMIT: Duration = Duration::from_secs(10);

/// A subscribed session, as `POST /v1/subscribe` answered.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// Its id.
    pub session_id: String,
    /// Its stream's path in core (`/v1/stream/session:<id>`).
    pub session_stream_path: String,
    /// The key its stream's read URLs carry as `rk=…`, with auth on.
    #[serde(default)]
    pub reader_key: Option<String>,
}

/// Where publishes to `source` go.
pub fn publish_url(sub: &Target, source: &str) -> String {
    format!("{}/v1/publish/{source}", sub.base)
}

fn session_url(sub: &Target, id: &str) -> String {
    format!("{}/v1/session/{id}", sub.base)
}

/// Subscribes session `id` to `source`.
async fn subscribe(sub: &Target, source: &str, id: &str) -> Result<Session, String> {
    let url = format!("{}/v1/subscribe", sub.base);
    let body = serde_json::json!({ "streamId": source, "sessionId": id });
    let resp = sub
        .post_json(&url, &body)
        .timeout(SUBSCRIBE_LIMIT)
        .send()
        .await
        .map_err(|e| format!("subscribing {id}: {}", describe(&e)))?;
    let status = resp.status().as_u16();
    let text = resp.text().await.map_err(|e| format!("subscribing {id}: {e}"))?;
    if status != 200 {
        return Err(format!("subscribing {id}: HTTP {status} {}", text.trim()));
    }
    serde_json::from_str(&text).map_err(|e| format!("subscribing {id}: {e}: {text}"))
}

/// Subscribes every session of `ids` to `source`, a few at a time; fails if any failed.
pub async fn subscribe_all(sub: &Target, source: &str, ids: &[String]) -> Result<Vec<Session>, String> {
    let results: Vec<Result<Session, String>> = futures_util::stream::iter(ids)
        .map(|id| subscribe(sub, source, id))
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let failed = results.iter().filter(|r| r.is_err()).count();
    if let Some(Err(first)) = results.iter().find(|r| r.is_err()) {
        return Err(format!("{failed} of {} subscribes failed; the first: {first}", ids.len()));
    }
    Ok(results.into_iter().flatten().collect())
}

/// Deletes session `id`; whether it is gone (a session that is not there is fine).
async fn delete(sub: &Target, id: &str) -> Result<(), String> {
    let url = session_url(sub, id);
    match sub.delete(&url).timeout(DELETE_LIMIT).send().await {
        Ok(resp) if resp.status().is_success() || resp.status().as_u16() == 404 => Ok(()),
        Ok(resp) => Err(format!("deleting {url}: HTTP {}", resp.status())),
        Err(e) => Err(format!("deleting {url}: {}", describe(&e))),
    }
}

/// Deletes the sessions of `ids`, a few at a time (best effort: what fails is reported,
/// and it gives up when a whole batch fails, since the worker is then not answering).
pub async fn delete_all(sub: &Target, ids: &[String]) {
    let (mut failed, mut first) = (0, None);
    for batch in ids.chunks(CONCURRENCY) {
        let results = futures_util::future::join_all(batch.iter().map(|id| delete(sub, id))).await;
        let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
        failed += errors.len();
        first = first.or_else(|| errors.first().cloned());
        if errors.len() == batch.len() {
            eprintln!("giving up deleting sessions: a whole batch failed");
            break;
        }
    }
    if let Some(first) = first {
        eprintln!("could not delete {failed} of {} sessions; the first: {first}", ids.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscribe_answer_is_read() {
        let answer = r#"{"sessionId":"s1","streamId":"src","sessionStreamPath":"/v1/stream/session:s1",
            "expiresAt":1,"isNewSession":true,"readerKey":"rk_x"}"#;
        let s: Session = serde_json::from_str(answer).unwrap();
        assert_eq!(s.session_stream_path, "/v1/stream/session:s1");
        assert_eq!(s.reader_key.as_deref(), Some("rk_x"));
        let t = Target::new("http://h:1", "/v1/stream/", None).unwrap();
        assert_eq!(publish_url(&t, "src"), "http://h:1/v1/publish/src");
        assert_eq!(session_url(&t, "s1"), "http://h:1/v1/session/s1");
    }
}
