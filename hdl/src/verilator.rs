//! The Verilator flow: build the generic testbench (`hdl/tb/core_tb.sv`) with the emitted
//! core, write the stimulus of a list of [`Tile`]s, run, parse and compare.
//!
//! Builds are cached per configuration hash in
//! `$XDG_CACHE_HOME/tinyaccel/verilator/<hash>/` (or `~/.cache/...`), with a stamp of the
//! Verilog and testbench text, so repeated runs do not rebuild.

use crate::cases::{lane_params, Expected, Tile};
use crate::emit;
use crate::HdlError;
use arch::AccelConfig;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The testbench source, embedded.
pub const TESTBENCH: &str = include_str!("../tb/core_tb.sv");

/// Capacity of the testbench memories (vectors; tiles).
pub const VEC_DEPTH: usize = 262_144;
pub const TILE_DEPTH: usize = 16_384;

const INSTALL_HINT: &str =
    "install it with `sudo apt-get install -y verilator yosys` (or `make deps`)";

/// Checks that `verilator` runs; the error names the install command. The first
/// successful answer is kept for the rest of the process (`verilator --version` is a Perl
/// wrapper that takes about 0.1-0.2 s), so only the first call of a process runs it.
pub fn verilator_version() -> Result<String, HdlError> {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(v) = VERSION.get() {
        return Ok(v.clone());
    }
    let v = require_tool("verilator")?;
    Ok(VERSION.get_or_init(|| v).clone())
}

/// Runs `program --version`; a missing tool gives an error naming the install command.
pub fn require_tool(program: &str) -> Result<String, HdlError> {
    let out = Command::new(program)
        .arg("--version")
        .output()
        .map_err(|e| HdlError::Tool(format!("{program} not found ({e}): {INSTALL_HINT}")))?;
    if !out.status.success() {
        return Err(HdlError::Tool(format!(
            "`{program} --version` failed: {INSTALL_HINT}"
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The cache root for Verilator builds.
pub fn cache_root() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x).join("tinyaccel/verilator");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(h).join(".cache/tinyaccel/verilator");
    }
    std::env::temp_dir().join("tinyaccel-verilator")
}

/// A built core testbench binary for one configuration.
#[derive(Debug, Clone)]
pub struct CoreBuild {
    pub dir: PathBuf,
    pub binary: PathBuf,
    /// True if this call compiled it (false: taken from the cache).
    pub built: bool,
    pub build_seconds: f64,
}

/// Builds (or finds in the cache) the Verilator testbench of `cfg`'s core.
pub fn build(cfg: &AccelConfig) -> Result<CoreBuild, HdlError> {
    build_in(cfg, &cache_root())
}

/// [`build`] with an explicit cache root.
pub fn build_in(cfg: &AccelConfig, root: &Path) -> Result<CoreBuild, HdlError> {
    let verilog = emit::core_verilog(cfg)?;
    let stamp = {
        let mut h = Sha256::new();
        h.update(verilog.as_bytes());
        h.update(TESTBENCH.as_bytes());
        h.update(format!("{VEC_DEPTH} {TILE_DEPTH}").as_bytes());
        h.finalize()
            .iter()
            .take(16)
            .fold(String::new(), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            })
    };
    let (os, is) = crate::core::array_of(cfg.dataflow).mode_params();
    let args: Vec<String> = [
        "--binary",
        "-Wall",
        "-Wno-DECLFILENAME",
        "-Wno-UNUSEDSIGNAL",
        "--top-module",
        "tb",
        "-o",
        "Vtb",
        "-j",
        "2",
        "-CFLAGS",
        "-O1",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        format!("-GROWS={}", cfg.rows),
        format!("-GCOLS={}", cfg.cols),
        format!("-GOS={os}"),
        format!("-GIS={is}"),
        format!("-GVEC_DEPTH={VEC_DEPTH}"),
        format!("-GTILE_DEPTH={TILE_DEPTH}"),
        "core_tb.sv".into(),
        emit::VERILOG_FILE.into(),
    ])
    .collect();
    let b = cached_build(
        root,
        &cfg.hash(),
        &stamp,
        &[(emit::VERILOG_FILE, &verilog), ("core_tb.sv", TESTBENCH)],
        &args,
        "obj_dir/Vtb",
        &format!("the core testbench (config `{}`)", cfg.name),
    )?;
    Ok(CoreBuild {
        dir: b.dir,
        binary: b.binary,
        built: b.built,
        build_seconds: b.build_seconds,
    })
}

