//! `hdl::area`: yosys synthesis of small cores (1x1, 2x2, output-stationary), the
//! flip-flop count against the micro-architecture of `hdl/README.md`, the area estimate,
//! and the errors of the flow.

use arch::{AccelConfig, Dataflow};
use hdl::area::{estimate, synth_shape, SynthStats};

/// Flip-flops an output-stationary `r x c` core keeps after synthesis, from the blocks of
/// `hdl/src/core.rs`: per PE `a` (8), `b` (8) and `acc` (32) registers, minus the `a`
/// registers of the last column and the `b` registers of the last row (their outputs
/// are unused, yosys removes them); the triangular operand skews (8 bits per register,
/// `r(r-1)/2 + c(c-1)/2` registers); the `in_valid` delay line (`r + c - 2`); the 16-bit
/// drain counter; the PPU valid delay (3); per column one PPU lane with its three stage
/// registers `s1` (32), `s2` (32), `s3` (8) = 72 (`hdl/src/ppu.rs`).
fn expected_os_ffs(r: u64, c: u64) -> u64 {
    let tri = |n: u64| n * (n - 1) / 2;
    48 * r * c - 8 * r - 8 * c + 8 * (tri(r) + tri(c)) + (r + c - 2) + 16 + 3 + 72 * c
}

fn check(s: &SynthStats) {
    assert!(s.cells > 0, "{s:?}");
    assert_eq!(
        s.cell_types.values().sum::<u64>(),
        s.cells,
        "cell types add up to the cell count"
    );
    assert_eq!(
        s.unknown_cells, 0,
        "every cell type has an area: {:?}",
        s.cell_types
    );
    assert_eq!(
        s.flip_flops,
        expected_os_ffs(s.rows as u64, s.cols as u64),
        "{}x{} flip-flops; cell types {:?}",
        s.rows,
        s.cols,
        s.cell_types
    );
    assert!(s.um2_45nm > 0.0);
    // Every cell is at least an inverter and at most a sync-reset, enabled flip-flop.
    assert!(s.um2_45nm >= 0.532 * s.cells as f64 && s.um2_45nm <= 7.448 * s.cells as f64);
    assert!(
        s.transistors.unwrap_or(0) > s.cells,
        "stat -tech cmos: {:?}",
        s.transistors
    );
    // The PPU's 32x32 multiplier is on the longest path: dozens of gates, far fewer than
    // the cells.
    assert!(
        s.logic_depth > 20 && s.logic_depth < s.cells,
        "depth {}",
        s.logic_depth
    );
}

#[test]
fn small_cores_synthesize_with_the_expected_registers_and_growing_area() {
    assert_eq!(
        expected_os_ffs(8, 8),
        4001,
        "measured on a full 8x8 synthesis"
    );
    let work = tempfile::tempdir().expect("temporary folder");
    let one = synth_shape(1, 1, Dataflow::OutputStationary, work.path()).expect("1x1 synthesis");
    check(&one);
    assert!(!one.cached);
    let two = synth_shape(2, 2, Dataflow::OutputStationary, work.path()).expect("2x2 synthesis");
    check(&two);
    assert!(
        one.um2_45nm < two.um2_45nm && one.cells < two.cells,
        "area grows with the array: 1x1 {} um^2, 2x2 {} um^2",
        one.um2_45nm,
        two.um2_45nm
    );
    // The second call reads the cached result of the same Verilog.
    let again = synth_shape(1, 1, Dataflow::OutputStationary, work.path()).expect("cached");
    assert!(again.cached);
    assert_eq!(again.cells, one.cells);

    // The config-level estimate of a 2x2 core is that synthesis, scaled to its node.
    let mut cfg = AccelConfig::preset("tiny-4x4").expect("preset");
    cfg.rows = 2;
    cfg.cols = 2;
    let mut msgs = Vec::new();
    let r =
        estimate(&cfg, false, work.path(), &mut |m| msgs.push(m.to_string())).expect("estimate");
    assert_eq!(r.um2_45nm, two.um2_45nm);
    let f = arch::tables::area_factor(cfg.tech_node_nm);
    assert!((r.um2_node - two.um2_45nm * f).abs() < 1e-6);
    assert_eq!(msgs.len(), 1, "{msgs:?}");
}

