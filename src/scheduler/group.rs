//! The scheduling loop: a [`Group`] of nodes ticked by one thread (the caller of `run` for
//! the plain nodes, a thread of its own for each `compute` node).
//!
//! Timing: every node has an absolute release time `next`; after a tick `next += period`, so
//! rates do not drift with tick durations. The loop sleeps until the earliest release
//! ([`sleep_until`]: `thread::sleep` with 1 ns timer slack, then a final spin of at most the
//! spin window), ticks every node that is due, and checks the stop flag, the end time and
//! `keep_going` (about every 20 ms) in between.
//!
//! Misses and errors: a tick that finishes after `release + deadline` (deadline defaults to one
//! period) is a deadline miss; a tick longer than its budget is a budget miss; [`OnMiss`]
//! decides what follows. Tick errors and panics are counted and logged (`log::warn!`,
//! rate-limited by [`log_limited`]).

use super::stats::{Stats, TickRecord};
use crate::node::{set_budget_end, Context, Node, NodeConfig, OnMiss};
use crate::stop::StopHandle;
use std::time::{Duration, Instant};

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
}

/// Nodes ticked by one thread.
pub(super) struct Group<'a> {
    slots: Vec<Slot<'a>>,
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
        let slots = entries
            .into_iter()
            .map(|e| {
                let period = period_of(e.config.rate_hz.unwrap_or(default_rate));
                let ctx = Context::new(e.node.name().to_string(), stop.clone());
                Slot { e, period, next: now, active: true, inited: false, ctx, warned: 0 }
            })
            .collect();
        Group { slots, spin, stop, end }
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
            let Some(earliest) = self.slots.iter().filter(|s| s.active).map(|s| s.next).min() else { break };
            if earliest > now {
                let mut target = earliest.min(now + Duration::from_millis(20));
                if let Some(e) = self.end {
                    target = target.min(e);
                }
                sleep_until(target, self.spin);
                continue;
            }
            for i in 0..self.slots.len() {
                if self.slots[i].active && self.slots[i].next <= Instant::now() {
                    self.tick(i);
                }
            }
        }
        for s in &mut self.slots {
            finish(s);
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
        let errors = s.e.stats.record(&TickRecord { start, duration: dur, deadline_miss, budget_miss, error: error.as_deref() });
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
        if s.period.is_zero() {
            s.next = end;
        } else {
            s.next = release + s.period;
            if deadline_miss || budget_miss {
                s.warned += 1;
                match cfg.on_miss {
                    OnMiss::Warn => {
                        if log_limited(s.warned) {
                            let what = if deadline_miss { "deadline" } else { "budget" };
                            log::warn!("node {}: {what} miss #{} (tick took {dur:?})", s.ctx.name, s.warned);
                        }
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
                    OnMiss::Stop => {
                        log::warn!("node {}: stopped after a miss (on_miss = stop)", s.ctx.name);
                        s.ctx.stop_node = true;
                    }
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
