//! The offloaded memory footprint and the command-stream policies (issue 26): the driver's
//! parts come from a real load (they match a run on the simulator), command streams in
//! flash move exactly their bytes from SRAM to flash, Generate keeps one layer's streams
//! in SRAM and charges CPU time per command, and a model that does not fit is flagged.

use arch::isa::COMMAND_BYTES;
use arch::AccelConfig;
use driver::delegate::{
    self, apply_cmd_streams, CmdStreams, Decision, Placement, Policy, GENERATE_CYCLES_PER_COMMAND,
    GENERATE_DESCRIPTOR_BYTES,
};
use runtime::cost::CpuProfile;
use runtime::footprint;
use runtime::{Interpreter, PreparedOp};
use sim::{Fidelity, SimDevice};

fn cpu() -> CpuProfile {
    CpuProfile::resolve("cortex-m4f").unwrap()
}

fn decisions(it: &Interpreter, cfg: &AccelConfig, policy: Policy) -> Vec<Decision> {
    let g = it.graph();
    let prepared: Vec<&PreparedOp> = (0..g.ops.len()).map(|i| it.prepared(i).unwrap()).collect();
    delegate::plan(g, &prepared, cfg, &cpu(), policy)
}

fn input_for(it: &Interpreter) -> Vec<u8> {
    (0..it.input_len())
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(7))
        .collect()
}

#[test]
fn driver_memory_is_what_a_real_load_writes() {
    for (model, config) in [
        ("kws", "edge-8x8"),
        ("ic", "edge-8x8-conv"),
        ("ad", "tiny-4x4"),
    ] {
        let g = models::builtin(model).unwrap();
        let mut it = Interpreter::new(&g).unwrap();
        let cfg = AccelConfig::preset(config).unwrap();
        let mut dev = SimDevice::new(&cfg, Fidelity::Functional, sim::device::DEFAULT_MEM_BYTES);
        let input = input_for(&it);
        let run = delegate::run_model(&mut it, &mut dev, &cpu(), Policy::All, &input).unwrap();
        let mem = delegate::driver_memory(&it, &cfg, &cpu(), &run.decisions).unwrap();
        // Streams: the per-layer bytes are the load's command bytes, and the commands the
        // device executed (each stream runs once, FINISH included).
        let stream_bytes: u64 = mem.layers.iter().map(|l| l.bytes).sum();
        assert_eq!(stream_bytes, run.load.command_bytes, "{model}");
        for l in &mem.layers {
            let executed = run.layers[l.index].device_counters.commands;
            assert_eq!(l.commands, executed, "{model} layer {}", l.index);
            assert_eq!(l.bytes, l.commands * COMMAND_BYTES as u64);
        }
        // Regions: laid out back to back, their sum is the device memory the load used;
        // the weight region holds every packed byte.
        assert_eq!(
            mem.weights + mem.a_buffer + mem.c_buffer + mem.commands,
            run.load.device_mem_bytes,
            "{model}"
        );
        assert!(mem.weights >= run.load.packed_bytes);
        assert!(mem.commands >= stream_bytes);
        assert!(mem.a_buffer > 0 && mem.c_buffer > 0);
        // The offloaded layers are the accelerator decisions.
        let accel: Vec<usize> = run
            .decisions
            .iter()
            .filter(|d| d.placement == Placement::Accel)
            .map(|d| d.index)
            .collect();
        let layers: Vec<usize> = mem.layers.iter().map(|l| l.index).collect();
        assert_eq!(layers, accel);
    }
}

#[test]
fn offloaded_parts_add_up_over_the_cpu_side() {
    let cpu = cpu();
    let it = Interpreter::new(&models::builtin("kws").unwrap()).unwrap();
    let cfg = AccelConfig::preset("edge-8x8").unwrap();
    let d = decisions(&it, &cfg, Policy::All);
    let mem = delegate::driver_memory(&it, &cfg, &cpu, &d).unwrap();
    let f = delegate::footprint(&it, &cfg, &cpu, &d, CmdStreams::Sram, None).unwrap();
    assert_eq!(f.sram_total(), f.sram.iter().map(|(_, b)| b).sum::<u64>());
    assert_eq!(f.flash_total(), f.flash.iter().map(|(_, b)| b).sum::<u64>());
    let cpu_only = footprint::cpu_only(&it, &cpu, None).unwrap();
    assert_eq!(f.sram_part("arena"), cpu_only.sram_part("arena"));
    assert_eq!(f.sram_part("packed weights (driver copy)"), mem.weights);
    assert_eq!(f.sram_part("command streams"), mem.commands);
    assert_eq!(f.sram_part("accel A buffer (im2col / input)"), mem.a_buffer);
    assert_eq!(f.sram_part("accel C buffer (output)"), mem.c_buffer);
    assert_eq!(f.flash_part("driver code"), delegate::DRIVER_CODE_BYTES);
    // Offloaded layers' CPU kernels are not linked: conv / depthwise / FC code is gone,
    // the CPU scratch too (every conv is offloaded).
    assert!(f.flash.iter().all(|(n, _)| !n.starts_with("kernel conv")));
    assert!(f
        .flash
        .iter()
        .all(|(n, _)| !n.starts_with("kernel depthwise")));
    assert!(f.flash.iter().any(|(n, _)| n.starts_with("kernel softmax")));
    // With nothing offloaded the footprint is the CPU-only one exactly.
    let none = decisions(&it, &cfg, Policy::None);
    for s in [CmdStreams::Sram, CmdStreams::Flash, CmdStreams::Generate] {
        let f = delegate::footprint(&it, &cfg, &cpu, &none, s, None).unwrap();
        assert_eq!(f, cpu_only, "{s}");
    }
}

