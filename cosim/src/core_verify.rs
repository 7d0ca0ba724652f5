//! `tinyaccel hdl verify`: random and extreme core tiles run in Verilator (the RTL), in the
//! simulator's register-level core model (`sim::array::CoreJob`) and in the arithmetic
//! reference (`arch::quant` + `arch::timing`); every tile must agree bit for bit (int32
//! rows and PPU int8 rows) and in cycles.

use crate::CosimError;
use arch::isa::Compute;
use arch::{quant, AccelConfig, Dataflow};
use hdl::cases::{self, Expected, Tile, OUTSIDE_CORE_CYCLES};
use hdl::verilator::{self, Observed, Verdict};
use sim::array::CoreJob;
use sim::machine::Machine;
use std::path::Path;
use std::time::Instant;

/// The simulator's view of one tile: its int32 rows in the core's output order and its
/// cycle count (the whole `COMPUTE`, scratchpad read and write-back included).
#[derive(Debug, Clone, PartialEq)]
pub struct SimTile {
    pub acc_rows: Vec<Vec<i32>>,
    pub compute_cycles: u64,
}

/// Runs `t` through the simulator's register-level core model.
pub fn sim_tile(cfg: &AccelConfig, t: &Tile) -> Result<SimTile, CosimError> {
    let mut m = Machine::new(cfg);
    let (rows, cols) = (m.rows, m.cols);
    // Operand layouts of docs/architecture.md section 3, from the dataflow's rules.
    let rules = cfg.dataflow.rules();
    for i in 0..t.m {
        for x in 0..t.k {
            let (line, lane) = rules.a_pos(i as u64, x as u64);
            m.input[line as usize * rows + lane as usize] = t.a[i * t.k + x];
        }
    }
    for x in 0..t.k {
        for j in 0..t.n {
            let (line, lane) = rules.b_pos(x as u64, j as u64);
            m.weight[line as usize * cols + lane as usize] = t.b[x * t.n + j];
        }
    }
    let cmd = Compute {
        accumulate: false,
        a_line: 0,
        b_line: 0,
        c_line: 0,
        m: t.m as u16,
        k: t.k as u16,
        n: t.n as u16,
    };
    sim::machine::check_compute(&m, &cmd, cfg.dataflow).map_err(|e| {
        CosimError::Simulator(format!(
            "tile {}x{}x{} does not fit the simulator's scratchpads of `{}`: {e}",
            t.m, t.k, t.n, cfg.name
        ))
    })?;
    let mut job = CoreJob::new(cmd, cfg.dataflow, &m);
    let limit = 4 * (t.m + t.k + rows + cols) as u64 + 1000 + (t.n * rows.max(cols)) as u64;
    loop {
        let (done, _) = job.step(&mut m);
        if done {
            break;
        }
        if job.elapsed() > limit {
            return Err(CosimError::Simulator(format!(
                "simulator core model did not finish a {}x{}x{} tile in {limit} cycles",
                t.m, t.k, t.n
            )));
        }
    }
    let line = |i: usize| m.acc[i * cols..(i + 1) * cols].to_vec();
    // The core's output lines in its order (`hdl::core::ArrayRtl::output_lines`): line
    // `(i, j0)` holds `C[i][j0..j0+cols]`, which the simulator wrote to accumulator line
    // `(j0/cols)*m + i` (`arch::dataflow::c_pos`); the core also drains rows `i >= m`
    // (zeros), which the simulator does not write.
    let acc_rows = hdl::core::array_of(cfg.dataflow)
        .output_lines(rows, cols, t.m, t.n)
        .into_iter()
        .map(|(i, j0)| {
            if i < t.m {
                line((j0 / cols) * t.m + i)
            } else {
                vec![0; cols]
            }
        })
        .collect();
    Ok(SimTile {
        acc_rows,
        compute_cycles: job.elapsed(),
    })
}

/// The summary of one dataflow.
#[derive(Debug, Clone, PartialEq)]
pub struct DataflowReport {
    pub dataflow: Dataflow,
    pub cases: usize,
    pub bit_exact: usize,
    pub cycle_exact: usize,
    /// Tiles where the simulator's core model agreed with the arithmetic reference.
    pub sim_agrees: usize,
    pub build_seconds: f64,
    pub built: bool,
    pub verilator_cycles: u64,
    pub verilator_seconds: f64,
    pub sim_cycles: u64,
    pub sim_seconds: f64,
    /// First mismatches, readable.
    pub failures: Vec<String>,
}

impl DataflowReport {
    pub fn verilator_cycles_per_s(&self) -> f64 {
        self.verilator_cycles as f64 / self.verilator_seconds.max(1e-9)
    }
    pub fn sim_cycles_per_s(&self) -> f64 {
        self.sim_cycles as f64 / self.sim_seconds.max(1e-9)
    }
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "dataflow": self.dataflow.as_str(),
            "cases": self.cases,
            "bit_exact": self.bit_exact,
            "cycle_exact": self.cycle_exact,
            "sim_agrees": self.sim_agrees,
            "verilator_built": self.built,
            "verilator_build_seconds": self.build_seconds,
            "verilator_cycles": self.verilator_cycles,
            "verilator_seconds": self.verilator_seconds,
            "verilator_cycles_per_s": self.verilator_cycles_per_s(),
            "sim_cycles": self.sim_cycles,
            "sim_seconds": self.sim_seconds,
            "sim_cycles_per_s": self.sim_cycles_per_s(),
            "failures": self.failures,
        })
    }
}

