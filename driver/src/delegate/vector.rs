//! Vector lowering: the layers the accelerator's vector unit runs (`docs/architecture.md`
//! sections 3.5 and 9) — DEPTHWISE_CONV_2D with depth multiplier 1 (`depthwise`),
//! AVERAGE_POOL_2D / MAX_POOL_2D (`pooling`) and same-shape int8 ADD (`eltwise`) — as
//! [`arch::vplan::VProblem`]s, with their data: the depthwise filter as it is (`[1, kh,
//! kw, C]` is already `taps x C` row-major), per-channel parameter records (the input
//! zero point folded into the bias as for a conv), or the identity / `ADD` output rescale
//! records of the PPU.
//!
//! Whether a layer has a vector form does not depend on the design ([`vector_of`]); which
//! feature it needs and whether the design has the im2col unit do ([`VectorLayer::problem`]).

use arch::im2col::Window;
use arch::isa::VSET_OFF_MIN;
use arch::isa::{AddRescale, VMode, MAX_GEOM_DIM, MAX_GEOM_KERNEL, MAX_GEOM_PAD, VSET_OFF_MAX};
use arch::vplan::{VProblem, VSource};
use arch::AccelConfig;
use models::{DType, Graph, OpKind};
use runtime::cost::{CpuProfile, OpShape};
use runtime::kernels::elementwise::AddParams;
use runtime::kernels::pool::PoolParams;
use runtime::{ConvGeometry, PreparedOp};

use crate::lower;

/// Per-channel PPU parameters: biases, multipliers, shifts.
pub(super) type ParamRecords = (Vec<i32>, Vec<i32>, Vec<i32>);

/// A layer in the vector unit's form (design-independent).
#[derive(Debug, Clone)]
pub(super) enum VectorLayer {
    /// Depthwise convolution, depth multiplier 1.
    Depthwise { geom: ConvGeometry },
    /// Average (`max = false`, windows never clipped: one divisor) or max pooling.
    Pool { max: bool, params: PoolParams },
    /// Same-shape ADD of `positions x channels` elements.
    Add {
        params: AddParams,
        positions: usize,
        channels: usize,
    },
}

/// The vector form of op `index`: `None` when the op has none (conv, fully connected,
/// other ops), else the vector-unit mode it needs and the form or why it cannot run on
/// the unit.
pub(super) fn vector_of(
    graph: &Graph,
    prepared: &PreparedOp,
    index: usize,
) -> Option<(VMode, Result<VectorLayer, String>)> {
    let op = &graph.ops[index];
    let mode = match (&op.kind, prepared) {
        (OpKind::DepthwiseConv2d(_), PreparedOp::Depthwise { .. }) => VMode::Mac,
        (OpKind::AveragePool2d(_), PreparedOp::AveragePool(_)) => VMode::Sum,
        (OpKind::MaxPool2d(_), PreparedOp::MaxPool(_)) => VMode::Max,
        (OpKind::Add { .. }, PreparedOp::Add { .. }) => VMode::Add,
        _ => return None,
    };
    Some((mode, vector_form(graph, prepared, index)))
}

