//! Offload to the simulated accelerator, shared by `run --accel` and `report`: one
//! inference through `driver::delegate` on a `sim::SimDevice`, and its per-layer columns
//! (result schema, docs/results-schema.md).

use anyhow::{Context, Result};
use arch::schedule::GemmProblem;
use arch::AccelConfig;
use driver::delegate::{self, CmdStreams, ModelRun, Policy};
use models::Graph;
use runtime::cost::CpuProfile;
use runtime::Interpreter;
use serde_json::{json, Value};

/// Named columns of one layer (or of the whole run).
pub type Columns = Vec<(String, Value)>;

/// Which simulator model executes the command streams.
pub fn sim_model(name: &str) -> Result<sim::Fidelity> {
    match name {
        "cycle" => Ok(sim::Fidelity::Cycle),
        "functional" => Ok(sim::Fidelity::Functional),
        o => anyhow::bail!("unknown simulator model `{o}` (cycle, functional)"),
    }
}

/// Runs one inference of `graph` with offload to a simulated `cfg`, with the driver's
/// command streams kept as `streams` says (`Generate` adds the CPU cycles of building them
/// at invoke time, [`delegate::apply_cmd_streams`]; `Sram` and `Flash` change no time).
pub fn simulate(
    graph: &Graph,
    cfg: &AccelConfig,
    cpu: &CpuProfile,
    policy: Policy,
    model: sim::Fidelity,
    input: &[u8],
    streams: CmdStreams,
) -> Result<ModelRun> {
    let mut interp = Interpreter::new(graph)?;
    let mut dev = sim::SimDevice::new(cfg, model, sim::device::DEFAULT_MEM_BYTES);
    let tile = |c: &AccelConfig, p: &GemmProblem| sim::tile::estimate(c, p).ok();
    let mut run = delegate::run_model_with(&mut interp, &mut dev, cpu, policy, &tile, input)
        .with_context(|| format!("model {} on accelerator {}", graph.name, cfg.name))?;
    delegate::apply_cmd_streams(&mut run.layers, cfg, cpu, streams);
    Ok(run)
}

/// Runs one inference with offload to the system RTL of `cfg` (Verilator, built or taken
/// from the cache; every command buffer is one RTL process).
pub fn simulate_rtl(
    graph: &Graph,
    cfg: &AccelConfig,
    cpu: &CpuProfile,
    policy: Policy,
    input: &[u8],
    streams: CmdStreams,
) -> Result<ModelRun> {
    let mut interp = Interpreter::new(graph)?;
    eprintln!(
        "tinyaccel: system RTL of {} in Verilator (built once per config, cached in {})",
        cfg.name,
        hdl::verilator::cache_root().join("system").display()
    );
    let mut dev = hdl::rtl_device::RtlDevice::new(cfg, sim::device::DEFAULT_MEM_BYTES)
        .with_context(|| format!("the system RTL of accelerator {}", cfg.name))?;
    let tile = |c: &AccelConfig, p: &GemmProblem| sim::tile::estimate(c, p).ok();
    let mut run = delegate::run_model_with(&mut interp, &mut dev, cpu, policy, &tile, input)
        .with_context(|| {
            format!(
                "model {} on the RTL of accelerator {}",
                graph.name, cfg.name
            )
        })?;
    delegate::apply_cmd_streams(&mut run.layers, cfg, cpu, streams);
    Ok(run)
}

/// Microseconds of one layer by where they go: accelerator busy (compute, overlapped
/// DMA), accelerator waiting on DMA, CPU (layers left on the CPU and im2col), driver.
pub fn time_parts(cfg: &AccelConfig, l: &delegate::LayerRun) -> [f64; 4] {
    let stall_us = cfg.cycles_to_us(l.device_counters.dma_stall_cycles);
    [l.device_us - stall_us, stall_us, l.cpu_us, l.driver_us]
}

