//! Partition: which layers go to the accelerator and why ([`plan`], [`Decision`]), from
//! the design-independent facts of each layer ([`ModelFacts`]).

use arch::device::Counters;
use arch::schedule::{GemmProblem, Output};
use arch::AccelConfig;
use models::Graph;
use runtime::cost::{op_shape, CpuProfile};
use runtime::PreparedOp;
use serde::Serialize;

use super::accounting::{DRIVER_LAYER_CYCLES, DRIVER_SUBMIT_CYCLES};
use super::lowering::{hw_window, im2col_cpu_cycles, lowering_of, problem_of, GemmShape, Lowering};
use super::vector::{vector_of, VectorLayer};
use crate::tiling;
use arch::isa::VMode;

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

/// Where a layer runs: on the CPU kernels or offloaded to the accelerator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Placement {
    #[default]
    Cpu,
    Accel,
}

impl Placement {
    pub fn as_str(self) -> &'static str {
        match self {
            Placement::Cpu => "cpu",
            Placement::Accel => "accel",
        }
    }
}

/// The partition decision for one op.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub index: usize,
    pub op: &'static str,
    pub placement: Placement,
    pub reason: String,
    /// GEMMs the layer lowers to (0 on the CPU).
    pub gemms: usize,
}

/// Counters of one int8 GEMM problem on a design (its `im2col` window set when the
/// layer uses the accelerator's im2col unit), or `None` when it does not fit: how the
/// `auto` policy judges a layer. The simulator's tile-level model (`sim::tile::estimate`)
/// is the accurate one; [`rank_estimate`] is the driver's own cheap ranking estimate
/// (cycles only), used when no model is passed.
pub type GemmEstimator<'a> = &'a (dyn Fn(&AccelConfig, &GemmProblem) -> Option<Counters> + Sync);

