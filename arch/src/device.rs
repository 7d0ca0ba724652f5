//! [`Device`]: how a driver talks to an accelerator (registers, device-visible memory, a
//! command buffer, counters), implemented by the simulator (`sim::SimDevice`) and, later,
//! by the RTL harness, so the two are interchangeable. Register map: `docs/architecture.md`
//! section 7.

use crate::config::{AccelConfig, MainMemory};
use crate::im2col::{self, Window};
use crate::isa::{self, Op, Scratchpad, VMode, VSet, COMMAND_BYTES, PARAM_RECORD_BYTES};
use crate::tables::EnergyTable;
use serde::{Deserialize, Serialize};

/// Register offsets (bytes).
pub mod reg {
    pub const ID: u32 = 0x00;
    pub const CTRL: u32 = 0x04;
    pub const STATUS: u32 = 0x08;
    pub const CMD_BASE: u32 = 0x0C;
    pub const CMD_COUNT: u32 = 0x10;
    pub const ERR_INDEX: u32 = 0x14;
    /// First counter; counter `i` is at `COUNTERS + 8*i` (low word) and `+4` (high word).
    pub const COUNTERS: u32 = 0x40;
    /// Value of the `ID` register.
    pub const ID_VALUE: u32 = 0x7A1A_0001;
    /// `CTRL` bits.
    pub const CTRL_START: u32 = 1;
    pub const CTRL_CLEAR_COUNTERS: u32 = 2;
    /// `STATUS` bits.
    pub const STATUS_BUSY: u32 = 1;
    pub const STATUS_DONE: u32 = 2;
    pub const STATUS_ERROR: u32 = 4;
}

/// Hardware performance counters of one run (or accumulated over runs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Cycles from start to the completion of the last command.
    pub cycles: u64,
    /// Cycles with a `COMPUTE` in progress.
    pub array_busy_cycles: u64,
    /// Cycles the compute engine had a command but waited for a load (`L2C`) or a free
    /// accumulator buffer (`S2C`).
    pub dma_stall_cycles: u64,
    /// Cycles the DMA engine was executing a command.
    pub dma_busy_cycles: u64,
    /// Useful multiply-accumulates (`m*k*n` per `COMPUTE`).
    pub macs: u64,
    /// Bytes read from main memory over the bus.
    pub bus_read_bytes: u64,
    /// Bytes written to main memory over the bus.
    pub bus_write_bytes: u64,
    pub input_sp_read_bytes: u64,
    pub input_sp_write_bytes: u64,
    pub weight_sp_read_bytes: u64,
    pub weight_sp_write_bytes: u64,
    pub acc_sp_read_bytes: u64,
    pub acc_sp_write_bytes: u64,
    /// Cycles a DMA beat or a STORE read waited for a bank port taken by the core.
    pub bank_conflict_cycles: u64,
    /// Commands executed (including `FINISH`).
    pub commands: u64,
    /// Bus bursts (bus pieces) issued by the DMA engine: `nrows` per `LOAD` and `STORE`,
    /// 1 per `LOAD_PARAMS`, the bus pieces of a `LOAD_IM2COL`.
    pub dma_bursts: u64,
    /// Pieces (bus + pad) of `LOAD_IM2COL` commands walked by the address generator.
    pub im2col_pieces: u64,
    /// Cycles with a `VCOMPUTE` in progress (the vector unit busy).
    #[serde(default)]
    pub vpu_busy_cycles: u64,
    /// Lane operations of `VCOMPUTE`s in `SUM` and `MAX` mode (`m*k*n` each).
    #[serde(default)]
    pub vpu_reduce_ops: u64,
    /// Lane operations of `VCOMPUTE`s in `ADD` mode (`m*n` each).
    #[serde(default)]
    pub vpu_add_ops: u64,
}

/// Number of hardware counters.
pub const NUM_COUNTERS: usize = 20;

/// Names of the counters, in register order.
pub const COUNTER_NAMES: [&str; NUM_COUNTERS] = [
    "cycles",
    "array_busy_cycles",
    "dma_stall_cycles",
    "dma_busy_cycles",
    "macs",
    "bus_read_bytes",
    "bus_write_bytes",
    "input_sp_read_bytes",
    "input_sp_write_bytes",
    "weight_sp_read_bytes",
    "weight_sp_write_bytes",
    "acc_sp_read_bytes",
    "acc_sp_write_bytes",
    "bank_conflict_cycles",
    "commands",
    "dma_bursts",
    "im2col_pieces",
    "vpu_busy_cycles",
    "vpu_reduce_ops",
    "vpu_add_ops",
];

