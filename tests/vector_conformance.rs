//! Vector-unit conformance (issue 17): random legal one-op layers — DEPTHWISE_CONV_2D
//! (depth multipliers 1 and 2, strides, dilations, SAME/VALID padding, fused
//! activations, per-channel quantization), AVERAGE_POOL_2D and MAX_POOL_2D (windows,
//! strides, global, SAME/VALID) and same-shape ADD (random scales and zero points; the
//! second operand a constant tensor here) — run
//! on the CPU reference kernels (bit-exact with TFLite-Micro) and offloaded through the
//! driver (`Policy::All`) to the functional simulator on a random small accelerator with
//! the vector unit (`depthwise`, `pooling`, `eltwise` on; `rows <= cols`, half of them
//! with the im2col unit), compared bit for bit. Every case must be placed as the driver
//! documents it: depth multiplier 1, pools without clipped windows and ADD on the vector
//! unit; depthwise with multiplier 2 on the GEMM path (the reason says why not on the
//! vector unit); average pools with clipped windows on the CPU. Besides, the tile-level
//! model of each vector program (`sim::vtile`) must give the functional model's
//! commands, bytes, MACs and vector-unit operations exactly.
//!
//! Environment: `TINYACCEL_VCONFORMANCE_SEED` (default 0x17), `TINYACCEL_VCONFORMANCE_CASES`
//! (default 600).

use arch::device::Counters;
use arch::{AccelConfig, Dataflow};
use driver::delegate::{self, Placement, Policy};
use models::rng::SplitMix64;
use models::{
    Activation, DType, DepthwiseOptions, Graph, Op, OpKind, Padding, PoolOptions, Quantization,
    Tensor,
};
use runtime::cost::CpuProfile;
use runtime::Interpreter;
use sim::{Fidelity, SimDevice};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Depthwise { mult: usize },
    AvgPool,
    MaxPool,
    Add,
}

#[derive(Debug, Clone)]
struct Case {
    kind: Kind,
    input: [usize; 4],
    kernel: (usize, usize),
    stride: (usize, usize),
    dilation: (usize, usize),
    padding: Padding,
    act: Activation,
    in_q: (f32, i64),
    in2_q: (f32, i64),
    out_q: (f32, i64),
    w_scales: Vec<f32>,
    weights: Vec<i8>,
    bias: Vec<i32>,
    data: Vec<i8>,
}

fn urange(r: &mut SplitMix64, lo: usize, hi: usize) -> usize {
    r.range_i64(lo as i64, hi as i64) as usize
}

fn log_uniform(r: &mut SplitMix64, lo: f64, hi: f64) -> f32 {
    (lo.ln() + r.next_f64() * (hi.ln() - lo.ln())).exp() as f32
}

fn out_dim(same: bool, input: usize, k: usize, s: usize, d: usize) -> usize {
    if same {
        input.div_ceil(s)
    } else {
        (input - ((k - 1) * d + 1)) / s + 1
    }
}

