//! What the subscription APIs (§6) keep in stream objects.
//!
//! Every stream object: `watchers`, the subscriptions linked to the stream, which it
//! tells its tail after each append. A registry object also keeps `registry_streams`,
//! the project's live streams (the listing a new subscription's pattern is matched
//! against), and `watches`, each subscription's pattern and explicit streams (matched
//! against each stream created later).

use super::sql::{Sql, SqlExt, StorageError, Value};
use super::Store;

/// One subscription's interest, as a registry keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Watch {
    /// The subscription id.
    pub subscription: String,
    /// Its pattern, if any.
    pub pattern: Option<String>,
    /// Its explicit streams.
    pub streams: Vec<String>,
}

impl Watch {
    /// Whether it wants stream `id`.
    pub fn wants(&self, id: &str) -> bool {
        self.pattern.as_deref().is_some_and(|p| crate::protocol::glob::matches(p, id))
            || self.streams.iter().any(|s| s == id)
    }
}

fn texts(sql: &impl Sql, query: &str) -> Result<Vec<String>, StorageError> {
    let mut out = Vec::new();
    sql.query(query, &[], &mut |row| {
        out.push(row.first().map(Value::text).unwrap_or_default());
        true
    })?;
    Ok(out)
}

impl<S: Sql> Store<S> {
    /// The subscriptions linked to this stream.
    pub fn watchers(&self) -> Result<Vec<String>, StorageError> {
        texts(self.sql(), "SELECT subscription FROM watchers ORDER BY subscription")
    }

    /// Links subscriptions to this stream (again is harmless).
    pub fn add_watchers(&self, subscriptions: &[String]) -> Result<(), StorageError> {
        for s in subscriptions {
            self.sql()
                .execute("INSERT OR IGNORE INTO watchers (subscription) VALUES (?)", &[s.as_str().into()])?;
        }
        Ok(())
    }

    /// Unlinks a subscription from this stream.
    pub fn remove_watcher(&self, subscription: &str) -> Result<(), StorageError> {
        self.sql().execute("DELETE FROM watchers WHERE subscription = ?", &[subscription.into()])
    }

    /// Registry: a stream of the project was created (`live`) or deleted.
    pub fn record_registry_stream(&self, id: &str, live: bool) -> Result<(), StorageError> {
        let stmt = if live {
            "INSERT OR IGNORE INTO registry_streams (id) VALUES (?)"
        } else {
            "DELETE FROM registry_streams WHERE id = ?"
        };
        self.sql().execute(stmt, &[id.into()])
    }

    /// Registry: the project's live streams.
    pub fn registry_streams(&self) -> Result<Vec<String>, StorageError> {
        texts(self.sql(), "SELECT id FROM registry_streams ORDER BY id")
    }

    /// Registry: records (or replaces) a subscription's interest.
    pub fn set_watch(&self, watch: &Watch) -> Result<(), StorageError> {
        let streams = serde_json::to_string(&watch.streams).unwrap_or_else(|_| "[]".into());
        self.sql().execute(
            "INSERT INTO watches (subscription, pattern, streams) VALUES (?, ?, ?)
             ON CONFLICT (subscription) DO UPDATE SET pattern = excluded.pattern, streams = excluded.streams",
            &[watch.subscription.as_str().into(), watch.pattern.clone().into(), streams.into()],
        )
    }

    /// Registry: forgets a subscription.
    pub fn remove_watch(&self, subscription: &str) -> Result<(), StorageError> {
        self.sql().execute("DELETE FROM watches WHERE subscription = ?", &[subscription.into()])
    }

    /// Registry: every subscription's interest.
    pub fn watches(&self) -> Result<Vec<Watch>, StorageError> {
        let mut out = Vec::new();
        self.sql().query(
            "SELECT subscription, pattern, streams FROM watches ORDER BY subscription",
            &[],
            &mut |row| {
                let text = |i: usize| row.get(i).map(Value::text).unwrap_or_default();
                let pattern = row.get(1).and_then(Value::opt_text);
                let streams = serde_json::from_str(&text(2)).unwrap_or_default();
                out.push(Watch { subscription: text(0), pattern, streams });
                true
            },
        )?;
        Ok(out)
    }

    /// Whether the registry's stream list was kept from its creation on (registries
    /// created before it was kept know only the streams created since).
    pub fn registry_listing_complete(&self) -> Result<bool, StorageError> {
        Ok(self
            .sql()
            .query_int("SELECT value FROM object_state WHERE key = 'registry_listing'", &[])?
            .is_some())
    }

    /// Forgets the registry's stream list, as a registry older than the list has none.
    #[cfg(test)]
    pub fn forget_registry_listing(&self) -> Result<(), StorageError> {
        self.sql().execute("DELETE FROM registry_streams", &[])?;
        self.sql().execute("DELETE FROM object_state WHERE key = 'registry_listing'", &[])
    }

    /// Marks the registry's stream list as complete (when the registry is created, or once
    /// it was rebuilt from the registry's log).
    pub fn mark_registry_listing_complete(&self) -> Result<(), StorageError> {
        self.sql()
            .execute("INSERT OR IGNORE INTO object_state (key, value) VALUES ('registry_listing', 1)", &[])
    }
}

#[cfg(test)]
mod tests {
    use super::super::sql::native::NativeSql;
    use super::*;

    #[test]
    fn watchers_watches_and_the_listing() {
        let store = Store::open(NativeSql::new()).unwrap();
        store.add_watchers(&["b".into(), "a".into(), "a".into()]).unwrap();
        assert_eq!(store.watchers().unwrap(), ["a", "b"]);
        store.remove_watcher("a").unwrap();
        assert_eq!(store.watchers().unwrap(), ["b"]);
        store.record_registry_stream("x/1", true).unwrap();
        store.record_registry_stream("x/2", true).unwrap();
        store.record_registry_stream("x/1", false).unwrap();
        assert_eq!(store.registry_streams().unwrap(), ["x/2"]);
        let w = Watch { subscription: "s".into(), pattern: Some("x/*".into()), streams: vec!["m".into()] };
        store.set_watch(&w).unwrap();
        let changed = Watch { pattern: None, ..w.clone() };
        store.set_watch(&changed).unwrap();
        assert_eq!(store.watches().unwrap(), std::slice::from_ref(&changed));
        assert!(changed.wants("m") && !changed.wants("x/2") && w.wants("x/2"));
        store.remove_watch("s").unwrap();
        assert!(store.watches().unwrap().is_empty());
        assert!(!store.registry_listing_complete().unwrap());
        store.mark_registry_listing_complete().unwrap();
        assert!(store.registry_listing_complete().unwrap());
    }
}
