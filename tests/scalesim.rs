//! SCALE-Sim interchange end to end through the binary, on SCALE-Sim's own files
//! (tests/data/scalesim/, MIT, see its README.md): topologies as models in `run`,
//! `report` and `sweep`; `report --format scalesim` in SCALE-Sim's COMPUTE_REPORT.csv
//! layout; `config import` / `config export` round trips of its example configs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/scalesim")
        .join(name)
}

fn tinyaccel(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tinyaccel"))
        .args(args)
        .output()
        .expect("spawn tinyaccel")
}

fn ok(args: &[&str]) -> Output {
    let o = tinyaccel(args);
    assert!(
        o.status.success(),
        "tinyaccel {args:?} failed ({:?}): {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// SCALE-Sim's MAC count of a convolution-layout file, computed here from the CSV text
/// with its formula (`ofmap pixels x filter window x filters`), independently of the
/// importer.
fn scalesim_conv_macs(csv: &str) -> Vec<u64> {
    csv.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Vec<u64> = l
                .split(',')
                .skip(1)
                .filter_map(|s| s.trim().parse().ok())
                .collect();
            let (ih, iw, fh, fw, c, nf, s) = (v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
            let oh = (ih - fh + s).div_ceil(s);
            let ow = (iw - fw + s).div_ceil(s);
            oh * ow * fh * fw * c * nf
        })
        .collect()
}

#[test]
fn topologies_load_with_scalesims_shapes_and_macs() {
    for (file, ops) in [
        ("Resnet18.csv", 21),
        ("mobilenet.csv", 27),
        ("alexnet_part.csv", 1),
    ] {
        let path = data(file);
        let g = models::resolve(p(&path)).unwrap();
        assert_eq!(g.ops.len(), ops, "{file}");
        let want = scalesim_conv_macs(&std::fs::read_to_string(&path).unwrap());
        let got: Vec<u64> = g.ops.iter().map(|o| o.macs(&g.tensors)).collect();
        assert_eq!(got, want, "{file}");
        assert!(g.ops.iter().all(|o| o.name() == "CONV_2D"));
        // Every layer but the first reads its own constant ifmap.
        for (i, op) in g.ops.iter().enumerate() {
            let x = &g.tensors[op.input(0).unwrap()];
            assert_eq!(x.is_const(), i > 0, "{file} layer {i}");
        }
    }
    // The GEMM layout (CRLF line ends): FULLY_CONNECTED with M as the batch.
    let g = models::resolve(p(&data("NCF.csv"))).unwrap();
    assert_eq!(g.ops.len(), 12);
    assert!(g.ops.iter().all(|o| o.name() == "FULLY_CONNECTED"));
    let first = &g.tensors[g.ops[0].output().unwrap()];
    assert_eq!(first.shape, [256, 128]);
    assert_eq!(g.ops[0].macs(&g.tensors), 256 * 128 * 2048);
    // Seeded: loading twice gives the same graph.
    assert_eq!(models::resolve(p(&data("NCF.csv"))).unwrap(), g);
}

#[test]
fn run_offloads_every_resnet18_layer_bit_exact() {
    // The whole ResNet-18 topology (21 layers, 1.44 GMACs): `run` compares the offloaded
    // output with the CPU kernels' and exits 2 on any difference.
    let o = ok(&[
        "run",
        p(&data("Resnet18.csv")),
        "--accel",
        "edge-8x8",
        "--policy",
        "all",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let layers = v["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 21);
    for l in layers {
        assert_eq!(l["target"], "accel", "{l}");
        assert!(l["accel_cycles"].as_u64().unwrap() > 0, "{l}");
    }
    let want: u64 = scalesim_conv_macs(&std::fs::read_to_string(data("Resnet18.csv")).unwrap())
        .iter()
        .sum();
    assert_eq!(v["macs"], want);
    // The GEMM layout offloads too.
    ok(&[
        "run",
        p(&data("NCF.csv")),
        "--accel",
        "tiny-4x4",
        "--policy",
        "all",
    ]);
}

#[test]
fn report_in_scalesims_compute_report_layout() {
    let dir = tempfile::tempdir().unwrap();
    // SCALE-Sim's golden run: alexnet_part.csv on scale.cfg with the dataflow set to ws.
    let cfg = dir.path().join("scale_ws.cfg");
    std::fs::write(
        &cfg,
        std::fs::read_to_string(data("scale.cfg"))
            .unwrap()
            .replace("Dataflow : os", "Dataflow : ws"),
    )
    .unwrap();
    let toml = dir.path().join("scale_ws.toml");
    ok(&["config", "import", p(&cfg), "--out", p(&toml)]);
    let out = dir.path().join("rep");
    let models = format!("{},{}", p(&data("alexnet_part.csv")), p(&data("NCF.csv")));
    ok(&[
        "report",
        "--quiet",
        "--no-png",
        "--cpu",
        "cortex-m4f",
        "--model",
        &models,
        "--accel",
        p(&toml),
        "--policy",
        "all",
        "--format",
        "scalesim,tinyaccel",
        "--out",
        p(&out),
    ]);
    let golden = std::fs::read_to_string(data("COMPUTE_REPORT.csv")).unwrap();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    for (model, n) in [("alexnet_part", 1), ("NCF", 12)] {
        let text =
            std::fs::read_to_string(out.join("scalesim").join(model).join("COMPUTE_REPORT.csv"))
                .unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // SCALE-Sim's exact header, and its row layout (", " between cells, a final comma).
        assert_eq!(lines[0], golden.lines().next().unwrap());
        assert_eq!(lines.len(), n + 1, "{text}");
        let m = report["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["model"] == model)
            .unwrap();
        for (i, line) in lines[1..].iter().enumerate() {
            assert!(line.ends_with(','), "{line}");
            let cells: Vec<&str> = line.trim_end_matches(',').split(", ").collect();
            assert_eq!(cells.len(), 6, "{line}");
            let layer = &m["layers"][i];
            assert_eq!(cells[0], i.to_string());
            let cycles: u64 = cells[1].parse().unwrap();
            assert_eq!(cycles, layer["accel_cycles"].as_u64().unwrap());
            let stall: u64 = cells[2].parse().unwrap();
            assert!(stall < cycles);
            let util: f64 = cells[3].parse().unwrap();
            let macs = layer["macs"].as_u64().unwrap() as f64;
            assert!((util - 100.0 * macs / (cycles as f64 * 1024.0)).abs() < 1e-9);
            assert!(
                cells[4].is_empty(),
                "mapping efficiency is not ours to fill"
            );
            let compute: f64 = cells[5].parse().unwrap();
            assert!(compute >= util && compute <= 100.0 + 1e-9, "{line}");
        }
    }
    // Layers left on the CPU keep their LayerID, with empty cells and a note on stderr;
    // `--format scalesim` alone writes no report.md.
    let out2 = dir.path().join("rep2");
    let o = ok(&[
        "report",
        "--quiet",
        "--cpu",
        "cortex-m4f",
        "--model",
        p(&data("alexnet_part.csv")),
        "--policy",
        "none",
        "--format",
        "scalesim",
        "--out",
        p(&out2),
    ]);
    let text =
        std::fs::read_to_string(out2.join("scalesim/alexnet_part/COMPUTE_REPORT.csv")).unwrap();
    assert_eq!(text.lines().nth(1), Some("0, , , , , ,"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("ran on the CPU"));
    assert!(!out2.join("report.md").exists());
}

#[test]
fn sweep_takes_topologies() {
    let dir = tempfile::tempdir().unwrap();
    let grid = dir.path().join("grid.toml");
    std::fs::write(
        &grid,
        "base = \"edge-8x8\"\n[sweep]\nrows = [8, 16]\ndataflow = [\"os\", \"ws\"]\n",
    )
    .unwrap();
    let out = dir.path().join("sweep");
    let models = format!("{},{}", p(&data("Resnet18.csv")), p(&data("NCF.csv")));
    ok(&[
        "sweep",
        "--quiet",
        "--no-png",
        "--model",
        &models,
        "--grid",
        p(&grid),
        "--out",
        p(&out),
    ]);
    let text = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 8, "{text}");
    assert!(rows.iter().all(|r| r.contains(",ok,")), "{text}");
}

#[test]
fn config_import_and_export_round_trip_scalesims_examples() {
    let dir = tempfile::tempdir().unwrap();
    let show = |path: &Path| -> serde_json::Value {
        serde_json::from_slice(&ok(&["config", "show", p(path), "--json"]).stdout).unwrap()
    };
    for name in ["google", "scale", "eyeriss"] {
        let cfg = data(&format!("{name}.cfg"));
        let text = std::fs::read_to_string(&cfg).unwrap();
        let s = arch::config::scalesim::parse_cfg(&text, name).unwrap();
        let toml = dir.path().join(format!("{name}.toml"));
        let o = ok(&["config", "import", p(&cfg), "--out", p(&toml)]);
        // What cannot be expressed is named on stderr and in the file's comments.
        let stderr = String::from_utf8_lossy(&o.stderr);
        let written = std::fs::read_to_string(&toml).unwrap();
        for what in [
            "InterfaceBandwidth = CALC",
            "IfmapOffset",
            "OfmapSramSzkB",
            "clock_mhz",
        ] {
            assert!(stderr.contains(what), "{name}: {what} not named: {stderr}");
            assert!(written.contains(what), "{name}: {what} not in the file");
        }
        ok(&["config", "validate", p(&toml)]);
        let c = show(&toml)["config"].clone();
        assert_eq!(c["rows"], s.array_height);
        assert_eq!(c["cols"], s.array_width);
        assert_eq!(c["input_sram_kib"], s.ifmap_sram_kb);
        assert_eq!(c["weight_sram_kib"], s.filter_sram_kb);
        assert_eq!(c["acc_sram_kib"], s.ofmap_sram_kb);
        assert_eq!(c["dataflow"], s.dataflow.as_str());
        assert_eq!(
            c["bus_bytes_per_cycle"], 8,
            "Bandwidth 10 -> nearest power of two"
        );
        // Export and import again: the same configuration (same hash), and the exported
        // file carries the original's array, scratchpads and dataflow.
        let back_cfg = dir.path().join(format!("{name}-back.cfg"));
        ok(&["config", "export", p(&toml), "--out", p(&back_cfg)]);
        let s2 =
            arch::config::scalesim::parse_cfg(&std::fs::read_to_string(&back_cfg).unwrap(), "back")
                .unwrap();
        assert_eq!(
            (
                s2.run_name.clone(),
                s2.array_height,
                s2.array_width,
                s2.dataflow
            ),
            (
                s.run_name.clone(),
                s.array_height,
                s.array_width,
                s.dataflow
            )
        );
        assert_eq!(
            (s2.ifmap_sram_kb, s2.filter_sram_kb, s2.ofmap_sram_kb),
            (s.ifmap_sram_kb, s.filter_sram_kb, s.ofmap_sram_kb)
        );
        let toml2 = dir.path().join(format!("{name}-back.toml"));
        ok(&["config", "import", p(&back_cfg), "--out", p(&toml2)]);
        let (a, b) = (show(&toml), show(&toml2));
        assert_eq!(a["config"], b["config"], "{name}");
        assert_eq!(a["hash"], b["hash"], "{name}");
    }
}

#[test]
fn bad_files_are_refused_with_file_line_column_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "bad.csv",
            "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\nc1,8,8,3,3,4,4,1,\nc2,8,8,9,3,4,4,1,\n",
            "line 3, column 4 (Filter Height): SCALE-Sim topology: 9 is larger than the IFMAP Height 8",
        ),
        (
            "words.csv",
            "Layer, M, N, K,\nfc, 8, eight, 2,\n",
            "line 2, column 3 (N): SCALE-Sim topology: \"eight\" is not a positive integer",
        ),
        ("header.csv", "a,b,c\n1,2,3\n", "line 1: SCALE-Sim topology: header"),
    ];
    for (file, text, want) in cases {
        let path = dir.path().join(file);
        std::fs::write(&path, text).unwrap();
        let o = tinyaccel(&["run", p(&path)]);
        assert_eq!(o.status.code(), Some(1), "{file}");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains(file) && e.contains(want), "{file}: {e}");
    }
    let missing = tinyaccel(&["run", p(&dir.path().join("nope.csv"))]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nope.csv"));
    let cfg = dir.path().join("x.cfg");
    std::fs::write(&cfg, "[architecture_presets]\nArrayHeight: 8\n").unwrap();
    let o = tinyaccel(&["config", "import", p(&cfg)]);
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("x.cfg") && e.contains("missing") && e.contains("ArrayWidth"),
        "{e}"
    );
}
