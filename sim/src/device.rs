//! [`SimDevice`]: the simulator behind the [`arch::device::Device`] trait: a device memory,
//! the registers of `docs/architecture.md` section 7, and a choice of model.

use crate::machine::{self, ExecError, Machine};
use crate::{cycle, functional};
use arch::device::{reg, Counters, Device, DeviceError};
use arch::isa::COMMAND_BYTES;
use arch::AccelConfig;

/// Which model executes the command buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Model {
    /// Cycle-level (timing, counters, bit-exact data).
    #[default]
    Cycle,
    /// Functional only: bit-exact data and byte/MAC counts, no timing (cycles = 0).
    Functional,
}

/// A simulated accelerator with its own device memory.
pub struct SimDevice {
    cfg: AccelConfig,
    model: Model,
    mem: Vec<u8>,
    machine: Machine,
    cmd_base: u32,
    cmd_count: u32,
    status: u32,
    err_index: u32,
    total: Counters,
    last: Option<Result<Counters, ExecError>>,
}

/// Default device memory: 16 MiB.
pub const DEFAULT_MEM_BYTES: usize = 16 << 20;

impl SimDevice {
    /// A device for `cfg` with `mem_bytes` of memory.
    pub fn new(cfg: &AccelConfig, model: Model, mem_bytes: usize) -> Self {
        SimDevice {
            cfg: cfg.clone(),
            model,
            mem: vec![0; mem_bytes],
            machine: Machine::new(cfg),
            cmd_base: 0,
            cmd_count: 0,
            status: 0,
            err_index: 0,
            total: Counters::default(),
            last: None,
        }
    }

    /// Switches the model used by the next run.
    pub fn set_model(&mut self, model: Model) {
        self.model = model;
    }

    /// Counters accumulated since creation or the last clear.
    pub fn total_counters(&self) -> Counters {
        self.total
    }

    fn start(&mut self) {
        let len = self.cmd_count as usize * COMMAND_BYTES;
        let base = self.cmd_base as usize;
        let result = if base.checked_add(len).is_none_or(|e| e > self.mem.len()) {
            Err(ExecError {
                index: 0,
                cmd: "<buffer>".into(),
                reason: format!(
                    "command buffer {base:#x}+{len} outside the {}-byte memory",
                    self.mem.len()
                ),
            })
        } else {
            let bytes = self.mem[base..base + len].to_vec();
            machine::decode_checked(&self.cfg, &bytes).and_then(|cmds| match self.model {
                Model::Cycle => cycle::run(&self.cfg, &mut self.machine, &mut self.mem, &cmds),
                Model::Functional => {
                    functional::execute(&self.cfg, &mut self.machine, &mut self.mem, &cmds)
                }
            })
        };
        match &result {
            Ok(c) => {
                self.total.add(c);
                self.status = reg::STATUS_DONE;
            }
            Err(e) => {
                self.status = reg::STATUS_DONE | reg::STATUS_ERROR | (1 << 8);
                self.err_index = e.index as u32;
            }
        }
        self.last = Some(result);
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

impl Device for SimDevice {
    fn config(&self) -> &AccelConfig {
        &self.cfg
    }
    fn mem_size(&self) -> u64 {
        self.mem.len() as u64
    }
    fn write_mem(&mut self, addr: u64, data: &[u8]) -> Result<(), DeviceError> {
        let r = self.range(addr, data.len())?;
        self.mem[r].copy_from_slice(data);
        Ok(())
    }
    fn read_mem(&mut self, addr: u64, out: &mut [u8]) -> Result<(), DeviceError> {
        let r = self.range(addr, out.len())?;
        out.copy_from_slice(&self.mem[r]);
        Ok(())
    }
    fn write_reg(&mut self, offset: u32, value: u32) -> Result<(), DeviceError> {
        match offset {
            reg::CTRL => {
                if value & reg::CTRL_CLEAR_COUNTERS != 0 {
                    self.total = Counters::default();
                }
                if value & reg::CTRL_START != 0 {
                    self.start();
                }
                Ok(())
            }
            reg::CMD_BASE => {
                self.cmd_base = value;
                Ok(())
            }
            reg::CMD_COUNT => {
                self.cmd_count = value;
                Ok(())
            }
            other => Err(DeviceError::BadRegister(other)),
        }
    }
    fn read_reg(&mut self, offset: u32) -> Result<u32, DeviceError> {
        let counters = self.total.to_array();
        match offset {
            reg::ID => Ok(reg::ID_VALUE),
            reg::STATUS => Ok(self.status),
            reg::CMD_BASE => Ok(self.cmd_base),
            reg::CMD_COUNT => Ok(self.cmd_count),
            reg::ERR_INDEX => Ok(self.err_index),
            o if o >= reg::COUNTERS
                && o < reg::COUNTERS + 8 * counters.len() as u32
                && o.is_multiple_of(4) =>
            {
                let i = ((o - reg::COUNTERS) / 8) as usize;
                let v = counters[i];
                Ok(if (o - reg::COUNTERS).is_multiple_of(8) {
                    v as u32
                } else {
                    (v >> 32) as u32
                })
            }
            other => Err(DeviceError::BadRegister(other)),
        }
    }
    fn wait(&mut self) -> Result<Counters, DeviceError> {
        match self.last.take() {
            Some(Ok(c)) => Ok(c),
            Some(Err(e)) => Err(DeviceError::Command {
                index: e.index,
                reason: format!("{}: {}", e.cmd, e.reason),
            }),
            None => Err(DeviceError::Buffer(
                "wait() without a started command buffer".into(),
            )),
        }
    }
}
