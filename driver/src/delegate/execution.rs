//! Execution: loading the offloaded layers onto a [`Device`] (device-memory layout, packed
//! weights, command streams; [`AccelDelegate::load`]) and running them as the runtime's
//! [`OpExecutor`] ([`run_model`]).

use std::collections::BTreeMap;

use arch::device::{reg, Counters, Device, DeviceError, EnergyRates};
use arch::im2col::Window;
use arch::isa::{self, COMMAND_BYTES};
use arch::AccelConfig;
use models::Graph;
use runtime::cost::{CpuProfile, OpShape};
use runtime::{OpContext, OpExecutor, PreparedOp};

use super::accounting::{account, cpu_layer, LayerRun, LoadReport, ModelRun};
use super::lowering::{
    hw_window, im2col_cpu_cycles, lowering_of, pack_columns, problem_of, GemmShape, Lowering,
};
use super::partition::{decide, rank_estimate, Decision, GemmEstimator, ModelFacts, Placement};
use super::vector::{vector_of, VectorLayer};
use super::{DriverError, Policy};
use crate::gemm::{self, GemmProblem, MemLayout, Output};
use crate::lower;
use arch::vplan::{self, VLayout, VProblem};

/// Largest device memory the delegate will ask for.
pub const MAX_DEVICE_MEM: u64 = 1 << 30;

/// A GEMM prepared at load time: its problem, addresses and command buffer.
#[derive(Debug, Clone)]
pub struct Job {
    pub problem: GemmProblem,
    pub layout: MemLayout,
    pub commands: u32,
}

/// A vector-unit program prepared at load time (one per image).
#[derive(Debug, Clone)]
pub struct VectorJob {
    pub problem: VProblem,
    pub layout: VLayout,
    pub cmd_addr: u64,
    pub commands: u32,
}

/// A layer offloaded to the vector unit.
#[derive(Debug, Clone)]
struct VectorOffload {
    layer: VectorLayer,
    pad_value: i8,
    /// `ADD`: where operand 2 goes (in the A region, after operand 1).
    b2_addr: u64,
    jobs: Vec<VectorJob>,
}

#[derive(Debug, Clone)]
struct Offloaded {
    lowering: Lowering,
    shape: GemmShape,
    pad_value: i8,
    /// The accelerator's im2col unit reads the image through this window (no CPU im2col).
    window: Option<Window>,
    jobs: Vec<Job>,
}

fn align(x: u64, a: u64) -> u64 {
    x.div_ceil(a) * a
}

/// The accelerator delegate: an [`OpExecutor`] that runs the offloaded layers on a
/// [`Device`] and accounts for their time and energy.
pub struct AccelDelegate<'d> {
    dev: &'d mut dyn Device,
    cfg: AccelConfig,
    cpu: CpuProfile,
    model: String,
    decisions: Vec<Decision>,
    offloaded: BTreeMap<usize, Offloaded>,
    vectors: BTreeMap<usize, VectorOffload>,
    a_region: u64,
    c_region: u64,
    cmd_region: u64,
    load: LoadReport,
    runs: BTreeMap<usize, LayerRun>,
}

/// The device-memory layout of a loaded delegate, bytes (regions are 64-byte aligned and
/// laid out in this order from address 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeviceRegions {
    /// Packed weights and per-channel parameter records of every offloaded layer.
    pub weights: u64,
    /// The A operand buffer: the largest patch matrix (written by the CPU's im2col) or
    /// input image (read in place by the im2col unit) of any offloaded layer.
    pub a: u64,
    /// The output buffer: the largest output of any offloaded layer.
    pub c: u64,
    /// All command streams, as laid out (each stream 64-byte aligned).
    pub commands: u64,
}

impl std::fmt::Debug for AccelDelegate<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccelDelegate")
            .field("model", &self.model)
            .field("config", &self.cfg.name)
            .finish()
    }
}

/// Device memory the delegate needs for `decisions` on `cfg` (call before creating the
/// device).
pub fn device_mem_needed(
    cfg: &AccelConfig,
    graph: &Graph,
    prepared: &[&PreparedOp],
    decisions: &[Decision],
) -> u64 {
    layout_plan(cfg, graph, prepared, decisions).2
}

