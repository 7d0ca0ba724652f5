//! The issue-16 counters (`dma_bursts`, `im2col_pieces`), and the energy, area and
//! leakage of the im2col address generator and the DMA tracking slots: exactly the old
//! numbers with the features off, the documented terms with them on.

use arch::device::{Counters, EnergyBreakdown, COUNTER_NAMES, NUM_COUNTERS};
use arch::im2col::{self, Window};
use arch::isa::{self, ConvGeom, Load, LoadIm2col, LoadParams, Op, Scratchpad, Store};
use arch::AccelConfig;

fn geom() -> ConvGeom {
    ConvGeom {
        mem_addr: 64,
        in_h: 6,
        in_w: 6,
        in_c: 4,
        out_w: 6,
        kh: 3,
        kw: 3,
        sh: 1,
        sw: 1,
        dh: 1,
        dw: 1,
        pad_t: 1,
        pad_l: 1,
    }
}

fn tile() -> LoadIm2col {
    LoadIm2col {
        transpose: true,
        sp_line: 0,
        oy0: 0,
        ox0: 3,
        ky0: 0,
        kx0: 1,
        ic0: 2,
        nrows: 9,
        ncols: 30,
        pad_value: 5,
    }
}

#[test]
fn counter_registers_hold_twenty_counters() {
    assert_eq!(COUNTER_NAMES.len(), NUM_COUNTERS);
    assert_eq!(NUM_COUNTERS, 20);
    assert_eq!(COUNTER_NAMES[15], "dma_bursts");
    assert_eq!(COUNTER_NAMES[16], "im2col_pieces");
    assert_eq!(
        &COUNTER_NAMES[17..],
        &["vpu_busy_cycles", "vpu_reduce_ops", "vpu_add_ops"]
    );
    let a: [u64; NUM_COUNTERS] = std::array::from_fn(|i| 100 + i as u64);
    let c = Counters::from_array(a);
    assert_eq!(c.to_array(), a);
    assert_eq!((c.dma_bursts, c.im2col_pieces), (115, 116));
    assert_eq!(
        (c.vpu_busy_cycles, c.vpu_reduce_ops, c.vpu_add_ops),
        (117, 118, 119)
    );
    assert_eq!(c.commands, 114);
}

#[test]
fn add_command_counts_bursts_and_pieces() {
    let cfg = AccelConfig::preset("edge-8x8-conv").unwrap();
    let mut c = Counters::default();
    let load = Load {
        sp: Scratchpad::Weight,
        transpose: false,
        sp_line: 0,
        mem_addr: 0,
        mem_stride: 40,
        nrows: 7,
        ncols: 19,
    };
    c.add_command(&cfg, &Op::Load(load), None);
    assert_eq!((c.dma_bursts, c.bus_read_bytes), (7, 7 * 19));
    assert_eq!(c.weight_sp_write_bytes, 3 * 7 * 8);
    c.add_command(
        &cfg,
        &Op::LoadParams(LoadParams {
            mem_addr: 0,
            count: 5,
            zp_out: 0,
            act_min: -128,
            act_max: 127,
        }),
        None,
    );
    assert_eq!((c.dma_bursts, c.bus_read_bytes), (8, 133 + 60));
    c.add_command(
        &cfg,
        &Op::Store(Store {
            raw_int32: true,
            acc_line: 0,
            mem_addr: 0,
            mem_stride: 0,
            nrows: 3,
            ncols: 2,
        }),
        None,
    );
    assert_eq!((c.dma_bursts, c.bus_write_bytes), (11, 24));
    let before = c;
    // CONV_GEOM: only the command.
    c.add_command(&cfg, &Op::ConvGeom(geom()), None);
    let mut want = before;
    want.commands += 1;
    assert_eq!(c, want);
    // LOAD_IM2COL: bus bytes and bursts of its bus pieces, all its pieces, whole lines.
    let w = Window::of(&geom());
    let l = tile();
    let s = im2col::summary(&w, &l);
    assert!(s.bus_pieces > 0 && s.pieces > s.bus_pieces, "{s:?}");
    let before = c;
    c.add_command(&cfg, &Op::LoadIm2col(l), Some(&w));
    assert_eq!(c.commands, before.commands + 1);
    assert_eq!(c.bus_read_bytes, before.bus_read_bytes + s.bus_bytes);
    assert_eq!(c.dma_bursts, before.dma_bursts + s.bus_pieces);
    assert_eq!(c.im2col_pieces, s.pieces);
    // Transposed 9 x 30: ceil(9/8) * 30 = 60 lines of 8 bytes.
    assert_eq!(isa::im2col_lines(&l, 8), 60);
    assert_eq!(c.input_sp_write_bytes, before.input_sp_write_bytes + 60 * 8);
    assert_eq!(s.bus_bytes + s.pad_bytes, 9 * 30);
}

