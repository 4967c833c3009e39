//! Forks, at the tail or at an earlier offset, checked against the model.

use super::*;

impl Run {
    /// PUT with `Stream-Forked-From`.
    pub(super) fn fork(&mut self, target: &str) {
        // Streams that expire are never forked: whether a fork's read reaches its source,
        // and so applies the source's expiry, depends on the fork's read cache.
        let forkable = |s: Option<&Stream>| s.is_none_or(|s| s.expiry == Expiry::None);
        let candidates: Vec<&str> =
            NAMES.iter().copied().filter(|n| forkable(self.streams.get(*n))).collect();
        let others: Vec<&str> =
            candidates.iter().copied().filter(|n| *n != target && self.live(n).is_some()).collect();
        let source = if !others.is_empty() && self.rng.chance(85) {
            self.rng.pick(&others).to_string()
        } else if !candidates.is_empty() {
            self.rng.pick(&candidates).to_string()
        } else {
            return self.head(target);
        };
        if source != target {
            self.observe(target);
        }
        let src = self.streams.get(&source).cloned();
        let (offset, at) = match self.rng.below(100) {
            0..=54 => match self.known_offset(&source) {
                Some((pos, o)) => (Some(o), Some(pos)),
                None => (None, None),
            },
            55..=58 => (Some(FAR.to_owned()), None),
            _ => (None, None),
        };
        let fork_point = at.or(src.as_ref().map(Stream::len));
        let sub = if self.rng.chance(25) {
            let rest = match (&src, fork_point) {
                (Some(s), Some(p)) => s.record_rest(p),
                _ => 0,
            };
            // Up to one past the end of the record, which must be refused.
            1 + self.rng.below(rest + 1)
        } else {
            0
        };
        let kind = src.as_ref().map_or(Kind::Text, |s| s.kind);
        let other = kind.other(&mut self.rng);
        let ct = match self.rng.below(100) {
            0..=64 => None,
            65..=92 => Some(self.rng.pick(kind.spellings()).to_string()),
            _ => Some(self.rng.pick(other.spellings()).to_string()),
        };
        let (raw, units) = if self.rng.chance(55) {
            (Vec::new(), Units::Bytes(Vec::new()))
        } else {
            body(&mut self.rng, kind, true)
        };
        let closed = self.rng.chance(5);
        let mut headers = vec![(h::STREAM_FORKED_FROM.to_owned(), format!("/v1/stream/{source}"))];
        if let Some(o) = &offset {
            headers.push((h::STREAM_FORK_OFFSET.to_owned(), o.clone()));
        }
        if sub > 0 || self.rng.chance(5) {
            headers.push((h::STREAM_FORK_SUB_OFFSET.to_owned(), sub.to_string()));
        }
        if let Some(ct) = &ct {
            headers.push(("Content-Type".to_owned(), ct.clone()));
        }
        if closed {
            headers.push((h::STREAM_CLOSED.to_owned(), "true".to_owned()));
        }
        self.note(format!(
            "PUT {target} fork of {source} at {offset:?} (position {at:?}) sub={sub} ct={ct:?} closed={closed} body={:?}",
            show(&raw)
        ));
        let r = self.send(Method::Put, target, "", &headers, &raw);
        let what = format!("PUT {target} (fork of {source})");
        if target == source {
            return self.expect_error(&r, 400, "INVALID_FORK_SOURCE", &what);
        }
        match self.streams.get(target).cloned() {
            Some(t) if t.gone => return self.expect_error(&r, 409, "STREAM_RETAINED", &what),
            Some(t) => {
                let same_fork = t.origin.as_ref().is_some_and(|o| {
                    o.source == source && (offset.is_none() || at == Some(o.at)) && o.sub == sub
                });
                let mismatch = ct.as_deref().is_some_and(|ct| essence(ct) != essence(&t.content_type))
                    || closed != t.closed
                    || t.expiry != Expiry::None
                    || !same_fork;
                if mismatch {
                    self.expect_error(&r, 409, "STREAM_CONFIG_MISMATCH", &what);
                } else {
                    self.expect_created(target, &r, 200, &what);
                }
                return;
            }
            None => {}
        }
        let Some(src) = src else { return self.expect_error(&r, 404, "STREAM_NOT_FOUND", &what) };
        if src.gone {
            return self.expect_error(&r, 409, "FORK_SOURCE_GONE", &what);
        }
        if ct.as_deref().is_some_and(|ct| essence(ct) != essence(&src.content_type)) {
            return self.expect_error(&r, 409, "CONTENT_TYPE_MISMATCH", &what);
        }
        if offset.is_some() && at.is_none() {
            return self.expect_error(&r, 400, "INVALID_FORK_OFFSET", &what);
        }
        let at = at.unwrap_or(src.len());
        if sub > src.record_rest(at) {
            return self.expect_error(&r, 400, "SUB_OFFSET_OUT_OF_RANGE", &what);
        }
        if matches!(units, Units::Invalid) {
            return self.expect_error(&r, 400, "INVALID_JSON", &what);
        }
        // The fork: the source up to the fork point, then the sub-offset slice of the
        // next record, then the body, each slice its own record.
        let mut f = Stream::new(self.new_id(), ct.clone().unwrap_or_else(|| src.content_type.clone()));
        f.data = src.data[..at.min(src.data.len())].to_vec();
        f.msgs = src.msgs[..at.min(src.msgs.len())].to_vec();
        f.record_starts = src.record_starts.iter().copied().filter(|p| *p < at).collect();
        if sub > 0 {
            let slice = if src.kind == Kind::Json {
                Units::Msgs(src.msgs[at..at + sub].to_vec())
            } else {
                Units::Bytes(src.data[at..at + sub].to_vec())
            };
            f.push(&slice);
        }
        f.push(&units);
        f.closed = closed;
        f.origin = Some(Origin { source: source.clone(), source_id: src.id, at, sub });
        let reach = at + sub;
        f.borrowed = src.known().into_iter().filter(|(p, _)| *p <= reach).collect();
        self.streams.get_mut(&source).unwrap().forks += 1;
        self.streams.insert(target.to_owned(), f);
        self.registry.push((target.to_owned(), true));
        self.counters.forks += 1;
        self.expect_created(target, &r, 201, &what);
    }
}
