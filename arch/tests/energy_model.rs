//! Issue 19: the SRAM model's fit error on its CACTI points, and every energy part moving
//! when its cause moves (banks, idle cycles, clock gating, off-chip memory, commands,
//! bursts, outputs).

use arch::device::{energy_ceiling_pj, energy_floor_pj, Counters, EnergyBreakdown, FlipFlops};
use arch::sram::{self, SramMacro, CACTI_22NM, CACTI_45NM};
use arch::AccelConfig;

fn counters() -> Counters {
    Counters {
        cycles: 100_000,
        array_busy_cycles: 60_000,
        dma_stall_cycles: 1_000,
        dma_busy_cycles: 50_000,
        macs: 3_000_000,
        bus_read_bytes: 200_000,
        bus_write_bytes: 20_000,
        input_sp_read_bytes: 400_000,
        input_sp_write_bytes: 150_000,
        weight_sp_read_bytes: 400_000,
        weight_sp_write_bytes: 50_000,
        acc_sp_read_bytes: 80_000,
        acc_sp_write_bytes: 80_000,
        commands: 2_000,
        dma_bursts: 10_000,
        ..Default::default()
    }
}

fn energy(cfg: &AccelConfig, c: &Counters) -> EnergyBreakdown {
    EnergyBreakdown::from_counters(cfg, c)
}

/// The fit error on the CACTI points (reported in docs/energy.md): read and write
/// energy within 60 % on every point and 20 % on average, area within 40 % / 15 %,
/// leakage within 45 % / 20 %; the model grows with capacity, width, banks and ports.
#[test]
fn sram_fit_error_on_the_cacti_points() {
    let [read, write, area, leak] = sram::fit_errors();
    println!(
        "fit error on {} CACTI points (mean / max): read {:.1} / {:.1} %, write {:.1} / {:.1} %, area {:.1} / {:.1} %, leakage {:.1} / {:.1} %",
        CACTI_45NM.len(),
        read.0 * 100.0,
        read.1 * 100.0,
        write.0 * 100.0,
        write.1 * 100.0,
        area.0 * 100.0,
        area.1 * 100.0,
        leak.0 * 100.0,
        leak.1 * 100.0
    );
    for p in CACTI_45NM {
        let (r, w, a) = sram::point_error(p);
        println!(
            "{:>6} KiB {:>3} B {} bank(s) {} port(s): read {:+.1} %, write {:+.1} %, area {:+.1} %",
            p.kib,
            p.width_bytes,
            p.banks,
            p.ports,
            r * 100.0,
            w * 100.0,
            a * 100.0
        );
    }
    assert!(read.0 < 0.20 && read.1 < 0.60, "read {read:?}");
    assert!(write.0 < 0.20 && write.1 < 0.60, "write {write:?}");
    assert!(area.0 < 0.15 && area.1 < 0.40, "area {area:?}");
    assert!(leak.0 < 0.20 && leak.1 < 0.45, "leakage {leak:?}");
    let m = |kib: f64, width_bytes: u32, banks: u32, ports: u32| SramMacro {
        kib,
        width_bytes,
        banks,
        ports,
    };
    assert!(sram::read_pj(&m(64.0, 8, 1, 1)) > sram::read_pj(&m(8.0, 8, 1, 1)));
    assert!(sram::read_pj(&m(32.0, 32, 1, 1)) > sram::read_pj(&m(32.0, 8, 1, 1)));
    assert!(sram::read_pj(&m(32.0, 8, 1, 2)) > sram::read_pj(&m(32.0, 8, 1, 1)));
    assert!(sram::area_um2(&m(32.0, 8, 4, 1)) > sram::area_um2(&m(32.0, 8, 1, 1)));
    // Node scaling against CACTI's own 22 nm runs: printed for docs/energy.md.
    let f = arch::tables::energy_factor(22);
    for p in CACTI_22NM {
        println!(
            "22 nm {:>4} KiB {:>2} B: CACTI read {:.2} pJ, model x energy_factor {:.2} pJ",
            p.kib,
            p.width_bytes,
            p.read_pj,
            sram::read_pj(&p.sram()) * f
        );
    }
}

/// More banks: more periphery leakage and area, and the bank-select tree costs energy
/// per byte.
#[test]
fn banks_move_sram_energy_leakage_and_area() {
    let c = counters();
    let one = AccelConfig::preset("edge-8x8").unwrap();
    let mut many = one.clone();
    many.input_sram_banks = 16;
    many.weight_sram_banks = 16;
    many.acc_sram_banks = 8;
    let (a, b) = (energy(&one, &c), energy(&many, &c));
    assert!(b.input_sram_pj > a.input_sram_pj);
    assert!(b.weight_sram_pj > a.weight_sram_pj);
    assert!(many.sram_leakage_uw() > one.sram_leakage_uw());
    assert!(many.sram_area_um2() > one.sram_area_um2());
    assert!(b.leakage_pj > a.leakage_pj);
}