impl Counters {
    /// The counters in register order.
    pub fn to_array(&self) -> [u64; NUM_COUNTERS] {
        [
            self.cycles,
            self.array_busy_cycles,
            self.dma_stall_cycles,
            self.dma_busy_cycles,
            self.macs,
            self.bus_read_bytes,
            self.bus_write_bytes,
            self.input_sp_read_bytes,
            self.input_sp_write_bytes,
            self.weight_sp_read_bytes,
            self.weight_sp_write_bytes,
            self.acc_sp_read_bytes,
            self.acc_sp_write_bytes,
            self.bank_conflict_cycles,
            self.commands,
            self.dma_bursts,
            self.im2col_pieces,
            self.vpu_busy_cycles,
            self.vpu_reduce_ops,
            self.vpu_add_ops,
        ]
    }

    /// Inverse of [`Counters::to_array`].
    pub fn from_array(a: [u64; NUM_COUNTERS]) -> Self {
        Counters {
            cycles: a[0],
            array_busy_cycles: a[1],
            dma_stall_cycles: a[2],
            dma_busy_cycles: a[3],
            macs: a[4],
            bus_read_bytes: a[5],
            bus_write_bytes: a[6],
            input_sp_read_bytes: a[7],
            input_sp_write_bytes: a[8],
            weight_sp_read_bytes: a[9],
            weight_sp_write_bytes: a[10],
            acc_sp_read_bytes: a[11],
            acc_sp_write_bytes: a[12],
            bank_conflict_cycles: a[13],
            commands: a[14],
            dma_bursts: a[15],
            im2col_pieces: a[16],
            vpu_busy_cycles: a[17],
            vpu_reduce_ops: a[18],
            vpu_add_ops: a[19],
        }
    }

    /// Element-wise sum (runs executed one after the other).
    pub fn add(&mut self, o: &Counters) {
        let mut a = self.to_array();
        for (x, y) in a.iter_mut().zip(o.to_array()) {
            *x += y;
        }
        *self = Counters::from_array(a);
    }

    /// Every counter multiplied by `n` (`n` identical runs back to back).
    pub fn scaled(&self, n: u64) -> Counters {
        Counters::from_array(self.to_array().map(|x| x * n))
    }

    /// Adds the counts of one executed command: the command itself, bus bytes, MACs and
    /// scratchpad bytes (everything but the timing counters, which only a timed model
    /// knows). The one place these counts are derived: the simulator's functional,
    /// cycle-level and tile-level models all call it.
    ///
    /// `window` is the window of the last `CONV_GEOM` (`crate::im2col::Window::of`); a
    /// `LOAD_IM2COL` needs it for its bus bytes and pieces (without one, only its command
    /// and scratchpad writes are counted: the devices reject such a command before
    /// counting it). Other commands ignore it.
    pub fn add_command(&mut self, cfg: &AccelConfig, op: &Op, window: Option<&Window>) {
        self.add_command_regs(cfg, op, window, None)
    }

