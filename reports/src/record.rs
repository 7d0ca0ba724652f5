//! The report records: what the CLI fills from the CPU cost model (baseline) and the
//! offloaded run (driver + simulator), and what every writer reads.
//!
//! Field names and units follow the result schema (docs/results-schema.md,
//! [`crate::schema`]): units are in the names, `_cycles` (clock cycles), `_us`
//! (microseconds), `_uj` (microjoules), `_bytes` (bytes). Stored fields are measured
//! values only; everything derived (speedup, energy ratio, model totals) is a method, so a
//! number can never disagree with the numbers it is computed from.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::error::ReportError;

/// Where a layer runs in the offloaded run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Left on the MCU core (the driver's partitioner did not offload it).
    Cpu,
    /// Offloaded to the accelerator.
    Accel,
}

impl Target {
    /// `"cpu"` or `"accel"`, as in every output file.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Cpu => "cpu",
            Target::Accel => "accel",
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One layer (graph operator) of one model: its pure-CPU baseline and its cost in the
/// offloaded run. Field names and units follow the result schema
/// ([`crate::schema::SCHEMA`], docs/results-schema.md).
///
/// Invariants checked by [`LayerRow::check`] (and by every writer):
/// - `offload_us = compute_us + dma_stall_us + driver_us + cpu_side_us`
///   (for a CPU layer `compute_us`, `dma_stall_us` and `driver_us` are 0),
/// - `offload_uj` = the sum of [`crate::schema::ENERGY_PARTS`] (the accelerator's parts
///   plus `offload_cpu_uj`),
/// - a CPU layer has no accelerator cycles (`accel_cycles = 0`),
/// - all numbers finite and non-negative.
///
/// The sums are checked with a relative tolerance of [`SUM_TOLERANCE`]. The utilizations
/// are not stored: [`ModelReport::array_utilization`] and [`ModelReport::mac_utilization`]
/// derive them (they need the array's peak and clock).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerRow {
    /// Position of the operator in the model's execution order (0-based).
    pub index: usize,
    /// Operator name (e.g. `CONV_2D`, `DEPTHWISE_CONV_2D`, `FULLY_CONNECTED`).
    pub op: String,
    /// Shape of the main (activation) input, e.g. `[1, 49, 10, 1]`.
    pub input_shape: Vec<usize>,
    /// Shape of the output.
    pub output_shape: Vec<usize>,
    /// Multiply-accumulates of the layer (0 for data-movement ops).
    pub macs: u64,
    /// Where the layer runs in the offloaded run.
    pub target: Target,
    /// Why the partitioner chose `target` (e.g. `conv offloaded`, `op not supported`).
    pub reason: String,
    /// Pure-CPU baseline: cycles at the CPU clock.
    pub cpu_cycles: u64,
    /// Pure-CPU baseline: latency in us.
    pub cpu_us: f64,
    /// Pure-CPU baseline: energy in uJ.
    pub cpu_uj: f64,
    /// Offloaded run: cycles the accelerator ran for this layer, at the accelerator clock
    /// (0 for a layer left on the CPU).
    pub accel_cycles: u64,
    /// Offloaded run: wall latency of this layer in us (sum of the four time parts below).
    pub offload_us: f64,
    /// Offloaded run: energy of this layer in uJ (sum of the five energy parts below).
    pub offload_uj: f64,
    /// Time part: the array computing (including DMA overlapped with compute), us.
    pub compute_us: f64,
    /// Time part: the array waiting for DMA beyond what compute hides, us.
    pub dma_stall_us: f64,
    /// Time part: driver CPU time (command-stream set-up, synchronisation), us.
    pub driver_us: f64,
    /// Time part: CPU work in the offloaded run (a layer left on the CPU, im2col), us.
    pub cpu_side_us: f64,
    /// Energy part: MAC array dynamic energy, uJ.
    pub mac_uj: f64,
    /// Energy part: scratchpad (input, weight, accumulator SRAM) accesses, uJ.
    pub sram_uj: f64,
    /// Energy part: system-bus transfers (DMA), uJ.
    pub bus_uj: f64,
    /// Energy part: accelerator leakage over the layer's wall time, uJ.
    pub leakage_uj: f64,
    /// Energy part: the CPU in the offloaded run (CPU-side work, driver, sleeping while
    /// waiting for the accelerator), uJ.
    pub offload_cpu_uj: f64,
    /// Bytes moved on the system bus by the accelerator's DMA for this layer.
    pub bus_bytes: u64,
    /// Detail (not a part of the sum): cycles the array computed (`array_busy_cycles`), us.
    /// At most `compute_us + dma_stall_us` (the accelerator's time).
    #[serde(default)]
    pub array_busy_us: f64,
    /// Detail (not a part of the sum): cycles the DMA engine executed a command
    /// (`dma_busy_cycles`), us; overlaps the array's time. At most `compute_us +
    /// dma_stall_us`.
    #[serde(default)]
    pub dma_busy_us: f64,
    /// Part of `cpu_side_us`: the CPU kernel of a layer left on the CPU, us.
    #[serde(default)]
    pub cpu_kernel_us: f64,
    /// Part of `cpu_side_us`: the CPU im2col of an offloaded conv layer, us (0 for a layer
    /// whose im2col runs in the accelerator's address generator).
    #[serde(default)]
    pub cpu_im2col_us: f64,
    /// Energy part: the accelerator's im2col address generator (`agu_pj x
    /// im2col_pieces`), uJ; 0 with `im2col = false`.
    #[serde(default)]
    pub agu_uj: f64,
    /// Energy part: the DMA's outstanding-burst tracking FIFO (`dma_slot_pj x
    /// dma_bursts`), uJ; 0 with `dma_outstanding = 1`.
    #[serde(default)]
    pub dma_track_uj: f64,
    /// Bus bursts (pieces) the accelerator's DMA issued (`Counters::dma_bursts`).
    #[serde(default)]
    pub dma_bursts: u64,
    /// Pieces (bus and pad) of the `LOAD_IM2COL` commands (`Counters::im2col_pieces`).
    #[serde(default)]
    pub im2col_pieces: u64,
    /// Energy part: the vector unit's `SUM`/`MAX`/`ADD` lane operations
    /// (`EnergyBreakdown::vpu_pj`; its depthwise MACs are in `mac_uj`), uJ; 0 without the
    /// unit.
    #[serde(default)]
    pub vpu_uj: f64,
    /// Detail (not a part of the sum): cycles the vector unit computed
    /// (`vpu_busy_cycles`), us. At most `compute_us + dma_stall_us`.
    #[serde(default)]
    pub vpu_busy_us: f64,
    /// Energy part: the memory behind the bus (`EnergyBreakdown::main_memory_pj`: system SRAM, LPDDR4 or QSPI flash by `main_memory`), uJ.
    #[serde(default)]
    pub main_memory_uj: f64,
    /// Energy part: clock tree and registers of the accelerator's units, working and idle (`EnergyBreakdown::clock_pj`), plus its idle clock while the CPU works (`device_idle_clock_uj`), uJ.
    #[serde(default)]
    pub clock_uj: f64,
    /// Energy part: the PPU, per requantized output (`EnergyBreakdown::ppu_pj`), uJ.
    #[serde(default)]
    pub ppu_uj: f64,
    /// Energy part: the controller, per command: the 16-byte fetch from main memory over the bus and the decode (`EnergyBreakdown::control_pj`), uJ.
    #[serde(default)]
    pub control_uj: f64,
    /// Energy part: the DMA engine's address generation and requests, per burst (`EnergyBreakdown::dma_pj`), uJ.
    #[serde(default)]
    pub dma_uj: f64,
}

