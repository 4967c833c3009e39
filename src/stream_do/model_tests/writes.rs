//! Creates, appends and deletes, checked against the model.

use super::*;

impl Run {
    /// PUT without fork headers.
    pub(super) fn create(&mut self, name: &str) {
        self.observe(name);
        let existing = self.streams.get(name).cloned();
        let like_existing = existing.as_ref().is_some_and(|_| self.rng.chance(60));
        let kind = match (&existing, like_existing) {
            (Some(s), true) => s.kind,
            _ => self.rng.pick(&[Kind::Text, Kind::Binary, Kind::Json]),
        };
        let ct = if self.rng.chance(if kind == Kind::Binary { 40 } else { 8 }) {
            None
        } else {
            Some(self.rng.pick(kind.spellings()).to_string())
        };
        let closed = match (&existing, like_existing) {
            (Some(s), true) => s.closed != self.rng.chance(15),
            _ => self.rng.chance(6),
        };
        let expiry = match (&existing, like_existing) {
            (Some(s), true) if self.rng.chance(85) => s.expiry,
            _ => match self.rng.below(100) {
                0..=17 => Expiry::Ttl(1 + self.rng.below(2) as u64),
                18..=27 => Expiry::At(self.w.now.get() + 300 + self.rng.below(2700) as i64),
                _ => Expiry::None,
            },
        };
        let (raw, units) = body(&mut self.rng, if ct.is_none() { Kind::Binary } else { kind }, true);
        let mut headers = Vec::new();
        if let Some(ct) = &ct {
            headers.push(("Content-Type".to_owned(), ct.clone()));
        }
        if closed {
            headers.push((h::STREAM_CLOSED.to_owned(), "true".to_owned()));
        }
        match expiry {
            Expiry::None => {}
            Expiry::Ttl(secs) => headers.push((h::STREAM_TTL.to_owned(), secs.to_string())),
            Expiry::At(at) => headers
                .push((h::STREAM_EXPIRES_AT.to_owned(), crate::protocol::time::format_rfc3339_millis(at))),
        }
        self.note(format!("PUT {name} ct={ct:?} closed={closed} expiry={expiry:?} body={:?}", show(&raw)));
        let r = self.send(Method::Put, name, "", &headers, &raw);
        let what = format!("PUT {name}");
        match &existing {
            Some(s) if s.gone => self.expect_error(&r, 409, "STREAM_RETAINED", &what),
            Some(s) => {
                let mismatch = ct.as_deref().is_some_and(|ct| essence(ct) != essence(&s.content_type))
                    || closed != s.closed
                    || expiry != s.expiry
                    || s.origin.is_some();
                if mismatch {
                    self.expect_error(&r, 409, "STREAM_CONFIG_MISMATCH", &what);
                } else {
                    // An idempotent PUT is not a read or write: the TTL does not slide.
                    self.expect_created(name, &r, 200, &what);
                }
            }
            None => {
                if matches!(units, Units::Invalid) {
                    return self.expect_error(&r, 400, "INVALID_JSON", &what);
                }
                let content_type = ct.clone().unwrap_or_else(|| "application/octet-stream".to_owned());
                let mut s = Stream::new(self.new_id(), content_type);
                s.push(&units);
                s.closed = closed;
                s.expiry = expiry;
                s.touched_at = self.w.now.get();
                self.streams.insert(name.to_owned(), s);
                self.registry.push((name.to_owned(), true));
                self.expect_created(name, &r, 201, &what);
            }
        }
    }