fn vector_form(graph: &Graph, prepared: &PreparedOp, index: usize) -> Result<VectorLayer, String> {
    let op = &graph.ops[index];
    let input = op
        .input(0)
        .map(|t| &graph.tensors[t])
        .ok_or("no input tensor")?;
    if input.dtype != DType::I8 {
        return Err(format!(
            "unsupported input type {} (the accelerator is int8)",
            input.dtype.name()
        ));
    }
    match prepared {
        PreparedOp::Depthwise { geom, quant } => {
            if geom.depth_multiplier != 1 {
                return Err(format!(
                    "depth multiplier {}: the vector unit's lanes are the input channels \
                     (multiplier 1 only)",
                    geom.depth_multiplier
                ));
            }
            if quant.filter_zero_point != 0 {
                return Err("unsupported option: non-zero weight zero point".into());
            }
            let weights = op
                .input(1)
                .map(|t| &graph.tensors[t])
                .ok_or("no weight tensor")?;
            if weights.dtype != DType::I8 || !weights.is_const() {
                return Err("weights are not constant int8".into());
            }
            if let Some(b) = op.input(2).map(|t| &graph.tensors[t]) {
                if b.dtype != DType::I32 {
                    return Err(format!("unsupported bias type {}", b.dtype.name()));
                }
            }
            let taps = geom.taps();
            if taps > u16::MAX as usize {
                return Err(format!(
                    "{taps} taps exceed the vector unit's 16-bit k field"
                ));
            }
            Ok(VectorLayer::Depthwise { geom: *geom })
        }
        PreparedOp::AveragePool(p) | PreparedOp::MaxPool(p) => {
            let max = matches!(prepared, PreparedOp::MaxPool(_));
            let taps = p.filter_h * p.filter_w;
            if taps > u16::MAX as usize {
                return Err(format!(
                    "{taps} taps exceed the vector unit's 16-bit k field"
                ));
            }
            if !max {
                if !unclipped(p) {
                    return Err(
                        "average pool with padding: the divisor varies per position \
                                (the vector unit divides by one constant)"
                            .into(),
                    );
                }
                if taps > u16::MAX as usize {
                    return Err(format!("divisor {taps} exceeds the 16-bit divisor field"));
                }
            }
            Ok(VectorLayer::Pool { max, params: *p })
        }
        PreparedOp::Add { params, a, b, out } => {
            if a != b || a != out {
                return Err(format!(
                    "ADD with broadcast (shapes {a:?} and {b:?}): the vector unit adds \
                     same-shape operands only"
                ));
            }
            add_rescale(params)?;
            if !(-31..=31).contains(&params.output_shift) {
                return Err(format!(
                    "output shift {} outside the PPU's -31..=31",
                    params.output_shift
                ));
            }
            let channels = out.last().copied().unwrap_or(1).max(1);
            let elements: usize = out.iter().product();
            Ok(VectorLayer::Add {
                params: *params,
                positions: elements / channels,
                channels,
            })
        }
        _ => Err("op not supported by the accelerator (runs on the CPU kernels)".into()),
    }
}

/// Every window of `p` lies inside the input (no padding taps: one divisor).
fn unclipped(p: &PoolParams) -> bool {
    let [_, in_h, in_w, _] = p.input;
    let [_, out_h, out_w, _] = p.output;
    p.pad_top == 0
        && p.pad_left == 0
        && (out_h.max(1) - 1) * p.stride_h + p.filter_h <= in_h
        && (out_w.max(1) - 1) * p.stride_w + p.filter_w <= in_w
}

/// The `VSET` rescale of an ADD, or why its parameters do not fit the fields.
pub(super) fn add_rescale(p: &AddParams) -> Result<AddRescale, String> {
    let off = |o: i32, what: &str| -> Result<i16, String> {
        if (VSET_OFF_MIN as i32..=VSET_OFF_MAX as i32).contains(&o) {
            Ok(o as i16)
        } else {
            Err(format!("ADD {what} offset {o} outside the 9-bit field"))
        }
    };
    let shift = |s: i32, what: &str| -> Result<i8, String> {
        if (-31..=31).contains(&s) {
            Ok(s as i8)
        } else {
            Err(format!("ADD {what} shift {s} outside -31..=31"))
        }
    };
    if !(0..=31).contains(&p.left_shift) {
        return Err(format!("ADD left shift {} outside 0..=31", p.left_shift));
    }
    Ok(AddRescale {
        off1: off(p.input1_offset, "input 1")?,
        off2: off(p.input2_offset, "input 2")?,
        left_shift: p.left_shift as u8,
        m1: p.input1_multiplier,
        s1: shift(p.input1_shift, "input 1")?,
        m2: p.input2_multiplier,
        s2: shift(p.input2_shift, "input 2")?,
    })
}

/// Whether a window fits the `CONV_GEOM` / `LOAD_IM2COL` fields (`out_h` rows of output).
fn geom_fits(w: &Window, out_h: usize) -> bool {
    let dim = MAX_GEOM_DIM as u32;
    let kern = MAX_GEOM_KERNEL as u32;
    [w.in_h, w.in_w, w.out_w]
        .iter()
        .all(|&v| (1..=dim).contains(&v))
        && (1..=dim as usize + 1).contains(&out_h)
        && (1..=u16::MAX as u32).contains(&w.in_c)
        && [w.kh, w.kw, w.sh, w.sw, w.dh, w.dw]
            .iter()
            .all(|&v| (1..=kern).contains(&v))
        && w.pad_t <= MAX_GEOM_PAD as u32
        && w.pad_l <= MAX_GEOM_PAD as u32
}