    /// [`Counters::add_command`] with the vector unit's mode registers too (`vset`: the
    /// last `VSET`), which a `VCOMPUTE`'s counts depend on (without one, only the command
    /// and its accumulator writes are counted: the devices reject such a command before
    /// counting it).
    pub fn add_command_regs(
        &mut self,
        cfg: &AccelConfig,
        op: &Op,
        window: Option<&Window>,
        vset: Option<&VSet>,
    ) {
        let (rows, cols) = (cfg.rows as u64, cfg.cols as u64);
        self.commands += 1;
        match op {
            Op::Load(l) => {
                self.dma_bursts += l.nrows as u64;
                self.bus_read_bytes += l.nrows as u64 * l.ncols as u64;
                match l.sp {
                    Scratchpad::Input => {
                        self.input_sp_write_bytes += isa::load_lines(l, rows) * rows
                    }
                    Scratchpad::Weight => {
                        self.weight_sp_write_bytes += isa::load_lines(l, cols) * cols
                    }
                }
            }
            Op::LoadParams(p) => {
                self.dma_bursts += 1;
                self.bus_read_bytes += p.count as u64 * PARAM_RECORD_BYTES as u64;
            }
            Op::Compute(c) => {
                self.macs += c.m as u64 * c.k as u64 * c.n as u64;
                let b = cfg.dataflow.rules().compute_bytes(cfg, c);
                self.input_sp_read_bytes += b.input_read;
                self.weight_sp_read_bytes += b.weight_read;
                self.acc_sp_read_bytes += b.acc_read;
                self.acc_sp_write_bytes += b.acc_write;
            }
            Op::Store(s) => {
                let lines = (s.ncols as u64).div_ceil(cols) * s.nrows as u64;
                self.acc_sp_read_bytes += lines * 4 * cols;
                let e = if s.raw_int32 { 4 } else { 1 };
                self.bus_write_bytes += s.nrows as u64 * s.ncols as u64 * e;
                self.dma_bursts += s.nrows as u64;
            }
            Op::LoadIm2col(l) => {
                self.input_sp_write_bytes += isa::im2col_lines(l, rows) * rows;
                if let Some(w) = window {
                    let p = im2col::summary(w, l);
                    self.bus_read_bytes += p.bus_bytes;
                    self.dma_bursts += p.bus_pieces;
                    self.im2col_pieces += p.pieces;
                }
            }
            Op::VCompute(v) => {
                let (m, k, n) = (v.m as u64, v.k as u64, v.n as u64);
                self.acc_sp_write_bytes += m * 4 * cols;
                if let Some(set) = vset {
                    self.input_sp_read_bytes += m * k * rows;
                    if v.accumulate {
                        self.acc_sp_read_bytes += m * 4 * cols;
                    }
                    match set.mode {
                        VMode::Mac => {
                            self.macs += m * k * n;
                            self.weight_sp_read_bytes += m * k * cols;
                        }
                        VMode::Sum | VMode::Max => self.vpu_reduce_ops += m * k * n,
                        VMode::Add => {
                            self.vpu_add_ops += m * k * n;
                            self.weight_sp_read_bytes += m * cols;
                        }
                    }
                }
            }
            Op::ConvGeom(_) | Op::VSet(_) | Op::Finish => {}
        }
    }

    /// Total bus bytes.
    pub fn bus_bytes(&self) -> u64 {
        self.bus_read_bytes + self.bus_write_bytes
    }

    /// MACs / (rows * cols * cycles): [`array_utilization`] of this run.
    pub fn utilization(&self, cfg: &AccelConfig) -> f64 {
        array_utilization(self.macs, self.cycles, cfg.peak_macs_per_cycle())
    }
}

/// `array_utilization` of the result schema (docs/results-schema.md): MACs / (peak MACs
/// per cycle x accelerator cycles), i.e. how full the array is while the accelerator
/// runs. 0 when `accel_cycles` or `peak_macs_per_cycle` is 0 (nothing ran on it).
pub fn array_utilization(macs: u64, accel_cycles: u64, peak_macs_per_cycle: u64) -> f64 {
    if accel_cycles == 0 || peak_macs_per_cycle == 0 {
        return 0.0;
    }
    macs as f64 / (peak_macs_per_cycle as f64 * accel_cycles as f64)
}

/// Flip-flops of each clocked unit of a configuration (`docs/energy.md`: register
/// inventories of the synthesized RTL, `tinyaccel hdl area`, docs/area.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct FlipFlops {
    /// The PE array with its operand skews and delay lines, plus the compute engine's
    /// sequencing and accumulator write-back registers.
    pub array: f64,
    /// The PPU lanes and their parameter registers.
    pub ppu: f64,
    /// Controller: command fetch and decode, issue queues, status and the 20 64-bit
    /// performance counters.
    pub control: f64,
    /// DMA engine (load and store sequencing, store pipeline), the im2col address
    /// generator and the tracking FIFO when present.
    pub dma: f64,
    /// The vector unit (0 without it).
    pub vpu: f64,
}

