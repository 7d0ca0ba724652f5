//! The analysis of a finished sweep: Pareto fronts (`pareto.csv`), plots and `summary.md`.
//!
//! Scopes: each model on its own (designs `ok` for that model), and `all`: designs `ok` for
//! every model, with latency and energy aggregated as the **geometric mean over the
//! models** (so each model weighs the same whatever its absolute size) and the design's
//! area. A design is on a front when no other design of the scope is at least as good in
//! latency, energy and area and better in one.
//!
//! With budget constraints ([`super::constraints`]) only *feasible* rows (every
//! requirement met) take part in the scopes, fronts and best-design tables; `summary.md`
//! then has a "Budget constraints" section with the counts and the lowest-power feasible
//! design per model.
//!
//! **Bounded memory.** The analysis streams: [`Analyzer`] takes the rows one at a time in
//! (design, model order) and keeps per scope only its Pareto front (maintained
//! incrementally), the best design per criterion, counts, and a uniform sample of at most
//! [`PLOT_SAMPLE`] points for the scatter plots (reservoir sampling with a fixed seed, so
//! the plots are reproducible; the front is always drawn whole); per swept value the
//! minimum and the geometric mean of the aggregate latency and energy. Its memory does not
//! grow with the number of rows.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::constraints::Constraints;
use super::grid::{value_text, Grid};
use super::pareto::dominates;
use super::results::{csv_line, ResultRow, Status};
use super::SweepError;
use crate::budget::duty_cycle;
use crate::fmt as f;
use crate::fsutil::Staging;
use crate::plot::{Chart, PlotFile, PlotSpec, Series, PALETTE};
use crate::progress::{progress_bar, ProgressSink};

/// The scope name of the aggregate over all models.
pub const ALL: &str = "all";

/// Most invalid designs / infeasible evaluations listed one by one in `summary.md`.
pub const SUMMARY_LIST_LIMIT: usize = 200;

/// One design's point in a scope.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub design: u64,
    pub design_id: String,
    pub params: Vec<String>,
    pub offload_us: f64,
    pub offload_uj: f64,
    pub area_mm2: f64,
}

impl Point {
    /// Energy-delay product, us x uJ.
    pub fn edp(&self) -> f64 {
        self.offload_us * self.offload_uj
    }

    fn coords(&self) -> [f64; 3] {
        [self.offload_us, self.offload_uj, self.area_mm2]
    }
}

/// Most points of a scope drawn in its scatter plot (a uniform sample when the scope has
/// more; the Pareto front is always drawn whole).
pub const PLOT_SAMPLE: usize = 20_000;

/// A figure of merit to minimise.
pub type Criterion = fn(&Point) -> f64;

/// The criteria of the best-design tables, in table order.
pub const CRITERIA: [(&str, Criterion); 4] = [
    ("lowest latency", |p| p.offload_us),
    ("lowest energy", |p| p.offload_uj),
    ("lowest energy-delay product", |p| p.edp()),
    ("smallest area", |p| p.area_mm2),
];

/// What the analysis keeps of one scope: bounded by its front, not by its designs.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    /// A model name or [`ALL`].
    pub name: String,
    /// Designs in the scope.
    pub count: u64,
    /// The Pareto front (latency, energy, area), in design order.
    pub front: Vec<Point>,
    /// The best design per [`CRITERIA`] entry (ties: lowest design index).
    pub best: [Option<Point>; 4],
    /// At most [`PLOT_SAMPLE`] (latency, energy, area) points, a uniform sample.
    pub sample: Vec<(f64, f64, f64)>,
    rng: u64,
}