    /// The headers of a 200/201 PUT.
    pub(super) fn expect_created(&mut self, name: &str, r: &Reply, status: u16, what: &str) {
        self.expect_status(r, status, what);
        let s = &self.streams[name];
        let (ct, closed, len) = (s.content_type.clone(), s.closed, s.len());
        self.expect_header(r, "Content-Type", Some(&ct), what);
        self.expect_header(r, h::STREAM_CLOSED, closed.then_some("true"), what);
        let (ttl, at) = s.expiry_headers();
        self.expect_header(r, h::STREAM_TTL, ttl.as_deref(), what);
        self.expect_header(r, h::STREAM_EXPIRES_AT, at.as_deref(), what);
        ensure!(self, r.get(h::STREAM_FORKED_FROM).is_none(), "{what}: fork headers leak into replies");
        let location = r.get("Location").unwrap_or_default();
        ensure!(self, location.ends_with(&format!("/v1/stream/{name}")), "{what}: Location {location:?}");
        self.saw(name, len, r.get(h::STREAM_NEXT_OFFSET), what);
    }

    /// POST: an append, or with `close` a close (with or without a final body).
    pub(super) fn append(&mut self, name: &str, close: bool) {
        self.observe(name);
        let existing = self.streams.get(name).cloned();
        let kind = existing.as_ref().map_or(Kind::Text, |s| s.kind);
        // Mostly close-only when closing; rarely an (invalid) empty append.
        let empty = if close { self.rng.chance(60) } else { self.rng.chance(3) };
        let (raw, units) =
            if empty { (Vec::new(), Units::Bytes(Vec::new())) } else { body(&mut self.rng, kind, false) };
        let other = kind.other(&mut self.rng);
        let ct = match self.rng.below(100) {
            0..=3 => None,
            4..=8 => Some(self.rng.pick(other.spellings()).to_string()),
            _ => Some(self.rng.pick(kind.spellings()).to_string()),
        };
        let producer = if self.rng.chance(40) { Some(self.producer(existing.as_ref())) } else { None };
        let stream_seq = if self.rng.chance(10) {
            let next = existing.as_ref().map_or(0, |s| s.next_stream_seq);
            // Mostly increasing; sometimes a repeat or a regression.
            let n = match self.rng.below(10) {
                0 => next.saturating_sub(1),
                1 => next.saturating_sub(3),
                _ => next + self.rng.below(3) as u64,
            };
            Some(format!("{n:06}"))
        } else {
            None
        };
        let mut headers = Vec::new();
        if let Some(ct) = &ct {
            headers.push(("Content-Type".to_owned(), ct.clone()));
        }
        if close {
            headers.push((h::STREAM_CLOSED.to_owned(), "true".to_owned()));
        }
        if let Some((id, epoch, seq)) = &producer {
            headers.push((h::PRODUCER_ID.to_owned(), id.clone()));
            headers.push((h::PRODUCER_EPOCH.to_owned(), epoch.to_string()));
            headers.push((h::PRODUCER_SEQ.to_owned(), seq.to_string()));
        }
        if let Some(seq) = &stream_seq {
            headers.push((h::STREAM_SEQ.to_owned(), seq.clone()));
        }
        self.note(format!(
            "POST {name} ct={ct:?} close={close} producer={producer:?} seq={stream_seq:?} body={:?}",
            show(&raw)
        ));
        let r = self.send(Method::Post, name, "", &headers, &raw);
        let what = format!("POST {name}");
        if let Some((status, code)) = self.absent(name) {
            return self.expect_error(&r, status, code, &what);
        }
        // Every POST that reaches a live stream counts as activity, whatever its outcome.
        self.touch(name, self.w.now.get());
        let s = existing.unwrap();
        let outcome = self.append_outcome(&s, &raw, &units, ct.as_deref(), close, &producer, &stream_seq);
        match outcome {
            AppendOutcome::Fail(status, code) => {
                self.expect_error(&r, status, code, &what);
                match code {
                    "STREAM_CLOSED" => {
                        self.expect_header(&r, h::STREAM_CLOSED, Some("true"), &what);
                        self.saw(name, s.len(), r.get(h::STREAM_NEXT_OFFSET), &what);
                    }
                    "PRODUCER_STALE_EPOCH" => {
                        let current = s.producers[&producer.as_ref().unwrap().0].epoch.to_string();
                        self.expect_header(&r, h::PRODUCER_EPOCH, Some(&current), &what);
                    }
                    "PRODUCER_SEQ_GAP" => {
                        let (id, _, seq) = producer.as_ref().unwrap();
                        let expected = s.producers.get(id).map_or(0, |p| p.last_seq + 1).to_string();
                        self.expect_header(&r, h::PRODUCER_EXPECTED_SEQ, Some(&expected), &what);
                        self.expect_header(&r, h::PRODUCER_RECEIVED_SEQ, Some(&seq.to_string()), &what);
                    }
                    _ => {}
                }
            }
            AppendOutcome::Duplicate { tail, closed, epoch, seq } => {
                self.counters.duplicates += 1;
                self.expect_status(&r, 204, &what);
                self.expect_header(&r, h::STREAM_CLOSED, closed.then_some("true"), &what);
                self.expect_header(&r, h::PRODUCER_EPOCH, Some(&epoch.to_string()), &what);
                self.expect_header(&r, h::PRODUCER_SEQ, Some(&seq.to_string()), &what);
                self.saw(name, tail, r.get(h::STREAM_NEXT_OFFSET), &what);
            }
            AppendOutcome::AlreadyClosed => {
                self.expect_status(&r, 204, &what);
                self.expect_header(&r, h::STREAM_CLOSED, Some("true"), &what);
                self.saw(name, s.len(), r.get(h::STREAM_NEXT_OFFSET), &what);
            }
            AppendOutcome::Written => {
                self.counters.written += 1;
                let data = !raw.is_empty();
                let m = self.streams.get_mut(name).unwrap();
                m.push(&units);
                if close {
                    m.closed = true;
                    m.closed_by = producer.clone();
                }
                if let Some(seq) = &stream_seq {
                    m.last_stream_seq = Some(seq.clone());
                    m.next_stream_seq = seq.parse::<u64>().unwrap() + 1;
                }
                let len = m.len();
                if let Some((id, epoch, seq)) = &producer {
                    m.producers
                        .insert(id.clone(), ProducerState { epoch: *epoch, last_seq: *seq, tail: len });
                }
                let status = if data && producer.is_some() { 200 } else { 204 };
                self.expect_status(&r, status, &what);
                self.expect_header(&r, h::STREAM_CLOSED, (s.closed || close).then_some("true"), &what);
                let (epoch, seq) = match &producer {
                    Some((_, e, q)) => (Some(e.to_string()), Some(q.to_string())),
                    None => (None, None),
                };
                self.expect_header(&r, h::PRODUCER_EPOCH, epoch.as_deref(), &what);
                self.expect_header(&r, h::PRODUCER_SEQ, seq.as_deref(), &what);
                self.saw(name, len, r.get(h::STREAM_NEXT_OFFSET), &what);
            }
        }
    }

