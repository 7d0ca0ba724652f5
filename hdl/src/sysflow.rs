//! The system-level Verilator flow: build the testbench `hdl/tb/system_tb.sv` around the
//! whole accelerator ([`crate::system::system_verilog`]), run one command buffer on it
//! from a memory image, and parse what it reports.
//!
//! Protocol (fixed by the testbench): the binary `obj_dir/Vsys` is started once as
//! `Vsys +dir=DIR` ([`SysProcess`]) and serves requests on its standard input, one per
//! line: `SEQ LO HI CMD_BASE CMD_COUNT MAX_CYCLES WLO WHI`. It writes bytes `LO..HI` of
//! device memory from `DIR/mem_in.bin`, clears the counters, writes `CMD_BASE`,
//! `CMD_COUNT` and `CTRL.start` over MMIO, runs to `STATUS.done` (or `MAX_CYCLES`), reads
//! every counter over MMIO, writes `DIR/result.txt` (see [`parse_result`]) and
//! `DIR/mem_out.hex` (bytes `WLO..WHI` after the run) and prints `done SEQ`. The
//! accelerator is not reset between requests.
//!
//! Builds are cached in `<cache_root>/system/<sha256 of the Verilog, the testbench and
//! the -G parameters>/` with a stamp, and built in a private folder first, so parallel
//! processes never see half-written files.

use crate::system;
use crate::verilator::cache_root;
use crate::HdlError;
use arch::device::Counters;
use arch::isa::{Command, Op, COMMAND_BYTES, PARAM_RECORD_BYTES};
use arch::AccelConfig;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Counters the RTL reports (`arch::device::COUNTER_NAMES`, in that order).
pub const NUM_COUNTERS: usize = arch::device::NUM_COUNTERS;

/// Name of the simulation binary inside the build folder.
pub const BINARY: &str = "obj_dir/Vsys";
/// Verilator's `-Wno-...` waivers of the system build (besides `-Wall`).
pub const WAIVERS: [&str; 3] = ["-Wno-DECLFILENAME", "-Wno-UNUSEDSIGNAL", "-Wno-UNUSEDPARAM"];
/// Other Verilator options of the system build: every variable starts at zero (the
/// testbench memory beyond the image relies on it; also much faster to construct than
/// the default per-element reset of the 16 MiB memory and the command queues).
pub const OPTIONS: [&str; 2] = ["--x-initial", "0"];
/// Environment variable: when set (non-empty), run folders are kept for debugging.
pub const KEEP_ENV: &str = "TINYACCEL_KEEP_RTL_RUNS";

/// A built system testbench (Verilator binary) for one configuration and memory size.
#[derive(Debug, Clone)]
pub struct SystemBuild {
    pub cfg: AccelConfig,
    /// `MEM_BYTES` of the testbench's memory model.
    pub mem_bytes: u64,
    pub dir: PathBuf,
    pub binary: PathBuf,
    /// True if this call compiled it (false: taken from the cache).
    pub built: bool,
    pub build_seconds: f64,
}

/// What one run of the system testbench reported.
#[derive(Debug, Clone, PartialEq)]
pub struct SysRun {
    /// `STATUS`: bit 0 busy, bit 1 done, bit 2 error, bits 8..15 error code.
    pub status: u32,
    /// `ERR_INDEX`: the failing command (errors only).
    pub err_index: u32,
    /// Cycles spent reading the command buffer before execution (not in `cycles`).
    pub fetch_cycles: u64,
    /// Execution cycles as counted by the testbench.
    pub exec_cycles: u64,
    /// Bus protocol violations seen by the memory model (must be 0).
    pub proto_errors: u64,
    /// True if `max_cycles` passed before `STATUS.done`.
    pub timeout: bool,
    /// The counters ([`NUM_COUNTERS`]), read over MMIO.
    pub counters: Counters,
    /// Device memory bytes `0..N` after the run.
    pub mem: Vec<u8>,
    /// Wall time of the simulation process (file I/O included).
    pub wall: Duration,
}

impl SysRun {
    /// The error code (`STATUS` bits 8..15).
    pub fn error_code(&self) -> u32 {
        (self.status >> 8) & 0xFF
    }
    /// True if `STATUS.error` is set.
    pub fn is_error(&self) -> bool {
        self.status & arch::device::reg::STATUS_ERROR != 0
    }
}

/// A readable name of a `STATUS` error code.
pub fn error_name(code: u32) -> &'static str {
    match code {
        system::ERR_OPCODE => "bad opcode",
        system::ERR_QUEUE_FULL => "command queue full",
        system::ERR_NO_FINISH => "no FINISH in the buffer",
        system::ERR_DEADLOCK => "dependency deadlock",
        _ => "unknown error code",
    }
}

