//! Offload to the simulated accelerator, shared by `run --accel` and `report`: one
//! inference through `driver::delegate` on a `sim::SimDevice`, and its per-layer columns.

use anyhow::{Context, Result};
use arch::AccelConfig;
use driver::delegate::{self, ModelRun, Policy};
use models::Graph;
use runtime::cost::CpuProfile;
use runtime::Interpreter;
use serde_json::{json, Value};

/// Named columns of one layer (or of the whole run).
pub type Columns = Vec<(String, Value)>;

/// Which simulator model executes the command streams.
pub fn sim_model(name: &str) -> Result<sim::Model> {
    match name {
        "cycle" => Ok(sim::Model::Cycle),
        "functional" => Ok(sim::Model::Functional),
        o => anyhow::bail!("unknown simulator model `{o}` (cycle, functional)"),
    }
}

/// Runs one inference of `graph` with offload to a simulated `cfg`.
pub fn simulate(
    graph: &Graph,
    cfg: &AccelConfig,
    cpu: &CpuProfile,
    policy: Policy,
    model: sim::Model,
    input: &[u8],
) -> Result<ModelRun> {
    let mut interp = Interpreter::new(graph)?;
    let mut dev = sim::SimDevice::new(cfg, model, sim::device::DEFAULT_MEM_BYTES);
    let tile = |c: &AccelConfig, m: u64, k: u64, n: u64| sim::tile::estimate_gemm(c, m, k, n).ok();
    delegate::run_model_with(&mut interp, &mut dev, cpu, policy, &tile, input)
        .with_context(|| format!("model {} on accelerator {}", graph.name, cfg.name))
}

/// Runs one inference with offload to the system RTL of `cfg` (Verilator, built or taken
/// from the cache; every command buffer is one RTL process).
pub fn simulate_rtl(
    graph: &Graph,
    cfg: &AccelConfig,
    cpu: &CpuProfile,
    policy: Policy,
    input: &[u8],
) -> Result<ModelRun> {
    let mut interp = Interpreter::new(graph)?;
    eprintln!(
        "tinyaccel: system RTL of {} in Verilator (built once per config, cached in {})",
        cfg.name,
        hdl::verilator::cache_root().join("system").display()
    );
    let mut dev = hdl::rtl_device::RtlDevice::new(cfg, sim::device::DEFAULT_MEM_BYTES)
        .with_context(|| format!("the system RTL of accelerator {}", cfg.name))?;
    let tile = |c: &AccelConfig, m: u64, k: u64, n: u64| sim::tile::estimate_gemm(c, m, k, n).ok();
    delegate::run_model_with(&mut interp, &mut dev, cpu, policy, &tile, input).with_context(|| {
        format!(
            "model {} on the RTL of accelerator {}",
            graph.name, cfg.name
        )
    })
}

/// Microseconds of one layer by where they go: accelerator busy (compute, overlapped
/// DMA), accelerator waiting on DMA, CPU (layers left on the CPU and im2col), driver.
pub fn time_parts(cfg: &AccelConfig, l: &delegate::LayerRun) -> [f64; 4] {
    let stall_us = cfg.cycles_to_us(l.device_counters.dma_stall_cycles);
    [l.device_us - stall_us, stall_us, l.cpu_us, l.driver_us]
}

