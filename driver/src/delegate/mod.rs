//! The accelerator delegate, in the shape of a TFLite-Micro NPU delegate.
//!
//! 1. **Partition** ([`plan`]): every op of the graph gets a target, CPU or accelerator,
//!    with the reason. The accelerator takes CONV_2D, DEPTHWISE_CONV_2D and
//!    FULLY_CONNECTED with int8 activations, int8 weights with zero weight zero point and
//!    int32 bias; under [`Policy::Auto`] a layer is kept on the CPU when the CPU kernel is
//!    estimated to be faster than accelerator + driver.
//! 2. **Load** ([`AccelDelegate::load`]): weights are packed once into the accelerator's
//!    `K x N` layout ([`crate::lower`]), the input zero point is folded into the bias, and
//!    every GEMM's command stream is built and written to device memory. The CPU cost of
//!    packing is reported separately ([`LoadReport`]), not hidden in inference time.
//! 3. **Invoke**: as the runtime's [`OpExecutor`], the delegate runs each offloaded op on
//!    the device: im2col on the CPU (charged to the CPU profile; none for 1x1 stride-1 convs
//!    and fully connected layers, whose activations are used in place), a few register
//!    writes to start the command stream, and a wait for completion. The output is read
//!    from device memory, i.e. computed by the accelerator from the command stream.
//!
//! The driver talks to the accelerator only through [`arch::device::Device`], so the
//! simulator and the RTL are interchangeable.
//!
//! ## Cost of the driver itself (documented assumptions)
//! - [`DRIVER_LAYER_CYCLES`] CPU cycles per offloaded layer (delegate dispatch, pointer and
//!   size set-up), [`DRIVER_SUBMIT_CYCLES`] per command-stream submission (three
//!   memory-mapped register writes, a status poll and the completion check, each an AHB/APB
//!   access of a few wait states, plus the call).
//! - While the accelerator runs, the CPU sleeps in WFI at [`SLEEP_POWER_FRACTION`] of its
//!   active power (STM32L4 and STM32F7 datasheets give Sleep-mode current per MHz at roughly
//!   a quarter to a third of Run-mode current with peripherals off).
//! - The accelerator leaks ([`arch::AccelConfig::leakage_uw`]) during the whole inference,
//!   also while the CPU runs layers or the driver: that leakage is charged to those layers.

use std::collections::BTreeMap;

use arch::device::{reg, Counters, Device, DeviceError, EnergyBreakdown};
use arch::isa::{self, COMMAND_BYTES};
use arch::AccelConfig;
use models::{DType, Graph, OpKind};
use runtime::cost::{op_shape, CpuProfile, OpShape};
use runtime::{OpContext, OpExecutor, PreparedOp};
use serde::Serialize;

use crate::gemm::{self, GemmProblem, MemLayout, Output};
use crate::lower::{self, ConvGeom};
use crate::tiling;

/// CPU cycles of the driver per offloaded layer.
pub const DRIVER_LAYER_CYCLES: u64 = 200;
/// CPU cycles of the driver per command-stream submission.
pub const DRIVER_SUBMIT_CYCLES: u64 = 60;
/// CPU power while waiting for the accelerator, as a fraction of its active power.
pub const SLEEP_POWER_FRACTION: f64 = 0.3;
/// Largest device memory the delegate will ask for.
pub const MAX_DEVICE_MEM: u64 = 1 << 30;

/// Which layers to offload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// Offload a supported layer when the accelerator (with driver and im2col) is
    /// estimated faster than the CPU kernel.
    #[default]
    Auto,
    /// Offload every supported layer (for testing the accelerator on every layer).
    All,
    /// Offload nothing (the pure-CPU run through the same accounting).
    None,
}

impl std::str::FromStr for Policy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Policy::Auto),
            "all" => Ok(Policy::All),
            "none" => Ok(Policy::None),
            o => Err(format!("unknown offload policy `{o}` (auto, all, none)")),
        }
    }
}

/// Where a layer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Cpu,
    Accel,
}

impl Target {
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Cpu => "cpu",
            Target::Accel => "accel",
        }
    }
}

/// The partition decision for one op.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub index: usize,
    pub op: &'static str,
    pub target: Target,
    pub reason: String,
    /// GEMMs the layer lowers to (0 on the CPU).
    pub gemms: usize,
}

