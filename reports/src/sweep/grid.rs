//! Grid files: a base configuration and lists of values for any `AccelConfig` field.
//!
//! ```toml
//! base = "configs/edge-8x8.toml"   # relative to the grid file, else to the cwd, else a preset
//! [sweep]
//! rows = [4, 8, 16]
//! cols = [4, 8, 16]
//! dataflow = ["output-stationary", "weight-stationary"]
//! "energy.mac_pj" = [0.1, 0.2]     # dotted keys address the nested [energy]/[area] tables
//! ```
//!
//! An optional `[constraints]` table (rate or deadline, battery, accelerator sleep mode,
//! requirements) is described in [`super::constraints`]; it is part of the canonical grid.
//!
//! `base` may also be an inline table (the whole configuration); the canonical form of a
//! grid ([`Grid::canonical_toml`], stored in `sweep.json`) always uses an inline table, so a
//! sweep can be merged and analysed without the original files.
//!
//! Designs are numbered 0..[`Grid::len`] in mixed radix over the keys sorted by name, the
//! last key varying fastest. Each design is built by editing the base's TOML value, then
//! deserializing and validating it as an [`arch::AccelConfig`]; a design that fails either
//! step is *invalid* and keeps its reasons.

use std::path::{Path, PathBuf};

use arch::AccelConfig;

use super::constraints::{parse_table, ConstraintArgs};
use super::SweepError;
use crate::record::sha256_16;

/// Largest number of designs a grid may have (the product of the list lengths).
pub const MAX_GRID_DESIGNS: u64 = 10_000_000;

/// One swept key and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// The key as in the config files, dotted for nested tables (`energy.mac_pj`).
    pub key: String,
    /// The values, in the order of the grid file.
    pub values: Vec<toml::Value>,
}

/// A parsed, checked grid.
#[derive(Debug, Clone)]
pub struct Grid {
    origin: String,
    base_name: String,
    base: toml::Table,
    base_canonical: String,
    params: Vec<Param>,
    len: u64,
    /// The `[constraints]` table as written, and parsed.
    constraints: Option<(toml::Table, ConstraintArgs)>,
}

/// One point of the grid.
#[derive(Debug, Clone)]
pub struct Design {
    /// Position in the grid (0-based).
    pub index: u64,
    /// Stable identifier: first 16 hex digits of the SHA-256 of the base configuration and
    /// the design's swept values.
    pub id: String,
    /// Index into each [`Param`]'s values, in [`Grid::params`] order.
    pub choice: Vec<usize>,
    /// The configuration, or why the design is invalid (one entry per problem).
    pub config: Result<AccelConfig, Vec<String>>,
}

/// The text of a swept value in output files: strings bare, numbers in shortest
/// round-trip form.
pub fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        other => other.to_string(),
    }
}

fn numeric(v: &toml::Value) -> Option<f64> {
    match v {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(f) => Some(*f),
        _ => None,
    }
}

/// The canonical form of a scalar for the duplicate check: two values have the same key
/// exactly when they are equal, numbers compared as f64 (so `1` and `1.0` are one value;
/// NaN equals nothing, so it has no key).
fn canonical_key(v: &toml::Value) -> Option<CanonicalValue> {
    match numeric(v) {
        Some(x) if x.is_nan() => None,
        // -0.0 == 0.0: one key for both.
        Some(x) => Some(CanonicalValue::Number(if x == 0.0 {
            0
        } else {
            x.to_bits()
        })),
        None => Some(CanonicalValue::Other(v.to_string())),
    }
}

#[derive(PartialEq, Eq, Hash)]
enum CanonicalValue {
    Number(u64),
    Other(String),
}

/// Sets a dotted key in a TOML table, creating intermediate tables.
fn set_dotted(table: &mut toml::Table, key: &str, value: toml::Value) -> Result<(), String> {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().unwrap_or(key);
    let mut t = table;
    for p in parts {
        let entry = t
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = match entry {
            toml::Value::Table(t) => t,
            _ => return Err(format!("`{p}` is not a table in the base configuration")),
        };
    }
    t.insert(last.to_string(), value);
    Ok(())
}

