//! Clocks, and the time each request spends in SQLite and R2.
//!
//! A stream object serves several requests at once, interleaved at `.await`s. To charge
//! time to the right request, [`Metered`] makes its request's [`RequestTimings`] current
//! while it polls the request's future; SQLite calls (synchronous) and R2 calls (whose
//! completion is observed inside the awaiting request's poll) add to the current one.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// Milliseconds since the Unix epoch. In production this only advances across I/O.
pub fn now_ms() -> i64 {
    worker::Date::now().as_millis() as i64
}

/// The same clock as a float, for durations.
pub fn now_precise() -> f64 {
    js_sys::Date::now()
}

/// Time one request spent in storage.
#[derive(Debug, Default)]
pub struct RequestTimings {
    /// Milliseconds in SQLite.
    pub storage_ms: Cell<f64>,
    /// Milliseconds in R2.
    pub r2_ms: Cell<f64>,
    /// Whether R2 was used.
    pub r2_used: Cell<bool>,
    /// Whether an R2 call failed or found nothing.
    pub r2_failed: Cell<bool>,
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<RequestTimings>>> = const { RefCell::new(None) };
}

fn with_current(f: impl FnOnce(&RequestTimings)) {
    CURRENT.with(|c| {
        if let Some(t) = c.borrow().as_ref() {
            f(t);
        }
    });
}

/// Charges SQLite time to the current request.
pub fn record_storage(ms: f64) {
    with_current(|t| t.storage_ms.set(t.storage_ms.get() + ms));
}

/// Charges an R2 call to the current request.
pub fn record_r2(ms: f64, ok: bool) {
    with_current(|t| {
        t.r2_ms.set(t.r2_ms.get() + ms);
        t.r2_used.set(true);
        if !ok {
            t.r2_failed.set(true);
        }
    });
}

/// Runs a request's future with its timings current.
pub struct Metered<F> {
    inner: Pin<Box<F>>,
    timings: Rc<RequestTimings>,
}

impl<F: Future> Metered<F> {
    /// Meters `inner` into `timings`.
    pub fn new(inner: F, timings: Rc<RequestTimings>) -> Self {
        Self { inner: Box::pin(inner), timings }
    }
}

impl<F: Future> Future for Metered<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let previous = CURRENT.with(|c| c.replace(Some(Rc::clone(&self.timings))));
        let polled = self.inner.as_mut().poll(cx);
        CURRENT.with(|c| *c.borrow_mut() = previous);
        polled
    }
}
