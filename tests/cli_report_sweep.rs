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
    assert_eq!(report["schema"], reports::SCHEMA);
    let models = report["models"].as_array().unwrap();
    // By default every model runs against both kernel libraries of the default core.
    assert_eq!(models.len(), 8);
    let profiles: std::collections::BTreeSet<&str> = models
        .iter()
        .map(|m| m["cpu_profile"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        profiles.into_iter().collect::<Vec<_>>(),
        ["cortex-m4f@120MHz:cmsis-nn", "cortex-m4f@120MHz:reference"]
    );
    // The same numbers as `run --json` for the same model, config and CPU profile.
    for m in models {
        let cpu = m["cpu_profile"]["name"].as_str().unwrap();
        let run_name = m["model"].as_str().unwrap();
        let name = run_name
            .strip_suffix(&format!("@{cpu}"))
            .unwrap_or_else(|| panic!("{run_name} does not end in @{cpu}"));
        let run: serde_json::Value = serde_json::from_str(&ok(
            tinyaccel().args(["run", name, "--accel", "edge-8x8", "--cpu", cpu, "--json"])
        ))
        .unwrap();
        let layers = m["layers"].as_array().unwrap();
        let run_layers = run["layers"].as_array().unwrap();
        assert_eq!(layers.len(), run_layers.len());
        // Every per-layer field of report.json is in run --json under the same name, with
        // the same value (one result schema, docs/results-schema.md).
        for (a, b) in layers.iter().zip(run_layers) {
            for (k, v) in a.as_object().unwrap() {
                assert_eq!(&b[k], v, "{name} layer {}: field {k}", a["index"]);
            }
        }
        // The whole-run `accel` object of run --json carries the report's totals.
        for (k, v) in m["totals"].as_object().unwrap() {
            assert_eq!(&run["accel"][k], v, "{name}: total {k}");
        }
        let total_us: f64 = layers
            .iter()
            .map(|l| l["offload_us"].as_f64().unwrap())
            .sum::<f64>();
        let run_us = run["accel"]["offload_us"].as_f64().unwrap();
        assert!((total_us - run_us).abs() <= 1e-9 * run_us, "{name}");
        assert!(
            run["cpu"]["cpu_us"].as_f64().unwrap() > run_us,
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

fn json_of(c: &mut Command) -> serde_json::Value {
    serde_json::from_str(&ok(c)).unwrap()
}

/// The four outputs (`run --json`, `report.json`, the sweep's `results.csv`, `sim gemm
/// --json`) use one schema: the same name for the same quantity, and `"schema"` in every
/// JSON. Old names that meant something else are gone.
#[test]
fn outputs_share_one_schema() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("rep");
    ok(tinyaccel()
        .args(["report", "--quiet", "--no-png", "--model", "kws", "--out"])
        .arg(&out));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let m = &report["models"][0];
    let totals = m["totals"].as_object().unwrap();
    let layer = m["layers"][0].as_object().unwrap();
    let run = json_of(tinyaccel().args(["run", "kws", "--accel", "edge-8x8", "--json"]));
    let gemm = json_of(tinyaccel().args([
        "sim", "gemm", "--m", "40", "--k", "72", "--n", "24", "--json",
    ]));
    for v in [&report, &run, &gemm] {
        assert_eq!(v["schema"], "tinyaccel-results/1");
    }
    assert_eq!(reports::SCHEMA, "tinyaccel-results/1");
    // run --json: the report's per-layer names on every layer, its totals in `accel`.
    for l in run["layers"].as_array().unwrap() {
        for k in layer.keys() {
            assert!(l.get(k).is_some(), "run --json layer lacks `{k}`");
        }
    }
    for k in totals.keys() {
        assert!(
            run["accel"].get(k).is_some(),
            "run --json accel lacks `{k}`"
        );
    }
    // Both utilizations, by their definitions (docs/results-schema.md).
    let peak = (m["config"]["rows"].as_f64().unwrap()) * m["config"]["cols"].as_f64().unwrap();
    let t = |k: &str| totals[k].as_f64().unwrap();
    assert_eq!(
        t("array_utilization"),
        t("accel_macs") / (peak * t("accel_cycles"))
    );
    assert_eq!(
        t("mac_utilization"),
        t("accel_macs") / (peak * (t("offload_us") * m["config"]["clock_mhz"].as_f64().unwrap()))
    );
    // The sweep: its metric columns are report-total names, and the design-independent
    // numbers (CPU baseline, area) equal the report's for the same design and model.
    let grid = tmp.path().join("grid.toml");
    std::fs::write(&grid, "base = \"edge-8x8\"\n[sweep]\nrows = [8]\n").unwrap();
    let sweep = tmp.path().join("sweep");
    ok(tinyaccel()
        .args(["sweep", "--quiet", "--no-png", "--model", "kws", "--grid"])
        .arg(&grid)
        .arg("--out")
        .arg(&sweep));
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sweep.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(meta["results_schema"], reports::SCHEMA);
    // One design, one model, no quoted fields: two plain lines.
    let text = std::fs::read_to_string(sweep.join("results.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let head: Vec<String> = lines[0].split(',').map(String::from).collect();
    let row: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(head.len(), row.len());
    let cell = |k: &str| {
        row[head.iter().position(|h| h == k).unwrap()]
            .parse::<f64>()
            .unwrap()
    };
    let status = head.iter().position(|h| h == "status").unwrap();
    assert_eq!(row[status], "ok");
    let metrics = &head[status + 1..head.len() - 1];
    assert_eq!(metrics, reports::sweep::results::METRIC_COLUMNS);
    for k in metrics {
        assert!(
            totals.contains_key(k.as_str()) || m["config"].get(k).is_some(),
            "sweep column `{k}` is not a report name"
        );
    }
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-12 * y.abs();
    assert!(close(cell("cpu_us"), t("cpu_us")));
    assert!(close(cell("cpu_uj"), t("cpu_uj")));
    assert!(close(
        cell("area_mm2"),
        m["config"]["area_mm2"].as_f64().unwrap()
    ));
    // sim gemm --json: the same names for the same quantities, energies in uJ.
    for k in [
        "accel_cycles",
        "macs",
        "offload_us",
        "offload_uj",
        "mac_uj",
        "sram_uj",
        "bus_uj",
        "leakage_uj",
        "array_utilization",
        "mac_utilization",
        "bus_bytes",
        "area_mm2",
    ] {
        assert!(gemm.get(k).is_some(), "sim gemm --json lacks `{k}`");
    }
    let e_pj = gemm["energy_parts_pj"]["total_pj"].as_f64().unwrap();
    assert!(close(gemm["offload_uj"].as_f64().unwrap(), e_pj / 1e6));
    // No old or ambiguous names in any JSON output, and pJ only in `_pj` fields.
    let old = [
        "accel_us",
        "accel_uj",
        "accel_energy_uj",
        "util",
        "utilization",
        "time_us",
        "energy_uj_parts",
        "overhead_us",
        "cpu_uj_in_accel_run",
        "latency_ms",
        "latency_us",
        "energy_uj",
        "energy_pj",
        "cycles",
    ];
    fn keys(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    // The raw device counters keep arch's names.
                    if k != "counters" {
                        out.push(k.clone());
                        keys(x, out);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| keys(x, out)),
            _ => {}
        }
    }
    for (what, v) in [
        ("report.json", &report),
        ("run --json", &run),
        ("sim gemm", &gemm),
    ] {
        let mut ks = Vec::new();
        keys(v, &mut ks);
        for k in &ks {
            assert!(!old.contains(&k.as_str()), "{what} still has `{k}`");
        }
    }
}

/// `run --accel --sim functional` is untimed: values (placement, MACs, bytes, commands,
/// the output) and no timing or energy figure at all.
#[test]
fn functional_run_reports_values_only() {
    let v = json_of(tinyaccel().args([
        "run",
        "kws",
        "--accel",
        "edge-8x8",
        "--sim",
        "functional",
        "--json",
    ]));
    assert_eq!(v["schema"], reports::SCHEMA);
    let accel = v["accel"].as_object().unwrap();
    assert_eq!(accel["timed"], false);
    assert_eq!(accel["accel_macs"], 2_656_768);
    assert!(accel["bus_bytes"].as_u64().unwrap() > 0);
    let timing = |k: &str| {
        k.ends_with("_us")
            || k.ends_with("_uj")
            || k.ends_with("_pj")
            || k.ends_with("_cycles")
            || k.contains("utilization")
            || k == "speedup"
            || k == "energy_ratio"
            || k == "counters"
    };
    let mut n = 0;
    for (k, _) in accel.iter().chain(
        v["layers"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|l| l.as_object().unwrap().iter()),
    ) {
        assert!(!timing(k), "functional run reports `{k}`");
        n += 1;
    }
    assert!(n > 13 * 8);
    for k in ["packed_bytes", "command_bytes"] {
        assert!(accel["load"][k].as_u64().unwrap() > 0);
    }
    assert!(accel["load"].get("pack_us").is_none());
    let layers = v["layers"].as_array().unwrap();
    assert!(layers
        .iter()
        .any(|l| l["target"] == "accel" && l["accel_macs"].as_u64() > Some(0)));
    // The table prints no latency or energy either.
    let text = ok(tinyaccel().args(["run", "kws", "--accel", "edge-8x8", "--sim", "functional"]));
    assert!(text.contains("2656768 MACs"), "{text}");
    for bad in ["latency", " ms", "uJ", "offload_us", "cycles"] {
        assert!(
            !text.contains(bad),
            "functional table prints `{bad}`:\n{text}"
        );
    }
    // The timed run of the same model has them.
    let timed = json_of(tinyaccel().args(["run", "kws", "--accel", "edge-8x8", "--json"]));
    assert_eq!(timed["accel"]["timed"], true);
    assert!(timed["accel"]["offload_us"].as_f64().unwrap() > 0.0);
    assert_eq!(timed["output"], v["output"]);
}

fn totals_of(report: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
    report["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["model"].as_str().unwrap().to_string(),
                m["totals"].clone(),
            )
        })
        .collect()
}

/// `report --ablate im2col,dma_outstanding`: one row per model and variant (off, each on
/// alone, both on), in the terminal, report.md and ablation.md/.csv/.json; the off row is
/// the plain report of the features-off base, the both-on row the report of the
/// `edge-8x8-conv` preset (= edge-8x8 + im2col + 4 outstanding bursts).
#[test]
fn report_ablation_table() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("rep");
    let stdout = ok(tinyaccel()
        .args([
            "report",
            "--quiet",
            "--no-png",
            "--cpu",
            "cortex-m4f",
            "--model",
            "kws,ad",
            "--ablate",
            "im2col,dma_outstanding",
            "--out",
        ])
        .arg(&out));
    assert!(stdout.contains("Feature ablation of edge-8x8"), "{stdout}");
    assert!(
        stdout.contains("| kws | im2col+dma_outstanding | true | 4 |"),
        "{stdout}"
    );
    let read = |p: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    };
    let a = read(&out.join("ablation.json"));
    assert_eq!(a["schema"], reports::SCHEMA);
    assert_eq!(a["base_config"], "edge-8x8");
    let rows = a["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2 * 4);
    let shape: Vec<(String, String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["model"].as_str().unwrap().into(),
                r["variant"].as_str().unwrap().into(),
                r["values"][0].as_str().unwrap().into(),
                r["values"][1].as_str().unwrap().into(),
            )
        })
        .collect();
    let want: Vec<(String, String, String, String)> = ["kws", "ad"]
        .iter()
        .flat_map(|m| {
            [
                ("off", "false", "1"),
                ("im2col", "true", "1"),
                ("dma_outstanding", "false", "4"),
                ("im2col+dma_outstanding", "true", "4"),
            ]
            .map(|(v, i, d)| (m.to_string(), v.to_string(), i.to_string(), d.to_string()))
        })
        .collect();
    assert_eq!(shape, want);
    // The CSV holds the same rows, one column per feature.
    let csv = std::fs::read_to_string(out.join("ablation.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + 8, "{csv}");
    assert!(
        lines[0].starts_with("model,variant,im2col,dma_outstanding,config,config_hash,"),
        "{}",
        lines[0]
    );
    for (line, r) in lines[1..].iter().zip(rows) {
        assert!(
            line.contains(&r["offload_us"].to_string()),
            "{line} vs {}",
            r["offload_us"]
        );
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("## Feature ablation"),
        "report.md lacks the ablation"
    );
    assert!(out.join("ablation.md").is_file());
    // The off rows: the report of edge-8x8 itself (its features are off), number for number.
    let base = totals_of(&read(&out.join("report.json")));
    let both = tmp.path().join("conv");
    ok(tinyaccel()
        .args([
            "report",
            "--quiet",
            "--no-png",
            "--cpu",
            "cortex-m4f",
            "--model",
            "kws,ad",
            "--accel",
            "edge-8x8-conv",
            "--out",
        ])
        .arg(&both));
    let conv_report = read(&both.join("report.json"));
    let conv = totals_of(&conv_report);
    // With the features on, every layer's parts still add up (the new energy parts
    // included) and the CPU time splits into kernel and im2col (reports::schema).
    let sum = |o: &serde_json::Value, names: &[&str]| -> f64 {
        names.iter().map(|k| o[*k].as_f64().unwrap()).sum()
    };
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1e-9);
    let mut pieces = 0;
    for m in conv_report["models"].as_array().unwrap() {
        assert_eq!(m["config"]["im2col"], true);
        assert_eq!(m["config"]["dma_outstanding"], 4);
        for l in m["layers"].as_array().unwrap().iter().chain([&m["totals"]]) {
            assert!(close(
                sum(l, &reports::schema::ENERGY_PARTS),
                l["offload_uj"].as_f64().unwrap()
            ));
            assert!(close(
                sum(l, &reports::schema::TIME_PARTS),
                l["offload_us"].as_f64().unwrap()
            ));
            assert!(close(
                sum(l, &reports::schema::CPU_SIDE_PARTS),
                l["cpu_side_us"].as_f64().unwrap()
            ));
        }
        pieces += m["totals"]["im2col_pieces"].as_u64().unwrap();
        assert!(m["totals"]["dma_bursts"].as_u64().unwrap() > 0);
        assert!(m["totals"]["dma_track_uj"].as_f64().unwrap() > 0.0);
    }
    assert!(pieces > 0, "kws on edge-8x8-conv used no hardware im2col");
    for (i, m) in ["kws", "ad"].iter().enumerate() {
        let row = |v: usize| &rows[4 * i + v];
        assert_eq!(base[i].0, *m);
        for k in [
            "offload_us",
            "offload_uj",
            "accel_cycles",
            "array_utilization",
        ] {
            assert_eq!(row(0)[k], base[i].1[k], "{m} off: {k}");
            assert_eq!(row(3)[k], conv[i].1[k], "{m} both on vs edge-8x8-conv: {k}");
        }
        assert_eq!(row(0)["speedup_vs_off"], 1.0);
        for v in 0..4 {
            let s = row(0)["offload_us"].as_f64().unwrap() / row(v)["offload_us"].as_f64().unwrap();
            assert_eq!(
                row(v)["speedup_vs_off"].as_f64().unwrap(),
                s,
                "{m} variant {v}"
            );
        }
        // Only the variants with im2col use the address generator, and only on a model
        // with a non-1x1 conv (kws's first layer; ad is all fully connected).
        for v in 0..4 {
            let pieces = row(v)["im2col_pieces"].as_u64().unwrap();
            let used = *m == "kws" && v % 2 == 1;
            assert_eq!(used, pieces > 0, "{m} variant {v}: {pieces} im2col pieces");
        }
    }
    // A base with dma_outstanding > 1 keeps its value as "on"; an unablated feature keeps
    // the base's value in every variant.
    let cfg = tmp.path().join("two.toml");
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/edge-8x8-conv.toml"),
    )
    .unwrap()
    .replace("dma_outstanding = 4", "dma_outstanding = 2");
    assert!(text.contains("dma_outstanding = 2"), "{text}");
    std::fs::write(&cfg, text).unwrap();
    let out2 = tmp.path().join("rep2");
    ok(tinyaccel()
        .args([
            "report",
            "--quiet",
            "--no-png",
            "--cpu",
            "cortex-m4f",
            "--model",
            "ad",
            "--ablate",
            "dma_outstanding",
            "--accel",
        ])
        .arg(&cfg)
        .arg("--out")
        .arg(&out2));
    let a = read(&out2.join("ablation.json"));
    assert_eq!(a["features"][0]["on"], "2");
    let rows = a["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["values"][0], "1");
    assert_eq!(rows[1]["values"][0], "2");
}

