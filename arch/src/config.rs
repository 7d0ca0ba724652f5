//! [`AccelConfig`]: the one description of the accelerator, read by `hdl`, `sim` and
//! `driver` alike. Loaded from TOML (see `configs/`), validated, hashed.
//!
//! Every field is a plain top-level key of the TOML file except the optional `[energy]`
//! and `[area]` tables, which override the per-technology-node defaults of
//! [`crate::tables`]. Derived values (peak MACs per cycle, peak GOPS, total SRAM, the
//! effective energy and area tables) are methods, never stored.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::sram::SramMacro;
use crate::tables::{AreaTable, EnergyTable, NODE_TABLE};

mod layers;
pub mod scalesim;
mod template;
pub use layers::{preset_names, suggestion, MAX_BASE_DEPTH, REQUIRED_FIELDS};

/// How operands move through the array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dataflow {
    /// Each PE owns one output element; activations flow right, weights flow down, the
    /// int32 partial sum stays in the PE for the whole reduction.
    #[serde(alias = "os")]
    OutputStationary,
    /// Each PE holds one weight; activations flow right, partial sums flow down and are
    /// accumulated in the accumulator scratchpad across reduction tiles.
    #[serde(alias = "ws")]
    WeightStationary,
    /// Each PE holds one activation (SCALE-Sim's input-stationary): weights flow down,
    /// partial sums flow right into per-row line collectors, accumulated in the
    /// accumulator scratchpad across reduction tiles (`docs/architecture.md` 3.3).
    #[serde(alias = "is")]
    InputStationary,
}

impl Dataflow {
    /// The name used in config files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Dataflow::OutputStationary => "output-stationary",
            Dataflow::WeightStationary => "weight-stationary",
            Dataflow::InputStationary => "input-stationary",
        }
    }

    /// The short name (`os`, `ws`, `is`), also accepted in config files.
    pub fn short_name(self) -> &'static str {
        match self {
            Dataflow::OutputStationary => "os",
            Dataflow::WeightStationary => "ws",
            Dataflow::InputStationary => "is",
        }
    }
}

impl fmt::Display for Dataflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Dataflow {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "output-stationary" | "os" => Ok(Dataflow::OutputStationary),
            "weight-stationary" | "ws" => Ok(Dataflow::WeightStationary),
            "input-stationary" | "is" => Ok(Dataflow::InputStationary),
            other => Err(format!(
                "unknown dataflow `{other}` (expected `output-stationary`, `weight-stationary` \
                 or `input-stationary`)"
            )),
        }
    }
}

/// The accelerator: an int8 MAC array with scratchpads, a DMA engine on a system bus, a
/// clock and the energy/area tables of its technology node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccelConfig {
    /// A short name for reports (defaults to the file stem when loaded from a file).
    #[serde(default)]
    pub name: String,
    /// Processing-element rows of the systolic array.
    pub rows: u32,
    /// Processing-element columns of the systolic array.
    pub cols: u32,
    /// Dataflow of the array.
    pub dataflow: Dataflow,
    /// Accumulator width in bits. Only 32 is supported (TFLite int8 kernels accumulate in
    /// int32).
    #[serde(default = "default_acc_bits")]
    pub acc_bits: u32,
    /// Input (activation) scratchpad size in KiB.
    pub input_sram_kib: u32,
    /// Number of independently addressed banks of the input scratchpad.
    pub input_sram_banks: u32,
    /// Weight scratchpad size in KiB.
    pub weight_sram_kib: u32,
    /// Number of banks of the weight scratchpad.
    pub weight_sram_banks: u32,
    /// Accumulator/output scratchpad size in KiB (int32 entries).
    pub acc_sram_kib: u32,
    /// Number of banks of the accumulator scratchpad.
    pub acc_sram_banks: u32,
    /// System bus width in bytes per cycle (a power of two).
    pub bus_bytes_per_cycle: u32,
    /// Cycles from a DMA burst request to its first beat on the bus.
    pub bus_latency_cycles: u32,
    /// Accelerator clock in MHz.
    pub clock_mhz: f64,
    /// Technology node in nm; selects the default energy and area tables.
    pub tech_node_nm: u32,
    /// Hardware im2col: the load engine has the window registers and address generator
    /// of `CONV_GEOM` / `LOAD_IM2COL` (`docs/architecture.md` section 6). Default `false`
    /// (omitted from the serialized form, so existing configurations hash as before).
    #[serde(default, skip_serializing_if = "is_false")]
    pub im2col: bool,
    /// DMA bus requests in flight at once (`1..=16`; default 1 = one burst at a time, as
    /// without pipelining; `docs/architecture.md` section 4). Omitted when 1.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub dma_outstanding: u32,
    /// The vector unit's `MAC` mode: depthwise convolutions channel-parallel on `rows`
    /// lanes (`docs/architecture.md` section 3.5). Default `false` (omitted when false).
    #[serde(default, skip_serializing_if = "is_false")]
    pub depthwise: bool,
    /// The vector unit's `SUM` (with average pooling's divide) and `MAX` modes. Default
    /// `false`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub pooling: bool,
    /// The vector unit's `ADD` mode (int8 residual add with TFLite's rescale). Default
    /// `false`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub eltwise: bool,
    /// Clock gating of idle units (`docs/architecture.md` section 8): a unit with nothing
    /// to do stops its registers' clock behind an integrated clock gate, so it pays only
    /// the gate's clock energy. Default `true` (omitted when true): synthesis flows insert
    /// the gates automatically. Energy only; cycles are the same either way.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub clock_gating: bool,
    /// Where the tensors, weights and commands the DMA reads live (energy only): `sram`
    /// (on-chip system SRAM of `main_memory_kib`, the default, omitted), `lpddr4`
    /// (off-chip LPDDR4) or `qspi-flash` (weights in off-chip quad-SPI flash, activations
    /// and commands in the on-chip SRAM).
    #[serde(default, skip_serializing_if = "MainMemory::is_sram")]
    pub main_memory: MainMemory,
    /// Size of the on-chip system SRAM in KiB (default 256, omitted when 256): sets its
    /// energy per byte through the SRAM model (`arch::sram`).
    #[serde(
        default = "default_main_memory_kib",
        skip_serializing_if = "is_default_main_memory_kib"
    )]
    pub main_memory_kib: u32,
    /// Entries of each command queue (load, compute, store) filled by the streaming
    /// command fetch (`docs/architecture.md` section 5): 0 (the default, omitted) = the
    /// ideal model, unbounded queues and no fetch time; otherwise a power of two in
    /// `2..=MAX_CMD_QUEUE_DEPTH`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cmd_queue_depth: u32,
    /// Overrides of the node's default energy table (any subset of fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy: Option<EnergyOverride>,
    /// Overrides of the node's default area table (any subset of fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<AreaOverride>,
}

