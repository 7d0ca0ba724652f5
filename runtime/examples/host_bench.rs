//! Host inference speed of the runtime on the MLPerf Tiny `.tflite` models, in-process:
//! load once, then rounds of `--iters` invokes on one golden input (the same inputs as
//! `scripts/bench_tflite.py`); prints min / median / max time per inference over the
//! rounds, inferences/s from the median, and whether the output equals the TFLite-Micro
//! golden.
//!
//! ```sh
//! cargo run --release -p runtime --example host_bench -- [--models kws,vww,ic,ad]
//!     [--iters N] [--rounds R] [--input rand_seed0] [--reference] [--isa NAME] [--per-op]
//!     [--json]
//! ```
//! `--reference` runs the reference kernels (the oracle), `--isa` the fast kernels on one
//! instruction set (`portable`, `avx2`, `avx2+vnni`; default: the best detected), `--per-op` adds the time per op (mean over the iterations), `--json`
//! prints one JSON object per model instead (what `scripts/bench_tflite.py --tinyaccel`
//! reads).

use runtime::{Interpreter, Isa, Kernels};
use std::time::Instant;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let mut models_arg = "kws,vww,ic,ad".to_string();
    let (mut iters, mut rounds) = (100usize, 5usize);
    let mut input_name = "rand_seed0".to_string();
    let (mut reference, mut per_op, mut json) = (false, false, false);
    let mut isa = Isa::detect();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = |what: &str| args.next().ok_or(format!("{what} needs a value"));
        match a.as_str() {
            "--models" => models_arg = val("--models")?,
            "--iters" => {
                iters = val("--iters")?
                    .parse()
                    .map_err(|e| format!("--iters: {e}"))?
            }
            "--rounds" => {
                rounds = val("--rounds")?
                    .parse()
                    .map_err(|e| format!("--rounds: {e}"))?
            }
            "--input" => input_name = val("--input")?,
            "--reference" => reference = true,
            "--isa" => {
                let n = val("--isa")?;
                isa = *Isa::available()
                    .iter()
                    .find(|i| i.name() == n)
                    .ok_or(format!(
                        "--isa {n}: this CPU runs {:?}",
                        Isa::available()
                            .iter()
                            .map(|i| i.name())
                            .collect::<Vec<_>>()
                    ))?;
            }
            "--per-op" => per_op = true,
            "--json" => json = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if iters == 0 || rounds == 0 {
        return Err("--iters and --rounds must be at least 1".into());
    }
    let root = models::mlperf_tiny::locate(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
    for name in models_arg.split(',') {
        let file = models::mlperf_tiny::reference_file(name)
            .ok_or(format!("unknown model {name:?} (kws, vww, ic, ad)"))?;
        let graph = models::load_tflite(&root.join(file)).map_err(|e| e.to_string())?;
        let mut interp = Interpreter::new(&graph).map_err(|e| e.to_string())?;
        if reference {
            interp.set_kernels(Kernels::Reference);
        }
        interp.set_isa(isa);
        let gold = root.join("golden").join(name);
        let rd =
            |p: std::path::PathBuf| std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()));
        let input = rd(gold.join(format!("input_{input_name}.bin")))?;
        let want = rd(gold.join(format!("output_{input_name}_tflm.bin")))?;
        let got = interp.invoke(&input).map_err(|e| e.to_string())?;
        for _ in 0..(iters / 10).max(3) {
            interp.invoke(&input).map_err(|e| e.to_string())?;
        }
        let mut times = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let t0 = Instant::now();
            for _ in 0..iters {
                std::hint::black_box(
                    interp
                        .invoke(std::hint::black_box(&input))
                        .map_err(|e| e.to_string())?,
                );
            }
            times.push(t0.elapsed().as_secs_f64() / iters as f64);
        }
        times.sort_by(f64::total_cmp);
        let med = times[times.len() / 2];
        let kernels = if reference {
            "reference".to_string()
        } else {
            format!("fast/{}", interp.isa().name())
        };
        if json {
            println!(
                "{{\"model\": \"{name}\", \"kernels\": \"{kernels}\", \"min_us\": {:.3}, \"median_us\": {:.3}, \"max_us\": {:.3}, \"inferences_per_s\": {:.3}, \"matches_golden\": {}}}",
                times[0] * 1e6,
                med * 1e6,
                times[times.len() - 1] * 1e6,
                1.0 / med,
                got == want
            );
            continue;
        }
        println!(
            "{name}: tinyaccel {kernels} median {:.1} us (min {:.1}, max {:.1}), {:.1} inferences/s, output {}",
            med * 1e6,
            times[0] * 1e6,
            times[times.len() - 1] * 1e6,
            1.0 / med,
            if got == want { "= golden" } else { "!= golden" }
        );
        if per_op {
            let n = interp.graph().ops.len();
            let mut per = vec![0f64; n];
            for _ in 0..iters {
                interp.set_input(0, &input).map_err(|e| e.to_string())?;
                for (i, t) in per.iter_mut().enumerate() {
                    let t0 = Instant::now();
                    interp.run_op(i, None).map_err(|e| e.to_string())?;
                    *t += t0.elapsed().as_secs_f64();
                }
            }
            for (i, t) in per.iter().enumerate() {
                let l = &interp.layers()[i];
                println!(
                    "  op {i:2} {:<20} {:>9.1} us  {:>9} MACs  {:?} -> {:?}",
                    l.op,
                    t / iters as f64 * 1e6,
                    l.macs,
                    l.input_shape,
                    l.output_shape
                );
            }
        }
    }
    Ok(())
}
