//! The architectural state of the accelerator (scratchpads, PPU parameter RAM) and the
//! data semantics of each command, shared by the functional and the cycle-level models.

use arch::hostcheck::{self, Scratchpads};
use arch::im2col::{self, Window};
use arch::isa::{
    self, ConvGeom, Load, LoadIm2col, LoadParams, Scratchpad, Store, VCompute, VSet,
    PARAM_RECORD_BYTES,
};
use arch::quant;
use arch::{AccelConfig, Dataflow};

pub use arch::hostcheck::{decode_checked, ExecError};

/// Scratchpads and PPU state.
#[derive(Debug, Clone)]
pub struct Machine {
    pub rows: usize,
    pub cols: usize,
    /// Input scratchpad, `in_lines x rows` bytes.
    pub input: Vec<i8>,
    /// Weight scratchpad, `w_lines x cols` bytes.
    pub weight: Vec<i8>,
    /// Accumulator scratchpad, `acc_lines x cols` int32.
    pub acc: Vec<i32>,
    pub in_lines: usize,
    pub w_lines: usize,
    pub acc_lines: usize,
    /// PPU parameter RAM: `(bias, mult, shift)` per output column.
    pub params: Vec<(i32, i32, i32)>,
    pub zp_out: i32,
    pub act_min: i32,
    pub act_max: i32,
    pub banks: [usize; 3],
    /// The load engine's window registers: the last `CONV_GEOM` of the running command
    /// buffer (`None` before the first one; [`Machine::reset_window`] at every start).
    pub geom: Option<ConvGeom>,
    /// The vector unit's mode registers: the last `VSET` of the running command buffer
    /// (`None` before the first one; reset with the window at every start).
    pub vset: Option<VSet>,
}

impl Machine {
    /// Zeroed state for `cfg`.
    pub fn new(cfg: &AccelConfig) -> Self {
        let rows = cfg.rows as usize;
        let cols = cfg.cols as usize;
        let in_lines = cfg.input_sram_bytes() as usize / rows;
        let w_lines = cfg.weight_sram_bytes() as usize / cols;
        let acc_lines = cfg.acc_sram_bytes() as usize / (4 * cols);
        Machine {
            rows,
            cols,
            input: vec![0; in_lines * rows],
            weight: vec![0; w_lines * cols],
            acc: vec![0; acc_lines * cols],
            in_lines,
            w_lines,
            acc_lines,
            params: vec![(0, 0, 0); isa::PPU_PARAM_ENTRIES_PER_COL as usize * cols],
            zp_out: 0,
            act_min: -128,
            act_max: 127,
            banks: [
                cfg.input_sram_banks as usize,
                cfg.weight_sram_banks as usize,
                cfg.acc_sram_banks as usize,
            ],
            geom: None,
            vset: None,
        }
    }

    /// Clears the window registers and the vector unit's mode registers: a command
    /// buffer starts without a `CONV_GEOM` and without a `VSET`.
    pub fn reset_window(&mut self) {
        self.geom = None;
        self.vset = None;
    }

    /// The window of the last `CONV_GEOM` and its image address, or the error of a
    /// `LOAD_IM2COL` that has none.
    pub fn window(&self) -> Result<(Window, u64), String> {
        match &self.geom {
            Some(g) => Ok((Window::of(g), g.mem_addr as u64)),
            None => Err(hostcheck::Violation::Im2colNoGeometry.to_string()),
        }
    }

    /// Bank of a line of scratchpad `sp` (0 input, 1 weight, 2 acc): with `B >= 2`
    /// banks, each half of the lines (the double buffers) spans its own `B/2` banks of
    /// `ceil((lines/2) / (B/2))` consecutive lines; with one bank, everything is bank 0.
    pub fn bank(&self, sp: usize, line: usize) -> usize {
        let lines = [self.in_lines, self.w_lines, self.acc_lines][sp];
        let b = self.banks[sp];
        if b < 2 {
            return 0;
        }
        let half_lines = (lines / 2).max(1);
        let half = (line / half_lines).min(1);
        let per_bank = half_lines.div_ceil(b / 2);
        (half * (b / 2) + (line - half * half_lines) / per_bank).min(b - 1)
    }

