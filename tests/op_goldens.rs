//! Op goldens (issue 20): the small models of `tests/data/ops/`, written and run through
//! TFLite-Micro's own interpreter by `scripts/make_op_goldens.py` (the `tflite-micro`
//! Python package, reference kernels), give exactly TFLM's output bytes on tinyaccel's
//! runtime, on every run; the models with an offloadable layer (CONV_2D, DEPTHWISE_CONV_2D,
//! FULLY_CONNECTED: the reductions after a conv, the conv/depthwise/FC goldens and the
//! generated `mixed_NN` models) give the same bytes offloaded (`--accel`) on every preset,
//! every int8 such layer placed on the accelerator, the 16x8 (int16) layers kept on the
//! CPU. No Python is needed: the models,
//! inputs and outputs are committed.

use arch::AccelConfig;
use driver::delegate::{self, Placement, Policy};
use models::DType;
use runtime::cost::CpuProfile;
use runtime::Interpreter;
use sim::{Fidelity, SimDevice};
use std::path::{Path, PathBuf};

struct Case {
    name: String,
    description: String,
    graph: models::Graph,
    runs: Vec<(Vec<u8>, Vec<u8>)>,
}

fn hex(s: &str, what: &str) -> Vec<u8> {
    s.as_bytes()
        .chunks(2)
        .map(|c| {
            std::str::from_utf8(c)
                .ok()
                .filter(|c| c.len() == 2)
                .and_then(|c| u8::from_str_radix(c, 16).ok())
                .unwrap_or_else(|| panic!("{what}: bad hex {c:?}"))
        })
        .collect()
}

fn cases() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ops");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            let v: serde_json::Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            let name = f.file_stem().unwrap().to_string_lossy().into_owned();
            let model = dir.join(v["model"].as_str().expect("model"));
            let graph = models::load_tflite(&model).unwrap_or_else(|e| panic!("{e}"));
            let runs = v["runs"]
                .as_array()
                .expect("runs")
                .iter()
                .map(|r| {
                    (
                        hex(r["input"].as_str().unwrap(), &name),
                        hex(r["output"].as_str().unwrap(), &name),
                    )
                })
                .collect();
            Case {
                name,
                description: v["description"].as_str().unwrap_or_default().to_string(),
                graph,
                runs,
            }
        })
        .collect()
}

fn diff(got: &[u8], want: &[u8]) -> String {
    let n = got.iter().zip(want).filter(|(a, b)| a != b).count();
    let first = got.iter().zip(want).position(|(a, b)| a != b);
    format!(
        "{n} of {} bytes differ (lengths {} / {}), first at {first:?}",
        want.len(),
        got.len(),
        want.len()
    )
}

#[test]
fn every_op_golden_is_bit_exact_on_the_cpu() {
    let cases = cases();
    assert!(cases.len() >= 30, "{} cases in tests/data/ops", cases.len());
    for op in [
        "MEAN",
        "SUM",
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "FULLY_CONNECTED",
        "QUANTIZE",
        "DEQUANTIZE",
        // Issue 20, helper ops-ew: the new ops and the goldens of the existing ones.
        "ADD",
        "SUB",
        "MUL",
        "RELU",
        "RELU6",
        "LEAKY_RELU",
        "HARD_SWISH",
        "LOGISTIC",
        "TANH",
        "SOFTMAX",
        "RESHAPE",
        "SQUEEZE",
        "EXPAND_DIMS",
        "CONCATENATION",
    ] {
        assert!(
            cases
                .iter()
                .any(|c| c.graph.ops.iter().any(|o| o.name() == op)),
            "no golden exercises {op}"
        );
    }
    for op in ["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD"] {
        assert!(
            cases.iter().any(|c| c
                .graph
                .ops
                .iter()
                .any(|o| o.name() == op && input_dtype(&c.graph, o) == Some(DType::I16))),
            "no golden exercises {op} with int16 activations"
        );
    }
    let mut runs = 0;
    for c in &cases {
        let mut interp = Interpreter::new(&c.graph)
            .unwrap_or_else(|e| panic!("{} ({}): {e}", c.name, c.description));
        assert!(c.runs.len() >= 5, "{}: {} runs", c.name, c.runs.len());
        for (i, (input, want)) in c.runs.iter().enumerate() {
            let got = interp.invoke(input).unwrap();
            assert!(
                &got == want,
                "{} run {i} ({}): {}",
                c.name,
                c.description,
                diff(&got, want)
            );
            runs += 1;
        }
    }
    eprintln!("{} op goldens, {runs} runs bit-exact", cases.len());
}