/// Relative tolerance of the sum checks (breakdowns versus totals).
pub const SUM_TOLERANCE: f64 = 1e-6;

fn close(sum: f64, total: f64) -> bool {
    (sum - total).abs() <= SUM_TOLERANCE * total.abs().max(sum.abs()) + 1e-12
}

/// `num / den`, or `None` when the denominator is zero (e.g. a layer with no time).
pub fn ratio(num: f64, den: f64) -> Option<f64> {
    if den > 0.0 && num.is_finite() && den.is_finite() {
        Some(num / den)
    } else {
        None
    }
}

impl LayerRow {
    /// CPU baseline latency / offloaded latency (`None` if the offloaded latency is 0).
    pub fn speedup(&self) -> Option<f64> {
        ratio(self.cpu_us, self.offload_us)
    }

    /// CPU baseline energy / offloaded energy (`None` if the offloaded energy is 0).
    pub fn energy_ratio(&self) -> Option<f64> {
        ratio(self.cpu_uj, self.offload_uj)
    }

    /// The time breakdown in us: compute, DMA stall, driver, CPU side.
    pub fn time_parts(&self) -> [f64; 4] {
        [
            self.compute_us,
            self.dma_stall_us,
            self.driver_us,
            self.cpu_side_us,
        ]
    }

    /// The energy breakdown in uJ, in the order of [`crate::schema::ENERGY_PARTS`]: MAC,
    /// SRAM, bus, main memory, clock, PPU, controller, DMA engine, address generator, DMA
    /// tracking, vector unit, leakage, CPU.
    pub fn energy_parts(&self) -> [f64; 13] {
        [
            self.mac_uj,
            self.sram_uj,
            self.bus_uj,
            self.main_memory_uj,
            self.clock_uj,
            self.ppu_uj,
            self.control_uj,
            self.dma_uj,
            self.agu_uj,
            self.dma_track_uj,
            self.vpu_uj,
            self.leakage_uj,
            self.offload_cpu_uj,
        ]
    }

