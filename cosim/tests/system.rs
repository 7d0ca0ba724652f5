//! System co-simulation: the whole accelerator's RTL (Verilator, `hdl::sysflow`) against
//! the cycle-level simulator on driver-generated programs, byte for byte and counter for
//! counter, on tiny-4x4 and edge-8x8 in both dataflows; model layers on the RTL give the
//! TFLite-Micro golden output; the comparison does detect a corrupted image; bad buffers
//! fail on the RTL device as on the simulator. (The same through the CLI:
//! `tests/hdl_cli.rs` of the root package.) Needs `verilator` (`make deps`)
//! and the MLPerf Tiny goldens in `../shared/models/mlperf_tiny` (fails clearly if either
//! is missing). Verilator builds are cached per config (`$XDG_CACHE_HOME/tinyaccel/
//! verilator/system`); a cold run builds four testbenches of ~10 s each.

use anyhow::{bail, ensure, Context, Result};
use arch::device::{Device, DeviceError};
use arch::isa::{Command as Cmd, Compute, Deps, Op};
use arch::{AccelConfig, Dataflow};
use cosim::gemm::{run_gemm_case, verify_gemms};
use cosim::gen::{coverage_cases, random_data};
use cosim::layers::{verify_model, ModelSpec};
use cosim::system::{verify_system, Options};
use cosim::tee::TeeDevice;
use hdl::rtl_device::RtlDevice;
use sim::{Fidelity, SimDevice};
use std::path::{Path, PathBuf};

const MEM: usize = sim::device::DEFAULT_MEM_BYTES;

fn shared() -> PathBuf {
    models::mlperf_tiny::locate(Path::new(env!("CARGO_MANIFEST_DIR")))
}

/// The reference `.tflite` of a model (the built-ins have the same layers but seeded
/// weights, so only the real files give the golden outputs).
fn tflite(model: &str) -> Result<PathBuf> {
    let Some(file) = models::mlperf_tiny::reference_file(model) else {
        bail!("no reference model `{model}`");
    };
    let p = shared().join(file);
    ensure!(
        p.is_file(),
        "reference model missing at {} (the MLPerf Tiny models, see its README.md)",
        p.display()
    );
    Ok(p)
}

fn golden_dir(model: &str) -> Result<PathBuf> {
    let d = shared().join("golden").join(model);
    ensure!(
        d.is_dir(),
        "golden data missing at {} (the MLPerf Tiny models and TFLM goldens, see its README.md)",
        d.display()
    );
    Ok(d)
}

/// `(input, golden output, run name)`.
type GoldenRun = (Vec<u8>, Vec<u8>, String);

/// Every golden run of `model`.
fn golden_runs(model: &str) -> Result<Vec<GoldenRun>> {
    Ok(models::mlperf_tiny::golden_runs(&golden_dir(model)?)?
        .into_iter()
        .map(|r| (r.input, r.output, r.name))
        .collect())
}

fn config(preset: &str, df: Dataflow) -> AccelConfig {
    let mut c = AccelConfig::preset(preset).expect("preset");
    c.dataflow = df;
    c
}

/// The coverage GEMMs, `random` random ones and the first `ad_layers` layers of ad on
/// the RTL and the simulator: everything exact, and the double-buffered programs do
/// overlap DMA and compute.
fn co_simulate(preset: &str, df: Dataflow, random: usize, ad_layers: Option<usize>) -> Result<()> {
    co_simulate_cfg(&config(preset, df), random, ad_layers)
}

