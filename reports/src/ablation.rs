//! Feature ablation (`tinyaccel report --ablate im2col,dma_outstanding`): every model with
//! the listed accelerator features off, each one on alone, and all on, side by side:
//! latency, energy, speedup and energy ratio against "off", array utilization.
//!
//! The CLI runs one offloaded run per (variant, model) and hands the [`ModelReport`]s to
//! [`Ablation::new`]; every number of a row is derived from its report's
//! [`ModelReport::totals`], so the table cannot disagree with the runs. Written next to the
//! report as `ablation.md`, `ablation.csv` and `ablation.json` (the same result-schema
//! names, docs/results-schema.md).

use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

use crate::error::ReportError;
use crate::fmt as f;
use crate::record::{ratio, ModelReport};
use crate::schema::SCHEMA;

/// One ablated feature: a configuration field and its "off" and "on" values (as text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    /// The configuration field (`im2col`, `dma_outstanding`).
    pub name: String,
    /// The value with the feature off.
    pub off: String,
    /// The value with the feature on.
    pub on: String,
    /// How the "on" value was chosen.
    pub note: String,
}

/// One configuration of the ablation: which features are on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    /// `off`, a feature's name (that feature alone), or the names joined by `+` (all on).
    pub name: String,
    /// The features on, in [`Ablation::features`] order.
    pub on: Vec<String>,
}

impl Variant {
    /// The variants of an ablation of `features`: all off, each alone, all on (the last one
    /// only with two or more features).
    pub fn all(features: &[Feature]) -> Vec<Variant> {
        let mut v = vec![Variant {
            name: "off".into(),
            on: Vec::new(),
        }];
        for ft in features {
            v.push(Variant {
                name: ft.name.clone(),
                on: vec![ft.name.clone()],
            });
        }
        if features.len() > 1 {
            let on: Vec<String> = features.iter().map(|ft| ft.name.clone()).collect();
            v.push(Variant {
                name: on.join("+"),
                on,
            });
        }
        v
    }
}

/// One model on one variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AblationRow {
    pub model: String,
    /// [`Variant::name`].
    pub variant: String,
    /// The value of every feature's field in this variant, in [`Ablation::features`] order.
    pub values: Vec<String>,
    /// The variant's configuration name and hash.
    pub config: String,
    pub config_hash: String,
    /// Accelerator cycles of the offloaded layers.
    pub accel_cycles: u64,
    /// Wall latency of the offloaded run, us.
    pub offload_us: f64,
    /// Energy of the offloaded run, uJ.
    pub offload_uj: f64,
    /// `offload_us` of the `off` variant / this `offload_us`.
    pub speedup_vs_off: Option<f64>,
    /// `offload_uj` of the `off` variant / this `offload_uj`.
    pub energy_ratio_vs_off: Option<f64>,
    pub array_utilization: f64,
    pub mac_utilization: f64,
    pub accel_layers: usize,
    /// CPU time of the offloaded run (layers left on the CPU, CPU im2col), us.
    pub cpu_side_us: f64,
    pub dma_stall_us: f64,
    pub dma_bursts: u64,
    pub im2col_pieces: u64,
    /// Pure-CPU baseline latency / `offload_us`.
    pub speedup: Option<f64>,
    /// The variant's accelerator area estimate, mm^2 (`AccelConfig::area_mm2`).
    #[serde(default)]
    pub area_mm2: f64,
}

/// The whole ablation: the features, the variants and one row per (model, variant),
/// model-major in the order of the runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ablation {
    /// [`SCHEMA`] in `ablation.json`.
    pub schema: String,
    /// The base configuration the variants are made from.
    pub base_config: String,
    pub features: Vec<Feature>,
    pub variants: Vec<Variant>,
    pub rows: Vec<AblationRow>,
}

