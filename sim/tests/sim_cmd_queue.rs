//! Bounded command queues and the streaming command fetch (`cmd_queue_depth > 0`,
//! `docs/architecture.md` section 5) in the cycle-level model: hand-worked timelines
//! (a command waits for its fetch; head-of-line back-pressure of a full compute queue
//! delays a later LOAD), `cmd_queue_depth = 0` keeping the ideal model's numbers, and a
//! program that pops a token pushed later in program order deadlocking with small queues
//! (and rejected by `arch::hostcheck::check_token_order`) while it runs with the ideal ones.

use arch::device::Counters;
use arch::isa::{Command, Compute, Deps, Load, Op, Scratchpad};
use arch::{timing, AccelConfig};
use sim::cycle;
use sim::machine::Machine;

fn edge(depth: u32) -> AccelConfig {
    let mut c = AccelConfig::preset("edge-8x8").unwrap();
    c.cmd_queue_depth = depth;
    c.validate().unwrap();
    c
}

fn load(nrows: u16, deps: Deps) -> Command {
    let mut c = Command::new(Op::Load(Load {
        sp: Scratchpad::Input,
        transpose: false,
        sp_line: 0,
        mem_addr: 0,
        mem_stride: 8,
        nrows,
        ncols: 8,
    }));
    c.deps = deps;
    c
}

fn compute(k: u16, deps: Deps) -> Command {
    let mut c = Command::new(Op::Compute(Compute {
        accumulate: false,
        a_line: 0,
        b_line: 0,
        c_line: 0,
        m: 8,
        k,
        n: 8,
    }));
    c.deps = deps;
    c
}

fn finish() -> Command {
    Command::new(Op::Finish)
}

fn run(cfg: &AccelConfig, cmds: &[Command]) -> Result<Counters, sim::ExecError> {
    for c in cmds {
        c.check(cfg).unwrap_or_else(|e| panic!("{c}: {e}"));
    }
    let mut m = Machine::new(cfg);
    let mut mem = vec![0u8; 1 << 16];
    cycle::run(cfg, &mut m, &mut mem, cmds)
}

/// edge-8x8: 8-byte beats (2 per command), latency 20: command 0 is in its queue from
/// cycle 22. A one-row LOAD takes 20 + 1 cycles.
#[test]
fn a_command_starts_when_its_fetch_arrives() {
    let cmds = [load(1, Deps::NONE), finish()];
    assert_eq!(run(&edge(0), &cmds).unwrap().cycles, 21);
    for depth in [2, 16, 64] {
        let cfg = edge(depth);
        assert_eq!(timing::fetch_arrival(&cfg, 0), 22);
        let c = run(&cfg, &cmds).unwrap();
        assert_eq!(c.cycles, 22 + 21, "depth {depth}");
        assert_eq!(c.commands, 2);
    }
}

/// Four COMPUTEs (k = 1: 26 cycles each on 8x8 OS) then an 8-row LOAD (8 x 21 cycles).
/// Ideal queues: the LOAD starts in cycle 0, 168 cycles. Depth 64: the fetch delivers
/// command i from cycle 22 + 2i, the LOAD (command 4) from 30: 30 + 168 = 198 (the fetch
/// is one burst of 6 commands; the computes end at 22 + 4 x 26 = 126). Depth 2: C0 starts
/// in 22, C1 waits in the queue, C2 arrives in 26 (occupancy 1 at the start of its last
/// beat's cycle 25), so C3's last beat (cycle 27) waits for room: C1 starts in 48 (C0
/// ends in 47), room from 49, C3 in the queue from 50, the LOAD's beats in 50 and 51, the
/// LOAD starts in 52: 52 + 168 = 220.
#[test]
fn a_full_compute_queue_holds_back_a_later_load() {
    let cmds = [
        compute(1, Deps::NONE),
        compute(1, Deps::NONE),
        compute(1, Deps::NONE),
        compute(1, Deps::NONE),
        load(8, Deps::NONE),
        finish(),
    ];
    assert_eq!(timing::os_tile_cycles(&edge(0), 1), 26);
    assert_eq!(timing::dma_cycles(&edge(0), 8, 8), 168);
    let ideal = run(&edge(0), &cmds).unwrap();
    assert_eq!(ideal.cycles, 168);
    let deep = run(&edge(64), &cmds).unwrap();
    assert_eq!(deep.cycles, 30 + 168);
    let tiny = run(&edge(2), &cmds).unwrap();
    assert_eq!(tiny.cycles, 52 + 168);
    // Slower, not different: every count but the cycles is the same.
    for c in [&deep, &tiny] {
        assert_eq!(c.macs, ideal.macs);
        assert_eq!(c.bus_read_bytes, ideal.bus_read_bytes);
        assert_eq!(c.array_busy_cycles, ideal.array_busy_cycles);
        assert_eq!(c.dma_busy_cycles, ideal.dma_busy_cycles);
        assert_eq!(c.commands, ideal.commands);
    }
}

/// The compute queue's first command pops L2C, pushed only by the LOAD after three
/// COMPUTEs: with ideal queues the LOAD runs first and everything completes; with two
/// entries the queue fills with C0 (waiting for the token) and C1, C2 cannot be
/// delivered, the LOAD is never fetched: a deadlock, reported at C0. The host's
/// token-order check rejects the program at C0.
#[test]
fn popping_a_later_push_deadlocks_small_queues() {
    let pop_l2c = Deps {
        pop_prev: true,
        ..Deps::NONE
    };
    let push_l2c = Deps {
        push_next: true,
        ..Deps::NONE
    };
    let cmds = [
        compute(1, pop_l2c),
        compute(1, Deps::NONE),
        compute(1, Deps::NONE),
        load(1, push_l2c),
        finish(),
    ];
    assert!(run(&edge(0), &cmds).is_ok());
    assert!(run(&edge(64), &cmds).is_ok());
    let e = run(&edge(2), &cmds).unwrap_err();
    assert_eq!(e.index, 0, "{e:?}");
    assert!(e.reason.contains("deadlock"), "{}", e.reason);
    let h = arch::hostcheck::check_token_order(&cmds).unwrap_err();
    assert_eq!(h.index, 0);
    assert!(h.reason.contains("L2C"), "{}", h.reason);
    // In program order (the LOAD first) it is fine at every depth.
    let ordered = [cmds[3], cmds[0], cmds[1], cmds[2], finish()];
    assert!(arch::hostcheck::check_token_order(&ordered).is_ok());
    for depth in [2, 4, 64] {
        assert!(run(&edge(depth), &ordered).is_ok(), "depth {depth}");
    }
}

/// Invalid depths are rejected naming the field.
#[test]
fn cmd_queue_depth_is_validated() {
    for bad in [1, 3, 24, 8192] {
        let mut c = AccelConfig::preset("edge-8x8").unwrap();
        c.cmd_queue_depth = bad;
        let e = format!("{:?}", c.validate().unwrap_err());
        assert!(e.contains("cmd_queue_depth"), "{bad}: {e}");
    }
    for good in [0, 2, 4, 64, 4096] {
        let mut c = AccelConfig::preset("edge-8x8").unwrap();
        c.cmd_queue_depth = good;
        assert!(c.validate().is_ok(), "{good}");
    }
}
