//! `tinyaccel hdl verify --system`: driver-generated programs run on the cycle-level
//! simulator (`sim::SimDevice`, `Model::Cycle`) and on the system RTL
//! ([`RtlDevice`]) from identical memory images; the final device memory (every byte
//! the program or the host touched) and all 15 counters must be equal.
//!
//! Two kinds of programs, both through a [`TeeDevice`] (a `Device` that forwards to the
//! simulator and, for the first starts, also runs the RTL on the same pre-start image and
//! compares):
//! - GEMMs built by `driver::gemm`: one tile, many tiles with loads overlapping compute
//!   (double buffering), K split (int32 accumulation), N beyond the columns (several PPU
//!   parameter blocks and `LOAD_PARAMS`), raw int32 output, odd sizes and clamps, and
//!   `--programs` random ones (random shapes, outputs and tilings, seeded);
//! - real layers of the MLPerf Tiny models through `driver::delegate` (every conv,
//!   depthwise and FC layer offloaded): by default the whole anomaly-detection
//!   autoencoder, the first offloaded layer of kws and ic and the first two of vww (a
//!   conv and a depthwise layer); the rest of a model
//!   runs on the simulator only, and the model's output is compared with the CPU
//!   interpreter's.

use crate::cases::Rng;
use crate::rtl_device::RtlDevice;
use crate::sysflow::{self, SysModel};
use crate::HdlError;
use arch::device::{reg, Counters, Device, DeviceError, COUNTER_NAMES};
use arch::isa::COMMAND_BYTES;
use arch::{AccelConfig, Dataflow};
use driver::delegate::{self, Placement, Policy};
use driver::gemm::{self, GemmData, GemmProblem, GemmResult, MemLayout, Output};
use driver::tiling::{self, LoopOrder, Tiling};
use serde_json::{json, Value};
use sim::{Model, SimDevice};
use std::time::{Duration, Instant};

/// The first byte where two memories differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemDiff {
    pub addr: u64,
    pub primary: u8,
    pub shadow: u8,
    /// Bytes that differ in the compared prefix.
    pub count: u64,
}

/// The first counter (in register order) that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterDiff {
    pub name: &'static str,
    pub primary: u64,
    pub shadow: u64,
}

/// One compared start of a command buffer.
#[derive(Debug, Clone)]
pub struct TeeRecord {
    /// Index of the start on the tee (0 = first `CTRL.start`).
    pub start: usize,
    /// Label set with [`TeeDevice::set_label`] when it started.
    pub label: String,
    pub cmd_base: u32,
    pub commands: u32,
    /// Bytes `0..mem_bytes` were given to both and compared after the run.
    pub mem_bytes: u64,
    pub primary: Result<Counters, DeviceError>,
    pub shadow: Result<Counters, DeviceError>,
    pub counter_diff: Option<CounterDiff>,
    pub mem_diff: Option<MemDiff>,
    /// Both failed, or only one did, or they failed differently.
    pub error_diff: Option<String>,
    pub primary_wall: Duration,
    pub shadow_wall: Duration,
}

impl TeeRecord {
    /// True if memory, counters and errors agree.
    pub fn ok(&self) -> bool {
        self.counter_diff.is_none() && self.mem_diff.is_none() && self.error_diff.is_none()
    }

    /// A readable description of the first difference (empty if none).
    pub fn describe(&self) -> String {
        let mut v = Vec::new();
        if let Some(e) = &self.error_diff {
            v.push(e.clone());
        }
        if let Some(c) = &self.counter_diff {
            v.push(format!(
                "counter {} differs: simulator {}, RTL {}",
                c.name, c.primary, c.shadow
            ));
        }
        if let Some(m) = &self.mem_diff {
            v.push(format!(
                "memory differs at {:#x} (simulator {:#04x}, RTL {:#04x}; {} bytes differ of {})",
                m.addr, m.primary, m.shadow, m.count, self.mem_bytes
            ));
        }
        v.join("; ")
    }
}

/// A [`Device`] that forwards everything to `primary` and, for the first
/// `compare_starts` command buffers started (`None`: all), also runs `shadow` from the
/// same pre-start memory image and compares the final memories and the counters.
/// `wait()` returns the primary's result.
pub struct TeeDevice<P: Device, S: Device> {
    pub primary: P,
    pub shadow: S,
    compare_starts: Option<usize>,
    starts: usize,
    high_water: u64,
    cmd_base: u32,
    cmd_count: u32,
    label: String,
    pending: Option<Pending>,
    corrupt_next: Option<u64>,
    records: Vec<TeeRecord>,
}

struct Pending {
    start: usize,
    n: u64,
    shadow: Result<Counters, DeviceError>,
    primary_wall: Duration,
    shadow_wall: Duration,
}

impl<P: Device, S: Device> TeeDevice<P, S> {
    pub fn new(primary: P, shadow: S, compare_starts: Option<usize>) -> Self {
        TeeDevice {
            primary,
            shadow,
            compare_starts,
            starts: 0,
            high_water: 0,
            cmd_base: 0,
            cmd_count: 0,
            label: String::new(),
            pending: None,
            corrupt_next: None,
            records: Vec::new(),
        }
    }

    /// Labels the records of the following starts.
    pub fn set_label(&mut self, label: impl Into<String>) {
        self.label = label.into();
    }

    /// The comparisons so far.
    pub fn records(&self) -> &[TeeRecord] {
        &self.records
    }

    /// Starts so far (compared or not).
    pub fn starts(&self) -> usize {
        self.starts
    }

