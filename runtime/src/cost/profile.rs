//! CPU profiles: a core, its flash and power characteristics, and one table of kernel
//! costs per kernel library, read from TOML (`runtime/cpus/*.toml` are built in).
//!
//! A [`CpuProfile`] is a [`CpuProfileData`] resolved at one clock with one kernel library.
//! Spec syntax accepted by [`CpuProfile::resolve`] (and `--cpu`):
//!
//! ```text
//! NAME[@CLOCK][:LIBRARY]      cortex-m4f, cortex-m4f@120MHz, cortex-m7@216MHz:cmsis-nn
//! FILE.toml[@CLOCK][:LIBRARY] my-core.toml, ./cpus/x.toml@48MHz:reference
//! ```
//!
//! CLOCK is a number with an optional unit (`MHz` is the default; `kHz`, `GHz` accepted,
//! case-insensitive). Without `@CLOCK` the profile's `default_clock_mhz` is used; without
//! `:LIBRARY` its `default_library`. A spec is a file when it ends in `.toml` (before the
//! optional `@`/`:` suffixes) or contains a `/`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

use super::CostError;

/// The built-in profiles: (file name, TOML text).
const BUILTIN: &[(&str, &str)] = &[
    (
        "cortex-m0plus.toml",
        include_str!("../../cpus/cortex-m0plus.toml"),
    ),
    (
        "cortex-m4f.toml",
        include_str!("../../cpus/cortex-m4f.toml"),
    ),
    ("cortex-m7.toml", include_str!("../../cpus/cortex-m7.toml")),
    (
        "cortex-m33.toml",
        include_str!("../../cpus/cortex-m33.toml"),
    ),
    ("rv32imc.toml", include_str!("../../cpus/rv32imc.toml")),
];

/// Name of the default profile spec: Cortex-M4F at 120 MHz with reference kernels.
pub const DEFAULT_SPEC: &str = "cortex-m4f@120MHz:reference";

/// A microcontroller core as described by one profile file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpuProfileData {
    /// The name used in specs (`cortex-m4f`).
    pub name: String,
    /// Other accepted names (`m4f`, `cortex-m4`).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The core (`Arm Cortex-M4F`).
    pub core: String,
    /// Instruction set (`ARMv7E-M + FPv4-SP`).
    pub isa: String,
    /// The part whose datasheet gives the flash and power numbers (`STM32L4R5ZI`).
    pub device: String,
    /// Clock used when a spec gives none, MHz.
    pub default_clock_mhz: f64,
    /// Highest clock of the part, MHz; specs above it are rejected.
    pub max_clock_mhz: f64,
    /// True when the core has packed 16-bit SIMD MACs (the Arm DSP extension: SMLAD).
    pub simd: bool,
    /// Kernel library used when a spec gives none.
    pub default_library: String,
    /// Free-text notes: where the numbers come from.
    #[serde(default)]
    pub notes: String,
    /// Flash (weights and code live there) timing and energy.
    pub flash: FlashSpec,
    /// On-chip flash and SRAM capacities of the part.
    pub memory: MemorySpec,
    /// Active power as a function of clock, and the sleep current between inferences.
    pub power: PowerSpec,
    /// Code-size density of the ISA relative to the Thumb-2 figures of
    /// [`crate::footprint::KERNEL_CODE`].
    pub code: CodeSpec,
    /// Kernel cost tables, one per kernel library (`reference`, `cmsis-nn`, ...).
    pub libraries: BTreeMap<String, KernelLibrary>,
}

/// One clock band of the flash wait-state table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitStateBand {
    /// Highest clock (MHz, inclusive) of this band.
    pub max_mhz: f64,
    /// Wait states (extra cycles) per flash line access in this band.
    pub ws: u32,
}

/// Flash timing: how weights read from flash stall the core.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlashSpec {
    /// Wait states by clock band, ascending `max_mhz`; the last band must reach
    /// `max_clock_mhz`.
    pub wait_states: Vec<WaitStateBand>,
    /// Bytes delivered by one flash (or flash-cache line) access.
    pub line_bytes: u32,
    /// Bytes of cache (ART data lines, L1 D-cache) that can hold a layer's weights between
    /// passes. A layer whose weights fit is read from flash once; otherwise every pass of
    /// the kernel over its weights misses.
    pub data_cache_bytes: u64,
    /// Fraction (0..1) of the wait states of a sequential weight stream that the prefetch
    /// buffer hides behind computation.
    pub prefetch_hidden: f64,
    /// Extra cycles per base cycle per wait state from instruction-fetch misses (ART /
    /// I-cache miss rate of tight kernel loops): code stall = base x this x ws.
    pub code_stall_per_ws: f64,
    /// Energy per byte fetched from flash on a miss beyond what the run current already
    /// contains, pJ (0 when the datasheet run current, measured running from flash,
    /// includes it).
    #[serde(default)]
    pub read_pj_per_byte: f64,
    /// Where the numbers come from.
    #[serde(default)]
    pub source: String,
}

/// The part's on-chip memories (external memories are not assumed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemorySpec {
    /// On-chip flash, KiB (code, the model and, by policy, command streams).
    pub flash_kib: u64,
    /// On-chip SRAM usable by the application, KiB (arena, scratch, driver buffers).
    pub sram_kib: u64,
    /// Where the numbers come from (datasheet, document number, section).
    pub source: String,
}