#[test]
fn invalid_configs_are_rejected_before_synthesis() {
    let work = tempfile::tempdir().expect("temporary folder");
    let mut cfg = AccelConfig::preset("tiny-4x4").expect("preset");
    cfg.rows = 0;
    let err = estimate(&cfg, true, work.path(), &mut |_| {}).expect_err("rows = 0");
    let msg = err.to_string();
    assert!(
        msg.contains("rows = 0") && msg.contains("tiny-4x4"),
        "{msg}"
    );
    let err = synth_shape(3, 300, Dataflow::WeightStationary, work.path()).expect_err("cols = 300");
    assert!(err.to_string().contains("cols = 300"), "{err}");
    // Nothing was synthesized.
    assert_eq!(std::fs::read_dir(work.path()).unwrap().count(), 0);
}

/// Flip-flops of an input-stationary `r x c` core before yosys' fine optimization (the
/// register inventory of `hdl/src/core/is.rs` and `hdl/src/pe/is.rs`): per PE the
/// stationary `a` (8), `b` (8) and `psum` (32) registers, minus the `b` registers of the
/// last row (unused outputs) and, for one column, the `psum` registers (the collector
/// takes the adder); the triangular `b` skew; `max(c-2, 0)` int32 collector registers per
/// row; the mark and last delay lines (`2 (r + c - 2)`); the 16-bit slot counter; the
/// PPU valid delay (3) and lanes (72 per column).
fn is_ff_inventory(r: u64, c: u64) -> u64 {
    let pe = 48 * r * c - 8 * c - if c == 1 { 32 * r } else { 0 };
    pe + 8 * (c * (c - 1) / 2) + 32 * r * c.saturating_sub(2) + 2 * (r + c - 2) + 16 + 3 + 72 * c
}

#[test]
fn input_stationary_cores_synthesize_with_their_registers() {
    let work = tempfile::tempdir().expect("temporary folder");
    let one = synth_shape(1, 1, Dataflow::InputStationary, work.path()).expect("1x1 synthesis");
    assert_eq!(one.unknown_cells, 0, "{:?}", one.cell_types);
    assert_eq!(
        one.flip_flops,
        is_ff_inventory(1, 1),
        "{:?}",
        one.cell_types
    );
    let two = synth_shape(2, 2, Dataflow::InputStationary, work.path()).expect("2x2 synthesis");
    // yosys merges the sign-extension bits of partial sums that are known to fit 16 or
    // 17 bits (a product of two int8, the sum of two), at most the upper half of each.
    let inv = is_ff_inventory(2, 2);
    assert!(
        two.flip_flops <= inv && two.flip_flops + 16 * 4 >= inv,
        "2x2 IS flip-flops {} vs inventory {inv}",
        two.flip_flops
    );
    assert!(one.um2_45nm < two.um2_45nm && one.cells < two.cells);
}