/// A Verilator build in a cache folder (see [`cached_build`]).
#[derive(Debug, Clone)]
pub struct CachedBuild {
    pub dir: PathBuf,
    pub binary: PathBuf,
    /// False when an existing build with the same stamp was reused.
    pub built: bool,
    pub build_seconds: f64,
}

/// Builds `verilator ARGS` over `files` (name, text) in `root/name`, unless a build with
/// the same `stamp` is already there. The build runs in a private folder that is then
/// renamed into place, so parallel builds never see each other's half-written files; if
/// another process installed the same stamp meanwhile, that build is kept (it may be
/// running). A failure keeps the folder with `verilator.log` and names it. Verilator
/// itself is looked for ([`verilator_version`], once per process) only when something
/// must be built: a cached binary runs without it.
pub fn cached_build(
    root: &Path,
    name: &str,
    stamp: &str,
    files: &[(&str, &str)],
    args: &[String],
    binary_rel: &str,
    what: &str,
) -> Result<CachedBuild, HdlError> {
    let dir = root.join(name);
    let binary = dir.join(binary_rel);
    let stamp_file = dir.join("stamp");
    let installed =
        || binary.exists() && std::fs::read_to_string(&stamp_file).ok().as_deref() == Some(stamp);
    if installed() {
        return Ok(CachedBuild {
            dir: dir.clone(),
            binary: binary.clone(),
            built: false,
            build_seconds: 0.0,
        });
    }
    verilator_version()?;
    std::fs::create_dir_all(root).map_err(|e| HdlError::io(root, e))?;
    let tmp = root.join(format!(
        ".build-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&tmp).map_err(|e| HdlError::io(&tmp, e))?;
    for (file, text) in files {
        let p = tmp.join(file);
        std::fs::write(&p, text).map_err(|e| HdlError::io(&p, e))?;
    }
    let t0 = Instant::now();
    let out = Command::new("verilator")
        .current_dir(&tmp)
        .args(args)
        .output()
        .map_err(|e| HdlError::Tool(format!("cannot run verilator ({e}): {INSTALL_HINT}")))?;
    if !out.status.success() {
        let log = String::from_utf8_lossy(&out.stderr);
        let _ = std::fs::write(tmp.join("verilator.log"), log.as_bytes());
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        return Err(HdlError::Tool(format!(
            "verilator failed to build {what} in {} (log in verilator.log):\n{}",
            tmp.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )));
    }
    let build_seconds = t0.elapsed().as_secs_f64();
    std::fs::write(tmp.join("stamp"), stamp).map_err(|e| HdlError::io(&tmp.join("stamp"), e))?;
    if installed() {
        let _ = std::fs::remove_dir_all(&tmp);
        return Ok(CachedBuild {
            dir,
            binary,
            built: true,
            build_seconds,
        });
    }
    if dir.exists() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    if std::fs::rename(&tmp, &dir).is_err() {
        // Another process is installing meanwhile: use ours from where it is.
        return Ok(CachedBuild {
            binary: tmp.join(binary_rel),
            dir: tmp,
            built: true,
            build_seconds,
        });
    }
    Ok(CachedBuild {
        dir,
        binary,
        built: true,
        build_seconds,
    })
}

fn hex_vec_i8(xs: impl Iterator<Item = i8>) -> Vec<u8> {
    xs.map(|x| x as u8).collect()
}

/// Hex of a little-endian packed vector (element 0 in the low bits), MSB first.
fn hex_line(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2 + 1);
    for b in bytes.iter().rev() {
        let _ = write!(s, "{b:02x}");
    }
    s.push('\n');
    s
}

/// Writes the stimulus of `tiles` for the core of `cfg` into `dir`.
pub fn write_stimulus(cfg: &AccelConfig, tiles: &[Tile], dir: &Path) -> Result<(), HdlError> {
    let (rows, cols) = (cfg.rows as usize, cfg.cols as usize);
    let array = crate::core::array_of(cfg.dataflow);
    if tiles.len() > TILE_DEPTH {
        return Err(HdlError::Config(format!(
            "{} tiles in one run: the testbench holds at most {TILE_DEPTH}",
            tiles.len()
        )));
    }
    let (mut meta, mut a, mut b) = (String::new(), String::new(), String::new());
    let (mut bias, mut mult, mut shift, mut misc) =
        (String::new(), String::new(), String::new(), String::new());
    let (mut na, mut nb) = (0usize, 0usize);
    for (ti, t) in tiles.iter().enumerate() {
        let (m, k, n) = (t.m as u64, t.k as u64, t.n as u64);
        let ok = n <= arch::isa::MAX_COMPUTE_N
            && cfg
                .dataflow
                .rules()
                .check_shape(rows as u64, cols as u64, m, k, n)
                .is_ok();
        if !ok || t.m == 0 || t.k == 0 || t.n == 0 {
            return Err(HdlError::Config(format!(
                "tile {ti}: {}x{}x{} does not fit a {rows}x{cols} {} core",
                t.m, t.k, t.n, cfg.dataflow
            )));
        }
        let feed = array.feed(cfg, t);
        let _ = write!(meta, "{:08x}\n{:08x}\n{:08x}\n", feed.stream, na, nb);
        for v in &feed.a {
            a.push_str(&hex_line(&hex_vec_i8(v.iter().copied())));
        }
        for v in &feed.b {
            b.push_str(&hex_line(&hex_vec_i8(v.iter().copied())));
        }
        na += feed.a.len();
        nb += feed.b.len();
        let mut bb = Vec::new();
        let mut mb = Vec::new();
        let mut sb = Vec::new();
        for j in 0..cols {
            let (bi, mu, sh) = lane_params(t, j);
            bb.extend_from_slice(&bi.to_le_bytes());
            mb.extend_from_slice(&mu.to_le_bytes());
            sb.push(sh as i8 as u8);
        }
        bias.push_str(&hex_line(&bb));
        mult.push_str(&hex_line(&mb));
        shift.push_str(&hex_line(&sb));
        let _ = writeln!(
            misc,
            "{:08x}{:02x}{:02x}",
            t.zp as u32, t.act_min as i8 as u8, t.act_max as i8 as u8
        );
    }
    if na > VEC_DEPTH || nb > VEC_DEPTH {
        return Err(HdlError::Config(format!(
            "{} operand vectors in one run: the testbench holds at most {VEC_DEPTH}",
            na.max(nb)
        )));
    }
    // $readmemh needs at least one line.
    if b.is_empty() {
        b.push_str(&hex_line(&vec![0u8; cols]));
    }
    for (name, text) in [
        ("meta.hex", meta),
        ("a.hex", a),
        ("b.hex", b),
        ("bias.hex", bias),
        ("mult.hex", mult),
        ("shift.hex", shift),
        ("misc.hex", misc),
    ] {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|e| HdlError::io(&p, e))?;
    }
    Ok(())
}

