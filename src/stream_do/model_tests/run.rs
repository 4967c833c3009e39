//! One run: its state, how it checks replies, and how it picks the next operation.

use super::*;

pub(super) fn show(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    let mut out: String = s.chars().take(40).collect::<String>().escape_debug().to_string();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out
}

pub(super) fn body_bytes(r: &Reply) -> Vec<u8> {
    match &r.body {
        Body::Bytes(b) => b.clone(),
        _ => Vec::new(),
    }
}

pub(super) fn error_code(r: &Reply) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(&body_bytes(r)).ok()?;
    v["error"]["code"].as_str().map(str::to_owned)
}

/// How many bytes at the end of `bytes` are the start of a UTF-8 character that does not
/// end there (0 if none).
pub(super) fn incomplete_char(bytes: &[u8]) -> usize {
    (1..=bytes.len().min(3))
        .find(|k| {
            std::str::from_utf8(&bytes[bytes.len() - k..])
                .is_err_and(|e| e.valid_up_to() == 0 && e.error_len().is_none())
        })
        .unwrap_or(0)
}

pub(super) fn well_formed(offset: &str) -> bool {
    let b = offset.as_bytes();
    b.len() == 33 && b[16] == b'_' && b.iter().enumerate().all(|(i, c)| i == 16 || c.is_ascii_digit())
}

// ---------------------------------------------------------------------------------------
// The run

/// What an append should do, decided by the model.
pub(super) enum AppendOutcome {
    Fail(u16, &'static str),
    /// A retry: nothing written; the reply names this length and producer state.
    Duplicate {
        tail: usize,
        closed: bool,
        epoch: u64,
        seq: u64,
    },
    /// Closing a closed stream again: 204, nothing changes.
    AlreadyClosed,
    Written,
}

#[derive(Default, Debug)]
pub(super) struct Counters {
    pub(super) requests: usize,
    pub(super) statuses: BTreeMap<u16, usize>,
    pub(super) reads: usize,
    pub(super) pages: usize,
    pub(super) forks: usize,
    pub(super) duplicates: usize,
    pub(super) written: usize,
    pub(super) purges: usize,
    pub(super) expired: usize,
    pub(super) not_modified: usize,
    /// Parked long-polls answered, by status.
    pub(super) woken: BTreeMap<u16, usize>,
    pub(super) codes: BTreeMap<String, usize>,
}

/// A long-poll left waiting at a stream's tail while other operations run.
pub(super) struct Parked {
    pub(super) stream: String,
    pub(super) stream_id: u64,
    pub(super) from: usize,
    pub(super) since: i64,
    pub(super) query: String,
    pub(super) reply: futures_util::future::LocalBoxFuture<'static, Reply>,
}

/// What a read returned, for revalidating it later.
#[derive(Clone, Debug)]
pub(super) struct Etag {
    pub(super) stream_id: u64,
    pub(super) etag: String,
    pub(super) end: usize,
    pub(super) closed: bool,
}

/// An SSE reader attached to one stream incarnation.
pub(super) struct Reader {
    pub(super) stream: String,
    pub(super) stream_id: u64,
    pub(super) sub: Rc<FakeSubscriber>,
    /// The model position it has received up to.
    pub(super) pos: usize,
    /// Chunks already checked.
    pub(super) seen: usize,
    /// Whether it was told the stream is closed.
    pub(super) told_closed: bool,
}

pub(super) struct Run {
    pub(super) label: &'static str,
    pub(super) seed: u64,
    pub(super) cap: usize,
    pub(super) w: Rc<World>,
    pub(super) rng: Rng,
    pub(super) streams: HashMap<String, Stream>,
    pub(super) next_id: u64,
    /// Expected registry events: `(stream, inserted)`.
    pub(super) registry: Vec<(String, bool)>,
    pub(super) readers: Vec<Reader>,
    pub(super) parked: Vec<Parked>,
    /// The last ETag seen for a read of a stream name from a position.
    pub(super) etags: HashMap<(String, usize), Etag>,
    pub(super) step: usize,
    pub(super) history: Vec<String>,
    pub(super) counters: Counters,
}

impl Run {
    pub(super) fn new(label: &'static str, config: Config, seed: u64) -> Self {
        let cap = config.max_chunk_bytes;
        Run {
            label,
            seed,
            cap,
            w: World::with(config),
            rng: Rng(seed),
            streams: HashMap::new(),
            next_id: 0,
            registry: Vec::new(),
            readers: Vec::new(),
            parked: Vec::new(),
            etags: HashMap::new(),
            step: 0,
            history: Vec::new(),
            counters: Counters::default(),
        }
    }

