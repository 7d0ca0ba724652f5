//! SCALE-Sim `.cfg` files (v2 `scalesim-project/scale-sim-v2`, also v1's key spellings):
//! [`import`] reads one into the equivalent [`AccelConfig`] and names everything it
//! cannot express; [`AccelConfig::to_scalesim_cfg`] writes a configuration back out.
//!
//! The file is Python `configparser` text: `[section]` lines, `key: value` or
//! `key = value` lines (keys in any case), whole-line comments after `#` or `;`. The keys
//! read (SCALE-Sim v2's `scale_config.py`):
//!
//! | section, key | tinyaccel |
//! |---|---|
//! | `[general] run_name` | `name` (default: the file stem) |
//! | `[architecture_presets] ArrayHeight`, `ArrayWidth` | `rows`, `cols` |
//! | `IfmapSramSzkB`, `FilterSramSzkB`, `OfmapSramSzkB` (v1: `IfmapSramSz`, ...) | `input_sram_kib`, `weight_sram_kib`, `acc_sram_kib` (SCALE-Sim's kB are 1024 bytes) |
//! | `Dataflow` (`os`, `ws`, `is`) | `dataflow` |
//! | `Bandwidth` (words of 1 byte per cycle; the first of a list) | `bus_bytes_per_cycle`, the nearest power of two |
//! | `[run_presets] InterfaceBandwidth` (`CALC`, `USER`) | named: with `CALC` SCALE-Sim ignores `Bandwidth` and assumes a stall-free memory |
//! | `IfmapOffset`, `FilterOffset`, `OfmapOffset`, `MemoryBanks`, `[network_presets] TopologyCsvLoc` | named, no equivalent |
//!
//! The fields SCALE-Sim has no notion of (clock, technology node, banks, DMA requests in
//! flight, energy and area) are [`super::DEFAULT_PRESET`]'s; the bus latency is 1 cycle,
//! SCALE-Sim's DRAM read latency.

use super::{AccelConfig, ConfigError, Dataflow, DEFAULT_PRESET};

/// SCALE-Sim's DRAM read latency in cycles (`read_port.py`: a request is answered one
/// cycle after it is made), used as `bus_latency_cycles`.
pub const SCALESIM_DRAM_LATENCY: u32 = 1;

/// The values of a SCALE-Sim configuration file, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleSimCfg {
    pub run_name: Option<String>,
    pub array_height: u32,
    pub array_width: u32,
    pub ifmap_sram_kb: u32,
    pub filter_sram_kb: u32,
    pub ofmap_sram_kb: u32,
    /// `os`, `ws` or `is`.
    pub dataflow: Dataflow,
    /// `CALC` or `USER` (absent in v1 files).
    pub interface_bandwidth: Option<String>,
    /// `Bandwidth`, words per cycle (a comma-separated list; SCALE-Sim uses the first).
    pub bandwidth: Vec<u32>,
    /// Keys read but without an equivalent, `(key as written, value)`.
    pub unmapped: Vec<(String, String)>,
    /// Keys SCALE-Sim v2 does not read either, `[section] key`.
    pub unknown: Vec<String>,
}

/// An imported configuration and what it could not express (one sentence each).
#[derive(Debug, Clone, PartialEq)]
pub struct Import {
    pub config: AccelConfig,
    pub notes: Vec<String>,
}

struct Entry {
    line: usize,
    section: String,
    /// Lower case (configparser's keys are case-insensitive).
    key: String,
    /// As written.
    raw_key: String,
    value: String,
}

fn parse_err(origin: &str, message: String) -> ConfigError {
    ConfigError::Parse {
        origin: origin.to_string(),
        message,
    }
}

fn entries(text: &str, origin: &str) -> Result<Vec<Entry>, ConfigError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out: Vec<Entry> = Vec::new();
    let mut section: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if let Some(rest) = t.strip_prefix('[') {
            let name = rest.strip_suffix(']').ok_or_else(|| {
                parse_err(
                    origin,
                    format!("line {line}: section header {t:?} lacks its `]`"),
                )
            })?;
            section = Some(name.trim().to_ascii_lowercase());
            continue;
        }
        let cut = t.find([':', '=']).ok_or_else(|| {
            parse_err(
                origin,
                format!("line {line}: {t:?} is neither a `[section]` nor a `key: value` line"),
            )
        })?;
        let Some(sec) = &section else {
            return Err(parse_err(
                origin,
                format!("line {line}: `{t}` comes before any `[section]` line"),
            ));
        };
        let raw_key = t[..cut].trim().to_string();
        let key = raw_key.to_ascii_lowercase();
        let value = t[cut + 1..].trim().to_string();
        if key.is_empty() {
            return Err(parse_err(
                origin,
                format!("line {line}: a value without a key"),
            ));
        }
        if let Some(prev) = out.iter().find(|e| e.section == *sec && e.key == key) {
            return Err(parse_err(
                origin,
                format!(
                    "line {line}: [{sec}] {key} is set twice (first on line {})",
                    prev.line
                ),
            ));
        }
        out.push(Entry {
            line,
            section: sec.clone(),
            key,
            raw_key,
            value,
        });
    }
    Ok(out)
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(s)
        .to_string()
}

