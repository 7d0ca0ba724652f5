//! The cluster path end to end: `scripts/sweep.sbatch` and `scripts/search.sbatch` as job
//! arrays plus their dependent merge jobs on the single-node SLURM cluster of
//! `scripts/slurm/start.sh` (`make test` starts it), compared byte for byte with the same
//! work run locally: an unsharded `tinyaccel sweep`, and `tinyaccel search --shard I/N`
//! for every island followed by `tinyaccel search merge`.
//!
//! The cluster is required: without `sbatch`/`squeue`, or with the cluster down, the tests
//! fail and name the command that starts it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const START: &str = "scripts/slurm/start.sh";
/// A guard against a hung cluster, not a performance bound: the jobs take seconds.
const JOB_TIMEOUT: Duration = Duration::from_secs(600);
/// Shards (sweep) and islands (search) per array.
const TASKS: usize = 4;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The cluster's slurm.conf, as scripts/slurm/env.sh places it.
fn slurm_conf() -> PathBuf {
    let dir = std::env::var_os("TINYACCEL_SLURM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/tinyaccel-slurm"));
    dir.join("slurm.conf")
}

/// A SLURM client command talking to the test cluster.
fn slurm(program: &str) -> Command {
    let mut c = Command::new(program);
    c.env("SLURM_CONF", slurm_conf()).current_dir(root());
    c
}

/// Runs a SLURM client command; a missing program or a failure names the start command.
fn run(c: &mut Command) -> String {
    let out = c.output().unwrap_or_else(|e| {
        panic!(
            "{:?} could not run ({e}): start the single-node SLURM cluster with {START} \
             (`make test` does)",
            c.get_program()
        )
    });
    assert!(
        out.status.success(),
        "{c:?} failed ({}): {}{}\nIs the single-node SLURM cluster running? Start it with {START}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Fails unless the cluster answers and its node takes jobs.
fn require_cluster() {
    for program in ["sbatch", "squeue", "scontrol", "sinfo"] {
        run(slurm(program).arg("--version"));
    }
    let conf = slurm_conf();
    assert!(
        conf.is_file(),
        "{} does not exist: start the single-node SLURM cluster with {START} (`make test` does)",
        conf.display()
    );
    let ping = run(slurm("scontrol").arg("ping"));
    assert!(
        ping.contains("is UP"),
        "slurmctld of {} is not up ({}): start it with {START}",
        conf.display(),
        ping.trim()
    );
    let state = run(slurm("sinfo").args(["-h", "-N", "-o", "%T"]));
    assert!(
        ["idle", "mixed", "allocated", "completing"].contains(&state.trim().trim_end_matches('*')),
        "the SLURM node of {} is not available (state '{}'): restart it with {START}",
        conf.display(),
        state.trim()
    );
}

/// Submits with `sbatch --parsable` and returns the job id.
fn sbatch(env: &[(&str, &Path)], args: &[&str]) -> String {
    let mut c = slurm("sbatch");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = run(c.arg("--parsable").args(args));
    let id = out.trim().split(';').next().unwrap_or_default().to_string();
    assert!(
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()),
        "sbatch {args:?} printed no job id: {out}"
    );
    id
}

/// `KEY=value` fields of one `scontrol show job -o` line.
fn fields(line: &str) -> BTreeMap<&str, &str> {
    line.split_whitespace()
        .filter_map(|f| f.split_once('='))
        .collect()
}

/// The logs of the jobs, for failure messages.
fn logs(dir: &Path) -> String {
    let mut text = String::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths {
            text += &format!(
                "--- {}\n{}\n",
                p.display(),
                std::fs::read_to_string(&p).unwrap_or_default()
            );
        }
    }
    text
}

/// Waits until every task of the job has completed; fails on a failed task, on a job the
/// cluster cannot run (pending for a reason other than waiting its turn), or after
/// JOB_TIMEOUT.
fn wait(job: &str, log_dir: &Path) {
    let start = Instant::now();
    loop {
        let out = run(slurm("scontrol").args(["show", "job", "-o", job]));
        let mut done = true;
        for line in out.lines().filter(|l| !l.trim().is_empty()) {
            let f = fields(line);
            let state = f.get("JobState").copied().unwrap_or("?");
            let reason = f.get("Reason").copied().unwrap_or("?");
            match state {
                "COMPLETED" => {}
                "PENDING" | "RUNNING" | "COMPLETING" | "CONFIGURING" => {
                    done = false;
                    let waiting = [
                        "None",
                        "Priority",
                        "Resources",
                        "Dependency",
                        "BeginTime",
                        "JobArrayTaskLimit",
                        "Prolog",
                    ];
                    assert!(
                        state != "PENDING" || waiting.contains(&reason),
                        "job {job} cannot start (reason {reason}):\n{line}\n{}",
                        logs(log_dir)
                    );
                }
                _ => panic!(
                    "job {job} ended {state} (reason {reason}):\n{line}\n{}",
                    logs(log_dir)
                ),
            }
        }
        if done {
            return;
        }
        assert!(
            start.elapsed() < JOB_TIMEOUT,
            "job {job} not finished after {JOB_TIMEOUT:?}:\n{out}\n{}",
            logs(log_dir)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Every file under `dir` (relative path -> bytes), skipping the top-level folder `skip`.
fn tree(dir: &Path, skip: Option<&str>) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, skip: Option<&str>, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                if Some(rel.as_str()) != skip {
                    walk(base, &p, skip, out);
                }
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, skip, &mut out);
    out
}

/// Byte-for-byte equality of two file trees, naming the first difference.
fn assert_same(local: &BTreeMap<String, Vec<u8>>, cluster: &BTreeMap<String, Vec<u8>>) {
    let names = |t: &BTreeMap<String, Vec<u8>>| t.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(local), names(cluster), "different files");
    for (name, bytes) in local {
        assert!(
            &cluster[name] == bytes,
            "{name} differs between the local run and the cluster's"
        );
    }
}

