//! The RTL backend's persistent testbench process (`hdl::sysflow::SysProcess` behind
//! `RtlDevice`): one process serves every command buffer of a device, keeps the
//! accelerator's state between buffers as the simulator does (scratchpads, accumulators,
//! PPU parameters), reports each buffer's own counters, and survives a crashed or stuck
//! process with an error naming the buffer. Whole models (every command buffer of ad and
//! kws) on edge-8x8 in the output- and weight-stationary dataflows are byte- and
//! cycle-exact with the simulator. Needs `verilator` (`make deps`).

use anyhow::{ensure, Context, Result};
use arch::device::{Device, DeviceError};
use arch::isa::{Command as Cmd, Compute, Deps, Load, LoadParams, Op, Scratchpad, Store};
use arch::{AccelConfig, Dataflow};
use cosim::layers::{verify_model, ModelSpec};
use cosim::tee::TeeDevice;
use hdl::rtl_device::RtlDevice;
use sim::{Fidelity, SimDevice};

const MEM: usize = sim::device::DEFAULT_MEM_BYTES;

fn config(preset: &str, df: Dataflow) -> AccelConfig {
    let mut c = AccelConfig::preset(preset).expect("preset");
    c.dataflow = df;
    c
}

/// The loads of the input and weight scratchpads (the weight load pushes `L2C` if
/// `push`) and of the PPU parameters.
fn loads(dim: u16, push: bool) -> Vec<Cmd> {
    let load = |sp, addr| {
        Cmd::new(Op::Load(Load {
            sp,
            transpose: false,
            sp_line: 0,
            mem_addr: addr,
            mem_stride: dim as u32,
            nrows: dim,
            ncols: dim,
        }))
    };
    let mut w = load(Scratchpad::Weight, 256);
    w.deps.push_next = push;
    vec![
        load(Scratchpad::Input, 0),
        w,
        Cmd::new(Op::LoadParams(LoadParams {
            mem_addr: 512,
            count: dim,
            zp_out: 3,
            act_min: -100,
            act_max: 90,
        })),
    ]
}

/// A COMPUTE (popping `L2C` if `pop`; accumulating onto the accumulators if
/// `accumulate`), then an int8 STORE through the PPU parameters and a raw int32 STORE.
fn compute_and_store(dim: u16, pop: bool, accumulate: bool, out: u32) -> Vec<Cmd> {
    let store = |raw, addr| {
        Cmd::new(Op::Store(Store {
            raw_int32: raw,
            acc_line: 0,
            mem_addr: addr,
            mem_stride: dim as u32 * if raw { 4 } else { 1 },
            nrows: dim,
            ncols: dim,
        }))
    };
    let mut first = store(false, out);
    first.deps.pop_prev = true;
    vec![
        Cmd {
            op: Op::Compute(Compute {
                accumulate,
                a_line: 0,
                b_line: 0,
                c_line: 0,
                m: dim,
                k: dim,
                n: dim,
            }),
            deps: Deps {
                pop_prev: pop,
                push_next: true,
                ..Deps::NONE
            },
        },
        first,
        store(true, out + 256),
    ]
}

/// `cmds` and `FINISH`, encoded.
fn buffer(mut cmds: Vec<Cmd>) -> Vec<u8> {
    cmds.push(Cmd::new(Op::Finish));
    arch::isa::encode_all(&cmds)
}

/// Operands and PPU records (shifts in -8..=0) at 0, 256 and 512.
fn operands(dev: &mut dyn Device, dim: usize) -> Result<()> {
    let mut rng = hdl::cases::Rng::new(11);
    let a: Vec<u8> = (0..dim * dim).map(|_| rng.next_u64() as u8).collect();
    let b: Vec<u8> = (0..dim * dim).map(|_| rng.next_u64() as u8).collect();
    dev.write_mem(0, &a)?;
    dev.write_mem(256, &b)?;
    let mut p = Vec::new();
    for j in 0..dim {
        p.extend_from_slice(&(j as i32 * 37 - 50).to_le_bytes());
        p.extend_from_slice(&(1_200_000_000i32 + j as i32 * 1000).to_le_bytes());
        p.extend_from_slice(&(-(j as i32 % 9)).to_le_bytes());
    }
    dev.write_mem(512, &p)?;
    Ok(())
}

