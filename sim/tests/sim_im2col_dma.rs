//! Hardware im2col and the pipelined DMA in the simulator models (issue 16 contract).
//!
//! - `LOAD_IM2COL` fills the input scratchpad exactly as a plain `LOAD` of the same tile
//!   of the explicit im2col matrix (computed here from the definition, with loops over
//!   the output positions and taps) does, in the functional and in the cycle-level
//!   model, on random geometries (stride, dilation, padding, partial tiles, transposed
//!   placement, tiles that start mid-row and mid-tap);
//! - the two models count the same bytes, commands, bus pieces (`dma_bursts`) and im2col
//!   pieces on random programs mixing `CONV_GEOM`, `LOAD_IM2COL`, `LOAD`, `LOAD_PARAMS`
//!   and `STORE`;
//! - the cycle-level DMA takes exactly the cycles of `arch::timing` for single commands
//!   with `dma_outstanding` in {1, 2, 4, 16}, and the cycles of hand-worked examples of
//!   the pipelined recurrence;
//! - a `LOAD_IM2COL` without a preceding `CONV_GEOM` of the same buffer is an error in
//!   both models (the window registers are reset at every start).

use arch::device::Counters;
use arch::im2col::Window;
use arch::isa::{Command, ConvGeom, Load, LoadIm2col, LoadParams, Op, Scratchpad, Store};
use arch::{timing, AccelConfig, Dataflow};
use sim::machine::Machine;
use sim::{cycle, functional};

mod common;
use common::{cfg, Conv, Rng};

fn geom_cmd(g: ConvGeom) -> Command {
    Command::new(Op::ConvGeom(g))
}

fn im2col_cmd(l: LoadIm2col) -> Command {
    Command::new(Op::LoadIm2col(l))
}

fn finish() -> Command {
    Command::new(Op::Finish)
}

/// Runs `cmds` in both models on copies of `mem`; returns (functional machine, memory,
/// counters), (cycle machine, memory, counters).
#[allow(clippy::type_complexity)]
fn both(
    cfg: &AccelConfig,
    mem: &[u8],
    cmds: &[Command],
) -> ((Machine, Vec<u8>, Counters), (Machine, Vec<u8>, Counters)) {
    for c in cmds {
        c.check(cfg).unwrap_or_else(|e| panic!("{c}: {e}"));
    }
    arch::hostcheck::check_buffer(cfg, mem, cmds).unwrap_or_else(|e| panic!("{e}"));
    let mut mf = Machine::new(cfg);
    let mut memf = mem.to_vec();
    let cf = functional::execute(cfg, &mut mf, &mut memf, cmds).expect("functional");
    let mut mc = Machine::new(cfg);
    let mut memc = mem.to_vec();
    let cc = cycle::run(cfg, &mut mc, &mut memc, cmds).expect("cycle");
    ((mf, memf, cf), (mc, memc, cc))
}

/// Every counter that is not a timing counter.
fn counts(c: &Counters) -> [u64; 12] {
    [
        c.macs,
        c.commands,
        c.bus_read_bytes,
        c.bus_write_bytes,
        c.input_sp_read_bytes,
        c.input_sp_write_bytes,
        c.weight_sp_read_bytes,
        c.weight_sp_write_bytes,
        c.acc_sp_read_bytes,
        c.acc_sp_write_bytes,
        c.dma_bursts,
        c.im2col_pieces,
    ]
}

/// Random image bytes at `addr` in a memory of `size` bytes.
fn memory(r: &mut Rng, size: usize) -> Vec<u8> {
    (0..size).map(|_| r.next() as u8).collect()
}

