//! The driver's contract: CPU fallback with reasons, a clear outcome for designs that
//! cannot hold a tile, and offloaded layers really computed from the command stream (a
//! corrupted command changes the output). Whole-model totals through the CLI are checked
//! in the root package's `tests/driver_offload.rs`.

use arch::isa::{Command, Op, Scratchpad, COMMAND_BYTES};
use arch::AccelConfig;
use driver::delegate::{self, AccelDelegate, Placement, Policy};
use runtime::cost::CpuProfile;
use runtime::{Interpreter, PreparedOp};
use sim::{Fidelity, SimDevice};

fn cpu() -> CpuProfile {
    CpuProfile::resolve("cortex-m4f").unwrap()
}

fn input_for(interp: &Interpreter, seed: u8) -> Vec<u8> {
    (0..interp.input_len())
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn unsupported_ops_fall_back_to_the_cpu_with_a_reason() {
    let graph = models::builtin("kws").unwrap();
    let mut interp = Interpreter::new(&graph).unwrap();
    let input = input_for(&interp, 3);
    let want = interp.invoke(&input).unwrap();
    let cfg = AccelConfig::preset("edge-8x8").unwrap();
    let mut dev = SimDevice::new(&cfg, Fidelity::Cycle, sim::device::DEFAULT_MEM_BYTES);
    let run = delegate::run_model(&mut interp, &mut dev, &cpu(), Policy::All, &input).unwrap();
    assert_eq!(run.output, want);
    for d in &run.decisions {
        match d.op {
            "CONV_2D" | "DEPTHWISE_CONV_2D" | "FULLY_CONNECTED" => {
                assert_eq!(d.placement, Placement::Accel, "{d:?}")
            }
            _ => {
                assert_eq!(d.placement, Placement::Cpu, "{d:?}");
                assert!(d.reason.contains("not supported"), "{d:?}");
            }
        }
    }
    // CPU-side layers cost their CPU kernel time; offloaded ones accelerator cycles.
    for (l, d) in run.layers.iter().zip(&run.decisions) {
        if d.placement == Placement::Cpu {
            assert_eq!(l.device_counters.cycles, 0);
            assert!(l.cpu_us > 0.0);
        } else {
            assert!(l.device_counters.cycles > 0 && l.device_counters.macs > 0);
        }
    }
}

#[test]
fn a_design_that_cannot_hold_a_tile_falls_back_with_a_reason() {
    // Not a valid config (validation would reject it): scratchpad halves smaller than an
    // array row, so no tile fits. The driver must not crash or compute garbage.
    let mut cfg = AccelConfig::preset("edge-8x8").unwrap();
    cfg.rows = 256;
    cfg.cols = 256;
    cfg.input_sram_kib = 1;
    cfg.input_sram_banks = 64;
    cfg.weight_sram_kib = 1;
    cfg.weight_sram_banks = 64;
    cfg.acc_sram_kib = 1;
    cfg.acc_sram_banks = 64;
    assert!(cfg.validate().is_err());
    let graph = models::builtin("ad").unwrap();
    let mut interp = Interpreter::new(&graph).unwrap();
    let input = input_for(&interp, 1);
    let want = interp.invoke(&input).unwrap();
    let mut dev = SimDevice::new(&cfg, Fidelity::Functional, sim::device::DEFAULT_MEM_BYTES);
    let run = delegate::run_model(&mut interp, &mut dev, &cpu(), Policy::All, &input).unwrap();
    assert_eq!(run.output, want);
    for d in run.decisions.iter().filter(|d| d.op == "FULLY_CONNECTED") {
        assert_eq!(d.placement, Placement::Cpu);
        assert!(d.reason.contains("does not fit"), "{d:?}");
    }
}

/// Loads `ad` with every FC offloaded, applies `corrupt` to the device memory of the first
/// offloaded layer, and returns (CPU output, offloaded output).
fn corrupted_run(corrupt: impl Fn(&mut AccelDelegate<'_>, usize)) -> (Vec<u8>, Vec<u8>) {
    let graph = models::builtin("ad").unwrap();
    let mut interp = Interpreter::new(&graph).unwrap();
    let input = input_for(&interp, 7);
    let want = interp.invoke(&input).unwrap();
    let cfg = AccelConfig::preset("tiny-4x4").unwrap();
    let cpu = cpu();
    let prepared_owned: Vec<PreparedOp> = (0..graph.ops.len())
        .map(|i| interp.prepared(i).unwrap().clone())
        .collect();
    let prepared: Vec<&PreparedOp> = prepared_owned.iter().collect();
    let decisions = delegate::plan(&graph, &prepared, &cfg, &cpu, Policy::All);
    let first = decisions
        .iter()
        .find(|d| d.placement == Placement::Accel)
        .unwrap()
        .index;
    let mut dev = SimDevice::new(&cfg, Fidelity::Functional, sim::device::DEFAULT_MEM_BYTES);
    let mut del = AccelDelegate::load(&graph, &prepared, decisions, &mut dev, &cpu).unwrap();
    corrupt(&mut del, first);
    let got = interp.invoke_with(&input, &mut del).unwrap();
    (want, got)
}

#[test]
fn the_uncorrupted_program_reproduces_the_cpu() {
    let (want, got) = corrupted_run(|_, _| {});
    assert_eq!(want, got);
}

#[test]
fn corrupting_a_weight_address_changes_the_output() {
    let (want, got) = corrupted_run(|del, layer| {
        let job = del.jobs(layer).unwrap()[0].clone();
        let dev = del.device();
        let mut buf = vec![0u8; job.commands as usize * COMMAND_BYTES];
        dev.read_mem(job.layout.cmd_addr, &mut buf).unwrap();
        let mut cmds = arch::isa::decode_all(&buf).unwrap();
        let load = cmds
            .iter_mut()
            .find(|c| matches!(c.op, Op::Load(l) if l.sp == Scratchpad::Weight))
            .expect("a weight load");
        if let Op::Load(l) = &mut load.op {
            l.mem_addr += 64;
        }
        let bytes: Vec<u8> = cmds.iter().flat_map(Command::encode).collect();
        dev.write_mem(job.layout.cmd_addr, &bytes).unwrap();
    });
    assert_ne!(
        want, got,
        "a wrong weight address did not change the output"
    );
}

#[test]
fn corrupting_a_requantization_shift_changes_the_output() {
    let (want, got) = corrupted_run(|del, layer| {
        let jobs = del.jobs(layer).unwrap().to_vec();
        let dev = del.device();
        // Parameter records: bias, multiplier, shift (int32 LE each) per column.
        let n = jobs[0].problem.n;
        for col in 0..n {
            let addr =
                jobs[0].layout.params_addr + (col * arch::isa::PARAM_RECORD_BYTES) as u64 + 8;
            let mut s = [0u8; 4];
            dev.read_mem(addr, &mut s).unwrap();
            let shift = i32::from_le_bytes(s) - 2;
            dev.write_mem(addr, &shift.to_le_bytes()).unwrap();
        }
    });
    assert_ne!(
        want, got,
        "a wrong requantization shift did not change the output"
    );
}
