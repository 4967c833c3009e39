//! Cold segments in R2, and the optional D1 admin index of every segment.

use std::rc::Rc;

use futures_util::future::LocalBoxFuture;
use wasm_bindgen::JsValue;
use worker::{Bucket, D1Database};

use crate::adapters::timing::{now_precise, record_r2};
use crate::protocol::ProtocolError;
use crate::store::Rotation;
use crate::stream_do::host::ColdStore;

/// The R2 bucket binding that holds segment objects. Without it, streams stay in SQLite.
pub const SEGMENTS_BINDING: &str = "SEGMENTS";
/// The optional D1 binding of the admin index.
pub const ADMIN_DB_BINDING: &str = "ADMIN_DB";

/// Segment objects in an R2 bucket.
pub struct R2Cold {
    bucket: Bucket,
}

impl R2Cold {
    /// Uses `bucket`.
    pub fn new(bucket: Bucket) -> Self {
        Self { bucket }
    }
}

fn r2_error(what: &str, e: worker::Error) -> ProtocolError {
    ProtocolError::segment_unreadable(&format!("R2 {what} failed: {e}"))
}

impl ColdStore for R2Cold {
    fn put<'a>(&'a self, key: &'a str, object: Vec<u8>) -> LocalBoxFuture<'a, Result<(), ProtocolError>> {
        Box::pin(async move {
            let started = now_precise();
            let result = self.bucket.put(key, object).execute().await;
            record_r2(now_precise() - started, result.is_ok());
            result.map(|_| ()).map_err(|e| r2_error("put", e))
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> LocalBoxFuture<'a, Result<Option<Vec<u8>>, ProtocolError>> {
        Box::pin(async move {
            let started = now_precise();
            let result = async {
                match self.bucket.get(key).execute().await? {
                    Some(object) => match object.body() {
                        Some(body) => body.bytes().await.map(Some),
                        None => Ok(None),
                    },
                    None => Ok(None),
                }
            }
            .await;
            record_r2(now_precise() - started, matches!(result, Ok(Some(_))));
            result.map_err(|e| r2_error("get", e))
        })
    }

    fn delete(&self, keys: Vec<String>) -> LocalBoxFuture<'_, Result<(), ProtocolError>> {
        Box::pin(async move {
            // R2 deletes at most 1000 keys per call.
            for batch in keys.chunks(1000) {
                self.bucket.delete_multiple(batch.to_vec()).await.map_err(|e| r2_error("delete", e))?;
            }
            Ok(())
        })
    }
}

/// The global listing of segments (table `segments_admin`, see `migrations/`). Writes
/// run in the background and never delay an acknowledgment; failures are logged.
#[derive(Clone)]
pub struct AdminIndex {
    db: Rc<D1Database>,
}

impl AdminIndex {
    /// Uses `db`.
    pub fn new(db: D1Database) -> Self {
        Self { db: Rc::new(db) }
    }

    /// Records a committed segment.
    pub async fn record(self, stream_id: String, segment: IndexedSegment) {
        let statement = self.db.prepare(
            "INSERT INTO segments_admin
               (object_key, stream_id, incarnation, read_seq, start_offset, end_offset, object_bytes, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (object_key) DO NOTHING",
        );
        let values = [
            JsValue::from(segment.key),
            JsValue::from(stream_id),
            JsValue::from(segment.incarnation as f64),
            JsValue::from(segment.read_seq as f64),
            JsValue::from(segment.start as f64),
            JsValue::from(segment.end as f64),
            JsValue::from(segment.object_bytes as f64),
            JsValue::from(js_sys::Date::now()),
        ];
        let result = match statement.bind(&values) {
            Ok(s) => s.run().await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            worker::console_error!("admin index: recording a segment failed: {e}");
        }
    }

    /// Forgets deleted segment objects.
    pub async fn forget(self, keys: Vec<String>) {
        for key in keys {
            let statement = self.db.prepare("DELETE FROM segments_admin WHERE object_key = ?1");
            let result = match statement.bind(&[JsValue::from(key)]) {
                Ok(s) => s.run().await.map(|_| ()),
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                worker::console_error!("admin index: forgetting a segment failed: {e}");
            }
        }
    }
}

/// What the admin index keeps about a segment.
pub struct IndexedSegment {
    key: String,
    incarnation: u64,
    read_seq: u64,
    start: u64,
    end: u64,
    object_bytes: u64,
}

impl From<&Rotation> for IndexedSegment {
    fn from(r: &Rotation) -> Self {
        Self {
            key: r.key.clone(),
            incarnation: r.incarnation,
            read_seq: r.read_seq,
            start: r.start,
            end: r.end,
            object_bytes: r.object_bytes,
        }
    }
}
