//! The output-stationary PE.

use super::signed_bit_cast;
use rust_hdl::prelude::*;

/// Output-stationary PE: the int32 sum stays in the PE for the whole reduction.
///
/// Each cycle (`drain` low): `a_out <= a_in`, `b_out <= b_in`, `acc <= acc + a_in * b_in`.
/// While `drain` is high the accumulators of a column form a shift register towards row 0:
/// `acc <= acc_in` (the accumulator of the PE below, zero below the last row), which both
/// unloads the results and clears the array for the next tile.
#[derive(LogicBlock)]
pub struct OsPe {
    pub clock: Signal<In, Clock>,
    pub rst: Signal<In, Bit>,
    pub drain: Signal<In, Bit>,
    pub a_in: Signal<In, Signed<8>>,
    pub b_in: Signal<In, Signed<8>>,
    pub acc_in: Signal<In, Signed<32>>,
    pub a_out: Signal<Out, Signed<8>>,
    pub b_out: Signal<Out, Signed<8>>,
    pub acc_out: Signal<Out, Signed<32>>,
    a_reg: DFF<Signed<8>>,
    b_reg: DFF<Signed<8>>,
    acc: DFF<Signed<32>>,
    prod: Signal<Local, Signed<32>>,
    zero8: Constant<Signed<8>>,
    zero32: Constant<Signed<32>>,
}

impl Default for OsPe {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            rst: Default::default(),
            drain: Default::default(),
            a_in: Default::default(),
            b_in: Default::default(),
            acc_in: Default::default(),
            a_out: Default::default(),
            b_out: Default::default(),
            acc_out: Default::default(),
            a_reg: Default::default(),
            b_reg: Default::default(),
            acc: Default::default(),
            prod: Default::default(),
            zero8: Constant::new(0i64.to_signed_bits()),
            zero32: Constant::new(0i64.to_signed_bits()),
        }
    }
}

impl Logic for OsPe {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, a_reg, b_reg, acc);
        self.prod.next =
            signed_bit_cast::<16, 8>(self.a_in.val()) * signed_bit_cast::<16, 8>(self.b_in.val());
        self.a_out.next = self.a_reg.q.val();
        self.b_out.next = self.b_reg.q.val();
        self.acc_out.next = self.acc.q.val();
        if self.rst.val() {
            self.a_reg.d.next = self.zero8.val();
            self.b_reg.d.next = self.zero8.val();
            self.acc.d.next = self.zero32.val();
        } else {
            self.a_reg.d.next = self.a_in.val();
            self.b_reg.d.next = self.b_in.val();
            if self.drain.val() {
                self.acc.d.next = self.acc_in.val();
            } else {
                self.acc.d.next = self.acc.q.val() + self.prod.val();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pe::test_util::{int, s32, s8};

    #[test]
    fn os_pe_accumulates_extremes_and_drains() {
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<OsPe>| x.clock.next = !x.clock.val());
        sim.add_testbench(move |mut sim: Sim<OsPe>| {
            let mut x = sim.init()?;
            x.rst.next = true;
            wait_clock_cycle!(sim, clock, x);
            x.rst.next = false;
            let ops: [(i64, i64); 5] = [(-128, -128), (-128, 127), (127, 127), (3, -7), (0, 5)];
            let mut want = 0i64;
            for (a, b) in ops {
                x.a_in.next = s8(a);
                x.b_in.next = s8(b);
                want += a * b;
                wait_clock_cycle!(sim, clock, x);
                sim_assert_eq!(sim, x.a_out.val(), s8(a), x);
                sim_assert_eq!(sim, x.b_out.val(), s8(b), x);
            }
            sim_assert_eq!(sim, int(x.acc_out.val()), want, x);
            x.a_in.next = s8(0);
            x.drain.next = true;
            x.acc_in.next = s32(-5);
            wait_clock_cycle!(sim, clock, x);
            sim_assert_eq!(sim, int(x.acc_out.val()), -5, x);
            sim.done(x)
        });
        sim.run(Box::new(OsPe::default()), 200).unwrap();
    }

    #[test]
    fn pe_verilog_has_signed_multiply() {
        let mut pe = OsPe::default();
        pe.connect_all();
        let v = generate_verilog(&pe);
        println!("{v}");
        assert!(v.contains("$signed(a_in) * $signed(b_in)"), "{v}");
    }
}