/// A Markdown table of `head` and `rows` whose first `text` columns are left-aligned text
/// and the rest right-aligned numbers.
fn markdown_table(head: &[String], rows: &[Vec<String>], text: usize) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "| {} |", head.join(" | "));
    let _ = writeln!(
        o,
        "|{}{}",
        "---|".repeat(text),
        "---:|".repeat(head.len() - text)
    );
    for r in rows {
        let cells: Vec<String> = r.iter().map(|c| f::md_cell(c)).collect();
        let _ = writeln!(o, "| {} |", cells.join(" | "));
    }
    o
}

/// The file names written into the report folder.
pub const FILES: [&str; 3] = ["ablation.md", "ablation.csv", "ablation.json"];

impl Ablation {
    /// Builds the table from `runs[v]` = the model reports of variant `variants[v]` (the
    /// same models in the same order for every variant). `variants[0]` must be the one
    /// with every feature off (the reference of `speedup_vs_off`).
    pub fn new(
        base_config: &str,
        features: Vec<Feature>,
        variants: Vec<Variant>,
        runs: &[Vec<ModelReport>],
    ) -> Result<Ablation, ReportError> {
        let bad = |reason: String| ReportError::Inconsistent {
            model: "ablation".into(),
            location: "ablation".into(),
            field: "runs".into(),
            reason,
        };
        if variants.is_empty() || !variants[0].on.is_empty() {
            return Err(bad("the first variant must have every feature off".into()));
        }
        if runs.len() != variants.len() {
            return Err(bad(format!(
                "{} variants but runs of {}",
                variants.len(),
                runs.len()
            )));
        }
        for v in &variants {
            if let Some(n) =
                v.on.iter()
                    .find(|n| !features.iter().any(|ft| ft.name == **n))
            {
                return Err(bad(format!(
                    "variant `{}` turns on unknown feature `{n}`",
                    v.name
                )));
            }
        }
        let models: Vec<&str> = runs[0].iter().map(|m| m.model.as_str()).collect();
        for (v, r) in variants.iter().zip(runs) {
            let names: Vec<&str> = r.iter().map(|m| m.model.as_str()).collect();
            if names != models {
                return Err(bad(format!(
                    "variant `{}` ran models {names:?}, the others {models:?}",
                    v.name
                )));
            }
        }
        let mut rows = Vec::new();
        for (i, model) in models.iter().enumerate() {
            let off = runs[0][i].totals();
            for (v, r) in variants.iter().zip(runs) {
                let m = &r[i];
                m.check()?;
                let t = m.totals();
                rows.push(AblationRow {
                    model: model.to_string(),
                    variant: v.name.clone(),
                    values: features
                        .iter()
                        .map(|ft| {
                            if v.on.contains(&ft.name) {
                                ft.on.clone()
                            } else {
                                ft.off.clone()
                            }
                        })
                        .collect(),
                    config: m.config.name.clone(),
                    config_hash: m.config.hash.clone(),
                    accel_cycles: t.accel_cycles,
                    offload_us: t.offload_us,
                    offload_uj: t.offload_uj,
                    speedup_vs_off: ratio(off.offload_us, t.offload_us),
                    energy_ratio_vs_off: ratio(off.offload_uj, t.offload_uj),
                    array_utilization: t.array_utilization,
                    mac_utilization: t.mac_utilization,
                    accel_layers: t.accel_layers,
                    cpu_side_us: t.cpu_side_us,
                    dma_stall_us: t.dma_stall_us,
                    dma_bursts: t.dma_bursts,
                    im2col_pieces: t.im2col_pieces,
                    speedup: t.speedup,
                    area_mm2: m.config.area_mm2,
                });
            }
        }
        Ok(Ablation {
            schema: SCHEMA.into(),
            base_config: base_config.to_string(),
            features,
            variants,
            rows,
        })
    }

