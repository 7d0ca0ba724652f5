//! `results.csv`: one row per design and model.
//!
//! Columns: `design` (grid index), `design_id`, one column per swept key (its value),
//! `model`, `status` (`ok`, `infeasible`: the evaluator could not run this model on this
//! design, `invalid`: the design is not a valid configuration), the metrics under their
//! result-schema names (docs/results-schema.md) `offload_us`, `offload_uj`, `area_mm2`,
//! `array_utilization`, `mac_utilization`, `speedup`, `energy_ratio`, `cpu_us`, `cpu_uj`
//! (empty unless `ok`), then, when the sweep has constraints, the budget columns
//! [`BUDGET_COLUMNS`] (`meets_deadline`, `margin_us`, `avg_power_uw`, `battery_days`,
//! `sram_bytes`, `flash_bytes`, `fits_sram`, `fits_flash`, `feasible`; empty unless `ok`,
//! and individually empty when not applicable), and `note` (the reason for
//! `infeasible`/`invalid`).
//!
//! During a run rows are appended in completion order, each with one `write` call; the
//! final file is sorted by (design, model order). Floats use the shortest round-trip form.

use std::path::Path;

use super::constraints::{BudgetCols, BUDGET_COLUMNS};
use super::SweepError;

/// Status of one (design, model) evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    Ok,
    Infeasible,
    Invalid,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Infeasible => "infeasible",
            Status::Invalid => "invalid",
        }
    }
    fn parse(s: &str) -> Option<Status> {
        match s {
            "ok" => Some(Status::Ok),
            "infeasible" => Some(Status::Infeasible),
            "invalid" => Some(Status::Invalid),
            _ => None,
        }
    }
}

/// The metrics of an `ok` row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowMetrics {
    pub offload_us: f64,
    pub offload_uj: f64,
    pub area_mm2: f64,
    pub array_utilization: f64,
    pub mac_utilization: f64,
    pub speedup: f64,
    pub energy_ratio: f64,
    pub cpu_us: f64,
    pub cpu_uj: f64,
}

/// One row of `results.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    pub design: u64,
    pub design_id: String,
    /// The swept values, in [`super::Grid::keys`] order.
    pub params: Vec<String>,
    pub model: String,
    pub status: Status,
    /// `Some` exactly when `status` is `ok`.
    pub metrics: Option<RowMetrics>,
    /// The budget columns: `Some` exactly when `status` is `ok` and the sweep has
    /// constraints.
    pub budget: Option<BudgetCols>,
    pub note: String,
}

/// The metric columns of `results.csv`: result-schema names (docs/results-schema.md).
pub const METRIC_COLUMNS: [&str; 9] = [
    "offload_us",
    "offload_uj",
    "area_mm2",
    "array_utilization",
    "mac_utilization",
    "speedup",
    "energy_ratio",
    "cpu_us",
    "cpu_uj",
];

/// The header of `results.csv` for these swept keys (without budget columns).
pub fn header(keys: &[String]) -> Vec<String> {
    header_with(keys, false)
}

/// The header of `results.csv`, with the budget columns when `budget`.
pub fn header_with(keys: &[String], budget: bool) -> Vec<String> {
    let mut h = vec!["design".to_string(), "design_id".to_string()];
    h.extend(keys.iter().cloned());
    h.push("model".into());
    h.push("status".into());
    h.extend(METRIC_COLUMNS.iter().map(|s| s.to_string()));
    if budget {
        h.extend(BUDGET_COLUMNS.iter().map(|s| s.to_string()));
    }
    h.push("note".into());
    h
}

/// One CSV line (with its newline).
pub fn csv_line(fields: &[String]) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    w.write_record(fields).expect("in-memory CSV");
    String::from_utf8(w.into_inner().expect("in-memory CSV")).expect("UTF-8 fields")
}

impl ResultRow {
    /// The row's fields, in [`header_with`]`(keys, budget)` order.
    pub fn fields(&self, budget: bool) -> Vec<String> {
        let mut f = vec![self.design.to_string(), self.design_id.clone()];
        f.extend(self.params.iter().cloned());
        f.push(self.model.clone());
        f.push(self.status.as_str().into());
        match &self.metrics {
            Some(m) => f.extend(
                [
                    m.offload_us,
                    m.offload_uj,
                    m.area_mm2,
                    m.array_utilization,
                    m.mac_utilization,
                    m.speedup,
                    m.energy_ratio,
                    m.cpu_us,
                    m.cpu_uj,
                ]
                .iter()
                .map(|v| v.to_string()),
            ),
            None => f.extend(std::iter::repeat(String::new()).take(METRIC_COLUMNS.len())),
        }
        if budget {
            match &self.budget {
                Some(b) => f.extend(b.fields()),
                None => f.extend(std::iter::repeat(String::new()).take(BUDGET_COLUMNS.len())),
            }
        }
        // One row is one line: newlines in a reason become spaces.
        f.push(self.note.replace(['\n', '\r'], " "));
        f
    }

