//! When a failed webhook delivery is tried again (§7.1): exponential backoff from one
//! second, doubling up to a minute, with ±20 % jitter so that many subscriptions failing
//! together do not retry together.

/// The first retry's delay.
pub const FIRST_DELAY_MS: u64 = 1_000;
/// The longest delay.
pub const MAX_DELAY_MS: u64 = 60_000;
/// The jitter, as a fraction of the delay either way.
pub const JITTER: f64 = 0.2;

/// The delay before retry number `attempt` (1 for the first retry). `jitter` is a
/// uniform random number in `[-1, 1]`, drawn by the caller.
pub fn delay_ms(attempt: u32, jitter: f64) -> u64 {
    let doublings = attempt.saturating_sub(1).min(16);
    let base = FIRST_DELAY_MS.saturating_mul(1 << doublings).min(MAX_DELAY_MS) as f64;
    let spread = base * JITTER * jitter.clamp(-1.0, 1.0);
    (base + spread).round().max(0.0) as u64
}

/// A uniform number in `[-1, 1]` from two random bytes.
pub fn jitter_from(bytes: [u8; 2]) -> f64 {
    f64::from(u16::from_le_bytes(bytes)) / f64::from(u16::MAX) * 2.0 - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn doubles_from_one_second_to_a_minute() {
        let delays: Vec<u64> = (1..=9).map(|n| delay_ms(n, 0.0)).collect();
        assert_eq!(delays, [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
        assert_eq!(delay_ms(u32::MAX, 0.0), 60_000);
    }

    #[test]
    fn jitter_is_twenty_percent_either_way() {
        assert_eq!(delay_ms(1, -1.0), 800);
        assert_eq!(delay_ms(1, 1.0), 1_200);
        assert_eq!(delay_ms(7, 1.0), 72_000);
        assert_eq!(delay_ms(7, 5.0), 72_000);
        assert_eq!(jitter_from([0, 0]), -1.0);
        assert_eq!(jitter_from([0xff, 0xff]), 1.0);
    }

    proptest! {
        #[test]
        fn every_delay_is_within_its_band(attempt in 1u32..40, bytes in any::<[u8; 2]>()) {
            let jitter = jitter_from(bytes);
            prop_assert!((-1.0..=1.0).contains(&jitter));
            let base = delay_ms(attempt, 0.0) as f64;
            let d = delay_ms(attempt, jitter) as f64;
            prop_assert!(d >= (base * 0.8).floor() && d <= (base * 1.2).ceil());
        }
    }
}