/// An unknown --ablate feature is a user error naming the accepted ones, before anything
/// runs or is written.
#[test]
fn ablate_unknown_feature_names_the_accepted_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("rep");
    let o = tinyaccel()
        .args(["report", "--quiet", "--ablate", "im2col,turbo", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("`turbo`") && err.contains("accepted: im2col, dma_outstanding"),
        "{err}"
    );
    assert!(!out.exists(), "an output folder was created");
}

/// `im2col` (boolean) and `dma_outstanding` (integer) are sweep axes like any config
/// field: their values in results.csv, invalid values kept with the reason, and a design
/// with both off equal to the same design without the keys.
#[test]
fn sweep_takes_im2col_and_dma_outstanding_axes() {
    use reports::sweep::results::{read_results, Status};
    let tmp = tempfile::tempdir().unwrap();
    let sweep = |name: &str, axes: &str| {
        let grid = tmp.path().join(format!("{name}.toml"));
        std::fs::write(&grid, format!("base = \"edge-8x8\"\n[sweep]\n{axes}")).unwrap();
        let dir = tmp.path().join(name);
        ok(tinyaccel()
            .args(["sweep", "--quiet", "--no-png", "--model", "kws", "--grid"])
            .arg(&grid)
            .arg("--out")
            .arg(&dir));
        dir.join("results.csv")
    };
    let path = sweep("s", "im2col = [false, true]\ndma_outstanding = [1, 4, 0]\n");
    let text = std::fs::read_to_string(&path).unwrap();
    // Keys sorted by name, after design and design_id.
    assert!(
        text.starts_with("design,design_id,dma_outstanding,im2col,model,status,"),
        "{text}"
    );
    let keys = ["dma_outstanding".to_string(), "im2col".to_string()];
    let rows = read_results(&path, &keys).unwrap().rows;
    assert_eq!(rows.len(), 6);
    let mut seen = Vec::new();
    for r in &rows {
        let bad = r.params[0] == "0";
        let want = if bad { Status::Invalid } else { Status::Ok };
        assert_eq!(r.status, want, "{r:?}");
        if bad {
            assert!(r.note.contains("dma_outstanding"), "{r:?}");
        }
        seen.push((r.params[0].clone(), r.params[1].clone()));
    }
    seen.sort();
    let want: Vec<(String, String)> = ["0", "1", "4"]
        .iter()
        .flat_map(|d| ["false", "true"].map(|i| (d.to_string(), i.to_string())))
        .collect();
    assert_eq!(seen, want);
    let us = |d: &str, i: &str| {
        rows.iter()
            .find(|r| r.params[0] == d && r.params[1] == i)
            .and_then(|r| r.metrics)
            .unwrap()
            .offload_us
    };
    let path0 = sweep("s0", "rows = [8]\n");
    let plain = read_results(&path0, &["rows".to_string()]).unwrap().rows[0]
        .metrics
        .unwrap()
        .offload_us;
    assert_eq!(us("1", "false"), plain, "features off differ from the base");
    // kws has a 10x4 strided conv (hardware im2col) and DMA-latency-bound depthwise
    // layers (pipelined DMA): each feature alone and both together make it faster.
    for (d, i) in [("1", "true"), ("4", "false"), ("4", "true")] {
        assert!(
            us(d, i) < plain,
            "dma_outstanding {d}, im2col {i}: {} >= {plain}",
            us(d, i)
        );
    }
    assert!(us("4", "true") < us("4", "false") && us("4", "true") < us("1", "true"));
}