fn default_acc_bits() -> u32 {
    32
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn one() -> u32 {
    1
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// Default `main_memory_kib`: a 256 KiB system SRAM (the size the old bus energy assumed).
pub const DEFAULT_MAIN_MEMORY_KIB: u32 = 256;

fn default_main_memory_kib() -> u32 {
    DEFAULT_MAIN_MEMORY_KIB
}

fn is_default_main_memory_kib(v: &u32) -> bool {
    *v == DEFAULT_MAIN_MEMORY_KIB
}

/// The memory behind the system bus (energy only: the timing is `bus_latency_cycles` and
/// `bus_bytes_per_cycle` whatever it is).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MainMemory {
    /// On-chip system SRAM (`main_memory_kib`), energy from the SRAM model.
    #[default]
    Sram,
    /// Off-chip LPDDR4: every bus byte at `lpddr4_pj_per_byte`.
    Lpddr4,
    /// Off-chip quad-SPI NOR flash for the weights (execute-in-place style reads):
    /// weight-scratchpad fills at `qspi_flash_pj_per_byte`, everything else in the on-chip
    /// SRAM.
    QspiFlash,
}

impl MainMemory {
    /// The name used in config files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            MainMemory::Sram => "sram",
            MainMemory::Lpddr4 => "lpddr4",
            MainMemory::QspiFlash => "qspi-flash",
        }
    }

    fn is_sram(&self) -> bool {
        *self == MainMemory::Sram
    }
}

fn is_one(v: &u32) -> bool {
    *v == 1
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

/// Optional per-field overrides of [`EnergyTable`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnergyOverride {
    pub mac_pj: Option<f64>,
    pub sram_read_pj_per_byte_8kib: Option<f64>,
    pub sram_write_pj_per_byte_8kib: Option<f64>,
    pub sram_size_exponent: Option<f64>,
    pub bus_pj_per_byte: Option<f64>,
    pub leakage_uw_per_pe: Option<f64>,
    pub leakage_uw_per_kib: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agu_pj_per_piece: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dma_slot_pj_per_burst: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpu_reduce_pj_per_op: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpu_add_pj_per_op: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sram_bank_leakage_uw: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_memory_pj_per_byte: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lpddr4_pj_per_byte: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qspi_flash_pj_per_byte: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ff_clock_pj: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ff_data_pj: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_tree_pj_per_ff: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ppu_pj_per_output: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decode_pj_per_command: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dma_pj_per_burst: Option<f64>,
}

