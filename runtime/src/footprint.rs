//! Memory footprint of a model on a microcontroller: what goes in flash and in SRAM, by
//! named part, and whether it fits the part's capacities ([`Fit`]).
//!
//! CPU-only ([`cpu_only`]):
//! - **flash** = the model flatbuffer (the whole `.tflite` file when its size is known;
//!   for a built-in model, the sum of its constant tensor bytes plus an estimated
//!   flatbuffer overhead, [`flatbuffer_overhead_bytes`]) + code: the runtime's fixed part
//!   ([`RUNTIME_CODE_BYTES`]) and each distinct kernel used ([`KERNEL_CODE`]), scaled by
//!   the profile's `code.scale`. Code sizes are estimates; their sources are in
//!   `docs/cpu-model.md`.
//! - **SRAM** = the tensor arena ([`Interpreter::arena_bytes`], which holds the graph's
//!   input and output: they are not counted apart) + the interpreter's persistent state
//!   ([`interpreter_state_bytes`]) + the largest kernel scratch buffer
//!   ([`scratch_bytes`]: the CMSIS-NN im2col / patch buffers; the reference kernels need
//!   none). Scratch buffers of different layers are never alive at once, so the largest
//!   one is counted; TFLM plans them inside the arena, so counting them apart is an upper
//!   bound.

use serde::Serialize;

use crate::cost::{graph::op_shape, CostError, CpuProfile, OpShape};
use crate::Interpreter;

/// A memory footprint: named parts, bytes, in flash and in SRAM.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Footprint {
    /// Flash parts (name, bytes).
    pub flash: Vec<(String, u64)>,
    /// SRAM parts (name, bytes).
    pub sram: Vec<(String, u64)>,
}

impl Footprint {
    /// Sum of the flash parts, bytes.
    pub fn flash_total(&self) -> u64 {
        self.flash.iter().map(|(_, b)| b).sum()
    }

    /// Sum of the SRAM parts, bytes.
    pub fn sram_total(&self) -> u64 {
        self.sram.iter().map(|(_, b)| b).sum()
    }

    /// A flash part by name (0 when absent).
    pub fn flash_part(&self, name: &str) -> u64 {
        part(&self.flash, name)
    }

    /// An SRAM part by name (0 when absent).
    pub fn sram_part(&self, name: &str) -> u64 {
        part(&self.sram, name)
    }

    /// This footprint against `cpu`'s on-chip capacities.
    pub fn fit(&self, cpu: &CpuProfile) -> Fit {
        Fit {
            flash_used: self.flash_total(),
            flash_cap: cpu.flash_bytes(),
            sram_used: self.sram_total(),
            sram_cap: cpu.sram_bytes(),
        }
    }
}

fn part(parts: &[(String, u64)], name: &str) -> u64 {
    parts
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, b)| b)
        .sum()
}

/// Used bytes against capacity, per memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Fit {
    pub flash_used: u64,
    pub flash_cap: u64,
    pub sram_used: u64,
    pub sram_cap: u64,
}

/// Bytes too many, per memory (0 when it fits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Shortfall {
    pub flash: u64,
    pub sram: u64,
}

impl Fit {
    /// True when both flash and SRAM fit.
    pub fn fits(&self) -> bool {
        self.fits_flash() && self.fits_sram()
    }

    /// True when the flash parts fit the flash.
    pub fn fits_flash(&self) -> bool {
        self.flash_used <= self.flash_cap
    }

    /// True when the SRAM parts fit the SRAM.
    pub fn fits_sram(&self) -> bool {
        self.sram_used <= self.sram_cap
    }

    /// How many bytes too many, per memory (0 for a memory that fits).
    pub fn shortfall_bytes(&self) -> Shortfall {
        Shortfall {
            flash: self.flash_used.saturating_sub(self.flash_cap),
            sram: self.sram_used.saturating_sub(self.sram_cap),
        }
    }
}

