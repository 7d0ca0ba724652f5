//! Consistency of the report writers. The records are built here (writer tests only: the
//! numbers are arbitrary but self-consistent, as the CLI's would be).

use std::collections::BTreeMap;
use std::path::Path;

use reports::record::{
    BatterySummary, BudgetSettings, ConfigSummary, CpuProfileSummary, LayerRow, MemoryUse,
    ModelBudget, ModelReport, Provenance, TargetMemory,
};
use reports::writer::{read_report_json, render_csv, CSV_COLUMNS};
use reports::{write_report, NoProgress, Report, Target, WriteOptions};

fn layer(
    index: usize,
    op: &str,
    macs: u64,
    target: Target,
    cpu_us: f64,
    offload_us: f64,
) -> LayerRow {
    let accel = target == Target::Accel;
    let (compute, stall, driver, cpu_side) = if accel {
        (offload_us * 0.7, offload_us * 0.2, offload_us * 0.1, 0.0)
    } else {
        (0.0, 0.0, 0.0, offload_us)
    };
    // The accelerator runs for compute + stall at 200 MHz; a CPU layer has no cycles.
    let accel_cycles = if accel {
        ((compute + stall) * 200.0).round() as u64
    } else {
        0
    };
    let (mac, sram, bus, leak, cpu) = if accel {
        (
            macs as f64 * 3e-7,
            macs as f64 * 1e-7,
            0.5,
            0.01,
            driver * 0.03,
        )
    } else {
        (0.0, 0.0, 0.0, 0.0, cpu_side * 0.03)
    };
    // Odd layers use the new units (address generator, DMA tracking, vector unit).
    let (agu, track, vpu) = if accel && index % 2 == 1 {
        (0.002, 0.001, 0.004)
    } else {
        (0.0, 0.0, 0.0)
    };
    LayerRow {
        index,
        op: op.into(),
        input_shape: vec![1, 10 + index, 10, 8],
        output_shape: vec![1, 10 + index, 10, 16],
        macs,
        target,
        reason: if accel {
            "conv offloaded".into()
        } else {
            "op not supported".into()
        },
        cpu_cycles: (cpu_us * 80.0).round() as u64,
        cpu_us,
        cpu_uj: cpu_us * 0.03,
        accel_cycles,
        offload_us: compute + stall + driver + cpu_side,
        offload_uj: mac + sram + bus + agu + track + vpu + leak + cpu,
        compute_us: compute,
        dma_stall_us: stall,
        driver_us: driver,
        cpu_side_us: cpu_side,
        mac_uj: mac,
        sram_uj: sram,
        bus_uj: bus,
        leakage_uj: leak,
        offload_cpu_uj: cpu,
        bus_bytes: if accel { macs / 20 + 1 } else { 0 },
        array_busy_us: compute * 0.9,
        dma_busy_us: (compute + stall) * 0.5,
        cpu_kernel_us: cpu_side,
        cpu_im2col_us: 0.0,
        agu_uj: agu,
        dma_track_uj: track,
        dma_bursts: if accel { 10 + index as u64 } else { 0 },
        im2col_pieces: if accel && index % 2 == 1 { 40 } else { 0 },
        vpu_uj: vpu,
        vpu_busy_us: if vpu > 0.0 { compute * 0.2 } else { 0.0 },
        main_memory_uj: 0.0,
        clock_uj: 0.0,
        ppu_uj: 0.0,
        control_uj: 0.0,
        dma_uj: 0.0,
    }
}

