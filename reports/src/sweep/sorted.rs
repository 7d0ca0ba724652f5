//! Rows of one or more results files in (design, model order), in bounded memory: an
//! external merge sort. Rows are read in batches of at most [`SORT_BATCH`]; a single batch
//! is sorted in memory, more are sorted and spilled to run files in the output folder
//! (`.tinyaccel-sort-PID-N.csv`, removed when the sorter is dropped, also on error) and
//! merged with a heap. Memory: one batch while spilling, then one row per run.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::results::{csv_line, header_with, ResultRow, ResultsReader};
use super::SweepError;

/// Rows sorted in memory at a time, at least (about 500 bytes each in memory with their
/// strings: about 25 MB).
pub const SORT_BATCH: usize = 50_000;

/// Most run files merged at once: larger inputs get larger batches
/// ([`batch_for`]), so the open files stay well under the usual limit of 1024.
pub const MAX_RUNS: usize = 200;

/// The batch size for `rows` rows: [`SORT_BATCH`], or larger so that at most
/// [`MAX_RUNS`] runs are written.
pub fn batch_for(rows: usize) -> usize {
    SORT_BATCH.max(rows.div_ceil(MAX_RUNS))
}

/// The sort key of a row: its design, then the model's position in the sweep's list
/// (unknown models last).
fn key(model_index: &HashMap<String, usize>, r: &ResultRow) -> (u64, usize) {
    (
        r.design,
        model_index.get(&r.model).copied().unwrap_or(usize::MAX),
    )
}

/// The sorted rows of a set of results files.
pub struct SortedRows {
    model_index: HashMap<String, usize>,
    /// The single in-memory batch (no spill), reversed so `pop` yields it in order.
    mem: Vec<ResultRow>,
    runs: Vec<ResultsReader>,
    /// Head row of each run.
    heads: Vec<Option<ResultRow>>,
    heap: BinaryHeap<Reverse<((u64, usize), usize)>>,
    files: Vec<PathBuf>,
    /// Whether the rows have the budget columns.
    pub budget: bool,
}

impl Drop for SortedRows {
    fn drop(&mut self) {
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
    }
}

fn io<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(std::io::Error) -> SweepError + 'a {
    move |source| SweepError::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}

impl SortedRows {
    /// Sorts the rows of `sources` (each a results file with the header of `keys`; all
    /// with or all without the budget columns); run files go to `tmp_dir`.
    pub fn new(
        sources: &[PathBuf],
        keys: &[String],
        models: &[String],
        tmp_dir: &Path,
    ) -> Result<SortedRows, SweepError> {
        Self::with_batch(sources, keys, models, tmp_dir, SORT_BATCH)
    }

    /// [`SortedRows::new`] with batches of `batch` rows.
    pub fn with_batch(
        sources: &[PathBuf],
        keys: &[String],
        models: &[String],
        tmp_dir: &Path,
        batch_rows: usize,
    ) -> Result<SortedRows, SweepError> {
        let batch_rows = batch_rows.max(1);
        let mut me = SortedRows {
            model_index: models
                .iter()
                .enumerate()
                .map(|(i, m)| (m.clone(), i))
                .collect(),
            mem: Vec::new(),
            runs: Vec::new(),
            heads: Vec::new(),
            heap: BinaryHeap::new(),
            files: Vec::new(),
            budget: false,
        };
        let mut batch: Vec<ResultRow> = Vec::with_capacity(batch_rows.min(SORT_BATCH));
        for (n, src) in sources.iter().enumerate() {
            let mut rd = ResultsReader::open(src, keys)?;
            if n == 0 {
                me.budget = rd.budget;
            } else if rd.budget != me.budget {
                return Err(SweepError::Results {
                    path: src.clone(),
                    line: 1,
                    message: format!(
                        "the results {} budget columns but {}'s {}",
                        if rd.budget { "have" } else { "lack" },
                        sources[0].display(),
                        if me.budget { "have them" } else { "do not" }
                    ),
                });
            }
            while let Some((_, r)) = rd.next_row()? {
                batch.push(r);
                if batch.len() >= batch_rows {
                    me.spill(&mut batch, keys, tmp_dir)?;
                }
            }
        }
        if me.files.is_empty() {
            let mi = &me.model_index;
            // Stable ascending sort, reversed so that `pop` yields ascending keys and
            // equal keys in the order they were read.
            batch.sort_by_key(|r| key(mi, r));
            batch.reverse();
            me.mem = batch;
            return Ok(me);
        }
        if !batch.is_empty() {
            me.spill(&mut batch, keys, tmp_dir)?;
        }
        for f in &me.files {
            me.runs.push(ResultsReader::open(f, keys)?);
        }
        for i in 0..me.runs.len() {
            me.advance(i)?;
        }
        Ok(me)
    }

