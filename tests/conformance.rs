//! Cross-backend conformance: random legal one-op layers (CONV_2D incl. grouped and
//! dilated, DEPTHWISE_CONV_2D with depth multiplier 1..3, FULLY_CONNECTED), with random
//! per-channel quantization, zero points and fused activations, run
//! (a) on the CPU reference kernels (`Interpreter::invoke`, bit-exact with TFLite-Micro) and
//! (b) offloaded through the driver (`delegate::run_model`, `Policy::All`) to the simulator
//!     on a random small accelerator (1..8 x 1..8, both dataflows, random scratchpads,
//!     banks, bus; half of them with the hardware im2col unit and 1, 2, 4 or 16 DMA
//!     requests in flight), functional model for most cases and cycle-level for every 8th,
//! and compared bit for bit. Every case must also really be offloaded (decision `Accel`),
//! except grouped convolutions, which the driver keeps on the CPU (decision `Cpu`); on a
//! design with the im2col unit every non-pointwise, non-grouped conv must use it.
//!
//! Environment: `TINYACCEL_CONFORMANCE_SEED` (default 0x7A1A, the im2col suite 0x7A1A ^
//! 0x12C01), `TINYACCEL_CONFORMANCE_CASES` (default 2000; 500 for the im2col
//! suite), `TINYACCEL_CONFORMANCE_ONLY=<case>` replays one case. A failure prints the
//! case (layer, shapes, quantization, configuration) and the command that replays it.
//!
//! RTL conformance (the same generator against the Verilator model for small cases) is a
//! later step of the hdl work; this file is the reference for what "conformance" means.

use arch::{AccelConfig, Dataflow};
use driver::delegate::{self, Placement, Policy};
use models::rng::SplitMix64;
use models::{
    Activation, ConvOptions, DType, DepthwiseOptions, Graph, Op, OpKind, Padding, Quantization,
    Tensor,
};
use runtime::cost::CpuProfile;
use runtime::Interpreter;
use sim::{Fidelity, SimDevice};

const DEFAULT_SEED: u64 = 0x7A1A;
const DEFAULT_CASES: usize = 2000;
/// Device memory of each simulated accelerator (the cases are small).
const DEV_MEM: usize = 4 << 20;

#[derive(Debug, Clone, Copy)]
enum Kind {
    Conv { out_c: usize, groups: usize },
    Depthwise { mult: usize },
    Fc { units: usize, per_channel: bool },
}

/// One random layer: everything needed to rebuild it.
#[derive(Debug, Clone)]
struct Case {
    kind: Kind,
    /// NHWC input (FC: `[batch, h*w*c]` flattened from this).
    input: [usize; 4],
    kernel: (usize, usize),
    stride: (usize, usize),
    dilation: (usize, usize),
    padding: Padding,
    act: Activation,
    in_scale: f32,
    in_zp: i64,
    out_scale: f32,
    out_zp: i64,
    /// Per output channel (FC per-tensor: one entry).
    w_scales: Vec<f32>,
    weights: Vec<i8>,
    bias: Vec<i32>,
    data: Vec<i8>,
    cycle_model: bool,
}

fn pick<T: Copy>(r: &mut SplitMix64, xs: &[T]) -> T {
    xs[r.range_i64(0, xs.len() as i64 - 1) as usize]
}

fn urange(r: &mut SplitMix64, lo: usize, hi: usize) -> usize {
    r.range_i64(lo as i64, hi as i64) as usize
}

/// Log-uniform in `[lo, hi]`.
fn log_uniform(r: &mut SplitMix64, lo: f64, hi: f64) -> f64 {
    (lo.ln() + r.next_f64() * (hi.ln() - lo.ln())).exp()
}

fn out_dim(same: bool, input: usize, k: usize, s: usize, d: usize) -> usize {
    let eff = (k - 1) * d + 1;
    if same {
        input.div_ceil(s)
    } else {
        (input - eff) / s + 1
    }
}

/// The ranges of a suite's layers.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// Only non-grouped CONV_2D layers.
    conv_only: bool,
    max_stride: usize,
    max_dilation: usize,
    max_kernel: usize,
}

