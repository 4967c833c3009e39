//! Catch-up reads, long-polls, HEAD and ETags, checked against the model.

use super::*;

impl Run {
    /// GET in its various forms.
    pub(super) fn read(&mut self, name: &str) {
        let mode = self.rng.below(100);
        // A malformed offset is refused before the stream is looked at.
        if !(82..=84).contains(&mode) {
            self.observe(name);
        }
        let Some(s) = self.live(name).cloned() else {
            let query = self.rng.pick(&["offset=-1", "", "offset=now", "offset=-1&live=long-poll"]);
            self.note(format!("GET {name}?{query} (not live)"));
            let r = self.send(Method::Get, name, query, &[], b"");
            let (status, code) = self.absent(name).unwrap();
            return self.expect_error(&r, status, code, &format!("GET {name}?{query}"));
        };
        match mode {
            0..=21 => {
                let query = if self.rng.chance(15) { "" } else { "offset=-1" };
                let conditional = self.rng.chance(30);
                self.read_page(name, query, 0, false, conditional);
            }
            22..=45 => match self.known_offset(name) {
                Some((pos, offset)) => {
                    let conditional = self.rng.chance(30);
                    self.read_page(name, &format!("offset={offset}"), pos, false, conditional);
                }
                None => {
                    self.read_page(name, "offset=-1", 0, false, false);
                }
            },
            46..=55 => {
                self.note(format!("GET {name}?offset=now"));
                let r = self.send(Method::Get, name, "offset=now", &[], b"");
                self.touch(name, self.w.now.get());
                let what = format!("GET {name}?offset=now");
                self.expect_status(&r, 200, &what);
                let empty: &[u8] = if s.kind == Kind::Json { b"[]" } else { b"" };
                ensure!(self, body_bytes(&r) == empty, "{what}: body {:?}", show(&body_bytes(&r)));
                self.expect_header(&r, h::STREAM_UP_TO_DATE, Some("true"), &what);
                self.expect_header(&r, h::STREAM_CLOSED, s.closed.then_some("true"), &what);
                self.expect_header(&r, "Content-Type", Some(&s.content_type), &what);
                self.expect_header(&r, "Cache-Control", Some("no-store"), &what);
                ensure!(self, r.get("ETag").is_none(), "{what}: an ETag on offset=now");
                self.saw(name, s.len(), r.get(h::STREAM_NEXT_OFFSET), &what);
            }
            56..=77 => {
                let (pos, query) = match self.known_offset(name) {
                    Some((pos, offset)) if self.rng.chance(50) => (pos, format!("offset={offset}")),
                    _ => (0, "offset=-1".to_owned()),
                };
                self.read_through(name, &query, pos);
            }
            78..=81 => {
                self.note(format!("GET {name}?offset={FAR}"));
                let r = self.send(Method::Get, name, &format!("offset={FAR}"), &[], b"");
                // The stream was read, even if the offset was refused.
                self.touch(name, self.w.now.get());
                self.expect_error(&r, 400, "OFFSET_BEYOND_TAIL", &format!("GET {name} beyond the tail"));
            }
            82..=84 => {
                let bad = self.rng.pick(&["abc", "0000000000000000_000000000000000", "-2", "", "1_2"]);
                self.note(format!("GET {name}?offset={bad}"));
                let r = self.send(Method::Get, name, &format!("offset={bad}"), &[], b"");
                self.expect_error(&r, 400, "INVALID_OFFSET", &format!("GET {name}?offset={bad}"));
            }
            _ => self.long_poll(name),
        }
    }

