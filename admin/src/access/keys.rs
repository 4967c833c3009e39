//! The team's signing keys, as Access publishes them at `/cdn-cgi/access/certs` (a JSON
//! Web Key Set, RFC 7517), and when to fetch them again.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rsa::{BigUint, RsaPublicKey};
use serde::Deserialize;

/// How long fetched keys are used before they are fetched again. Access rotates its keys
/// every six weeks and publishes the next one ahead of time, so five minutes only bounds
/// how long a revoked key is still trusted.
pub const KEYS_TTL_MS: u64 = 5 * 60 * 1000;

/// How soon after a fetch a token signed by an unknown key may cause another: a rotation
/// is then seen at once, and forged `kid`s cannot make every request a fetch.
pub const REFETCH_AFTER_MS: u64 = 30 * 1000;

/// A usable signing key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningKey {
    /// Its `kid`, which tokens name in their header.
    pub kid: Option<String>,
    /// The RSA public key.
    pub key: RsaPublicKey,
}

/// The keys of a JWKS that can verify RS256 tokens.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeySet {
    /// In the order published.
    pub keys: Vec<SigningKey>,
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<RawKey>,
}

#[derive(Deserialize)]
struct RawKey {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(rename = "use", default)]
    usage: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
}

impl RawKey {
    /// The RSA key, if this entry is one for RS256 signatures.
    fn signing_key(self) -> Option<SigningKey> {
        let for_rs256 = self.kty == "RSA"
            && self.alg.as_deref().is_none_or(|a| a == "RS256")
            && self.usage.as_deref().is_none_or(|u| u == "sig");
        if !for_rs256 {
            return None;
        }
        let n = URL_SAFE_NO_PAD.decode(self.n?).ok()?;
        let e = URL_SAFE_NO_PAD.decode(self.e?).ok()?;
        // `new` refuses moduli over 4096 bits and bad exponents.
        let key = RsaPublicKey::new(BigUint::from_bytes_be(&n), BigUint::from_bytes_be(&e)).ok()?;
        Some(SigningKey { kid: self.kid, key })
    }
}

impl KeySet {
    /// Reads a JWKS document; entries that are not RS256 signing keys are skipped.
    /// `None` if it is not a JWKS at all.
    pub fn parse(body: &[u8]) -> Option<Self> {
        let raw: RawSet = serde_json::from_slice(body).ok()?;
        Some(Self { keys: raw.keys.into_iter().filter_map(RawKey::signing_key).collect() })
    }

    /// The keys a token naming `kid` may be signed with: that key, or every key when
    /// the token names none.
    pub fn candidates<'a>(&'a self, kid: Option<&'a str>) -> impl Iterator<Item = &'a SigningKey> + 'a {
        self.keys.iter().filter(move |k| kid.is_none() || k.kid.as_deref() == kid)
    }

    /// Whether a key named `kid` is here (a token without `kid` may use any key).
    pub fn knows(&self, kid: Option<&str>) -> bool {
        self.candidates(kid).next().is_some()
    }
}

/// The keys an isolate holds, and when it fetched them.
#[derive(Clone, Debug, Default)]
pub struct KeyCache {
    held: Option<(u64, KeySet)>,
}

/// Whether to fetch the keys before verifying a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refresh {
    /// The held keys will do.
    No,
    /// None are held, or they are older than [`KEYS_TTL_MS`].
    Stale,
    /// The token names a key that is not held, and the last fetch was long enough ago.
    UnknownKey,
}

impl KeyCache {
    /// What to do for a token naming `kid` at `now_ms`.
    pub fn refresh(&self, kid: Option<&str>, now_ms: u64) -> Refresh {
        match &self.held {
            None => Refresh::Stale,
            Some((at, _)) if now_ms.saturating_sub(*at) >= KEYS_TTL_MS => Refresh::Stale,
            Some((at, keys)) if !keys.knows(kid) && now_ms.saturating_sub(*at) >= REFETCH_AFTER_MS => {
                Refresh::UnknownKey
            }
            Some(_) => Refresh::No,
        }
    }

    /// Holds `keys`, fetched at `now_ms`.
    pub fn store(&mut self, keys: KeySet, now_ms: u64) {
        self.held = Some((now_ms, keys));
    }

    /// The held keys, if any (stale ones too: when a fetch fails they still verify).
    pub fn keys(&self) -> Option<&KeySet> {
        self.held.as_ref().map(|(_, keys)| keys)
    }
}