#[test]
fn command_streams_in_flash_move_their_bytes_from_sram_to_flash() {
    let cpu = cpu();
    for (model, config) in [
        ("kws", "edge-8x8"),
        ("vww", "tiny-4x4"),
        ("ic", "edge-16x16"),
    ] {
        let it = Interpreter::new(&models::builtin(model).unwrap()).unwrap();
        let cfg = AccelConfig::preset(config).unwrap();
        let d = decisions(&it, &cfg, Policy::All);
        let mem = delegate::driver_memory(&it, &cfg, &cpu, &d).unwrap();
        let sram = delegate::footprint_from(&it, &cpu, &d, &mem, CmdStreams::Sram, None).unwrap();
        let flash = delegate::footprint_from(&it, &cpu, &d, &mem, CmdStreams::Flash, None).unwrap();
        assert!(mem.commands > 0);
        assert_eq!(
            sram.sram_total() - flash.sram_total(),
            mem.commands,
            "{model}"
        );
        assert_eq!(
            flash.flash_total() - sram.flash_total(),
            mem.commands,
            "{model}"
        );
        assert_eq!(flash.flash_part("command streams"), mem.commands);
        assert_eq!(flash.sram_part("command streams"), 0);
    }
}

#[test]
fn generate_keeps_the_largest_layer_stream_and_charges_cpu_time() {
    let cpu = cpu();
    let g = models::builtin("kws").unwrap();
    let mut it = Interpreter::new(&g).unwrap();
    let cfg = AccelConfig::preset("edge-8x8").unwrap();
    let d = decisions(&it, &cfg, Policy::All);
    let mem = delegate::driver_memory(&it, &cfg, &cpu, &d).unwrap();
    let sram = delegate::footprint_from(&it, &cpu, &d, &mem, CmdStreams::Sram, None).unwrap();
    let gen = delegate::footprint_from(&it, &cpu, &d, &mem, CmdStreams::Generate, None).unwrap();
    let largest = mem.layers.iter().map(|l| l.bytes).max().unwrap();
    assert!(mem.layers.len() > 1 && largest < mem.layers.iter().map(|l| l.bytes).sum());
    assert_eq!(gen.sram_part("command buffer (largest layer)"), largest);
    assert_eq!(
        gen.sram_part("command descriptors"),
        mem.gemms() * GENERATE_DESCRIPTOR_BYTES
    );
    assert_eq!(gen.sram_part("command streams"), 0);
    assert_eq!(gen.flash_total(), sram.flash_total());
    assert_eq!(
        sram.sram_total() - gen.sram_total(),
        mem.commands - largest - mem.gemms() * GENERATE_DESCRIPTOR_BYTES
    );

    // CPU time: a real run, then each policy applied to its layers.
    let mut dev = SimDevice::new(&cfg, Fidelity::Functional, sim::device::DEFAULT_MEM_BYTES);
    let input = input_for(&it);
    let run = delegate::run_model(&mut it, &mut dev, &cpu, Policy::All, &input).unwrap();
    for s in [CmdStreams::Sram, CmdStreams::Flash] {
        let mut layers = run.layers.clone();
        apply_cmd_streams(&mut layers, &cfg, &cpu, s);
        assert_eq!(layers, run.layers, "{s} changes nothing");
    }
    let mut layers = run.layers.clone();
    apply_cmd_streams(&mut layers, &cfg, &cpu, CmdStreams::Generate);
    let mut added_cycles = 0;
    for (a, b) in run.layers.iter().zip(&layers) {
        let extra = GENERATE_CYCLES_PER_COMMAND * a.device_counters.commands;
        if a.placement == Placement::Accel {
            assert!(extra > 0);
        } else {
            assert_eq!(a, b);
            continue;
        }
        assert_eq!(b.driver_cycles, a.driver_cycles + extra);
        let us = extra as f64 / cpu.clock_mhz();
        assert!((b.driver_us - a.driver_us - us).abs() < 1e-9);
        assert!((b.total_us - a.total_us - us).abs() < 1e-9);
        let uj = cpu.power_mw() * us / 1000.0
            + cfg.leakage_uw() * us / 1e6
            + arch::device::idle_clock_pj(&cfg, us * cfg.clock_mhz) / 1e6;
        assert!((b.total_uj - a.total_uj - uj).abs() < 1e-9);
        // The layer's parts still add up.
        assert!((b.total_us - (b.device_us + b.cpu_us + b.driver_us)).abs() < 1e-9);
        assert!(
            (b.total_uj
                - (b.device_uj + b.cpu_uj + b.device_idle_leakage_uj + b.device_idle_clock_uj))
                .abs()
                < 1e-9
        );
        added_cycles += extra;
    }
    let stream_commands: u64 = mem.layers.iter().map(|l| l.commands).sum();
    assert_eq!(added_cycles, GENERATE_CYCLES_PER_COMMAND * stream_commands);
}

