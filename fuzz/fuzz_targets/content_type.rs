//! `Content-Type`: media type syntax, comparison, and the JSON / SSE decisions made from
//! it.
#![no_main]

use durable_streams_cloudflare::protocol::content_type::{
    essence, for_create, is_json, is_textual, is_valid, same_media_type, DEFAULT_CONTENT_TYPE,
};
use durable_streams_cloudflare::protocol::sse::Encoding;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // Two values, to test comparison between different inputs too.
    let (a, b) = text.split_once('\n').unwrap_or((text, text));

    for v in [a, b] {
        let ess = essence(v);
        assert_eq!(essence(&ess), ess);
        assert!(!ess.contains(';') && !ess.bytes().any(|c| c.is_ascii_uppercase()));
        assert_eq!(is_valid(v), valid_model(v), "{v:?}");

        // The stored type is always a valid media type: the request's, trimmed, or the
        // default.
        let stored = for_create(Some(v));
        assert!(is_valid(&stored));
        if is_valid(v.trim()) {
            assert_eq!(stored, v.trim());
        } else {
            assert_eq!(stored, DEFAULT_CONTENT_TYPE);
        }

        assert!(same_media_type(v, v));
        assert!(same_media_type(v, &v.to_ascii_uppercase()));
        assert!(!is_json(v) || is_textual(v));
        assert_eq!(is_json(v), ess == "application/json");
        let enc = Encoding::for_content_type(v);
        assert_eq!(enc == Encoding::Text, is_textual(v));
    }
    assert_eq!(same_media_type(a, b), same_media_type(b, a));
    assert_eq!(same_media_type(a, b), essence(a) == essence(b));
});

/// `type "/" subtype` where both are RFC 9110 tokens, before any `;`, ignoring case and
/// surrounding whitespace.
fn valid_model(v: &str) -> bool {
    let media = v.split(';').next().unwrap_or_default().trim();
    let tchar = |c: u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c);
    let token = |s: &str| !s.is_empty() && s.bytes().all(tchar);
    let mut parts = media.splitn(2, '/');
    match (parts.next(), parts.next()) {
        (Some(t), Some(s)) => token(t) && token(s),
        _ => false,
    }
}
