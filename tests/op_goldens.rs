//! Op goldens (issue 20): the small models of `tests/data/ops/`, written and run through
//! TFLite-Micro's own interpreter by `scripts/make_op_goldens.py` (the `tflite-micro`
//! Python package, reference kernels), give exactly TFLM's output bytes on tinyaccel's
//! runtime, on every run; the models with an offloadable layer (CONV_2D, DEPTHWISE_CONV_2D,
//! FULLY_CONNECTED: the reductions after a conv and the generated `mixed_NN` models) give
//! the same bytes offloaded (`--accel`) on every preset, with every such layer placed on
//! the accelerator. No Python is needed: the models,
//! inputs and outputs are committed.

use arch::AccelConfig;
use driver::delegate::{self, Placement, Policy};
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
        "QUANTIZE",
        "DEQUANTIZE",
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

#[test]
fn op_goldens_with_an_offloadable_layer_are_bit_exact_offloaded_on_every_preset() {
    let cpu = CpuProfile::resolve("cortex-m4f").unwrap();
    let offloadable = ["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"];
    let mixed: Vec<Case> = cases()
        .into_iter()
        .filter(|c| c.graph.ops.iter().any(|o| offloadable.contains(&o.name())))
        .collect();
    assert!(mixed.len() >= 2, "{} mixed cases", mixed.len());
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
                let placed: Vec<(&str, Placement)> =
                    run.decisions.iter().map(|d| (d.op, d.placement)).collect();
                // Policy::All places every offloadable layer on the accelerator.
                for (op, placement) in &placed {
                    if offloadable.contains(op) {
                        assert_eq!(
                            *placement,
                            Placement::Accel,
                            "{} on {preset}: a {op} was not offloaded: {placed:?}",
                            c.name
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