/// Code size of this ISA relative to the Thumb-2 (ARMv7E-M, gcc -Os) figures of the
/// kernel code table ([`crate::footprint::KERNEL_CODE`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeSpec {
    /// Multiplier applied to the table (1.0 for Thumb-2).
    pub scale: f64,
    /// Where the factor comes from (or its derivation when it is an assumption).
    pub source: String,
}

/// One point of the run-current curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerPoint {
    /// Core clock, MHz.
    pub mhz: f64,
    /// Supply current in run mode (code in flash, peripherals off), mA.
    pub ma: f64,
}

/// Active power: supply voltage and the run-current curve from the datasheet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerSpec {
    /// Supply voltage the currents were given at, V.
    pub supply_v: f64,
    /// Run current by clock, ascending `mhz`; piecewise linear between points, linear
    /// extrapolation outside (clamped at zero).
    pub run_ma: Vec<PowerPoint>,
    /// Where the numbers come from.
    #[serde(default)]
    pub source: String,
    /// Supply current in the deepest low-power mode that keeps all SRAM and wakes on a
    /// timer (RTC / wake-up timer running), at `supply_v`, uA.
    pub sleep_ua: f64,
    /// Name of that mode (`Stop 2`, `Light-sleep`).
    pub sleep_mode: String,
    /// Where the sleep current comes from.
    pub sleep_source: String,
    /// Supply current in Sleep mode (the core stopped in WFI, clocks and flash on,
    /// peripherals off) by clock, ascending `mhz`, at `supply_v`, mA: what the CPU draws
    /// while it waits for the accelerator. Interpolated like `run_ma`.
    pub wfi_ma: Vec<PowerPoint>,
    /// Where the Sleep-mode currents come from (datasheet and table).
    pub wfi_source: String,
    /// Supply power fitted on published measurements ([`crate::cost::fit`]); absent or
    /// without `mw` the datasheet curves are used as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit: Option<PowerFit>,
}

/// Supply power of the device fitted on published MLPerf Tiny energy runs (written by
/// `tinyaccel cpus --fit CSV`, checked against the fit by `runtime/tests/cpu_fit.rs`).
/// When `mw` is given, the run and Sleep-mode curves are scaled by
/// `mw / (supply_v x run_ma(mhz))`, so the active power at `mhz` is `mw`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerFit {
    /// Fitted supply power at `mhz`, mW (geometric mean of the fitted rows' energy / latency).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mw: Option<f64>,
    /// Clock of the measurements, MHz.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mhz: Option<f64>,
    /// Published rows the power was fitted on.
    #[serde(default)]
    pub rows_fitted: u32,
    /// Published rows held out of the fit (checked only).
    #[serde(default)]
    pub rows_held_out: u32,
    /// Largest |power error| over the fitted rows, %.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fitted_err_pct: Option<f64>,
    /// Largest |power error| over the held-out rows, %.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_out_err_pct: Option<f64>,
    /// Why the power is not validated (empty when it is).
    #[serde(default)]
    pub unvalidated: String,
}

/// Latency factors of one kernel library fitted on published MLPerf Tiny runs (written by
/// `tinyaccel cpus --fit CSV`, checked against the fit by `runtime/tests/cpu_fit.rs`). The
/// kernel table is used scaled: `mac` multiplies `per_mac` and `per_mac_tail`, `tap`
/// multiplies `per_tap`, `overhead` every other cycle count (`per_call`, `per_pixel`,
/// `per_output`, `per_row`, `per_element`, `per_byte`, `im2col_per_byte`), in the kernels of
/// [`FITTED_KERNELS`] only. Flash stalls are not scaled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LibraryFit {
    /// Factor on the inner-loop cycles per MAC.
    pub mac: f64,
    /// Factor on the per-tap cycles (index arithmetic and bounds tests).
    pub tap: f64,
    /// Factor on every other cycle count of the table.
    pub overhead: f64,
    /// The profile whose matched rows the factors were fitted on (the library's factors are
    /// shared by every core; the cores differ by their tables).
    #[serde(default)]
    pub from: String,
    /// Published rows of this profile and library the factors were fitted on.
    #[serde(default)]
    pub rows_fitted: u32,
    /// Published rows of this profile and library held out of the fit.
    #[serde(default)]
    pub rows_held_out: u32,
    /// Largest |latency error| over this profile's fitted rows, %.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fitted_err_pct: Option<f64>,
    /// Largest |latency error| over this profile's held-out rows, %.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_out_err_pct: Option<f64>,
    /// Largest |latency error| over this profile's fitted rows when each is left out of the
    /// fit (leave-one-out), %.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_out_err_pct: Option<f64>,
    /// Why this profile and library are not validated (empty when they are).
    #[serde(default)]
    pub unvalidated: String,
}

impl LibraryFit {
    /// One line for listings: `validated on N rows (...)` or `unvalidated: reason`.
    pub fn summary(&self) -> String {
        if !self.unvalidated.is_empty() {
            return format!("unvalidated: {}", self.unvalidated);
        }
        let mut s = format!(
            "validated on {} rows",
            self.rows_fitted + self.rows_held_out
        );
        if let Some(e) = self.fitted_err_pct {
            s += &format!(", fitted |err| <= {e:.1} % ({} rows)", self.rows_fitted);
        }
        match self.held_out_err_pct {
            Some(e) => s += &format!(", held-out |err| <= {e:.1} % ({} rows)", self.rows_held_out),
            None => s += ", no held-out row",
        }
        if let Some(e) = self.left_out_err_pct {
            s += &format!(", left-out |err| <= {e:.1} %");
        }
        s
    }
}

