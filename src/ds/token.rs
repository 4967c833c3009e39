//! Callback and claim tokens (§7.1, §7.2, §12.9): HS256 JWTs signed with a secret of the
//! subscription's own, naming the subscription, the generation and the wake they were
//! issued for. They are good for that wake's callback, ack and release only; fencing
//! (§7.3) also compares the generation and wake id with the subscription's state.

use serde::{Deserialize, Serialize};

use crate::auth::jwt::{self, Compact, TokenError};
use crate::protocol::{ErrorCode, ProtocolError};

/// How long a token is good for, at most (fencing ends it sooner).
pub const TOKEN_LIFETIME_SECS: i64 = 3_600;

/// What a token says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WakeClaims {
    /// `<project>/<subscription id>`.
    pub sub: String,
    /// The generation it was issued for.
    pub generation: u64,
    /// The wake it was issued for.
    pub wake_id: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
}

/// Signs a token.
pub fn issue(secret: &[u8], claims: &WakeClaims) -> String {
    jwt::sign(secret, &serde_json::to_value(claims).unwrap_or_default())
}

/// Checks a token's signature, subject and expiry.
pub fn check(token: &str, secret: &[u8], subject: &str, now_secs: i64) -> Result<WakeClaims, ProtocolError> {
    let refused = |e: TokenError| {
        let code = if e == TokenError::Expired { ErrorCode::TokenExpired } else { ErrorCode::InvalidToken };
        ProtocolError::new(code, "the token is not valid for this subscription")
    };
    let compact = Compact::parse(token).map_err(refused)?;
    if compact.alg != "HS256"
        || !jwt::signature_matches(secret, compact.signed.as_bytes(), &compact.signature)
    {
        return Err(refused(TokenError::BadSignature));
    }
    let claims: WakeClaims = compact.claims().map_err(refused)?;
    if claims.sub != subject {
        return Err(refused(TokenError::BadSignature));
    }
    jwt::check_window(claims.exp as f64, None, now_secs).map_err(refused)?;
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_good_for_its_subscription_until_it_expires() {
        let claims = WakeClaims { sub: "p/s".into(), generation: 3, wake_id: "w_1".into(), exp: 1_000 };
        let token = issue(b"secret", &claims);
        assert_eq!(check(&token, b"secret", "p/s", 900).unwrap(), claims);
        let code = |r: Result<WakeClaims, ProtocolError>| r.unwrap_err().code();
        assert_eq!(code(check(&token, b"other", "p/s", 900)), ErrorCode::InvalidToken);
        assert_eq!(code(check(&token, b"secret", "p/t", 900)), ErrorCode::InvalidToken);
        assert_eq!(code(check(&token, b"secret", "p/s", 2_000)), ErrorCode::TokenExpired);
        assert_eq!(code(check("nonsense", b"secret", "p/s", 900)), ErrorCode::InvalidToken);
        let mut forged = token.clone();
        forged.pop();
        assert_eq!(code(check(&forged, b"secret", "p/s", 900)), ErrorCode::InvalidToken);
    }
}