impl FlipFlops {
    /// The inventory of `cfg`.
    pub fn of(cfg: &AccelConfig) -> FlipFlops {
        let (r, c) = (cfg.rows as f64, cfg.cols as f64);
        let tri = |n: f64| n * (n - 1.0) / 2.0;
        // Core registers (docs/area.md, "Flip-flops = the micro-architecture"; WS has no
        // measured inventory and uses the OS one).
        let core = match cfg.dataflow {
            crate::Dataflow::InputStationary => {
                48.0 * r * c - 8.0 * c
                    + 8.0 * tri(c)
                    + 32.0 * r * (c - 2.0).max(0.0)
                    + 2.0 * (r + c - 2.0)
                    + 16.0
            }
            _ => 48.0 * r * c - 8.0 * r - 8.0 * c + 8.0 * (tri(r) + tri(c)) + (r + c - 2.0) + 16.0,
        };
        // hdl/rtl/tinyaccel_system.v, clocked registers only (combinational `reg`s and
        // memories excluded): compute sequencing 352 + operand read registers 8R + 8C,
        // accumulator write-back 68 + 96C; PPU stages 72C + 3 and parameters 112C + 24;
        // controller 1,989 (1,280 of them the counters); DMA 858 + 128C.
        let array = core + 352.0 + 8.0 * r + 8.0 * c + 68.0 + 96.0 * c;
        let ppu = 72.0 * c + 3.0 + 112.0 * c + 24.0;
        let control = 1_989.0;
        let mut dma = 858.0 + 128.0 * c;
        if cfg.im2col {
            dma += 86.0; // tinyaccel_im2col_agu.v (docs/area.md)
        }
        if cfg.dma_outstanding > 1 {
            dma += 377.0 / 4.0 * cfg.dma_outstanding as f64; // tinyaccel_dma_track.v, 4 slots: 377
        }
        // tinyaccel_vpu.v at 8 lanes (docs/area.md): 343 shared, per lane by mode.
        let vpu = if cfg.has_vpu() {
            let per_lane = if cfg.eltwise {
                (1_349.0 - 343.0) / 8.0
            } else if cfg.depthwise {
                (867.0 - 343.0) / 8.0
            } else {
                (819.0 - 343.0) / 8.0
            };
            let all = if cfg.depthwise as u8 + cfg.pooling as u8 + cfg.eltwise as u8 > 1 {
                128.0
            } else {
                per_lane
            };
            343.0 + all * cfg.vpu_lanes() as f64
        } else {
            0.0
        };
        FlipFlops {
            array,
            ppu,
            control,
            dma,
            vpu,
        }
    }

    /// All flip-flops.
    pub fn total(&self) -> f64 {
        self.array + self.ppu + self.control + self.dma + self.vpu
    }
}

/// Energy of a run by component, in picojoules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct EnergyBreakdown {
    pub mac_pj: f64,
    pub input_sram_pj: f64,
    pub weight_sram_pj: f64,
    pub acc_sram_pj: f64,
    /// The system interconnect: `bus_bytes x bus_pj_per_byte` (the command fetch is in
    /// `control_pj`, the memory behind the bus in `main_memory_pj`).
    pub bus_pj: f64,
    pub leakage_pj: f64,
    /// The im2col address generator (`im2col_pieces x agu_pj_per_piece`); 0 without
    /// hardware im2col.
    #[serde(default)]
    pub agu_pj: f64,
    /// DMA outstanding-request tracking (`dma_bursts x dma_slot_pj_per_burst` when
    /// `dma_outstanding > 1`, else 0).
    #[serde(default)]
    pub dma_track_pj: f64,
    /// The vector unit's `SUM`/`MAX`/`ADD` lane operations (`vpu_reduce_ops x
    /// vpu_reduce_pj_per_op + vpu_add_ops x vpu_add_pj_per_op`); its depthwise MACs are in
    /// `mac_pj`. 0 without the unit.
    #[serde(default)]
    pub vpu_pj: f64,
    /// The memory behind the bus: bus bytes at the main memory's energy per byte
    /// (`main_memory`: system SRAM, LPDDR4, or QSPI flash for the weight-scratchpad fills).
    #[serde(default)]
    pub main_memory_pj: f64,
    /// Clock tree and registers of every unit: working cycles at `ff_active_pj`, idle
    /// cycles at `ff_idle_pj(clock_gating)`, per flip-flop ([`FlipFlops`]).
    #[serde(default)]
    pub clock_pj: f64,
    /// The PPU: `bus_write_bytes x ppu_pj_per_output` (one output byte per requantized
    /// element).
    #[serde(default)]
    pub ppu_pj: f64,
    /// The controller: per command, its 16-byte fetch over the bus from main memory and
    /// its decode.
    #[serde(default)]
    pub control_pj: f64,
    /// The DMA engine's address generation and requests: `dma_bursts x dma_pj_per_burst`.
    #[serde(default)]
    pub dma_pj: f64,
    pub total_pj: f64,
}

/// Cycles each unit works in a run, from the counters: the array `array_busy_cycles`,
/// the PPU one cycle per line of `cols` outputs (`bus_write_bytes / cols`), the
/// controller every cycle, the DMA `dma_busy_cycles`, the vector unit `vpu_busy_cycles`.
fn active_cycles(cfg: &AccelConfig, c: &Counters) -> [u64; 5] {
    let ppu = c.bus_write_bytes.div_ceil(cfg.cols.max(1) as u64);
    [
        c.array_busy_cycles,
        ppu,
        c.cycles,
        c.dma_busy_cycles,
        c.vpu_busy_cycles,
    ]
    .map(|a| a.min(c.cycles))
}

