//! Lowering: how a layer becomes int8 GEMM problems ([`Lowering`], [`GemmShape`]), whether
//! a conv's patches come from the accelerator's im2col unit ([`hw_window`]) or from the
//! CPU and what that costs the CPU, and the weight columns packed for each GEMM (the data
//! transforms themselves are in [`crate::lower`]).

use arch::im2col::Window;
use arch::isa::{MAX_GEOM_DIM, MAX_GEOM_KERNEL, MAX_GEOM_PAD};
use arch::schedule::GemmProblem;
use arch::AccelConfig;
use models::{DType, Graph, OpKind};
use runtime::cost::{CpuProfile, OpShape};
use runtime::{ConvGeometry, PreparedOp, QuantParams};

use crate::lower;

/// How one op is lowered.
#[derive(Debug, Clone)]
pub(super) enum Lowering {
    /// Conv: im2col (unless the patches are the input itself) then one GEMM per image.
    Conv {
        geom: ConvGeometry,
        patches_are_input: bool,
    },
    /// Depthwise: one `M x K x 1` GEMM per (image, output channel).
    Depthwise { geom: ConvGeometry },
    /// Fully connected: one GEMM.
    Fc,
}

/// Static shape of the GEMMs of one op.
#[derive(Debug, Clone, Copy)]
pub(super) struct GemmShape {
    /// Images in the batch (one set of GEMMs each).
    pub batch: usize,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    /// GEMMs per image (out_c for depthwise, 1 otherwise).
    pub per_image: usize,
}

impl GemmShape {
    /// GEMMs of the whole layer.
    pub fn gemms(&self) -> usize {
        self.batch * self.per_image
    }
}

