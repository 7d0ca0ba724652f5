//! Compressed models (issue 25, item 1): the int4 versions of the four MLPerf Tiny models
//! and the 2:4-pruned kws and ic, regenerated here with the same `tinyaccel quantize` /
//! `tinyaccel prune` commands as `scripts/make_compress_goldens.py` (byte-identical to
//! the files the goldens were made from: sha256), run bit-exact with TFLite-Micro's
//! outputs (`tests/data/compress/goldens.json`) on the CPU kernels (fast and reference)
//! and offloaded to the simulated accelerator; the `.tflite` writer round-trips the
//! reference models; `compare` reports top-1 agreement.

use driver::delegate::{self, Placement, Policy};
use runtime::cost::CpuProfile;
use runtime::kernels::fast::Kernels;
use runtime::Interpreter;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sim::{Fidelity, SimDevice};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tinyaccel"))
}

fn shared() -> PathBuf {
    let d = models::mlperf_tiny::locate(Path::new(env!("CARGO_MANIFEST_DIR")));
    assert!(
        d.join("golden").is_dir(),
        "golden data missing at {} (the MLPerf Tiny models and TFLM goldens)",
        d.display()
    );
    d
}

fn fixture() -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/compress/goldens.json");
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// SplitMix64 bytes, as the golden script makes its random inputs.
fn random_input(seed: u64, n: usize) -> Vec<u8> {
    let mut r = models::rng::SplitMix64::new(seed);
    (0..n).map(|_| r.next_u64() as u8).collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

struct Case {
    name: String,
    model: String,
    path: PathBuf,
    /// (input label, input bytes, TFLM output hex)
    runs: Vec<(String, Vec<u8>, String)>,
}

/// Regenerates every compressed model of the fixture into `dir` with its command and
/// checks it is the file the goldens were made from.
fn cases(dir: &Path) -> Vec<Case> {
    let root = shared();
    let fx = fixture();
    let mut out = Vec::new();
    for c in fx["cases"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap().to_string();
        let model = c["model"].as_str().unwrap().to_string();
        let src = root.join(c["file"].as_str().unwrap());
        let path = dir.join(format!("{name}.tflite"));
        let args: Vec<String> = c["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect();
        let mut cmd = bin();
        cmd.arg(&args[0])
            .arg(&src)
            .args(&args[1..])
            .arg("--out")
            .arg(&path);
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{name}: {}", text(&o.stderr));
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(
            format!("{:x}", Sha256::digest(&bytes)),
            c["sha256"].as_str().unwrap(),
            "{name}: the regenerated model is not the file the goldens were made from"
        );
        let gdir = root.join("golden").join(&model);
        let in_len = models::load_tflite(&src).unwrap().input().unwrap().bytes();
        let runs = c["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let label = r["input"].as_str().unwrap().to_string();
                let input = if let Some(n) = label.strip_prefix("golden:") {
                    std::fs::read(gdir.join(format!("input_{n}.bin"))).unwrap()
                } else {
                    let seed = label.strip_prefix("random:").unwrap().parse().unwrap();
                    random_input(seed, in_len)
                };
                (label, input, r["output"].as_str().unwrap().to_string())
            })
            .collect();
        out.push(Case {
            name,
            model,
            path,
            runs,
        });
    }
    assert_eq!(out.len(), 6, "four int4 models and two 2:4-pruned ones");
    out
}

#[test]
fn compressed_models_run_bit_exact_with_tflm_on_the_cpu() {
    let dir = tempfile::tempdir().unwrap();
    for c in cases(dir.path()) {
        let g = models::load_tflite(&c.path).unwrap();
        let int4 = c.name.ends_with("int4");
        for kernels in [Kernels::Fast, Kernels::Reference] {
            let mut it = Interpreter::new(&g).unwrap();
            it.set_kernels(kernels);
            for (i, op) in g.ops.iter().enumerate() {
                if it.prepared(i).and_then(|p| p.quant()).is_some() && op.input(1).is_some() {
                    assert_eq!(it.weight_bits(i), if int4 { 4 } else { 8 }, "{}", c.name);
                }
            }
            for (label, x, want) in &c.runs {
                let y = it.invoke(x).unwrap();
                assert_eq!(
                    &hex(&y),
                    want,
                    "{} ({kernels:?}) on {label}: output differs from TFLM",
                    c.name
                );
            }
        }
        // The file's weights are really compressed.
        let summary = models::compress::weight_summary(&g);
        assert!(!summary.is_empty());
        for r in &summary {
            if int4 {
                assert_eq!(r.weight_bits, 4, "{}: {r:?}", c.name);
            } else {
                assert!(r.two_four && r.sparsity() >= 0.4, "{}: {r:?}", c.name);
            }
        }
    }
}

#[test]
fn compressed_models_offload_bit_exact() {
    let dir = tempfile::tempdir().unwrap();
    let cpu = CpuProfile::resolve("cortex-m4f").unwrap();
    for c in cases(dir.path()) {
        let g = models::load_tflite(&c.path).unwrap();
        for preset in ["edge-8x8", "edge-8x8-tinyml"] {
            let cfg = arch::AccelConfig::preset(preset).unwrap();
            for (i, (label, x, want)) in c.runs.iter().enumerate() {
                // The cycle-level model on the first input, the functional one on the rest.
                let fid = if i == 0 {
                    Fidelity::Cycle
                } else {
                    Fidelity::Functional
                };
                let mut dev = SimDevice::new(&cfg, fid, sim::device::DEFAULT_MEM_BYTES);
                let mut it = Interpreter::new(&g).unwrap();
                let r = delegate::run_model(&mut it, &mut dev, &cpu, Policy::All, x)
                    .unwrap_or_else(|e| panic!("{} on {preset}: {e}", c.name));
                assert!(
                    r.decisions.iter().any(|d| d.placement == Placement::Accel),
                    "{}: nothing offloaded",
                    c.name
                );
                assert_eq!(
                    &hex(&r.output),
                    want,
                    "{} on {preset} ({fid:?}) on {label}: output differs from TFLM",
                    c.name
                );
            }
        }
        let _ = &c.model;
    }
}

#[test]
fn the_writer_round_trips_the_reference_models() {
    let root = shared();
    for (model, file) in models::mlperf_tiny::REFERENCE_FILES {
        let g = models::load_tflite(&root.join(file)).unwrap();
        let bytes = models::tflite_write::write(&g).unwrap();
        let back = models::from_tflite_bytes(&bytes, &g.name).unwrap();
        assert_eq!(back, g, "{model}");
        let runs = models::mlperf_tiny::golden_runs(&root.join("golden").join(model)).unwrap();
        let mut it = Interpreter::new(&back).unwrap();
        for r in runs {
            assert_eq!(it.invoke(&r.input).unwrap(), r.output, "{model}/{}", r.name);
        }
    }
}

/// Every op the runtime supports is written back as it was read: the models of the op
/// goldens (tests/data/ops, every supported op, int8 and 16x8) round-trip through the
/// writer to an equal graph, so `prune` and `quantize` can write any model tinyaccel runs.
#[test]
fn the_writer_round_trips_every_op_golden_model() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ops");
    let mut n = 0;
    let mut ops = std::collections::BTreeSet::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let f = e.unwrap().path();
        if f.extension().is_none_or(|x| x != "tflite") {
            continue;
        }
        let g = models::load_tflite(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let bytes = models::tflite_write::write(&g)
            .unwrap_or_else(|e| panic!("writing {}: {e}", f.display()));
        let back = models::from_tflite_bytes(&bytes, &g.name)
            .unwrap_or_else(|e| panic!("reading back {}: {e}", f.display()));
        assert_eq!(back, g, "{}", f.display());
        ops.extend(g.ops.iter().map(|o| o.name()));
        n += 1;
    }
    assert!(n >= 100, "{n} op golden models");
    assert!(ops.len() >= 30, "{} ops: {ops:?}", ops.len());
}

