//! SSE readers and long-polls left waiting across operations.

use super::*;

impl Run {
    /// GET with `live=sse`, connecting a reader that is then checked after every step.
    pub(super) fn subscribe(&mut self, name: &str) {
        self.observe(name);
        let (from, query) = match (self.live(name).map(Stream::len), self.rng.below(3)) {
            (Some(len), 0) => (len, "offset=now&live=sse".to_owned()),
            (Some(_), 1) => match self.known_offset(name) {
                Some((pos, offset)) => (pos, format!("offset={offset}&live=sse")),
                None => (0, "offset=-1&live=sse".to_owned()),
            },
            _ => (0, "offset=-1&live=sse".to_owned()),
        };
        self.note(format!("GET {name}?{query}"));
        let what = format!("GET {name}?{query}");
        let Some(s) = self.live(name) else {
            let r = self.send(Method::Get, name, &query, &[], b"");
            let (status, code) = self.absent(name).unwrap();
            return self.expect_error(&r, status, code, &what);
        };
        let stream_id = s.id;
        // Keep a few readers: each is pumped on every change of its stream.
        self.readers.retain(|r| r.sub.closed.get().is_none());
        if self.readers.len() >= 4 {
            self.readers.remove(0);
        }
        self.counters.requests += 1;
        let sub = World::subscribe(&self.w, name, &query);
        self.touch(name, self.w.now.get());
        self.readers.push(Reader {
            stream: name.to_owned(),
            stream_id,
            sub,
            pos: from,
            seen: 0,
            told_closed: false,
        });
    }

    /// Checks what each SSE reader was sent since the last check: data events that
    /// continue the model's content exactly, control events that name the same offsets
    /// as reads do, and the end of the response when the stream closes or goes.
    pub(super) fn check_readers(&mut self) {
        let mut readers = std::mem::take(&mut self.readers);
        for reader in &mut readers {
            self.check_reader(reader);
        }
        readers.retain(|r| r.sub.closed.get().is_none());
        self.readers = readers;
    }

    pub(super) fn check_reader(&mut self, reader: &mut Reader) {
        let name = reader.stream.clone();
        let what = format!("SSE reader of {name} (incarnation {})", reader.stream_id);
        let current = self.streams.get(&name).filter(|s| s.id == reader.stream_id && !s.gone).cloned();
        let chunks: Vec<String> = reader.sub.sent.borrow()[reader.seen..].to_vec();
        reader.seen += chunks.len();
        let Some(s) = current else {
            ensure!(
                self,
                reader.sub.closed.get() == Some(1000),
                "{what}: the stream went but the reader is open"
            );
            return;
        };
        for chunk in chunks {
            ensure!(self, !reader.told_closed, "{what}: sent {chunk:?} after the closing control event");
            let events: Vec<&str> = chunk.split_terminator("\n\n").collect();
            let (data, control) = match events.as_slice() {
                [control] => (None, *control),
                [data, control] => (Some(*data), *control),
                _ => self.fail(format!("{what}: chunk is not data then control: {chunk:?}")),
            };
            let mut data_id = None;
            if let Some(data) = data {
                let mut lines = data.split('\n');
                ensure!(self, lines.next() == Some("event: data"), "{what}: bad data event {data:?}");
                data_id = lines.next().and_then(|l| l.strip_prefix("id:"));
                ensure!(self, data_id.is_some(), "{what}: data event without its id {data:?}");
                let payload: Vec<&str> =
                    // As SSE clients read a field: one space after the colon is dropped.
                    lines
                        .map(|l| l.strip_prefix("data:").map_or("<missing data:>", |v| v.strip_prefix(' ').unwrap_or(v)))
                        .collect();
                let payload = payload.join("\n").into_bytes();
                let payload = if s.kind == Kind::Binary {
                    use base64::Engine as _;
                    let decoded = base64::engine::general_purpose::STANDARD.decode(&payload);
                    decoded.unwrap_or_else(|e| self.fail(format!("{what}: bad base64 {e}")))
                } else {
                    payload
                };
                let end = if s.kind == Kind::Text {
                    // Text that is not UTF-8 (a sub-offset may slice a character) reaches
                    // SSE readers as replacement characters.
                    let end = self.page_end(&s, reader.pos);
                    let expected = String::from_utf8_lossy(&s.data[reader.pos..end]);
                    ensure!(
                        self,
                        payload == expected.as_bytes(),
                        "{what}: data {:?} from position {}, the model has {:?}",
                        show(&payload),
                        reader.pos,
                        show(expected.as_bytes())
                    );
                    end
                } else {
                    self.match_payload(&s, reader.pos, &payload, &what)
                };
                self.check_page_size(&s, reader.pos, end, &what);
                reader.pos = end;
            }
            let mut fields = control.splitn(3, '\n');
            let (event, json, id) =
                (fields.next(), fields.next(), fields.next().and_then(|l| l.strip_prefix("id:")));
            let json = json
                .and_then(|l| l.strip_prefix("data:"))
                .filter(|_| event == Some("event: control"))
                .unwrap_or_else(|| self.fail(format!("{what}: bad control event {control:?}")));
            let c: serde_json::Value =
                serde_json::from_str(json).unwrap_or_else(|e| self.fail(format!("{what}: {e}")));
            let at_tail = reader.pos == s.len();
            let closed = s.closed && at_tail;
            ensure!(
                self,
                c["upToDate"].as_bool().unwrap_or(false) == at_tail,
                "{what}: upToDate wrong in {json}"
            );
            ensure!(
                self,
                c["streamClosed"].as_bool().unwrap_or(false) == closed,
                "{what}: streamClosed wrong in {json}"
            );
            ensure!(self, c.get("streamCursor").is_some() != closed, "{what}: streamCursor wrong in {json}");
            // Both events carry the offset after them as their id, for Last-Event-ID.
            let next = c["streamNextOffset"].as_str();
            ensure!(self, id.is_some() && id == next, "{what}: control id {id:?}, next offset {next:?}");
            ensure!(
                self,
                data_id.is_none() || data_id == next,
                "{what}: data id {data_id:?}, next offset {next:?}"
            );
            self.saw(&name, reader.pos, next, &what);
            reader.told_closed = closed;
        }
        ensure!(
            self,
            reader.pos == s.len(),
            "{what}: at {} after the pump, the stream holds {}",
            reader.pos,
            s.len()
        );
        ensure!(self, reader.seen > 0, "{what}: nothing sent, not even a control event");
        let ended = reader.sub.closed.get();
        ensure!(
            self,
            ended == s.closed.then_some(1000),
            "{what}: closed with {ended:?}, stream closed: {}",
            s.closed
        );
    }