    /// The sizes the host-side checks ([`arch::hostcheck`]) take.
    pub fn scratchpads(&self) -> Scratchpads {
        Scratchpads {
            rows: self.rows,
            cols: self.cols,
            in_lines: self.in_lines,
            w_lines: self.w_lines,
            acc_lines: self.acc_lines,
            param_entries: self.params.len(),
        }
    }
}

/// Executes a `LOAD`; returns the number of scratchpad lines written.
pub fn exec_load(m: &mut Machine, mem: &[u8], l: &Load) -> Result<u64, String> {
    let lines = hostcheck::load_lines(&m.scratchpads(), l).map_err(|e| e.to_string())?;
    let (w, sp) = match l.sp {
        Scratchpad::Input => (m.rows, &mut m.input),
        Scratchpad::Weight => (m.cols, &mut m.weight),
    };
    let (base, n_lines) = (lines.start, lines.len());
    // Every touched line is written whole: clear first.
    sp[base * w..(base + n_lines) * w].fill(0);
    let (nrows, ncols) = (l.nrows as usize, l.ncols as usize);
    for r in 0..nrows {
        let src = hostcheck::load_row(mem.len(), l, r).map_err(|e| e.to_string())?;
        let row = &mem[src];
        for (c, &byte) in row.iter().enumerate() {
            let (line, lane) = if l.transpose {
                (base + (r / w) * ncols + c, r % w)
            } else {
                (base + (c / w) * nrows + r, c % w)
            };
            sp[line * w + lane] = byte as i8;
        }
    }
    Ok(n_lines as u64)
}

/// Executes a `CONV_GEOM`: checks its image range and sets the window registers.
pub fn exec_conv_geom(m: &mut Machine, mem: &[u8], g: &ConvGeom) -> Result<(), String> {
    hostcheck::check_conv_geom(mem.len(), g).map_err(|e| e.to_string())?;
    m.geom = Some(*g);
    Ok(())
}

/// Executes a `LOAD_IM2COL` with the window of the last `CONV_GEOM`
/// ([`hostcheck::check_load_im2col`]): element `(r, c)` is the image byte of
/// [`Window::element`] (or `pad_value`), placed as a `LOAD`'s element `(r, c)` (every
/// touched line written whole); returns the number of scratchpad lines written.
pub fn exec_load_im2col(m: &mut Machine, mem: &[u8], li: &LoadIm2col) -> Result<u64, String> {
    let (win, addr) = m.window()?;
    let sp = m.scratchpads();
    hostcheck::check_load_im2col(&sp, Some(&win), li).map_err(|e| e.to_string())?;
    let lines = hostcheck::im2col_lines(&sp, li).map_err(|e| e.to_string())?;
    let image =
        hostcheck::mem_range(mem.len(), addr, win.image_bytes()).map_err(|e| e.to_string())?;
    let image = &mem[image];
    let w = m.rows;
    let (base, n_lines) = (lines.start, lines.len());
    let sp = &mut m.input;
    sp[base * w..(base + n_lines) * w].fill(0);
    for r in 0..li.nrows as usize {
        for c in 0..li.ncols as usize {
            let byte = match win.element(li, r as u64, c as u64) {
                // In the image: the checks above bound every tap.
                Some(off) => image[off as usize] as i8,
                None => li.pad_value,
            };
            let (line, lane) = im2col::placement(li, w as u64, r as u64, c as u64);
            sp[line as usize * w + lane as usize] = byte;
        }
    }
    Ok(n_lines as u64)
}

/// Executes a `LOAD_PARAMS`.
pub fn exec_load_params(m: &mut Machine, mem: &[u8], p: &LoadParams) -> Result<(), String> {
    let count = hostcheck::param_count(&m.scratchpads(), p).map_err(|e| e.to_string())?;
    let src = hostcheck::param_bytes(mem.len(), p, count).map_err(|e| e.to_string())?;
    let bytes = &mem[src];
    for (i, rec) in bytes.chunks_exact(PARAM_RECORD_BYTES).enumerate() {
        let f = |o: usize| i32::from_le_bytes([rec[o], rec[o + 1], rec[o + 2], rec[o + 3]]);
        let shift =
            hostcheck::check_shift(i, hostcheck::record_shift(rec)).map_err(|e| e.to_string())?;
        m.params[i] = (f(0), f(4), shift);
    }
    m.zp_out = p.zp_out as i32;
    m.act_min = p.act_min as i32;
    m.act_max = p.act_max as i32;
    Ok(())
}