/// Idle cycles cost clock energy; clock gating makes them cheaper; working cycles cost
/// the same either way.
#[test]
fn idle_cycles_and_clock_gating_move_the_clock_part() {
    let c = counters();
    let gated = AccelConfig::preset("edge-8x8").unwrap();
    assert!(gated.clock_gating, "the default is clock gating on");
    let mut free = gated.clone();
    free.clock_gating = false;
    let mut idle = c;
    idle.cycles += 50_000;
    let (g, f) = (energy(&gated, &c), energy(&free, &c));
    assert!(f.clock_pj > g.clock_pj);
    assert!(energy(&gated, &idle).clock_pj > g.clock_pj);
    assert!(
        energy(&free, &idle).clock_pj - f.clock_pj > energy(&gated, &idle).clock_pj - g.clock_pj
    );
    // Everything busy every cycle: gating changes nothing.
    let mut busy = c;
    busy.array_busy_cycles = c.cycles;
    busy.dma_busy_cycles = c.cycles;
    busy.bus_write_bytes = c.cycles * gated.cols as u64;
    let ff = FlipFlops::of(&gated);
    assert!(ff.vpu == 0.0 && ff.array > 0.0);
    assert!((energy(&gated, &busy).clock_pj - energy(&free, &busy).clock_pj).abs() < 1e-6);
    // The accelerator idle while the CPU works.
    assert!(
        arch::device::idle_clock_pj(&free, 1000.0) > arch::device::idle_clock_pj(&gated, 1000.0)
    );
}

/// Off-chip memory: LPDDR4 and QSPI flash cost more per byte than the on-chip SRAM; a
/// bigger system SRAM costs more per byte.
#[test]
fn main_memory_moves_with_its_kind_and_size() {
    use arch::config::MainMemory;
    let c = counters();
    let sram = AccelConfig::preset("edge-8x8").unwrap();
    let base = energy(&sram, &c);
    for kind in [MainMemory::Lpddr4, MainMemory::QspiFlash] {
        let mut cfg = sram.clone();
        cfg.main_memory = kind;
        let e = energy(&cfg, &c);
        assert!(e.main_memory_pj > 2.0 * base.main_memory_pj, "{kind:?}");
        assert_eq!(e.mac_pj, base.mac_pj);
    }
    let mut big = sram.clone();
    big.main_memory_kib = 2048;
    assert!(energy(&big, &c).main_memory_pj > base.main_memory_pj);
    // The override wins over the model.
    let over = AccelConfig::from_toml_str(
        "base = \"edge-8x8\"\nmain_memory = \"lpddr4\"\n[energy]\nlpddr4_pj_per_byte = 100.0\n",
        "x.toml",
    )
    .unwrap();
    let e = energy(&over, &c);
    assert!((e.main_memory_pj - 100.0 * c.bus_bytes() as f64).abs() < 1e-6);
}

/// More commands, bursts, outputs: the controller, DMA and PPU parts grow.
#[test]
fn commands_bursts_and_outputs_move_their_parts() {
    let cfg = AccelConfig::preset("edge-8x8").unwrap();
    let c = counters();
    let base = energy(&cfg, &c);
    let mut more = c;
    more.commands *= 2;
    more.dma_bursts *= 2;
    more.bus_write_bytes *= 2;
    let e = energy(&cfg, &more);
    assert!((e.control_pj - 2.0 * base.control_pj).abs() < 1e-6 * e.control_pj);
    assert!((e.dma_pj - 2.0 * base.dma_pj).abs() < 1e-6 * e.dma_pj);
    assert!(e.ppu_pj > base.ppu_pj);
    // 16 bytes per command over the bus from main memory, plus the decode.
    let t = cfg.energy_table();
    let per = 16.0 * (t.bus_pj_per_byte + t.main_memory_pj_per_byte) + t.decode_pj_per_command;
    assert!((base.control_pj - c.commands as f64 * per).abs() < 1e-6 * base.control_pj);
}

/// The bounds bracket the breakdown, and fail when they should: the floor of
/// a hundred times the counted MACs and ten times the bus reads is above the run's energy.
#[test]
fn floor_and_ceiling_bracket_the_breakdown() {
    for preset in ["edge-8x8", "edge-8x8-tinyml", "tiny-4x4", "edge-16x16"] {
        let cfg = AccelConfig::preset(preset).unwrap();
        let c = counters();
        let e = energy(&cfg, &c);
        let lo = energy_floor_pj(&cfg, c.macs, c.bus_read_bytes, c.bus_write_bytes);
        let hi = energy_ceiling_pj(&cfg, &c);
        assert!(
            lo <= e.total_pj && e.total_pj <= hi,
            "{preset}: {lo} {} {hi}",
            e.total_pj
        );
        assert!(
            energy_floor_pj(&cfg, 100 * c.macs, 10 * c.bus_read_bytes, c.bus_write_bytes)
                > e.total_pj
        );
    }
}