/// [`co_simulate`] on any configuration; with the im2col unit, the convolution programs
/// (hardware im2col) are among them, run LOAD_IM2COL pieces (bus and pad) on the RTL, and
/// with `dma_outstanding > 1` the pipelined DMA is faster than one request at a time.
fn co_simulate_cfg(cfg: &AccelConfig, random: usize, ad_layers: Option<usize>) -> Result<()> {
    let cfg = cfg.clone();
    let (preset, df) = (cfg.name.clone(), cfg.dataflow);
    let mut opts = Options::default_set(7, random);
    opts.models = vec![ModelSpec {
        model: "ad".into(),
        layers: ad_layers,
        input: None,
    }];
    let r = verify_system(&cfg, &opts)
        .with_context(|| format!("{preset} {df}: system verification"))?;
    let bad: Vec<String> = r
        .programs
        .iter()
        .filter(|p| !p.ok())
        .map(|p| {
            format!(
                "{}: {:?} (reference ok: {:?})",
                p.name, p.mismatch, p.reference_ok
            )
        })
        .collect();
    ensure!(
        bad.is_empty(),
        "{preset} {df}: {} of {} programs differ:\n{}",
        bad.len(),
        r.programs.len(),
        bad.join("\n")
    );
    ensure!(r.all_ok(), "{preset} {df}: {}", r.to_text());
    ensure!(
        r.rtl_runs as usize >= r.programs.len(),
        "every program ran on the RTL"
    );
    for p in &r.programs {
        ensure!(
            p.rtl_cycles == p.sim_cycles && p.sim_cycles > 0 && p.mem_bytes > 0,
            "{}: {p:?}",
            p.name
        );
        // The analytic bound: at most rows*cols MACs per cycle.
        let peak = (cfg.rows * cfg.cols) as u64;
        ensure!(
            p.rtl_counters.macs <= peak * p.rtl_cycles,
            "{}: MAC bound",
            p.name
        );
    }
    if cfg.im2col {
        let convs: Vec<_> = r
            .programs
            .iter()
            .filter(|p| p.name.starts_with("conv") || p.name.starts_with("random-conv"))
            .collect();
        ensure!(
            convs.len() >= 7 + random / 2,
            "{preset}: {} conv programs",
            convs.len()
        );
        for p in &convs {
            let c = &p.rtl_counters;
            ensure!(
                c.im2col_pieces > 0 && c.dma_bursts > 0,
                "{}: no LOAD_IM2COL pieces on the RTL ({c:?})",
                p.name
            );
        }
    }
    if cfg.has_vpu() {
        // The vector-unit programs: exact (above), the output the contract's, the unit
        // busy, every mode of the configuration.
        let vpu: Vec<_> = r.programs.iter().filter(|p| p.kind == "vpu").collect();
        ensure!(
            vpu.len() > random,
            "{preset}: {} vector-unit programs",
            vpu.len()
        );
        for p in &vpu {
            ensure!(
                p.reference_ok == Some(true) && p.rtl_counters.vpu_busy_cycles > 0,
                "{}: {:?} {:?}",
                p.name,
                p.reference_ok,
                p.rtl_counters
            );
        }
        for m in cosim::vpu::modes_of(&cfg) {
            ensure!(
                vpu.iter().any(|p| p.shape.contains(m.name())),
                "{preset}: no {} program",
                m.name()
            );
        }
    }
    if cfg.dma_outstanding > 1 {
        // The same program (a forced tiling) with one request at a time keeps the DMA
        // engine busy longer (on the simulator).
        let mut serial = cfg.clone();
        serial.dma_outstanding = 1;
        let p = r
            .programs
            .iter()
            .find(|p| p.name == "double-buffered-m-outer")
            .context("program double-buffered-m-outer missing")?;
        let case = coverage_cases(&serial)
            .into_iter()
            .find(|k| k.name == "double-buffered-m-outer")
            .context("case double-buffered-m-outer")?;
        ensure!(case.tiling.is_some(), "a forced tiling");
        let ops = random_data(&case.problem, &mut hdl::cases::Rng::new(1));
        let mut dev = SimDevice::new(&serial, Fidelity::Cycle, MEM);
        let (_, q) = run_gemm_case(&mut dev, &case, &ops.data()).map_err(anyhow::Error::msg)?;
        ensure!(
            p.rtl_counters.dma_busy_cycles < q.dma_busy_cycles,
            "{preset}: N = {} DMA busy {} cycles, N = 1 {}",
            cfg.dma_outstanding,
            p.rtl_counters.dma_busy_cycles,
            q.dma_busy_cycles
        );
    }
    for name in [
        "double-buffered-m-outer",
        "double-buffered-n-outer",
        "default-tiling-large",
    ] {
        let p = r
            .programs
            .iter()
            .find(|p| p.name == name)
            .with_context(|| format!("program {name} missing"))?;
        let c = &p.rtl_counters;
        ensure!(
            c.cycles < c.array_busy_cycles + c.dma_busy_cycles,
            "{name}: no overlap of loads and compute ({c:?})"
        );
    }
    Ok(())
}

