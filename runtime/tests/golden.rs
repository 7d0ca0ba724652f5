//! Bit-exactness against TFLite-Micro: for every MLPerf Tiny model and every golden input
//! (13 runs), the output bytes equal TFLM's reference-kernel output, and every intermediate
//! tensor equals the one in the golden `.npz`. On a mismatch the first differing layer is
//! reported.

mod common;

use runtime::{Interpreter, Isa, Kernels, NoReuse};
use std::path::Path;

use common::mlperf_tiny_dir as golden_root;

use models::mlperf_tiny::{golden_runs, REFERENCE_FILES as MODELS};

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Compares every tensor of the golden `.npz` in op order; returns a description of the
/// first differing op.
fn first_difference(interp: &Interpreter, npz: &Path) -> Option<String> {
    let arrays =
        runtime::npz::read_npz(&read(npz)).unwrap_or_else(|e| panic!("{}: {e}", npz.display()));
    let g = interp.graph();
    let mut checked = 0;
    for (i, op) in g.ops.iter().enumerate() {
        let t = op.outputs[0];
        let key = format!("t{t:03}");
        let Some(want) = arrays.get(&key) else {
            continue;
        };
        let got = interp
            .tensor_bytes(t)
            .expect("NoReuse planner keeps every tensor");
        checked += 1;
        if want.data != got {
            let n = got.iter().zip(&want.data).filter(|(a, b)| a != b).count();
            let first = got
                .iter()
                .zip(&want.data)
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            return Some(format!(
                "op {i} ({}) output tensor {t}: {n} of {} bytes differ, first at element {first}: got {} want {}",
                op.name(),
                want.data.len(),
                got.get(first).map_or(0, |&b| b as i8 as i32),
                want.data.get(first).map_or(0, |&b| b as i8 as i32)
            ));
        }
    }
    assert!(
        checked > 0,
        "{}: no op output found in the npz",
        npz.display()
    );
    None
}

#[test]
fn all_golden_runs_are_bit_exact() {
    let root = golden_root();
    let mut total = 0;
    let mut failures = Vec::new();
    for (name, file) in MODELS {
        let graph = models::load_tflite(&root.join(file)).unwrap_or_else(|e| panic!("{e}"));
        let mut interp =
            Interpreter::with_planner(&graph, &NoReuse).unwrap_or_else(|e| panic!("{e}"));
        let dir = root.join("golden").join(name);
        for r in golden_runs(&dir).unwrap_or_else(|e| panic!("{e}")) {
            let (run, input, want) = (r.name, r.input, r.output);
            let got = interp
                .invoke(&input)
                .unwrap_or_else(|e| panic!("{name}/{run}: {e}"));
            total += 1;
            let layer =
                first_difference(&interp, &dir.join(format!("intermediates_{run}_tflm.npz")));
            if got != want || layer.is_some() {
                failures.push(format!(
                    "{name}/{run}: output {} ({:?} vs golden {:?}); first differing layer: {}",
                    if got == want { "matches" } else { "DIFFERS" },
                    &got[..got.len().min(12)],
                    &want[..want.len().min(12)],
                    layer.unwrap_or_else(|| "none".into())
                ));
            }
        }
    }
    assert_eq!(total, 13, "expected 13 golden runs");
    assert!(
        failures.is_empty(),
        "{} of {total} golden runs differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The interpreter runs the fast kernels by default; the reference kernels (the oracle)
/// and the fast kernels on every instruction set of this CPU (portable, AVX2) all give
/// the golden outputs and intermediate tensors of all 13 runs.
#[test]
fn every_kernel_set_is_bit_exact() {
    let root = golden_root();
    let mut variants = vec![(Kernels::Reference, Isa::PORTABLE)];
    variants.extend(Isa::available().into_iter().map(|i| (Kernels::Fast, i)));
    let mut failures = Vec::new();
    let mut total = 0;
    for (name, file) in MODELS {
        let graph = models::load_tflite(&root.join(file)).unwrap_or_else(|e| panic!("{e}"));
        let mut interp =
            Interpreter::with_planner(&graph, &NoReuse).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(interp.kernels(), Kernels::Fast, "default kernels");
        assert_eq!(interp.isa(), Isa::detect(), "default instruction set");
        let dir = root.join("golden").join(name);
        for (kernels, isa) in &variants {
            interp.set_kernels(*kernels);
            interp.set_isa(*isa);
            for r in golden_runs(&dir).unwrap_or_else(|e| panic!("{e}")) {
                let got = interp
                    .invoke(&r.input)
                    .unwrap_or_else(|e| panic!("{name}/{}: {e}", r.name));
                total += 1;
                let layer = first_difference(
                    &interp,
                    &dir.join(format!("intermediates_{}_tflm.npz", r.name)),
                );
                if got != r.output || layer.is_some() {
                    failures.push(format!(
                        "{name}/{} with {kernels:?} kernels on {}: first differing layer: {}",
                        r.name,
                        isa.name(),
                        layer.unwrap_or_else(|| "none (output only)".into())
                    ));
                }
            }
        }
    }
    assert_eq!(
        total,
        13 * variants.len(),
        "expected 13 golden runs per kernel set"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The default greedy planner gives the same outputs as the no-reuse planner, in less
/// memory.
#[test]
fn greedy_planner_is_equivalent_and_smaller() {
    let root = golden_root();
    for (name, file) in MODELS {
        let graph = models::load_tflite(&root.join(file)).unwrap_or_else(|e| panic!("{e}"));
        let mut greedy = Interpreter::new(&graph).unwrap();
        let mut linear = Interpreter::with_planner(&graph, &NoReuse).unwrap();
        let dir = root.join("golden").join(name);
        let input = read(&dir.join("input_rand_seed0.bin"));
        assert_eq!(
            greedy.invoke(&input).unwrap(),
            linear.invoke(&input).unwrap(),
            "{name}"
        );
        assert!(
            greedy.arena_bytes() < linear.arena_bytes() || graph.ops.len() < 2,
            "{name}"
        );
    }
}