fn sha_hex(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Builds (or finds in the cache) the system testbench of `cfg` with a memory of
/// `mem_bytes` bytes.
pub fn build(cfg: &AccelConfig, mem_bytes: u64) -> Result<SystemBuild, HdlError> {
    build_in(cfg, mem_bytes, &cache_root().join("system"))
}

/// [`build`] with an explicit cache folder.
pub fn build_in(cfg: &AccelConfig, mem_bytes: u64, root: &Path) -> Result<SystemBuild, HdlError> {
    build_against(cfg, cfg, mem_bytes, root)
}

/// The RTL of `cfg` in the testbench (memory model and bus-protocol checker) of `tb_cfg`:
/// its bus width, latency and allowed outstanding requests. [`build_in`] uses the same
/// config for both; a different `tb_cfg` is for negative tests of the protocol checker
/// (e.g. an RTL with 4 requests in flight against a checker that allows 1).
pub fn build_against(
    cfg: &AccelConfig,
    tb_cfg: &AccelConfig,
    mem_bytes: u64,
    root: &Path,
) -> Result<SystemBuild, HdlError> {
    if mem_bytes == 0 || mem_bytes > u32::MAX as u64 + 1 {
        return Err(HdlError::Config(format!(
            "device memory of {mem_bytes} bytes: the system bus addresses 1 byte to 4 GiB"
        )));
    }
    let verilog = system::system_verilog(cfg)?;
    let params = system::tb_params(tb_cfg, mem_bytes);
    let key = sha_hex(&[
        verilog.as_bytes(),
        system::SYSTEM_TB.as_bytes(),
        params.join(" ").as_bytes(),
        WAIVERS.join(" ").as_bytes(),
        OPTIONS.join(" ").as_bytes(),
    ]);
    let args: Vec<String> = ["--binary", "-Wall"]
        .iter()
        .chain(OPTIONS.iter())
        .chain(WAIVERS.iter())
        .chain(["--top-module", system::TB_TOP].iter())
        .map(|s| s.to_string())
        .chain(params)
        .chain(
            [
                "-o",
                "Vsys",
                "-j",
                "2",
                "-CFLAGS",
                "-O1",
                "system_tb.sv",
                "accel.v",
            ]
            .iter()
            .map(|s| s.to_string()),
        )
        .collect();
    let b = crate::verilator::cached_build(
        root,
        &key[..32],
        &key,
        &[("accel.v", &verilog), ("system_tb.sv", system::SYSTEM_TB)],
        &args,
        BINARY,
        &format!("the system testbench (config `{}`)", cfg.name),
    )?;
    Ok(SystemBuild {
        cfg: cfg.clone(),
        mem_bytes,
        dir: b.dir,
        binary: b.binary,
        built: b.built,
        build_seconds: b.build_seconds,
    })
}

/// Parses a memory file of exactly `n` bytes (one per line; blank lines and `//`
/// comments are skipped). Errors name `path` and the line.
pub fn parse_hex(path: &Path, text: &str, n: usize) -> Result<Vec<u8>, HdlError> {
    let mut out = Vec::with_capacity(n);
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with("//") {
            continue;
        }
        let bad = |reason: String| HdlError::Parse {
            path: path.to_path_buf(),
            reason: format!("line {}: {reason}", i + 1),
        };
        if t.len() > 2 || t.starts_with('@') {
            return Err(bad(format!(
                "expected one byte (two hex digits), got `{t}`"
            )));
        }
        let b = u8::from_str_radix(t, 16)
            .map_err(|_| bad(format!("expected one byte (two hex digits), got `{t}`")))?;
        if out.len() == n {
            return Err(bad(format!("more than the expected {n} bytes")));
        }
        out.push(b);
    }
    if out.len() != n {
        return Err(HdlError::Parse {
            path: path.to_path_buf(),
            reason: format!("{} bytes, expected {n}", out.len()),
        });
    }
    Ok(out)
}

/// The fields of `result.txt`, without the memory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResultFile {
    pub status: u32,
    pub err_index: u32,
    pub fetch_cycles: u64,
    pub exec_cycles: u64,
    pub proto_errors: u64,
    pub timeout: bool,
    pub counters: [u64; NUM_COUNTERS],
}