    /// Producer headers for the next append: mostly in order, often a retry, sometimes
    /// out of order or fenced.
    pub(super) fn producer(&mut self, s: Option<&Stream>) -> (String, u64, u64) {
        let id = self.rng.pick(&["pa", "pb"]).to_string();
        let state = s.and_then(|s| s.producers.get(&id)).copied();
        let Some(p) = state else {
            return match self.rng.below(10) {
                0 => (id, 0, 1 + self.rng.below(3) as u64),
                1 => (id, self.rng.below(3) as u64, 0),
                _ => (id, 0, 0),
            };
        };
        let (epoch, seq) = match self.rng.below(100) {
            0..=44 => (p.epoch, p.last_seq + 1),
            45..=71 => (p.epoch, p.last_seq),
            72..=77 => (p.epoch, self.rng.below(p.last_seq as usize + 1) as u64),
            78..=83 => (p.epoch, p.last_seq + 2 + self.rng.below(2) as u64),
            84..=91 => (p.epoch + 1, 0),
            92..=95 if p.epoch > 0 => (p.epoch - 1, self.rng.below(3) as u64),
            _ => (p.epoch + 1, 1 + self.rng.below(3) as u64),
        };
        (id, epoch, seq)
    }

    /// The model's decision for an append to the live stream `s`, in the protocol's order
    /// of checks: the body's presence, producer fencing, closure, content type, JSON,
    /// `Stream-Seq`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn append_outcome(
        &self,
        s: &Stream,
        raw: &[u8],
        units: &Units,
        ct: Option<&str>,
        close: bool,
        producer: &Option<(String, u64, u64)>,
        stream_seq: &Option<String>,
    ) -> AppendOutcome {
        let close_only = raw.is_empty();
        if close_only && !close {
            return AppendOutcome::Fail(400, "EMPTY_BODY");
        }
        if let Some((id, epoch, seq)) = producer {
            if s.closed_by.as_ref() == Some(&(id.clone(), *epoch, *seq)) {
                return AppendOutcome::Duplicate { tail: s.len(), closed: true, epoch: *epoch, seq: *seq };
            }
            match s.producers.get(id) {
                None if *seq != 0 => return AppendOutcome::Fail(409, "PRODUCER_SEQ_GAP"),
                None => {}
                Some(p) if *epoch < p.epoch => return AppendOutcome::Fail(403, "PRODUCER_STALE_EPOCH"),
                Some(p) if *epoch > p.epoch && *seq != 0 => {
                    return AppendOutcome::Fail(400, "INVALID_PRODUCER_SEQ")
                }
                Some(p) if *epoch > p.epoch => {}
                Some(p) if *seq <= p.last_seq => {
                    return AppendOutcome::Duplicate {
                        tail: p.tail,
                        closed: s.closed,
                        epoch: p.epoch,
                        seq: p.last_seq,
                    }
                }
                Some(p) if *seq > p.last_seq + 1 => return AppendOutcome::Fail(409, "PRODUCER_SEQ_GAP"),
                Some(_) => {}
            }
        }
        if s.closed {
            if close_only && producer.is_none() {
                return AppendOutcome::AlreadyClosed;
            }
            return AppendOutcome::Fail(409, "STREAM_CLOSED");
        }
        if !close_only {
            let Some(ct) = ct else { return AppendOutcome::Fail(400, "MISSING_CONTENT_TYPE") };
            if essence(ct) != essence(&s.content_type) {
                return AppendOutcome::Fail(409, "CONTENT_TYPE_MISMATCH");
            }
            match units {
                Units::Invalid => return AppendOutcome::Fail(400, "INVALID_JSON"),
                Units::Msgs(m) if m.is_empty() => return AppendOutcome::Fail(400, "EMPTY_JSON_ARRAY"),
                _ => {}
            }
        }
        if let (Some(seq), Some(last)) = (stream_seq, &s.last_stream_seq) {
            if seq <= last {
                return AppendOutcome::Fail(409, "SEQ_REGRESSION");
            }
        }
        AppendOutcome::Written
    }

    pub(super) fn delete(&mut self, name: &str) {
        self.observe(name);
        self.note(format!("DELETE {name}"));
        let r = self.send(Method::Delete, name, "", &[], b"");
        let what = format!("DELETE {name}");
        if let Some((status, code)) = self.absent(name) {
            return self.expect_error(&r, status, code, &what);
        }
        self.expect_status(&r, 204, &what);
        self.registry.push((name.to_owned(), false));
        let s = self.streams.get_mut(name).unwrap();
        if s.forks > 0 {
            s.gone = true;
        } else {
            self.purge(name);
        }
    }

    /// Removes a stream for good, releasing its fork source (which may go too).
    pub(super) fn purge(&mut self, name: &str) {
        self.counters.purges += 1;
        let s = self.streams.remove(name).unwrap();
        if let Some(o) = s.origin {
            let source = self.streams.get_mut(&o.source).filter(|src| src.id == o.source_id);
            let source = source.expect("a fork's source outlives it");
            source.forks -= 1;
            if source.gone && source.forks == 0 {
                self.purge(&o.source);
            }
        }
    }
}