/// Optional per-field overrides of [`AreaTable`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AreaOverride {
    pub pe_um2: Option<f64>,
    pub ppu_um2_per_col: Option<f64>,
    pub sram_um2_per_kib: Option<f64>,
    pub control_um2: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sram_bank_um2: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sram_bank_um2_per_byte: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agu_um2: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dma_slot_um2: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpu_mac_lane_um2: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpu_pool_lane_um2: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpu_add_lane_um2: Option<f64>,
}

/// Largest array side accepted (a 256x256 array is already 64k PEs).
pub const MAX_ARRAY_SIDE: u32 = 256;
/// Largest single scratchpad accepted, in KiB (16 MiB).
pub const MAX_SRAM_KIB: u32 = 16 * 1024;
/// Largest bank count of one scratchpad.
pub const MAX_BANKS: u32 = 64;
/// Largest bus latency accepted, in cycles.
pub const MAX_BUS_LATENCY: u32 = 100_000;
/// Largest configuration file read, in bytes (1 MiB).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;
/// Highest clock accepted, in MHz.
pub const MAX_CLOCK_MHZ: f64 = 10_000.0;

/// The dotted name of the TOML key whose `key = value` line holds byte `offset` of `text`
/// (`energy.mac_pj` inside `[energy]`), for parse errors that point at a value: serde's
/// type errors name the line, not the field. `None` when the line is not a key/value pair.
pub fn toml_field_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next().unwrap_or("");
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    if key.is_empty() || key.starts_with('#') || key.starts_with('[') {
        return None;
    }
    let table = text[..start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && !l.starts_with("[["))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    Some(match table {
        Some(t) if !t.is_empty() => format!("{t}.{key}"),
        _ => key.to_string(),
    })
}

/// Slowest supported clock in MHz (1 kHz): below it latencies overflow into infinities in
/// reports, and no accelerator runs that slowly.
pub const MIN_CLOCK_MHZ: f64 = 0.001;
/// Largest on-chip system SRAM accepted (`main_memory_kib`), in KiB (64 MiB).
pub const MAX_MAIN_MEMORY_KIB: u32 = 64 * 1024;
/// Most DMA requests in flight (`dma_outstanding`).
pub const MAX_DMA_OUTSTANDING: u32 = 16;
/// Deepest command queue (`cmd_queue_depth`).
pub const MAX_CMD_QUEUE_DEPTH: u32 = 4096;

/// One problem found by [`AccelConfig::validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigIssue {
    /// The TOML key (dotted for nested tables).
    pub field: String,
    /// The offending value as written.
    pub value: String,
    /// Why it is rejected.
    pub reason: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "field `{}` = {}: {}",
            self.field, self.value, self.reason
        )
    }
}

/// Errors from loading or validating a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin}: {message}")]
    Parse { origin: String, message: String },
    /// A `base` chain that is a cycle or too long (named from its first file).
    #[error("{origin}: {message}")]
    BaseChain { origin: String, message: String },
    /// A name that is neither a file nor a preset.
    #[error(
        "`{spec}` is neither a configuration file nor a preset (presets: {}){}",
        preset_names(),
        suggestion(spec).map(|s| format!("; did you mean `{s}`?")).unwrap_or_default()
    )]
    UnknownPreset { spec: String },
    #[error("{origin}: {}", issues.iter().map(|i| i.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid {
        origin: String,
        issues: Vec<ConfigIssue>,
    },
}

impl ConfigError {
    /// One readable line per problem, each prefixed with the file it came from.
    pub fn lines(&self) -> Vec<String> {
        match self {
            ConfigError::Invalid { origin, issues } => {
                issues.iter().map(|i| format!("{origin}: {i}")).collect()
            }
            other => vec![other.to_string()],
        }
    }
}

/// The built-in presets, by name, as TOML text (the files of `configs/`).
pub const PRESETS: &[(&str, &str)] = &[
    ("edge-8x8", include_str!("../../configs/edge-8x8.toml")),
    ("tiny-4x4", include_str!("../../configs/tiny-4x4.toml")),
    ("edge-16x16", include_str!("../../configs/edge-16x16.toml")),
    ("wide-4x16", include_str!("../../configs/wide-4x16.toml")),
    (
        "edge-8x8-conv",
        include_str!("../../configs/edge-8x8-conv.toml"),
    ),
    (
        "edge-8x8-tinyml",
        include_str!("../../configs/edge-8x8-tinyml.toml"),
    ),
];

/// The name of the default preset.
pub const DEFAULT_PRESET: &str = "edge-8x8";

impl Default for AccelConfig {
    fn default() -> Self {
        AccelConfig::preset(DEFAULT_PRESET).expect("the default preset is valid")
    }
}

