//! Percent-decoding of URL path segments and query components (RFC 3986 §2.1).

/// Decodes `%XX` escapes. Fails on a malformed escape or on a result that is not UTF-8.
/// `+` is left as is: it means a space only in form bodies, not in URLs.
pub fn decode(input: &str) -> Option<String> {
    if !input.contains('%') {
        return Some(input.to_owned());
    }
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = hex_value(*bytes.get(i + 1)?)?;
            let lo = hex_value(*bytes.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Encodes a stream id for use as a URL path: every byte outside the RFC 3986
/// unreserved set and `/` is escaped.
pub fn encode_path(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for &b in input.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
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