fn flatten_sweep(prefix: &str, table: &toml::Table, out: &mut Vec<(String, toml::Value)>) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => flatten_sweep(&key, t, out),
            other => out.push((key, other.clone())),
        }
    }
}

fn build(
    base: &toml::Table,
    name: &str,
    params: &[(&str, &toml::Value)],
) -> Result<AccelConfig, Vec<String>> {
    let mut t = base.clone();
    for (key, v) in params {
        set_dotted(&mut t, key, (*v).clone()).map_err(|e| vec![format!("`{key}`: {e}")])?;
    }
    t.insert("name".into(), toml::Value::String(name.to_string()));
    let mut cfg: AccelConfig = toml::Value::Table(t)
        .try_into()
        .map_err(|e: toml::de::Error| vec![e.message().trim().to_string()])?;
    if cfg.name.is_empty() {
        cfg.name = name.to_string();
    }
    cfg.validate()
        .map_err(|issues| issues.iter().map(|i| i.to_string()).collect::<Vec<_>>())?;
    Ok(cfg)
}

/// Largest grid or base configuration file read (1 MiB): a guard against pointing the
/// sweep at a device or a huge file by mistake.
pub const MAX_TEXT_FILE_BYTES: u64 = 1 << 20;

/// Reads a text file of at most [`MAX_TEXT_FILE_BYTES`].
fn read_capped(path: &Path, op: &'static str) -> Result<String, SweepError> {
    use std::io::Read;
    let io = |source| SweepError::Io {
        path: path.to_path_buf(),
        op,
        source,
    };
    let f = std::fs::File::open(path).map_err(io)?;
    let mut text = String::new();
    f.take(MAX_TEXT_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(io)?;
    if text.len() as u64 > MAX_TEXT_FILE_BYTES {
        return Err(SweepError::Grid {
            origin: path.display().to_string(),
            message: format!(
                "file larger than {MAX_TEXT_FILE_BYTES} bytes: not a grid or configuration"
            ),
        });
    }
    Ok(text)
}

impl Grid {
    /// Reads and checks a grid file. A relative `base` path is looked up next to the grid
    /// file, then in the current directory, then among the presets.
    pub fn load(path: &Path) -> Result<Grid, SweepError> {
        let text = read_capped(path, "read grid")?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Grid::from_toml_str(&text, &path.display().to_string(), &dir)
    }

    /// Parses and checks grid text; `origin` names it in errors, `base_dir` is where a
    /// relative `base` path is looked up first.
    pub fn from_toml_str(text: &str, origin: &str, base_dir: &Path) -> Result<Grid, SweepError> {
        let gerr = |message: String| SweepError::Grid {
            origin: origin.to_string(),
            message,
        };
        let doc: toml::Table = toml::from_str(text).map_err(|e| gerr(e.message().to_string()))?;
        for k in doc.keys() {
            if k != "base" && k != "sweep" && k != "constraints" {
                return Err(gerr(format!(
                    "unknown top-level key `{k}` (expected `base`, `[sweep]` and optionally `[constraints]`)"
                )));
            }
        }
        let constraints = match doc.get("constraints") {
            None => None,
            Some(toml::Value::Table(t)) => Some((t.clone(), parse_table(t, origin)?)),
            Some(_) => return Err(gerr("`constraints` must be a table".into())),
        };
        let (base, base_name) = match doc.get("base") {
            None => {
                return Err(gerr(
                    "missing `base` (a config file, a preset name or a table)".into(),
                ))
            }
            Some(toml::Value::String(spec)) => resolve_base(spec, base_dir, origin)?,
            Some(toml::Value::Table(t)) => {
                let name = t
                    .get("name")
                    .and_then(|v| v.as_str())
                    .unwrap_or("base")
                    .to_string();
                (t.clone(), name)
            }
            Some(other) => {
                return Err(gerr(format!(
                    "`base` must be a path, a preset name or a table, not {}",
                    other.type_str()
                )))
            }
        };
        // The base itself must be a valid configuration: every design starts from it.
        let mut base_check = base.clone();
        base_check.insert("name".into(), toml::Value::String(base_name.clone()));
        let text_check = toml::to_string(&base_check).map_err(|e| gerr(e.to_string()))?;
        AccelConfig::from_toml_str(&text_check, &format!("{origin}: base"))
            .map_err(|e| gerr(format!("invalid base configuration: {e}")))?;
        let mut base = base;
        base.remove("name");

        let sweep = match doc.get("sweep") {
            Some(toml::Value::Table(t)) => t.clone(),
            Some(_) => return Err(gerr("`sweep` must be a table".into())),
            None => return Err(gerr("missing `[sweep]` table".into())),
        };
        let mut flat = Vec::new();
        flatten_sweep("", &sweep, &mut flat);
        flat.sort_by(|a, b| a.0.cmp(&b.0));
        let mut params = Vec::new();
        for (key, v) in flat {
            let perr = |m: String| gerr(format!("[sweep] `{key}`: {m}"));
            if key == "name" {
                return Err(perr(
                    "the name cannot be swept (each design gets its own)".into(),
                ));
            }
            let values = match v {
                toml::Value::Array(a) => a,
                other => {
                    return Err(perr(format!(
                        "must be a list of values, e.g. `{key} = [{other}]`"
                    )))
                }
            };
            if values.is_empty() {
                return Err(perr("the list of values is empty".into()));
            }
            // Linear-time duplicate check: a hash set of canonical values (numbers by their
            // f64 value, so `1` and `1.0` are the same design).
            let mut seen = std::collections::HashSet::with_capacity(values.len());
            for a in values.iter() {
                if matches!(a, toml::Value::Array(_) | toml::Value::Table(_)) {
                    return Err(perr(format!("value {a} is not a scalar")));
                }
                if let Some(key) = canonical_key(a) {
                    if !seen.insert(key) {
                        return Err(perr(format!("value {a} appears twice")));
                    }
                }
            }
            // Unknown keys: AccelConfig denies unknown fields, so setting the key alone on
            // the (valid) base either deserializes or names the field.
            let mut probe = base.clone();
            set_dotted(&mut probe, &key, values[0].clone()).map_err(&perr)?;
            if let Err(e) = toml::Value::Table(probe).try_into::<AccelConfig>() {
                let m = e.message();
                if m.contains("unknown field") {
                    return Err(perr(format!(
                        "not a field of the accelerator configuration ({})",
                        m.trim()
                    )));
                }
            }
            params.push(Param { key, values });
        }
        if params.is_empty() {
            return Err(gerr("`[sweep]` lists no keys".into()));
        }
        let mut len: u64 = 1;
        for p in &params {
            len = len
                .checked_mul(p.values.len() as u64)
                .filter(|n| *n <= MAX_GRID_DESIGNS)
                .ok_or_else(|| {
                    gerr(format!(
                        "the grid has more than {MAX_GRID_DESIGNS} designs ({}); split it into several grids",
                        params
                            .iter()
                            .map(|p| format!("{} x{}", p.key, p.values.len()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?;
        }
        let base_canonical = toml::to_string(&base).map_err(|e| gerr(e.to_string()))?;
        Ok(Grid {
            origin: origin.to_string(),
            base_name,
            base,
            base_canonical,
            params,
            len,
            constraints,
        })
    }

    /// Where the grid came from (for messages).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The base configuration's name.
    pub fn base_name(&self) -> &str {
        &self.base_name
    }

    /// The `[constraints]` of the grid file (empty when it has none).
    pub fn constraints(&self) -> ConstraintArgs {
        self.constraints
            .as_ref()
            .map(|(_, a)| a.clone())
            .unwrap_or_default()
    }

    /// The swept keys, sorted by name.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// The swept keys' names, in column order.
    pub fn keys(&self) -> Vec<String> {
        self.params.iter().map(|p| p.key.clone()).collect()
    }

    /// Number of designs (product of the list lengths).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Always false: a grid has at least one key with at least one value.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The value indices of design `index` (last key fastest).
    pub fn choice(&self, index: u64) -> Vec<usize> {
        let mut rest = index;
        let mut c = vec![0; self.params.len()];
        for (i, p) in self.params.iter().enumerate().rev() {
            let n = p.values.len() as u64;
            c[i] = (rest % n) as usize;
            rest /= n;
        }
        c
    }

    /// The swept values of design `index`, as written in output files.
    pub fn value_texts(&self, index: u64) -> Vec<String> {
        self.choice(index)
            .iter()
            .zip(&self.params)
            .map(|(&c, p)| value_text(&p.values[c]))
            .collect()
    }

    /// The stable identifier of design `index`.
    pub fn design_id(&self, index: u64) -> String {
        let mut s = self.base_canonical.clone();
        for (&c, p) in self.choice(index).iter().zip(&self.params) {
            s.push_str(&format!("\n{}={}", p.key, p.values[c]));
        }
        sha256_16(s.as_bytes())
    }

    /// Builds design `index` (`index < len()`): edits the base, deserializes, validates.
    pub fn design(&self, index: u64) -> Design {
        let choice = self.choice(index);
        let pairs: Vec<(&str, &toml::Value)> = choice
            .iter()
            .zip(&self.params)
            .map(|(&c, p)| (p.key.as_str(), &p.values[c]))
            .collect();
        let name = format!("{}-d{index}", self.base_name);
        Design {
            index,
            id: self.design_id(index),
            config: build(&self.base, &name, &pairs),
            choice,
        }
    }

    /// The canonical grid text: the base as an inline `[base]` table and the `[sweep]`
    /// lists, keys sorted. Parsing it gives the same grid (same designs and ids).
    pub fn canonical_toml(&self) -> String {
        let mut doc = toml::Table::new();
        let mut base = self.base.clone();
        base.insert("name".into(), toml::Value::String(self.base_name.clone()));
        doc.insert("base".into(), toml::Value::Table(base));
        let mut sweep = toml::Table::new();
        for p in &self.params {
            sweep.insert(p.key.clone(), toml::Value::Array(p.values.clone()));
        }
        doc.insert("sweep".into(), toml::Value::Table(sweep));
        if let Some((t, _)) = &self.constraints {
            doc.insert("constraints".into(), toml::Value::Table(t.clone()));
        }
        toml::to_string(&doc).expect("a TOML table always serializes")
    }

    /// First 16 hex digits of the SHA-256 of [`Grid::canonical_toml`].
    pub fn hash(&self) -> String {
        sha256_16(self.canonical_toml().as_bytes())
    }
}

fn resolve_base(
    spec: &str,
    base_dir: &Path,
    origin: &str,
) -> Result<(toml::Table, String), SweepError> {
    let p = Path::new(spec);
    let candidates: Vec<PathBuf> = if p.is_absolute() {
        vec![p.to_path_buf()]
    } else {
        vec![base_dir.join(p), p.to_path_buf()]
    };
    let read = |path: &Path| -> Result<(toml::Table, String), SweepError> {
        let text = read_capped(path, "read base configuration")?;
        let t: toml::Table = toml::from_str(&text).map_err(|e| SweepError::Grid {
            origin: path.display().to_string(),
            message: e.message().to_string(),
        })?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "base".into());
        // A base file that inherits (`base = ...`) is resolved by the configuration
        // loader, then used as the whole table it stands for.
        let t = if t.contains_key("base") {
            let cfg = arch::AccelConfig::load(path).map_err(|e| SweepError::Grid {
                origin: path.display().to_string(),
                message: e.to_string(),
            })?;
            toml::Table::try_from(&cfg).map_err(|e| SweepError::Grid {
                origin: path.display().to_string(),
                message: e.to_string(),
            })?
        } else {
            t
        };
        let name = t
            .get("name")
            .and_then(|v| v.as_str())
            .map(String::from)
            .unwrap_or(stem);
        Ok((t, name))
    };
    for c in &candidates {
        if c.is_file() {
            return read(c);
        }
    }
    let preset = spec.trim_end_matches(".toml");
    if let Some((n, text)) = arch::config::PRESETS.iter().find(|(n, _)| *n == preset) {
        let t: toml::Table = toml::from_str(text).map_err(|e| SweepError::Grid {
            origin: format!("preset {n}"),
            message: e.message().to_string(),
        })?;
        return Ok((t, n.to_string()));
    }
    Err(SweepError::Grid {
        origin: origin.to_string(),
        message: format!(
            "base `{spec}` is neither a file ({}) nor a preset ({})",
            candidates
                .iter()
                .map(|c| c.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            arch::config::PRESETS
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}