impl Scope {
    pub fn new(name: &str) -> Scope {
        // A fixed seed per scope name: the sample depends only on the rows.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in name.bytes() {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
        Scope {
            name: name.to_string(),
            count: 0,
            front: Vec::new(),
            best: [None, None, None, None],
            sample: Vec::new(),
            rng: h | 1,
        }
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Adds a point; points must come in design order.
    pub fn push(&mut self, p: Point) {
        let xyz = (p.offload_us, p.offload_uj, p.area_mm2);
        if self.sample.len() < PLOT_SAMPLE {
            self.sample.push(xyz);
        } else {
            let j = self.next_random() % (self.count + 1);
            if (j as usize) < PLOT_SAMPLE {
                self.sample[j as usize] = xyz;
            }
        }
        self.count += 1;
        for (slot, (_, key)) in self.best.iter_mut().zip(CRITERIA) {
            if slot.as_ref().map_or(true, |b| key(&p) < key(b)) {
                *slot = Some(p.clone());
            }
        }
        // Incremental front: a point enters unless a front point dominates it, and
        // removes the front points it dominates. Identical points do not dominate each
        // other, so all copies of a non-dominated point stay (as in `pareto_front`).
        let c = p.coords();
        if self.front.iter().any(|f| dominates(&f.coords(), &c)) {
            return;
        }
        self.front.retain(|f| !dominates(&c, &f.coords()));
        self.front.push(p);
    }
}

fn geomean(v: &[f64]) -> f64 {
    (v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp()
}

/// Whether a row takes part in the analysis: `ok` and, with constraints, feasible.
pub fn usable(r: &ResultRow) -> bool {
    r.status == Status::Ok && r.budget.map_or(true, |b| b.feasible)
}

fn point(r: &ResultRow) -> Option<Point> {
    r.metrics.map(|x| Point {
        design: r.design,
        design_id: r.design_id.clone(),
        params: r.params.clone(),
        offload_us: x.offload_us,
        offload_uj: x.offload_uj,
        area_mm2: x.area_mm2,
    })
}

/// Minimum and geometric mean of a stream of positive values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinGeo {
    pub min: f64,
    sum_ln: f64,
    pub n: u64,
}

impl Default for MinGeo {
    fn default() -> Self {
        MinGeo {
            min: f64::INFINITY,
            sum_ln: 0.0,
            n: 0,
        }
    }
}

impl MinGeo {
    fn push(&mut self, v: f64) {
        self.min = self.min.min(v);
        self.sum_ln += v.ln();
        self.n += 1;
    }
    /// (minimum, geometric mean); zeros when empty.
    pub fn get(&self) -> (f64, f64) {
        if self.n == 0 {
            (0.0, 0.0)
        } else {
            (self.min, (self.sum_ln / self.n as f64).exp())
        }
    }
}

/// What the constraint section keeps per model.
#[derive(Debug, Clone, Default)]
struct ModelBudget {
    /// The CPU-only figures (the same in every `ok` row of the model).
    cpu: Option<super::results::RowMetrics>,
    /// The lowest-power feasible row.
    best: Option<ResultRow>,
}

/// The streaming analysis of a sorted, complete set of rows (see the module docs).
pub struct Analyzer {
    models: Vec<String>,
    /// Models in order, then [`ALL`].
    pub scopes: Vec<Scope>,
    /// Per swept key, per value: (latency, energy) over the `all` scope.
    pub sensitivity: Vec<Vec<(MinGeo, MinGeo)>>,
    labels: Vec<Vec<String>>,
    group: Vec<ResultRow>,
    pub rows: u64,
    pub ok: u64,
    pub infeasible: u64,
    pub invalid: u64,
    pub invalid_designs: u64,
    /// The first [`SUMMARY_LIST_LIMIT`] invalid designs (their first row).
    invalid_list: Vec<ResultRow>,
    /// The first [`SUMMARY_LIST_LIMIT`] infeasible evaluations.
    infeasible_list: Vec<ResultRow>,
    /// `ok` rows: meets deadline, fits SRAM, fits flash, has an average power, feasible.
    budget_counts: [u64; 5],
    per_model: Vec<ModelBudget>,
}

impl Analyzer {
    pub fn new(grid: &Grid, models: &[String]) -> Analyzer {
        let labels: Vec<Vec<String>> = grid
            .params()
            .iter()
            .map(|p| p.values.iter().map(value_text).collect())
            .collect();
        Analyzer {
            models: models.to_vec(),
            scopes: models
                .iter()
                .map(|m| Scope::new(m))
                .chain([Scope::new(ALL)])
                .collect(),
            sensitivity: labels
                .iter()
                .map(|l| vec![Default::default(); l.len()])
                .collect(),
            labels,
            group: Vec::new(),
            rows: 0,
            ok: 0,
            infeasible: 0,
            invalid: 0,
            invalid_designs: 0,
            invalid_list: Vec::new(),
            infeasible_list: Vec::new(),
            budget_counts: [0; 5],
            per_model: vec![ModelBudget::default(); models.len()],
        }
    }

