//! [`RtlDevice`]: the system RTL (in Verilator, [`crate::sysflow`]) behind the
//! [`arch::device::Device`] trait, interchangeable with `sim::SimDevice`.
//!
//! The host side is the same as the simulator's: a device memory (`Vec<u8>`), the
//! registers of `docs/architecture.md` section 7 and a running total of the counters.
//! `CTRL.start` first checks the command buffer with the simulator's own checks
//! ([`arch::hostcheck::decode_buffer`], then [`arch::hostcheck::check_buffer`]: the
//! scratchpad ranges of every `COMPUTE`, the memory range of every transfer row, the PPU
//! shifts), so a bad buffer gives the same [`DeviceError`] as on `SimDevice` without
//! starting Verilator (see `check_buffer` for the one case it cannot decide before the
//! run). A valid buffer is then run by the device's testbench process
//! ([`sysflow::SysProcess`], started by the first buffer and kept for the device's life)
//! on the memory prefix the program touches ([`RtlRun::mem_bytes`]; only the bytes that
//! changed since the process last saw them are sent); the bytes it leaves there are
//! copied back.
//!
//! The process keeps the accelerator's state between buffers like `SimDevice` does: the
//! scratchpads, the accumulators and the PPU parameter RAM hold what the previous buffers
//! left; the counters of each run are its own. If the process has to be restarted (it
//! crashed, hung, or a run timed out or broke the bus protocol; that run fails), the next
//! buffer starts from zeroed state.

use crate::sysflow::{self, SysProcess, SysRun, SystemBuild};
use crate::HdlError;
use arch::device::{reg, Counters, Device, DeviceError, HostRegs};
use arch::hostcheck::{self, ExecError};
use arch::isa::Command;
use arch::AccelConfig;
use std::time::Duration;

/// What the last RTL run did (besides the counters).
#[derive(Debug, Clone, PartialEq)]
pub struct RtlRun {
    /// Bytes of device memory given to (and compared after) the RTL run.
    pub mem_bytes: u64,
    pub commands: u32,
    pub status: u32,
    pub err_index: u32,
    pub fetch_cycles: u64,
    /// Execution cycles counted by the testbench.
    pub exec_cycles: u64,
    pub proto_errors: u64,
    pub timeout: bool,
    pub max_cycles: u64,
    pub counters: Counters,
    pub wall: Duration,
}

/// The accelerator's RTL as a device.
pub struct RtlDevice {
    cfg: AccelConfig,
    build: SystemBuild,
    /// The testbench process (created by the first start).
    process: Option<SysProcess>,
    mem: Vec<u8>,
    /// One past the highest byte the host wrote.
    high_water: u64,
    regs: HostRegs,
    last: Option<Result<Counters, DeviceError>>,
    last_run: Option<RtlRun>,
    max_cycles: Option<u64>,
    runs: u64,
    rtl_cycles: u64,
    rtl_wall: Duration,
}

impl std::fmt::Debug for RtlDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RtlDevice")
            .field("config", &self.cfg.name)
            .field("binary", &self.build.binary)
            .field("mem_bytes", &self.mem.len())
            .finish()
    }
}

impl RtlDevice {
    /// Builds (or takes from the cache) the system testbench of `cfg` with `mem_bytes` of
    /// device memory (`sim::device::DEFAULT_MEM_BYTES` is the simulator's default).
    pub fn new(cfg: &AccelConfig, mem_bytes: usize) -> Result<Self, HdlError> {
        let build = sysflow::build(cfg, mem_bytes as u64)?;
        Ok(Self::with_build(build))
    }

    /// A device on an already built testbench (its memory size is the device's).
    pub fn with_build(build: SystemBuild) -> Self {
        RtlDevice {
            cfg: build.cfg.clone(),
            mem: vec![0; build.mem_bytes as usize],
            high_water: 0,
            build,
            process: None,
            regs: HostRegs::default(),
            last: None,
            last_run: None,
            max_cycles: None,
            runs: 0,
            rtl_cycles: 0,
            rtl_wall: Duration::ZERO,
        }
    }

    /// The testbench in use.
    pub fn build(&self) -> &SystemBuild {
        &self.build
    }

    /// Cycle limit of every run (`None`: [`sysflow::cycle_budget`] of the buffer).
    pub fn set_max_cycles(&mut self, max: Option<u64>) {
        self.max_cycles = max;
    }

    /// Counters accumulated since creation or the last clear.
    pub fn total_counters(&self) -> Counters {
        self.regs.total
    }

    /// The last RTL run (`None` before the first, or if the buffer failed the software
    /// checks).
    pub fn last_run(&self) -> Option<&RtlRun> {
        self.last_run.as_ref()
    }

    /// RTL runs (command buffers), execution cycles simulated and their wall time, since
    /// creation.
    pub fn rtl_totals(&self) -> (u64, u64, Duration) {
        (self.runs, self.rtl_cycles, self.rtl_wall)
    }

    /// Testbench processes started since creation (1 unless a process had to be
    /// restarted) and memory-image bytes sent to them.
    pub fn process_totals(&self) -> (u64, u64) {
        self.process
            .as_ref()
            .map_or((0, 0), |p| (p.spawns(), p.bytes_transferred()))
    }

