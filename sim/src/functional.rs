//! Functional (untimed) execution of a command stream: each command's data semantics in
//! program order. Bit-exact with the cycle-level model (tested) and fast; the counters it
//! returns have every count except the timing ones (`cycles`, busy and stall cycles are 0).

use crate::machine::{self, ExecError, Machine};
use arch::device::Counters;
use arch::isa::{Command, Op, Scratchpad, PARAM_RECORD_BYTES};
use arch::{AccelConfig, Dataflow};

/// Runs `cmds` (already checked against `cfg`) over `mem`.
pub fn execute(
    cfg: &AccelConfig,
    m: &mut Machine,
    mem: &mut [u8],
    cmds: &[Command],
) -> Result<Counters, ExecError> {
    if cfg.dataflow == Dataflow::InputStationary {
        return Err(ExecError {
            index: 0,
            cmd: "<config>".into(),
            reason: format!(
                "dataflow `{}` is not modelled by this simulator yet",
                cfg.dataflow
            ),
        });
    }
    let os = cfg.dataflow == Dataflow::OutputStationary;
    let (rows, cols) = (cfg.rows as u64, cfg.cols as u64);
    let mut c = Counters::default();
    for (i, cmd) in cmds.iter().enumerate() {
        c.commands += 1;
        match &cmd.op {
            Op::Load(l) => {
                let lines = machine::exec_load(m, mem, l).map_err(|e| ExecError::new(i, cmd, e))?;
                c.bus_read_bytes += l.nrows as u64 * l.ncols as u64;
                match l.sp {
                    Scratchpad::Input => c.input_sp_write_bytes += lines * rows,
                    Scratchpad::Weight => c.weight_sp_write_bytes += lines * cols,
                }
            }
            Op::LoadParams(p) => {
                machine::exec_load_params(m, mem, p).map_err(|e| ExecError::new(i, cmd, e))?;
                c.bus_read_bytes += p.count as u64 * PARAM_RECORD_BYTES as u64;
            }
            Op::Compute(cp) => {
                machine::check_compute(m, cp, cfg.dataflow)
                    .map_err(|e| ExecError::new(i, cmd, e))?;
                machine::exec_compute_direct(m, cp, os);
                let (mm, kk, nn) = (cp.m as u64, cp.k as u64, cp.n as u64);
                c.macs += mm * kk * nn;
                let in_lines = if os { kk } else { mm };
                c.input_sp_read_bytes += in_lines * rows;
                c.weight_sp_read_bytes += kk * cols;
                c.acc_sp_write_bytes += mm * 4 * cols;
                if cp.accumulate {
                    c.acc_sp_read_bytes += mm * 4 * cols;
                }
            }
            Op::Store(s) => {
                let lines =
                    machine::exec_store(m, mem, s).map_err(|e| ExecError::new(i, cmd, e))?;
                c.acc_sp_read_bytes += lines * 4 * cols;
                let e = if s.raw_int32 { 4 } else { 1 };
                c.bus_write_bytes += s.nrows as u64 * s.ncols as u64 * e;
            }
            Op::Finish => break,
        }
    }
    Ok(c)
}
