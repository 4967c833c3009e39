//! One subscription's state and every decision about it (§6, §7): which streams it links
//! and how far each is acknowledged, when a wake is issued, who holds the lease, when a
//! failed webhook is retried, and which callbacks are fenced. Time and randomness come
//! in as arguments, so the whole life of a subscription runs on a virtual clock in tests.
//!
//! The object that owns a subscription calls these methods and carries out the
//! [`Effect`]s they return: delivering a webhook, appending a wake event, and setting its
//! alarm to [`Subscription::next_alarm`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::config::{Delivery, SubscriptionConfig};
use super::retry;
use crate::protocol::{ErrorCode, ProtocolError};

/// The offset of a stream that has nothing yet.
pub const ZERO_OFFSET: &str = "0000000000000000_0000000000000000";

/// The longest a webhook delivery may take before it counts as failed.
pub const DELIVERY_TIMEOUT_MS: u64 = 10_000;

/// One linked stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// Added through `streams[]`.
    pub explicit: bool,
    /// Matched by the pattern.
    pub glob: bool,
    /// The last offset processed, inclusive.
    pub acked: String,
    /// The stream's tail as last reported by its object.
    pub tail: String,
}

impl Link {
    fn pending(&self) -> bool {
        self.tail > self.acked
    }
}

/// The wake in flight.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wake {
    /// Unique per wake.
    pub id: String,
    /// The tails when it was issued: what a `{"done":true}` acknowledges.
    pub snapshot: BTreeMap<String, String>,
    /// The stream whose append caused it.
    pub stream: String,
    /// The worker holding the lease (pull-wake), once claimed.
    pub holder: Option<String>,
    /// When the lease ends, if one is running.
    pub lease_until_ms: Option<i64>,
}

/// A failed webhook delivery waiting for its next attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retry {
    /// Failed attempts so far.
    pub attempts: u32,
    /// When the next attempt is due.
    pub next_attempt_at_ms: i64,
}

/// What the owner must do after a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// POST the current wake to the webhook.
    Deliver {
        /// The wake to deliver.
        wake_id: String,
    },
    /// Append this event to the wake stream.
    WriteWake {
        /// The wake stream's root-relative path.
        wake_stream: String,
        /// The event (§7.2).
        event: serde_json::Value,
    },
}

/// Fresh randomness for one operation, drawn by the owner.
#[derive(Clone, Debug)]
pub struct Fresh {
    /// The id a new wake would get.
    pub wake_id: String,
    /// A uniform number in `[-1, 1]` for retry jitter.
    pub jitter: f64,
}

/// How a webhook delivery went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// 2xx with `{"done":true}`: the snapshot is acknowledged.
    Done,
    /// 2xx otherwise: the receiver calls back later.
    Accepted,
    /// No answer in time, a network error, or not 2xx.
    Failed,
}

/// A callback, ack or release body (§7.1, §7.2).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct WakeReport {
    /// The wake it is for.
    #[serde(default)]
    pub wake_id: Option<String>,
    /// The generation it is for.
    #[serde(default)]
    pub generation: Option<u64>,
    /// Offsets processed.
    #[serde(default)]
    pub acks: Vec<Ack>,
    /// Whether the worker is finished with this wake.
    #[serde(default)]
    pub done: bool,
}

/// One stream's processed offset.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Ack {
    /// The stream (`path` is accepted too).
    #[serde(alias = "path")]
    pub stream: String,
    /// The last offset processed, inclusive.
    pub offset: String,
}

/// What a successful claim hands the worker (its token is issued by the owner).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claimed {
    /// The wake.
    pub wake_id: String,
    /// Its generation.
    pub generation: u64,
}

/// One subscription.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    /// The client's id.
    pub id: String,
    /// The configuration.
    pub config: SubscriptionConfig,
    /// Its hash, for re-confirmation.
    pub config_hash: String,
    /// Creation time (ms).
    pub created_at_ms: i64,
    /// The stream root's absolute URL, without a trailing `/` (for callback URLs).
    pub root_url: String,
    /// Linked streams by root-relative path.
    pub links: BTreeMap<String, Link>,
    /// The fencing counter: one more for every wake.
    pub generation: u64,
    /// The wake in flight, if any.
    pub wake: Option<Wake>,
    /// A scheduled webhook retry, if the last delivery failed.
    pub retry: Option<Retry>,
}

impl Subscription {
    /// A new subscription, linking nothing yet: its owner links the existing streams it
    /// wants with [`Self::backfill`].
    pub fn new(id: String, config: SubscriptionConfig, root_url: String, now_ms: i64) -> Self {
        Self {
            id,
            config_hash: config.hash(),
            created_at_ms: now_ms,
            root_url,
            links: BTreeMap::new(),
            generation: 0,
            wake: None,
            retry: None,
            config,
        }
    }

