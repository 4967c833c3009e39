//! The reserved subscription APIs under `{root}/__ds/` (§6, §7): durable cursors over
//! sets of streams that wake workers by signed webhook or by a wake event in a stream.
//!
//! Where things live: each subscription is one `DsSubscriptionDO` object (its state and
//! every decision: [`subscription`]); each project's registry object knows the
//! project's streams and which subscriptions want which (pattern and explicit links);
//! each stream's object keeps the ids of the subscriptions linked to it and reports its
//! tail to them after every append, before it acknowledges the append. Routes are
//! parsed here; [`config`] checks what a PUT sends, [`webhook_url`] the URLs it may
//! name, [`signing`] signs deliveries, [`token`] issues and checks callback tokens, and
//! [`retry`] spaces failed deliveries.

pub mod config;
pub mod retry;
pub mod signing;
pub mod subscription;
pub mod token;
pub mod webhook_url;

use crate::http::Method;
use crate::protocol::path::{is_project_id, DEFAULT_PROJECT, STREAM_PREFIX};
use crate::protocol::{percent, ErrorCode, ProtocolError};

/// What a stream's object tells a linked subscription after an append (on the wire,
/// `POST /_internal/notice` with this as JSON; the answer is `{"linked": bool}`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Notice {
    /// The stream's root-relative path (its id within the project).
    pub stream: String,
    /// Its tail.
    pub tail: String,
    /// Its first offset, when the stream was just created (all its data is new).
    #[serde(default)]
    pub created_at: Option<String>,
    /// The stream was deleted (or expired); `tail` is then its last tail.
    #[serde(default)]
    pub deleted: bool,
}

/// The internal path of a [`Notice`].
pub const NOTICE_PATH: &str = "/_internal/notice";

/// The internal path at which the keys object hands out the signing key's seed.
pub const SIGNING_KEY_PATH: &str = "/_internal/signing-key";

/// The name of the object that holds the deployment's webhook signing key.
pub const KEYS_OBJECT: &str = "__keys__";

/// The longest subscription id, in bytes.
pub const MAX_SUBSCRIPTION_ID_BYTES: usize = 256;

/// A request for the subscription APIs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlRequest {
    /// The project whose stream root it is under.
    pub project: String,
    /// The stream root's path, without a trailing `/` (`/v1/stream`).
    pub root: String,
    /// What it asks for.
    pub target: Target,
}

/// What a control request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `GET jwks.json`: the webhook signing keys (§6.5).
    Jwks,
    /// Something about one subscription.
    Subscription {
        /// Its id.
        id: String,
        /// The operation.
        action: Action,
    },
}

/// An operation on one subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// `PUT`, `GET` or `DELETE subscriptions/<id>` (§6.2, §6.3).
    Base,
    /// `POST subscriptions/<id>/streams` (§6.4).
    AddStreams,
    /// `DELETE subscriptions/<id>/streams/<path>` (§6.4).
    RemoveStream(String),
    /// `POST …/callback` (§7.1).
    Callback,
    /// `POST …/claim` (§7.2).
    Claim,
    /// `POST …/ack` (§7.2).
    Ack,
    /// `POST …/release` (§7.2).
    Release,
}

impl Action {
    /// The methods it takes.
    fn allows(&self, method: Method) -> bool {
        match self {
            Self::Base => matches!(method, Method::Put | Method::Get | Method::Delete),
            Self::RemoveStream(_) => method == Method::Delete,
            _ => method == Method::Post,
        }
    }

    /// Whether its caller proves itself with a wake's token rather than the project's
    /// credentials.
    pub fn uses_wake_token(&self) -> bool {
        matches!(self, Self::Callback | Self::Ack | Self::Release)
    }
}

impl ControlRequest {
    /// The name of the object that answers it.
    pub fn object_name(&self) -> String {
        match &self.target {
            Target::Jwks => KEYS_OBJECT.to_owned(),
            Target::Subscription { id, .. } => format!("{}/{id}", self.project),
        }
    }
}

/// Parses a request path (still percent-encoded): `None` if it is not under a stream
/// root's `__ds/`, an error if it is but names nothing there.
pub fn parse(method: Method, path: &str) -> Option<Result<ControlRequest, ProtocolError>> {
    let (project, root, rest) = split_root(path)?;
    Some(target(rest).and_then(|target| {
        let allowed = match &target {
            Target::Jwks => matches!(method, Method::Get | Method::Head),
            Target::Subscription { action, .. } => action.allows(method),
        };
        if !allowed {
            return Err(ProtocolError::method_not_allowed());
        }
        Ok(ControlRequest { project, root, target })
    }))
}

/// `(project, root, rest after "__ds/")` for a path under a stream root's `__ds/`.
fn split_root(path: &str) -> Option<(String, String, &str)> {
    if let Some(rest) = path.strip_prefix(STREAM_PREFIX) {
        let rest = rest.strip_prefix("__ds/").or_else(|| (rest == "__ds").then_some(""))?;
        return Some((DEFAULT_PROJECT.to_owned(), STREAM_PREFIX.trim_end_matches('/').to_owned(), rest));
    }
    let (project, tail) = path.strip_prefix("/v1/")?.split_once("/stream/")?;
    let rest = tail.strip_prefix("__ds/").or_else(|| (tail == "__ds").then_some(""))?;
    is_project_id(project).then(|| (project.to_owned(), format!("/v1/{project}/stream"), rest))
}

