//! Verilog emission: the rust-hdl design of [`Core`] wrapped in `tinyaccel_core`, a module
//! with clean, packed ports (no `$` in any name a user or a testbench sees), a header with
//! the configuration's hash, and a JSON copy of the configuration.

use crate::core::{Core, CoreShape};
use crate::HdlError;
use arch::AccelConfig;
use rust_hdl::prelude::*;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Name of the generated design's top module (inside the wrapper).
pub const IMPL_MODULE: &str = "tinyaccel_core_impl";
/// Name of the wrapper, the module users instantiate.
pub const TOP_MODULE: &str = "tinyaccel_core";
/// File name of the emitted Verilog.
pub const VERILOG_FILE: &str = "tinyaccel_core.v";
/// File name of the configuration copy.
pub const CONFIG_FILE: &str = "tinyaccel_core.config.json";

/// Verilator warnings waived for the emitted code, with the reason (also written into the
/// file header). Only these are switched off; everything else of `-Wall` is clean.
pub const VERILATOR_WAIVERS: &[(&str, &str)] = &[
    (
        "DECLFILENAME",
        "all modules live in one file (rust-hdl names one module per instance)",
    ),
    (
        "UNUSEDSIGNAL",
        "the edge PEs' a/b outputs, w_load in output-stationary cores, the unused low bits of the PPU's 64-bit product and of the negated shift",
    ),
];

/// Most PEs the RTL generator builds (a 64x64 array): generation time and memory grow
/// faster than the PE count (measured with `tinyaccel hdl emit`: 32x32 in 3.6 s and 62 MB,
/// 64x64 in 20 s and 246 MB, 256x256 over 5 minutes and 1.2 GB), so larger arrays are
/// refused up front rather than left to run for minutes. The simulator has no such limit.
pub const MAX_RTL_PES: u32 = 64 * 64;

/// Checks that the configuration can be generated: `rows, cols >= 1` (which
/// `AccelConfig::validate` already guarantees; this keeps the library panic-free for
/// hand-built configs) and at most [`MAX_RTL_PES`] PEs.
pub fn shape_of(cfg: &AccelConfig) -> Result<CoreShape, HdlError> {
    if cfg.rows == 0 || cfg.cols == 0 || cfg.rows > 256 || cfg.cols > 256 {
        return Err(HdlError::Config(format!(
            "config `{}`: rows = {}, cols = {}: the core needs 1..=256 PEs per side",
            cfg.name, cfg.rows, cfg.cols
        )));
    }
    if cfg.rows * cfg.cols > MAX_RTL_PES {
        return Err(HdlError::Config(format!(
            "config `{}`: a {}x{} array has {} PEs; the RTL generator builds at most {MAX_RTL_PES} \
             (64x64) in bounded time and memory (the simulator takes larger arrays)",
            cfg.name,
            cfg.rows,
            cfg.cols,
            cfg.rows * cfg.cols
        )));
    }
    Ok(CoreShape::of(cfg))
}