impl std::fmt::Display for Fit {
    /// `fits (flash 72.5 / 2048.0 KiB, SRAM 21.0 / 640.0 KiB)` or `does not fit: SRAM over
    /// by 40.9 KiB (flash 72.5 / 2048.0 KiB, SRAM 552.9 / 512.0 KiB)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kib = |b: u64| b as f64 / 1024.0;
        let s = self.shortfall_bytes();
        if self.fits() {
            f.write_str("fits")?;
        } else {
            let mut over = Vec::new();
            if s.flash > 0 {
                over.push(format!("flash over by {:.1} KiB", kib(s.flash)));
            }
            if s.sram > 0 {
                over.push(format!("SRAM over by {:.1} KiB", kib(s.sram)));
            }
            write!(f, "does not fit: {}", over.join(", "))?;
        }
        write!(
            f,
            " (flash {:.1} / {:.1} KiB, SRAM {:.1} / {:.1} KiB)",
            kib(self.flash_used),
            kib(self.flash_cap),
            kib(self.sram_used),
            kib(self.sram_cap)
        )
    }
}

/// Estimated code bytes of one kernel (one TFLM op registration), Thumb-2, gcc -Os.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KernelCode {
    /// Kernel-table entry name (`conv`, `depthwise`, ...).
    pub kind: &'static str,
    /// TFLM portable reference kernel.
    pub reference: u64,
    /// TFLM's CMSIS-NN kernel with the CMSIS-NN functions it calls.
    pub cmsis_nn: u64,
}

/// Estimated code bytes per kernel, Thumb-2 (see `docs/cpu-model.md`, "Code size", for
/// the sources and the derivation: these are estimates, not measurements of this
/// project's kernels). `conv_1x1` is the same TFLM registration as `conv`.
pub const KERNEL_CODE: [KernelCode; 15] = [
    kc("conv", 3_000, 6_500),
    kc("depthwise", 3_000, 7_000),
    kc("fully_connected", 1_800, 2_600),
    kc("avg_pool", 1_600, 2_200),
    kc("max_pool", 1_300, 1_900),
    kc("add", 2_200, 2_600),
    kc("mul", 1_800, 2_200),
    kc("softmax", 2_200, 2_200),
    kc("reshape", 600, 600),
    kc("pad", 1_400, 1_400),
    kc("concat", 1_300, 1_300),
    kc("mean", 2_000, 2_000),
    kc("quantize", 1_200, 1_200),
    kc("logistic", 1_300, 1_300),
    kc("tanh", 1_300, 1_300),
];

const fn kc(kind: &'static str, reference: u64, cmsis_nn: u64) -> KernelCode {
    KernelCode {
        kind,
        reference,
        cmsis_nn,
    }
}

/// Estimated code bytes of the runtime's fixed part on Thumb-2: interpreter, allocator and
/// arena planner, flatbuffer reader (9,732 bytes: the TFLM framework measured on a
/// Cortex-M3 "bluepill" in TFLM's Code Size FAQ) plus an assumed 2,268 bytes for the op
/// resolver and the quantization / kernel utilities every kernel shares, which that
/// measurement attributes to the kernels.
pub const RUNTIME_CODE_BYTES: u64 = 12_000;

/// The Thumb-2 code-size estimate of `op_kind` in `library` (`cmsis-nn`; any other name
/// is the reference column). `None` for an unknown op kind.
pub fn kernel_code_bytes(op_kind: &str, library: &str) -> Option<u64> {
    let kind = if op_kind == "conv_1x1" {
        "conv"
    } else {
        op_kind
    };
    KERNEL_CODE.iter().find(|k| k.kind == kind).map(|k| {
        if library == "cmsis-nn" {
            k.cmsis_nn
        } else {
            k.reference
        }
    })
}

/// The TFLM kernel registration of a kernel form (`conv_1x1` -> `conv`).
pub fn registration(kernel: &str) -> &str {
    if kernel == "conv_1x1" {
        "conv"
    } else {
        kernel
    }
}