#[test]
fn load_im2col_equals_load_of_explicit_matrix() {
    let mut r = Rng(0x1dea);
    let mut checked = 0;
    let mut with_pad = 0;
    for case in 0..300 {
        let df = Dataflow::ALL[case % 3];
        let outstanding = [1, 2, 4, 16][case % 4];
        let cfg = cfg(df, outstanding, [1, 4, 8][case % 3], r.range(0, 6) as u32);
        let image_addr = 64 + r.range(0, 64) as u32;
        let conv = Conv::random(&mut r, image_addr);
        let g = conv.g;
        let image_len = g.in_h as usize * g.in_w as usize * g.in_c as usize;
        // The explicit matrix goes after the image (row-major, K bytes per row).
        let a_addr = image_addr as usize + image_len + 16;
        let (mm, kk) = (conv.m(), conv.k());
        let mut mem = memory(&mut r, a_addr + (mm * kk) as usize + 16);
        let pad = r.next() as i8;
        let a = conv.matrix(&mem[image_addr as usize..][..image_len], pad);
        mem[a_addr..a_addr + a.len()]
            .copy_from_slice(&a.iter().map(|&v| v as u8).collect::<Vec<_>>());
        // A random tile of the matrix (rows and columns inside it).
        let m0 = r.range(0, mm - 1);
        let k0 = r.range(0, kk - 1);
        let nrows = r.range(1, (mm - m0).min(40));
        let ncols = r.range(1, (kk - k0).min(70));
        let transpose = r.next().is_multiple_of(2);
        let line = r.range(0, 16) as u32;
        let li = conv.load(m0, k0, nrows, ncols, transpose, line, pad);
        let cmds = [geom_cmd(g), im2col_cmd(li), finish()];
        let ((mf, memf, cf), (mc, memc, cc)) = both(&cfg, &mem, &cmds);
        // The plain LOAD of the same tile of the explicit matrix.
        let plain = Load {
            sp: Scratchpad::Input,
            transpose,
            sp_line: line,
            mem_addr: (a_addr as u64 + m0 * kk + k0) as u32,
            mem_stride: kk as u32,
            nrows: nrows as u16,
            ncols: ncols as u16,
        };
        let mut mp = Machine::new(&cfg);
        let mut memp = mem.clone();
        functional::execute(
            &cfg,
            &mut mp,
            &mut memp,
            &[Command::new(Op::Load(plain)), finish()],
        )
        .unwrap();
        let who = format!("case {case}: {g:?} {li:?} on {df}");
        assert_eq!(mf.input, mp.input, "{who}: functional");
        assert_eq!(mc.input, mp.input, "{who}: cycle-level");
        assert_eq!(
            (memf == mem, memc == mem),
            (true, true),
            "{who}: memory written"
        );
        assert_eq!(counts(&cf), counts(&cc), "{who}: counters");
        // Bytes: the bus carries only the in-bounds taps; the scratchpad writes are the
        // plain LOAD's.
        let w = Window::of(&g);
        let (mut bus, mut pad_bytes) = (0u64, 0u64);
        for rr in 0..nrows {
            for c in 0..ncols {
                match w.element(&li, rr, c) {
                    Some(_) => bus += 1,
                    None => pad_bytes += 1,
                }
            }
        }
        let mut cp = Counters::default();
        cp.add_command(&cfg, &Op::Load(plain), None);
        assert_eq!(cc.bus_read_bytes, bus, "{who}");
        assert_eq!(cc.input_sp_write_bytes, cp.input_sp_write_bytes, "{who}");
        assert_eq!(cc.commands, 3, "{who}");
        let s = arch::im2col::summary(&w, &li);
        assert_eq!(
            (s.bus_bytes, s.pad_bytes),
            (bus, pad_bytes),
            "{who}: summary"
        );
        assert_eq!(
            (cc.dma_bursts, cc.im2col_pieces),
            (s.bus_pieces, s.pieces),
            "{who}"
        );
        // The cycle-level time of the two commands: CONV_GEOM, then the pieces.
        assert_eq!(
            cc.cycles,
            timing::CONV_GEOM_CYCLES + timing::load_im2col_cycles(&cfg, &w, &li),
            "{who}: cycles"
        );
        with_pad += (pad_bytes > 0) as u32;
        checked += 1;
    }
    assert_eq!(checked, 300);
    assert!(with_pad > 50, "only {with_pad} tiles with padding");
}

