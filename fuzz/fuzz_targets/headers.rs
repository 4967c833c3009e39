//! The remaining request headers with structure: `Stream-Closed`, the fork headers
//! (`Stream-Forked-From`, `Stream-Fork-Offset`, `Stream-Fork-Sub-Offset`) and the stream
//! path they name. `Stream-Seq` is opaque (stored verbatim and compared as bytes), so it
//! has no parser to fuzz.
#![no_main]

use durable_streams_cloudflare::protocol::fork::ForkRequest;
use durable_streams_cloudflare::protocol::headers::is_true;
use durable_streams_cloudflare::protocol::path::{self, StreamName, MAX_STREAM_ID_BYTES};
use durable_streams_cloudflare::protocol::Offset;
use durable_streams_fuzz::{all_digits, percent_decode};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    closed: &'a str,
    forked_from: Option<&'a str>,
    fork_offset: Option<&'a str>,
    sub_offset: Option<&'a str>,
}

fuzz_target!(|input: Input| {
    assert_eq!(is_true(Some(input.closed)), input.closed.trim().eq_ignore_ascii_case("true"));

    let parsed = ForkRequest::from_headers(input.forked_from, input.fork_offset, input.sub_offset);
    let Some(from) = input.forked_from else {
        let none = input.fork_offset.is_none() && input.sub_offset.is_none();
        assert_eq!(parsed.is_ok(), none);
        return;
    };
    if let Ok(req) = parsed {
        let fork = req.unwrap();
        // A source is what a stream path may name, and names itself again.
        let id = &fork.source.id;
        assert!(!id.is_empty() && id.len() <= MAX_STREAM_ID_BYTES);
        assert!(!id.chars().any(char::is_control));
        assert!(path::is_project_id(&fork.source.project));
        let p = fork.source.path();
        assert_eq!(StreamName::parse(&p).unwrap().unwrap(), fork.source);
        assert_eq!(StreamName::from_key(&fork.source.key()).unwrap(), fork.source);
        assert!(!source_is_bad(from), "{from:?}");
        // The offset and sub-offset re-format to the header text.
        assert_eq!(fork.offset.map(|o| o.to_string()).as_deref(), input.fork_offset);
        match input.sub_offset {
            Some(s) => {
                assert_eq!(fork.sub_offset.to_string(), s);
            }
            None => assert_eq!(fork.sub_offset, 0),
        }
    } else {
        // Rejected: one of the three values must be bad on its own.
        let offset_bad = input.fork_offset.is_some_and(|o| o.parse::<Offset>().is_err());
        let sub_bad = input.sub_offset.is_some_and(|s| {
            !(all_digits(s) && (s == "0" || !s.starts_with('0')) && s.parse::<u64>().is_ok())
        });
        let source_bad = source_is_bad(from);
        assert!(offset_bad || sub_bad || source_bad, "{input:?}");
    }
});

/// The source rules: a stream path (`/v1/stream/<id>` or `/v1/<project>/stream/<id>`),
/// or an absolute URL whose path is one, with any query or fragment dropped; a project
/// is 1 to 64 of `A-Za-z0-9_-`; the id must decode, be 1 to 1024 bytes and have no
/// control characters and no U+FFFD.
fn source_is_bad(from: &str) -> bool {
    let from = from.trim();
    let path = match from.find("://") {
        Some(i) => {
            let rest = &from[i + 3..];
            rest.find('/').map_or("", |j| &rest[j..])
        }
        None => from,
    };
    let path = &path[..path.find(['?', '#']).unwrap_or(path.len())];
    let raw = match path.strip_prefix(path::STREAM_PREFIX) {
        Some(raw) => raw,
        None => {
            let Some((project, raw)) = path.strip_prefix("/v1/").and_then(|p| p.split_once("/stream/"))
            else {
                return true;
            };
            let project_ok = (1..=64).contains(&project.len())
                && project.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !project_ok {
                return true;
            }
            raw
        }
    };
    match percent_decode(raw) {
        None => true,
        Some(id) => {
            id.is_empty()
                || id.len() > MAX_STREAM_ID_BYTES
                || id.chars().any(|c| c.is_control() || c == char::REPLACEMENT_CHARACTER)
        }
    }
}
