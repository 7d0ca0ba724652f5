//! Configuration files as written: every key optional, `base = "PRESET"` or
//! `base = "FILE"` (relative to the including file) naming what the file starts from.
//! A file is parsed on its own (so type errors and unknown keys name its own lines), its
//! bases are resolved recursively (at most [`MAX_BASE_DEPTH`], cycles named), the layers
//! are merged key by key (the `[energy]` and `[area]` tables key by key too; a base's
//! `name` is never inherited), and only then are the required fields checked, all missing
//! ones in one error. The result is the same [`AccelConfig`] as the spelled-out file,
//! hence the same serialized form and hash.

use super::{
    toml_field_at, AccelConfig, AreaOverride, ConfigError, Dataflow, EnergyOverride, MainMemory,
    MAX_CONFIG_BYTES, PRESETS,
};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Most `base` links followed from one file (a chain `a -> b -> ... -> preset`).
pub const MAX_BASE_DEPTH: usize = 8;

/// The fields a configuration must set (itself or through its bases).
pub const REQUIRED_FIELDS: [&str; 13] = [
    "rows",
    "cols",
    "dataflow",
    "input_sram_kib",
    "input_sram_banks",
    "weight_sram_kib",
    "weight_sram_banks",
    "acc_sram_kib",
    "acc_sram_banks",
    "bus_bytes_per_cycle",
    "bus_latency_cycles",
    "clock_mhz",
    "tech_node_nm",
];

/// One file's keys, all optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Layer {
    base: Option<String>,
    name: Option<String>,
    rows: Option<u32>,
    cols: Option<u32>,
    dataflow: Option<Dataflow>,
    acc_bits: Option<u32>,
    input_sram_kib: Option<u32>,
    input_sram_banks: Option<u32>,
    weight_sram_kib: Option<u32>,
    weight_sram_banks: Option<u32>,
    acc_sram_kib: Option<u32>,
    acc_sram_banks: Option<u32>,
    bus_bytes_per_cycle: Option<u32>,
    bus_latency_cycles: Option<u32>,
    clock_mhz: Option<f64>,
    tech_node_nm: Option<u32>,
    im2col: Option<bool>,
    dma_outstanding: Option<u32>,
    depthwise: Option<bool>,
    pooling: Option<bool>,
    eltwise: Option<bool>,
    clock_gating: Option<bool>,
    main_memory: Option<MainMemory>,
    main_memory_kib: Option<u32>,
    cmd_queue_depth: Option<u32>,
    energy: Option<EnergyOverride>,
    area: Option<AreaOverride>,
}

macro_rules! merge_fields {
    ($child:expr, $base:expr, $($f:ident),*) => {
        $( if $child.$f.is_none() { $child.$f = $base.$f; } )*
    };
}