fn fixed_counters() -> Counters {
    let a: [u64; NUM_COUNTERS] = [
        123_457, 98_765, 1_234, 45_678, 5_000_003, 77_777, 33_333, 1_111_111, 222_222, 333_331,
        44_444, 555_557, 666_661, 17, 4_321, 2_345, 0, 0, 0, 0,
    ];
    Counters::from_array(a)
}

/// With the issue-16/17 features off their parts are 0 and the total is the sum of the
/// parts; area and leakage are the base terms plus the SRAM model's scratchpads. (Before
/// issue 19 this test held the old numbers bit for bit; issue 19 replaced the SRAM rule
/// and added the clock, PPU, controller, DMA and main-memory parts.)
#[test]
fn features_off_add_nothing_and_parts_add_up() {
    let c = fixed_counters();
    for name in ["edge-8x8", "tiny-4x4", "edge-16x16", "wide-4x16"] {
        for df in [
            arch::Dataflow::OutputStationary,
            arch::Dataflow::WeightStationary,
            arch::Dataflow::InputStationary,
        ] {
            let mut cfg = AccelConfig::preset(name).unwrap();
            cfg.dataflow = df;
            let got = EnergyBreakdown::from_counters(&cfg, &c);
            assert_eq!((got.agu_pj, got.dma_track_pj, got.vpu_pj), (0.0, 0.0, 0.0));
            let sum: f64 = got.parts().iter().map(|(_, v)| v).sum();
            assert!((got.total_pj - sum).abs() <= 1e-9 * sum, "{name} {df}");
            let e = cfg.energy_table();
            let a = cfg.area_table();
            let leak =
                e.leakage_uw_per_pe * cfg.peak_macs_per_cycle() as f64 + cfg.sram_leakage_uw();
            assert!((cfg.leakage_uw() - leak).abs() < 1e-9, "{name}");
            let logic = a.pe_um2 * cfg.peak_macs_per_cycle() as f64
                + a.ppu_um2_per_col * cfg.cols as f64
                + a.control_um2;
            let area = (logic + cfg.sram_area_um2()) / 1e6;
            assert!((cfg.area_mm2() - area).abs() < 1e-12, "{name}");
            assert_eq!(cfg.feature_area_um2(), 0.0);
        }
    }
}

#[test]
fn features_on_add_their_terms() {
    let mut c = fixed_counters();
    c.im2col_pieces = 999;
    let off = AccelConfig::preset("edge-8x8").unwrap();
    let on = AccelConfig::preset("edge-8x8-conv").unwrap();
    let e = on.energy_table();
    let a = on.area_table();
    // 22 nm: energy x (22/45)(0.8/0.9)^2, area x (22/45)^2.
    let ef = (22.0 / 45.0) * (0.8f64 / 0.9).powi(2);
    let af = (22.0f64 / 45.0).powi(2);
    assert!((e.agu_pj_per_piece - 0.5 * ef).abs() < 1e-12);
    assert!((e.dma_slot_pj_per_burst - 0.4 * ef).abs() < 1e-12);
    assert!((a.agu_um2 - 9_308.0 * af).abs() < 1e-9);
    assert!((a.dma_slot_um2 - 751.0 * af).abs() < 1e-9);
    let b_off = EnergyBreakdown::from_counters(&off, &c);
    let b_on = EnergyBreakdown::from_counters(&on, &c);
    assert_eq!(b_on.agu_pj, 999.0 * e.agu_pj_per_piece);
    assert_eq!(b_on.dma_track_pj, 2_345.0 * e.dma_slot_pj_per_burst);
    // Off: the AGU term is still charged per counted piece (a config without the unit
    // cannot count any), the tracking term is not (dma_outstanding = 1).
    assert_eq!(b_off.dma_track_pj, 0.0);
    let feature = a.agu_um2 + 4.0 * a.dma_slot_um2;
    assert!((on.feature_area_um2() - feature).abs() < 1e-9);
    assert!((on.area_mm2() - off.area_mm2() - feature / 1e6).abs() < 1e-12);
    let extra_leak = feature * e.leakage_uw_per_pe / a.pe_um2;
    assert!((on.leakage_uw() - off.leakage_uw() - extra_leak).abs() < 1e-9);
    assert!(b_on.leakage_pj > b_off.leakage_pj);
    let sum: f64 = b_on.parts().iter().map(|(_, v)| v).sum();
    assert!((b_on.total_pj - sum).abs() < 1e-6 * sum);
    // Only the tracking slots (im2col off, N = 2).
    let mut slots = off.clone();
    slots.dma_outstanding = 2;
    assert!((slots.feature_area_um2() - 2.0 * a.dma_slot_um2).abs() < 1e-9);
}