/// A budget at 2 Hz on a CR2032 with a 64 KiB SRAM the offloaded run overflows.
fn sample_budget() -> ModelBudget {
    let mem = |flash: &[(&str, u64)], sram: &[(&str, u64)]| TargetMemory {
        flash: MemoryUse::new(
            &flash
                .iter()
                .map(|(n, b)| (n.to_string(), *b))
                .collect::<Vec<_>>(),
            1 << 20,
        ),
        sram: MemoryUse::new(
            &sram
                .iter()
                .map(|(n, b)| (n.to_string(), *b))
                .collect::<Vec<_>>(),
            64 << 10,
        ),
    };
    ModelBudget {
        settings: BudgetSettings {
            rate_hz: Some(2.0),
            deadline_us: None,
            battery: Some(BatterySummary {
                name: "cr2032".into(),
                mah: 225.0,
                volts: 3.0,
            }),
            cpu_sleep_uw: 8.4,
            cpu_sleep_mode: "Stop 2".into(),
            accel_sleep: "retention".into(),
            accel_sleep_uw: 1.5,
            cmd_streams: "sram".into(),
        },
        cpu_only: mem(
            &[("model", 50_000), ("runtime code", 20_000)],
            &[("arena", 16_000)],
        ),
        offloaded: mem(
            &[
                ("model", 50_000),
                ("runtime code", 20_000),
                ("driver code", 8_000),
            ],
            &[("arena", 16_000), ("command streams", 60_000)],
        ),
    }
}

fn sample_report() -> Report {
    let cfg = arch::AccelConfig::default();
    let config = ConfigSummary::from_config(&cfg);
    let mut spec = BTreeMap::new();
    spec.insert("clock_mhz".to_string(), "80".to_string());
    let cpu_profile = CpuProfileSummary::from_serialize("test-m4", &spec).unwrap();
    let m1 = ModelReport {
        model: "kws".into(),
        source: "test".into(),
        config: config.clone(),
        cpu_profile: cpu_profile.clone(),
        layers: vec![
            layer(0, "CONV_2D", 640_000, Target::Accel, 9000.0, 120.0),
            layer(1, "DEPTHWISE_CONV_2D", 72_000, Target::Accel, 1100.0, 60.5),
            layer(2, "AVERAGE_POOL_2D", 0, Target::Cpu, 40.0, 40.0),
            layer(3, "FULLY_CONNECTED", 768, Target::Cpu, 12.25, 12.25),
            layer(4, "SOFTMAX", 0, Target::Cpu, 3.0, 3.0),
        ],
        budget: Some(sample_budget()),
    };
    let m2 = ModelReport {
        model: "ad".into(),
        source: "test2".into(),
        config,
        cpu_profile,
        layers: (0..12)
            .map(|i| {
                layer(
                    i,
                    "FULLY_CONNECTED",
                    40_000 + 1000 * i as u64,
                    Target::Accel,
                    700.0 + i as f64,
                    30.0 + 0.3 * i as f64,
                )
            })
            .collect(),
        budget: None,
    };
    Report {
        models: vec![m1, m2],
        provenance: Provenance {
            simulator_level: "test".into(),
            energy_table_source: "test".into(),
            cpu_cost_model: "test".into(),
            tool_version: reports::TOOL_VERSION.into(),
            command: "cargo test".into(),
            notes: vec![],
        },
    }
}

