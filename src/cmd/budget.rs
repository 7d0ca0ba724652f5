//! The budget flags shared by `run`, `report` and `sweep` (issue 26): `--rate`,
//! `--deadline`, `--battery`, `--accel-sleep`, `--cmd-streams`, and the memory footprint
//! of a model, CPU only and offloaded, against the CPU profile's capacities.

use anyhow::{bail, Context, Result};
use arch::AccelConfig;
use clap::Args;
use driver::delegate::{CmdStreams, Decision};
use models::Graph;
use reports::budget::{AccelSleep, Battery, Deadline};
use reports::record::{
    BatterySummary, BudgetSettings, MemoryUse, ModelBudget, TargetBudgetJson, TargetMemory,
};
use runtime::cost::CpuProfile;
use runtime::footprint::Footprint;

/// The budget flags (flattened into `run`, `report` and `sweep`).
#[derive(Debug, Clone, Args)]
pub struct BudgetArgs {
    /// Inference rate, Hz (`10` or `10Hz`): the deadline is the period (unless --deadline)
    /// and the report adds the duty-cycled average power and battery life at this rate.
    #[arg(long, value_name = "HZ")]
    pub rate: Option<String>,
    /// Latency deadline of one inference, ms (`50` or `50ms`).
    #[arg(long, value_name = "MS")]
    pub deadline: Option<String>,
    /// Battery of the battery-life figure: a preset (cr2032, cr2450, aa, 2xaa,
    /// lipo-100mah, lipo-500mah) or MAH@V (`225mAh@3V`). Default with --rate: cr2032.
    #[arg(long, value_name = "NAME|MAH@V")]
    pub battery: Option<String>,
    /// The accelerator between inferences: `gated` (power-gated, 0 uW; the default) or
    /// `retention` (its scratchpad SRAMs keep their contents and leak).
    #[arg(long, value_name = "MODE")]
    pub accel_sleep: Option<String>,
    /// Where the driver keeps the command streams: `sram` (today's behaviour, the
    /// default), `flash` (counted in flash instead of SRAM) or `generate` (built per layer
    /// at invoke time into one SRAM buffer, costing CPU cycles).
    #[arg(long, value_name = "POLICY")]
    pub cmd_streams: Option<String>,
}

/// The parsed budget flags.
#[derive(Debug, Clone)]
pub struct Budget {
    pub rate_hz: Option<f64>,
    pub deadline_us: Option<f64>,
    pub battery: Option<Battery>,
    pub accel_sleep: AccelSleep,
    pub cmd_streams: CmdStreams,
}

impl BudgetArgs {
    /// Parses and checks the flags; errors name the flag and the value.
    pub fn parse(&self) -> Result<Budget> {
        let rate_hz = match &self.rate {
            Some(t) => Deadline::parse_rate(t)
                .with_context(|| format!("--rate {t}"))?
                .rate_hz(),
            None => None,
        };
        let deadline_us = match &self.deadline {
            Some(t) => Some(
                Deadline::parse_latency_ms(t)
                    .with_context(|| format!("--deadline {t}"))?
                    .budget_us(),
            ),
            None => None,
        };
        let battery = match (&self.battery, rate_hz) {
            (Some(b), Some(_)) => {
                Some(Battery::parse(b).with_context(|| format!("--battery {b}"))?)
            }
            (Some(b), None) => bail!(
                "--battery {b}: needs --rate HZ (battery life is computed at an inference rate)"
            ),
            (None, Some(_)) => Some(Battery::default_battery()),
            (None, None) => None,
        };
        let accel_sleep = self.accel_sleep()?.unwrap_or_default();
        let cmd_streams = self.cmd_streams()?.unwrap_or_default();
        Ok(Budget {
            rate_hz,
            deadline_us,
            battery,
            accel_sleep,
            cmd_streams,
        })
    }
}

impl BudgetArgs {
    /// `--accel-sleep`, parsed (`None` when not given).
    pub fn accel_sleep(&self) -> Result<Option<AccelSleep>> {
        self.accel_sleep
            .as_deref()
            .map(|t| {
                t.parse::<AccelSleep>()
                    .with_context(|| format!("--accel-sleep {t}"))
            })
            .transpose()
    }

    /// `--cmd-streams`, parsed (`None` when not given).
    pub fn cmd_streams(&self) -> Result<Option<CmdStreams>> {
        self.cmd_streams
            .as_deref()
            .map(|t| {
                t.parse::<CmdStreams>()
                    .map_err(|e| anyhow::anyhow!("--cmd-streams {t}: {e}"))
            })
            .transpose()
    }
}

impl Budget {
    /// Whether any budget flag beyond the defaults was given.
    pub fn any_given(&self) -> bool {
        self.rate_hz.is_some()
            || self.deadline_us.is_some()
            || self.accel_sleep != AccelSleep::Gated
            || self.cmd_streams != CmdStreams::default()
    }