#[test]
fn compare_reports_top1_agreement() {
    let dir = tempfile::tempdir().unwrap();
    let root = shared();
    let dense = root.join("kws_ref_model.tflite");
    let out = dir.path().join("kws-int4.tflite");
    let o = run(&[
        "quantize",
        dense.to_str().unwrap(),
        "--weights",
        "int4",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = run(&[
        "compare",
        dense.to_str().unwrap(),
        out.to_str().unwrap(),
        "--random",
        "4",
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["metric"]
        .as_str()
        .unwrap()
        .starts_with("top-1 agreement with the dense model"));
    assert_eq!(v["golden"]["inputs"], 3);
    assert_eq!(v["random"]["inputs"], 4);
    // A model agrees with itself everywhere.
    let o = run(&[
        "compare",
        dense.to_str().unwrap(),
        dense.to_str().unwrap(),
        "--random",
        "2",
    ]);
    let s = text(&o.stdout);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(s.contains("top-1 agreement with the dense model"), "{s}");
    assert!(s.contains("3/3") && s.contains("2/2"), "{s}");
    // Different models are refused.
    let o = run(&["compare", "kws", "ic", "--random", "1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("same input"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn bad_compression_arguments_are_user_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.tflite");
    let o = out.to_str().unwrap();
    for (args, want) in [
        (
            vec![
                "prune",
                "kws",
                "--pattern",
                "2:4",
                "--sparsity",
                "0.7",
                "--out",
                o,
            ],
            "sparsity must be 0.5",
        ),
        (
            vec!["prune", "kws", "--pattern", "3:8", "--out", o],
            "unknown pruning pattern",
        ),
        (
            vec!["prune", "kws", "--pattern", "unstructured", "--out", o],
            "--sparsity is required",
        ),
        (
            vec![
                "prune",
                "kws",
                "--pattern",
                "channel",
                "--sparsity",
                "1.5",
                "--out",
                o,
            ],
            "not in [0, 1)",
        ),
        (
            vec!["quantize", "kws", "--weights", "int2", "--out", o],
            "only weight type is int4",
        ),
    ] {
        let r = run(&args);
        assert_eq!(r.status.code(), Some(1), "{args:?}");
        assert!(
            text(&r.stderr).contains(want),
            "{args:?}: {}",
            text(&r.stderr)
        );
        assert!(!out.exists(), "{args:?} wrote a file");
    }
    // Writing over the input model is refused.
    let m = dir.path().join("m.tflite");
    let r = run(&[
        "quantize",
        "ad",
        "--weights",
        "int4",
        "--out",
        m.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", text(&r.stderr));
    let r = run(&[
        "prune",
        m.to_str().unwrap(),
        "--pattern",
        "2:4",
        "--out",
        m.to_str().unwrap(),
    ]);
    assert_eq!(r.status.code(), Some(1));
    assert!(text(&r.stderr).contains("input model itself"));
}

#[test]
fn an_int4_buffer_of_the_wrong_size_is_an_import_error() {
    let g = models::builtin("ad").unwrap();
    let (q, _) = models::compress::quantize_int4(&g).unwrap();
    let t = q
        .tensors
        .iter()
        .position(|t| t.dtype == models::DType::I4)
        .unwrap();
    // Written through the graph, a mismatch is refused by the writer, by name.
    let mut bad = q.clone();
    bad.tensors[t].shape[1] += 2;
    let e = models::tflite_write::write(&bad).unwrap_err().to_string();
    assert!(
        e.contains(&format!("tensor {t}")) && e.contains("needs"),
        "{e}"
    );
    // A file whose int4 filter shape claims more values than its buffer holds is refused
    // by the importer, naming the tensor: patch the shape vector in the written bytes.
    let bytes = models::tflite_write::write(&q).unwrap();
    assert_eq!(models::from_tflite_bytes(&bytes, "ad").unwrap(), q);
    let shape = &q.tensors[t].shape;
    let mut pat = (shape.len() as u32).to_le_bytes().to_vec();
    for &d in shape {
        pat.extend((d as u32).to_le_bytes());
    }
    let at = bytes.windows(pat.len()).position(|w| w == pat).unwrap();
    let mut patched = bytes.clone();
    let last = at + pat.len() - 4;
    let d = shape[shape.len() - 1] as u32 + 2;
    patched[last..last + 4].copy_from_slice(&d.to_le_bytes());
    let e = models::from_tflite_bytes(&patched, "ad")
        .unwrap_err()
        .to_string();
    assert!(e.contains("two int4 values per byte"), "{e}");
}

#[test]
fn an_int4_tensor_outside_a_filter_slot_is_refused_by_type() {
    let g = models::builtin("ad").unwrap();
    let (mut q, reps) = models::compress::quantize_int4(&g).unwrap();
    let t = reps[0].tensor;
    // The int4 filter of the first layer also read as the second layer's input: TFLM
    // accepts INT4 only as a filter, so it stays packed and the runtime refuses it.
    let second = reps[1].op;
    q.ops[second].inputs[0] = Some(t);
    assert!(models::compress::unpack_int4_filters(&q)
        .unwrap()
        .is_some_and(|(_, ts)| !ts.contains(&t)));
    let e = Interpreter::new(&q).unwrap_err().to_string();
    assert!(e.contains("int4"), "{e}");
}