    /// One catch-up read from `from`; returns the end position and whether it reached
    /// the tail.
    pub(super) fn read_page(
        &mut self,
        name: &str,
        query: &str,
        from: usize,
        quiet: bool,
        conditional: bool,
    ) -> (usize, String, bool) {
        // Revalidate what an earlier read from here returned, if there was one.
        let remembered = self.etags.get(&(name.to_owned(), from)).cloned().filter(|_| conditional);
        if !quiet {
            let revalidate = if remembered.is_some() { " (If-None-Match)" } else { "" };
            self.note(format!("GET {name}?{query}{revalidate}"));
        }
        self.counters.pages += 1;
        let headers: Vec<(String, String)> =
            remembered.iter().map(|e| ("If-None-Match".to_owned(), e.etag.clone())).collect();
        let at = self.w.now.get();
        let r = self.send(Method::Get, name, query, &headers, b"");
        self.touch(name, at);
        let what = format!("GET {name}?{query} (from position {from})");
        let s = &self.streams[name];
        let end = self.page_end(s, from);
        let closed = s.closed && end == s.len();
        let unchanged =
            remembered.as_ref().is_some_and(|e| e.stream_id == s.id && e.end == end && e.closed == closed);
        let end = if unchanged {
            self.counters.not_modified += 1;
            self.expect_status(&r, 304, &what);
            ensure!(self, body_bytes(&r).is_empty(), "{what}: a 304 with a body");
            self.expect_header(&r, "ETag", remembered.as_ref().map(|e| e.etag.as_str()), &what);
            self.expect_header(&r, h::STREAM_UP_TO_DATE, (end == s.len()).then_some("true"), &what);
            self.expect_header(&r, h::STREAM_CLOSED, closed.then_some("true"), &what);
            self.saw(name, end, r.get(h::STREAM_NEXT_OFFSET), &what);
            end
        } else {
            let end = self.check_data(name, from, &r, &what);
            self.check_etag(name, from, end, r.get("ETag").unwrap_or_default(), &what);
            end
        };
        let next = r.get(h::STREAM_NEXT_OFFSET).unwrap_or_default().to_owned();
        (end, next, r.get(h::STREAM_UP_TO_DATE).is_some())
    }

    /// An ETag names one incarnation's range and whether it ends the closed stream: the
    /// same read gives the same tag, any other read another.
    pub(super) fn check_etag(&mut self, name: &str, from: usize, end: usize, etag: &str, what: &str) {
        let s = &self.streams[name];
        let seen = Etag { stream_id: s.id, etag: etag.to_owned(), end, closed: s.closed && end == s.len() };
        if let Some(before) = self.etags.get(&(name.to_owned(), from)) {
            let same =
                before.stream_id == seen.stream_id && before.end == seen.end && before.closed == seen.closed;
            ensure!(
                self,
                same == (before.etag == seen.etag),
                "{what}: ETag {} after {} for {before:?} and now {seen:?}",
                seen.etag,
                before.etag
            );
        }
        self.etags.insert((name.to_owned(), from), seen);
    }

    /// Follows `Stream-Next-Offset` until `Stream-Up-To-Date`, checking every page and
    /// that the pages add up to the model's suffix.
    pub(super) fn read_through(&mut self, name: &str, query: &str, from: usize) {
        self.note(format!("GET {name}?{query} and onwards"));
        self.counters.reads += 1;
        let (mut pos, mut next, mut done) = self.read_page(name, query, from, true, false);
        let mut pages = 1;
        while !done {
            ensure!(self, pages < MAX_PAGES, "GET {name}: no end after {pages} pages");
            let conditional = self.rng.chance(10);
            let (end, n, d) = self.read_page(name, &format!("offset={next}"), pos, true, conditional);
            ensure!(self, end > pos, "GET {name}?offset={next}: no progress before the tail");
            (pos, next, done) = (end, n, d);
            pages += 1;
        }
        let len = self.streams[name].len();
        ensure!(self, pos == len, "GET {name}: up to date at {pos}, the model has {len}");
    }

    /// Checks a 200 carrying data of `name` from `from`; returns where it ends.
    pub(super) fn check_data(&mut self, name: &str, from: usize, r: &Reply, what: &str) -> usize {
        self.expect_status(r, 200, what);
        let s = &self.streams[name];
        let len = s.len();
        ensure!(self, from <= len, "{what}: the model reads from {from} beyond {len}");
        self.expect_header(r, "Content-Type", Some(&s.content_type), what);
        let end = self.match_payload(s, from, &body_bytes(r), what);
        self.check_page_size(s, from, end, what);
        let at_tail = end == len;
        self.expect_header(r, h::STREAM_UP_TO_DATE, at_tail.then_some("true"), what);
        self.expect_header(r, h::STREAM_CLOSED, (s.closed && at_tail).then_some("true"), what);
        ensure!(self, r.get("ETag").is_some(), "{what}: no ETag");
        self.saw(name, end, r.get(h::STREAM_NEXT_OFFSET), what);
        end
    }

