//! Helpers shared by the runtime's integration tests.

use std::path::PathBuf;

/// The MLPerf Tiny models and TFLite-Micro goldens: `../shared/models/mlperf_tiny` next
/// to the repository (as in the README), or `$TINYACCEL_SHARED/models/mlperf_tiny` when
/// that variable is set (for checkouts that do not sit next to `shared/`, e.g. worktrees).
pub fn mlperf_tiny_dir() -> PathBuf {
    let d = models::mlperf_tiny::locate(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
    assert!(
        d.join("golden").is_dir(),
        "golden data missing at {} (the MLPerf Tiny models and TFLM goldens, see its README.md; \
         set TINYACCEL_SHARED to the shared directory if it is elsewhere)",
        d.display()
    );
    d
}
