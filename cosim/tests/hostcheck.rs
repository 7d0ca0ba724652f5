//! `arch::hostcheck::check_buffer` (what `RtlDevice` runs before starting Verilator)
//! against the simulator on the same buffers: every rejected buffer fails at the same
//! command with the same message as `sim::functional::execute` on copies of the state
//! and as `sim::cycle::run`, and every accepted buffer runs on both. Random buffers of
//! loads, parameter loads, computes and stores near the end of a small memory, with
//! random scratchpad lines and shifts; the one documented difference (a shift that an
//! earlier `STORE` writes) is checked separately.

use arch::hostcheck::{self, ExecError, Violation};
use arch::isa::{Command, Compute, Load, LoadParams, Op, Scratchpad, Store};
use arch::{AccelConfig, Dataflow};
use hdl::cases::Rng;
use sim::machine::Machine;

const MEM: usize = 4096;

fn cfg(df: Dataflow) -> AccelConfig {
    let mut c = AccelConfig::preset("tiny-4x4").expect("preset");
    c.dataflow = df;
    c
}

/// A random command, often (not always) out of range somewhere.
fn command(rng: &mut Rng, lines: usize) -> Command {
    let addr = |rng: &mut Rng| rng.pick(&[0, 64, 3000, 3900, 4000, 4090, 4095]) as u32;
    let line = |rng: &mut Rng| rng.range(0, lines as i64 + 8) as u32;
    let op = match rng.range(0, 9) {
        0..=2 => Op::Load(Load {
            sp: rng.pick(&[Scratchpad::Input, Scratchpad::Weight]),
            transpose: rng.range(0, 1) == 1,
            sp_line: line(rng),
            mem_addr: addr(rng),
            mem_stride: rng.range(0, 40) as u32,
            nrows: rng.range(1, 9) as u16,
            ncols: rng.range(1, 9) as u16,
        }),
        3 | 4 => Op::LoadParams(LoadParams {
            mem_addr: addr(rng),
            count: rng.range(1, 70) as u16,
            zp_out: 0,
            act_min: -128,
            act_max: 127,
        }),
        5 | 6 => Op::Compute(Compute {
            accumulate: rng.range(0, 1) == 1,
            a_line: line(rng),
            b_line: line(rng),
            c_line: line(rng),
            m: rng.range(1, 6) as u16,
            k: rng.range(1, 6) as u16,
            n: rng.range(1, 6) as u16,
        }),
        _ => Op::Store(Store {
            raw_int32: rng.range(0, 1) == 1,
            acc_line: line(rng),
            mem_addr: addr(rng),
            mem_stride: rng.range(0, 40) as u32,
            nrows: rng.range(1, 6) as u16,
            ncols: rng.range(1, 9) as u16,
        }),
    };
    Command::new(op)
}

/// Memory with valid shifts (-8..=8) in every parameter record slot, except a few.
fn memory(rng: &mut Rng) -> Vec<u8> {
    let mut mem: Vec<u8> = (0..MEM).map(|_| rng.next_u64() as u8).collect();
    for rec in (0..MEM - 12).step_by(4) {
        let s = if rng.range(0, 300) == 0 {
            40
        } else {
            rng.range(-8, 8) as i32
        };
        mem[rec + 8..rec + 12].copy_from_slice(&s.to_le_bytes());
    }
    mem
}

fn stored_shift(e: &ExecError) -> bool {
    e.reason.contains("(STORE) of this buffer")
}

