//! `tinyaccel report` and `tinyaccel sweep` end to end through the binary: files written,
//! numbers equal to `tinyaccel run --json`, determinism, resume after an interruption.

use std::path::Path;
use std::process::Command;

fn tinyaccel() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tinyaccel"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        c,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    for e in walk(dir) {
        let rel = e.strip_prefix(dir).unwrap().display().to_string();
        v.push((rel, std::fs::read(&e).unwrap()));
    }
    v.sort();
    v
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            v.extend(walk(&p));
        } else {
            v.push(p);
        }
    }
    v
}

#[test]
fn report_writes_every_format_and_agrees_with_run_json() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("rep");
    ok(tinyaccel().args(["report", "--quiet", "--out"]).arg(&out));
    for f in ["report.md", "report.csv", "report.json", "index.html"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let pngs = walk(&out.join("plots"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .count();
    let svgs = walk(&out.join("plots"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "svg"))
        .count();
    assert!(pngs >= 4 && svgs == pngs, "{pngs} png, {svgs} svg");
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("<svg") && !html.contains("http://") && !html.contains("https://"));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let models = report["models"].as_array().unwrap();
    assert_eq!(models.len(), 4);
    // The same numbers as `run --json` for the same model, config and CPU profile.
    for m in models {
        let name = m["model"].as_str().unwrap();
        let run: serde_json::Value = serde_json::from_str(&ok(tinyaccel().args([
            "run",
            name,
            "--accel",
            "edge-8x8",
            "--cpu",
            "cortex-m4f",
            "--json",
        ])))
        .unwrap();
        let layers = m["layers"].as_array().unwrap();
        let run_layers = run["layers"].as_array().unwrap();
        assert_eq!(layers.len(), run_layers.len());
        for (a, b) in layers.iter().zip(run_layers) {
            assert_eq!(a["target"], b["target"], "{name}");
            assert_eq!(a["cpu_cycles"], b["cpu_cycles"], "{name}");
            let (x, y) = (
                a["accel_us"].as_f64().unwrap(),
                b["accel_us"].as_f64().unwrap(),
            );
            assert!(
                (x - y).abs() <= 1e-9 * y.abs().max(1.0),
                "{name}: {x} vs {y}"
            );
            let (x, y) = (
                a["accel_uj"].as_f64().unwrap(),
                b["accel_energy_uj"].as_f64().unwrap(),
            );
            assert!(
                (x - y).abs() <= 1e-9 * y.abs().max(1.0),
                "{name}: {x} vs {y}"
            );
        }
        let total_ms: f64 = layers
            .iter()
            .map(|l| l["accel_us"].as_f64().unwrap())
            .sum::<f64>()
            / 1000.0;
        let run_ms = run["accel"]["latency_ms"].as_f64().unwrap();
        assert!((total_ms - run_ms).abs() <= 1e-9 * run_ms, "{name}");
        assert!(
            run["cpu"]["latency_ms"].as_f64().unwrap() > run_ms,
            "{name}: no speedup"
        );
    }
    // A second run into another folder writes byte-identical files.
    let out2 = tmp.path().join("rep2");
    ok(tinyaccel().args(["report", "--quiet", "--out"]).arg(&out2));
    assert!(files(&out) == files(&out2), "report is not deterministic");
}

const GRID: &str = r#"
base = "tiny-4x4"
[sweep]
rows = [2, 4, 8]
cols = [4, 8]
dataflow = ["output-stationary", "weight-stationary"]
bus_bytes_per_cycle = [4, 16]
input_sram_kib = [0, 8]
"#;

#[test]
fn sweep_resumes_and_is_thread_count_independent() {
    let tmp = tempfile::tempdir().unwrap();
    let grid = tmp.path().join("grid.toml");
    std::fs::write(&grid, GRID).unwrap();
    let run = |dir: &Path, jobs: &str| {
        ok(tinyaccel()
            .args([
                "sweep", "--quiet", "--no-png", "--model", "kws,ad", "--jobs", jobs, "--grid",
            ])
            .arg(&grid)
            .arg("--out")
            .arg(dir))
    };
    let a = tmp.path().join("a");
    run(&a, "1");
    let csv = std::fs::read_to_string(a.join("results.csv")).unwrap();
    // 48 designs x 2 models; half the designs have an empty input scratchpad: listed as
    // invalid with the reason, not dropped.
    assert_eq!(csv.lines().count(), 1 + 48 * 2, "{csv}");
    assert!(
        csv.contains("invalid") && csv.contains("input_sram_kib"),
        "{csv}"
    );
    assert!(a.join("pareto.csv").is_file() && a.join("summary.md").is_file());
    let b = tmp.path().join("b");
    run(&b, "2");
    assert!(files(&a) == files(&b), "1 and 2 threads differ");
    // Interrupt: keep the header and 30 rows plus a torn line, then rerun.
    let c = tmp.path().join("c");
    std::fs::create_dir_all(&c).unwrap();
    for (name, bytes) in files(&a) {
        if name == "sweep.json" {
            std::fs::write(c.join(&name), bytes).unwrap();
        }
    }
    let partial: Vec<&str> = csv.lines().take(31).collect();
    std::fs::write(
        c.join("results.csv"),
        format!(
            "{}\n{}",
            partial.join("\n"),
            &csv.lines().nth(31).unwrap()[..10]
        ),
    )
    .unwrap();
    let msg = run(&c, "2");
    assert!(msg.contains("resumed"), "{msg}");
    assert_eq!(
        std::fs::read_to_string(c.join("results.csv")).unwrap(),
        csv,
        "resumed sweep differs"
    );
}