/// Parses a SCALE-Sim configuration's text; `origin` (the file) is named in errors, all
/// missing keys in one.
pub fn parse_cfg(text: &str, origin: &str) -> Result<ScaleSimCfg, ConfigError> {
    let es = entries(text, origin)?;
    let get = |sec: &str, keys: &[&str]| -> Option<&Entry> {
        es.iter()
            .find(|e| e.section == sec && keys.contains(&e.key.as_str()))
    };
    const ARCH: &str = "architecture_presets";
    let required: [(&str, &[&str]); 6] = [
        ("ArrayHeight", &["arrayheight"]),
        ("ArrayWidth", &["arraywidth"]),
        ("IfmapSramSzkB", &["ifmapsramszkb", "ifmapsramsz"]),
        ("FilterSramSzkB", &["filtersramszkb", "filtersramsz"]),
        ("OfmapSramSzkB", &["ofmapsramszkb", "ofmapsramsz"]),
        ("Dataflow", &["dataflow"]),
    ];
    let missing: Vec<String> = required
        .iter()
        .filter(|(_, keys)| get(ARCH, keys).is_none())
        .map(|(name, _)| format!("[{ARCH}] {name}"))
        .collect();
    if !missing.is_empty() {
        return Err(parse_err(
            origin,
            format!(
                "not a SCALE-Sim configuration: missing {}",
                missing.join(", ")
            ),
        ));
    }
    let num = |e: &Entry| -> Result<u32, ConfigError> {
        e.value.trim().parse::<u32>().map_err(|_| {
            parse_err(
                origin,
                format!(
                    "line {}: [{}] {} = {:?}: not a whole number",
                    e.line, e.section, e.raw_key, e.value
                ),
            )
        })
    };
    let req = |i: usize| get(ARCH, required[i].1).expect("checked above");
    let df = req(5);
    let dataflow = match df.value.trim() {
        "os" => Dataflow::OutputStationary,
        "ws" => Dataflow::WeightStationary,
        "is" => Dataflow::InputStationary,
        v => {
            return Err(parse_err(
                origin,
                format!(
                    "line {}: [{ARCH}] Dataflow = {v:?}: SCALE-Sim's dataflows are os, ws and is",
                    df.line
                ),
            ))
        }
    };
    let interface_bandwidth = match get("run_presets", &["interfacebandwidth"]) {
        None => None,
        Some(e) => match e.value.trim() {
            v @ ("CALC" | "USER") => Some(v.to_string()),
            v => {
                return Err(parse_err(
                    origin,
                    format!(
                        "line {}: [run_presets] InterfaceBandwidth = {v:?}: expected CALC or USER",
                        e.line
                    ),
                ))
            }
        },
    };
    let bandwidth = match get(ARCH, &["bandwidth"]) {
        None => Vec::new(),
        Some(e) => e
            .value
            .split(',')
            .map(|s| {
                s.trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|&b| b > 0)
                    .ok_or_else(|| {
                        parse_err(
                            origin,
                            format!(
                            "line {}: [{ARCH}] Bandwidth = {:?}: expected positive whole numbers \
                             of words per cycle, separated by commas",
                            e.line, e.value
                        ),
                        )
                    })
            })
            .collect::<Result<_, _>>()?,
    };
    if interface_bandwidth.as_deref() == Some("USER") && bandwidth.is_empty() {
        return Err(parse_err(
            origin,
            format!("[run_presets] InterfaceBandwidth = USER needs [{ARCH}] Bandwidth"),
        ));
    }
    let known: &[(&str, &[&str])] = &[
        ("general", &["run_name"]),
        (
            ARCH,
            &[
                "arrayheight",
                "arraywidth",
                "ifmapsramszkb",
                "ifmapsramsz",
                "filtersramszkb",
                "filtersramsz",
                "ofmapsramszkb",
                "ofmapsramsz",
                "dataflow",
                "bandwidth",
            ],
        ),
        ("run_presets", &["interfacebandwidth"]),
    ];
    let unmapped_keys: &[(&str, &str)] = &[
        (ARCH, "ifmapoffset"),
        (ARCH, "filteroffset"),
        (ARCH, "ofmapoffset"),
        (ARCH, "memorybanks"),
        ("network_presets", "topologycsvloc"),
    ];
    let mut unmapped = Vec::new();
    let mut unknown = Vec::new();
    for e in &es {
        if unmapped_keys.contains(&(e.section.as_str(), e.key.as_str())) {
            unmapped.push((e.raw_key.clone(), e.value.clone()));
        } else if !known
            .iter()
            .any(|(s, ks)| *s == e.section && ks.contains(&e.key.as_str()))
        {
            unknown.push(format!("[{}] {}", e.section, e.raw_key));
        }
    }
    Ok(ScaleSimCfg {
        run_name: get("general", &["run_name"])
            .map(|e| unquote(&e.value))
            .filter(|s| !s.is_empty()),
        array_height: num(req(0))?,
        array_width: num(req(1))?,
        ifmap_sram_kb: num(req(2))?,
        filter_sram_kb: num(req(3))?,
        ofmap_sram_kb: num(req(4))?,
        dataflow,
        interface_bandwidth,
        bandwidth,
        unmapped,
        unknown,
    })
}

