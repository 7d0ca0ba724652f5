//! No behaviour change for output-stationary and weight-stationary designs (issue 15): the
//! report numbers of kws, vww, ic and ad on every preset in both dataflows, per layer and
//! per model, equal the ones recorded before the redesign (`tests/data/baseline_totals.json`,
//! written by this test from main at 49036b6 with `TINYACCEL_BLESS=1`; re-recorded once for
//! issue 19, whose fitted CPU baseline and datasheet Sleep-mode power change every CPU
//! number and the CPU part of the offloaded energy, not the accelerator's cycles; and again
//! when the fit stopped scaling the kernels no published row runs, `runtime::cost::profile::
//! FITTED_KERNELS`, which changes the CPU im2col of offloaded layers).
//!
//! Issue 19 changed the accelerator's energy model (the SRAM model, the interconnect and
//! main memory split, clock, PPU, controller and DMA parts): the accelerator energies
//! (`accel_uj`, `sram_uj`, `bus_uj`, `leakage_uj`) are no longer compared; every other
//! number, the MAC energy and the CPU energies included, still is
//! (arch/tests/energy_model.rs and docs/energy.md check the new energies).
//!
//! Only field names may change (the result schema, docs/results-schema.md); [`FIELDS`] maps
//! each recorded name to the name it has in today's `report.json`, and
//! [`recorded_accel_cycles`] rebuilds the one number whose meaning changed. Every number is compared exactly (integers)
//! or to the last bit (floats, written with `float_roundtrip`).

use serde_json::{Map, Value};
use std::path::Path;
use std::process::Command;

/// Recorded per-layer / per-model field -> today's `report.json` field.
const FIELDS: &[(&str, &str)] = &[
    ("macs", "macs"),
    ("cpu_cycles", "cpu_cycles"),
    ("cpu_us", "cpu_us"),
    ("cpu_uj", "cpu_uj"),
    // Special: see [`recorded_accel_cycles`].
    ("accel_cycles", "accel_cycles"),
    ("accel_us", "offload_us"),
    ("compute_us", "compute_us"),
    ("dma_stall_us", "dma_stall_us"),
    ("overhead_us", "driver_us"),
    ("cpu_side_us", "cpu_side_us"),
    ("mac_uj", "mac_uj"),
    ("cpu_uj_in_accel_run", "offload_cpu_uj"),
    ("utilization", "array_utilization"),
    ("bus_bytes", "bus_bytes"),
];

/// The one recorded number whose meaning changed (docs/results-schema.md): a layer left on
/// the CPU used to get `accel_cycles = round(accel_us x clock_mhz)` (its CPU time in
/// accelerator cycles) and now gets 0. The recorded value is rebuilt from today's fields:
/// `accel_cycles` (the accelerator's own cycles, unchanged) plus, per CPU layer,
/// `round(offload_us x clock_mhz)`; a model's total adds those of its CPU layers.
fn recorded_accel_cycles(row: &Value, cpu_layers: &[&Value], clock_mhz: f64) -> Value {
    let fake = |l: &Value| (l["offload_us"].as_f64().unwrap() * clock_mhz).round() as u64;
    let own = row["accel_cycles"].as_u64().unwrap();
    let cpu: u64 = if row.get("target").is_some() {
        if row["target"] == "cpu" {
            assert_eq!(own, 0, "a CPU layer has accelerator cycles: {row}");
            fake(row)
        } else {
            0
        }
    } else {
        cpu_layers.iter().map(|l| fake(l)).sum()
    };
    Value::from(own + cpu)
}