impl PowerFit {
    /// One line for listings, like [`LibraryFit::summary`].
    pub fn summary(&self) -> String {
        if !self.unvalidated.is_empty() {
            return format!("unvalidated: {}", self.unvalidated);
        }
        let mut s = format!(
            "{:.2} mW at {} MHz fitted on {} rows",
            self.mw.unwrap_or(0.0),
            self.mhz.unwrap_or(0.0),
            self.rows_fitted
        );
        if let Some(e) = self.fitted_err_pct {
            s += &format!(" (|err| <= {e:.1} %)");
        }
        if let Some(e) = self.held_out_err_pct {
            s += &format!(", held-out |err| <= {e:.1} % ({} rows)", self.rows_held_out);
        }
        s
    }
}

/// The kernel cost table of one library: one entry per op kind, every entry required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelLibrary {
    /// What this library is (`TFLite-Micro portable reference kernels`).
    pub description: String,
    /// Latency factors fitted on published measurements (absent: the table as written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit: Option<LibraryFit>,
    /// 1x1 convolution with no padding and no dilation (CMSIS-NN: `arm_convolve_1x1_s8`).
    pub conv_1x1: KernelCost,
    /// General convolution.
    pub conv: KernelCost,
    /// Depthwise convolution.
    pub depthwise: KernelCost,
    /// Fully connected.
    pub fully_connected: KernelCost,
    /// Average pooling.
    pub avg_pool: KernelCost,
    /// Max pooling.
    pub max_pool: KernelCost,
    /// Elementwise add of two int8 tensors (with rescaling).
    pub add: KernelCost,
    /// Elementwise multiply.
    pub mul: KernelCost,
    /// Softmax over the last axis.
    pub softmax: KernelCost,
    /// Reshape (a copy when input and output buffers differ).
    pub reshape: KernelCost,
    /// Pad.
    pub pad: KernelCost,
    /// Concatenation.
    pub concat: KernelCost,
    /// Mean over axes.
    pub mean: KernelCost,
    /// Quantize / requantize.
    pub quantize: KernelCost,
    /// Logistic (sigmoid), int8.
    pub logistic: KernelCost,
    /// Tanh, int8.
    pub tanh: KernelCost,
}