/// Per-layer columns and the whole-run `accel` object of an offloaded run.
pub fn columns(
    cfg: &AccelConfig,
    policy: Policy,
    run: &ModelRun,
    json_mode: bool,
) -> (Vec<Columns>, Columns) {
    let layers = run
        .layers
        .iter()
        .zip(&run.decisions)
        .map(|(l, d)| {
            let mut c: Columns = vec![
                ("target".into(), json!(d.placement.as_str())),
                ("accel_cycles".into(), json!(l.device_counters.cycles)),
                ("accel_us".into(), json!(l.total_us)),
                ("accel_energy_uj".into(), json!(l.total_uj)),
                ("util".into(), json!(l.device_mac_utilization)),
            ];
            if json_mode {
                let [busy, stall, cpu, drv] = time_parts(cfg, l);
                c.push(("reason".into(), json!(d.reason)));
                c.push(("gemms".into(), json!(d.gemms)));
                c.push((
                    "time_us".into(),
                    json!({"accel_busy": busy, "dma_stall": stall, "cpu": cpu, "driver": drv}),
                ));
                c.push(("counters".into(), json!(l.device_counters)));
                c.push((
                    "energy_uj_parts".into(),
                    json!({
                        "accel": l.device_uj,
                        "cpu": l.cpu_uj,
                        "idle_leakage": l.device_idle_leakage_uj,
                    }),
                ));
            }
            c
        })
        .collect();
    let total_us = run.total_us();
    let counters = run.device_counters();
    let mut parts = [0.0f64; 4];
    for l in &run.layers {
        for (p, v) in parts.iter_mut().zip(time_parts(cfg, l)) {
            *p += v;
        }
    }
    let e = run.layers.iter().fold([0.0f64; 6], |mut a, l| {
        let b = &l.device_energy;
        a[0] += b.mac_pj / 1e6;
        a[1] += (b.input_sram_pj + b.weight_sram_pj + b.acc_sram_pj) / 1e6;
        a[2] += b.bus_pj / 1e6;
        a[3] += b.leakage_pj / 1e6 + l.device_idle_leakage_uj;
        a[4] += l.cpu_uj;
        a[5] += l.total_uj;
        a
    });
    let whole_cycles = total_us * cfg.clock_mhz;
    let offloaded = run
        .decisions
        .iter()
        .filter(|d| d.placement == delegate::Placement::Accel)
        .count();
    if !json_mode {
        let summary = vec![
            (
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
            ),
            (
                "accel latency".to_string(),
                json!(format!(
                    "{:.3} ms = accelerator busy {:.3} + DMA stall {:.3} + CPU (layers, im2col) {:.3} + driver {:.3}",
                    total_us / 1000.0,
                    parts[0] / 1000.0,
                    parts[1] / 1000.0,
                    parts[2] / 1000.0,
                    parts[3] / 1000.0
                )),
            ),
            (
                "accel energy".to_string(),
                json!(format!(
                    "{:.3} uJ = MAC {:.3} + SRAM {:.3} + bus {:.3} + leakage {:.3} + CPU {:.3}",
                    e[5], e[0], e[1], e[2], e[3], e[4]
                )),
            ),
            (
                "accel counters".to_string(),
                json!(format!(
                    "{} cycles, {} MACs, array utilization {:.1} % of accelerator cycles, {} bus bytes, {} commands",
                    counters.cycles,
                    counters.macs,
                    100.0 * counters.utilization(cfg),
                    counters.bus_bytes(),
                    counters.commands
                )),
            ),
        ];
        return (layers, summary);
    }
    let summary = vec![(
        "accel".to_string(),
        json!({
            "config": cfg.name,
            "config_hash": cfg.hash(),
            "dataflow": cfg.dataflow.as_str(),
            "rows": cfg.rows,
            "cols": cfg.cols,
            "clock_mhz": cfg.clock_mhz,
            "policy": policy,
            "offloaded_layers": offloaded,
            "cycles": counters.cycles,
            "macs": counters.macs,
            "latency_ms": total_us / 1000.0,
            "energy_uj": e[5],
            "utilization": if whole_cycles > 0.0 { counters.macs as f64 / (cfg.peak_macs_per_cycle() as f64 * whole_cycles) } else { 0.0 },
            "array_utilization": counters.utilization(cfg),
            "time_us": {"accel_busy": parts[0], "dma_stall": parts[1], "cpu": parts[2], "driver": parts[3]},
            "energy_uj_parts": {"mac": e[0], "sram": e[1], "bus": e[2], "leakage": e[3], "cpu": e[4]},
            "load": run.load,
            "counters": counters,
        }),
    )];
    (layers, summary)
}