/// The JSON object of a serializable value (an empty map for anything else).
fn object_of<T: serde::Serialize>(v: &T) -> serde_json::Map<String, Value> {
    match serde_json::to_value(v) {
        Ok(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    }
}

/// Keys `run` already prints for every layer (not repeated from the report rows).
const LAYER_IDENTITY: [&str; 5] = ["index", "op", "input_shape", "output_shape", "macs"];

/// Per-layer columns and the whole-run `accel` object of an offloaded run, under the
/// result schema's names (docs/results-schema.md).
///
/// `report` is the run's [`reports::ModelReport`] (built by
/// [`super::report::model_report`]) for a timed run, and `None` for an untimed one
/// (`--sim functional`): then only values are reported (placement, MACs, bytes,
/// commands), no timing or energy figures.
pub fn columns(
    cfg: &AccelConfig,
    policy: Policy,
    run: &ModelRun,
    report: Option<&reports::ModelReport>,
    json_mode: bool,
) -> (Vec<Columns>, Columns) {
    let layers = run
        .layers
        .iter()
        .zip(&run.decisions)
        .enumerate()
        .map(|(i, (l, d))| {
            let mut c: Columns = vec![("target".into(), json!(d.placement.as_str()))];
            if json_mode {
                c.push(("reason".into(), json!(d.reason)));
                c.push(("gemms".into(), json!(d.gemms)));
            }
            match report.and_then(|m| m.layers.get(i).map(|row| (m, row))) {
                Some((m, row)) if json_mode => {
                    let fields = object_of(&reports::writer::LayerJson::new(m, row));
                    for (k, v) in fields {
                        if !LAYER_IDENTITY.contains(&k.as_str()) && k != "target" && k != "reason" {
                            c.push((k, v));
                        }
                    }
                    c.push(("counters".into(), json!(l.device_counters)));
                }
                Some((m, row)) => {
                    c.push(("accel_cycles".into(), json!(row.accel_cycles)));
                    c.push(("offload_us".into(), json!(row.offload_us)));
                    c.push(("offload_uj".into(), json!(row.offload_uj)));
                    c.push(("array_utilization".into(), json!(m.array_utilization(row))));
                }
                None => {
                    c.push(("accel_macs".into(), json!(l.device_counters.macs)));
                    c.push(("bus_bytes".into(), json!(l.device_counters.bus_bytes())));
                    c.push(("commands".into(), json!(l.device_counters.commands)));
                }
            }
            c
        })
        .collect();
    let counters = run.device_counters();
    let offloaded = run
        .decisions
        .iter()
        .filter(|d| d.placement == delegate::Placement::Accel)
        .count();
    let totals = report.map(|m| m.totals());
    if !json_mode {
        let mut summary = vec![(
            "accel".to_string(),
            json!(format!(
                "{} (hash {}), {}x{} {}, {} MHz, policy {:?}: {} of {} layers offloaded",
                cfg.name,
                cfg.hash(),
                cfg.rows,
                cfg.cols,
                cfg.dataflow,
                cfg.clock_mhz,
                policy,
                offloaded,
                run.layers.len()
            )),
        )];
        // Why each MAC layer (conv, depthwise, fully connected) that stays on the CPU does
        // (e.g. "int16 activations: CPU only"); the JSON has every layer's reason.
        for d in &run.decisions {
            let mac_layer = matches!(d.op, "CONV_2D" | "DEPTHWISE_CONV_2D" | "FULLY_CONNECTED");
            if d.placement == delegate::Placement::Cpu && mac_layer {
                summary.push((
                    format!("layer {} ({}) on the CPU", d.index, d.op),
                    json!(d.reason),
                ));
            }
        }
        match &totals {
            Some(t) => summary.extend([
                (
                    "offload latency".to_string(),
                    json!(format!(
                        "{:.3} ms = compute {:.3} + DMA stall {:.3} + CPU side {:.3} (kernels {:.3}, im2col {:.3}) + driver {:.3}; array busy {:.3}{}, DMA busy {:.3}",
                        t.offload_us / 1000.0,
                        t.compute_us / 1000.0,
                        t.dma_stall_us / 1000.0,
                        t.cpu_side_us / 1000.0,
                        t.cpu_kernel_us / 1000.0,
                        t.cpu_im2col_us / 1000.0,
                        t.driver_us / 1000.0,
                        t.array_busy_us / 1000.0,
                        // The vector unit only on configurations that have one (the
                        // line of a configuration without it reads as before).
                        if cfg.has_vpu() {
                            format!(", vector unit busy {:.3}", t.vpu_busy_us / 1000.0)
                        } else {
                            String::new()
                        },
                        t.dma_busy_us / 1000.0
                    )),
                ),
                (
                    "offload energy".to_string(),
                    json!(format!(
                        "{:.3} uJ system = accelerator {:.3} uJ + CPU {:.3} uJ ({:.1} % CPU); accelerator = MAC {:.3} + SRAM {:.3} + bus {:.3} + main memory {:.3} + clock {:.3} + PPU {:.3} + controller {:.3} + DMA engine {:.3} + AGU {:.4} + DMA tracking {:.4}{} + leakage {:.3}",
                        t.offload_uj,
                        t.accel_uj(),
                        t.offload_cpu_uj,
                        100.0 * t.cpu_share().unwrap_or(0.0),
                        t.mac_uj,
                        t.sram_uj,
                        t.bus_uj,
                        t.main_memory_uj,
                        t.clock_uj,
                        t.ppu_uj,
                        t.control_uj,
                        t.dma_uj,
                        t.agu_uj,
                        t.dma_track_uj,
                        if cfg.has_vpu() {
                            format!(" + vector unit {:.4}", t.vpu_uj)
                        } else {
                            String::new()
                        },
                        t.leakage_uj
                    )),
                ),
                (
                    "accel counters".to_string(),
                    json!(format!(
                        "{} accel cycles, {} MACs, array utilization {:.1} %, MAC utilization {:.2} %, {} bus bytes, {} DMA bursts, {} im2col pieces, {} commands",
                        t.accel_cycles,
                        t.accel_macs,
                        100.0 * t.array_utilization,
                        100.0 * t.mac_utilization,
                        t.bus_bytes,
                        t.dma_bursts,
                        t.im2col_pieces,
                        counters.commands
                    )),
                ),
            ]),
            None => summary.push((
                "accel counters".to_string(),
                json!(format!(
                    "{} MACs, {} bus bytes, {} commands (functional model: values only, no timing or energy figures)",
                    counters.macs,
                    counters.bus_bytes(),
                    counters.commands
                )),
            )),
        }
        return (layers, summary);
    }
    let mut o = serde_json::Map::new();
    for (k, v) in [
        ("config", json!(cfg.name)),
        ("config_hash", json!(cfg.hash())),
        ("dataflow", json!(cfg.dataflow.as_str())),
        ("rows", json!(cfg.rows)),
        ("cols", json!(cfg.cols)),
        ("clock_mhz", json!(cfg.clock_mhz)),
        ("policy", json!(policy)),
        ("timed", json!(totals.is_some())),
    ] {
        o.insert(k.into(), v);
    }
    match &totals {
        Some(t) => {
            o.extend(object_of(t));
            o.insert("load".into(), json!(run.load));
            o.insert("counters".into(), json!(counters));
        }
        None => {
            o.insert("layers".into(), json!(run.layers.len()));
            o.insert("accel_layers".into(), json!(offloaded));
            o.insert("accel_macs".into(), json!(counters.macs));
            o.insert("bus_bytes".into(), json!(counters.bus_bytes()));
            o.insert("commands".into(), json!(counters.commands));
            o.insert(
                "load".into(),
                json!({
                    "packed_bytes": run.load.packed_bytes,
                    "command_bytes": run.load.command_bytes,
                    "device_mem_bytes": run.load.device_mem_bytes,
                }),
            );
        }
    }
    (layers, vec![("accel".to_string(), Value::Object(o))])
}