impl KernelLibrary {
    /// All entries with their field names.
    pub fn entries(&self) -> [(&'static str, &KernelCost); 16] {
        [
            ("conv_1x1", &self.conv_1x1),
            ("conv", &self.conv),
            ("depthwise", &self.depthwise),
            ("fully_connected", &self.fully_connected),
            ("avg_pool", &self.avg_pool),
            ("max_pool", &self.max_pool),
            ("add", &self.add),
            ("mul", &self.mul),
            ("softmax", &self.softmax),
            ("reshape", &self.reshape),
            ("pad", &self.pad),
            ("concat", &self.concat),
            ("mean", &self.mean),
            ("quantize", &self.quantize),
            ("logistic", &self.logistic),
            ("tanh", &self.tanh),
        ]
    }

    fn entries_mut(&mut self) -> [(&'static str, &mut KernelCost); 16] {
        [
            ("conv_1x1", &mut self.conv_1x1),
            ("conv", &mut self.conv),
            ("depthwise", &mut self.depthwise),
            ("fully_connected", &mut self.fully_connected),
            ("avg_pool", &mut self.avg_pool),
            ("max_pool", &mut self.max_pool),
            ("add", &mut self.add),
            ("mul", &mut self.mul),
            ("softmax", &mut self.softmax),
            ("reshape", &mut self.reshape),
            ("pad", &mut self.pad),
            ("concat", &mut self.concat),
            ("mean", &mut self.mean),
            ("quantize", &mut self.quantize),
            ("logistic", &mut self.logistic),
            ("tanh", &mut self.tanh),
        ]
    }

    /// The table with its fit applied (see [`LibraryFit`]); the table itself when it has
    /// no fit. The result keeps `fit` for provenance.
    pub fn fitted(&self) -> KernelLibrary {
        let mut t = self.clone();
        if let Some(f) = &self.fit {
            t.scale(f.mac, f.tap, f.overhead);
        }
        t
    }

    /// Multiplies the per-MAC costs by `mac`, the per-tap costs by `tap` and every other
    /// cycle count by `overhead`, in the kernels of [`FITTED_KERNELS`] only: a kernel that
    /// no fitted row runs keeps its table (the rows say nothing about it).
    pub fn scale(&mut self, mac: f64, tap: f64, overhead: f64) {
        for (name, k) in self.entries_mut() {
            if !FITTED_KERNELS.contains(&name) {
                continue;
            }
            k.per_mac *= mac;
            k.per_mac_tail *= mac;
            k.per_tap *= tap;
            for v in [
                &mut k.per_call,
                &mut k.per_pixel,
                &mut k.per_output,
                &mut k.per_row,
                &mut k.per_element,
                &mut k.per_byte,
                &mut k.im2col_per_byte,
            ] {
                *v *= overhead;
            }
        }
    }
}

/// The kernels the fit's factors apply to: those the four MLPerf Tiny models run (the only
/// models of the published rows, `runtime::cost::fit::BENCHMARKS`). The others (`max_pool`,
/// `mul`, `pad`, `concat`, `mean`, `logistic`, `tanh`, ...) keep their instruction-count
/// tables: no published row measures them, so a factor fitted on the four models says
/// nothing about them. This matters for offloaded runs: the driver's CPU im2col and
/// depthwise gathers are costed with `pad`. `runtime/tests/cpu_fit.rs` checks the list
/// against the kernels the four models use on every profile.
pub const FITTED_KERNELS: [&str; 8] = [
    "conv_1x1",
    "conv",
    "depthwise",
    "fully_connected",
    "avg_pool",
    "add",
    "softmax",
    "reshape",
];

/// A current-vs-clock curve (`power.run_ma`, `power.wfi_ma`): at least one point, clocks
/// positive and ascending, currents positive.
fn check_curve(
    origin: &str,
    field: &str,
    points: &[PowerPoint],
    empty: &str,
) -> Result<(), CostError> {
    let bad = |field: &str, reason: String| CostError::Invalid {
        file: origin.to_string(),
        field: field.to_string(),
        reason,
    };
    if points.is_empty() {
        return Err(bad(field, empty.into()));
    }
    let mut prev = 0.0;
    for (i, pt) in points.iter().enumerate() {
        if !pt.mhz.is_finite() || pt.mhz <= prev {
            return Err(bad(
                &format!("{field}[{i}].mhz"),
                format!(
                    "must be positive and ascending, got {} after {prev}",
                    pt.mhz
                ),
            ));
        }
        if !pt.ma.is_finite() || pt.ma <= 0.0 {
            return Err(bad(
                &format!("{field}[{i}].ma"),
                format!("must be a positive current, got {}", pt.ma),
            ));
        }
        prev = pt.mhz;
    }
    Ok(())
}

fn one() -> f64 {
    1.0
}
fn one_u32() -> u32 {
    1
}

/// Cycle costs of one kernel. All fields default to 0 (not used by this kernel); which
/// fields an op kind reads is documented in `docs/cpu-model.md` and in
/// [`CpuProfile::layer_cost`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelCost {
    /// Cycles per call (interpreter dispatch, parameter set-up, buffer set-up).
    #[serde(default)]
    pub per_call: f64,
    /// Inner-loop cycles per MAC in the main (SIMD-blocked) loop.
    #[serde(default)]
    pub per_mac: f64,
    /// Cycles per MAC of the scalar remainder loop (reduction length mod `simd_block`).
    #[serde(default)]
    pub per_mac_tail: f64,
    /// Reduction elements per iteration of the main loop (4 for CMSIS-NN DSP kernels, 1
    /// for scalar kernels). For depthwise kernels the block is over channels.
    #[serde(default = "one_u32")]
    pub simd_block: u32,
    /// Cycles per (output element x filter tap) or (pooling output x window element):
    /// index arithmetic and the is-inside-image test of the reference kernels.
    #[serde(default)]
    pub per_tap: f64,
    /// Cycles per output pixel (all channels of one spatial position): spatial loop set-up.
    #[serde(default)]
    pub per_pixel: f64,
    /// Cycles per output element: bias, requantization, zero point, clamp, store.
    #[serde(default)]
    pub per_output: f64,
    /// Cycles per row (softmax: per vector; pooling: unused).
    #[serde(default)]
    pub per_row: f64,
    /// Cycles per input element (elementwise ops, softmax, mean, quantize, activations).
    #[serde(default)]
    pub per_element: f64,
    /// Cycles per byte moved (reshape, pad, concat copies).
    #[serde(default)]
    pub per_byte: f64,
    /// Cycles per byte written to the im2col / patch buffer.
    #[serde(default)]
    pub im2col_per_byte: f64,
    /// Output pixels (or batch rows) that share one read of the weights (2 for CMSIS-NN
    /// kernels computing two columns at once, 1 for reference kernels).
    #[serde(default = "one")]
    pub weight_reuse: f64,
    /// True when the kernel skips filter taps that fall in the padding (reference kernels);
    /// false when it multiplies padded values (im2col kernels).
    #[serde(default)]
    pub skips_padding: bool,
}

impl Default for KernelCost {
    fn default() -> Self {
        KernelCost {
            per_call: 0.0,
            per_mac: 0.0,
            per_mac_tail: 0.0,
            simd_block: 1,
            per_tap: 0.0,
            per_pixel: 0.0,
            per_output: 0.0,
            per_row: 0.0,
            per_element: 0.0,
            per_byte: 0.0,
            im2col_per_byte: 0.0,
            weight_reuse: 1.0,
            skips_padding: false,
        }
    }
}

impl KernelCost {
    fn numeric_fields(&self) -> [(&'static str, f64); 12] {
        [
            ("per_call", self.per_call),
            ("per_mac", self.per_mac),
            ("per_mac_tail", self.per_mac_tail),
            ("per_tap", self.per_tap),
            ("per_pixel", self.per_pixel),
            ("per_output", self.per_output),
            ("per_row", self.per_row),
            ("per_element", self.per_element),
            ("per_byte", self.per_byte),
            ("im2col_per_byte", self.im2col_per_byte),
            ("weight_reuse", self.weight_reuse),
            ("simd_block", self.simd_block as f64),
        ]
    }
}

/// Largest CPU profile file read (1 MiB, like accelerator configurations).
pub const MAX_PROFILE_BYTES: u64 = 1 << 20;

impl CpuProfileData {
    /// Parses and validates a profile. `origin` names the file in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, CostError> {
        let data: CpuProfileData = toml::from_str(text).map_err(|e| CostError::Parse {
            file: origin.to_string(),
            reason: e.to_string().trim_end().replace('\n', " "),
        })?;
        data.validate(origin)?;
        Ok(data)
    }

