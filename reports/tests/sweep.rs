//! The sweep engine: grids, determinism across thread counts, resume, shards and merge,
//! Pareto fronts. The evaluator is a cheap analytic function of the configuration defined
//! here (a test double for the simulator; the engine is generic over it).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use arch::AccelConfig;
use reports::sweep::pareto::dominates;
use reports::sweep::{
    merge, run_sweep, EvalError, Grid, MergeOptions, Metrics, Shard, SweepOptions,
};

const MODELS: [&str; 3] = ["kws", "vww", "ad"];
/// Work per model (MACs) and bytes it moves, for the analytic test evaluator.
const WORK: [(f64, f64); 3] = [(2.7e6, 8.0e4), (7.5e6, 3.2e5), (2.6e5, 2.8e5)];

fn models() -> Vec<String> {
    MODELS.iter().map(|s| s.to_string()).collect()
}

/// Latency: compute time at the array's peak vs bus time, plus a fixed overhead; energy:
/// per-MAC and per-byte terms plus leakage x time. `vww` does not fit a 16 KiB input
/// scratchpad (to exercise `infeasible` rows).
fn eval(cfg: &AccelConfig, m: usize) -> Result<Metrics, EvalError> {
    let (macs, bytes) = WORK[m];
    if m == 1 && cfg.input_sram_kib < 32 {
        return Err(EvalError::Infeasible(format!(
            "input scratchpad of {} KiB is too small for the widest row",
            cfg.input_sram_kib
        )));
    }
    let peak = cfg.peak_macs_per_cycle() as f64;
    let cycles = (macs / peak).max(bytes / cfg.bus_bytes_per_cycle as f64) + 1000.0;
    let offload_us = cycles / cfg.clock_mhz;
    let e = cfg.energy_table();
    let offload_uj =
        (macs * e.mac_pj + bytes * e.bus_pj_per_byte) / 1e6 + cfg.leakage_uw() * offload_us / 1e6;
    // The accelerator runs for the compute part only; the fixed overhead is wall time.
    let accel_cycles = cycles - 1000.0;
    Ok(Metrics {
        offload_us,
        offload_uj,
        array_utilization: (macs / peak / accel_cycles).min(1.0),
        mac_utilization: (macs / peak / cycles).min(1.0),
        cpu_us: macs / 80.0,
        cpu_uj: macs * 30.0 / 1e6,
        area_mm2: None,
        memory: None,
    })
}

const GRID: &str = r#"
base = "edge-8x8"
[sweep]
rows = [4, 8, 16, 0]
cols = [4, 8, 16]
dataflow = ["output-stationary", "weight-stationary"]
input_sram_kib = [16, 64]
"energy.mac_pj" = [0.1, 0.2]
"#;

fn grid() -> Grid {
    Grid::from_toml_str(GRID, "test-grid.toml", Path::new(".")).unwrap()
}

fn opts(dir: &Path, jobs: usize) -> SweepOptions {
    SweepOptions {
        out_dir: dir.to_path_buf(),
        jobs: Some(jobs),
        shard: None,
        quiet: true,
        png: true,
        ..SweepOptions::new("")
    }
}

/// Every file of a sweep directory (relative path -> bytes), sorted.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

fn assert_same_dirs(a: &Path, b: &Path) {
    let fa = files(a);
    let fb = files(b);
    let na: Vec<_> = fa.iter().map(|f| &f.0).collect();
    let nb: Vec<_> = fb.iter().map(|f| &f.0).collect();
    assert_eq!(na, nb, "file lists differ");
    for ((n, x), (_, y)) in fa.iter().zip(&fb) {
        assert!(
            x == y,
            "{} differs between {} and {}",
            n.display(),
            a.display(),
            b.display()
        );
    }
}

