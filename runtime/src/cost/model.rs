//! The latency and energy model: [`CpuProfile::layer_cost`].
//!
//! For a MAC layer (convolution, depthwise, fully connected) the cycles are
//!
//! ```text
//! cycles = per_call
//!        + executed_macs x (f x per_mac + (1 - f) x per_mac_tail)   inner loops
//!        + taps x per_tap                                            index / bounds checks
//!        + out_pixels x per_pixel + outputs x per_output             requantize, clamp, store
//!        + out_pixels x patch_bytes x im2col_per_byte                packing
//!        + flash_lines x ws(clock) x (1 - prefetch_hidden)           weight fetch stalls
//!        + core x code_stall_per_ws x ws(clock)                      instruction fetch stalls
//! ```
//!
//! where `f` is the fraction of the reduction handled by the SIMD-blocked main loop,
//! `executed_macs` excludes padding taps for kernels that skip them, and `flash_lines` is the
//! number of flash accesses needed to stream the weights: once if they fit in the data cache,
//! else once per pass (`out_pixels / weight_reuse` passes), and `core` is the sum of the
//! lines above the flash term. Every constant comes from the
//! profile; their derivation and sources are in `docs/cpu-model.md`.
//!
//! Energy is `power(clock) x time + flash_bytes x read_pj_per_byte`, with
//! `power = supply_v x run_current(clock)` from the datasheet curve.

use serde::Serialize;

use super::profile::{CpuProfile, KernelCost};
use super::shape::{ElementwiseKind, OpShape, PoolKind};

/// Where a layer's cycles go (fractional cycles; their sum rounded up is `cycles`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct CycleBreakdown {
    /// Per-call overhead (interpreter dispatch, kernel set-up).
    pub call: f64,
    /// Inner MAC loops (main + remainder loops).
    pub mac: f64,
    /// Per-tap index arithmetic and bounds checks.
    pub tap: f64,
    /// Per-output-pixel loop overhead.
    pub pixel: f64,
    /// Per-output work: bias, requantization, clamp, store.
    pub output: f64,
    /// im2col / patch packing.
    pub im2col: f64,
    /// Work of non-MAC ops (per element, per row, per byte).
    pub elementwise: f64,
    /// Stalls on flash wait states while streaming weights.
    pub flash_stall: f64,
    /// Stalls on instruction fetch from flash.
    pub code_stall: f64,
}

impl CycleBreakdown {
    /// Sum of all parts.
    pub fn total(&self) -> f64 {
        self.call
            + self.mac
            + self.tap
            + self.pixel
            + self.output
            + self.im2col
            + self.elementwise
            + self.flash_stall
            + self.code_stall
    }
}

/// The predicted cost of one layer on one CPU profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerCost {
    /// Kernel form used (`conv_1x1`, `conv`, `depthwise`, `fully_connected`, `avg_pool`, ...).
    pub kernel: &'static str,
    /// Nominal MACs of the layer (padding taps included).
    pub macs: u64,
    /// MACs the kernel actually executes (without padding taps when it skips them).
    pub executed_macs: u64,
    /// Weight bytes fetched from flash (whole flash lines).
    pub flash_bytes: u64,
    /// Flash wait states at the profile clock.
    pub wait_states: u32,
    /// Cycles (the breakdown's total rounded up).
    pub cycles: u64,
    /// Latency, microseconds: cycles / clock.
    pub time_us: f64,
    /// Energy, picojoules (integer so that sums over layers are exact).
    pub energy_pj: u64,
    /// Energy, microjoules (`energy_pj / 1e6`).
    pub energy_uj: f64,
    /// Where the cycles go.
    pub breakdown: CycleBreakdown,
}

fn ceil_div(a: u64, b: u64) -> u64 {
    if b == 0 {
        0
    } else {
        a.div_ceil(b)
    }
}

/// Fraction of a reduction of length `len` handled by the main loop of block `block`.
fn main_fraction(len: u64, block: u32) -> f64 {
    if len == 0 {
        return 1.0;
    }
    let block = block.max(1) as u64;
    ((len / block) * block) as f64 / len as f64
}