    /// Reads, parses and validates a profile file.
    pub fn load(path: &Path) -> Result<Self, CostError> {
        let origin = path.display().to_string();
        let io = |source| CostError::Io {
            file: origin.clone(),
            source,
        };
        let bytes = models::read_capped(path, MAX_PROFILE_BYTES)
            .map_err(io)?
            .ok_or_else(|| CostError::Parse {
                file: origin.clone(),
                reason: format!(
                    "file larger than {MAX_PROFILE_BYTES} bytes (MAX_PROFILE_BYTES): not a CPU profile"
                ),
            })?;
        let text = String::from_utf8(bytes).map_err(|e| CostError::Parse {
            file: origin.clone(),
            reason: format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
        })?;
        Self::from_toml_str(&text, &origin)
    }

    /// The built-in profiles, in file order (parsed once per process).
    pub fn builtins() -> Vec<CpuProfileData> {
        Self::builtins_ref().to_vec()
    }

    fn builtins_ref() -> &'static [CpuProfileData] {
        static PARSED: std::sync::OnceLock<Vec<CpuProfileData>> = std::sync::OnceLock::new();
        PARSED.get_or_init(|| {
            BUILTIN
                .iter()
                .map(|(file, text)| {
                    // The built-in files are checked by the unit tests; a failure is a bug.
                    Self::from_toml_str(text, &format!("runtime/cpus/{file}"))
                        .unwrap_or_else(|e| panic!("built-in CPU profile is invalid: {e}"))
                })
                .collect()
        })
    }

    /// A built-in profile by name or alias (case-insensitive).
    pub fn builtin(name: &str) -> Option<CpuProfileData> {
        let lname = name.to_ascii_lowercase();
        Self::builtins_ref()
            .iter()
            .find(|p| {
                p.name.to_ascii_lowercase() == lname
                    || p.aliases.iter().any(|a| a.to_ascii_lowercase() == lname)
            })
            .cloned()
    }

    /// Flash wait states at `clock_mhz` (the first band whose `max_mhz` reaches it).
    pub fn wait_states_at(&self, clock_mhz: f64) -> u32 {
        self.flash
            .wait_states
            .iter()
            .find(|b| clock_mhz <= b.max_mhz + 1e-9)
            .or(self.flash.wait_states.last())
            .map_or(0, |b| b.ws)
    }

    /// Run current at `clock_mhz`, mA: piecewise linear through the datasheet points.
    pub fn run_current_ma(&self, clock_mhz: f64) -> f64 {
        interpolate(&self.power.run_ma, clock_mhz)
    }

    /// Sleep-mode (WFI) current at `clock_mhz`, mA: piecewise linear through the datasheet
    /// points of `power.wfi_ma`.
    pub fn wfi_current_ma(&self, clock_mhz: f64) -> f64 {
        interpolate(&self.power.wfi_ma, clock_mhz)
    }

    /// Datasheet active power at `clock_mhz`, mW (`supply_v x run_ma`), before the fit.
    pub fn datasheet_power_mw(&self, clock_mhz: f64) -> f64 {
        self.power.supply_v * self.run_current_ma(clock_mhz)
    }

    /// The factor the fitted supply power puts on the datasheet curves: `fit.mw /
    /// datasheet_power_mw(fit.mhz)`, or 1 without a fitted power.
    pub fn power_scale(&self) -> f64 {
        match self.power.fit.as_ref().and_then(|f| f.mw.zip(f.mhz)) {
            Some((mw, mhz)) => {
                let ds = self.datasheet_power_mw(mhz);
                if ds > 0.0 {
                    mw / ds
                } else {
                    1.0
                }
            }
            None => 1.0,
        }
    }

    /// Sleep-mode (WFI) power at `clock_mhz`, mW: `supply_v x wfi_ma x power_scale()`.
    pub fn wfi_power_mw(&self, clock_mhz: f64) -> f64 {
        self.power.supply_v * self.wfi_current_ma(clock_mhz) * self.power_scale()
    }
}

/// Piecewise-linear interpolation through ascending (MHz, mA) points, linear extrapolation
/// outside (through the origin for a single point), clamped at zero.
fn interpolate(pts: &[PowerPoint], clock_mhz: f64) -> f64 {
    match pts.len() {
        0 => 0.0,
        1 => pts[0].ma * clock_mhz / pts[0].mhz,
        n => {
            let seg = (1..n).find(|&i| clock_mhz <= pts[i].mhz).unwrap_or(n - 1);
            let (a, b) = (pts[seg - 1], pts[seg]);
            let i = a.ma + (b.ma - a.ma) * (clock_mhz - a.mhz) / (b.mhz - a.mhz);
            i.max(0.0)
        }
    }
}

impl CpuProfileData {
    /// Active power at `clock_mhz`, mW: supply voltage x run current, scaled by the fitted
    /// supply power when there is one ([`Self::power_scale`]).
    pub fn power_mw(&self, clock_mhz: f64) -> f64 {
        self.datasheet_power_mw(clock_mhz) * self.power_scale()
    }

