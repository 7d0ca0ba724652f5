//! The fast estimate used by sweeps (`driver::delegate::estimate_model` with the
//! simulator's tile-level model) agrees with a simulated offloaded run (cycle-level model):
//! same partition, same MACs and bus bytes, whole-model latency and energy within 2 %.

use arch::schedule::GemmProblem;
use arch::AccelConfig;
use driver::delegate::{self, ModelFacts, Policy};
use runtime::cost::CpuProfile;
use runtime::{Interpreter, PreparedOp};
use sim::{Fidelity, SimDevice};

#[test]
fn estimate_matches_simulated_run_on_every_builtin_model_and_preset() {
    let cpu = CpuProfile::resolve("cortex-m4f").unwrap();
    for name in models::BUILTIN_NAMES {
        let graph = models::builtin(name).unwrap();
        for (preset, _) in arch::config::PRESETS {
            let cfg = AccelConfig::preset(preset).unwrap();
            for policy in [Policy::All, Policy::Auto] {
                let mut interp = Interpreter::new(&graph).unwrap();
                let input = vec![0u8; interp.input_len()];
                let mut dev = SimDevice::new(&cfg, Fidelity::Cycle, sim::device::DEFAULT_MEM_BYTES);
                let tile = |c: &AccelConfig, p: &GemmProblem| sim::tile::estimate(c, p).ok();
                let run =
                    delegate::run_model_with(&mut interp, &mut dev, &cpu, policy, &tile, &input)
                        .unwrap();
                let prepared: Vec<&PreparedOp> = (0..graph.ops.len())
                    .map(|i| interp.prepared(i).unwrap())
                    .collect();
                let facts = ModelFacts::new(&graph, &prepared, &cpu);
                let est = delegate::estimate_model(&facts, &cfg, policy, |c, p| {
                    sim::tile::estimate(c, p).ok()
                });
                assert_eq!(est.len(), run.layers.len());
                for (e, r) in est.iter().zip(&run.layers) {
                    assert_eq!(
                        e.placement, r.placement,
                        "{name} {preset} layer {}",
                        r.index
                    );
                    assert_eq!(
                        e.device_counters.macs, r.device_counters.macs,
                        "{name} {preset} layer {}",
                        r.index
                    );
                    assert_eq!(
                        e.device_counters.bus_bytes(),
                        r.device_counters.bus_bytes(),
                        "{name} {preset} layer {}",
                        r.index
                    );
                }
                let (te, tr) = (est.iter().map(|l| l.total_us).sum::<f64>(), run.total_us());
                assert!(
                    (te - tr).abs() <= 0.02 * tr,
                    "{name} on {preset} ({policy:?}): estimate {te:.1} us vs simulated {tr:.1} us"
                );
                let (ee, er) = (est.iter().map(|l| l.total_uj).sum::<f64>(), run.total_uj());
                assert!(
                    (ee - er).abs() <= 0.02 * er,
                    "{name} on {preset} ({policy:?}): estimate {ee:.3} uJ vs simulated {er:.3} uJ"
                );
            }
        }
    }
}
