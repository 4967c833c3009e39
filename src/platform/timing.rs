//! Clocks and per-request time accounting.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// Milliseconds since the Unix epoch. In production this only advances across I/O.
pub fn now_ms() -> i64 {
    worker::Date::now().as_millis() as i64
}

/// The same clock with sub-millisecond precision where the platform offers it.
pub fn now_precise() -> f64 {
    js_sys::Date::now()
}

/// Runs a future and adds up the time a shared meter advanced while this future was
/// being polled — exactly the time spent on this request's behalf, because a poll runs
/// synchronously and no other request can interleave with it.
pub struct Metered<F> {
    inner: Pin<Box<F>>,
    meter: Rc<Cell<f64>>,
    spent: f64,
}

impl<F: Future> Metered<F> {
    /// Meters `inner` against `meter`.
    pub fn new(inner: F, meter: Rc<Cell<f64>>) -> Self {
        Self { inner: Box::pin(inner), meter, spent: 0.0 }
    }
}

impl<F: Future> Future for Metered<F> {
    type Output = (F::Output, f64);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let before = self.meter.get();
        let polled = self.inner.as_mut().poll(cx);
        let delta = self.meter.get() - before;
        self.spent += delta;
        polled.map(|out| (out, self.spent))
    }
}