/// The main suite's ranges (every op kind).
const ALL_KINDS: Limits = Limits {
    conv_only: false,
    max_stride: 2,
    max_dilation: 2,
    max_kernel: 4,
};

/// The im2col suite's ranges: convolutions with wider strides, dilations and kernels.
const WIDE_CONVS: Limits = Limits {
    conv_only: true,
    max_stride: 4,
    max_dilation: 3,
    max_kernel: 7,
};

fn gen_case(r: &mut SplitMix64, index: usize, lim: &Limits) -> Case {
    let which = r.range_i64(0, 9);
    let which = if lim.conv_only { 0 } else { which };
    let batch = if r.range_i64(0, 5) == 0 { 2 } else { 1 };
    let stride = (urange(r, 1, lim.max_stride), urange(r, 1, lim.max_stride));
    let dilation = if r.range_i64(0, 3) == 0 {
        (
            urange(r, 1, lim.max_dilation),
            urange(r, 1, lim.max_dilation),
        )
    } else {
        (1, 1)
    };
    let kernel = (urange(r, 1, lim.max_kernel), urange(r, 1, lim.max_kernel));
    let padding = if r.range_i64(0, 1) == 0 {
        Padding::Same
    } else {
        Padding::Valid
    };
    // Spatial size at least the dilated kernel (VALID needs it; SAME does not, but keep
    // the shapes comparable).
    let min_h = (kernel.0 - 1) * dilation.0 + 1;
    let min_w = (kernel.1 - 1) * dilation.1 + 1;
    // One case in six is large enough to be tiled many times on the small scratchpads.
    let big = r.range_i64(0, 5) == 0;
    let (sp, ch) = if big { (16, 48) } else { (8, 12) };
    let h = urange(r, min_h, min_h + sp);
    let w = urange(r, min_w, min_w + sp);
    let (kind, c, kernel, stride, dilation) = if which < 4 {
        let groups = if r.range_i64(0, 7) == 0 && !lim.conv_only {
            2
        } else {
            1
        };
        let c = urange(r, 1, ch) * groups;
        let out_c = urange(r, 1, ch) * groups;
        (Kind::Conv { out_c, groups }, c, kernel, stride, dilation)
    } else if which < 7 {
        let mult = urange(r, 1, 3);
        (
            Kind::Depthwise { mult },
            urange(r, 1, ch),
            kernel,
            stride,
            dilation,
        )
    } else {
        let units = urange(r, 1, if big { 160 } else { 40 });
        let per_channel = r.range_i64(0, 1) == 0;
        (
            Kind::Fc { units, per_channel },
            urange(r, 1, 16),
            (1, 1),
            (1, 1),
            (1, 1),
        )
    };
    let act = pick(r, &[Activation::None, Activation::Relu, Activation::Relu6]);
    let (n_out, w_len, k_len) = match kind {
        Kind::Conv { out_c, groups } => {
            let fd = c / groups;
            (
                out_c,
                out_c * kernel.0 * kernel.1 * fd,
                kernel.0 * kernel.1 * fd,
            )
        }
        Kind::Depthwise { mult } => (
            c * mult,
            kernel.0 * kernel.1 * c * mult,
            kernel.0 * kernel.1,
        ),
        Kind::Fc { units, .. } => (units, units * h * w * c, h * w * c),
    };
    let in_scale = log_uniform(r, 1e-3, 0.5) as f32;
    let in_zp = r.range_i64(-128, 127);
    let out_zp = r.range_i64(-128, 127);
    let per_channel = !matches!(
        kind,
        Kind::Fc {
            per_channel: false,
            ..
        }
    );
    let base_w = log_uniform(r, 1e-3, 0.1);
    let n_scales = if per_channel { n_out } else { 1 };
    let w_scales: Vec<f32> = (0..n_scales)
        .map(|_| (base_w * (0.25 + 1.5 * r.next_f64())) as f32)
        .collect();
    // Effective multiplier in_scale * w_scale / out_scale: around 1/(accumulator RMS) so
    // that outputs span the int8 range, spread from heavily saturating to near-zero, with
    // a few above 1 (positive shifts).
    let acc_rms = (k_len as f64).sqrt() * 74.0 * 80.0;
    let target = log_uniform(r, 4.0, 400.0) / acc_rms;
    let target = if r.range_i64(0, 19) == 0 {
        log_uniform(r, 1.0, 3.0)
    } else {
        target
    };
    let out_scale = (in_scale as f64 * base_w / target) as f32;
    let full_range = r.range_i64(0, 3) == 0;
    let weights: Vec<i8> = (0..w_len)
        .map(|_| {
            if full_range {
                r.range_i64(-128, 127) as i8
            } else {
                r.range_i64(-127, 127) as i8
            }
        })
        .collect();
    let bias_mag = pick(r, &[0i64, 100, 5_000, 1 << 20]);
    let bias: Vec<i32> = (0..n_out)
        .map(|_| r.range_i64(-bias_mag, bias_mag) as i32)
        .collect();
    let data: Vec<i8> = (0..batch * h * w * c)
        .map(|_| r.range_i64(-128, 127) as i8)
        .collect();
    Case {
        kind,
        input: [batch, h, w, c],
        kernel,
        stride,
        dilation,
        padding,
        act,
        in_scale,
        in_zp,
        out_scale,
        out_zp,
        w_scales,
        weights,
        bias,
        data,
        cycle_model: index % 8 == 7,
    }
}