    /// The profile without its fitted constants (library factors and supply power): the
    /// tables and datasheet curves as written, the input of [`crate::cost::fit`].
    pub fn without_fit(&self) -> CpuProfileData {
        let mut d = self.clone();
        d.power.fit = None;
        for lib in d.libraries.values_mut() {
            lib.fit = None;
        }
        d
    }

    /// On-chip flash capacity, bytes.
    pub fn flash_bytes(&self) -> u64 {
        self.memory.flash_kib * 1024
    }

    /// On-chip SRAM capacity, bytes.
    pub fn sram_bytes(&self) -> u64 {
        self.memory.sram_kib * 1024
    }

    /// Power in the sleep mode between inferences (`sleep_mode`), uW: supply voltage x
    /// sleep current.
    pub fn sleep_uw(&self) -> f64 {
        self.power.supply_v * self.power.sleep_ua
    }

    /// Estimated code bytes of the kernel of `op_kind` (a kernel-table entry name:
    /// `conv`, `conv_1x1`, `depthwise`, ...) in `library` on this ISA: the Thumb-2 figure
    /// of [`crate::footprint::KERNEL_CODE`] x `code.scale`. `None` for an unknown op kind.
    /// Libraries other than `cmsis-nn` use the reference column.
    pub fn code_bytes(&self, op_kind: &str, library: &str) -> Option<u64> {
        crate::footprint::kernel_code_bytes(op_kind, library)
            .map(|b| (b as f64 * self.code.scale).ceil() as u64)
    }

    /// Estimated code bytes of the runtime's fixed part (interpreter, arena planner,
    /// flatbuffer reader, op resolver) on this ISA.
    pub fn runtime_code_bytes(&self) -> u64 {
        (crate::footprint::RUNTIME_CODE_BYTES as f64 * self.code.scale).ceil() as u64
    }

    /// Library names, sorted.
    pub fn library_names(&self) -> Vec<&str> {
        self.libraries.keys().map(String::as_str).collect()
    }

    /// Checks every field; the first problem is returned naming file, field and reason.
    pub fn validate(&self, origin: &str) -> Result<(), CostError> {
        let bad = |field: &str, reason: String| CostError::Invalid {
            file: origin.to_string(),
            field: field.to_string(),
            reason,
        };
        if self.name.trim().is_empty() {
            return Err(bad("name", "must not be empty".into()));
        }
        if self.name.contains(['@', ':', '/']) {
            return Err(bad("name", "must not contain `@`, `:` or `/`".into()));
        }
        for (field, v) in [
            ("max_clock_mhz", self.max_clock_mhz),
            ("default_clock_mhz", self.default_clock_mhz),
        ] {
            if !v.is_finite() || v <= 0.0 {
                return Err(bad(field, format!("must be a positive number, got {v}")));
            }
        }
        if self.default_clock_mhz > self.max_clock_mhz {
            return Err(bad(
                "default_clock_mhz",
                format!(
                    "{} MHz is above max_clock_mhz {} MHz",
                    self.default_clock_mhz, self.max_clock_mhz
                ),
            ));
        }
        // Flash.
        let f = &self.flash;
        if f.wait_states.is_empty() {
            return Err(bad(
                "flash.wait_states",
                "must list at least one band".into(),
            ));
        }
        let mut prev = 0.0;
        for (i, b) in f.wait_states.iter().enumerate() {
            if !b.max_mhz.is_finite() || b.max_mhz <= prev {
                return Err(bad(
                    &format!("flash.wait_states[{i}].max_mhz"),
                    format!(
                        "must be finite and ascending, got {} after {prev}",
                        b.max_mhz
                    ),
                ));
            }
            prev = b.max_mhz;
        }
        if prev < self.max_clock_mhz {
            return Err(bad(
                "flash.wait_states",
                format!(
                    "last band ends at {prev} MHz, below max_clock_mhz {} MHz",
                    self.max_clock_mhz
                ),
            ));
        }
        if f.line_bytes == 0 {
            return Err(bad("flash.line_bytes", "must be at least 1".into()));
        }
        if !(0.0..=1.0).contains(&f.prefetch_hidden) {
            return Err(bad(
                "flash.prefetch_hidden",
                format!("must be in 0..1, got {}", f.prefetch_hidden),
            ));
        }
        for (field, v) in [
            ("flash.code_stall_per_ws", f.code_stall_per_ws),
            ("flash.read_pj_per_byte", f.read_pj_per_byte),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(bad(field, format!("must be a number >= 0, got {v}")));
            }
        }
        // Power.
        let p = &self.power;
        if !p.supply_v.is_finite() || p.supply_v <= 0.0 || p.supply_v > 6.0 {
            return Err(bad(
                "power.supply_v",
                format!("must be in (0, 6] V, got {}", p.supply_v),
            ));
        }
        check_curve(
            origin,
            "power.run_ma",
            &p.run_ma,
            "must list at least one point",
        )?;
        if !p.sleep_ua.is_finite() || p.sleep_ua <= 0.0 {
            return Err(bad(
                "power.sleep_ua",
                format!("must be a positive current, got {}", p.sleep_ua),
            ));
        }
        if p.sleep_mode.trim().is_empty() {
            return Err(bad("power.sleep_mode", "must name the mode".into()));
        }
        check_curve(
            origin,
            "power.wfi_ma",
            &p.wfi_ma,
            "must list at least one Sleep-mode (WFI) current point",
        )?;
        if let Some(f) = &p.fit {
            match (f.mw, f.mhz) {
                (Some(mw), Some(mhz)) => {
                    if !mw.is_finite() || mw <= 0.0 {
                        return Err(bad("power.fit.mw", format!("must be positive, got {mw}")));
                    }
                    if !mhz.is_finite() || mhz <= 0.0 || mhz > self.max_clock_mhz + 1e-9 {
                        return Err(bad(
                            "power.fit.mhz",
                            format!("must be in (0, max_clock_mhz], got {mhz}"),
                        ));
                    }
                }
                (None, None) => {
                    if f.unvalidated.trim().is_empty() {
                        return Err(bad(
                            "power.fit",
                            "without `mw` and `mhz`, `unvalidated` must say why".into(),
                        ));
                    }
                }
                _ => {
                    return Err(bad(
                        "power.fit",
                        "`mw` and `mhz` must be given together".into(),
                    ))
                }
            }
        }
        // Memory and code.
        for (field, v) in [
            ("memory.flash_kib", self.memory.flash_kib),
            ("memory.sram_kib", self.memory.sram_kib),
        ] {
            if v == 0 || v > 1 << 22 {
                return Err(bad(field, format!("must be in 1..=4194304 KiB, got {v}")));
            }
        }
        let c = &self.code;
        if !c.scale.is_finite() || c.scale <= 0.0 || c.scale > 10.0 {
            return Err(bad(
                "code.scale",
                format!("must be in (0, 10], got {}", c.scale),
            ));
        }
        // Libraries.
        if self.libraries.is_empty() {
            return Err(bad("libraries", "must define at least one library".into()));
        }
        if !self.libraries.contains_key(&self.default_library) {
            return Err(bad(
                "default_library",
                format!(
                    "`{}` is not one of the libraries ({})",
                    self.default_library,
                    self.library_names().join(", ")
                ),
            ));
        }
        for (lib, table) in &self.libraries {
            if lib.is_empty() || lib.contains(['@', ':', '/']) {
                return Err(bad(
                    &format!("libraries.{lib}"),
                    "library names must be non-empty without `@`, `:`, `/`".into(),
                ));
            }
            if let Some(f) = &table.fit {
                for (field, v) in [("mac", f.mac), ("tap", f.tap), ("overhead", f.overhead)] {
                    if !v.is_finite() || v <= 0.0 || v > 100.0 {
                        return Err(bad(
                            &format!("libraries.{lib}.fit.{field}"),
                            format!("must be in (0, 100], got {v}"),
                        ));
                    }
                }
                if f.rows_fitted + f.rows_held_out == 0 && f.unvalidated.trim().is_empty() {
                    return Err(bad(
                        &format!("libraries.{lib}.fit.unvalidated"),
                        "a fit with no rows of this profile must say why it is unvalidated".into(),
                    ));
                }
            }
            for (op, k) in table.entries() {
                for (field, v) in k.numeric_fields() {
                    let path = format!("libraries.{lib}.{op}.{field}");
                    if !v.is_finite() || v < 0.0 {
                        return Err(bad(&path, format!("must be a number >= 0, got {v}")));
                    }
                    if (field == "weight_reuse" || field == "simd_block") && v < 1.0 {
                        return Err(bad(&path, format!("must be at least 1, got {v}")));
                    }
                }
            }
        }
        Ok(())
    }
}

