//! `tinyaccel bench MODEL`: in-process timings. The model is loaded once (and, with
//! `--accel`, the delegate planned and its weights and command streams written to the
//! simulated device once); then `--iters` inferences are timed one by one, after one
//! untimed warm-up inference. Without `--accel` they run on the CPU (the fast host kernels,
//! or the reference kernels with `--reference`);
//! with it the conv/depthwise/FC layers run on the simulator (`--fidelity cycle` or
//! `functional`), and the time spent inside the simulator is measured apart (the rest is
//! the CPU-side work of the offloaded inference: the layers left on the CPU, im2col, the
//! driver), with the simulated accelerator cycles per second of simulator time.
//!
//! Wall-clock figures are only as good as the machine is quiet; the bench also reports the
//! CPU time of the whole timed loop (the thread's user + system time from
//! `/proc/thread-self/stat`, Linux only, 10 ms resolution: use enough iterations), which
//! other processes on a loaded machine disturb much less, and the accelerator cycles per
//! CPU-second of the whole offloaded inference (a lower bound of the simulator's own rate).
//!
//! Every inference must give the same output as the first (the runs are deterministic);
//! a difference is an internal error.

use anyhow::{bail, Context, Result};
use arch::device::{Counters, Device, DeviceError};
use arch::schedule::GemmProblem;
use arch::AccelConfig;
use clap::Args;
use runtime::Interpreter;
use serde_json::json;
use std::cell::Cell;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Built-in model (kws, vww, ic, ad), a .tflite file or a SCALE-Sim topology (.csv).
    pub model: String,
    /// Offload conv/depthwise/FC layers to this simulated accelerator (a config file or a
    /// preset name) and time the offloaded inference.
    #[arg(long)]
    pub accel: Option<String>,
    /// Simulator fidelity with --accel: cycle (timing + values) or functional (values only).
    #[arg(long, default_value = "cycle")]
    pub fidelity: String,
    /// Offload policy with --accel: auto, all, none.
    #[arg(long, default_value = "auto")]
    pub policy: driver::delegate::Policy,
    /// CPU profile the `auto` policy compares with (NAME[@CLOCK][:LIBRARY] or FILE.toml).
    #[arg(long, value_name = "PROFILE", default_value = "cortex-m4f")]
    pub cpu: String,
    /// Timed inferences (after one untimed warm-up).
    #[arg(long, default_value_t = 10)]
    pub iters: u32,
    /// Input file: raw bytes in the model's input dtype, NHWC (default: all zeros).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Time the reference kernels (the oracle) instead of the fast host kernels.
    #[arg(long)]
    pub reference: bool,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Most timed iterations (a typo like `--iters 1000000000` is refused, not run for days).
const MAX_ITERS: u32 = 100_000;

/// A device that adds the wall time of every register write and wait (the simulator runs
/// a command buffer when `CTRL.start` is written) to a shared counter.
struct TimedDevice<D: Device> {
    inner: D,
    spent: Rc<Cell<Duration>>,
}

impl<D: Device> TimedDevice<D> {
    fn timed<T>(&mut self, f: impl FnOnce(&mut D) -> T) -> T {
        let t0 = Instant::now();
        let r = f(&mut self.inner);
        self.spent.set(self.spent.get() + t0.elapsed());
        r
    }
}

impl<D: Device> Device for TimedDevice<D> {
    fn config(&self) -> &AccelConfig {
        self.inner.config()
    }
    fn mem_size(&self) -> u64 {
        self.inner.mem_size()
    }
    fn write_mem(&mut self, addr: u64, data: &[u8]) -> Result<(), DeviceError> {
        self.inner.write_mem(addr, data)
    }
    fn read_mem(&mut self, addr: u64, out: &mut [u8]) -> Result<(), DeviceError> {
        self.inner.read_mem(addr, out)
    }
    fn write_reg(&mut self, offset: u32, value: u32) -> Result<(), DeviceError> {
        self.timed(|d| d.write_reg(offset, value))
    }
    fn read_reg(&mut self, offset: u32) -> Result<u32, DeviceError> {
        self.inner.read_reg(offset)
    }
    fn wait(&mut self) -> Result<Counters, DeviceError> {
        self.timed(|d| d.wait())
    }
}

/// Minimum, median and maximum of a sample, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub min_ms: f64,
    pub median_ms: f64,
    pub max_ms: f64,
}