#[test]
fn tiny_4x4_os_system_exact() -> Result<()> {
    co_simulate("tiny-4x4", Dataflow::OutputStationary, 8, None)
}

#[test]
fn tiny_4x4_ws_system_exact() -> Result<()> {
    co_simulate("tiny-4x4", Dataflow::WeightStationary, 8, Some(3))
}

#[test]
fn tiny_4x4_is_system_exact() -> Result<()> {
    co_simulate("tiny-4x4", Dataflow::InputStationary, 4, Some(2))
}

#[test]
fn edge_8x8_os_system_exact() -> Result<()> {
    co_simulate("edge-8x8", Dataflow::OutputStationary, 6, Some(3))
}

#[test]
fn edge_8x8_ws_system_exact() -> Result<()> {
    co_simulate("edge-8x8", Dataflow::WeightStationary, 6, None)
}

/// The whole ad model with every layer compared on the RTL gives the golden output, and
/// the first offloaded layer of kws and ic and the first two of vww (conv, depthwise) are
/// exact on the golden inputs.
#[test]
fn edge_8x8_conv_system_exact() -> Result<()> {
    let cfg = AccelConfig::preset("edge-8x8-conv").context("preset edge-8x8-conv")?;
    ensure!(cfg.im2col && cfg.dma_outstanding == 4);
    co_simulate_cfg(&cfg, 8, Some(4))
}

/// The whole ad and ic models on edge-8x8-conv (ic's convolutions with hardware im2col,
/// pipelined DMA everywhere): every offloaded layer's command buffer on the RTL and the
/// simulator, byte- and counter-exact, and the output equal to the CPU interpreter's.
/// (About 2 s of RTL each; `tinyaccel run ic --accel edge-8x8-conv --backend rtl`.)
/// The vector unit against the cycle-level simulator: edge-8x8-tinyml (all three modes,
/// im2col, 4 requests in flight): coverage + 8 random GEMMs, the vector-unit coverage set
/// and 8 random vector-unit programs, two ad layers; byte- and counter-exact.
#[test]
fn edge_8x8_tinyml_system_exact() -> Result<()> {
    let cfg = AccelConfig::preset("edge-8x8-tinyml").context("preset edge-8x8-tinyml")?;
    ensure!(cfg.depthwise && cfg.pooling && cfg.eltwise);
    co_simulate_cfg(&cfg, 8, Some(2))
}

/// The vector unit in the weight- and input-stationary systems with one bank per input
/// and weight scratchpad (the loads of a program's second phase lose bank conflicts to
/// the unit's reads; the simulator must count the same cycles), exact.
#[test]
fn vpu_single_bank_ws_and_is_system_exact() -> Result<()> {
    for (df, f) in [
        (Dataflow::WeightStationary, (true, true, true)),
        (Dataflow::InputStationary, (false, true, true)),
    ] {
        let mut cfg = config("tiny-4x4", df);
        (cfg.depthwise, cfg.pooling, cfg.eltwise) = f;
        cfg.input_sram_banks = 1;
        cfg.weight_sram_banks = 1;
        cfg.name = format!("tiny-4x4-vpu-1bank-{}", df.short_name());
        let mut opts = Options::default_set(11, 6);
        opts.models = Vec::new();
        let r = verify_system(&cfg, &opts).with_context(|| cfg.name.clone())?;
        ensure!(r.all_ok(), "{}: {}", cfg.name, r.to_text());
        let vpu: Vec<_> = r.programs.iter().filter(|p| p.kind == "vpu").collect();
        ensure!(vpu.len() >= 6, "{}: {} programs", cfg.name, vpu.len());
        let conflicts: u64 = vpu
            .iter()
            .map(|p| p.rtl_counters.bank_conflict_cycles)
            .sum();
        ensure!(conflicts > 0, "{}: no bank conflicts", cfg.name);
        for p in &vpu {
            ensure!(p.reference_ok == Some(true), "{}: {:?}", p.name, p.mismatch);
        }
    }
    Ok(())
}