impl AccelConfig {
    /// Parses TOML text, then validates it. `origin` names the source in errors; a
    /// relative `base` file is looked up beside `origin`.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let dir = Path::new(origin).parent().unwrap_or(Path::new(""));
        Self::from_toml_str_in(text, origin, dir)
    }

    /// [`Self::from_toml_str`] with relative `base` files looked up in `dir`. A file
    /// without `name` is named after the stem of `origin`; a base's name is not
    /// inherited.
    pub fn from_toml_str_in(text: &str, origin: &str, dir: &Path) -> Result<Self, ConfigError> {
        let key = std::fs::canonicalize(origin)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| origin.to_string());
        let mut chain = vec![(key, origin.to_string())];
        let layer = layers::Layer::parse(text, origin)?.resolve(origin, dir, &mut chain)?;
        let stem = Path::new(origin)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "config".into());
        let cfg = layer.finish(origin, &stem)?;
        cfg.validate().map_err(|issues| ConfigError::Invalid {
            origin: origin.to_string(),
            issues,
        })?;
        Ok(cfg)
    }

    /// Reads, parses and validates a TOML file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        use std::io::Read;
        let io = |source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut text = String::new();
        std::fs::File::open(path)
            .map_err(io)?
            .take(MAX_CONFIG_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(io)?;
        if text.len() as u64 > MAX_CONFIG_BYTES {
            return Err(ConfigError::Parse {
                origin: path.display().to_string(),
                message: format!(
                    "file larger than {MAX_CONFIG_BYTES} bytes: not an accelerator configuration"
                ),
            });
        }
        let dir = path.parent().unwrap_or(Path::new(""));
        Self::from_toml_str_in(&text, &path.display().to_string(), dir)
    }

    /// A built-in preset by name (`edge-8x8`, `tiny-4x4`, `edge-16x16`, `wide-4x16`,
    /// `edge-8x8-conv`, `edge-8x8-tinyml`).
    pub fn preset(name: &str) -> Option<Self> {
        PRESETS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, text)| Self::from_toml_str(text, &format!("configs/{n}.toml")))
            .and_then(Result::ok)
    }

    /// A preset name or a path to a TOML file. A bare name that is neither lists the
    /// presets and suggests the closest.
    pub fn resolve(spec: &str) -> Result<Self, ConfigError> {
        let path = Path::new(spec);
        if !path.exists() {
            if let Some(cfg) = Self::preset(spec.trim_end_matches(".toml")) {
                return Ok(cfg);
            }
            let path_like = spec.contains(['/', '\\']) || spec.ends_with(".toml");
            if !path_like {
                return Err(ConfigError::UnknownPreset {
                    spec: spec.to_string(),
                });
            }
        }
        Self::load(path)
    }

    /// Serializes back to TOML (the resolved form, overrides included).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("AccelConfig always serializes")
    }

    /// Checks every rule and returns all problems found (empty = valid).
    pub fn validate(&self) -> Result<(), Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        let mut bad = |field: &str, value: String, reason: &str| {
            issues.push(ConfigIssue {
                field: field.to_string(),
                value,
                reason: reason.to_string(),
            })
        };
        for (field, v) in [("rows", self.rows), ("cols", self.cols)] {
            if v == 0 {
                bad(
                    field,
                    v.to_string(),
                    "the array needs at least one PE per side",
                );
            } else if v > MAX_ARRAY_SIDE {
                bad(
                    field,
                    v.to_string(),
                    &format!("larger than the supported maximum of {MAX_ARRAY_SIDE}"),
                );
            }
        }
        if self.acc_bits != 32 {
            bad(
                "acc_bits",
                self.acc_bits.to_string(),
                "only 32-bit accumulators are supported (int8 kernels accumulate in int32)",
            );
        }
        let acc_bytes = 4u64;
        let srams = [
            (
                "input_sram",
                self.input_sram_kib,
                self.input_sram_banks,
                self.rows as u64,
                "one array row of int8 activations",
            ),
            (
                "weight_sram",
                self.weight_sram_kib,
                self.weight_sram_banks,
                self.cols as u64,
                "one array row of int8 weights",
            ),
            (
                "acc_sram",
                self.acc_sram_kib,
                self.acc_sram_banks,
                self.cols as u64 * acc_bytes,
                "one array row of int32 accumulators",
            ),
        ];
        for (name, kib, banks, row_bytes, what) in srams {
            let kib_field = format!("{name}_kib");
            let banks_field = format!("{name}_banks");
            if kib == 0 {
                bad(&kib_field, kib.to_string(), "a scratchpad cannot be empty");
                continue;
            }
            if kib > MAX_SRAM_KIB {
                bad(
                    &kib_field,
                    kib.to_string(),
                    &format!("larger than the supported maximum of {MAX_SRAM_KIB} KiB"),
                );
                continue;
            }
            if banks == 0 || banks > MAX_BANKS || !banks.is_power_of_two() {
                bad(
                    &banks_field,
                    banks.to_string(),
                    &format!("must be a power of two between 1 and {MAX_BANKS}"),
                );
                continue;
            }
            // Double-buffered: each half of each bank must hold one array row.
            let half_bank = kib as u64 * 1024 / banks as u64 / 2;
            if half_bank < row_bytes {
                bad(
                    &kib_field,
                    kib.to_string(),
                    &format!(
                        "too small: half a bank holds {half_bank} bytes, less than {what} ({row_bytes} bytes)"
                    ),
                );
            }
        }
        if !self.bus_bytes_per_cycle.is_power_of_two() || self.bus_bytes_per_cycle > 256 {
            bad(
                "bus_bytes_per_cycle",
                self.bus_bytes_per_cycle.to_string(),
                "must be a power of two between 1 and 256",
            );
        }
        if self.bus_latency_cycles > MAX_BUS_LATENCY {
            bad(
                "bus_latency_cycles",
                self.bus_latency_cycles.to_string(),
                &format!("larger than the supported maximum of {MAX_BUS_LATENCY}"),
            );
        }
        if !(self.clock_mhz.is_finite()
            && (MIN_CLOCK_MHZ..=MAX_CLOCK_MHZ).contains(&self.clock_mhz))
        {
            bad(
                "clock_mhz",
                self.clock_mhz.to_string(),
                &format!("must be between {MIN_CLOCK_MHZ} (1 kHz) and {MAX_CLOCK_MHZ} MHz"),
            );
        }
        if let Some(c) = self.name.chars().find(|c| c.is_control()) {
            // The name goes into Verilog comments, Markdown tables, CSV and terminals.
            bad(
                "name",
                format!("{:?}", self.name),
                &format!("contains the control character U+{:04X}", c as u32),
            );
        }
        if self.has_vpu() && self.rows > self.cols {
            let field = if self.depthwise {
                "depthwise"
            } else if self.pooling {
                "pooling"
            } else {
                "eltwise"
            };
            bad(
                field,
                "true".into(),
                &format!(
                    "the vector unit needs rows <= cols (it has one lane per input-line byte, \
                     rows = {}, and writes them into accumulator lines of cols = {} lanes)",
                    self.rows, self.cols
                ),
            );
        }
        if !(1..=MAX_DMA_OUTSTANDING).contains(&self.dma_outstanding) {
            bad(
                "dma_outstanding",
                self.dma_outstanding.to_string(),
                &format!("must be between 1 and {MAX_DMA_OUTSTANDING} requests in flight"),
            );
        }
        if !(1..=MAX_MAIN_MEMORY_KIB).contains(&self.main_memory_kib) {
            bad(
                "main_memory_kib",
                self.main_memory_kib.to_string(),
                &format!("must be between 1 and {MAX_MAIN_MEMORY_KIB} KiB"),
            );
        }
        let q = self.cmd_queue_depth;
        if q != 0 && (!(2..=MAX_CMD_QUEUE_DEPTH).contains(&q) || !q.is_power_of_two()) {
            bad(
                "cmd_queue_depth",
                q.to_string(),
                &format!(
                    "must be 0 (unbounded queues, no fetch time) or a power of two between 2 \
                     and {MAX_CMD_QUEUE_DEPTH} entries"
                ),
            );
        }
        let node_known = NODE_TABLE.iter().any(|n| n.node_nm == self.tech_node_nm);
        if !node_known {
            let known: Vec<String> = NODE_TABLE.iter().map(|n| n.node_nm.to_string()).collect();
            bad(
                "tech_node_nm",
                self.tech_node_nm.to_string(),
                &format!("unknown technology node (known: {} nm)", known.join(", ")),
            );
        }
        if let Some(e) = &self.energy {
            let fields = [
                ("energy.mac_pj", e.mac_pj),
                (
                    "energy.sram_read_pj_per_byte_8kib",
                    e.sram_read_pj_per_byte_8kib,
                ),
                (
                    "energy.sram_write_pj_per_byte_8kib",
                    e.sram_write_pj_per_byte_8kib,
                ),
                ("energy.sram_size_exponent", e.sram_size_exponent),
                ("energy.bus_pj_per_byte", e.bus_pj_per_byte),
                ("energy.leakage_uw_per_pe", e.leakage_uw_per_pe),
                ("energy.leakage_uw_per_kib", e.leakage_uw_per_kib),
                ("energy.agu_pj_per_piece", e.agu_pj_per_piece),
                ("energy.dma_slot_pj_per_burst", e.dma_slot_pj_per_burst),
                ("energy.vpu_reduce_pj_per_op", e.vpu_reduce_pj_per_op),
                ("energy.vpu_add_pj_per_op", e.vpu_add_pj_per_op),
                ("energy.sram_bank_leakage_uw", e.sram_bank_leakage_uw),
                ("energy.main_memory_pj_per_byte", e.main_memory_pj_per_byte),
                ("energy.lpddr4_pj_per_byte", e.lpddr4_pj_per_byte),
                ("energy.qspi_flash_pj_per_byte", e.qspi_flash_pj_per_byte),
                ("energy.ff_clock_pj", e.ff_clock_pj),
                ("energy.ff_data_pj", e.ff_data_pj),
                ("energy.clock_tree_pj_per_ff", e.clock_tree_pj_per_ff),
                ("energy.ppu_pj_per_output", e.ppu_pj_per_output),
                ("energy.decode_pj_per_command", e.decode_pj_per_command),
                ("energy.dma_pj_per_burst", e.dma_pj_per_burst),
            ];
            for (field, v) in fields {
                if let Some(v) = v {
                    if !(0.0..1e9).contains(&v) {
                        bad(
                            field,
                            v.to_string(),
                            "must be a finite, non-negative number",
                        );
                    }
                }
            }
            if e.mac_pj == Some(0.0) {
                bad("energy.mac_pj", "0".into(), "a MAC cannot be free");
            }
        }
        if let Some(a) = &self.area {
            for (field, v) in [
                ("area.pe_um2", a.pe_um2),
                ("area.ppu_um2_per_col", a.ppu_um2_per_col),
                ("area.sram_um2_per_kib", a.sram_um2_per_kib),
                ("area.control_um2", a.control_um2),
                ("area.sram_bank_um2", a.sram_bank_um2),
                ("area.sram_bank_um2_per_byte", a.sram_bank_um2_per_byte),
                ("area.agu_um2", a.agu_um2),
                ("area.dma_slot_um2", a.dma_slot_um2),
                ("area.vpu_mac_lane_um2", a.vpu_mac_lane_um2),
                ("area.vpu_pool_lane_um2", a.vpu_pool_lane_um2),
                ("area.vpu_add_lane_um2", a.vpu_add_lane_um2),
            ] {
                if let Some(v) = v {
                    if !(0.0..1e12).contains(&v) {
                        bad(
                            field,
                            v.to_string(),
                            "must be a finite, non-negative number",
                        );
                    }
                }
            }
        }
        if issues.is_empty() {
            Ok(())
        } else {
            Err(issues)
        }
    }

    /// Peak int8 MACs per cycle (`rows * cols`).
    pub fn peak_macs_per_cycle(&self) -> u64 {
        self.rows as u64 * self.cols as u64
    }

    /// Peak throughput in GOPS (one MAC = two operations).
    pub fn peak_gops(&self) -> f64 {
        2.0 * self.peak_macs_per_cycle() as f64 * self.clock_mhz / 1000.0
    }

    /// Total on-accelerator SRAM in KiB.
    pub fn total_sram_kib(&self) -> u64 {
        self.input_sram_kib as u64 + self.weight_sram_kib as u64 + self.acc_sram_kib as u64
    }

    /// Bytes of each scratchpad.
    pub fn input_sram_bytes(&self) -> u64 {
        self.input_sram_kib as u64 * 1024
    }
    /// Bytes of the weight scratchpad.
    pub fn weight_sram_bytes(&self) -> u64 {
        self.weight_sram_kib as u64 * 1024
    }
    /// Bytes of the accumulator scratchpad.
    pub fn acc_sram_bytes(&self) -> u64 {
        self.acc_sram_kib as u64 * 1024
    }

    /// Clock period in nanoseconds.
    pub fn cycle_ns(&self) -> f64 {
        1000.0 / self.clock_mhz
    }

    /// Converts cycles of this accelerator to microseconds.
    pub fn cycles_to_us(&self, cycles: u64) -> f64 {
        cycles as f64 / self.clock_mhz
    }

    /// The effective energy table: the node's defaults with the `[energy]` overrides.
    pub fn energy_table(&self) -> EnergyTable {
        let mut t = EnergyTable::for_node(self.tech_node_nm);
        if let Some(o) = &self.energy {
            macro_rules! ov {
                ($f:ident) => {
                    if let Some(v) = o.$f {
                        t.$f = v;
                    }
                };
            }
            ov!(mac_pj);
            ov!(sram_read_pj_per_byte_8kib);
            ov!(sram_write_pj_per_byte_8kib);
            ov!(bus_pj_per_byte);
            ov!(leakage_uw_per_pe);
            ov!(leakage_uw_per_kib);
            ov!(agu_pj_per_piece);
            ov!(dma_slot_pj_per_burst);
            ov!(vpu_reduce_pj_per_op);
            ov!(vpu_add_pj_per_op);
            ov!(sram_bank_leakage_uw);
            ov!(main_memory_pj_per_byte);
            ov!(lpddr4_pj_per_byte);
            ov!(qspi_flash_pj_per_byte);
            ov!(ff_clock_pj);
            ov!(ff_data_pj);
            ov!(clock_tree_pj_per_ff);
            ov!(ppu_pj_per_output);
            ov!(decode_pj_per_command);
            ov!(dma_pj_per_burst);
            if let Some(v) = o.sram_size_exponent {
                t.sram_size_exponent = Some(v);
            }
        }
        if self.main_memory_pj_per_byte_default_applies() {
            t.main_memory_pj_per_byte = self.system_sram_pj_per_byte(&t);
        }
        t
    }

    /// Whether the main-memory (system SRAM) energy per byte comes from the SRAM model
    /// (no `[energy] main_memory_pj_per_byte` override).
    fn main_memory_pj_per_byte_default_applies(&self) -> bool {
        self.energy
            .as_ref()
            .and_then(|e| e.main_memory_pj_per_byte)
            .is_none()
    }

    /// Energy per byte of the on-chip system SRAM (`main_memory_kib`, accessed
    /// `bus_bytes_per_cycle` bytes wide, one bank per 64 KiB), mean of read and write, at
    /// the node of `t`.
    fn system_sram_pj_per_byte(&self, t: &EnergyTable) -> f64 {
        let m = self.system_sram_macro();
        0.5 * (t.sram_read_pj_per_byte(&m) + t.sram_write_pj_per_byte(&m))
    }

    /// The on-chip system SRAM as a macro of the SRAM model: `main_memory_kib`, the bus
    /// width, one bank per 64 KiB (system SRAMs of MCUs come in 32-128 KiB blocks), one
    /// port.
    pub fn system_sram_macro(&self) -> SramMacro {
        let kib = self.main_memory_kib.max(1);
        SramMacro {
            kib: kib as f64,
            width_bytes: self.bus_bytes_per_cycle.max(1),
            banks: kib.div_ceil(64).next_power_of_two(),
            ports: 1,
        }
    }

    /// The three scratchpads as macros of the SRAM model (input, weight, accumulator):
    /// their capacity and banks, a line of `rows`, `cols` and `4 x cols` bytes, one port
    /// (the banks are single-ported: `bank_conflict_cycles`).
    pub fn scratchpad_macros(&self) -> [SramMacro; 3] {
        let m = |kib: u32, width: u32, banks: u32| SramMacro {
            kib: kib as f64,
            width_bytes: width.max(1),
            banks: banks.max(1),
            ports: 1,
        };
        [
            m(self.input_sram_kib, self.rows, self.input_sram_banks),
            m(self.weight_sram_kib, self.cols, self.weight_sram_banks),
            m(self.acc_sram_kib, 4 * self.cols, self.acc_sram_banks),
        ]
    }

    /// Leakage of the three scratchpads, uW (the SRAM model: cells per KiB plus the
    /// periphery of each bank).
    pub fn sram_leakage_uw(&self) -> f64 {
        let e = self.energy_table();
        self.scratchpad_macros()
            .iter()
            .map(|m| e.sram_leakage_uw(m))
            .sum()
    }

    /// The effective area table: the node's defaults with the `[area]` overrides.
    pub fn area_table(&self) -> AreaTable {
        let mut t = AreaTable::for_node(self.tech_node_nm);
        if let Some(o) = &self.area {
            if let Some(v) = o.pe_um2 {
                t.pe_um2 = v;
            }
            if let Some(v) = o.ppu_um2_per_col {
                t.ppu_um2_per_col = v;
            }
            if let Some(v) = o.sram_um2_per_kib {
                t.sram_um2_per_kib = v;
            }
            if let Some(v) = o.control_um2 {
                t.control_um2 = v;
            }
            if let Some(v) = o.sram_bank_um2 {
                t.sram_bank_um2 = v;
            }
            if let Some(v) = o.sram_bank_um2_per_byte {
                t.sram_bank_um2_per_byte = v;
            }
            if let Some(v) = o.agu_um2 {
                t.agu_um2 = v;
            }
            if let Some(v) = o.dma_slot_um2 {
                t.dma_slot_um2 = v;
            }
            if let Some(v) = o.vpu_mac_lane_um2 {
                t.vpu_mac_lane_um2 = v;
            }
            if let Some(v) = o.vpu_pool_lane_um2 {
                t.vpu_pool_lane_um2 = v;
            }
            if let Some(v) = o.vpu_add_lane_um2 {
                t.vpu_add_lane_um2 = v;
            }
        }
        t
    }

    /// Logic area of the accelerator in um^2 at its node: PEs, PPU lanes (one per column),
    /// controller and DMA, plus the issue-16 units ([`Self::feature_area_um2`]) when
    /// present.
    pub fn logic_area_um2(&self) -> f64 {
        let a = self.area_table();
        let base = a.pe_um2 * self.peak_macs_per_cycle() as f64
            + a.ppu_um2_per_col * self.cols as f64
            + a.control_um2;
        let extra = self.feature_area_um2();
        if extra > 0.0 {
            base + extra
        } else {
            base
        }
    }

    /// Area of the im2col address generator (`agu_um2` when `im2col`) plus the DMA
    /// tracking slots (`dma_outstanding x dma_slot_um2` when `dma_outstanding > 1`) plus
    /// the command queues ([`Self::cmd_queue_area_um2`]) and the vector unit; 0 with
    /// every feature off.
    pub fn feature_area_um2(&self) -> f64 {
        let a = self.area_table();
        let mut v = 0.0;
        if self.im2col {
            v += a.agu_um2;
        }
        if self.dma_outstanding > 1 {
            v += self.dma_outstanding as f64 * a.dma_slot_um2;
        }
        v += self.cmd_queue_area_um2();
        v + self.vpu_area_um2()
    }

    /// Storage of the three command queues with `cmd_queue_depth > 0`: `3 x depth x 128`
    /// flip-flops at [`crate::tables::CMD_QUEUE_UM2_PER_BIT_45NM`] (scaled to the node); 0
    /// with the ideal queues (`cmd_queue_depth = 0`).
    pub fn cmd_queue_area_um2(&self) -> f64 {
        if self.cmd_queue_depth == 0 {
            return 0.0;
        }
        let bits = 3.0 * self.cmd_queue_depth as f64 * 128.0;
        bits * crate::tables::CMD_QUEUE_UM2_PER_BIT_45NM
            * crate::tables::area_factor(self.tech_node_nm)
    }

    /// Whether the compute engine has the vector unit (`depthwise`, `pooling` or
    /// `eltwise`).
    pub fn has_vpu(&self) -> bool {
        self.depthwise || self.pooling || self.eltwise
    }

    /// Lanes of the vector unit (`rows`; 0 without the unit).
    pub fn vpu_lanes(&self) -> u64 {
        if self.has_vpu() {
            self.rows as u64
        } else {
            0
        }
    }

    /// Area of the vector unit: `rows` lanes, each with the datapath of the modes present
    /// (`vpu_mac_lane_um2` for `depthwise`, `vpu_pool_lane_um2` for `pooling`,
    /// `vpu_add_lane_um2` for `eltwise`); 0 without the unit.
    pub fn vpu_area_um2(&self) -> f64 {
        let a = self.area_table();
        let mut lane = 0.0;
        if self.depthwise {
            lane += a.vpu_mac_lane_um2;
        }
        if self.pooling {
            lane += a.vpu_pool_lane_um2;
        }
        if self.eltwise {
            lane += a.vpu_add_lane_um2;
        }
        lane * self.vpu_lanes() as f64
    }

    /// Estimated silicon area in mm^2: logic ([`Self::logic_area_um2`]) plus the three
    /// scratchpads from the SRAM model ([`Self::sram_area_um2`]).
    pub fn area_mm2(&self) -> f64 {
        (self.logic_area_um2() + self.sram_area_um2()) / 1e6
    }

    /// Area of the three scratchpads, um^2: per macro `sram_um2_per_kib x KiB + banks x
    /// (sram_bank_um2 + sram_bank_um2_per_byte x line bytes)` (`arch::sram`).
    pub fn sram_area_um2(&self) -> f64 {
        let a = self.area_table();
        self.scratchpad_macros().iter().map(|m| a.sram_um2(m)).sum()
    }

    /// Static power in microwatts: PE leakage, the scratchpads' leakage from the SRAM
    /// model ([`Self::sram_leakage_uw`]), plus the im2col address generator, the DMA
    /// tracking slots and the vector unit at the logic leakage density of a PE
    /// (`feature_area_um2 x leakage_uw_per_pe / pe_um2`) when present.
    pub fn leakage_uw(&self) -> f64 {
        let e = self.energy_table();
        let base = e.leakage_uw_per_pe * self.peak_macs_per_cycle() as f64 + self.sram_leakage_uw();
        let extra = self.feature_area_um2();
        let pe_um2 = self.area_table().pe_um2;
        if extra > 0.0 && pe_um2 > 0.0 {
            base + extra * e.leakage_uw_per_pe / pe_um2
        } else {
            base
        }
    }

    /// SHA-256 of the canonical JSON form (first 16 hex digits), recorded in every report
    /// and emitted Verilog file.
    pub fn hash(&self) -> String {
        use sha2::{Digest, Sha256};
        let json = serde_json::to_string(self).expect("AccelConfig always serializes");
        let digest = Sha256::digest(json.as_bytes());
        digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }
}