    /// `active`, or `failed` while a webhook retry is scheduled (§6.3).
    pub fn status(&self) -> &'static str {
        if self.retry.is_some() {
            "failed"
        } else {
            "active"
        }
    }

    /// Whether any linked stream has data past its cursor.
    pub fn pending(&self) -> bool {
        self.links.values().any(Link::pending)
    }

    /// Whether `path` belongs to this subscription: by pattern or explicitly. Its own
    /// wake stream never does, or every wake would cause the next.
    pub fn wants(&self, path: &str) -> bool {
        self.config.wake_stream() != Some(path)
            && (self.config.pattern_matches(path) || self.config.streams.iter().any(|s| s == path))
    }

    /// Links `path` (if not linked yet) at `tail`, with nothing pending.
    fn link(&mut self, path: &str, tail: &str, explicit: bool) {
        let glob = self.config.pattern_matches(path);
        let link = self.links.entry(path.to_owned()).or_insert_with(|| Link {
            explicit: false,
            glob: false,
            acked: tail.to_owned(),
            tail: tail.to_owned(),
        });
        link.explicit |= explicit;
        link.glob |= glob;
        if tail > link.tail.as_str() {
            link.tail = tail.to_owned();
        }
    }

    /// Existing streams found for this subscription, linked at their tails, so that
    /// creating it (or adding a stream to it) does not replay history (§6.2, §6.4).
    /// Explicit streams not found do not exist yet: they are linked with nothing
    /// acknowledged, and all their data will be new. Links already made stay as they are.
    pub fn backfill(&mut self, found: &[(String, String)]) {
        for (path, tail) in found {
            if self.wants(path) {
                let explicit = self.config.streams.iter().any(|s| s == path);
                self.link(path, tail, explicit);
            }
        }
        for path in self.config.streams.clone() {
            if self.wants(&path) {
                self.link(&path, ZERO_OFFSET, true);
            }
        }
    }

    /// Adds explicit streams (§6.4); the owner then looks up the tails of those that
    /// exist and passes them to [`Self::backfill`].
    pub fn add_explicit(&mut self, paths: &[String]) {
        for path in paths {
            if !self.config.streams.contains(path) {
                self.config.streams.push(path.clone());
            }
            if let Some(link) = self.links.get_mut(path) {
                link.explicit = true;
            }
        }
        self.config.streams.sort();
    }

    /// Removes an explicit link (§6.4); a glob link of the same stream stays.
    pub fn remove_explicit(&mut self, path: &str) {
        self.config.streams.retain(|s| s != path);
        if let Some(link) = self.links.get_mut(path) {
            link.explicit = false;
            if !link.glob {
                self.links.remove(path);
            }
        }
    }

    /// A stream's object reports its tail after an append; `created_at` is the stream's
    /// first offset when the report is about a stream just created, whose data is all
    /// new. Returns whether the stream is (still) linked, and what to do.
    pub fn on_append(
        &mut self,
        path: &str,
        tail: &str,
        created_at: Option<&str>,
        now_ms: i64,
        fresh: &Fresh,
    ) -> (bool, Vec<Effect>) {
        if !self.wants(path) && !self.links.contains_key(path) {
            return (false, Vec::new());
        }
        if !self.links.contains_key(path) {
            // A stream first seen through an append is linked before that append when it
            // was just created; otherwise (the append raced the subscription's creation)
            // at the tail it reports.
            let explicit = self.config.streams.iter().any(|s| s == path);
            self.link(path, created_at.unwrap_or(tail), explicit);
        }
        if let Some(link) = self.links.get_mut(path) {
            if tail > link.tail.as_str() {
                link.tail = tail.to_owned();
            }
        }
        (true, self.maybe_wake(path, now_ms, fresh))
    }

    /// A linked stream was deleted: a link by pattern goes (the stream, created again,
    /// is linked again from its first byte); an explicit link stays, with nothing
    /// acknowledged, for the stream created again. Returns whether the stream is still
    /// linked.
    pub fn on_deleted(&mut self, path: &str) -> bool {
        let Some(link) = self.links.get_mut(path) else { return false };
        if link.explicit {
            link.glob = false;
            link.acked = ZERO_OFFSET.to_owned();
            link.tail = ZERO_OFFSET.to_owned();
            return true;
        }
        self.links.remove(path);
        false
    }

    /// Issues a wake if there is pending work and none is in flight (§7).
    fn maybe_wake(&mut self, stream: &str, now_ms: i64, fresh: &Fresh) -> Vec<Effect> {
        if self.wake.is_some() || !self.pending() {
            return Vec::new();
        }
        self.generation += 1;
        let snapshot = self.links.iter().map(|(p, l)| (p.clone(), l.tail.clone())).collect();
        let stream = if self.links.get(stream).is_some_and(Link::pending) {
            stream.to_owned()
        } else {
            self.links.iter().find(|(_, l)| l.pending()).map(|(p, _)| p.clone()).unwrap_or_default()
        };
        let mut wake =
            Wake { id: fresh.wake_id.clone(), snapshot, stream, holder: None, lease_until_ms: None };
        let effect = match &self.config.delivery {
            Delivery::Webhook { .. } => {
                // A webhook's lease runs from the wake (§7.3).
                wake.lease_until_ms = Some(now_ms + self.config.lease_ttl_ms as i64);
                Effect::Deliver { wake_id: wake.id.clone() }
            }
            Delivery::PullWake { wake_stream } => Effect::WriteWake {
                wake_stream: wake_stream.clone(),
                event: serde_json::json!({
                    "type": "wake",
                    "subscription_id": self.id,
                    "stream": wake.stream,
                    "generation": self.generation,
                    "ts": now_ms,
                }),
            },
        };
        self.wake = Some(wake);
        vec![effect]
    }

    /// Ends the wake in flight and issues the next if work is pending.
    fn finish_wake(&mut self, now_ms: i64, fresh: &Fresh) -> Vec<Effect> {
        let stream = self.wake.take().map(|w| w.stream).unwrap_or_default();
        self.retry = None;
        self.maybe_wake(&stream, now_ms, fresh)
    }

    /// Records how a delivery of wake `wake_id` went.
    pub fn delivered(
        &mut self,
        wake_id: &str,
        outcome: DeliveryOutcome,
        now_ms: i64,
        fresh: &Fresh,
    ) -> Vec<Effect> {
        if self.wake.as_ref().map(|w| w.id.as_str()) != Some(wake_id) {
            return Vec::new(); // fenced meanwhile: the answer is about an old wake
        }
        match outcome {
            DeliveryOutcome::Done => {
                let snapshot = self.wake.as_ref().map(|w| w.snapshot.clone()).unwrap_or_default();
                for (path, tail) in snapshot {
                    if let Some(link) = self.links.get_mut(&path) {
                        if tail > link.acked {
                            link.acked = tail;
                        }
                    }
                }
                self.finish_wake(now_ms, fresh)
            }
            DeliveryOutcome::Accepted => {
                self.retry = None;
                self.extend_lease(now_ms);
                Vec::new()
            }
            DeliveryOutcome::Failed => {
                let attempts = self.retry.as_ref().map_or(0, |r| r.attempts) + 1;
                let delay = retry::delay_ms(attempts, fresh.jitter) as i64;
                self.retry = Some(Retry { attempts, next_attempt_at_ms: now_ms + delay });
                Vec::new()
            }
        }
    }

    fn extend_lease(&mut self, now_ms: i64) {
        let until = now_ms + self.config.lease_ttl_ms as i64;
        if let Some(wake) = &mut self.wake {
            wake.lease_until_ms = Some(until);
        }
    }

    /// The subject tokens of this subscription name.
    pub fn token_subject(&self, project: &str) -> String {
        format!("{project}/{}", self.id)
    }

    /// A pull-wake worker's claim (§7.2).
    pub fn claim(&mut self, worker: &str, now_ms: i64, fresh: &Fresh) -> Result<Claimed, ProtocolError> {
        if !matches!(self.config.delivery, Delivery::PullWake { .. }) {
            return Err(ProtocolError::new(
                ErrorCode::InvalidSubscription,
                "only pull-wake subscriptions are claimed",
            ));
        }
        self.expire_lease(now_ms, fresh);
        if let Some(holder) = self.wake.as_ref().and_then(|w| w.holder.clone()) {
            return Err(ProtocolError::AlreadyClaimed { holder, generation: self.generation });
        }
        if self.wake.is_none() {
            if !self.pending() {
                return Err(ProtocolError::new(
                    ErrorCode::NoPendingWork,
                    "no linked stream has unacknowledged data",
                ));
            }
            // The claimer is here already: the wake needs no event.
            self.maybe_wake("", now_ms, fresh);
        }
        let until = now_ms + self.config.lease_ttl_ms as i64;
        let wake = self.wake.as_mut().ok_or_else(|| ProtocolError::internal("no wake after issuing one"))?;
        wake.holder = Some(worker.to_owned());
        wake.lease_until_ms = Some(until);
        Ok(Claimed { wake_id: wake.id.clone(), generation: self.generation })
    }

    /// Fencing (§7.3): once a lease that ran out is ended, the token's generation and
    /// wake, and the report's, must be the current ones.
    fn check_fence(
        &mut self,
        token_generation: u64,
        token_wake: &str,
        report: &WakeReport,
        now_ms: i64,
        fresh: &Fresh,
    ) -> Result<(), ProtocolError> {
        self.expire_lease(now_ms, fresh);
        let current = self.wake.as_ref().map(|w| w.id.as_str());
        let is_current = current == Some(token_wake)
            && token_generation == self.generation
            && report.generation == Some(self.generation)
            && report.wake_id.as_deref() == current;
        if is_current {
            Ok(())
        } else {
            Err(ProtocolError::new(ErrorCode::Fenced, "the wake generation is stale"))
        }
    }

    /// A webhook callback or a pull-wake ack (§7.1, §7.2): applies the acks; with `done`
    /// ends the wake, otherwise extends the lease. Returns whether a next wake was issued.
    pub fn report(
        &mut self,
        token_generation: u64,
        token_wake: &str,
        report: &WakeReport,
        now_ms: i64,
        fresh: &Fresh,
    ) -> Result<(bool, Vec<Effect>), ProtocolError> {
        self.check_fence(token_generation, token_wake, report, now_ms, fresh)?;
        for ack in &report.acks {
            let link = self.links.get(ack.stream.trim_matches('/')).ok_or_else(|| {
                ProtocolError::new(
                    ErrorCode::InvalidAck,
                    format!("{} is not linked to this subscription", ack.stream),
                )
            })?;
            if ack.offset.parse::<crate::protocol::Offset>().is_err() {
                return Err(ProtocolError::new(
                    ErrorCode::InvalidAck,
                    "an ack offset must be a stream offset",
                ));
            }
            if ack.offset < link.acked {
                return Err(ProtocolError::new(ErrorCode::InvalidAck, "an ack must not move a cursor back"));
            }
            if ack.offset > link.tail {
                return Err(ProtocolError::new(
                    ErrorCode::InvalidAck,
                    "an ack offset is beyond the stream's tail",
                ));
            }
        }
        for ack in &report.acks {
            if let Some(link) = self.links.get_mut(ack.stream.trim_matches('/')) {
                link.acked = ack.offset.clone();
            }
        }
        if !report.done {
            self.extend_lease(now_ms);
            return Ok((false, Vec::new()));
        }
        let effects = self.finish_wake(now_ms, fresh);
        Ok((self.wake.is_some(), effects))
    }

    /// A pull-wake worker gives its wake up without finishing it (§7.2).
    pub fn release(
        &mut self,
        token_generation: u64,
        token_wake: &str,
        report: &WakeReport,
        now_ms: i64,
        fresh: &Fresh,
    ) -> Result<Vec<Effect>, ProtocolError> {
        self.check_fence(token_generation, token_wake, report, now_ms, fresh)?;
        Ok(self.finish_wake(now_ms, fresh))
    }

    /// Ends a lease that ran out (§7.3). While a webhook retry is scheduled the retry
    /// decides, so backoff is not cut short.
    fn expire_lease(&mut self, now_ms: i64, fresh: &Fresh) -> Vec<Effect> {
        let expired = self.wake.as_ref().and_then(|w| w.lease_until_ms).is_some_and(|until| until <= now_ms);
        if expired && self.retry.is_none() {
            return self.finish_wake(now_ms, fresh);
        }
        Vec::new()
    }

    /// The owner's alarm went off: a retry that is due, a lease that ran out.
    pub fn on_alarm(&mut self, now_ms: i64, fresh: &Fresh) -> Vec<Effect> {
        if let Some(retry) = &mut self.retry {
            if retry.next_attempt_at_ms <= now_ms {
                // Until this attempt reports back, the next alarm is its time limit.
                retry.next_attempt_at_ms = now_ms + DELIVERY_TIMEOUT_MS as i64 * 2;
                let until = now_ms + self.config.lease_ttl_ms as i64;
                if let Some(wake) = &mut self.wake {
                    wake.lease_until_ms = Some(until);
                    return vec![Effect::Deliver { wake_id: wake.id.clone() }];
                }
                self.retry = None;
            }
            return Vec::new();
        }
        self.expire_lease(now_ms, fresh)
    }

    /// When the owner's alarm must next go off.
    pub fn next_alarm(&self) -> Option<i64> {
        match &self.retry {
            Some(r) => Some(r.next_attempt_at_ms),
            None => self.wake.as_ref().and_then(|w| w.lease_until_ms),
        }
    }

    /// Every link as reported to workers.
    pub fn stream_infos(&self) -> Vec<serde_json::Value> {
        self.links
            .iter()
            .map(|(path, l)| {
                serde_json::json!({
                    "path": path,
                    "link_type": if l.explicit { "explicit" } else { "glob" },
                    "acked_offset": l.acked,
                    "tail_offset": l.tail,
                    "has_pending": l.pending(),
                })
            })
            .collect()
    }

    /// The URL of one of this subscription's actions.
    pub fn action_url(&self, action: &str) -> String {
        let id = crate::protocol::percent::encode_path(&self.id);
        format!("{}/__ds/subscriptions/{id}/{action}", self.root_url)
    }
}

#[cfg(test)]
mod tests;
