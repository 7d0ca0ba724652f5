//! `tinyaccel config show|validate` and the CLI's error conventions.

use std::process::Command;

fn tinyaccel() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tinyaccel"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

#[test]
fn validate_accepts_every_preset() {
    let mut files: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/configs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    assert!(files.len() >= 4);
    let out = tinyaccel()
        .arg("config")
        .arg("validate")
        .args(&files)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn validate_rejects_broken_configs_with_one_line_per_problem() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/configs/edge-8x8.toml"
    ))
    .unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        base.replace("rows = 8", "rows = 0")
            .replace("clock_mhz = 200.0", "clock_mhz = 0.0"),
    )
    .unwrap();
    let unknown = dir.path().join("unknown.toml");
    std::fs::write(&unknown, format!("{base}\nspeed = 3\n")).unwrap();
    let good = concat!(env!("CARGO_MANIFEST_DIR"), "/configs/tiny-4x4.toml");
    let out = tinyaccel()
        .args(["config", "validate", good])
        .arg(&bad)
        .arg(&unknown)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert!(
        lines.iter().any(|l| l.contains("bad.toml")
            && l.contains("`rows`")
            && l.contains("at least one PE")),
        "{err}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("bad.toml") && l.contains("`clock_mhz`")),
        "{err}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("unknown.toml") && l.contains("speed")),
        "{err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
}

#[test]
fn show_prints_resolved_config_and_derived_values() {
    let out = tinyaccel().args(["config", "show"]).output().unwrap();
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        s.contains("rows = 8") && s.contains("peak GOPS") && s.contains("25.6"),
        "{s}"
    );
    let out = tinyaccel()
        .args(["config", "show", "configs/edge-16x16.toml", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["config"]["rows"], 16);
    assert_eq!(v["derived"]["peak_macs_per_cycle"], 256);
}

#[test]
fn missing_file_is_a_user_error_not_a_panic() {
    let out = tinyaccel()
        .args(["config", "show", "no/such/file.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no/such/file.toml"), "{err}");
}

#[test]
fn help_and_version() {
    let out = tinyaccel().arg("--help").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("config"));
    let out = tinyaccel().arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}

/// The issue-16 preset and fields: `edge-8x8-conv` shows its im2col unit and DMA slots
/// (area included), edge-8x8 has neither; a bad `dma_outstanding` names the field.
#[test]
fn conv_preset_shows_its_units_and_bad_outstanding_is_named() {
    let show = |name: &str| -> serde_json::Value {
        let out = tinyaccel()
            .args(["config", "show", name, "--json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let conv = show("edge-8x8-conv");
    let base = show("edge-8x8");
    assert_eq!(conv["config"]["im2col"], true);
    assert_eq!(conv["config"]["dma_outstanding"], 4);
    assert_eq!(base["derived"]["feature_area_um2"], 0.0);
    let extra = conv["derived"]["feature_area_um2"].as_f64().unwrap();
    let a = &conv["derived"]["area_table"];
    assert_eq!(
        extra,
        a["agu_um2"].as_f64().unwrap() + 4.0 * a["dma_slot_um2"].as_f64().unwrap()
    );
    let d = conv["derived"]["area_mm2"].as_f64().unwrap()
        - base["derived"]["area_mm2"].as_f64().unwrap();
    assert!((d - extra / 1e6).abs() < 1e-12, "{d} vs {extra}");
    let text = tinyaccel()
        .args(["config", "show", "edge-8x8-conv"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("im2col = true") && text.contains("x 4 slots (present)"),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    let conv_text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/configs/edge-8x8-conv.toml"
    ))
    .unwrap();
    std::fs::write(
        &bad,
        conv_text.replace("dma_outstanding = 4", "dma_outstanding = 17"),
    )
    .unwrap();
    let out = tinyaccel()
        .args(["config", "validate"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("dma_outstanding"), "{err}");
}

/// Issue 20: a config of two lines (`base` + one key) validates and runs.
#[test]
fn a_two_line_config_validates_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let two = dir.path().join("that.toml");
    std::fs::write(&two, "base = \"edge-8x8\"\ndataflow = \"ws\"\n").unwrap();
    let p = two.to_str().unwrap();
    let out = tinyaccel()
        .args(["config", "validate", p])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = tinyaccel()
        .args(["config", "show", p, "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["config"]["dataflow"], "weight-stationary");
    assert_eq!(v["config"]["name"], "that");
    assert_eq!(v["config"]["rows"], 8);
    let run = |accel: &str| {
        let out = tinyaccel()
            .args(["run", "kws", "--accel", accel, "--json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let a = run(p);
    let b = run("edge-8x8");
    assert_eq!(a["output"], b["output"]);
    assert_ne!(a["output"], serde_json::Value::Null);
}

#[test]
fn config_init_writes_a_commented_file_that_validates_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("mine.toml");
    let p = f.to_str().unwrap();
    let out = tinyaccel()
        .args(["config", "init", "wide-4x16", "--out", p])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&f).unwrap();
    assert!(
        text.contains("name = \"mine\"") && text.contains("\ncols = 16\n"),
        "{text}"
    );
    assert!(text.contains("# Processing-element rows"), "{text}");
    let out = tinyaccel()
        .args(["config", "validate", p])
        .output()
        .unwrap();
    assert!(out.status.success());
    // The same fields as the preset.
    let show = |spec: &str| {
        let out = tinyaccel()
            .args(["config", "show", spec, "--json"])
            .output()
            .unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["config"]["name"] = serde_json::Value::Null;
        v["config"].clone()
    };
    assert_eq!(show(p), show("wide-4x16"));
    // No overwrite without --force; the file is untouched.
    std::fs::write(&f, "rows = 1\n").unwrap();
    let out = tinyaccel()
        .args(["config", "init", "--out", p])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "rows = 1\n");
    let out = tinyaccel()
        .args(["config", "init", "--out", p, "--force"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(std::fs::read_to_string(&f)
        .unwrap()
        .contains("\nrows = 8\n"));
    // Without --out it prints the file.
    let out = tinyaccel().args(["config", "init"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(arch::AccelConfig::from_toml_str(&text, "stdout.toml").is_ok());
}

#[test]
fn an_unknown_preset_lists_the_presets_and_suggests_the_closest() {
    for args in [
        vec!["run", "kws", "--accel", "edge-8x9"],
        vec!["config", "show", "edge-8x9"],
        vec!["config", "init", "edge-8x9"],
    ] {
        let out = tinyaccel().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("neither a configuration file nor a preset")
                && err.contains("tiny-4x4, edge-16x16")
                && err.contains("did you mean `edge-8x8`?"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("No such file"), "{err}");
    }
}
