//! The MLPerf Tiny reference set as laid out in `shared/models/mlperf_tiny/`: the four
//! `.tflite` files and, per model, the TFLite-Micro golden runs `golden/<model>/input_<run>.bin`
//! with `output_<run>_tflm.bin`. One place for the file names and the run listing, used by
//! every golden test (runtime, driver offload, RTL co-simulation, CLI).

use std::path::{Path, PathBuf};

/// Built-in name -> reference `.tflite` file.
pub const REFERENCE_FILES: [(&str, &str); 4] = [
    ("kws", "kws_ref_model.tflite"),
    ("vww", "vww_96_int8.tflite"),
    ("ic", "pretrainedResnet_quant.tflite"),
    ("ad", "ad01_int8.tflite"),
];

/// The reference file of built-in model `name`.
pub fn reference_file(name: &str) -> Option<&'static str> {
    REFERENCE_FILES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
}

/// The `mlperf_tiny` folder for a crate at `manifest_dir`: `$TINYACCEL_SHARED/models/mlperf_tiny`
/// when that variable is set, else `shared/models/mlperf_tiny` beside the nearest ancestor
/// that has one (the repository sits next to `shared/`), else where it would be beside the
/// repository root (so that a missing folder is named in the error).
pub fn locate(manifest_dir: &Path) -> PathBuf {
    const SUB: &str = "models/mlperf_tiny";
    if let Some(s) = std::env::var_os("TINYACCEL_SHARED").filter(|s| !s.is_empty()) {
        return PathBuf::from(s).join(SUB);
    }
    manifest_dir
        .ancestors()
        .map(|a| a.join("shared").join(SUB))
        .find(|d| d.is_dir())
        .unwrap_or_else(|| manifest_dir.join("../shared").join(SUB))
}

/// One golden run: input and TFLite-Micro output bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoldenRun {
    pub name: String,
    pub input: Vec<u8>,
    pub output: Vec<u8>,
}

/// Why the golden runs could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GoldenError {
    #[error("{path}: {source} (the MLPerf Tiny models and TFLM goldens, see their README.md)")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}: no input_*.bin golden inputs")]
    Empty(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> GoldenError + '_ {
    move |source| GoldenError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The run names in a model's golden folder (`input_<name>.bin`), sorted; at least one.
pub fn golden_run_names(dir: &Path) -> Result<Vec<String>, GoldenError> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.strip_prefix("input_")
                .and_then(|r| r.strip_suffix(".bin"))
                .map(str::to_string)
        })
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(GoldenError::Empty(dir.to_path_buf()));
    }
    Ok(names)
}

/// Every golden run in a model's golden folder, with its input and output bytes.
pub fn golden_runs(dir: &Path) -> Result<Vec<GoldenRun>, GoldenError> {
    golden_run_names(dir)?
        .into_iter()
        .map(|name| {
            let i = dir.join(format!("input_{name}.bin"));
            let o = dir.join(format!("output_{name}_tflm.bin"));
            Ok(GoldenRun {
                input: std::fs::read(&i).map_err(io(&i))?,
                output: std::fs::read(&o).map_err(io(&o))?,
                name,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_listing() {
        assert_eq!(reference_file("ic"), Some("pretrainedResnet_quant.tflite"));
        assert_eq!(reference_file("nope"), None);
        let d = std::env::temp_dir().join(format!("tinyaccel-golden-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        assert!(matches!(golden_run_names(&d), Err(GoldenError::Empty(_))));
        for n in ["b", "a"] {
            std::fs::write(d.join(format!("input_{n}.bin")), [1, 2]).unwrap();
        }
        std::fs::write(d.join("output_a_tflm.bin"), [3]).unwrap();
        assert_eq!(golden_run_names(&d).unwrap(), ["a", "b"]);
        // b has no output: the error names the file.
        let e = golden_runs(&d).unwrap_err().to_string();
        assert!(e.contains("output_b_tflm.bin"), "{e}");
        std::fs::write(d.join("output_b_tflm.bin"), [4]).unwrap();
        let runs = golden_runs(&d).unwrap();
        assert_eq!(runs[0].input, [1, 2]);
        assert_eq!(runs[1].output, [4]);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