    /// Checks that `payload` (a read's body) is the model's content from `from`, and
    /// returns where it ends.
    pub(super) fn match_payload(&self, s: &Stream, from: usize, payload: &[u8], what: &str) -> usize {
        let len = s.len();
        let end = if s.kind == Kind::Json {
            // The number of whole messages the body holds, found by its length.
            let mut n = 0;
            let mut size = 2;
            while size < payload.len() && from + n < len {
                size += s.msgs[from + n].len() + usize::from(n > 0);
                n += 1;
            }
            from + n
        } else {
            (from + payload.len()).min(len)
        };
        let expected = s.body(from, end);
        ensure!(
            self,
            payload == expected.as_slice(),
            "{what}: data {:?} from position {from}, the model has {:?}",
            show(payload),
            show(&expected)
        );
        end
    }

    /// Polls a parked long-poll once, with sleeps held so that it can only be woken by a
    /// change of its stream.
    pub(super) fn poll_parked(&self, p: &mut Parked) -> std::task::Poll<Reply> {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        self.w.hold_sleeps.set(true);
        let poll = p.reply.as_mut().poll(&mut cx);
        self.w.hold_sleeps.set(false);
        poll
    }

    /// GET with `live=long-poll` at the tail of an open stream, left waiting.
    pub(super) fn park(&mut self, name: &str) {
        self.observe(name);
        let tail =
            self.live(name).filter(|s| !s.closed).map(|s| (s.id, s.len(), s.offsets.get(&s.len()).cloned()));
        let Some((stream_id, len, offset)) = tail else { return self.read(name) };
        if self.parked.iter().any(|p| p.stream == name) {
            return self.long_poll(name);
        }
        let query = match offset {
            Some(o) if self.rng.chance(70) => format!("offset={o}&live=long-poll"),
            _ => "offset=now&live=long-poll".to_owned(),
        };
        self.note(format!("GET {name}?{query}, left waiting"));
        self.counters.requests += 1;
        let since = self.w.now.get();
        let reply = World::start(&self.w, Method::Get, name, &query);
        let mut p = Parked { stream: name.to_owned(), stream_id, from: len, since, query, reply };
        self.touch(name, since);
        if let std::task::Poll::Ready(r) = self.poll_parked(&mut p) {
            self.fail(format!("GET {name}?{}: answered {} at once at the tail", p.query, r.status));
        }
        self.parked.push(p);
    }

    /// Polls every parked long-poll: it must answer as soon as its stream has data after
    /// its offset, closes, or goes, and otherwise keep waiting.
    pub(super) fn check_parked(&mut self) {
        let mut parked = std::mem::take(&mut self.parked);
        parked.retain_mut(|p| {
            let poll = self.poll_parked(p);
            let what =
                format!("GET {}?{} (waiting since {} ms ago)", p.stream, p.query, self.w.now.get() - p.since);
            let current = self.streams.get(&p.stream).filter(|s| s.id == p.stream_id).cloned();
            let std::task::Poll::Ready(r) = poll else {
                let waits = current.as_ref().is_some_and(|s| !s.gone && !s.closed && s.len() == p.from);
                ensure!(self, waits, "{what}: still waiting after its stream changed");
                return true;
            };
            self.note(format!("{what} -> {}", r.status));
            *self.counters.woken.entry(r.status).or_default() += 1;
            match current {
                Some(s) if s.gone => self.expect_error(&r, 410, "STREAM_GONE", &what),
                None => self.expect_error(&r, 404, "STREAM_NOT_FOUND", &what),
                Some(s) if s.len() > p.from => {
                    let name = p.stream.clone();
                    self.check_data(&name, p.from, &r, &what);
                    ensure!(self, r.get(h::STREAM_CURSOR).is_some(), "{what}: no cursor");
                }
                Some(s) => {
                    // Woken without data: closed, or past its deadline by then.
                    let (closed, len) = (s.closed, s.len());
                    let late = self.w.now.get() - p.since >= 250;
                    ensure!(self, closed || late, "{what}: answered {} with nothing new", r.status);
                    self.expect_status(&r, 204, &what);
                    self.expect_header(&r, h::STREAM_CLOSED, closed.then_some("true"), &what);
                    let name = p.stream.clone();
                    self.saw(&name, len, r.get(h::STREAM_NEXT_OFFSET), &what);
                }
            }
            false
        });
        self.parked = parked;
    }
}