#[test]
fn grid_parsing_and_errors() {
    let g = grid();
    assert_eq!(g.len(), 4 * 3 * 2 * 2 * 2);
    assert_eq!(
        g.keys(),
        [
            "cols",
            "dataflow",
            "energy.mac_pj",
            "input_sram_kib",
            "rows"
        ]
    );
    // Last key fastest.
    assert_eq!(
        g.value_texts(0),
        ["4", "output-stationary", "0.1", "16", "4"]
    );
    assert_eq!(
        g.value_texts(1),
        ["4", "output-stationary", "0.1", "16", "8"]
    );
    let d = g.design(1);
    let cfg = d.config.unwrap();
    assert_eq!((cfg.rows, cfg.cols, cfg.input_sram_kib), (8, 4, 16));
    assert_eq!(cfg.energy_table().mac_pj, 0.1);
    // rows = 0 is invalid, with arch's reason.
    let bad = g.design(3);
    let reasons = bad.config.unwrap_err();
    assert!(reasons.iter().any(|r| r.contains("rows")), "{reasons:?}");
    // Ids are stable and distinct.
    assert_eq!(g.design_id(5), g.design(5).id);
    let ids: std::collections::HashSet<String> = (0..g.len()).map(|i| g.design_id(i)).collect();
    assert_eq!(ids.len() as u64, g.len());
    // The canonical form gives the same grid.
    let g2 = Grid::from_toml_str(&g.canonical_toml(), "canon", Path::new(".")).unwrap();
    assert_eq!(g2.hash(), g.hash());
    assert_eq!(g2.design_id(17), g.design_id(17));
    // Nested-table spelling of a dotted key.
    let g3 = Grid::from_toml_str(
        "base = \"tiny-4x4\"\n[sweep.energy]\nmac_pj = [0.3]\n[sweep]\nrows = [2]\n",
        "t",
        Path::new("."),
    );
    // (TOML forbids defining [sweep] after [sweep.energy] only when keys repeat; this is fine.)
    let g3 = g3.unwrap();
    assert_eq!(g3.keys(), ["energy.mac_pj", "rows"]);

    let err = |text: &str| {
        Grid::from_toml_str(text, "g.toml", Path::new("."))
            .unwrap_err()
            .to_string()
    };
    let e = err("base = \"edge-8x8\"\n[sweep]\nrowz = [1, 2]\n");
    assert!(
        e.contains("g.toml") && e.contains("`rowz`") && e.contains("not a field"),
        "{e}"
    );
    let e = err("base = \"edge-8x8\"\n[sweep]\n\"energy.mac_pjj\" = [1.0]\n");
    assert!(e.contains("energy.mac_pjj"), "{e}");
    let e = err("base = \"edge-8x8\"\n[sweep]\nrows = 4\n");
    assert!(e.contains("`rows`") && e.contains("list"), "{e}");
    let e = err("base = \"edge-8x8\"\n[sweep]\nrows = [4, 4]\n");
    assert!(e.contains("twice"), "{e}");
    let e = err("base = \"nope-1x1\"\n[sweep]\nrows = [4]\n");
    assert!(e.contains("nope-1x1") && e.contains("preset"), "{e}");
    let big: Vec<String> = (1..=100).map(|i| i.to_string()).collect();
    let list = format!("[{}]", big.join(", "));
    let e = err(&format!(
        "base = \"edge-8x8\"\n[sweep]\nbus_latency_cycles = {list}\ninput_sram_kib = {list}\nweight_sram_kib = {list}\nacc_sram_kib = {list}\n"
    ));
    assert!(e.contains("more than 10000000 designs"), "{e}");
}

#[test]
fn base_file_relative_to_the_grid() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("my.toml"),
        arch::config::PRESETS
            .iter()
            .find(|p| p.0 == "tiny-4x4")
            .unwrap()
            .1,
    )
    .unwrap();
    let gpath = dir.path().join("grid.toml");
    std::fs::write(&gpath, "base = \"my.toml\"\n[sweep]\nrows = [2, 4]\n").unwrap();
    let g = Grid::load(&gpath).unwrap();
    assert_eq!(g.len(), 2);
    assert_eq!(g.design(0).config.unwrap().rows, 2);
}