    /// Checks the invariants listed on [`LayerRow`]; the error names the model, the layer
    /// and the field.
    pub fn check(&self, model: &str) -> Result<(), ReportError> {
        let bad = |field: &str, reason: String| ReportError::Inconsistent {
            model: model.to_string(),
            location: format!("layer {} ({})", self.index, self.op),
            field: field.to_string(),
            reason,
        };
        let floats = [
            ("cpu_us", self.cpu_us),
            ("cpu_uj", self.cpu_uj),
            ("offload_us", self.offload_us),
            ("offload_uj", self.offload_uj),
            ("compute_us", self.compute_us),
            ("dma_stall_us", self.dma_stall_us),
            ("driver_us", self.driver_us),
            ("cpu_side_us", self.cpu_side_us),
            ("mac_uj", self.mac_uj),
            ("sram_uj", self.sram_uj),
            ("bus_uj", self.bus_uj),
            ("leakage_uj", self.leakage_uj),
            ("offload_cpu_uj", self.offload_cpu_uj),
            ("array_busy_us", self.array_busy_us),
            ("dma_busy_us", self.dma_busy_us),
            ("cpu_kernel_us", self.cpu_kernel_us),
            ("cpu_im2col_us", self.cpu_im2col_us),
            ("agu_uj", self.agu_uj),
            ("dma_track_uj", self.dma_track_uj),
            ("vpu_uj", self.vpu_uj),
            ("vpu_busy_us", self.vpu_busy_us),
            ("main_memory_uj", self.main_memory_uj),
            ("clock_uj", self.clock_uj),
            ("ppu_uj", self.ppu_uj),
            ("control_uj", self.control_uj),
            ("dma_uj", self.dma_uj),
        ];
        for (field, v) in floats {
            if !(v.is_finite() && v >= 0.0) {
                return Err(bad(
                    field,
                    format!("{v} is not a finite, non-negative number"),
                ));
            }
        }
        if self.target == Target::Cpu && self.accel_cycles != 0 {
            return Err(bad(
                "accel_cycles",
                format!(
                    "{} accelerator cycles on a layer left on the CPU (must be 0)",
                    self.accel_cycles
                ),
            ));
        }
        let t: f64 = self.time_parts().iter().sum();
        if !close(t, self.offload_us) {
            return Err(bad(
                "offload_us",
                format!(
                    "{} differs from compute_us + dma_stall_us + driver_us + cpu_side_us = {t}",
                    self.offload_us
                ),
            ));
        }
        let e: f64 = self.energy_parts().iter().sum();
        if !close(e, self.offload_uj) {
            return Err(bad(
                "offload_uj",
                format!(
                    "{} differs from the sum of the energy parts ({}) = {e}",
                    self.offload_uj,
                    crate::schema::ENERGY_PARTS.join(" + ")
                ),
            ));
        }
        let cpu = self.cpu_kernel_us + self.cpu_im2col_us;
        if !close(cpu, self.cpu_side_us) {
            return Err(bad(
                "cpu_side_us",
                format!(
                    "{} differs from cpu_kernel_us + cpu_im2col_us = {cpu}",
                    self.cpu_side_us
                ),
            ));
        }
        let device_us = self.compute_us + self.dma_stall_us;
        for (field, v) in [
            ("array_busy_us", self.array_busy_us),
            ("dma_busy_us", self.dma_busy_us),
            ("vpu_busy_us", self.vpu_busy_us),
        ] {
            if v > device_us && !close(v, device_us) {
                return Err(bad(
                    field,
                    format!(
                        "{v} is longer than the accelerator's time compute_us + dma_stall_us = {device_us}"
                    ),
                ));
            }
        }
        if self.target == Target::Cpu
            && (self.dma_bursts != 0 || self.im2col_pieces != 0 || self.cpu_im2col_us != 0.0)
        {
            return Err(bad(
                "dma_bursts/im2col_pieces/cpu_im2col_us",
                "a layer left on the CPU has no DMA bursts, im2col pieces or im2col time".into(),
            ));
        }
        Ok(())
    }
}

/// The accelerator configuration a model was run on, as recorded in the report. Carries
/// the roofline parameters (`rows * cols` MACs per cycle, `bus_bytes_per_cycle`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigSummary {
    /// Configuration name (preset or file stem).
    pub name: String,
    /// `AccelConfig::hash()`: first 16 hex digits of the SHA-256 of its canonical JSON.
    pub hash: String,
    /// Array rows.
    pub rows: u32,
    /// Array columns.
    pub cols: u32,
    /// The dataflow's name (`output-stationary`, `weight-stationary`, ...).
    pub dataflow: String,
    /// System-bus bytes per accelerator cycle.
    pub bus_bytes_per_cycle: u32,
    /// Accelerator clock in MHz.
    pub clock_mhz: f64,
    /// Technology node in nm.
    #[serde(default)]
    pub tech_node_nm: u32,
    /// Area estimate in mm^2 (`AccelConfig::area_mm2`: PEs, PPU lanes, SRAM, control;
    /// the PE and PPU figures are calibrated from yosys synthesis, docs/area.md).
    #[serde(default)]
    pub area_mm2: f64,
    /// The resolved configuration as TOML (overrides included).
    pub toml: String,
    /// The hardware im2col unit (`CONV_GEOM` + `LOAD_IM2COL`) is present.
    #[serde(default)]
    pub im2col: bool,
    /// DMA bursts in flight (1: no pipelining).
    #[serde(default = "one")]
    pub dma_outstanding: u32,
    /// Area of the im2col address generator in mm^2 (0 without it); part of `area_mm2`.
    #[serde(default)]
    pub agu_area_mm2: f64,
    /// Area of the DMA's burst tracking FIFO in mm^2 (`dma_outstanding` slots; 0 with one
    /// burst at a time); part of `area_mm2`.
    #[serde(default)]
    pub dma_track_area_mm2: f64,
    /// The vector unit's depthwise mode is present.
    #[serde(default)]
    pub depthwise: bool,
    /// The vector unit's pooling modes are present.
    #[serde(default)]
    pub pooling: bool,
    /// The vector unit's residual-ADD mode is present.
    #[serde(default)]
    pub eltwise: bool,
    /// Area of the vector unit in mm^2 (0 without it); part of `area_mm2`.
    #[serde(default)]
    pub vpu_area_mm2: f64,
    /// Command-queue depth (`cmd_queue_depth`; 0: the ideal queues, no fetch cycles).
    #[serde(default)]
    pub cmd_queue_depth: u32,
    /// Area of the three command queues in mm^2 (0 with the ideal queues); part of
    /// `area_mm2`.
    #[serde(default)]
    pub cmd_queue_area_mm2: f64,
}

