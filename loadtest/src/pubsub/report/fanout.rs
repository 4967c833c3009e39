//! The FAN-OUT section: how the publishes reached the sessions, from the
//! `Stream-Fanout-*` headers of their answers.

use std::fmt::Write as _;

use crate::fanout::FanoutSeen;
use crate::report::format::counts_line;

/// The FAN-OUT line.
pub(super) fn render(f: &FanoutSeen, out: &mut String) {
    let answers = f.modes.total();
    if answers == 0 {
        let _ = writeln!(out, "FAN-OUT         no publish answer said how it fanned out");
        return;
    }
    let _ = writeln!(
        out,
        "FAN-OUT         {}; {:.1} sessions per publish, {} reached, {} not reached at publish time",
        counts_line(&f.modes),
        f.sessions as f64 / answers as f64,
        f.successes,
        f.failures,
    );
}
