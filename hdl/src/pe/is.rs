//! The input-stationary PE.

use super::signed_bit_cast;
use rust_hdl::prelude::*;

/// Input-stationary PE: holds one int8 activation; int8 weights move down, int32 partial
/// sums move right (docs/architecture.md section 3.3).
///
/// Each cycle: `b_out <= b_in`, `psum_out <= psum_in + a * b_in`; while `a_load` is high
/// the activations of a row shift one column right (`a <= a_in`, `a_out` is this PE's
/// activation, the next column's `a_in`). `psum_sum` is the same sum before its register
/// (the last column's sum goes straight into its row's collector).
#[derive(LogicBlock)]
pub struct IsPe {
    pub clock: Signal<In, Clock>,
    pub rst: Signal<In, Bit>,
    pub a_load: Signal<In, Bit>,
    pub a_in: Signal<In, Signed<8>>,
    pub b_in: Signal<In, Signed<8>>,
    pub psum_in: Signal<In, Signed<32>>,
    pub a_out: Signal<Out, Signed<8>>,
    pub b_out: Signal<Out, Signed<8>>,
    pub psum_out: Signal<Out, Signed<32>>,
    pub psum_sum: Signal<Out, Signed<32>>,
    a_reg: DFF<Signed<8>>,
    b_reg: DFF<Signed<8>>,
    psum: DFF<Signed<32>>,
    prod: Signal<Local, Signed<32>>,
    zero8: Constant<Signed<8>>,
    zero32: Constant<Signed<32>>,
}

impl Default for IsPe {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            rst: Default::default(),
            a_load: Default::default(),
            a_in: Default::default(),
            b_in: Default::default(),
            psum_in: Default::default(),
            a_out: Default::default(),
            b_out: Default::default(),
            psum_out: Default::default(),
            psum_sum: Default::default(),
            a_reg: Default::default(),
            b_reg: Default::default(),
            psum: Default::default(),
            prod: Default::default(),
            zero8: Constant::new(0i64.to_signed_bits()),
            zero32: Constant::new(0i64.to_signed_bits()),
        }
    }
}

impl Logic for IsPe {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, a_reg, b_reg, psum);
        self.prod.next = signed_bit_cast::<16, 8>(self.a_reg.q.val())
            * signed_bit_cast::<16, 8>(self.b_in.val());
        self.a_out.next = self.a_reg.q.val();
        self.b_out.next = self.b_reg.q.val();
        self.psum_out.next = self.psum.q.val();
        self.psum_sum.next = self.psum_in.val() + self.prod.val();
        if self.rst.val() {
            self.a_reg.d.next = self.zero8.val();
            self.b_reg.d.next = self.zero8.val();
            self.psum.d.next = self.zero32.val();
        } else {
            if self.a_load.val() {
                self.a_reg.d.next = self.a_in.val();
            }
            self.b_reg.d.next = self.b_in.val();
            self.psum.d.next = self.psum_sum.val();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pe::test_util::{int, s32, s8};

    #[test]
    fn is_pe_holds_activation_passes_weight_and_adds_psum() {
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<IsPe>| x.clock.next = !x.clock.val());
        sim.add_testbench(move |mut sim: Sim<IsPe>| {
            let mut x = sim.init()?;
            x.rst.next = true;
            wait_clock_cycle!(sim, clock, x);
            x.rst.next = false;
            x.a_load.next = true;
            x.a_in.next = s8(-128);
            wait_clock_cycle!(sim, clock, x);
            x.a_load.next = false;
            // A new a_in without a_load must not disturb the stationary activation.
            x.a_in.next = s8(9);
            sim_assert_eq!(sim, x.a_out.val(), s8(-128), x);
            for (b, p) in [
                (-128i64, 1i64),
                (127, -3),
                (5, 1 << 20),
                (-1, i32::MAX as i64),
            ] {
                x.b_in.next = s8(b);
                x.psum_in.next = s32(p);
                wait_clock_cycle!(sim, clock, x);
                let want = (p as i32).wrapping_add((b * -128) as i32) as i64;
                sim_assert_eq!(sim, int(x.psum_out.val()), want, x);
                sim_assert_eq!(sim, x.b_out.val(), s8(b), x);
                sim_assert_eq!(sim, x.a_out.val(), s8(-128), x);
            }
            sim.done(x)
        });
        sim.run(Box::new(IsPe::default()), 200).unwrap();
    }

    #[test]
    fn is_pe_verilog_multiplies_the_stationary_activation() {
        let mut pe = IsPe::default();
        pe.connect_all();
        let v = generate_verilog(&pe);
        assert!(v.contains("$signed(a_reg$q) * $signed(b_in)"), "{v}");
    }
}
