//! Waiting on several topics at once: a [`WaitSet`] watches [`Trigger`]s (a subscriber's unread
//! messages, or a topic's new ones) and returns the ready ones, the missed deadlines ("this
//! camera must deliver every 100 ms"), or nothing when its timeout passes.
//!
//! One thread, any number of topics (up to [`MAX_WATCHED`]), no polling: after an optional short
//! spin (the adaptive part of spin-then-sleep: only while the previous wait found something, so a
//! busy pipeline gets spin latency and an idle one spins never) it registers as a sleeper on
//! every topic's `notify` word (the protocol of `sleepers.rs`, per topic) and sleeps on all of
//! them in one `futex_waitv` (Linux 5.16+; without it, a 1 ms poll of the words, see
//! `futex::wait_any`). A send that finds a sleeper stamps `woke_ns` in its topic header, so a woken
//! wait knows when its wake was sent ([`Event::at`]: the arrival time event nodes report their
//! wake latency from).
//!
//! Readiness is level-triggered for subscriber triggers (ready while the subscriber's shared
//! cursor is behind the head: a reader that leaves messages unread is woken again at once) and
//! edge-triggered for topic triggers (ready once per batch of new messages). [`WaitSet::settle`]
//! makes a subscriber trigger edge-like until the next message (what the scheduler does before an
//! event node's tick, so a tick that reads nothing does not spin).

use super::handles::{Subscriber, Topic};
use crate::error::RecvError;
use crate::error::TopicError;
use crate::futex::{self, AnyWake, WAIT_ANY_MAX};
use crate::sleepers::{Sleeper, SLEEP_CAP};
use crate::sync::{AtomicU32, Ordering};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use crate::sleepers::DEFAULT_SPIN;

/// Most triggers one wait-set watches (one futex word of the kernel's 128 is the interrupt's).
pub const MAX_WATCHED: usize = WAIT_ANY_MAX - 1;

/// What a [`WaitSet`] watches on one topic: made by [`crate::Subscriber::trigger`] (ready while
/// that subscriber has unread messages) or [`Topic::trigger`] (ready when messages were
/// published since the wait last reported it).
#[derive(Clone)]
pub struct Trigger {
    topic: Topic,
    /// The subscriber entry whose shared cursor tells what is unread.
    sub: Option<usize>,
}

impl Trigger {
    fn new(topic: Topic, sub: Option<usize>) -> Trigger {
        Trigger { topic, sub }
    }

    pub fn topic(&self) -> &Topic {
        &self.topic
    }

    /// True for a subscriber's trigger.
    pub fn is_subscriber(&self) -> bool {
        self.sub.is_some()
    }

    /// Messages published so far (positions `< head` exist).
    #[inline]
    pub fn head(&self) -> u64 {
        // Acquire: pairs with the writer's Release of head.
        self.topic.ring().header().head.load(Ordering::Acquire)
    }

    /// Where the subscriber reads next (None for a topic trigger).
    #[inline]
    pub fn cursor(&self) -> Option<u64> {
        // Relaxed: the subscriber's own store (Release, `advance`) in this or another thread;
        // a stale value costs one early or one more check, never a lost wake (the head decides).
        self.sub.map(|s| self.topic.ring().sub(s).cursor.load(Ordering::Relaxed))
    }

    /// Something newer than `mark` is published and (subscriber trigger) unread.
    #[inline]
    fn pending_after(&self, mark: u64) -> (bool, u64) {
        let h = self.head();
        (h > mark && self.cursor().is_none_or(|c| h > c), h)
    }
}

impl PartialEq for Trigger {
    fn eq(&self, other: &Trigger) -> bool {
        self.sub == other.sub && self.topic.name() == other.topic.name() && self.topic.namespace().dir() == other.topic.namespace().dir()
    }
}

impl std::fmt::Debug for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.sub {
            Some(s) => write!(f, "Trigger({}, subscriber {s})", self.topic.name()),
            None => write!(f, "Trigger({})", self.topic.name()),
        }
    }
}

impl Topic {
    /// A trigger that is ready when a message is published after the wait last reported it
    /// (edge-triggered; for readiness per reader use [`Subscriber::trigger`]).
    pub fn trigger(&self) -> Trigger {
        Trigger::new(self.clone(), None)
    }
}

impl Subscriber {
    /// A [`WaitSet`] trigger that is ready while this subscriber has unread messages.
    pub fn trigger(&mut self) -> Result<Trigger, RecvError> {
        let (sub, topic) = self.entry_here()?;
        Ok(Trigger::new(topic.clone(), Some(sub)))
    }
}

/// What a wait found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// The trigger has messages.
    Ready,
    /// The trigger's topic delivered nothing for its deadline period.
    Deadline,
}