fn tensor(name: &str, shape: Vec<usize>, dtype: DType, q: Option<Quantization>) -> Tensor {
    Tensor {
        name: name.into(),
        shape,
        dtype,
        quant: q,
        data: None,
    }
}

/// The one-op graph of a case.
fn build(case: &Case) -> Graph {
    let [b, h, w, c] = case.input;
    let same = case.padding == Padding::Same;
    let (kh, kw) = case.kernel;
    let (sh, sw) = case.stride;
    let (dh, dw) = case.dilation;
    let oh = out_dim(same, h, kh, sh, dh);
    let ow = out_dim(same, w, kw, sw, dw);
    let in_shape = match case.kind {
        Kind::Fc { .. } => vec![b, h * w * c],
        _ => vec![b, h, w, c],
    };
    let (w_shape, qdim, out_shape, kind) = match case.kind {
        Kind::Conv { out_c, groups } => (
            vec![out_c, kh, kw, c / groups],
            0,
            vec![b, oh, ow, out_c],
            OpKind::Conv2d(ConvOptions {
                padding: case.padding,
                stride_h: sh,
                stride_w: sw,
                dilation_h: dh,
                dilation_w: dw,
                activation: case.act,
            }),
        ),
        Kind::Depthwise { mult } => (
            vec![1, kh, kw, c * mult],
            3,
            vec![b, oh, ow, c * mult],
            OpKind::DepthwiseConv2d(DepthwiseOptions {
                padding: case.padding,
                stride_h: sh,
                stride_w: sw,
                dilation_h: dh,
                dilation_w: dw,
                depth_multiplier: mult,
                activation: case.act,
            }),
        ),
        Kind::Fc { units, .. } => (
            vec![units, h * w * c],
            0,
            vec![b, units],
            OpKind::FullyConnected {
                activation: case.act,
                keep_num_dims: false,
            },
        ),
    };
    let n = case.bias.len();
    let x = tensor(
        "input",
        in_shape,
        DType::I8,
        Some(Quantization::per_tensor(case.in_scale, case.in_zp)),
    );
    let mut wt = tensor(
        "weights",
        w_shape,
        DType::I8,
        Some(Quantization {
            scales: case.w_scales.clone(),
            zero_points: vec![0; case.w_scales.len()],
            quantized_dimension: qdim,
        }),
    );
    wt.data = Some(case.weights.iter().map(|&v| v as u8).collect());
    let bias_scales: Vec<f32> = case.w_scales.iter().map(|s| s * case.in_scale).collect();
    let mut bt = tensor(
        "bias",
        vec![n],
        DType::I32,
        Some(Quantization {
            zero_points: vec![0; bias_scales.len()],
            scales: bias_scales,
            quantized_dimension: 0,
        }),
    );
    bt.data = Some(case.bias.iter().flat_map(|v| v.to_le_bytes()).collect());
    let y = tensor(
        "output",
        out_shape,
        DType::I8,
        Some(Quantization::per_tensor(case.out_scale, case.out_zp)),
    );
    Graph {
        name: "conformance".into(),
        description: format!("{:?}", case.kind),
        tensors: vec![x, wt, bt, y],
        ops: vec![Op {
            kind,
            inputs: vec![Some(0), Some(1), Some(2)],
            outputs: vec![3],
        }],
        inputs: vec![0],
        outputs: vec![3],
    }
}