fn tinyaccel() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tinyaccel"));
    c.current_dir(root());
    c
}

fn ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{c:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn sweep_array_and_merge_on_slurm_equal_an_unsharded_sweep() {
    require_cluster();
    let tmp = tempfile::tempdir().unwrap();
    let (out, logs_dir, local) = (
        tmp.path().join("cluster"),
        tmp.path().join("logs"),
        tmp.path().join("local"),
    );
    let grid = root().join("sweeps/conv-features.toml");
    // sbatch does not create the folder of --output (the job would fail to launch).
    std::fs::create_dir_all(&logs_dir).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_tinyaccel"));
    let env = [
        ("TINYACCEL", bin),
        ("GRID", grid.as_path()),
        ("OUT", out.as_path()),
    ];
    let array = format!("--array=0-{}", TASKS - 1);
    let task_log = format!("--output={}/%A_%a.log", logs_dir.display());
    // The documented resource knob: --cpus-per-task on the command line (the script's
    // header requests none); the tasks run with --jobs 1 from SLURM_CPUS_PER_TASK.
    let shards = sbatch(
        &env,
        &[
            &array,
            "--cpus-per-task=1",
            &task_log,
            "scripts/sweep.sbatch",
        ],
    );
    let merge_log = format!("--output={}/merge-%j.log", logs_dir.display());
    let merge = sbatch(
        &env,
        &[
            &format!("--dependency=afterok:{shards}"),
            &merge_log,
            "scripts/sweep.sbatch",
            "merge",
        ],
    );
    wait(&shards, &logs_dir);
    wait(&merge, &logs_dir);

    let said = ok(tinyaccel()
        .args(["sweep", "--quiet", "--grid"])
        .arg(&grid)
        .arg("--out")
        .arg(&local));
    assert!(said.contains("48 designs x 4 models: 192 rows"), "{said}");
    for i in 0..TASKS {
        assert!(
            out.join(format!("shards/{i}/results.csv")).is_file(),
            "shard {i} missing:\n{}",
            logs(&logs_dir)
        );
    }
    let (a, b) = (tree(&local, None), tree(&out, Some("shards")));
    for f in [
        "results.csv",
        "pareto.csv",
        "summary.md",
        "sweep.json",
        "plots/pareto-kws.png",
    ] {
        assert!(a.contains_key(f), "the unsharded sweep wrote no {f}");
    }
    assert_same(&a, &b);
}

#[test]
fn search_islands_and_merge_on_slurm_equal_islands_run_by_hand() {
    require_cluster();
    let tmp = tempfile::tempdir().unwrap();
    let (out, logs_dir, local) = (
        tmp.path().join("cluster"),
        tmp.path().join("logs"),
        tmp.path().join("local"),
    );
    let grid = root().join("tests/data/grids/search-27k.toml");
    let grid = grid.to_str().unwrap();
    let search = [
        "--grid",
        grid,
        "--model",
        "kws",
        "--objective",
        "kws.latency,area",
        "--constraint",
        "kws.energy_uj <= 50",
        "--budget",
        "200",
        "--population",
        "20",
    ];
    // sbatch does not create the folder of --output (the job would fail to launch).
    std::fs::create_dir_all(&logs_dir).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_tinyaccel"));
    let env = [("TINYACCEL", bin), ("OUT", out.as_path())];
    let array = format!("--array=0-{}", TASKS - 1);
    let task_log = format!("--output={}/%A_%a.log", logs_dir.display());
    let islands = sbatch(
        &env,
        &[
            &[&array[..], &task_log, "scripts/search.sbatch"],
            &search[..],
        ]
        .concat(),
    );
    let merge_log = format!("--output={}/merge-%j.log", logs_dir.display());
    let merge = sbatch(
        &env,
        &[
            &format!("--dependency=afterok:{islands}"),
            &merge_log,
            "scripts/search.sbatch",
            "merge",
        ],
    );
    wait(&islands, &logs_dir);
    wait(&merge, &logs_dir);

    // The same islands by hand, in the same layout, and their merge.
    let mut dirs = Vec::new();
    for i in 0..TASKS {
        let dir = local.join(format!("islands/{i}"));
        ok(tinyaccel()
            .arg("search")
            .args(search)
            .args(["--quiet", "--shard", &format!("{i}/{TASKS}"), "--out"])
            .arg(&dir));
        dirs.push(dir);
    }
    let said = ok(tinyaccel()
        .args(["search", "merge", "--quiet", "--out"])
        .arg(&local)
        .args(&dirs));
    assert!(said.contains(&format!("merged {TASKS} islands")), "{said}");
    let (a, b) = (tree(&local, None), tree(&out, None));
    for f in ["results.csv", "front.csv", "search.md", "summary.md"] {
        assert!(a.contains_key(f), "the merged search wrote no {f}");
    }
    for i in 0..TASKS {
        assert!(
            a.contains_key(&format!("islands/{i}/results.csv")),
            "island {i} wrote no results.csv"
        );
    }
    assert_same(&a, &b);
}
