//! Op goldens (issue 20): the small models of `tests/data/ops/`, written and run through
//! TFLite-Micro's own interpreter by `scripts/make_op_goldens.py` (the `tflite-micro`
//! Python package, reference kernels), give exactly TFLM's output bytes on tinyaccel's
//! runtime, on every run; the models with an offloadable layer (CONV_2D, DEPTHWISE_CONV_2D,
//! FULLY_CONNECTED) give the same bytes offloaded (`--accel`) on every preset, the 16x8
//! (int16) layers kept on the CPU. No Python is needed: the models,
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
