//! The scheduling loop: a [`Group`] of nodes ticked by one thread (the caller of `run` for
//! the plain nodes, a thread of its own for each `compute` node).
//!
//! Timing: every node has an absolute release time `next`; after a tick `next += period`, so
//! rates do not drift with tick durations. The loop sleeps until the earliest release
//! ([`sleep_until`]: `thread::sleep` with 1 ns timer slack, then a final spin of at most the
//! spin window), ticks every node that is due, and checks the stop flag, the end time and
//! `keep_going` (about every 20 ms) in between.
//!
//! Event nodes ([`NodeConfig::on`]): the group watches every trigger of its event nodes in one
//! [`WaitSet`]; instead of sleeping until the next release it waits on the set (until that
//! release, less the spin window, or 20 ms), ticks the event nodes whose triggers fired (their
//! release time is the arrival of the waking message, so the wake latency and a `deadline` count
//! from it), then the rate nodes that are due. A trigger is settled before its node's tick:
//! messages the tick leaves unread do not wake the node again, a newer one does.
//!
//! Misses and errors: a tick that finishes after `release + deadline` (deadline defaults to one
//! period; an event node has none unless set) is a deadline miss; a tick longer than its budget is a budget miss; [`OnMiss`]
//! decides what follows. Tick errors and panics are counted and logged (`log::warn!`,
//! rate-limited by [`log_limited`]).

use super::stats::{Stats, TickRecord};
use crate::node::{set_budget_end, Context, Node, NodeConfig, OnMiss};
use crate::stop::StopHandle;
use std::time::{Duration, Instant};
use tensorbus_pool::{EventKind, WaitSet};

/// A node as the scheduler holds it.
pub(super) struct Entry {
    pub(super) node: Box<dyn Node>,
    pub(super) config: NodeConfig,
    pub(super) stats: Stats,
}

/// A node while its group runs.
struct Slot<'a> {
    e: &'a mut Entry,
    period: Duration,
    next: Instant,
    active: bool,
    inited: bool,
    ctx: Context,
    warned: u64,
    /// Event node: the wait-set key of each trigger (empty for a rate node).
    keys: Vec<usize>,
    /// Event node: triggers that fired (indices into `keys`) and the earliest arrival.
    fired: Vec<usize>,
    arrival: Option<Instant>,
    /// Why the node cannot run at all (its triggers could not be watched).
    failed: Option<String>,
}

/// Nodes ticked by one thread.
pub(super) struct Group<'a> {
    slots: Vec<Slot<'a>>,
    /// Every trigger of the event nodes; `owner[key]` is (slot, trigger index).
    waits: WaitSet,
    owner: Vec<(usize, usize)>,
    spin: Duration,
    stop: StopHandle,
    end: Option<Instant>,
}

/// The period of a rate (zero for an infinite rate: as fast as possible).
pub(super) fn period_of(hz: f64) -> Duration {
    if hz.is_infinite() {
        Duration::ZERO
    } else {
        Duration::from_secs_f64(1.0 / hz)
    }
}

/// Log the 1st to 5th occurrence, then the 8th, 16th, 32nd, ...
fn log_limited(count: u64) -> bool {
    count <= 5 || count.is_power_of_two()
}