/// Errors of the delegate.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("model `{model}`, layer {index} ({op}): {reason}")]
    Layer {
        model: String,
        index: usize,
        op: &'static str,
        reason: String,
    },
    /// The inference itself failed (e.g. a wrong-size input); the runtime's message names
    /// the op or input at fault.
    #[error("model `{model}`: {reason}")]
    Run { model: String, reason: String },
    #[error("device: {0}")]
    Device(#[from] DeviceError),
    #[error("the offloaded layers need {need} bytes of device memory, more than the limit of {MAX_DEVICE_MEM}")]
    Memory { need: u64 },
    #[error(transparent)]
    Gemm(#[from] gemm::GemmError),
}

/// How one op is lowered.
#[derive(Debug, Clone)]
enum Lowering {
    /// Conv: im2col (unless pointwise) then one GEMM per image.
    Conv { geom: ConvGeom, pointwise: bool },
    /// Depthwise: one `M x K x 1` GEMM per (image, output channel).
    Depthwise {
        geom: ConvGeom,
        out_c: usize,
        mult: usize,
    },
    /// Fully connected: one GEMM.
    Fc,
}

/// Static shape of the GEMMs of one op.
#[derive(Debug, Clone, Copy)]
struct Shape {
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
    /// GEMMs per image (out_c for depthwise, 1 otherwise).
    per_image: usize,
}

/// A GEMM prepared at load time: its problem, addresses and command buffer.
#[derive(Debug, Clone)]
pub struct Job {
    pub problem: GemmProblem,
    pub layout: MemLayout,
    pub commands: u32,
}

#[derive(Debug, Clone)]
struct Offloaded {
    lowering: Lowering,
    shape: Shape,
    pad_value: i8,
    jobs: Vec<Job>,
}

/// What loading cost (reported apart from inference).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LoadReport {
    /// Weight and parameter bytes packed and written to device memory.
    pub packed_bytes: u64,
    /// Command-stream bytes written to device memory.
    pub command_bytes: u64,
    /// CPU cycles of the packing on the CPU profile (a byte copy per packed byte).
    pub pack_cpu_cycles: u64,
    /// The same in microseconds.
    pub pack_us: f64,
    /// Device memory used.
    pub device_mem_bytes: u64,
}

/// Per-layer result of one inference with offload.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LayerRun {
    pub index: usize,
    pub target: String,
    /// Accelerator counters summed over the layer's GEMMs.
    pub counters: Counters,
    /// Accelerator energy (dynamic + leakage while running).
    pub accel_energy: EnergyBreakdown,
    /// CPU cycles: the whole layer on the CPU, or im2col for an offloaded layer.
    pub cpu_cycles: u64,
    /// CPU cycles spent in the driver (set-up, submission, completion).
    pub driver_cycles: u64,
    /// Time on each side and in total, microseconds.
    pub accel_us: f64,
    pub cpu_us: f64,
    pub driver_us: f64,
    pub total_us: f64,
    /// Energy, microjoules: accelerator (dynamic + leakage while busy), CPU (active and
    /// sleeping while waiting), accelerator leakage while the CPU works.
    pub accel_uj: f64,
    pub cpu_uj: f64,
    pub idle_leakage_uj: f64,
    pub total_uj: f64,
    pub utilization: f64,
}

/// Counters of one `m x k x n` int8 GEMM on a design, or `None` when it does not fit: how
/// the `auto` policy judges a layer. The simulator's tile-level model
/// (`sim::tile::estimate_gemm`) is the accurate one; [`rank_estimate`] is the driver's own
/// cheap ranking estimate (cycles only), used when no model is passed.
pub type GemmEstimator<'a> = &'a (dyn Fn(&AccelConfig, u64, u64, u64) -> Option<Counters> + Sync);

/// The tiling's ranking estimate as [`Counters`] (only `cycles` is set).
pub fn rank_estimate(cfg: &AccelConfig, m: u64, k: u64, n: u64) -> Option<Counters> {
    let t = tiling::choose(cfg, m, k, n).ok()?;
    Some(Counters {
        cycles: tiling::estimate(cfg, &t),
        ..Default::default()
    })
}

/// Design-independent facts about one op: its pure-CPU cost and how it would be lowered
/// (or why it cannot be).
#[derive(Debug, Clone)]
pub struct LayerFacts {
    pub index: usize,
    pub op: &'static str,
    /// Pure-CPU cycles, microseconds and microjoules of the op's kernel.
    pub cpu_cycles: u64,
    pub cpu_us: f64,
    pub cpu_uj: f64,
    lowering: Result<(Lowering, Shape), String>,
    /// im2col cycles on the CPU when offloaded.
    prep_cycles: u64,
}

/// Design-independent facts about a model on one CPU profile: what [`plan`] and
/// [`estimate_model`] start from (computed once per model, reused for every design).
#[derive(Debug, Clone)]
pub struct ModelFacts {
    pub model: String,
    pub cpu: CpuProfile,
    pub layers: Vec<LayerFacts>,
}