/// What [`EnergyBreakdown::from_counters`] derives from a configuration alone: its energy
/// table, the SRAM model's energy per byte of each scratchpad, the leakage, the flip-flop
/// inventory. Computed once per configuration where many runs are accounted (a sweep
/// accounts every layer of every model of a design); the breakdown is the same to the
/// last bit either way.
#[derive(Debug, Clone, PartialEq)]
pub struct EnergyRates {
    /// `AccelConfig::energy_table`.
    pub table: EnergyTable,
    /// (read, write) pJ per byte of the input, weight and accumulator scratchpads.
    pub sram_pj_per_byte: [(f64, f64); 3],
    /// `AccelConfig::leakage_uw`.
    pub leakage_uw: f64,
    /// `FlipFlops::of`.
    pub flip_flops: FlipFlops,
}

impl EnergyRates {
    /// The rates of `cfg`.
    pub fn of(cfg: &AccelConfig) -> Self {
        let table = cfg.energy_table();
        let sram_pj_per_byte = cfg.scratchpad_macros().map(|m| {
            (
                table.sram_read_pj_per_byte(&m),
                table.sram_write_pj_per_byte(&m),
            )
        });
        EnergyRates {
            table,
            sram_pj_per_byte,
            leakage_uw: cfg.leakage_uw(),
            flip_flops: FlipFlops::of(cfg),
        }
    }
}

impl EnergyBreakdown {
    /// Counted actions x the configuration's energy table, plus clock and leakage x time.
    pub fn from_counters(cfg: &AccelConfig, c: &Counters) -> Self {
        Self::with_rates(cfg, &EnergyRates::of(cfg), c)
    }

    /// [`Self::from_counters`] with the configuration's rates computed beforehand
    /// (`rates` must be `EnergyRates::of(cfg)`).
    pub fn with_rates(cfg: &AccelConfig, rates: &EnergyRates, c: &Counters) -> Self {
        let e = rates.table;
        let [isp, wsp, asp] = rates.sram_pj_per_byte;
        let sram = |(rd, wr): (f64, f64), r: u64, w: u64| r as f64 * rd + w as f64 * wr;
        let mac_pj = c.macs as f64 * e.mac_pj;
        let input_sram_pj = sram(isp, c.input_sp_read_bytes, c.input_sp_write_bytes);
        let weight_sram_pj = sram(wsp, c.weight_sp_read_bytes, c.weight_sp_write_bytes);
        let acc_sram_pj = sram(asp, c.acc_sp_read_bytes, c.acc_sp_write_bytes);
        let bus_pj = c.bus_bytes() as f64 * e.bus_pj_per_byte;
        let main_memory_pj = main_memory_pj(cfg, &e, c);
        // uW * us = pJ.
        let leakage_pj = rates.leakage_uw * cfg.cycles_to_us(c.cycles);
        let agu_pj = c.im2col_pieces as f64 * e.agu_pj_per_piece;
        let dma_track_pj = if cfg.dma_outstanding > 1 {
            c.dma_bursts as f64 * e.dma_slot_pj_per_burst
        } else {
            0.0
        };
        let vpu_pj = c.vpu_reduce_ops as f64 * e.vpu_reduce_pj_per_op
            + c.vpu_add_ops as f64 * e.vpu_add_pj_per_op;
        let clock_pj = clock_pj(cfg, &e, &rates.flip_flops, c);
        let ppu_pj = c.bus_write_bytes as f64 * e.ppu_pj_per_output;
        let control_pj = c.commands as f64
            * (COMMAND_BYTES as f64 * (e.bus_pj_per_byte + command_memory_pj_per_byte(cfg, &e))
                + e.decode_pj_per_command);
        let dma_pj = c.dma_bursts as f64 * e.dma_pj_per_burst;
        let total_pj = mac_pj
            + input_sram_pj
            + weight_sram_pj
            + acc_sram_pj
            + bus_pj
            + leakage_pj
            + agu_pj
            + dma_track_pj
            + vpu_pj
            + main_memory_pj
            + clock_pj
            + ppu_pj
            + control_pj
            + dma_pj;
        EnergyBreakdown {
            mac_pj,
            input_sram_pj,
            weight_sram_pj,
            acc_sram_pj,
            bus_pj,
            leakage_pj,
            agu_pj,
            dma_track_pj,
            vpu_pj,
            main_memory_pj,
            clock_pj,
            ppu_pj,
            control_pj,
            dma_pj,
            total_pj,
        }
    }

