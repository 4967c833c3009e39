//! [`Sql`] over a Durable Object's `ctx.storage.sql`.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::{SqlStorage, SqlStorageValue};

use super::timing::{now_precise, record_storage};
use crate::store::{Sql, StorageError, Value};

#[wasm_bindgen]
extern "C" {
    /// `DurableObjectStorage`, for `transactionSync`, which workers-rs does not bind.
    #[wasm_bindgen(extends = js_sys::Object)]
    #[derive(Clone)]
    type TransactionalStorage;

    #[wasm_bindgen(method, catch, js_name = transactionSync)]
    fn transaction_sync(this: &TransactionalStorage, body: &js_sys::Function) -> Result<JsValue, JsValue>;
}

/// The object's SQLite database.
pub struct DoSql {
    sql: SqlStorage,
    storage: TransactionalStorage,
}

impl DoSql {
    /// Wraps the storage of a Durable Object.
    pub fn new(storage: &worker::Storage) -> Self {
        Self { sql: storage.sql(), storage: storage.as_raw().unchecked_ref::<TransactionalStorage>().clone() }
    }

    /// Runs a statement, charging its time to the current request (`Server-Timing`).
    fn metered<T>(&self, f: impl FnOnce() -> T) -> T {
        let started = now_precise();
        let out = f();
        record_storage(now_precise() - started);
        out
    }
}

fn to_js(v: &Value) -> SqlStorageValue {
    match v {
        Value::Null => SqlStorageValue::Null,
        Value::Integer(i) => SqlStorageValue::Integer(*i),
        Value::Text(s) => SqlStorageValue::String(s.clone()),
        Value::Blob(b) => SqlStorageValue::Blob(b.clone()),
    }
}

fn from_js(v: SqlStorageValue) -> Value {
    match v {
        SqlStorageValue::Null => Value::Null,
        SqlStorageValue::Boolean(b) => Value::Integer(i64::from(b)),
        SqlStorageValue::Integer(i) => Value::Integer(i),
        SqlStorageValue::Float(f) => Value::Integer(f as i64),
        SqlStorageValue::String(s) => Value::Text(s),
        SqlStorageValue::Blob(b) => Value::Blob(b),
    }
}

fn storage_error(e: impl std::fmt::Display) -> StorageError {
    StorageError(e.to_string())
}

impl Sql for DoSql {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<(), StorageError> {
        self.metered(|| {
            self.sql
                .exec(sql, params.iter().map(to_js).collect::<Vec<_>>())
                .map(|_| ())
                .map_err(storage_error)
        })
    }

    fn query(
        &self,
        sql: &str,
        params: &[Value],
        row: &mut dyn FnMut(&mut [Value]) -> bool,
    ) -> Result<(), StorageError> {
        self.metered(|| {
            let cursor =
                self.sql.exec(sql, params.iter().map(to_js).collect::<Vec<_>>()).map_err(storage_error)?;
            for r in cursor.raw() {
                let mut values: Vec<Value> = r.map_err(storage_error)?.into_iter().map(from_js).collect();
                if !row(&mut values) {
                    break;
                }
            }
            Ok(())
        })
    }

    fn transaction(&self, body: &mut dyn FnMut() -> Result<(), StorageError>) -> Result<(), StorageError> {
        let mut failure = None;
        let mut run = || match body() {
            Ok(()) => Ok(JsValue::UNDEFINED),
            Err(e) => {
                let thrown = JsValue::from_str(&e.0);
                failure = Some(e);
                Err(thrown)
            }
        };
        let run: &mut dyn FnMut() -> Result<JsValue, JsValue> = &mut run;
        // SAFETY: `transactionSync` calls its callback synchronously, before it returns,
        // and does not keep it; the closure wrapping this reference is dropped below,
        // while the reference is still valid.
        let run: &'static mut dyn FnMut() -> Result<JsValue, JsValue> = unsafe { std::mem::transmute(run) };
        let callback = Closure::<dyn FnMut() -> Result<JsValue, JsValue>>::wrap(Box::new(run));
        let outcome = self.storage.transaction_sync(callback.as_ref().unchecked_ref());
        drop(callback);
        match (outcome, failure) {
            (_, Some(e)) => Err(e),
            (Ok(_), None) => Ok(()),
            (Err(e), None) => Err(StorageError(format!("transaction failed: {e:?}"))),
        }
    }
}