#[test]
fn totals_are_sums_and_ratios_are_quotients() {
    let r = sample_report();
    r.check().unwrap();
    for m in &r.models {
        let t = m.totals();
        let s = |f: fn(&LayerRow) -> f64| m.layers.iter().map(f).sum::<f64>();
        assert_eq!(t.cpu_us, s(|l| l.cpu_us));
        assert_eq!(t.offload_us, s(|l| l.offload_us));
        assert_eq!(t.offload_uj, s(|l| l.offload_uj));
        assert_eq!(t.cpu_uj, s(|l| l.cpu_uj));
        assert_eq!(t.dma_stall_us, s(|l| l.dma_stall_us));
        assert_eq!(t.macs, m.layers.iter().map(|l| l.macs).sum::<u64>());
        assert_eq!(
            t.bus_bytes,
            m.layers.iter().map(|l| l.bus_bytes).sum::<u64>()
        );
        assert_eq!(t.speedup, Some(t.cpu_us / t.offload_us));
        assert_eq!(t.energy_ratio, Some(t.cpu_uj / t.offload_uj));
        // Both utilizations: accelerator MACs over the peak for the accelerator's cycles
        // (array) and for the whole offloaded run's wall time (mac).
        let peak = (m.config.rows * m.config.cols) as f64;
        let accel: Vec<&LayerRow> = m
            .layers
            .iter()
            .filter(|l| l.target == Target::Accel)
            .collect();
        let accel_macs: u64 = accel.iter().map(|l| l.macs).sum();
        let accel_cycles: u64 = accel.iter().map(|l| l.accel_cycles).sum();
        assert_eq!(t.accel_macs, accel_macs);
        assert_eq!(t.accel_cycles, accel_cycles);
        assert_eq!(
            t.array_utilization,
            accel_macs as f64 / (peak * accel_cycles as f64)
        );
        assert_eq!(
            t.mac_utilization,
            accel_macs as f64 / (peak * (t.offload_us * m.config.clock_mhz))
        );
        assert!(t.mac_utilization < t.array_utilization && t.array_utilization <= 1.0);
        for l in &m.layers {
            assert_eq!(l.speedup(), Some(l.cpu_us / l.offload_us));
            let (a, u) = (m.array_utilization(l), m.mac_utilization(l));
            if l.target == Target::Accel {
                assert_eq!(a, l.macs as f64 / (peak * l.accel_cycles as f64));
                assert!(u > 0.0 && u < a, "{u} {a}");
            } else {
                assert_eq!((a, u), (0.0, 0.0));
            }
        }
    }
}

