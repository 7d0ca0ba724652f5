//! The int8 processing elements, one per dataflow (one file each), written with
//! rust-hdl's `#[hdl_gen]`:
//!
//! - [`os::OsPe`]: output-stationary, the int32 sum stays in the PE;
//! - [`ws::WsPe`]: weight-stationary, the int8 weight stays, partial sums flow down;
//! - [`is::IsPe`]: input-stationary, the int8 activation stays, partial sums flow right.
//!
//! All widen their int8 operands to 16 bits, multiply (16 x 16 -> 32 bits) and add the
//! product to an int32 sum, wrapping like the int32 arithmetic of the reference kernels.
//! All registers have a synchronous, active-high reset (`rst`) to zero.

pub mod is;
pub mod os;
pub mod ws;

pub use is::IsPe;
pub use os::OsPe;
pub use ws::WsPe;

use rust_hdl::prelude::*;

/// rust-hdl's own `signed_bit_cast` recurses forever on the most negative value (-128);
/// `#[hdl_gen]` matches the function by name, so this local version emits the same
/// Verilog (`$signed(x)`) while simulating correctly.
pub(crate) fn signed_bit_cast<const M: usize, const N: usize>(x: Signed<N>) -> Signed<M> {
    let v: i64 = x.bigint().try_into().unwrap_or(0);
    let t: Signed<M> = v.to_signed_bits();
    t
}

#[cfg(test)]
pub(crate) mod test_util {
    use rust_hdl::prelude::*;

    pub fn s8(v: i64) -> Signed<8> {
        v.to_signed_bits()
    }
    pub fn s32(v: i64) -> Signed<32> {
        v.to_signed_bits()
    }
    pub fn int(v: Signed<32>) -> i64 {
        v.bigint().try_into().unwrap()
    }
}