/// The im2col address generator and the DMA tracking FIFO synthesize alone with their
/// register inventories: the AGU's state (`a_act` 1, row and column 16 + 16, `ic` 16,
/// `oy` 17, `ox` 12, `ky` and `kx` 4 + 4 = 86 flip-flops); the FIFO's `N` entries of
/// `DMA_TRACK_ENTRY_BITS` plus its read and write pointers and count (5 bits each;
/// yosys keeps 16 or 17 flip-flops of them at N = 2 and 4). `estimate`
/// reports them for a config with the features on, not for one without.
#[test]
fn agu_and_dma_track_synthesize_alone() {
    let work = tempfile::tempdir().expect("temporary folder");
    let agu = hdl::area::synth_agu(work.path()).expect("AGU synthesis");
    assert_eq!(agu.unknown_cells, 0, "{:?}", agu.cell_types);
    assert_eq!(agu.flip_flops, 86, "{:?}", agu.cell_types);
    assert!(agu.um2_45nm > 0.532 * agu.cells as f64, "{agu:?}");
    let entry = hdl::system::DMA_TRACK_ENTRY_BITS as u64;
    let mut per_slot = Vec::new();
    for n in [2u32, 4] {
        let t = hdl::area::synth_dma_track(n, work.path()).expect("FIFO synthesis");
        assert_eq!(t.unknown_cells, 0, "{:?}", t.cell_types);
        let ff = n as u64 * entry;
        assert!(
            t.flip_flops >= ff && t.flip_flops <= ff + 20,
            "N = {n}: {} flip-flops, {ff} in the entries",
            t.flip_flops
        );
        per_slot.push(t.um2_45nm / n as f64);
    }
    // The area per slot is about one entry of flip-flops (plus its share of the read
    // multiplexer), whatever N.
    for a in &per_slot {
        assert!(
            *a > entry as f64 * 4.522 && *a < entry as f64 * 12.0,
            "{per_slot:?}"
        );
    }

    let mut cfg = AccelConfig::preset("tiny-4x4").expect("preset");
    cfg.rows = 2;
    cfg.cols = 2;
    let off = estimate(&cfg, false, work.path(), &mut |_| {}).expect("estimate");
    assert!(off.agu.is_none() && off.dma_track.is_none());
    cfg.im2col = true;
    cfg.dma_outstanding = 4;
    let on = estimate(&cfg, false, work.path(), &mut |_| {}).expect("estimate");
    assert_eq!(on.agu.as_ref().map(|b| b.cells), Some(agu.cells));
    assert_eq!(
        on.dma_track.as_ref().map(|b| b.params.clone()),
        Some(vec![("N".to_string(), 4), ("W".to_string(), entry)])
    );
    assert_eq!(
        on.um2_45nm, off.um2_45nm,
        "the core's own figures are unchanged"
    );
    let j = on.to_json();
    assert!(j["agu"]["um2_45nm"].as_f64().unwrap_or(0.0) > 0.0, "{j}");
    assert!(
        j["dma_track"]["um2_45nm_per_slot"].as_f64().unwrap_or(0.0) > 0.0,
        "{j}"
    );
}

/// The vector unit synthesizes alone per feature (2 lanes here; `hdl area` uses `rows`),
/// with at least its state registers (per lane the 32-bit reduction and output
/// registers, plus the tap and position counters), and `estimate` reports it with the
/// config's lanes and modes for a config with any of the features, not without.
#[test]
fn vpu_synthesizes_alone_per_feature() {
    let work = tempfile::tempdir().expect("temporary folder");
    let lanes = 2u32;
    let mac = hdl::area::synth_vpu(lanes, (true, false, false), work.path()).expect("MAC");
    let pool = hdl::area::synth_vpu(lanes, (false, true, false), work.path()).expect("SUM/MAX");
    let both = hdl::area::synth_vpu(lanes, (true, true, false), work.path()).expect("both");
    for b in [&mac, &pool, &both] {
        assert_eq!(b.unknown_cells, 0, "{:?}", b.cell_types);
        assert!(
            b.flip_flops >= 64 * lanes as u64 + 64,
            "{} flip-flops: {:?}",
            b.flip_flops,
            b.params
        );
    }
    // The divider makes pooling the larger; both modes together need more than either.
    assert!(pool.um2_45nm > mac.um2_45nm, "{pool:?} vs {mac:?}");
    assert!(both.um2_45nm > pool.um2_45nm, "{both:?} vs {pool:?}");

    let mut cfg = AccelConfig::preset("tiny-4x4").expect("preset");
    cfg.rows = 2;
    cfg.cols = 2;
    let off = estimate(&cfg, false, work.path(), &mut |_| {}).expect("estimate");
    assert!(off.vpu.is_none());
    cfg.depthwise = true;
    let on = estimate(&cfg, false, work.path(), &mut |_| {}).expect("estimate");
    assert_eq!(on.vpu.as_ref().map(|b| b.cells), Some(mac.cells));
    assert_eq!(
        on.um2_45nm, off.um2_45nm,
        "the core's figures are unchanged"
    );
    let j = on.to_json();
    assert_eq!(j["vpu"]["lanes"], 2, "{j}");
    assert!(
        j["vpu"]["um2_45nm_per_lane"].as_f64().unwrap_or(0.0) > 0.0,
        "{j}"
    );
}