#[test]
fn inconsistent_breakdown_is_rejected_and_nothing_is_written() {
    let mut r = sample_report();
    r.models[0].layers[1].dma_stall_us += 5.0;
    let err = r.check().unwrap_err().to_string();
    assert!(
        err.contains("kws") && err.contains("layer 1") && err.contains("offload_us"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rep");
    assert!(write_report(&r, &out, &WriteOptions::default(), &NoProgress).is_err());
    assert!(!out.join("report.json").exists());
    // Faster than the array's peak is impossible.
    let mut r = sample_report();
    r.models[1].layers[0].accel_cycles = 1;
    let err = r.check().unwrap_err().to_string();
    assert!(err.contains("accel_cycles"), "{err}");
    // The CPU time splits into kernel and im2col; the new energy parts are in the sum.
    let mut r = sample_report();
    r.models[0].layers[2].cpu_kernel_us -= 1.0;
    let err = r.check().unwrap_err().to_string();
    assert!(err.contains("cpu_side_us"), "{err}");
    let mut r = sample_report();
    r.models[1].layers[1].agu_uj += 0.5;
    let err = r.check().unwrap_err().to_string();
    assert!(
        err.contains("offload_uj") && err.contains("agu_uj"),
        "{err}"
    );
    // The array cannot be busy longer than the accelerator runs.
    let mut r = sample_report();
    r.models[1].layers[1].array_busy_us = 1e6;
    let err = r.check().unwrap_err().to_string();
    assert!(err.contains("array_busy_us"), "{err}");
    // A layer left on the CPU has no accelerator cycles.
    let mut r = sample_report();
    r.models[0].layers[2].accel_cycles = 8000;
    let err = r.check().unwrap_err().to_string();
    assert!(
        err.contains("layer 2") && err.contains("accel_cycles"),
        "{err}"
    );
}

fn parse_num(s: &str) -> Option<f64> {
    if s.is_empty() {
        None
    } else {
        Some(s.parse::<f64>().unwrap_or_else(|e| panic!("`{s}`: {e}")))
    }
}

#[test]
fn csv_numbers_equal_json_numbers() {
    let r = sample_report();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rep");
    write_report(
        &r,
        &out,
        &WriteOptions {
            plots: false,
            png: false,
        },
        &NoProgress,
    )
    .unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["schema"], reports::SCHEMA);
    let mut rd = csv::Reader::from_path(out.join("report.csv")).unwrap();
    let head: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(head, CSV_COLUMNS);
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    let models = json["models"].as_array().unwrap();
    let expected_rows: usize = models
        .iter()
        .map(|m| m["layers"].as_array().unwrap().len() + 1)
        .sum();
    assert_eq!(rows.len(), expected_rows);
    let numeric = [
        "macs",
        "cpu_cycles",
        "cpu_us",
        "cpu_uj",
        "accel_cycles",
        "offload_us",
        "offload_uj",
        "compute_us",
        "dma_stall_us",
        "driver_us",
        "cpu_side_us",
        "mac_uj",
        "sram_uj",
        "bus_uj",
        "leakage_uj",
        "offload_cpu_uj",
        "array_utilization",
        "mac_utilization",
        "bus_bytes",
        "speedup",
        "energy_ratio",
        "array_busy_us",
        "dma_busy_us",
        "cpu_kernel_us",
        "cpu_im2col_us",
        "agu_uj",
        "dma_track_uj",
        "dma_bursts",
        "im2col_pieces",
        "vpu_uj",
        "vpu_busy_us",
    ];
    assert_eq!(
        numeric.len() + 12,
        CSV_COLUMNS.len(),
        "a CSV column is not checked"
    );
    let col = |name: &str| head.iter().position(|h| h == name).unwrap();
    let mut checked = 0;
    for row in &rows {
        let m = models
            .iter()
            .find(|m| m["model"] == row[col("model")])
            .unwrap();
        assert_eq!(m["config"]["hash"], row[col("config_hash")]);
        let obj = if &row[col("row")] == "total" {
            &m["totals"]
        } else {
            let idx: u64 = row[col("index")].parse().unwrap();
            let l = m["layers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["index"] == idx)
                .unwrap();
            assert_eq!(l["op"], row[col("op")]);
            assert_eq!(l["target"], row[col("target")]);
            l
        };
        for name in numeric {
            let c = parse_num(&row[col(name)]);
            let j = obj[name].as_f64();
            assert_eq!(c, j, "{name} of {:?}", row);
            checked += 1;
        }
    }
    assert!(checked > 100);
    // And the JSON reads back into the very same records.
    let back = read_report_json(&out.join("report.json")).unwrap();
    assert_eq!(back, r);
    assert_eq!(
        render_csv(&back),
        std::fs::read_to_string(out.join("report.csv")).unwrap()
    );
}

fn check_svg(path: &Path) {
    let s = std::fs::read_to_string(path).unwrap();
    let t = s.trim_start();
    assert!(
        t.starts_with("<svg"),
        "{}: does not start with <svg",
        path.display()
    );
    assert!(s.trim_end().ends_with("</svg>"), "{}", path.display());
    // Balanced tags: every opening tag that is not self-closing has a closing tag.
    let mut stack: Vec<String> = Vec::new();
    let mut rest = s.as_str();
    while let Some(i) = rest.find('<') {
        let j = rest[i..]
            .find('>')
            .map(|j| i + j)
            .expect("unterminated tag");
        let tag = &rest[i + 1..j];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(name.trim()),
                "{}",
                path.display()
            );
        } else if !tag.ends_with('/') && !tag.starts_with('?') && !tag.starts_with('!') {
            stack.push(tag.split_whitespace().next().unwrap().to_string());
        }
        rest = &rest[j + 1..];
    }
    assert!(stack.is_empty(), "{}: unclosed {stack:?}", path.display());
    assert!(s.contains("<text"), "{}: no text", path.display());
}