    /// Adds the next row (rows in (design, model order), each once).
    pub fn push(&mut self, r: ResultRow) {
        if self.group.first().is_some_and(|g| g.design != r.design) {
            self.end_design();
        }
        self.rows += 1;
        match r.status {
            Status::Ok => self.ok += 1,
            Status::Infeasible => {
                self.infeasible += 1;
                if self.infeasible_list.len() < SUMMARY_LIST_LIMIT {
                    self.infeasible_list.push(r.clone());
                }
            }
            Status::Invalid => self.invalid += 1,
        }
        if let Some(mi) = self.models.iter().position(|m| *m == r.model) {
            if r.status == Status::Ok {
                let b = r.budget.unwrap_or_default();
                for (n, hit) in self.budget_counts.iter_mut().zip([
                    b.meets_deadline == Some(true),
                    b.fits_sram == Some(true),
                    b.fits_flash == Some(true),
                    b.avg_power_uw.is_some(),
                    b.feasible,
                ]) {
                    *n += hit as u64;
                }
                let pm = &mut self.per_model[mi];
                if pm.cpu.is_none() {
                    pm.cpu = r.metrics;
                }
                if usable(&r) {
                    if let Some(power) = b.avg_power_uw {
                        let better = pm.best.as_ref().map_or(true, |x| {
                            power
                                < x.budget
                                    .and_then(|b| b.avg_power_uw)
                                    .unwrap_or(f64::INFINITY)
                        });
                        if better {
                            pm.best = Some(r.clone());
                        }
                    }
                }
            }
            if usable(&r) {
                if let Some(p) = point(&r) {
                    self.scopes[mi].push(p);
                }
            }
        }
        self.group.push(r);
    }

    fn end_design(&mut self) {
        let group = std::mem::take(&mut self.group);
        let Some(first) = group.first() else {
            return;
        };
        if first.status == Status::Invalid {
            self.invalid_designs += 1;
            if self.invalid_list.len() < SUMMARY_LIST_LIMIT {
                self.invalid_list.push(first.clone());
            }
        }
        if group.len() == self.models.len() && group.iter().all(usable) {
            let lat: Vec<f64> = group
                .iter()
                .filter_map(|r| r.metrics.map(|m| m.offload_us))
                .collect();
            let en: Vec<f64> = group
                .iter()
                .filter_map(|r| r.metrics.map(|m| m.offload_uj))
                .collect();
            let p = Point {
                design: first.design,
                design_id: first.design_id.clone(),
                params: first.params.clone(),
                offload_us: geomean(&lat),
                offload_uj: geomean(&en),
                area_mm2: first.metrics.map_or(0.0, |m| m.area_mm2),
            };
            for (k, labels) in self.labels.iter().enumerate() {
                if let Some(i) = labels.iter().position(|l| *l == p.params[k]) {
                    self.sensitivity[k][i].0.push(p.offload_us);
                    self.sensitivity[k][i].1.push(p.offload_uj);
                }
            }
            let all = self.scopes.len() - 1;
            self.scopes[all].push(p);
        }
    }