/// The power of two nearest to `v` in `1..=256` (ties go up: a bus never narrower than
/// asked when it can be avoided).
pub fn nearest_bus_width(v: u32) -> u32 {
    if v >= 256 {
        return 256;
    }
    if v <= 1 {
        return 1;
    }
    let lower = 1u32 << (31 - v.leading_zeros());
    let upper = lower * 2;
    if v - lower < upper - v {
        lower
    } else if v == lower {
        v
    } else {
        upper
    }
}

/// The SCALE-Sim key a tinyaccel field came from (for validation errors).
fn cfg_key(field: &str) -> &'static str {
    match field {
        "rows" => "ArrayHeight",
        "cols" => "ArrayWidth",
        "input_sram_kib" => "IfmapSramSzkB",
        "weight_sram_kib" => "FilterSramSzkB",
        "acc_sram_kib" => "OfmapSramSzkB",
        "bus_bytes_per_cycle" => "Bandwidth",
        "name" => "run_name",
        _ => "",
    }
}

/// Reads a SCALE-Sim configuration's text into the equivalent [`AccelConfig`] (named
/// `run_name`, else `stem`) and the list of what it cannot express.
pub fn import(text: &str, origin: &str, stem: &str) -> Result<Import, ConfigError> {
    let s = parse_cfg(text, origin)?;
    let base = AccelConfig::preset(DEFAULT_PRESET).expect("the default preset is valid");
    let mut c = base.clone();
    let mut notes = Vec::new();
    c.name = s.run_name.clone().unwrap_or_else(|| stem.to_string());
    c.rows = s.array_height;
    c.cols = s.array_width;
    c.dataflow = s.dataflow;
    c.input_sram_kib = s.ifmap_sram_kb;
    c.weight_sram_kib = s.filter_sram_kb;
    c.acc_sram_kib = s.ofmap_sram_kb;
    c.bus_latency_cycles = SCALESIM_DRAM_LATENCY;
    notes.push(format!(
        "OfmapSramSzkB = {} KiB: SCALE-Sim stores 1-byte output words there, tinyaccel's \
         accumulator scratchpad (acc_sram_kib) holds int32 partial sums, 4 bytes each, so \
         the same size holds a quarter as many outputs",
        s.ofmap_sram_kb
    ));
    let user = s.interface_bandwidth.as_deref() == Some("USER");
    match s.bandwidth.first() {
        Some(&bw) => {
            c.bus_bytes_per_cycle = nearest_bus_width(bw);
            if !user {
                notes.push(format!(
                    "InterfaceBandwidth = {}: SCALE-Sim then ignores Bandwidth and assumes the \
                     DRAM bandwidth that makes the run stall-free (its BANDWIDTH_REPORT says \
                     how much); tinyaccel always models a finite bus, here \
                     bus_bytes_per_cycle = {} from Bandwidth = {bw}",
                    s.interface_bandwidth
                        .as_deref()
                        .unwrap_or("absent (SCALE-Sim v1)"),
                    c.bus_bytes_per_cycle
                ));
            }
            if c.bus_bytes_per_cycle != bw {
                notes.push(format!(
                    "Bandwidth = {bw} words (bytes) per cycle: tinyaccel's bus is a power of two \
                     of 1..=256 bytes per cycle, the nearest is bus_bytes_per_cycle = {}",
                    c.bus_bytes_per_cycle
                ));
            }
            if s.bandwidth.len() > 1 {
                notes.push(format!(
                    "Bandwidth lists {} values: SCALE-Sim uses the first for every operand, so \
                     does this import",
                    s.bandwidth.len()
                ));
            }
        }
        None => notes.push(format!(
            "no Bandwidth: SCALE-Sim assumes a stall-free memory; tinyaccel always models a \
             finite bus, here {DEFAULT_PRESET}'s bus_bytes_per_cycle = {}",
            c.bus_bytes_per_cycle
        )),
    }
    notes.push(format!(
        "SCALE-Sim has no clock, technology node, energy or area model: clock_mhz = {}, \
         tech_node_nm = {} and the energy and area tables are {DEFAULT_PRESET}'s",
        c.clock_mhz, c.tech_node_nm
    ));
    notes.push(format!(
        "SCALE-Sim's scratchpads have no banks and no bank conflicts; tinyaccel's conflict \
         (bank_conflict_cycles): the bank counts are {DEFAULT_PRESET}'s ({}/{}/{})",
        c.input_sram_banks, c.weight_sram_banks, c.acc_sram_banks
    ));
    notes.push(format!(
        "SCALE-Sim prefetches the next fold's operands into the idle half of each double \
         buffer with no limit on requests in flight and a {SCALESIM_DRAM_LATENCY}-cycle DRAM \
         latency; tinyaccel's DMA has bus_latency_cycles = {SCALESIM_DRAM_LATENCY} and \
         dma_outstanding = {} burst(s) in flight (up to 16)",
        c.dma_outstanding
    ));
    for (key, value) in &s.unmapped {
        let why = match key.to_ascii_lowercase().as_str() {
            "topologycsvloc" => {
                "the topology is a model, not part of a configuration: pass it \
                                 as MODEL (tinyaccel run TOPOLOGY.csv --accel CONFIG)"
            }
            "memorybanks" => "not read by SCALE-Sim v2; tinyaccel's banks are per scratchpad",
            _ => {
                "an address offset of SCALE-Sim's traces; tinyaccel's driver places the \
                  buffers"
            }
        };
        notes.push(format!("{key} = {value}: ignored, {why}"));
    }
    for k in &s.unknown {
        notes.push(format!("{k}: ignored, not a key SCALE-Sim v2 reads"));
    }
    c.validate().map_err(|issues| ConfigError::Invalid {
        origin: origin.to_string(),
        issues: issues
            .into_iter()
            .map(|mut i| {
                let key = cfg_key(&i.field);
                if !key.is_empty() {
                    i.field = format!("{} (SCALE-Sim {key})", i.field);
                }
                i
            })
            .collect(),
    })?;
    Ok(Import { config: c, notes })
}