impl ModelFacts {
    /// Collects the facts of every op of `graph` (`prepared[i]` is op `i` prepared).
    pub fn new(graph: &Graph, prepared: &[&PreparedOp], cpu: &CpuProfile) -> Self {
        let layers = (0..graph.ops.len())
            .map(|i| {
                let c = op_shape(graph, i).map(|s| cpu.layer_cost(&s)).ok();
                let lowering = lowering_of(graph, prepared[i], i);
                let prep_cycles = match &lowering {
                    Ok((l, s)) => prep_cpu_cycles(cpu, l, s),
                    Err(_) => 0,
                };
                LayerFacts {
                    index: i,
                    op: graph.ops[i].name(),
                    cpu_cycles: c.as_ref().map_or(0, |c| c.cycles),
                    cpu_us: c.as_ref().map_or(0.0, |c| c.time_us),
                    cpu_uj: c.as_ref().map_or(0.0, |c| c.energy_uj),
                    lowering,
                    prep_cycles,
                }
            })
            .collect();
        ModelFacts {
            model: graph.name.clone(),
            cpu: cpu.clone(),
            layers,
        }
    }

    /// Pure-CPU latency of the whole model, microseconds.
    pub fn cpu_us(&self) -> f64 {
        self.layers.iter().map(|l| l.cpu_us).sum()
    }

    /// Pure-CPU energy of the whole model, microjoules.
    pub fn cpu_uj(&self) -> f64 {
        self.layers.iter().map(|l| l.cpu_uj).sum()
    }
}

/// Partitions `graph`: which ops go to the accelerator and why.
pub fn plan(
    graph: &Graph,
    prepared: &[&PreparedOp],
    cfg: &AccelConfig,
    cpu: &CpuProfile,
    policy: Policy,
) -> Vec<Decision> {
    let facts = ModelFacts::new(graph, prepared, cpu);
    facts
        .layers
        .iter()
        .map(|f| decide(f, cfg, cpu.clock_mhz(), policy, &rank_estimate))
        .collect()
}

fn decide(
    f: &LayerFacts,
    cfg: &AccelConfig,
    cpu_mhz: f64,
    policy: Policy,
    est: GemmEstimator,
) -> Decision {
    let cpu_dec = |reason: String| Decision {
        index: f.index,
        op: f.op,
        target: Target::Cpu,
        reason,
        gemms: 0,
    };
    let (lowering, shape) = match &f.lowering {
        Ok(x) => x,
        Err(reason) => return cpu_dec(reason.clone()),
    };
    if policy == Policy::None {
        return cpu_dec("offload disabled (policy none)".into());
    }
    let t = match tiling::choose(cfg, shape.m as u64, shape.k as u64, shape.n as u64) {
        Ok(t) => t,
        Err(e) => return cpu_dec(format!("does not fit the accelerator: {e}")),
    };
    let gemms = shape.batch * shape.per_image;
    if policy == Policy::Auto {
        let per_gemm = est(cfg, shape.m as u64, shape.k as u64, shape.n as u64)
            .map_or_else(|| tiling::estimate(cfg, &t), |c| c.cycles);
        let accel_cycles = per_gemm * gemms as u64;
        let cpu_side = f.prep_cycles + DRIVER_LAYER_CYCLES + DRIVER_SUBMIT_CYCLES * gemms as u64;
        let accel_us = cfg.cycles_to_us(accel_cycles) + cpu_side as f64 / cpu_mhz;
        if accel_us >= f.cpu_us {
            return cpu_dec(format!(
                "cheaper on CPU (estimated {:.1} us on CPU vs {accel_us:.1} us offloaded)",
                f.cpu_us
            ));
        }
    }
    let why = match lowering {
        Lowering::Conv {
            pointwise: true, ..
        } => "1x1 conv as GEMM".to_string(),
        Lowering::Conv { .. } => "conv as GEMM after im2col".to_string(),
        Lowering::Depthwise { out_c, .. } => {
            format!(
                "depthwise as {out_c} single-column GEMMs (at most 1/{} of the array busy)",
                cfg.cols
            )
        }
        Lowering::Fc => "fully connected as GEMM".to_string(),
    };
    Decision {
        index: f.index,
        op: f.op,
        target: Target::Accel,
        reason: why,
        gemms,
    }
}