/// Parses `result.txt`: `status <8 hex digits>`, `err_index <dec>`, `fetch_cycles
/// <dec>`, `exec_cycles <dec>`, `proto_errors <dec>`, `timeout <0|1>`, then
/// [`NUM_COUNTERS`] lines `counter <i> <dec>` for `i = 0..NUM_COUNTERS`, in this order. Errors name `path` and the line.
pub fn parse_result(path: &Path, text: &str) -> Result<ResultFile, HdlError> {
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty())
        .collect();
    let err = |line: usize, reason: String| HdlError::Parse {
        path: path.to_path_buf(),
        reason: if line == 0 {
            reason
        } else {
            format!("line {line}: {reason}")
        },
    };
    let want = 6 + NUM_COUNTERS;
    if lines.len() != want {
        return Err(err(
            0,
            format!(
                "{} non-empty lines, expected {want} (6 fields and {NUM_COUNTERS} counters)",
                lines.len()
            ),
        ));
    }
    let field = |idx: usize, key: &str| -> Result<(usize, String), HdlError> {
        let (no, l) = lines[idx];
        let mut f = l.split_whitespace();
        match (f.next(), f.next(), f.next()) {
            (Some(k), Some(v), None) if k == key => Ok((no, v.to_string())),
            _ => Err(err(no, format!("expected `{key} <value>`, got `{l}`"))),
        }
    };
    let dec = |idx: usize, key: &str| -> Result<u64, HdlError> {
        let (no, v) = field(idx, key)?;
        v.parse::<u64>()
            .map_err(|_| err(no, format!("`{key}`: `{v}` is not a decimal number")))
    };
    let (no, s) = field(0, "status")?;
    if s.len() != 8 {
        return Err(err(no, format!("`status`: `{s}` is not 8 hex digits")));
    }
    let status = u32::from_str_radix(&s, 16)
        .map_err(|_| err(no, format!("`status`: `{s}` is not 8 hex digits")))?;
    let err_index = dec(1, "err_index")?;
    let err_index = u32::try_from(err_index).map_err(|_| {
        err(
            lines[1].0,
            format!("`err_index` {err_index} exceeds 32 bits"),
        )
    })?;
    let fetch_cycles = dec(2, "fetch_cycles")?;
    let exec_cycles = dec(3, "exec_cycles")?;
    let proto_errors = dec(4, "proto_errors")?;
    let timeout = match dec(5, "timeout")? {
        0 => false,
        1 => true,
        t => return Err(err(lines[5].0, format!("`timeout`: {t} is not 0 or 1"))),
    };
    let mut counters = [0u64; NUM_COUNTERS];
    for (i, c) in counters.iter_mut().enumerate() {
        let (no, l) = lines[6 + i];
        let f: Vec<&str> = l.split_whitespace().collect();
        let ok = f.len() == 3 && f[0] == "counter" && f[1].parse::<usize>().ok() == Some(i);
        if !ok {
            return Err(err(
                no,
                format!("expected `counter {i} <value>`, got `{l}`"),
            ));
        }
        *c = f[2].parse().map_err(|_| {
            err(
                no,
                format!(
                    "counter {i} ({}): `{}` is not a decimal number",
                    arch::device::COUNTER_NAMES[i],
                    f[2]
                ),
            )
        })?;
    }
    Ok(ResultFile {
        status,
        err_index,
        fetch_cycles,
        exec_cycles,
        proto_errors,
        timeout,
        counters,
    })
}

/// One past the last device-memory byte that command `c` reads or writes (0 for
/// `COMPUTE`, `FINISH` and empty transfers). A `CONV_GEOM` covers its whole image (every
/// `LOAD_IM2COL` after it reads inside it; `LOAD_IM2COL` itself gives 0).
pub fn command_extent(c: &Command) -> u64 {
    let span = |addr: u32, stride: u32, nrows: u16, row_bytes: u64| -> u64 {
        if nrows == 0 || row_bytes == 0 {
            return 0;
        }
        addr as u64 + (nrows as u64 - 1) * stride as u64 + row_bytes
    };
    match &c.op {
        Op::Load(l) => span(l.mem_addr, l.mem_stride, l.nrows, l.ncols as u64),
        Op::LoadParams(p) => {
            if p.count == 0 {
                0
            } else {
                p.mem_addr as u64 + PARAM_RECORD_BYTES as u64 * p.count as u64
            }
        }
        Op::Store(s) => span(
            s.mem_addr,
            s.mem_stride,
            s.nrows,
            s.ncols as u64 * if s.raw_int32 { 4 } else { 1 },
        ),
        // The image the window reads (every LOAD_IM2COL tap lies inside it).
        Op::ConvGeom(g) => g.mem_addr as u64 + g.in_h as u64 * g.in_w as u64 * g.in_c as u64,
        Op::LoadIm2col(_) | Op::Compute(_) | Op::VSet(_) | Op::VCompute(_) | Op::Finish => 0,
    }
}

