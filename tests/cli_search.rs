//! `tinyaccel search` end to end through the binary: against the exhaustive sweep of a
//! 27,648-design grid (hypervolume of the front with 10 % of the evaluations), constraint
//! queries met and unmet, resume and budget extension, islands and their merge, bad input.

use reports::search::hv::hypervolume;
use reports::sweep::results::{read_results, ResultRow, Status};
use std::path::Path;
use std::process::Command;

fn tinyaccel() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tinyaccel"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        c,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const GRID: &str = "tests/data/grids/search-27k.toml";
const DESIGNS: u64 = 27_648;

fn search(out: &Path, extra: &[&str]) -> String {
    let mut c = tinyaccel();
    c.args([
        "search", "--grid", GRID, "--model", "kws", "--no-png", "--quiet", "--out",
    ])
    .arg(out)
    .args(extra);
    ok(&mut c)
}

fn rows(dir: &Path) -> Vec<ResultRow> {
    let keys: Vec<String> = {
        let text = std::fs::read_to_string(dir.join("results.csv")).unwrap();
        let header: Vec<String> = text
            .lines()
            .next()
            .unwrap()
            .split(',')
            .map(String::from)
            .collect();
        let m = header.iter().position(|h| h == "model").unwrap();
        header[2..m].to_vec()
    };
    read_results(&dir.join("results.csv"), &keys).unwrap().rows
}

/// (latency, energy, area) of the `ok` rows.
fn points(rows: &[ResultRow]) -> Vec<Vec<f64>> {
    rows.iter()
        .filter(|r| r.status == Status::Ok)
        .map(|r| {
            let m = r.metrics.unwrap();
            vec![m.offload_us, m.offload_uj, m.area_mm2]
        })
        .collect()
}