    /// The parts, named as in the JSON (without `total_pj`), in a fixed order.
    pub fn parts(&self) -> [(&'static str, f64); 14] {
        [
            ("mac_pj", self.mac_pj),
            ("input_sram_pj", self.input_sram_pj),
            ("weight_sram_pj", self.weight_sram_pj),
            ("acc_sram_pj", self.acc_sram_pj),
            ("bus_pj", self.bus_pj),
            ("main_memory_pj", self.main_memory_pj),
            ("clock_pj", self.clock_pj),
            ("ppu_pj", self.ppu_pj),
            ("control_pj", self.control_pj),
            ("dma_pj", self.dma_pj),
            ("agu_pj", self.agu_pj),
            ("dma_track_pj", self.dma_track_pj),
            ("vpu_pj", self.vpu_pj),
            ("leakage_pj", self.leakage_pj),
        ]
    }
}

/// Energy per byte of command fetch: commands live in the on-chip SRAM for `sram` and
/// `qspi-flash` (the driver writes them at load time), in LPDDR4 for `lpddr4`.
fn command_memory_pj_per_byte(cfg: &AccelConfig, e: &EnergyTable) -> f64 {
    match cfg.main_memory {
        MainMemory::Lpddr4 => e.lpddr4_pj_per_byte,
        MainMemory::Sram | MainMemory::QspiFlash => e.main_memory_pj_per_byte,
    }
}

/// The main memory's part of a run's bus traffic: every bus byte at the system SRAM's or
/// LPDDR4's energy per byte; with `qspi-flash`, the weight-scratchpad fills (at most the
/// bus reads) at the flash's, the rest at the system SRAM's.
fn main_memory_pj(cfg: &AccelConfig, e: &EnergyTable, c: &Counters) -> f64 {
    let bytes = c.bus_bytes() as f64;
    match cfg.main_memory {
        MainMemory::Sram => bytes * e.main_memory_pj_per_byte,
        MainMemory::Lpddr4 => bytes * e.lpddr4_pj_per_byte,
        MainMemory::QspiFlash => {
            let flash = c.weight_sp_write_bytes.min(c.bus_read_bytes) as f64;
            flash * e.qspi_flash_pj_per_byte + (bytes - flash) * e.main_memory_pj_per_byte
        }
    }
}

/// Clock tree and register energy of a run: per unit, flip-flops x (working cycles x
/// `ff_active_pj` + idle cycles x `ff_idle_pj(clock_gating)`).
fn clock_pj(cfg: &AccelConfig, e: &EnergyTable, ff: &FlipFlops, c: &Counters) -> f64 {
    let active = active_cycles(cfg, c);
    let (on, off) = (e.ff_active_pj(), e.ff_idle_pj(cfg.clock_gating));
    [ff.array, ff.ppu, ff.control, ff.dma, ff.vpu]
        .iter()
        .zip(active)
        .map(|(n, a)| n * (a as f64 * on + (c.cycles - a) as f64 * off))
        .sum()
}

/// Clock energy of the accelerator while it waits for the CPU (`cycles` of its clock with
/// no command buffer running), pJ. With `clock_gating` the accelerator's clock is gated at
/// its root between command buffers (the MMIO register file that starts the next one sits
/// in the bus clock domain), so nothing is charged; without it every flip-flop's clock pin
/// toggles every cycle (`ff_idle_pj(false)`).
pub fn idle_clock_pj(cfg: &AccelConfig, cycles: f64) -> f64 {
    if cfg.clock_gating {
        return 0.0;
    }
    idle_clock_pj_with(cfg, &EnergyRates::of(cfg), cycles)
}

/// [`idle_clock_pj`] with the configuration's rates computed beforehand.
pub fn idle_clock_pj_with(cfg: &AccelConfig, rates: &EnergyRates, cycles: f64) -> f64 {
    if cfg.clock_gating {
        return 0.0;
    }
    rates.flip_flops.total() * rates.table.ff_idle_pj(false) * cycles
}

/// A lower bound on the accelerator energy of compulsory work, pJ: `macs` MACs once,
/// `read_bytes` read and `write_bytes` written once over the bus from and to the cheapest
/// memory of the configuration, and the clock of every flip-flop (idle at least) and the
/// leakage during the fewest cycles the MACs need on the array (`macs / (rows x cols)`).
pub fn energy_floor_pj(cfg: &AccelConfig, macs: u64, read_bytes: u64, write_bytes: u64) -> f64 {
    let e = cfg.energy_table();
    let mem = match cfg.main_memory {
        MainMemory::Sram => e.main_memory_pj_per_byte,
        MainMemory::Lpddr4 => e.lpddr4_pj_per_byte,
        MainMemory::QspiFlash => e.main_memory_pj_per_byte.min(e.qspi_flash_pj_per_byte),
    };
    let cycles = macs.div_ceil(cfg.peak_macs_per_cycle().max(1));
    macs as f64 * e.mac_pj
        + (read_bytes + write_bytes) as f64 * (e.bus_pj_per_byte + mem)
        + cycles as f64
            * FlipFlops::of(cfg).total()
            * e.ff_idle_pj(cfg.clock_gating).min(e.ff_active_pj())
        + cfg.leakage_uw() * cfg.cycles_to_us(cycles)
}

/// An upper bound on the energy of a run with counters `c`, pJ: every unit working every
/// cycle, the array doing `rows x cols` MACs every cycle, every counted scratchpad and bus
/// byte at the dearest energy per byte of the configuration, and the per-event parts
/// (PPU, commands, bursts, pieces, vector-unit operations) as counted.
pub fn energy_ceiling_pj(cfg: &AccelConfig, c: &Counters) -> f64 {
    let e = cfg.energy_table();
    let sp_max = cfg
        .scratchpad_macros()
        .iter()
        .map(|m| e.sram_read_pj_per_byte(m).max(e.sram_write_pj_per_byte(m)))
        .fold(0.0, f64::max);
    let sp_bytes = c.input_sp_read_bytes
        + c.input_sp_write_bytes
        + c.weight_sp_read_bytes
        + c.weight_sp_write_bytes
        + c.acc_sp_read_bytes
        + c.acc_sp_write_bytes;
    let mem_max = e.main_memory_pj_per_byte.max(match cfg.main_memory {
        MainMemory::Sram => 0.0,
        MainMemory::Lpddr4 => e.lpddr4_pj_per_byte,
        MainMemory::QspiFlash => e.qspi_flash_pj_per_byte,
    });
    let cyc = c.cycles as f64;
    cyc * (cfg.peak_macs_per_cycle() as f64 * e.mac_pj
        + FlipFlops::of(cfg).total() * e.ff_active_pj().max(e.ff_idle_pj(false)))
        + cfg.leakage_uw() * cfg.cycles_to_us(c.cycles)
        + sp_bytes as f64 * sp_max
        + (c.bus_bytes() + COMMAND_BYTES as u64 * c.commands) as f64 * (e.bus_pj_per_byte + mem_max)
        + c.commands as f64 * e.decode_pj_per_command
        + c.bus_write_bytes as f64 * e.ppu_pj_per_output
        + c.dma_bursts as f64 * (e.dma_pj_per_burst + e.dma_slot_pj_per_burst)
        + c.im2col_pieces as f64 * e.agu_pj_per_piece
        + c.vpu_reduce_ops as f64 * e.vpu_reduce_pj_per_op
        + c.vpu_add_ops as f64 * e.vpu_add_pj_per_op
}

/// Errors of a device.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeviceError {
    #[error("device memory access {addr:#x}+{len} is outside the {size}-byte memory")]
    OutOfBounds { addr: u64, len: u64, size: u64 },
    #[error("no register at offset {0:#x}")]
    BadRegister(u32),
    #[error("command {index}: {reason}")]
    Command { index: usize, reason: String },
    #[error("command buffer: {0}")]
    Buffer(String),
    #[error("device busy")]
    Busy,
}