impl VectorLayer {
    /// Programs per inference (one per image; one for ADD).
    pub fn batch(&self) -> usize {
        match self {
            VectorLayer::Depthwise { geom } => geom.batch,
            VectorLayer::Pool { params, .. } => params.input[0],
            VectorLayer::Add { .. } => 1,
        }
        .max(1)
    }

    /// (positions, taps, channels) of one program.
    pub fn dims(&self) -> (usize, usize, usize) {
        match self {
            VectorLayer::Depthwise { geom } => (geom.pixels_per_image(), geom.taps(), geom.in_c),
            VectorLayer::Pool { params: p, .. } => (
                p.output[1] * p.output[2],
                p.filter_h * p.filter_w,
                p.input[3],
            ),
            VectorLayer::Add {
                positions,
                channels,
                ..
            } => (*positions, 1, *channels),
        }
    }

    /// The window of a windowed layer (`None` for ADD).
    fn window(&self) -> Option<(Window, usize)> {
        match self {
            VectorLayer::Depthwise { geom: g } => {
                Some((super::lowering::window_fields(g), g.out_h))
            }
            VectorLayer::Pool { params: p, .. } => Some((
                Window {
                    in_h: p.input[1] as u32,
                    in_w: p.input[2] as u32,
                    in_c: p.input[3] as u32,
                    out_w: p.output[2] as u32,
                    kh: p.filter_h as u32,
                    kw: p.filter_w as u32,
                    sh: p.stride_h as u32,
                    sw: p.stride_w as u32,
                    dh: 1,
                    dw: 1,
                    pad_t: p.pad_top as u32,
                    pad_l: p.pad_left as u32,
                },
                p.output[1],
            )),
            VectorLayer::Add { .. } => None,
        }
    }

    /// The input is the implicit matrix itself, read in place: ADD operands, and pools
    /// whose one window is the whole image (global pools).
    pub fn in_place(&self) -> bool {
        match self {
            VectorLayer::Add { .. } => true,
            VectorLayer::Pool { params: p, .. } => {
                p.output[1] == 1
                    && p.output[2] == 1
                    && p.filter_h == p.input[1]
                    && p.filter_w == p.input[2]
                    && p.pad_top == 0
                    && p.pad_left == 0
            }
            VectorLayer::Depthwise { .. } => false,
        }
    }

    /// The window the im2col unit reads on `cfg`, if it is used.
    pub fn hw_window(&self, cfg: &AccelConfig) -> Option<Window> {
        if !cfg.im2col || self.in_place() {
            return None;
        }
        let (w, out_h) = self.window()?;
        geom_fits(&w, out_h).then_some(w)
    }

    /// The problem of one program on `cfg`.
    pub fn problem(&self, cfg: &AccelConfig) -> VProblem {
        let (m, t, c) = self.dims();
        let (m, t, c) = (m as u64, t as u64, c as u64);
        let source = match self.hw_window(cfg) {
            Some(w) => VSource::Im2col(w),
            None => VSource::Matrix,
        };
        match self {
            VectorLayer::Depthwise { .. } => VProblem::depthwise(m, t, c, source),
            VectorLayer::Pool { max, .. } => VProblem::pool(*max, t as u16, m, t, c, source),
            VectorLayer::Add { params, .. } => {
                VProblem::add(add_rescale(params).expect("checked by vector_of"), m, c)
            }
        }
    }

    /// CPU cycles per inference of gathering the implicit matrix on the CPU (the PAD
    /// kernel's cost shape, as the CPU im2col of the GEMM path,
    /// `super::lowering::im2col_cpu_cycles`); 0 when the input is read in place.
    pub fn gather_cpu_cycles(&self, cpu: &CpuProfile) -> u64 {
        if self.in_place() {
            return 0;
        }
        let (m, t, c) = self.dims();
        let bytes = (m * t * c * self.batch()) as u64;
        let cost = cpu.layer_cost(&OpShape::Pad {
            in_bytes: bytes,
            out_bytes: bytes,
        });
        cost.cycles - cost.breakdown.call.ceil() as u64
    }

