//! The CPU baseline against the published MLPerf Tiny results
//! (`../shared/mlperf_tiny_results/published_v0.5_v0.7_v1.0.csv`, or
//! `$TINYACCEL_SHARED/mlperf_tiny_results/...`): the fit reproduces the constants of the
//! built-in profiles, the Cortex-M4F reference-kernel bounds of issue 19 hold on the v0.5
//! reference run, and the held-out errors stay within the bounds docs/cpu-validation.md states.
//! The file must be present: a missing file fails these tests, it does not skip them.

use std::path::Path;

use runtime::cost::fit::{self, FitReport, PublishedRow};
use runtime::cost::{graph_cost, CpuProfile};

fn rows() -> (Vec<PublishedRow>, String) {
    let path = fit::locate_csv(Path::new(env!("CARGO_MANIFEST_DIR")));
    let rows = fit::read_csv(&path).unwrap_or_else(|e| panic!("{e}"));
    (rows, path.display().to_string())
}

fn report() -> FitReport {
    let (rows, source) = rows();
    fit::fit(&rows, &source).unwrap_or_else(|e| panic!("{e}"))
}

/// The constants written into runtime/cpus/*.toml are what the fit produces from the file
/// (within the rounding they are written with): they cannot drift from it.
#[test]
fn fit_reproduces_the_profiles() {
    let r = report();
    let off = r.mismatches();
    assert!(
        off.is_empty(),
        "the profiles differ from `tinyaccel cpus --fit CSV`:\n{}",
        off.join("\n")
    );
}

/// Issue 19: Cortex-M4F with the reference kernels within 15 % latency and 25 % energy of
/// the MLPerf Tiny v0.5 reference run (NUCLEO-L4R5ZI, TFLite Micro) on all four models,
/// computed from the file and the model as users run it.
#[test]
fn m4f_reference_within_bounds_of_the_v05_reference_run() {
    let (rows, _) = rows();
    let p = CpuProfile::resolve("cortex-m4f@120MHz:reference").unwrap();
    let mut seen = Vec::new();
    for r in rows
        .iter()
        .filter(|r| r.round == "v0.5" && r.submitter == "reference" && r.system == "Nucleo-L4R5ZI")
    {
        let g = models::builtin(&r.benchmark)
            .unwrap_or_else(|| panic!("line {}: unknown benchmark {}", r.line, r.benchmark));
        let c = graph_cost(&p, &g).unwrap();
        let lat = r
            .latency_ms
            .expect("the v0.5 reference rows have latencies");
        let en = r.energy_uj.expect("the v0.5 reference rows have energies");
        let dl = (c.latency_ms() - lat) / lat;
        let de = (c.energy_uj() - en) / en;
        assert!(
            dl.abs() <= 0.15,
            "{}: latency {:.3} ms vs measured {lat} ms ({:+.1} %)",
            r.benchmark,
            c.latency_ms(),
            100.0 * dl
        );
        assert!(
            de.abs() <= 0.25,
            "{}: energy {:.1} uJ vs measured {en} uJ ({:+.1} %)",
            r.benchmark,
            c.energy_uj(),
            100.0 * de
        );
        seen.push(r.benchmark.clone());
    }
    seen.sort();
    assert_eq!(
        seen,
        ["ad", "ic", "kws", "vww"],
        "the four v0.5 reference rows"
    );
}

/// Held-out rows (round v1.0, never fitted), with the bounds docs/cpu-validation.md states:
/// latency of the M33 with CMSIS-NN (OctoML microTVM on the nRF5340) within 25 %; supply
/// power of the STM32U575 within 10 % and of the STM32L4R5 within 25 % (the OctoML runs
/// draw 13-20 % more than the others on the same board).
#[test]
fn held_out_rows_within_stated_bounds() {
    let r = report();
    let held: Vec<_> = r.latency_rows.iter().filter(|c| c.held_out).collect();
    assert_eq!(held.len(), 4, "the four OctoML nRF5340 rows");
    for c in held {
        assert_eq!(c.round, "v1.0");
        assert!(
            c.latency_err_pct.abs() <= 25.0,
            "{} {} {}: {:+.1} %",
            c.system,
            c.benchmark,
            c.profile,
            c.latency_err_pct
        );
    }
    let power: Vec<_> = r.power_rows.iter().filter(|c| c.held_out).collect();
    assert_eq!(power.len(), 12, "ST L4R5, OctoML L4R5 and ST U575 of v1.0");
    for c in power {
        let bound = if c.profile == "cortex-m33" {
            10.0
        } else {
            25.0
        };
        assert!(
            c.err_pct.abs() <= bound,
            "{} {} {}: {:+.1} % (bound {bound} %)",
            c.system,
            c.benchmark,
            c.profile,
            c.err_pct
        );
    }
    // Nothing held out was fitted: every fitted row is from v0.5 or v0.7.
    assert!(r
        .latency_rows
        .iter()
        .filter(|c| !c.held_out)
        .all(|c| c.round != "v1.0"));
    assert!(r
        .power_rows
        .iter()
        .filter(|c| !c.held_out)
        .all(|c| c.round != "v1.0"));
}