/// The Verilog of the rust-hdl design, its top module renamed to [`IMPL_MODULE`].
pub fn impl_verilog(shape: CoreShape) -> String {
    let mut core = Core::new(shape);
    core.connect_all();
    let v = generate_verilog_unchecked(&core);
    v.replace("module top(", &format!("module {IMPL_MODULE}("))
        .replace("module top$", &format!("module {IMPL_MODULE}$"))
        .replace("endmodule // top", &format!("endmodule // {IMPL_MODULE}"))
        .lines()
        .map(|l| {
            // Submodule instantiations: `    top$x$y name(`.
            let t = l.trim_start();
            if t.starts_with("top$") {
                l.replacen("top$", &format!("{IMPL_MODULE}$"), 1)
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The wrapper module with packed ports (see [`crate::core`] for the protocol).
pub fn wrapper_verilog(shape: CoreShape) -> String {
    let CoreShape {
        rows: r, cols: c, ..
    } = shape;
    let mut w = String::new();
    let _ = writeln!(
        w,
        "module {TOP_MODULE} (
    input  wire              clk,
    input  wire              rst,
    // Array operands (see hdl::core for the protocol of each dataflow).
    input  wire              in_valid,
    input  wire              in_last,
    input  wire              w_load,
    input  wire [{a}:0] a_vec,
    input  wire [{b}:0] b_vec,
    output wire              out_valid,
    output wire              out_last,
    output wire [{acc}:0] out_acc,
    // Post-processing unit.
    input  wire              ppu_valid_in,
    input  wire [{acc}:0] ppu_acc,
    input  wire [{acc}:0] ppu_bias,
    input  wire [{acc}:0] ppu_mult,
    input  wire [{b}:0] ppu_shift,
    input  wire [{b}:0] ppu_shift_r,
    input  wire [31:0]       ppu_zp,
    input  wire [7:0]        ppu_act_min,
    input  wire [7:0]        ppu_act_max,
    output wire              ppu_valid_out,
    output wire [{b}:0] ppu_q
);",
        a = r * 8 - 1,
        b = c * 8 - 1,
        acc = c * 32 - 1
    );
    let _ = writeln!(w, "    {IMPL_MODULE} u_core (");
    let mut conns = vec![
        ".clock(clk)".to_string(),
        ".rst(rst)".into(),
        ".in_valid(in_valid)".into(),
        ".in_last(in_last)".into(),
        ".w_load(w_load)".into(),
        ".out_valid(out_valid)".into(),
        ".out_last(out_last)".into(),
        ".ppu_valid_in(ppu_valid_in)".into(),
        ".zp(ppu_zp)".into(),
        ".act_min(ppu_act_min)".into(),
        ".act_max(ppu_act_max)".into(),
        ".ppu_valid_out(ppu_valid_out)".into(),
    ];
    for i in 0..r {
        conns.push(format!(".a_in${i}(a_vec[{}:{}])", 8 * i + 7, 8 * i));
    }
    for j in 0..c {
        let (h8, l8) = (8 * j + 7, 8 * j);
        let (h32, l32) = (32 * j + 31, 32 * j);
        conns.push(format!(".b_in${j}(b_vec[{h8}:{l8}])"));
        conns.push(format!(".out_acc${j}(out_acc[{h32}:{l32}])"));
        conns.push(format!(".ppu_acc${j}(ppu_acc[{h32}:{l32}])"));
        conns.push(format!(".bias${j}(ppu_bias[{h32}:{l32}])"));
        conns.push(format!(".mult${j}(ppu_mult[{h32}:{l32}])"));
        conns.push(format!(".shift${j}(ppu_shift[{h8}:{l8}])"));
        conns.push(format!(".shift_r${j}(ppu_shift_r[{h8}:{l8}])"));
        conns.push(format!(".ppu_q${j}(ppu_q[{h8}:{l8}])"));
    }
    let _ = writeln!(w, "        {}", conns.join(",\n        "));
    let _ = writeln!(w, "    );\nendmodule // {TOP_MODULE}");
    w
}

/// The complete emitted file: header, wrapper, generated design.
pub fn core_verilog(cfg: &AccelConfig) -> Result<String, HdlError> {
    let shape = shape_of(cfg)?;
    let mut h = String::new();
    let _ = writeln!(
        h,
        "// tinyaccel compute core, generated by `tinyaccel hdl emit` (crate hdl, rust-hdl 0.46)."
    );
    let _ = writeln!(
        h,
        "// config `{}`: {}x{} {}, config hash {}",
        cfg.name,
        cfg.rows,
        cfg.cols,
        cfg.dataflow,
        cfg.hash()
    );
    let _ = writeln!(
        h,
        "// Top module: {TOP_MODULE}. Protocol and timing: hdl/src/core.rs (cargo doc -p hdl)."
    );
    let _ = writeln!(
        h,
        "// Lint: verilator --lint-only -Wall with these waivers (switched off below):"
    );
    for (w, why) in VERILATOR_WAIVERS {
        let _ = writeln!(h, "//   {w}: {why}");
    }
    for (w, _) in VERILATOR_WAIVERS {
        let _ = writeln!(h, "/* verilator lint_off {w} */");
    }
    let _ = writeln!(h, "`default_nettype none");
    let _ = writeln!(h);
    h.push_str(&wrapper_verilog(shape));
    h.push_str(&impl_verilog(shape));
    h.push_str("\n`default_nettype wire\n");
    Ok(h)
}

/// Writes `contents` to `path` atomically (a temporary file in the same folder, then a
/// rename).
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), HdlError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    std::fs::write(&tmp, contents).map_err(|e| HdlError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        HdlError::io(path, e)
    })
}