    /// Ends the stream (call once, after the last row).
    pub fn finish(&mut self) {
        self.end_design();
    }
}

/// `pareto.csv` text: per scope (models in order, then `all`) the front sorted by latency,
/// energy, area, design.
pub fn render_pareto(keys: &[String], scopes: &[Scope]) -> String {
    let mut h = vec!["scope".to_string(), "design".into(), "design_id".into()];
    h.extend(keys.iter().cloned());
    h.extend(["offload_us", "offload_uj", "area_mm2", "edp_us_uj"].map(String::from));
    let mut s = csv_line(&h);
    for sc in scopes {
        let mut front: Vec<&Point> = sc.front.iter().collect();
        front.sort_by(|a, b| {
            a.offload_us
                .total_cmp(&b.offload_us)
                .then(a.offload_uj.total_cmp(&b.offload_uj))
                .then(a.area_mm2.total_cmp(&b.area_mm2))
                .then(a.design.cmp(&b.design))
        });
        for p in front {
            let mut r = vec![sc.name.clone(), p.design.to_string(), p.design_id.clone()];
            r.extend(p.params.iter().cloned());
            r.extend([p.offload_us, p.offload_uj, p.area_mm2, p.edp()].map(|v| v.to_string()));
            s.push_str(&csv_line(&r));
        }
    }
    s
}

/// The plots: one latency-energy scatter per scope (colour = area, front outlined; at
/// most [`PLOT_SAMPLE`] designs besides the front) and one sensitivity plot per swept key
/// (minimum and geometric mean over the other keys of the aggregate latency and energy,
/// for each value of the key).
pub fn sweep_plots(grid: &Grid, an: &Analyzer) -> Vec<PlotSpec> {
    let mut out = Vec::new();
    for sc in &an.scopes {
        let what = if sc.name == ALL {
            "all models (geometric means)".to_string()
        } else {
            format!("model {}", sc.name)
        };
        // A sampled scope says so under its x axis (the title has no room left).
        let shown = if sc.count as usize > sc.sample.len() {
            format!(
                "; {} of {} designs shown (uniform sample), front complete",
                f::int(sc.sample.len() as u64),
                f::int(sc.count)
            )
        } else {
            String::new()
        };
        // The front first (outlined), then the sample.
        let mut points: Vec<(f64, f64, f64)> = sc
            .front
            .iter()
            .map(|p| (p.offload_us, p.offload_uj, p.area_mm2))
            .collect();
        let front: Vec<usize> = (0..points.len()).collect();
        points.extend(sc.sample.iter().copied());
        out.push(PlotSpec {
            file: PlotFile::new(
                &format!("latency vs energy, {what}"),
                &format!("pareto-{}", sc.name),
            ),
            chart: Chart::ParetoScatter {
                title: format!("Designs, {what}"),
                x_label: format!("offload latency (us, log){shown}"),
                y_label: "energy (uJ, log)".into(),
                c_label: "area mm2".into(),
                points,
                front: front.clone(),
            },
        });
        // Area against latency, coloured by energy (same designs, same 3-D front).
        let mut points: Vec<(f64, f64, f64)> = sc
            .front
            .iter()
            .map(|p| (p.offload_us, p.area_mm2, p.offload_uj))
            .collect();
        points.extend(sc.sample.iter().map(|&(l, e, a)| (l, a, e)));
        out.push(PlotSpec {
            file: PlotFile::new(
                &format!("area vs latency, {what}"),
                &format!("area-{}", sc.name),
            ),
            chart: Chart::ParetoScatter {
                title: format!("Area vs latency, {what}"),
                x_label: format!("offload latency (us, log){shown}"),
                y_label: "accelerator area (mm2, log)".into(),
                c_label: "energy uJ".into(),
                points,
                front,
            },
        });
    }
    for (k, p) in grid.params().iter().enumerate() {
        // Numeric values are ordered (lines); others are categories (grouped bars).
        let numeric = p.values.iter().all(|v| v.is_integer() || v.is_float());
        let labels: Vec<String> = p.values.iter().map(value_text).collect();
        let stats = an.sensitivity.get(k);
        let pick = |f: fn(&(MinGeo, MinGeo)) -> (f64, f64)| -> (Vec<f64>, Vec<f64>) {
            stats
                .map(|v| v.iter().map(f).unzip())
                .unwrap_or_else(|| (vec![0.0; labels.len()], vec![0.0; labels.len()]))
        };
        let (lmin, lgeo) = pick(|s| s.0.get());
        let (emin, egeo) = pick(|s| s.1.get());
        let series = |min: Vec<f64>, geo: Vec<f64>| {
            vec![
                Series {
                    name: "minimum".into(),
                    color: PALETTE[0],
                    values: min,
                },
                Series {
                    name: "geometric mean".into(),
                    color: PALETTE[1],
                    values: geo,
                },
            ]
        };
        out.push(PlotSpec {
            file: PlotFile::new(
                &format!("sensitivity to {}", p.key),
                &format!("sensitivity-{}", p.key),
            ),
            chart: Chart::CategoryLines {
                title: format!(
                    "Sensitivity to {} (over the other swept keys; geometric mean over models)",
                    p.key
                ),
                x_label: p.key.clone(),
                x_labels: labels,
                panels: vec![
                    (
                        "latency".into(),
                        "offload latency (us, log)".into(),
                        series(lmin, lgeo),
                    ),
                    (
                        "energy".into(),
                        "energy (uJ, log)".into(),
                        series(emin, egeo),
                    ),
                ],
                bars: !numeric,
            },
        });
    }
    out
}

fn params_text(keys: &[String], params: &[String]) -> String {
    keys.iter()
        .zip(params)
        .map(|(k, v)| format!("{k}={}", f::md_text(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The "Budget constraints" section of `summary.md`.
fn render_constraints(o: &mut String, c: &Constraints, models: &[String], an: &Analyzer) {
    let keys_note = "columns `meets_deadline`, `margin_us`, `avg_power_uw`, `battery_days`, \
                     `sram_bytes`, `flash_bytes`, `fits_sram`, `fits_flash`, `feasible` of \
                     `results.csv`";
    let _ = writeln!(o, "## Budget constraints\n");
    let _ = writeln!(o, "- {}", c.describe());
    let b = |r: &ResultRow| r.budget.unwrap_or_default();
    let [deadline, sram, flash, power, feasible] = an.budget_counts;
    let _ = writeln!(
        o,
        "- of {} ok evaluations: {} meet the deadline, {} fit SRAM, {} fit flash, {} have an average power (rate x latency <= 1); {} are feasible",
        an.ok, deadline, sram, flash, power, feasible,
    );
    let _ = writeln!(
        o,
        "- the Pareto fronts and best designs below use only the feasible evaluations ({keys_note})\n"
    );
    let Some(rate) = c.rate_hz else {
        return;
    };
    let _ = writeln!(
        o,
        "Per model: the lowest-power feasible design, and the CPU-only baseline at the same \
         rate (CPU sleep power only between inferences).\n"
    );
    let _ = writeln!(
        o,
        "| model | lowest-power feasible design | id | avg power uW | battery days | offload_us | margin_us | CPU-only avg power uW | CPU-only battery days | CPU-only meets deadline |\n|---|---|---|---|---|---|---|---|---|---|"
    );
    let cell = |v: Option<f64>| v.map_or(String::new(), f::num);
    for (m, pm) in models.iter().zip(&an.per_model) {
        let mname = f::md_cell(&f::md_text(m));
        // The CPU-only baseline is the same in every `ok` row of the model.
        let cpu = pm.cpu;
        let (cpu_p, cpu_days, cpu_met) = match cpu {
            Some(x) => {
                let dc = duty_cycle(x.cpu_uj, x.cpu_us, rate, c.cpu_sleep_uw, 0.0).ok();
                let days = dc.and_then(|d| c.battery().map(|bat| d.battery_days(&bat)));
                let met = c.deadline().map(|d| d.met(x.cpu_us).0);
                (
                    cell(dc.map(|d| d.avg_power_uw)),
                    cell(days),
                    met.map_or(
                        String::new(),
                        |v| if v { "yes".into() } else { "no".into() },
                    ),
                )
            }
            None => Default::default(),
        };
        let best = pm.best.as_ref();
        let Some(r) = best else {
            let _ = writeln!(
                o,
                "| {mname} | none | | | | | | {cpu_p} | {cpu_days} | {cpu_met} |"
            );
            continue;
        };
        let bb = b(r);
        let _ = writeln!(
            o,
            "| {mname} | {} | `{}` | {} | {} | {} | {} | {cpu_p} | {cpu_days} | {cpu_met} |",
            r.design,
            r.design_id,
            cell(bb.avg_power_uw),
            cell(bb.battery_days),
            r.metrics.map_or(String::new(), |x| f::num(x.offload_us)),
            cell(bb.margin_us),
        );
    }
    o.push('\n');
}

/// `summary.md` text.
pub fn render_summary(
    grid: &Grid,
    models: &[String],
    an: &Analyzer,
    constraints: Option<&Constraints>,
    plots: &[PlotFile],
) -> String {
    let keys = grid.keys();
    let mut o = String::new();
    let _ = writeln!(o, "# Design-space sweep summary\n");
    let _ = writeln!(
        o,
        "- grid hash `{}` (canonical grid in `sweep.json`), base configuration {}",
        grid.hash(),
        f::md_code(grid.base_name())
    );
    for p in grid.params() {
        let vals: Vec<String> = p
            .values
            .iter()
            .map(|v| f::md_text(&value_text(v)))
            .collect();
        let _ = writeln!(o, "- swept {}: {}", f::md_code(&p.key), vals.join(", "));
    }
    let _ = writeln!(
        o,
        "- models: {}",
        models
            .iter()
            .map(|m| f::md_text(m))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let invalid_designs = an.invalid_designs;
    let _ = writeln!(
        o,
        "- designs: {} ({} valid, {invalid_designs} invalid); evaluations: {} ok, {} infeasible",
        grid.len(),
        grid.len() - invalid_designs,
        an.ok,
        an.infeasible
    );
    let _ = writeln!(
        o,
        "- aggregate over models (`all`): geometric mean of latency and of energy over the \
         models; only designs that run every model count.\n"
    );
    if let Some(c) = constraints {
        render_constraints(&mut o, c, models, an);
    }

    // The aggregate first, then each model.
    let ordered = an
        .scopes
        .iter()
        .filter(|s| s.name == ALL)
        .chain(an.scopes.iter().filter(|s| s.name != ALL));
    for sc in ordered {
        if sc.name == ALL {
            let _ = writeln!(o, "## Best designs over all models (geometric means)\n");
        } else {
            let _ = writeln!(o, "## Best designs for model {}\n", f::md_code(&sc.name));
        }
        if sc.count == 0 {
            let _ = writeln!(
                o,
                "No design ran successfully{} in this scope.\n",
                if constraints.is_some() {
                    " and met the requirements"
                } else {
                    ""
                }
            );
            continue;
        }
        let _ = writeln!(
            o,
            "| criterion | design | id | parameters | offload_us | offload_uj | EDP us*uJ | area mm2 |\n|---|---|---|---|---|---|---|---|"
        );
        for ((name, _), best) in CRITERIA.iter().zip(&sc.best) {
            if let Some(p) = best {
                let _ = writeln!(
                    o,
                    "| {name} | {} | `{}` | {} | {} | {} | {} | {} |",
                    p.design,
                    p.design_id,
                    f::md_cell(&params_text(&keys, &p.params)),
                    f::num(p.offload_us),
                    f::num(p.offload_uj),
                    f::num(p.edp()),
                    f::num(p.area_mm2)
                );
            }
        }
        let _ = writeln!(
            o,
            "\nPareto front (latency, energy, area): {} of {} designs (see `pareto.csv`).\n",
            sc.front.len(),
            sc.count
        );
    }

    let _ = writeln!(o, "## Invalid designs\n");
    let invalid = &an.invalid_list;
    if invalid.is_empty() {
        let _ = writeln!(o, "None.\n");
    } else {
        let _ = writeln!(o, "| design | parameters | reason |\n|---|---|---|");
        for r in invalid {
            let _ = writeln!(
                o,
                "| {} | {} | {} |",
                r.design,
                f::md_cell(&params_text(&keys, &r.params)),
                f::md_cell(&r.note)
            );
        }
        if an.invalid_designs > invalid.len() as u64 {
            let _ = writeln!(
                o,
                "\n... and {} more (rows with `status` = `invalid` in `results.csv`).",
                an.invalid_designs - invalid.len() as u64
            );
        }
        o.push('\n');
    }
    let infeasible = &an.infeasible_list;
    let _ = writeln!(o, "## Infeasible evaluations\n");
    if infeasible.is_empty() {
        let _ = writeln!(o, "None.\n");
    } else {
        let _ = writeln!(
            o,
            "| design | model | parameters | reason |\n|---|---|---|---|"
        );
        for r in infeasible {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} |",
                r.design,
                r.model,
                f::md_cell(&params_text(&keys, &r.params)),
                f::md_cell(&r.note)
            );
        }
        if an.infeasible > infeasible.len() as u64 {
            let _ = writeln!(
                o,
                "\n... and {} more (rows with `status` = `infeasible` in `results.csv`).",
                an.infeasible - infeasible.len() as u64
            );
        }
        o.push('\n');
    }
    if !plots.is_empty() {
        let _ = writeln!(o, "## Plots\n");
        for p in plots {
            let _ = writeln!(o, "- {}: [{}]({})", f::md_text(&p.title), p.svg, p.svg);
        }
    }
    o
}

/// Writes `pareto.csv`, the plots and `summary.md` (last) into `dir` as one atomic set.
/// `an` has seen every row of the sweep ([`Analyzer::finish`] called).
pub fn write_analysis(
    dir: &Path,
    grid: &Grid,
    models: &[String],
    an: &Analyzer,
    constraints: Option<&Constraints>,
    png: bool,
    quiet: bool,
) -> Result<Vec<PathBuf>, SweepError> {
    let plots = sweep_plots(grid, an);
    let pb = progress_bar(
        (2 + plots.len() * if png { 2 } else { 1 }) as u64,
        "analysis",
        quiet,
    );
    let mut st = Staging::new(dir)?;
    st.write(
        "pareto.csv",
        render_pareto(&grid.keys(), &an.scopes).as_bytes(),
    )?;
    ProgressSink::inc(&pb, 1);
    for p in &plots {
        pb.set_message(p.file.svg.clone());
        st.write(&p.file.svg, p.render_svg()?.as_bytes())?;
        ProgressSink::inc(&pb, 1);
        if png {
            let path = st.path(&p.file.png)?;
            p.render_png(&path)?;
            ProgressSink::inc(&pb, 1);
        }
    }
    let files: Vec<PlotFile> = plots.iter().map(|p| p.file.clone()).collect();
    st.write(
        "summary.md",
        render_summary(grid, models, an, constraints, &files).as_bytes(),
    )?;
    ProgressSink::inc(&pb, 1);
    let written = st.commit("summary.md")?;
    crate::fsutil::remove_stale(
        dir,
        "plots",
        &["pareto-", "area-", "sensitivity-"],
        &written,
    );
    pb.finish_and_clear();
    Ok(written)
}
