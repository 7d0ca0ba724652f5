//! Verilog emission: the rust-hdl design of [`Core`] wrapped in `tinyaccel_core`, a module
//! with clean, packed ports, every generated name legal without escaping (rust-hdl's `$`
//! separators become `__`, [`legal_names`]), a header with the configuration's hash, a JSON
//! copy of the configuration and, for an integrator, filelists, an SDC, the testbenches
//! and a README ([`emit`]).

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
    let v = v
        .replace("module top(", &format!("module {IMPL_MODULE}("))
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
        .join("\n");
    legal_names(&v)
}

/// rust-hdl joins the names of nested instances and signals with `$`
/// (`tinyaccel_core_impl$os_pes$12$acc`), legal Verilog but awkward in every tool and
/// script (shells, Tcl, SDC). Replaces every `$` inside an identifier with `__`; the `$`
/// of system tasks and functions (`$signed`, `$display`), which never follows an
/// identifier character, stays.
pub fn legal_names(v: &str) -> String {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(v.len() + v.len() / 16);
    let mut prev = ' ';
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && ident(prev) && chars.peek().is_some_and(|&n| ident(n)) {
            out.push_str("__");
            prev = '_';
            continue;
        }
        out.push(c);
        prev = c;
    }
    out
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
        conns.push(format!(".a_in__{i}(a_vec[{}:{}])", 8 * i + 7, 8 * i));
    }
    for j in 0..c {
        let (h8, l8) = (8 * j + 7, 8 * j);
        let (h32, l32) = (32 * j + 31, 32 * j);
        conns.push(format!(".b_in__{j}(b_vec[{h8}:{l8}])"));
        conns.push(format!(".out_acc__{j}(out_acc[{h32}:{l32}])"));
        conns.push(format!(".ppu_acc__{j}(ppu_acc[{h32}:{l32}])"));
        conns.push(format!(".bias__{j}(ppu_bias[{h32}:{l32}])"));
        conns.push(format!(".mult__{j}(ppu_mult[{h32}:{l32}])"));
        conns.push(format!(".shift__{j}(ppu_shift[{h8}:{l8}])"));
        conns.push(format!(".shift_r__{j}(ppu_shift_r[{h8}:{l8}])"));
        conns.push(format!(".ppu_q__{j}(ppu_q[{h8}:{l8}])"));
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
    /// The integration files: filelists, Verilator argument file, SDC, testbenches,
    /// README (paths relative to the output folder).
    pub support: Vec<PathBuf>,
}

/// Filelist of the core (one file, relative to the emitted folder).
pub const CORE_FILELIST: &str = "tinyaccel_core.f";
/// Filelist of the whole accelerator.
pub const SYSTEM_FILELIST: &str = "tinyaccel_accel.f";
/// Verilator argument file that builds the system testbench from the emitted folder.
pub const SYSTEM_TB_ARGS: &str = "verilator_system_tb.f";
/// Timing constraints.
pub const SDC_FILE: &str = "tinyaccel.sdc";
/// The folder's README.
pub const README_FILE: &str = "README.md";

/// The SDC of `cfg`: the clock on `clk` at the configured frequency. Input and output
/// delays are a stated starting budget (30 % of the period), not a measurement.
pub fn sdc(cfg: &AccelConfig) -> String {
    let period_ns = 1000.0 / cfg.clock_mhz;
    let io = 0.3 * period_ns;
    format!(
        "# tinyaccel `{name}` (config hash {hash}): {mhz} MHz target clock.\n\
         # Generated by `tinyaccel hdl emit`. The clock is the configuration's `clock_mhz`; the\n\
         # input and output delays are a starting budget (30 % of the period for the logic\n\
         # outside this block), to be replaced by the integrating SoC's numbers.\n\
         create_clock -name clk -period {period_ns:.4} [get_ports clk]\n\
         set_input_delay {io:.4} -clock clk [remove_from_collection [all_inputs] [get_ports clk]]\n\
         set_output_delay {io:.4} -clock clk [all_outputs]\n",
        name = cfg.name,
        hash = cfg.hash(),
        mhz = cfg.clock_mhz,
    )
}

/// The Verilator arguments that build the system testbench (`tb/system_tb.sv`) around
/// the emitted `tinyaccel_accel.v`, from the emitted folder alone (the same options and
/// waivers as `hdl verify --system`, [`crate::sysflow`]), for a device memory of
/// `mem_bytes`.
pub fn system_tb_args(cfg: &AccelConfig, mem_bytes: u64) -> String {
    let mut a = String::from(
        "// Build: cd <this folder> && verilator -f verilator_system_tb.f\n\
         // then run obj_dir/Vsys +dir=RUN_DIR (protocol: the header of tb/system_tb.sv).\n\
         --binary\n-Wall\n",
    );
    for o in crate::sysflow::OPTIONS.chunks(2) {
        let _ = writeln!(a, "{}", o.join(" "));
    }
    for w in crate::sysflow::WAIVERS {
        let _ = writeln!(a, "{w}");
    }
    let _ = writeln!(a, "--top-module {}", crate::system::TB_TOP);
    for p in crate::system::tb_params(cfg, mem_bytes) {
        let _ = writeln!(a, "{p}");
    }
    a.push_str("-o Vsys\ntb/system_tb.sv\n-f tinyaccel_accel.f\n");
    a
}