/// A core at one clock with one kernel library: what the cost model evaluates.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuProfile {
    data: CpuProfileData,
    clock_mhz: f64,
    library: String,
    /// The selected library's table with its fit applied ([`KernelLibrary::fitted`]).
    kernels: KernelLibrary,
}

impl Default for CpuProfile {
    /// Cortex-M4F at 120 MHz with the TFLite-Micro reference kernels.
    fn default() -> Self {
        Self::resolve(DEFAULT_SPEC).unwrap_or_else(|e| panic!("default CPU profile: {e}"))
    }
}

/// Parses a clock like `216MHz`, `216`, `1.2GHz`, `32768kHz` into MHz.
pub fn parse_clock_mhz(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    let (num, scale) = if let Some(n) = lower.strip_suffix("mhz") {
        (n, 1.0)
    } else if let Some(n) = lower.strip_suffix("ghz") {
        (n, 1000.0)
    } else if let Some(n) = lower.strip_suffix("khz") {
        (n, 0.001)
    } else if let Some(n) = lower.strip_suffix('m') {
        (n, 1.0)
    } else {
        (lower.as_str(), 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("clock `{t}` is not a number with an optional MHz/kHz/GHz unit"))?;
    let mhz = v * scale;
    if !mhz.is_finite() || mhz <= 0.0 {
        return Err(format!("clock `{t}` must be positive"));
    }
    Ok(mhz)
}

impl CpuProfile {
    /// A profile at `clock_mhz` with library `library`.
    pub fn new(data: CpuProfileData, clock_mhz: f64, library: &str) -> Result<Self, CostError> {
        let spec = format!("{}@{clock_mhz}MHz:{library}", data.name);
        if !clock_mhz.is_finite() || clock_mhz <= 0.0 || clock_mhz > data.max_clock_mhz + 1e-9 {
            return Err(CostError::Spec {
                spec,
                reason: format!(
                    "clock {clock_mhz} MHz is outside (0, {}] MHz, the range of {}",
                    data.max_clock_mhz, data.device
                ),
            });
        }
        if !data.libraries.contains_key(library) {
            return Err(CostError::Spec {
                spec,
                reason: format!(
                    "profile `{}` has no kernel library `{library}` (it has: {})",
                    data.name,
                    data.library_names().join(", ")
                ),
            });
        }
        Ok(CpuProfile {
            clock_mhz,
            library: library.to_string(),
            kernels: data.libraries[library].fitted(),
            data,
        })
    }

    /// Resolves a spec `NAME|FILE.toml[@CLOCK][:LIBRARY]` (see the module docs).
    pub fn resolve(spec: &str) -> Result<Self, CostError> {
        let err = |reason: String| CostError::Spec {
            spec: spec.to_string(),
            reason,
        };
        let s = spec.trim();
        if s.is_empty() {
            return Err(err("empty spec; expected NAME[@CLOCK][:LIBRARY]".into()));
        }
        // Split `:LIBRARY` (after the last `/`, so paths may contain `:`) and `@CLOCK`.
        let tail_start = s.rfind('/').map_or(0, |i| i + 1);
        let (head, library) = match s[tail_start..].rfind(':') {
            Some(i) => {
                let at = tail_start + i;
                (&s[..at], Some(s[at + 1..].trim()))
            }
            None => (s, None),
        };
        let (base, clock) = match head[tail_start.min(head.len())..].rfind('@') {
            Some(i) => {
                let at = tail_start + i;
                (&head[..at], Some(head[at + 1..].trim()))
            }
            None => (head, None),
        };
        let base = base.trim();
        if library == Some("") {
            return Err(err("empty kernel library after `:`".into()));
        }
        let data = if base.ends_with(".toml") || base.contains('/') {
            CpuProfileData::load(Path::new(base))?
        } else {
            CpuProfileData::builtin(base).ok_or_else(|| {
                err(format!(
                    "unknown CPU profile `{base}` (built in: {}; or give a .toml file)",
                    Self::builtin_names().join(", ")
                ))
            })?
        };
        let clock_mhz = match clock {
            Some(c) => parse_clock_mhz(c).map_err(err)?,
            None => data.default_clock_mhz,
        };
        let library = library.unwrap_or(&data.default_library).to_string();
        Self::new(data, clock_mhz, &library).map_err(|e| match e {
            CostError::Spec { reason, .. } => err(reason),
            other => other,
        })
    }

    /// Names of the built-in profiles.
    pub fn builtin_names() -> Vec<String> {
        CpuProfileData::builtins_ref()
            .iter()
            .map(|p| p.name.clone())
            .collect()
    }

    /// The same core and library at another clock.
    pub fn with_clock(&self, clock_mhz: f64) -> Result<Self, CostError> {
        Self::new(self.data.clone(), clock_mhz, &self.library)
    }

    /// The same core and clock with another kernel library.
    pub fn with_library(&self, library: &str) -> Result<Self, CostError> {
        Self::new(self.data.clone(), self.clock_mhz, library)
    }

    /// The canonical spec, e.g. `cortex-m7@216MHz:cmsis-nn`.
    pub fn spec(&self) -> String {
        format!("{}@{}MHz:{}", self.data.name, self.clock_mhz, self.library)
    }

    /// The profile data (core, flash, power, all libraries).
    pub fn data(&self) -> &CpuProfileData {
        &self.data
    }

    /// Profile name (`cortex-m7`).
    pub fn name(&self) -> &str {
        &self.data.name
    }

    /// Core clock, MHz.
    pub fn clock_mhz(&self) -> f64 {
        self.clock_mhz
    }

    /// Selected kernel library name.
    pub fn library_name(&self) -> &str {
        &self.library
    }

    /// Selected kernel library's cost table, with its fitted factors applied (the table as
    /// written is `data().libraries[library]`).
    pub fn kernels(&self) -> &KernelLibrary {
        &self.kernels
    }

    /// Flash wait states at this clock.
    pub fn wait_states(&self) -> u32 {
        self.data.wait_states_at(self.clock_mhz)
    }

    /// Active power at this clock, mW.
    pub fn power_mw(&self) -> f64 {
        self.data.power_mw(self.clock_mhz)
    }

    /// On-chip flash capacity, bytes.
    pub fn flash_bytes(&self) -> u64 {
        self.data.flash_bytes()
    }

    /// On-chip SRAM capacity, bytes.
    pub fn sram_bytes(&self) -> u64 {
        self.data.sram_bytes()
    }

    /// Sleep-mode (WFI) power at this clock, mW: what the CPU draws while it waits for the
    /// accelerator (see [`CpuProfileData::wfi_power_mw`]).
    pub fn wfi_power_mw(&self) -> f64 {
        self.data.wfi_power_mw(self.clock_mhz)
    }

    /// Sleep power between inferences, uW (see [`CpuProfileData::sleep_uw`]).
    pub fn sleep_uw(&self) -> f64 {
        self.data.sleep_uw()
    }

    /// Estimated code bytes of `op_kind` in `library` (see [`CpuProfileData::code_bytes`]).
    pub fn code_bytes(&self, op_kind: &str, library: &str) -> Option<u64> {
        self.data.code_bytes(op_kind, library)
    }

    /// Estimated code bytes of `op_kind` in this profile's selected library.
    pub fn kernel_code_bytes(&self, op_kind: &str) -> Option<u64> {
        self.data.code_bytes(op_kind, &self.library)
    }
}