/// Vendor engines (X-CUBE-AI, Plumerai) on the profile's own core and clock are faster kernel
/// libraries: the reference-kernel prediction must be slower than every one of them, the
/// CMSIS-NN prediction at least 0.9x of each (X-CUBE-AI 7.1 on ad is the one row where
/// CMSIS-NN is predicted faster, 0.94x).
#[test]
fn vendor_engines_bound_the_profiles() {
    let r = report();
    assert!(r.bounds.len() >= 2 * 28, "bound rows: {}", r.bounds.len());
    for b in &r.bounds {
        let ratio = b.predicted_ms / b.vendor_ms;
        let min = if b.library == "reference" { 1.0 } else { 0.9 };
        assert!(
            ratio >= min,
            "{}:{} {} {} {}: predicted {:.3} ms, vendor {:.3} ms",
            b.profile,
            b.library,
            b.id,
            b.system,
            b.benchmark,
            b.predicted_ms,
            b.vendor_ms
        );
    }
}

/// Every profile and library says whether it is validated, and a profile with no matched
/// row says why (what `tinyaccel cpus` prints).
#[test]
fn every_profile_is_validated_or_says_why() {
    let r = report();
    for (name, libs) in &r.library_fits {
        for (lib, f) in libs {
            let rows = r
                .latency_rows
                .iter()
                .filter(|c| &c.profile == name && &c.library == lib)
                .count() as u32;
            assert_eq!(rows, f.rows_fitted + f.rows_held_out, "{name} {lib}");
            assert_eq!(rows == 0, !f.unvalidated.is_empty(), "{name} {lib}");
        }
    }
    let validated: Vec<String> = r
        .library_fits
        .iter()
        .flat_map(|(n, l)| {
            l.iter()
                .filter(|(_, f)| f.unvalidated.is_empty())
                .map(move |(lib, _)| format!("{n}:{lib}"))
        })
        .collect();
    assert_eq!(validated, ["cortex-m33:cmsis-nn", "cortex-m4f:reference"]);
}

/// Bad input gives errors naming the line and field; a system neither matched nor excluded
/// is an error, not silently ignored.
#[test]
fn malformed_files_are_rejected_clearly() {
    let (rows, _) = rows();
    let path = fit::locate_csv(Path::new(env!("CARGO_MANIFEST_DIR")));
    let text = std::fs::read_to_string(&path).unwrap();
    let header = text.lines().next().unwrap();
    let e = fit::parse_csv("a,b\n", "x.csv").unwrap_err().to_string();
    assert!(e.starts_with("x.csv:1: header"), "{e}");
    let bad = format!(
        "{header}\nv0.5,closed,reference,Nucleo-L4R5ZI,M4,TFLM,kws,5.5,fast,7373,repo,files\n"
    );
    let e = fit::parse_csv(&bad, "x.csv").unwrap_err().to_string();
    assert!(e.contains("x.csv:2") && e.contains("latency_ms"), "{e}");
    let e = fit::parse_csv(&format!("{header}\nv0.5,\"open\n"), "x.csv")
        .unwrap_err()
        .to_string();
    assert!(e.contains("unterminated"), "{e}");
    let mut extra = rows.clone();
    let mut new = extra[0].clone();
    new.submitter = "someone".into();
    new.system = "new-board".into();
    extra.push(new);
    let e = fit::fit(&extra, "x.csv").unwrap_err().to_string();
    assert!(
        e.contains("new-board") && e.contains("neither matched"),
        "{e}"
    );
    let missing: Vec<_> = rows
        .iter()
        .filter(|r| !(r.submitter == "renesas" && r.system == "EK-RA6M4" && r.benchmark == "ic"))
        .cloned()
        .collect();
    let e = fit::fit(&missing, "x.csv").unwrap_err().to_string();
    assert!(e.contains("no ic row") && e.contains("EK-RA6M4"), "{e}");
    let e = fit::read_csv(Path::new("/nonexistent/published.csv"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("/nonexistent/published.csv") && e.contains("TINYACCEL_SHARED"),
        "{e}"
    );
}

/// The fitted factors apply to the kernels the four benchmark models run and to no other
/// (`runtime::cost::profile::FITTED_KERNELS`): on every profile and library, the kernels of
/// the models' cost breakdowns are exactly that list (the unit test
/// `fitted_kernels_are_the_table_times_the_factors` checks that the others keep their table).
#[test]
fn the_fit_scales_only_the_kernels_the_published_rows_run() {
    use runtime::cost::profile::{CpuProfileData, FITTED_KERNELS};
    use std::collections::BTreeSet;
    let want: BTreeSet<&str> = FITTED_KERNELS.iter().copied().collect();
    for data in CpuProfileData::builtins() {
        for library in data.libraries.keys() {
            let spec = format!("{}:{library}", data.name);
            let p = CpuProfile::resolve(&spec).unwrap();
            let mut used = BTreeSet::new();
            for m in fit::BENCHMARKS {
                let g = models::builtin(m).unwrap();
                for l in graph_cost(&p, &g).unwrap().layers {
                    used.insert(l.kernel);
                }
            }
            assert_eq!(used, want, "{spec}: kernels the four models run");
        }
    }
}
