//! Subscription patterns (§6.2): globs over stream-root-relative paths, segment by
//! segment. `*` is exactly one segment, `**` any number of segments (none included);
//! every other segment matches itself only.

/// Whether `path` matches `pattern`.
pub fn matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    match_segments(&pattern, &path)
}

fn match_segments(pattern: &[&str], path: &[&str]) -> bool {
    // `reach[j]`: the pattern read so far can match the first `j` path segments. One row
    // per pattern segment keeps this linear in both lengths, whatever the `**`s.
    let mut reach: Vec<bool> = std::iter::once(true).chain(path.iter().map(|_| false)).collect();
    for segment in pattern {
        reach = if *segment == "**" {
            reach
                .iter()
                .scan(false, |any, &r| {
                    *any |= r;
                    Some(*any)
                })
                .collect()
        } else {
            let step = reach.iter().zip(path).map(|(&r, p)| r && (*segment == "*" || segment == p));
            std::iter::once(false).chain(step).collect()
        };
    }
    reach.last().copied().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_rules() {
        assert!(matches("events/*", "events/a"));
        assert!(!matches("events/*", "events/a/b"));
        assert!(!matches("events/*", "events"));
        assert!(matches("events/**", "events"));
        assert!(matches("events/**", "events/a/b/c"));
        assert!(matches("**", "a"));
        assert!(matches("**/done", "a/b/done"));
        assert!(matches("**/done", "done"));
        assert!(!matches("**/done", "a/done/x"));
        assert!(matches("a/**/z", "a/z"));
        assert!(matches("a/*/**/z", "a/b/c/z"));
        assert!(!matches("a/*/**/z", "a/z"));
        assert!(matches("exact/path", "exact/path"));
        assert!(!matches("exact/path", "exact/paths"));
        // `*` is a whole segment, not a wildcard inside one.
        assert!(!matches("ev*", "events"));
    }

    /// The reference: the rules read literally, by recursion.
    fn reference(pattern: &[&str], path: &[&str]) -> bool {
        match pattern.split_first() {
            None => path.is_empty(),
            Some((&"**", rest)) => (0..=path.len()).any(|skip| reference(rest, &path[skip..])),
            Some((segment, rest)) => match path.split_first() {
                Some((first, tail)) => (*segment == "*" || segment == first) && reference(rest, tail),
                None => false,
            },
        }
    }

    fn segments() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec(prop::sample::select(vec!["a", "b", "c"]).prop_map(String::from), 1..7)
    }

    fn pattern_segments() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec(prop::sample::select(vec!["a", "b", "*", "**"]).prop_map(String::from), 1..6)
    }

    proptest! {
        #[test]
        fn agrees_with_the_reference(pattern in pattern_segments(), path in segments()) {
            let p: Vec<&str> = pattern.iter().map(String::as_str).collect();
            let s: Vec<&str> = path.iter().map(String::as_str).collect();
            prop_assert_eq!(matches(&pattern.join("/"), &path.join("/")), reference(&p, &s));
        }

        #[test]
        fn a_path_matches_itself_and_double_star(path in segments()) {
            let joined = path.join("/");
            prop_assert!(matches(&joined, &joined));
            prop_assert!(matches("**", &joined));
        }

        #[test]
        fn star_matches_exactly_the_paths_of_its_length(path in segments(), n in 1usize..7) {
            let pattern = vec!["*"; n].join("/");
            prop_assert_eq!(matches(&pattern, &path.join("/")), path.len() == n);
        }

        #[test]
        fn widening_a_segment_to_star_keeps_every_match(
            pattern in pattern_segments(), path in segments(), at in 0usize..6,
        ) {
            let mut wider = pattern.clone();
            if at < wider.len() && wider[at] != "**" {
                wider[at] = "*".into();
            }
            if matches(&pattern.join("/"), &path.join("/")) {
                prop_assert!(matches(&wider.join("/"), &path.join("/")));
            }
        }
    }
}
