//! Whole GEMM programs with hardware im2col, built here from `arch::schedule` (the steps
//! and step plans the driver issues; A loads become `LOAD_IM2COL` at the tile origin,
//! one `CONV_GEOM` first), on random convolution geometries and configurations (every
//! dataflow, `dma_outstanding` 1..16, several bus widths and latencies, 1, 2 or 4 banks):
//!
//! - the functional and cycle-level models compute the exact convolution (int32 output
//!   compared with the explicit im2col matrix times B) and count the same bytes, MACs,
//!   commands, bus pieces and im2col pieces;
//! - the tile-level model (`sim::tile::estimate_tiling_with`) equals the cycle-level
//!   model in every counter whenever the run has no bank conflict (in particular always
//!   with >= 2 banks per scratchpad).
//!
//! The driver's own programs (`driver::gemm` with `GemmProblem.im2col`) are checked the
//! same way on the MLPerf Tiny layers in `driver/tests/sim_tile_vs_cycle.rs`.

mod common;
use arch::device::Counters;
use arch::im2col::Window;
use arch::isa::{Command, LoadParams, Op, Store, PARAM_RECORD_BYTES};
use arch::schedule::{self, Operand, Tiling};
use arch::{AccelConfig, Dataflow};
use common::{Conv, Rng};
use sim::machine::Machine;
use sim::{cycle, functional, tile};

/// Where the operands live.
struct Layout {
    image: u64,
    b: u64,
    params: u64,
    c: u64,
    end: u64,
}

/// The program of `conv` x B (`k x n`) with tiling `t`: CONV_GEOM, then the steps.
fn program(
    cfg: &AccelConfig,
    conv: &Conv,
    t: &Tiling,
    n: u64,
    int32: bool,
    l: &Layout,
    zp: i8,
) -> Vec<Command> {
    let w = Window::of(&conv.g);
    let mut g = conv.g;
    g.mem_addr = l.image as u32;
    let mut cmds = vec![Command::new(Op::ConvGeom(g))];
    let e = if int32 { 4 } else { 1 };
    for s in schedule::steps(t, !int32) {
        let plan = schedule::plan_step(cfg, t, &s);
        for ld in &plan.loads {
            match ld.operand {
                Operand::A => {
                    let mut li = ld.im2col_load(&w, 0);
                    li.pad_value = zp;
                    cmds.push(Command {
                        op: Op::LoadIm2col(li),
                        deps: ld.deps,
                    });
                }
                Operand::B => cmds.push(ld.command(l.b + ld.row0 * n + ld.col0, n)),
            }
        }
        cmds.extend(plan.computes);
        if let Some(pt) = plan.params {
            cmds.push(Command {
                op: Op::LoadParams(LoadParams {
                    mem_addr: (l.params + pt.col0 * PARAM_RECORD_BYTES as u64) as u32,
                    count: pt.count as u16,
                    zp_out: -3,
                    act_min: -128,
                    act_max: 127,
                }),
                deps: pt.deps,
            });
        }
        if let Some(st) = plan.store {
            cmds.push(Command {
                op: Op::Store(Store {
                    raw_int32: int32,
                    acc_line: st.acc_line as u32,
                    mem_addr: (l.c + (st.row0 * n + st.col0) * e) as u32,
                    mem_stride: (n * e) as u32,
                    nrows: st.nrows as u16,
                    ncols: st.ncols as u16,
                }),
                deps: st.deps,
            });
        }
    }
    cmds.push(Command::new(Op::Finish));
    cmds
}

fn random_cfg(r: &mut Rng, case: usize) -> AccelConfig {
    let mut c = AccelConfig::preset("edge-8x8").unwrap();
    c.dataflow = Dataflow::ALL[case % 3];
    c.rows = r.range(2, 8) as u32;
    c.cols = r.range(2, 8) as u32;
    c.im2col = true;
    c.dma_outstanding = [1, 2, 4, 16][r.range(0, 3) as usize];
    c.bus_bytes_per_cycle = [1, 2, 4, 8][r.range(0, 3) as usize];
    c.bus_latency_cycles = r.range(0, 12) as u32;
    c.input_sram_kib = r.range(1, 4) as u32;
    c.weight_sram_kib = r.range(1, 4) as u32;
    c.acc_sram_kib = r.range(1, 4) as u32;
    let banks = [1, 2, 4];
    c.input_sram_banks = banks[r.range(0, 2) as usize];
    c.weight_sram_banks = banks[r.range(0, 2) as usize];
    c.acc_sram_banks = banks[r.range(0, 2) as usize];
    c.name = format!("im2col-gemm-{case}");
    c.validate().unwrap();
    c
}

/// The timing and count counters the tile-level model must reproduce exactly.
fn all(c: &Counters) -> [u64; arch::device::NUM_COUNTERS] {
    c.to_array()
}

