//! The streaming command fetch of `cmd_queue_depth > 0` (`docs/architecture.md` section 5):
//! the fetch unit reads the command buffer in bursts of [`timing::FETCH_BURST_CMDS`]
//! commands on its own read port, at most [`timing::FETCH_OUTSTANDING`] bursts in flight,
//! one request per cycle, beats of [`timing::fetch_beat_bytes`] bytes from
//! `bus_latency_cycles` after the request, in order. The beat that completes a command
//! waits while that command's queue is full (head-of-line back-pressure; occupancy at the
//! start of the cycle); the command is in its queue from the next cycle. After the beat
//! that completes `FINISH` no request is issued; the beats of bursts already requested
//! are taken and dropped.
//!
//! [`crate::cycle`] steps it once per cycle, after the engines' start phase.

use arch::timing;
use arch::AccelConfig;

/// The fetch unit's state.
#[derive(Debug, Clone)]
pub(crate) struct Fetch {
    /// Commands in the buffer (`CMD_COUNT`).
    n: u64,
    /// The index of `FINISH` (the first one).
    finish: u64,
    latency: u64,
    beat_bytes: u64,
    /// First command of the next burst to request.
    next_req: u64,
    /// Bursts in flight, oldest first: (cycle from which it may take a beat, its bytes).
    flight: [(u64, u64); timing::FETCH_OUTSTANDING as usize],
    head: usize,
    in_flight: usize,
    /// Bytes of the oldest burst in flight already taken.
    burst_done: u64,
    /// Bytes of the buffer taken so far (command `received / 16` is being assembled).
    received: u64,
    /// `FINISH` has been received.
    stopped: bool,
}

/// What one cycle of the fetch unit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Nothing to report (a request, a beat that completes no command, a latency wait).
    Busy,
    /// The beat completed command `i` (it is in its queue from the next cycle).
    Arrived(u64),
    /// The beat that would complete command `i` waits: its queue is full.
    Blocked(u64),
    /// Nothing in flight and nothing left to request.
    Done,
}

impl Fetch {
    /// The fetch of a buffer of `n` commands whose first `FINISH` is command `finish`.
    pub(crate) fn new(cfg: &AccelConfig, n: u64, finish: u64) -> Self {
        Fetch {
            n,
            finish,
            latency: cfg.bus_latency_cycles as u64,
            beat_bytes: timing::fetch_beat_bytes(cfg),
            next_req: 0,
            flight: [(0, 0); timing::FETCH_OUTSTANDING as usize],
            head: 0,
            in_flight: 0,
            burst_done: 0,
            received: 0,
            stopped: false,
        }
    }

    /// Whether `FINISH` has arrived and no burst is in flight.
    pub(crate) fn done(&self) -> bool {
        self.in_flight == 0 && (self.stopped || self.next_req >= self.n)
    }

    /// Cycle `t`: the request side, then the beat side. `full(i)`: command `i`'s queue is
    /// full at the start of the cycle (asked only for commands before `FINISH`).
    pub(crate) fn step(&mut self, t: u64, full: impl Fn(u64) -> bool) -> Step {
        let slots = self.flight.len();
        if !self.stopped && self.next_req < self.n && self.in_flight < slots {
            let cmds = (self.n - self.next_req).min(timing::FETCH_BURST_CMDS);
            let tail = (self.head + self.in_flight) % slots;
            self.flight[tail] = (t + self.latency, cmds * 16);
            self.in_flight += 1;
            self.next_req += cmds;
        }
        if self.in_flight == 0 {
            return if self.done() { Step::Done } else { Step::Busy };
        }
        let (ready, bytes) = self.flight[self.head];
        if t < ready {
            return Step::Busy;
        }
        let i = self.received / 16;
        let completes = (self.received % 16) + self.beat_bytes >= 16;
        let live = !self.stopped && i <= self.finish;
        if completes && live && i < self.finish && full(i) {
            return Step::Blocked(i);
        }
        self.received += self.beat_bytes;
        self.burst_done += self.beat_bytes;
        if self.burst_done == bytes {
            self.burst_done = 0;
            self.head = (self.head + 1) % slots;
            self.in_flight -= 1;
        }
        if completes && live {
            if i == self.finish {
                self.stopped = true;
            }
            return Step::Arrived(i);
        }
        Step::Busy
    }
}
