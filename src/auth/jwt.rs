//! HS256 JSON Web Tokens (RFC 7519), verified by hand: the only algorithm accepted is
//! HMAC-SHA256, the signature is compared in constant time, and the claims we rely on
//! are typed. The compact form's parsing and the `exp`/`nbf` window are public, for
//! verifiers of other algorithms (the admin worker's Access tokens).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// The longest token accepted, in bytes. Ours are a few hundred; the bound keeps a
/// hostile header from costing more than a small allocation.
pub const MAX_TOKEN_BYTES: usize = 4096;

/// How far the issuer's clock may be off from ours, in seconds: a token is accepted
/// until `exp + CLOCK_SKEW_SECS` and from `nbf - CLOCK_SKEW_SECS`.
pub const CLOCK_SKEW_SECS: i64 = 60;

/// What a token grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Reads only.
    Read,
    /// Reads and writes.
    Write,
}

/// The claims of a verified token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    /// `sub`: the project the token is for.
    pub project: String,
    /// `scope`.
    pub scope: Scope,
    /// `exp`, in seconds since the epoch.
    pub expires_at: i64,
    /// `stream_id`: when present, the only stream the token may be used on.
    pub stream_id: Option<String>,
}

/// Why a token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenError {
    /// Not three base64url parts, bad JSON, a missing or mistyped claim, or too long.
    Malformed,
    /// `alg` is not `HS256`.
    UnsupportedAlgorithm,
    /// No configured secret produced this signature.
    BadSignature,
    /// Past `exp` (beyond the allowed skew).
    Expired,
    /// Before `nbf` (beyond the allowed skew).
    NotYetValid,
}

impl TokenError {
    /// A short explanation for the error body.
    pub fn message(self) -> &'static str {
        match self {
            Self::Malformed => "the bearer token is not a well-formed JWT with sub, scope and exp claims",
            Self::UnsupportedAlgorithm => "the bearer token must be signed with HS256",
            Self::BadSignature => "the bearer token's signature does not verify",
            Self::Expired => "the bearer token has expired",
            Self::NotYetValid => "the bearer token is not valid yet",
        }
    }
}

#[derive(Deserialize)]
struct RawClaims {
    sub: String,
    scope: String,
    exp: f64,
    #[serde(default)]
    nbf: Option<f64>,
    #[serde(default)]
    stream_id: Option<String>,
}

/// A compact JWT cut into its parts: what any verifier needs before it checks a
/// signature of its algorithm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compact<'a> {
    /// The header's `alg`.
    pub alg: String,
    /// The header's `kid`, if any.
    pub kid: Option<String>,
    /// The base64url payload, decoded only once the signature holds.
    pub payload: &'a str,
    /// `header.payload`: the bytes the signature covers.
    pub signed: &'a str,
    /// The decoded signature.
    pub signature: Vec<u8>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    // Any JSON: a `kid` that is not a string is no key id, not a malformed token.
    #[serde(default)]
    kid: Option<serde_json::Value>,
}

impl<'a> Compact<'a> {
    /// Cuts `token` into its three base64url parts and reads its header; refuses a
    /// token over [`MAX_TOKEN_BYTES`].
    pub fn parse(token: &'a str) -> Result<Self, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let Header { alg, kid } = decode_part(header)?;
        let kid = kid.and_then(|k| k.as_str().map(str::to_owned));
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| TokenError::Malformed)?;
        let signed = &token[..header.len() + 1 + payload.len()];
        Ok(Self { alg, kid, payload, signed, signature })
    }

    /// The payload's claims, as `T`.
    pub fn claims<T: for<'de> Deserialize<'de>>(&self) -> Result<T, TokenError> {
        decode_part(self.payload)
    }
}

