//! Reading the source stream back from core at the end of a run: what was published, in
//! the order core stored it, which every session must have received.

use std::time::Duration;

use crate::http::{describe, header, Target};
use crate::payload::{self, Stamp};

/// How long one catch-up read may take.
const READ_LIMIT: Duration = Duration::from_secs(30);
/// Reads at most, however long the source (a bound against a server that never says it is
/// up to date).
const MAX_READS: usize = 100_000;

/// Every message of the stream at `url`, from its start to its tail.
pub async fn read(core: &Target, url: &str, json: bool) -> Result<Vec<Stamp>, String> {
    let (mut offset, mut carry, mut stamps) = ("-1".to_owned(), Vec::new(), Vec::new());
    for _ in 0..MAX_READS {
        let read = core.read_url(url, &format!("offset={offset}"));
        let fail = |e: String| format!("reading the source back ({read}): {e}");
        let resp = core.get(&read).timeout(READ_LIMIT).send().await.map_err(|e| fail(describe(&e)))?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(fail(format!("HTTP {status}")));
        }
        let up_to_date = header(&resp, "stream-up-to-date").is_some_and(|v| v == "true");
        let next = header(&resp, "stream-next-offset");
        let body = resp.bytes().await.map_err(|e| fail(describe(&e)))?;
        if !body.is_empty() {
            stamps.extend(payload::decode(&body, json, &mut carry).map_err(fail)?);
        }
        match next {
            Some(next) if !up_to_date && next != offset => offset = next,
            _ => return Ok(stamps),
        }
    }
    Err(format!("reading the source back: not up to date after {MAX_READS} reads"))
}
