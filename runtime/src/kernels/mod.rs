//! int8 reference kernels, bit-exact with TFLite-Micro's reference integer kernels
//! (`tensorflow/lite/kernels/internal/reference/integer_ops/*`). Pure functions over
//! slices: no allocation in the hot loops, no global state. All fixed-point
//! requantization goes through `arch::quant`.
//!
//! [`fast`] holds the packed, SIMD versions of conv, depthwise and fully connected that
//! the interpreter runs by default; they give the same bytes as the reference kernels
//! here, which stay the oracle ([`fast::Kernels::Reference`] selects them).

pub mod activations;
pub mod conv;
pub mod depthwise;
pub mod elementwise;
pub mod fast;
pub mod fixedpoint;
pub mod fully_connected;
pub mod int16;
pub mod pool;
pub mod quantize;
pub mod reduce;
pub mod relu;
pub mod shape;
pub mod softmax;
pub mod spatial;
pub mod sub;

/// Per-channel requantization parameters of a conv, depthwise or fully connected op,
/// exactly as the CPU kernels use them (the accelerator driver uses the same values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantParams {
    /// Input zero point (the kernels add `-input_zero_point` to every input value).
    pub input_zero_point: i32,
    /// Filter zero point (0 for TFLite int8 weights; FC kernels add `-filter_zero_point`).
    pub filter_zero_point: i32,
    pub output_zero_point: i32,
    /// Fused activation clamp, within -128..=127.
    pub act_min: i32,
    pub act_max: i32,
    /// Q31 multiplier per output channel.
    pub multipliers: Vec<i32>,
    /// Power-of-two exponent per output channel (positive = left shift).
    pub shifts: Vec<i32>,
    /// int32 bias per output channel (zeros when the op has no bias).
    pub bias: Vec<i32>,
}

impl QuantParams {
    /// Post-processing of one accumulator of output channel `c` (bias, requantize, zero
    /// point, clamp): `arch::quant::requantize` with this channel's parameters.
    #[inline]
    pub fn requantize(&self, acc: i32, c: usize) -> i8 {
        arch::quant::requantize(
            acc,
            self.bias[c],
            self.multipliers[c],
            self.shifts[c],
            self.output_zero_point,
            self.act_min,
            self.act_max,
        )
    }
}

/// Views raw bytes as int8 values.
#[inline]
pub fn as_i8(b: &[u8]) -> &[i8] {
    // SAFETY: u8 and i8 have the same size and alignment and every bit pattern is valid.
    unsafe { std::slice::from_raw_parts(b.as_ptr() as *const i8, b.len()) }
}

/// Views raw bytes as mutable int8 values.
#[inline]
pub fn as_i8_mut(b: &mut [u8]) -> &mut [i8] {
    // SAFETY: as in `as_i8`; the borrow is unique.
    unsafe { std::slice::from_raw_parts_mut(b.as_mut_ptr() as *mut i8, b.len()) }
}