    /// Test hook: flips (xor 0xFF) the byte at `addr` of the shadow's memory image of the
    /// next compared start, after the image is copied; the comparison must then report a
    /// difference (at `addr` or wherever the program moved it).
    pub fn corrupt_next_shadow_image(&mut self, addr: u64) {
        self.corrupt_next = Some(addr);
    }

    /// Takes the devices and the records apart.
    pub fn into_parts(self) -> (P, S, Vec<TeeRecord>) {
        (self.primary, self.shadow, self.records)
    }

    fn comparing(&self) -> bool {
        self.compare_starts.is_none_or(|k| self.starts < k)
    }

    /// Bytes the buffer about to start needs, from the primary's memory.
    fn needed(&mut self) -> Result<u64, DeviceError> {
        let len = self.cmd_count as u64 * COMMAND_BYTES as u64;
        let size = self.primary.mem_size();
        let base = self.cmd_base as u64;
        if base + len > size {
            return Ok(size.min(self.high_water.max(base + len)));
        }
        let mut buf = vec![0u8; len as usize];
        self.primary.read_mem(base, &mut buf)?;
        let n = match sim::machine::decode_checked(self.primary.config(), &buf) {
            Ok(cmds) => sysflow::needed_bytes(self.cmd_base, &cmds, self.high_water),
            Err(_) => self.high_water.max(base + len),
        };
        Ok(n.min(size).min(self.shadow.mem_size()))
    }

    fn start_both(&mut self, value: u32) -> Result<(), DeviceError> {
        let n = self.needed()?;
        let mut image = vec![0u8; n as usize];
        self.primary.read_mem(0, &mut image)?;
        if let Some(a) = self.corrupt_next.take() {
            if let Some(b) = image.get_mut(a as usize) {
                *b ^= 0xFF;
            }
        }
        self.shadow.write_mem(0, &image)?;
        drop(image);
        let t0 = Instant::now();
        self.primary.write_reg(reg::CTRL, value)?;
        let primary_wall = t0.elapsed();
        let t1 = Instant::now();
        let shadow = self
            .shadow
            .write_reg(reg::CTRL, value)
            .and_then(|_| self.shadow.wait());
        let shadow_wall = t1.elapsed();
        self.pending = Some(Pending {
            start: self.starts,
            n,
            shadow,
            primary_wall,
            shadow_wall,
        });
        Ok(())
    }

    fn finish(&mut self, p: Pending, primary: &Result<Counters, DeviceError>) {
        let n = p.n as usize;
        let mut a = vec![0u8; n];
        let mut b = vec![0u8; n];
        let read = self
            .primary
            .read_mem(0, &mut a)
            .and_then(|_| self.shadow.read_mem(0, &mut b));
        let mem_diff = match read {
            Err(_) => None,
            Ok(()) => {
                let first = a.iter().zip(&b).position(|(x, y)| x != y);
                first.map(|i| MemDiff {
                    addr: i as u64,
                    primary: a[i],
                    shadow: b[i],
                    count: a.iter().zip(&b).filter(|(x, y)| x != y).count() as u64,
                })
            }
        };
        let (counter_diff, error_diff) = match (primary, &p.shadow) {
            (Ok(x), Ok(y)) => {
                let (xa, ya) = (x.to_array(), y.to_array());
                let d = (0..15).find(|&i| xa[i] != ya[i]).map(|i| CounterDiff {
                    name: COUNTER_NAMES[i],
                    primary: xa[i],
                    shadow: ya[i],
                });
                (d, read.err().map(|e| format!("reading memory back: {e}")))
            }
            (Err(e), Ok(_)) => (None, Some(format!("simulator failed ({e}), RTL succeeded"))),
            (Ok(_), Err(e)) => (None, Some(format!("RTL failed: {e}"))),
            (Err(x), Err(y)) => {
                let same_index = match (x, y) {
                    (
                        DeviceError::Command { index: i, .. },
                        DeviceError::Command { index: j, .. },
                    ) => i == j,
                    (x, y) => x == y,
                };
                (
                    None,
                    (!same_index)
                        .then(|| format!("both failed differently: simulator {x}; RTL {y}")),
                )
            }
        };
        self.records.push(TeeRecord {
            start: p.start,
            label: self.label.clone(),
            cmd_base: self.cmd_base,
            commands: self.cmd_count,
            mem_bytes: p.n,
            primary: primary.clone(),
            shadow: p.shadow,
            counter_diff,
            mem_diff,
            error_diff,
            primary_wall: p.primary_wall,
            shadow_wall: p.shadow_wall,
        });
    }
}

impl<P: Device, S: Device> Device for TeeDevice<P, S> {
    fn config(&self) -> &AccelConfig {
        self.primary.config()
    }
    fn mem_size(&self) -> u64 {
        self.primary.mem_size()
    }
    fn write_mem(&mut self, addr: u64, data: &[u8]) -> Result<(), DeviceError> {
        self.primary.write_mem(addr, data)?;
        if !data.is_empty() {
            self.high_water = self.high_water.max(addr + data.len() as u64);
        }
        Ok(())
    }
    fn read_mem(&mut self, addr: u64, out: &mut [u8]) -> Result<(), DeviceError> {
        self.primary.read_mem(addr, out)
    }
    fn write_reg(&mut self, offset: u32, value: u32) -> Result<(), DeviceError> {
        match offset {
            reg::CMD_BASE => self.cmd_base = value,
            reg::CMD_COUNT => self.cmd_count = value,
            _ => {}
        }
        if offset == reg::CTRL && value & reg::CTRL_START != 0 {
            self.pending = None;
            let r = if self.comparing() {
                self.shadow.write_reg(reg::CMD_BASE, self.cmd_base)?;
                self.shadow.write_reg(reg::CMD_COUNT, self.cmd_count)?;
                self.start_both(value)
            } else {
                self.primary.write_reg(offset, value)
            };
            self.starts += 1;
            return r;
        }
        self.primary.write_reg(offset, value)
    }
    fn read_reg(&mut self, offset: u32) -> Result<u32, DeviceError> {
        self.primary.read_reg(offset)
    }
    fn wait(&mut self) -> Result<Counters, DeviceError> {
        let r = self.primary.wait();
        if let Some(p) = self.pending.take() {
            self.finish(p, &r);
        }
        r
    }
}

