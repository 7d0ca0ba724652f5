//! [`RtlDevice`]: the system RTL (in Verilator, [`crate::sysflow`]) behind the
//! [`arch::device::Device`] trait, interchangeable with `sim::SimDevice`.
//!
//! The host side is the same as the simulator's: a device memory (`Vec<u8>`), the
//! registers of `docs/architecture.md` section 7 and a running total of the counters.
//! `CTRL.start` first checks the command buffer in software exactly like the simulator
//! (`sim::machine::decode_checked`, the scratchpad ranges of every `COMPUTE`, the memory
//! range of every transfer), so a bad buffer gives the same [`DeviceError`] as on
//! `SimDevice` without starting Verilator. A valid buffer is then run by one process of
//! the system testbench on the memory prefix the program touches ([`RtlRun::mem_bytes`]);
//! the bytes it leaves there are copied back.
//!
//! Each start is a fresh RTL process, so the scratchpads, the accumulators and the PPU
//! parameter RAM start zeroed (the simulator keeps them between buffers). Driver
//! programs load every operand and parameter block they use, so this does not change
//! their results; a hand-written buffer that reads a scratchpad it did not load in the
//! same buffer sees zeros here and stale data on `SimDevice`.

use crate::sysflow::{self, SysModel, SysRun};
use crate::HdlError;
use arch::device::{reg, Counters, Device, DeviceError, HostRegs};
use arch::isa::{Command, Op, COMMAND_BYTES};
use arch::AccelConfig;
use sim::machine::{self, ExecError, Machine};
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
    model: SysModel,
    mem: Vec<u8>,
    /// One past the highest byte the host wrote.
    high_water: u64,
    checker: Machine,
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
            .field("binary", &self.model.binary)
            .field("mem_bytes", &self.mem.len())
            .finish()
    }
}

impl RtlDevice {
    /// Builds (or takes from the cache) the system testbench of `cfg` with `mem_bytes` of
    /// device memory (`sim::device::DEFAULT_MEM_BYTES` is the simulator's default).
    pub fn new(cfg: &AccelConfig, mem_bytes: usize) -> Result<Self, HdlError> {
        let model = sysflow::build(cfg, mem_bytes as u64)?;
        Ok(Self::with_model(model))
    }

    /// A device on an already built testbench (its memory size is the device's).
    pub fn with_model(model: SysModel) -> Self {
        RtlDevice {
            cfg: model.cfg.clone(),
            mem: vec![0; model.mem_bytes as usize],
            high_water: 0,
            checker: Machine::new(&model.cfg),
            model,
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
    pub fn model(&self) -> &SysModel {
        &self.model
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

    /// RTL processes run, execution cycles simulated and their wall time, since creation.
    pub fn rtl_totals(&self) -> (u64, u64, Duration) {
        (self.runs, self.rtl_cycles, self.rtl_wall)
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
        let len = cmd_count as usize * COMMAND_BYTES;
        let base = cmd_base as usize;
        let cmds = if base.checked_add(len).is_none_or(|e| e > self.mem.len()) {
            Err(ExecError {
                index: 0,
                cmd: "<buffer>".into(),
                reason: format!(
                    "command buffer {base:#x}+{len} outside the {}-byte memory",
                    self.mem.len()
                ),
            })
        } else {
            machine::decode_checked(&self.cfg, &self.mem[base..base + len])
                .and_then(|cmds| precheck(&self.cfg, &self.checker, &self.mem, &cmds).map(|_| cmds))
        }
        .map_err(exec_to_device)?;
        let n = sysflow::needed_bytes(cmd_base, &cmds, self.high_water).min(self.mem.len() as u64)
            as usize;
        let max_cycles = self
            .max_cycles
            .unwrap_or_else(|| sysflow::cycle_budget(&self.cfg, &cmds));
        let run = self
            .model
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

/// The simulator's checks of a decoded buffer, with the simulator's own code and
/// messages: the scratchpad ranges of every `COMPUTE` first (as `sim::cycle` does), then
/// a functional run (`sim::functional`, program order, on copies of `m` and `mem`) for
/// the device-memory ranges of the transfers and the PPU shifts of `LOAD_PARAMS`.
pub fn precheck(
    cfg: &AccelConfig,
    m: &Machine,
    mem: &[u8],
    cmds: &[Command],
) -> Result<(), ExecError> {
    let end = cmds
        .iter()
        .position(|c| matches!(c.op, Op::Finish))
        .unwrap_or(cmds.len());
    for (i, c) in cmds[..end].iter().enumerate() {
        if let Op::Compute(cp) = &c.op {
            machine::check_compute(m, cp, cfg.dataflow).map_err(|e| ExecError {
                index: i,
                cmd: c.to_string(),
                reason: e,
            })?;
        }
    }
    sim::functional::execute(cfg, &mut m.clone(), &mut mem.to_vec(), cmds).map(|_| ())
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
    use arch::isa::{Load, LoadParams, Scratchpad};

    fn cfg() -> AccelConfig {
        AccelConfig::preset("tiny-4x4").unwrap()
    }

    #[test]
    fn precheck_reports_like_the_simulator() {
        let cfg = cfg();
        let m = Machine::new(&cfg);
        let mut mem = vec![0u8; 4096];
        let load = Command::new(Op::Load(Load {
            sp: Scratchpad::Input,
            transpose: false,
            sp_line: 0,
            mem_addr: 4000,
            mem_stride: 40,
            nrows: 4,
            ncols: 4,
        }));
        let cmds = vec![load, Command::new(Op::Finish)];
        let e = precheck(&cfg, &m, &mem, &cmds).unwrap_err();
        assert_eq!(e.index, 0);
        assert!(e.reason.contains("0x1018..0x101c"), "{}", e.reason);
        // The same buffer on the simulator fails at the same command with the same reason.
        let mut sm = Machine::new(&cfg);
        let se = sim::cycle::run(&cfg, &mut sm, &mut mem, &cmds).unwrap_err();
        assert_eq!((se.index, &se.reason), (e.index, &e.reason));

        let params = Command::new(Op::LoadParams(LoadParams {
            mem_addr: 0,
            count: 2,
            zp_out: 0,
            act_min: -128,
            act_max: 127,
        }));
        mem[12 + 8] = 40; // column 1: shift 40
        let cmds = vec![params, Command::new(Op::Finish)];
        let e = precheck(&cfg, &m, &mem, &cmds).unwrap_err();
        assert!(e.reason.contains("column 1: shift 40"), "{}", e.reason);
        let mut sm = Machine::new(&cfg);
        let se = sim::cycle::run(&cfg, &mut sm, &mut mem, &cmds).unwrap_err();
        assert_eq!((se.index, &se.reason), (e.index, &e.reason));
        mem[12 + 8] = 3;
        assert!(precheck(&cfg, &m, &mem, &cmds).is_ok());
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