/// A random small accelerator that validates.
fn gen_config(r: &mut SplitMix64) -> AccelConfig {
    let mut c = AccelConfig::preset("tiny-4x4").expect("preset tiny-4x4");
    c.rows = urange(r, 1, 8) as u32;
    c.cols = urange(r, 1, 8) as u32;
    c.dataflow = if r.range_i64(0, 1) == 0 {
        Dataflow::OutputStationary
    } else {
        Dataflow::WeightStationary
    };
    c.input_sram_kib = urange(r, 1, 8) as u32;
    c.weight_sram_kib = urange(r, 1, 8) as u32;
    c.acc_sram_kib = urange(r, 1, 4) as u32;
    c.input_sram_banks = pick(r, &[1, 2, 4]);
    c.weight_sram_banks = pick(r, &[1, 2, 4]);
    c.acc_sram_banks = pick(r, &[1, 2]);
    c.bus_bytes_per_cycle = pick(r, &[1, 2, 4, 8, 16]);
    c.bus_latency_cycles = urange(r, 0, 20) as u32;
    // Drawn last, so the other fields of a case's design are those of before issue 16.
    c.im2col = r.range_i64(0, 1) == 0;
    c.dma_outstanding = pick(r, &[1, 2, 4, 16]);
    c.name = format!(
        "rand-{}x{}-{}-in{}k{}b-w{}k{}b-acc{}k{}b-bus{}{}-n{}",
        c.rows,
        c.cols,
        c.dataflow,
        c.input_sram_kib,
        c.input_sram_banks,
        c.weight_sram_kib,
        c.weight_sram_banks,
        c.acc_sram_kib,
        c.acc_sram_banks,
        c.bus_bytes_per_cycle,
        if c.im2col { "-im2col" } else { "" },
        c.dma_outstanding
    );
    c
}

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    match std::env::var(key) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{key}={v:?} is not a valid value")),
        Err(_) => default,
    }
}

/// The per-case generator seed: independent of the case count, so one case replays alone.
fn case_seed(seed: u64, index: usize) -> u64 {
    SplitMix64::new(seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)).next_u64()
}

fn describe(seed: u64, index: usize, case: &Case, cfg: &AccelConfig, test: &str) -> String {
    let short = |v: &[i8]| {
        if v.len() > 24 {
            format!("{:?}... ({} values)", &v[..24], v.len())
        } else {
            format!("{v:?}")
        }
    };
    format!(
        "case {index} (replay: TINYACCEL_CONFORMANCE_SEED={seed} TINYACCEL_CONFORMANCE_ONLY={index} \
         cargo test --release --test conformance {})\n  layer: {:?} input {:?} kernel {:?} stride {:?} \
         dilation {:?} {:?} {:?}\n  quant: in {} zp {}, out {} zp {}, w_scales {:?}\n  bias {:?}\n  \
         weights {}\n  sim model: {}\n  config:\n{}",
        test,
        case.kind,
        case.input,
        case.kernel,
        case.stride,
        case.dilation,
        case.padding,
        case.act,
        case.in_scale,
        case.in_zp,
        case.out_scale,
        case.out_zp,
        case.w_scales,
        case.bias,
        short(&case.weights),
        if case.cycle_model { "cycle" } else { "functional" },
        cfg.to_toml()
    )
}