    /// The table's header and cells (human-readable numbers), shared by Markdown and
    /// HTML; the first `2 + features.len()` columns are text, the rest numbers.
    pub fn table_cells(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let mut head: Vec<String> = vec!["model".into(), "variant".into()];
        head.extend(self.features.iter().map(|ft| ft.name.clone()));
        head.extend(
            [
                "offload ms",
                "offload uJ",
                "speedup vs off",
                "energy ratio vs off",
                "array util",
                "MAC util",
                "DMA stall ms",
                "CPU-side ms",
                "DMA bursts",
                "im2col pieces",
                "speedup vs CPU",
            ]
            .map(String::from),
        );
        let rows = self
            .rows
            .iter()
            .map(|r| {
                let mut cells = vec![r.model.clone(), r.variant.clone()];
                cells.extend(r.values.iter().cloned());
                cells.extend([
                    f::num(r.offload_us / 1000.0),
                    f::num(r.offload_uj),
                    f::times(r.speedup_vs_off),
                    f::times(r.energy_ratio_vs_off),
                    f::pct(r.array_utilization),
                    f::pct(r.mac_utilization),
                    f::num(r.dma_stall_us / 1000.0),
                    f::num(r.cpu_side_us / 1000.0),
                    f::int(r.dma_bursts),
                    f::int(r.im2col_pieces),
                    f::times(r.speedup),
                ]);
                cells
            })
            .collect();
        (head, rows)
    }

    /// The table (Markdown), as printed on the terminal and written in `ablation.md`.
    pub fn table_markdown(&self) -> String {
        let (head, rows) = self.table_cells();
        markdown_table(&head, &rows, 2 + self.features.len())
    }

    /// What each feature costs and buys: one row per feature (its single-feature variant)
    /// with the area it adds over the `off` variant and, per model, the latency speedup and
    /// energy ratio it buys alone. Header and cells, as [`Ablation::table_cells`].
    pub fn cost_benefit_cells(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let mut models: Vec<&str> = Vec::new();
        for r in &self.rows {
            if !models.contains(&r.model.as_str()) {
                models.push(&r.model);
            }
        }
        let mut head: Vec<String> = vec![
            "feature".into(),
            "area added mm^2".into(),
            "area added".into(),
        ];
        for m in &models {
            head.push(format!("{m} speedup"));
            head.push(format!("{m} energy ratio"));
        }
        let row_of = |model: &str, variant: &str| {
            self.rows
                .iter()
                .find(|r| r.model == model && r.variant == variant)
        };
        let Some(first) = models.first() else {
            return (head, Vec::new());
        };
        let off_area = row_of(first, "off").map(|r| r.area_mm2).unwrap_or(0.0);
        let mut rows = Vec::new();
        for ft in &self.features {
            let Some(on) = row_of(first, &ft.name) else {
                continue;
            };
            let added = on.area_mm2 - off_area;
            let mut cells = vec![
                ft.name.clone(),
                f::num(added),
                if off_area > 0.0 {
                    f::pct(added / off_area)
                } else {
                    "-".into()
                },
            ];
            for m in &models {
                let r = row_of(m, &ft.name);
                cells.push(f::times(r.and_then(|r| r.speedup_vs_off)));
                cells.push(f::times(r.and_then(|r| r.energy_ratio_vs_off)));
            }
            rows.push(cells);
        }
        (head, rows)
    }

    /// [`Ablation::cost_benefit_cells`] as a Markdown table.
    pub fn cost_benefit_markdown(&self) -> String {
        let (head, rows) = self.cost_benefit_cells();
        markdown_table(&head, &rows, 1)
    }