/// The folder's README: what each file is, the tops, how to lint, simulate and
/// synthesize, and what the RTL does not model.
pub fn readme(cfg: &AccelConfig, system: bool, mem_bytes: u64) -> String {
    let mut r = String::new();
    let _ = writeln!(
        r,
        "# tinyaccel RTL: `{}` ({}x{} {}, {} MHz, bus {} B/cycle)\n",
        cfg.name, cfg.rows, cfg.cols, cfg.dataflow, cfg.clock_mhz, cfg.bus_bytes_per_cycle
    );
    let _ = writeln!(
        r,
        "Generated by `tinyaccel hdl emit` from the configuration in `{CONFIG_FILE}` (hash \
         `{}`). Ports, bus and MMIO protocol, timing: `hdl/README.md` and \
         `docs/rtl-system.md` of the tinyaccel repository; the command set: \
         `docs/architecture.md`.\n",
        cfg.hash()
    );
    r.push_str("| file | what |\n|---|---|\n");
    let _ = writeln!(
        r,
        "| `{VERILOG_FILE}` | the compute core, top `{TOP_MODULE}` (array, PPU); generated by rust-hdl, one module per instance |"
    );
    let _ = writeln!(r, "| `{CORE_FILELIST}` | filelist of the core |");
    if system {
        let _ = writeln!(
            r,
            "| `{}` | the whole accelerator, top `{}`: controller and command queues, scratchpads, DMA, MMIO, the core (again, so that the file stands alone) and the optional units (im2col address generator, DMA tracking FIFO, vector unit) |",
            crate::system::SYSTEM_FILE,
            crate::system::TOP_MODULE
        );
        let _ = writeln!(
            r,
            "| `{SYSTEM_FILELIST}` | filelist of the whole accelerator |"
        );
        let _ = writeln!(
            r,
            "| `{SYSTEM_TB_ARGS}` | Verilator arguments building the system testbench from this folder (`verilator -f {SYSTEM_TB_ARGS}`), memory of {mem_bytes} bytes |"
        );
        r.push_str("| `tb/system_tb.sv` | testbench of the whole accelerator: main memory, bus with a protocol checker, the host (MMIO); requests on standard input (see its header) |\n");
    }
    r.push_str(
        "| `tb/core_tb.sv` | testbench of the core alone (tiles from files, see its header) |\n",
    );
    let _ = writeln!(
        r,
        "| `{SDC_FILE}` | the clock on `clk` at {} MHz; input/output delays are a starting budget |",
        cfg.clock_mhz
    );
    let _ = writeln!(r, "| `{CONFIG_FILE}` | the configuration |\n");
    r.push_str("## Use\n\n```sh\n");
    let _ = writeln!(
        r,
        "verilator --lint-only -Wall --top-module {TOP_MODULE} -f {CORE_FILELIST}   # waivers inside the file"
    );
    if system {
        let _ = writeln!(
            r,
            "verilator -f {SYSTEM_TB_ARGS}          # builds obj_dir/Vsys"
        );
        let _ = writeln!(
            r,
            "yosys -p 'read_verilog {}; hierarchy -check -top {}; proc; opt; stat'",
            crate::system::SYSTEM_FILE,
            crate::system::TOP_MODULE
        );
    }
    r.push_str("```\n\n## Limits (tinyaccel issue 18)\n\n");
    r.push_str(
        "- The scratchpads and command queues are register arrays, not SRAM macros: fine for \
         simulation, slow and large in synthesis.\n\
         - The bus and the MMIO register interface are tinyaccel's own (no AXI4 / AXI4-Lite \
         yet).\n\
         - The core is one module per instance (rust-hdl), not parameterized; names are legal \
         without escaping (`__` joins instance names).\n\
         - Lint waivers, also in `{SYSTEM_TB_ARGS}`: DECLFILENAME (several modules per \
         file), UNUSEDSIGNAL (edge PEs' pass-through outputs, low bits of the PPU product), \
         UNUSEDPARAM.\n",
    );
    r.replace("{SYSTEM_TB_ARGS}", SYSTEM_TB_ARGS)
}

/// Writes into `out_dir` (created if missing): [`VERILOG_FILE`], [`CONFIG_FILE`], the
/// whole accelerator ([`crate::system::SYSTEM_FILE`]) when the configuration supports it,
/// and the integration files: the filelists [`CORE_FILELIST`] and [`SYSTEM_FILELIST`],
/// [`SYSTEM_TB_ARGS`] (the system testbench for a memory of `sim`'s default 16 MiB),
/// [`SDC_FILE`], `tb/core_tb.sv`, `tb/system_tb.sv` and [`README_FILE`]. Every file is
/// written atomically.
pub fn emit(cfg: &AccelConfig, out_dir: &Path) -> Result<Emitted, HdlError> {
    const MEM_BYTES: u64 = 16 << 20;
    std::fs::create_dir_all(out_dir.join("tb")).map_err(|e| HdlError::io(out_dir, e))?;
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
    let mut files: Vec<(&str, String)> = vec![
        (CORE_FILELIST, format!("{VERILOG_FILE}\n")),
        (SDC_FILE, sdc(cfg)),
        ("tb/core_tb.sv", crate::verilator::TESTBENCH.to_string()),
        (README_FILE, readme(cfg, system.is_ok(), MEM_BYTES)),
    ];
    if system.is_ok() {
        files.push((SYSTEM_FILELIST, format!("{}\n", crate::system::SYSTEM_FILE)));
        files.push((SYSTEM_TB_ARGS, system_tb_args(cfg, MEM_BYTES)));
        files.push(("tb/system_tb.sv", crate::system::SYSTEM_TB.to_string()));
    }
    let mut support = Vec::new();
    for (name, text) in files {
        write_atomic(&out_dir.join(name), text.as_bytes())?;
        support.push(PathBuf::from(name));
    }
    Ok(Emitted {
        verilog,
        config_json,
        verilog_bytes: v.len(),
        hash: cfg.hash(),
        system,
        support,
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