#[test]
fn random_im2col_gemms_exact_and_tile_equals_cycle() {
    let mut r = Rng(0x5eed_1617);
    let (mut compared, mut with_conflicts) = (0, 0);
    for case in 0..90 {
        let cfg = random_cfg(&mut r, case);
        let conv = Conv::random(&mut r, 0);
        let (m, k) = (conv.m(), conv.k());
        let n = r.range(1, 20);
        let int32 = case % 4 != 3;
        let zp = r.next() as i8;
        let t = match schedule::choose(&cfg, m, k, n) {
            Ok(t) => t,
            Err(e) => panic!("case {case}: {m}x{k}x{n} on {cfg:?}: {e}"),
        };
        let g = conv.g;
        let image_len = g.in_h as u64 * g.in_w as u64 * g.in_c as u64;
        let image = 64;
        let b = image + image_len.div_ceil(64) * 64 + 64;
        let params = b + (k * n).div_ceil(64) * 64 + 64;
        let c = params + n * PARAM_RECORD_BYTES as u64 + 64;
        let l = Layout {
            image,
            b,
            params,
            c,
            end: c + m * n * 4 + 64,
        };
        let mut mem: Vec<u8> = (0..l.end).map(|_| r.next() as u8).collect();
        for col in 0..n as usize {
            let rec = &mut mem[l.params as usize + col * PARAM_RECORD_BYTES..][..12];
            rec[4..8].copy_from_slice(&(1i32 << 30).to_le_bytes());
            rec[8..12].copy_from_slice(&(-(r.range(0, 8) as i32)).to_le_bytes());
        }
        let cmds = program(&cfg, &conv, &t, n, int32, &l, zp);
        for cmd in &cmds {
            cmd.check(&cfg)
                .unwrap_or_else(|e| panic!("case {case}: {cmd}: {e}"));
        }
        arch::hostcheck::check_buffer(&cfg, &mem, &cmds)
            .unwrap_or_else(|e| panic!("case {case}: {e}"));
        let who = format!(
            "case {case}: {m}x{k}x{n} {:?} on {}x{} {} N={} bus={} lat={} banks={:?}",
            conv.g,
            cfg.rows,
            cfg.cols,
            cfg.dataflow,
            cfg.dma_outstanding,
            cfg.bus_bytes_per_cycle,
            cfg.bus_latency_cycles,
            [
                cfg.input_sram_banks,
                cfg.weight_sram_banks,
                cfg.acc_sram_banks
            ]
        );
        let mut memf = mem.clone();
        let cf = functional::execute(&cfg, &mut Machine::new(&cfg), &mut memf, &cmds)
            .unwrap_or_else(|e| panic!("{who}: functional: {e}"));
        let mut memc = mem.clone();
        let cc = cycle::run(&cfg, &mut Machine::new(&cfg), &mut memc, &cmds)
            .unwrap_or_else(|e| panic!("{who}: cycle: {e}"));
        assert!(
            memf == memc,
            "{who}: functional and cycle-level memories differ"
        );
        if int32 {
            let a = conv.matrix(&mem[l.image as usize..][..image_len as usize], zp);
            let bm = &mem[l.b as usize..][..(k * n) as usize];
            for i in 0..m as usize {
                for j in 0..n as usize {
                    let want: i32 = (0..k as usize)
                        .map(|x| a[i * k as usize + x] as i32 * bm[x * n as usize + j] as i8 as i32)
                        .sum();
                    let at = l.c as usize + (i * n as usize + j) * 4;
                    let got = i32::from_le_bytes(memc[at..at + 4].try_into().unwrap());
                    assert_eq!(got, want, "{who}: C[{i}][{j}]");
                }
            }
        }
        let mut cf_counts = cf;
        cf_counts.cycles = cc.cycles;
        cf_counts.array_busy_cycles = cc.array_busy_cycles;
        cf_counts.dma_busy_cycles = cc.dma_busy_cycles;
        cf_counts.dma_stall_cycles = cc.dma_stall_cycles;
        cf_counts.bank_conflict_cycles = cc.bank_conflict_cycles;
        assert_eq!(
            all(&cf_counts),
            all(&cc),
            "{who}: functional vs cycle-level counts"
        );
        assert_eq!(cc.macs, m * k * n, "{who}");
        assert!(cc.im2col_pieces > 0, "{who}");
        let te = tile::estimate_tiling_with(&cfg, &t, int32, Some(&Window::of(&conv.g)));
        if cc.bank_conflict_cycles == 0 {
            assert_eq!(all(&te), all(&cc), "{who}: tile-level vs cycle-level");
            compared += 1;
        } else {
            let mut cc0 = cc;
            let mut te0 = te;
            for x in [&mut cc0, &mut te0] {
                x.cycles = 0;
                x.array_busy_cycles = 0;
                x.dma_busy_cycles = 0;
                x.dma_stall_cycles = 0;
                x.bank_conflict_cycles = 0;
            }
            assert_eq!(
                all(&te0),
                all(&cc0),
                "{who}: tile-level vs cycle-level counts"
            );
            assert!(
                [
                    cfg.input_sram_banks,
                    cfg.weight_sram_banks,
                    cfg.acc_sram_banks
                ]
                .contains(&1),
                "{who}: bank conflicts with >= 2 banks everywhere"
            );
            with_conflicts += 1;
        }
    }
    eprintln!("{compared} runs tile == cycle, {with_conflicts} with bank conflicts");
    assert!(compared >= 45, "only {compared} conflict-free runs");
}
