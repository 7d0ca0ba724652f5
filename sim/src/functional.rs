//! Functional (untimed) execution of a command stream: each command's data semantics in
//! program order. Bit-exact with the cycle-level model (tested) and fast; the counters it
//! returns have every count except the timing ones (`cycles`, busy and stall cycles are 0),
//! derived by [`Counters::add_command_regs`].

use crate::machine::{self, ExecError, Machine};
use arch::device::Counters;
use arch::isa::{Command, Op};
use arch::AccelConfig;

/// Runs `cmds` (already checked against `cfg`) over `mem`.
pub fn execute(
    cfg: &AccelConfig,
    m: &mut Machine,
    mem: &mut [u8],
    cmds: &[Command],
) -> Result<Counters, ExecError> {
    let mut c = Counters::default();
    m.reset_window();
    for (i, cmd) in cmds.iter().enumerate() {
        match &cmd.op {
            Op::Load(l) => {
                machine::exec_load(m, mem, l).map_err(|e| ExecError::new(i, cmd, e))?;
            }
            Op::ConvGeom(g) => {
                machine::exec_conv_geom(m, mem, g).map_err(|e| ExecError::new(i, cmd, e))?;
            }
            Op::LoadIm2col(li) => {
                machine::exec_load_im2col(m, mem, li).map_err(|e| ExecError::new(i, cmd, e))?;
            }
            Op::LoadParams(p) => {
                machine::exec_load_params(m, mem, p).map_err(|e| ExecError::new(i, cmd, e))?;
            }
            Op::Compute(cp) => {
                machine::check_compute(m, cp, cfg.dataflow)
                    .map_err(|e| ExecError::new(i, cmd, e))?;
                machine::exec_compute_direct(m, cp, cfg.dataflow);
            }
            Op::Store(s) => {
                machine::exec_store(m, mem, s).map_err(|e| ExecError::new(i, cmd, e))?;
            }
            Op::VSet(v) => m.vset = Some(*v),
            Op::VCompute(v) => {
                machine::exec_vcompute(m, v).map_err(|e| ExecError::new(i, cmd, e))?;
            }
            Op::Finish => {}
        }
        let window = match cmd.op {
            Op::LoadIm2col(_) => m.window().ok().map(|(w, _)| w),
            _ => None,
        };
        c.add_command_regs(cfg, &cmd.op, window.as_ref(), m.vset.as_ref());
        if let Op::Finish = cmd.op {
            break;
        }
    }
    Ok(c)
}
