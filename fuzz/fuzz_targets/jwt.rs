//! Bearer tokens: arbitrary text never verifies without the secret, a token we sign
//! verifies to exactly its claims, and any change to a signed token is refused.
#![no_main]

use durable_streams_cloudflare::auth::jwt::{self, Scope, TokenError, CLOCK_SKEW_SECS};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"fuzz-secret";

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    /// Tried as a token as is.
    raw: &'a str,
    sub: String,
    write: bool,
    exp: i32,
    now: i32,
    stream_id: Option<String>,
    /// Where to change one byte of the signed token, and to what.
    flip: (u16, u8),
}

fuzz_target!(|input: Input| {
    // Text made without the secret never verifies: that would take forging HMAC-SHA256.
    assert!(jwt::verify(input.raw, &[SECRET.to_vec()], i64::from(input.now)).is_err());

    let mut claims = serde_json::json!({
        "sub": input.sub,
        "scope": if input.write { "write" } else { "read" },
        "exp": input.exp,
    });
    if let Some(s) = &input.stream_id {
        claims["stream_id"] = serde_json::json!(s);
    }
    let token = jwt::sign(SECRET, &claims);
    let now = i64::from(input.now);
    let verified = jwt::verify(&token, &[SECRET.to_vec()], now);
    let expired = now > i64::from(input.exp) + CLOCK_SKEW_SECS;
    match verified {
        Ok(c) => {
            assert!(!expired && !input.sub.is_empty() && token.len() <= jwt::MAX_TOKEN_BYTES);
            assert_eq!(c.project, input.sub);
            assert_eq!(c.scope, if input.write { Scope::Write } else { Scope::Read });
            assert_eq!(c.expires_at, i64::from(input.exp));
            assert_eq!(c.stream_id, input.stream_id);
        }
        Err(TokenError::Expired) => assert!(expired),
        Err(TokenError::Malformed) => {
            assert!(input.sub.is_empty() || token.len() > jwt::MAX_TOKEN_BYTES)
        }
        Err(e) => panic!("a token we signed was refused: {e:?}"),
    }
    // Wrong secret.
    assert!(jwt::verify(&token, &[b"other".to_vec()], now).is_err());
    // One changed byte anywhere.
    let mut bytes = token.into_bytes();
    let at = usize::from(input.flip.0) % bytes.len();
    if bytes[at] != input.flip.1 {
        bytes[at] = input.flip.1;
        // (Trailing base64url bits that decode to the same bytes are refused as
        // non-canonical, so every change is a different token.)
        if let Ok(changed) = std::str::from_utf8(&bytes) {
            assert!(jwt::verify(changed, &[SECRET.to_vec()], now).is_err(), "{changed}");
        }
    }
});