/// The dtype of op `o`'s input 0.
fn input_dtype(g: &models::Graph, o: &models::Op) -> Option<DType> {
    o.input(0).map(|t| g.tensors[t].dtype)
}

const OFFLOADABLE: [&str; 3] = ["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"];

/// Every golden with a conv, depthwise or fully connected layer runs offloaded (policy
/// `all`) on every preset, bit-exact: the int8 layers on the accelerator, the 16x8 ones
/// (int16 activations) kept on the CPU with the reason `run --accel` shows.
#[test]
fn op_goldens_with_an_offloadable_layer_are_bit_exact_offloaded_on_every_preset() {
    let cpu = CpuProfile::resolve("cortex-m4f").unwrap();
    let mixed: Vec<Case> = cases()
        .into_iter()
        .filter(|c| c.graph.ops.iter().any(|o| OFFLOADABLE.contains(&o.name())))
        .collect();
    assert!(
        mixed.len() >= 30,
        "{} cases with an offloadable layer",
        mixed.len()
    );
    // The generated mixed models (scripts/make_op_goldens.py `mixed_models`): at least 30,
    // every one with an offloadable layer.
    let generated = mixed
        .iter()
        .filter(|c| c.name.starts_with("mixed_"))
        .count();
    assert!(
        generated >= 30,
        "{generated} generated mixed models with an offloadable layer"
    );
    for c in &mixed {
        for (preset, _) in arch::config::PRESETS {
            let cfg = AccelConfig::preset(preset).unwrap();
            for (i, (input, want)) in c.runs.iter().enumerate() {
                let fidelity = if i == 0 {
                    Fidelity::Cycle
                } else {
                    Fidelity::Functional
                };
                let mut dev = SimDevice::new(&cfg, fidelity, sim::device::DEFAULT_MEM_BYTES);
                let mut interp = Interpreter::new(&c.graph).unwrap();
                let run = delegate::run_model(&mut interp, &mut dev, &cpu, Policy::All, input)
                    .unwrap_or_else(|e| panic!("{} on {preset}: {e}", c.name));
                for d in &run.decisions {
                    let op = &c.graph.ops[d.index];
                    if !OFFLOADABLE.contains(&op.name()) {
                        continue;
                    }
                    if input_dtype(&c.graph, op) == Some(DType::I16) {
                        assert!(
                            d.placement == Placement::Cpu
                                && d.reason.contains("int16 activations: CPU only"),
                            "{} on {preset}: 16x8 op {} placed {:?} ({})",
                            c.name,
                            d.index,
                            d.placement,
                            d.reason
                        );
                    } else {
                        assert!(
                            d.placement == Placement::Accel,
                            "{} on {preset}: {} (op {}) was not offloaded: {}",
                            c.name,
                            d.op,
                            d.index,
                            d.reason
                        );
                    }
                }
                assert!(
                    &run.output == want,
                    "{} run {i} on {preset} ({fidelity:?}): {}",
                    c.name,
                    diff(&run.output, want)
                );
            }
        }
    }
}

// ---- Spatial and shape ops (issue 20, helper "ops-spatial").

/// The ops of this group that must each have goldens (several shapes each).
const SPATIAL_OPS: [&str; 9] = [
    "PAD",
    "PADV2",
    "MAX_POOL_2D",
    "AVERAGE_POOL_2D",
    "STRIDED_SLICE",
    "TRANSPOSE",
    "RESIZE_NEAREST_NEIGHBOR",
    "RESIZE_BILINEAR",
    "TRANSPOSE_CONV",
];

#[test]
fn every_spatial_op_has_several_goldens_with_edge_quantization() {
    let cases = cases();
    for op in SPATIAL_OPS {
        let with: Vec<&Case> = cases
            .iter()
            .filter(|c| c.graph.ops.iter().any(|o| o.name() == op))
            .collect();
        assert!(with.len() >= 5, "{op}: {} goldens", with.len());
        // Zero points at the range ends somewhere in the op's cases.
        let zps: Vec<i32> = with
            .iter()
            .flat_map(|c| c.graph.tensors.iter().filter_map(|t| t.scale_zp()))
            .map(|(_, z)| z)
            .collect();
        assert!(
            zps.contains(&-128) && zps.contains(&127),
            "{op}: no golden with zero points -128 and 127"
        );
    }
}