fn gen_case(r: &mut SplitMix64) -> Case {
    let kind = match r.range_i64(0, 5) {
        0 | 1 => Kind::Depthwise { mult: 1 },
        2 => Kind::Depthwise { mult: 2 },
        3 => Kind::AvgPool,
        4 => Kind::MaxPool,
        _ => Kind::Add,
    };
    let batch = if r.range_i64(0, 4) == 0 { 2 } else { 1 };
    let c = urange(r, 1, 20);
    let pool = matches!(kind, Kind::AvgPool | Kind::MaxPool);
    let global = pool && r.range_i64(0, 3) == 0;
    let mut kernel = (urange(r, 1, 4), urange(r, 1, 4));
    let stride = (urange(r, 1, 3), urange(r, 1, 3));
    let dilation = if !pool && r.range_i64(0, 2) == 0 {
        (urange(r, 1, 3), urange(r, 1, 3))
    } else {
        (1, 1)
    };
    let mut padding = if r.range_i64(0, 1) == 0 {
        Padding::Same
    } else {
        Padding::Valid
    };
    let h = (kernel.0 - 1) * dilation.0 + 1 + urange(r, 0, 9);
    let w = (kernel.1 - 1) * dilation.1 + 1 + urange(r, 0, 9);
    if global {
        kernel = (h, w);
        padding = Padding::Valid;
    }
    let act = [Activation::None, Activation::Relu, Activation::Relu6][urange(r, 0, 2)];
    let zp = |r: &mut SplitMix64| r.range_i64(-128, 127);
    let in_q = (log_uniform(r, 0.005, 0.5), zp(r));
    let in2_q = (log_uniform(r, 0.005, 0.5), zp(r));
    let out_q = if pool {
        in_q
    } else {
        (log_uniform(r, 0.005, 0.5), zp(r))
    };
    let out_c = match kind {
        Kind::Depthwise { mult } => c * mult,
        _ => c,
    };
    let taps = kernel.0 * kernel.1;
    let (w_scales, weights, bias) = match kind {
        Kind::Depthwise { .. } => {
            let ws: Vec<f32> = (0..out_c).map(|_| log_uniform(r, 0.001, 0.05)).collect();
            let wt: Vec<i8> = (0..taps * out_c)
                .map(|_| r.range_i64(-127, 127) as i8)
                .collect();
            let b: Vec<i32> = (0..out_c)
                .map(|_| r.range_i64(-3000, 3000) as i32)
                .collect();
            (ws, wt, b)
        }
        _ => (Vec::new(), Vec::new(), Vec::new()),
    };
    let n = batch * h * w * c * if kind == Kind::Add { 2 } else { 1 };
    let data = (0..n).map(|_| r.range_i64(-128, 127) as i8).collect();
    Case {
        kind,
        input: [batch, h, w, c],
        kernel,
        stride,
        dilation,
        padding,
        act,
        in_q,
        in2_q,
        out_q,
        w_scales,
        weights,
        bias,
        data,
    }
}

fn tensor(name: &str, shape: Vec<usize>, q: Option<Quantization>) -> Tensor {
    Tensor {
        name: name.into(),
        shape,
        dtype: DType::I8,
        quant: q,
        data: None,
    }
}