    /// `ablation.md` text: what was ablated, the table, the variants' configurations.
    pub fn render_markdown(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "# Feature ablation of {}\n",
            f::md_code(&self.base_config)
        );
        let _ = writeln!(
            o,
            "Each model with the features off, each feature on alone{}; everything else as in \
             the base configuration. Speedup / energy ratio vs off = the off variant's \
             latency / energy over this variant's; array util = MACs over the array's peak \
             while the accelerator runs, MAC util = over the whole offloaded run \
             (docs/results-schema.md).\n",
            if self.features.len() > 1 {
                ", all on"
            } else {
                ""
            }
        );
        for ft in &self.features {
            let _ = writeln!(
                o,
                "- {}: off = {}, on = {} ({})",
                f::md_code(&ft.name),
                f::md_code(&ft.off),
                f::md_code(&ft.on),
                f::md_text(&ft.note)
            );
        }
        o.push('\n');
        o.push_str(&self.table_markdown());
        o.push('\n');
        let _ = writeln!(
            o,
            "What each feature costs and buys (alone, against every feature off; area from \
             `AccelConfig::area_mm2`):\n"
        );
        o.push_str(&self.cost_benefit_markdown());
        o.push('\n');
        let _ = writeln!(o, "Configurations:\n");
        let mut seen = Vec::new();
        for r in &self.rows {
            if !seen.contains(&&r.config_hash) {
                seen.push(&r.config_hash);
                let _ = writeln!(
                    o,
                    "- variant {}: {} (hash `{}`)",
                    f::md_code(&r.variant),
                    f::md_code(&r.config),
                    r.config_hash
                );
            }
        }
        o
    }

    /// The columns of `ablation.csv` (one per feature after `variant`).
    pub fn csv_columns(&self) -> Vec<String> {
        let mut h: Vec<String> = vec!["model".into(), "variant".into()];
        h.extend(self.features.iter().map(|ft| ft.name.clone()));
        h.extend(
            [
                "config",
                "config_hash",
                "accel_layers",
                "accel_cycles",
                "offload_us",
                "offload_uj",
                "speedup_vs_off",
                "energy_ratio_vs_off",
                "array_utilization",
                "mac_utilization",
                "dma_stall_us",
                "cpu_side_us",
                "dma_bursts",
                "im2col_pieces",
                "speedup",
                "area_mm2",
            ]
            .map(String::from),
        );
        h
    }

    /// `ablation.csv` text (floats in shortest round-trip form, as `ablation.json`).
    pub fn render_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(self.csv_columns()).expect("in-memory CSV");
        for r in &self.rows {
            let mut rec = vec![r.model.clone(), r.variant.clone()];
            rec.extend(r.values.iter().cloned());
            rec.extend([
                r.config.clone(),
                r.config_hash.clone(),
                r.accel_layers.to_string(),
                r.accel_cycles.to_string(),
                r.offload_us.to_string(),
                r.offload_uj.to_string(),
                f::csv_opt(r.speedup_vs_off),
                f::csv_opt(r.energy_ratio_vs_off),
                r.array_utilization.to_string(),
                r.mac_utilization.to_string(),
                r.dma_stall_us.to_string(),
                r.cpu_side_us.to_string(),
                r.dma_bursts.to_string(),
                r.im2col_pieces.to_string(),
                f::csv_opt(r.speedup),
                r.area_mm2.to_string(),
            ]);
            w.write_record(&rec).expect("in-memory CSV");
        }
        String::from_utf8(w.into_inner().expect("in-memory CSV")).expect("CSV of UTF-8 strings")
    }

    /// `ablation.json` text.
    pub fn render_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("ablation records serialize");
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features() -> Vec<Feature> {
        vec![
            Feature {
                name: "im2col".into(),
                off: "false".into(),
                on: "true".into(),
                note: "n".into(),
            },
            Feature {
                name: "dma_outstanding".into(),
                off: "1".into(),
                on: "4".into(),
                note: "n".into(),
            },
        ]
    }

    #[test]
    fn variants_are_off_each_alone_all_on() {
        let v = Variant::all(&features());
        let names: Vec<&str> = v.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(
            names,
            ["off", "im2col", "dma_outstanding", "im2col+dma_outstanding"]
        );
        assert_eq!(v[3].on, ["im2col", "dma_outstanding"]);
        let one = Variant::all(&features()[..1]);
        assert_eq!(one.len(), 2);
    }

    #[test]
    fn runs_must_match_variants() {
        let f = features();
        let v = Variant::all(&f);
        let e = Ablation::new("x", f.clone(), v[1..].to_vec(), &[]).unwrap_err();
        assert!(e.to_string().contains("every feature off"), "{e}");
        let e = Ablation::new("x", f, v, &[Vec::new()]).unwrap_err();
        assert!(e.to_string().contains("4 variants but runs of 1"), "{e}");
    }
}
