//! The RTL through the CLI (`tinyaccel hdl ...`, `tinyaccel run --backend rtl`): the
//! emitted 16x16 core lints clean and `hdl verify --json` reports every tile exact; the
//! anomaly-detection model end to end on the system RTL gives the TFLite-Micro golden
//! output and the simulator's counters; `hdl verify --system --json` reports every
//! program exact and rejects a bad `--models`. The library-level tests are in
//! `hdl/tests/` (RTL only) and `cosim/tests/` (RTL against the simulator). Needs
//! `verilator` and `yosys` (`make deps`) and the MLPerf Tiny goldens in
//! `../shared/models/mlperf_tiny`.

use anyhow::{bail, ensure, Context, Result};
use arch::AccelConfig;
use std::path::{Path, PathBuf};
use std::process::Command;

fn work_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tinyaccel-hdl-test-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn shared() -> PathBuf {
    models::mlperf_tiny::locate(Path::new(env!("CARGO_MANIFEST_DIR")))
}

/// The reference `.tflite` of a model (the built-ins have the same layers but seeded
/// weights, so only the real files give the golden outputs).
fn tflite(model: &str) -> Result<PathBuf> {
    let Some(file) = models::mlperf_tiny::reference_file(model) else {
        bail!("no reference model `{model}`");
    };
    let p = shared().join(file);
    ensure!(
        p.is_file(),
        "reference model missing at {} (the MLPerf Tiny models, see its README.md)",
        p.display()
    );
    Ok(p)
}

fn golden_dir(model: &str) -> Result<PathBuf> {
    let d = shared().join("golden").join(model);
    ensure!(
        d.is_dir(),
        "golden data missing at {} (the MLPerf Tiny models and TFLM goldens, see its README.md)",
        d.display()
    );
    Ok(d)
}

/// `(input, golden output, run name)`.
type GoldenRun = (Vec<u8>, Vec<u8>, String);

/// Every golden run of `model`.
fn golden_runs(model: &str) -> Result<Vec<GoldenRun>> {
    Ok(models::mlperf_tiny::golden_runs(&golden_dir(model)?)?
        .into_iter()
        .map(|r| (r.input, r.output, r.name))
        .collect())
}

#[test]
fn cli_run_ad_on_the_rtl_writes_the_golden_output() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let g = golden_dir("ad")?;
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/tiny-4x4.toml");
    for (_, golden, run) in golden_runs("ad")? {
        let out = dir.path().join(format!("{run}.bin"));
        let o = Command::new(env!("CARGO_BIN_EXE_tinyaccel"))
            .arg("run")
            .arg(tflite("ad")?)
            .arg("--accel")
            .arg(&cfg)
            .args(["--backend", "rtl", "--input"])
            .arg(g.join(format!("input_{run}.bin")))
            .arg("--output")
            .arg(&out)
            .output()?;
        ensure!(
            o.status.success(),
            "run ad --backend rtl ({run}): {}",
            String::from_utf8_lossy(&o.stderr)
        );
        ensure!(
            std::fs::read(&out)? == golden,
            "ad/{run}: not the golden output"
        );
        let text = String::from_utf8_lossy(&o.stdout);
        ensure!(text.contains("accel counters"), "{text}");
    }
    // The built-in ad (seeded weights): same output and same accelerator counters on
    // both backends.
    let json = |backend: &str| -> Result<serde_json::Value> {
        let o = Command::new(env!("CARGO_BIN_EXE_tinyaccel"))
            .args([
                "run",
                "ad",
                "--json",
                "--print-output",
                "--policy",
                "all",
                "--accel",
            ])
            .arg(&cfg)
            .args(["--backend", backend])
            .output()?;
        ensure!(
            o.status.success(),
            "{backend}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        Ok(serde_json::from_slice(&o.stdout)?)
    };
    let (s, r) = (json("sim")?, json("rtl")?);
    ensure!(s["output"] == r["output"], "outputs differ");
    ensure!(
        s["accel"]["counters"] == r["accel"]["counters"]
            && r["accel"]["accel_cycles"].as_u64() > Some(0),
        "counters differ: sim {} rtl {}",
        s["accel"]["counters"],
        r["accel"]["counters"]
    );
    Ok(())
}