#[test]
fn a_design_whose_command_streams_overflow_sram_is_flagged_and_fixed_by_a_policy() {
    // KWS with every layer on the small 4x4 array: 472 KB of command streams (one
    // GEMM per depthwise channel) push it past the 512 KB of the STM32F767's SRAM; with
    // the streams in flash or generated per layer it fits.
    let cpu = CpuProfile::resolve("cortex-m7").unwrap();
    let it = Interpreter::new(&models::builtin("kws").unwrap()).unwrap();
    let cfg = AccelConfig::preset("tiny-4x4").unwrap();
    let d = decisions(&it, &cfg, Policy::All);
    let mem = delegate::driver_memory(&it, &cfg, &cpu, &d).unwrap();
    let sram = delegate::footprint_from(&it, &cpu, &d, &mem, CmdStreams::Sram, None).unwrap();
    let fit = sram.fit(&cpu);
    assert!(!fit.fits_sram(), "{} <= {}", fit.sram_used, fit.sram_cap);
    assert_eq!(fit.shortfall_bytes().sram, sram.sram_total() - 512 * 1024);
    assert!(fit.fits_flash());
    for s in [CmdStreams::Flash, CmdStreams::Generate] {
        let f = delegate::footprint_from(&it, &cpu, &d, &mem, s, None).unwrap();
        let fit = f.fit(&cpu);
        assert!(fit.fits(), "{s}: {fit:?}");
        assert_eq!(fit.shortfall_bytes().sram, 0);
    }
}

#[test]
fn cmd_streams_parse_and_name_a_bad_value() {
    for s in [CmdStreams::Sram, CmdStreams::Flash, CmdStreams::Generate] {
        assert_eq!(s.as_str().parse::<CmdStreams>().unwrap(), s);
    }
    assert_eq!(CmdStreams::default(), CmdStreams::Sram);
    let e = "dram".parse::<CmdStreams>().unwrap_err();
    assert!(
        e.contains("`dram`") && e.contains("sram, flash, generate"),
        "{e}"
    );
}

#[test]
fn the_sweep_estimate_of_driver_memory_equals_a_real_load() {
    // Sweeps have no device: their driver memory comes from the GEMM shapes and the
    // tile-level model's command counts. It must be the load's, part for part.
    let cpu = cpu();
    for model in models::BUILTIN_NAMES {
        let it = Interpreter::new(&models::builtin(model).unwrap()).unwrap();
        let g = it.graph();
        let prepared: Vec<&PreparedOp> =
            (0..g.ops.len()).map(|i| it.prepared(i).unwrap()).collect();
        let facts = delegate::ModelFacts::new(g, &prepared, &cpu);
        let cpu_mem = footprint::CpuMemory::new(&it, &cpu, None).unwrap();
        for config in [
            "edge-8x8",
            "edge-16x16",
            "tiny-4x4",
            "edge-8x8-conv",
            "wide-4x16",
        ] {
            let cfg = AccelConfig::preset(config).unwrap();
            let layers = delegate::estimate_model(&facts, &cfg, Policy::All, |c, p| {
                sim::tile::estimate(c, p).ok()
            });
            let placed: Vec<Decision> = decisions(&it, &cfg, Policy::All)
                .into_iter()
                .map(|mut d| {
                    d.placement = layers[d.index].placement;
                    d
                })
                .collect();
            let real = delegate::driver_memory(&it, &cfg, &cpu, &placed).unwrap();
            let est = delegate::driver_memory_estimate(&facts, &cfg, &layers);
            assert_eq!(est, real, "{model} on {config}");
            let on_accel = |i: usize| layers[i].placement == Placement::Accel;
            for s in [CmdStreams::Sram, CmdStreams::Flash, CmdStreams::Generate] {
                assert_eq!(
                    delegate::footprint_of(&cpu_mem, &on_accel, &est, s, &cpu),
                    delegate::footprint_from(&it, &cpu, &placed, &real, s, None).unwrap(),
                    "{model} on {config}, {s}"
                );
            }
        }
    }
}