    /// The report's settings for CPU `cpu` and accelerator `cfg` (`None`: no accelerator,
    /// 0 uW between inferences).
    pub fn settings(&self, cpu: &CpuProfile, cfg: Option<&AccelConfig>) -> BudgetSettings {
        BudgetSettings {
            rate_hz: self.rate_hz,
            deadline_us: self.deadline_us,
            battery: self.battery.as_ref().map(|b| BatterySummary {
                name: b.name.clone(),
                mah: b.mah,
                volts: b.volts,
            }),
            cpu_sleep_uw: cpu.sleep_uw(),
            cpu_sleep_mode: cpu.data().power.sleep_mode.clone(),
            accel_sleep: self.accel_sleep.as_str().to_string(),
            accel_sleep_uw: cfg.map_or(0.0, |c| self.accel_sleep.power_uw(c)),
            cmd_streams: self.cmd_streams.as_str().to_string(),
        }
    }

    /// The budget of `graph` (from `source`: a built-in name or a `.tflite` path) on `cpu`
    /// (pure-CPU run) and offloaded to `cfg` with the partition `decisions` of the
    /// offloaded run.
    pub fn model_budget(
        &self,
        graph: &Graph,
        source: &str,
        cpu: &CpuProfile,
        cfg: &AccelConfig,
        decisions: &[Decision],
    ) -> Result<ModelBudget> {
        let interp = runtime::Interpreter::new(graph)?;
        let file = file_bytes(source);
        let cpu_fp = runtime::footprint::cpu_only(&interp, cpu, file)
            .with_context(|| format!("memory footprint of {} on {}", graph.name, cpu.spec()))?;
        let off_fp =
            driver::delegate::footprint(&interp, cfg, cpu, decisions, self.cmd_streams, file)
                .with_context(|| {
                    format!(
                        "memory footprint of {} offloaded to {}",
                        graph.name, cfg.name
                    )
                })?;
        Ok(ModelBudget {
            settings: self.settings(cpu, Some(cfg)),
            cpu_only: target_memory(&cpu_fp, cpu),
            offloaded: target_memory(&off_fp, cpu),
        })
    }
}

/// The pure-CPU budget of `graph` on `cpu` (for `run --cpu` without `--accel`): the
/// memory against the capacities, and the deadline and power of the CPU baseline.
pub fn cpu_only_budget(
    budget: &Budget,
    graph: &Graph,
    source: &str,
    cpu: &CpuProfile,
) -> Result<(BudgetSettings, TargetBudgetJson)> {
    let interp = runtime::Interpreter::new(graph)?;
    let fp = runtime::footprint::cpu_only(&interp, cpu, file_bytes(source))
        .with_context(|| format!("memory footprint of {} on {}", graph.name, cpu.spec()))?;
    let cost = runtime::cost::graph_cost(cpu, graph)
        .map_err(|e| anyhow::anyhow!("model {}: {e}", graph.name))?;
    let settings = budget.settings(cpu, None);
    let t = TargetBudgetJson::new(
        &settings,
        &target_memory(&fp, cpu),
        cost.cycles as f64 / cost.clock_mhz,
        cost.energy_uj(),
        settings.cpu_sleep_uw,
    );
    Ok((settings, t))
}

/// Terminal lines of one target's budget: memory, deadline, power.
pub fn target_lines(name: &str, t: &TargetBudgetJson) -> Vec<(String, serde_json::Value)> {
    use reports::writer::{deadline_text, fit_text, kib, power_texts};
    let [power, life] = power_texts(t);
    vec![
        (
            format!("{name} memory"),
            serde_json::json!(format!(
                "flash {} / {}, SRAM {} / {}: {}",
                kib(t.flash.used_bytes),
                kib(t.flash.memory.capacity_bytes),
                kib(t.sram.used_bytes),
                kib(t.sram.memory.capacity_bytes),
                fit_text(t)
            )),
        ),
        (
            format!("{name} deadline"),
            serde_json::json!(deadline_text(t)),
        ),
        (
            format!("{name} power"),
            serde_json::json!(format!("{power}, battery life {life}")),
        ),
    ]
}

/// The size of the `.tflite` file `source`, or `None` for a built-in model or a SCALE-Sim
/// topology (the footprint then uses the model's constant bytes plus a stated overhead,
/// runtime::footprint: the CSV's own size says nothing of the synthetic weights).
pub fn file_bytes(source: &str) -> Option<u64> {
    let p = std::path::Path::new(source);
    if p.is_file() && !models::scalesim::is_topology_path(source) {
        std::fs::metadata(p).ok().map(|m| m.len())
    } else {
        None
    }
}

/// A footprint against the CPU profile's capacities.
pub fn target_memory(fp: &Footprint, cpu: &CpuProfile) -> TargetMemory {
    TargetMemory {
        flash: MemoryUse::new(&fp.flash, cpu.flash_bytes()),
        sram: MemoryUse::new(&fp.sram, cpu.sram_bytes()),
    }
}