#[test]
fn cli_verify_system_json() -> Result<()> {
    let o = Command::new(env!("CARGO_BIN_EXE_tinyaccel"))
        .args([
            "hdl", "verify", "--system", "--config", "tiny-4x4", "--json",
        ])
        .args(["--programs", "2", "--models", "ad:2", "--seed", "3"])
        .output()?;
    ensure!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)?;
    ensure!(v["all_exact"] == true, "{v}");
    let progs = v["programs"].as_array().context("programs")?;
    ensure!(
        v["programs_exact"] == progs.len() && progs.len() >= 13,
        "{v}"
    );
    for p in progs {
        ensure!(
            p["sim_cycles"] == p["rtl_cycles"] && p["mismatch"].is_null(),
            "{p}"
        );
        ensure!(p["mem_bytes_compared"].as_u64() > Some(0), "{p}");
    }
    ensure!(v["verilator"]["cycles_per_s"].as_f64() > Some(0.0), "{v}");
    let bad = Command::new(env!("CARGO_BIN_EXE_tinyaccel"))
        .args([
            "hdl", "verify", "--system", "--config", "tiny-4x4", "--models", "ad:x",
        ])
        .output()?;
    ensure!(bad.status.code() == Some(1), "bad --models must fail");
    ensure!(String::from_utf8_lossy(&bad.stderr).contains("--models"));
    Ok(())
}

#[test]
fn emitted_edge_16x16_lints_clean_and_cli_reports_json() {
    let exe = env!("CARGO_BIN_EXE_tinyaccel");
    let root = env!("CARGO_MANIFEST_DIR");
    let out = work_dir("emit16");
    let o = Command::new(exe)
        .current_dir(root)
        .args([
            "hdl",
            "emit",
            "--config",
            "configs/edge-16x16.toml",
            "--check",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{text}");
    assert!(text.contains("-Wall: clean"), "{text}");
    assert!(text.contains("0 latches"), "{text}");
    let cfg = AccelConfig::load(&PathBuf::from(root).join("configs/edge-16x16.toml")).unwrap();
    let v = std::fs::read_to_string(out.join("tinyaccel_core.v")).unwrap();
    assert!(v.contains(&format!("config hash {}", cfg.hash())));
    assert!(v.contains("module tinyaccel_core ("));
    let port_block = &v[v.find("module tinyaccel_core (").unwrap()..v.find(");").unwrap()];
    assert!(!port_block.contains('$'), "{port_block}");
    let json: AccelConfig = serde_json::from_str(
        &std::fs::read_to_string(out.join("tinyaccel_core.config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json, cfg);
    let _ = std::fs::remove_dir_all(&out);

    let o = Command::new(exe)
        .current_dir(root)
        .args([
            "hdl", "verify", "--config", "tiny-4x4", "--cases", "12", "--json",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // Default `--dataflow all`: output-, weight- and input-stationary.
    assert_eq!(j["cases"], 36);
    assert_eq!(j["bit_exact"], 36);
    assert_eq!(j["cycle_exact"], 36);
    let flows: Vec<&str> = j["dataflows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["dataflow"].as_str().unwrap())
        .collect();
    assert_eq!(
        flows,
        ["output-stationary", "weight-stationary", "input-stationary"]
    );
}

/// Issue 24: `hdl emit` of a 256x256 array ran for over 5 minutes at 1.2 GB; arrays
/// beyond `hdl::emit::MAX_RTL_PES` are refused up front with a clear error (exit 1).
#[test]
fn cli_emit_refuses_arrays_beyond_the_rtl_limit() -> Result<()> {
    let dir = work_dir("emit-limit");
    let mut cfg = AccelConfig::preset("edge-8x8").context("preset")?;
    cfg.rows = 128;
    cfg.cols = 64;
    cfg.name = "big".into();
    for kib in [
        &mut cfg.input_sram_kib,
        &mut cfg.weight_sram_kib,
        &mut cfg.acc_sram_kib,
    ] {
        *kib = 1024;
    }
    let toml_path = dir.join("big.toml");
    std::fs::write(&toml_path, toml::to_string(&cfg)?)?;
    let out = Command::new(env!("CARGO_BIN_EXE_tinyaccel"))
        .args(["hdl", "emit", "--config"])
        .arg(&toml_path)
        .arg("--out")
        .arg(dir.join("out"))
        .output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.code() == Some(1), "exit {:?}: {err}", out.status);
    ensure!(
        err.contains("8192 PEs") && err.contains("at most 4096"),
        "{err}"
    );
    ensure!(!dir.join("out").join("tinyaccel_core.v").exists());
    Ok(())
}

/// Issue 24: `hdl verify --cases 4294967296` aborted allocating the tiles; the count is
/// checked (`cosim::core_verify::MAX_CASES`) before anything is generated or built.
#[test]
fn cli_verify_refuses_absurd_case_counts() -> Result<()> {
    let out = Command::new(env!("CARGO_BIN_EXE_tinyaccel"))
        .args(["hdl", "verify", "--cases", "4294967296"])
        .output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.code() == Some(1), "exit {:?}: {err}", out.status);
    ensure!(err.contains("at most 10000 tiles"), "{err}");
    Ok(())
}