#[test]
fn whole_ad_and_ic_on_edge_8x8_conv_equal_the_simulator() -> Result<()> {
    let cfg = AccelConfig::preset("edge-8x8-conv").context("preset edge-8x8-conv")?;
    let build = hdl::sysflow::build(&cfg, MEM as u64)?;
    for model in ["ad", "ic"] {
        let spec = ModelSpec {
            model: model.into(),
            layers: None,
            input: None,
        };
        let rtl = RtlDevice::with_build(build.clone());
        let (reps, check, rtl) = verify_model(&cfg, rtl, &spec, 3, MEM)?;
        ensure!(
            check.output_matches_cpu(),
            "{model}: output differs from the CPU's"
        );
        ensure!(
            check.offloaded_layers == 10
                && check.compared_layers == 10
                && check.compared_starts == check.total_starts,
            "{model}: {check:?}"
        );
        for p in &reps {
            ensure!(p.ok(), "{model} {}: {:?}", p.name, p.mismatch);
            ensure!(p.rtl_cycles == p.sim_cycles && p.sim_cycles > 0, "{p:?}");
        }
        let pieces: u64 = reps.iter().map(|p| p.rtl_counters.im2col_pieces).sum();
        // ic's convolutions use the im2col unit; ad is all fully-connected layers.
        ensure!(
            (pieces > 0) == (model == "ic"),
            "{model}: {pieces} im2col pieces"
        );
        ensure!(
            rtl.rtl_totals().0 as usize == check.total_starts,
            "{model}: RTL runs"
        );
    }
    Ok(())
}

#[test]
fn ws_im2col_two_outstanding_system_exact() -> Result<()> {
    let mut cfg = config("edge-8x8", Dataflow::WeightStationary);
    cfg.name = "edge-8x8-ws-im2col-n2".into();
    cfg.im2col = true;
    cfg.dma_outstanding = 2;
    co_simulate_cfg(&cfg, 8, Some(3))
}

#[test]
fn is_im2col_four_outstanding_system_exact() -> Result<()> {
    let mut cfg = config("tiny-4x4", Dataflow::InputStationary);
    cfg.name = "tiny-4x4-is-im2col-n4".into();
    cfg.im2col = true;
    cfg.dma_outstanding = 4;
    co_simulate_cfg(&cfg, 8, Some(3))
}

#[test]
fn model_layers_on_the_rtl_give_the_golden_output() -> Result<()> {
    let cfg = config("tiny-4x4", Dataflow::OutputStationary);
    let build = hdl::sysflow::build(&cfg, MEM as u64)?;
    for (name, layers) in [
        ("ad", None),
        ("kws", Some(1)),
        ("vww", Some(2)),
        ("ic", Some(1)),
    ] {
        let (input, golden, run) = golden_runs(name)?.remove(0);
        let spec = ModelSpec {
            model: tflite(name)?.display().to_string(),
            layers,
            input: Some(input),
        };
        let rtl = RtlDevice::with_build(build.clone());
        let (reps, m, _) = verify_model(&cfg, rtl, &spec, 1, MEM)?;
        for p in &reps {
            ensure!(p.ok(), "{name}/{run}: {}: {:?}", p.name, p.mismatch);
        }
        ensure!(
            m.compared_layers >= 1 && m.compared_starts >= 1,
            "{name}: nothing compared"
        );
        if layers.is_none() {
            ensure!(
                m.compared_layers == m.offloaded_layers && m.compared_starts == m.total_starts,
                "{name}: every layer on the RTL"
            );
        }
        ensure!(
            m.output_matches_cpu(),
            "{name}/{run}: output differs from the CPU"
        );
        ensure!(
            m.output == golden,
            "{name}/{run}: output differs from the golden"
        );
    }
    Ok(())
}

