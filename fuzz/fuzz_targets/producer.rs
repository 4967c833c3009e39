//! `Producer-Id` / `Producer-Epoch` / `Producer-Seq`: header parsing against the rules,
//! the fencing table, and a run of appends from one producer.
#![no_main]

use durable_streams_cloudflare::protocol::producer::{
    fence, Admission, Producer, ProducerState, Rejection, MAX_PRODUCER_ID_BYTES, MAX_PRODUCER_NUMBER,
};
use durable_streams_fuzz::decimal;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    id: Option<&'a str>,
    epoch: Option<&'a str>,
    seq: Option<&'a str>,
    state: Option<(u64, u64)>,
    /// Appends from one producer, as (epoch, seq) kept small so they often line up.
    run: Vec<(u8, u8)>,
}

fuzz_target!(|input: Input| {
    let Input { id, epoch, seq, state, run } = input;
    let parsed = Producer::from_headers(id, epoch, seq);
    let number = |s: &str| decimal(s).filter(|&v| v <= u128::from(MAX_PRODUCER_NUMBER));
    match (id, epoch, seq) {
        (None, None, None) => assert_eq!(parsed.unwrap(), None),
        (Some(i), Some(e), Some(s)) => {
            let id_ok = (1..=MAX_PRODUCER_ID_BYTES).contains(&i.len());
            match (id_ok, number(e), number(s)) {
                (true, Some(e), Some(s)) => {
                    let p = parsed.unwrap().unwrap();
                    assert_eq!((p.id.as_str(), u128::from(p.epoch), u128::from(p.seq)), (i, e, s));
                    check_fence(state, &p);
                }
                (id_ok, _, _) => {
                    let code = parsed.unwrap_err().code().as_str();
                    let want = if id_ok { "INVALID_PRODUCER_NUMBER" } else { "INVALID_PRODUCER_ID" };
                    assert_eq!(code, want);
                }
            }
        }
        _ => assert_eq!(parsed.unwrap_err().code().as_str(), "INCOMPLETE_PRODUCER_HEADERS"),
    }

    check_run(&run);
});

/// The fencing table of §5.2.1, for any stored state, including out-of-range ones.
fn check_fence(state: Option<(u64, u64)>, p: &Producer) {
    let state = state.map(|(epoch, last_seq)| ProducerState { epoch, last_seq });
    let got = fence(state, p);
    let want = match state {
        None if p.seq == 0 => Ok(Admission::Accept),
        None => Err(Rejection::Gap { expected: 0, received: p.seq }),
        Some(st) if p.epoch < st.epoch => Err(Rejection::StaleEpoch { current: st.epoch }),
        Some(st) if p.epoch > st.epoch => {
            if p.seq == 0 {
                Ok(Admission::Accept)
            } else {
                Err(Rejection::NewEpochMustStartAtZero)
            }
        }
        Some(st) if p.seq <= st.last_seq => Ok(Admission::Duplicate { last_seq: st.last_seq }),
        Some(st) if u128::from(p.seq) == u128::from(st.last_seq) + 1 => Ok(Admission::Accept),
        Some(st) => Err(Rejection::Gap { expected: st.last_seq + 1, received: p.seq }),
    };
    assert_eq!(got, want);
    // Every refusal becomes a client error, never a server one.
    if let Err(rejection) = got {
        let status = durable_streams_cloudflare::protocol::ProtocolError::from(rejection).status();
        assert!((400..500).contains(&status), "{rejection:?}");
    }
}

/// Whatever a producer sends, what gets written is, per epoch, exactly 0, 1, 2, … and
/// epochs never go back.
fn check_run(run: &[(u8, u8)]) {
    let mut state: Option<ProducerState> = None;
    let mut written: Vec<(u64, u64)> = Vec::new();
    for &(epoch, seq) in run {
        let p = Producer { id: "p".into(), epoch: u64::from(epoch), seq: u64::from(seq) };
        if fence(state, &p) == Ok(Admission::Accept) {
            state = Some(ProducerState { epoch: p.epoch, last_seq: p.seq });
            written.push((p.epoch, p.seq));
        }
    }
    for pair in written.windows(2) {
        let ((e1, s1), (e2, s2)) = (pair[0], pair[1]);
        assert!(e2 > e1 && s2 == 0 || e2 == e1 && s2 == s1 + 1, "{written:?}");
    }
    assert!(written.first().is_none_or(|&(_, s)| s == 0));
}