/// One finding of [`WaitSet::wait`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// What [`WaitSet::attach`] returned for the trigger.
    pub key: usize,
    pub kind: EventKind,
    /// Ready: when the message arrived, as well as this process can tell (the send's wake-up
    /// stamp if the wait slept, else when the wait saw it). Deadline: when it was due.
    pub at: Instant,
}

/// Ends a [`WaitSet::wait`] from another thread (the wait returns with no events).
#[derive(Clone, Debug)]
pub struct Interrupter(Arc<AtomicU32>);

impl Interrupter {
    pub fn interrupt(&self) {
        // SeqCst: ordered before the wake with the waiter's read of the word (futex protocol).
        self.0.fetch_add(1, Ordering::SeqCst);
        futex::wake_all(&self.0);
    }
}

struct Item {
    trigger: Trigger,
    /// Ready only for messages at positions `>= mark` (see `settle`; topic triggers move it
    /// to the head each time they are reported).
    mark: u64,
    /// Deadline period, when to report the next missed one, and the head it last saw.
    every: Option<Duration>,
    due: Option<Instant>,
    seen_head: u64,
    removed: bool,
}

/// Waits on several triggers at once. See the module docs.
pub struct WaitSet {
    items: Vec<Item>,
    spin: Duration,
    /// The previous wait found something: spin before sleeping (the pipeline is busy).
    busy: bool,
    interrupt: Arc<AtomicU32>,
    /// The interrupt count the last interrupted wait consumed: a wait ends at once while the
    /// word differs (an interrupt between two waits ends the next one: none is lost).
    irq_seen: u32,
    interrupted: bool,
    events: Vec<Event>,
}

impl Default for WaitSet {
    fn default() -> Self {
        WaitSet::new()
    }
}

impl std::fmt::Debug for WaitSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.items.iter().filter(|i| !i.removed).map(|i| &i.trigger)).finish()
    }
}

impl WaitSet {
    pub fn new() -> WaitSet {
        WaitSet { items: Vec::new(), spin: DEFAULT_SPIN, busy: false, interrupt: Arc::new(AtomicU32::new(0)), irq_seen: 0, interrupted: false, events: Vec::new() }
    }

    /// Watch `trigger`; returns its key (the index events name).
    pub fn attach(&mut self, trigger: Trigger) -> Result<usize, TopicError> {
        self.attach_item(trigger, None)
    }

    /// Watch `trigger` and report an [`EventKind::Deadline`] whenever its topic publishes
    /// nothing for `every` (once per silent period, counted from the last message seen or
    /// from now).
    pub fn attach_deadline(&mut self, trigger: Trigger, every: Duration) -> Result<usize, TopicError> {
        self.attach_item(trigger, Some(every))
    }

    fn attach_item(&mut self, trigger: Trigger, every: Option<Duration>) -> Result<usize, TopicError> {
        if self.len() >= MAX_WATCHED {
            return Err(TopicError::TooManyWatched { topic: trigger.topic.name().to_string(), limit: MAX_WATCHED });
        }
        let head = trigger.head();
        let mark = if trigger.is_subscriber() { 0 } else { head };
        let due = every.map(|e| Instant::now() + e);
        self.items.push(Item { trigger, mark, every, due, seen_head: head, removed: false });
        Ok(self.items.len() - 1)
    }

    /// Stop watching everything (keys start from 0 again; the interrupter stays valid).
    pub fn clear(&mut self) {
        self.items.clear();
    }

    /// Stop watching `key` (keys of the others stay valid).
    pub fn detach(&mut self, key: usize) {
        if let Some(i) = self.items.get_mut(key) {
            i.removed = true;
        }
    }

    /// The trigger behind `key`.
    pub fn trigger(&self, key: usize) -> Option<&Trigger> {
        self.items.get(key).filter(|i| !i.removed).map(|i| &i.trigger)
    }