/// What [`emit`] wrote.
#[derive(Debug, Clone)]
pub struct Emitted {
    pub verilog: PathBuf,
    pub config_json: PathBuf,
    pub verilog_bytes: usize,
    pub hash: String,
    /// The whole accelerator ([`crate::system::SYSTEM_FILE`]) and its size, or why the
    /// system RTL cannot be generated for this configuration.
    pub system: Result<(PathBuf, usize), String>,
}

/// Writes [`VERILOG_FILE`], [`CONFIG_FILE`] and, when the configuration supports it, the
/// whole accelerator ([`crate::system::SYSTEM_FILE`]) into `out_dir` (created if missing).
pub fn emit(cfg: &AccelConfig, out_dir: &Path) -> Result<Emitted, HdlError> {
    std::fs::create_dir_all(out_dir).map_err(|e| HdlError::io(out_dir, e))?;
    let v = core_verilog(cfg)?;
    let verilog = out_dir.join(VERILOG_FILE);
    write_atomic(&verilog, v.as_bytes())?;
    let json = serde_json::to_string_pretty(cfg)
        .map_err(|e| HdlError::Config(format!("config `{}`: {e}", cfg.name)))?;
    let config_json = out_dir.join(CONFIG_FILE);
    write_atomic(&config_json, json.as_bytes())?;
    let system = match crate::system::system_verilog(cfg) {
        Ok(sv) => {
            let path = out_dir.join(crate::system::SYSTEM_FILE);
            write_atomic(&path, sv.as_bytes())?;
            Ok((path, sv.len()))
        }
        Err(e) => Err(e.to_string()),
    };
    Ok(Emitted {
        verilog,
        config_json,
        verilog_bytes: v.len(),
        hash: cfg.hash(),
        system,
    })
}

/// `verilator --lint-only -Wall --top-module TOP FILE` (waivers are written in the file):
/// the warnings and errors it prints, empty when clean.
pub fn verilator_lint(verilog: &Path, top: &str) -> Result<Vec<String>, HdlError> {
    crate::verilator::verilator_version()?;
    let out = std::process::Command::new("verilator")
        .args(["--lint-only", "-Wall", "--top-module", top])
        .arg(verilog)
        .output()
        .map_err(|e| HdlError::Tool(format!("cannot run verilator: {e}")))?;
    let text = String::from_utf8_lossy(&out.stderr);
    let warnings: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("%Warning") || l.starts_with("%Error"))
        .map(str::to_string)
        .collect();
    if !out.status.success() && warnings.is_empty() {
        return Err(HdlError::Tool(format!(
            "verilator --lint-only failed on {}: {text}",
            verilog.display()
        )));
    }
    Ok(warnings)
}

/// The result of [`lint`]: both tools ran and accepted the file.
#[derive(Debug, Clone)]
pub struct LintReport {
    /// Verilator's warnings (empty when clean).
    pub verilator_warnings: Vec<String>,
    /// Latches yosys inferred after `proc` (must be zero).
    pub latches: usize,
    pub verilator_seconds: f64,
    pub yosys_seconds: f64,
}

/// `verilator --lint-only -Wall` (with the waivers written into the file) and yosys
/// `hierarchy -check; proc`, asserting no latch was inferred.
pub fn lint(verilog: &Path) -> Result<LintReport, HdlError> {
    use std::process::Command;
    let hint = "install it with `sudo apt-get install -y verilator yosys` (or `make deps`)";
    let t0 = std::time::Instant::now();
    let warnings = verilator_lint(verilog, TOP_MODULE)?;
    let verilator_seconds = t0.elapsed().as_secs_f64();
    let t1 = std::time::Instant::now();
    let script = format!(
        "read_verilog {}; hierarchy -check -top {TOP_MODULE}; proc; select -assert-none t:$dlatch t:$adlatch t:$dlatchsr t:$_DLATCH_*",
        verilog.display()
    );
    let out = Command::new("yosys")
        .args(["-q", "-p", &script])
        .output()
        .map_err(|e| HdlError::Tool(format!("yosys not found ({e}): {hint}")))?;
    let yosys_seconds = t1.elapsed().as_secs_f64();
    let log =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(HdlError::Tool(format!(
            "yosys rejected {} (hierarchy, proc, or an inferred latch): {}",
            verilog.display(),
            log.lines().rev().take(10).collect::<Vec<_>>().join("\n")
        )));
    }
    // `select -assert-none` failed above (non-zero exit) if any latch was inferred.
    let latches = 0;
    Ok(LintReport {
        verilator_warnings: warnings,
        latches,
        verilator_seconds,
        yosys_seconds,
    })
}