/// Buffers that use scratchpads, accumulators and PPU parameters left by earlier buffers
/// give the simulator's bytes and counters on the RTL, all in one process.
#[test]
fn state_carries_over_between_command_buffers() -> Result<()> {
    let cfg = config("tiny-4x4", Dataflow::OutputStationary);
    let dim = cfg.rows as u16;
    let mut tee = TeeDevice::new(
        SimDevice::new(&cfg, Fidelity::Cycle, MEM),
        RtlDevice::new(&cfg, MEM)?,
        None,
    );
    operands(&mut tee, dim as usize)?;
    tee.submit(4096, &buffer(loads(dim, false)))?;
    // The operands in memory are overwritten: only the scratchpads still hold them.
    tee.write_mem(0, &[0u8; 768])?;
    let first = tee.submit(4096, &buffer(compute_and_store(dim, false, false, 1024)))?;
    let second = tee.submit(4096, &buffer(compute_and_store(dim, false, true, 2048)))?;
    ensure!(tee.records().len() == 3, "{} records", tee.records().len());
    for r in tee.records() {
        ensure!(r.ok(), "start {}: {}", r.start, r.describe());
    }
    // Each buffer's own counters (not a running total): the same COMPUTE and STOREs,
    // the second also reading the accumulators it adds to.
    ensure!(
        first.cycles > 0
            && first.cycles == second.cycles
            && first.macs == second.macs
            && second.acc_sp_read_bytes > first.acc_sp_read_bytes,
        "{first:?} vs {second:?}"
    );
    let mut raw = vec![0u8; (dim * dim * 4) as usize];
    tee.shadow.read_mem(1024 + 256, &mut raw)?;
    ensure!(
        raw.iter().any(|&x| x != 0),
        "the GEMM of the carried-over operands is not zero"
    );
    let mut int8 = vec![0u8; (dim * dim) as usize];
    tee.shadow.read_mem(2048, &mut int8)?;
    ensure!(int8.iter().any(|&x| x != 3), "PPU output {int8:?}");
    let (spawns, sent) = tee.shadow.process_totals();
    ensure!(spawns == 1, "{spawns} processes for three buffers");
    ensure!(sent > 0, "no bytes sent");
    Ok(())
}

/// A killed process fails the buffer it was running with an error naming the buffer; a
/// stopped one is killed after the wall limit; the next buffer runs in a fresh process
/// (zeroed state) and is exact again.
#[test]
fn a_crashed_or_stuck_process_fails_the_buffer_and_is_replaced() -> Result<()> {
    let cfg = config("tiny-4x4", Dataflow::OutputStationary);
    let dim = cfg.rows as u16;
    let build = hdl::sysflow::build(&cfg, MEM as u64)?;
    let mut rtl = RtlDevice::with_build(build.clone());
    let mut sim = SimDevice::new(&cfg, Fidelity::Cycle, MEM);
    // A self-contained buffer: loads, compute, stores.
    let mut cmds = loads(dim, true);
    cmds.extend(compute_and_store(dim, true, false, 1024));
    let whole = buffer(cmds);
    operands(&mut rtl, dim as usize)?;
    operands(&mut sim, dim as usize)?;
    let expect = sim.submit(8192, &whole)?;
    ensure!(rtl.submit(8192, &whole)? == expect, "first run");
    let pid = rtl.process_id().context("a running process")?;
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()?;
    ensure!(killed.success(), "kill {pid}");
    match rtl.submit(8192, &whole) {
        Err(DeviceError::Buffer(m)) => ensure!(
            m.contains("command buffer at 0x2000 (7 commands)") && m.contains("the process ended"),
            "{m}"
        ),
        o => anyhow::bail!("a killed process must fail the buffer: {o:?}"),
    }
    ensure!(rtl.submit(8192, &whole)? == expect, "after the restart");
    ensure!(rtl.process_totals().0 == 2, "{:?}", rtl.process_totals());
    // A stuck (stopped) process: the request times out and the process is killed.
    let mut p = hdl::sysflow::SysProcess::new(&build)?;
    let mut image = vec![0u8; 8192 + whole.len()];
    rtl.read_mem(0, &mut image[..8192])?;
    image[8192..].copy_from_slice(&whole);
    let decoded = arch::isa::decode_all(&whole).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let window = hdl::sysflow::write_window(&decoded, image.len() as u64);
    ensure!(window == (1024, 1024 + 256 + 64), "{window:?}");
    let ok = p.run(&image, 8192, 7, window, 100_000)?;
    ensure!(ok.counters == expect, "{:?}", ok.counters);
    let pid = p.pid().context("a running process")?;
    let stopped = std::process::Command::new("kill")
        .args(["-STOP", &pid.to_string()])
        .status()?;
    ensure!(stopped.success(), "kill -STOP {pid}");
    p.set_wall_limit(Some(std::time::Duration::from_secs(2)));
    let e = p
        .run(&image, 8192, 7, window, 100_000)
        .expect_err("a stopped process cannot answer")
        .to_string();
    ensure!(
        e.contains("no answer within 2.0 s") && e.contains("command buffer at 0x2000"),
        "{e}"
    );
    ensure!(p.pid().is_none(), "the stuck process is gone");
    let again = p.run(&image, 8192, 7, window, 100_000)?;
    ensure!(
        again.counters == expect && again.mem == ok.mem,
        "after the restart"
    );
    ensure!(p.spawns() == 2, "{} processes", p.spawns());
    Ok(())
}