/// Checks `exp` (required) and `nbf` (optional), in seconds, against `now_secs` with
/// [`CLOCK_SKEW_SECS`] either way; returns `exp` as whole seconds.
pub fn check_window(exp: f64, nbf: Option<f64>, now_secs: i64) -> Result<i64, TokenError> {
    if !exp.is_finite() {
        return Err(TokenError::Malformed);
    }
    let expires_at = exp.floor() as i64;
    if now_secs > expires_at.saturating_add(CLOCK_SKEW_SECS) {
        return Err(TokenError::Expired);
    }
    if let Some(nbf) = nbf {
        if !nbf.is_finite() {
            return Err(TokenError::Malformed);
        }
        if now_secs < (nbf.ceil() as i64).saturating_sub(CLOCK_SKEW_SECS) {
            return Err(TokenError::NotYetValid);
        }
    }
    Ok(expires_at)
}

/// Verifies `token` against any of `secrets` (several during a secret rotation) at
/// `now_secs`, and returns its claims.
pub fn verify(token: &str, secrets: &[Vec<u8>], now_secs: i64) -> Result<Claims, TokenError> {
    let token = Compact::parse(token)?;
    if token.alg != "HS256" {
        return Err(TokenError::UnsupportedAlgorithm);
    }
    if !secrets.iter().any(|secret| signature_matches(secret, token.signed.as_bytes(), &token.signature)) {
        return Err(TokenError::BadSignature);
    }
    // Claims are only looked at once the signature holds.
    let raw: RawClaims = token.claims()?;
    let scope = parse_scope(&raw.scope).ok_or(TokenError::Malformed)?;
    if raw.sub.is_empty() {
        return Err(TokenError::Malformed);
    }
    let expires_at = check_window(raw.exp, raw.nbf, now_secs)?;
    Ok(Claims { project: raw.sub, scope, expires_at, stream_id: raw.stream_id })
}