#[test]
fn vector_unit_adds_its_terms_and_counts_by_mode() {
    use arch::isa::{VCompute, VMode, VSet};
    let off = AccelConfig::preset("edge-8x8-conv").unwrap();
    let on = AccelConfig::preset("edge-8x8-tinyml").unwrap();
    assert!(on.has_vpu() && !off.has_vpu());
    let a = on.area_table();
    let lane = a.vpu_mac_lane_um2 + a.vpu_pool_lane_um2 + a.vpu_add_lane_um2;
    assert!((on.vpu_area_um2() - 8.0 * lane).abs() < 1e-9);
    assert!((on.area_mm2() - off.area_mm2() - 8.0 * lane / 1e6).abs() < 1e-12);
    assert!(on.leakage_uw() > off.leakage_uw());
    // Each feature alone adds its own lane area.
    for (field, want) in [
        ("depthwise", a.vpu_mac_lane_um2),
        ("pooling", a.vpu_pool_lane_um2),
        ("eltwise", a.vpu_add_lane_um2),
    ] {
        let mut cfg = off.clone();
        match field {
            "depthwise" => cfg.depthwise = true,
            "pooling" => cfg.pooling = true,
            _ => cfg.eltwise = true,
        }
        assert!((cfg.vpu_area_um2() - 8.0 * want).abs() < 1e-9, "{field}");
    }
    // Counts per mode: m = 3 positions, k = 9 taps, n = 5 lanes.
    let v = VCompute {
        accumulate: true,
        a_line: 0,
        b_line: 0,
        c_line: 0,
        m: 3,
        k: 9,
        n: 5,
    };
    let count = |mode: VMode, v: VCompute| {
        let mut c = Counters::default();
        let set = VSet {
            mode,
            ..VSet::default()
        };
        c.add_command_regs(&on, &Op::VCompute(v), None, Some(&set));
        c
    };
    let mac = count(VMode::Mac, v);
    assert_eq!(mac.macs, 3 * 9 * 5);
    assert_eq!(mac.input_sp_read_bytes, 3 * 9 * 8);
    assert_eq!(mac.weight_sp_read_bytes, 3 * 9 * 8);
    assert_eq!(mac.acc_sp_write_bytes, 3 * 32);
    assert_eq!(mac.acc_sp_read_bytes, 3 * 32);
    let sum = count(
        VMode::Sum,
        VCompute {
            accumulate: false,
            ..v
        },
    );
    assert_eq!((sum.macs, sum.vpu_reduce_ops), (0, 3 * 9 * 5));
    assert_eq!((sum.weight_sp_read_bytes, sum.acc_sp_read_bytes), (0, 0));
    let add = count(VMode::Add, VCompute { k: 1, ..v });
    assert_eq!(add.vpu_add_ops, 3 * 5);
    assert_eq!(add.weight_sp_read_bytes, 3 * 8);
    // Energy: reduce and add operations at their table entries; MACs at mac_pj.
    let mut c = fixed_counters();
    c.vpu_reduce_ops = 1000;
    c.vpu_add_ops = 10;
    let e = on.energy_table();
    let b = EnergyBreakdown::from_counters(&on, &c);
    let want = 1000.0 * e.vpu_reduce_pj_per_op + 10.0 * e.vpu_add_pj_per_op;
    assert!((b.vpu_pj - want).abs() < 1e-9);
    let parts: f64 = b.parts().iter().map(|(_, v)| v).sum();
    assert!((b.total_pj - parts).abs() < 1e-6 * parts);
}
