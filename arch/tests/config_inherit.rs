//! Configurations that inherit (issue 20): `base = "PRESET"` or `base = "FILE"` (relative
//! to the including file), recursively, with cycles and over-long chains named; all
//! missing fields in one error; the same dataflow spellings as the command line; unknown
//! presets listed with a suggestion; the commented form of `config init` reads back to
//! the same configuration; and the presets' serialized form and hashes do not move.

use arch::{AccelConfig, ConfigError, Dataflow};
use std::path::{Path, PathBuf};

/// A fresh directory for one test.
fn scratch(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tinyaccel-inherit-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

fn load_err(p: &Path) -> String {
    AccelConfig::load(p).unwrap_err().to_string()
}

#[test]
fn a_two_line_config_is_its_preset_with_one_key_changed_and_hashes_as_spelled_out() {
    let d = scratch("two-line");
    let two = write(&d, "a/my.toml", "base = \"edge-8x8\"\nrows = 16\n");
    let cfg = AccelConfig::load(&two).unwrap();
    let mut want = AccelConfig::preset("edge-8x8").unwrap();
    want.rows = 16;
    want.name = "my".into(); // the file's own name, not the base's
    assert_eq!(cfg, want);
    // The same fields spelled out, in a file of the same name: the same hash.
    let spelled = write(
        &d,
        "b/my.toml",
        &want.to_toml().replace("name = \"my\"\n", ""),
    );
    assert!(!std::fs::read_to_string(&spelled).unwrap().contains("base"));
    let s = AccelConfig::load(&spelled).unwrap();
    assert_eq!(s, cfg);
    assert_eq!(s.hash(), cfg.hash());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn bases_chain_through_files_relative_to_the_including_file() {
    let d = scratch("chain");
    write(
        &d,
        "designs/big.toml",
        "base = \"edge-16x16\"\nname = \"big\"\nclock_mhz = 300.0\n[energy]\nmac_pj = 0.5\nbus_pj_per_byte = 3.0\n",
    );
    let leaf = write(
        &d,
        "studies/s1/leaf.toml",
        "base = \"../../designs/big.toml\"\ndataflow = \"os\"\n[energy]\nmac_pj = 0.25\n",
    );
    let cfg = AccelConfig::load(&leaf).unwrap();
    let mut want = AccelConfig::preset("edge-16x16").unwrap();
    want.name = "leaf".into();
    want.clock_mhz = 300.0;
    want.dataflow = Dataflow::OutputStationary;
    want.energy = Some(arch::config::EnergyOverride {
        mac_pj: Some(0.25),
        bus_pj_per_byte: Some(3.0),
        ..Default::default()
    });
    assert_eq!(cfg, want);
    // A preset named with `.toml` works as in `--accel`.
    let p = write(&d, "x.toml", "base = \"tiny-4x4.toml\"\n");
    assert_eq!(AccelConfig::load(&p).unwrap().rows, 4);
    // A file beside the including one wins over a preset of the same name.
    write(&d, "edge-8x8.toml", "base = \"wide-4x16\"\n");
    let q = write(&d, "q.toml", "base = \"edge-8x8.toml\"\n");
    assert_eq!(AccelConfig::load(&q).unwrap().cols, 16);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn cycles_and_over_long_chains_are_named() {
    let d = scratch("cycles");
    let a = write(&d, "a.toml", "base = \"sub/b.toml\"\n");
    write(&d, "sub/b.toml", "base = \"../a.toml\"\nrows = 4\n");
    let e = AccelConfig::load(&a).unwrap_err();
    assert!(matches!(e, ConfigError::BaseChain { .. }), "{e}");
    let m = e.to_string();
    assert!(m.contains("is a cycle"), "{m}");
    assert!(m.contains("a.toml -> ") && m.contains("b.toml -> "), "{m}");
    let own = write(&d, "self.toml", "base = \"self.toml\"\n");
    assert!(load_err(&own).contains("is a cycle"));

    for i in 0..=arch::config::MAX_BASE_DEPTH {
        write(
            &d,
            &format!("l{i}.toml"),
            &format!("base = \"l{}.toml\"\n", i + 1),
        );
    }
    let last = arch::config::MAX_BASE_DEPTH + 1;
    write(&d, &format!("l{last}.toml"), "base = \"edge-8x8\"\n");
    // l1 -> ... -> l9 -> edge-8x8 is 9 links: too long; l2 -> ... is 8: fine.
    let m = load_err(&d.join("l1.toml"));
    assert!(
        m.contains("longer than 8 links")
            && m.contains("l1.toml -> ")
            && m.contains("l9.toml -> ..."),
        "{m}"
    );
    assert!(AccelConfig::load(&d.join("l2.toml")).is_ok());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn every_missing_field_is_named_in_one_error() {
    let e = AccelConfig::from_toml_str("rows = 4\ncols = 4\n", "partial.toml")
        .unwrap_err()
        .to_string();
    for f in arch::config::REQUIRED_FIELDS.iter().skip(2) {
        assert!(e.contains(&format!("`{f}`")), "{f} not in {e}");
    }
    assert!(
        !e.contains("`rows`") && e.contains("base = \"edge-8x8\""),
        "{e}"
    );
    // Through a partial base as well.
    let d = scratch("missing");
    write(&d, "p.toml", "rows = 4\ncols = 4\n");
    let c = write(&d, "c.toml", "base = \"p.toml\"\ndataflow = \"ws\"\n");
    let e = load_err(&c);
    assert!(
        e.contains("`input_sram_kib`") && !e.contains("`dataflow`"),
        "{e}"
    );
    assert!(e.starts_with(&c.display().to_string()), "{e}");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn errors_in_a_base_name_the_including_file_and_the_base() {
    let d = scratch("base-errors");
    write(&d, "bad.toml", "base = \"edge-8x8\"\nrows = \"x\"\n");
    let c = write(&d, "c.toml", "base = \"bad.toml\"\n");
    let e = load_err(&c);
    assert!(
        e.contains("c.toml: in base `bad.toml`")
            && e.contains("field `rows`")
            && e.contains("(line 2)"),
        "{e}"
    );
    let t = write(&d, "t.toml", "base = 3\n");
    assert!(load_err(&t).contains("field `base`"));
    let u = write(&d, "u.toml", "base = \"edge-8x9\"\n");
    let e = load_err(&u);
    assert!(
        e.contains("neither a file")
            && e.contains("tiny-4x4")
            && e.contains("did you mean `edge-8x8`?"),
        "{e}"
    );
    // Values a base provides are validated once merged: all issues, as for any file.
    let v = write(
        &d,
        "v.toml",
        "base = \"edge-8x8\"\nrows = 0\nclock_mhz = -1.0\n",
    );
    match AccelConfig::load(&v).unwrap_err() {
        ConfigError::Invalid { issues, .. } => assert_eq!(issues.len(), 2, "{issues:?}"),
        e => panic!("{e}"),
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn toml_accepts_every_dataflow_spelling_the_command_line_accepts() {
    for df in Dataflow::ALL {
        for spelling in [df.as_str(), df.short_name()] {
            let cli: Dataflow = spelling.parse().unwrap();
            assert_eq!(cli, df);
            let text = format!("base = \"edge-8x8\"\ndataflow = \"{spelling}\"\n");
            let cfg = AccelConfig::from_toml_str(&text, "d.toml").unwrap();
            assert_eq!(cfg.dataflow, df, "{spelling}");
            // The long name is what is written back.
            assert!(cfg
                .to_toml()
                .contains(&format!("dataflow = \"{}\"", df.as_str())));
        }
    }
    let e = AccelConfig::from_toml_str("base = \"edge-8x8\"\ndataflow = \"xs\"\n", "d.toml")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("field `dataflow`") && e.contains("output-stationary"),
        "{e}"
    );
}

#[test]
fn unknown_presets_are_listed_with_a_suggestion() {
    let e = AccelConfig::resolve("edge-8x9").unwrap_err();
    assert!(matches!(e, ConfigError::UnknownPreset { .. }));
    let m = e.to_string();
    for (p, _) in arch::config::PRESETS {
        assert!(m.contains(p), "{p} not in {m}");
    }
    assert!(m.contains("did you mean `edge-8x8`?"), "{m}");
    assert!(!AccelConfig::resolve("resnet")
        .unwrap_err()
        .to_string()
        .contains("did you mean"));
    // A path stays a file error naming the path.
    let e = AccelConfig::resolve("no/such/file.toml").unwrap_err();
    assert!(matches!(e, ConfigError::Io { .. }), "{e}");
}

#[test]
fn preset_forms_and_hashes_do_not_move() {
    // The hashes of `tinyaccel config show PRESET` before issue 20.
    for (name, hash) in [
        ("edge-8x8", "47b77bda5be5d73e"),
        ("tiny-4x4", "86e3a6b6f3d66e2c"),
        ("edge-16x16", "e119b6fc3d96334f"),
        ("wide-4x16", "1919908375ec660c"),
        ("edge-8x8-conv", "1ab7274e44bbc2a7"),
    ] {
        assert_eq!(AccelConfig::preset(name).unwrap().hash(), hash, "{name}");
    }
}

#[test]
fn the_commented_form_reads_back_to_the_same_configuration() {
    for (name, _) in arch::config::PRESETS {
        let cfg = AccelConfig::preset(name).unwrap();
        let text = cfg.to_commented_toml(&["header".to_string()]);
        let back = AccelConfig::from_toml_str(&text, "x.toml").unwrap();
        assert_eq!(back, cfg, "{name}");
        assert_eq!(back.hash(), cfg.hash(), "{name}");
        // Every key line is preceded by its comment.
        let lines: Vec<&str> = text.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            if !l.starts_with('#') && l.contains(" = ") && !l.contains("  # ") {
                assert!(lines[i - 1].starts_with("# "), "{name}: no comment for {l}");
            }
        }
    }
    // Overrides are written as values, the rest of the table commented out.
    let mut c = AccelConfig::preset("edge-8x8").unwrap();
    c.energy = Some(arch::config::EnergyOverride {
        mac_pj: Some(0.3),
        ..Default::default()
    });
    let text = c.to_commented_toml(&[]);
    assert!(
        text.contains("\n[energy]\nmac_pj = 0.3") && text.contains("\n# [area]\n"),
        "{text}"
    );
    assert_eq!(
        AccelConfig::from_toml_str(&text, "x.toml").unwrap().energy,
        c.energy
    );
}
