//! The core's RTL against the simulator, in Verilator: every tile bit- and cycle-exact on
//! 2x2, 4x4, 8x8 and 3x5 arrays in both dataflows (RTL, simulator core model and
//! reference agree); the checker is not vacuous. Needs `verilator` (`make deps`); fails
//! with the install command if it is missing. (RTL-only checks: `hdl/tests/`; the CLI:
//! `tests/hdl_cli.rs` of the root package.)
//!
//! Builds are cached per config hash (`$XDG_CACHE_HOME/tinyaccel/verilator`), so only the
//! first run pays the ~10-20 s Verilator build of each array.

use arch::{AccelConfig, Dataflow};
use cosim::core_verify::{self as verify, SimTile};
use hdl::cases::{self, Expected};
use std::path::PathBuf;

fn config(rows: u32, cols: u32, df: Dataflow) -> AccelConfig {
    let mut cfg = AccelConfig::preset("tiny-4x4").expect("preset");
    cfg.name = format!("test-{rows}x{cols}");
    cfg.rows = rows;
    cfg.cols = cols;
    cfg.dataflow = df;
    cfg.validate().expect("valid test config");
    cfg
}

fn work_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tinyaccel-hdl-test-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn check_array(rows: u32, cols: u32, cases: usize) {
    for df in [Dataflow::OutputStationary, Dataflow::WeightStationary] {
        let cfg = config(rows, cols, df);
        let dir = work_dir(&format!("{rows}x{cols}-{}", df.as_str()));
        let r = verify::verify_dataflow(&cfg, cases, 11, &dir, &mut |_| {})
            .unwrap_or_else(|e| panic!("{rows}x{cols} {df}: {e}"));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(r.cases, cases);
        assert!(
            r.bit_exact == cases && r.cycle_exact == cases && r.sim_agrees == cases,
            "{rows}x{cols} {df}: {} bit-exact, {} cycle-exact, simulator agrees on {} of {cases}: {:#?}",
            r.bit_exact,
            r.cycle_exact,
            r.sim_agrees,
            r.failures
        );
    }
}

#[test]
fn array_2x2_both_dataflows() {
    check_array(2, 2, 60);
}

#[test]
fn array_4x4_both_dataflows() {
    check_array(4, 4, 60);
}

#[test]
fn array_8x8_both_dataflows() {
    check_array(8, 8, 40);
}

#[test]
fn array_3x5_non_square_both_dataflows() {
    check_array(3, 5, 60);
}

/// Input-stationary: every generated tile (m < rows, k < cols, n < cols, n > cols and not
/// a multiple of it, n = 256, padding slots when rows > cols) bit- and cycle-exact in
/// Verilator against the simulator's register-level IS array and the `arch::quant` /
/// `arch::timing` reference.
fn check_is_array(rows: u32, cols: u32, cases: usize) {
    let mut cfg = config(rows, cols, Dataflow::InputStationary);
    // Room for n = 256: 256/cols blocks of `rows` accumulator lines.
    cfg.acc_sram_kib = 32;
    cfg.validate().expect("valid test config");
    let tiles = cases::generate(&cfg, cases, 11);
    assert!(
        tiles.iter().any(|t| t.n == 256),
        "{rows}x{cols}: no n = 256 tile"
    );
    let dir = work_dir(&format!("{rows}x{cols}-is"));
    let r = verify::verify_dataflow(&cfg, cases, 11, &dir, &mut |_| {})
        .unwrap_or_else(|e| panic!("{rows}x{cols} is: {e}"));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(r.cases, cases);
    assert!(
        r.bit_exact == cases && r.cycle_exact == cases && r.sim_agrees == cases,
        "{rows}x{cols} is: {} bit-exact, {} cycle-exact, simulator agrees on {} of {cases}: {:#?}",
        r.bit_exact,
        r.cycle_exact,
        r.sim_agrees,
        r.failures
    );
}

#[test]
fn input_stationary_arrays_match_the_reference() {
    check_is_array(8, 8, 120);
    check_is_array(3, 5, 100);
    check_is_array(5, 3, 100);
    check_is_array(1, 1, 40);
}

/// The comparison must fail on any corrupted value: int32 row, PPU byte, cycle count,
/// PPU latency, or a simulator disagreeing.
#[test]
fn corrupted_expectations_are_caught() {
    let cfg = config(4, 4, Dataflow::OutputStationary);
    let tiles = cases::generate(&cfg, 6, 5);
    let build = hdl::verilator::build(&cfg).expect("verilator build");
    let dir = work_dir("corrupt");
    let out = hdl::verilator::run(&cfg, &build, &tiles, &dir).expect("verilator run");
    let _ = std::fs::remove_dir_all(&dir);
    for (i, t) in tiles.iter().enumerate() {
        let exp = cases::expected(&cfg, t);
        let sim = verify::sim_tile(&cfg, t).expect("sim");
        let obs = &out.tiles[i];
        let (v, why) = verify::judge(obs, &exp, &sim, t);
        assert!(v.bit_exact && v.cycle_exact, "tile {i}: {why:?}");
        let bad: Vec<(&str, Expected)> = vec![
            ("acc", {
                let mut e = exp.clone();
                e.acc_rows[1][2] = e.acc_rows[1][2].wrapping_add(1);
                e
            }),
            ("q", {
                let mut e = exp.clone();
                e.q_rows[3][0] = e.q_rows[3][0].wrapping_add(1);
                e
            }),
            ("cycles", {
                let mut e = exp.clone();
                e.core_cycles += 1;
                e
            }),
            ("ppu", {
                let mut e = exp.clone();
                e.ppu_latency -= 1;
                e
            }),
        ];
        for (what, e) in bad {
            let (v, why) = verify::judge(obs, &e, &sim, t);
            let caught = match what {
                "acc" | "q" => !v.bit_exact,
                _ => !v.cycle_exact,
            };
            assert!(
                caught && !why.is_empty(),
                "tile {i}: corrupted {what} not caught"
            );
        }
        let mut s2: SimTile = sim.clone();
        s2.acc_rows[0][0] ^= 1 << 20;
        assert!(!verify::judge(obs, &exp, &s2, t).0.bit_exact);
        let mut s3 = sim.clone();
        s3.compute_cycles -= 1;
        assert!(!verify::judge(obs, &exp, &s3, t).0.cycle_exact);
    }
}
