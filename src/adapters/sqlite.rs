//! [`Sql`] over a Durable Object's `ctx.storage.sql`.
//!
//! Statements go to the runtime's `exec` directly rather than through workers-rs's
//! `SqlStorage`, whose conversions cost several calls into JavaScript per value (a
//! null, undefined, boolean, string and number test before each number, and a
//! safe-integer test after) and two property lookups by name per row. Here a number
//! costs one call, a null two, a string three, and a row four.

use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::worker_sys::SqlStorage;

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
        let sql = storage.sql();
        let sql: &JsValue = sql.as_ref();
        Self {
            sql: sql.clone().unchecked_into(),
            storage: storage.as_raw().unchecked_ref::<TransactionalStorage>().clone(),
        }
    }

    /// Runs a statement, charging its time to the current request (`Server-Timing`).
    fn metered<T>(&self, f: impl FnOnce() -> T) -> T {
        let started = now_precise();
        let out = f();
        record_storage(now_precise() - started);
        out
    }

    fn exec(
        &self,
        sql: &str,
        params: &[Value],
    ) -> Result<worker::worker_sys::SqlStorageCursor, StorageError> {
        let bindings = Array::new_with_length(params.len() as u32);
        for (i, v) in params.iter().enumerate() {
            bindings.set(i as u32, to_js(v));
        }
        self.sql.exec(sql, bindings).map_err(js_error)
    }
}

fn to_js(v: &Value) -> JsValue {
    match v {
        Value::Null => JsValue::NULL,
        // Our integers (offsets, counts, milliseconds) are far inside 2^53.
        Value::Integer(i) => JsValue::from_f64(*i as f64),
        Value::Text(s) => JsValue::from_str(s),
        Value::Blob(b) => Uint8Array::from(b.as_slice()).into(),
    }
}

/// A column value, tested in the order that costs least over our columns: numbers, null,
/// text, then blobs (the runtime returns them as `ArrayBuffer`s).
fn from_js(v: &JsValue) -> Value {
    if let Some(n) = v.as_f64() {
        return Value::Integer(n as i64);
    }
    if v.is_null() || v.is_undefined() {
        return Value::Null;
    }
    if let Some(s) = v.as_string() {
        return Value::Text(s);
    }
    if let Some(buffer) = v.dyn_ref::<js_sys::ArrayBuffer>() {
        return Value::Blob(Uint8Array::new(buffer).to_vec());
    }
    match v.dyn_ref::<Uint8Array>() {
        Some(bytes) => Value::Blob(bytes.to_vec()),
        None => Value::Integer(i64::from(v.as_bool().unwrap_or(false))),
    }
}

fn js_error(e: JsValue) -> StorageError {
    StorageError(
        e.as_string()
            .or_else(|| e.dyn_ref::<js_sys::Error>().map(|e| e.message().into()))
            .unwrap_or_else(|| format!("{e:?}")),
    )
}

impl Sql for DoSql {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<(), StorageError> {
        self.metered(|| self.exec(sql, params).map(|_| ()))
    }

    fn query(
        &self,
        sql: &str,
        params: &[Value],
        row: &mut dyn FnMut(&mut [Value]) -> bool,
    ) -> Result<(), StorageError> {
        self.metered(|| {
            let rows = self.exec(sql, params)?.raw();
            let mut values = Vec::new();
            loop {
                let next = rows.next().map_err(js_error)?;
                if next.done() {
                    return Ok(());
                }
                let cells: Array = next.value().unchecked_into();
                values.clear();
                values.extend(cells.iter().map(|v| from_js(&v)));
                if !row(&mut values) {
                    return Ok(());
                }
            }
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