fn one() -> u32 {
    1
}

impl ConfigSummary {
    /// Summarises a validated configuration.
    pub fn from_config(cfg: &arch::AccelConfig) -> Self {
        ConfigSummary {
            name: cfg.name.clone(),
            hash: cfg.hash(),
            rows: cfg.rows,
            cols: cfg.cols,
            dataflow: cfg.dataflow.as_str().to_string(),
            bus_bytes_per_cycle: cfg.bus_bytes_per_cycle,
            clock_mhz: cfg.clock_mhz,
            tech_node_nm: cfg.tech_node_nm,
            area_mm2: cfg.area_mm2(),
            toml: cfg.to_toml(),
            im2col: cfg.im2col,
            dma_outstanding: cfg.dma_outstanding,
            // The terms of `AccelConfig::feature_area_um2`.
            agu_area_mm2: if cfg.im2col {
                cfg.area_table().agu_um2 / 1e6
            } else {
                0.0
            },
            dma_track_area_mm2: if cfg.dma_outstanding > 1 {
                cfg.dma_outstanding as f64 * cfg.area_table().dma_slot_um2 / 1e6
            } else {
                0.0
            },
            depthwise: cfg.depthwise,
            pooling: cfg.pooling,
            eltwise: cfg.eltwise,
            vpu_area_mm2: cfg.vpu_area_um2() / 1e6,
            cmd_queue_depth: cfg.cmd_queue_depth,
            cmd_queue_area_mm2: cfg.cmd_queue_area_um2() / 1e6,
        }
    }

    /// Peak MACs per cycle (`rows * cols`): the compute roof.
    pub fn peak_macs_per_cycle(&self) -> u64 {
        self.rows as u64 * self.cols as u64
    }

    /// [`crate::schema::array_utilization`] on this array.
    pub fn array_utilization(&self, macs: u64, accel_cycles: u64) -> f64 {
        crate::schema::array_utilization(macs, accel_cycles, self.peak_macs_per_cycle())
    }

    /// [`crate::schema::mac_utilization`] on this array and clock.
    pub fn mac_utilization(&self, accel_macs: u64, offload_us: f64) -> f64 {
        crate::schema::mac_utilization(
            accel_macs,
            offload_us,
            self.clock_mhz,
            self.peak_macs_per_cycle(),
        )
    }
}

/// The CPU (MCU) profile of the baseline and of the CPU side of the offloaded run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CpuProfileSummary {
    /// Profile name (e.g. `cortex-m4-80mhz`).
    pub name: String,
    /// First 16 hex digits of the SHA-256 of the profile's canonical JSON.
    pub hash: String,
    /// The profile's parameters, flattened to `key -> value` text (for the report tables).
    pub spec: BTreeMap<String, String>,
}

impl CpuProfileSummary {
    /// Builds the summary from any serializable profile struct: `spec` is its JSON fields
    /// flattened (nested keys dotted), `hash` the SHA-256 of its canonical JSON.
    pub fn from_serialize<T: Serialize>(name: &str, profile: &T) -> Result<Self, ReportError> {
        let value = serde_json::to_value(profile).map_err(|e| ReportError::Format {
            path: "cpu profile".into(),
            message: e.to_string(),
        })?;
        // serde_json's Map is ordered by key, so this text is canonical.
        let canonical = value.to_string();
        let mut spec = BTreeMap::new();
        flatten_json("", &value, &mut spec);
        Ok(CpuProfileSummary {
            name: name.to_string(),
            hash: sha256_16(canonical.as_bytes()),
            spec,
        })
    }
}

fn flatten_json(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten_json(&key, v, out);
            }
        }
        serde_json::Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            // Arrays and scalars: compact JSON text.
            let key = if prefix.is_empty() { "value" } else { prefix };
            out.insert(key.to_string(), other.to_string());
        }
    }
}

