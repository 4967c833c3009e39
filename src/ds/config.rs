//! A subscription's configuration (§6.2): what `PUT {root}/__ds/subscriptions/<id>`
//! sends, checked and normalized, and the hash that decides whether a second PUT
//! re-confirms it (200) or conflicts with it (409).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::webhook_url::{self, Loopback};
use crate::protocol::path::{MAX_STREAM_ID_BYTES, RESERVED_SEGMENT};
use crate::protocol::{ErrorCode, ProtocolError};

/// The lease when the configuration names none.
pub const DEFAULT_LEASE_TTL_MS: u64 = 30_000;
/// The shortest lease.
pub const MIN_LEASE_TTL_MS: u64 = 1_000;
/// The longest lease.
pub const MAX_LEASE_TTL_MS: u64 = 600_000;
/// The most explicit streams one subscription links.
pub const MAX_EXPLICIT_STREAMS: usize = 1_000;
/// The longest description, in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 1_024;

/// How a subscription wakes its workers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Delivery {
    /// A signed POST to a URL.
    Webhook {
        /// The receiver, as the client wrote it.
        url: String,
    },
    /// A wake event appended to a stream that workers read.
    PullWake {
        /// The wake stream's root-relative path.
        wake_stream: String,
    },
}

/// A checked, normalized configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionConfig {
    /// How wakes are delivered.
    pub delivery: Delivery,
    /// The glob over root-relative stream paths, if any.
    pub pattern: Option<String>,
    /// Explicit root-relative stream paths, sorted, without repeats.
    pub streams: Vec<String>,
    /// How long a lease lasts.
    pub lease_ttl_ms: u64,
    /// For people.
    pub description: Option<String>,
}

fn invalid(message: impl Into<std::borrow::Cow<'static, str>>) -> ProtocolError {
    ProtocolError::new(ErrorCode::InvalidSubscription, message)
}

/// The JSON a body must be; anything else is an [`ErrorCode::InvalidBody`].
pub fn json_object(body: &[u8]) -> Result<serde_json::Map<String, serde_json::Value>, ProtocolError> {
    match serde_json::from_slice(body) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        _ => Err(ProtocolError::new(ErrorCode::InvalidBody, "the request body must be a JSON object")),
    }
}

/// A stream path as bodies carry it: root-relative, without leading or trailing `/`.
pub fn stream_path(raw: &str) -> Result<String, ProtocolError> {
    let path = raw.trim_matches('/');
    if path.is_empty() {
        return Err(invalid("a stream path must not be empty"));
    }
    if path.len() > MAX_STREAM_ID_BYTES || path.chars().any(char::is_control) {
        return Err(invalid("a stream path must be at most 1024 bytes, without control characters"));
    }
    if path.split('/').next() == Some(RESERVED_SEGMENT) {
        return Err(invalid("paths under __ds are reserved"));
    }
    Ok(path.to_owned())
}

/// The `streams` member of a body: a list of stream paths.
pub fn stream_list(value: Option<&serde_json::Value>) -> Result<Vec<String>, ProtocolError> {
    let Some(value) = value.filter(|v| !v.is_null()) else { return Ok(Vec::new()) };
    let items = value.as_array().ok_or_else(|| invalid("streams must be an array of stream paths"))?;
    if items.len() > MAX_EXPLICIT_STREAMS {
        return Err(invalid(format!("streams holds at most {MAX_EXPLICIT_STREAMS} paths")));
    }
    let mut paths = items
        .iter()
        .map(|item| {
            item.as_str().ok_or_else(|| invalid("streams must contain only strings")).and_then(stream_path)
        })
        .collect::<Result<Vec<_>, _>>()?;
    paths.sort();
    paths.dedup();
    Ok(paths)
}

