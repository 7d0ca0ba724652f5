//! Hostile input to the sweep engine (issue 24): linear-time grid checks, the output
//! directory lock, names from inputs escaped in summary.md.

use std::path::Path;

use arch::AccelConfig;
use reports::sweep::{
    run_sweep, DirLock, EvalError, Grid, Metrics, SweepError, SweepOptions, LOCK_FILE,
};

fn eval(cfg: &AccelConfig, m: usize) -> Result<Metrics, EvalError> {
    let macs = 1.0e6 * (m + 1) as f64;
    let peak = cfg.peak_macs_per_cycle() as f64;
    let offload_us = (macs / peak + 1000.0) / cfg.clock_mhz;
    Ok(Metrics {
        offload_us,
        offload_uj: macs * cfg.energy_table().mac_pj / 1e6,
        array_utilization: 0.5,
        mac_utilization: 0.4,
        cpu_us: macs / 80.0,
        cpu_uj: macs * 30.0 / 1e6,
        area_mm2: None,
        memory: None,
    })
}

const SMALL: &str = r#"
base = "edge-8x8"
[sweep]
rows = [4, 8]
cols = [4, 8]
"#;

fn opts(dir: &Path) -> SweepOptions {
    SweepOptions {
        out_dir: dir.to_path_buf(),
        jobs: Some(2),
        quiet: true,
        png: false,
        ..SweepOptions::new("")
    }
}

/// 200,000 values of one key: the quadratic check needed ~2e10 comparisons; the hash set
/// answers at once (this test would hang, not fail, with the old check).
#[test]
fn duplicate_check_is_linear_and_exact() {
    let n = 200_000;
    let vals: Vec<String> = (0..n).map(|i| format!("{}.5", i)).collect();
    let ok = format!(
        "base = \"edge-8x8\"\n[sweep]\n\"energy.mac_pj\" = [{}]\n",
        vals.join(", ")
    );
    let g = Grid::from_toml_str(&ok, "big.toml", Path::new(".")).unwrap();
    assert_eq!(g.len(), n as u64);
    let dup = format!(
        "base = \"edge-8x8\"\n[sweep]\n\"energy.mac_pj\" = [{}, 17.5]\n",
        vals.join(", ")
    );
    let e = Grid::from_toml_str(&dup, "big.toml", Path::new("."))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`energy.mac_pj`") && e.contains("17.5 appears twice"),
        "{e}"
    );
    // Numbers compare by value: 8 and 8.0 are one design; -0.0 and 0.0 too.
    for (list, twice) in [
        ("rows = [4, 8, 8.0]", "8.0 appears twice"),
        ("\"energy.mac_pj\" = [0.0, 0.1, -0.0]", "-0.0 appears twice"),
        (
            "dataflow = [\"output-stationary\", \"output-stationary\"]",
            "appears twice",
        ),
    ] {
        let text = format!("base = \"edge-8x8\"\n[sweep]\n{list}\n");
        let e = Grid::from_toml_str(&text, "g.toml", Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(e.contains(twice), "{list}: {e}");
    }
    // Different types or values are not duplicates.
    let text = "base = \"edge-8x8\"\n[sweep]\nrows = [4, 8, 16]\n\"energy.mac_pj\" = [0.1, 0.10000000000000002]\n";
    assert_eq!(
        Grid::from_toml_str(text, "g.toml", Path::new("."))
            .unwrap()
            .len(),
        6
    );
}

#[test]
fn a_second_writer_is_refused_naming_the_holder_and_stale_locks_are_taken_over() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    std::fs::create_dir_all(&dir).unwrap();
    let grid = Grid::from_toml_str(SMALL, "g.toml", Path::new(".")).unwrap();
    let models = vec!["m".to_string()];

    // A live holder: a child process.
    let mut child = std::process::Command::new("sleep")
        .arg("10")
        .spawn()
        .unwrap();
    std::fs::write(dir.join(LOCK_FILE), format!("{}\n", child.id())).unwrap();
    let e = run_sweep(&grid, &models, eval, &opts(&dir)).unwrap_err();
    assert!(matches!(e, SweepError::Locked { .. }), "{e}");
    let msg = e.to_string();
    assert!(msg.contains(&format!("process {}", child.id())), "{msg}");
    assert!(msg.contains(LOCK_FILE), "{msg}");
    assert!(
        !dir.join("results.csv").exists(),
        "the refused sweep wrote results"
    );
    child.kill().unwrap();
    child.wait().unwrap();

    // The holder is gone: its lock is stale and taken over; the lock is released at the end.
    let out = run_sweep(&grid, &models, eval, &opts(&dir)).unwrap();
    assert_eq!(out.rows, 4);
    assert!(!dir.join(LOCK_FILE).exists());

    // In-process: the lock excludes a second holder until dropped.
    let held = DirLock::acquire(&dir).unwrap();
    assert_eq!(
        std::fs::read_to_string(held.path()).unwrap().trim(),
        std::process::id().to_string()
    );
    let e = run_sweep(&grid, &models, eval, &opts(&dir)).unwrap_err();
    assert!(e.to_string().contains("in use by process"), "{e}");
    drop(held);
    run_sweep(&grid, &models, eval, &opts(&dir)).unwrap();

    // Concurrent sweeps on one directory: exactly the ones that got the lock ran; the
    // others were refused with the lock error, never another failure.
    let dir2 = tmp.path().join("out2");
    std::fs::create_dir_all(&dir2).unwrap();
    let results: Vec<Result<_, SweepError>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|_| s.spawn(|| run_sweep(&grid, &models, eval, &opts(&dir2))))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(results.iter().any(|r| r.is_ok()));
    for r in &results {
        if let Err(e) = r {
            assert!(matches!(e, SweepError::Locked { .. }), "{e}");
        }
    }
    let after = run_sweep(&grid, &models, eval, &opts(&dir2)).unwrap();
    assert_eq!(after.evaluated, 0);
}

#[test]
fn model_and_base_names_are_escaped_in_summary_md() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let grid = Grid::from_toml_str(SMALL, "g.toml", Path::new(".")).unwrap();
    let models = vec!["a|b`c<i>\nline2".to_string(), "plain".to_string()];
    run_sweep(&grid, &models, eval, &opts(&dir)).unwrap();
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    let unescaped = |l: &str, c: u8| {
        let b = l.as_bytes();
        (0..b.len())
            .filter(|&i| b[i] == c && (i == 0 || b[i - 1] != b'\\'))
            .count()
    };
    let mut block: Option<usize> = None;
    for line in md.lines() {
        assert!(
            !line.starts_with("line2"),
            "input line break survived: {line:?}"
        );
        if line.starts_with('|') {
            let n = unescaped(line, b'|');
            assert_eq!(*block.get_or_insert(n), n, "row {line:?}");
            assert_eq!(unescaped(line, b'`') % 2, 0, "{line}");
        } else {
            block = None;
        }
        if !line.starts_with("## ") {
            assert!(!line.contains("<i>"), "raw HTML: {line}");
        }
    }
    assert!(
        md.contains("## Best designs for model `` a|b`c<i> line2 ``"),
        "{md}"
    );
}