/// Random programs of `CONV_GEOM` (several, the later ones replace the window),
/// `LOAD_IM2COL`, `LOAD`, `LOAD_PARAMS` and `STORE` (no compute: the DMA alone): both
/// models leave the same scratchpads and memory and count the same.
#[test]
fn random_dma_programs_functional_equals_cycle() {
    let mut r = Rng(77);
    for case in 0..120 {
        let df = Dataflow::ALL[case % 3];
        let cfg = cfg(
            df,
            [1, 2, 3, 4, 8, 16][case % 6],
            [1, 2, 4, 8][case % 4],
            r.range(0, 9) as u32,
        );
        let mut mem = memory(&mut r, 8192);
        // Param records with valid shifts (bytes 8..12 of each 12-byte record).
        for rec in mem[4096..4096 + 12 * 64].chunks_exact_mut(12) {
            rec[8..12].copy_from_slice(&(-(r.range(0, 20) as i32)).to_le_bytes());
        }
        let mut cmds = Vec::new();
        let mut conv: Option<Conv> = None;
        for _ in 0..r.range(1, 12) {
            match r.range(0, 5) {
                0 => {
                    let addr = r.range(0, 2048) as u32;
                    let c = Conv::random(&mut r, addr);
                    cmds.push(geom_cmd(c.g));
                    conv = Some(c);
                }
                1 | 2 if conv.is_some() => {
                    let c = conv.unwrap();
                    let (mm, kk) = (c.m(), c.k());
                    let m0 = r.range(0, mm - 1);
                    let k0 = r.range(0, kk - 1);
                    let li = c.load(
                        m0,
                        k0,
                        r.range(1, (mm - m0).min(24)),
                        r.range(1, (kk - k0).min(40)),
                        r.next().is_multiple_of(2),
                        r.range(0, 32) as u32,
                        r.next() as i8,
                    );
                    cmds.push(im2col_cmd(li));
                }
                3 => cmds.push(Command::new(Op::Load(Load {
                    sp: if r.next().is_multiple_of(2) {
                        Scratchpad::Input
                    } else {
                        Scratchpad::Weight
                    },
                    transpose: r.next().is_multiple_of(2),
                    sp_line: r.range(0, 32) as u32,
                    mem_addr: r.range(0, 2048) as u32,
                    mem_stride: r.range(0, 64) as u32,
                    nrows: r.range(1, 20) as u16,
                    ncols: r.range(1, 30) as u16,
                }))),
                4 => cmds.push(Command::new(Op::LoadParams(LoadParams {
                    mem_addr: 4096,
                    count: r.range(1, 64) as u16,
                    zp_out: 3,
                    act_min: -128,
                    act_max: 127,
                }))),
                _ => cmds.push(Command::new(Op::Store(Store {
                    raw_int32: r.next().is_multiple_of(2),
                    acc_line: r.range(0, 16) as u32,
                    mem_addr: 6000,
                    mem_stride: 40,
                    nrows: r.range(1, 4) as u16,
                    ncols: r.range(1, 8) as u16,
                }))),
            }
        }
        cmds.push(finish());
        let ((mf, memf, cf), (mc, memc, cc)) = both(&cfg, &mem, &cmds);
        let who = format!("case {case} ({} commands)", cmds.len());
        assert_eq!(mf.input, mc.input, "{who}: input scratchpad");
        assert_eq!(mf.weight, mc.weight, "{who}: weight scratchpad");
        assert!(memf == memc, "{who}: memory");
        assert_eq!(counts(&cf), counts(&cc), "{who}: counters");
        // Without a core the DMA runs back to back: the cycles are the sum of the
        // commands' closed forms.
        let mut want = 0;
        let mut window = None;
        for c in &cmds {
            want += match c.op {
                Op::ConvGeom(g) => {
                    window = Some(Window::of(&g));
                    timing::CONV_GEOM_CYCLES
                }
                Op::LoadIm2col(li) => {
                    timing::load_im2col_cycles(&cfg, window.as_ref().unwrap(), &li)
                }
                Op::Load(l) => timing::dma_cycles(&cfg, l.nrows as u64, l.ncols as u64),
                Op::LoadParams(p) => timing::dma_cycles(&cfg, 1, 12 * p.count as u64),
                Op::Store(s) => timing::store_cycles(
                    &cfg,
                    s.nrows as u64,
                    s.ncols as u64 * if s.raw_int32 { 4 } else { 1 },
                ),
                _ => 0,
            };
        }
        assert_eq!(cc.cycles, want, "{who}: cycles");
        assert_eq!(cc.dma_busy_cycles, want, "{who}: DMA busy");
        assert_eq!(cc.bank_conflict_cycles, 0, "{who}");
    }
}

