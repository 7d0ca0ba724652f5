//! End-to-end offload: every golden run of the four MLPerf Tiny models, executed with its
//! conv, depthwise and fully connected layers on the simulated accelerator (through the
//! driver's command streams), gives exactly TFLite-Micro's output bytes, on every preset
//! (in output- and weight-stationary), on the input-stationary configurations of
//! `tests/data/` (8x8, wide 4x16, tall 16x4) and on awkward configurations in all three
//! dataflows; and with the hardware im2col unit and the pipelined DMA (issue 16) on every
//! preset, `dma_outstanding` 1 and 4, all three dataflows, policies `all` and `auto`.

use arch::schedule::GemmProblem;
use arch::{AccelConfig, Dataflow};
use driver::delegate::{self, Placement, Policy};
use runtime::cost::CpuProfile;
use runtime::Interpreter;
use sim::{Fidelity, SimDevice};
use std::path::{Path, PathBuf};

/// The MLPerf Tiny models and goldens (`models::mlperf_tiny::locate`).
fn golden_root() -> PathBuf {
    let d = models::mlperf_tiny::locate(Path::new(env!("CARGO_MANIFEST_DIR")));
    assert!(
        d.join("golden").is_dir(),
        "golden data missing at {} (the MLPerf Tiny models and TFLM goldens)",
        d.display()
    );
    d
}

use models::mlperf_tiny::REFERENCE_FILES as MODELS;

fn golden_runs(model: &str) -> Vec<(Vec<u8>, Vec<u8>, String)> {
    let dir = golden_root().join("golden").join(model);
    models::mlperf_tiny::golden_runs(&dir)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|r| (r.input, r.output, r.name))
        .collect()
}

/// Deliberately awkward designs: a 2x2 array, scratchpads so small that every layer is
/// tiled many times, a 1-byte bus, every dataflow.
fn awkward() -> Vec<AccelConfig> {
    let mut v = Vec::new();
    for df in Dataflow::ALL {
        let mut c = AccelConfig::preset("tiny-4x4").unwrap();
        c.name = format!("awkward-2x2-{df}");
        c.rows = 2;
        c.cols = 2;
        c.dataflow = df;
        c.input_sram_kib = 1;
        c.input_sram_banks = 1;
        c.weight_sram_kib = 1;
        c.weight_sram_banks = 1;
        c.acc_sram_kib = 1;
        c.acc_sram_banks = 1;
        c.bus_bytes_per_cycle = 1;
        c.validate().unwrap();
        v.push(c);
        let mut c = AccelConfig::preset("wide-4x16").unwrap();
        c.name = format!("wide-3x5-{df}");
        c.rows = 3;
        c.cols = 5;
        c.dataflow = df;
        c.validate().unwrap();
        v.push(c);
    }
    v
}

fn configs() -> Vec<AccelConfig> {
    let mut v: Vec<AccelConfig> = arch::config::PRESETS
        .iter()
        .map(|(n, _)| AccelConfig::preset(n).unwrap())
        .collect();
    // Every preset in the other dataflow too.
    let flipped: Vec<AccelConfig> = v
        .iter()
        .map(|c| {
            let mut c = c.clone();
            c.dataflow = match c.dataflow {
                Dataflow::OutputStationary => Dataflow::WeightStationary,
                Dataflow::WeightStationary | Dataflow::InputStationary => {
                    Dataflow::OutputStationary
                }
            };
            c.name = format!("{}-{}", c.name, c.dataflow);
            c
        })
        .collect();
    v.extend(flipped);
    v.extend(data_configs());
    v.extend(awkward());
    v
}

/// The configuration files of `tests/data/` (the input-stationary designs).
fn data_configs() -> Vec<AccelConfig> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let v: Vec<AccelConfig> = files
        .iter()
        .map(|f| AccelConfig::load(f).unwrap_or_else(|e| panic!("{}: {e}", f.display())))
        .collect();
    let is = v
        .iter()
        .filter(|c| c.dataflow == Dataflow::InputStationary)
        .collect::<Vec<_>>();
    assert!(
        is.iter().any(|c| c.rows == 8 && c.cols == 8)
            && is.iter().any(|c| c.rows < c.cols)
            && is.iter().any(|c| c.rows > c.cols),
        "tests/data must hold IS configurations: 8x8, rows < cols and rows > cols"
    );
    v
}