/// The comparison can fail: a corrupted RTL image, a corrupted expectation and a slower
/// simulated bus are all reported.
#[test]
fn corrupted_images_are_detected() -> Result<()> {
    let cfg = config("tiny-4x4", Dataflow::OutputStationary);
    let build = hdl::sysflow::build(&cfg, MEM as u64)?;
    let case = coverage_cases(&cfg)
        .into_iter()
        .find(|c| c.name == "double-buffered-m-outer")
        .context("case")?;
    let layout = driver::gemm::MemLayout::packed(&case.problem, 0);
    let ops = random_data(&case.problem, &mut hdl::cases::Rng::new(2));
    // A flipped operand byte in the RTL's image.
    let mut tee = TeeDevice::new(
        SimDevice::new(&cfg, Fidelity::Cycle, MEM),
        RtlDevice::with_build(build.clone()),
        None,
    );
    tee.corrupt_next_shadow_image(layout.b_addr + 3);
    run_gemm_case(&mut tee, &case, &ops.data()).map_err(anyhow::Error::msg)?;
    let r = &tee.records()[0];
    let d = r.mem_diff.context("a corrupted image must be detected")?;
    ensure!(d.addr == layout.b_addr + 3 && d.count > 1, "{d:?}");
    ensure!(r.counter_diff.is_none(), "same timing: {}", r.describe());
    // Identical images agree (the check is not trivially failing).
    run_gemm_case(&mut tee, &case, &ops.data()).map_err(anyhow::Error::msg)?;
    ensure!(tee.records()[1].ok(), "{}", tee.records()[1].describe());
    // A wrong expectation: the simulator with a slower bus.
    let mut slow = cfg.clone();
    slow.bus_latency_cycles += 1;
    let (reps, _) = verify_gemms(
        &slow,
        RtlDevice::with_build(build),
        std::slice::from_ref(&case),
        1,
        MEM,
        &mut |_| {},
    );
    let m = reps[0].mismatch.as_deref().unwrap_or("");
    ensure!(m.contains("counter cycles differs"), "`{m}`");
    Ok(())
}

/// Bad buffers give the same errors on the RTL device as on the simulator.
#[test]
fn rtl_device_errors_match_the_simulator() -> Result<()> {
    let cfg = config("tiny-4x4", Dataflow::WeightStationary);
    let mut rtl = RtlDevice::new(&cfg, MEM)?;
    let mut sim = SimDevice::new(&cfg, Fidelity::Cycle, MEM);
    let compute = |deps: Deps| Cmd {
        op: Op::Compute(Compute {
            accumulate: false,
            a_line: 0,
            b_line: 0,
            c_line: 0,
            m: 4,
            k: 4,
            n: 4,
        }),
        deps,
    };
    let no_finish = arch::isa::encode_all(&[compute(Deps::NONE)]);
    let waits_forever = arch::isa::encode_all(&[
        compute(Deps {
            pop_prev: true,
            ..Deps::NONE
        }),
        Cmd::new(Op::Finish),
    ]);
    let garbage = [0xEEu8; 32];
    for (what, buf) in [
        ("no FINISH", &no_finish[..]),
        ("deadlock", &waits_forever[..]),
        ("garbage", &garbage[..]),
    ] {
        let s = sim.submit(4096, buf);
        let r = rtl.submit(4096, buf);
        match (&s, &r) {
            (
                Err(DeviceError::Command { index: i, .. }),
                Err(DeviceError::Command { index: j, .. }),
            ) => {
                ensure!(i == j, "{what}: simulator {s:?}, RTL {r:?}")
            }
            _ => bail!("{what}: both must fail at the same command: simulator {s:?}, RTL {r:?}"),
        }
        ensure!(
            sim.read_reg(arch::device::reg::ERR_INDEX)?
                == rtl.read_reg(arch::device::reg::ERR_INDEX)?,
            "{what}: ERR_INDEX"
        );
        let status = rtl.read_reg(arch::device::reg::STATUS)?;
        ensure!(status & 6 == 6, "{what}: STATUS {status:#x}");
    }
    // A good buffer after errors still runs, and the counters accumulate.
    let ok = arch::isa::encode_all(&[compute(Deps::NONE), Cmd::new(Op::Finish)]);
    let a = rtl.submit(4096, &ok)?;
    let b = sim.submit(4096, &ok)?;
    ensure!(a == b, "RTL {a:?}, simulator {b:?}");
    ensure!(rtl.counters()? == a, "counters over MMIO");
    Ok(())
}