fn check_png(path: &Path, size: (u32, u32)) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
    assert_eq!(&b[12..16], b"IHDR");
    let w = u32::from_be_bytes(b[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(b[20..24].try_into().unwrap());
    assert_eq!((w, h), size, "{}", path.display());
}

#[test]
fn plots_and_html_are_valid_and_self_contained() {
    let r = sample_report();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rep");
    let written = write_report(&r, &out, &WriteOptions::default(), &NoProgress).unwrap();
    assert_eq!(written.files.last().unwrap(), &out.join("report.json"));
    let hash = &r.models[0].config.hash;
    let specs = reports::plot::report_plots(&r).unwrap();
    let stems: Vec<&str> = specs
        .iter()
        .map(|p| {
            p.file
                .svg
                .trim_start_matches("plots/")
                .trim_end_matches(".svg")
        })
        .collect();
    for p in [
        "latency-kws",
        "latency-ad",
        "energy-breakdown",
        "energy-accelerator",
        "speedup-energy",
        &format!("roofline-edge-8x8-{hash}"),
        &format!("area-edge-8x8-{hash}"),
    ] {
        assert!(stems.contains(&p), "{p} not among {stems:?}");
    }
    assert!(
        stems.iter().any(|s| s.starts_with("utilization-")),
        "{stems:?}"
    );
    // Every plot as SVG and PNG, the PNG at the chart's size (horizontal bars grow with
    // their rows).
    for spec in &specs {
        check_svg(&out.join(&spec.file.svg));
        check_png(&out.join(&spec.file.png), spec.chart.size());
    }

    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    let lower = html.to_lowercase();
    for bad in [
        "http:", "https:", "src=", "<link", "<script", "url(", "@import",
    ] {
        assert!(!lower.contains(bad), "index.html contains `{bad}`");
    }
    // Every plot inline: 2 latency, utilization, both energy breakdowns, area, roofline,
    // speedup; memory footprint and power vs rate (the first model has a budget with a
    // rate).
    assert_eq!(html.matches("<svg").count(), specs.len());
    assert!(specs.len() >= 10, "{stems:?}");
    assert!(html.contains("kws") && html.contains("FULLY_CONNECTED"));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains(hash) && md.contains(&r.models[0].cpu_profile.hash));
    assert!(md.contains("## How the numbers were made"));
    // No staging directory is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".partial-"))
        .collect();
    assert!(leftovers.is_empty());
    // Rewriting with one model less removes that model's plots, keeps unrelated files.
    std::fs::write(out.join("plots/mine.svg"), "<svg></svg>").unwrap();
    let mut r2 = r.clone();
    r2.models.truncate(1);
    write_report(&r2, &out, &WriteOptions::default(), &NoProgress).unwrap();
    assert!(out.join("plots/latency-kws.svg").is_file());
    assert!(!out.join("plots/latency-ad.svg").exists());
    assert!(!out.join("plots/latency-ad.png").exists());
    assert!(out.join("plots/mine.svg").is_file());
}

#[test]
fn staging_is_all_or_nothing() {
    use reports::fsutil::Staging;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rep");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("report.json"), "old").unwrap();
    std::fs::write(out.join("report.md"), "old").unwrap();
    {
        // An interrupted write: dropped before commit leaves the old set untouched.
        let mut st = Staging::new(&out).unwrap();
        st.write("report.md", b"new").unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(out.join("report.md")).unwrap(),
        "old"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("report.json")).unwrap(),
        "old"
    );
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 2);
    // A commit without its marker is refused.
    let mut st = Staging::new(&out).unwrap();
    st.write("report.md", b"new").unwrap();
    assert!(st.commit("report.json").is_err());
    // A full commit replaces the set, marker last.
    let mut st = Staging::new(&out).unwrap();
    st.write("report.json", b"new").unwrap();
    st.write("report.md", b"new").unwrap();
    let files = st.commit("report.json").unwrap();
    assert_eq!(files.last().unwrap(), &out.join("report.json"));
    assert_eq!(
        std::fs::read_to_string(out.join("report.md")).unwrap(),
        "new"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("report.json")).unwrap(),
        "new"
    );
}