    /// Triggers watched.
    pub fn len(&self) -> usize {
        self.items.iter().filter(|i| !i.removed).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How long a wait spins before sleeping while the pipeline is busy (default
    /// [`DEFAULT_SPIN`]; zero: always sleep at once).
    pub fn set_spin(&mut self, spin: Duration) {
        self.spin = spin;
    }

    /// Treat what `key`'s topic has published so far as seen: it is ready again only for a
    /// newer message. Returns that head.
    pub fn settle(&mut self, key: usize) -> u64 {
        let Some(i) = self.items.get_mut(key) else { return 0 };
        let h = i.trigger.head();
        i.mark = h;
        h
    }

    /// The last wait ended because of [`Interrupter::interrupt`].
    pub fn was_interrupted(&self) -> bool {
        self.interrupted
    }

    /// A handle that ends a wait in progress from another thread (or the next wait, when
    /// none is in progress).
    pub fn interrupter(&self) -> Interrupter {
        Interrupter(self.interrupt.clone())
    }

    /// Look at every trigger once: push what is ready or overdue.
    fn poll(&mut self, now: Instant) {
        for (key, it) in self.items.iter_mut().enumerate() {
            if it.removed {
                continue;
            }
            let (ready, head) = it.trigger.pending_after(it.mark);
            if head != it.seen_head {
                it.seen_head = head;
                it.due = it.every.map(|e| now + e);
            }
            if ready {
                if !it.trigger.is_subscriber() {
                    it.mark = head;
                }
                self.events.push(Event { key, kind: EventKind::Ready, at: now });
            } else if let (Some(due), Some(every)) = (it.due, it.every) {
                if now >= due {
                    it.due = Some(now + every);
                    self.events.push(Event { key, kind: EventKind::Deadline, at: due });
                }
            }
        }
    }

    /// The earliest pending deadline, if any.
    fn next_due(&self) -> Option<Instant> {
        self.items.iter().filter(|i| !i.removed).filter_map(|i| i.due).min()
    }

    /// Wait until a trigger is ready or a deadline passes, at most `timeout` (or until
    /// [`Interrupter::interrupt`]). Returns the events, oldest key first; empty on a timeout or
    /// an interrupt ([`WaitSet::was_interrupted`] tells them apart).
    pub fn wait(&mut self, timeout: Duration) -> &[Event] {
        self.events.clear();
        self.interrupted = false;
        let start = Instant::now();
        let end = start.checked_add(timeout).unwrap_or(start + Duration::from_secs(86400 * 365));
        let irq0 = self.irq_seen;
        self.poll(start);
        if self.events.is_empty() && self.busy && !self.spin.is_zero() {
            let mut n = 0u32;
            while start.elapsed() < self.spin && Instant::now() < end {
                self.poll(Instant::now());
                if !self.events.is_empty() {
                    break;
                }
                n = n.wrapping_add(1);
                if n.is_multiple_of(64) {
                    std::thread::yield_now(); // one core for two processes: let the sender run
                } else {
                    std::hint::spin_loop();
                }
            }
        }
        if self.events.is_empty() {
            self.sleep(end, irq0);
        }
        self.busy = !self.events.is_empty();
        &self.events
    }

    /// The sleeping part of `wait`: register on every topic, re-check, sleep on all words.
    fn sleep(&mut self, end: Instant, irq0: u32) {
        // This process's handles (a fork child registers under its own bit, see `Topic::here`).
        let topics: Vec<Option<Topic>> =
            self.items.iter().map(|i| (!i.removed).then(|| i.trigger.topic.here().map(Cow::into_owned).unwrap_or_else(|_| i.trigger.topic.clone()))).collect();
        let sleepers: Vec<Option<Sleeper<'_>>> = topics.iter().map(|t| t.as_ref().map(|t| t.ring().receiver_sleeper(t.namespace()))).collect();
        let interrupt = self.interrupt.clone();
        let mut words: Vec<(&AtomicU32, u32)> = Vec::with_capacity(sleepers.len() + 1);
        loop {
            words.clear();
            // Protocol in `sleepers.rs`, per topic: arm (A, S) ...
            for s in sleepers.iter().flatten() {
                words.push((s.word(), s.arm()));
            }
            // SeqCst: read before the check, compared by the kernel when it sleeps.
            let irq = interrupt.load(Ordering::SeqCst);
            words.push((&interrupt, irq));
            let now = Instant::now();
            // ... check the condition ...
            self.poll(now);
            if irq != irq0 {
                self.irq_seen = irq;
                self.interrupted = self.events.is_empty();
                return;
            }
            if !self.events.is_empty() {
                return;
            }
            // ... R for each (a waker cleared our bit: arm again), then W over all words.
            if !sleepers.iter().flatten().all(Sleeper::armed) {
                continue;
            }
            let until = self.next_due().map_or(end, |d| d.min(end));
            if now >= until {
                return;
            }
            let slept_ns = futex::monotonic_ns();
            let woke = futex::wait_any(&words, (until - now).min(SLEEP_CAP));
            let now = Instant::now();
            self.poll(now);
            if !self.events.is_empty() {
                if matches!(woke, AnyWake::Woken(_) | AnyWake::Changed | AnyWake::Other) {
                    // The arrival of a message that woke us: its send's wake stamp.
                    let now_ns = futex::monotonic_ns();
                    for e in self.events.iter_mut().filter(|e| e.kind == EventKind::Ready) {
                        // Relaxed: a statistic (see `sleepers::wake_slow`).
                        let t = self.items[e.key].trigger.topic.ring().header().woke_ns.load(Ordering::Relaxed);
                        if t >= slept_ns && t <= now_ns {
                            e.at = now.checked_sub(Duration::from_nanos(now_ns - t)).unwrap_or(now);
                        }
                    }
                }
                return;
            }
        }
    }
}
