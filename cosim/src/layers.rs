//! Real model layers through a [`TeeDevice`]: a MLPerf Tiny model (or a `.tflite` file)
//! with every conv, depthwise and FC layer offloaded by `driver::delegate`, its first
//! offloaded layers compared on the shadow device, its output against the CPU
//! interpreter's.

use crate::gen::seeded_input;
use crate::report::{program_report, ModelCheck, ProgramReport};
use crate::tee::{TeeDevice, TeeRecord};
use crate::CosimError;
use arch::device::Device;
use arch::AccelConfig;
use driver::delegate::{self, Placement, Policy};
use sim::{Fidelity, SimDevice};
use std::time::Instant;

/// A model and how many of its offloaded layers run on the RTL too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    /// Built-in name (kws, vww, ic, ad) or a .tflite file.
    pub model: String,
    /// Offloaded layers compared, from the first (`None`: all).
    pub layers: Option<usize>,
    /// Input bytes (`None`: seeded random bytes).
    pub input: Option<Vec<u8>>,
}

/// Runs one model with every conv/depthwise/FC layer offloaded (`Policy::All`) through a
/// tee of a simulator and `shadow` that compares the first `spec.layers` offloaded
/// layers (`None`: every command buffer of the model); one [`ProgramReport`] per
/// compared layer.
pub fn verify_model<S: Device>(
    cfg: &AccelConfig,
    shadow: S,
    spec: &ModelSpec,
    seed: u64,
    mem_bytes: usize,
) -> Result<(Vec<ProgramReport>, ModelCheck, S), CosimError> {
    let t0 = Instant::now();
    let fail = |stage: &'static str, e: &dyn std::fmt::Display| CosimError::Model {
        model: spec.model.clone(),
        stage,
        reason: e.to_string(),
    };
    let graph = models::resolve(&spec.model).map_err(|e| fail("loading", &e))?;
    let mut interp = runtime::Interpreter::new(&graph).map_err(|e| fail("preparing", &e))?;
    let input = match &spec.input {
        Some(i) => i.clone(),
        None => seeded_input(interp.input_len(), seed),
    };
    let cpu_output = interp
        .invoke(&input)
        .map_err(|e| fail("CPU inference", &e))?;
    let cpu =
        runtime::cost::CpuProfile::resolve("cortex-m4f").map_err(|e| fail("CPU profile", &e))?;
    let prepared: Vec<&runtime::prepare::PreparedOp> = (0..graph.ops.len())
        .filter_map(|i| interp.prepared(i))
        .collect();
    let decisions = delegate::plan(&graph, &prepared, cfg, &cpu, Policy::All);
    let accel: Vec<&delegate::Decision> = decisions
        .iter()
        .filter(|d| d.placement == Placement::Accel)
        .collect();
    let compared_layers = spec.layers.map_or(accel.len(), |k| k.min(accel.len()));
    let compare_starts: usize = accel[..compared_layers].iter().map(|d| d.gemms).sum();
    let total_starts: usize = accel.iter().map(|d| d.gemms).sum();
    let sim = SimDevice::new(cfg, Fidelity::Cycle, mem_bytes);
    // A whole model compares every command buffer started, however many there are.
    let limit = spec.layers.map(|_| compare_starts);
    let mut tee = TeeDevice::new(sim, shadow, limit);
    tee.set_label(spec.model.clone());
    let est = |c: &AccelConfig, p: &arch::schedule::GemmProblem| sim::tile::estimate(c, p).ok();
    let run = delegate::run_model_with(&mut interp, &mut tee, &cpu, Policy::All, &est, &input)
        .map_err(|e| fail("offloaded inference", &e))?;
    let started = tee.starts();
    let (_, shadow, records) = tee.into_parts();
    // The records are mapped to layers by the plan's GEMM count of each layer: it must be
    // the number of command buffers the driver started.
    if started != total_starts {
        return Err(fail(
            "mapping command buffers to layers",
            &format!(
                "the driver started {started} command buffers, the plan has {total_starts} GEMMs"
            ),
        ));
    }
    let layer_names: Vec<(usize, String)> = interp
        .layers()
        .iter()
        .map(|l| (l.index, l.op.to_string()))
        .collect();
    let mut reports = Vec::new();
    let mut start = 0usize;
    for d in &accel[..compared_layers] {
        let recs: Vec<&TeeRecord> = records
            .iter()
            .filter(|r| r.start >= start && r.start < start + d.gemms)
            .collect();
        start += d.gemms;
        let op = layer_names
            .iter()
            .find(|(i, _)| *i == d.index)
            .map_or(d.op.to_string(), |(_, o)| o.clone());
        reports.push(program_report(
            format!("{} layer {}", spec.model, d.index),
            "layer",
            format!("{op}, {} GEMMs", d.gemms),
            &recs,
        ));
    }
    let model = ModelCheck {
        model: spec.model.clone(),
        offloaded_layers: accel.len(),
        compared_layers,
        compared_starts: records.len(),
        total_starts,
        output: run.output,
        cpu_output,
        seconds: t0.elapsed().as_secs_f64(),
    };
    Ok((reports, model, shadow))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arch::Dataflow;

    fn cfg(preset: &str, df: Dataflow) -> AccelConfig {
        let mut c = AccelConfig::preset(preset).unwrap();
        c.dataflow = df;
        c
    }

    #[test]
    fn model_layers_map_to_starts() {
        let c = cfg("tiny-4x4", Dataflow::OutputStationary);
        let spec = ModelSpec {
            model: "ad".into(),
            layers: Some(2),
            input: None,
        };
        let shadow = SimDevice::new(&c, Fidelity::Cycle, sim::device::DEFAULT_MEM_BYTES);
        let (reps, m, _) =
            verify_model(&c, shadow, &spec, 5, sim::device::DEFAULT_MEM_BYTES).unwrap();
        assert_eq!(reps.len(), 2);
        assert!(m.offloaded_layers > 2);
        assert_eq!(m.compared_layers, 2);
        assert!(m.output_matches_cpu());
        for r in &reps {
            assert!(r.ok() && r.starts >= 1 && r.sim_cycles > 0, "{r:?}");
        }
        assert_eq!(
            m.compared_starts,
            reps.iter().map(|r| r.starts).sum::<usize>()
        );
    }
}