/// Executes a `STORE`; returns the number of accumulator lines read.
pub fn exec_store(m: &Machine, mem: &mut [u8], s: &Store) -> Result<u64, String> {
    let cols = m.cols;
    let (nrows, ncols) = (s.nrows as usize, s.ncols as usize);
    let sp = m.scratchpads();
    let lines = hostcheck::store_lines(&sp, s).map_err(|e| e.to_string())?;
    hostcheck::store_columns(&sp, s).map_err(|e| e.to_string())?;
    let base = lines.start;
    for r in 0..nrows {
        let dst = hostcheck::store_row(mem.len(), s, r).map_err(|e| e.to_string())?;
        let out = &mut mem[dst];
        for c in 0..ncols {
            let x = m.acc[(base + (c / cols) * nrows + r) * cols + c % cols];
            if s.raw_int32 {
                out[c * 4..c * 4 + 4].copy_from_slice(&x.to_le_bytes());
            } else {
                let (bias, mult, shift) = m.params[c];
                out[c] =
                    quant::requantize(x, bias, mult, shift, m.zp_out, m.act_min, m.act_max) as u8;
            }
        }
    }
    Ok(lines.len() as u64)
}

/// Checks a `COMPUTE`'s line ranges against the machine ([`hostcheck::check_compute`]).
pub fn check_compute(
    m: &Machine,
    c: &arch::isa::Compute,
    dataflow: Dataflow,
) -> Result<(), String> {
    hostcheck::check_compute(&m.scratchpads(), c, dataflow).map_err(|e| e.to_string())
}

/// Checks a `VCOMPUTE` against the mode registers `vset` of the last `VSET` before it
/// ([`hostcheck::check_vcompute`]), without executing it.
pub fn check_vcompute(m: &Machine, vset: Option<&VSet>, c: &VCompute) -> Result<(), String> {
    hostcheck::check_vcompute(&m.scratchpads(), vset, c).map_err(|e| e.to_string())
}

/// Checks a `VCOMPUTE` against the mode registers ([`hostcheck::check_vcompute`]) and
/// executes it ([`arch::vpu::execute`]); returns the `VSET` it ran with.
pub fn exec_vcompute(m: &mut Machine, c: &VCompute) -> Result<VSet, String> {
    hostcheck::check_vcompute(&m.scratchpads(), m.vset.as_ref(), c).map_err(|e| e.to_string())?;
    let set = m.vset.expect("checked above");
    arch::vpu::execute(&set, c, m.rows, m.cols, &m.input, &m.weight, &mut m.acc);
    Ok(set)
}

/// The direct (non-systolic) semantics of a `COMPUTE`: `C[i][j] (+)= sum_x A[i][x] B[x][j]`
/// with the operand layouts of dataflow `df` ([`arch::DataflowRules::a_pos`], `b_pos`):
/// output block `nb` (columns `nb*cols..`) of row `i` is accumulator line
/// `c_line + nb*m + i`; lanes of columns `>= n` of the written lines are zero.
pub fn exec_compute_direct(m: &mut Machine, c: &arch::isa::Compute, df: Dataflow) {
    let rules = df.rules();
    let (rows, cols) = (m.rows, m.cols);
    let (mm, kk, nn) = (c.m as usize, c.k as usize, c.n as usize);
    for nb in 0..nn.div_ceil(cols) {
        for i in 0..mm {
            let line = c.c_line as usize + nb * mm + i;
            for lane in 0..cols {
                let j = nb * cols + lane;
                let mut sum: i32 = 0;
                if j < nn {
                    for x in 0..kk {
                        let (al, alane) = rules.a_pos(i as u64, x as u64);
                        let (bl, blane) = rules.b_pos(x as u64, j as u64);
                        let a = m.input[(c.a_line as usize + al as usize) * rows + alane as usize];
                        let b = m.weight[(c.b_line as usize + bl as usize) * cols + blane as usize];
                        sum = sum.wrapping_add(a as i32 * b as i32);
                    }
                }
                let dst = &mut m.acc[line * cols + lane];
                *dst = if c.accumulate {
                    dst.wrapping_add(sum)
                } else {
                    sum
                };
            }
        }
    }
}