impl Spread {
    /// The spread of `samples` (not empty).
    pub fn of(samples: &[Duration]) -> Spread {
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        let n = ms.len();
        let median = if n % 2 == 1 {
            ms[n / 2]
        } else {
            (ms[n / 2 - 1] + ms[n / 2]) / 2.0
        };
        Spread {
            min_ms: ms[0],
            median_ms: median,
            max_ms: ms[n - 1],
        }
    }
    fn json(&self) -> serde_json::Value {
        json!({"min": self.min_ms, "median": self.median_ms, "max": self.max_ms})
    }
}

/// What one bench measured.
struct Measured {
    inference: Spread,
    /// With --accel: the time inside the simulator per inference.
    device: Option<Spread>,
    /// With --accel: accelerator cycles of one inference (0 with --fidelity functional).
    accel_cycles: Option<u64>,
    load_ms: f64,
    /// CPU time of the thread over all timed inferences, ms (Linux).
    cpu_ms: Option<f64>,
}

/// User + system CPU time of the calling thread, in ms (`/proc/thread-self/stat`, in
/// clock ticks of 1/100 s: Linux's `USER_HZ`, fixed at 100 in its user ABI); `None` where
/// the file is missing or unreadable.
fn thread_cpu_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the command name (which may contain spaces) in parentheses: state is
    // field 3 of the file, utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 * 10.0)
}