#[test]
fn degenerate_reports_still_write() {
    // A model left entirely on the CPU, and a model without layers.
    let mut r = sample_report();
    for l in &mut r.models[0].layers {
        *l = layer(l.index, &l.op, l.macs, Target::Cpu, l.cpu_us, l.cpu_us);
    }
    r.models[1].layers.clear();
    r.check().unwrap();
    let t = r.models[1].totals();
    assert_eq!(
        (
            t.speedup,
            t.energy_ratio,
            t.array_utilization,
            t.mac_utilization
        ),
        (None, None, 0.0, 0.0)
    );
    let dir = tempfile::tempdir().unwrap();
    write_report(&r, dir.path(), &WriteOptions::default(), &NoProgress).unwrap();
    check_svg(&dir.path().join("plots/speedup-energy.svg"));
    let csv = std::fs::read_to_string(dir.path().join("report.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 5 + 1 + 1);
    // No models at all.
    r.models.clear();
    write_report(
        &r,
        &dir.path().join("empty"),
        &WriteOptions::default(),
        &NoProgress,
    )
    .unwrap();
}

/// `report --ablate`: the ablation table is written with the report (and in report.md),
/// one row per (model, variant), speedups against the "off" variant; a later report
/// without an ablation removes the stale files.
#[test]
fn ablation_files_are_written_with_the_report() {
    use reports::ablation::{Ablation, Feature, Variant};
    let r = sample_report();
    let features = vec![
        Feature {
            name: "im2col".into(),
            off: "false".into(),
            on: "true".into(),
            note: "test".into(),
        },
        Feature {
            name: "dma_outstanding".into(),
            off: "1".into(),
            on: "4".into(),
            note: "test".into(),
        },
    ];
    let variants = Variant::all(&features);
    // Variant v: every offloaded layer's compute time divided by (1 + v).
    let runs: Vec<Vec<ModelReport>> = (0..variants.len())
        .map(|v| {
            r.models
                .iter()
                .map(|m| {
                    let mut m = m.clone();
                    m.config.name = format!("edge[{}]", variants[v].name);
                    m.config.hash = format!("{v:016}");
                    for l in &mut m.layers {
                        let cut = l.compute_us - l.compute_us / (1.0 + v as f64);
                        l.compute_us -= cut;
                        l.offload_us -= cut;
                        l.array_busy_us = l.array_busy_us.min(l.compute_us);
                        l.dma_busy_us = l.dma_busy_us.min(l.compute_us + l.dma_stall_us);
                    }
                    m
                })
                .collect()
        })
        .collect();
    let a = Ablation::new("edge", features, variants, &runs).unwrap();
    assert_eq!(a.rows.len(), r.models.len() * 4);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rep");
    let opts = WriteOptions {
        plots: false,
        png: false,
    };
    reports::write_report_with_ablation(&r, Some(&a), &out, &opts, &NoProgress).unwrap();
    let mut rd = csv::Reader::from_path(out.join("ablation.csv")).unwrap();
    let head: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(head, a.csv_columns());
    assert_eq!(
        &head[..4],
        ["model", "variant", "im2col", "dma_outstanding"]
    );
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 8);
    let col = |name: &str| head.iter().position(|h| h == name).unwrap();
    let variants: Vec<&str> = rows[..4].iter().map(|r| &r[col("variant")]).collect();
    assert_eq!(
        variants,
        ["off", "im2col", "dma_outstanding", "im2col+dma_outstanding"]
    );
    let values: Vec<(&str, &str)> = rows[..4]
        .iter()
        .map(|r| (&r[col("im2col")], &r[col("dma_outstanding")]))
        .collect();
    assert_eq!(
        values,
        [("false", "1"), ("true", "1"), ("false", "4"), ("true", "4")]
    );
    for (i, row) in rows.iter().enumerate() {
        let m = &runs[i % 4][i / 4];
        let off = runs[0][i / 4].totals();
        let t = m.totals();
        assert_eq!(row[col("model")], m.model);
        assert_eq!(parse_num(&row[col("offload_us")]), Some(t.offload_us));
        assert_eq!(
            parse_num(&row[col("speedup_vs_off")]),
            Some(off.offload_us / t.offload_us)
        );
        assert_eq!(
            parse_num(&row[col("array_utilization")]),
            Some(t.array_utilization)
        );
        if i % 4 == 0 {
            assert_eq!(&row[col("speedup_vs_off")], "1");
        } else {
            assert!(parse_num(&row[col("speedup_vs_off")]).unwrap() > 1.0);
        }
    }
    let json: Ablation =
        serde_json::from_str(&std::fs::read_to_string(out.join("ablation.json")).unwrap()).unwrap();
    assert_eq!(json, a);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("## Feature ablation") && md.contains("im2col+dma_outstanding"));
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        html.contains("<h2 id=\"ablation\">Feature ablation</h2>")
            && html.contains("im2col+dma_outstanding")
    );
    assert!(std::fs::read_to_string(out.join("ablation.md"))
        .unwrap()
        .contains("| kws | im2col | true | 1 |"));
    // Without an ablation, the old files go.
    write_report(&r, &out, &opts, &NoProgress).unwrap();
    for f in reports::ablation::FILES {
        assert!(!out.join(f).exists(), "{f} left behind");
    }
}