    /// Sorts `batch` and writes it as a run file; empties it.
    fn spill(
        &mut self,
        batch: &mut Vec<ResultRow>,
        keys: &[String],
        tmp_dir: &Path,
    ) -> Result<(), SweepError> {
        let mi = &self.model_index;
        batch.sort_by_key(|r| key(mi, r));
        let path = tmp_dir.join(format!(
            ".tinyaccel-sort-{}-{}.csv",
            std::process::id(),
            self.files.len()
        ));
        // A new file only (never one that exists), removed on drop once created.
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io(&path, "create"))?;
        self.files.push(path.clone());
        let mut w = BufWriter::with_capacity(1 << 16, f);
        w.write_all(csv_line(&header_with(keys, self.budget)).as_bytes())
            .map_err(io(&path, "write"))?;
        for r in batch.drain(..) {
            w.write_all(r.line(self.budget).as_bytes())
                .map_err(io(&path, "write"))?;
        }
        w.flush().map_err(io(&path, "write"))?;
        Ok(())
    }

    fn advance(&mut self, run: usize) -> Result<(), SweepError> {
        let next = self.runs[run].next_row()?.map(|(_, r)| r);
        if let Some(r) = &next {
            self.heap.push(Reverse((key(&self.model_index, r), run)));
        }
        if run == self.heads.len() {
            self.heads.push(next);
        } else {
            self.heads[run] = next;
        }
        Ok(())
    }

    /// The next row in order (rows with equal keys: in the order they were read).
    pub fn next_row(&mut self) -> Result<Option<ResultRow>, SweepError> {
        if self.runs.is_empty() {
            return Ok(self.mem.pop());
        }
        let Some(Reverse((_, run))) = self.heap.pop() else {
            return Ok(None);
        };
        let row = self.heads[run].take();
        self.advance(run)?;
        Ok(row)
    }

    /// The sort key of `r`.
    pub fn key(&self, r: &ResultRow) -> (u64, usize) {
        key(&self.model_index, r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::results::{RowMetrics, Status};

    fn row(design: u64, model: &str, v: f64) -> ResultRow {
        ResultRow {
            design,
            design_id: format!("id{design}"),
            params: vec![design.to_string()],
            model: model.into(),
            status: Status::Ok,
            metrics: Some(RowMetrics {
                offload_us: v,
                offload_uj: v,
                area_mm2: 1.0,
                array_utilization: 0.5,
                mac_utilization: 0.5,
                speedup: 2.0,
                energy_ratio: 2.0,
                cpu_us: v,
                cpu_uj: v,
            }),
            budget: None,
            note: String::new(),
        }
    }

    /// Spilled runs and the in-memory path give the same order as a stable sort, over two
    /// source files, and the run files are gone afterwards.
    #[test]
    fn external_sort_equals_a_stable_in_memory_sort() {
        let t = tempfile::tempdir().unwrap();
        let keys = vec!["rows".to_string()];
        let models = vec!["b".to_string(), "a".to_string()];
        let mut x: u64 = 7;
        let mut all = Vec::new();
        let mut files = Vec::new();
        for f in 0..2 {
            let path = t.path().join(format!("r{f}.csv"));
            let mut text = csv_line(&header_with(&keys, false));
            for i in 0..500 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let r = row(
                    x % 97,
                    if x % 3 == 0 { "a" } else { "b" },
                    (f * 1000 + i) as f64,
                );
                text.push_str(&r.line(false));
                all.push(r);
            }
            std::fs::write(&path, text).unwrap();
            files.push(path);
        }
        let mi: HashMap<String, usize> = models
            .iter()
            .enumerate()
            .map(|(i, m)| (m.clone(), i))
            .collect();
        let mut want = all.clone();
        want.sort_by_key(|r| key(&mi, r));
        for batch in [1, 3, 64, 999, 1000, 5000] {
            let mut s = SortedRows::with_batch(&files, &keys, &models, t.path(), batch).unwrap();
            let mut got = Vec::new();
            while let Some(r) = s.next_row().unwrap() {
                got.push(r);
            }
            assert_eq!(got, want, "batch {batch}");
            drop(s);
            let left: Vec<_> = std::fs::read_dir(t.path())
                .unwrap()
                .filter_map(|e| e.ok())
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with(".tinyaccel-sort")
                })
                .collect();
            assert!(left.is_empty(), "batch {batch}: run files left: {left:?}");
        }
    }
}