/// A model and how many of its offloaded layers run on the RTL too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    /// Built-in name (kws, vww, ic, ad) or a .tflite file.
    pub model: String,
    /// Offloaded layers compared, from the first (`None`: all).
    pub layers: Option<usize>,
    /// Input bytes (`None`: seeded random bytes).
    pub input: Option<Vec<u8>>,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub seed: u64,
    /// Random GEMMs besides the fixed coverage set.
    pub random_programs: usize,
    /// Run the fixed GEMM coverage set.
    pub coverage: bool,
    pub models: Vec<ModelSpec>,
    /// Device memory of both devices.
    pub mem_bytes: usize,
    /// Draw a progress bar on stderr.
    pub progress_bar: bool,
}

impl Options {
    /// The default programs: the coverage GEMMs, `random` random GEMMs, the whole `ad`
    /// model, the first offloaded layer of `kws` and `ic` and the first two of `vww`
    /// (conv, depthwise).
    pub fn default_set(seed: u64, random: usize) -> Self {
        let m = |name: &str, layers| ModelSpec {
            model: name.into(),
            layers,
            input: None,
        };
        Options {
            seed,
            random_programs: random,
            coverage: true,
            models: vec![
                m("ad", None),
                m("kws", Some(1)),
                m("vww", Some(2)),
                m("ic", Some(1)),
            ],
            mem_bytes: sim::device::DEFAULT_MEM_BYTES,
            progress_bar: false,
        }
    }
}

/// One compared program (a GEMM, or one model layer with all its GEMM jobs).
#[derive(Debug, Clone)]
pub struct ProgramReport {
    pub name: String,
    /// `gemm` or `layer`.
    pub kind: &'static str,
    /// `MxKxN` of a GEMM, or the layer's op and GEMM count.
    pub shape: String,
    /// Command buffers started (1 for a GEMM).
    pub starts: usize,
    pub commands: u64,
    pub sim_cycles: u64,
    pub rtl_cycles: u64,
    /// Bytes compared (sum over the starts).
    pub mem_bytes: u64,
    pub sim_counters: Counters,
    pub rtl_counters: Counters,
    /// First difference (`None`: byte- and cycle-exact).
    pub mismatch: Option<String>,
    /// The GEMM's output vs `driver::gemm::reference` (GEMMs only).
    pub reference_ok: Option<bool>,
    pub sim_seconds: f64,
    pub rtl_seconds: f64,
}

impl ProgramReport {
    pub fn ok(&self) -> bool {
        self.mismatch.is_none() && self.reference_ok != Some(false)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "kind": self.kind,
            "shape": self.shape,
            "starts": self.starts,
            "commands": self.commands,
            "sim_cycles": self.sim_cycles,
            "rtl_cycles": self.rtl_cycles,
            "mem_bytes_compared": self.mem_bytes,
            "byte_exact_and_cycle_exact": self.mismatch.is_none(),
            "mismatch": self.mismatch,
            "reference_ok": self.reference_ok,
            "sim_counters": self.sim_counters,
            "rtl_counters": self.rtl_counters,
            "sim_seconds": self.sim_seconds,
            "rtl_seconds": self.rtl_seconds,
        })
    }
}

/// One model run through the tee.
#[derive(Debug, Clone)]
pub struct ModelReport {
    pub model: String,
    pub offloaded_layers: usize,
    pub compared_layers: usize,
    pub compared_starts: usize,
    pub total_starts: usize,
    /// The offloaded run's output.
    pub output: Vec<u8>,
    /// The CPU interpreter's output for the same input.
    pub cpu_output: Vec<u8>,
    pub seconds: f64,
}

impl ModelReport {
    pub fn output_matches_cpu(&self) -> bool {
        self.output == self.cpu_output
    }
}

/// The whole `verify --system` result.
#[derive(Debug, Clone)]
pub struct SystemReport {
    pub config: AccelConfig,
    pub seed: u64,
    pub mem_bytes: usize,
    pub built: bool,
    pub build_seconds: f64,
    pub binary: String,
    pub programs: Vec<ProgramReport>,
    pub models: Vec<ModelReport>,
    /// RTL processes, cycles simulated (testbench count) and their wall time.
    pub rtl_runs: u64,
    pub rtl_cycles: u64,
    pub rtl_seconds: f64,
    pub seconds: f64,
}

impl SystemReport {
    /// Every program exact and every model output equal to the CPU's.
    pub fn all_ok(&self) -> bool {
        !self.programs.is_empty()
            && self.programs.iter().all(ProgramReport::ok)
            && self.models.iter().all(ModelReport::output_matches_cpu)
    }

    pub fn rtl_cycles_per_s(&self) -> f64 {
        self.rtl_cycles as f64 / self.rtl_seconds.max(1e-9)
    }

