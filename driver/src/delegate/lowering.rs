//! Lowering: how a layer becomes int8 GEMM problems ([`Lowering`], [`GemmShape`]), what
//! its im2col costs the CPU, and the weight columns packed for each GEMM (the data
//! transforms themselves are in [`crate::lower`]).

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