/// Bytes of flatbuffer structure around the constant data of `graph` (estimate for a
/// built-in model that has no file): per tensor a table (buffer index, type, vtable,
/// buffer entry, alignment) of [`FB_PER_TENSOR`] bytes plus its name and 4 bytes per
/// dimension; [`FB_PER_QUANT_CHANNEL`] bytes per quantization channel (scale `f32` +
/// zero point `i64` + the share of the vectors' headers); 4 bytes per op input and
/// output index; and [`FB_HEADER`] bytes of model header, operator codes, subgraph and
/// metadata. The constants were fitted on the four MLPerf Tiny reference `.tflite` files
/// (`docs/cpu-model.md`, "Model flatbuffer": within 3 % of the four files' real overhead).
pub fn flatbuffer_overhead_bytes(graph: &models::Graph) -> u64 {
    let mut b = FB_HEADER;
    for t in &graph.tensors {
        b += FB_PER_TENSOR + pad4(t.name.len() as u64) + 4 * t.shape.len() as u64;
        if let Some(q) = &t.quant {
            b += FB_PER_QUANT_CHANNEL * q.scales.len().max(q.zero_points.len()) as u64;
        }
    }
    for op in &graph.ops {
        b += 4 * (op.inputs.len() + op.outputs.len()) as u64;
    }
    b
}

/// Flatbuffer bytes of the model header, operator codes, subgraph table and metadata.
pub const FB_HEADER: u64 = 1_400;
/// Flatbuffer bytes per tensor besides its name, shape and quantization.
pub const FB_PER_TENSOR: u64 = 80;
/// Flatbuffer bytes per quantization channel.
pub const FB_PER_QUANT_CHANNEL: u64 = 16;

fn pad4(x: u64) -> u64 {
    x.div_ceil(4) * 4
}

/// Flash bytes of the model: `file_bytes` (the `.tflite` size) when given, else the
/// constant tensor bytes plus [`flatbuffer_overhead_bytes`]. Returns (part name, bytes).
pub fn model_flash(graph: &models::Graph, file_bytes: Option<u64>) -> (String, u64) {
    match file_bytes {
        Some(b) => ("model (.tflite)".to_string(), b),
        None => (
            "model (weights + est. flatbuffer)".to_string(),
            graph.const_bytes() as u64 + flatbuffer_overhead_bytes(graph),
        ),
    }
}

/// Bytes of the interpreter's persistent state in SRAM (outside the planned arena in this
/// model, at TFLM's arena tail in TFLM): a 12-byte `TfLiteEvalTensor` per tensor, a
/// 40-byte node + registration per op, and the per-channel output multiplier and shift
/// (two `int32` per output channel) that TFLM's conv and depthwise kernels always
/// allocate (`OpDataConv`) and its fully-connected kernel allocates for per-channel
/// quantized filters.
pub fn interpreter_state_bytes(graph: &models::Graph) -> u64 {
    let mut b = 12 * graph.tensors.len() as u64 + 40 * graph.ops.len() as u64;
    for (i, op) in graph.ops.iter().enumerate() {
        let Ok(s) = op_shape(graph, i) else { continue };
        let channels = match s {
            OpShape::Conv(g) | OpShape::Depthwise(g) => g.out_c as u64,
            OpShape::FullyConnected { out_features, .. } => {
                let per_channel = op
                    .input(1)
                    .and_then(|t| graph.tensors.get(t))
                    .and_then(|t| t.quant.as_ref())
                    .is_some_and(|q| q.scales.len() > 1);
                if per_channel {
                    out_features
                } else {
                    0
                }
            }
            _ => 0,
        };
        b += 8 * channels;
    }
    b
}

/// Scratch bytes the CPU kernel of `shape` asks for in `library`: CMSIS-NN's
/// `arm_convolve_s8_get_buffer_size` (two im2col columns of q15: `2 x 2 x ic x kh x kw`,
/// none for 1x1 convs) and `arm_depthwise_conv_s8_opt_get_buffer_size` (one q15 patch:
/// `2 x ic x kh x kw`); 0 for every reference kernel and other op.
pub fn scratch_bytes(shape: &OpShape, library: &str) -> u64 {
    if library != "cmsis-nn" {
        return 0;
    }
    match shape {
        OpShape::Conv(g) if !g.is_pointwise() => 4 * (g.group_in_c * g.k_h * g.k_w) as u64,
        OpShape::Depthwise(g) => 2 * (g.in_c * g.k_h * g.k_w) as u64,
        _ => 0,
    }
}

/// The CPU-only footprint of `interp`'s graph on `cpu` (see the module docs).
/// `file_bytes` is the `.tflite` file size, `None` for a built-in model.
pub fn cpu_only(
    interp: &Interpreter,
    cpu: &CpuProfile,
    file_bytes: Option<u64>,
) -> Result<Footprint, CostError> {
    Ok(CpuMemory::new(interp, cpu, file_bytes)?.footprint(&|_| true))
}

