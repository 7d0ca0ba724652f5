//! Whole-model totals of `run --accel --json` equal the sum of their parts (the driver's
//! library tests are in `driver/tests/driver_offload.rs`).

use arch::AccelConfig;
use driver::delegate::ModelFacts;
use runtime::cost::CpuProfile;
use runtime::{Interpreter, PreparedOp};
use std::process::Command as Proc;

#[test]
fn run_json_totals_equal_the_sum_of_their_parts() {
    let out = Proc::new(env!("CARGO_BIN_EXE_tinyaccel"))
        .args([
            "run",
            "ic",
            "--accel",
            "edge-8x8",
            "--cpu",
            "cortex-m7@216MHz",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let a = &v["accel"];
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-9 * y.abs().max(1e-9);
    let layers = v["layers"].as_array().unwrap();
    let lat_us: f64 = layers
        .iter()
        .map(|l| l["offload_us"].as_f64().unwrap())
        .sum();
    assert!(close(lat_us, a["offload_us"].as_f64().unwrap()));
    let e: f64 = layers
        .iter()
        .map(|l| l["offload_uj"].as_f64().unwrap())
        .sum();
    assert!(close(e, a["offload_uj"].as_f64().unwrap()));
    let parts: f64 = ["compute_us", "dma_stall_us", "cpu_side_us", "driver_us"]
        .iter()
        .map(|k| a[k].as_f64().unwrap())
        .sum();
    assert!(close(parts, lat_us), "{parts} vs {lat_us}");
    let parts: f64 = [
        "mac_uj",
        "sram_uj",
        "bus_uj",
        "leakage_uj",
        "offload_cpu_uj",
    ]
    .iter()
    .map(|k| a[k].as_f64().unwrap())
    .sum();
    assert!(close(parts, e), "{parts} vs {e}");
    let cycles: u64 = layers
        .iter()
        .map(|l| l["accel_cycles"].as_u64().unwrap())
        .sum();
    assert_eq!(cycles, a["accel_cycles"].as_u64().unwrap());
    // Analytic bounds on the accelerator's own work.
    let cfg = AccelConfig::preset("edge-8x8").unwrap();
    let macs = a["accel_macs"].as_u64().unwrap();
    assert!(cycles as f64 >= macs as f64 / cfg.peak_macs_per_cycle() as f64);
    assert!(a["mac_utilization"].as_f64().unwrap() <= a["array_utilization"].as_f64().unwrap());
    assert!(a["array_utilization"].as_f64().unwrap() <= 1.0);
    // The facts used by sweeps give the same CPU baseline as `--cpu`.
    let graph = models::builtin("ic").unwrap();
    let interp = Interpreter::new(&graph).unwrap();
    let prepared: Vec<&PreparedOp> = (0..graph.ops.len())
        .map(|i| interp.prepared(i).unwrap())
        .collect();
    let facts = ModelFacts::new(
        &graph,
        &prepared,
        &CpuProfile::resolve("cortex-m7@216MHz").unwrap(),
    );
    assert!(close(facts.cpu_us(), v["cpu"]["cpu_us"].as_f64().unwrap()));
}