const FIXTURE: &str = "tests/data/baseline_totals.json";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The presets recorded in the fixture (the ones that existed before issue 16; later
/// presets have no recorded numbers).
const RECORDED_PRESETS: [&str; 4] = ["edge-8x8", "tiny-4x4", "edge-16x16", "wide-4x16"];

/// Every recorded preset in both dataflows, as (name, TOML text).
fn configs() -> Vec<(String, String)> {
    let mut v = Vec::new();
    for name in RECORDED_PRESETS {
        for df in [
            arch::Dataflow::OutputStationary,
            arch::Dataflow::WeightStationary,
        ] {
            let mut cfg = arch::AccelConfig::preset(name).unwrap();
            cfg.dataflow = df;
            cfg.name = format!("{name}-{df}");
            v.push((cfg.name.clone(), toml::to_string(&cfg).unwrap()));
        }
    }
    v
}

/// The report of all built-in models on `toml` (name `name`).
fn report(dir: &Path, name: &str, toml: &str) -> Value {
    let cfg = dir.join(format!("{name}.toml"));
    std::fs::write(&cfg, toml).unwrap();
    let out_dir = dir.join(name);
    let out = Command::new(env!("CARGO_BIN_EXE_tinyaccel"))
        // The fixture holds the reference-kernel runs (report's default until issue 22
        // added cmsis-nn beside them).
        .args([
            "report",
            "--quiet",
            "--no-png",
            "--model",
            "all",
            "--cpu",
            "cortex-m4f",
        ])
        .arg("--accel")
        .arg(&cfg)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "report on {name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&std::fs::read(out_dir.join("report.json")).unwrap()).unwrap()
}

/// The recorded view of one row (a layer or a model's totals of model `model`), under the
/// recorded names.
fn row(v: &Value, model: &Value) -> Map<String, Value> {
    let mut m = Map::new();
    for (old, new) in FIELDS {
        let x = v
            .get(*new)
            .unwrap_or_else(|| panic!("report.json row has no field `{new}`: {v}"));
        m.insert(old.to_string(), x.clone());
    }
    let cpu_layers: Vec<&Value> = model["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .filter(|l| l["target"] == "cpu")
        .collect();
    let clock = model["config"]["clock_mhz"].as_f64().expect("clock_mhz");
    m.insert(
        "accel_cycles".into(),
        recorded_accel_cycles(v, &cpu_layers, clock),
    );
    m
}

/// config -> model -> {"layers": [...], "totals": {...}}.
fn observe() -> Value {
    let dir = tempfile::tempdir().unwrap();
    let mut all = Map::new();
    for (name, toml) in configs() {
        let r = report(dir.path(), &name, &toml);
        let mut models = Map::new();
        for m in r["models"].as_array().expect("models") {
            let layers: Vec<Value> = m["layers"]
                .as_array()
                .expect("layers")
                .iter()
                .map(|l| Value::Object(row(l, m)))
                .collect();
            let mut e = Map::new();
            e.insert("layers".into(), Value::Array(layers));
            e.insert("totals".into(), Value::Object(row(&m["totals"], m)));
            models.insert(
                m["model"].as_str().expect("model").to_string(),
                Value::Object(e),
            );
        }
        all.insert(name, Value::Object(models));
    }
    Value::Object(all)
}

#[test]
fn os_and_ws_numbers_unchanged() {
    let path = root().join(FIXTURE);
    if std::env::var_os("TINYACCEL_BLESS").is_some() {
        // Today's report.json has the new names only: record its view under the recorded
        // names, as the comparison below reads it.
        let v = observe();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap() + "\n").unwrap();
        return;
    }
    let want: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let got = observe();
    let (want, got) = (want.as_object().unwrap(), got.as_object().unwrap());
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>(),
        "configs"
    );
    let mut diffs = Vec::new();
    let mut compared = 0;
    for (cfg, models) in want {
        for (model, w) in models.as_object().unwrap() {
            let g = &got[cfg][model];
            let wl = w["layers"].as_array().unwrap();
            let gl = g["layers"]
                .as_array()
                .unwrap_or_else(|| panic!("{cfg}/{model}: no layers"));
            assert_eq!(wl.len(), gl.len(), "{cfg}/{model}: layer count");
            let rows = wl
                .iter()
                .zip(gl)
                .enumerate()
                .map(|(i, (w, g))| (format!("layer {i}"), w, g))
                .chain([("totals".to_string(), &w["totals"], &g["totals"])]);
            for (what, w, g) in rows {
                for (field, _) in FIELDS {
                    compared += 1;
                    if w[*field] != g[*field] {
                        diffs.push(format!(
                            "{cfg}/{model} {what} {field}: recorded {} now {}",
                            w[*field], g[*field]
                        ));
                    }
                }
            }
        }
    }
    assert!(compared > 1000, "only {compared} numbers compared");
    assert!(
        diffs.is_empty(),
        "{} of {compared} numbers changed:\n{}",
        diffs.len(),
        diffs[..diffs.len().min(40)].join("\n")
    );
}
