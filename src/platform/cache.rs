//! [`EdgeCache`] over the Workers Cache API (`caches.default`).

use durable_streams_cache::edge::CacheFuture;
use durable_streams_cache::{Buffered, CacheKey, EdgeCache, HasHeaders};
use worker::{Cache, Context, Headers, Response, ResponseBuilder};

/// Headers that describe one hop of one request, never stored.
const NOT_STORED: &[&str] = &["server-timing", "x-cache"];

/// A hit: the stored response, served without copying its body.
pub struct CachedResponse(pub Response);

impl HasHeaders for CachedResponse {
    fn header(&self, name: &str) -> Option<String> {
        self.0.headers().get(name).ok().flatten()
    }
}

/// The data centre's cache. Writes run after the response, in `waitUntil`.
pub struct WorkerCache<'a> {
    ctx: &'a Context,
}

impl<'a> WorkerCache<'a> {
    /// The cache of this request's data centre.
    pub fn new(ctx: &'a Context) -> Self {
        Self { ctx }
    }
}

impl EdgeCache for WorkerCache<'_> {
    type Entry = CachedResponse;

    fn get<'b>(&'b self, key: &'b CacheKey) -> CacheFuture<'b, Option<CachedResponse>> {
        Box::pin(async move {
            match Cache::default().get(key.as_str(), false).await {
                Ok(hit) => hit.map(CachedResponse),
                Err(e) => {
                    // A failing lookup is a miss, not an error for the client.
                    worker::console_error!("cache lookup failed: {e}");
                    None
                }
            }
        })
    }

    fn put(&self, key: &CacheKey, answer: &Buffered) {
        let response = match stored_response(answer) {
            Ok(r) => r,
            Err(e) => return worker::console_error!("cache store skipped: {e}"),
        };
        let url = key.as_str().to_owned();
        self.ctx.wait_until(async move {
            if let Err(e) = Cache::default().put(url.as_str(), response).await {
                worker::console_error!("cache store failed: {e}");
            }
        });
    }
}

fn stored_response(answer: &Buffered) -> worker::Result<Response> {
    let headers = Headers::new();
    for (k, v) in
        answer.headers.iter().filter(|(k, _)| !NOT_STORED.contains(&k.to_ascii_lowercase().as_str()))
    {
        headers.append(k, v)?;
    }
    Ok(ResponseBuilder::new().with_status(answer.status).with_headers(headers).fixed(answer.body.clone()))
}
