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

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::constraints::Constraints;
use super::grid::{value_text, Grid};
use super::pareto::pareto_front;
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
}

/// The designs of one scope and its front.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    /// A model name or [`ALL`].
    pub name: String,
    /// Points in design order.
    pub points: Vec<Point>,
    /// Indices into `points` of the Pareto front (latency, energy, area), ascending.
    pub front: Vec<usize>,
}

fn geomean(v: &[f64]) -> f64 {
    (v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp()
}

/// Whether a row takes part in the analysis: `ok` and, with constraints, feasible.
pub fn usable(r: &ResultRow) -> bool {
    r.status == Status::Ok && r.budget.map_or(true, |b| b.feasible)
}

/// The scopes (each model, then [`ALL`]) of rows sorted by (design, model order); only
/// [`usable`] rows count.
pub fn scopes(models: &[String], rows: &[ResultRow]) -> Vec<Scope> {
    let mut out = Vec::new();
    for m in models {
        let points: Vec<Point> = rows
            .iter()
            .filter(|r| &r.model == m && usable(r))
            .filter_map(|r| {
                r.metrics.map(|x| Point {
                    design: r.design,
                    design_id: r.design_id.clone(),
                    params: r.params.clone(),
                    offload_us: x.offload_us,
                    offload_uj: x.offload_uj,
                    area_mm2: x.area_mm2,
                })
            })
            .collect();
        out.push(points);
    }
    let mut all = Vec::new();
    for group in rows.chunk_by(|a, b| a.design == b.design) {
        if group.len() == models.len() && group.iter().all(usable) {
            let lat: Vec<f64> = group
                .iter()
                .filter_map(|r| r.metrics.map(|m| m.offload_us))
                .collect();
            let en: Vec<f64> = group
                .iter()
                .filter_map(|r| r.metrics.map(|m| m.offload_uj))
                .collect();
            let area = group[0].metrics.map_or(0.0, |m| m.area_mm2);
            all.push(Point {
                design: group[0].design,
                design_id: group[0].design_id.clone(),
                params: group[0].params.clone(),
                offload_us: geomean(&lat),
                offload_uj: geomean(&en),
                area_mm2: area,
            });
        }
    }
    out.push(all);
    models
        .iter()
        .cloned()
        .chain([ALL.to_string()])
        .zip(out)
        .map(|(name, points)| {
            let coords: Vec<[f64; 3]> = points
                .iter()
                .map(|p| [p.offload_us, p.offload_uj, p.area_mm2])
                .collect();
            Scope {
                name,
                front: pareto_front(&coords),
                points,
            }
        })
        .collect()
}

/// The best point of a scope by `key` (ties: lowest design index).
pub fn best_by(points: &[Point], key: impl Fn(&Point) -> f64) -> Option<&Point> {
    points
        .iter()
        .min_by(|a, b| key(a).total_cmp(&key(b)).then(a.design.cmp(&b.design)))
}

/// `pareto.csv` text: per scope (models in order, then `all`) the front sorted by latency,
/// energy, area, design.
pub fn render_pareto(keys: &[String], scopes: &[Scope]) -> String {
    let mut h = vec!["scope".to_string(), "design".into(), "design_id".into()];
    h.extend(keys.iter().cloned());
    h.extend(["offload_us", "offload_uj", "area_mm2", "edp_us_uj"].map(String::from));
    let mut s = csv_line(&h);
    for sc in scopes {
        let mut front: Vec<&Point> = sc.front.iter().map(|&i| &sc.points[i]).collect();
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

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The plots: one latency-energy scatter per scope (colour = area, front outlined) and one
/// sensitivity plot per swept key (min and median over the other keys of the aggregate
/// latency and energy, for each value of the key).
pub fn sweep_plots(grid: &Grid, scopes: &[Scope]) -> Vec<PlotSpec> {
    let mut out = Vec::new();
    for sc in scopes {
        let what = if sc.name == ALL {
            "all models (geometric means)".to_string()
        } else {
            format!("model {}", sc.name)
        };
        out.push(PlotSpec {
            file: PlotFile::new(
                &format!("latency vs energy, {what}"),
                &format!("pareto-{}", sc.name),
            ),
            chart: Chart::ParetoScatter {
                title: format!("Designs, {what}"),
                x_label: "offload latency (us, log)".into(),
                y_label: "energy (uJ, log)".into(),
                c_label: "area mm2".into(),
                points: sc
                    .points
                    .iter()
                    .map(|p| (p.offload_us, p.offload_uj, p.area_mm2))
                    .collect(),
                front: sc.front.clone(),
            },
        });
    }
    let all = scopes.iter().find(|s| s.name == ALL);
    for (k, p) in grid.params().iter().enumerate() {
        let labels: Vec<String> = p.values.iter().map(value_text).collect();
        let mut lat = vec![Vec::new(); labels.len()];
        let mut en = vec![Vec::new(); labels.len()];
        if let Some(all) = all {
            for pt in &all.points {
                if let Some(i) = labels.iter().position(|l| *l == pt.params[k]) {
                    lat[i].push(pt.offload_us);
                    en[i].push(pt.offload_uj);
                }
            }
        }
        let stats = |v: &mut Vec<Vec<f64>>| {
            let mins: Vec<f64> = v
                .iter()
                .map(|x| x.iter().copied().fold(f64::INFINITY, f64::min))
                .map(|m| if m.is_finite() { m } else { 0.0 })
                .collect();
            let meds: Vec<f64> = v.iter_mut().map(|x| median(x)).collect();
            (mins, meds)
        };
        let (lmin, lmed) = stats(&mut lat);
        let (emin, emed) = stats(&mut en);
        let series = |min: Vec<f64>, med: Vec<f64>| {
            vec![
                Series {
                    name: "minimum".into(),
                    color: PALETTE[0],
                    values: min,
                },
                Series {
                    name: "median".into(),
                    color: PALETTE[1],
                    values: med,
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
                        series(lmin, lmed),
                    ),
                    (
                        "energy".into(),
                        "energy (uJ, log)".into(),
                        series(emin, emed),
                    ),
                ],
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

/// A figure of merit to minimise.
pub type Criterion = fn(&Point) -> f64;

/// The "Budget constraints" section of `summary.md`.
fn render_constraints(o: &mut String, c: &Constraints, models: &[String], rows: &[ResultRow]) {
    let keys_note = "columns `meets_deadline`, `margin_us`, `avg_power_uw`, `battery_days`, \
                     `sram_bytes`, `flash_bytes`, `fits_sram`, `fits_flash`, `feasible` of \
                     `results.csv`";
    let _ = writeln!(o, "## Budget constraints\n");
    let _ = writeln!(o, "- {}", c.describe());
    let ok: Vec<&ResultRow> = rows.iter().filter(|r| r.status == Status::Ok).collect();
    let n = |f: &dyn Fn(&ResultRow) -> bool| ok.iter().filter(|r| f(r)).count();
    let b = |r: &ResultRow| r.budget.unwrap_or_default();
    let _ = writeln!(
        o,
        "- of {} ok evaluations: {} meet the deadline, {} fit SRAM, {} fit flash, {} have an average power (rate x latency <= 1); {} are feasible",
        ok.len(),
        n(&|r| b(r).meets_deadline == Some(true)),
        n(&|r| b(r).fits_sram == Some(true)),
        n(&|r| b(r).fits_flash == Some(true)),
        n(&|r| b(r).avg_power_uw.is_some()),
        n(&|r| b(r).feasible),
    );
    let _ = writeln!(
        o,
        "- the Pareto fronts and best designs below use only the feasible evaluations ({keys_note})\n"
    );
    let Some(rate) = c.rate_hz else {
        return;
    };
    let with_power: Vec<&ResultRow> = ok
        .iter()
        .copied()
        .filter(|r| usable(r) && b(r).avg_power_uw.is_some())
        .collect();
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
    for m in models {
        let mname = f::md_cell(&f::md_text(m));
        // The CPU-only baseline is the same in every `ok` row of the model.
        let cpu = ok.iter().find(|r| &r.model == m).and_then(|r| r.metrics);
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
        let best = with_power.iter().filter(|r| &r.model == m).min_by(|x, y| {
            b(x).avg_power_uw
                .unwrap_or(f64::INFINITY)
                .total_cmp(&b(y).avg_power_uw.unwrap_or(f64::INFINITY))
                .then(x.design.cmp(&y.design))
        });
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
    rows: &[ResultRow],
    constraints: Option<&Constraints>,
    scopes: &[Scope],
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
        let vals: Vec<String> = p.values.iter().map(|v| f::md_text(&value_text(v))).collect();
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
    let invalid_designs = rows
        .chunk_by(|a, b| a.design == b.design)
        .filter(|g| g[0].status == Status::Invalid)
        .count();
    let count = |s: Status| rows.iter().filter(|r| r.status == s).count();
    let _ = writeln!(
        o,
        "- designs: {} ({} valid, {invalid_designs} invalid); evaluations: {} ok, {} infeasible",
        grid.len(),
        grid.len() as usize - invalid_designs,
        count(Status::Ok),
        count(Status::Infeasible)
    );
    let _ = writeln!(
        o,
        "- aggregate over models (`all`): geometric mean of latency and of energy over the \
         models; only designs that run every model count.\n"
    );
    if let Some(c) = constraints {
        render_constraints(&mut o, c, models, rows);
    }

    let criteria: [(&str, Criterion); 4] = [
        ("lowest latency", |p| p.offload_us),
        ("lowest energy", |p| p.offload_uj),
        ("lowest energy-delay product", |p| p.edp()),
        ("smallest area", |p| p.area_mm2),
    ];
    // The aggregate first, then each model.
    let ordered = scopes
        .iter()
        .filter(|s| s.name == ALL)
        .chain(scopes.iter().filter(|s| s.name != ALL));
    for sc in ordered {
        if sc.name == ALL {
            let _ = writeln!(o, "## Best designs over all models (geometric means)\n");
        } else {
            let _ = writeln!(o, "## Best designs for model {}\n", f::md_code(&sc.name));
        }
        if sc.points.is_empty() {
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
        for (name, key) in criteria {
            if let Some(p) = best_by(&sc.points, key) {
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
            sc.points.len()
        );
    }

    let _ = writeln!(o, "## Invalid designs\n");
    let invalid: Vec<&ResultRow> = rows
        .chunk_by(|a, b| a.design == b.design)
        .filter(|g| g[0].status == Status::Invalid)
        .map(|g| &g[0])
        .collect();
    if invalid.is_empty() {
        let _ = writeln!(o, "None.\n");
    } else {
        let _ = writeln!(o, "| design | parameters | reason |\n|---|---|---|");
        for r in invalid.iter().take(SUMMARY_LIST_LIMIT) {
            let _ = writeln!(
                o,
                "| {} | {} | {} |",
                r.design,
                f::md_cell(&params_text(&keys, &r.params)),
                f::md_cell(&r.note)
            );
        }
        if invalid.len() > SUMMARY_LIST_LIMIT {
            let _ = writeln!(
                o,
                "\n... and {} more (rows with `status` = `invalid` in `results.csv`).",
                invalid.len() - SUMMARY_LIST_LIMIT
            );
        }
        o.push('\n');
    }
    let infeasible: Vec<&ResultRow> = rows
        .iter()
        .filter(|r| r.status == Status::Infeasible)
        .collect();
    let _ = writeln!(o, "## Infeasible evaluations\n");
    if infeasible.is_empty() {
        let _ = writeln!(o, "None.\n");
    } else {
        let _ = writeln!(
            o,
            "| design | model | parameters | reason |\n|---|---|---|---|"
        );
        for r in infeasible.iter().take(SUMMARY_LIST_LIMIT) {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} |",
                r.design,
                r.model,
                f::md_cell(&params_text(&keys, &r.params)),
                f::md_cell(&r.note)
            );
        }
        if infeasible.len() > SUMMARY_LIST_LIMIT {
            let _ = writeln!(
                o,
                "\n... and {} more (rows with `status` = `infeasible` in `results.csv`).",
                infeasible.len() - SUMMARY_LIST_LIMIT
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
/// `rows` must be sorted by (design, model order) and complete.
pub fn write_analysis(
    dir: &Path,
    grid: &Grid,
    models: &[String],
    rows: &[ResultRow],
    constraints: Option<&Constraints>,
    png: bool,
    quiet: bool,
) -> Result<Vec<PathBuf>, SweepError> {
    let scopes = scopes(models, rows);
    let plots = sweep_plots(grid, &scopes);
    let pb = progress_bar(
        (2 + plots.len() * if png { 2 } else { 1 }) as u64,
        "analysis",
        quiet,
    );
    let mut st = Staging::new(dir)?;
    st.write(
        "pareto.csv",
        render_pareto(&grid.keys(), &scopes).as_bytes(),
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
        render_summary(grid, models, rows, constraints, &scopes, &files).as_bytes(),
    )?;
    ProgressSink::inc(&pb, 1);
    let written = st.commit("summary.md")?;
    crate::fsutil::remove_stale(dir, "plots", &["pareto-", "sensitivity-"], &written);
    pb.finish_and_clear();
    Ok(written)
}