/// What the RTL produced for one tile.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    pub acc_rows: Vec<Vec<i32>>,
    pub q_rows: Vec<Vec<i8>>,
    pub core_cycles: Option<u64>,
    pub ppu_latency: Option<u64>,
}

/// The result of one Verilator run.
#[derive(Debug, Clone)]
pub struct RunOutput {
    pub tiles: Vec<Observed>,
    /// Clock cycles simulated (including reset and gaps).
    pub cycles: u64,
    /// Wall time of the simulation process (file reading included).
    pub seconds: f64,
}

fn parse_hex_le(s: &str, width_bytes: usize, path: &Path) -> Result<Vec<u8>, HdlError> {
    let bad = || HdlError::Parse {
        path: path.to_path_buf(),
        reason: format!("bad hex `{s}`"),
    };
    if s.len() != width_bytes * 2 {
        return Err(bad());
    }
    let mut out = Vec::with_capacity(width_bytes);
    for i in (0..width_bytes).rev() {
        out.push(u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| bad())?);
    }
    Ok(out)
}

/// Runs the testbench `build` on `tiles` (stimulus and results in a fresh folder under
/// `work`).
pub fn run(
    cfg: &AccelConfig,
    build: &CoreBuild,
    tiles: &[Tile],
    work: &Path,
) -> Result<RunOutput, HdlError> {
    std::fs::create_dir_all(work).map_err(|e| HdlError::io(work, e))?;
    write_stimulus(cfg, tiles, work)?;
    let out_file = work.join("results.txt");
    let t0 = Instant::now();
    let out = Command::new(&build.binary)
        .arg(format!("+stim={}", work.display()))
        .arg(format!("+out={}", out_file.display()))
        .arg(format!("+tiles={}", tiles.len()))
        .output()
        .map_err(|e| HdlError::Tool(format!("{}: cannot run: {e}", build.binary.display())))?;
    let seconds = t0.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(HdlError::Tool(format!(
            "{} failed: {}{}",
            build.binary.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let text = std::fs::read_to_string(&out_file).map_err(|e| HdlError::io(&out_file, e))?;
    let cols = cfg.cols as usize;
    let mut obs = vec![Observed::default(); tiles.len()];
    let mut cycles = None;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let bad = |reason: &str| HdlError::Parse {
            path: out_file.clone(),
            reason: format!("{reason}: `{line}`"),
        };
        if f.first() == Some(&"END") {
            cycles = f.get(1).and_then(|x| x.parse().ok());
            continue;
        }
        if f.len() != 3 {
            return Err(bad("expected 3 fields"));
        }
        let t: usize = f[1].parse().map_err(|_| bad("bad tile index"))?;
        let o = obs
            .get_mut(t)
            .ok_or_else(|| bad("tile index out of range"))?;
        match f[0] {
            "A" => {
                let bytes = parse_hex_le(f[2], cols * 4, &out_file)?;
                o.acc_rows.push(
                    bytes
                        .chunks(4)
                        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                );
            }
            "Q" => {
                let bytes = parse_hex_le(f[2], cols, &out_file)?;
                o.q_rows.push(bytes.iter().map(|&b| b as i8).collect());
            }
            "T" => o.core_cycles = Some(f[2].parse().map_err(|_| bad("bad cycle count"))?),
            "P" => o.ppu_latency = Some(f[2].parse().map_err(|_| bad("bad latency"))?),
            _ => return Err(bad("unknown record")),
        }
    }
    let cycles = cycles.ok_or_else(|| HdlError::Parse {
        path: out_file.clone(),
        reason: "no END record: the simulation did not finish".into(),
    })?;
    Ok(RunOutput {
        tiles: obs,
        cycles,
        seconds,
    })
}

/// Per-tile verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub bit_exact: bool,
    pub cycle_exact: bool,
}

/// Compares what the RTL did with what was expected.
pub fn compare(obs: &Observed, exp: &Expected) -> Verdict {
    Verdict {
        bit_exact: obs.acc_rows == exp.acc_rows && obs.q_rows == exp.q_rows,
        cycle_exact: obs.core_cycles == Some(exp.core_cycles)
            && obs.ppu_latency == Some(exp.ppu_latency),
    }
}