#[test]
fn one_and_two_threads_give_identical_files_and_invalid_designs_are_reported() {
    let g = grid();
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (t.path().join("j1"), t.path().join("j2"));
    // A slow-ish evaluator with uneven times, logging the order of the calls, so that the
    // two threads really interleave their rows.
    let log = std::sync::Mutex::new(Vec::new());
    let slow = |cfg: &AccelConfig, m: usize| {
        let design: u64 = cfg.name.rsplit("-d").next().unwrap().parse().unwrap();
        std::thread::sleep(std::time::Duration::from_micros(50 + design * 37 % 400));
        log.lock().unwrap().push(design);
        eval(cfg, m)
    };
    let oa = run_sweep(&g, &models(), eval, &opts(&a, 1)).unwrap();
    let ob = run_sweep(&g, &models(), slow, &opts(&b, 2)).unwrap();
    let order = log.into_inner().unwrap();
    assert!(
        order.windows(2).any(|w| w[1] < w[0]),
        "the two threads did not interleave"
    );
    assert_same_dirs(&a, &b);
    assert_eq!(oa.rows, g.len() as usize * MODELS.len());
    assert_eq!(oa.evaluated, oa.rows);
    assert_eq!(ob.ok + ob.infeasible + ob.invalid, ob.rows);
    // rows = 0: a quarter of the grid is invalid, one row per model each.
    assert_eq!(oa.invalid, g.len() as usize / 4 * MODELS.len());
    assert!(oa.infeasible > 0);
    let summary = std::fs::read_to_string(a.join("summary.md")).unwrap();
    assert!(summary.contains("## Invalid designs"));
    assert!(summary.contains("rows=0"));
    assert!(summary.contains("field `rows` = 0"), "{summary}");
    assert!(summary.contains("lowest energy-delay product"));
    let results = std::fs::read_to_string(a.join("results.csv")).unwrap();
    assert_eq!(results.lines().count(), 1 + oa.rows);
    assert!(results.lines().next().unwrap().starts_with(
        "design,design_id,cols,dataflow,energy.mac_pj,input_sram_kib,rows,model,status,offload_us,offload_uj,area_mm2,array_utilization,mac_utilization,speedup,energy_ratio,cpu_us,cpu_uj,note"
    ));
    for f in [
        "pareto-all",
        "pareto-kws",
        "sensitivity-rows",
        "sensitivity-energy.mac_pj",
    ] {
        assert!(a.join(format!("plots/{f}.svg")).is_file(), "{f}");
        assert!(a.join(format!("plots/{f}.png")).is_file(), "{f}");
    }
}

#[test]
fn pareto_csv_is_the_non_dominated_set() {
    let g = grid();
    let t = tempfile::tempdir().unwrap();
    run_sweep(&g, &models(), eval, &opts(t.path(), 2)).unwrap();
    // Recompute the aggregate points from results.csv and check the front by brute force.
    let mut rd = csv::Reader::from_path(t.path().join("results.csv")).unwrap();
    let h = rd.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let mut by_design: std::collections::BTreeMap<u64, Vec<(String, f64, f64, f64)>> =
        Default::default();
    for r in rd.records() {
        let r = r.unwrap();
        let d: u64 = r[col("design")].parse().unwrap();
        let e = by_design.entry(d).or_default();
        if &r[col("status")] == "ok" {
            e.push((
                r[col("model")].to_string(),
                r[col("offload_us")].parse().unwrap(),
                r[col("offload_uj")].parse().unwrap(),
                r[col("area_mm2")].parse().unwrap(),
            ));
        }
    }
    let pts: Vec<(u64, [f64; 3])> = by_design
        .iter()
        .filter(|(_, v)| v.len() == MODELS.len())
        .map(|(d, v)| {
            let gm = |k: usize| {
                (v.iter().map(|x| [x.1, x.2][k].ln()).sum::<f64>() / v.len() as f64).exp()
            };
            (*d, [gm(0), gm(1), v[0].3])
        })
        .collect();
    let brute: std::collections::BTreeSet<u64> = pts
        .iter()
        .filter(|(_, p)| !pts.iter().any(|(_, q)| dominates(q, p)))
        .map(|(d, _)| *d)
        .collect();
    let mut rd = csv::Reader::from_path(t.path().join("pareto.csv")).unwrap();
    let front: std::collections::BTreeSet<u64> = rd
        .records()
        .map(|r| r.unwrap())
        .filter(|r| &r[0] == "all")
        .map(|r| r[1].parse().unwrap())
        .collect();
    assert!(!front.is_empty());
    assert_eq!(front, brute);
}