/// Accounting of an offloaded layer from its accelerator counters, im2col cycles and
/// number of submissions (shared by the simulated run and the fast estimate).
fn account(
    cfg: &AccelConfig,
    cpu: &CpuProfile,
    index: usize,
    counters: Counters,
    prep_cycles: u64,
    submissions: u64,
) -> LayerRun {
    let driver_cycles = DRIVER_LAYER_CYCLES + DRIVER_SUBMIT_CYCLES * submissions;
    let energy = EnergyBreakdown::from_counters(cfg, &counters);
    let accel_us = cfg.cycles_to_us(counters.cycles);
    let cpu_us = prep_cycles as f64 / cpu.clock_mhz();
    let driver_us = driver_cycles as f64 / cpu.clock_mhz();
    let p_mw = cpu.power_mw();
    // mW * us = nJ; / 1000 = uJ.
    let cpu_uj =
        p_mw * (cpu_us + driver_us) / 1000.0 + p_mw * SLEEP_POWER_FRACTION * accel_us / 1000.0;
    let idle_leakage_uj = cfg.leakage_uw() * (cpu_us + driver_us) / 1e6;
    let accel_uj = energy.total_pj / 1e6;
    LayerRun {
        index,
        target: "accel".into(),
        utilization: counters.utilization(cfg),
        counters,
        accel_energy: energy,
        cpu_cycles: prep_cycles,
        driver_cycles,
        accel_us,
        cpu_us,
        driver_us,
        total_us: accel_us + cpu_us + driver_us,
        accel_uj,
        cpu_uj,
        idle_leakage_uj,
        total_uj: accel_uj + cpu_uj + idle_leakage_uj,
    }
}

/// A layer that stays on the CPU in the offloaded run: the CPU kernel's cycles and energy
/// plus the accelerator's leakage meanwhile.
fn cpu_layer(cfg: &AccelConfig, f: &LayerFacts) -> LayerRun {
    let idle_leakage_uj = cfg.leakage_uw() * f.cpu_us / 1e6;
    LayerRun {
        index: f.index,
        target: "cpu".into(),
        cpu_cycles: f.cpu_cycles,
        cpu_us: f.cpu_us,
        total_us: f.cpu_us,
        cpu_uj: f.cpu_uj,
        idle_leakage_uj,
        total_uj: f.cpu_uj + idle_leakage_uj,
        ..Default::default()
    }
}

/// The fast estimate of one offloaded inference for a design: the same partition and
/// accounting as a simulated run, with each GEMM's counters from `gemm_counters`
/// (the simulator's tile-level model). Used by sweeps.
pub fn estimate_model(
    facts: &ModelFacts,
    cfg: &AccelConfig,
    policy: Policy,
    gemm_counters: impl Fn(&AccelConfig, u64, u64, u64) -> Option<Counters> + Sync,
) -> Vec<LayerRun> {
    facts
        .layers
        .iter()
        .map(|f| {
            let d = decide(f, cfg, facts.cpu.clock_mhz(), policy, &gemm_counters);
            match (&f.lowering, d.target) {
                (Ok((_, s)), Target::Accel) => {
                    match gemm_counters(cfg, s.m as u64, s.k as u64, s.n as u64) {
                        Some(c) => {
                            let n = (s.batch * s.per_image) as u64;
                            account(cfg, &facts.cpu, f.index, c.scaled(n), f.prep_cycles, n)
                        }
                        None => cpu_layer(cfg, f),
                    }
                }
                _ => cpu_layer(cfg, f),
            }
        })
        .collect()
}