fn target(rest: &str) -> Result<Target, ProtocolError> {
    if rest == "jwks.json" {
        return Ok(Target::Jwks);
    }
    let mut parts = rest.strip_prefix("subscriptions/").ok_or_else(ProtocolError::not_found)?.splitn(3, '/');
    let id = subscription_id(parts.next().unwrap_or_default())?;
    let action = match (parts.next(), parts.next()) {
        (None, _) => Action::Base,
        (Some("streams"), None) => Action::AddStreams,
        (Some("streams"), Some(raw)) => {
            let decoded = percent::decode(raw).ok_or_else(|| {
                ProtocolError::new(
                    ErrorCode::InvalidSubscription,
                    "the stream path is not valid percent-encoded UTF-8",
                )
            })?;
            Action::RemoveStream(config::stream_path(&decoded)?)
        }
        (Some("callback"), None) => Action::Callback,
        (Some("claim"), None) => Action::Claim,
        (Some("ack"), None) => Action::Ack,
        (Some("release"), None) => Action::Release,
        _ => return Err(ProtocolError::not_found()),
    };
    Ok(Target::Subscription { id, action })
}

/// A subscription id: 1–256 bytes of letters, digits and `-._~:@`.
fn subscription_id(raw: &str) -> Result<String, ProtocolError> {
    let id = percent::decode(raw).unwrap_or_default();
    let valid = !id.is_empty()
        && id.len() <= MAX_SUBSCRIPTION_ID_BYTES
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~:@".contains(&b));
    if valid {
        Ok(id)
    } else {
        Err(ProtocolError::new(
            ErrorCode::InvalidSubscription,
            "a subscription id is 1 to 256 letters, digits or -._~:@",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(method: Method, path: &str) -> ControlRequest {
        parse(method, path).unwrap().unwrap()
    }

    fn sub(id: &str, action: Action) -> Target {
        Target::Subscription { id: id.into(), action }
    }

    #[test]
    fn routes() {
        let r = ok(Method::Put, "/v1/stream/__ds/subscriptions/sub-1");
        assert_eq!((r.project.as_str(), r.root.as_str()), (DEFAULT_PROJECT, "/v1/stream"));
        assert_eq!(r.target, sub("sub-1", Action::Base));
        assert_eq!(r.object_name(), "_default/sub-1");
        let r = ok(Method::Get, "/v1/acme/stream/__ds/jwks.json");
        assert_eq!(
            (r.project.as_str(), r.root.as_str(), &r.target),
            ("acme", "/v1/acme/stream", &Target::Jwks)
        );
        assert_eq!(r.object_name(), KEYS_OBJECT);
        let remove = ok(Method::Delete, "/v1/stream/__ds/subscriptions/s/streams/manual%2Fb");
        assert_eq!(remove.target, sub("s", Action::RemoveStream("manual/b".into())));
        let raw_slash = ok(Method::Delete, "/v1/stream/__ds/subscriptions/s/streams/manual/b");
        assert_eq!(raw_slash.target, sub("s", Action::RemoveStream("manual/b".into())));
        for (action, expected) in [
            ("streams", Action::AddStreams),
            ("callback", Action::Callback),
            ("claim", Action::Claim),
            ("ack", Action::Ack),
            ("release", Action::Release),
        ] {
            let r = ok(Method::Post, &format!("/v1/stream/__ds/subscriptions/s/{action}"));
            assert_eq!(r.target, sub("s", expected));
        }
    }

    #[test]
    fn what_is_not_a_control_route() {
        assert_eq!(parse(Method::Get, "/v1/stream/events/x"), None);
        assert_eq!(parse(Method::Get, "/v1/stream/__dsx/y"), None);
        assert_eq!(parse(Method::Get, "/health"), None);
        let status = |m, p| parse(m, p).unwrap().unwrap_err().status();
        assert_eq!(status(Method::Get, "/v1/stream/__ds"), 404);
        assert_eq!(status(Method::Get, "/v1/stream/__ds/other"), 404);
        assert_eq!(status(Method::Get, "/v1/stream/__ds/subscriptions/s/nope"), 404);
        assert_eq!(status(Method::Post, "/v1/stream/__ds/subscriptions/s"), 405);
        assert_eq!(status(Method::Get, "/v1/stream/__ds/subscriptions/s/claim"), 405);
        assert_eq!(status(Method::Post, "/v1/stream/__ds/jwks.json"), 405);
        assert_eq!(status(Method::Get, "/v1/stream/__ds/subscriptions/"), 400);
        assert_eq!(status(Method::Get, "/v1/stream/__ds/subscriptions/a%2Fb"), 400);
        assert_eq!(status(Method::Get, "/v1/stream/__ds/subscriptions/%ff"), 400);
        assert_eq!(status(Method::Delete, "/v1/stream/__ds/subscriptions/s/streams/__ds%2Fx"), 400);
        assert!(Action::Callback.uses_wake_token() && !Action::Claim.uses_wake_token());
    }
}
