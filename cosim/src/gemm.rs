//! GEMM programs through a [`TeeDevice`]: one driver GEMM per case on a fresh cycle-level
//! simulator and a shadow device, each checked against `driver::gemm::reference`.

use crate::gen::{random_data, GemmCase};
use crate::report::{program_report, ProgramReport};
use crate::tee::{TeeDevice, TeeRecord};
use arch::device::{Counters, Device};
use arch::AccelConfig;
use driver::gemm::{self, GemmData, GemmProblem, GemmResult, MemLayout, Output};
use driver::tiling::Tiling;
use hdl::cases::Rng;
use sim::{Fidelity, SimDevice};

/// Runs one GEMM on `dev` (operands at [`MemLayout::packed`] from 0, the case's tiling),
/// returns the result read back.
pub fn run_gemm_case(
    dev: &mut dyn Device,
    case: &GemmCase,
    d: &GemmData,
) -> Result<(GemmResult, Counters), String> {
    let p = &case.problem;
    let layout = MemLayout::packed(p, 0);
    let Some(t) = case.tiling else {
        return gemm::run(dev, p, d, &layout).map_err(|e| e.to_string());
    };
    let cfg = dev.config().clone();
    let prog = gemm::build_with(&cfg, p, &layout, t).map_err(|e| e.to_string())?;
    gemm::run_program(dev, p, d, &prog).map_err(|e| e.to_string())
}

fn shape_of(p: &GemmProblem, t: Option<&Tiling>) -> String {
    let out = match p.output {
        Output::Int8 { .. } => "i8",
        Output::Int32 => "i32",
    };
    match t {
        Some(t) => format!("{}x{}x{} {out} t{}x{}x{}", p.m, p.k, p.n, t.tm, t.tk, t.tn),
        None => format!("{}x{}x{} {out}", p.m, p.k, p.n),
    }
}

/// Runs the GEMM cases through a tee of a fresh simulator and `shadow`; one report per
/// case (the result also checked against `driver::gemm::reference`).
pub fn verify_gemms<S: Device>(
    cfg: &AccelConfig,
    shadow: S,
    cases: &[GemmCase],
    seed: u64,
    mem_bytes: usize,
    tick: &mut dyn FnMut(&str),
) -> (Vec<ProgramReport>, S) {
    let sim = SimDevice::new(cfg, Fidelity::Cycle, mem_bytes);
    let mut tee = TeeDevice::new(sim, shadow, None);
    let mut rng = Rng::new(seed ^ 0x5EED_0F6E_33A1);
    let mut reports = Vec::new();
    for case in cases {
        tick(&case.name);
        tee.set_label(case.name.clone());
        let before = tee.records().len();
        let ops = random_data(&case.problem, &mut rng);
        let d = ops.data();
        let got = run_gemm_case(&mut tee, case, &d);
        let recs: Vec<&TeeRecord> = tee.records()[before..].iter().collect();
        let mut rep = program_report(
            case.name.clone(),
            "gemm",
            shape_of(&case.problem, case.tiling.as_ref()),
            &recs,
        );
        match got {
            Ok((res, _)) => {
                rep.reference_ok = Some(gemm::reference(&case.problem, &d).ok() == Some(res));
            }
            Err(e) => {
                if rep.mismatch.is_none() {
                    rep.mismatch = Some(format!("the GEMM failed on the simulator: {e}"));
                }
            }
        }
        reports.push(rep);
    }
    let (_, shadow, _) = tee.into_parts();
    (reports, shadow)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::{coverage_cases, random_cases};
    use arch::Dataflow;

    fn cfg(preset: &str, df: Dataflow) -> AccelConfig {
        let mut c = AccelConfig::preset(preset).unwrap();
        c.dataflow = df;
        c
    }

    const MEM: usize = 1 << 20;

    #[test]
    fn tee_of_two_simulators_agrees() {
        let c = cfg("tiny-4x4", Dataflow::WeightStationary);
        let shadow = SimDevice::new(&c, Fidelity::Cycle, MEM);
        let mut cases = coverage_cases(&c);
        cases.retain(|k| k.name != "default-tiling-large");
        cases.extend(random_cases(&c, 4, 9));
        let (reps, _) = verify_gemms(&c, shadow, &cases, 1, MEM, &mut |_| {});
        assert_eq!(reps.len(), cases.len());
        for r in &reps {
            assert!(r.ok(), "{}: {:?}", r.name, r.mismatch);
            assert_eq!(r.starts, 1);
            assert!(r.sim_cycles > 0 && r.sim_cycles == r.rtl_cycles);
            assert!(r.mem_bytes > 0);
            assert_eq!(r.reference_ok, Some(true), "{}", r.name);
        }
    }

    #[test]
    fn tee_detects_counter_memory_and_error_differences() {
        let c = cfg("tiny-4x4", Dataflow::OutputStationary);
        // A slower bus: same bytes, different cycles.
        let mut slow = c.clone();
        slow.bus_latency_cycles += 3;
        let case = &coverage_cases(&c)[1];
        let (reps, _) = verify_gemms(
            &c,
            SimDevice::new(&slow, Fidelity::Cycle, MEM),
            std::slice::from_ref(case),
            1,
            MEM,
            &mut |_| {},
        );
        let m = reps[0].mismatch.as_deref().expect("cycles differ");
        assert!(m.contains("counter cycles differs"), "{m}");
        assert_eq!(reps[0].reference_ok, Some(true));

        // A corrupted shadow image: the flipped operand byte is reported.
        let p = case.problem;
        let layout = MemLayout::packed(&p, 0);
        let mut tee = TeeDevice::new(
            SimDevice::new(&c, Fidelity::Cycle, MEM),
            SimDevice::new(&c, Fidelity::Cycle, MEM),
            None,
        );
        tee.corrupt_next_shadow_image(layout.a_addr + 5);
        let mut rng = Rng::new(4);
        let ops = random_data(&p, &mut rng);
        let d = ops.data();
        run_gemm_case(&mut tee, case, &d).unwrap();
        let r = &tee.records()[0];
        let md = r.mem_diff.expect("memory differs");
        assert_eq!(md.addr, layout.a_addr + 5);
        assert!(md.count > 1, "the corrupted operand changes the output too");
        assert!(r.describe().contains("memory differs at"));

        // Only the first `compare_starts` starts are compared.
        let mut tee = TeeDevice::new(
            SimDevice::new(&c, Fidelity::Cycle, MEM),
            SimDevice::new(&c, Fidelity::Cycle, MEM),
            Some(1),
        );
        run_gemm_case(&mut tee, case, &d).unwrap();
        run_gemm_case(&mut tee, case, &d).unwrap();
        assert_eq!((tee.starts(), tee.records().len()), (2, 1));

        // Same error on both: agreement; the error index is compared.
        let mut tee = TeeDevice::new(
            SimDevice::new(&c, Fidelity::Cycle, MEM),
            SimDevice::new(&c, Fidelity::Cycle, MEM),
            None,
        );
        let bad = [0xEEu8; 32];
        assert!(tee.submit(0, &bad).is_err());
        assert!(tee.records()[0].ok(), "{}", tee.records()[0].describe());
    }
}