/// Every command buffer of ad and kws on edge-8x8, output- and weight-stationary, in
/// one testbench process per model: byte- and cycle-exact with the simulator, outputs
/// equal to the CPU interpreter's.
#[test]
fn whole_ad_and_kws_on_edge_8x8_os_and_ws_equal_the_simulator() -> Result<()> {
    for df in [Dataflow::OutputStationary, Dataflow::WeightStationary] {
        let cfg = config("edge-8x8", df);
        let build = hdl::sysflow::build(&cfg, MEM as u64)?;
        for model in ["ad", "kws"] {
            let spec = ModelSpec {
                model: model.into(),
                layers: None,
                input: None,
            };
            let rtl = RtlDevice::with_build(build.clone());
            let (reps, check, rtl) = verify_model(&cfg, rtl, &spec, 3, MEM)?;
            ensure!(
                check.output_matches_cpu(),
                "{model} {df}: output differs from the CPU's"
            );
            ensure!(
                check.compared_layers == check.offloaded_layers
                    && check.compared_starts == check.total_starts,
                "{model} {df}: {} of {} layers, {} of {} buffers",
                check.compared_layers,
                check.offloaded_layers,
                check.compared_starts,
                check.total_starts
            );
            for p in &reps {
                ensure!(p.ok(), "{model} {df} {}: {:?}", p.name, p.mismatch);
                ensure!(p.rtl_cycles == p.sim_cycles && p.sim_cycles > 0, "{p:?}");
            }
            let (runs, _, _) = rtl.rtl_totals();
            ensure!(
                runs as usize == check.total_starts,
                "{model} {df}: {runs} RTL runs"
            );
            ensure!(
                rtl.process_totals().0 == 1,
                "{model} {df}: {:?} processes",
                rtl.process_totals()
            );
            // kws's depthwise layers are single-column GEMMs: hundreds of buffers.
            ensure!(
                model != "kws" || check.total_starts > 200,
                "kws {df}: {} command buffers",
                check.total_starts
            );
        }
    }
    Ok(())
}

/// Issue 18: the folder `hdl emit` writes works in a flow that is not this project's.
/// Verilator builds the system testbench from the emitted argument file, filelist and
/// testbench alone (in the folder, nothing else); that binary runs command buffers
/// byte- and cycle-exact with the simulator. Every generated name is legal without
/// escaping (no `$` inside an identifier).
#[test]
fn the_emitted_folder_builds_and_runs_on_its_own() -> Result<()> {
    let cfg = config("tiny-4x4", Dataflow::OutputStationary);
    let dir = tempfile::tempdir()?;
    let e = hdl::emit::emit(&cfg, dir.path())?;
    ensure!(e.system.is_ok(), "no system RTL: {:?}", e.system);
    for f in [hdl::emit::VERILOG_FILE, hdl::system::SYSTEM_FILE] {
        let text = std::fs::read_to_string(dir.path().join(f))?;
        let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
        let bad = text
            .as_bytes()
            .windows(3)
            .filter(|w| w[1] == b'$' && ident(w[0]) && ident(w[2]))
            .count();
        ensure!(bad == 0, "{f}: {bad} identifiers with `$`");
    }
    let t0 = std::time::Instant::now();
    let out = std::process::Command::new("verilator")
        .args(["-f", hdl::emit::SYSTEM_TB_ARGS, "-j", "2", "-CFLAGS", "-O1"])
        .current_dir(dir.path())
        .output()
        .context("running verilator (install it with `make deps`)")?;
    ensure!(
        out.status.success(),
        "verilator -f {} failed:\n{}",
        hdl::emit::SYSTEM_TB_ARGS,
        String::from_utf8_lossy(&out.stderr)
    );
    let build = hdl::sysflow::SystemBuild {
        cfg: cfg.clone(),
        mem_bytes: MEM as u64,
        dir: dir.path().to_path_buf(),
        binary: dir.path().join("obj_dir/Vsys"),
        built: true,
        build_seconds: t0.elapsed().as_secs_f64(),
    };
    let dim = cfg.rows as u16;
    let mut tee = TeeDevice::new(
        SimDevice::new(&cfg, Fidelity::Cycle, MEM),
        RtlDevice::with_build(build),
        None,
    );
    operands(&mut tee, dim as usize)?;
    tee.submit(4096, &buffer(loads(dim, false)))?;
    tee.submit(4096, &buffer(compute_and_store(dim, false, false, 1024)))?;
    ensure!(tee.records().len() == 2, "{} records", tee.records().len());
    for r in tee.records() {
        ensure!(r.ok(), "start {}: {}", r.start, r.describe());
    }
    Ok(())
}