impl SubscriptionConfig {
    /// Reads and checks a PUT body.
    pub fn parse(body: &[u8], loopback: Loopback) -> Result<Self, ProtocolError> {
        let body = json_object(body)?;
        let text = |name: &str| -> Result<Option<&str>, ProtocolError> {
            match body.get(name) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) if s.is_empty() => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s)),
                Some(_) => Err(invalid(format!("{name} must be a string"))),
            }
        };
        let pattern = text("pattern")?.map(stream_path).transpose()?;
        let streams = stream_list(body.get("streams"))?;
        if pattern.is_none() && streams.is_empty() {
            return Err(invalid("a subscription needs a pattern, streams, or both"));
        }
        let delivery = match text("type")? {
            Some("webhook") => {
                let url = body
                    .get("webhook")
                    .and_then(|w| w.get("url"))
                    .and_then(serde_json::Value::as_str)
                    .filter(|u| !u.is_empty())
                    .ok_or_else(|| invalid("a webhook subscription needs webhook.url"))?;
                webhook_url::check(url, loopback)
                    .map_err(|why| ProtocolError::new(ErrorCode::WebhookUrlRejected, why.message()))?;
                Delivery::Webhook { url: url.to_owned() }
            }
            Some("pull-wake") => {
                let wake_stream = text("wake_stream")?
                    .ok_or_else(|| invalid("a pull-wake subscription needs wake_stream"))?;
                Delivery::PullWake { wake_stream: stream_path(wake_stream)? }
            }
            _ => return Err(invalid("type must be \"webhook\" or \"pull-wake\"")),
        };
        let lease_ttl_ms = match body.get("lease_ttl_ms") {
            None | Some(serde_json::Value::Null) => DEFAULT_LEASE_TTL_MS,
            Some(v) => v
                .as_u64()
                .filter(|ms| (MIN_LEASE_TTL_MS..=MAX_LEASE_TTL_MS).contains(ms))
                .ok_or_else(|| invalid("lease_ttl_ms must be a whole number from 1000 to 600000"))?,
        };
        let description = text("description")?.map(str::to_owned);
        if description.as_ref().is_some_and(|d| d.len() > MAX_DESCRIPTION_BYTES) {
            return Err(invalid("description is at most 1024 bytes"));
        }
        Ok(Self { delivery, pattern, streams, lease_ttl_ms, description })
    }

    /// The hash a re-confirming PUT must match: SHA-256 of the normalized configuration
    /// (`streams` sorted and without repeats), hex.
    pub fn hash(&self) -> String {
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        Sha256::digest(&canonical).iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `path` belongs to this subscription by its pattern.
    pub fn pattern_matches(&self, path: &str) -> bool {
        self.pattern.as_deref().is_some_and(|p| crate::protocol::glob::matches(p, path))
    }

    /// The wake stream of a pull-wake subscription.
    pub fn wake_stream(&self) -> Option<&str> {
        match &self.delivery {
            Delivery::PullWake { wake_stream } => Some(wake_stream),
            Delivery::Webhook { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: serde_json::Value) -> Result<SubscriptionConfig, ProtocolError> {
        SubscriptionConfig::parse(body.to_string().as_bytes(), Loopback::Allowed)
    }

    fn code(body: serde_json::Value) -> &'static str {
        parse(body).unwrap_err().code().as_str()
    }

    #[test]
    fn a_webhook_subscription() {
        let c = parse(serde_json::json!({
            "type": "webhook", "pattern": "/events/*/", "streams": ["b", "a", "b"],
            "webhook": {"url": "http://127.0.0.1:9/hook"}, "description": "d",
        }))
        .unwrap();
        assert_eq!(c.pattern.as_deref(), Some("events/*"));
        assert_eq!(c.streams, ["a", "b"]);
        assert_eq!(c.lease_ttl_ms, DEFAULT_LEASE_TTL_MS);
        assert_eq!(c.delivery, Delivery::Webhook { url: "http://127.0.0.1:9/hook".into() });
        assert!(c.pattern_matches("events/x") && !c.pattern_matches("other/x"));
    }

    #[test]
    fn the_hash_ignores_order_and_repeats_and_sees_everything_else() {
        let base = serde_json::json!({"type": "pull-wake", "streams": ["a", "b"], "wake_stream": "w"});
        let same = serde_json::json!({"type": "pull-wake", "streams": ["b", "a", "a"], "wake_stream": "/w"});
        assert_eq!(parse(base.clone()).unwrap().hash(), parse(same).unwrap().hash());
        for changed in [
            serde_json::json!({"type": "pull-wake", "streams": ["a"], "wake_stream": "w"}),
            serde_json::json!({"type": "pull-wake", "streams": ["a", "b"], "wake_stream": "v"}),
            serde_json::json!({"type": "pull-wake", "streams": ["a", "b"], "wake_stream": "w", "lease_ttl_ms": 1000}),
            serde_json::json!({"type": "pull-wake", "streams": ["a", "b"], "wake_stream": "w", "description": "x"}),
            serde_json::json!({"type": "pull-wake", "streams": ["a", "b"], "wake_stream": "w", "pattern": "*"}),
        ] {
            assert_ne!(parse(base.clone()).unwrap().hash(), parse(changed).unwrap().hash());
        }
    }

    #[test]
    fn bad_configurations_are_refused_with_their_reason() {
        let hook = serde_json::json!({"url": "http://127.0.0.1/hook"});
        assert_eq!(code(serde_json::json!({"type": "webhook", "webhook": hook})), "INVALID_SUBSCRIPTION");
        assert_eq!(code(serde_json::json!({"type": "email", "pattern": "a"})), "INVALID_SUBSCRIPTION");
        assert_eq!(code(serde_json::json!({"type": "webhook", "pattern": "a"})), "INVALID_SUBSCRIPTION");
        assert_eq!(code(serde_json::json!({"type": "pull-wake", "pattern": "a"})), "INVALID_SUBSCRIPTION");
        assert_eq!(
            code(
                serde_json::json!({"type": "webhook", "pattern": "a", "webhook": {"url": "http://10.0.0.1/hook"}})
            ),
            "WEBHOOK_URL_REJECTED"
        );
        for lease in [
            serde_json::json!(999),
            serde_json::json!(600_001),
            serde_json::json!(1.5),
            serde_json::json!("1000"),
        ] {
            let body = serde_json::json!({"type": "webhook", "pattern": "a", "webhook": hook, "lease_ttl_ms": lease});
            assert_eq!(code(body), "INVALID_SUBSCRIPTION");
        }
        assert_eq!(
            code(serde_json::json!({"type": "webhook", "streams": [1], "webhook": hook})),
            "INVALID_SUBSCRIPTION"
        );
        assert_eq!(
            code(serde_json::json!({"type": "webhook", "streams": "a", "webhook": hook})),
            "INVALID_SUBSCRIPTION"
        );
        assert_eq!(
            code(serde_json::json!({"type": "webhook", "pattern": "__ds/x", "webhook": hook})),
            "INVALID_SUBSCRIPTION"
        );
        assert_eq!(
            code(serde_json::json!({"type": "pull-wake", "pattern": "a", "wake_stream": "__ds/w"})),
            "INVALID_SUBSCRIPTION"
        );
        assert_eq!(
            SubscriptionConfig::parse(b"[1]", Loopback::Allowed).unwrap_err().code().as_str(),
            "INVALID_BODY"
        );
        assert_eq!(
            SubscriptionConfig::parse(b"{", Loopback::Allowed).unwrap_err().code().as_str(),
            "INVALID_BODY"
        );
    }
}
