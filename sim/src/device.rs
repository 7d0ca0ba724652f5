//! [`SimDevice`]: the simulator behind the [`arch::device::Device`] trait: a device memory,
//! the registers of `docs/architecture.md` section 7, and a choice of model.

use crate::machine::{ExecError, Machine};
use crate::{cycle, functional};
use arch::device::{Counters, Device, DeviceError, HostRegs};
use arch::hostcheck;
use arch::AccelConfig;

/// The fidelity level that executes the command buffers (the word "model" is kept for ML
/// models).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fidelity {
    /// Cycle-level (timing, counters, bit-exact data).
    #[default]
    Cycle,
    /// Functional only: bit-exact data and byte/MAC counts, no timing (cycles = 0).
    Functional,
}

/// A simulated accelerator with its own device memory.
pub struct SimDevice {
    cfg: AccelConfig,
    model: Fidelity,
    mem: Vec<u8>,
    machine: Machine,
    regs: HostRegs,
    last: Option<Result<Counters, ExecError>>,
}

/// Default device memory: 16 MiB.
pub const DEFAULT_MEM_BYTES: usize = 16 << 20;

impl SimDevice {
    /// A device for `cfg` with `mem_bytes` of memory.
    pub fn new(cfg: &AccelConfig, model: Fidelity, mem_bytes: usize) -> Self {
        SimDevice {
            cfg: cfg.clone(),
            model,
            mem: vec![0; mem_bytes],
            machine: Machine::new(cfg),
            regs: HostRegs::default(),
            last: None,
        }
    }

    /// Switches the model used by the next run.
    pub fn set_model(&mut self, model: Fidelity) {
        self.model = model;
    }

    /// Counters accumulated since creation or the last clear.
    pub fn total_counters(&self) -> Counters {
        self.regs.total
    }

    fn start(&mut self) {
        self.regs.status = 0;
        let result = hostcheck::decode_buffer(
            &self.cfg,
            &self.mem,
            self.regs.cmd_base,
            self.regs.cmd_count,
        )
        .and_then(|cmds| match self.model {
            Fidelity::Cycle => cycle::run(&self.cfg, &mut self.machine, &mut self.mem, &cmds),
            Fidelity::Functional => {
                functional::execute(&self.cfg, &mut self.machine, &mut self.mem, &cmds)
            }
        });
        match &result {
            Ok(c) => self.regs.finish_ok(c),
            Err(e) => self.regs.finish_err(e.index as u32, 1),
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
        if self.regs.write(offset, value)? {
            self.start();
        }
        Ok(())
    }
    fn read_reg(&mut self, offset: u32) -> Result<u32, DeviceError> {
        self.regs.read(offset)
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
