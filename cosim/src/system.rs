//! `tinyaccel hdl verify --system`: driver-generated programs run on the cycle-level
//! simulator (`sim::SimDevice`, `Fidelity::Cycle`) and on the system RTL
//! ([`RtlDevice`]) from identical memory images; the final device memory (every byte
//! the program or the host touched) and all counters (`arch::device::COUNTER_NAMES`) must be equal.
//!
//! Two kinds of programs, both through a [`crate::tee::TeeDevice`] (a `Device` that
//! forwards to the simulator and, for the first starts, also runs the RTL on the same
//! pre-start image and compares):
//! - GEMMs built by `driver::gemm` ([`crate::gemm`]): one tile, many tiles with loads
//!   overlapping compute (double buffering), K split (int32 accumulation), N beyond the
//!   columns (several PPU parameter blocks and `LOAD_PARAMS`), raw int32 output, odd
//!   sizes and clamps, and `--programs` random ones (random shapes, outputs and tilings,
//!   seeded; [`crate::gen`]);
//! - real layers of the MLPerf Tiny models through `driver::delegate`
//!   ([`crate::layers`]; every conv, depthwise and FC layer offloaded): by default the
//!   whole anomaly-detection autoencoder, the first offloaded layer of kws and ic and the
//!   first two of vww (a conv and a depthwise layer); the rest of a model runs on the
//!   simulator only (a whole model, `ModelSpec::layers = None`, compares every command
//!   buffer), and the model's output is compared with the CPU interpreter's;
//! - with the vector unit (`depthwise`, `pooling` or `eltwise`), hand-built `VSET` /
//!   `VCOMPUTE` programs ([`crate::vpu`]): a coverage set of every mode the configuration
//!   has and `--programs` random ones, checked against `arch::vpu` too.

use crate::gemm::verify_gemms;
use crate::gen::{coverage_cases, random_cases};
use crate::layers::{verify_model, ModelSpec};
use crate::report::SystemReport;
use crate::vpu::{coverage_vpu_cases, random_vpu_cases, verify_vpu};
use crate::CosimError;
use arch::AccelConfig;
use hdl::rtl_device::RtlDevice;
use hdl::sysflow::{self, SystemBuild};
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub seed: u64,
    /// Random GEMMs besides the fixed coverage set.
    pub random_programs: usize,
    /// Run the fixed GEMM coverage set.
    pub coverage: bool,
    pub models: Vec<ModelSpec>,
    /// Device memory of both devices.
    pub mem_bytes: usize,
    /// Draw a progress bar on stderr.
    pub progress_bar: bool,
}

impl Options {
    /// The default programs: the coverage GEMMs, `random` random GEMMs, the whole `ad`
    /// model, the first offloaded layer of `kws` and `ic` and the first two of `vww`
    /// (conv, depthwise).
    pub fn default_set(seed: u64, random: usize) -> Self {
        let m = |name: &str, layers| ModelSpec {
            model: name.into(),
            layers,
            input: None,
        };
        Options {
            seed,
            random_programs: random,
            coverage: true,
            models: vec![
                m("ad", None),
                m("kws", Some(1)),
                m("vww", Some(2)),
                m("ic", Some(1)),
            ],
            mem_bytes: sim::device::DEFAULT_MEM_BYTES,
            progress_bar: false,
        }
    }
}

/// The whole `verify --system` run on `cfg`.
pub fn verify_system(cfg: &AccelConfig, opts: &Options) -> Result<SystemReport, CosimError> {
    let t0 = Instant::now();
    let bar = if opts.progress_bar {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_message(format!(
        "{}: building the system RTL in Verilator (cache {})",
        cfg.name,
        hdl::verilator::cache_root().join("system").display()
    ));
    bar.enable_steady_tick(Duration::from_millis(200));
    let build: SystemBuild = sysflow::build(cfg, opts.mem_bytes as u64)?;
    let mut cases = Vec::new();
    if opts.coverage {
        cases.extend(coverage_cases(cfg));
    }
    cases.extend(random_cases(cfg, opts.random_programs, opts.seed));
    let mut vcases = Vec::new();
    if cfg.has_vpu() {
        if opts.coverage {
            vcases.extend(coverage_vpu_cases(cfg).map_err(CosimError::Programs)?);
        }
        vcases.extend(
            random_vpu_cases(cfg, opts.random_programs, opts.seed).map_err(CosimError::Programs)?,
        );
    }
    let total = (cases.len() + vcases.len() + opts.models.len()) as u64;
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_length(total);
    let rtl = RtlDevice::with_build(build.clone());
    let mut tick = |name: &str| {
        bar.set_message(format!("{}: {name}", cfg.name));
        bar.inc(1);
    };
    let (mut programs, rtl) = verify_gemms(cfg, rtl, &cases, opts.seed, opts.mem_bytes, &mut tick);
    let (vreps, rtl) = verify_vpu(cfg, rtl, &vcases, opts.mem_bytes, &mut tick);
    programs.extend(vreps);
    let (mut runs, mut cycles, mut wall) = rtl.rtl_totals();
    let mut processes = rtl.process_totals().0;
    drop(rtl);
    let mut models = Vec::new();
    for spec in &opts.models {
        tick(&format!("model {}", spec.model));
        let rtl = RtlDevice::with_build(build.clone());
        let (reps, m, rtl) = verify_model(cfg, rtl, spec, opts.seed, opts.mem_bytes)?;
        let (r, c, w) = rtl.rtl_totals();
        processes += rtl.process_totals().0;
        runs += r;
        cycles += c;
        wall += w;
        programs.extend(reps);
        models.push(m);
    }
    bar.finish_and_clear();
    Ok(SystemReport {
        config: cfg.clone(),
        seed: opts.seed,
        mem_bytes: opts.mem_bytes,
        built: build.built,
        build_seconds: build.build_seconds,
        binary: build.binary.display().to_string(),
        programs,
        models,
        rtl_runs: runs,
        rtl_processes: processes,
        rtl_cycles: cycles,
        rtl_seconds: wall.as_secs_f64(),
        seconds: t0.elapsed().as_secs_f64(),
    })
}