#[test]
fn host_checks_fail_like_the_simulator() {
    let (mut rejected, mut accepted, mut skipped) = (0, 0, 0);
    for df in [Dataflow::OutputStationary, Dataflow::WeightStationary] {
        let cfg = cfg(df);
        let lines = Machine::new(&cfg)
            .in_lines
            .min(Machine::new(&cfg).acc_lines);
        let mut rng = Rng::new(df as u64 + 77);
        for case in 0..1500 {
            let mem = memory(&mut rng);
            let n = rng.range(1, 6) as usize;
            let mut cmds: Vec<Command> = (0..n).map(|_| command(&mut rng, lines)).collect();
            cmds.push(Command::new(Op::Finish));
            // Only buffers that pass decoding and `Command::check` reach these checks.
            let bytes = arch::isa::encode_all(&cmds);
            if hostcheck::decode_checked(&cfg, &bytes).is_err() {
                skipped += 1;
                continue;
            }
            let host = hostcheck::check_buffer(&cfg, &mem, &cmds);
            let m = Machine::new(&cfg);
            let functional =
                sim::functional::execute(&cfg, &mut m.clone(), &mut mem.clone(), &cmds).map(|_| ());
            let cycle = sim::cycle::run(&cfg, &mut m.clone(), &mut mem.clone(), &cmds).map(|_| ());
            match &host {
                Err(e) if stored_shift(e) => {}
                Err(e) => {
                    rejected += 1;
                    assert_eq!(Err(e), functional.as_ref(), "{df} case {case}: {cmds:?}");
                    // The cycle-level model stops at the same command (it runs the
                    // commands of different queues concurrently, so only buffers whose
                    // first failure is its only one are compared by message).
                    if let Err(c) = &cycle {
                        if c.index == e.index {
                            assert_eq!(c, e, "{df} case {case}");
                        }
                    }
                }
                Ok(()) => {
                    accepted += 1;
                    assert!(functional.is_ok(), "{df} case {case}: {functional:?}");
                }
            }
        }
    }
    // The generator reaches both outcomes often.
    assert!(
        rejected > 300 && accepted > 300,
        "{rejected} rejected, {accepted} accepted, {skipped} skipped"
    );
}

#[test]
fn a_shift_written_by_an_earlier_store_is_refused_where_the_simulator_reads_it() {
    let cfg = cfg(Dataflow::OutputStationary);
    let mut mem = vec![0u8; MEM];
    // Record 0 at 1000: shift 3 in memory before the run.
    mem[1008..1012].copy_from_slice(&3i32.to_le_bytes());
    // This 1x1x1 COMPUTE of 100 * 100 leaves 10000 in accumulator lane 0; the raw STORE
    // writes it over the shift.
    let compute = Command::new(Op::Compute(Compute {
        accumulate: false,
        a_line: 0,
        b_line: 0,
        c_line: 0,
        m: 1,
        k: 1,
        n: 1,
    }));
    let store = Command::new(Op::Store(Store {
        raw_int32: true,
        acc_line: 0,
        mem_addr: 1008,
        mem_stride: 0,
        nrows: 1,
        ncols: 1,
    }));
    let params = Command::new(Op::LoadParams(LoadParams {
        mem_addr: 1000,
        count: 1,
        zp_out: 0,
        act_min: -128,
        act_max: 127,
    }));
    let cmds = vec![compute, store, params, Command::new(Op::Finish)];
    let mut m = Machine::new(&cfg);
    m.input[0] = 100;
    m.weight[0] = 100;
    // The simulator checks the stored value (10000): out of range.
    let se = sim::functional::execute(&cfg, &mut m.clone(), &mut mem.clone(), &cmds).unwrap_err();
    assert_eq!(
        (se.index, se.reason.as_str()),
        (2, "column 0: shift 10000 outside -31..=31")
    );
    // The host cannot know it before the run: refused at the same command.
    let he = hostcheck::check_buffer(&cfg, &mem, &cmds).unwrap_err();
    assert_eq!(he.index, 2);
    assert_eq!(
        he.reason,
        Violation::ShiftWrittenByStore {
            column: 0,
            addr: 1008,
            end: 1012,
            store: 1
        }
        .to_string()
    );
    // Without the STORE the memory's shift 3 is checked and accepted.
    let cmds = vec![cmds[0], cmds[2], cmds[3]];
    assert!(hostcheck::check_buffer(&cfg, &mem, &cmds).is_ok());
}
