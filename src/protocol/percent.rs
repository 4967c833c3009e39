//! Percent-decoding of URL path segments and query components (RFC 3986 §2.1).

use std::borrow::Cow;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but the RFC 3986 unreserved characters, `/` and `:` (a path character that
/// needs no escape, RFC 3986 §3.3).
const PATH: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'/').remove(b':');

/// Decodes `%XX` escapes. Fails on a malformed escape or on a result that is not UTF-8.
/// `+` is left as is: it means a space only in form bodies, not in URLs.
pub fn decode(input: &str) -> Option<String> {
    // `percent_decode_str` passes a malformed escape through as text; we reject it.
    let well_formed = input
        .split('%')
        .skip(1)
        .all(|rest| rest.as_bytes().get(..2).is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)));
    if !well_formed {
        return None;
    }
    percent_decode_str(input).decode_utf8().ok().map(Cow::into_owned)
}

/// Encodes a stream id for use as a URL path: every byte outside the RFC 3986
/// unreserved set, `/` and `:` is escaped.
pub fn encode_path(input: &str) -> String {
    utf8_percent_encode(input, PATH).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_escapes_and_keeps_plus() {
        assert_eq!(decode("a%2Fb%20c+d").unwrap(), "a/b c+d");
        assert_eq!(decode("%e2%82%ac").unwrap(), "€");
    }

    #[test]
    fn rejects_bad_escapes_and_invalid_utf8() {
        assert!(decode("%").is_none());
        assert!(decode("%4").is_none());
        assert!(decode("%zz").is_none());
        assert!(decode("%ff").is_none());
    }

    proptest! {
        #[test]
        fn encode_then_decode_round_trips(s in "\\PC{0,30}") {
            prop_assert_eq!(decode(&encode_path(&s)).unwrap(), s);
        }

        #[test]
        fn decode_never_panics(s in ".{0,40}") {
            let _ = decode(&s);
        }
    }
}