pub fn run(args: BenchArgs) -> Result<ExitCode> {
    if args.iters == 0 || args.iters > MAX_ITERS {
        bail!("--iters {}: must be 1 to {MAX_ITERS}", args.iters);
    }
    let t_load = Instant::now();
    let graph = super::run::load_model(&args.model)?;
    let mut interp = Interpreter::new(&graph)?;
    if args.reference {
        interp.set_kernels(runtime::Kernels::Reference);
    }
    let kernels = if args.reference {
        "reference kernels".to_string()
    } else {
        format!("fast host kernels, {}", interp.isa().name())
    };
    let input = super::run::load_input(&interp, args.input.as_ref())?;
    let m = match &args.accel {
        None => {
            let load_ms = t_load.elapsed().as_secs_f64() * 1e3;
            let first = interp.invoke(&input)?;
            let mut times = Vec::with_capacity(args.iters as usize);
            let cpu0 = thread_cpu_ms();
            for i in 0..args.iters {
                let t0 = Instant::now();
                let out = interp.invoke(&input)?;
                times.push(t0.elapsed());
                check_same(&first, &out, i)?;
            }
            Measured {
                inference: Spread::of(&times),
                device: None,
                accel_cycles: None,
                load_ms,
                cpu_ms: cpu0.zip(thread_cpu_ms()).map(|(a, b)| b - a),
            }
        }
        Some(spec) => {
            let cfg = AccelConfig::resolve(spec)?;
            let cpu = runtime::cost::CpuProfile::resolve(&args.cpu)?;
            let fidelity = super::accel::sim_model(&args.fidelity)?;
            let spent = Rc::new(Cell::new(Duration::ZERO));
            let mut dev = TimedDevice {
                inner: sim::SimDevice::new(&cfg, fidelity, sim::device::DEFAULT_MEM_BYTES),
                spent: spent.clone(),
            };
            // The estimator `run --accel` and `report` decide with.
            let tile = |c: &AccelConfig, p: &GemmProblem| sim::tile::estimate(c, p).ok();
            let mut delegate =
                driver::delegate::load_delegate(&interp, &mut dev, &cpu, args.policy, &tile)
                    .with_context(|| format!("model {} on accelerator {}", graph.name, cfg.name))?;
            let load_ms = t_load.elapsed().as_secs_f64() * 1e3;
            let mut invoke = |interp: &mut Interpreter| -> Result<(Vec<u8>, u64)> {
                delegate.begin_invoke();
                let out = interp
                    .invoke_with(&input, &mut delegate)
                    .with_context(|| format!("model {} on accelerator {}", graph.name, cfg.name))?;
                let cycles = delegate
                    .runs()
                    .values()
                    .map(|r| r.device_counters.cycles)
                    .sum();
                Ok((out, cycles))
            };
            let (first, cycles) = invoke(&mut interp)?;
            let (mut times, mut device) = (Vec::new(), Vec::new());
            let cpu0 = thread_cpu_ms();
            for i in 0..args.iters {
                spent.set(Duration::ZERO);
                let t0 = Instant::now();
                let (out, c) = invoke(&mut interp)?;
                times.push(t0.elapsed());
                device.push(spent.get());
                check_same(&first, &out, i)?;
                if c != cycles {
                    bail!("internal error: inference {i} took {c} accelerator cycles, the first {cycles}");
                }
            }
            Measured {
                inference: Spread::of(&times),
                device: Some(Spread::of(&device)),
                accel_cycles: Some(cycles),
                load_ms,
                cpu_ms: cpu0.zip(thread_cpu_ms()).map(|(a, b)| b - a),
            }
        }
    };
    // Simulated cycles per second of simulator time (median inference).
    let sim_rate = match (m.accel_cycles, m.device) {
        (Some(c), Some(d)) if c > 0 && d.median_ms > 0.0 => Some(c as f64 / (d.median_ms / 1e3)),
        _ => None,
    };
    let per_s = 1e3 / m.inference.median_ms.max(1e-9);
    // CPU time per inference, and accelerator cycles per CPU-second of whole inferences.
    let cpu_per_inference = m.cpu_ms.map(|c| c / args.iters as f64);
    let cycles_per_cpu_s = match (m.accel_cycles, m.cpu_ms) {
        (Some(c), Some(ms)) if c > 0 && ms > 0.0 => Some(c as f64 * args.iters as f64 / (ms / 1e3)),
        _ => None,
    };
    if args.json {
        let v = json!({
            "model": graph.name,
            "accel": args.accel,
            "fidelity": args.accel.as_ref().map(|_| args.fidelity.clone()),
            "policy": args.accel.as_ref().map(|_| json!(args.policy)),
            "iters": args.iters,
            "load_ms": m.load_ms,
            "inference_ms": m.inference.json(),
            "inferences_per_s": per_s,
            "device_ms": m.device.map(|d| d.json()),
            "accel_cycles": m.accel_cycles,
            "sim_cycles_per_s": sim_rate,
            "cpu_ms_per_inference": cpu_per_inference,
            "accel_cycles_per_cpu_s": cycles_per_cpu_s,
        });
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    let target = match &args.accel {
        Some(a) => format!("offloaded to {a} ({} simulator)", args.fidelity),
        None => format!("on the CPU ({kernels})"),
    };
    outln!(
        "{}: {} timed inferences {target} (load {:.1} ms, 1 warm-up)",
        graph.name,
        args.iters,
        m.load_ms
    );
    let row = |name: &str, s: &Spread| {
        outln!(
            "  {name:<22} min {:>10.3} ms  median {:>10.3} ms  max {:>10.3} ms",
            s.min_ms,
            s.median_ms,
            s.max_ms
        )
    };
    row("inference", &m.inference);
    if let Some(d) = &m.device {
        row("inside the simulator", d);
    }
    outln!("  {:<22} {per_s:.1} (median)", "inferences/s");
    if let Some(c) = m.accel_cycles {
        outln!("  {:<22} {c}", "accelerator cycles");
    }
    if let Some(r) = sim_rate {
        outln!(
            "  {:<22} {:.2} M (accelerator cycles / median simulator time)",
            "simulated cycles/s",
            r / 1e6
        );
    }
    if let Some(c) = cpu_per_inference {
        outln!(
            "  {:<22} {c:.3} ms per inference (thread user + system time, 10 ms resolution over all {} inferences)",
            "CPU time",
            args.iters
        );
    }
    if let Some(r) = cycles_per_cpu_s {
        outln!(
            "  {:<22} {:.2} M (accelerator cycles / CPU time of whole inferences)",
            "cycles per CPU-second",
            r / 1e6
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn check_same(first: &[u8], out: &[u8], i: u32) -> Result<()> {
    if first != out {
        bail!("internal error: inference {i} gave another output than the warm-up inference");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_of_odd_and_even_samples() {
        let ms = |x: &[u64]| {
            x.iter()
                .map(|&v| Duration::from_millis(v))
                .collect::<Vec<_>>()
        };
        let s = Spread::of(&ms(&[5, 1, 3]));
        assert_eq!((s.min_ms, s.median_ms, s.max_ms), (1.0, 3.0, 5.0));
        let s = Spread::of(&ms(&[4, 1, 3, 2]));
        assert_eq!((s.min_ms, s.median_ms, s.max_ms), (1.0, 2.5, 4.0));
    }
}