/// First 16 hex digits of the SHA-256 of `bytes`.
pub fn sha256_16(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One model run: baseline and offloaded, layer by layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelReport {
    /// Model name (e.g. `kws`).
    pub model: String,
    /// Where the model came from (a `.tflite` path or a built-in name).
    pub source: String,
    /// The accelerator configuration of the offloaded run.
    pub config: ConfigSummary,
    /// The CPU profile of the baseline and of the offloaded run's CPU side.
    pub cpu_profile: CpuProfileSummary,
    /// The layers, in execution order.
    pub layers: Vec<LayerRow>,
    /// Memory fit, deadline and duty-cycled power (issue 26); `None` in reports made
    /// without a CPU profile's capacities (older reports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<ModelBudget>,
}

/// Whole-model totals: sums over the layers (see [`ModelReport::totals`]); the same field
/// names and units as [`LayerRow`] (docs/results-schema.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelTotals {
    /// Number of layers.
    pub layers: usize,
    /// Number of layers offloaded to the accelerator.
    pub accel_layers: usize,
    pub macs: u64,
    /// MACs of the offloaded layers (the MACs the accelerator runs).
    pub accel_macs: u64,
    pub cpu_cycles: u64,
    pub cpu_us: f64,
    pub cpu_uj: f64,
    /// Accelerator cycles over the offloaded layers.
    pub accel_cycles: u64,
    pub offload_us: f64,
    pub offload_uj: f64,
    pub compute_us: f64,
    pub dma_stall_us: f64,
    pub driver_us: f64,
    pub cpu_side_us: f64,
    pub mac_uj: f64,
    pub sram_uj: f64,
    pub bus_uj: f64,
    pub leakage_uj: f64,
    pub offload_cpu_uj: f64,
    /// [`crate::schema::array_utilization`] of `accel_macs` over `accel_cycles`.
    pub array_utilization: f64,
    /// [`crate::schema::mac_utilization`] of `accel_macs` over `offload_us`.
    pub mac_utilization: f64,
    pub bus_bytes: u64,
    #[serde(default)]
    pub array_busy_us: f64,
    #[serde(default)]
    pub dma_busy_us: f64,
    #[serde(default)]
    pub cpu_kernel_us: f64,
    #[serde(default)]
    pub cpu_im2col_us: f64,
    #[serde(default)]
    pub agu_uj: f64,
    #[serde(default)]
    pub dma_track_uj: f64,
    #[serde(default)]
    pub dma_bursts: u64,
    #[serde(default)]
    pub im2col_pieces: u64,
    #[serde(default)]
    pub vpu_uj: f64,
    #[serde(default)]
    pub vpu_busy_us: f64,
    #[serde(default)]
    pub main_memory_uj: f64,
    #[serde(default)]
    pub clock_uj: f64,
    #[serde(default)]
    pub ppu_uj: f64,
    #[serde(default)]
    pub control_uj: f64,
    #[serde(default)]
    pub dma_uj: f64,
    /// `cpu_us / offload_us` of the whole model.
    pub speedup: Option<f64>,
    /// `cpu_uj / offload_uj` of the whole model.
    pub energy_ratio: Option<f64>,
}

impl ModelTotals {
    /// The accelerator's own energy (every part but `offload_cpu_uj`), uJ.
    pub fn accel_uj(&self) -> f64 {
        (self.offload_uj - self.offload_cpu_uj).max(0.0)
    }

    /// The CPU's share of the system energy of the offloaded run (`offload_cpu_uj /
    /// offload_uj`), `None` when that is 0.
    pub fn cpu_share(&self) -> Option<f64> {
        ratio(self.offload_cpu_uj, self.offload_uj)
    }
}

impl ModelReport {
    /// The budget figures of both targets ([`ModelBudget::view`]), if the report has them.
    pub fn budget_view(&self) -> Option<BudgetJson> {
        self.budget.as_ref().map(|b| b.view(&self.totals()))
    }

    /// Sums over the layers (computed on every call; nothing is stored twice).
    pub fn totals(&self) -> ModelTotals {
        let mut t = ModelTotals {
            layers: self.layers.len(),
            accel_layers: 0,
            macs: 0,
            accel_macs: 0,
            cpu_cycles: 0,
            cpu_us: 0.0,
            cpu_uj: 0.0,
            accel_cycles: 0,
            offload_us: 0.0,
            offload_uj: 0.0,
            compute_us: 0.0,
            dma_stall_us: 0.0,
            driver_us: 0.0,
            cpu_side_us: 0.0,
            mac_uj: 0.0,
            sram_uj: 0.0,
            bus_uj: 0.0,
            leakage_uj: 0.0,
            offload_cpu_uj: 0.0,
            array_utilization: 0.0,
            mac_utilization: 0.0,
            bus_bytes: 0,
            array_busy_us: 0.0,
            dma_busy_us: 0.0,
            cpu_kernel_us: 0.0,
            cpu_im2col_us: 0.0,
            agu_uj: 0.0,
            dma_track_uj: 0.0,
            dma_bursts: 0,
            im2col_pieces: 0,
            vpu_uj: 0.0,
            vpu_busy_us: 0.0,
            main_memory_uj: 0.0,
            clock_uj: 0.0,
            ppu_uj: 0.0,
            control_uj: 0.0,
            dma_uj: 0.0,
            speedup: None,
            energy_ratio: None,
        };
        for l in &self.layers {
            t.macs += l.macs;
            t.cpu_cycles += l.cpu_cycles;
            t.cpu_us += l.cpu_us;
            t.cpu_uj += l.cpu_uj;
            t.accel_cycles += l.accel_cycles;
            t.offload_us += l.offload_us;
            t.offload_uj += l.offload_uj;
            t.compute_us += l.compute_us;
            t.dma_stall_us += l.dma_stall_us;
            t.driver_us += l.driver_us;
            t.cpu_side_us += l.cpu_side_us;
            t.mac_uj += l.mac_uj;
            t.sram_uj += l.sram_uj;
            t.bus_uj += l.bus_uj;
            t.leakage_uj += l.leakage_uj;
            t.offload_cpu_uj += l.offload_cpu_uj;
            t.bus_bytes += l.bus_bytes;
            t.array_busy_us += l.array_busy_us;
            t.dma_busy_us += l.dma_busy_us;
            t.cpu_kernel_us += l.cpu_kernel_us;
            t.cpu_im2col_us += l.cpu_im2col_us;
            t.agu_uj += l.agu_uj;
            t.dma_track_uj += l.dma_track_uj;
            t.dma_bursts += l.dma_bursts;
            t.im2col_pieces += l.im2col_pieces;
            t.vpu_uj += l.vpu_uj;
            t.vpu_busy_us += l.vpu_busy_us;
            t.main_memory_uj += l.main_memory_uj;
            t.clock_uj += l.clock_uj;
            t.ppu_uj += l.ppu_uj;
            t.control_uj += l.control_uj;
            t.dma_uj += l.dma_uj;
            if l.target == Target::Accel {
                t.accel_layers += 1;
                t.accel_macs += l.macs;
            }
        }
        t.array_utilization = self.config.array_utilization(t.accel_macs, t.accel_cycles);
        t.mac_utilization = self.config.mac_utilization(t.accel_macs, t.offload_us);
        t.speedup = ratio(t.cpu_us, t.offload_us);
        t.energy_ratio = ratio(t.cpu_uj, t.offload_uj);
        t
    }