    pub(super) fn fail(&self, message: String) -> ! {
        let start = self.history.len().saturating_sub(HISTORY);
        let history = self.history[start..].join("\n  ");
        panic!(
            "model check failed: {message}\n  configuration {}, seed {}, step {}\n  \
             reproduce: MODEL_SEED={} MODEL_OPS={} cargo test -p durable-streams-cloudflare --lib model_{}\n  last operations:\n  {history}",
            self.label,
            self.seed,
            self.step,
            self.seed,
            self.step + 1,
            self.label,
        );
    }

    pub(super) fn note(&mut self, line: String) {
        self.history.push(format!("#{} {line}", self.step));
        if self.history.len() > 4 * HISTORY {
            self.history.drain(..2 * HISTORY);
        }
    }

    pub(super) fn send(
        &mut self,
        method: Method,
        name: &str,
        query: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Reply {
        let hs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let r = World::send(&self.w, method, name, query, &hs, body);
        self.counters.requests += 1;
        if let Some(last) = self.history.last_mut() {
            last.push_str(&format!(" -> {}", r.status));
        }
        *self.counters.statuses.entry(r.status).or_default() += 1;
        r
    }

    pub(super) fn live(&self, name: &str) -> Option<&Stream> {
        self.streams.get(name).filter(|s| !s.gone)
    }

    /// The 404 or 410 a stream that is not live answers, if it is not.
    pub(super) fn absent(&self, name: &str) -> Option<(u16, &'static str)> {
        match self.streams.get(name) {
            None => Some((404, "STREAM_NOT_FOUND")),
            Some(s) if s.gone => Some((410, "STREAM_GONE")),
            Some(_) => None,
        }
    }

    pub(super) fn expect_error(&mut self, r: &Reply, status: u16, code: &str, what: &str) {
        *self.counters.codes.entry(code.to_owned()).or_default() += 1;
        ensure!(
            self,
            r.status == status,
            "{what}: expected {status} {code}, got {} {:?}",
            r.status,
            show(&body_bytes(r))
        );
        let got = error_code(r);
        ensure!(self, got.as_deref() == Some(code), "{what}: expected error code {code}, got {got:?}");
    }

    pub(super) fn expect_status(&self, r: &Reply, status: u16, what: &str) {
        ensure!(
            self,
            r.status == status,
            "{what}: expected {status}, got {} {:?}",
            r.status,
            show(&body_bytes(r))
        );
    }

    pub(super) fn expect_header(&self, r: &Reply, name: &str, value: Option<&str>, what: &str) {
        ensure!(self, r.get(name) == value, "{what}: header {name} is {:?}, expected {value:?}", r.get(name));
    }

    /// Records that `name` returned `offset` for position `pos`, checking it against every
    /// offset the stream returned before.
    pub(super) fn saw(&mut self, name: &str, pos: usize, offset: Option<&str>, what: &str) {
        let Some(offset) = offset else { self.fail(format!("{what}: no Stream-Next-Offset")) };
        ensure!(self, well_formed(offset), "{what}: malformed offset {offset:?}");
        let s = &self.streams[name];
        if let Some(prev) = s.offsets.get(&pos) {
            ensure!(self, prev == offset, "{what}: position {pos} was {prev}, now {offset}");
        }
        if let Some(p) = s.positions.get(offset) {
            ensure!(self, *p == pos, "{what}: offset {offset} named position {p}, now {pos}");
        }
        if let Some((p, o)) = s.offsets.range(..pos).next_back() {
            ensure!(self, o.as_str() < offset, "{what}: offset {offset} at {pos} sorts before {o} at {p}");
        }
        if let Some((p, o)) = s.offsets.range(pos + 1..).next() {
            ensure!(self, offset < o.as_str(), "{what}: offset {offset} at {pos} sorts after {o} at {p}");
        }
        let s = self.streams.get_mut(name).unwrap();
        s.offsets.insert(pos, offset.to_owned());
        s.positions.insert(offset.to_owned(), pos);
    }

    /// A random offset `name` is known to accept, with its position.
    pub(super) fn known_offset(&mut self, name: &str) -> Option<(usize, String)> {
        let known = self.streams.get(name)?.known();
        if known.is_empty() {
            return None;
        }
        let i = self.rng.below(known.len());
        Some(known[i].clone())
    }

    /// Lazy expiry, as every request that gets past its header checks applies it: a
    /// stream past its deadline is deleted (retained if forks read from it).
    pub(super) fn observe(&mut self, name: &str) {
        let now = self.w.now.get();
        let Some(s) = self.streams.get_mut(name).filter(|s| !s.gone) else { return };
        if s.deadline().is_none_or(|d| now < d) {
            return;
        }
        self.counters.expired += 1;
        self.registry.push((name.to_owned(), false));
        if s.forks > 0 {
            s.gone = true;
        } else {
            self.purge(name);
        }
    }

    /// A read or write of a live stream pushes a sliding TTL back.
    pub(super) fn touch(&mut self, name: &str, at: i64) {
        if let Some(s) = self.streams.get_mut(name).filter(|s| !s.gone) {
            if matches!(s.expiry, Expiry::Ttl(_)) {
                s.touched_at = at;
            }
        }
    }

    pub(super) fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub(super) fn step(&mut self) {
        // Mostly small steps; now and then a jump that outlasts short TTLs.
        let advance = if self.rng.chance(2) { 1500 } else { self.rng.pick(&[0, 0, 1, 7, 50, 150]) };
        self.w.now.set(self.w.now.get() + advance);
        let op = self.rng.below(100);
        // Most operations go where they can succeed; the rest probe missing and
        // retained streams.
        let name = match op {
            0..=10 | 81..=94 => self.pick_name(|s| s.is_none(), 70),
            11..=42 | 69..=73 => self.pick_name(|s| s.is_some_and(|s| !s.gone && !s.closed), 85),
            _ => self.pick_name(|s| s.is_some_and(|s| !s.gone), 85),
        };
        match op {
            0..=10 => self.create(&name),
            11..=42 => {
                if self.live(&name).is_some_and(|s| s.len() > LARGE) && self.rng.chance(50) {
                    self.delete(&name)
                } else {
                    self.append(&name, false)
                }
            }
            43..=61 => self.read(&name),
            62..=64 => self.park(&name),
            65..=68 => self.head(&name),
            69..=73 => self.append(&name, true),
            74..=80 => self.delete(&name),
            81..=94 => self.fork(&name),
            95..=96 => self.subscribe(&name),
            97 => self.run_alarms(),
            _ => self.odd(&name),
        }
        self.check_readers();
        self.check_parked();
        if self.step % 10 == 9 {
            self.sweep(self.step % 50 == 49);
        }
    }

    /// A stream name: with probability `percent`, one whose model state passes `wanted`
    /// (if there is any); otherwise any.
    pub(super) fn pick_name(&mut self, wanted: impl Fn(Option<&Stream>) -> bool, percent: usize) -> String {
        let fitting: Vec<&str> = NAMES.iter().copied().filter(|n| wanted(self.streams.get(*n))).collect();
        if !fitting.is_empty() && self.rng.chance(percent) {
            self.rng.pick(&fitting).to_string()
        } else {
            self.rng.pick(&NAMES).to_string()
        }
    }

    /// Runs the expiry alarms that are due, as the platform would.
    pub(super) fn run_alarms(&mut self) {
        let now = self.w.now.get();
        let mut due: Vec<String> = {
            let mut alarms = self.w.alarms.borrow_mut();
            let (due, later): (Vec<_>, Vec<_>) = alarms.drain(..).partition(|(_, at)| *at <= now);
            *alarms = later;
            // Alarms are recorded by object key; the model speaks of default-project ids.
            due.into_iter().map(|(key, _)| key.strip_prefix("_default/").unwrap_or(&key).to_owned()).collect()
        };
        due.sort();
        due.dedup();
        self.note(format!("alarms of {due:?}"));
        for id in due {
            self.observe(&id);
            World::alarm(&self.w, &id);
        }
    }

    /// Requests the service must refuse before looking at the stream.
    pub(super) fn odd(&mut self, name: &str) {
        match self.rng.below(3) {
            0 => {
                self.note(format!("GET {name}?live=long-poll (no offset)"));
                let r = self.send(Method::Get, name, "live=long-poll", &[], b"");
                self.expect_error(
                    &r,
                    400,
                    "OFFSET_REQUIRED",
                    &format!("GET {name} long-poll without offset"),
                );
            }
            1 => {
                self.note(format!("PUT {name} with a sub-offset but no source"));
                let headers = [(h::STREAM_FORK_SUB_OFFSET.to_owned(), "1".to_owned())];
                let r = self.send(Method::Put, name, "", &headers, b"");
                self.expect_error(&r, 400, "FORK_HEADERS_WITHOUT_SOURCE", &format!("PUT {name}"));
            }
            _ => {
                self.note(format!("POST {name} with half the producer headers"));
                let headers = [
                    ("Content-Type".to_owned(), "text/plain".to_owned()),
                    (h::PRODUCER_ID.to_owned(), "pa".to_owned()),
                    (h::PRODUCER_SEQ.to_owned(), "0".to_owned()),
                ];
                let r = self.send(Method::Post, name, "", &headers, b"x");
                self.expect_error(&r, 400, "INCOMPLETE_PRODUCER_HEADERS", &format!("POST {name}"));
            }
        }
    }

    /// Checks every stream name: HEAD, no segment objects left by purged streams, and
    /// with `full` a complete read of every live stream.
    pub(super) fn sweep(&mut self, full: bool) {
        self.note(format!("sweep{}", if full { " with full reads" } else { "" }));
        for name in NAMES {
            self.observe(name);
            let r = self.send(Method::Head, name, "", &[], b"");
            self.check_head(name, &r);
            if !self.streams.contains_key(name) {
                let prefix = crate::store::segment::object_prefix(&key_of(name), 0);
                let prefix = prefix.strip_suffix("0/").unwrap();
                let left = self.w.bucket.objects.borrow().keys().filter(|k| k.starts_with(prefix)).count();
                ensure!(self, left == 0, "{name} was purged but {left} segment objects remain");
            }
            if full && self.live(name).is_some() {
                self.read_through(name, "offset=-1", 0);
            }
        }
    }

    /// The registry must hold one event per creation and deletion, in order.
    pub(super) fn check_registry(&mut self) {
        let mut events: Vec<(String, bool)> = Vec::new();
        let mut offset = "-1".to_owned();
        loop {
            let r = self.send(
                Method::Get,
                crate::protocol::path::REGISTRY_ID,
                &format!("offset={offset}"),
                &[],
                b"",
            );
            self.expect_status(&r, 200, "GET the registry");
            let page: Vec<serde_json::Value> = serde_json::from_slice(&body_bytes(&r)).unwrap();
            for e in page {
                let key = e["key"].as_str().unwrap_or_default().to_owned();
                events.push((key, e["headers"]["operation"] == "insert"));
            }
            offset = r.get(h::STREAM_NEXT_OFFSET).unwrap().to_owned();
            if r.get(h::STREAM_UP_TO_DATE).is_some() {
                break;
            }
        }
        if events != self.registry {
            let at = events.iter().zip(&self.registry).position(|(a, b)| a != b);
            self.fail(format!(
                "registry differs from the model at event {at:?}: {} events, the model has {}",
                events.len(),
                self.registry.len()
            ));
        }
    }
}
