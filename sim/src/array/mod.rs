//! Register-level model of the systolic array executing one `COMPUTE` (a core tile), one
//! call of [`CoreJob::step`] per clock cycle, following `docs/architecture.md` section 3:
//! scratchpad reads, skew, operand registers moving right/down (tagged with their vector
//! index, so a mis-timed skew is caught), per-PE multiply-accumulate, drain (OS),
//! de-skew (WS) or row collectors (IS), and the accumulator write-back pipeline. Its
//! cycle count is tested equal to `arch::timing::compute_cycles`; it uses the timing
//! constants, never literals.
//!
//! One module per dataflow ([`os`], [`ws`], [`is`]), each a [`PeArray`]; this module holds
//! what they share: the scratchpad read ports, the write-back pipeline and the counts.

pub mod fast;
pub mod is;
pub mod os;
pub mod ws;

use crate::machine::Machine;
use arch::isa::Compute;
use arch::timing::ACC_PIPE_DEPTH;
use arch::Dataflow;
use std::collections::VecDeque;

/// Scratchpad banks the core uses in one cycle (for conflict arbitration).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CoreAccess {
    pub input_read: Option<usize>,
    pub weight_read: Option<usize>,
    pub acc_read: Option<usize>,
    pub acc_write: Option<usize>,
}

/// Counts of one core tile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CoreCounts {
    pub macs: u64,
    pub input_read_bytes: u64,
    pub weight_read_bytes: u64,
    pub acc_read_bytes: u64,
    pub acc_write_bytes: u64,
}

/// One output line in the write-back pipeline.
struct WriteBack {
    read_cycle: u64,
    write_cycle: u64,
    /// `None`: a line of an array row the command does not use (`i >= m`): it passes the
    /// pipeline with the write enable low.
    line: Option<usize>,
    values: Vec<i32>,
}

/// The state and ports every dataflow's array shares: the command, the cycle, the
/// scratchpad read ports and the accumulator write-back pipeline.
pub struct Core {
    pub cmd: Compute,
    pub rows: usize,
    pub cols: usize,
    /// Cycles elapsed (the current cycle).
    pub t: u64,
    pending: VecDeque<WriteBack>,
    /// Lines that left the write-back pipeline (written or not).
    retired: u64,
    pub counts: CoreCounts,
}

impl Core {
    /// Reads input scratchpad line `line` (port use and bytes counted).
    pub fn read_input(&mut self, m: &Machine, line: usize, acc_: &mut CoreAccess) -> Vec<i8> {
        let r = self.rows;
        acc_.input_read = Some(m.bank(0, line));
        self.counts.input_read_bytes += r as u64;
        m.input[line * r..(line + 1) * r].to_vec()
    }

    /// Reads weight scratchpad line `line` (port use and bytes counted).
    pub fn read_weight(&mut self, m: &Machine, line: usize, acc_: &mut CoreAccess) -> Vec<i8> {
        let c = self.cols;
        acc_.weight_read = Some(m.bank(1, line));
        self.counts.weight_read_bytes += c as u64;
        m.weight[line * c..(line + 1) * c].to_vec()
    }

    /// A line of `cols` sums left the array in cycle `leave`: it enters the write-back
    /// pipeline (old line read in `leave + 1` for `ACCUMULATE`, written at the end of
    /// `leave + ACC_PIPE_DEPTH`). `line = None`: an unused array row (not written).
    pub fn write_line(&mut self, leave: u64, line: Option<usize>, values: Vec<i32>) {
        self.pending.push_back(WriteBack {
            read_cycle: leave + 1,
            write_cycle: leave + ACC_PIPE_DEPTH,
            line,
            values,
        });
    }

    fn write_back(&mut self, m: &mut Machine, acc_: &mut CoreAccess) {
        let cols = self.cols;
        let t = self.t;
        let accumulate = self.cmd.accumulate;
        let mut i = 0;
        while i < self.pending.len() {
            let wb = &self.pending[i];
            if let (true, Some(line)) = (accumulate && wb.read_cycle == t, wb.line) {
                acc_.acc_read = Some(m.bank(2, line));
                self.counts.acc_read_bytes += 4 * cols as u64;
            }
            if wb.write_cycle == t {
                let wb = self.pending.remove(i).expect("index valid");
                if let Some(line) = wb.line {
                    acc_.acc_write = Some(m.bank(2, line));
                    self.counts.acc_write_bytes += 4 * cols as u64;
                    let dst = &mut m.acc[line * cols..(line + 1) * cols];
                    for (d, v) in dst.iter_mut().zip(&wb.values) {
                        *d = if accumulate { d.wrapping_add(*v) } else { *v };
                    }
                }
                self.retired += 1;
            } else {
                i += 1;
            }
        }
    }
}

/// One dataflow's PE array: its registers and what it does in one cycle.
pub trait PeArray: Send {
    /// One clock cycle: scratchpad reads, register moves, MACs, lines into the write-back
    /// pipeline (through [`Core::write_line`]).
    fn step(&mut self, core: &mut Core, m: &Machine, acc_: &mut CoreAccess);
    /// Lines the tile sends through the write-back pipeline in all (the tile is done when
    /// the last one retired).
    fn lines(&self, core: &Core) -> u64;
}

/// The PE array of dataflow `df` for a tile on a `rows x cols` array.
fn pe_array(df: Dataflow, rows: usize, cols: usize) -> Box<dyn PeArray> {
    match df {
        Dataflow::OutputStationary => Box::new(os::OsArray::new(rows, cols)),
        Dataflow::WeightStationary => Box::new(ws::WsArray::new(rows, cols)),
        Dataflow::InputStationary => Box::new(is::IsArray::new(rows, cols)),
    }
}

/// One core tile in progress.
pub struct CoreJob {
    core: Core,
    array: Box<dyn PeArray>,
}

impl CoreJob {
    /// Starts a tile in dataflow `df` (the command was checked against the machine).
    pub fn new(cmd: Compute, df: Dataflow, m: &Machine) -> Self {
        CoreJob {
            core: Core {
                cmd,
                rows: m.rows,
                cols: m.cols,
                t: 0,
                pending: VecDeque::new(),
                retired: 0,
                counts: CoreCounts::default(),
            },
            array: pe_array(df, m.rows, m.cols),
        }
    }

    /// Cycles elapsed so far.
    pub fn elapsed(&self) -> u64 {
        self.core.t
    }

    /// Counts so far (final once the tile is done).
    pub fn counts(&self) -> CoreCounts {
        self.core.counts
    }

    /// Advances one cycle. Returns `(done_at_end_of_this_cycle, accesses)`.
    pub fn step(&mut self, m: &mut Machine) -> (bool, CoreAccess) {
        let mut acc_ = CoreAccess::default();
        self.array.step(&mut self.core, m, &mut acc_);
        self.core.write_back(m, &mut acc_);
        let done =
            self.core.retired == self.array.lines(&self.core) && self.core.pending.is_empty();
        self.core.t += 1;
        (done, acc_)
    }
}