/// The lowering of an op, or why it cannot be offloaded.
fn lowering_of(
    graph: &Graph,
    prepared: &PreparedOp,
    index: usize,
) -> Result<(Lowering, Shape), String> {
    let op = &graph.ops[index];
    if !matches!(
        op.kind,
        OpKind::Conv2d(_) | OpKind::DepthwiseConv2d(_) | OpKind::FullyConnected { .. }
    ) {
        return Err("op not supported by the accelerator (runs on the CPU kernels)".into());
    }
    let tensor = |slot: usize| op.input(slot).map(|t| &graph.tensors[t]);
    let input = tensor(0).ok_or("no input tensor")?;
    let weights = tensor(1).ok_or("no weight tensor")?;
    if input.dtype != DType::I8 {
        return Err(format!(
            "unsupported input type {} (the accelerator is int8)",
            input.dtype.name()
        ));
    }
    if weights.dtype != DType::I8 || !weights.is_const() {
        return Err("weights are not constant int8".into());
    }
    if let Some(b) = tensor(2) {
        if b.dtype != DType::I32 {
            return Err(format!("unsupported bias type {}", b.dtype.name()));
        }
    }
    let geom_of = |g: &runtime::ConvGeometry| ConvGeom {
        in_h: g.input[1],
        in_w: g.input[2],
        in_c: g.input[3],
        out_h: g.output[1],
        out_w: g.output[2],
        k_h: g.filter[1],
        k_w: g.filter[2],
        stride_h: g.stride_h,
        stride_w: g.stride_w,
        dil_h: g.dilation_h,
        dil_w: g.dilation_w,
        pad_top: g.pad_top,
        pad_left: g.pad_left,
    };
    match (&op.kind, prepared) {
        (OpKind::Conv2d(_), PreparedOp::Conv { geom, quant }) => {
            if quant.filter_zero_point != 0 {
                return Err("unsupported option: non-zero weight zero point".into());
            }
            if geom.filter[3] != geom.input[3] {
                return Err(format!(
                    "unsupported option: grouped convolution (filter depth {} of input depth {})",
                    geom.filter[3], geom.input[3]
                ));
            }
            let g = geom_of(geom);
            Ok((
                Lowering::Conv {
                    geom: g,
                    pointwise: g.is_pointwise(),
                },
                Shape {
                    batch: geom.input[0],
                    m: g.m(),
                    k: g.k(),
                    n: geom.output[3],
                    per_image: 1,
                },
            ))
        }
        (OpKind::DepthwiseConv2d(_), PreparedOp::Depthwise { geom, quant }) => {
            if quant.filter_zero_point != 0 {
                return Err("unsupported option: non-zero weight zero point".into());
            }
            let g = geom_of(geom);
            Ok((
                Lowering::Depthwise {
                    geom: g,
                    out_c: geom.output[3],
                    mult: geom.depth_multiplier.max(1),
                },
                Shape {
                    batch: geom.input[0],
                    m: g.m(),
                    k: g.k_h * g.k_w,
                    n: 1,
                    per_image: geom.output[3],
                },
            ))
        }
        (OpKind::FullyConnected { .. }, PreparedOp::FullyConnected { geom, quant }) => {
            if quant.filter_zero_point != 0 {
                return Err("unsupported option: non-zero weight zero point".into());
            }
            Ok((
                Lowering::Fc,
                Shape {
                    batch: 1,
                    m: geom.batches,
                    k: geom.depth,
                    n: geom.units,
                    per_image: 1,
                },
            ))
        }
        _ => Err("op not supported by the accelerator (runs on the CPU kernels)".into()),
    }
}

/// CPU cycles of the im2col of one layer (all images), or 0 when none is needed.
fn prep_cpu_cycles(cpu: &CpuProfile, lowering: &Lowering, shape: &Shape) -> u64 {
    let bytes = match lowering {
        Lowering::Conv {
            pointwise: true, ..
        }
        | Lowering::Fc => return 0,
        Lowering::Conv { geom, .. } => geom.m() * geom.k() * shape.batch,
        Lowering::Depthwise { geom, out_c, .. } => {
            geom.m() * geom.k_h * geom.k_w * out_c * shape.batch
        }
    } as u64;
    // im2col is a gather of `bytes` bytes with padding fill: the PAD kernel's cost shape.
    let c = cpu.layer_cost(&OpShape::Pad {
        in_bytes: bytes,
        out_bytes: bytes,
    });
    c.cycles - c.breakdown.call.ceil() as u64
}

fn align(x: u64, a: u64) -> u64 {
    x.div_ceil(a) * a
}

/// One job's packed weights (`K x N`), folded bias, multipliers and shifts.
type PackedColumns = (Vec<i8>, Vec<i32>, Vec<i32>, Vec<i32>);

/// The accelerator delegate: an [`OpExecutor`] that runs the offloaded layers on a
/// [`Device`] and accounts for their time and energy.
pub struct AccelDelegate<'d> {
    dev: &'d mut dyn Device,
    cfg: AccelConfig,
    cpu: CpuProfile,
    model: String,
    decisions: Vec<Decision>,
    offloaded: BTreeMap<usize, Offloaded>,
    a_region: u64,
    c_region: u64,
    load: LoadReport,
    runs: BTreeMap<usize, LayerRun>,
}

impl std::fmt::Debug for AccelDelegate<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccelDelegate")
            .field("model", &self.model)
            .field("config", &self.cfg.name)
            .finish()
    }
}

/// Device memory the delegate needs for `decisions` (call before creating the device).
pub fn device_mem_needed(graph: &Graph, prepared: &[&PreparedOp], decisions: &[Decision]) -> u64 {
    layout_plan(graph, prepared, decisions).2
}

/// Sizes of the regions: (weights and parameters, largest A, total without commands).
fn layout_plan(graph: &Graph, prepared: &[&PreparedOp], decisions: &[Decision]) -> (u64, u64, u64) {
    let mut weights = 0u64;
    let mut a_max = 0u64;
    let mut c_max = 0u64;
    for d in decisions.iter().filter(|d| d.target == Target::Accel) {
        if let Ok((_, s)) = lowering_of(graph, prepared[d.index], d.index) {
            let jobs = (s.batch * s.per_image) as u64;
            weights += jobs * align((s.k * s.n) as u64, 64)
                + jobs * align(s.n as u64 * isa::PARAM_RECORD_BYTES as u64, 64);
            a_max = a_max.max(align((s.m * s.k) as u64, 64));
            c_max = c_max.max(align((s.m * s.n * s.per_image) as u64, 64));
        }
    }
    (weights, a_max, weights + a_max + c_max)
}