/// The lowering of an op, or why it cannot be offloaded.
pub(super) fn lowering_of(
    graph: &Graph,
    prepared: &PreparedOp,
    index: usize,
) -> Result<(Lowering, GemmShape), String> {
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
    if input.dtype == DType::I16 {
        // 16x8 layers (int16 activations, int8 weights): the array and PPU are int8.
        return Err("int16 activations: CPU only (the accelerator is int8)".into());
    }
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
    match (&op.kind, prepared) {
        (OpKind::Conv2d(_), PreparedOp::Conv { geom, quant }) => {
            if quant.filter_zero_point != 0 {
                return Err("unsupported option: non-zero weight zero point".into());
            }
            if geom.group_in_c != geom.in_c {
                return Err(format!(
                    "unsupported option: grouped convolution (filter depth {} of input depth {})",
                    geom.group_in_c, geom.in_c
                ));
            }
            Ok((
                Lowering::Conv {
                    geom: *geom,
                    patches_are_input: geom.patches_are_input(),
                },
                GemmShape {
                    batch: geom.batch,
                    m: geom.pixels_per_image(),
                    k: geom.patch_len(),
                    n: geom.out_c,
                    per_image: 1,
                },
            ))
        }
        (OpKind::DepthwiseConv2d(_), PreparedOp::Depthwise { geom, quant }) => {
            if quant.filter_zero_point != 0 {
                return Err("unsupported option: non-zero weight zero point".into());
            }
            Ok((
                Lowering::Depthwise { geom: *geom },
                GemmShape {
                    batch: geom.batch,
                    m: geom.pixels_per_image(),
                    k: geom.taps(),
                    n: 1,
                    per_image: geom.out_c,
                },
            ))
        }
        (OpKind::FullyConnected { .. }, PreparedOp::FullyConnected { geom, quant }) => {
            if quant.filter_zero_point != 0 {
                return Err("unsupported option: non-zero weight zero point".into());
            }
            Ok((
                Lowering::Fc,
                GemmShape {
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

/// The im2col window of a conv geometry, or `None` when it does not fit the `CONV_GEOM`
/// / `LOAD_IM2COL` fields (kernel, stride and dilation 1..=16, top/left padding <= 15,
/// `in_h`, `in_w`, `out_w` 1..=4095, at most 4096 output rows (12-bit `oy0`), `in_c`
/// 1..=65535) or is grouped.
pub(super) fn window_of(g: &ConvGeometry) -> Option<Window> {
    let dim = MAX_GEOM_DIM as usize;
    let kern = MAX_GEOM_KERNEL as usize;
    let fits = g.group_in_c == g.in_c
        && [g.in_h, g.in_w, g.out_w]
            .iter()
            .all(|&v| (1..=dim).contains(&v))
        && (1..=dim + 1).contains(&g.out_h)
        && (1..=u16::MAX as usize).contains(&g.in_c)
        && [
            g.k_h,
            g.k_w,
            g.stride_h,
            g.stride_w,
            g.dilation_h,
            g.dilation_w,
        ]
        .iter()
        .all(|&v| (1..=kern).contains(&v))
        && g.pad_top <= MAX_GEOM_PAD as usize
        && g.pad_left <= MAX_GEOM_PAD as usize;
    fits.then(|| window_fields(g))
}

/// The window registers of a conv geometry as they are (no field-range check: see
/// [`window_of`]); a depthwise geometry's window reads its `in_c` channels.
pub(super) fn window_fields(g: &ConvGeometry) -> Window {
    Window {
        in_h: g.in_h as u32,
        in_w: g.in_w as u32,
        in_c: g.in_c as u32,
        out_w: g.out_w as u32,
        kh: g.k_h as u32,
        kw: g.k_w as u32,
        sh: g.stride_h as u32,
        sw: g.stride_w as u32,
        dh: g.dilation_h as u32,
        dw: g.dilation_w as u32,
        pad_t: g.pad_top as u32,
        pad_l: g.pad_left as u32,
    }
}

/// The window of a layer whose patches the accelerator's im2col unit generates on `cfg`:
/// a conv (not grouped) on a design with `im2col = true`, unless its patches are the
/// input itself (1x1 stride-1 unpadded: A is the input, a plain `LOAD`) or its geometry
/// does not fit the command fields (then the CPU does the im2col, as without the unit).
/// Depthwise and fully connected layers never use it.
pub(super) fn hw_window(cfg: &AccelConfig, lowering: &Lowering) -> Option<Window> {
    match lowering {
        Lowering::Conv {
            geom,
            patches_are_input: false,
        } if cfg.im2col => window_of(geom),
        _ => None,
    }
}

/// The GEMM problem of one of the layer's GEMMs on `cfg` (int8 output with the given
/// parameters; the hardware im2col window when [`hw_window`] gives one).
pub(super) fn problem_of(
    cfg: &AccelConfig,
    lowering: &Lowering,
    shape: &GemmShape,
    output: arch::schedule::Output,
) -> GemmProblem {
    GemmProblem {
        m: shape.m,
        k: shape.k,
        n: shape.n,
        output,
        im2col: hw_window(cfg, lowering),
    }
}

/// CPU cycles of the im2col of one layer (all images), or 0 when none is needed.
pub(super) fn im2col_cpu_cycles(cpu: &CpuProfile, lowering: &Lowering, shape: &GemmShape) -> u64 {
    let bytes = match lowering {
        Lowering::Conv {
            patches_are_input: true,
            ..
        }
        | Lowering::Fc => return 0,
        Lowering::Conv { geom, .. } => geom.pixels_per_image() * geom.patch_len() * shape.batch,
        Lowering::Depthwise { geom } => {
            geom.pixels_per_image() * geom.taps() * geom.out_c * shape.batch
        }
    } as u64;
    // im2col is a gather of `bytes` bytes with padding fill: the PAD kernel's cost shape.
    let c = cpu.layer_cost(&OpShape::Pad {
        in_bytes: bytes,
        out_bytes: bytes,
    });
    c.cycles - c.breakdown.call.ceil() as u64
}

/// One GEMM's packed weights (`K x N`), folded bias, multipliers and shifts.
pub(super) struct PackedColumns {
    pub weights: Vec<i8>,
    pub bias: Vec<i32>,
    pub multipliers: Vec<i32>,
    pub shifts: Vec<i32>,
}

/// The packed weight columns of every GEMM of a layer, in job order (image-major, then
/// output channel for depthwise): OHWI / `[out, in]` weights to `K x N`, the input zero
/// point folded into the bias.
pub(super) fn pack_columns(
    lowering: &Lowering,
    shape: &GemmShape,
    filter: &[i8],
    quant: &QuantParams,
) -> Vec<PackedColumns> {
    let zp_in = quant.input_zero_point;
    let mut columns = Vec::with_capacity(shape.gemms());
    match lowering {
        Lowering::Conv { .. } | Lowering::Fc => {
            let b = lower::pack_ohwi(filter, shape.n, shape.k);
            let bias = lower::fold_bias(Some(&quant.bias), &b, shape.k, shape.n, zp_in);
            for _ in 0..shape.batch {
                columns.push(PackedColumns {
                    weights: b.clone(),
                    bias: bias.clone(),
                    multipliers: quant.multipliers.clone(),
                    shifts: quant.shifts.clone(),
                });
            }
        }
        Lowering::Depthwise { geom } => {
            let out_c = geom.out_c;
            for _ in 0..shape.batch {
                for oc in 0..out_c {
                    let b = lower::depthwise_column(filter, out_c, shape.k, oc);
                    let bias =
                        lower::fold_bias(Some(&quant.bias[oc..oc + 1]), &b, shape.k, 1, zp_in);
                    columns.push(PackedColumns {
                        weights: b,
                        bias,
                        multipliers: vec![quant.multipliers[oc]],
                        shifts: vec![quant.shifts[oc]],
                    });
                }
            }
        }
    }
    columns
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CONV_2D geometry with explicit padding (`out` from the usual formula).
    #[allow(clippy::too_many_arguments)]
    fn conv(
        (in_h, in_w, in_c): (usize, usize, usize),
        (k_h, k_w): (usize, usize),
        (stride_h, stride_w): (usize, usize),
        (dilation_h, dilation_w): (usize, usize),
        (pad_top, pad_left): (usize, usize),
        group_in_c: usize,
    ) -> ConvGeometry {
        let out = |i: usize, k: usize, s: usize, d: usize, p: usize| {
            (i + 2 * p - (k - 1) * d - 1) / s + 1
        };
        ConvGeometry {
            batch: 1,
            in_h,
            in_w,
            in_c,
            out_h: out(in_h, k_h, stride_h, dilation_h, pad_top),
            out_w: out(in_w, k_w, stride_w, dilation_w, pad_left),
            out_c: 8,
            k_h,
            k_w,
            group_in_c,
            stride_h,
            stride_w,
            dilation_h,
            dilation_w,
            pad_top,
            pad_left,
            depth_multiplier: 1,
        }
    }

    fn lowered(g: ConvGeometry) -> Lowering {
        Lowering::Conv {
            geom: g,
            patches_are_input: g.patches_are_input(),
        }
    }

    fn with_im2col(on: bool) -> AccelConfig {
        let mut cfg = AccelConfig::preset("edge-8x8").unwrap();
        cfg.im2col = on;
        cfg
    }

    #[test]
    fn the_window_carries_the_geometry() {
        let g = conv((32, 30, 16), (3, 5), (2, 1), (1, 2), (1, 4), 16);
        let w = window_of(&g).expect("fits");
        assert_eq!(
            (w.in_h, w.in_w, w.in_c, w.out_w),
            (32, 30, 16, g.out_w as u32)
        );
        assert_eq!((w.kh, w.kw, w.sh, w.sw, w.dh, w.dw), (3, 5, 2, 1, 1, 2));
        assert_eq!((w.pad_t, w.pad_l), (1, 4));
        assert_eq!(w.patch_len() as usize, g.patch_len());
    }

    /// The implicit matrix of the window is exactly the CPU im2col of the geometry.
    #[test]
    fn the_implicit_matrix_is_the_cpu_im2col() {
        for g in [
            conv((7, 6, 3), (3, 3), (1, 1), (1, 1), (1, 1), 3),
            conv((9, 11, 5), (3, 2), (2, 3), (2, 1), (2, 0), 5),
            conv((8, 8, 4), (1, 1), (2, 2), (1, 1), (0, 0), 4),
            conv((5, 13, 1), (4, 3), (1, 2), (1, 3), (3, 2), 1),
        ] {
            let image: Vec<i8> = (0..g.in_h * g.in_w * g.in_c)
                .map(|i| (i as i32 * 37 % 251 - 125) as i8)
                .collect();
            let w = window_of(&g).unwrap();
            let want = lower::im2col(&image, &g, -7);
            let got = crate::gemm::implicit_a(&w, g.pixels_per_image(), &image, -7);
            assert_eq!(got, want, "{g:?}");
        }
    }

    #[test]
    fn geometries_beyond_the_fields_do_not_fit() {
        let ok = conv((16, 16, 8), (3, 3), (1, 1), (1, 1), (1, 1), 8);
        assert!(window_of(&ok).is_some());
        let cases = [
            (
                "kernel 17",
                conv((40, 40, 8), (17, 3), (1, 1), (1, 1), (0, 0), 8),
            ),
            (
                "stride 17",
                conv((40, 40, 8), (3, 3), (1, 17), (1, 1), (0, 0), 8),
            ),
            (
                "dilation 17",
                conv((40, 40, 8), (2, 2), (1, 1), (17, 1), (0, 0), 8),
            ),
            (
                "pad 16",
                conv((40, 40, 8), (3, 3), (1, 1), (1, 1), (16, 0), 8),
            ),
            (
                "in_w 4096",
                conv((4, 4096, 1), (3, 3), (1, 1), (1, 1), (1, 1), 1),
            ),
            (
                "in_c 65536",
                conv((2, 2, 65536), (1, 1), (2, 2), (1, 1), (0, 0), 65536),
            ),
            (
                "grouped",
                conv((16, 16, 8), (3, 3), (1, 1), (1, 1), (1, 1), 4),
            ),
        ];
        for (what, g) in cases {
            assert!(window_of(&g).is_none(), "{what}: {g:?}");
            assert!(
                hw_window(&with_im2col(true), &lowered(g)).is_none(),
                "{what}"
            );
        }
        // At the limits of the fields.
        let edge = conv(
            (4095, 20, 65535),
            (16, 16),
            (16, 16),
            (1, 1),
            (15, 15),
            65535,
        );
        assert!(window_of(&edge).is_some(), "{edge:?}");
    }

    #[test]
    fn the_im2col_unit_is_used_only_where_it_helps() {
        let spatial = lowered(conv((16, 16, 8), (3, 3), (1, 1), (1, 1), (1, 1), 8));
        let pointwise = lowered(conv((16, 16, 8), (1, 1), (1, 1), (1, 1), (0, 0), 8));
        let strided_pointwise = lowered(conv((16, 16, 8), (1, 1), (2, 2), (1, 1), (0, 0), 8));
        let (on, off) = (with_im2col(true), with_im2col(false));
        assert!(hw_window(&on, &spatial).is_some());
        assert!(hw_window(&off, &spatial).is_none(), "no unit on the design");
        // A 1x1 stride-1 conv's A is the input itself: a plain LOAD.
        assert!(hw_window(&on, &pointwise).is_none());
        // A strided 1x1 conv subsamples the input: the unit does it.
        assert!(hw_window(&on, &strided_pointwise).is_some());
        let g = conv((16, 16, 8), (3, 3), (1, 1), (1, 1), (1, 1), 1);
        assert!(hw_window(&on, &Lowering::Depthwise { geom: g }).is_none());
        assert!(hw_window(&on, &Lowering::Fc).is_none());
        // The problem carries the window; m and k are the implicit matrix's.
        let shape = GemmShape {
            batch: 1,
            m: 256,
            k: 72,
            n: 8,
            per_image: 1,
        };
        let out = arch::schedule::Output::Int32;
        let p = problem_of(&on, &spatial, &shape, out);
        assert_eq!(p.im2col.map(|w| w.patch_len()), Some(72));
        assert_eq!(problem_of(&off, &spatial, &shape, out).im2col, None);
    }
}
