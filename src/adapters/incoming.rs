//! A request as the runtime hands it to a handler.
//!
//! `worker::Request::from` reads the request's `cf` property on every request, which
//! makes the runtime build that object (a JSON parse of the connection's metadata) for
//! nothing: we never read it. [`Incoming`] keeps the runtime's request and reads only
//! the method, URL, headers and body, and a request sent on to a Durable Object goes
//! as it came, without a copy.

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use worker::worker_sys::web_sys;
use worker::{Headers, Response, Stub};

use crate::http::Method;

/// A request as the runtime handed it over. A worker's `#[event(fetch)]` can take it
/// directly (it implements `worker::FromRequest`), and a `worker::Request` converts.
#[derive(Debug, Clone)]
pub struct Incoming(web_sys::Request);

impl Incoming {
    /// The method.
    pub fn method(&self) -> Method {
        Method::parse(&self.0.method())
    }

    /// The absolute URL.
    pub fn url(&self) -> String {
        self.0.url()
    }

    /// The headers, as the runtime holds them.
    pub fn headers(&self) -> Headers {
        Headers(self.0.headers())
    }

    /// One header's value.
    pub fn header(&self, name: &str) -> Option<String> {
        self.0.headers().get(name).ok().flatten()
    }

    /// The runtime's request.
    pub fn raw(&self) -> &web_sys::Request {
        &self.0
    }

    /// Sends the request, body and all, to the Durable Object behind `stub`.
    pub async fn send_to(&self, stub: Stub) -> worker::Result<Response> {
        let object: worker::worker_sys::DurableObject = stub.into_rpc();
        let answer = JsFuture::from(object.fetch_with_request(&self.0)?).await?;
        Ok(Response::from(answer.dyn_into::<web_sys::Response>()?))
    }
}

impl From<web_sys::Request> for Incoming {
    fn from(req: web_sys::Request) -> Self {
        Self(req)
    }
}

impl From<worker::Request> for Incoming {
    fn from(req: worker::Request) -> Self {
        // The handle, not the JavaScript `clone()`, which would tee the body.
        Self(Clone::clone(req.inner()))
    }
}

impl worker::FromRequest for Incoming {
    fn from_raw(request: web_sys::Request) -> Result<Self, impl Into<Box<dyn std::error::Error>>> {
        Ok::<_, worker::Error>(Self(request))
    }
}
