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

use std::io::Read as _;
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

/// Reads the whole of `results.csv` into memory ([`ResultsReader`] streams it; the sweep
/// engine only streams, this is for tests and small files).
pub fn read_results(path: &Path, keys: &[String]) -> Result<ReadResults, SweepError> {
    let mut rd = ResultsReader::open(path, keys)?;
    let mut rows = Vec::new();
    while let Some((_, r)) = rd.next_row()? {
        rows.push(r);
    }
    Ok(ReadResults {
        rows,
        valid_len: rd.valid_len,
        torn: rd.torn,
        budget: rd.budget,
    })
}

/// The length of the prefix of `file` that ends with its last newline (0 without one),
/// found by reading backwards from the end in blocks.
fn whole_lines_len(file: &mut std::fs::File) -> std::io::Result<u64> {
    use std::io::{Seek, SeekFrom};
    let len = file.metadata()?.len();
    let mut end = len;
    let mut buf = vec![0u8; 64 << 10];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let n = (end - start) as usize;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buf[..n])?;
        if let Some(i) = buf[..n].iter().rposition(|&b| b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// A streaming reader of `results.csv`: checks the header against `keys` (with or
/// without the budget columns; [`ResultsReader::budget`] says which), stops before a torn
/// last line (one without its newline), and fails on any other malformed line, naming
/// it. Memory is one record, whatever the file's size.
pub struct ResultsReader {
    path: std::path::PathBuf,
    rd: csv::Reader<std::io::Take<std::io::BufReader<std::fs::File>>>,
    rec: csv::StringRecord,
    keys: usize,
    expected: usize,
    /// The next line number (1-based, the header is line 1).
    line: usize,
    /// Length of the valid prefix (everything after it is a torn last line).
    pub valid_len: u64,
    /// True when a torn last line was found (it is never returned).
    pub torn: bool,
    /// The header has the budget columns.
    pub budget: bool,
}

impl ResultsReader {
    pub fn open(path: &Path, keys: &[String]) -> Result<ResultsReader, SweepError> {
        use std::io::{Seek, SeekFrom};
        let ioerr = |op: &'static str| {
            move |source| SweepError::Io {
                path: path.to_path_buf(),
                op,
                source,
            }
        };
        let mut file = std::fs::File::open(path).map_err(ioerr("open"))?;
        let valid_len = whole_lines_len(&mut file).map_err(ioerr("read"))?;
        let torn = valid_len < file.metadata().map_err(ioerr("read"))?.len();
        file.seek(SeekFrom::Start(0)).map_err(ioerr("read"))?;
        let rd = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(std::io::BufReader::with_capacity(1 << 16, file).take(valid_len));
        let mut me = ResultsReader {
            path: path.to_path_buf(),
            rd,
            rec: csv::StringRecord::new(),
            keys: keys.len(),
            expected: header(keys).len(),
            line: 1,
            valid_len,
            torn,
            budget: false,
        };
        let has_header = me
            .rd
            .read_record(&mut me.rec)
            .map_err(|e| me.bad(1, e.to_string()))?;
        if !has_header {
            if valid_len > 0 {
                return Err(me.bad(1, "no header".into()));
            }
            return Ok(me);
        }
        let got: Vec<&str> = me.rec.iter().collect();
        let plain = header(keys);
        let with_budget = header_with(keys, true);
        if got == with_budget {
            me.expected = with_budget.len();
            me.budget = true;
        } else if got != plain {
            let msg = format!(
                "header `{}` does not match this sweep's `{}`: the directory holds another sweep's results; use another output directory",
                got.join(","),
                plain.join(",")
            );
            return Err(me.bad(1, msg));
        }
        me.line = 2;
        Ok(me)
    }

    fn bad(&self, line: usize, message: String) -> SweepError {
        SweepError::Results {
            path: self.path.clone(),
            line,
            message,
        }
    }

    /// The next row and its line number, `None` at the end of the whole lines.
    pub fn next_row(&mut self) -> Result<Option<(usize, ResultRow)>, SweepError> {
        let line = self.line;
        let more = self
            .rd
            .read_record(&mut self.rec)
            .map_err(|e| self.bad(line, e.to_string()))?;
        if !more {
            return Ok(None);
        }
        self.line += 1;
        let rec = &self.rec;
        if rec.len() != self.expected {
            return Err(self.bad(
                line,
                format!("{} fields, expected {}", rec.len(), self.expected),
            ));
        }
        let k = self.keys;
        let design = rec[0]
            .parse::<u64>()
            .map_err(|e| self.bad(line, format!("design `{}`: {e}", &rec[0])))?;
        let status = Status::parse(&rec[3 + k])
            .ok_or_else(|| self.bad(line, format!("unknown status `{}`", &rec[3 + k])))?;
        let metrics = if status == Status::Ok {
            let mut v = [0.0; METRIC_COLUMNS.len()];
            for (j, slot) in v.iter_mut().enumerate() {
                let s = &rec[4 + k + j];
                *slot = s
                    .parse::<f64>()
                    .map_err(|e| self.bad(line, format!("{} `{s}`: {e}", METRIC_COLUMNS[j])))?;
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
        let budget_cols = if self.budget && status == Status::Ok {
            let f: Vec<&str> = (first..first + nb).map(|j| &rec[j]).collect();
            Some(BudgetCols::parse(&f).map_err(|m| self.bad(line, m))?)
        } else {
            None
        };
        Ok(Some((
            line,
            ResultRow {
                design,
                design_id: rec[1].to_string(),
                params: (0..k).map(|j| rec[2 + j].to_string()).collect(),
                model: rec[2 + k].to_string(),
                status,
                metrics,
                budget: budget_cols,
                note: rec[rec.len() - 1].to_string(),
            },
        )))
    }
}

/// The whole sorted file text (`budget`: with the budget columns).
pub fn render_results(keys: &[String], rows: &[ResultRow], budget: bool) -> String {
    let mut s = csv_line(&header_with(keys, budget));
    for r in rows {
        s.push_str(&r.line(budget));
    }
    s
}