/// Resuming a sweep folder with another CPU profile, offload policy or command-stream
/// policy would mix rows of two evaluations; `sweep.json` records them and the resume is
/// refused, naming both.
#[test]
fn sweep_resume_with_other_evaluation_settings_is_refused() {
    let out = std::env::temp_dir().join(format!("tinyaccel-sweep-eval-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let grid = concat!(env!("CARGO_MANIFEST_DIR"), "/sweeps/conv-features.toml");
    let sweep = |extra: &[&str]| {
        let mut args = vec![
            "sweep", "--grid", grid, "--model", "ad", "--quiet", "--no-png",
        ];
        args.extend(["--out", out.to_str().unwrap()]);
        args.extend(extra);
        std::process::Command::new(env!("CARGO_BIN_EXE_tinyaccel"))
            .args(&args)
            .output()
            .unwrap()
    };
    let first = sweep(&[]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    for extra in [
        &["--cpu", "cortex-m7"][..],
        &["--policy", "all"][..],
        &["--cmd-streams", "generate"][..],
    ] {
        let r = sweep(extra);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(1), "{extra:?}: {err}");
        assert!(err.contains("evaluation settings"), "{extra:?}: {err}");
    }
    // The same settings resume.
    let again = sweep(&[]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    std::fs::remove_dir_all(&out).unwrap();
}
