//! The weight-stationary PE.

use super::signed_bit_cast;
use rust_hdl::prelude::*;

/// Weight-stationary PE: holds one int8 weight; partial sums flow down.
///
/// Each cycle: `a_out <= a_in`, `psum_out <= psum_in + a_in * w`; while `w_load` is high
/// the weights of a column shift down one row (`w <= w_in`, `w_out` is this PE's weight).
/// `psum_sum` is the same sum before its register (used by the bottom-right PE, whose
/// output register is the first stage of the accumulator write-back pipeline).
#[derive(LogicBlock)]
pub struct WsPe {
    pub clock: Signal<In, Clock>,
    pub rst: Signal<In, Bit>,
    pub w_load: Signal<In, Bit>,
    pub a_in: Signal<In, Signed<8>>,
    pub w_in: Signal<In, Signed<8>>,
    pub psum_in: Signal<In, Signed<32>>,
    pub a_out: Signal<Out, Signed<8>>,
    pub w_out: Signal<Out, Signed<8>>,
    pub psum_out: Signal<Out, Signed<32>>,
    pub psum_sum: Signal<Out, Signed<32>>,
    a_reg: DFF<Signed<8>>,
    w_reg: DFF<Signed<8>>,
    psum: DFF<Signed<32>>,
    prod: Signal<Local, Signed<32>>,
    zero8: Constant<Signed<8>>,
    zero32: Constant<Signed<32>>,
}

impl Default for WsPe {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            rst: Default::default(),
            w_load: Default::default(),
            a_in: Default::default(),
            w_in: Default::default(),
            psum_in: Default::default(),
            a_out: Default::default(),
            w_out: Default::default(),
            psum_out: Default::default(),
            psum_sum: Default::default(),
            a_reg: Default::default(),
            w_reg: Default::default(),
            psum: Default::default(),
            prod: Default::default(),
            zero8: Constant::new(0i64.to_signed_bits()),
            zero32: Constant::new(0i64.to_signed_bits()),
        }
    }
}

impl Logic for WsPe {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, a_reg, w_reg, psum);
        self.prod.next = signed_bit_cast::<16, 8>(self.a_in.val())
            * signed_bit_cast::<16, 8>(self.w_reg.q.val());
        self.a_out.next = self.a_reg.q.val();
        self.w_out.next = self.w_reg.q.val();
        self.psum_out.next = self.psum.q.val();
        self.psum_sum.next = self.psum_in.val() + self.prod.val();
        if self.rst.val() {
            self.a_reg.d.next = self.zero8.val();
            self.w_reg.d.next = self.zero8.val();
            self.psum.d.next = self.zero32.val();
        } else {
            self.a_reg.d.next = self.a_in.val();
            if self.w_load.val() {
                self.w_reg.d.next = self.w_in.val();
            }
            self.psum.d.next = self.psum_sum.val();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pe::test_util::{int, s32, s8};

    #[test]
    fn ws_pe_loads_weight_and_adds_psum() {
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<WsPe>| x.clock.next = !x.clock.val());
        sim.add_testbench(move |mut sim: Sim<WsPe>| {
            let mut x = sim.init()?;
            x.rst.next = true;
            wait_clock_cycle!(sim, clock, x);
            x.rst.next = false;
            x.w_load.next = true;
            x.w_in.next = s8(-128);
            wait_clock_cycle!(sim, clock, x);
            x.w_load.next = false;
            x.w_in.next = s8(9);
            sim_assert_eq!(sim, x.w_out.val(), s8(-128), x);
            for (a, p) in [(-128i64, 1i64), (127, -3), (5, 1 << 20)] {
                x.a_in.next = s8(a);
                x.psum_in.next = s32(p);
                wait_clock_cycle!(sim, clock, x);
                sim_assert_eq!(sim, int(x.psum_out.val()), p + a * -128, x);
                sim_assert_eq!(sim, x.a_out.val(), s8(a), x);
            }
            sim.done(x)
        });
        sim.run(Box::new(WsPe::default()), 200).unwrap();
    }
}