/// Compares the RTL's rows and cycles of one tile with the simulator and the reference.
pub fn judge(obs: &Observed, exp: &Expected, sim: &SimTile, t: &Tile) -> (Verdict, Vec<String>) {
    let mut why = Vec::new();
    let mut v = verilator::compare(obs, exp);
    if !v.bit_exact {
        why.push(format!(
            "{}x{}x{}: RTL rows differ from the arch::quant reference",
            t.m, t.k, t.n
        ));
    }
    if obs.acc_rows != sim.acc_rows {
        v.bit_exact = false;
        why.push(format!(
            "{}x{}x{}: RTL int32 rows differ from the simulator's core model",
            t.m, t.k, t.n
        ));
    }
    if !v.cycle_exact {
        why.push(format!(
            "{}x{}x{}: RTL core cycles {:?}, PPU latency {:?}; arch::timing expects {} and {}",
            t.m, t.k, t.n, obs.core_cycles, obs.ppu_latency, exp.core_cycles, exp.ppu_latency
        ));
    }
    if obs.core_cycles.map(|c| c + OUTSIDE_CORE_CYCLES) != Some(sim.compute_cycles) {
        v.cycle_exact = false;
        why.push(format!(
            "{}x{}x{}: RTL core cycles {:?} + {OUTSIDE_CORE_CYCLES} != simulator's {}",
            t.m, t.k, t.n, obs.core_cycles, sim.compute_cycles
        ));
    }
    (v, why)
}

/// Most generated tiles one `verify_dataflow` runs: the tiles and their stimulus are held
/// in memory (up to about 77 KB per tile on a 64x64 array), so 10,000 stay under 1 GiB.
pub const MAX_CASES: usize = 10_000;

/// Runs `cases` generated tiles (seed `seed`) of `cfg`'s dataflow (at most
/// [`MAX_CASES`]). `progress` receives one line per phase.
pub fn verify_dataflow(
    cfg: &AccelConfig,
    cases_n: usize,
    seed: u64,
    work: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<DataflowReport, CosimError> {
    if cases_n > MAX_CASES {
        return Err(CosimError::Limit(format!(
            "--cases {cases_n}: at most {MAX_CASES} tiles per run (they are generated and held \
             in memory); run several seeds instead"
        )));
    }
    let tiles = cases::generate(cfg, cases_n, seed);
    progress(&format!(
        "{} {}: building the Verilator model (cache: {})",
        cfg.name,
        cfg.dataflow,
        verilator::cache_root().display()
    ));
    let build = verilator::build(cfg)?;
    progress(&format!(
        "{} {}: {} ({:.1} s); running {} tiles",
        cfg.name,
        cfg.dataflow,
        if build.built { "built" } else { "cached" },
        build.build_seconds,
        tiles.len()
    ));
    let out = verilator::run(cfg, &build, &tiles, work)?;
    let t0 = Instant::now();
    let sims = tiles
        .iter()
        .map(|t| sim_tile(cfg, t))
        .collect::<Result<Vec<_>, _>>()?;
    let sim_seconds = t0.elapsed().as_secs_f64();
    let mut rep = DataflowReport {
        dataflow: cfg.dataflow,
        cases: tiles.len(),
        bit_exact: 0,
        cycle_exact: 0,
        sim_agrees: 0,
        build_seconds: build.build_seconds,
        built: build.built,
        verilator_cycles: out.cycles,
        verilator_seconds: out.seconds,
        sim_cycles: sims.iter().map(|s| s.compute_cycles).sum(),
        sim_seconds,
        failures: Vec::new(),
    };
    for (i, t) in tiles.iter().enumerate() {
        let exp = cases::expected(cfg, t);
        let sim = &sims[i];
        if sim.acc_rows == exp.acc_rows
            && sim.compute_cycles == exp.core_cycles + OUTSIDE_CORE_CYCLES
        {
            rep.sim_agrees += 1;
        }
        let (v, why) = judge(&out.tiles[i], &exp, sim, t);
        rep.bit_exact += usize::from(v.bit_exact);
        rep.cycle_exact += usize::from(v.cycle_exact);
        for w in why {
            if rep.failures.len() < 10 {
                rep.failures.push(format!("tile {i}: {w}"));
            }
        }
    }
    Ok(rep)
}

/// The PPU of the reference for a row (used by tests that corrupt expectations).
pub fn requantize_row(t: &Tile, row: &[i32]) -> Vec<i8> {
    row.iter()
        .enumerate()
        .map(|(j, &x)| {
            let (b, m, s) = cases::lane_params(t, j);
            quant::requantize(x, b, m, s, t.zp, t.act_min, t.act_max)
        })
        .collect()
}