/// Single LOAD, LOAD_PARAMS and STORE commands: the cycle-level model takes exactly
/// `arch::timing`'s cycles, for N = 1, 2, 4, 16, which with N = 1 are today's
/// `pipe + nrows * (latency + beats)`.
#[test]
fn single_command_cycles_match_timing() {
    for n in [1u32, 2, 4, 16] {
        for bus in [1u32, 2, 8] {
            for lat in [0u32, 1, 5, 20] {
                let cfg = cfg(Dataflow::OutputStationary, n, bus, lat);
                let mem = vec![0u8; 4096];
                for (nrows, ncols) in [(1u64, 1u64), (1, 17), (7, 3), (8, 8), (30, 9), (5, 64)] {
                    let load = Command::new(Op::Load(Load {
                        sp: Scratchpad::Weight,
                        transpose: false,
                        sp_line: 0,
                        mem_addr: 0,
                        mem_stride: ncols as u32,
                        nrows: nrows as u16,
                        ncols: ncols as u16,
                    }));
                    let store = Command::new(Op::Store(Store {
                        raw_int32: true,
                        acc_line: 0,
                        mem_addr: 0,
                        mem_stride: 4 * ncols as u32,
                        nrows: nrows as u16,
                        ncols: ncols.min(8) as u16,
                    }));
                    let beats = ncols.div_ceil(bus as u64);
                    for (cmd, want, old) in [
                        (
                            load,
                            timing::dma_cycles(&cfg, nrows, ncols),
                            nrows * (lat as u64 + beats),
                        ),
                        (
                            store,
                            timing::store_cycles(&cfg, nrows, 4 * ncols.min(8)),
                            timing::store_pipe_cycles()
                                + nrows * (lat as u64 + (4 * ncols.min(8)).div_ceil(bus as u64)),
                        ),
                    ] {
                        let mut m = Machine::new(&cfg);
                        let mut mm = mem.clone();
                        let c = cycle::run(&cfg, &mut m, &mut mm, &[cmd, finish()]).unwrap();
                        assert_eq!(c.cycles, want, "N={n} bus={bus} lat={lat} {cmd}");
                        assert_eq!(c.dma_bursts, nrows, "{cmd}");
                        if n == 1 {
                            assert_eq!(c.cycles, old, "N=1 {cmd}");
                        } else {
                            assert!(c.cycles <= old, "{cmd}: pipelining is never slower");
                        }
                    }
                }
            }
        }
    }
}

/// The recurrence worked by hand: N = 2, latency 3, three one-beat pieces:
/// q = 0, 1, 4 (the third waits for the first's slot, free in cycle e0 = 4);
/// b = 3, 4, 7; e = 4, 5, 8: 8 cycles (N = 1: 3 x 4 = 12; N = 4: q = 0, 1, 2, e = 4, 5,
/// 6: 6 cycles).
#[test]
fn pipelined_recurrence_by_hand() {
    for (n, want) in [(1u32, 12u64), (2, 8), (3, 6), (4, 6)] {
        let cfg = cfg(Dataflow::OutputStationary, n, 8, 3);
        let load = Command::new(Op::Load(Load {
            sp: Scratchpad::Input,
            transpose: false,
            sp_line: 0,
            mem_addr: 0,
            mem_stride: 8,
            nrows: 3,
            ncols: 8,
        }));
        let mut m = Machine::new(&cfg);
        let mut mem = vec![0u8; 64];
        let c = cycle::run(&cfg, &mut m, &mut mem, &[load, finish()]).unwrap();
        assert_eq!(c.cycles, want, "N = {n}");
    }
    // Two-beat pieces, latency 1, N = 2: q = 0, 1, 3; b = 1, 3, 5; e = 3, 5, 7.
    let cfg = cfg(Dataflow::OutputStationary, 2, 4, 1);
    let load = Command::new(Op::Load(Load {
        sp: Scratchpad::Input,
        transpose: false,
        sp_line: 0,
        mem_addr: 0,
        mem_stride: 8,
        nrows: 3,
        ncols: 8,
    }));
    let mut m = Machine::new(&cfg);
    let mut mem = vec![0u8; 64];
    let c = cycle::run(&cfg, &mut m, &mut mem, &[load, finish()]).unwrap();
    assert_eq!(c.cycles, 7);
}