/// Runs one case; `Err` describes the failure. `Ok`: the expected output, how many of its
/// values are not clamped, and whether the layer used the im2col unit.
fn run_case(
    case: &Case,
    cfg: &AccelConfig,
    cpu: &CpuProfile,
) -> Result<(Vec<u8>, usize, bool), String> {
    let graph = build(case);
    let input: Vec<u8> = case.data.iter().map(|&v| v as u8).collect();
    let mut interp = Interpreter::new(&graph).map_err(|e| format!("prepare: {e}"))?;
    let want = interp
        .invoke(&input)
        .map_err(|e| format!("CPU invoke: {e}"))?;
    let model = if case.cycle_model {
        Fidelity::Cycle
    } else {
        Fidelity::Functional
    };
    let mut dev = SimDevice::new(cfg, model, DEV_MEM);
    let mut interp = Interpreter::new(&graph).map_err(|e| format!("prepare: {e}"))?;
    let run = delegate::run_model(&mut interp, &mut dev, cpu, Policy::All, &input)
        .map_err(|e| format!("offloaded run: {e}"))?;
    let d = &run.decisions[0];
    // Grouped convolutions are not lowered by the driver: they must stay on the CPU (and
    // still give the same output); every other layer must run on the accelerator.
    let grouped = matches!(case.kind, Kind::Conv { groups, .. } if groups > 1);
    let want_target = if grouped {
        Placement::Cpu
    } else {
        Placement::Accel
    };
    if d.placement != want_target {
        return Err(format!(
            "decision {} ({}), expected {}",
            d.placement.as_str(),
            d.reason,
            want_target.as_str()
        ));
    }
    // With the im2col unit, a conv whose patches are not the input itself reads its image
    // through the unit (the generated windows all fit its fields).
    let hw_im2col = d.reason.contains("im2col unit");
    let pointwise_s1 = case.kernel == (1, 1) && case.stride == (1, 1);
    let spatial_conv = matches!(case.kind, Kind::Conv { groups: 1, .. }) && !pointwise_s1;
    if hw_im2col != (cfg.im2col && spatial_conv) {
        return Err(format!(
            "decision `{}` on a design with im2col = {}: the im2col unit {} expected",
            d.reason,
            cfg.im2col,
            if cfg.im2col && spatial_conv {
                "was"
            } else {
                "was not"
            }
        ));
    }
    let pieces = run.device_counters().im2col_pieces;
    if (pieces > 0) != hw_im2col {
        return Err(format!(
            "{pieces} im2col pieces counted, im2col unit used: {hw_im2col}"
        ));
    }
    if run.output != want {
        let first = want
            .iter()
            .zip(&run.output)
            .position(|(a, b)| a != b)
            .unwrap_or(want.len().min(run.output.len()));
        let diff = want.iter().zip(&run.output).filter(|(a, b)| a != b).count();
        return Err(format!(
            "output differs: {diff} of {} bytes, first at {first}: cpu {:?} accel {:?} (lengths {} vs {})",
            want.len(),
            want.get(first).map(|&v| v as i8),
            run.output.get(first).map(|&v| v as i8),
            want.len(),
            run.output.len()
        ));
    }
    // Values strictly inside the activation range: the case checked more than clamping.
    let (lo, hi) = (-128i8, 127i8);
    let inner = want
        .iter()
        .filter(|&&v| (v as i8) != lo && (v as i8) != hi)
        .count();
    Ok((want, inner, hw_im2col))
}

#[test]
fn random_layers_agree_bit_for_bit_on_cpu_and_simulator() {
    run_suite(
        "random_layers_agree_bit_for_bit_on_cpu_and_simulator",
        DEFAULT_SEED,
        DEFAULT_CASES,
        &ALL_KINDS,
        false,
    );
}