    pub fn to_json(&self) -> Value {
        let c = &self.config;
        json!({
            "config": c.name,
            "config_hash": c.hash(),
            "dataflow": c.dataflow.as_str(),
            "rows": c.rows,
            "cols": c.cols,
            "seed": self.seed,
            "mem_bytes": self.mem_bytes,
            "all_exact": self.all_ok(),
            "programs_total": self.programs.len(),
            "programs_exact": self.programs.iter().filter(|p| p.ok()).count(),
            "verilator": {
                "built": self.built,
                "build_seconds": self.build_seconds,
                "binary": self.binary,
                "runs": self.rtl_runs,
                "cycles": self.rtl_cycles,
                "seconds": self.rtl_seconds,
                "cycles_per_s": self.rtl_cycles_per_s(),
            },
            "programs": self.programs.iter().map(ProgramReport::to_json).collect::<Vec<_>>(),
            "models": self.models.iter().map(|m| json!({
                "model": m.model,
                "offloaded_layers": m.offloaded_layers,
                "compared_layers": m.compared_layers,
                "compared_starts": m.compared_starts,
                "total_starts": m.total_starts,
                "output_matches_cpu": m.output_matches_cpu(),
                "seconds": m.seconds,
            })).collect::<Vec<_>>(),
            "seconds": self.seconds,
        })
    }

    /// The text report.
    pub fn to_text(&self) -> String {
        let c = &self.config;
        let mut s = format!(
            "{} {}x{} {} (hash {}), seed {}: system RTL vs cycle-level simulator\n",
            c.name,
            c.rows,
            c.cols,
            c.dataflow,
            c.hash(),
            self.seed
        );
        s.push_str(&format!(
            "  Verilator: {} ({:.1} s), {} runs, {} cycles in {:.2} s = {:.0} cycles/s (process, file I/O included)\n",
            if self.built { "built" } else { "cached" },
            self.build_seconds,
            self.rtl_runs,
            self.rtl_cycles,
            self.rtl_seconds,
            self.rtl_cycles_per_s()
        ));
        let w = self
            .programs
            .iter()
            .map(|p| p.name.len())
            .max()
            .unwrap_or(4)
            .max(4);
        s.push_str(&format!(
            "  {:<w$}  {:<24}  {:>6}  {:>10}  {:>10}  {:>9}  {:>7}  result\n",
            "program", "shape", "cmds", "sim cyc", "rtl cyc", "mem B", "rtl s"
        ));
        for p in &self.programs {
            s.push_str(&format!(
                "  {:<w$}  {:<24}  {:>6}  {:>10}  {:>10}  {:>9}  {:>7.2}  {}\n",
                p.name,
                p.shape,
                p.commands,
                p.sim_cycles,
                p.rtl_cycles,
                p.mem_bytes,
                p.rtl_seconds,
                match (&p.mismatch, p.reference_ok) {
                    (None, Some(false)) =>
                        "MISMATCH: simulator output differs from the reference".to_string(),
                    (None, _) => "exact".to_string(),
                    (Some(m), _) => format!("MISMATCH: {m}"),
                }
            ));
        }
        for m in &self.models {
            s.push_str(&format!(
                "  model {}: {} of {} offloaded layers ({} of {} command buffers) compared on the RTL; output {} the CPU interpreter's ({:.1} s)\n",
                m.model,
                m.compared_layers,
                m.offloaded_layers,
                m.compared_starts,
                m.total_starts,
                if m.output_matches_cpu() { "equals" } else { "DIFFERS FROM" },
                m.seconds
            ));
        }
        let exact = self.programs.iter().filter(|p| p.ok()).count();
        s.push_str(&format!(
            "  {exact} of {} programs byte-exact and cycle-exact ({:.1} s)\n",
            self.programs.len(),
            self.seconds
        ));
        s
    }
}

/// A GEMM test case.
#[derive(Debug, Clone)]
pub struct GemmCase {
    pub name: String,
    pub problem: GemmProblem,
    /// `None`: `tiling::choose`.
    pub tiling: Option<Tiling>,
}

/// A legal tiling close to `tm x tk x tn` for `cfg`, or `None` if it does not fit.
pub fn forced_tiling(
    cfg: &AccelConfig,
    p: &GemmProblem,
    tm: usize,
    tk: usize,
    tn: usize,
    order: LoopOrder,
) -> Option<Tiling> {
    let (r, c) = (cfg.rows as u64, cfg.cols as u64);
    let (m, k, n) = (p.m as u64, p.k as u64, p.n as u64);
    let round = |x: u64, g: u64, d: u64| (x.max(1).div_ceil(g) * g).min(d);
    let (tm, tk) = match cfg.dataflow {
        Dataflow::OutputStationary => (round(tm as u64, r, m), (tk as u64).clamp(1, k)),
        Dataflow::WeightStationary => ((tm as u64).clamp(1, m), round(tk as u64, r, k)),
        Dataflow::InputStationary => ((tm as u64).clamp(1, m.min(r)), round(tk as u64, c, k)),
    };
    let tn = round(tn as u64, c, n).min(arch::isa::PPU_PARAM_ENTRIES_PER_COL as u64 * c);
    let cap = tiling::Capacity::of(cfg);
    let (a, b, acc) = tiling::footprint(cfg, tm, tk, tn);
    if a > cap.input_half_lines || b > cap.weight_half_lines || acc > cap.acc_half_lines {
        return None;
    }
    Some(Tiling {
        m,
        k,
        n,
        tm,
        tk,
        tn,
        order,
    })
}

fn int8(m: usize, k: usize, n: usize, zp: i32, lo: i32, hi: i32) -> GemmProblem {
    GemmProblem {
        m,
        k,
        n,
        output: Output::Int8 {
            zp_out: zp,
            act_min: lo,
            act_max: hi,
        },
    }
}