#[test]
fn resume_after_an_abort_gives_the_uninterrupted_result() {
    let g = grid();
    let t = tempfile::tempdir().unwrap();
    let (full, resumed) = (t.path().join("full"), t.path().join("resumed"));
    run_sweep(&g, &models(), eval, &opts(&full, 2)).unwrap();

    let calls = AtomicUsize::new(0);
    let flaky = |cfg: &AccelConfig, m: usize| {
        if calls.fetch_add(1, Ordering::SeqCst) >= 40 {
            Err(EvalError::Abort("simulated crash".into()))
        } else {
            eval(cfg, m)
        }
    };
    let err = run_sweep(&g, &models(), flaky, &opts(&resumed, 2)).unwrap_err();
    assert!(err.to_string().contains("simulated crash"), "{err}");
    assert!(!resumed.join("summary.md").exists());
    let partial = std::fs::read_to_string(resumed.join("results.csv")).unwrap();
    let kept = partial.lines().count() - 1;
    assert!(kept >= 40, "{kept} rows kept");

    let calls2 = AtomicUsize::new(0);
    let counting = |cfg: &AccelConfig, m: usize| {
        calls2.fetch_add(1, Ordering::SeqCst);
        eval(cfg, m)
    };
    let o = run_sweep(&g, &models(), counting, &opts(&resumed, 1)).unwrap();
    assert_eq!(o.reused, kept);
    assert_eq!(o.evaluated + o.reused, o.rows);
    assert!(calls2.load(Ordering::SeqCst) < o.rows);
    assert_same_dirs(&full, &resumed);

    // A finished directory reruns as a no-op with identical files.
    let o = run_sweep(&g, &models(), eval, &opts(&resumed, 2)).unwrap();
    assert_eq!(o.evaluated, 0);
    assert_same_dirs(&full, &resumed);
}

#[test]
fn resume_after_a_torn_line_gives_the_uninterrupted_result() {
    let g = grid();
    let t = tempfile::tempdir().unwrap();
    let (full, torn) = (t.path().join("full"), t.path().join("torn"));
    run_sweep(&g, &models(), eval, &opts(&full, 2)).unwrap();
    run_sweep(&g, &models(), eval, &opts(&torn, 2)).unwrap();
    // Simulate a kill in the middle of writing row 31: keep 30 rows and half a line, and
    // no analysis.
    let text = std::fs::read_to_string(torn.join("results.csv")).unwrap();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut cut: String = lines[..31].concat();
    cut.push_str(&lines[31][..lines[31].len() / 2]);
    std::fs::write(torn.join("results.csv"), cut).unwrap();
    std::fs::remove_file(torn.join("summary.md")).unwrap();
    let o = run_sweep(&g, &models(), eval, &opts(&torn, 2)).unwrap();
    assert!(o.dropped_torn_line);
    assert_eq!(o.reused, 30);
    assert_same_dirs(&full, &torn);
}

#[test]
fn an_evaluator_panic_is_an_error_naming_the_design() {
    let g = grid();
    let t = tempfile::tempdir().unwrap();
    let boom = |cfg: &AccelConfig, m: usize| {
        if cfg.rows == 16 && m == 2 {
            panic!("simulator bug");
        }
        eval(cfg, m)
    };
    let e = run_sweep(&g, &models(), boom, &opts(t.path(), 2))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("simulator bug") && e.contains("model `ad`"),
        "{e}"
    );
    // The rows finished before the panic are kept for a resume.
    let o = run_sweep(&g, &models(), eval, &opts(t.path(), 2)).unwrap();
    assert!(o.reused > 0);
}

#[test]
fn another_sweep_in_the_same_directory_is_refused() {
    let g = grid();
    let t = tempfile::tempdir().unwrap();
    run_sweep(&g, &models(), eval, &opts(t.path(), 2)).unwrap();
    let other = Grid::from_toml_str(
        "base = \"edge-8x8\"\n[sweep]\nrows = [4, 8]\n",
        "other.toml",
        Path::new("."),
    )
    .unwrap();
    let e = run_sweep(&other, &models(), eval, &opts(t.path(), 2))
        .unwrap_err()
        .to_string();
    assert!(e.contains("another sweep"), "{e}");
    let e = run_sweep(&g, &models()[..2], eval, &opts(t.path(), 2))
        .unwrap_err()
        .to_string();
    assert!(e.contains("models"), "{e}");
}