    /// The layer's [`crate::schema::array_utilization`]: its MACs over its accelerator
    /// cycles (0 for a layer left on the CPU).
    pub fn array_utilization(&self, l: &LayerRow) -> f64 {
        match l.target {
            Target::Accel => self.config.array_utilization(l.macs, l.accel_cycles),
            Target::Cpu => 0.0,
        }
    }

    /// The layer's [`crate::schema::mac_utilization`]: its MACs over its whole wall time
    /// in the offloaded run (0 for a layer left on the CPU).
    pub fn mac_utilization(&self, l: &LayerRow) -> f64 {
        match l.target {
            Target::Accel => self.config.mac_utilization(l.macs, l.offload_us),
            Target::Cpu => 0.0,
        }
    }

    /// Checks every layer ([`LayerRow::check`]), that layer indices are unique, and the
    /// analytic bound `accel_cycles >= macs / (rows * cols)` for offloaded layers.
    pub fn check(&self) -> Result<(), ReportError> {
        if let Some(b) = &self.budget {
            b.check(&self.model)?;
        }
        let mut seen = std::collections::BTreeSet::new();
        for l in &self.layers {
            l.check(&self.model)?;
            if !seen.insert(l.index) {
                return Err(ReportError::Inconsistent {
                    model: self.model.clone(),
                    location: format!("layer {}", l.index),
                    field: "index".into(),
                    reason: "duplicate layer index".into(),
                });
            }
            let peak = self.config.peak_macs_per_cycle();
            if l.target == Target::Accel && peak > 0 && l.accel_cycles * peak < l.macs {
                return Err(ReportError::Inconsistent {
                    model: self.model.clone(),
                    location: format!("layer {} ({})", l.index, l.op),
                    field: "accel_cycles".into(),
                    reason: format!(
                        "{} cycles for {} MACs is faster than the peak of {peak} MACs/cycle",
                        l.accel_cycles, l.macs
                    ),
                });
            }
        }
        Ok(())
    }
}

/// How the numbers were made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Simulator level used for the offloaded run (e.g. `cycle` or `tile`).
    pub simulator_level: String,
    /// Source of the energy numbers (e.g. `arch::tables, 22 nm, Horowitz ISSCC 2014
    /// scaled`).
    pub energy_table_source: String,
    /// The CPU cost model used for the baseline (e.g. `runtime::cost`).
    pub cpu_cost_model: String,
    /// Version of the tool that produced the report (use [`crate::TOOL_VERSION`] or the
    /// CLI's own version).
    pub tool_version: String,
    /// The command line that produced the report, if known.
    #[serde(default)]
    pub command: String,
    /// Free-form remarks (assumptions, caveats), one per entry.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// A whole report: one or more model runs and how they were made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub models: Vec<ModelReport>,
    pub provenance: Provenance,
}

impl Report {
    /// Checks every model ([`ModelReport::check`]) and that model names are unique.
    pub fn check(&self) -> Result<(), ReportError> {
        let mut seen = std::collections::BTreeSet::new();
        for m in &self.models {
            if !seen.insert((&m.model, &m.config.hash)) {
                return Err(ReportError::Inconsistent {
                    model: m.model.clone(),
                    location: "report".into(),
                    field: "model".into(),
                    reason: format!(
                        "model appears twice with the same configuration {}",
                        m.config.hash
                    ),
                });
            }
            m.check()?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Budgets (issue 26): memory fit, deadline, duty-cycled power and battery life.
// ---------------------------------------------------------------------------------------

/// One named part of a memory footprint (e.g. `model flatbuffer`, `tensor arena`,
/// `command streams`), in bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryPart {
    pub name: String,
    pub bytes: u64,
}

/// One memory (flash or SRAM) of one target: its named parts against the part's on-chip
/// capacity (the CPU profile's `[memory]`, docs/cpu-model.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryUse {
    pub parts: Vec<MemoryPart>,
    pub capacity_bytes: u64,
}

impl MemoryUse {
    /// Builds one memory from `(name, bytes)` parts (`runtime::footprint::Footprint`).
    pub fn new(parts: &[(String, u64)], capacity_bytes: u64) -> Self {
        MemoryUse {
            parts: parts
                .iter()
                .map(|(n, b)| MemoryPart {
                    name: n.clone(),
                    bytes: *b,
                })
                .collect(),
            capacity_bytes,
        }
    }

    /// The sum of the parts.
    pub fn used_bytes(&self) -> u64 {
        self.parts.iter().map(|p| p.bytes).sum()
    }

    /// `used_bytes <= capacity_bytes`.
    pub fn fits(&self) -> bool {
        self.used_bytes() <= self.capacity_bytes
    }

    /// How many bytes too many (0 when it fits).
    pub fn shortfall_bytes(&self) -> u64 {
        self.used_bytes().saturating_sub(self.capacity_bytes)
    }