/// The CPU side of a footprint for the layers with `on_cpu(index)` true (see
/// [`CpuMemory::footprint`]).
pub fn cpu_part(
    interp: &Interpreter,
    cpu: &CpuProfile,
    file_bytes: Option<u64>,
    on_cpu: &dyn Fn(usize) -> bool,
) -> Result<Footprint, CostError> {
    Ok(CpuMemory::new(interp, cpu, file_bytes)?.footprint(on_cpu))
}

/// What one op needs on the CPU side when its CPU kernel runs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerMemory {
    /// TFLM kernel registration (`conv`, `depthwise`, ...).
    pub kernel: &'static str,
    /// Estimated code bytes of that kernel in the profile's library.
    pub code: u64,
    /// Scratch bytes the kernel asks for ([`scratch_bytes`]).
    pub scratch: u64,
}

/// The CPU-side memory facts of a model on one profile, computed once and reused for any
/// split of its layers between CPU and accelerator (sweeps evaluate many designs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CpuMemory {
    /// Flash part of the model: (name, bytes) from [`model_flash`].
    pub model: (String, u64),
    /// Runtime code bytes on this ISA.
    pub runtime_code: u64,
    /// Kernel library of the profile.
    pub library: String,
    /// Tensor arena bytes.
    pub arena: u64,
    /// Interpreter state bytes ([`interpreter_state_bytes`]).
    pub interpreter_state: u64,
    /// One entry per op, in graph order.
    pub layers: Vec<LayerMemory>,
}

impl CpuMemory {
    /// The facts of `interp`'s graph on `cpu`; `file_bytes` as in [`cpu_only`].
    pub fn new(
        interp: &Interpreter,
        cpu: &CpuProfile,
        file_bytes: Option<u64>,
    ) -> Result<Self, CostError> {
        let graph = interp.graph();
        let lib = cpu.library_name();
        let layers = (0..graph.ops.len())
            .map(|i| {
                let shape = op_shape(graph, i)?;
                let kernel = registration(cpu.layer_cost(&shape).kernel);
                let code = cpu
                    .kernel_code_bytes(kernel)
                    .ok_or_else(|| CostError::Layer {
                        layer: i,
                        op: graph.ops[i].name().to_string(),
                        reason: format!("no code-size estimate for kernel `{kernel}`"),
                    })?;
                Ok(LayerMemory {
                    kernel,
                    code,
                    scratch: scratch_bytes(&shape, lib),
                })
            })
            .collect::<Result<Vec<_>, CostError>>()?;
        Ok(CpuMemory {
            model: model_flash(graph, file_bytes),
            runtime_code: cpu.data().runtime_code_bytes(),
            library: lib.to_string(),
            arena: interp.arena_bytes() as u64,
            interpreter_state: interpreter_state_bytes(graph),
            layers,
        })
    }

    /// The footprint with the layers for which `on_cpu(index)` is true run by the CPU
    /// kernels: flash = model + runtime code + each distinct kernel of those layers; SRAM =
    /// arena + interpreter state + the largest scratch buffer of those layers (omitted when
    /// 0). With every layer on the CPU this is [`cpu_only`]; the driver adds its parts for
    /// the others.
    pub fn footprint(&self, on_cpu: &dyn Fn(usize) -> bool) -> Footprint {
        let mut flash = vec![
            self.model.clone(),
            ("runtime code".to_string(), self.runtime_code),
        ];
        let mut seen: Vec<&str> = Vec::new();
        let mut scratch = 0;
        for (i, l) in self.layers.iter().enumerate() {
            if !on_cpu(i) {
                continue;
            }
            scratch = scratch.max(l.scratch);
            if !seen.contains(&l.kernel) {
                seen.push(l.kernel);
                flash.push((format!("kernel {} ({})", l.kernel, self.library), l.code));
            }
        }
        let mut sram = vec![
            ("arena".to_string(), self.arena),
            ("interpreter state".to_string(), self.interpreter_state),
        ];
        if scratch > 0 {
            sram.push(("kernel scratch (im2col)".to_string(), scratch));
        }
        Footprint { flash, sram }
    }
}
