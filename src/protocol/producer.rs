//! Idempotent producers: header parsing and epoch/sequence fencing (§5.2.1).

use super::ProtocolError;
use crate::protocol::ErrorCode;

/// The largest epoch or sequence number (2^53 − 1, safe in every JSON client).
pub const MAX_PRODUCER_NUMBER: u64 = (1 << 53) - 1;

/// The longest producer id accepted, in bytes.
pub const MAX_PRODUCER_ID_BYTES: usize = 256;

/// The producer headers of one append.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Producer {
    /// `Producer-Id`.
    pub id: String,
    /// `Producer-Epoch`.
    pub epoch: u64,
    /// `Producer-Seq`.
    pub seq: u64,
}

impl Producer {
    /// Parses the three headers: all present, or none.
    pub fn from_headers(
        id: Option<&str>,
        epoch: Option<&str>,
        seq: Option<&str>,
    ) -> Result<Option<Self>, ProtocolError> {
        match (id, epoch, seq) {
            (None, None, None) => Ok(None),
            (Some(id), Some(epoch), Some(seq)) => {
                if id.is_empty() || id.len() > MAX_PRODUCER_ID_BYTES {
                    return Err(ProtocolError::new(
                        ErrorCode::InvalidProducerId,
                        "Producer-Id must be 1 to 256 bytes",
                    ));
                }
                Ok(Some(Self {
                    id: id.to_owned(),
                    epoch: parse_number(epoch, "Producer-Epoch")?,
                    seq: parse_number(seq, "Producer-Seq")?,
                }))
            }
            _ => Err(ProtocolError::new(
                ErrorCode::IncompleteProducerHeaders,
                "Producer-Id, Producer-Epoch and Producer-Seq must be sent together",
            )),
        }
    }
}

fn parse_number(value: &str, name: &'static str) -> Result<u64, ProtocolError> {
    let n = (!value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()))
        .then(|| value.parse::<u64>().ok())
        .flatten();
    match n {
        Some(n) if n <= MAX_PRODUCER_NUMBER => Ok(n),
        _ => Err(ProtocolError::new(
            ErrorCode::InvalidProducerNumber,
            format!("{name} must be a decimal integer between 0 and 2^53-1"),
        )),
    }
}

/// What the server remembers about a producer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProducerState {
    /// The current epoch.
    pub epoch: u64,
    /// The highest accepted sequence number in that epoch.
    pub last_seq: u64,
}

/// An append the fencing rules let through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// New data: write it and record `(epoch, seq)`.
    Accept,
    /// Already written: answer 204 without writing. Carries the highest accepted seq.
    Duplicate {
        /// The highest sequence number accepted so far.
        last_seq: u64,
    },
}

/// An append the fencing rules refuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// An older epoch: 403 with the current epoch.
    StaleEpoch {
        /// The stored epoch.
        current: u64,
    },
    /// A sequence number that skips ahead: 409.
    Gap {
        /// The next sequence number in order.
        expected: u64,
        /// The one sent.
        received: u64,
    },
    /// A new epoch must start at sequence 0: 400.
    NewEpochMustStartAtZero,
}

/// Decides how to treat an append from `producer` given its stored state.
pub fn fence(state: Option<ProducerState>, producer: &Producer) -> Result<Admission, Rejection> {
    let Some(state) = state else {
        // An unknown producer must start at 0; tell it so, as for any gap.
        return if producer.seq == 0 {
            Ok(Admission::Accept)
        } else {
            Err(Rejection::Gap { expected: 0, received: producer.seq })
        };
    };
    if producer.epoch < state.epoch {
        Err(Rejection::StaleEpoch { current: state.epoch })
    } else if producer.epoch > state.epoch {
        if producer.seq == 0 {
            Ok(Admission::Accept)
        } else {
            Err(Rejection::NewEpochMustStartAtZero)
        }
    } else if producer.seq <= state.last_seq {
        Ok(Admission::Duplicate { last_seq: state.last_seq })
    } else if producer.seq == state.last_seq + 1 {
        Ok(Admission::Accept)
    } else {
        Err(Rejection::Gap { expected: state.last_seq + 1, received: producer.seq })
    }
}

impl From<Rejection> for ProtocolError {
    fn from(r: Rejection) -> Self {
        match r {
            Rejection::StaleEpoch { current } => Self::StaleProducerEpoch { current },
            Rejection::Gap { expected, received } => Self::ProducerSeqGap { expected, received },
            Rejection::NewEpochMustStartAtZero => {
                Self::new(ErrorCode::InvalidProducerSeq, "a new producer epoch must start at Producer-Seq 0")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(epoch: u64, seq: u64) -> Producer {
        Producer { id: "p".into(), epoch, seq }
    }

    fn st(epoch: u64, last_seq: u64) -> Option<ProducerState> {
        Some(ProducerState { epoch, last_seq })
    }

    #[test]
    fn headers_are_all_or_nothing() {
        assert_eq!(Producer::from_headers(None, None, None).unwrap(), None);
        assert!(Producer::from_headers(Some("p"), Some("0"), None).is_err());
        assert!(Producer::from_headers(None, Some("0"), Some("0")).is_err());
        assert!(Producer::from_headers(Some(""), Some("0"), Some("0")).is_err());
        assert_eq!(Producer::from_headers(Some("p"), Some("1"), Some("2")).unwrap(), Some(p(1, 2)));
    }

    #[test]
    fn numbers_must_be_plain_decimal_within_2_pow_53() {
        for bad in ["1abc", "0xyz", "1e3", "-1", "", "9007199254740992", " 1"] {
            assert!(Producer::from_headers(Some("p"), Some(bad), Some("0")).is_err(), "{bad}");
        }
        assert!(Producer::from_headers(Some("p"), Some("9007199254740991"), Some("0")).is_ok());
    }

    #[test]
    fn fencing_follows_the_protocol_table() {
        assert_eq!(fence(None, &p(0, 0)), Ok(Admission::Accept));
        assert_eq!(fence(None, &p(0, 3)), Err(Rejection::Gap { expected: 0, received: 3 }));
        assert_eq!(fence(st(2, 5), &p(1, 0)), Err(Rejection::StaleEpoch { current: 2 }));
        assert_eq!(fence(st(2, 5), &p(3, 0)), Ok(Admission::Accept));
        assert_eq!(fence(st(2, 5), &p(3, 1)), Err(Rejection::NewEpochMustStartAtZero));
        assert_eq!(fence(st(2, 5), &p(2, 1)), Ok(Admission::Duplicate { last_seq: 5 }));
        assert_eq!(fence(st(2, 5), &p(2, 5)), Ok(Admission::Duplicate { last_seq: 5 }));
        assert_eq!(fence(st(2, 5), &p(2, 6)), Ok(Admission::Accept));
        assert_eq!(fence(st(2, 5), &p(2, 8)), Err(Rejection::Gap { expected: 6, received: 8 }));
    }

    proptest! {
        #[test]
        fn exactly_the_next_seq_of_the_same_epoch_is_accepted(epoch in 0u64..100, last in 0u64..100, seq in 0u64..200) {
            let accepted = fence(st(epoch, last), &p(epoch, seq)) == Ok(Admission::Accept);
            prop_assert_eq!(accepted, seq == last + 1);
        }

        #[test]
        fn header_parsing_never_panics(a in ".{0,20}", b in ".{0,20}") {
            let _ = Producer::from_headers(Some(&a), Some(&b), Some(&b));
        }
    }
}