    /// The running testbench process's id (`None` before the first start).
    pub fn process_id(&self) -> Option<u32> {
        self.process.as_ref().and_then(|p| p.pid())
    }

    fn start(&mut self) {
        self.last_run = None;
        let result = self.try_start();
        match &result {
            Ok(c) => self.regs.finish_ok(c),
            Err(DeviceError::Command { index, .. }) => self.regs.finish_err(*index as u32, 1),
            Err(_) => {
                self.regs.status = 0;
                self.regs.finish_err(0, 1);
            }
        }
        self.last = Some(result);
    }

    fn try_start(&mut self) -> Result<Counters, DeviceError> {
        self.regs.status = 0;
        let (cmd_base, cmd_count) = (self.regs.cmd_base, self.regs.cmd_count);
        let cmds = hostcheck::decode_buffer(&self.cfg, &self.mem, cmd_base, cmd_count)
            .and_then(|cmds| hostcheck::check_buffer(&self.cfg, &self.mem, &cmds).map(|_| cmds))
            .map_err(exec_to_device)?;
        let n = sysflow::needed_bytes(cmd_base, &cmds, self.high_water).min(self.mem.len() as u64)
            as usize;
        let max_cycles = self
            .max_cycles
            .unwrap_or_else(|| sysflow::cycle_budget(&self.cfg, &cmds));
        if self.process.is_none() {
            let p = SysProcess::new(&self.build)
                .map_err(|e| DeviceError::Buffer(format!("RTL backend: {e}")))?;
            self.process = Some(p);
        }
        let process = self
            .process
            .as_mut()
            .ok_or_else(|| DeviceError::Buffer("RTL backend: no testbench process".into()))?;
        let run = process
            .run(
                &self.mem[..n],
                cmd_base,
                cmd_count,
                sysflow::write_window(&cmds, n as u64),
                max_cycles,
            )
            .map_err(|e| DeviceError::Buffer(format!("RTL backend: {e}")))?;
        self.mem[..n].copy_from_slice(&run.mem);
        self.runs += 1;
        self.rtl_cycles += run.exec_cycles;
        self.rtl_wall += run.wall;
        self.last_run = Some(RtlRun {
            mem_bytes: n as u64,
            commands: cmd_count,
            status: run.status,
            err_index: run.err_index,
            fetch_cycles: run.fetch_cycles,
            exec_cycles: run.exec_cycles,
            proto_errors: run.proto_errors,
            timeout: run.timeout,
            max_cycles,
            counters: run.counters,
            wall: run.wall,
        });
        judge_run(&run, &cmds, max_cycles).inspect_err(|_| self.regs.status = run.status)
    }

    fn range(&self, addr: u64, len: usize) -> Result<std::ops::Range<usize>, DeviceError> {
        let size = self.mem.len() as u64;
        match addr.checked_add(len as u64) {
            Some(end) if end <= size => Ok(addr as usize..end as usize),
            _ => Err(DeviceError::OutOfBounds {
                addr,
                len: len as u64,
                size,
            }),
        }
    }
}

fn exec_to_device(e: ExecError) -> DeviceError {
    DeviceError::Command {
        index: e.index,
        reason: format!("{}: {}", e.cmd, e.reason),
    }
}

/// The verdict on one RTL run: its counters, or the error naming the command and the
/// RTL's error code.
pub fn judge_run(run: &SysRun, cmds: &[Command], max_cycles: u64) -> Result<Counters, DeviceError> {
    let name = |i: u32| {
        cmds.get(i as usize)
            .map(|c| c.to_string())
            .unwrap_or_else(|| "<none>".into())
    };
    if run.timeout {
        return Err(DeviceError::Command {
            index: run.err_index as usize,
            reason: format!(
                "RTL: no STATUS.done within {max_cycles} cycles (STATUS {:#010x}; {} cycles executed)",
                run.status, run.exec_cycles
            ),
        });
    }
    if run.is_error() {
        return Err(DeviceError::Command {
            index: run.err_index as usize,
            reason: format!(
                "{}: RTL error code {} ({}), STATUS {:#010x}",
                name(run.err_index),
                run.error_code(),
                sysflow::error_name(run.error_code()),
                run.status
            ),
        });
    }
    if run.proto_errors > 0 {
        return Err(DeviceError::Command {
            index: 0,
            reason: format!(
                "RTL: the memory model saw {} bus protocol violations",
                run.proto_errors
            ),
        });
    }
    if run.status & reg::STATUS_DONE == 0 {
        return Err(DeviceError::Command {
            index: 0,
            reason: format!("RTL: STATUS {:#010x} without done", run.status),
        });
    }
    Ok(run.counters)
}