impl AccelConfig {
    /// This configuration as a SCALE-Sim v2 `.cfg` file (`InterfaceBandwidth: USER`, so
    /// that SCALE-Sim models the same bus width), with a comment line per field SCALE-Sim
    /// cannot express. [`import`] of the text gives back this configuration's array,
    /// dataflow, scratchpad sizes and bus width.
    pub fn to_scalesim_cfg(&self) -> String {
        let mut out = format!(
            "# {} (tinyaccel configuration, hash {}), written by `tinyaccel config export`.\n\
             # Not expressible in SCALE-Sim (it models none of these):\n",
            self.name,
            self.hash()
        );
        let mut lost = vec![
            format!("clock_mhz = {}, tech_node_nm = {} (no clock, energy or area model)", self.clock_mhz, self.tech_node_nm),
            format!(
                "bus_latency_cycles = {} (SCALE-Sim's DRAM answers in {SCALESIM_DRAM_LATENCY} cycle)",
                self.bus_latency_cycles
            ),
            format!(
                "banks {}/{}/{} (no bank conflicts in SCALE-Sim)",
                self.input_sram_banks, self.weight_sram_banks, self.acc_sram_banks
            ),
            format!(
                "acc_sram_kib = {} holds int32 partial sums; OfmapSramSzkB holds 1-byte words",
                self.acc_sram_kib
            ),
            format!("dma_outstanding = {}", self.dma_outstanding),
        ];
        if self.im2col {
            lost.push("im2col = true (SCALE-Sim computes its own operand addresses)".into());
        }
        if self.has_vpu() {
            lost.push("the vector unit (depthwise, pooling, eltwise)".into());
        }
        for l in lost {
            out.push_str(&format!("#   {l}\n"));
        }
        // configparser reads `%` as interpolation; names are plain text otherwise.
        let name: String = self
            .name
            .chars()
            .map(|c| if c == '%' { '_' } else { c })
            .collect();
        out.push_str(&format!(
            "[general]\nrun_name = {name}\n\n[architecture_presets]\n\
             ArrayHeight:    {}\nArrayWidth:     {}\nIfmapSramSzkB:  {}\nFilterSramSzkB: {}\n\
             OfmapSramSzkB:  {}\nIfmapOffset:    0\nFilterOffset:   10000000\n\
             OfmapOffset:    20000000\nBandwidth : {}\nDataflow : {}\nMemoryBanks: 1\n\n\
             [run_presets]\nInterfaceBandwidth: USER\n",
            self.rows,
            self.cols,
            self.input_sram_kib,
            self.weight_sram_kib,
            self.acc_sram_kib,
            self.bus_bytes_per_cycle,
            self.dataflow.short_name()
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "[general]\nrun_name = \"eyeriss\"\n\n[architecture_presets]\nArrayHeight:    12\n\
                      ArrayWidth:     14\nIfmapSramSz:    108\nFilterSramSz:   108\nOfmapSramSz:    108\n\
                      IfmapOffset:    0\nDataflow:       ws\n";

    #[test]
    fn v1_spellings_and_notes() {
        let i = import(V1, "e.cfg", "e").unwrap();
        let c = &i.config;
        assert_eq!((c.name.as_str(), c.rows, c.cols), ("eyeriss", 12, 14));
        assert_eq!(c.dataflow, Dataflow::WeightStationary);
        assert_eq!(
            (c.input_sram_kib, c.weight_sram_kib, c.acc_sram_kib),
            (108, 108, 108)
        );
        assert_eq!(c.bus_latency_cycles, 1);
        let all = i.notes.join("\n");
        assert!(all.contains("IfmapOffset = 0: ignored"), "{all}");
        assert!(all.contains("no Bandwidth"), "{all}");
    }

    #[test]
    fn bus_width_rounding() {
        let v: Vec<u32> = [1, 3, 5, 6, 10, 12, 16, 24, 200, 1000]
            .iter()
            .map(|&b| nearest_bus_width(b))
            .collect();
        assert_eq!(v, [1, 4, 4, 8, 8, 16, 16, 32, 256, 256]);
    }

    #[test]
    fn errors_name_the_line_and_key() {
        let e = parse_cfg("[architecture_presets]\nArrayHeight: 4\n", "x.cfg").unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("x.cfg") && s.contains("ArrayWidth") && s.contains("Dataflow"),
            "{s}"
        );
        let bad = V1.replace("ArrayWidth:     14", "ArrayWidth: 1x4");
        let s = parse_cfg(&bad, "x.cfg").unwrap_err().to_string();
        assert!(
            s.contains("line 6") && s.contains("ArrayWidth") && s.contains("1x4"),
            "{s}"
        );
        let s = parse_cfg(&V1.replace("ws", "rs"), "x.cfg")
            .unwrap_err()
            .to_string();
        assert!(s.contains("Dataflow = \"rs\""), "{s}");
        let s = parse_cfg("ArrayHeight: 4\n", "x.cfg")
            .unwrap_err()
            .to_string();
        assert!(
            s.contains("line 1") && s.contains("before any `[section]`"),
            "{s}"
        );
        let s = parse_cfg(&format!("{V1}ArrayHeight: 3\n"), "x.cfg")
            .unwrap_err()
            .to_string();
        assert!(s.contains("set twice (first on line 5)"), "{s}");
        let big = V1.replace("IfmapSramSz:    108", "IfmapSramSz: 99999");
        let s = import(&big, "x.cfg", "x").unwrap_err().to_string();
        assert!(
            s.contains("input_sram_kib (SCALE-Sim IfmapSramSzkB)"),
            "{s}"
        );
    }

    #[test]
    fn presets_export_and_import_back() {
        for (name, _) in super::super::PRESETS {
            let c = AccelConfig::preset(name).unwrap();
            let text = c.to_scalesim_cfg();
            let back = import(&text, "p.cfg", "p").unwrap().config;
            assert_eq!(
                (
                    back.rows,
                    back.cols,
                    back.dataflow,
                    back.bus_bytes_per_cycle
                ),
                (c.rows, c.cols, c.dataflow, c.bus_bytes_per_cycle),
                "{name}"
            );
            assert_eq!(
                (back.input_sram_kib, back.weight_sram_kib, back.acc_sram_kib),
                (c.input_sram_kib, c.weight_sram_kib, c.acc_sram_kib)
            );
            assert_eq!(back.name, c.name);
        }
    }
}