impl Layer {
    /// Parses one file's text; errors name the field and line.
    pub(super) fn parse(text: &str, origin: &str) -> Result<Layer, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            origin: origin.to_string(),
            message: e
                .span()
                .and_then(|s| toml_field_at(text, s.start))
                .map(|f| format!("field `{f}`: "))
                .unwrap_or_default()
                + e.message().trim_end()
                + &e.span()
                    .map(|s| {
                        let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                        format!(" (line {line})")
                    })
                    .unwrap_or_default(),
        })
    }

    /// `self` over `base`: every key `self` sets wins; the `[energy]` and `[area]` tables
    /// merge key by key; the name is never inherited.
    fn over(mut self, base: Layer) -> Layer {
        merge_fields!(
            self,
            base,
            rows,
            cols,
            dataflow,
            acc_bits,
            input_sram_kib,
            input_sram_banks,
            weight_sram_kib,
            weight_sram_banks,
            acc_sram_kib,
            acc_sram_banks,
            bus_bytes_per_cycle,
            bus_latency_cycles,
            clock_mhz,
            tech_node_nm,
            im2col,
            dma_outstanding,
            depthwise,
            pooling,
            eltwise,
            clock_gating,
            main_memory,
            main_memory_kib,
            cmd_queue_depth
        );
        self.energy = match (self.energy.take(), base.energy) {
            (Some(mut c), Some(b)) => {
                merge_fields!(
                    c,
                    b,
                    mac_pj,
                    sram_read_pj_per_byte_8kib,
                    sram_write_pj_per_byte_8kib,
                    sram_size_exponent,
                    bus_pj_per_byte,
                    leakage_uw_per_pe,
                    leakage_uw_per_kib,
                    agu_pj_per_piece,
                    dma_slot_pj_per_burst,
                    vpu_reduce_pj_per_op,
                    vpu_add_pj_per_op,
                    sram_bank_leakage_uw,
                    main_memory_pj_per_byte,
                    lpddr4_pj_per_byte,
                    qspi_flash_pj_per_byte,
                    ff_clock_pj,
                    ff_data_pj,
                    clock_tree_pj_per_ff,
                    ppu_pj_per_output,
                    decode_pj_per_command,
                    dma_pj_per_burst
                );
                Some(c)
            }
            (c, b) => c.or(b),
        };
        self.area = match (self.area.take(), base.area) {
            (Some(mut c), Some(b)) => {
                merge_fields!(
                    c,
                    b,
                    pe_um2,
                    ppu_um2_per_col,
                    sram_um2_per_kib,
                    control_um2,
                    sram_bank_um2,
                    sram_bank_um2_per_byte,
                    agu_um2,
                    dma_slot_um2,
                    vpu_mac_lane_um2,
                    vpu_pool_lane_um2,
                    vpu_add_lane_um2
                );
                Some(c)
            }
            (c, b) => c.or(b),
        };
        self
    }

    /// Follows `base` links from a file at `origin` (relative bases are looked up in
    /// `dir`). `chain` holds the files and presets already on the way (for cycles).
    pub(super) fn resolve(
        mut self,
        origin: &str,
        dir: &Path,
        chain: &mut Vec<(String, String)>,
    ) -> Result<Layer, ConfigError> {
        let Some(spec) = self.base.take() else {
            return Ok(self);
        };
        let names = |chain: &[(String, String)]| {
            chain
                .iter()
                .map(|(_, shown)| shown.as_str())
                .collect::<Vec<_>>()
                .join(" -> ")
        };
        if chain.len() > MAX_BASE_DEPTH {
            return Err(ConfigError::BaseChain {
                origin: chain[0].1.clone(),
                message: format!(
                    "`base` chain longer than {MAX_BASE_DEPTH} links: {} -> ...",
                    names(chain)
                ),
            });
        }
        let found = locate(&spec, dir).map_err(|message| ConfigError::Parse {
            origin: origin.to_string(),
            message,
        })?;
        if chain.iter().any(|(key, _)| *key == found.key) {
            chain.push((found.key, found.origin));
            return Err(ConfigError::BaseChain {
                origin: chain[0].1.clone(),
                message: format!("`base` chain {} is a cycle", names(chain)),
            });
        }
        chain.push((found.key.clone(), found.origin.clone()));
        let base = Layer::parse(&found.text, &found.origin)
            .and_then(|b| b.resolve(&found.origin, &found.dir, chain))
            .map_err(|e| match e {
                // Names the whole chain from its first file already.
                e @ ConfigError::BaseChain { .. } => e,
                e => ConfigError::Parse {
                    origin: origin.to_string(),
                    message: format!("in base `{spec}`: {e}"),
                },
            })?;
        chain.pop();
        Ok(self.over(base))
    }

    /// The configuration, once every base is merged: all missing required fields are
    /// named in one error. `default_name` is used when no file of the chain's first link
    /// sets `name`.
    pub(super) fn finish(
        self,
        origin: &str,
        default_name: &str,
    ) -> Result<AccelConfig, ConfigError> {
        let set = [
            self.rows.is_some(),
            self.cols.is_some(),
            self.dataflow.is_some(),
            self.input_sram_kib.is_some(),
            self.input_sram_banks.is_some(),
            self.weight_sram_kib.is_some(),
            self.weight_sram_banks.is_some(),
            self.acc_sram_kib.is_some(),
            self.acc_sram_banks.is_some(),
            self.bus_bytes_per_cycle.is_some(),
            self.bus_latency_cycles.is_some(),
            self.clock_mhz.is_some(),
            self.tech_node_nm.is_some(),
        ];
        let missing: Vec<String> = REQUIRED_FIELDS
            .iter()
            .zip(set)
            .filter(|(_, s)| !s)
            .map(|(f, _)| format!("`{f}`"))
            .collect();
        if !missing.is_empty() {
            return Err(ConfigError::Parse {
                origin: origin.to_string(),
                message: format!(
                    "missing field{} {}: set {} or start from a preset or file with \
                     `base = \"edge-8x8\"` (`tinyaccel config init` writes a complete file)",
                    if missing.len() > 1 { "s" } else { "" },
                    missing.join(", "),
                    if missing.len() > 1 { "them" } else { "it" },
                ),
            });
        }
        Ok(AccelConfig {
            name: self.name.unwrap_or_else(|| default_name.to_string()),
            rows: self.rows.unwrap_or_default(),
            cols: self.cols.unwrap_or_default(),
            dataflow: self.dataflow.unwrap_or(Dataflow::OutputStationary),
            acc_bits: self.acc_bits.unwrap_or(32),
            input_sram_kib: self.input_sram_kib.unwrap_or_default(),
            input_sram_banks: self.input_sram_banks.unwrap_or_default(),
            weight_sram_kib: self.weight_sram_kib.unwrap_or_default(),
            weight_sram_banks: self.weight_sram_banks.unwrap_or_default(),
            acc_sram_kib: self.acc_sram_kib.unwrap_or_default(),
            acc_sram_banks: self.acc_sram_banks.unwrap_or_default(),
            bus_bytes_per_cycle: self.bus_bytes_per_cycle.unwrap_or_default(),
            bus_latency_cycles: self.bus_latency_cycles.unwrap_or_default(),
            clock_mhz: self.clock_mhz.unwrap_or_default(),
            tech_node_nm: self.tech_node_nm.unwrap_or_default(),
            im2col: self.im2col.unwrap_or(false),
            dma_outstanding: self.dma_outstanding.unwrap_or(1),
            depthwise: self.depthwise.unwrap_or(false),
            pooling: self.pooling.unwrap_or(false),
            eltwise: self.eltwise.unwrap_or(false),
            clock_gating: self.clock_gating.unwrap_or(true),
            main_memory: self.main_memory.unwrap_or_default(),
            main_memory_kib: self
                .main_memory_kib
                .unwrap_or(super::DEFAULT_MAIN_MEMORY_KIB),
            cmd_queue_depth: self.cmd_queue_depth.unwrap_or(0),
            energy: self.energy,
            area: self.area,
        })
    }
}