fn build(case: &Case) -> Graph {
    let [b, h, w, c] = case.input;
    let same = case.padding == Padding::Same;
    let (kh, kw) = case.kernel;
    let (sh, sw) = case.stride;
    let (dh, dw) = case.dilation;
    let (oh, ow) = (out_dim(same, h, kh, sh, dh), out_dim(same, w, kw, sw, dw));
    let x = tensor(
        "input",
        vec![b, h, w, c],
        Some(Quantization::per_tensor(case.in_q.0, case.in_q.1)),
    );
    let y = |shape: Vec<usize>| {
        tensor(
            "output",
            shape,
            Some(Quantization::per_tensor(case.out_q.0, case.out_q.1)),
        )
    };
    let pool = PoolOptions {
        padding: case.padding,
        stride_h: sh,
        stride_w: sw,
        filter_h: kh,
        filter_w: kw,
        activation: case.act,
    };
    let one = |kind: OpKind, tensors: Vec<Tensor>, inputs: Vec<Option<usize>>| {
        let out = tensors.len() - 1;
        Graph {
            name: "vector-conformance".into(),
            description: format!("{:?}", case.kind),
            tensors,
            ops: vec![Op {
                kind,
                inputs: inputs.clone(),
                outputs: vec![out],
            }],
            inputs: vec![0],
            outputs: vec![out],
        }
    };
    match case.kind {
        Kind::Depthwise { mult } => {
            let oc = c * mult;
            let mut wt = tensor(
                "weights",
                vec![1, kh, kw, oc],
                Some(Quantization {
                    scales: case.w_scales.clone(),
                    zero_points: vec![0; oc],
                    quantized_dimension: 3,
                }),
            );
            wt.data = Some(case.weights.iter().map(|&v| v as u8).collect());
            let bs: Vec<f32> = case.w_scales.iter().map(|s| s * case.in_q.0).collect();
            let mut bt = tensor(
                "bias",
                vec![oc],
                Some(Quantization {
                    zero_points: vec![0; oc],
                    scales: bs,
                    quantized_dimension: 0,
                }),
            );
            bt.dtype = DType::I32;
            bt.data = Some(case.bias.iter().flat_map(|v| v.to_le_bytes()).collect());
            one(
                OpKind::DepthwiseConv2d(DepthwiseOptions {
                    padding: case.padding,
                    stride_h: sh,
                    stride_w: sw,
                    dilation_h: dh,
                    dilation_w: dw,
                    depth_multiplier: mult,
                    activation: case.act,
                }),
                vec![x, wt, bt, y(vec![b, oh, ow, oc])],
                vec![Some(0), Some(1), Some(2)],
            )
        }
        Kind::AvgPool => one(
            OpKind::AveragePool2d(pool),
            vec![x, y(vec![b, oh, ow, c])],
            vec![Some(0)],
        ),
        Kind::MaxPool => one(
            OpKind::MaxPool2d(pool),
            vec![x, y(vec![b, oh, ow, c])],
            vec![Some(0)],
        ),
        Kind::Add => {
            // Operand 2 is a constant (the second half of the case's data); the golden
            // runs of ic add two activations.
            let mut x2 = tensor(
                "input2",
                vec![b, h, w, c],
                Some(Quantization::per_tensor(case.in2_q.0, case.in2_q.1)),
            );
            let n = b * h * w * c;
            x2.data = Some(case.data[n..].iter().map(|&v| v as u8).collect());
            one(
                OpKind::Add {
                    activation: case.act,
                },
                vec![x, x2, y(vec![b, h, w, c])],
                vec![Some(0), Some(1)],
            )
        }
    }
}