    /// Pages are as full as the cap allows and never empty before the tail; JSON pages
    /// hold whole messages (at least one), and a text page cut by the cap does not end
    /// inside a UTF-8 character.
    pub(super) fn check_page_size(&self, s: &Stream, from: usize, end: usize, what: &str) {
        let len = s.len();
        if from < len {
            ensure!(self, end > from, "{what}: an empty page before the tail");
        }
        if s.kind == Kind::Json {
            let stored = s.stored(from, end);
            ensure!(
                self,
                stored <= self.cap || end == from + 1,
                "{what}: {stored} bytes exceed the {} cap",
                self.cap
            );
            if end < len {
                let more = s.stored(from, end + 1);
                ensure!(
                    self,
                    more > self.cap,
                    "{what}: the page ends at {end} but {more} bytes would fit the cap"
                );
            }
            return;
        }
        let want = self.page_end(s, from);
        ensure!(self, end == want, "{what}: the page ends at {end}, expected {want} (cap {})", self.cap);
    }

    /// Where a page from `from` ends.
    pub(super) fn page_end(&self, s: &Stream, from: usize) -> usize {
        let len = s.len();
        if s.kind == Kind::Json {
            // Whole messages within the cap, and at least one.
            let mut end = (from + 1).min(len);
            while end < len && s.stored(from, end + 1) <= self.cap {
                end += 1;
            }
            return end;
        }
        let full = (from + self.cap).min(len);
        match s.kind {
            Kind::Text if full < len => match incomplete_char(&s.data[from..full]) {
                n if n < full - from => full - n,
                _ => full,
            },
            _ => full,
        }
    }

    pub(super) fn long_poll(&mut self, name: &str) {
        let s = self.streams[name].clone();
        let (from, query) = match self.rng.below(3) {
            0 => (s.len(), "offset=now&live=long-poll".to_owned()),
            1 => match self.known_offset(name) {
                Some((pos, offset)) => (pos, format!("offset={offset}&live=long-poll")),
                None => (0, "offset=-1&live=long-poll".to_owned()),
            },
            _ => match s.offsets.get(&s.len()) {
                Some(tail) => (s.len(), format!("offset={tail}&live=long-poll")),
                None => (0, "offset=-1&live=long-poll".to_owned()),
            },
        };
        self.note(format!("GET {name}?{query}"));
        let before = self.w.now.get();
        let r = self.send(Method::Get, name, &query, &[], b"");
        // A long-poll counts as a read from the moment it starts.
        self.touch(name, before);
        let what = format!("GET {name}?{query} (from position {from})");
        if from < s.len() {
            self.check_data(name, from, &r, &what);
            ensure!(self, r.get(h::STREAM_CURSOR).is_some(), "{what}: no cursor");
            return;
        }
        self.expect_status(&r, 204, &what);
        self.expect_header(&r, h::STREAM_UP_TO_DATE, Some("true"), &what);
        self.expect_header(&r, h::STREAM_CLOSED, s.closed.then_some("true"), &what);
        ensure!(
            self,
            r.get(h::STREAM_CURSOR).is_some() != s.closed,
            "{what}: cursor on a closed stream, or none"
        );
        let waited = self.w.now.get() - before;
        ensure!(self, (waited > 0) != s.closed, "{what}: waited {waited} ms (closed: {})", s.closed);
        self.saw(name, s.len(), r.get(h::STREAM_NEXT_OFFSET), &what);
    }

    pub(super) fn head(&mut self, name: &str) {
        self.observe(name);
        self.note(format!("HEAD {name}"));
        let r = self.send(Method::Head, name, "", &[], b"");
        self.check_head(name, &r);
    }

    pub(super) fn check_head(&mut self, name: &str, r: &Reply) {
        let what = format!("HEAD {name}");
        if let Some((status, code)) = self.absent(name) {
            return self.expect_error(r, status, code, &what);
        }
        let s = &self.streams[name];
        let (ct, closed, len) = (s.content_type.clone(), s.closed, s.len());
        let (ttl, at) = s.expiry_headers();
        self.expect_status(r, 200, &what);
        self.expect_header(r, "Content-Type", Some(&ct), &what);
        self.expect_header(r, h::STREAM_CLOSED, closed.then_some("true"), &what);
        self.expect_header(r, h::STREAM_TTL, ttl.as_deref(), &what);
        self.expect_header(r, h::STREAM_EXPIRES_AT, at.as_deref(), &what);
        self.expect_header(r, "Cache-Control", Some("no-store"), &what);
        self.saw(name, len, r.get(h::STREAM_NEXT_OFFSET), &what);
    }
}
