//! The results of `tinyaccel hdl verify --system`: one [`ProgramReport`] per compared
//! program, one [`ModelCheck`] per model, the whole [`SystemReport`] and its text and
//! JSON forms.

use crate::tee::TeeRecord;
use arch::device::Counters;
use arch::AccelConfig;
use serde_json::{json, Value};

/// One compared program (a GEMM, or one model layer with all its GEMM jobs).
#[derive(Debug, Clone)]
pub struct ProgramReport {
    pub name: String,
    /// `gemm` or `layer`.
    pub kind: &'static str,
    /// `MxKxN` of a GEMM, or the layer's op and GEMM count.
    pub shape: String,
    /// Command buffers started (1 for a GEMM).
    pub starts: usize,
    pub commands: u64,
    pub sim_cycles: u64,
    pub rtl_cycles: u64,
    /// Bytes compared (sum over the starts).
    pub mem_bytes: u64,
    pub sim_counters: Counters,
    pub rtl_counters: Counters,
    /// First difference (`None`: byte- and cycle-exact).
    pub mismatch: Option<String>,
    /// The GEMM's output vs `driver::gemm::reference` (GEMMs only).
    pub reference_ok: Option<bool>,
    pub sim_seconds: f64,
    pub rtl_seconds: f64,
}

impl ProgramReport {
    pub fn ok(&self) -> bool {
        self.mismatch.is_none() && self.reference_ok != Some(false)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "kind": self.kind,
            "shape": self.shape,
            "starts": self.starts,
            "commands": self.commands,
            "sim_cycles": self.sim_cycles,
            "rtl_cycles": self.rtl_cycles,
            "mem_bytes_compared": self.mem_bytes,
            "byte_exact_and_cycle_exact": self.mismatch.is_none(),
            "mismatch": self.mismatch,
            "reference_ok": self.reference_ok,
            "sim_counters": self.sim_counters,
            "rtl_counters": self.rtl_counters,
            "sim_seconds": self.sim_seconds,
            "rtl_seconds": self.rtl_seconds,
        })
    }
}

/// One model run through the tee.
#[derive(Debug, Clone)]
pub struct ModelCheck {
    pub model: String,
    pub offloaded_layers: usize,
    pub compared_layers: usize,
    pub compared_starts: usize,
    pub total_starts: usize,
    /// The offloaded run's output.
    pub output: Vec<u8>,
    /// The CPU interpreter's output for the same input.
    pub cpu_output: Vec<u8>,
    pub seconds: f64,
}

impl ModelCheck {
    pub fn output_matches_cpu(&self) -> bool {
        self.output == self.cpu_output
    }
}

/// The whole `verify --system` result.
#[derive(Debug, Clone)]
pub struct SystemReport {
    pub config: AccelConfig,
    pub seed: u64,
    pub mem_bytes: usize,
    pub built: bool,
    pub build_seconds: f64,
    pub binary: String,
    pub programs: Vec<ProgramReport>,
    pub models: Vec<ModelCheck>,
    /// Command buffers run on the RTL, cycles simulated (testbench count) and their wall
    /// time (requests to the testbench processes, memory transfer included).
    pub rtl_runs: u64,
    /// Testbench processes started (one per RTL device: the GEMM and vector-unit programs
    /// share one, each model has its own; more only if a process had to be restarted).
    pub rtl_processes: u64,
    pub rtl_cycles: u64,
    pub rtl_seconds: f64,
    pub seconds: f64,
}

impl SystemReport {
    /// Every program exact and every model output equal to the CPU's.
    pub fn all_ok(&self) -> bool {
        !self.programs.is_empty()
            && self.programs.iter().all(ProgramReport::ok)
            && self.models.iter().all(ModelCheck::output_matches_cpu)
    }

    pub fn rtl_cycles_per_s(&self) -> f64 {
        self.rtl_cycles as f64 / self.rtl_seconds.max(1e-9)
    }

    pub fn to_json(&self) -> Value {
        let c = &self.config;
        json!({
            "config": c.name,
            "config_hash": c.hash(),
            "dataflow": c.dataflow.as_str(),
            "rows": c.rows,
            "cols": c.cols,
            "seed": self.seed,
            "mem_bytes": self.mem_bytes,
            "all_exact": self.all_ok(),
            "programs_total": self.programs.len(),
            "programs_exact": self.programs.iter().filter(|p| p.ok()).count(),
            "verilator": {
                "built": self.built,
                "build_seconds": self.build_seconds,
                "binary": self.binary,
                "runs": self.rtl_runs,
                "processes": self.rtl_processes,
                "cycles": self.rtl_cycles,
                "seconds": self.rtl_seconds,
                "cycles_per_s": self.rtl_cycles_per_s(),
            },
            "programs": self.programs.iter().map(ProgramReport::to_json).collect::<Vec<_>>(),
            "models": self.models.iter().map(|m| json!({
                "model": m.model,
                "offloaded_layers": m.offloaded_layers,
                "compared_layers": m.compared_layers,
                "compared_starts": m.compared_starts,
                "total_starts": m.total_starts,
                "output_matches_cpu": m.output_matches_cpu(),
                "seconds": m.seconds,
            })).collect::<Vec<_>>(),
            "seconds": self.seconds,
        })
    }