impl<'d> AccelDelegate<'d> {
    /// Packs weights, builds every command stream and writes them to `dev`.
    pub fn load(
        graph: &Graph,
        prepared: &[&PreparedOp],
        decisions: Vec<Decision>,
        dev: &'d mut dyn Device,
        cpu: &CpuProfile,
    ) -> Result<Self, DriverError> {
        let cfg = dev.config().clone();
        let (weights_end, a_max, _) = layout_plan(graph, prepared, &decisions);
        let a_region = align(weights_end, 64);
        let c_region = align(a_region + a_max, 64);
        let c_max = decisions
            .iter()
            .filter(|d| d.target == Target::Accel)
            .filter_map(|d| lowering_of(graph, prepared[d.index], d.index).ok())
            .map(|(_, s)| align((s.m * s.n * s.per_image) as u64, 64))
            .max()
            .unwrap_or(0);
        let mut cmd_cursor = align(c_region + c_max, 64);
        let mut w_cursor = 0u64;
        let mut offloaded = BTreeMap::new();
        let mut load = LoadReport::default();
        let model = graph.name.clone();
        for d in decisions.iter().filter(|d| d.target == Target::Accel) {
            let op = &graph.ops[d.index];
            let layer_err = |reason: String| DriverError::Layer {
                model: model.clone(),
                index: d.index,
                op: op.name(),
                reason,
            };
            let p = prepared[d.index];
            let (lowering, shape) = lowering_of(graph, p, d.index).map_err(&layer_err)?;
            let quant = p
                .quant()
                .ok_or_else(|| layer_err("no quantization parameters".into()))?;
            let filter = op
                .input(1)
                .and_then(|t| graph.tensors[t].data.as_ref())
                .ok_or_else(|| layer_err("weights have no data".into()))?;
            let filter: Vec<i8> = filter.iter().map(|&b| b as i8).collect();
            let zp_in = quant.input_zero_point;
            let pad_value = zp_in.clamp(-128, 127) as i8;
            // Pack the weight columns of every job.
            let mut columns: Vec<PackedColumns> = Vec::new();
            match &lowering {
                Lowering::Conv { .. } | Lowering::Fc => {
                    let b = lower::pack_ohwi(&filter, shape.n, shape.k);
                    let bias = lower::fold_bias(Some(&quant.bias), &b, shape.k, shape.n, zp_in);
                    for _ in 0..shape.batch {
                        columns.push((
                            b.clone(),
                            bias.clone(),
                            quant.multipliers.clone(),
                            quant.shifts.clone(),
                        ));
                    }
                }
                Lowering::Depthwise { out_c, .. } => {
                    for _ in 0..shape.batch {
                        for oc in 0..*out_c {
                            let b = lower::depthwise_column(&filter, *out_c, shape.k, oc);
                            let bias = lower::fold_bias(
                                Some(&quant.bias[oc..oc + 1]),
                                &b,
                                shape.k,
                                1,
                                zp_in,
                            );
                            columns.push((
                                b,
                                bias,
                                vec![quant.multipliers[oc]],
                                vec![quant.shifts[oc]],
                            ));
                        }
                    }
                }
            }
            let mut jobs = Vec::with_capacity(columns.len());
            let out_c = shape.n * shape.per_image;
            for (j, (b, bias, mult, shift)) in columns.iter().enumerate() {
                let problem = GemmProblem {
                    m: shape.m,
                    k: shape.k,
                    n: shape.n,
                    output: Output::Int8 {
                        zp_out: quant.output_zero_point,
                        act_min: quant.act_min,
                        act_max: quant.act_max,
                    },
                };
                let b_addr = w_cursor;
                w_cursor = align(w_cursor + b.len() as u64, 64);
                let params_addr = w_cursor;
                let params = gemm::pack_params(bias, mult, shift)?;
                w_cursor = align(w_cursor + params.len() as u64, 64);
                // Depthwise outputs go straight to their channel of the NHWC output.
                let (c_addr, c_stride) = match lowering {
                    Lowering::Depthwise { .. } => {
                        (c_region + (j % shape.per_image) as u64, out_c as u64)
                    }
                    _ => (c_region, shape.n as u64),
                };
                let layout = MemLayout {
                    a_addr: a_region,
                    a_stride: shape.k as u64,
                    b_addr,
                    b_stride: shape.n as u64,
                    params_addr,
                    c_addr,
                    c_stride,
                    cmd_addr: cmd_cursor,
                };
                let prog =
                    gemm::build(&cfg, &problem, &layout).map_err(|e| layer_err(e.to_string()))?;
                let bytes = prog.encode();
                let need = cmd_cursor + bytes.len() as u64;
                if need > dev.mem_size() {
                    return Err(DriverError::Memory { need });
                }
                let b_bytes: Vec<u8> = b.iter().map(|&x| x as u8).collect();
                dev.write_mem(b_addr, &b_bytes)?;
                dev.write_mem(params_addr, &params)?;
                dev.write_mem(cmd_cursor, &bytes)?;
                load.packed_bytes += (b_bytes.len() + params.len()) as u64;
                load.command_bytes += bytes.len() as u64;
                jobs.push(Job {
                    problem,
                    layout,
                    commands: prog.commands.len() as u32,
                });
                cmd_cursor = align(need, 64);
            }
            offloaded.insert(
                d.index,
                Offloaded {
                    lowering,
                    shape,
                    pad_value,
                    jobs,
                },
            );
        }
        let c = cpu.layer_cost(&OpShape::Reshape {
            bytes: load.packed_bytes + load.command_bytes,
        });
        load.pack_cpu_cycles = c.cycles;
        load.pack_us = c.time_us;
        load.device_mem_bytes = cmd_cursor;
        Ok(AccelDelegate {
            dev,
            cfg,
            cpu: cpu.clone(),
            model,
            decisions,
            offloaded,
            a_region,
            c_region,
            load,
            runs: BTreeMap::new(),
        })
    }

