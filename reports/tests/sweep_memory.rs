//! Sweeps stream (issue 24): the live heap of a sweep does not grow with its rows. A
//! counting allocator tracks the live bytes; a 400,000-row sweep (fake evaluator) must
//! peak well under what holding its rows would take, and still produce the complete,
//! sorted `results.csv` and the analysis.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicIsize, Ordering};

use arch::AccelConfig;
use reports::sweep::{run_sweep, EvalError, Grid, Metrics, SweepOptions};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn add(n: isize) {
    let now = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        add(l.size() as isize);
        System.alloc(l)
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        add(l.size() as isize);
        System.alloc_zeroed(l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        add(n as isize - l.size() as isize);
        System.realloc(p, l, n)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        add(-(l.size() as isize));
        System.dealloc(p, l)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn eval(cfg: &AccelConfig, m: usize) -> Result<Metrics, EvalError> {
    // Deterministic, varied, cheap.
    let x = (cfg.rows * 31 + cfg.cols * 7) as f64 + cfg.clock_mhz / 100.0 + m as f64;
    let y = (cfg.bus_latency_cycles as f64 + 1.0) * (cfg.acc_sram_kib as f64).sqrt();
    Ok(Metrics {
        offload_us: 10.0 + x + y,
        offload_uj: 5.0 + 1000.0 / x + y / 10.0,
        array_utilization: 0.5,
        mac_utilization: 0.4,
        cpu_us: 1000.0,
        cpu_uj: 100.0,
        area_mm2: None,
        memory: None,
    })
}

/// 200,000 designs x 2 models = 400,000 rows: held in memory as `ResultRow`s (about 250
/// bytes each plus as much again in their strings) they alone would take about 200 MB;
/// the sort keeps one batch of `SORT_BATCH` (50,000) rows.
#[test]
fn a_large_sweep_streams_in_bounded_memory() {
    let text = r#"
base = "edge-8x8"
[sweep]
rows = [2, 4, 8, 16, 32]
cols = [2, 4, 8, 16, 32]
input_sram_kib = [16, 32, 64, 128]
weight_sram_kib = [16, 32, 64, 128]
clock_mhz = [100.0, 200.0, 300.0, 400.0, 500.0]
bus_bytes_per_cycle = [4, 8]
acc_sram_kib = [8, 16, 32, 64, 128]
bus_latency_cycles = [0, 1, 2, 4, 8, 12, 16, 24, 32, 64]
"#;
    let grid = Grid::from_toml_str(text, "big.toml", Path::new(".")).unwrap();
    assert_eq!(grid.len(), 200_000);
    let t = tempfile::tempdir().unwrap();
    let models = vec!["m0".to_string(), "m1".to_string()];
    let opts = SweepOptions {
        out_dir: t.path().to_path_buf(),
        jobs: Some(2),
        quiet: true,
        png: false,
        ..SweepOptions::new("")
    };
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let out = run_sweep(&grid, &models, eval, &opts).unwrap();
    let peak = PEAK.load(Ordering::SeqCst) - base;
    assert_eq!(out.rows, 400_000);
    eprintln!("peak live heap of the sweep: {} MB", peak >> 20);
    assert!(
        peak < 64 << 20,
        "a 400,000-row sweep peaked at {} MB of live heap: rows are being held",
        peak >> 20
    );
    // The results are complete and sorted by (design, model).
    let text = std::fs::read_to_string(t.path().join("results.csv")).unwrap();
    let mut last = None;
    let mut n = 0;
    for line in text.lines().skip(1) {
        let mut f = line.split(',');
        let d: u64 = f.next().unwrap().parse().unwrap();
        let m = line.contains(",m1,");
        let k = (d, m);
        assert!(last.map_or(true, |l| l < k), "unsorted at {line}");
        last = Some(k);
        n += 1;
    }
    assert_eq!(n, 400_000);
    let summary = std::fs::read_to_string(t.path().join("summary.md")).unwrap();
    assert!(summary.contains("of 200000 designs"), "{summary}");
}
