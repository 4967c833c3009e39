//! The ERRORS section: errors by kind over writers and readers, with a sample of each.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::format::counts_line;
use crate::reader::ReaderResult;
use crate::stats::{Counts, Errors};
use crate::writer::WriterResult;

/// Every writer's and reader's errors, their kinds marked `write: ` and `read: `.
pub(crate) fn collect(writers: &[WriterResult], readers: &[ReaderResult]) -> Errors {
    let mut errors = Errors::default();
    for w in writers {
        errors.merge_prefixed("write: ", &w.errors);
    }
    for r in readers {
        errors.merge_prefixed("read: ", &r.errors);
    }
    errors
}

/// The ERRORS line, and a line with the first message of each kind that had one.
pub(crate) fn render(counts: &Counts, samples: &BTreeMap<String, String>, out: &mut String) {
    render_as("ERRORS", counts, samples, out);
}

/// A `heading` line of counts by kind ("none" without any), and a sample of each kind.
pub(crate) fn render_as(
    heading: &str,
    counts: &Counts,
    samples: &BTreeMap<String, String>,
    out: &mut String,
) {
    let _ = writeln!(
        out,
        "{heading:<16}{}",
        if counts.total() == 0 { "none".to_owned() } else { counts_line(counts) }
    );
    for (kind, sample) in samples {
        let _ = writeln!(out, "  {kind:<13} e.g. {sample}");
    }
}