    /// The text report.
    pub fn to_text(&self) -> String {
        let c = &self.config;
        let mut s = format!(
            "{} {}x{} {} (hash {}), seed {}: system RTL vs cycle-level simulator\n",
            c.name,
            c.rows,
            c.cols,
            c.dataflow,
            c.hash(),
            self.seed
        );
        s.push_str(&format!(
            "  Verilator: {} ({:.1} s), {} command buffers in {} processes, {} cycles in {:.2} s = {:.0} cycles/s (file I/O included)\n",
            if self.built { "built" } else { "cached" },
            self.build_seconds,
            self.rtl_runs,
            self.rtl_processes,
            self.rtl_cycles,
            self.rtl_seconds,
            self.rtl_cycles_per_s()
        ));
        let w = self
            .programs
            .iter()
            .map(|p| p.name.len())
            .max()
            .unwrap_or(4)
            .max(4);
        s.push_str(&format!(
            "  {:<w$}  {:<24}  {:>6}  {:>10}  {:>10}  {:>9}  {:>7}  result\n",
            "program", "shape", "cmds", "sim cyc", "rtl cyc", "mem B", "rtl s"
        ));
        for p in &self.programs {
            s.push_str(&format!(
                "  {:<w$}  {:<24}  {:>6}  {:>10}  {:>10}  {:>9}  {:>7.2}  {}\n",
                p.name,
                p.shape,
                p.commands,
                p.sim_cycles,
                p.rtl_cycles,
                p.mem_bytes,
                p.rtl_seconds,
                match (&p.mismatch, p.reference_ok) {
                    (None, Some(false)) =>
                        "MISMATCH: simulator output differs from the reference".to_string(),
                    (None, _) => "exact".to_string(),
                    (Some(m), _) => format!("MISMATCH: {m}"),
                }
            ));
        }
        for m in &self.models {
            s.push_str(&format!(
                "  model {}: {} of {} offloaded layers ({} of {} command buffers) compared on the RTL; output {} the CPU interpreter's ({:.1} s)\n",
                m.model,
                m.compared_layers,
                m.offloaded_layers,
                m.compared_starts,
                m.total_starts,
                if m.output_matches_cpu() { "equals" } else { "DIFFERS FROM" },
                m.seconds
            ));
        }
        let exact = self.programs.iter().filter(|p| p.ok()).count();
        s.push_str(&format!(
            "  {exact} of {} programs byte-exact and cycle-exact ({:.1} s)\n",
            self.programs.len(),
            self.seconds
        ));
        s
    }
}

/// Folds the tee records of one program into a report.
pub fn program_report(
    name: String,
    kind: &'static str,
    shape: String,
    recs: &[&TeeRecord],
) -> ProgramReport {
    let mut sim_c = Counters::default();
    let mut rtl_c = Counters::default();
    let mut mismatch = None;
    let (mut commands, mut mem_bytes) = (0u64, 0u64);
    let (mut ss, mut rs) = (0.0, 0.0);
    for r in recs {
        commands += r.commands as u64;
        mem_bytes += r.mem_bytes;
        ss += r.primary_wall.as_secs_f64();
        rs += r.shadow_wall.as_secs_f64();
        if let Ok(c) = &r.primary {
            sim_c.add(c);
        }
        if let Ok(c) = &r.shadow {
            rtl_c.add(c);
        }
        if mismatch.is_none() && !r.ok() {
            mismatch = Some(if recs.len() > 1 {
                format!(
                    "command buffer {} (start {}): {}",
                    r.label,
                    r.start,
                    r.describe()
                )
            } else {
                r.describe()
            });
        }
    }
    if recs.is_empty() {
        mismatch = Some("no command buffer was compared".into());
    }
    ProgramReport {
        name,
        kind,
        shape,
        starts: recs.len(),
        commands,
        sim_cycles: sim_c.cycles,
        rtl_cycles: rtl_c.cycles,
        mem_bytes,
        sim_counters: sim_c,
        rtl_counters: rtl_c,
        mismatch,
        reference_ok: None,
        sim_seconds: ss,
        rtl_seconds: rs,
    }
}