    /// The partition decisions.
    pub fn decisions(&self) -> &[Decision] {
        &self.decisions
    }

    /// The load-time report.
    pub fn load_report(&self) -> &LoadReport {
        &self.load
    }

    /// The GEMM jobs of an offloaded op (addresses of its commands, weights and params).
    pub fn jobs(&self, index: usize) -> Option<&[Job]> {
        self.offloaded.get(&index).map(|o| o.jobs.as_slice())
    }

    /// The device (for tests that inspect or corrupt device memory).
    pub fn device(&mut self) -> &mut dyn Device {
        self.dev
    }

    /// Per-layer results of the last inference, for the offloaded layers.
    pub fn runs(&self) -> &BTreeMap<usize, LayerRun> {
        &self.runs
    }

    /// Clears the per-layer results (call before each inference).
    pub fn begin_invoke(&mut self) {
        self.runs.clear();
    }

    fn run_job(&mut self, job: &Job) -> Result<Counters, DeviceError> {
        let base = u32::try_from(job.layout.cmd_addr)
            .map_err(|_| DeviceError::Buffer("command buffer above 4 GiB".into()))?;
        self.dev.write_reg(reg::CMD_BASE, base)?;
        self.dev.write_reg(reg::CMD_COUNT, job.commands)?;
        self.dev.write_reg(reg::CTRL, reg::CTRL_START)?;
        self.dev.wait()
    }

    fn execute_offloaded(
        &mut self,
        index: usize,
        input: &[u8],
        output: &mut [u8],
    ) -> Result<LayerRun, String> {
        let off = self.offloaded.get(&index).cloned().ok_or("not offloaded")?;
        let s = off.shape;
        let input: Vec<i8> = input.iter().map(|&b| b as i8).collect();
        let mut counters = Counters::default();
        let img_in = input.len() / s.batch.max(1);
        let img_out = output.len() / s.batch.max(1);
        for b in 0..s.batch {
            let x = &input[b * img_in..(b + 1) * img_in];
            match &off.lowering {
                Lowering::Conv { geom, pointwise } => {
                    let a = if *pointwise {
                        x.to_vec()
                    } else {
                        lower::im2col(x, geom, off.pad_value)
                    };
                    self.write_a(&a).map_err(|e| e.to_string())?;
                    counters.add(&self.run_job(&off.jobs[b]).map_err(|e| e.to_string())?);
                }
                Lowering::Fc => {
                    self.write_a(x).map_err(|e| e.to_string())?;
                    counters.add(&self.run_job(&off.jobs[b]).map_err(|e| e.to_string())?);
                }
                Lowering::Depthwise { geom, out_c, mult } => {
                    for oc in 0..*out_c {
                        let a = lower::im2col_channel(x, geom, oc / mult, off.pad_value);
                        self.write_a(&a).map_err(|e| e.to_string())?;
                        let job = &off.jobs[b * out_c + oc];
                        counters.add(&self.run_job(job).map_err(|e| e.to_string())?);
                    }
                }
            }
            let out = &mut output[b * img_out..(b + 1) * img_out];
            self.dev
                .read_mem(self.c_region, out)
                .map_err(|e| e.to_string())?;
        }
        let prep = prep_cpu_cycles(&self.cpu, &off.lowering, &off.shape);
        Ok(account(
            &self.cfg,
            &self.cpu,
            index,
            counters,
            prep,
            off.jobs.len() as u64,
        ))
    }