/// The fixed coverage set for `cfg`.
pub fn coverage_cases(cfg: &AccelConfig) -> Vec<GemmCase> {
    let (r, c) = (cfg.rows as usize, cfg.cols as usize);
    let mut v = Vec::new();
    let mut add = |name: &str, p: GemmProblem, t: Option<(usize, usize, usize, LoopOrder)>| {
        let tiling = t.and_then(|(tm, tk, tn, o)| forced_tiling(cfg, &p, tm, tk, tn, o));
        v.push(GemmCase {
            name: name.into(),
            problem: p,
            tiling,
        });
    };
    add("single-tile", int8(r, 2 * r + 1, c, 3, -128, 127), None);
    add(
        "double-buffered-m-outer",
        int8(4 * r, 3 * r, 2 * c, -5, -128, 127),
        Some((r, 3 * r, c, LoopOrder::MOuter)),
    );
    add(
        "double-buffered-n-outer",
        int8(3 * r + 1, 2 * r, 3 * c, 7, -100, 100),
        Some((r, 2 * r, c, LoopOrder::NOuter)),
    );
    add(
        "k-split-accumulate",
        int8(2 * r, 5 * r + 3, c, 0, -128, 127),
        Some((2 * r, 2 * r, c, LoopOrder::MOuter)),
    );
    add(
        "n-blocks-one-params",
        int8(r + 1, r + 2, 3 * c + 1, -2, -128, 127),
        None,
    );
    let pe = arch::isa::PPU_PARAM_ENTRIES_PER_COL as usize;
    add(
        "n-beyond-param-ram",
        int8(r, r + 1, pe * c + 3, 1, -128, 127),
        None,
    );
    add(
        "raw-int32",
        GemmProblem {
            m: r + 1,
            k: 2 * r,
            n: c + 2,
            output: Output::Int32,
        },
        None,
    );
    add(
        "raw-int32-k-split",
        GemmProblem {
            m: 2 * r + 1,
            k: 4 * r + 1,
            n: 2 * c + 1,
            output: Output::Int32,
        },
        Some((r, r + 2, c, LoopOrder::MOuter)),
    );
    add("odd-1x1x1", int8(1, 1, 1, 0, -128, 127), None);
    add("odd-clamped", int8(2 * r + 3, 7, c + 5, -7, -20, 90), None);
    add(
        "default-tiling-large",
        int8(16 * r, 24 * r, 12 * c, 4, -128, 127),
        None,
    );
    v
}

/// `count` random GEMMs (shapes, outputs, tilings) from `seed`.
pub fn random_cases(cfg: &AccelConfig, count: usize, seed: u64) -> Vec<GemmCase> {
    let (r, c) = (cfg.rows as i64, cfg.cols as i64);
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|i| {
            let m = rng.range(1, 6 * r) as usize;
            let k = rng.range(1, 8 * r) as usize;
            let n = rng.range(1, 4 * c) as usize;
            let problem = if rng.range(0, 4) == 0 {
                GemmProblem {
                    m,
                    k,
                    n,
                    output: Output::Int32,
                }
            } else {
                let lo = rng.range(-128, 0) as i32;
                let hi = rng.range(lo as i64, 127) as i32;
                int8(m, k, n, rng.range(-128, 127) as i32, lo, hi)
            };
            let tiling = if rng.range(0, 1) == 0 {
                let o = rng.pick(&[LoopOrder::MOuter, LoopOrder::NOuter]);
                forced_tiling(
                    cfg,
                    &problem,
                    rng.range(1, 2 * r) as usize,
                    rng.range(1, 3 * r) as usize,
                    rng.range(1, 2 * c) as usize,
                    o,
                )
            } else {
                None
            };
            GemmCase {
                name: format!("random-{i}"),
                problem,
                tiling,
            }
        })
        .collect()
}

/// Operands of one GEMM, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operands {
    pub a: Vec<i8>,
    pub b: Vec<i8>,
    pub bias: Vec<i32>,
    pub mult: Vec<i32>,
    pub shift: Vec<i32>,
}

impl Operands {
    /// Borrowed view for `driver::gemm`.
    pub fn data(&self) -> GemmData<'_> {
        GemmData {
            a: &self.a,
            b: &self.b,
            bias: &self.bias,
            mult: &self.mult,
            shift: &self.shift,
        }
    }
}

/// Random operands of `p`.
pub fn random_data(p: &GemmProblem, rng: &mut Rng) -> Operands {
    Operands {
        a: (0..p.m * p.k).map(|_| rng.range(-128, 127) as i8).collect(),
        b: (0..p.k * p.n).map(|_| rng.range(-128, 127) as i8).collect(),
        bias: (0..p.n)
            .map(|_| rng.range(-20_000, 20_000) as i32)
            .collect(),
        mult: (0..p.n)
            .map(|_| rng.range(1 << 30, i32::MAX as i64) as i32)
            .collect(),
        shift: (0..p.n).map(|_| rng.range(-12, -4) as i32).collect(),
    }
}