/// The budget: derived figures by their formulas, the not-fit flag in every format, the
/// two budget plots, and a tampered figure rejected on reading back.
#[test]
fn budget_figures_formats_and_round_trip() {
    let r = sample_report();
    let m = &r.models[0];
    let t = m.totals();
    let b = m.budget_view().unwrap();
    // Memory: sums, fit, shortfall.
    assert_eq!(b.cpu_only.sram.used_bytes, 16_000);
    assert!(b.cpu_only.fits);
    assert_eq!(b.offloaded.sram.used_bytes, 76_000);
    assert!(!b.offloaded.sram.fits && !b.offloaded.fits && b.offloaded.flash.fits);
    assert_eq!(b.offloaded.sram.shortfall_bytes, 76_000 - 65_536);
    // Deadline = the 500 ms period at 2 Hz; margins by definition.
    let d = b.offloaded.deadline.as_ref().unwrap();
    assert_eq!(d.deadline_us, 500_000.0);
    assert_eq!(d.margin_us, 500_000.0 - t.offload_us);
    // Power: E x rate + sleep x (1 - rate x latency); sleep of the offloaded target
    // includes the accelerator's retention power, the CPU-only one does not.
    let p = b.offloaded.power.as_ref().unwrap();
    let want = t.offload_uj * 2.0 + (8.4 + 1.5) * (1.0 - 2.0 * t.offload_us * 1e-6);
    assert!((p.avg_power_uw.unwrap() - want).abs() <= 1e-9 * want);
    assert!((p.battery_hours.unwrap() - 225.0 * 3.0 * 1000.0 / want).abs() < 1e-6);
    let pc = b.cpu_only.power.as_ref().unwrap();
    assert_eq!(pc.sleep_uw, 8.4);
    let want_cpu = t.cpu_uj * 2.0 + 8.4 * (1.0 - 2.0 * t.cpu_us * 1e-6);
    assert!((pc.avg_power_uw.unwrap() - want_cpu).abs() <= 1e-9 * want_cpu);
    // An infeasible rate is a flag, never NaN.
    let mut fast = m.budget.clone().unwrap();
    fast.settings.rate_hz = Some(1e6 / t.cpu_us * 1.5);
    let v = fast.view(&t);
    let p = v.cpu_only.power.unwrap();
    assert!(!p.feasible && p.avg_power_uw.is_none() && p.battery_hours.is_none());
    assert!(!v.cpu_only.deadline.unwrap().met);

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rep");
    let w = write_report(&r, &dir, &WriteOptions::default(), &reports::NoProgress).unwrap();
    for f in ["memory-footprint.svg", "power-vs-rate.svg"] {
        assert!(
            w.files
                .iter()
                .any(|p| p.ends_with(Path::new("plots").join(f))),
            "{f} not written"
        );
    }
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("## Budgets"), "{md}");
    assert!(md.contains("does not fit: SRAM by 10.2 KiB"), "{md}");
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(html.contains("does not fit: SRAM by 10.2 KiB"));
    // Read back: equal records; a tampered derived figure is rejected.
    let back = reports::writer::read_report_json(&dir.join("report.json")).unwrap();
    assert_eq!(back, r);
    let text = std::fs::read_to_string(dir.join("report.json")).unwrap();
    let mut j: serde_json::Value = serde_json::from_str(&text).unwrap();
    j["models"][0]["budget"]["offloaded"]["sram"]["fits"] = serde_json::json!(true);
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, serde_json::to_string(&j).unwrap()).unwrap();
    let e = reports::writer::read_report_json(&bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains("budget"), "{e}");
    // Without a rate: memory only, no power plot.
    let mut r2 = r.clone();
    r2.models[0].budget.as_mut().unwrap().settings.rate_hz = None;
    r2.models[0].budget.as_mut().unwrap().settings.battery = None;
    let plots = reports::plot::report_plots(&r2).unwrap();
    assert!(plots
        .iter()
        .any(|p| p.file.svg.ends_with("memory-footprint.svg")));
    assert!(!plots
        .iter()
        .any(|p| p.file.svg.ends_with("power-vs-rate.svg")));
    let v = r2.models[0].budget_view().unwrap();
    assert!(v.offloaded.power.is_none() && v.offloaded.deadline.is_none());
}