/// The bytes of an image of `len` bytes that the (decoded) commands may write: from the
/// lowest to one past the highest byte any `STORE` before `FINISH` targets, clamped to
/// the image (`(0, 0)` without stores). The testbench counts a bus write outside it as a
/// protocol error and dumps only this window, so the rest of the image is unchanged by
/// construction.
pub fn write_window(cmds: &[Command], len: u64) -> (u64, u64) {
    let mut lo = u64::MAX;
    let mut hi = 0u64;
    for c in cmds {
        match &c.op {
            Op::Store(st) if st.nrows != 0 && st.ncols != 0 => {
                lo = lo.min(st.mem_addr as u64);
                hi = hi.max(command_extent(c));
            }
            Op::Finish => break,
            _ => {}
        }
    }
    if hi <= lo {
        return (0, 0);
    }
    (lo.min(len), hi.min(len))
}

/// The memory prefix a run needs: the end of the command buffer, every transfer's last
/// byte + 1, and `host_high_water` (one past the highest byte the host wrote).
pub fn needed_bytes(cmd_base: u32, cmds: &[Command], host_high_water: u64) -> u64 {
    let buf_end = cmd_base as u64 + (cmds.len() * COMMAND_BYTES) as u64;
    cmds.iter()
        .map(command_extent)
        .fold(buf_end.max(host_high_water), u64::max)
}

/// A generous cycle limit for `cmds`: four times the cycles of running every command
/// one after the other (bus latency and beats per row; for a `COMPUTE`, the contract's
/// `arch::timing::compute_cycles` plus one array pass of slack), plus 10 000. A run that exceeds it is hung, not slow.
pub fn cycle_budget(cfg: &AccelConfig, cmds: &[Command]) -> u64 {
    let (r, c) = (cfg.rows as u64, cfg.cols as u64);
    let bus = cfg.bus_bytes_per_cycle.max(1) as u64;
    let lat = cfg.bus_latency_cycles as u64;
    let row_cost = |nrows: u64, bytes: u64| nrows * (lat + bytes.div_ceil(bus) + 8) + 16;
    let mut window: Option<arch::im2col::Window> = None;
    let serial: u64 = cmds
        .iter()
        .map(|cmd| match &cmd.op {
            Op::ConvGeom(g) => {
                window = Some(arch::im2col::Window::of(g));
                16
            }
            Op::LoadIm2col(l) => {
                // Every piece a burst of its own (a pad piece: at most as long).
                let pieces = window
                    .as_ref()
                    .map(|w| arch::im2col::summary(w, l).pieces)
                    .unwrap_or(l.nrows as u64 * l.ncols as u64);
                pieces * (lat + 8)
                    + (l.nrows as u64 * l.ncols as u64).div_ceil(bus)
                    + arch::isa::im2col_lines(l, r.max(c))
                    + 16
            }
            Op::Load(l) => {
                row_cost(l.nrows as u64, l.ncols as u64) + arch::isa::load_lines(l, r.max(c))
            }
            Op::LoadParams(p) => row_cost(1, PARAM_RECORD_BYTES as u64 * p.count as u64),
            Op::Store(s) => {
                let e = if s.raw_int32 { 4 } else { 1 };
                let blocks = (s.ncols as u64).div_ceil(c);
                row_cost(s.nrows as u64, s.ncols as u64 * e) + blocks * s.nrows as u64
            }
            Op::Compute(cp) => {
                let (m, k, n) = (cp.m as u64, cp.k as u64, cp.n as u64);
                // The contract's cycles of this COMPUTE, plus the fill, drain and
                // control slack of one array pass (a valid OS or WS COMPUTE is one pass).
                arch::timing::compute_cycles(cfg, m, k, n) + m + k + 2 * (r + c) + 32
            }
            Op::VSet(_) => arch::timing::VSET_CYCLES + 16,
            Op::VCompute(v) => {
                arch::timing::vcompute_cycles(v.m as u64, v.k as u64) + v.m as u64 + 32
            }
            Op::Finish => 16,
        })
        .sum();
    serial.saturating_mul(4).saturating_add(10_000)
}

static RUN_SEQ: AtomicU64 = AtomicU64::new(0);

/// A private run folder, removed when dropped (unless [`KEEP_ENV`] is set).
struct RunDir(PathBuf);