impl Device for RtlDevice {
    fn config(&self) -> &AccelConfig {
        &self.cfg
    }
    fn mem_size(&self) -> u64 {
        self.mem.len() as u64
    }
    fn write_mem(&mut self, addr: u64, data: &[u8]) -> Result<(), DeviceError> {
        let r = self.range(addr, data.len())?;
        if !data.is_empty() {
            self.high_water = self.high_water.max(r.end as u64);
        }
        self.mem[r].copy_from_slice(data);
        Ok(())
    }
    fn read_mem(&mut self, addr: u64, out: &mut [u8]) -> Result<(), DeviceError> {
        let r = self.range(addr, out.len())?;
        out.copy_from_slice(&self.mem[r]);
        Ok(())
    }
    fn write_reg(&mut self, offset: u32, value: u32) -> Result<(), DeviceError> {
        if self.regs.write(offset, value)? {
            self.start();
        }
        Ok(())
    }
    fn read_reg(&mut self, offset: u32) -> Result<u32, DeviceError> {
        self.regs.read(offset)
    }
    fn wait(&mut self) -> Result<Counters, DeviceError> {
        self.last.take().unwrap_or_else(|| {
            Err(DeviceError::Buffer(
                "wait() without a started command buffer".into(),
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arch::isa::{Load, LoadParams, Op, Scratchpad};

    fn cfg() -> AccelConfig {
        AccelConfig::preset("tiny-4x4").unwrap()
    }

    /// A buffer the host-side checks reject fails at `CTRL.start` with the simulator's
    /// index and message (tested equal to the simulator in `cosim/tests/hostcheck.rs`),
    /// without a Verilator run: the testbench is never built or started here.
    #[test]
    fn bad_buffers_fail_before_the_rtl_runs() {
        let cfg = cfg();
        let build = SystemBuild {
            cfg: cfg.clone(),
            mem_bytes: 4096,
            dir: "/nonexistent".into(),
            binary: "/nonexistent/Vsys".into(),
            built: false,
            build_seconds: 0.0,
        };
        let mut dev = RtlDevice::with_build(build);
        let load = Command::new(Op::Load(Load {
            sp: Scratchpad::Input,
            transpose: false,
            sp_line: 0,
            mem_addr: 4000,
            mem_stride: 40,
            nrows: 4,
            ncols: 4,
        }));
        let buf = arch::isa::encode_all(&[load, Command::new(Op::Finish)]);
        match dev.submit(64, &buf) {
            Err(DeviceError::Command { index, reason }) => {
                assert_eq!(index, 0);
                assert!(
                    reason.ends_with(
                        "memory access 0x1018..0x101c outside the 4096-byte device memory"
                    ),
                    "{reason}"
                );
            }
            o => panic!("{o:?}"),
        }
        assert!(dev.last_run().is_none(), "no RTL run");
        assert_eq!(dev.read_reg(reg::ERR_INDEX).unwrap(), 0);
        let params = Command::new(Op::LoadParams(LoadParams {
            mem_addr: 0,
            count: 2,
            zp_out: 0,
            act_min: -128,
            act_max: 127,
        }));
        dev.write_mem(12 + 8, &[40]).unwrap(); // column 1: shift 40
        let buf = arch::isa::encode_all(&[params, Command::new(Op::Finish)]);
        let e = dev.submit(64, &buf).unwrap_err().to_string();
        assert!(e.contains("column 1: shift 40 outside -31..=31"), "{e}");
        // The buffer itself outside the memory.
        dev.write_reg(reg::CMD_BASE, 4080).unwrap();
        dev.write_reg(reg::CMD_COUNT, 2).unwrap();
        dev.write_reg(reg::CTRL, reg::CTRL_START).unwrap();
        let e = dev.wait().unwrap_err().to_string();
        assert!(
            e.contains("command buffer 0xff0+32 outside the 4096-byte memory"),
            "{e}"
        );
    }

    fn sys_run(status: u32) -> SysRun {
        SysRun {
            status,
            err_index: 1,
            fetch_cycles: 0,
            exec_cycles: 10,
            proto_errors: 0,
            timeout: false,
            counters: Counters {
                cycles: 10,
                ..Default::default()
            },
            mem: vec![],
            wall: Duration::ZERO,
        }
    }

    #[test]
    fn rtl_errors_become_device_errors() {
        let cmds = vec![Command::new(Op::Finish); 2];
        assert_eq!(judge_run(&sys_run(2), &cmds, 100).unwrap().cycles, 10);
        let e = judge_run(
            &sys_run(2 | 4 | (crate::system::ERR_DEADLOCK << 8)),
            &cmds,
            100,
        )
        .unwrap_err();
        match e {
            DeviceError::Command { index, reason } => {
                assert_eq!(index, 1);
                assert!(reason.contains("code 4 (dependency deadlock)"), "{reason}");
            }
            o => panic!("{o:?}"),
        }
        let mut r = sys_run(1);
        r.timeout = true;
        let e = judge_run(&r, &cmds, 100).unwrap_err().to_string();
        assert!(e.contains("within 100 cycles"), "{e}");
        let mut r = sys_run(2);
        r.proto_errors = 3;
        let e = judge_run(&r, &cmds, 100).unwrap_err().to_string();
        assert!(e.contains("3 bus protocol violations"), "{e}");
        assert!(judge_run(&sys_run(0), &cmds, 100).is_err());
    }
}