/// Input-stationary on the system RTL, without the simulator: a hand-written program
/// (transposing LOADs of A and of B into the weight scratchpad, two accumulating COMPUTEs
/// with m < rows, the second with k < cols, n > cols not a multiple of cols, a raw int32
/// STORE) gives the wrapping int32 GEMM, and the array is busy exactly
/// `arch::timing::is_tile_cycles` per COMPUTE, with the contract's scratchpad bytes.
#[test]
fn input_stationary_program_on_the_system_rtl_matches_the_reference() -> Result<()> {
    use arch::isa::{Load, Scratchpad, Store};
    for (rows, cols) in [(4u32, 4u32), (6, 4), (3, 5)] {
        let mut cfg = config("tiny-4x4", Dataflow::InputStationary);
        cfg.name = format!("is-{rows}x{cols}");
        cfg.rows = rows;
        cfg.cols = cols;
        cfg.validate()
            .map_err(|e| anyhow::anyhow!("{}: {e:?}", cfg.name))?;
        let (r, c) = (rows as usize, cols as usize);
        let (m, k, n) = (r - 1, c + c / 2 + 1, 2 * c + 3);
        let k2 = k - c;
        let mut seed = 0x1234_5678u64 + rows as u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as u8
        };
        let mut a: Vec<u8> = (0..m * k).map(|_| next()).collect();
        let b: Vec<u8> = (0..k * n).map(|_| next()).collect();
        a[0] = 0x80; // -128
        let (a_addr, b_addr, c_addr, cmd_base) = (0x1000u32, 0x2000u32, 0x4000u32, 0x100u32);
        let load = |sp, addr: u32, nrows: usize, ncols: usize, deps| Cmd {
            op: Op::Load(Load {
                sp,
                transpose: true,
                sp_line: 0,
                mem_addr: addr,
                mem_stride: ncols as u32,
                nrows: nrows as u16,
                ncols: ncols as u16,
            }),
            deps,
        };
        let compute = |kk: usize, a_line: usize, b_line: usize, acc: bool, deps| Cmd {
            op: Op::Compute(Compute {
                accumulate: acc,
                a_line: a_line as u32,
                b_line: b_line as u32,
                c_line: 0,
                m: m as u16,
                k: kk as u16,
                n: n as u16,
            }),
            deps,
        };
        let cmds = vec![
            load(Scratchpad::Input, a_addr, m, k, Deps::NONE),
            load(
                Scratchpad::Weight,
                b_addr,
                k,
                n,
                Deps {
                    push_next: true,
                    ..Deps::NONE
                },
            ),
            compute(
                c,
                0,
                0,
                false,
                Deps {
                    pop_prev: true,
                    ..Deps::NONE
                },
            ),
            compute(
                k2,
                c,
                n,
                true,
                Deps {
                    push_next: true,
                    ..Deps::NONE
                },
            ),
            Cmd {
                op: Op::Store(Store {
                    raw_int32: true,
                    acc_line: 0,
                    mem_addr: c_addr,
                    mem_stride: 4 * n as u32,
                    nrows: m as u16,
                    ncols: n as u16,
                }),
                deps: Deps {
                    pop_prev: true,
                    ..Deps::NONE
                },
            },
            Cmd::new(Op::Finish),
        ];
        for cmd in &cmds {
            cmd.check(&cfg)
                .map_err(|e| anyhow::anyhow!("{cfg:?}: {cmd}: {e}"))?;
        }
        let mut mem = vec![0u8; 0x8000];
        mem[a_addr as usize..][..a.len()].copy_from_slice(&a);
        mem[b_addr as usize..][..b.len()].copy_from_slice(&b);
        let buf = arch::isa::encode_all(&cmds);
        mem[cmd_base as usize..][..buf.len()].copy_from_slice(&buf);
        let model = hdl::sysflow::build(&cfg, mem.len() as u64)?;
        let window = hdl::sysflow::write_window(&cmds, mem.len() as u64);
        let run = model.run(&mem, cmd_base, cmds.len() as u32, window, 200_000)?;
        ensure!(
            run.status & 6 == 2 && !run.timeout && run.proto_errors == 0,
            "{}: status {:#x}, timeout {}, bus protocol errors {}",
            cfg.name,
            run.status,
            run.timeout,
            run.proto_errors
        );
        for i in 0..m {
            for col in 0..n {
                let want = (0..k).fold(0i32, |s, kk| {
                    s.wrapping_add(a[i * k + kk] as i8 as i32 * b[kk * n + col] as i8 as i32)
                });
                let at = c_addr as usize + 4 * (i * n + col);
                let got = i32::from_le_bytes(run.mem[at..at + 4].try_into()?);
                ensure!(
                    got == want,
                    "{}: C[{i}][{col}] = {got}, want {want}",
                    cfg.name
                );
            }
        }
        let ct = &run.counters;
        let nb = n.div_ceil(c) as u64;
        let (r, c, m, n) = (r as u64, c as u64, m as u64, n as u64);
        ensure!(
            ct.array_busy_cycles == 2 * arch::timing::is_tile_cycles(&cfg, n),
            "{}: array busy {} cycles, the contract says 2 x {}",
            cfg.name,
            ct.array_busy_cycles,
            arch::timing::is_tile_cycles(&cfg, n)
        );
        ensure!(
            ct.macs == m * k as u64 * n,
            "{}: macs {}",
            cfg.name,
            ct.macs
        );
        ensure!(
            ct.input_sp_read_bytes == k as u64 * r,
            "{}: input scratchpad reads {}",
            cfg.name,
            ct.input_sp_read_bytes
        );
        ensure!(
            ct.weight_sp_read_bytes == 2 * n * c,
            "{}: weight scratchpad reads {}",
            cfg.name,
            ct.weight_sp_read_bytes
        );
        ensure!(
            ct.acc_sp_write_bytes == 2 * nb * m * 4 * c,
            "{}: accumulator writes {}",
            cfg.name,
            ct.acc_sp_write_bytes
        );
        // The second COMPUTE reads its lines back (ACCUMULATE), the STORE reads them all.
        ensure!(
            ct.acc_sp_read_bytes == 2 * nb * m * 4 * c,
            "{}: accumulator reads {}",
            cfg.name,
            ct.acc_sp_read_bytes
        );
    }
    Ok(())
}

