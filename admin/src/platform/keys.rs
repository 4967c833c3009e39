//! The team's Access keys in this isolate: fetched when missing, older than
//! [`KEYS_TTL_MS`](crate::access::keys::KEYS_TTL_MS), or when a token names a key not
//! held (at most every 30 s); the held keys go on verifying when a fetch fails.

use std::cell::RefCell;
use std::rc::Rc;

use durable_streams_cloudflare::adapters::timing::now_ms;
use durable_streams_cloudflare::auth::jwt::Compact;

use crate::access::keys::{KeyCache, KeySet, Refresh};
use crate::access::AccessApp;

thread_local! {
    static CACHE: RefCell<KeyCache> = RefCell::new(KeyCache::default());
}

/// The keys to verify `token` with, fetching them first if the cache says so.
pub async fn for_token(app: &AccessApp, token: &str) -> Option<Rc<KeySet>> {
    let kid = Compact::parse(token).ok().and_then(|c| c.kid);
    let now = now_ms().max(0) as u64;
    if CACHE.with(|c| c.borrow().refresh(kid.as_deref(), now)) != Refresh::No {
        match fetch(app).await {
            Ok(keys) => CACHE.with(|c| c.borrow_mut().store(keys, now)),
            Err(e) => worker::console_error!("fetching the Access keys from {}: {e}", app.certs_url()),
        }
    }
    CACHE.with(|c| c.borrow().keys().cloned().map(Rc::new))
}

async fn fetch(app: &AccessApp) -> Result<KeySet, String> {
    let url = app.certs_url();
    let req = worker::Request::new(&url, worker::Method::Get).map_err(|e| e.to_string())?;
    let mut resp = worker::Fetch::Request(req).send().await.map_err(|e| e.to_string())?;
    if resp.status_code() != 200 {
        return Err(format!("HTTP {}", resp.status_code()));
    }
    let body = resp.bytes().await.map_err(|e| e.to_string())?;
    KeySet::parse(&body).ok_or_else(|| "the answer is not a JSON Web Key Set".to_owned())
}