/// Runs one GEMM on `dev` (operands at [`MemLayout::packed`] from 0, the case's tiling),
/// returns the result read back.
pub fn run_gemm_case(
    dev: &mut dyn Device,
    case: &GemmCase,
    d: &GemmData,
) -> Result<(GemmResult, Counters), String> {
    let p = &case.problem;
    let layout = MemLayout::packed(p, 0);
    let Some(t) = case.tiling else {
        return gemm::run(dev, p, d, &layout).map_err(|e| e.to_string());
    };
    let cfg = dev.config().clone();
    let prog = gemm::build_with(&cfg, p, &layout, t).map_err(|e| e.to_string())?;
    let w = |dev: &mut dyn Device, addr: u64, bytes: &[u8]| {
        dev.write_mem(addr, bytes).map_err(|e| e.to_string())
    };
    let a: Vec<u8> = d.a.iter().map(|&x| x as u8).collect();
    let b: Vec<u8> = d.b.iter().map(|&x| x as u8).collect();
    w(dev, layout.a_addr, &a)?;
    w(dev, layout.b_addr, &b)?;
    if let Output::Int8 { .. } = p.output {
        let params = gemm::pack_params(d.bias, d.mult, d.shift).map_err(|e| e.to_string())?;
        w(dev, layout.params_addr, &params)?;
    }
    let counters = dev
        .submit(layout.cmd_addr, &prog.encode())
        .map_err(|e| e.to_string())?;
    let e = p.out_elem_bytes();
    let mut raw = vec![0u8; p.m * p.n * e];
    dev.read_mem(layout.c_addr, &mut raw)
        .map_err(|e| e.to_string())?;
    let result = match p.output {
        Output::Int8 { .. } => GemmResult::Int8(raw.iter().map(|&x| x as i8).collect()),
        Output::Int32 => GemmResult::Int32(
            raw.chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
    };
    Ok((result, counters))
}

fn shape_of(p: &GemmProblem, t: Option<&Tiling>) -> String {
    let out = match p.output {
        Output::Int8 { .. } => "i8",
        Output::Int32 => "i32",
    };
    match t {
        Some(t) => format!("{}x{}x{} {out} t{}x{}x{}", p.m, p.k, p.n, t.tm, t.tk, t.tn),
        None => format!("{}x{}x{} {out}", p.m, p.k, p.n),
    }
}

/// Folds the tee records of one program into a report.
pub fn program_report(
    name: String,
    kind: &'static str,
    shape: String,
    recs: &[&TeeRecord],
) -> ProgramReport {
    let mut sim_c = Counters::default();
    let mut rtl_c = Counters::default();
    let mut mismatch = None;
    let (mut commands, mut mem_bytes) = (0u64, 0u64);
    let (mut ss, mut rs) = (0.0, 0.0);
    for r in recs {
        commands += r.commands as u64;
        mem_bytes += r.mem_bytes;
        ss += r.primary_wall.as_secs_f64();
        rs += r.shadow_wall.as_secs_f64();
        if let Ok(c) = &r.primary {
            sim_c.add(c);
        }
        if let Ok(c) = &r.shadow {
            rtl_c.add(c);
        }
        if mismatch.is_none() && !r.ok() {
            mismatch = Some(if recs.len() > 1 {
                format!(
                    "command buffer {} (start {}): {}",
                    r.label,
                    r.start,
                    r.describe()
                )
            } else {
                r.describe()
            });
        }
    }
    if recs.is_empty() {
        mismatch = Some("no command buffer was compared".into());
    }
    ProgramReport {
        name,
        kind,
        shape,
        starts: recs.len(),
        commands,
        sim_cycles: sim_c.cycles,
        rtl_cycles: rtl_c.cycles,
        mem_bytes,
        sim_counters: sim_c,
        rtl_counters: rtl_c,
        mismatch,
        reference_ok: None,
        sim_seconds: ss,
        rtl_seconds: rs,
    }
}

/// Runs the GEMM cases through a tee of a fresh simulator and `shadow`; one report per
/// case (the result also checked against `driver::gemm::reference`).
pub fn verify_gemms<S: Device>(
    cfg: &AccelConfig,
    shadow: S,
    cases: &[GemmCase],
    seed: u64,
    mem_bytes: usize,
    tick: &mut dyn FnMut(&str),
) -> (Vec<ProgramReport>, S) {
    let sim = SimDevice::new(cfg, Model::Cycle, mem_bytes);
    let mut tee = TeeDevice::new(sim, shadow, None);
    let mut rng = Rng::new(seed ^ 0x5EED_0F6E_33A1);
    let mut reports = Vec::new();
    for case in cases {
        tick(&case.name);
        tee.set_label(case.name.clone());
        let before = tee.records().len();
        let ops = random_data(&case.problem, &mut rng);
        let d = ops.data();
        let got = run_gemm_case(&mut tee, case, &d);
        let recs: Vec<&TeeRecord> = tee.records()[before..].iter().collect();
        let mut rep = program_report(
            case.name.clone(),
            "gemm",
            shape_of(&case.problem, case.tiling.as_ref()),
            &recs,
        );
        match got {
            Ok((res, _)) => {
                rep.reference_ok = Some(gemm::reference(&case.problem, &d).ok() == Some(res));
            }
            Err(e) => {
                if rep.mismatch.is_none() {
                    rep.mismatch = Some(format!("the GEMM failed on the simulator: {e}"));
                }
            }
        }
        reports.push(rep);
    }
    let (_, shadow, _) = tee.into_parts();
    (reports, shadow)
}

/// Deterministic input bytes for `len` bytes.
pub fn seeded_input(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

/// Runs one model with every conv/depthwise/FC layer offloaded (`Policy::All`) through a
/// tee of a simulator and `shadow` that compares the first `spec.layers` offloaded
/// layers; one [`ProgramReport`] per compared layer.
pub fn verify_model<S: Device>(
    cfg: &AccelConfig,
    shadow: S,
    spec: &ModelSpec,
    seed: u64,
    mem_bytes: usize,
) -> Result<(Vec<ProgramReport>, ModelReport, S), HdlError> {
    let t0 = Instant::now();
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        HdlError::Config(format!("model `{}`: {what}: {e}", spec.model))
    };
    let graph = models::resolve(&spec.model).map_err(|e| fail("loading", &e))?;
    let mut interp = runtime::Interpreter::new(&graph).map_err(|e| fail("preparing", &e))?;
    let input = match &spec.input {
        Some(i) => i.clone(),
        None => seeded_input(interp.input_len(), seed),
    };
    let cpu_output = interp
        .invoke(&input)
        .map_err(|e| fail("CPU inference", &e))?;
    let cpu =
        runtime::cost::CpuProfile::resolve("cortex-m4f").map_err(|e| fail("CPU profile", &e))?;
    let prepared: Vec<&runtime::prepare::PreparedOp> = (0..graph.ops.len())
        .filter_map(|i| interp.prepared(i))
        .collect();
    let decisions = delegate::plan(&graph, &prepared, cfg, &cpu, Policy::All);
    let accel: Vec<&delegate::Decision> = decisions
        .iter()
        .filter(|d| d.placement == Placement::Accel)
        .collect();
    let compared_layers = spec.layers.map_or(accel.len(), |k| k.min(accel.len()));
    let compare_starts: usize = accel[..compared_layers].iter().map(|d| d.gemms).sum();
    let total_starts: usize = accel.iter().map(|d| d.gemms).sum();
    let sim = SimDevice::new(cfg, Model::Cycle, mem_bytes);
    let mut tee = TeeDevice::new(sim, shadow, Some(compare_starts));
    tee.set_label(spec.model.clone());
    let est = |c: &AccelConfig, m: u64, k: u64, n: u64| sim::tile::estimate_gemm(c, m, k, n).ok();
    let run = delegate::run_model_with(&mut interp, &mut tee, &cpu, Policy::All, &est, &input)
        .map_err(|e| fail("offloaded inference", &e))?;
    let (_, shadow, records) = tee.into_parts();
    let layer_names: Vec<(usize, String)> = interp
        .layers()
        .iter()
        .map(|l| (l.index, l.op.to_string()))
        .collect();
    let mut reports = Vec::new();
    let mut start = 0usize;
    for d in &accel[..compared_layers] {
        let recs: Vec<&TeeRecord> = records
            .iter()
            .filter(|r| r.start >= start && r.start < start + d.gemms)
            .collect();
        start += d.gemms;
        let op = layer_names
            .iter()
            .find(|(i, _)| *i == d.index)
            .map_or(d.op.to_string(), |(_, o)| o.clone());
        reports.push(program_report(
            format!("{} layer {}", spec.model, d.index),
            "layer",
            format!("{op}, {} GEMMs", d.gemms),
            &recs,
        ));
    }
    let model = ModelReport {
        model: spec.model.clone(),
        offloaded_layers: accel.len(),
        compared_layers,
        compared_starts: records.len(),
        total_starts,
        output: run.output,
        cpu_output,
        seconds: t0.elapsed().as_secs_f64(),
    };
    Ok((reports, model, shadow))
}

/// The whole `verify --system` run on `cfg`.
pub fn verify_system(cfg: &AccelConfig, opts: &Options) -> Result<SystemReport, HdlError> {
    let t0 = Instant::now();
    let bar = if opts.progress_bar {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_message(format!(
        "{}: building the system RTL in Verilator (cache {})",
        cfg.name,
        crate::verilator::cache_root().join("system").display()
    ));
    bar.enable_steady_tick(Duration::from_millis(200));
    let model: SysModel = sysflow::build(cfg, opts.mem_bytes as u64)?;
    let mut cases = Vec::new();
    if opts.coverage {
        cases.extend(coverage_cases(cfg));
    }
    cases.extend(random_cases(cfg, opts.random_programs, opts.seed));
    let total = (cases.len() + opts.models.len()) as u64;
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_length(total);
    let rtl = RtlDevice::with_model(model.clone());
    let mut tick = |name: &str| {
        bar.set_message(format!("{}: {name}", cfg.name));
        bar.inc(1);
    };
    let (mut programs, rtl) = verify_gemms(cfg, rtl, &cases, opts.seed, opts.mem_bytes, &mut tick);
    let (mut runs, mut cycles, mut wall) = rtl.rtl_totals();
    drop(rtl);
    let mut models = Vec::new();
    for spec in &opts.models {
        tick(&format!("model {}", spec.model));
        let rtl = RtlDevice::with_model(model.clone());
        let (reps, m, rtl) = verify_model(cfg, rtl, spec, opts.seed, opts.mem_bytes)?;
        let (r, c, w) = rtl.rtl_totals();
        runs += r;
        cycles += c;
        wall += w;
        programs.extend(reps);
        models.push(m);
    }
    bar.finish_and_clear();
    Ok(SystemReport {
        config: cfg.clone(),
        seed: opts.seed,
        mem_bytes: opts.mem_bytes,
        built: model.built,
        build_seconds: model.build_seconds,
        binary: model.binary.display().to_string(),
        programs,
        models,
        rtl_runs: runs,
        rtl_cycles: cycles,
        rtl_seconds: wall.as_secs_f64(),
        seconds: t0.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(preset: &str, df: Dataflow) -> AccelConfig {
        let mut c = AccelConfig::preset(preset).unwrap();
        c.dataflow = df;
        c
    }

    const MEM: usize = 1 << 20;

    #[test]
    fn coverage_and_random_cases_build() {
        for preset in ["tiny-4x4", "edge-8x8"] {
            for df in [Dataflow::OutputStationary, Dataflow::WeightStationary] {
                let c = cfg(preset, df);
                let cases: Vec<GemmCase> = coverage_cases(&c)
                    .into_iter()
                    .chain(random_cases(&c, 20, 3))
                    .collect();
                let mut forced = 0;
                for case in &cases {
                    let layout = MemLayout::packed(&case.problem, 0);
                    let prog = match case.tiling {
                        Some(t) => {
                            forced += 1;
                            gemm::build_with(&c, &case.problem, &layout, t)
                        }
                        None => gemm::build(&c, &case.problem, &layout),
                    }
                    .unwrap_or_else(|e| panic!("{preset} {df} {}: {e}", case.name));
                    assert!(prog.mem_end() < MEM as u64, "{}", case.name);
                }
                assert!(forced >= 5, "{preset} {df}: {forced} forced tilings");
                // The coverage set has a K split, several N tiles and several M/N tiles.
                let cov = coverage_cases(&c);
                let tiling = |name: &str| {
                    let k = cov.iter().find(|x| x.name == name).unwrap();
                    k.tiling.unwrap_or_else(|| {
                        tiling::choose(
                            &c,
                            k.problem.m as u64,
                            k.problem.k as u64,
                            k.problem.n as u64,
                        )
                        .unwrap()
                    })
                };
                assert!(tiling("k-split-accumulate").n_k() > 1);
                assert!(tiling("n-beyond-param-ram").n_j() > 1);
                let t = tiling("double-buffered-m-outer");
                assert!(t.n_i() * t.n_j() >= 4);
            }
        }
    }

    #[test]
    fn tee_of_two_simulators_agrees() {
        let c = cfg("tiny-4x4", Dataflow::WeightStationary);
        let shadow = SimDevice::new(&c, Model::Cycle, MEM);
        let mut cases = coverage_cases(&c);
        cases.retain(|k| k.name != "default-tiling-large");
        cases.extend(random_cases(&c, 4, 9));
        let (reps, _) = verify_gemms(&c, shadow, &cases, 1, MEM, &mut |_| {});
        assert_eq!(reps.len(), cases.len());
        for r in &reps {
            assert!(r.ok(), "{}: {:?}", r.name, r.mismatch);
            assert_eq!(r.starts, 1);
            assert!(r.sim_cycles > 0 && r.sim_cycles == r.rtl_cycles);
            assert!(r.mem_bytes > 0);
            assert_eq!(r.reference_ok, Some(true), "{}", r.name);
        }
    }

    #[test]
    fn tee_detects_counter_memory_and_error_differences() {
        let c = cfg("tiny-4x4", Dataflow::OutputStationary);
        // A slower bus: same bytes, different cycles.
        let mut slow = c.clone();
        slow.bus_latency_cycles += 3;
        let case = &coverage_cases(&c)[1];
        let (reps, _) = verify_gemms(
            &c,
            SimDevice::new(&slow, Model::Cycle, MEM),
            std::slice::from_ref(case),
            1,
            MEM,
            &mut |_| {},
        );
        let m = reps[0].mismatch.as_deref().expect("cycles differ");
        assert!(m.contains("counter cycles differs"), "{m}");
        assert_eq!(reps[0].reference_ok, Some(true));

        // A corrupted shadow image: the flipped operand byte is reported.
        let p = case.problem;
        let layout = MemLayout::packed(&p, 0);
        let mut tee = TeeDevice::new(
            SimDevice::new(&c, Model::Cycle, MEM),
            SimDevice::new(&c, Model::Cycle, MEM),
            None,
        );
        tee.corrupt_next_shadow_image(layout.a_addr + 5);
        let mut rng = Rng::new(4);
        let ops = random_data(&p, &mut rng);
        let d = ops.data();
        run_gemm_case(&mut tee, case, &d).unwrap();
        let r = &tee.records()[0];
        let md = r.mem_diff.expect("memory differs");
        assert_eq!(md.addr, layout.a_addr + 5);
        assert!(md.count > 1, "the corrupted operand changes the output too");
        assert!(r.describe().contains("memory differs at"));

        // Only the first `compare_starts` starts are compared.
        let mut tee = TeeDevice::new(
            SimDevice::new(&c, Model::Cycle, MEM),
            SimDevice::new(&c, Model::Cycle, MEM),
            Some(1),
        );
        run_gemm_case(&mut tee, case, &d).unwrap();
        run_gemm_case(&mut tee, case, &d).unwrap();
        assert_eq!((tee.starts(), tee.records().len()), (2, 1));

        // Same error on both: agreement; the error index is compared.
        let mut tee = TeeDevice::new(
            SimDevice::new(&c, Model::Cycle, MEM),
            SimDevice::new(&c, Model::Cycle, MEM),
            None,
        );
        let bad = [0xEEu8; 32];
        assert!(tee.submit(0, &bad).is_err());
        assert!(tee.records()[0].ok(), "{}", tee.records()[0].describe());
    }

    #[test]
    fn model_layers_map_to_starts() {
        let c = cfg("tiny-4x4", Dataflow::OutputStationary);
        let spec = ModelSpec {
            model: "ad".into(),
            layers: Some(2),
            input: None,
        };
        let shadow = SimDevice::new(&c, Model::Cycle, sim::device::DEFAULT_MEM_BYTES);
        let (reps, m, _) =
            verify_model(&c, shadow, &spec, 5, sim::device::DEFAULT_MEM_BYTES).unwrap();
        assert_eq!(reps.len(), 2);
        assert!(m.offloaded_layers > 2);
        assert_eq!(m.compared_layers, 2);
        assert!(m.output_matches_cpu());
        for r in &reps {
            assert!(r.ok() && r.starts >= 1 && r.sim_cycles > 0, "{r:?}");
        }
        assert_eq!(
            m.compared_starts,
            reps.iter().map(|r| r.starts).sum::<usize>()
        );
    }
}