#[test]
fn shards_merged_equal_the_unsharded_run() {
    let g = grid();
    let t = tempfile::tempdir().unwrap();
    let full = t.path().join("full");
    run_sweep(&g, &models(), eval, &opts(&full, 2)).unwrap();
    let mut dirs = Vec::new();
    let mut total = 0;
    for i in [2, 0, 1] {
        let d = t.path().join(format!("shard{i}"));
        let mut o = opts(&d, 1);
        o.shard = Some(format!("{i}/3").parse::<Shard>().unwrap());
        let out = run_sweep(&g, &models(), eval, &o).unwrap();
        assert!(out.files.is_empty(), "no analysis for a shard");
        total += out.rows;
        dirs.push(d);
    }
    assert_eq!(total, g.len() as usize * MODELS.len());
    let merged = t.path().join("merged");
    let o = merge(
        &dirs,
        &merged,
        &MergeOptions {
            quiet: true,
            png: true,
        },
    )
    .unwrap();
    assert_eq!(o.rows, total);
    assert_same_dirs(&full, &merged);

    // Missing or duplicated shards are refused.
    let e = merge(
        &dirs[..2],
        &t.path().join("m2"),
        &MergeOptions {
            quiet: true,
            png: false,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("missing shards: 1/3"), "{e}");
    let dup = vec![dirs[0].clone(), dirs[0].clone(), dirs[1].clone()];
    let e = merge(
        &dup,
        &t.path().join("m3"),
        &MergeOptions {
            quiet: true,
            png: false,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("also in"), "{e}");
    // An incomplete shard is refused.
    let p = dirs[1].join("results.csv");
    let text = std::fs::read_to_string(&p).unwrap();
    let keep: String = text.split_inclusive('\n').take(5).collect();
    std::fs::write(&p, keep).unwrap();
    let e = merge(
        &dirs,
        &t.path().join("m4"),
        &MergeOptions {
            quiet: true,
            png: false,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("incomplete"), "{e}");
    assert!("3/3".parse::<Shard>().is_err());
    assert!("x".parse::<Shard>().is_err());
}

#[test]
fn example_grids_parse_and_are_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sweeps");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("sweeps/ exists").flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "toml") {
            let g = Grid::load(&p).unwrap_or_else(|e| panic!("{e}"));
            let invalid = (0..g.len())
                .filter(|&i| g.design(i).config.is_err())
                .count();
            assert_eq!(invalid, 0, "{}: {invalid} invalid designs", p.display());
            n += 1;
        }
    }
    assert!(n >= 3, "expected the example grids in {}", dir.display());
    let g = Grid::load(&dir.join("bench-10k.toml")).unwrap();
    assert_eq!(g.len(), 10_000);
}

#[test]
fn a_grid_of_only_invalid_designs_is_reported() {
    let g = Grid::from_toml_str(
        "base = \"edge-8x8\"\n[sweep]\nrows = [0, 300]\n",
        "bad.toml",
        Path::new("."),
    )
    .unwrap();
    let t = tempfile::tempdir().unwrap();
    let calls = AtomicUsize::new(0);
    let o = run_sweep(
        &g,
        &models(),
        |c: &AccelConfig, m: usize| {
            calls.fetch_add(1, Ordering::SeqCst);
            eval(c, m)
        },
        &opts(t.path(), 2),
    )
    .unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "invalid designs are never evaluated"
    );
    assert_eq!((o.invalid, o.ok), (2 * MODELS.len(), 0));
    let s = std::fs::read_to_string(t.path().join("summary.md")).unwrap();
    assert!(
        s.contains("rows=300") && s.contains("larger than the supported maximum"),
        "{s}"
    );
    assert!(s.contains("No design ran successfully"));
}

/// A grid's base file may itself inherit (`base = "tiny-4x4"` plus changed keys).
#[test]
fn a_grid_base_file_that_inherits_is_resolved() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(
        t.path().join("mine.toml"),
        "base = \"tiny-4x4\"\nbus_latency_cycles = 7\n",
    )
    .unwrap();
    let grid = reports::sweep::Grid::from_toml_str(
        "base = \"mine.toml\"\n[sweep]\nrows = [2, 4]\n",
        "g.toml",
        t.path(),
    )
    .unwrap();
    let tiny = arch::AccelConfig::resolve("tiny-4x4").unwrap();
    for (i, rows) in [(0, 2), (1, 4)] {
        let cfg = grid.design(i).config.unwrap();
        assert_eq!(cfg.rows, rows);
        assert_eq!(cfg.bus_latency_cycles, 7);
        assert_eq!(cfg.cols, tiny.cols);
        assert_eq!(cfg.input_sram_kib, tiny.input_sram_kib);
    }
}