    /// The row as one CSV line (`budget`: the sweep has budget columns).
    pub fn line(&self, budget: bool) -> String {
        csv_line(&self.fields(budget))
    }
}

/// The rows of a results file and how many bytes of it are whole lines.
pub struct ReadResults {
    pub rows: Vec<ResultRow>,
    /// Length of the valid prefix (everything after it is a torn last line).
    pub valid_len: u64,
    /// True when a torn last line was found (and is not part of `rows`).
    pub torn: bool,
    /// The header has the budget columns.
    pub budget: bool,
}

/// Reads `results.csv`: checks the header against `keys` (with or without the budget
/// columns; [`ReadResults::budget`] says which), drops a torn last line (one
/// without its newline), and fails on any other malformed line, naming it.
pub fn read_results(path: &Path, keys: &[String]) -> Result<ReadResults, SweepError> {
    let bytes = std::fs::read(path).map_err(|source| SweepError::Io {
        path: path.to_path_buf(),
        op: "read",
        source,
    })?;
    let valid_len = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let torn = valid_len < bytes.len();
    let bad = |line: usize, message: String| SweepError::Results {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut rd = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(&bytes[..valid_len]);
    let mut expected = header(keys);
    let mut budget = false;
    let mut rows = Vec::new();
    let mut saw_header = false;
    for (i, rec) in rd.records().enumerate() {
        let line = i + 1;
        let rec = rec.map_err(|e| bad(line, e.to_string()))?;
        if !saw_header {
            let got: Vec<&str> = rec.iter().collect();
            let with_budget = header_with(keys, true);
            if got == with_budget {
                expected = with_budget;
                budget = true;
            } else if got != expected {
                return Err(bad(
                    line,
                    format!(
                        "header `{}` does not match this sweep's `{}`: the directory holds another sweep's results; use another output directory",
                        got.join(","),
                        expected.join(",")
                    ),
                ));
            }
            saw_header = true;
            continue;
        }
        if rec.len() != expected.len() {
            return Err(bad(
                line,
                format!("{} fields, expected {}", rec.len(), expected.len()),
            ));
        }
        let k = keys.len();
        let design = rec[0]
            .parse::<u64>()
            .map_err(|e| bad(line, format!("design `{}`: {e}", &rec[0])))?;
        let status = Status::parse(&rec[3 + k])
            .ok_or_else(|| bad(line, format!("unknown status `{}`", &rec[3 + k])))?;
        let metrics = if status == Status::Ok {
            let mut v = [0.0; METRIC_COLUMNS.len()];
            for (j, slot) in v.iter_mut().enumerate() {
                let s = &rec[4 + k + j];
                *slot = s
                    .parse::<f64>()
                    .map_err(|e| bad(line, format!("{} `{s}`: {e}", METRIC_COLUMNS[j])))?;
            }
            Some(RowMetrics {
                offload_us: v[0],
                offload_uj: v[1],
                area_mm2: v[2],
                array_utilization: v[3],
                mac_utilization: v[4],
                speedup: v[5],
                energy_ratio: v[6],
                cpu_us: v[7],
                cpu_uj: v[8],
            })
        } else {
            None
        };
        let nb = BUDGET_COLUMNS.len();
        let first = 4 + k + METRIC_COLUMNS.len();
        let budget_cols = if budget && status == Status::Ok {
            let f: Vec<&str> = (first..first + nb).map(|j| &rec[j]).collect();
            Some(BudgetCols::parse(&f).map_err(|m| bad(line, m))?)
        } else {
            None
        };
        rows.push(ResultRow {
            design,
            design_id: rec[1].to_string(),
            params: (0..k).map(|j| rec[2 + j].to_string()).collect(),
            model: rec[2 + k].to_string(),
            status,
            metrics,
            budget: budget_cols,
            note: rec[rec.len() - 1].to_string(),
        });
    }
    if !saw_header && valid_len > 0 {
        return Err(bad(1, "no header".into()));
    }
    Ok(ReadResults {
        rows,
        valid_len: valid_len as u64,
        torn,
        budget,
    })
}

/// The whole sorted file text (`budget`: with the budget columns).
pub fn render_results(keys: &[String], rows: &[ResultRow], budget: bool) -> String {
    let mut s = csv_line(&header_with(keys, budget));
    for r in rows {
        s.push_str(&r.line(budget));
    }
    s
}
