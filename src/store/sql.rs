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

    /// The integer as a position or count: 0 for NULL, other types and negatives.
    pub fn uint(&self) -> u64 {
        self.int().max(0) as u64
    }

    /// The integer as a position or count (negatives clamp to 0), or `None` for NULL.
    pub fn opt_uint(&self) -> Option<u64> {
        self.opt_int().map(|v| v.max(0) as u64)
    }

    /// A 0/1 flag: any non-zero integer is `true`.
    pub fn flag(&self) -> bool {
        self.int() != 0
    }

    /// The text, or an empty string.
    pub fn text(&self) -> String {
        self.opt_text().unwrap_or_default()
    }

    /// The blob (text as its bytes; empty for other types).
    pub fn into_blob(self) -> Vec<u8> {
        match self {
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

/// The columns a statement selects or inserts, named once: the SQL column list and the
/// placeholders are derived from the names, and rows are read and bound by name, so the
/// statement and the code that decodes or encodes its rows cannot drift apart.
#[derive(Clone, Copy, Debug)]
pub struct Columns {
    table: &'static str,
    names: &'static [&'static str],
}

impl Columns {
    /// Columns of `table`, in the order the SQL lists them. A name may be quoted as SQL
    /// needs (`"end"`); it is looked up without the quotes.
    pub const fn new(table: &'static str, names: &'static [&'static str]) -> Self {
        Self { table, names }
    }

    /// The column list, as in `SELECT {list} FROM …` or `INSERT INTO t ({list})`.
    pub fn list(&self) -> String {
        self.names.join(", ")
    }

    /// One `?` per column, as in `VALUES ({placeholders})`.
    pub fn placeholders(&self) -> String {
        vec!["?"; self.names.len()].join(", ")
    }

    /// A row of values selected with [`Self::list`], to be read by column name. A row of
    /// another length is an error.
    pub fn read<'r>(&'r self, values: &'r mut [Value]) -> Result<NamedRow<'r>, StorageError> {
        if values.len() != self.names.len() {
            return Err(self.error(format_args!("{} values for {} columns", values.len(), self.names.len())));
        }
        Ok(NamedRow { columns: self, values })
    }

    /// The parameters for [`Self::placeholders`], in column order, from values given by
    /// column name. Each column must be given exactly once.
    pub fn bind<const N: usize>(&self, named: [(&str, Value); N]) -> Result<Vec<Value>, StorageError> {
        let mut slots: Vec<Option<Value>> = vec![None; self.names.len()];
        for (name, value) in named {
            match slots.get_mut(self.position(name)?) {
                Some(slot @ None) => *slot = Some(value),
                _ => return Err(self.error(format_args!("column `{name}` is given twice"))),
            }
        }
        slots
            .into_iter()
            .zip(self.names)
            .map(|(value, name)| {
                value.ok_or_else(|| self.error(format_args!("column `{name}` is not given")))
            })
            .collect()
    }

    fn position(&self, name: &str) -> Result<usize, StorageError> {
        self.names
            .iter()
            .position(|n| n.trim_matches('"') == name)
            .ok_or_else(|| self.error(format_args!("no column `{name}` in this statement")))
    }

    fn no_value(&self, name: &str) -> StorageError {
        self.error(format_args!("no value for column `{name}`"))
    }

    fn error(&self, what: fmt::Arguments<'_>) -> StorageError {
        StorageError(format!("table `{}`: {what}", self.table))
    }
}

/// One row's values, read by column name (see [`Columns::read`]).
pub struct NamedRow<'r> {
    columns: &'r Columns,
    values: &'r mut [Value],
}

impl NamedRow<'_> {
    /// The value of column `name`.
    pub fn get(&self, name: &str) -> Result<&Value, StorageError> {
        let at = self.columns.position(name)?;
        self.values.get(at).ok_or_else(|| self.columns.no_value(name))
    }

    /// Takes the value of column `name` out of the row (leaving NULL), so a blob is kept
    /// without a copy.
    pub fn take(&mut self, name: &str) -> Result<Value, StorageError> {
        let at = self.columns.position(name)?;
        match self.values.get_mut(at) {
            Some(value) => Ok(std::mem::replace(value, Value::Null)),
            None => Err(self.columns.no_value(name)),
        }
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

    /// Runs a query and passes each row to `row` until it returns `Ok(false)` or fails;
    /// its failure is returned.
    fn try_query<E: From<StorageError>>(
        &self,
        sql: &str,
        params: &[Value],
        mut row: impl FnMut(&mut [Value]) -> Result<bool, E>,
    ) -> Result<(), E> {
        let mut failure = None;
        self.query(sql, params, &mut |values| match row(values) {
            Ok(more) => more,
            Err(e) => {
                failure = Some(e);
                false
            }
        })?;
        failure.map_or(Ok(()), Err)
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

#[cfg(any(test, feature = "native-sql"))]
#[allow(clippy::expect_used)] // Test support: an in-memory database that cannot open is a broken machine.
pub mod native {
    //! [`Sql`] over an in-memory SQLite database, for native tests (here, and of other
    //! crates with the `native-sql` feature).

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

    impl Default for NativeSql {
        fn default() -> Self {
            Self::new()
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

#[cfg(test)]
mod tests {
    use super::*;

    const PAIR: Columns = Columns::new("t", &["a", "\"end\""]);

    #[test]
    fn the_column_list_and_placeholders_come_from_the_names() {
        assert_eq!(PAIR.list(), "a, \"end\"");
        assert_eq!(PAIR.placeholders(), "?, ?");
    }

    #[test]
    fn rows_are_read_by_name_and_a_short_row_is_an_error() {
        let mut values = [Value::Integer(-3), Value::Blob(b"x".to_vec())];
        let mut r = PAIR.read(&mut values).unwrap();
        assert_eq!(r.get("a").unwrap().uint(), 0);
        assert_eq!(r.take("end").unwrap().into_blob(), b"x");
        assert!(r.get("b").is_err());
        assert!(PAIR.read(&mut [Value::Integer(1)]).is_err());
        assert!(PAIR.read(&mut []).is_err());
        assert!(PAIR.read(&mut [Value::Null, Value::Null, Value::Null]).is_err());
    }

    #[test]
    fn values_are_bound_in_column_order_each_exactly_once() {
        let bound = PAIR.bind([("end", 2i64.into()), ("a", 1i64.into())]).unwrap();
        assert_eq!(bound, vec![Value::Integer(1), Value::Integer(2)]);
        assert!(PAIR.bind([("a", 1i64.into())]).is_err());
        assert!(PAIR.bind([("a", 1i64.into()), ("a", 2i64.into())]).is_err());
        assert!(PAIR.bind([("a", 1i64.into()), ("b", 2i64.into())]).is_err());
    }
}