impl CpuProfile {
    /// Predicted cycles, time and energy of one layer at this profile's clock with its
    /// kernel library. Never fails: degenerate shapes (zero sizes) cost the call overhead.
    pub fn layer_cost(&self, shape: &OpShape) -> LayerCost {
        let lib = self.kernels();
        let ws = self.wait_states();
        let mut b = CycleBreakdown::default();
        let mut executed_macs = 0u64;
        // (weight bytes, passes over them) for the flash model.
        let mut weights: Option<(u64, u64)> = None;
        let kernel: &'static str;
        let per_mac = |k: &KernelCost, macs: u64, frac: f64| -> f64 {
            macs as f64 * (frac * k.per_mac + (1.0 - frac) * k.per_mac_tail)
        };
        match shape {
            OpShape::Conv(c) | OpShape::Depthwise(c) => {
                let dw = matches!(shape, OpShape::Depthwise(_));
                let (name, k) = if dw {
                    ("depthwise", &lib.depthwise)
                } else if c.is_pointwise() {
                    ("conv_1x1", &lib.conv_1x1)
                } else {
                    ("conv", &lib.conv)
                };
                kernel = name;
                let pixels = c.out_pixels() as u64;
                let outputs = c.outputs() as u64;
                let taps = c.taps() as u64;
                let all_taps = outputs * taps;
                let exec_taps = if k.skips_padding {
                    (c.valid_taps_per_image() * c.batch * c.out_c) as u64
                } else {
                    all_taps
                };
                // `reduction`: input channels per output (1 for depthwise); `channels`: the
                // channels a patch (and the SIMD loop) spans.
                let (reduction, channels) = if dw {
                    // Depthwise kernels vectorize across channels.
                    (1, c.in_c as u64)
                } else {
                    let group = c.group_in_c as u64;
                    (group, group)
                };
                let frac_len = if dw { channels } else { taps * channels };
                executed_macs = exec_taps * reduction;
                let frac = main_fraction(frac_len, k.simd_block);
                b.call = k.per_call;
                b.mac = per_mac(k, executed_macs, frac);
                b.tap = all_taps as f64 * k.per_tap;
                b.pixel = pixels as f64 * k.per_pixel;
                b.output = outputs as f64 * k.per_output;
                b.im2col = (pixels * taps * channels) as f64 * k.im2col_per_byte;
                let passes = (pixels as f64 / k.weight_reuse).ceil() as u64;
                weights = Some((shape.weight_bytes(), passes));
            }
            OpShape::FullyConnected {
                batch,
                in_features,
                out_features,
            } => {
                let k = &lib.fully_connected;
                kernel = "fully_connected";
                executed_macs = batch * in_features * out_features;
                let frac = main_fraction(*in_features, k.simd_block);
                b.call = k.per_call;
                b.mac = per_mac(k, executed_macs, frac);
                b.output = (batch * out_features) as f64 * k.per_output;
                b.pixel = *batch as f64 * k.per_pixel;
                let passes = (*batch as f64 / k.weight_reuse).ceil() as u64;
                weights = Some((shape.weight_bytes(), passes));
            }
            OpShape::Pool(p) => {
                let (name, k) = match p.kind {
                    PoolKind::Avg => ("avg_pool", &lib.avg_pool),
                    PoolKind::Max => ("max_pool", &lib.max_pool),
                };
                kernel = name;
                b.call = k.per_call;
                b.tap = p.valid_taps() as f64 * k.per_tap;
                b.output = p.outputs() as f64 * k.per_output;
                b.pixel = (p.batch * p.out_h * p.out_w) as f64 * k.per_pixel;
            }
            OpShape::Elementwise { kind, elems } => {
                let (name, k) = match kind {
                    ElementwiseKind::Add => ("add", &lib.add),
                    ElementwiseKind::Mul => ("mul", &lib.mul),
                    ElementwiseKind::Quantize => ("quantize", &lib.quantize),
                    ElementwiseKind::Logistic => ("logistic", &lib.logistic),
                    ElementwiseKind::Tanh => ("tanh", &lib.tanh),
                };
                kernel = name;
                b.call = k.per_call;
                b.elementwise = *elems as f64 * k.per_element;
            }
            OpShape::Softmax { rows, depth } => {
                let k = &lib.softmax;
                kernel = "softmax";
                b.call = k.per_call;
                b.elementwise = *rows as f64 * k.per_row + (rows * depth) as f64 * k.per_element;
            }
            OpShape::Reshape { bytes } => {
                let k = &lib.reshape;
                kernel = "reshape";
                b.call = k.per_call;
                b.elementwise = *bytes as f64 * k.per_byte;
            }
            OpShape::Pad {
                in_bytes,
                out_bytes,
            } => {
                let k = &lib.pad;
                kernel = "pad";
                b.call = k.per_call;
                // Every output byte is written (fill or copy); copied bytes are also read.
                b.elementwise = *out_bytes as f64 * k.per_byte + *in_bytes as f64 * k.per_element;
            }
            OpShape::Concat { bytes } => {
                let k = &lib.concat;
                kernel = "concat";
                b.call = k.per_call;
                b.elementwise = *bytes as f64 * k.per_byte;
            }
            OpShape::Mean {
                in_elems,
                out_elems,
            } => {
                let k = &lib.mean;
                kernel = "mean";
                b.call = k.per_call;
                b.elementwise = *in_elems as f64 * k.per_element;
                b.output = *out_elems as f64 * k.per_output;
            }
        }

        // Flash: weights stream from flash; a layer whose weights fit in the data cache
        // misses only on the first pass.
        let flash = &self.data().flash;
        // Instruction-fetch stalls scale the core's own work (everything but data stalls).
        b.code_stall = b.total() * flash.code_stall_per_ws * ws as f64;
        let mut flash_bytes = 0;
        if let Some((w, passes)) = weights {
            let streamed = if w <= flash.data_cache_bytes {
                w
            } else {
                w * passes.max(1)
            };
            let lines = ceil_div(streamed, flash.line_bytes as u64);
            flash_bytes = lines * flash.line_bytes as u64;
            b.flash_stall = lines as f64 * ws as f64 * (1.0 - flash.prefetch_hidden);
        }

        let cycles = b.total().ceil() as u64;
        let time_us = cycles as f64 / self.clock_mhz();
        // us x mW = nJ; x 1000 = pJ.
        let core_pj = time_us * self.power_mw() * 1000.0;
        let flash_pj = flash_bytes as f64 * flash.read_pj_per_byte;
        let energy_pj = (core_pj + flash_pj).round() as u64;
        LayerCost {
            kernel,
            macs: shape.macs(),
            executed_macs,
            flash_bytes,
            wait_states: ws,
            cycles,
            time_us,
            energy_pj,
            energy_uj: energy_pj as f64 / 1e6,
            breakdown: b,
        }
    }
}