/// How an offloaded layer runs on `cfg`: on the vector unit (it has a vector form and
/// `cfg` its mode, as the partition decides) or as GEMMs.
pub(super) enum Form {
    Gemm(Lowering, GemmShape),
    Vector(VectorLayer),
}

/// The form of op `index` on `cfg` (an error names why it cannot be offloaded).
pub(super) fn form_of(
    cfg: &AccelConfig,
    graph: &Graph,
    prepared: &PreparedOp,
    index: usize,
) -> Result<Form, String> {
    if let Some((mode, Ok(v))) = vector_of(graph, prepared, index) {
        if mode.enabled(cfg) {
            return Ok(Form::Vector(v));
        }
    }
    lowering_of(graph, prepared, index).map(|(l, s)| Form::Gemm(l, s))
}

/// The forms of the offloaded layers of `decisions`.
fn offloaded_forms<'a>(
    cfg: &'a AccelConfig,
    graph: &'a Graph,
    prepared: &'a [&PreparedOp],
    decisions: &'a [Decision],
) -> impl Iterator<Item = Form> + 'a {
    decisions
        .iter()
        .filter(|d| d.placement == Placement::Accel)
        .filter_map(|d| form_of(cfg, graph, prepared[d.index], d.index).ok())
}

/// Bytes of one image's A operand in device memory: the patch matrix, or the image itself
/// when the im2col unit reads it.
fn a_bytes(cfg: &AccelConfig, l: &Lowering, s: &GemmShape) -> u64 {
    match hw_window(cfg, l) {
        Some(w) => w.image_bytes(),
        None => (s.m * s.k) as u64,
    }
}

/// Sizes of the regions: (weights and parameters, largest A, total without commands).
fn layout_plan(
    cfg: &AccelConfig,
    graph: &Graph,
    prepared: &[&PreparedOp],
    decisions: &[Decision],
) -> (u64, u64, u64) {
    let mut weights = 0u64;
    let mut a_max = 0u64;
    let mut c_max = 0u64;
    for form in offloaded_forms(cfg, graph, prepared, decisions) {
        let (w, a, c) = form_regions(cfg, &form);
        weights += w;
        a_max = a_max.max(a);
        c_max = c_max.max(c);
    }
    (weights, a_max, weights + a_max + c_max)
}

/// [`layer_regions`] or [`vector_regions`] of a form.
pub(super) fn form_regions(cfg: &AccelConfig, form: &Form) -> (u64, u64, u64) {
    match form {
        Form::Gemm(l, s) => layer_regions(cfg, l, s),
        Form::Vector(v) => vector_regions(cfg, v),
    }
}

/// Device-memory bytes of a layer on the vector unit, as [`AccelDelegate::load`] lays
/// them out: its weights (depthwise) and `channels` parameter records, shared by its
/// images; its input (image or gathered matrix; ADD: both operands, operand 2 64-byte
/// aligned after operand 1); one image's output.
pub(super) fn vector_regions(cfg: &AccelConfig, v: &VectorLayer) -> (u64, u64, u64) {
    let p = v.problem(cfg);
    let weights = align(p.b_bytes(), 64) * u64::from(p.mode == arch::isa::VMode::Mac)
        + align(p.param_records() * isa::PARAM_RECORD_BYTES as u64, 64);
    let a = match p.mode {
        arch::isa::VMode::Add => align(p.a_bytes(), 64) + align(p.b_bytes(), 64),
        _ => align(p.a_bytes(), 64),
    };
    (weights, a, align(p.c_bytes(), 64))
}

