//! The core's RTL alone in Verilator (no simulator): generated tiles on small arrays in
//! both dataflows give exactly the rows, PPU bytes, core cycles and PPU latency that
//! `hdl::cases::expected` derives from `arch::quant` and `arch::timing`; a corrupted
//! expectation is caught; a missing tool names its install command. Needs `verilator`
//! (`make deps`). The comparison with the simulator's core model is in
//! `cosim/tests/core_verilator.rs`.

use arch::{AccelConfig, Dataflow};
use hdl::cases;
use hdl::verilator;

fn config(rows: u32, cols: u32, df: Dataflow) -> AccelConfig {
    let mut cfg = AccelConfig::preset("tiny-4x4").expect("preset");
    cfg.name = format!("test-{rows}x{cols}");
    cfg.rows = rows;
    cfg.cols = cols;
    cfg.dataflow = df;
    cfg.validate().expect("valid test config");
    cfg
}

#[test]
fn rtl_tiles_match_the_arch_reference() {
    for (rows, cols) in [(2, 2), (3, 5)] {
        for df in [Dataflow::OutputStationary, Dataflow::WeightStationary] {
            let cfg = config(rows, cols, df);
            let tiles = cases::generate(&cfg, 30, 23);
            let build = verilator::build(&cfg).expect("verilator build (make deps)");
            let work = tempfile::tempdir().expect("temporary folder");
            let out = verilator::run(&cfg, &build, &tiles, work.path()).expect("verilator run");
            assert_eq!(out.tiles.len(), tiles.len());
            assert!(out.cycles > 0);
            for (i, t) in tiles.iter().enumerate() {
                let exp = cases::expected(&cfg, t);
                let v = verilator::compare(&out.tiles[i], &exp);
                assert!(
                    v.bit_exact && v.cycle_exact,
                    "{rows}x{cols} {df} tile {i} ({}x{}x{}): {v:?}",
                    t.m,
                    t.k,
                    t.n
                );
                // Not vacuous: one wrong int32 value or one cycle more is a mismatch.
                let mut bad = exp.clone();
                bad.acc_rows[0][0] = bad.acc_rows[0][0].wrapping_add(1);
                assert!(!verilator::compare(&out.tiles[i], &bad).bit_exact);
                let mut slow = exp.clone();
                slow.core_cycles += 1;
                assert!(!verilator::compare(&out.tiles[i], &slow).cycle_exact);
            }
        }
    }
}

#[test]
fn missing_tool_error_names_the_install_command() {
    let e = verilator::require_tool("verilator-not-installed-here").unwrap_err();
    assert!(
        e.to_string().contains("apt-get install -y verilator yosys"),
        "{e}"
    );
}