/// A pad piece takes a request cycle and a slot but no latency and no bus bytes: a
/// 1x1 kernel with one pixel of padding, a 3-row LOAD_IM2COL of one channel starting
/// at the padded corner (pad, image, image), bus 1 byte, latency 4, N = 1:
/// pad piece: q0 = 1 (after CONV_GEOM), b0 = 1, e0 = 2; bus pieces: q1 = 2, b1 = 6,
/// e1 = 7; q2 = 7, b2 = 11, e2 = 12. With N = 2: q1 = 2, e1 = 7; q2 = 3, b2 = 7, e2 = 8.
#[test]
fn pad_pieces_by_hand() {
    for (n, want) in [(1u32, 12u64), (2, 8)] {
        let cfg = cfg(Dataflow::OutputStationary, n, 1, 4);
        let g = ConvGeom {
            mem_addr: 0,
            in_h: 4,
            in_w: 4,
            in_c: 1,
            out_w: 6,
            kh: 1,
            kw: 1,
            sh: 1,
            sw: 1,
            dh: 1,
            dw: 1,
            pad_t: 1,
            pad_l: 1,
        };
        // Positions (1, 0), (1, 1), (1, 2): x = -1 (pad), 0, 1 of image row 0.
        let li = LoadIm2col {
            transpose: false,
            sp_line: 0,
            oy0: 1,
            ox0: 0,
            ky0: 0,
            kx0: 0,
            ic0: 0,
            nrows: 3,
            ncols: 1,
            pad_value: -7,
        };
        let mem: Vec<u8> = (10..26).collect();
        let ((mf, _, cf), (mc, _, cc)) = both(&cfg, &mem, &[geom_cmd(g), im2col_cmd(li), finish()]);
        assert_eq!(cc.cycles, want, "N = {n}");
        assert_eq!((cc.dma_bursts, cc.im2col_pieces), (2, 3));
        assert_eq!(cc.bus_read_bytes, 2);
        assert_eq!(counts(&cf), counts(&cc));
        // Lines 0, 1, 2 (8 lanes each): pad, image (0, 0), image (0, 1).
        assert_eq!(&mc.input[..24], &mf.input[..24]);
        assert_eq!([mc.input[0], mc.input[8], mc.input[16]], [-7, 10, 11]);
    }
}

#[test]
fn load_im2col_without_conv_geom_is_an_error() {
    let cfg = cfg(Dataflow::OutputStationary, 1, 8, 2);
    let li = LoadIm2col {
        transpose: false,
        sp_line: 0,
        oy0: 0,
        ox0: 0,
        ky0: 0,
        kx0: 0,
        ic0: 0,
        nrows: 1,
        ncols: 1,
        pad_value: 0,
    };
    let cmds = [im2col_cmd(li), finish()];
    let mut mem = vec![0u8; 4096];
    let mut m = Machine::new(&cfg);
    let e = functional::execute(&cfg, &mut m, &mut mem, &cmds).unwrap_err();
    assert_eq!(e.index, 0);
    assert!(e.reason.contains("CONV_GEOM"), "{e}");
    let e = cycle::run(&cfg, &mut m, &mut mem, &cmds).unwrap_err();
    assert_eq!(e.index, 0);
    assert!(e.reason.contains("CONV_GEOM"), "{e}");
    // A window of an earlier run does not carry over into the next one.
    let g = Conv::random(&mut Rng(5), 0).g;
    functional::execute(&cfg, &mut m, &mut mem, &[geom_cmd(g), finish()]).unwrap();
    assert!(m.geom.is_some());
    assert!(functional::execute(&cfg, &mut m, &mut mem, &cmds).is_err());
    cycle::run(&cfg, &mut m, &mut mem, &[geom_cmd(g), finish()]).unwrap();
    assert!(cycle::run(&cfg, &mut m, &mut mem, &cmds).is_err());
}

