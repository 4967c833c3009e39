//! How a cacheable read was served, as reported in `X-Cache` and `Server-Timing`.

/// How a cacheable read was served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheOutcome {
    /// From the cache.
    Hit,
    /// A 304 from the cache's entry, without asking the origin.
    NotModified,
    /// The answer of an identical request already on its way to the origin.
    Coalesced,
    /// From the origin.
    Miss,
    /// From the origin because the client asked for a fresh answer.
    Bypass,
}

impl CacheOutcome {
    /// The `X-Cache` value: everything the origin did not serve is a HIT.
    pub fn x_cache(self) -> &'static str {
        match self {
            Self::Hit | Self::NotModified | Self::Coalesced => "HIT",
            Self::Miss => "MISS",
            Self::Bypass => "BYPASS",
        }
    }

    /// A precise name, for logs and the `Server-Timing` description.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::NotModified => "not-modified",
            Self::Coalesced => "coalesced",
            Self::Miss => "miss",
            Self::Bypass => "bypass",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_origin_answers_are_misses() {
        assert_eq!(CacheOutcome::Coalesced.x_cache(), "HIT");
        assert_eq!(CacheOutcome::NotModified.x_cache(), "HIT");
        assert_eq!(CacheOutcome::Miss.x_cache(), "MISS");
        assert_eq!(CacheOutcome::Bypass.x_cache(), "BYPASS");
    }
}