/// A base found: its text, how errors name it, where its own relative bases are looked
/// up, and its identity for cycle detection.
struct Found {
    text: String,
    origin: String,
    dir: PathBuf,
    key: String,
}

/// A file relative to `dir` (or absolute), else a preset name (with or without `.toml`).
fn locate(spec: &str, dir: &Path) -> Result<Found, String> {
    let p = Path::new(spec);
    let file = if p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.join(p)
    };
    if file.is_file() {
        let text = read_capped(&file).map_err(|e| format!("base `{spec}`: {e}"))?;
        let key = std::fs::canonicalize(&file)
            .unwrap_or_else(|_| file.clone())
            .display()
            .to_string();
        return Ok(Found {
            text,
            origin: file.display().to_string(),
            dir: file.parent().map(Path::to_path_buf).unwrap_or_default(),
            key,
        });
    }
    let name = spec.trim_end_matches(".toml");
    if let Some((n, text)) = PRESETS.iter().find(|(n, _)| *n == name) {
        return Ok(Found {
            text: text.to_string(),
            origin: format!("preset {n}"),
            dir: dir.to_path_buf(),
            key: format!("preset:{n}"),
        });
    }
    Err(format!(
        "base `{spec}` is neither a file ({}) nor a preset ({}){}",
        file.display(),
        preset_names(),
        suggestion(name)
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default()
    ))
}

/// Reads at most [`MAX_CONFIG_BYTES`] of a configuration file.
pub(super) fn read_capped(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_CONFIG_BYTES + 1).read_to_string(&mut text))
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(format!(
            "{}: file larger than {MAX_CONFIG_BYTES} bytes: not an accelerator configuration",
            path.display()
        ));
    }
    Ok(text)
}

/// The preset names, comma-separated.
pub fn preset_names() -> String {
    PRESETS
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The preset closest to `name` by edit distance, if it is close (a typo).
pub fn suggestion(name: &str) -> Option<&'static str> {
    let (d, best) = PRESETS
        .iter()
        .map(|(n, _)| (edit_distance(name, n), *n))
        .min()?;
    (d > 0 && d <= (name.chars().count() / 3).max(2)).then_some(best)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_are_close_presets_only() {
        assert_eq!(suggestion("edge-8x9"), Some("edge-8x8"));
        assert_eq!(suggestion("tiny4x4"), Some("tiny-4x4"));
        assert_eq!(suggestion("edge-16x61"), Some("edge-16x16"));
        assert_eq!(suggestion("resnet"), None);
        assert_eq!(suggestion("edge-8x8"), None);
    }
}