impl RunDir {
    fn new() -> Result<Self, HdlError> {
        let p = std::env::temp_dir().join(format!(
            "tinyaccel-sysrun-{}-{}",
            std::process::id(),
            RUN_SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        if p.exists() {
            let _ = std::fs::remove_dir_all(&p);
        }
        std::fs::create_dir_all(&p).map_err(|e| HdlError::io(&p, e))?;
        Ok(RunDir(p))
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if std::env::var_os(KEEP_ENV).is_none_or(|v| v.is_empty()) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The wall-clock limit of one request to a [`SysProcess`] whose cycle limit is
/// `max_cycles`: 60 s plus one second per 20,000 cycles (the system RTL simulates a few
/// 100,000 cycles per second; the cycle limit itself ends a hung accelerator, so this only
/// catches a stuck or crashed process).
pub fn wall_limit(max_cycles: u64) -> Duration {
    Duration::from_secs(60) + Duration::from_secs_f64(max_cycles as f64 / 20_000.0)
}

/// A running testbench process: its standard input (requests) and a thread forwarding
/// the lines of its standard output.
struct Running {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Running {
    /// Ends the process: closing its input ends the simulation; after two seconds it is
    /// killed.
    fn stop(mut self) {
        drop(self.stdin.take());
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(2) {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn kill(mut self) -> Option<std::process::ExitStatus> {
        let _ = self.child.kill();
        self.child.wait().ok()
    }
}

/// One persistent process of a system testbench that runs command buffer after command
/// buffer (requests on its standard input, see `hdl/tb/system_tb.sv`): the
/// accelerator's state (scratchpads, accumulators, PPU parameters) carries over between
/// buffers as on the simulator, the counters are per buffer. Memory images are sent as
/// differences: the process's memory is mirrored here and only the bytes from the first
/// to the last one that differ from the mirror are written to its `mem_in.bin`; only the
/// STORE window comes back.
///
/// The process starts with the first run. A process that exits, or does not answer within
/// [`wall_limit`] (it is killed), fails that run with an error naming the command buffer;
/// so does a run that times out or has bus protocol errors, after which the process is
/// ended too. The next run then starts a fresh process (zeroed state, as at the start).
pub struct SysProcess {
    build: SystemBuild,
    dir: RunDir,
    running: Option<Running>,
    /// What the process's memory holds in `0..mirror.len()` (zero beyond).
    mirror: Vec<u8>,
    seq: u64,
    wall_limit: Option<Duration>,
    spawns: u64,
    transferred: u64,
}

impl std::fmt::Debug for SysProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SysProcess")
            .field("binary", &self.build.binary)
            .field("dir", &self.dir.0)
            .field("pid", &self.pid())
            .field("runs", &self.seq)
            .finish()
    }
}

impl Drop for SysProcess {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop();
        }
    }
}

impl SysProcess {
    /// A process of `build` (started by the first [`SysProcess::run`]).
    pub fn new(build: &SystemBuild) -> Result<Self, HdlError> {
        Ok(SysProcess {
            build: build.clone(),
            dir: RunDir::new()?,
            running: None,
            mirror: Vec::new(),
            seq: 0,
            wall_limit: None,
            spawns: 0,
            transferred: 0,
        })
    }

    /// The testbench it runs.
    pub fn build(&self) -> &SystemBuild {
        &self.build
    }

    /// The process id while a process is running.
    pub fn pid(&self) -> Option<u32> {
        self.running.as_ref().map(|r| r.child.id())
    }

    /// Processes started so far.
    pub fn spawns(&self) -> u64 {
        self.spawns
    }

    /// Memory-image bytes written to the process so far.
    pub fn bytes_transferred(&self) -> u64 {
        self.transferred
    }

    /// Overrides [`wall_limit`] for every request (`None`: [`wall_limit`]).
    pub fn set_wall_limit(&mut self, limit: Option<Duration>) {
        self.wall_limit = limit;
    }

    /// Ends the running process, if any (the next run starts a fresh one).
    pub fn restart(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop();
        }
        self.mirror.clear();
    }

    fn spawn(&mut self) -> Result<(), HdlError> {
        let err_path = self.dir.0.join("stderr.txt");
        let err_file = std::fs::File::create(&err_path).map_err(|e| HdlError::io(&err_path, e))?;
        let mut child = Process::new(&self.build.binary)
            .arg(format!("+dir={}", self.dir.0.display()))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(err_file)
            .spawn()
            .map_err(|e| {
                HdlError::Tool(format!("{}: cannot run: {e}", self.build.binary.display()))
            })?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let (tx, rx) = std::sync::mpsc::channel();
        if let Some(out) = stdout {
            std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(out).lines() {
                    match line {
                        Ok(l) => {
                            if tx.send(l).is_err() {
                                return;
                            }
                        }
                        Err(_) => return,
                    }
                }
            });
        }
        self.running = Some(Running {
            child,
            stdin,
            lines: rx,
        });
        self.mirror.clear();
        self.spawns += 1;
        Ok(())
    }

