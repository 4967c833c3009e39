//! The subscription worker's settings, read from its variables. A malformed value is an
//! error at start, never a silent default: a typo in a TTL must not expire sessions early.

use std::fmt;

/// The subscription layer's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// How long a session lives after it was created or last touched
    /// (`SESSION_TTL_SECONDS`).
    pub session_ttl_secs: u64,
    /// Above this many subscribers a fan-out goes through the queue
    /// (`FANOUT_QUEUE_THRESHOLD`).
    pub queue_threshold: usize,
    /// Without a queue, at most this many subscribers are written to inline; the rest are
    /// reported as failures (`MAX_INLINE_FANOUT`).
    pub max_inline: usize,
    /// Concurrent session writes in one inline batch.
    pub inline_batch: usize,
    /// How long one session write may take before it counts as failed (ms).
    pub write_timeout_ms: u64,
    /// Sessions per queue message.
    pub queue_batch: usize,
    /// Consecutive failing fan-outs that open the circuit breaker.
    pub breaker_failures: u32,
    /// How long the breaker stays open before it lets one fan-out try (ms).
    pub breaker_recovery_ms: i64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            session_ttl_secs: 1800,
            queue_threshold: 200,
            max_inline: 1000,
            inline_batch: 50,
            write_timeout_ms: 10_000,
            queue_batch: 50,
            breaker_failures: 5,
            breaker_recovery_ms: 60_000,
        }
    }
}

/// A variable with a value that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable.
    pub name: &'static str,
    /// What it must be.
    pub rule: &'static str,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} must be {}", self.name, self.rule)
    }
}

impl Config {
    /// Reads the settings from named variables. Absent ones keep their defaults; a
    /// present one must be a plain decimal integer in its range.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = Self::default();
        let num = |name: &'static str, default: u64, min: u64, max: u64, rule: &'static str| {
            let Some(raw) = var(name) else { return Ok(default) };
            let raw = raw.trim();
            let value = (!raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()))
                .then(|| raw.parse::<u64>().ok())
                .flatten()
                .filter(|v| (min..=max).contains(v));
            value.ok_or(ConfigError { name, rule })
        };
        Ok(Self {
            session_ttl_secs: num(
                "SESSION_TTL_SECONDS",
                d.session_ttl_secs,
                1,
                365 * 86_400,
                "a whole number of seconds from 1 to 31536000",
            )?,
            queue_threshold: num(
                "FANOUT_QUEUE_THRESHOLD",
                d.queue_threshold as u64,
                0,
                1_000_000,
                "a whole number of subscribers from 0 to 1000000",
            )? as usize,
            max_inline: num(
                "MAX_INLINE_FANOUT",
                d.max_inline as u64,
                1,
                100_000,
                "a whole number of subscribers from 1 to 100000",
            )? as usize,
            breaker_recovery_ms: num(
                "CIRCUIT_BREAKER_RECOVERY_MS",
                d.breaker_recovery_ms as u64,
                100,
                3_600_000,
                "a whole number of milliseconds from 100 to 3600000",
            )? as i64,
            ..d
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(name: &'static str, value: &'static str) -> Result<Config, ConfigError> {
        Config::from_vars(|k| (k == name).then(|| value.to_owned()))
    }

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(Config::from_vars(|_| None).unwrap(), Config::default());
        assert_eq!(with("SESSION_TTL_SECONDS", "60").unwrap().session_ttl_secs, 60);
        assert_eq!(with("FANOUT_QUEUE_THRESHOLD", " 1 ").unwrap().queue_threshold, 1);
    }

    #[test]
    fn malformed_values_are_refused_not_defaulted() {
        for bad in ["NaN", "", "-5", "1e3", "0", "12.5", "99999999999999999999", "31536001"] {
            let e = with("SESSION_TTL_SECONDS", bad).unwrap_err();
            assert_eq!(e.name, "SESSION_TTL_SECONDS", "{bad}");
        }
        assert!(with("FANOUT_QUEUE_THRESHOLD", "many").is_err());
        assert!(with("MAX_INLINE_FANOUT", "0").is_err());
        assert!(with("CIRCUIT_BREAKER_RECOVERY_MS", "soon").is_err());
        assert_eq!(with("CIRCUIT_BREAKER_RECOVERY_MS", "2000").unwrap().breaker_recovery_ms, 2000);
    }
}