/// The tiling's ranking estimate as [`Counters`] (only `cycles` is set).
pub fn rank_estimate(cfg: &AccelConfig, p: &GemmProblem) -> Option<Counters> {
    let t = tiling::choose_problem(cfg, p).ok()?;
    Some(Counters {
        cycles: tiling::estimate_for(cfg, &t, p.im2col.as_ref()),
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
    pub(super) lowering: Result<(Lowering, GemmShape), String>,
    /// im2col cycles on the CPU when offloaded without the accelerator's im2col unit.
    pub(super) im2col_cycles: u64,
    /// The vector-unit form of the op (depthwise, pools, ADD): the mode it needs and the
    /// form or why it has none; `None` for ops without one.
    pub(super) vector: Option<(VMode, Result<VectorLayer, String>)>,
    /// CPU cycles of the vector path's gather of the implicit matrix, when the CPU does
    /// it (no im2col unit on the design; [`VectorLayer::cpu_gathers`]).
    pub(super) vector_gather_cycles: u64,
}

impl LayerFacts {
    /// CPU im2col cycles of the layer offloaded to `cfg`: none when the accelerator's
    /// im2col unit generates the patches.
    pub(super) fn cpu_im2col_cycles(&self, cfg: &AccelConfig) -> u64 {
        if let Some(v) = self.vector_on(cfg) {
            return if v.cpu_gathers(cfg) {
                self.vector_gather_cycles
            } else {
                0
            };
        }
        match &self.lowering {
            Ok((l, _)) if hw_window(cfg, l).is_some() => 0,
            _ => self.im2col_cycles,
        }
    }

    /// The decision to leave the layer on the CPU for `reason`.
    fn on_cpu(&self, reason: String) -> Decision {
        Decision {
            index: self.index,
            op: self.op,
            placement: Placement::Cpu,
            reason,
            gemms: 0,
        }
    }

    /// The vector form the layer runs in on `cfg`: it has one and `cfg` has its mode.
    pub(super) fn vector_on(&self, cfg: &AccelConfig) -> Option<&VectorLayer> {
        match &self.vector {
            Some((mode, Ok(v))) if mode.enabled(cfg) => Some(v),
            _ => None,
        }
    }

    /// The GEMM problem each of the layer's GEMMs is judged by on `cfg` (int8 output,
    /// full activation range), if the layer can be lowered to GEMMs (and does not run on
    /// the vector unit).
    pub(super) fn problem(&self, cfg: &AccelConfig) -> Option<GemmProblem> {
        if self.vector_on(cfg).is_some() {
            return None;
        }
        let (l, s) = self.lowering.as_ref().ok()?;
        Some(problem_of(
            cfg,
            l,
            s,
            Output::Int8 {
                zp_out: 0,
                act_min: -128,
                act_max: 127,
            },
        ))
    }
}

/// Design-independent facts about a model on one CPU profile: what [`plan`] and
/// [`super::estimate_model`] start from (computed once per model, reused for every design).
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
                let im2col_cycles = match &lowering {
                    Ok((l, s)) => im2col_cpu_cycles(cpu, l, s),
                    Err(_) => 0,
                };
                let vector = vector_of(graph, prepared[i], i);
                LayerFacts {
                    index: i,
                    op: graph.ops[i].name(),
                    cpu_cycles: c.as_ref().map_or(0, |c| c.cycles),
                    cpu_us: c.as_ref().map_or(0.0, |c| c.time_us),
                    cpu_uj: c.as_ref().map_or(0.0, |c| c.energy_uj),
                    lowering,
                    im2col_cycles,
                    vector_gather_cycles: match &vector {
                        Some((_, Ok(v))) => v.gather_cpu_cycles(cpu),
                        _ => 0,
                    },
                    vector,
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

/// The partition decision for one layer under `policy`, judged by `est` under `Auto`.
pub(super) fn decide(
    f: &LayerFacts,
    cfg: &AccelConfig,
    cpu_mhz: f64,
    policy: Policy,
    est: GemmEstimator,
) -> Decision {
    decide_keeping_vector(f, cfg, cpu_mhz, policy, est).0
}

/// [`decide`], and the vector unit's counters of the layer when the decision estimated
/// them (a layer with a vector form on `cfg`), so that the accounting of a sweep does not
/// estimate the same program again.
pub(super) fn decide_keeping_vector(
    f: &LayerFacts,
    cfg: &AccelConfig,
    cpu_mhz: f64,
    policy: Policy,
    est: GemmEstimator,
) -> (Decision, Option<Result<Counters, String>>) {
    let cpu_dec = |reason: String| f.on_cpu(reason);
    // The vector unit, when the design has the layer's mode.
    let mut vector_note = None;
    if let Some((mode, form)) = &f.vector {
        if mode.enabled(cfg) {
            match form {
                Ok(v) => {
                    if policy == Policy::None {
                        return (cpu_dec("offload disabled (policy none)".into()), None);
                    }
                    let c = vector_counters(cfg, v);
                    return (decide_vector(f, v, &c, cfg, cpu_mhz, policy), Some(c));
                }
                // Depthwise without a vector form keeps the GEMM path (noted below).
                Err(why) if *mode == VMode::Mac => vector_note = Some(why.clone()),
                Err(why) => return (cpu_dec(why.clone()), None),
            }
        }
    }
    (decide_gemm(f, cfg, cpu_mhz, policy, est, vector_note), None)
}

/// The partition decision of a layer on the GEMM path (`vector_note`: why a depthwise
/// layer has no vector form on this design, for the reason).
fn decide_gemm(
    f: &LayerFacts,
    cfg: &AccelConfig,
    cpu_mhz: f64,
    policy: Policy,
    est: GemmEstimator,
    vector_note: Option<String>,
) -> Decision {
    let cpu_dec = |reason: String| f.on_cpu(reason);
    let (lowering, shape) = match &f.lowering {
        Ok(x) => x,
        Err(reason) => return cpu_dec(reason.clone()),
    };
    if policy == Policy::None {
        return cpu_dec("offload disabled (policy none)".into());
    }
    let problem = problem_of(
        cfg,
        lowering,
        shape,
        Output::Int8 {
            zp_out: 0,
            act_min: -128,
            act_max: 127,
        },
    );
    let t = match tiling::choose_problem(cfg, &problem) {
        Ok(t) => t,
        Err(e) => return cpu_dec(format!("does not fit the accelerator: {e}")),
    };
    let gemms = shape.gemms();
    if policy == Policy::Auto {
        let per_gemm = est(cfg, &problem).map_or_else(
            || tiling::estimate_for(cfg, &t, problem.im2col.as_ref()),
            |c| c.cycles,
        );
        let device_cycles = per_gemm * gemms as u64;
        let cpu_side =
            f.cpu_im2col_cycles(cfg) + DRIVER_LAYER_CYCLES + DRIVER_SUBMIT_CYCLES * gemms as u64;
        let offloaded_us = cfg.cycles_to_us(device_cycles) + cpu_side as f64 / cpu_mhz;
        if offloaded_us >= f.cpu_us {
            return cpu_dec(format!(
                "cheaper on CPU (estimated {:.1} us on CPU vs {offloaded_us:.1} us offloaded)",
                f.cpu_us
            ));
        }
    }
    let why = match lowering {
        Lowering::Conv {
            patches_are_input: true,
            ..
        } => "1x1 conv as GEMM".to_string(),
        Lowering::Conv { .. } if problem.im2col.is_some() => {
            "conv as GEMM with the accelerator's im2col unit".to_string()
        }
        Lowering::Conv { .. } if cfg.im2col => {
            "conv as GEMM after im2col on the CPU (window exceeds the im2col unit's fields)"
                .to_string()
        }
        Lowering::Conv { .. } => "conv as GEMM after im2col".to_string(),
        Lowering::Depthwise { geom } => {
            format!(
                "depthwise as {} single-column GEMMs (at most 1/{} of the array busy)",
                geom.out_c, cfg.cols
            )
        }
        Lowering::Fc => "fully connected as GEMM".to_string(),
    };
    let why = match vector_note {
        Some(note) => format!("{why}; not on the vector unit: {note}"),
        None => why,
    };
    Decision {
        index: f.index,
        op: f.op,
        placement: Placement::Accel,
        reason: why,
        gemms,
    }
}

/// Counters of one vector program of `v` on `cfg` from the simulator's tile-level model
/// (`sim::vtile`), or why it does not fit.
pub(super) fn vector_counters(cfg: &AccelConfig, v: &VectorLayer) -> Result<Counters, String> {
    sim::vtile::estimate(cfg, &v.problem(cfg)).map_err(|e| e.to_string())
}

/// The partition decision of a layer that has a vector form on `cfg`.
fn decide_vector(
    f: &LayerFacts,
    v: &VectorLayer,
    counters: &Result<Counters, String>,
    cfg: &AccelConfig,
    cpu_mhz: f64,
    policy: Policy,
) -> Decision {
    let cpu_dec = |reason: String| f.on_cpu(reason);
    let c = match counters {
        Ok(c) => c,
        Err(e) => return cpu_dec(format!("does not fit the accelerator: {e}")),
    };
    let programs = v.batch();
    if policy == Policy::Auto {
        let device_cycles = c.cycles * programs as u64;
        let cpu_side =
            f.cpu_im2col_cycles(cfg) + DRIVER_LAYER_CYCLES + DRIVER_SUBMIT_CYCLES * programs as u64;
        let offloaded_us = cfg.cycles_to_us(device_cycles) + cpu_side as f64 / cpu_mhz;
        if offloaded_us >= f.cpu_us {
            return cpu_dec(format!(
                "cheaper on CPU (estimated {:.1} us on CPU vs {offloaded_us:.1} us offloaded)",
                f.cpu_us
            ));
        }
    }
    let (_, taps, channels) = v.dims();
    let feed = if v.in_place() {
        "input read in place"
    } else if v.hw_window(cfg).is_some() {
        "windows from the im2col unit"
    } else {
        "windows gathered on the CPU"
    };
    let what = match v {
        VectorLayer::Depthwise { .. } => format!("depthwise on the vector unit ({taps} taps)"),
        VectorLayer::Pool { max: true, .. } => {
            format!("max pool on the vector unit (MAX of {taps} taps)")
        }
        VectorLayer::Pool { max: false, .. } => {
            format!("average pool on the vector unit (SUM of {taps} taps, divided by {taps})")
        }
        VectorLayer::Add { .. } => "ADD on the vector unit (rescale and add per lane)".into(),
    };
    Decision {
        index: f.index,
        op: f.op,
        placement: Placement::Accel,
        reason: format!("{what}: {channels} channels on {} lanes, {feed}", cfg.rows),
        gemms: programs,
    }
}