/// `graph` with every activation tensor's type changed from int8 to `dtype`.
fn retyped(graph: &models::Graph, dtype: models::DType) -> models::Graph {
    let mut g = graph.clone();
    for t in g.tensors.iter_mut().filter(|t| t.data.is_none()) {
        assert_eq!(t.dtype, models::DType::I8, "{}", t.name);
        t.dtype = dtype;
    }
    g
}

fn widen(bytes: &[u8], dtype: models::DType) -> Vec<u8> {
    bytes
        .iter()
        .flat_map(|&b| match dtype {
            models::DType::I16 => (b as i8 as i16).to_le_bytes().to_vec(),
            models::DType::F32 => (b as i8 as f32).to_le_bytes().to_vec(),
            d => panic!("{d}"),
        })
        .collect()
}

#[test]
fn data_movement_ops_move_int16_and_float32_elements_like_int8_ones() {
    // STRIDED_SLICE, TRANSPOSE and RESIZE_NEAREST_NEIGHBOR copy elements whatever their
    // type (TFLM's templates): the int8 goldens, widened, give the widened outputs.
    let mut checked = 0;
    for c in cases() {
        let op = c.graph.ops[0].name();
        if c.graph.ops.len() != 1
            || !["STRIDED_SLICE", "TRANSPOSE", "RESIZE_NEAREST_NEIGHBOR"].contains(&op)
        {
            continue;
        }
        for dtype in [models::DType::I16, models::DType::F32] {
            let g = retyped(&c.graph, dtype);
            let mut interp =
                Interpreter::new(&g).unwrap_or_else(|e| panic!("{} as {dtype}: {e}", c.name));
            for (input, want) in &c.runs {
                let got = interp.invoke(&widen(input, dtype)).unwrap();
                assert!(got == widen(want, dtype), "{} as {dtype}", c.name);
            }
            checked += 1;
        }
    }
    assert!(checked >= 2 * 15, "{checked} variants");
}

fn case(name: &str) -> Case {
    cases()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no golden {name}"))
}

fn refused(g: &models::Graph, want: &[&str]) {
    let e = Interpreter::new(g).expect_err("prepared a graph TFLite-Micro refuses");
    let msg = e.to_string();
    for w in want {
        assert!(msg.contains(w), "{w:?} not in {msg}");
    }
}

#[test]
fn what_tflite_micro_refuses_is_refused_with_the_reason() {
    use models::OpKind;
    // RESIZE_BILINEAR with align_corners and half_pixel_centers.
    let mut g = case("resize_bilinear_align").graph;
    if let OpKind::ResizeBilinear(o) = &mut g.ops[0].kind {
        o.half_pixel_centers = true;
    }
    refused(
        &g,
        &["RESIZE_BILINEAR", "align_corners and half_pixel_centers"],
    );
    // RESIZE_BILINEAR over an image whose int32 fixed-point positions would overflow.
    let mut g = case("resize_bilinear_up2").graph;
    let x = g.ops[0].input(0).unwrap();
    g.tensors[x].shape = vec![1, 1 << 17, 1, 2];
    refused(&g, &["RESIZE_BILINEAR", "exceeds 65536"]);
    // TRANSPOSE with a perm that is not a permutation.
    let mut g = case("transpose_rank3").graph;
    let perm = g.ops[0].input(1).unwrap();
    g.tensors[perm].data = Some([0i32, 0, 1].iter().flat_map(|v| v.to_le_bytes()).collect());
    refused(&g, &["TRANSPOSE", "not a permutation"]);
    // STRIDED_SLICE with a zero stride, and over 5 dimensions.
    let mut g = case("strided_slice_basic").graph;
    let s = g.ops[0].input(3).unwrap();
    g.tensors[s].data = Some(
        [1i32, 0, 1, 1]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
    );
    refused(&g, &["STRIDED_SLICE", "stride of dimension 1 is 0"]);
    let mut g = case("strided_slice_basic").graph;
    g.tensors[g.ops[0].input(0).unwrap()].shape = vec![1, 1, 6, 8, 4];
    refused(&g, &["rank 5", "at most 4"]);
    // Pooling with differing input and output quantization.
    let mut g = case("max_pool_valid_2x2_s2").graph;
    let y = g.ops[0].output().unwrap();
    g.tensors[y].quant = Some(models::Quantization::per_tensor(0.05, 4));
    refused(&g, &["MAX_POOL_2D", "same quantization"]);
    // PADV2 whose value is quantized unlike the output.
    let mut g = case("padv2_value").graph;
    let v = g.ops[0].input(2).unwrap();
    g.tensors[v].quant = Some(models::Quantization::per_tensor(0.05, 0));
    refused(&g, &["PADV2", "quantized like the output"]);
    // TRANSPOSE_CONV: int16 input (16x8 is not supported here), asymmetric weights, a
    // bias of the wrong length.
    let mut g = case("transpose_conv_s2_same").graph;
    let x = g.ops[0].input(2).unwrap();
    g.tensors[x].dtype = models::DType::I16;
    refused(&g, &["TRANSPOSE_CONV", "only int8"]);
    let mut g = case("transpose_conv_s2_same").graph;
    let w = g.ops[0].input(1).unwrap();
    g.tensors[w].quant.as_mut().unwrap().zero_points[1] = 3;
    refused(&g, &["TRANSPOSE_CONV", "non-zero zero points"]);
    let mut g = case("transpose_conv_s2_same").graph;
    let b = g.ops[0].input(3).unwrap();
    g.tensors[b].shape = vec![4];
    g.tensors[b].data.as_mut().unwrap().truncate(16);
    refused(&g, &["TRANSPOSE_CONV", "bias", "expected 5"]);
}

