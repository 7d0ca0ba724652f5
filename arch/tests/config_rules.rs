//! The config loader: every preset loads and validates, and every validation rule has an
//! example that fails with a message naming the field and the reason.

use arch::{AccelConfig, ConfigError, Dataflow};

const BASE: &str = include_str!("../../configs/edge-8x8.toml");

/// Replaces the line starting with `key =` in the base preset.
fn with(key: &str, value: &str) -> String {
    BASE.lines()
        .map(|l| {
            if l.starts_with(&format!("{key} =")) {
                format!("{key} = {value}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn issues(text: &str) -> Vec<(String, String)> {
    match AccelConfig::from_toml_str(text, "test.toml") {
        Ok(_) => vec![],
        Err(ConfigError::Invalid { issues, .. }) => {
            issues.into_iter().map(|i| (i.field, i.reason)).collect()
        }
        Err(e) => vec![("<parse>".into(), e.to_string())],
    }
}

fn assert_rejects(text: &str, field: &str, reason_part: &str) {
    let found = issues(text);
    assert!(
        found
            .iter()
            .any(|(f, r)| f.contains(field) && r.contains(reason_part)),
        "expected a problem with `{field}` mentioning `{reason_part}`, got {found:?}"
    );
}

#[test]
fn every_preset_loads_and_validates() {
    for (name, _) in arch::config::PRESETS {
        let path = format!("{}/../configs/{name}.toml", env!("CARGO_MANIFEST_DIR"));
        let cfg = AccelConfig::load(std::path::Path::new(&path)).unwrap();
        assert_eq!(cfg.name, *name);
        assert!(cfg.validate().is_ok());
        assert_eq!(AccelConfig::preset(name).unwrap(), cfg);
        // Round trip through TOML keeps everything.
        let back = AccelConfig::from_toml_str(&cfg.to_toml(), "roundtrip").unwrap();
        assert_eq!(back, cfg);
    }
    assert_eq!(AccelConfig::default().name, "edge-8x8");
}

#[test]
fn presets_cover_both_dataflows_and_a_non_square_array() {
    let all: Vec<AccelConfig> = arch::config::PRESETS
        .iter()
        .map(|(n, _)| AccelConfig::preset(n).unwrap())
        .collect();
    assert!(all.iter().any(|c| c.dataflow == Dataflow::OutputStationary));
    assert!(all.iter().any(|c| c.dataflow == Dataflow::WeightStationary));
    assert!(all.iter().any(|c| c.rows != c.cols));
}

#[test]
fn derived_values() {
    let c = AccelConfig::preset("edge-8x8").unwrap();
    assert_eq!(c.peak_macs_per_cycle(), 64);
    assert!((c.peak_gops() - 25.6).abs() < 1e-9);
    assert_eq!(c.total_sram_kib(), 80);
    assert!((c.cycles_to_us(200) - 1.0).abs() < 1e-12);
    assert!(c.area_mm2() > 0.0);
    let e = c.energy_table();
    let m = |kib: f64| arch::sram::SramMacro {
        kib,
        width_bytes: 8,
        banks: 1,
        ports: 1,
    };
    assert!(e.sram_read_pj_per_byte(&m(64.0)) > e.sram_read_pj_per_byte(&m(8.0)));
    assert_eq!(c.hash().len(), 16);
    let mut d = c.clone();
    d.rows = 4;
    assert_ne!(d.hash(), c.hash());
}

#[test]
fn energy_scales_with_node_and_overrides_apply() {
    let e45 = arch::EnergyTable::for_node(45);
    assert_eq!(e45, arch::EnergyTable::reference());
    let e22 = arch::EnergyTable::for_node(22);
    assert!(e22.mac_pj < e45.mac_pj);
    let text = format!("{BASE}\n[energy]\nmac_pj = 0.5\n");
    let c = AccelConfig::from_toml_str(&text, "x.toml").unwrap();
    assert_eq!(c.energy_table().mac_pj, 0.5);
    assert_eq!(
        c.energy_table().bus_pj_per_byte,
        arch::EnergyTable::for_node(22).bus_pj_per_byte
    );
}

#[test]
fn rule_zero_rows_and_cols() {
    assert_rejects(&with("rows", "0"), "rows", "at least one PE");
    assert_rejects(&with("cols", "0"), "cols", "at least one PE");
}

#[test]
fn rule_absurd_array() {
    assert_rejects(&with("rows", "1000000"), "rows", "maximum");
}

#[test]
fn rule_accumulator_width() {
    assert_rejects(&with("acc_bits", "16"), "acc_bits", "32-bit");
}

#[test]
fn rule_empty_and_huge_scratchpads() {
    assert_rejects(&with("input_sram_kib", "0"), "input_sram_kib", "empty");
    assert_rejects(
        &with("weight_sram_kib", "1073741824"),
        "weight_sram_kib",
        "maximum",
    );
}

#[test]
fn rule_scratchpad_must_hold_one_array_row() {
    // A 256-wide array with 1 KiB split in 64 banks: 8 bytes per half bank < 256.
    let t = with("rows", "256");
    let t = t
        .replace("input_sram_kib = 32", "input_sram_kib = 1")
        .replace("input_sram_banks = 4", "input_sram_banks = 64");
    assert_rejects(&t, "input_sram_kib", "too small");
    let t = with("cols", "64").replace("acc_sram_kib = 16", "acc_sram_kib = 1");
    let t = t.replace("acc_sram_banks = 2", "acc_sram_banks = 8");
    assert_rejects(&t, "acc_sram_kib", "int32 accumulators");
}

#[test]
fn rule_banks() {
    assert_rejects(
        &with("input_sram_banks", "3"),
        "input_sram_banks",
        "power of two",
    );
    assert_rejects(
        &with("acc_sram_banks", "0"),
        "acc_sram_banks",
        "power of two",
    );
}

#[test]
fn rule_bus() {
    assert_rejects(
        &with("bus_bytes_per_cycle", "6"),
        "bus_bytes_per_cycle",
        "power of two",
    );
    assert_rejects(
        &with("bus_bytes_per_cycle", "0"),
        "bus_bytes_per_cycle",
        "power of two",
    );
    assert_rejects(
        &with("bus_latency_cycles", "4000000"),
        "bus_latency_cycles",
        "maximum",
    );
}

#[test]
fn rule_clock() {
    assert_rejects(&with("clock_mhz", "0.0"), "clock_mhz", "between");
    assert_rejects(&with("clock_mhz", "-5.0"), "clock_mhz", "between");
    assert_rejects(&with("clock_mhz", "nan"), "clock_mhz", "between");
    // Issue 24: a subnormal clock validated and made every latency infinite.
    assert_rejects(&with("clock_mhz", "5e-324"), "clock_mhz", "1 kHz");
    assert_rejects(&with("clock_mhz", "0.0009"), "clock_mhz", "1 kHz");
    assert!(arch::AccelConfig::from_toml_str(&with("clock_mhz", "0.001"), "t.toml").is_ok());
}

#[test]
fn type_errors_name_the_field() {
    // Issue 24: "invalid type: string \"x\", expected u32 (line 6)" named no field.
    let e = arch::AccelConfig::from_toml_str(&with("rows", "\"x\""), "t.toml")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("field `rows`") && e.contains("expected u32"),
        "{e}"
    );
    let t = format!("{BASE}\n[energy]\nmac_pj = \"big\"\n");
    let e = arch::AccelConfig::from_toml_str(&t, "t.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("field `energy.mac_pj`"), "{e}");
}

#[test]
fn rule_name_has_no_control_characters() {
    // Issue 24: a newline in `name` broke the emitted Verilog header and report tables.
    for bad in ["\"a\\nb\"", "\"esc\\u001b[31m\"", "\"nul\\u0000\""] {
        let t = with("name", bad);
        assert_rejects(&t, "name", "control character");
    }
}

#[test]
fn rule_unknown_node() {
    assert_rejects(
        &with("tech_node_nm", "3"),
        "tech_node_nm",
        "unknown technology node",
    );
}

#[test]
fn rule_energy_and_area_values() {
    assert_rejects(
        &format!("{BASE}\n[energy]\nmac_pj = -1.0\n"),
        "energy.mac_pj",
        "non-negative",
    );
    assert_rejects(
        &format!("{BASE}\n[energy]\nmac_pj = 0.0\n"),
        "energy.mac_pj",
        "free",
    );
    assert_rejects(
        &format!("{BASE}\n[area]\npe_um2 = inf\n"),
        "area.pe_um2",
        "finite",
    );
}

#[test]
fn all_problems_are_reported_at_once() {
    let t = with("rows", "0").replace("clock_mhz = 200.0", "clock_mhz = 0.0");
    let found = issues(&t);
    assert!(found.iter().any(|(f, _)| f == "rows"));
    assert!(found.iter().any(|(f, _)| f == "clock_mhz"));
}

#[test]
fn parse_errors_name_the_field() {
    let unknown = format!("{BASE}\nrowz = 3\n");
    let err = AccelConfig::from_toml_str(&unknown, "bad.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad.toml") && err.contains("rowz"), "{err}");
    let err = AccelConfig::from_toml_str(&with("dataflow", "\"diagonal\""), "bad.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("diagonal") && err.contains("line"), "{err}");
    let missing = with("rows", "8").replace("cols = 8\n", "");
    let err = AccelConfig::from_toml_str(&missing, "bad.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("cols"), "{err}");
    let err = AccelConfig::from_toml_str(&with("rows", "-3"), "bad.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad.toml"), "{err}");
}

#[test]
fn missing_file_is_an_io_error_naming_the_path() {
    let err = AccelConfig::load(std::path::Path::new("/nonexistent/x.toml")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/x.toml"));
}

#[test]
fn a_device_or_huge_file_is_refused_without_reading_it_all() {
    let err = AccelConfig::load(std::path::Path::new("/dev/zero")).unwrap_err();
    assert!(err.to_string().contains("larger than"), "{err}");
}

#[test]
fn rule_dma_outstanding() {
    for bad in ["0", "17"] {
        assert_rejects(
            &format!("{BASE}\ndma_outstanding = {bad}\n"),
            "dma_outstanding",
            "between 1 and 16",
        );
    }
    for good in [1, 2, 16] {
        let c = AccelConfig::from_toml_str(&format!("{BASE}\ndma_outstanding = {good}\n"), "x")
            .unwrap();
        assert_eq!(c.dma_outstanding, good);
    }
    assert_rejects(&format!("{BASE}\nim2col = 1\n"), "<parse>", "invalid type");
}

#[test]
fn issue16_fields_default_off_and_are_not_serialized_when_off() {
    for name in ["edge-8x8", "tiny-4x4", "edge-16x16", "wide-4x16"] {
        let c = AccelConfig::preset(name).unwrap();
        assert!(!c.im2col, "{name}");
        assert_eq!(c.dma_outstanding, 1, "{name}");
        // The serialized forms (and so the hash) are those of before the fields existed.
        let json = serde_json::to_string(&c).unwrap();
        let toml = c.to_toml();
        for key in ["im2col", "dma_outstanding", "agu", "dma_slot"] {
            assert!(!json.contains(key), "{name}: {json}");
            assert!(!toml.contains(key), "{name}: {toml}");
        }
    }
    // With overrides of the old keys only, the new override keys stay out too.
    let text = format!("{BASE}\n[energy]\nmac_pj = 0.5\n[area]\npe_um2 = 100.0\n");
    let c = AccelConfig::from_toml_str(&text, "x.toml").unwrap();
    let json = serde_json::to_string(&c).unwrap();
    assert!(
        !json.contains("agu") && !json.contains("dma_slot"),
        "{json}"
    );
}

#[test]
fn edge_8x8_conv_is_edge_8x8_with_the_features() {
    let conv = AccelConfig::preset("edge-8x8-conv").unwrap();
    assert!(conv.im2col);
    assert_eq!(conv.dma_outstanding, 4);
    assert_eq!(conv.name, "edge-8x8-conv");
    let mut base = AccelConfig::preset("edge-8x8").unwrap();
    base.name = conv.name.clone();
    base.im2col = true;
    base.dma_outstanding = 4;
    assert_eq!(base, conv);
    let back = AccelConfig::from_toml_str(&conv.to_toml(), "back.toml").unwrap();
    assert_eq!(back, conv);
    assert_ne!(conv.hash(), AccelConfig::preset("edge-8x8").unwrap().hash());
    let readme = include_str!("../../configs/README.md");
    for (name, _) in arch::config::PRESETS {
        assert!(readme.contains(&format!("`{name}.toml`")), "{name}");
    }
}

#[test]
fn issue16_energy_and_area_overrides_apply_and_are_validated() {
    let text = format!(
        "{BASE}\nim2col = true\ndma_outstanding = 3\n[energy]\nagu_pj_per_piece = 2.0\n\
         dma_slot_pj_per_burst = 1.5\n[area]\nagu_um2 = 1000.0\ndma_slot_um2 = 10.0\n"
    );
    let c = AccelConfig::from_toml_str(&text, "x.toml").unwrap();
    assert_eq!(c.energy_table().agu_pj_per_piece, 2.0);
    assert_eq!(c.energy_table().dma_slot_pj_per_burst, 1.5);
    assert_eq!(c.area_table().agu_um2, 1000.0);
    assert_eq!(c.area_table().dma_slot_um2, 10.0);
    assert_eq!(c.feature_area_um2(), 1000.0 + 3.0 * 10.0);
    for (table, key) in [
        ("energy", "agu_pj_per_piece"),
        ("energy", "dma_slot_pj_per_burst"),
        ("area", "agu_um2"),
        ("area", "dma_slot_um2"),
    ] {
        assert_rejects(
            &format!("{BASE}\n[{table}]\n{key} = -1.0\n"),
            &format!("{table}.{key}"),
            "non-negative",
        );
    }
}
