//! Request bodies and JSON values to send, chosen to trip up the server.

use super::*;

// ---------------------------------------------------------------------------------------
// Generators

/// Pieces of JSON string literals, chosen to trip up anything that scans JSON text.
pub(super) const STRING_PIECES: &[&str] = &[
    "a", "b", "Z", " ", ",", "[", "]", "{", "}", ":", "\\\"", "\\\\", "\\n", "\\u00e9", "é", "\\/", "x,y",
    "€",
];

pub(super) fn json_string(rng: &mut Rng) -> String {
    let n = rng.below(5);
    let mut s = String::from("\"");
    for _ in 0..n {
        s.push_str(rng.pick(STRING_PIECES));
    }
    s.push('"');
    s
}

/// A JSON value in compact form.
pub(super) fn json_value(rng: &mut Rng, depth: usize) -> String {
    let choices = if depth >= 2 { 5 } else { 7 };
    match rng.below(choices) {
        0 => (rng.below(2001) as i64 - 1000).to_string(),
        1 | 4 => json_string(rng),
        2 => rng.pick(&["true", "false", "null"]).to_string(),
        3 => rng.pick(&["1.5", "-0.25", "3e2", "0", "12345678901234567890"]).to_string(),
        5 => {
            let items: Vec<String> = (0..rng.below(4)).map(|_| json_value(rng, depth + 1)).collect();
            format!("[{}]", items.join(","))
        }
        _ => {
            let items: Vec<String> = (0..rng.below(4))
                .map(|_| format!("{}:{}", json_string(rng), json_value(rng, depth + 1)))
                .collect();
            format!("{{{}}}", items.join(","))
        }
    }
}

/// Adds insignificant whitespace outside string literals (the server must drop it).
pub(super) fn loosen(rng: &mut Rng, compact: &str) -> String {
    let mut out = String::new();
    let (mut in_string, mut escaped) = (false, false);
    if rng.chance(30) {
        out.push(' ');
    }
    for c in compact.chars() {
        out.push(c);
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        if c == '"' {
            in_string = true;
        } else if matches!(c, ',' | ':' | '[' | '{') && rng.chance(40) {
            out.push_str(rng.pick(&[" ", "\n", "\t", " \r\n  "]));
        }
    }
    if rng.chance(30) {
        out.push('\n');
    }
    out
}

/// A non-empty text or binary payload.
pub(super) fn payload(rng: &mut Rng, kind: Kind) -> Vec<u8> {
    let len = if rng.chance(15) { 13 + rng.below(28) } else { 1 + rng.below(12) };
    let mut out = Vec::new();
    while out.len() < len {
        match kind {
            Kind::Binary => out.push(rng.next() as u8),
            _ => match rng.below(30) {
                0 => out.extend_from_slice("é".as_bytes()),
                1 => out.extend_from_slice("€".as_bytes()),
                2 | 3 => out.push(b'\n'),
                _ => out.push(rng.pick(b"abcdefghijklmnopqrstuvwxyz0123456789 ,.;-_[]{}\"")),
            },
        }
    }
    out
}

/// A request body for a stream of `kind`. `allow_empty` permits `[]` and empty bodies.
pub(super) fn body(rng: &mut Rng, kind: Kind, allow_empty: bool) -> (Vec<u8>, Units) {
    if allow_empty && rng.chance(25) {
        return (
            Vec::new(),
            if kind == Kind::Json { Units::Msgs(Vec::new()) } else { Units::Bytes(Vec::new()) },
        );
    }
    if kind != Kind::Json {
        let p = payload(rng, kind);
        return (p.clone(), Units::Bytes(p));
    }
    match rng.below(100) {
        0..=3 => {
            let bad = rng.pick(&["{", "[1,", "nope", "[1 2]", "{\"a\" 1}", "\"open"]);
            (bad.as_bytes().to_vec(), Units::Invalid)
        }
        4..=8 => (b"[ ]".to_vec(), Units::Msgs(Vec::new())),
        9..=44 => {
            // One value, sent bare unless it is an array (which would be flattened).
            let v = json_value(rng, 0);
            let sent = if v.starts_with('[') { format!("[{v}]") } else { v.clone() };
            (loosen(rng, &sent).into_bytes(), Units::Msgs(vec![v]))
        }
        _ => {
            let n = 1 + rng.below(4);
            let vs: Vec<String> = (0..n).map(|_| json_value(rng, 0)).collect();
            let sent = format!("[{}]", vs.join(","));
            (loosen(rng, &sent).into_bytes(), Units::Msgs(vs))
        }
    }
}