    fn write_a(&mut self, a: &[i8]) -> Result<(), DeviceError> {
        let bytes: Vec<u8> = a.iter().map(|&x| x as u8).collect();
        self.dev.write_mem(self.a_region, &bytes)
    }

    /// Bytes of one command in device memory (for tests that corrupt a command).
    pub const COMMAND_BYTES: usize = COMMAND_BYTES;
}

impl OpExecutor for AccelDelegate<'_> {
    fn execute(&mut self, ctx: &OpContext<'_>, output: &mut [u8]) -> Result<bool, String> {
        if !self.offloaded.contains_key(&ctx.index) {
            return Ok(false);
        }
        let input = ctx
            .inputs
            .first()
            .copied()
            .flatten()
            .ok_or("missing input")?;
        let run = self
            .execute_offloaded(ctx.index, input, output)
            .map_err(|e| format!("accelerator, layer {} ({}): {e}", ctx.index, ctx.op.name()))?;
        self.runs.insert(ctx.index, run);
        Ok(true)
    }
}

/// One inference with offload: the output and the per-layer accounting of every op.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelRun {
    pub output: Vec<u8>,
    pub decisions: Vec<Decision>,
    /// One entry per op, in graph order (CPU-side ops included).
    pub layers: Vec<LayerRun>,
    pub load: LoadReport,
}

impl ModelRun {
    /// Whole-model latency, microseconds (the sum of the layers).
    pub fn total_us(&self) -> f64 {
        self.layers.iter().map(|l| l.total_us).sum()
    }
    /// Whole-model energy, microjoules (the sum of the layers).
    pub fn total_uj(&self) -> f64 {
        self.layers.iter().map(|l| l.total_uj).sum()
    }
    /// Accelerator cycles over all offloaded layers.
    pub fn accel_cycles(&self) -> u64 {
        self.layers.iter().map(|l| l.counters.cycles).sum()
    }
    /// Accelerator counters summed over all offloaded layers.
    pub fn counters(&self) -> Counters {
        let mut c = Counters::default();
        for l in &self.layers {
            c.add(&l.counters);
        }
        c
    }
}

/// Plans, loads and runs one inference of `interp`'s graph with offload to `dev`; the
/// `auto` policy uses the driver's ranking estimate ([`rank_estimate`]).
pub fn run_model(
    interp: &mut runtime::Interpreter,
    dev: &mut dyn Device,
    cpu: &CpuProfile,
    policy: Policy,
    input: &[u8],
) -> Result<ModelRun, DriverError> {
    run_model_with(interp, dev, cpu, policy, &rank_estimate, input)
}

/// [`run_model`] with the GEMM estimator the `auto` policy decides by (pass the
/// simulator's tile-level model for the same decisions as [`estimate_model`]).
pub fn run_model_with(
    interp: &mut runtime::Interpreter,
    dev: &mut dyn Device,
    cpu: &CpuProfile,
    policy: Policy,
    est: GemmEstimator,
    input: &[u8],
) -> Result<ModelRun, DriverError> {
    let graph = interp.graph().clone();
    let prepared: Vec<&PreparedOp> = (0..graph.ops.len())
        .map(|i| {
            interp.prepared(i).ok_or_else(|| DriverError::Layer {
                model: graph.name.clone(),
                index: i,
                op: graph.ops[i].name(),
                reason: "not prepared".into(),
            })
        })
        .collect::<Result<_, _>>()?;
    let cfg = dev.config().clone();
    let facts = ModelFacts::new(&graph, &prepared, cpu);
    let decisions: Vec<Decision> = facts
        .layers
        .iter()
        .map(|f| decide(f, &cfg, cpu.clock_mhz(), policy, est))
        .collect();
    let prepared_owned: Vec<PreparedOp> = prepared.iter().map(|p| (*p).clone()).collect();
    let prepared: Vec<&PreparedOp> = prepared_owned.iter().collect();
    let mut delegate = AccelDelegate::load(&graph, &prepared, decisions, dev, cpu)?;
    delegate.begin_invoke();
    let output = interp
        .invoke_with(input, &mut delegate)
        .map_err(|e| DriverError::Run {
            model: graph.name.clone(),
            reason: e.to_string(),
        })?;
    let layers = (0..graph.ops.len())
        .map(|i| {
            delegate
                .runs()
                .get(&i)
                .cloned()
                .unwrap_or_else(|| cpu_layer(&cfg, &facts.layers[i]))
        })
        .collect();
    Ok(ModelRun {
        output,
        decisions: delegate.decisions().to_vec(),
        layers,
        load: delegate.load_report().clone(),
    })
}