/// Device-memory bytes one offloaded layer needs, as [`AccelDelegate::load`] lays them out
/// (64-byte aligned): (its packed weights and parameter records, its A operand, its output).
pub(super) fn layer_regions(cfg: &AccelConfig, l: &Lowering, s: &GemmShape) -> (u64, u64, u64) {
    let jobs = s.gemms() as u64;
    let weights = jobs * align((s.k * s.n) as u64, 64)
        + jobs * align(s.n as u64 * isa::PARAM_RECORD_BYTES as u64, 64);
    let a = align(a_bytes(cfg, l, s), 64);
    let c = align((s.m * s.n * s.per_image) as u64, 64);
    (weights, a, c)
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
        let (weights_end, a_max, _) = layout_plan(&cfg, graph, prepared, &decisions);
        let a_region = align(weights_end, 64);
        let c_region = align(a_region + a_max, 64);
        let c_max = offloaded_forms(&cfg, graph, prepared, &decisions)
            .map(|f| form_regions(&cfg, &f).2)
            .max()
            .unwrap_or(0);
        let mut cmd_cursor = align(c_region + c_max, 64);
        let cmd_region = cmd_cursor;
        let mut w_cursor = 0u64;
        let mut offloaded = BTreeMap::new();
        let mut vectors = BTreeMap::new();
        let mut load = LoadReport::default();
        let model = graph.name.clone();
        for d in decisions.iter().filter(|d| d.placement == Placement::Accel) {
            let op = &graph.ops[d.index];
            let layer_err = |reason: String| DriverError::Layer {
                model: model.clone(),
                index: d.index,
                op: op.name(),
                reason,
            };
            let p = prepared[d.index];
            let (lowering, shape) = match form_of(&cfg, graph, p, d.index).map_err(&layer_err)? {
                Form::Gemm(l, s) => (l, s),
                Form::Vector(v) => {
                    let filter: Option<Vec<i8>> = match v {
                        VectorLayer::Depthwise { .. } => Some(
                            op.input(1)
                                .and_then(|t| graph.tensors[t].data.as_ref())
                                .ok_or_else(|| layer_err("weights have no data".into()))?
                                .iter()
                                .map(|&b| b as i8)
                                .collect(),
                        ),
                        _ => None,
                    };
                    let problem = v.problem(&cfg);
                    let (bias, mult, shift) = v.params(p, filter.as_deref()).map_err(&layer_err)?;
                    let b_addr = w_cursor;
                    if let Some(f) = &filter {
                        let bytes: Vec<u8> = f.iter().map(|&x| x as u8).collect();
                        dev.write_mem(b_addr, &bytes)?;
                        load.packed_bytes += bytes.len() as u64;
                        w_cursor = align(w_cursor + bytes.len() as u64, 64);
                    }
                    let params_addr = w_cursor;
                    let params = gemm::pack_params(&bias, &mult, &shift)?;
                    dev.write_mem(params_addr, &params)?;
                    load.packed_bytes += params.len() as u64;
                    w_cursor = align(w_cursor + params.len() as u64, 64);
                    let pad_value = v.pad_value(p);
                    let (zp_out, act_min, act_max) = v.output(p);
                    let b2_addr = a_region + align(problem.a_bytes(), 64);
                    let layout = VLayout {
                        a_addr: a_region,
                        a_pad: pad_value,
                        b_addr: if filter.is_some() { b_addr } else { b2_addr },
                        params_addr,
                        c_addr: c_region,
                        zp_out,
                        act_min,
                        act_max,
                    };
                    let plan = vplan::plan(&cfg, &problem, &layout)
                        .map_err(|e| layer_err(e.to_string()))?;
                    let bytes = isa::encode_all(&plan.commands());
                    let mut jobs = Vec::with_capacity(v.batch());
                    for _ in 0..v.batch() {
                        let need = cmd_cursor + bytes.len() as u64;
                        let limit = dev.mem_size();
                        if need > limit {
                            return Err(DriverError::Memory { need, limit });
                        }
                        dev.write_mem(cmd_cursor, &bytes)?;
                        load.command_bytes += bytes.len() as u64;
                        jobs.push(VectorJob {
                            problem,
                            layout,
                            cmd_addr: cmd_cursor,
                            commands: (bytes.len() / COMMAND_BYTES) as u32,
                        });
                        cmd_cursor = align(need, 64);
                    }
                    vectors.insert(
                        d.index,
                        VectorOffload {
                            layer: v,
                            pad_value,
                            b2_addr,
                            jobs,
                        },
                    );
                    continue;
                }
            };
            let quant = p
                .quant()
                .ok_or_else(|| layer_err("no quantization parameters".into()))?;
            let filter = op
                .input(1)
                .and_then(|t| graph.tensors[t].data.as_ref())
                .ok_or_else(|| layer_err("weights have no data".into()))?;
            let filter: Vec<i8> = filter.iter().map(|&b| b as i8).collect();
            let pad_value = quant.input_zero_point.clamp(-128, 127) as i8;
            let window = hw_window(&cfg, &lowering);
            let columns = pack_columns(&lowering, &shape, &filter, quant);
            let mut jobs = Vec::with_capacity(columns.len());
            let out_c = shape.n * shape.per_image;
            for (j, col) in columns.iter().enumerate() {
                let problem: GemmProblem = problem_of(
                    &cfg,
                    &lowering,
                    &shape,
                    Output::Int8 {
                        zp_out: quant.output_zero_point,
                        act_min: quant.act_min,
                        act_max: quant.act_max,
                    },
                );
                let b_addr = w_cursor;
                w_cursor = align(w_cursor + col.weights.len() as u64, 64);
                let params_addr = w_cursor;
                let params = gemm::pack_params(&col.bias, &col.multipliers, &col.shifts)?;
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
                    a_pad: pad_value,
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
                let limit = dev.mem_size();
                if need > limit {
                    return Err(DriverError::Memory { need, limit });
                }
                let b_bytes: Vec<u8> = col.weights.iter().map(|&x| x as u8).collect();
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
                    window,
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
            vectors,
            a_region,
            c_region,
            cmd_region,
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

    /// The device-memory layout: weights, A, C and command-stream regions.
    pub fn regions(&self) -> DeviceRegions {
        DeviceRegions {
            weights: self.a_region,
            a: self.c_region - self.a_region,
            c: self.cmd_region - self.c_region,
            commands: self.load.device_mem_bytes - self.cmd_region,
        }
    }

    /// Indices of the offloaded ops, ascending.
    pub fn offloaded_layers(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .offloaded
            .keys()
            .chain(self.vectors.keys())
            .copied()
            .collect();
        v.sort_unstable();
        v
    }

    /// The GEMM jobs of an op offloaded as GEMMs (addresses of its commands, weights and
    /// params); `None` for other ops.
    pub fn jobs(&self, index: usize) -> Option<&[Job]> {
        self.offloaded.get(&index).map(|o| o.jobs.as_slice())
    }

    /// The vector programs of an op offloaded to the vector unit (one per image); `None`
    /// for other ops.
    pub fn vector_jobs(&self, index: usize) -> Option<&[VectorJob]> {
        self.vectors.get(&index).map(|o| o.jobs.as_slice())
    }

    /// The command count of each submission of an offloaded op (its GEMMs or vector
    /// programs); `None` for an op not offloaded.
    pub fn stream_commands(&self, index: usize) -> Option<Vec<u32>> {
        if let Some(o) = self.offloaded.get(&index) {
            return Some(o.jobs.iter().map(|j| j.commands).collect());
        }
        self.vectors
            .get(&index)
            .map(|o| o.jobs.iter().map(|j| j.commands).collect())
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
        self.start(job.layout.cmd_addr, job.commands)
    }

    fn start(&mut self, cmd_addr: u64, commands: u32) -> Result<Counters, DeviceError> {
        let base = u32::try_from(cmd_addr)
            .map_err(|_| DeviceError::Buffer("command buffer above 4 GiB".into()))?;
        self.dev.write_reg(reg::CMD_BASE, base)?;
        self.dev.write_reg(reg::CMD_COUNT, commands)?;
        self.dev.write_reg(reg::CTRL, reg::CTRL_START)?;
        self.dev.wait()
    }

    /// Runs a layer offloaded to the vector unit: per image, its input (as it is, or the
    /// windows gathered on the CPU) and for ADD operand 2 to device memory, one program,
    /// the output read back.
    fn execute_vector(
        &mut self,
        index: usize,
        input: &[u8],
        input2: Option<&[u8]>,
        output: &mut [u8],
    ) -> Result<LayerRun, String> {
        let off = self.vectors.get(&index).cloned().ok_or("not offloaded")?;
        let images = off.jobs.len().max(1);
        let (img_in, img_out) = (input.len() / images, output.len() / images);
        let gathers = off.layer.cpu_gathers(&self.cfg);
        let mut counters = Counters::default();
        for (b, job) in off.jobs.iter().enumerate() {
            let x = &input[b * img_in..(b + 1) * img_in];
            if gathers {
                let image: Vec<i8> = x.iter().map(|&v| v as i8).collect();
                let a = off.layer.gather(&image, off.pad_value);
                self.write_a(&a).map_err(|e| e.to_string())?;
            } else {
                self.write_a_bytes(x).map_err(|e| e.to_string())?;
            }
            if let VectorLayer::Add { .. } = off.layer {
                let y = input2.ok_or("ADD without its second operand")?;
                if y.len() != x.len() {
                    return Err(format!("ADD operands of {} and {} bytes", x.len(), y.len()));
                }
                self.dev
                    .write_mem(off.b2_addr, y)
                    .map_err(|e| e.to_string())?;
            }
            counters.add(
                &self
                    .start(job.cmd_addr, job.commands)
                    .map_err(|e| e.to_string())?,
            );
            let out = &mut output[b * img_out..(b + 1) * img_out];
            self.dev
                .read_mem(self.c_region, out)
                .map_err(|e| e.to_string())?;
        }
        let gather_cycles = if gathers {
            off.layer.gather_cpu_cycles(&self.cpu)
        } else {
            0
        };
        Ok(account(
            &self.cfg,
            &EnergyRates::of(&self.cfg),
            &self.cpu,
            index,
            counters,
            gather_cycles,
            off.jobs.len() as u64,
        ))
    }

    fn execute_offloaded(
        &mut self,
        index: usize,
        input: &[u8],
        output: &mut [u8],
    ) -> Result<LayerRun, String> {
        let off = self.offloaded.get(&index).cloned().ok_or("not offloaded")?;
        let s = off.shape;
        let mut counters = Counters::default();
        let img_in = input.len() / s.batch.max(1);
        let img_out = output.len() / s.batch.max(1);
        let as_i8 = |x: &[u8]| -> Vec<i8> { x.iter().map(|&b| b as i8).collect() };
        for b in 0..s.batch {
            let x = &input[b * img_in..(b + 1) * img_in];
            match &off.lowering {
                // The activations are A itself (1x1 stride-1 conv, fully connected) or the
                // image the im2col unit reads: written as they are.
                Lowering::Conv {
                    patches_are_input: true,
                    ..
                }
                | Lowering::Fc => {
                    self.write_a_bytes(x).map_err(|e| e.to_string())?;
                    counters.add(&self.run_job(&off.jobs[b]).map_err(|e| e.to_string())?);
                }
                Lowering::Conv { .. } if off.window.is_some() => {
                    self.write_a_bytes(x).map_err(|e| e.to_string())?;
                    counters.add(&self.run_job(&off.jobs[b]).map_err(|e| e.to_string())?);
                }
                Lowering::Conv { geom, .. } => {
                    let a = lower::im2col(&as_i8(x), geom, off.pad_value);
                    self.write_a(&a).map_err(|e| e.to_string())?;
                    counters.add(&self.run_job(&off.jobs[b]).map_err(|e| e.to_string())?);
                }
                Lowering::Depthwise { geom } => {
                    let (out_c, mult) = (geom.out_c, geom.depth_multiplier.max(1));
                    let x = as_i8(x);
                    for oc in 0..out_c {
                        let a = lower::im2col_channel(&x, geom, oc / mult, off.pad_value);
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
        let im2col_cycles = match off.window {
            Some(_) => 0,
            None => im2col_cpu_cycles(&self.cpu, &off.lowering, &off.shape),
        };
        Ok(account(
            &self.cfg,
            &EnergyRates::of(&self.cfg),
            &self.cpu,
            index,
            counters,
            im2col_cycles,
            off.jobs.len() as u64,
        ))
    }

    fn write_a(&mut self, a: &[i8]) -> Result<(), DeviceError> {
        let bytes: Vec<u8> = a.iter().map(|&x| x as u8).collect();
        self.write_a_bytes(&bytes)
    }

    fn write_a_bytes(&mut self, a: &[u8]) -> Result<(), DeviceError> {
        self.dev.write_mem(self.a_region, a)
    }

    /// Bytes of one command in device memory (for tests that corrupt a command).
    pub const COMMAND_BYTES: usize = COMMAND_BYTES;
}

impl OpExecutor for AccelDelegate<'_> {
    fn execute(&mut self, ctx: &OpContext<'_>, output: &mut [u8]) -> Result<bool, String> {
        let vector = self.vectors.contains_key(&ctx.index);
        if !vector && !self.offloaded.contains_key(&ctx.index) {
            return Ok(false);
        }
        let input = ctx
            .inputs
            .first()
            .copied()
            .flatten()
            .ok_or("missing input")?;
        let run = if vector {
            let input2 = ctx.inputs.get(1).copied().flatten();
            self.execute_vector(ctx.index, input, input2, output)
        } else {
            self.execute_offloaded(ctx.index, input, output)
        }
        .map_err(|e| format!("accelerator, layer {} ({}): {e}", ctx.index, ctx.op.name()))?;
        self.runs.insert(ctx.index, run);
        Ok(true)
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

/// The prepared ops of `interp`'s graph, in order.
pub(super) fn prepared_ops(interp: &runtime::Interpreter) -> Result<Vec<&PreparedOp>, DriverError> {
    let graph = interp.graph();
    (0..graph.ops.len())
        .map(|i| {
            interp.prepared(i).ok_or_else(|| DriverError::Layer {
                model: graph.name.clone(),
                index: i,
                op: graph.ops[i].name(),
                reason: "not prepared".into(),
            })
        })
        .collect()
}

/// The partition decision of every layer.
fn decide_all(
    facts: &ModelFacts,
    cfg: &AccelConfig,
    cpu: &CpuProfile,
    policy: Policy,
    est: GemmEstimator,
) -> Vec<Decision> {
    facts
        .layers
        .iter()
        .map(|f| decide(f, cfg, cpu.clock_mhz(), policy, est))
        .collect()
}

/// Plans and loads the delegate of `interp`'s graph on `dev` exactly as
/// [`run_model_with`] does before its inference, for callers that invoke many times
/// with one load (`tinyaccel bench`): `begin_invoke` then
/// `interp.invoke_with(input, &mut delegate)` per inference.
pub fn load_delegate<'d>(
    interp: &runtime::Interpreter,
    dev: &'d mut dyn Device,
    cpu: &CpuProfile,
    policy: Policy,
    est: GemmEstimator,
) -> Result<AccelDelegate<'d>, DriverError> {
    let graph = interp.graph();
    let prepared = prepared_ops(interp)?;
    let cfg = dev.config().clone();
    let facts = ModelFacts::new(graph, &prepared, cpu);
    let decisions = decide_all(&facts, &cfg, cpu, policy, est);
    AccelDelegate::load(graph, &prepared, decisions, dev, cpu)
}

/// [`run_model`] with the GEMM estimator the `auto` policy decides by (pass the
/// simulator's tile-level model for the same decisions as [`super::estimate_model`]).
pub fn run_model_with(
    interp: &mut runtime::Interpreter,
    dev: &mut dyn Device,
    cpu: &CpuProfile,
    policy: Policy,
    est: GemmEstimator,
    input: &[u8],
) -> Result<ModelRun, DriverError> {
    let graph = interp.graph().clone();
    let prepared = prepared_ops(interp)?;
    let cfg = dev.config().clone();
    let facts = ModelFacts::new(&graph, &prepared, cpu);
    let decisions = decide_all(&facts, &cfg, cpu, policy, est);
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
    let rates = EnergyRates::of(&cfg);
    let layers = (0..graph.ops.len())
        .map(|i| {
            delegate
                .runs()
                .get(&i)
                .cloned()
                .unwrap_or_else(|| cpu_layer(&cfg, &rates, &facts.layers[i]))
        })
        .collect();
    Ok(ModelRun {
        output,
        decisions: delegate.decisions().to_vec(),
        layers,
        load: delegate.load_report().clone(),
    })
}