    /// The bytes of the part named `name` (0 when absent).
    pub fn part(&self, name: &str) -> u64 {
        self.parts
            .iter()
            .filter(|p| p.name == name)
            .map(|p| p.bytes)
            .sum()
    }
}

/// Flash and SRAM of one target (the pure-CPU run, or the offloaded run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetMemory {
    pub flash: MemoryUse,
    pub sram: MemoryUse,
}

impl TargetMemory {
    /// Both memories fit.
    pub fn fits(&self) -> bool {
        self.flash.fits() && self.sram.fits()
    }
}

/// A battery as recorded in the report (`reports::budget::Battery`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatterySummary {
    /// Preset name (`cr2032`) or the `MAH@V` text given.
    pub name: String,
    /// Nominal capacity, mAh.
    pub mah: f64,
    /// Nominal voltage, V.
    pub volts: f64,
}

impl BatterySummary {
    /// The budget module's battery of this record.
    pub fn battery(&self) -> crate::budget::Battery {
        crate::budget::Battery {
            name: self.name.clone(),
            mah: self.mah,
            volts: self.volts,
        }
    }
}

/// The settings of the budget analysis, the same for both targets of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetSettings {
    /// Inference rate (`--rate`), Hz; the deadline is `1 / rate` unless `deadline_us` is
    /// given. `None`: no power or battery figures.
    pub rate_hz: Option<f64>,
    /// Latency deadline (`--deadline`), us.
    pub deadline_us: Option<f64>,
    /// The battery of the battery-life figure (default `cr2032` with a rate).
    pub battery: Option<BatterySummary>,
    /// The CPU's sleep power between inferences, uW (the profile's `sleep_ua x supply_v`).
    pub cpu_sleep_uw: f64,
    /// The CPU's sleep mode (e.g. `Stop 2`).
    pub cpu_sleep_mode: String,
    /// The accelerator between inferences: `gated` (power-gated, 0 uW) or `retention`
    /// (scratchpad SRAM leakage).
    pub accel_sleep: String,
    /// The accelerator's power between inferences, uW (0 when gated).
    pub accel_sleep_uw: f64,
    /// Where the driver keeps the command streams: `sram`, `flash` or `generate`.
    pub cmd_streams: String,
}

/// The budgets of one model: memory per target, plus the settings of the deadline and
/// power analysis. Deadline, power and battery figures are derived ([`ModelBudget::view`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelBudget {
    pub settings: BudgetSettings,
    /// The pure-CPU run (every layer on the MCU).
    pub cpu_only: TargetMemory,
    /// The offloaded run (driver, command streams, packed weights added).
    pub offloaded: TargetMemory,
}

/// One memory with its derived figures, as written in JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryJson {
    #[serde(flatten)]
    pub memory: MemoryUse,
    pub used_bytes: u64,
    pub fits: bool,
    /// Bytes too many (0 when it fits).
    pub shortfall_bytes: u64,
}

impl MemoryJson {
    pub fn new(m: &MemoryUse) -> Self {
        MemoryJson {
            memory: m.clone(),
            used_bytes: m.used_bytes(),
            fits: m.fits(),
            shortfall_bytes: m.shortfall_bytes(),
        }
    }
}

/// The deadline check of one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadlineJson {
    /// The deadline, us (`--deadline`, or `1 / rate`).
    pub deadline_us: f64,
    pub met: bool,
    /// `deadline_us - latency_us` (negative when missed).
    pub margin_us: f64,
}

/// The duty-cycled power of one target at the rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PowerJson {
    pub rate_hz: f64,
    /// Sleep power between inferences, uW (CPU sleep + accelerator retention, if any).
    pub sleep_uw: f64,
    /// `rate x latency <= 1`: one inference finishes before the next starts.
    pub feasible: bool,
    /// `rate x latency`; `None` when infeasible.
    pub active_fraction: Option<f64>,
    /// `energy x rate + sleep power x (1 - rate x latency)`, uW; `None` when infeasible.
    pub avg_power_uw: Option<f64>,
    /// Battery life at `avg_power_uw`, hours (no self-discharge, no regulator loss).
    pub battery_hours: Option<f64>,
    /// `battery_hours / 24`.
    pub battery_days: Option<f64>,
}

/// All budget figures of one target, as written in JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetBudgetJson {
    pub flash: MemoryJson,
    pub sram: MemoryJson,
    /// Flash and SRAM both fit.
    pub fits: bool,
    /// Latency of one inference, us (`cpu_us` or `offload_us` of the totals).
    pub inference_us: f64,
    /// Energy of one inference, uJ (`cpu_uj` or `offload_uj`).
    pub inference_uj: f64,
    pub deadline: Option<DeadlineJson>,
    pub power: Option<PowerJson>,
}

impl TargetBudgetJson {
    /// The figures of one target: its memory, and with a rate or deadline in `settings` the
    /// deadline check and the duty-cycled power of one inference of `latency_us` and
    /// `energy_uj` with `sleep_uw` between inferences.
    pub fn new(
        settings: &BudgetSettings,
        mem: &TargetMemory,
        latency_us: f64,
        energy_uj: f64,
        sleep_uw: f64,
    ) -> Self {
        let (deadline, power) = settings.evaluate(latency_us, energy_uj, sleep_uw);
        TargetBudgetJson {
            flash: MemoryJson::new(&mem.flash),
            sram: MemoryJson::new(&mem.sram),
            fits: mem.fits(),
            inference_us: latency_us,
            inference_uj: energy_uj,
            deadline,
            power,
        }
    }
}

