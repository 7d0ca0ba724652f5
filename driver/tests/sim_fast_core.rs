//! The cycle-level executor with its default event-level core (`sim::cycle::CoreModel::Event`)
//! against the same executor stepping the register-level PE array
//! (`CoreModel::Register`, the model the RTL is checked against in Verilator), on whole
//! driver programs: every counter (cycles, busy, stall, bank conflicts included) and the
//! final memory and scratchpads byte for byte.
//!
//! Programs: random GEMMs on every preset in all three dataflows, on variants with
//! single-bank scratchpads (where the DMA loses beats to the core: bank conflicts) and
//! with pipelined DMA, the driver's hardware-im2col problems of ic and kws layers on
//! edge-8x8-conv, and the same programs with every dependency token removed (the engines
//! then race: loads overwrite lines a running tile has not read yet and stores read
//! accumulators mid-tile, so the results depend on the exact cycle of every read and
//! write).

mod common;
use arch::isa::{Command, Deps};
use arch::{AccelConfig, Dataflow};
use common::*;
use driver::gemm::{self, GemmProblem, MemLayout};
use sim::cycle::{self, CoreModel};
use sim::machine::Machine;
use sim::{Fidelity, SimDevice};

/// The memory image of `p`'s program on `cfg` (operands, parameters, command buffer).
fn image(cfg: &AccelConfig, p: &GemmProblem, seed: u64) -> (Vec<u8>, Vec<Command>) {
    let layout = MemLayout::packed(p, 0x100);
    let prog = gemm::build(cfg, p, &layout).expect("build");
    let mut dev = SimDevice::new(cfg, Fidelity::Functional, prog.mem_end() as usize + 64);
    let ops = Operands::random(p, seed);
    gemm::run_program(&mut dev, p, &ops.data(), &prog).expect("functional run");
    let mut mem = vec![0u8; prog.mem_end() as usize + 64];
    arch::device::Device::read_mem(&mut dev, 0, &mut mem).expect("read memory");
    // The functional run wrote C: clear it so that unwritten outputs show up.
    let c_end = layout.cmd_addr as usize;
    mem[layout.c_addr as usize..c_end].fill(0);
    (mem, prog.commands)
}

/// Runs `cmds` with both core models; panics on any difference. Returns the bank
/// conflict cycles.
fn compare(cfg: &AccelConfig, mem: &[u8], cmds: &[Command], who: &str) -> u64 {
    let run = |core: CoreModel| {
        let mut m = Machine::new(cfg);
        let mut mem = mem.to_vec();
        let c = cycle::run_with_core(cfg, &mut m, &mut mem, cmds, cycle::MAX_CYCLES, core)
            .unwrap_or_else(|e| panic!("{who} ({core:?}): {e}"));
        (c, mem, m)
    };
    let (ce, meme, me) = run(CoreModel::Event);
    let (cr, memr, mr) = run(CoreModel::Register);
    assert_eq!(ce, cr, "{who}: counters (event, register)");
    assert!(meme == memr, "{who}: memory differs");
    assert!(me.acc == mr.acc, "{who}: accumulator scratchpad differs");
    assert!(
        me.input == mr.input && me.weight == mr.weight,
        "{who}: scratchpads differ"
    );
    ce.bank_conflict_cycles
}

fn strip_tokens(cmds: &[Command]) -> Vec<Command> {
    cmds.iter()
        .map(|c| Command {
            op: c.op,
            deps: Deps::default(),
        })
        .collect()
}

fn variants() -> Vec<AccelConfig> {
    let mut out = Vec::new();
    for preset in ["tiny-4x4", "edge-8x8", "edge-16x16", "wide-4x16"] {
        for df in Dataflow::ALL {
            let c = cfg(preset, df);
            out.push(c.clone());
            // Single-bank scratchpads: the DMA's beats lose to the core.
            let mut one = c.clone();
            one.input_sram_banks = 1;
            one.weight_sram_banks = 1;
            one.acc_sram_banks = 1;
            one.name = format!("{preset}-1bank");
            one.validate().unwrap();
            out.push(one);
            // Pipelined DMA with a narrow bus.
            let mut pipe = c;
            pipe.dma_outstanding = 4;
            pipe.bus_bytes_per_cycle = 2;
            pipe.name = format!("{preset}-dma4");
            pipe.validate().unwrap();
            out.push(pipe);
        }
    }
    out
}

#[test]
fn event_core_equals_register_core_on_driver_programs() {
    let mut r = Rng(0xc0de_5eed);
    let mut programs = 0;
    let mut conflicts = 0;
    for cfg in variants() {
        for _ in 0..3 {
            let p = GemmProblem::int8(
                r.range(1, 40) as usize,
                r.range(1, 70) as usize,
                r.range(1, 40) as usize,
                r.range(-5, 5) as i32,
            );
            let who = format!("{} {} {}x{}x{}", cfg.name, cfg.dataflow, p.m, p.k, p.n);
            let (mem, cmds) = image(&cfg, &p, r.next());
            conflicts += compare(&cfg, &mem, &cmds, &who);
            compare(
                &cfg,
                &mem,
                &strip_tokens(&cmds),
                &format!("{who} without tokens"),
            );
            programs += 2;
        }
    }
    assert!(programs >= 200, "only {programs} programs");
    assert!(conflicts > 0, "no program had a bank conflict");
}

#[test]
fn event_core_equals_register_core_on_hardware_im2col_layers() {
    let mut programs = 0;
    for df in Dataflow::ALL {
        let cfg = common::cfg("edge-8x8-conv", df);
        for model in ["ic", "kws"] {
            let problems = driver_problems(model, &cfg);
            for (name, p) in problems.iter().filter(|(_, p)| p.im2col.is_some()).take(2) {
                let who = format!("{name} on {} {}", cfg.name, cfg.dataflow);
                let (mem, cmds) = image(&cfg, p, 7);
                compare(&cfg, &mem, &cmds, &who);
                compare(
                    &cfg,
                    &mem,
                    &strip_tokens(&cmds),
                    &format!("{who} without tokens"),
                );
                programs += 2;
            }
        }
    }
    assert!(programs >= 12, "only {programs} im2col programs");
}