#[test]
fn offloaded_runs_match_the_goldens_on_every_config() {
    let cpu = CpuProfile::resolve("cortex-m4f").unwrap();
    let root = golden_root();
    for (model, file) in MODELS {
        let graph = models::load_tflite(&root.join(file)).unwrap();
        let runs = golden_runs(model);
        for cfg in configs() {
            for (i, (input, want, name)) in runs.iter().enumerate() {
                // The functional model executes the same command streams bit for bit; the
                // cycle-level model runs the first input of every model on every config.
                let sim_model = if i == 0 {
                    Fidelity::Cycle
                } else {
                    Fidelity::Functional
                };
                let mut dev = SimDevice::new(&cfg, sim_model, sim::device::DEFAULT_MEM_BYTES);
                let mut interp = Interpreter::new(&graph).unwrap();
                let run = delegate::run_model(&mut interp, &mut dev, &cpu, Policy::All, input)
                    .unwrap_or_else(|e| panic!("{model}/{name} on {}: {e}", cfg.name));
                let offloaded = run
                    .decisions
                    .iter()
                    .filter(|d| d.placement == Placement::Accel)
                    .count();
                assert!(offloaded > 0, "{model} on {}: nothing offloaded", cfg.name);
                assert_eq!(
                    &run.output, want,
                    "{model}/{name} on {} ({sim_model:?}): output differs from TFLM",
                    cfg.name
                );
            }
        }
    }
}

/// Every preset with the im2col unit on, `dma_outstanding` 1 and 4, in all three
/// dataflows (60 designs; `edge-8x8-conv` is among them as edge-8x8 OS with 4), each with
/// whether it has its preset's own dataflow.
fn feature_configs() -> Vec<(AccelConfig, bool)> {
    let mut v = Vec::new();
    for (preset, _) in arch::config::PRESETS {
        for df in Dataflow::ALL {
            for outstanding in [1, 4] {
                let mut c = AccelConfig::preset(preset).unwrap();
                let own = c.dataflow == df;
                c.dataflow = df;
                c.im2col = true;
                c.dma_outstanding = outstanding;
                c.name = format!("{preset}-{df}-im2col-n{outstanding}");
                c.validate().unwrap_or_else(|e| panic!("{}: {e:?}", c.name));
                v.push((c, own));
            }
        }
    }
    v
}

/// All 13 golden runs on every design of [`feature_configs`], policies `all` and `auto`
/// (decided by the simulator's tile-level model, as the CLI does), on the functional
/// model; the cycle-level model runs the first input of every model on the designs with
/// their preset's own dataflow and 4 requests in flight under `all`. Every model with a
/// non-pointwise convolution must really use the im2col unit under `all`.
#[test]
fn offloaded_runs_with_im2col_and_pipelined_dma_match_the_goldens() {
    let cpu = CpuProfile::resolve("cortex-m4f").unwrap();
    let root = golden_root();
    let tile = |c: &AccelConfig, p: &GemmProblem| sim::tile::estimate(c, p).ok();
    let mut runs_done = 0usize;
    let mut cycle_runs = 0usize;
    for (model, file) in MODELS {
        let graph = models::load_tflite(&root.join(file)).unwrap();
        let runs = golden_runs(model);
        for (cfg, own_dataflow) in feature_configs() {
            for policy in [Policy::All, Policy::Auto] {
                for (i, (input, want, name)) in runs.iter().enumerate() {
                    let cycle =
                        i == 0 && policy == Policy::All && own_dataflow && cfg.dma_outstanding == 4;
                    let sim_model = if cycle {
                        Fidelity::Cycle
                    } else {
                        Fidelity::Functional
                    };
                    let mut dev = SimDevice::new(&cfg, sim_model, sim::device::DEFAULT_MEM_BYTES);
                    let mut interp = Interpreter::new(&graph).unwrap();
                    let run =
                        delegate::run_model_with(&mut interp, &mut dev, &cpu, policy, &tile, input)
                            .unwrap_or_else(|e| {
                                panic!("{model}/{name} on {} ({policy:?}): {e}", cfg.name)
                            });
                    assert_eq!(
                        &run.output, want,
                        "{model}/{name} on {} ({sim_model:?}, {policy:?}): output differs from TFLM",
                        cfg.name
                    );
                    runs_done += 1;
                    cycle_runs += cycle as usize;
                    if policy == Policy::All && i == 0 {
                        let hw = run
                            .decisions
                            .iter()
                            .filter(|d| d.reason.contains("im2col unit"))
                            .count();
                        let pieces = run.device_counters().im2col_pieces;
                        let has_spatial_conv = run
                            .decisions
                            .iter()
                            .any(|d| d.op == "CONV_2D" && !d.reason.starts_with("1x1"));
                        assert_eq!(
                            hw > 0,
                            has_spatial_conv,
                            "{model} on {}: {:?}",
                            cfg.name,
                            run.decisions
                        );
                        assert_eq!(pieces > 0, hw > 0, "{model} on {}", cfg.name);
                    }
                }
            }
        }
    }
    eprintln!("im2col golden runs: {runs_done} ({cycle_runs} on the cycle-level model)");
}