    /// The last lines the process wrote to its standard error.
    fn stderr_tail(&self) -> String {
        let p = self.dir.0.join("stderr.txt");
        let s = std::fs::read_to_string(p).unwrap_or_default();
        let v: Vec<&str> = s.lines().rev().take(20).collect();
        v.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// Runs the command buffer at `cmd_base` (`cmd_count` commands) with device bytes
    /// `0..mem.len()` equal to `mem` for at most `max_cycles` cycles. Only the bytes of
    /// `window` ([`write_window`] of the commands) may be written and are read back; the
    /// rest of the returned image is `mem`.
    pub fn run(
        &mut self,
        mem: &[u8],
        cmd_base: u32,
        cmd_count: u32,
        window: (u64, u64),
        max_cycles: u64,
    ) -> Result<SysRun, HdlError> {
        if mem.len() as u64 > self.build.mem_bytes {
            return Err(HdlError::Config(format!(
                "memory image of {} bytes exceeds the testbench memory of {} bytes",
                mem.len(),
                self.build.mem_bytes
            )));
        }
        if mem.is_empty() {
            return Err(HdlError::Config(
                "empty memory image: the command buffer must be in it".into(),
            ));
        }
        let (wlo, whi) = window;
        if wlo > whi || whi > mem.len() as u64 {
            return Err(HdlError::Config(format!(
                "write window {wlo}..{whi} outside the {}-byte memory image",
                mem.len()
            )));
        }
        let what = format!("command buffer at {cmd_base:#x} ({cmd_count} commands)");
        let t0 = Instant::now();
        if self.running.is_none() {
            self.spawn()?;
        }
        // The bytes that differ from what the process holds.
        if self.mirror.len() < mem.len() {
            self.mirror.resize(mem.len(), 0);
        }
        let (lo, hi) = differing_span(mem, &self.mirror[..mem.len()]);
        if hi > lo {
            let p = self.dir.0.join("mem_in.bin");
            std::fs::write(&p, &mem[lo..hi]).map_err(|e| HdlError::io(&p, e))?;
        }
        self.seq += 1;
        let seq = self.seq;
        let request = format!("{seq} {lo} {hi} {cmd_base} {cmd_count} {max_cycles} {wlo} {whi}\n");
        let limit = self.wall_limit.unwrap_or_else(|| wall_limit(max_cycles));
        let answer = self.request(&request, seq, limit);
        if let Err(why) = answer {
            let status = self.running.take().and_then(Running::kill);
            self.mirror.clear();
            let tail = self.stderr_tail();
            return Err(HdlError::Tool(format!(
                "{}: {why} while running the {what}{}{}",
                self.build.binary.display(),
                status
                    .map(|s| format!(" (the process: {s})"))
                    .unwrap_or_default(),
                if tail.is_empty() {
                    String::new()
                } else {
                    format!("; its standard error:\n{tail}")
                }
            )));
        }
        self.transferred += (hi - lo) as u64;
        self.mirror[lo..hi].copy_from_slice(&mem[lo..hi]);
        let res_path = self.dir.0.join("result.txt");
        let parsed = std::fs::read_to_string(&res_path)
            .map_err(|e| HdlError::io(&res_path, e))
            .and_then(|text| parse_result(&res_path, &text));
        let r = match parsed {
            Ok(r) => r,
            Err(e) => {
                self.restart();
                return Err(e);
            }
        };
        let mut mem_out = mem.to_vec();
        if whi > wlo {
            let out_path = self.dir.0.join("mem_out.hex");
            let window = std::fs::read_to_string(&out_path)
                .map_err(|e| HdlError::io(&out_path, e))
                .and_then(|text| parse_hex(&out_path, &text, (whi - wlo) as usize));
            match window {
                Ok(w) => {
                    mem_out[wlo as usize..whi as usize].copy_from_slice(&w);
                    self.mirror[wlo as usize..whi as usize].copy_from_slice(&w);
                }
                Err(e) => {
                    self.restart();
                    return Err(e);
                }
            }
        }
        if r.timeout || r.proto_errors > 0 {
            // The accelerator may still be busy, or the bus checker holds stale requests.
            self.restart();
        }
        Ok(SysRun {
            status: r.status,
            err_index: r.err_index,
            fetch_cycles: r.fetch_cycles,
            exec_cycles: r.exec_cycles,
            proto_errors: r.proto_errors,
            timeout: r.timeout,
            counters: Counters::from_array(r.counters),
            mem: mem_out,
            wall: t0.elapsed(),
        })
    }

    /// Sends `request` and waits for `done SEQ`; the error says why not.
    fn request(&mut self, request: &str, seq: u64, limit: Duration) -> Result<(), String> {
        use std::io::Write;
        let r = self
            .running
            .as_mut()
            .ok_or_else(|| "no process".to_string())?;
        let stdin = r
            .stdin
            .as_mut()
            .ok_or_else(|| "no input pipe".to_string())?;
        stdin
            .write_all(request.as_bytes())
            .and_then(|_| stdin.flush())
            .map_err(|e| format!("the process ended before the request (writing to it: {e})"))?;
        let want = format!("done {seq}");
        let deadline = Instant::now() + limit;
        let mut other: Vec<String> = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match r.lines.recv_timeout(left) {
                Ok(l) if l.trim() == want => return Ok(()),
                Ok(l) => {
                    other.push(l);
                    if other.len() > 20 {
                        other.remove(0);
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "no answer within {:.1} s (the process was killed)",
                        limit.as_secs_f64()
                    ));
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(format!(
                        "the process ended{}",
                        if other.is_empty() {
                            String::new()
                        } else {
                            format!(" after printing:\n{}\n", other.join("\n"))
                        }
                    ));
                }
            }
        }
    }
}