impl<'a> Group<'a> {
    pub(super) fn new(entries: Vec<&'a mut Entry>, default_rate: f64, spin: Duration, stop: StopHandle, end: Option<Instant>) -> Group<'a> {
        let now = Instant::now();
        let mut waits = WaitSet::new();
        waits.set_spin(spin);
        let mut owner = Vec::new();
        let slots = entries
            .into_iter()
            .enumerate()
            .map(|(i, e)| {
                let period = if e.config.is_event() { Duration::ZERO } else { period_of(e.config.rate_hz.unwrap_or(default_rate)) };
                let ctx = Context::new(e.node.name().to_string(), stop.clone());
                let mut keys = Vec::new();
                let mut failed = None;
                for (j, t) in e.config.triggers.iter().enumerate() {
                    match waits.attach(t.clone()) {
                        Ok(k) => {
                            keys.push(k);
                            owner.push((i, j));
                        }
                        Err(err) if failed.is_none() => {
                            // More triggers in this thread's group than one wait-set watches.
                            failed = Some(format!("{err}; give the node `compute` (a thread of its own)"));
                        }
                        Err(_) => {}
                    }
                }
                if failed.is_some() {
                    for &k in &keys {
                        waits.detach(k);
                    }
                }
                Slot { e, period, next: now, active: true, inited: false, ctx, warned: 0, keys, fired: Vec::new(), arrival: None, failed }
            })
            .collect();
        Group { slots, waits, owner, spin, stop, end }
    }

    /// Wait on the event nodes' triggers for at most `d`; note what fired in their slots.
    fn wait_events(&mut self, d: Duration) {
        let events: Vec<_> = self.waits.wait(d).iter().filter(|e| e.kind == EventKind::Ready).map(|e| (e.key, e.at)).collect();
        for (key, at) in events {
            let (i, j) = self.owner[key];
            let s = &mut self.slots[i];
            if !s.active {
                // Stopped (init failure, policy): its unread messages must not keep waking us.
                self.waits.detach(key);
                continue;
            }
            s.fired.push(j);
            s.arrival = Some(s.arrival.map_or(at, |a| a.min(at)));
        }
    }

    /// Init every node, tick until stopped, the end time, or every node stopped; then shut
    /// every initialized node down.
    pub(super) fn run(&mut self, keep_going: &mut dyn FnMut() -> bool) {
        #[cfg(target_os = "linux")]
        // SAFETY: prctl(PR_SET_TIMERSLACK) only changes this thread's timer slack.
        unsafe {
            libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
        }
        for s in &mut self.slots {
            s.e.stats.start_run();
            if let Some(why) = &s.failed {
                log::error!("node {}: {why}; node stopped", s.ctx.name);
                let mut g = s.e.stats.lock();
                g.errors += 1;
                g.last_error = Some(why.clone());
                g.stopped = true;
                g.running = false;
                s.active = false;
                continue;
            }
            set_budget_end(None);
            match s.e.node.init(&mut s.ctx) {
                Ok(()) => s.inited = true,
                Err(e) => {
                    log::error!("node {}: init failed: {e}; node stopped", s.ctx.name);
                    let mut g = s.e.stats.lock();
                    g.errors += 1;
                    g.last_error = Some(format!("init: {e}"));
                    g.stopped = true;
                    g.running = false;
                    s.active = false;
                }
            }
        }
        let t0 = Instant::now();
        for s in &mut self.slots {
            s.next = t0;
        }
        let mut last_poll = t0;
        loop {
            let now = Instant::now();
            if self.stop.is_stopped() || self.end.is_some_and(|e| now >= e) {
                break;
            }
            if now.duration_since(last_poll) >= Duration::from_millis(20) {
                last_poll = now;
                if !keep_going() {
                    self.stop.stop();
                    break;
                }
            }
            let rate_next = self.slots.iter().filter(|s| s.active && s.keys.is_empty()).map(|s| s.next).min();
            let events = self.slots.iter().any(|s| s.active && !s.keys.is_empty());
            if events {
                // Wait on the triggers until the next release (less the spin window, spun
                // below), the end, or the 20 ms poll.
                let mut target = now + Duration::from_millis(20);
                if let Some(e) = self.end {
                    target = target.min(e);
                }
                let by_rate = rate_next.is_some_and(|r| r <= target);
                if let Some(r) = rate_next {
                    target = target.min(r);
                }
                let wait_until = if by_rate { target.checked_sub(self.spin).unwrap_or(now).max(now) } else { target };
                self.wait_events(wait_until - now);
                let mut ticked = false;
                for i in 0..self.slots.len() {
                    if self.slots[i].active && !self.slots[i].fired.is_empty() {
                        self.tick_event(i);
                        ticked = true;
                    }
                }
                if by_rate && !ticked {
                    sleep_until(target, self.spin);
                }
            } else {
                let Some(earliest) = rate_next else { break };
                if earliest > now {
                    let mut target = earliest.min(now + Duration::from_millis(20));
                    if let Some(e) = self.end {
                        target = target.min(e);
                    }
                    sleep_until(target, self.spin);
                    continue;
                }
            }
            for i in 0..self.slots.len() {
                if self.slots[i].active && self.slots[i].keys.is_empty() && self.slots[i].next <= Instant::now() {
                    self.tick(i);
                }
            }
        }
        for s in &mut self.slots {
            finish(s);
        }
    }

    /// Tick event node `i` for the triggers that fired: settle them first (see the module
    /// docs), its release time is the earliest arrival.
    fn tick_event(&mut self, i: usize) {
        let s = &mut self.slots[i];
        s.fired.sort_unstable();
        s.fired.dedup();
        for &j in &s.fired {
            self.waits.settle(s.keys[j]);
        }
        s.ctx.ready = std::mem::take(&mut s.fired);
        s.next = s.arrival.take().unwrap_or_else(Instant::now);
        self.tick(i);
        let s = &mut self.slots[i];
        s.ctx.ready.clear();
        if !s.active {
            for &k in &s.keys {
                self.waits.detach(k);
            }
        }
    }

    fn tick(&mut self, i: usize) {
        let s = &mut self.slots[i];
        let cfg = &s.e.config;
        let release = s.next;
        let deadline_at = match cfg.deadline {
            Some(d) => Some(release + d),
            None if !s.period.is_zero() => Some(release + s.period),
            None => None,
        };
        let start = Instant::now();
        let wake = start.saturating_duration_since(release);
        let budget_end = cfg.budget.map(|b| start + b).or(deadline_at);
        s.ctx.release = release;
        s.ctx.budget_end = budget_end;
        set_budget_end(budget_end);
        let node = &mut s.e.node;
        let ctx = &mut s.ctx;
        let r = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| node.tick(ctx))) {
            Ok(r) => r,
            Err(p) => {
                let msg = p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_else(|| "panic".into());
                s.ctx.stop_node = true;
                Err(format!("tick panicked: {msg}; node stopped").into())
            }
        };
        let end = Instant::now();
        set_budget_end(None);
        s.ctx.ticks += 1;
        let dur = end - start;
        let deadline_miss = deadline_at.is_some_and(|d| end > d);
        let budget_miss = cfg.budget.is_some_and(|b| dur > b);
        let error = r.as_ref().err().map(|e| e.to_string());
        let errors = s.e.stats.record(&TickRecord { start, wake, duration: dur, deadline_miss, budget_miss, error: error.as_deref() });
        if let Some(e) = &error {
            if log_limited(errors) {
                log::warn!("node {}: tick error (#{errors}): {e}", s.ctx.name);
            }
            if cfg.stop_on_error {
                log::warn!("node {}: stopped after a tick error (stop_on_error)", s.ctx.name);
                s.ctx.stop_node = true;
            }
        }
        // Schedule the next release.
        let missed = deadline_miss || budget_miss;
        if missed {
            s.warned += 1;
        }
        let log_miss = |s: &Slot<'_>| {
            if log_limited(s.warned) {
                let what = if deadline_miss { "deadline" } else { "budget" };
                log::warn!("node {}: {what} miss #{} (tick took {dur:?})", s.ctx.name, s.warned);
            }
        };
        if missed && cfg.on_miss == OnMiss::Stop {
            log::warn!("node {}: stopped after a miss (on_miss = stop)", s.ctx.name);
            s.ctx.stop_node = true;
        } else if !s.keys.is_empty() {
            // An event node: its next release is the next arrival; `skip` has no periods to
            // skip (messages it left unread do not wake it again anyway): counted, not logged.
            if missed && cfg.on_miss == OnMiss::Warn {
                log_miss(s);
            }
        } else if s.period.is_zero() {
            s.next = end;
        } else {
            s.next = release + s.period;
            if missed {
                match cfg.on_miss {
                    OnMiss::Warn => {
                        log_miss(s);
                        if end > s.next + s.period * 10 {
                            s.next = end;
                        }
                    }
                    OnMiss::Skip => {
                        if s.next <= end {
                            let behind = (end - s.next).as_nanos() / s.period.as_nanos();
                            s.next += s.period * (behind as u32 + 1);
                        }
                    }
                    OnMiss::Stop => {}
                }
            }
        }
        if s.ctx.stop_node {
            finish(s);
            s.e.stats.lock().stopped = true;
        }
    }
}

/// Run the node's shutdown once (if it was initialized) and mark it inactive.
fn finish(s: &mut Slot<'_>) {
    if s.inited {
        s.inited = false;
        set_budget_end(None);
        if let Err(e) = s.e.node.shutdown(&mut s.ctx) {
            log::error!("node {}: shutdown failed: {e}", s.ctx.name);
            let mut g = s.e.stats.lock();
            g.errors += 1;
            g.last_error = Some(format!("shutdown: {e}"));
        }
    }
    s.active = false;
    s.e.stats.lock().running = false;
}

/// Sleep until `t`: a kernel sleep to within `spin` of it, then a spin.
fn sleep_until(t: Instant, spin: Duration) {
    loop {
        let now = Instant::now();
        if now >= t {
            return;
        }
        let left = t - now;
        if left > spin {
            std::thread::sleep(left - spin);
            if spin.is_zero() {
                return;
            }
        } else {
            std::hint::spin_loop();
        }
    }
}
