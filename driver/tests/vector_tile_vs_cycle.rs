//! The tile-level model of vector-unit programs (`sim::vtile`, through the delegate's
//! estimate) against the cycle-level model, layer by layer, on every depthwise, pooling and
//! ADD layer of the four MLPerf Tiny models: with the three features on every preset (in
//! its own dataflow, with and without the im2col unit), every counter equal (cycles, busy
//! and stall counters included) whenever the cycle-level run had no bank conflict; with a
//! conflict (single-bank scratchpads only) every byte and operation count still equal and
//! the cycles within 10 %.

use arch::schedule::GemmProblem;
use arch::AccelConfig;
use driver::delegate::{self, ModelFacts, Placement, Policy};
use runtime::cost::CpuProfile;
use runtime::{Interpreter, PreparedOp};
use sim::{Fidelity, SimDevice};

fn configs() -> Vec<AccelConfig> {
    let mut out = vec![AccelConfig::preset("edge-8x8-tinyml").unwrap()];
    for preset in ["tiny-4x4", "edge-8x8", "edge-16x16", "wide-4x16"] {
        for im2col in [false, true] {
            let mut c = AccelConfig::preset(preset).unwrap();
            c.depthwise = true;
            c.pooling = true;
            c.eltwise = true;
            c.im2col = im2col;
            c.dma_outstanding = if im2col { 4 } else { 1 };
            c.name = format!("{preset}-vpu{}", if im2col { "-im2col" } else { "" });
            out.push(c);
        }
    }
    out
}

#[test]
fn vector_layers_tile_level_equals_cycle_level() {
    let cpu = CpuProfile::resolve("cortex-m4f").unwrap();
    let (mut layers, mut exact_cycles) = (0, 0);
    for name in models::BUILTIN_NAMES {
        let graph = models::builtin(name).unwrap();
        for cfg in &configs() {
            let mut interp = Interpreter::new(&graph).unwrap();
            let input = vec![3u8; interp.input_len()];
            let mut dev = SimDevice::new(cfg, Fidelity::Cycle, sim::device::DEFAULT_MEM_BYTES);
            let tile = |c: &AccelConfig, p: &GemmProblem| sim::tile::estimate(c, p).ok();
            let run =
                delegate::run_model_with(&mut interp, &mut dev, &cpu, Policy::All, &tile, &input)
                    .unwrap();
            let prepared: Vec<&PreparedOp> = (0..graph.ops.len())
                .map(|i| interp.prepared(i).unwrap())
                .collect();
            let facts = ModelFacts::new(&graph, &prepared, &cpu);
            let est = delegate::estimate_model(&facts, cfg, Policy::All, |c, p| {
                sim::tile::estimate(c, p).ok()
            });
            for (e, r) in est.iter().zip(&run.layers) {
                let op = graph.ops[r.index].kind.name();
                let vector = matches!(
                    op,
                    "DEPTHWISE_CONV_2D" | "AVERAGE_POOL_2D" | "MAX_POOL_2D" | "ADD"
                );
                if !vector || r.placement != Placement::Accel {
                    continue;
                }
                // Multiplier-1 depthwise, pools and ADDs run on the vector unit here.
                let (c, t) = (&r.device_counters, &e.device_counters);
                assert!(
                    c.vpu_busy_cycles > 0,
                    "{name} {} layer {} ({op}) did not use the vector unit",
                    cfg.name,
                    r.index
                );
                let who = format!("{name} on {} layer {} ({op})", cfg.name, r.index);
                let counts = |x: &arch::device::Counters| {
                    let mut a = x.to_array();
                    // cycles, array_busy, dma_stall, dma_busy, bank_conflict, vpu_busy
                    for i in [0, 1, 2, 3, 13, 17] {
                        a[i] = 0;
                    }
                    a
                };
                assert_eq!(counts(c), counts(t), "{who}: byte/operation counts");
                layers += 1;
                if c.bank_conflict_cycles == 0 {
                    assert_eq!(c.to_array(), t.to_array(), "{who}: every counter");
                    exact_cycles += 1;
                } else {
                    let single = [
                        cfg.input_sram_banks,
                        cfg.weight_sram_banks,
                        cfg.acc_sram_banks,
                    ]
                    .contains(&1);
                    assert!(single, "{who}: bank conflicts with >= 2 banks");
                    let (a, b) = (c.cycles as f64, t.cycles as f64);
                    assert!((a - b).abs() <= 0.10 * a, "{who}: cycles {a} vs {b}");
                }
            }
        }
    }
    // kws, vww and ic have depthwise/pool/ADD layers on every configuration.
    assert!(layers > 100, "only {layers} vector layers compared");
    assert!(
        exact_cycles * 2 > layers,
        "{exact_cycles} of {layers} exact"
    );
    eprintln!("{layers} vector layers compared, {exact_cycles} with every counter equal");
}