#[test]
fn search_finds_the_exhaustive_front_with_a_tenth_of_the_evaluations() {
    let tmp = tempfile::tempdir().unwrap();
    let sweep = tmp.path().join("sweep");
    ok(tinyaccel()
        .args([
            "sweep", "--grid", GRID, "--model", "kws", "--no-png", "--quiet", "--out",
        ])
        .arg(&sweep));
    let all = rows(&sweep);
    assert_eq!(all.len() as u64, DESIGNS);
    let found = tmp.path().join("search");
    let budget = DESIGNS / 10;
    let said = search(
        &found,
        &[
            "--objective",
            "kws.latency,kws.energy,area",
            "--budget",
            &budget.to_string(),
            "--seed",
            "1",
        ],
    );
    assert!(
        said.contains(&format!("{budget} of {DESIGNS} designs evaluated")),
        "{said}"
    );
    let got = rows(&found);
    assert_eq!(got.len() as u64, budget);
    // The search's rows are the sweep's rows of the same designs (same evaluator).
    for r in &got {
        assert_eq!(*r, all[r.design as usize], "design {}", r.design);
    }
    // Hypervolume, objectives normalised over the whole grid, reference point 1.1.
    let (pa, pg) = (points(&all), points(&got));
    let lo: Vec<f64> = (0..3)
        .map(|i| pa.iter().map(|p| p[i]).fold(f64::INFINITY, f64::min))
        .collect();
    let hi: Vec<f64> = (0..3)
        .map(|i| pa.iter().map(|p| p[i]).fold(0.0, f64::max))
        .collect();
    let norm = |ps: &[Vec<f64>]| -> Vec<Vec<f64>> {
        ps.iter()
            .map(|p| (0..3).map(|i| (p[i] - lo[i]) / (hi[i] - lo[i])).collect())
            .collect()
    };
    let r = [1.1; 3];
    let full = hypervolume(&norm(&pa), &r);
    let part = hypervolume(&norm(&pg), &r);
    assert!(
        part / full >= 0.9,
        "search hypervolume {part} is {:.1} % of the exhaustive {full}",
        100.0 * part / full
    );
    // The hypervolume of such a grid is forgiving (a uniform random sample of the same size
    // reaches about 0.99 of it too), so also count the exact front's designs found: the
    // search must find at least 90 % of them, and more than a seeded random sample of the
    // same size does (which finds 0-1 of the 22 on this grid).
    let front_of = |rs: &[&ResultRow]| -> Vec<u64> {
        let mut pts: Vec<(Vec<f64>, u64)> = rs
            .iter()
            .filter(|r| r.status == Status::Ok)
            .map(|r| {
                let m = r.metrics.unwrap();
                (vec![m.offload_us, m.offload_uj, m.area_mm2], r.design)
            })
            .collect();
        pts.sort_by(|a, b| {
            (0..3)
                .map(|i| a.0[i].total_cmp(&b.0[i]))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let mut front: Vec<(Vec<f64>, u64)> = Vec::new();
        for p in pts {
            if !front
                .iter()
                .any(|f| (0..3).all(|i| f.0[i] <= p.0[i]) && f.0 != p.0)
            {
                front.push(p);
            }
        }
        let mut d: Vec<u64> = front.into_iter().map(|(_, d)| d).collect();
        d.sort_unstable();
        d
    };
    let exact = front_of(&all.iter().collect::<Vec<_>>());
    let found_designs: std::collections::HashSet<u64> = got.iter().map(|r| r.design).collect();
    let recall = exact.iter().filter(|d| found_designs.contains(d)).count();
    let mut s: u64 = 12345;
    let mut sample = std::collections::BTreeSet::new();
    while (sample.len() as u64) < budget {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        sample.insert(s % DESIGNS);
    }
    let random_recall = exact.iter().filter(|d| sample.contains(d)).count();
    assert!(
        recall * 10 >= exact.len() * 9 && recall > random_recall,
        "the search found {recall} of the {} designs of the exact front (a random sample: {random_recall})",
        exact.len()
    );
    // generations.csv ends at the budget; front.csv lists the non-dominated designs.
    let gens = std::fs::read_to_string(found.join("generations.csv")).unwrap();
    let last = gens.lines().last().unwrap();
    assert_eq!(last.split(',').nth(1).unwrap(), budget.to_string());
    let front = std::fs::read_to_string(found.join("front.csv")).unwrap();
    assert!(front.lines().count() > 2, "{front}");
    for f in ["search.md", "summary.md", "pareto.csv", "search.json"] {
        assert!(found.join(f).is_file(), "{f}");
    }

    // A constraint query: the smallest design whose kws latency is at most the grid's
    // median. The answer meets it and is the grid's smallest such design.
    let mut lat: Vec<f64> = pa.iter().map(|p| p[0]).collect();
    lat.sort_by(f64::total_cmp);
    let bound_ms = lat[lat.len() / 2] / 1000.0;
    let best = all
        .iter()
        .filter(|r| r.status == Status::Ok && r.metrics.unwrap().offload_us / 1000.0 <= bound_ms)
        .min_by(|a, b| {
            a.metrics
                .unwrap()
                .area_mm2
                .total_cmp(&b.metrics.unwrap().area_mm2)
        })
        .unwrap();
    let q = tmp.path().join("query");
    let constraint = format!("kws.latency_ms <= {bound_ms}");
    let said = search(
        &q,
        &[
            "--objective",
            "area",
            "--constraint",
            &constraint,
            "--budget",
            &budget.to_string(),
        ],
    );
    assert!(
        said.contains("best area_mm2 meeting the constraints: design "),
        "{said}"
    );
    let design: u64 = said
        .split("design ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let m = all[design as usize].metrics.unwrap();
    assert!(m.offload_us / 1000.0 <= bound_ms);
    assert_eq!(m.area_mm2, best.metrics.unwrap().area_mm2, "{said}");

    // An impossible query says so and names the closest design.
    let q2 = tmp.path().join("query2");
    let said = search(
        &q2,
        &[
            "--objective",
            "area",
            "--constraint",
            "kws.latency_ms <= 0.001",
            "--budget",
            "300",
        ],
    );
    assert!(
        said.contains("no evaluated design meets the constraints; the closest is design"),
        "{said}"
    );
    assert!(
        said.contains("kws.latency_ms = ") && said.contains("misses the bound 0.001"),
        "{said}"
    );
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn search_resumes_extends_and_merges_islands() {
    let tmp = tempfile::tempdir().unwrap();
    let args = ["--objective", "kws.latency,area", "--population", "20"];
    // A search extended from 300 to 600 evaluations equals one run with 600.
    let a = tmp.path().join("a");
    search(&a, &[&args[..], &["--budget", "300"]].concat());
    let said = search(&a, &[&args[..], &["--budget", "600"]].concat());
    assert!(
        said.contains("600 of 27648 designs evaluated (300 from an earlier run)"),
        "{said}"
    );
    let b = tmp.path().join("b");
    search(&b, &[&args[..], &["--budget", "600"]].concat());
    assert_eq!(files(&a), files(&b));
    // An interrupted run (a torn last line) resumes to the same files.
    let csv = a.join("results.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    let cut = text.len() - text.len() / 3 - 7;
    std::fs::write(&csv, &text[..cut]).unwrap();
    search(&a, &[&args[..], &["--budget", "600"]].concat());
    assert_eq!(files(&a), files(&b));
    // Another seed in the same folder is refused, naming what differs.
    let out = tinyaccel()
        .args([
            "search", "--grid", GRID, "--model", "kws", "--quiet", "--no-png", "--seed", "9",
            "--out",
        ])
        .arg(&a)
        .args(args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another search (seed 1 (now 9))"), "{err}");

    // Two islands and their merge.
    let (i0, i1, m) = (
        tmp.path().join("i0"),
        tmp.path().join("i1"),
        tmp.path().join("m"),
    );
    search(
        &i0,
        &[&args[..], &["--budget", "600", "--shard", "0/2"]].concat(),
    );
    search(
        &i1,
        &[&args[..], &["--budget", "600", "--shard", "1/2"]].concat(),
    );
    let (r0, r1) = (rows(&i0), rows(&i1));
    assert_eq!((r0.len(), r1.len()), (300, 300));
    assert_ne!(r0, r1, "islands take different paths");
    let said = ok(tinyaccel()
        .args(["search", "merge", "--quiet", "--no-png", "--out"])
        .arg(&m)
        .arg(&i0)
        .arg(&i1));
    let mut union: Vec<u64> = r0.iter().chain(&r1).map(|r| r.design).collect();
    union.sort_unstable();
    union.dedup();
    assert!(
        said.contains(&format!("{} designs evaluated", union.len())),
        "{said}"
    );
    assert_eq!(rows(&m).iter().map(|r| r.design).collect::<Vec<_>>(), union);
    assert!(m.join("summary.md").is_file() && m.join("front.csv").is_file());
    // An island of another search (another seed) is refused.
    let c = tmp.path().join("c");
    search(
        &c,
        &[
            &args[..],
            &["--budget", "100", "--seed", "9", "--shard", "1/2"],
        ]
        .concat(),
    );
    let out = tinyaccel()
        .args(["search", "merge", "--quiet", "--out"])
        .arg(tmp.path().join("m2"))
        .arg(&i0)
        .arg(&c)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an island of this search"));
}

#[test]
fn search_refuses_bad_objectives_and_constraints_by_name() {
    for (args, want) in [
        (vec!["--objective", "kws.speed"], "unknown metric `speed`"),
        (
            vec!["--objective", "vww.latency"],
            "model `vww` is not one of the searched models",
        ),
        (
            vec!["--constraint", "kws.latency_ms < 1"],
            "expected TARGET <= BOUND",
        ),
        (vec!["--population", "2"], "--population 2: at least 4"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tinyaccel()
            .args([
                "search", "--grid", GRID, "--model", "kws", "--quiet", "--out",
            ])
            .arg(tmp.path())
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}