    /// Whether the CPU gathers the implicit matrix on `cfg` (not read in place, no
    /// im2col unit or a window beyond its fields).
    pub fn cpu_gathers(&self, cfg: &AccelConfig) -> bool {
        !self.in_place() && self.hw_window(cfg).is_none()
    }

    /// The implicit matrix of one image on the CPU (`positions x taps*channels`, taps
    /// outside the image = `pad`).
    pub fn gather(&self, image: &[i8], pad: i8) -> Vec<i8> {
        match self {
            VectorLayer::Depthwise { geom } => {
                let g = ConvGeometry {
                    group_in_c: geom.in_c,
                    ..*geom
                };
                lower::im2col(image, &g, pad)
            }
            VectorLayer::Pool { .. } => {
                let (w, out_h) = self.window().expect("a pool has a window");
                let (m, t, c) = self.dims();
                let mut out = vec![pad; m * t * c];
                let (kh, kw) = (w.kh as usize, w.kw as usize);
                for oy in 0..out_h {
                    for ox in 0..w.out_w as usize {
                        let pos = oy * w.out_w as usize + ox;
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let y = (oy * w.sh as usize + ky) as isize - w.pad_t as isize;
                                let x = (ox * w.sw as usize + kx) as isize - w.pad_l as isize;
                                if y < 0 || x < 0 || y >= w.in_h as isize || x >= w.in_w as isize {
                                    continue;
                                }
                                let src = (y as usize * w.in_w as usize + x as usize) * c;
                                let dst = (pos * t + ky * kw + kx) * c;
                                out[dst..dst + c].copy_from_slice(&image[src..src + c]);
                            }
                        }
                    }
                }
                out
            }
            VectorLayer::Add { .. } => image.to_vec(),
        }
    }

    /// The pad value of the im2col taps outside the image: the input zero point for
    /// depthwise (it contributes zero after the bias fold), -128 for max pooling (never
    /// larger than a real tap); average pools here have no padding.
    pub fn pad_value(&self, prepared: &PreparedOp) -> i8 {
        match (self, prepared.quant()) {
            (VectorLayer::Depthwise { .. }, Some(q)) => q.input_zero_point.clamp(-128, 127) as i8,
            (VectorLayer::Pool { max: true, .. }, _) => -128,
            _ => 0,
        }
    }

    /// The output zero point and activation range the `LOAD_PARAMS` carries.
    pub fn output(&self, prepared: &PreparedOp) -> (i8, i8, i8) {
        let clamp = |v: i32| v.clamp(-128, 127) as i8;
        match (self, prepared.quant()) {
            (VectorLayer::Depthwise { .. }, Some(q)) => (
                clamp(q.output_zero_point),
                clamp(q.act_min),
                clamp(q.act_max),
            ),
            (VectorLayer::Pool { params, .. }, _) => {
                (0, clamp(params.act_min), clamp(params.act_max))
            }
            (VectorLayer::Add { params, .. }, _) => (
                clamp(params.output_offset),
                clamp(params.act_min),
                clamp(params.act_max),
            ),
            _ => (0, -128, 127),
        }
    }

    /// The `channels` PPU parameter records (bias, multiplier, shift): per channel for
    /// depthwise (the input zero point folded into the bias); the identity (`bias 0,
    /// mult 2^30, shift 1`) for pools; the output rescale for ADD.
    pub fn params(
        &self,
        prepared: &PreparedOp,
        filter: Option<&[i8]>,
    ) -> Result<ParamRecords, String> {
        let (_, t, c) = self.dims();
        match self {
            VectorLayer::Depthwise { .. } => {
                let q = prepared.quant().ok_or("no quantization parameters")?;
                let filter = filter.ok_or("weights have no data")?;
                if filter.len() != t * c {
                    return Err(format!(
                        "filter has {} bytes, expected {t} x {c}",
                        filter.len()
                    ));
                }
                let bias = lower::fold_bias(Some(&q.bias), filter, t, c, q.input_zero_point);
                Ok((bias, q.multipliers.clone(), q.shifts.clone()))
            }
            VectorLayer::Pool { .. } => Ok((vec![0; c], vec![1 << 30; c], vec![1; c])),
            VectorLayer::Add { params, .. } => Ok((
                vec![0; c],
                vec![params.output_multiplier; c],
                vec![params.output_shift; c],
            )),
        }
    }
}
