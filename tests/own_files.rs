//! Issue 24: the tool deletes or overwrites only files it wrote (the output folder's
//! manifest, `reports::fsutil::MANIFEST`), and never writes through a symbolic link out of
//! its output folder.

use std::path::Path;
use std::process::Command as Proc;

fn report(out: &Path, models: &[&str]) -> std::process::Output {
    let mut args = vec!["report", "--no-png", "--out", out.to_str().unwrap()];
    for m in models {
        args.extend(["--model", m]);
    }
    Proc::new(env!("CARGO_BIN_EXE_tinyaccel"))
        .args(&args)
        .output()
        .unwrap()
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("tinyaccel-own-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn user_files_in_the_output_folder_survive() {
    let out = tmp("survive");
    let plots = out.join("plots");
    std::fs::create_dir_all(&plots).unwrap();
    // Names the report itself uses as prefixes, and a name it writes on other runs.
    for f in [
        "latency-figure1.svg",
        "roofline-mine.png",
        "energy-breakdown-old.svg",
    ] {
        std::fs::write(plots.join(f), b"user").unwrap();
    }
    std::fs::write(out.join("ablation.md"), b"user notes").unwrap();
    let first = report(&out, &["ad", "kws"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let ours: Vec<String> = std::fs::read_dir(&plots)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("kws"))
        .collect();
    assert!(!ours.is_empty(), "the report writes per-model plots");
    // A second report without kws removes kws's plots (they are ours), not the user's.
    let second = report(&out, &["ad"]);
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    for f in &ours {
        assert!(
            !plots.join(f).exists(),
            "stale plot {f} of our own first run kept"
        );
    }
    for f in [
        "latency-figure1.svg",
        "roofline-mine.png",
        "energy-breakdown-old.svg",
    ] {
        assert_eq!(std::fs::read(plots.join(f)).unwrap(), b"user", "{f}");
    }
    assert_eq!(
        std::fs::read(out.join("ablation.md")).unwrap(),
        b"user notes"
    );
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_symlinked_plots_folder_is_refused_not_followed() {
    let out = tmp("link");
    let elsewhere = tmp("elsewhere");
    std::fs::write(elsewhere.join("latency-figure1.svg"), b"user").unwrap();
    std::os::unix::fs::symlink(&elsewhere, out.join("plots")).unwrap();
    let r = report(&out, &["ad"]);
    assert_eq!(
        r.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("symbolic link"), "{err}");
    let names: Vec<_> = std::fs::read_dir(&elsewhere).unwrap().collect();
    assert_eq!(names.len(), 1, "nothing written through the link");
    std::fs::remove_dir_all(&out).unwrap();
    std::fs::remove_dir_all(&elsewhere).unwrap();
}

/// Sweeps and merges: files the user put in the output folder (named like the sweep's
/// own plots, like its temporary sort runs, or anything else) survive a run, a resumed
/// run and a merge into that folder.
#[test]
fn user_files_in_a_sweep_folder_survive_runs_resumes_and_merges() {
    let base = tmp("sweep");
    let grid = base.join("g.toml");
    std::fs::write(
        &grid,
        "base = \"tiny-4x4\"\n[sweep]\nrows = [2, 4]\ncols = [2, 4]\n",
    )
    .unwrap();
    let user_files = [
        "plots/pareto-figure1.svg",
        "plots/sensitivity-mine.png",
        "results-backup.csv",
        ".tinyaccel-sort-1-0.csv",
        "notes.md",
    ];
    let plant = |dir: &Path| {
        for f in user_files {
            let p = dir.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, format!("user's {f}")).unwrap();
        }
    };
    let check = |dir: &Path, when: &str| {
        for f in user_files {
            let got = std::fs::read_to_string(dir.join(f))
                .unwrap_or_else(|e| panic!("{when}: the user's {f} is gone: {e}"));
            assert_eq!(got, format!("user's {f}"), "{when}: {f} was overwritten");
        }
    };
    let sweep = |args: &[&str]| {
        let o = Proc::new(env!("CARGO_BIN_EXE_tinyaccel"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    let whole = base.join("whole");
    plant(&whole);
    let g = grid.to_str().unwrap();
    let w = whole.to_str().unwrap();
    sweep(&["sweep", "--grid", g, "--model", "ad", "--out", w, "--quiet"]);
    check(&whole, "after the sweep");
    sweep(&["sweep", "--grid", g, "--model", "ad", "--out", w, "--quiet"]);
    check(&whole, "after the resumed sweep");
    // Two shards merged into a folder holding the user's files.
    let mut shards = Vec::new();
    for i in 0..2 {
        let d = base.join(format!("shard{i}"));
        let s = format!("{i}/2");
        sweep(&[
            "sweep",
            "--grid",
            g,
            "--model",
            "ad",
            "--shard",
            &s,
            "--out",
            d.to_str().unwrap(),
            "--quiet",
            "--no-png",
        ]);
        shards.push(d);
    }
    let merged = base.join("merged");
    plant(&merged);
    sweep(&[
        "sweep",
        "merge",
        shards[0].to_str().unwrap(),
        shards[1].to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
        "--quiet",
    ]);
    check(&merged, "after the merge");
    assert_eq!(
        std::fs::read(merged.join("results.csv")).unwrap(),
        std::fs::read(whole.join("results.csv")).unwrap(),
        "merged shards differ from the unsharded sweep"
    );
    let _ = std::fs::remove_dir_all(&base);
}