/// Signs claims into a token: for tests and for operators' tooling.
pub fn sign(secret: &[u8], claims: &serde_json::Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{payload}");
    #[allow(clippy::expect_used)] // HMAC accepts keys of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC key");
    mac.update(signed.as_bytes());
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// `scope` is one word or a space-separated list (OAuth style); `write` includes `read`.
fn parse_scope(scope: &str) -> Option<Scope> {
    let mut best = None;
    for word in scope.split(' ').filter(|w| !w.is_empty()) {
        match word {
            "write" => best = Some(Scope::Write),
            "read" => best = best.or(Some(Scope::Read)),
            _ => {}
        }
    }
    best
}

/// Whether `signature` is the HMAC-SHA256 of `signed` under `secret` (constant time).
pub fn signature_matches(secret: &[u8], signed: &[u8], signature: &[u8]) -> bool {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else { return false };
    mac.update(signed);
    // `verify_slice` compares in constant time.
    mac.verify_slice(signature).is_ok()
}

fn decode_part<T: for<'de> Deserialize<'de>>(part: &str) -> Result<T, TokenError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    fn secrets() -> Vec<Vec<u8>> {
        vec![b"old-secret".to_vec(), b"current-secret".to_vec()]
    }

    fn token(claims: serde_json::Value) -> String {
        sign(b"current-secret", &claims)
    }

    #[test]
    fn a_valid_token_yields_its_claims() {
        let t = token(json!({"sub": "acme", "scope": "read", "exp": NOW + 10, "stream_id": "s"}));
        let c = verify(&t, &secrets(), NOW).unwrap();
        assert_eq!(
            c,
            Claims {
                project: "acme".into(),
                scope: Scope::Read,
                expires_at: NOW + 10,
                stream_id: Some("s".into())
            }
        );
        let w = token(json!({"sub": "acme", "scope": "read write", "exp": NOW + 10}));
        assert_eq!(verify(&w, &secrets(), NOW).unwrap().scope, Scope::Write);
    }

    #[test]
    fn any_configured_secret_verifies() {
        let t = sign(b"old-secret", &json!({"sub": "a", "scope": "write", "exp": NOW}));
        assert!(verify(&t, &secrets(), NOW).is_ok());
        assert_eq!(verify(&t, &[b"other".to_vec()], NOW), Err(TokenError::BadSignature));
        assert_eq!(verify(&t, &[], NOW), Err(TokenError::BadSignature));
    }

    #[test]
    fn expiry_and_not_before_allow_the_documented_skew() {
        let t = token(json!({"sub": "a", "scope": "read", "exp": NOW}));
        assert!(verify(&t, &secrets(), NOW + CLOCK_SKEW_SECS).is_ok());
        assert_eq!(verify(&t, &secrets(), NOW + CLOCK_SKEW_SECS + 1), Err(TokenError::Expired));
        let early = token(json!({"sub": "a", "scope": "read", "exp": NOW + 999, "nbf": NOW + 100}));
        assert_eq!(verify(&early, &secrets(), NOW), Err(TokenError::NotYetValid));
        assert!(verify(&early, &secrets(), NOW + 100 - CLOCK_SKEW_SECS).is_ok());
    }

    #[test]
    fn tampering_is_detected() {
        let t = token(json!({"sub": "a", "scope": "read", "exp": NOW + 10}));
        let (signed, _) = t.rsplit_once('.').unwrap();
        let (header, _) = signed.split_once('.').unwrap();
        let forged_payload =
            URL_SAFE_NO_PAD.encode(json!({"sub": "a", "scope": "write", "exp": NOW + 10}).to_string());
        let forged = format!("{header}.{forged_payload}.{}", t.rsplit('.').next().unwrap());
        assert_eq!(verify(&forged, &secrets(), NOW), Err(TokenError::BadSignature));
        let mut flipped = t.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert!(verify(std::str::from_utf8(&flipped).unwrap(), &secrets(), NOW).is_err());
    }

    #[test]
    fn other_algorithms_and_malformed_tokens_are_refused() {
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        let payload = URL_SAFE_NO_PAD.encode(json!({"sub": "a", "scope": "write", "exp": NOW}).to_string());
        assert_eq!(
            verify(&format!("{none_header}.{payload}."), &secrets(), NOW),
            Err(TokenError::UnsupportedAlgorithm)
        );
        for bad in ["", "a.b", "a.b.c.d", "!!.??.**", &"x".repeat(MAX_TOKEN_BYTES + 1)] {
            assert_eq!(verify(bad, &secrets(), NOW), Err(TokenError::Malformed), "{bad}");
        }
        for claims in [
            json!({"scope": "read", "exp": NOW}),
            json!({"sub": "", "scope": "read", "exp": NOW}),
            json!({"sub": "a", "scope": "admin", "exp": NOW}),
            json!({"sub": "a", "scope": "read"}),
            json!({"sub": "a", "scope": "read", "exp": "soon"}),
            json!({"sub": 7, "scope": "read", "exp": NOW}),
        ] {
            assert_eq!(
                verify(&token(claims.clone()), &secrets(), NOW),
                Err(TokenError::Malformed),
                "{claims}"
            );
        }
    }

    #[test]
    fn the_compact_form_names_its_key_and_what_is_signed() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"k1"}"#);
        let token = format!("{header}.e30.{}", URL_SAFE_NO_PAD.encode(b"sig"));
        let c = Compact::parse(&token).unwrap();
        assert_eq!((c.alg.as_str(), c.kid.as_deref()), ("RS256", Some("k1")));
        assert_eq!(
            (c.signed, c.payload, c.signature.as_slice()),
            (&token[..header.len() + 4], "e30", &b"sig"[..])
        );
        assert_eq!(c.claims::<serde_json::Value>().unwrap(), json!({}));
        let numeric = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","kid":7}"#);
        assert_eq!(Compact::parse(&format!("{numeric}.e30.")).unwrap().kid, None);
        assert_eq!(check_window(f64::NAN, None, NOW), Err(TokenError::Malformed));
        assert_eq!(check_window((NOW + 5) as f64, Some(f64::INFINITY), NOW), Err(TokenError::Malformed));
    }
}
