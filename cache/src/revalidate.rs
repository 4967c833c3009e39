//! Answering `If-None-Match` from a cached entry without asking the origin (RFC 9110
//! §13.1.2, §15.4.5).

use crate::edge::HasHeaders;
use crate::etag;

/// Headers a 304 repeats from the entry it stands for.
pub const NOT_MODIFIED_HEADERS: &[&str] =
    &["ETag", "Cache-Control", "Stream-Next-Offset", "Stream-Up-To-Date", "Stream-Closed", "Stream-Cursor"];

/// The headers of a 304 for `entry`, if the request's `If-None-Match` matches its ETag.
pub fn not_modified(
    if_none_match: Option<&str>,
    entry: &impl HasHeaders,
) -> Option<Vec<(&'static str, String)>> {
    let tag = entry.header("etag")?;
    if !etag::if_none_match_hits(if_none_match?, &tag) {
        return None;
    }
    Some(NOT_MODIFIED_HEADERS.iter().filter_map(|&name| entry.header(name).map(|v| (name, v))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edge::Buffered;

    fn entry() -> Buffered {
        Buffered {
            status: 200,
            headers: vec![
                ("ETag".into(), "\"1:0:5\"".into()),
                ("Stream-Next-Offset".into(), "x".into()),
                ("Content-Type".into(), "text/plain".into()),
            ],
            body: b"hello".to_vec(),
        }
    }

    #[test]
    fn a_matching_tag_gives_a_304_with_the_entry_validators() {
        let h = not_modified(Some("W/\"1:0:5\", \"zzz\""), &entry()).unwrap();
        assert_eq!(h, vec![("ETag", "\"1:0:5\"".to_owned()), ("Stream-Next-Offset", "x".to_owned())]);
    }

    #[test]
    fn no_header_or_another_tag_serves_the_entry() {
        assert!(not_modified(None, &entry()).is_none());
        assert!(not_modified(Some("\"1:0:6\""), &entry()).is_none());
    }
}
