//! The platform cache behind a small trait, and the buffered answers it stores.

use std::future::Future;
use std::pin::Pin;

use crate::key::CacheKey;
use crate::policy::ReplyFacts;

/// Read access to the headers of a response.
pub trait HasHeaders {
    /// A header's value (names compare case-insensitively).
    fn header(&self, name: &str) -> Option<String>;
}

/// An origin answer, buffered so it can be shared with followers and stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Buffered {
    /// The status code.
    pub status: u16,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Buffered {
    /// A header's value, borrowed.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// What the store guard needs to know about this answer.
    pub fn facts(&self) -> ReplyFacts<'_> {
        ReplyFacts {
            status: self.status,
            cache_control: self.get("cache-control"),
            up_to_date: self.get("stream-up-to-date") == Some("true"),
        }
    }
}

impl HasHeaders for Buffered {
    fn header(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }
}

/// A future the cache returns.
pub type CacheFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// The platform's shared cache (the Workers Cache API in production).
pub trait EdgeCache {
    /// What a hit hands back: the platform's own response, served without copying.
    type Entry: HasHeaders;

    /// Looks a key up.
    fn get<'a>(&'a self, key: &'a CacheKey) -> CacheFuture<'a, Option<Self::Entry>>;

    /// Stores an answer. It may become visible to lookups a little later.
    fn put(&self, key: &CacheKey, answer: &Buffered);
}

#[cfg(any(test, feature = "memory"))]
pub use memory::MemoryCache;

#[cfg(any(test, feature = "memory"))]
mod memory {
    //! An in-memory [`EdgeCache`] honouring `max-age`, for tests of code that drives the
    //! cache.

    use std::cell::{Cell, RefCell};
    use std::collections::HashMap;
    use std::rc::Rc;

    use super::*;
    use crate::control;

    /// An in-memory cache on a shared clock (ms).
    #[derive(Default)]
    pub struct MemoryCache {
        entries: RefCell<HashMap<String, (Buffered, i64)>>,
        /// The clock the cache reads to expire entries.
        pub now: Rc<Cell<i64>>,
        /// Stores performed.
        pub puts: Cell<usize>,
        /// Lookups performed.
        pub lookups: Cell<usize>,
    }

    impl EdgeCache for MemoryCache {
        type Entry = Buffered;

        fn get<'a>(&'a self, key: &'a CacheKey) -> CacheFuture<'a, Option<Buffered>> {
            self.lookups.set(self.lookups.get() + 1);
            let now = self.now.get();
            let hit =
                self.entries.borrow().get(key.as_str()).filter(|(_, exp)| *exp > now).map(|(b, _)| b.clone());
            Box::pin(async move { hit })
        }

        fn put(&self, key: &CacheKey, answer: &Buffered) {
            let ttl = answer.get("cache-control").and_then(control::shared_max_age).unwrap_or(0);
            if ttl > 0 {
                self.puts.set(self.puts.get() + 1);
                let expires = self.now.get() + ttl as i64 * 1000;
                self.entries.borrow_mut().insert(key.as_str().to_owned(), (answer.clone(), expires));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{KeyOffset, Mode, ReadFacts};

    #[test]
    fn the_memory_cache_honours_max_age() {
        let cache = MemoryCache::default();
        let facts = ReadFacts::new("/v1/stream/s", KeyOffset::Now, Mode::CatchUp, None);
        let key = CacheKey::for_read("https://h", &facts);
        let answer = Buffered {
            status: 200,
            headers: vec![("Cache-Control".into(), "max-age=2".into())],
            body: b"x".to_vec(),
        };
        cache.put(&key, &answer);
        assert_eq!(futures_executor::block_on(cache.get(&key)), Some(answer));
        cache.now.set(2000);
        assert_eq!(futures_executor::block_on(cache.get(&key)), None);
    }
}