/// The host-visible register file of a device model (`docs/architecture.md` section 7),
/// shared by the simulator's and the RTL's [`Device`]s: `CMD_BASE`, `CMD_COUNT`,
/// `STATUS`, `ERR_INDEX` and the counters accumulated since creation or the last clear.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostRegs {
    pub cmd_base: u32,
    pub cmd_count: u32,
    pub status: u32,
    pub err_index: u32,
    pub total: Counters,
}

impl HostRegs {
    /// A register write. Returns `true` when it asks to start the command buffer
    /// (`CTRL.start`); a counter clear in the same write happens first.
    pub fn write(&mut self, offset: u32, value: u32) -> Result<bool, DeviceError> {
        match offset {
            reg::CTRL => {
                if value & reg::CTRL_CLEAR_COUNTERS != 0 {
                    self.total = Counters::default();
                }
                Ok(value & reg::CTRL_START != 0)
            }
            reg::CMD_BASE => {
                self.cmd_base = value;
                Ok(false)
            }
            reg::CMD_COUNT => {
                self.cmd_count = value;
                Ok(false)
            }
            other => Err(DeviceError::BadRegister(other)),
        }
    }

    /// A register read (64-bit counters as low and high words).
    pub fn read(&self, offset: u32) -> Result<u32, DeviceError> {
        let counters = self.total.to_array();
        match offset {
            reg::ID => Ok(reg::ID_VALUE),
            reg::STATUS => Ok(self.status),
            reg::CMD_BASE => Ok(self.cmd_base),
            reg::CMD_COUNT => Ok(self.cmd_count),
            reg::ERR_INDEX => Ok(self.err_index),
            o if o >= reg::COUNTERS
                && o < reg::COUNTERS + 8 * counters.len() as u32
                && o.is_multiple_of(4) =>
            {
                let v = counters[((o - reg::COUNTERS) / 8) as usize];
                Ok(if (o - reg::COUNTERS).is_multiple_of(8) {
                    v as u32
                } else {
                    (v >> 32) as u32
                })
            }
            other => Err(DeviceError::BadRegister(other)),
        }
    }