/// The bytes from the first to one past the last where `a` and `b` (of equal length)
/// differ; `(0, 0)` if they are equal. Compares 4 KiB blocks first.
pub fn differing_span(a: &[u8], b: &[u8]) -> (usize, usize) {
    const BLOCK: usize = 4096;
    let n = a.len().min(b.len());
    let first_block = (0..n.div_ceil(BLOCK)).find(|&i| {
        let r = i * BLOCK..((i + 1) * BLOCK).min(n);
        a[r.clone()] != b[r]
    });
    let Some(fb) = first_block else {
        return (0, 0);
    };
    let last_block = (fb..n.div_ceil(BLOCK))
        .rev()
        .find(|&i| {
            let r = i * BLOCK..((i + 1) * BLOCK).min(n);
            a[r.clone()] != b[r]
        })
        .unwrap_or(fb);
    let lo = (fb * BLOCK..n)
        .find(|&i| a[i] != b[i])
        .unwrap_or(fb * BLOCK);
    let hi = (lo..((last_block + 1) * BLOCK).min(n))
        .rev()
        .find(|&i| a[i] != b[i])
        .map_or(lo + 1, |i| i + 1);
    (lo, hi)
}

impl SystemBuild {
    /// Runs one command buffer in a fresh process ([`SysProcess`], ended afterwards):
    /// the scratchpads and the PPU parameters start zeroed, device bytes `0..mem.len()`
    /// are `mem` and the rest is zero. See [`SysProcess::run`].
    pub fn run(
        &self,
        mem: &[u8],
        cmd_base: u32,
        cmd_count: u32,
        window: (u64, u64),
        max_cycles: u64,
    ) -> Result<SysRun, HdlError> {
        SysProcess::new(self)?.run(mem, cmd_base, cmd_count, window, max_cycles)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arch::isa::{Load, LoadParams, Scratchpad, Store};

    /// The `$readmemh` text of `bytes`: one byte per line, two hex digits.
    fn hex_text(bytes: &[u8]) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = Vec::with_capacity(bytes.len() * 3);
        for &b in bytes {
            s.push(HEX[(b >> 4) as usize]);
            s.push(HEX[(b & 15) as usize]);
            s.push(b'\n');
        }
        String::from_utf8(s).unwrap_or_default()
    }

    fn result_text() -> String {
        let mut s = String::from(
            "status 00000002\nerr_index 0\nfetch_cycles 12\nexec_cycles 345\nproto_errors 0\ntimeout 0\n",
        );
        for i in 0..NUM_COUNTERS {
            s.push_str(&format!("counter {i} {}\n", 100 + i));
        }
        s
    }

    #[test]
    fn parses_a_result_file() {
        let r = parse_result(Path::new("r.txt"), &result_text()).unwrap();
        assert_eq!(r.status, 2);
        assert_eq!(r.fetch_cycles, 12);
        assert_eq!(r.exec_cycles, 345);
        assert!(!r.timeout);
        assert_eq!(r.counters[0], 100);
        assert_eq!(r.counters[14], 114);
    }