/// The RTL itself (no host check: `SystemBuild::run` on a raw buffer) without the im2col
/// unit stops the fetch at `CONV_GEOM` / `LOAD_IM2COL` with error code 1 (bad opcode),
/// like an unknown opcode; with the unit it runs them: a `CONV_GEOM` and two
/// `LOAD_IM2COL`s (padded 3x3 stride-2 window, tiles starting mid-row and mid-kernel)
/// take `CONV_GEOM_CYCLES` plus `arch::timing::load_im2col_cycles` each with N = 1 and
/// N = 4 (no compute, so no bank conflicts), and count their pieces, bursts and bus bytes
/// as `arch::im2col::summary` says; an unknown opcode (7) is still a bad opcode.
#[test]
fn im2col_commands_on_the_rtl_alone() -> Result<()> {
    use arch::im2col::{summary, Window};
    use arch::isa::{ConvGeom, LoadIm2col};
    let geom = ConvGeom {
        mem_addr: 1024,
        in_h: 9,
        in_w: 7,
        in_c: 5,
        out_w: 4,
        kh: 3,
        kw: 3,
        sh: 2,
        sw: 2,
        dh: 1,
        dw: 1,
        pad_t: 1,
        pad_l: 1,
    };
    let w = Window::of(&geom);
    let tile = |ox0, ky0, kx0, ic0, nrows, ncols| LoadIm2col {
        transpose: false,
        sp_line: 0,
        oy0: 0,
        ox0,
        ky0,
        kx0,
        ic0,
        nrows,
        ncols,
        pad_value: -3,
    };
    let loads = [tile(1, 0, 1, 2, 7, 30), tile(3, 1, 2, 4, 9, 6)];
    let mut cmds = vec![Cmd::new(Op::ConvGeom(geom))];
    cmds.extend(loads.iter().map(|l| Cmd::new(Op::LoadIm2col(*l))));
    cmds.push(Cmd::new(Op::Finish));
    let buf = arch::isa::encode_all(&cmds);
    let mut mem = vec![0u8; 1024 + w.image_bytes() as usize];
    mem[..buf.len()].copy_from_slice(&buf);
    let mut bad_op = buf.clone();
    bad_op[16] = (bad_op[16] & 0xF0) | 7;

    let plain = config("tiny-4x4", Dataflow::OutputStationary);
    let b = hdl::sysflow::build(&plain, 1 << 16)?;
    let r = b.run(&mem, 0, cmds.len() as u32, (0, 0), 100_000)?;
    ensure!(
        r.is_error() && r.error_code() == hdl::system::ERR_OPCODE && r.err_index == 0,
        "without the unit: {r:?}"
    );
    for n in [1u32, 4] {
        let mut cfg = plain.clone();
        cfg.im2col = true;
        cfg.dma_outstanding = n;
        let b = hdl::sysflow::build(&cfg, 1 << 16)?;
        let r = b.run(&mem, 0, cmds.len() as u32, (0, 0), 100_000)?;
        ensure!(
            !r.is_error() && !r.timeout && r.proto_errors == 0,
            "N = {n}: {r:?}"
        );
        let want: u64 = arch::timing::CONV_GEOM_CYCLES
            + loads
                .iter()
                .map(|l| arch::timing::load_im2col_cycles(&cfg, &w, l))
                .sum::<u64>();
        let c = &r.counters;
        ensure!(
            c.cycles == want,
            "N = {n}: {} cycles, contract {want}",
            c.cycles
        );
        let s: Vec<_> = loads.iter().map(|l| summary(&w, l)).collect();
        ensure!(
            c.im2col_pieces == s.iter().map(|x| x.pieces).sum::<u64>()
                && c.dma_bursts == s.iter().map(|x| x.bus_pieces).sum::<u64>()
                && c.bus_read_bytes == s.iter().map(|x| x.bus_bytes).sum::<u64>()
                && c.commands == cmds.len() as u64
                && c.dma_busy_cycles == want,
            "N = {n}: {c:?} vs {s:?}"
        );
        ensure!(
            s.iter().all(|x| x.pad_bytes > 0 && x.bus_bytes > 0),
            "{s:?}"
        );
        let mut bad = mem.clone();
        bad[..bad_op.len()].copy_from_slice(&bad_op);
        let r = b.run(&bad, 0, cmds.len() as u32, (0, 0), 100_000)?;
        ensure!(
            r.is_error() && r.error_code() == hdl::system::ERR_OPCODE && r.err_index == 1,
            "N = {n}, opcode 7: {r:?}"
        );
    }
    Ok(())
}