    /// Records a completed run: its counters join the total, `STATUS` = done.
    pub fn finish_ok(&mut self, c: &Counters) {
        self.total.add(c);
        self.status = reg::STATUS_DONE;
    }

    /// Records a failed run: `STATUS` = done | error with `code` (unless the device
    /// already set an error status), `ERR_INDEX` = `index`.
    pub fn finish_err(&mut self, index: u32, code: u32) {
        if self.status & reg::STATUS_ERROR == 0 {
            self.status = reg::STATUS_DONE | reg::STATUS_ERROR | (code << 8);
        }
        self.err_index = index;
    }
}

/// An accelerator as the driver sees it.
pub trait Device {
    /// The configuration the device was built from.
    fn config(&self) -> &AccelConfig;
    /// Size of the device-visible main memory in bytes.
    fn mem_size(&self) -> u64;
    /// Writes device memory.
    fn write_mem(&mut self, addr: u64, data: &[u8]) -> Result<(), DeviceError>;
    /// Reads device memory.
    fn read_mem(&mut self, addr: u64, out: &mut [u8]) -> Result<(), DeviceError>;
    /// Writes a 32-bit register.
    fn write_reg(&mut self, offset: u32, value: u32) -> Result<(), DeviceError>;
    /// Reads a 32-bit register.
    fn read_reg(&mut self, offset: u32) -> Result<u32, DeviceError>;
    /// Runs until the current command buffer completes (after `CTRL.start`); returns the
    /// counters of this run. Errors carry the failing command index.
    fn wait(&mut self) -> Result<Counters, DeviceError>;

    /// Reads all counters through the registers.
    fn counters(&mut self) -> Result<Counters, DeviceError> {
        let mut a = [0u64; NUM_COUNTERS];
        for (i, v) in a.iter_mut().enumerate() {
            let lo = self.read_reg(reg::COUNTERS + 8 * i as u32)? as u64;
            let hi = self.read_reg(reg::COUNTERS + 8 * i as u32 + 4)? as u64;
            *v = lo | hi << 32;
        }
        Ok(Counters::from_array(a))
    }

    /// Writes a command buffer at `addr`, starts it, and waits for completion.
    fn submit(&mut self, addr: u64, commands: &[u8]) -> Result<Counters, DeviceError> {
        if !commands.len().is_multiple_of(COMMAND_BYTES)
            || !addr.is_multiple_of(COMMAND_BYTES as u64)
        {
            return Err(DeviceError::Buffer(format!(
                "command buffer at {addr:#x} of {} bytes: address and length must be multiples of 16",
                commands.len()
            )));
        }
        let base = u32::try_from(addr)
            .map_err(|_| DeviceError::Buffer(format!("address {addr:#x} exceeds 32 bits")))?;
        self.write_mem(addr, commands)?;
        self.write_reg(reg::CMD_BASE, base)?;
        self.write_reg(reg::CMD_COUNT, (commands.len() / COMMAND_BYTES) as u32)?;
        self.write_reg(reg::CTRL, reg::CTRL_START)?;
        self.wait()
    }
}