    #[test]
    fn result_errors_name_file_and_line() {
        let t = result_text().replace("counter 3 103", "counter 3 x");
        let e = parse_result(Path::new("dir/result.txt"), &t)
            .unwrap_err()
            .to_string();
        assert!(e.contains("dir/result.txt") && e.contains("line 10"), "{e}");
        assert!(e.contains("dma_busy_cycles"), "{e}");
        let t = result_text().replace("timeout 0", "timeout 2");
        let e = parse_result(Path::new("r"), &t).unwrap_err().to_string();
        assert!(e.contains("line 6"), "{e}");
        let t = result_text().replace("status 00000002", "status 2");
        assert!(parse_result(Path::new("r"), &t).is_err());
        let t = result_text().replace("counter 5 105", "counter 6 105");
        assert!(parse_result(Path::new("r"), &t).is_err());
        let t: String = result_text()
            .lines()
            .take(20)
            .map(|l| format!("{l}\n"))
            .collect();
        let e = parse_result(Path::new("r"), &t).unwrap_err().to_string();
        assert!(e.contains("20 non-empty lines"), "{e}");
    }

    #[test]
    fn hex_round_trip_and_errors() {
        let bytes: Vec<u8> = (0..=255u8).collect();
        let t = hex_text(&bytes);
        assert_eq!(t.lines().count(), 256);
        assert_eq!(parse_hex(Path::new("m"), &t, 256).unwrap(), bytes);
        let with_comment = format!("// written by the testbench\n{t}");
        assert_eq!(
            parse_hex(Path::new("m"), &with_comment, 256).unwrap(),
            bytes
        );
        let e = parse_hex(Path::new("m.hex"), &t, 255)
            .unwrap_err()
            .to_string();
        assert!(e.contains("m.hex") && e.contains("line 256"), "{e}");
        let e = parse_hex(Path::new("m.hex"), &t, 257)
            .unwrap_err()
            .to_string();
        assert!(e.contains("256 bytes, expected 257"), "{e}");
        let e = parse_hex(Path::new("m.hex"), "00\nzz\n", 2)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("zz"), "{e}");
        assert!(parse_hex(Path::new("m"), "xxx\n", 1).is_err());
    }

    #[test]
    fn differing_span_finds_the_first_and_last_difference() {
        let a = vec![7u8; 10_000];
        let mut b = a.clone();
        assert_eq!(differing_span(&a, &b), (0, 0));
        b[4095] = 0;
        assert_eq!(differing_span(&a, &b), (4095, 4096));
        b[4096] = 0;
        b[9_999] = 1;
        assert_eq!(differing_span(&a, &b), (4095, 10_000));
        b[0] = 9;
        assert_eq!(differing_span(&a, &b), (0, 10_000));
        assert_eq!(differing_span(&a[..5], &b[1..6]), (0, 0));
        assert_eq!(differing_span(&[], &[]), (0, 0));
    }

    #[test]
    fn needed_bytes_covers_every_transfer() {
        let load = Command::new(Op::Load(Load {
            sp: Scratchpad::Input,
            transpose: false,
            sp_line: 0,
            mem_addr: 1000,
            mem_stride: 100,
            nrows: 3,
            ncols: 7,
        }));
        assert_eq!(command_extent(&load), 1000 + 200 + 7);
        let params = Command::new(Op::LoadParams(LoadParams {
            mem_addr: 5000,
            count: 10,
            zp_out: 0,
            act_min: -128,
            act_max: 127,
        }));
        assert_eq!(command_extent(&params), 5120);
        let store = |raw| {
            Command::new(Op::Store(Store {
                raw_int32: raw,
                acc_line: 0,
                mem_addr: 6000,
                mem_stride: 40,
                nrows: 2,
                ncols: 9,
            }))
        };
        assert_eq!(command_extent(&store(false)), 6049);
        assert_eq!(command_extent(&store(true)), 6076);
        let empty = Command::new(Op::Load(Load {
            sp: Scratchpad::Weight,
            transpose: true,
            sp_line: 0,
            mem_addr: 9_999_999,
            mem_stride: 1,
            nrows: 0,
            ncols: 4,
        }));
        assert_eq!(command_extent(&empty), 0);
        let fin = Command::new(Op::Finish);
        let cmds = [load, params, store(true), empty, fin];
        assert_eq!(needed_bytes(64, &cmds, 0), 6076);
        assert_eq!(needed_bytes(8000, &cmds, 0), 8000 + 5 * 16);
        assert_eq!(needed_bytes(64, &cmds, 7000), 7000);
        assert!(cycle_budget(&AccelConfig::default(), &cmds) > 10_000);
    }
}