/// Bank conflicts of LOAD_IM2COL beats: while a COMPUTE reads the A tile that a first
/// LOAD_IM2COL brought in (input lines 0..), a second LOAD_IM2COL writes the other half
/// of the input scratchpad. With one input bank every beat that meets a core read waits
/// (the core wins); with the halves in separate banks nothing conflicts. The data are the
/// functional model's either way; with N = 1 each conflict lengthens the DMA by exactly
/// one cycle (with N > 1 a stall can hide behind a later piece's latency).
#[test]
fn load_im2col_beats_lose_their_bank_to_the_core() {
    let g = ConvGeom {
        mem_addr: 0,
        in_h: 6,
        in_w: 6,
        in_c: 3,
        out_w: 6,
        kh: 3,
        kw: 3,
        sh: 1,
        sw: 1,
        dh: 1,
        dw: 1,
        pad_t: 1,
        pad_l: 1,
    };
    let w = Window::of(&g);
    let mem: Vec<u8> = (0..2048u32).map(|i| (i * 7 + 3) as u8).collect();
    for (banks, n) in [(1u32, 1u32), (1, 4), (2, 1), (2, 4)] {
        let mut cfg = cfg(Dataflow::OutputStationary, n, 8, 2);
        cfg.input_sram_banks = banks;
        cfg.validate().unwrap();
        let half = Machine::new(&cfg).in_lines as u32 / 2;
        let (a_tr, _) = cfg.dataflow.rules().load_transposes();
        let conv = Conv { g, out_h: 6 };
        let load = |m0: u64, line: u32| conv.load(m0, 0, 8, 27, a_tr, line, -1);
        let (l1, l2) = (load(0, 0), load(8, half));
        let mut first = im2col_cmd(l1);
        first.deps.push_next = true;
        let mut compute = Command::new(Op::Compute(arch::isa::Compute {
            accumulate: false,
            a_line: 0,
            b_line: 0,
            c_line: 0,
            m: 8,
            k: 27,
            n: 8,
        }));
        compute.deps.pop_prev = true;
        let cmds = [geom_cmd(g), first, compute, im2col_cmd(l2), finish()];
        let ((mf, _, cf), (mc, _, cc)) = both(&cfg, &mem, &cmds);
        let who = format!("{banks} input bank(s), N = {n}");
        assert_eq!(mf.input, mc.input, "{who}");
        assert_eq!(mf.acc, mc.acc, "{who}");
        assert_eq!(counts(&cf), counts(&cc), "{who}");
        let free = timing::CONV_GEOM_CYCLES
            + timing::load_im2col_cycles(&cfg, &w, &l1)
            + timing::load_im2col_cycles(&cfg, &w, &l2);
        if banks == 1 {
            assert!(cc.bank_conflict_cycles > 0, "{who}: no conflict");
            if n == 1 {
                assert_eq!(cc.dma_busy_cycles, free + cc.bank_conflict_cycles, "{who}");
            } else {
                assert!(cc.dma_busy_cycles >= free, "{who}");
                assert!(
                    cc.dma_busy_cycles <= free + cc.bank_conflict_cycles,
                    "{who}"
                );
            }
        } else {
            assert_eq!(cc.bank_conflict_cycles, 0, "{who}");
            assert_eq!(cc.dma_busy_cycles, free, "{who}");
        }
    }
}
