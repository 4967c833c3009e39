//! Entity tags for catch-up reads and `If-None-Match` (§5.6, RFC 9110 §8.8.3, §13.1.2).
//!
//! A read's tag names the stream incarnation and the byte range returned, plus `:c`
//! when the response carries the end of a closed stream, so a 304 can never hide EOF.
//! The incarnation changes when a stream is deleted and created again at the same path.

/// The strong entity tag, with quotes, for a read of `[start, end)`.
pub fn for_read(incarnation: u64, start: u64, end: u64, closed: bool) -> String {
    let c = if closed { ":c" } else { "" };
    format!("\"{incarnation}:{start}:{end}{c}\"")
}

/// Whether an `If-None-Match` header value matches `etag` (RFC 9110 §13.1.2: `*`, a
/// list of tags, weak comparison).
pub fn if_none_match_hits(header: &str, etag: &str) -> bool {
    let ours = opaque(etag);
    if header.trim() == "*" {
        return true;
    }
    list(header).any(|tag| opaque(tag) == ours)
}

/// The quoted part of a tag, without the weakness prefix.
fn opaque(tag: &str) -> &str {
    let t = tag.trim();
    t.strip_prefix("W/").unwrap_or(t)
}

/// The members of an entity-tag list. Commas inside quotes do not separate members.
fn list(header: &str) -> impl Iterator<Item = &str> {
    let mut members = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (i, c) in header.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                members.push(&header[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    members.push(&header[start..]);
    members.into_iter().map(str::trim).filter(|m| !m.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tags_name_incarnation_range_and_closure() {
        assert_eq!(for_read(3, 0, 10, false), "\"3:0:10\"");
        assert_eq!(for_read(3, 0, 10, true), "\"3:0:10:c\"");
    }

    #[test]
    fn matching_handles_lists_weakness_and_star() {
        let tag = for_read(1, 0, 5, false);
        assert!(if_none_match_hits(&tag, &tag));
        assert!(if_none_match_hits("\"x\", \"1:0:5\"", &tag));
        assert!(if_none_match_hits("W/\"1:0:5\"", &tag));
        assert!(if_none_match_hits("*", &tag));
        assert!(!if_none_match_hits("\"1:0:6\"", &tag));
        assert!(!if_none_match_hits("\"1:0:5:c\"", &tag));
        assert!(!if_none_match_hits("", &tag));
    }

    #[test]
    fn commas_inside_quotes_do_not_split() {
        assert!(if_none_match_hits("\"a,b\"", "\"a,b\""));
    }

    proptest! {
        #[test]
        fn matching_never_panics(h in ".{0,40}") {
            let _ = if_none_match_hits(&h, "\"1:0:5\"");
        }
    }
}
