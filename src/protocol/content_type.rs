//! Content types: the default, comparison, JSON mode and SSE encoding (§5.1, §9.1).
//!
//! The stream's type is stored verbatim. Comparisons use the media type only,
//! lowercased, with parameters stripped, so `APPLICATION/JSON; charset=utf-8` matches
//! `application/json`.

/// The type of a stream created without a (valid) `Content-Type`.
pub const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// The longest `Content-Type` a stream may be created with, in bytes. The stored type is
/// sent back on every read, so an oversize one would make each response's headers too
/// large for ordinary clients.
pub const MAX_CONTENT_TYPE_BYTES: usize = 256;

/// The media type of `value`: lowercased, without parameters or surrounding spaces.
pub fn essence(value: &str) -> String {
    value.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

/// Whether two content types name the same media type.
pub fn same_media_type(a: &str, b: &str) -> bool {
    essence(a) == essence(b)
}

/// Whether `value` is a syntactically valid media type (`type/subtype[;params]`).
pub fn is_valid(value: &str) -> bool {
    let ess = essence(value);
    match ess.split_once('/') {
        Some((t, s)) => is_token(t) && is_token(s),
        None => false,
    }
}

/// The type to store for a create request: the request's type if valid, else the
/// default.
pub fn for_create(requested: Option<&str>) -> String {
    match requested.map(str::trim) {
        Some(v) if is_valid(v) => v.to_owned(),
        _ => DEFAULT_CONTENT_TYPE.to_owned(),
    }
}

/// Whether the stream is in JSON mode (§9.1).
pub fn is_json(value: &str) -> bool {
    essence(value) == "application/json"
}

/// Whether SSE sends the stream's bytes as text; everything else is base64 (§5.8).
pub fn is_textual(value: &str) -> bool {
    let ess = essence(value);
    ess.starts_with("text/") || ess == "application/json"
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_ignores_case_and_parameters() {
        assert!(same_media_type("APPLICATION/JSON", "application/json; charset=utf-8"));
        assert!(!same_media_type("text/plain", "application/json"));
    }

    #[test]
    fn invalid_or_missing_types_fall_back_to_the_default() {
        assert_eq!(for_create(None), DEFAULT_CONTENT_TYPE);
        assert_eq!(for_create(Some("garbage")), DEFAULT_CONTENT_TYPE);
        assert_eq!(for_create(Some("")), DEFAULT_CONTENT_TYPE);
        assert_eq!(for_create(Some("text/plain")), "text/plain");
        assert_eq!(for_create(Some("Text/Plain; charset=utf-8")), "Text/Plain; charset=utf-8");
    }

    #[test]
    fn json_mode_and_sse_encoding() {
        assert!(is_json("application/json; charset=utf-8"));
        assert!(!is_json("application/ld+json"));
        assert!(is_textual("text/plain") && is_textual("application/json"));
        assert!(!is_textual("application/octet-stream") && !is_textual("image/png"));
    }
}