/// A random small accelerator with the vector unit (`rows <= cols`).
fn gen_config(r: &mut SplitMix64) -> AccelConfig {
    let mut c = AccelConfig::preset("tiny-4x4").expect("preset tiny-4x4");
    c.cols = urange(r, 1, 8) as u32;
    c.rows = urange(r, 1, c.cols as usize) as u32;
    c.dataflow = if r.range_i64(0, 1) == 0 {
        Dataflow::OutputStationary
    } else {
        Dataflow::WeightStationary
    };
    c.input_sram_kib = urange(r, 1, 8) as u32;
    c.weight_sram_kib = urange(r, 1, 8) as u32;
    c.acc_sram_kib = urange(r, 1, 4) as u32;
    c.input_sram_banks = [1, 2, 4][urange(r, 0, 2)];
    c.weight_sram_banks = [1, 2, 4][urange(r, 0, 2)];
    c.acc_sram_banks = [1, 2][urange(r, 0, 1)];
    c.bus_bytes_per_cycle = [1, 2, 4, 8][urange(r, 0, 3)];
    c.bus_latency_cycles = urange(r, 0, 20) as u32;
    c.im2col = r.range_i64(0, 1) == 0;
    c.dma_outstanding = [1, 2, 4][urange(r, 0, 2)];
    c.depthwise = true;
    c.pooling = true;
    c.eltwise = true;
    c.name = format!(
        "vrand-{}x{}-{}-in{}k-w{}k-acc{}k-bus{}{}",
        c.rows,
        c.cols,
        c.dataflow,
        c.input_sram_kib,
        c.weight_sram_kib,
        c.acc_sram_kib,
        c.bus_bytes_per_cycle,
        if c.im2col { "-im2col" } else { "" },
    );
    c.validate().unwrap_or_else(|e| panic!("{}: {e:?}", c.name));
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

/// Where a case must run and on which path (`true`: the vector unit). A window whose
/// taps do not fit half of the input (or, depthwise, weight) scratchpad stays on the CPU
/// ("does not fit": the plan does not split a window, see docs/architecture.md section 9).
fn expected(case: &Case, cfg: &AccelConfig) -> (Placement, bool) {
    let [_, h, w, _] = case.input;
    let (kh, kw) = case.kernel;
    let taps = (kh * kw) as u64;
    let half_in = cfg.input_sram_bytes() / cfg.rows as u64 / 2;
    let half_w = cfg.weight_sram_bytes() / cfg.cols as u64 / 2;
    let vector_kind = !matches!(case.kind, Kind::Depthwise { mult: 2 });
    let w_need = if matches!(case.kind, Kind::Depthwise { .. }) {
        taps
    } else {
        0
    };
    if vector_kind && (taps > half_in || w_need > half_w) {
        return (Placement::Cpu, false);
    }
    let (sh, sw) = case.stride;
    let same = case.padding == Padding::Same;
    match case.kind {
        Kind::Depthwise { mult: 1 } | Kind::MaxPool | Kind::Add => (Placement::Accel, true),
        Kind::Depthwise { .. } => (Placement::Accel, false),
        Kind::AvgPool => {
            let (oh, ow) = (out_dim(same, h, kh, sh, 1), out_dim(same, w, kw, sw, 1));
            let pad_t = if same {
                ((oh - 1) * sh + kh).saturating_sub(h) / 2
            } else {
                0
            };
            let pad_l = if same {
                ((ow - 1) * sw + kw).saturating_sub(w) / 2
            } else {
                0
            };
            let inside =
                pad_t == 0 && pad_l == 0 && (oh - 1) * sh + kh <= h && (ow - 1) * sw + kw <= w;
            if inside {
                (Placement::Accel, true)
            } else {
                (Placement::Cpu, false)
            }
        }
    }
}

/// The counters the functional model counts (everything but timing).
fn counts(c: &Counters) -> Counters {
    Counters {
        cycles: 0,
        array_busy_cycles: 0,
        dma_stall_cycles: 0,
        dma_busy_cycles: 0,
        bank_conflict_cycles: 0,
        vpu_busy_cycles: 0,
        ..*c
    }
}

fn run_case(case: &Case, cfg: &AccelConfig, cpu: &CpuProfile) -> Result<usize, String> {
    let graph = build(case);
    let n: usize = case.input.iter().product();
    let input: Vec<u8> = case.data[..n].iter().map(|&v| v as u8).collect();
    let mut interp = Interpreter::new(&graph).map_err(|e| format!("prepare: {e}"))?;
    let want = interp.invoke(&input).map_err(|e| format!("CPU: {e}"))?;
    let mut dev = SimDevice::new(cfg, Fidelity::Functional, 4 << 20);
    let mut interp = Interpreter::new(&graph).map_err(|e| format!("prepare: {e}"))?;
    let run = delegate::run_model(&mut interp, &mut dev, cpu, Policy::All, &input)
        .map_err(|e| format!("offloaded run: {e}"))?;
    let d = &run.decisions[0];
    let (placement, vector) = expected(case, cfg);
    let on_vector =
        d.reason.contains("on the vector unit") && !d.reason.contains("not on the vector unit");
    if d.placement != placement || on_vector != vector {
        return Err(format!(
            "decision {} `{}`, expected {} (vector unit: {vector})",
            d.placement.as_str(),
            d.reason,
            placement.as_str()
        ));
    }
    if matches!(case.kind, Kind::Depthwise { mult: 2 })
        && !d
            .reason
            .contains("not on the vector unit: depth multiplier 2")
    {
        return Err(format!("multiplier-2 reason `{}`", d.reason));
    }
    if run.output != want {
        let diff = want.iter().zip(&run.output).filter(|(a, b)| a != b).count();
        return Err(format!("output differs in {diff} of {} bytes", want.len()));
    }
    if vector {
        let l = &run.layers[0];
        let c = l.device_counters;
        if c.vpu_busy_cycles != 0 || c.cycles != 0 {
            return Err("the functional model has no timing".into());
        }
        // The tile-level model of the same problem, once per program (image).
        let est = delegate::estimate_model(
            &delegate::ModelFacts::new(
                &graph,
                &(0..graph.ops.len())
                    .map(|i| interp.prepared(i).expect("prepared"))
                    .collect::<Vec<_>>(),
                cpu,
            ),
            cfg,
            Policy::All,
            |c, p| sim::tile::estimate(c, p).ok(),
        );
        let e = est[0].device_counters;
        if counts(&e) != counts(&c) {
            return Err(format!(
                "tile-level counts {:?} differ from the functional model's {:?}",
                counts(&e),
                counts(&c)
            ));
        }
        if e.cycles == 0 || e.vpu_busy_cycles == 0 || e.vpu_busy_cycles > e.cycles {
            return Err(format!("tile-level timing {e:?}"));
        }
        let ops = match case.kind {
            Kind::Depthwise { .. } => c.macs,
            Kind::AvgPool | Kind::MaxPool => c.vpu_reduce_ops,
            Kind::Add => c.vpu_add_ops,
        };
        let (m, t, ch) = match case.kind {
            Kind::Add => (
                case.input.iter().product::<usize>() / case.input[3],
                1,
                case.input[3],
            ),
            _ => {
                let out: usize = graph.tensors[graph.outputs[0]].shape.iter().product();
                (
                    out / case.input[3],
                    case.kernel.0 * case.kernel.1,
                    case.input[3],
                )
            }
        };
        if ops != (m * t * ch) as u64 {
            return Err(format!("{ops} lane operations, expected {m} x {t} x {ch}"));
        }
    }
    Ok(want.len())
}

#[test]
fn random_vector_layers_agree_bit_for_bit_on_cpu_and_simulator() {
    let seed: u64 = env_or("TINYACCEL_VCONFORMANCE_SEED", 0x17);
    let cases: usize = env_or("TINYACCEL_VCONFORMANCE_CASES", 600);
    let cpu = CpuProfile::resolve("cortex-m4f").unwrap();
    let mut r = SplitMix64::new(seed);
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for index in 0..cases {
        let case = gen_case(&mut r);
        let cfg = gen_config(&mut r);
        if let Err(e) = run_case(&case, &cfg, &cpu) {
            panic!(
                "case {index} (seed {seed:#x}) on {}: {e}\n{:?}",
                cfg.name,
                Case {
                    data: Vec::new(),
                    weights: Vec::new(),
                    ..case
                }
            );
        }
        let key = match case.kind {
            Kind::Depthwise { mult } => format!(
                "depthwise m{mult}{}{}{}",
                if case.stride != (1, 1) {
                    " strided"
                } else {
                    ""
                },
                if case.dilation != (1, 1) {
                    " dilated"
                } else {
                    ""
                },
                if case.padding == Padding::Same {
                    " same"
                } else {
                    " valid"
                }
            ),
            k => format!("{k:?}{}", if cfg.im2col { " im2col" } else { "" }),
        };
        *seen.entry(key).or_default() += 1;
    }
    eprintln!("vector conformance: {cases} cases: {seen:?}");
    // The suite covered what it claims.
    for want in [
        "depthwise m1 strided",
        "depthwise m1 dilated",
        "depthwise m1 same",
        "depthwise m1 valid",
        "depthwise m2",
        "AvgPool",
        "MaxPool",
        "Add",
    ] {
        assert!(
            seen.keys().any(|k| k.starts_with(want) || k.contains(want)),
            "no case of `{want}` among {seen:?}"
        );
    }
}
