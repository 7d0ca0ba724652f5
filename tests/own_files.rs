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