/// A model's budgets as written in `report.json` and `run --json` (`budget`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetJson {
    pub settings: BudgetSettings,
    pub cpu_only: TargetBudgetJson,
    pub offloaded: TargetBudgetJson,
}

impl BudgetJson {
    /// The stored budget back from its JSON view.
    pub fn stored(&self) -> ModelBudget {
        ModelBudget {
            settings: self.settings.clone(),
            cpu_only: TargetMemory {
                flash: self.cpu_only.flash.memory.clone(),
                sram: self.cpu_only.sram.memory.clone(),
            },
            offloaded: TargetMemory {
                flash: self.offloaded.flash.memory.clone(),
                sram: self.offloaded.sram.memory.clone(),
            },
        }
    }
}

impl BudgetSettings {
    /// The deadline of the analysis: `--deadline`, else `1 / rate`, else none.
    pub fn deadline(&self) -> Option<crate::budget::Deadline> {
        match (self.deadline_us, self.rate_hz) {
            (Some(us), _) => Some(crate::budget::Deadline::Latency(us / 1000.0)),
            (None, Some(hz)) => Some(crate::budget::Deadline::Rate(hz)),
            (None, None) => None,
        }
    }

    /// Deadline and power figures of one target with this latency, energy and sleep power.
    pub fn evaluate(
        &self,
        latency_us: f64,
        energy_uj: f64,
        sleep_uw: f64,
    ) -> (Option<DeadlineJson>, Option<PowerJson>) {
        let deadline = self.deadline().map(|d| {
            let (met, margin_us) = d.met(latency_us);
            DeadlineJson {
                deadline_us: d.budget_us(),
                met,
                margin_us,
            }
        });
        let power = self.rate_hz.map(|rate_hz| {
            power_at(
                rate_hz,
                latency_us,
                energy_uj,
                sleep_uw,
                self.battery.as_ref(),
            )
        });
        (deadline, power)
    }
}

/// The duty-cycled power of one inference (`latency_us`, `energy_uj`) repeated at
/// `rate_hz` with `sleep_uw` between inferences ([`crate::budget::duty_cycle`]).
pub fn power_at(
    rate_hz: f64,
    latency_us: f64,
    energy_uj: f64,
    sleep_uw: f64,
    battery: Option<&BatterySummary>,
) -> PowerJson {
    match crate::budget::duty_cycle(energy_uj, latency_us, rate_hz, sleep_uw, 0.0) {
        Ok(d) => {
            let hours = battery.map(|b| d.battery_hours(&b.battery()));
            PowerJson {
                rate_hz,
                sleep_uw,
                feasible: true,
                active_fraction: Some(d.active_fraction),
                avg_power_uw: Some(d.avg_power_uw),
                battery_hours: hours,
                battery_days: hours.map(|h| h / 24.0),
            }
        }
        Err(_) => PowerJson {
            rate_hz,
            sleep_uw,
            feasible: false,
            active_fraction: None,
            avg_power_uw: None,
            battery_hours: None,
            battery_days: None,
        },
    }
}

impl ModelBudget {
    /// The JSON view: every derived figure of both targets, from `totals` (the pure-CPU
    /// latency and energy `cpu_us`/`cpu_uj`, the offloaded `offload_us`/`offload_uj`).
    pub fn view(&self, totals: &ModelTotals) -> BudgetJson {
        let s = &self.settings;
        let target = |mem: &TargetMemory, latency_us: f64, energy_uj: f64, sleep_uw: f64| {
            TargetBudgetJson::new(s, mem, latency_us, energy_uj, sleep_uw)
        };
        BudgetJson {
            settings: s.clone(),
            cpu_only: target(&self.cpu_only, totals.cpu_us, totals.cpu_uj, s.cpu_sleep_uw),
            offloaded: target(
                &self.offloaded,
                totals.offload_us,
                totals.offload_uj,
                s.cpu_sleep_uw + s.accel_sleep_uw,
            ),
        }
    }

    /// Checks that every number is finite and non-negative and that the capacities are
    /// not zero; the error names the model and the field.
    pub fn check(&self, model: &str) -> Result<(), ReportError> {
        let bad = |field: &str, reason: String| ReportError::Inconsistent {
            model: model.to_string(),
            location: "budget".into(),
            field: field.to_string(),
            reason,
        };
        let s = &self.settings;
        for (field, v) in [
            ("settings.rate_hz", s.rate_hz),
            ("settings.deadline_us", s.deadline_us),
            ("settings.cpu_sleep_uw", Some(s.cpu_sleep_uw)),
            ("settings.accel_sleep_uw", Some(s.accel_sleep_uw)),
        ] {
            if let Some(v) = v {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(bad(
                        field,
                        format!("{v} is not a finite, non-negative number"),
                    ));
                }
            }
        }
        for (target, mem) in [("cpu_only", &self.cpu_only), ("offloaded", &self.offloaded)] {
            for (name, m) in [("flash", &mem.flash), ("sram", &mem.sram)] {
                if m.capacity_bytes == 0 {
                    return Err(bad(
                        &format!("{target}.{name}.capacity_bytes"),
                        "0: the CPU profile gives no capacity".into(),
                    ));
                }
            }
        }
        Ok(())
    }
}
