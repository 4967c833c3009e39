//! The narrow SQL interface the engine needs.
//!
//! A Durable Object's `ctx.storage.sql` and a native SQLite connection both implement
//! [`Sql`], so every statement the engine runs in production also runs in `cargo test`.

use std::fmt;

/// A SQLite value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// NULL.
    Null,
    /// INTEGER.
    Integer(i64),
    /// TEXT.
    Text(String),
    /// BLOB.
    Blob(Vec<u8>),
}

impl Value {
    /// The integer, or 0 for NULL and other types.
    pub fn int(&self) -> i64 {
        match self {
            Self::Integer(i) => *i,
            _ => 0,
        }
    }

    /// The integer, or `None` for NULL.
    pub fn opt_int(&self) -> Option<i64> {
        match self {
            Self::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The text, or `None` for NULL.
    pub fn opt_text(&self) -> Option<String> {
        match self {
            Self::Text(s) => Some(s.clone()),
            _ => None,
        }
    }

    /// The text, or an empty string.
    pub fn text(&self) -> String {
        self.opt_text().unwrap_or_default()
    }

    /// Takes the blob out of the value (empty for other types).
    pub fn take_blob(&mut self) -> Vec<u8> {
        match std::mem::replace(self, Self::Null) {
            Self::Blob(b) => b,
            Self::Text(s) => s.into_bytes(),
            _ => Vec::new(),
        }
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Self::Integer(v)
    }
}

impl From<u64> for Value {
    /// Positions and counters stay far below `i64::MAX`; larger values saturate.
    fn from(v: u64) -> Self {
        Self::Integer(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Self::Integer(i64::from(v))
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Self::Blob(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Null, Into::into)
    }
}

/// A storage failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageError(pub String);

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "storage error: {}", self.0)
    }
}

impl std::error::Error for StorageError {}

impl From<StorageError> for crate::protocol::ProtocolError {
    fn from(e: StorageError) -> Self {
        Self::internal(e.to_string())
    }
}

/// Synchronous SQL execution, as in a Durable Object.
pub trait Sql {
    /// Runs a statement that returns no rows.
    fn execute(&self, sql: &str, params: &[Value]) -> Result<(), StorageError>;

    /// Runs a query and passes each row to `row` until it returns `false`.
    fn query(
        &self,
        sql: &str,
        params: &[Value],
        row: &mut dyn FnMut(&mut [Value]) -> bool,
    ) -> Result<(), StorageError>;

    /// Runs `body` in a transaction: all its writes commit together, or none do.
    fn transaction(&self, body: &mut dyn FnMut() -> Result<(), StorageError>) -> Result<(), StorageError>;
}

/// Conveniences over [`Sql`].
pub trait SqlExt: Sql {
    /// The first row, if any.
    fn query_row(&self, sql: &str, params: &[Value]) -> Result<Option<Vec<Value>>, StorageError> {
        let mut out = None;
        self.query(sql, params, &mut |r| {
            out = Some(r.to_vec());
            false
        })?;
        Ok(out)
    }

    /// A single integer (the first column of the first row), or `None`.
    fn query_int(&self, sql: &str, params: &[Value]) -> Result<Option<i64>, StorageError> {
        Ok(self.query_row(sql, params)?.and_then(|r| r.first().and_then(Value::opt_int)))
    }

    /// Runs `body` in a transaction and returns its value.
    fn in_transaction<T>(
        &self,
        mut body: impl FnMut() -> Result<T, crate::protocol::ProtocolError>,
    ) -> Result<T, crate::protocol::ProtocolError> {
        let mut out = None;
        let mut failure = None;
        let outcome = self.transaction(&mut || match body() {
            Ok(v) => {
                out = Some(v);
                Ok(())
            }
            Err(e) => {
                let msg = e.to_string();
                failure = Some(e);
                Err(StorageError(msg))
            }
        });
        match (outcome, out, failure) {
            (_, _, Some(e)) => Err(e),
            (Ok(()), Some(v), None) => Ok(v),
            (Err(e), _, None) => Err(e.into()),
            (Ok(()), None, None) => {
                Err(crate::protocol::ProtocolError::internal("transaction body did not run"))
            }
        }
    }
}

impl<S: Sql + ?Sized> SqlExt for S {}

#[cfg(test)]
pub(crate) mod native {
    //! [`Sql`] over an in-memory SQLite database, for native tests.

    use super::*;
    use rusqlite::types::ValueRef;

    /// An in-memory SQLite database.
    pub struct NativeSql(pub rusqlite::Connection);

    impl NativeSql {
        /// A fresh empty database.
        pub fn new() -> Self {
            Self(rusqlite::Connection::open_in_memory().expect("in-memory sqlite"))
        }
    }

    fn bind(params: &[Value]) -> Vec<rusqlite::types::Value> {
        params
            .iter()
            .map(|v| match v {
                Value::Null => rusqlite::types::Value::Null,
                Value::Integer(i) => rusqlite::types::Value::Integer(*i),
                Value::Text(s) => rusqlite::types::Value::Text(s.clone()),
                Value::Blob(b) => rusqlite::types::Value::Blob(b.clone()),
            })
            .collect()
    }

    fn err(e: rusqlite::Error) -> StorageError {
        StorageError(e.to_string())
    }

    impl Sql for NativeSql {
        fn execute(&self, sql: &str, params: &[Value]) -> Result<(), StorageError> {
            let mut stmt = self.0.prepare_cached(sql).map_err(err)?;
            stmt.execute(rusqlite::params_from_iter(bind(params))).map_err(err)?;
            Ok(())
        }

        fn query(
            &self,
            sql: &str,
            params: &[Value],
            row: &mut dyn FnMut(&mut [Value]) -> bool,
        ) -> Result<(), StorageError> {
            let mut stmt = self.0.prepare_cached(sql).map_err(err)?;
            let n = stmt.column_count();
            let mut rows = stmt.query(rusqlite::params_from_iter(bind(params))).map_err(err)?;
            while let Some(r) = rows.next().map_err(err)? {
                let mut values: Vec<Value> = (0..n)
                    .map(|i| match r.get_ref(i) {
                        Ok(ValueRef::Integer(v)) => Value::Integer(v),
                        Ok(ValueRef::Text(t)) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                        Ok(ValueRef::Blob(b)) => Value::Blob(b.to_vec()),
                        Ok(ValueRef::Real(f)) => Value::Integer(f as i64),
                        _ => Value::Null,
                    })
                    .collect();
                if !row(&mut values) {
                    break;
                }
            }
            Ok(())
        }

        fn transaction(
            &self,
            body: &mut dyn FnMut() -> Result<(), StorageError>,
        ) -> Result<(), StorageError> {
            self.0.execute_batch("SAVEPOINT tx").map_err(err)?;
            match body() {
                Ok(()) => self.0.execute_batch("RELEASE tx").map_err(err),
                Err(e) => {
                    self.0.execute_batch("ROLLBACK TO tx; RELEASE tx").map_err(err)?;
                    Err(e)
                }
            }
        }
    }
}