/// The testbench's protocol checker does catch violations: the RTL with 4 requests in
/// flight in a testbench that allows 1, and the RTL of a 20-cycle bus in a testbench
/// whose memory answers after 30 cycles, both report protocol errors on a GEMM that the
/// matching testbench runs cleanly (and `RtlDevice` turns them into an error).
#[test]
fn the_bus_checker_catches_outstanding_and_latency_violations() -> Result<()> {
    let cfg = AccelConfig::preset("edge-8x8-conv").context("preset")?;
    let case = coverage_cases(&cfg)
        .into_iter()
        .find(|k| k.name == "conv3x3-s1-p1")
        .context("case conv3x3-s1-p1")?;
    let ops = random_data(&case.problem, &mut hdl::cases::Rng::new(2));
    let root = hdl::verilator::cache_root().join("system");
    let mut one = cfg.clone();
    one.dma_outstanding = 1;
    let mut slow = cfg.clone();
    slow.bus_latency_cycles = 30;
    for (what, tb, bad) in [
        ("matching", &cfg, false),
        ("checker allows 1 outstanding", &one, true),
        ("memory latency 30", &slow, true),
    ] {
        let b = hdl::sysflow::build_against(&cfg, tb, MEM as u64, &root)?;
        let mut dev = RtlDevice::with_build(b);
        let r = run_gemm_case(&mut dev, &case, &ops.data());
        let proto = dev.last_run().map(|x| x.proto_errors).unwrap_or(0);
        if bad {
            ensure!(
                r.is_err() && proto > 0,
                "{what}: {r:?}, {proto} protocol errors"
            );
        } else {
            ensure!(
                r.is_ok() && proto == 0,
                "{what}: {r:?}, {proto} protocol errors"
            );
        }
    }
    Ok(())
}