/// Names from inputs (model, configuration, CPU profile, CPU-profile keys) holding Markdown
/// syntax and line breaks stay inside their cell / code span in report.md.
#[test]
fn names_from_inputs_are_escaped_in_markdown() {
    let mut r = sample_report();
    let hostile = "evil|name\nline2`tick``<b>\r";
    for m in &mut r.models {
        m.model = format!("model {hostile}");
        m.source = format!("src {hostile}");
        m.config.name = format!("cfg {hostile}");
        m.cpu_profile.name = format!("cpu {hostile}");
    }
    r.models[0]
        .cpu_profile
        .spec
        .insert(format!("key {hostile}"), format!("value {hostile}"));
    let md = reports::writer::render_markdown(&r, &[]);
    let unescaped = |l: &str, c: u8| {
        let b = l.as_bytes();
        (0..b.len())
            .filter(|&i| b[i] == c && (i == 0 || b[i - 1] != b'\\'))
            .count()
    };
    let mut block_pipes: Option<usize> = None;
    let mut rows_with_names = 0;
    for line in md.lines() {
        assert!(
            !line.starts_with("line2"),
            "input line break survived: {line:?}"
        );
        assert!(!line.contains('\r'), "carriage return in {line:?}");
        if line.starts_with('|') {
            // Every row of a table has the header's number of cell separators.
            let n = unescaped(line, b'|');
            assert_eq!(*block_pipes.get_or_insert(n), n, "row {line:?}");
            if line.contains("evil") {
                rows_with_names += 1;
                assert!(line.contains("evil\\|name"), "{line}");
                // Backticks pair up: no code span runs into the next cell.
                assert_eq!(unescaped(line, b'`') % 2, 0, "{line}");
                assert!(!line.contains("<b>"), "raw HTML in {line}");
            }
        } else {
            block_pipes = None;
        }
    }
    assert!(rows_with_names >= 3, "{md}");
    // Code spans holding backticks get a longer fence.
    assert!(
        md.contains("## Model ``` model evil|name line2`tick``<b>  ```\n"),
        "{md}"
    );
    assert!(md.contains("- CPU profile: ``` cpu evil|name line2`tick``<b>  ``` (hash"));
}
