//! `Server-Timing` (W3C Server Timing): what each hop spent on a request.
//!
//! Every response carries the entries below; docs/operations.md explains them. Workers
//! clocks only advance across I/O in production, so CPU-only spans (including SQLite,
//! which is synchronous) read 0 there; the values are what the platform reports.

/// A `Server-Timing` header value under construction.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServerTiming {
    entries: Vec<String>,
}

impl ServerTiming {
    /// Starts from an upstream hop's header, if any, so its entries come first.
    pub fn after(upstream: Option<&str>) -> Self {
        let entries =
            upstream.filter(|u| !u.trim().is_empty()).map(|u| vec![u.trim().to_owned()]).unwrap_or_default();
        Self { entries }
    }

    /// Adds `name;dur=<ms>`, with an optional description.
    pub fn add(&mut self, name: &str, dur_ms: f64, desc: Option<&str>) -> &mut Self {
        let dur = (dur_ms.max(0.0) * 10.0).round() / 10.0;
        self.entries.push(match desc {
            Some(d) => format!("{name};dur={dur};desc=\"{}\"", d.replace(['"', '\\'], "")),
            None => format!("{name};dur={dur}"),
        });
        self
    }

    /// The header value.
    pub fn value(&self) -> String {
        self.entries.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_follow_the_upstream_ones() {
        let mut t = ServerTiming::after(Some("do;dur=3, storage;dur=0"));
        t.add("cache", 1.26, Some("MISS")).add("edge", 5.0, None);
        assert_eq!(t.value(), "do;dur=3, storage;dur=0, cache;dur=1.3;desc=\"MISS\", edge;dur=5");
    }

    #[test]
    fn descriptions_cannot_break_the_header() {
        let mut t = ServerTiming::after(None);
        t.add("x", -1.0, Some("a\"b"));
        assert_eq!(t.value(), "x;dur=0;desc=\"ab\"");
    }
}