/// Convolutions only, with strides up to 4, dilations up to 3 and kernels up to 7x7, SAME
/// and VALID, odd sizes and channel counts, every design with the im2col unit (1, 2, 4
/// or 16 DMA requests in flight): every non-pointwise one goes through the unit.
#[test]
fn random_convs_through_the_im2col_unit_agree_bit_for_bit() {
    run_suite(
        "random_convs_through_the_im2col_unit_agree_bit_for_bit",
        DEFAULT_SEED ^ 0x1_2C01,
        DEFAULT_CASES / 4,
        &WIDE_CONVS,
        true,
    );
}

/// Runs `default_cases` cases of a suite (`TINYACCEL_CONFORMANCE_*` override the seed,
/// the count or replay one case); `force_im2col`: every design has the im2col unit.
fn run_suite(
    test: &str,
    default_seed: u64,
    default_cases: usize,
    lim: &Limits,
    force_im2col: bool,
) {
    let seed: u64 = env_or("TINYACCEL_CONFORMANCE_SEED", default_seed);
    let cases: usize = env_or("TINYACCEL_CONFORMANCE_CASES", default_cases);
    let only: Option<usize> = std::env::var("TINYACCEL_CONFORMANCE_ONLY").ok().map(|v| {
        v.trim()
            .parse()
            .expect("TINYACCEL_CONFORMANCE_ONLY: a case index")
    });
    let cpu = CpuProfile::resolve("cortex-m4f").expect("cpu profile cortex-m4f");
    let indices: Vec<usize> = match only {
        Some(i) => vec![i],
        None => (0..cases).collect(),
    };
    let mut failures: Vec<String> = Vec::new();
    let (mut values, mut inner) = (0usize, 0usize);
    let mut by_kind = [0usize; 3];
    let mut cycle_cases = 0usize;
    let (mut im2col_cases, mut im2col_cycle_cases) = (0usize, 0usize);
    for &i in &indices {
        let mut r = SplitMix64::new(case_seed(seed, i));
        let case = gen_case(&mut r, i, lim);
        let mut cfg = gen_config(&mut r);
        if force_im2col && !cfg.im2col {
            cfg.im2col = true;
            cfg.name += "-im2col";
        }
        cfg.validate()
            .unwrap_or_else(|e| panic!("generated config does not validate: {e:?}"));
        let result = std::panic::catch_unwind(|| run_case(&case, &cfg, &cpu)).unwrap_or_else(|p| {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(format!("panic: {msg}"))
        });
        match result {
            Ok((out, n_inner, hw_im2col)) => {
                im2col_cases += hw_im2col as usize;
                im2col_cycle_cases += (hw_im2col && case.cycle_model) as usize;
                values += out.len();
                inner += n_inner;
                by_kind[match case.kind {
                    Kind::Conv { .. } => 0,
                    Kind::Depthwise { .. } => 1,
                    Kind::Fc { .. } => 2,
                }] += 1;
                cycle_cases += case.cycle_model as usize;
            }
            Err(e) => {
                if failures.len() < 10 {
                    eprintln!("FAIL {e}\n{}\n", describe(seed, i, &case, &cfg, test));
                }
                failures.push(format!("case {i}: {e}"));
            }
        }
    }
    eprintln!(
        "conformance: seed {seed}, {} cases ({} conv, {} depthwise, {} fc; {} on the cycle model; \
         {im2col_cases} convs through the im2col unit, {im2col_cycle_cases} of them on the cycle \
         model), {values} output values, {inner} not clamped to -128/127, {} failures",
        indices.len(),
        by_kind[0],
        by_kind[1],
        by_kind[2],
        cycle_cases,
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        indices.len(),
        failures.join("\n")
    );
    // The im2col unit was exercised (a full run of the main suite has hundreds of such
    // cases; nearly every case of the im2col suite is one).
    let min_share = if force_im2col { 2 } else { 10 };
    assert!(
        only.is_some() || im2col_cases * min_share >= indices.len(),
        "only {im2col_cases} of {} cases used the im2col unit",
        indices.len()
    );
    // Not vacuous: most outputs carry information beyond saturation.
    assert!(
        inner * 2 > values,
        "only {inner} of {values} outputs are unsaturated: the generator is too extreme"
    );
}
