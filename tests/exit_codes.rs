//! Exit codes of the binary (docs/errors.md): 0 success, 1 user error, 2 internal error.
//! Every user error below exits 1 with one `tinyaccel: error:` line that names the file
//! or field at fault, and never a panic message.

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tinyaccel"))
}

fn kws() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/models/mlperf_tiny/kws_ref_model.tflite");
    assert!(
        p.is_file(),
        "MLPerf Tiny KWS model missing at {}",
        p.display()
    );
    p
}

/// Runs `args`, expects exit 1 and a stderr containing every one of `want`.
fn user_error(args: &[&str], want: &[&str]) {
    let out = bin().args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: stderr:\n{err}");
    for w in want {
        assert!(
            err.contains(w),
            "{args:?}: stderr should contain {w:?}:\n{err}"
        );
    }
    assert!(
        !err.contains("panicked") && !err.contains("internal error"),
        "{args:?}:\n{err}"
    );
}

#[test]
fn config_validate_on_a_bad_file_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("huge.toml");
    let base = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/tiny-4x4.toml"),
    )
    .unwrap();
    std::fs::write(&p, base.replace("rows = 4", "rows = 1000000")).unwrap();
    user_error(
        &["config", "validate", p.to_str().unwrap()],
        &["huge.toml", "rows", "1000000"],
    );
}

#[test]
fn config_show_on_a_missing_file_exits_1() {
    let out = bin()
        .args(["config", "show", "no-such-config.toml"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no-such-config.toml"), "{err}");
    // The OS error is stated once, not repeated by the cause chain.
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");
}

#[test]
fn run_with_a_wrong_size_input_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("short.bin");
    std::fs::write(&p, [0u8; 5]).unwrap();
    user_error(
        &["run", "kws", "--input", p.to_str().unwrap()],
        &["short.bin", "5 bytes", "490"],
    );
}

#[test]
fn run_on_a_corrupted_tflite_exits_1() {
    let bytes = std::fs::read(kws()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let trunc = dir.path().join("truncated.tflite");
    std::fs::write(&trunc, &bytes[..20_000]).unwrap();
    user_error(
        &["run", trunc.to_str().unwrap()],
        &["truncated.tflite", "byte", "past the end"],
    );
    // The input shape vector's length patched to 2^31-1.
    let mut bad = bytes.clone();
    let shape: Vec<u8> = [4i32, 1, 49, 10, 1]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let at = bad
        .windows(shape.len())
        .position(|w| w == &shape[..])
        .expect("input shape in KWS");
    bad[at..at + 4].copy_from_slice(&i32::MAX.to_le_bytes());
    let p = dir.path().join("patched.tflite");
    std::fs::write(&p, &bad).unwrap();
    user_error(
        &["run", p.to_str().unwrap()],
        &["patched.tflite", "Tensor.shape", "overruns"],
    );
}

#[test]
fn bad_flag_values_exit_1_and_help_exits_0() {
    user_error(
        &["run", "kws", "--policy", "bogus"],
        &["bogus", "auto, all, none"],
    );
    user_error(&["run", "kws", "--cpu", "no-such-cpu"], &["no-such-cpu"]);
    user_error(&["no-such-subcommand"], &["no-such-subcommand"]);
    let out = bin().arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
}
