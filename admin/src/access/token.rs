//! Verifying a Cloudflare Access application token (`Cf-Access-Jwt-Assertion`): RS256
//! only, signed by one of the team's keys, issued by the team, for this application's
//! audience, and within its validity window.

use durable_streams_cloudflare::auth::jwt::{check_window, Compact, TokenError};
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier as _;
use serde::Deserialize;
use sha2::Sha256;

use super::keys::KeySet;

/// Who passed the gate, as the token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operator {
    /// `email` for a person, or a service token's `common_name`; else `sub`.
    pub name: String,
    /// `exp`, in seconds since the epoch.
    pub expires_at: i64,
}

/// Why a token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not a well-formed JWT, or a claim is missing or mistyped.
    Malformed,
    /// Not RS256.
    Algorithm,
    /// No held key verifies it.
    Signature,
    /// Past `exp`.
    Expired,
    /// Before `nbf`.
    NotYetValid,
    /// Issued by another team.
    Issuer,
    /// For another Access application.
    Audience,
}

impl Refusal {
    /// For the operator reading the error.
    pub fn message(self) -> &'static str {
        match self {
            Self::Malformed => "the Access token is not a well-formed JWT with iss, aud and exp",
            Self::Algorithm => "the Access token must be signed with RS256",
            Self::Signature => "the Access token's signature does not verify with the team's keys",
            Self::Expired => "the Access token has expired: sign in again",
            Self::NotYetValid => "the Access token is not valid yet",
            Self::Issuer => "the Access token was issued by another team",
            Self::Audience => "the Access token is for another Access application",
        }
    }

    fn of(e: TokenError) -> Self {
        match e {
            TokenError::Malformed => Self::Malformed,
            TokenError::UnsupportedAlgorithm => Self::Algorithm,
            TokenError::BadSignature => Self::Signature,
            TokenError::Expired => Self::Expired,
            TokenError::NotYetValid => Self::NotYetValid,
        }
    }
}

/// `aud` is a string or an array of strings (RFC 7519 §4.1.3).
#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct AccessClaims {
    iss: String,
    aud: Audience,
    exp: f64,
    #[serde(default)]
    nbf: Option<f64>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    common_name: Option<String>,
}

/// What a token must say to pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected<'a> {
    /// The team's issuer, `https://<team>.cloudflareaccess.com`.
    pub issuer: &'a str,
    /// The application's audience tags; the token must carry one of them.
    pub audiences: &'a [String],
}

/// Verifies `token` with `keys` at `now_secs`.
pub fn verify(token: &str, keys: &KeySet, expected: &Expected, now_secs: i64) -> Result<Operator, Refusal> {
    let compact = Compact::parse(token).map_err(Refusal::of)?;
    if compact.alg != "RS256" {
        return Err(Refusal::Algorithm);
    }
    let signature = Signature::try_from(compact.signature.as_slice()).map_err(|_| Refusal::Signature)?;
    let verified = keys.candidates(compact.kid.as_deref()).any(|k| {
        VerifyingKey::<Sha256>::new(k.key.clone()).verify(compact.signed.as_bytes(), &signature).is_ok()
    });
    if !verified {
        return Err(Refusal::Signature);
    }
    // Claims are only looked at once the signature holds.
    let claims: AccessClaims = compact.claims().map_err(Refusal::of)?;
    let expires_at = check_window(claims.exp, claims.nbf, now_secs).map_err(Refusal::of)?;
    if claims.iss.trim_end_matches('/') != expected.issuer.trim_end_matches('/') {
        return Err(Refusal::Issuer);
    }
    let carried = match &claims.aud {
        Audience::One(a) => std::slice::from_ref(a),
        Audience::Many(a) => a.as_slice(),
    };
    if !carried.iter().any(|a| expected.audiences.contains(a)) {
        return Err(Refusal::Audience);
    }
    let name = claims.email.or(claims.common_name).or(claims.sub).unwrap_or_default();
    Ok(Operator { name, expires_at })
}