#[test]
fn pool_goldens_are_bit_exact_offloaded_on_every_preset() {
    // Average and max pools run on the vector unit where a preset has `pooling`, on the
    // CPU elsewhere: the same bytes as TFLite-Micro either way.
    let cpu = CpuProfile::resolve("cortex-m4f").unwrap();
    let pools: Vec<Case> = cases()
        .into_iter()
        .filter(|c| {
            c.graph
                .ops
                .iter()
                .all(|o| matches!(o.name(), "MAX_POOL_2D" | "AVERAGE_POOL_2D"))
        })
        .collect();
    assert!(pools.len() >= 10, "{} pool cases", pools.len());
    let mut on_accel = 0;
    for (preset, _) in arch::config::PRESETS {
        let cfg = AccelConfig::preset(preset).unwrap();
        for c in &pools {
            for (i, (input, want)) in c.runs.iter().enumerate() {
                let fidelity = if i == 0 {
                    Fidelity::Cycle
                } else {
                    Fidelity::Functional
                };
                let mut dev = SimDevice::new(&cfg, fidelity, sim::device::DEFAULT_MEM_BYTES);
                let mut interp = Interpreter::new(&c.graph).unwrap();
                let run = delegate::run_model(&mut interp, &mut dev, &cpu, Policy::All, input)
                    .unwrap_or_else(|e| panic!("{} on {preset}: {e}", c.name));
                if i == 0 && run.decisions[0].placement == Placement::Accel {
                    on_accel += 1;
                } else if i == 0 && cfg.pooling {
                    eprintln!("{} on {preset}: CPU ({})", c.name, run.decisions[0].reason);
                }
                assert!(
                    &run.output == want,
                    "{} run {i} on {preset} ({fidelity:?}, {:?}): {}",
                    c.name,
                    run.decisions[0].placement,
                    diff(&run.output, want)
                );
            }
        }
    }
    eprintln!("pool goldens: {on_accel} case-preset pairs ran on the accelerator");
    let vector_presets = arch::config::PRESETS
        .iter()
        .filter(|(p, _)| AccelConfig::preset(p).unwrap().pooling)
        .count();
    assert!(vector_presets >= 1);
    assert!(
        on_accel >= vector_presets,
        "no pool golden was offloaded ({on_accel})"
    );
}

/// `run --accel` says why a 16x8 layer stays on the CPU, and its output is the golden's.
#[test]
fn run_accel_names_the_int16_reason() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ops");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tinyaccel"))
        .args(["run", "--accel", "edge-8x8-tinyml", "--print-output"])
        .arg(dir.join("quantize_i8_i16_fc_i8.tflite"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("layer 1 (FULLY_CONNECTED) on the CPU: int16 activations: CPU only"),
        "{text}"
    );
    assert!(text.contains("0 of 3 layers offloaded"), "{text}");
}

/// A bias-less 16x8 CONV_2D that asks for an int32 accumulator (`quantized_bias_type`
/// INT32) is refused at import with the op and the reason.
#[test]
fn bias_less_16x8_conv_with_an_int32_accumulator_is_refused() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/import/conv16_no_bias_int32_accum.tflite");
    let e = models::load_tflite(&f).unwrap_err().to_string();
    assert!(
        e.contains("CONV_2D") && e.contains("quantized_bias_type INT32"),
        "{e}"
    );
}
