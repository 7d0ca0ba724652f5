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

/// ic on `cfg` with every supported layer offloaded (functional model): the run and the
/// CPU's output.
fn ic_run(cfg: &AccelConfig) -> (delegate::ModelRun, Vec<u8>) {
    let graph = models::builtin("ic").unwrap();
    let mut interp = Interpreter::new(&graph).unwrap();
    let input = input_for(&interp, 5);
    let want = interp.invoke(&input).unwrap();
    let mut dev = SimDevice::new(cfg, Fidelity::Functional, sim::device::DEFAULT_MEM_BYTES);
    let run = delegate::run_model(&mut interp, &mut dev, &cpu(), Policy::All, &input).unwrap();
    (run, want)
}

/// With the im2col unit, ic's 3x3 and strided 1x1 convs read their image through it: no
/// CPU im2col cycles, `im2col_pieces` counted; without it the same layers pay the CPU
/// im2col. Outputs equal the CPU's either way.
#[test]
fn conv_layers_use_the_im2col_unit_and_charge_no_cpu_im2col() {
    let (on, want) = ic_run(&AccelConfig::preset("edge-8x8-conv").unwrap());
    let (off, _) = ic_run(&AccelConfig::preset("edge-8x8").unwrap());
    assert_eq!(on.output, want);
    assert_eq!(off.output, want);
    let mut hw = 0;
    for ((d, l_on), l_off) in on.decisions.iter().zip(&on.layers).zip(&off.layers) {
        if d.op != "CONV_2D" {
            continue;
        }
        assert_eq!(d.placement, Placement::Accel, "{d:?}");
        if d.reason.contains("im2col unit") {
            hw += 1;
            assert_eq!(l_on.cpu_cycles, 0, "{d:?}");
            assert!(l_off.cpu_cycles > 0, "{d:?}");
            assert!(l_on.device_counters.im2col_pieces > 0, "{d:?}");
        } else {
            // Pointwise stride-1: the input is A on both designs.
            assert!(d.reason.starts_with("1x1"), "{d:?}");
            assert_eq!((l_on.cpu_cycles, l_off.cpu_cycles), (0, 0));
            assert_eq!(l_on.device_counters.im2col_pieces, 0);
        }
        assert_eq!(l_on.device_counters.macs, l_off.device_counters.macs);
    }
    // ic: seven 3x3 convs and two strided 1x1 convs.
    assert_eq!(hw, 9);
}

/// A GEMM through `gemm::run` with hardware im2col (image written, CONV_GEOM +
/// LOAD_IM2COL, non-zero pad value) equals the reference on both simulator models, and
/// both models count the same pieces, bytes and bursts.
#[test]
fn im2col_gemm_runs_equal_the_reference_on_both_models() {
    use arch::im2col::Window;
    use driver::gemm::{self, GemmData, GemmProblem, MemLayout};
    let w = Window {
        in_h: 11,
        in_w: 9,
        in_c: 5,
        out_w: 4,
        kh: 3,
        kw: 2,
        sh: 2,
        sw: 3,
        dh: 2,
        dw: 2,
        pad_t: 2,
        pad_l: 1,
    };
    let out_h = (11 + 2 * 2 - 2 * 2 - 1) / 2 + 1;
    let p = GemmProblem {
        im2col: Some(w),
        ..GemmProblem::int8(out_h * 4, w.patch_len() as usize, 13, -3)
    };
    let image: Vec<i8> = (0..w.image_bytes())
        .map(|i| (i * 29 % 255) as u8 as i8)
        .collect();
    let b: Vec<i8> = (0..p.k * p.n).map(|i| (i * 13 % 251) as u8 as i8).collect();
    let bias: Vec<i32> = (0..p.n as i32).map(|j| j * 100 - 500).collect();
    let mult = vec![1 << 30; p.n];
    let shift = vec![-6; p.n];
    let d = GemmData {
        a: &image,
        b: &b,
        bias: &bias,
        mult: &mult,
        shift: &shift,
    };
    let want = gemm::reference_padded(&p, &d, 17).unwrap();
    assert_ne!(
        want,
        gemm::reference(&p, &d).unwrap(),
        "the pad value matters"
    );
    let mut counters = Vec::new();
    for outstanding in [1, 4] {
        let mut cfg = AccelConfig::preset("tiny-4x4").unwrap();
        cfg.im2col = true;
        cfg.dma_outstanding = outstanding;
        for model in [Fidelity::Functional, Fidelity::Cycle] {
            let mut layout = MemLayout::packed(&p, 256);
            layout.a_pad = 17;
            let mut dev = SimDevice::new(&cfg, model, 1 << 20);
            let (got, c) = gemm::run(&mut dev, &p, &d, &layout).unwrap();
            assert_eq!(got, want, "N = {outstanding} {model:?}");
            assert!(c.im2col_pieces > 0);
            counters.push((c.im2col_pieces, c.bus_read_bytes, c.dma_bursts));
        }
    }
    // Functional and cycle-level models count alike (the tiling may differ with N).
    assert!(counters.chunks(2).all(|x| x[0] == x[1]), "{counters:?}");
}

/// Corrupting the CONV_GEOM of an im2col layer (its top padding) changes the output: the
/// layer really is computed from the window registers.
#[test]
fn corrupting_the_conv_geometry_changes_the_output() {
    let graph = models::builtin("ic").unwrap();
    let mut interp = Interpreter::new(&graph).unwrap();
    let input = input_for(&interp, 9);
    let want = interp.invoke(&input).unwrap();
    let cfg = AccelConfig::preset("edge-8x8-conv").unwrap();
    let cpu = cpu();
    let prepared_owned: Vec<PreparedOp> = (0..graph.ops.len())
        .map(|i| interp.prepared(i).unwrap().clone())
        .collect();
    let prepared: Vec<&PreparedOp> = prepared_owned.iter().collect();
    let decisions = delegate::plan(&graph, &prepared, &cfg, &cpu, Policy::All);
    let hw = decisions
        .iter()
        .find(|d| d.reason.contains("im2col unit"))
        .expect("an im2col layer")
        .index;
    for corrupt in [false, true] {
        let mut dev = SimDevice::new(&cfg, Fidelity::Functional, sim::device::DEFAULT_MEM_BYTES);
        let mut del =
            AccelDelegate::load(&graph, &prepared, decisions.clone(), &mut dev, &cpu).unwrap();
        let job = del.jobs(hw).unwrap()[0].clone();
        let dev = del.device();
        let mut buf = vec![0u8; job.commands as usize * COMMAND_BYTES];
        dev.read_mem(job.layout.cmd_addr, &mut buf).unwrap();
        let mut cmds = arch::isa::decode_all(&buf).unwrap();
        match &mut cmds[0].op {
            Op::ConvGeom(g) => {
                assert_eq!(g.mem_addr as u64, job.layout.a_addr);
                if corrupt {
                    g.pad_t = 0;
                }
            }
            o => panic!("first command of an im2col layer: {o:?}"),
        }
        let bytes: Vec<u8> = cmds.iter().flat_map(Command::encode).collect();
        dev.write_mem(job.layout.cmd_addr, &bytes).unwrap();
        let got = interp.invoke_with(&input, &mut del).unwrap();
        if corrupt {
            assert_ne!(got, want, "a wrong window did not change the output");
        } else {
            assert_eq!(got, want);
        }
    }
}
