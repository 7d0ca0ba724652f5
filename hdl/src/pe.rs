//! The int8 processing elements, one per dataflow, written with rust-hdl's `#[hdl_gen]`.
//!
//! Both widen their int8 operands to 16 bits, multiply (16 x 16 -> 32 bits) and add the
//! product to an int32 sum, wrapping like the int32 arithmetic of the reference kernels.
//! All registers have a synchronous, active-high reset (`rst`) to zero.

use rust_hdl::prelude::*;

/// rust-hdl's own `signed_bit_cast` recurses forever on the most negative value (-128);
/// `#[hdl_gen]` matches the function by name, so this local version emits the same
/// Verilog (`$signed(x)`) while simulating correctly.
pub(crate) fn signed_bit_cast<const M: usize, const N: usize>(x: Signed<N>) -> Signed<M> {
    let v: i64 = x.bigint().try_into().unwrap_or(0);
    let t: Signed<M> = v.to_signed_bits();
    t
}

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

    fn s8(v: i64) -> Signed<8> {
        v.to_signed_bits()
    }
    fn s32(v: i64) -> Signed<32> {
        v.to_signed_bits()
    }
    fn int(v: Signed<32>) -> i64 {
        v.bigint().try_into().unwrap()
    }

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

    #[test]
    fn pe_verilog_has_signed_multiply() {
        let mut pe = OsPe::default();
        pe.connect_all();
        let v = generate_verilog(&pe);
        println!("{v}");
        assert!(v.contains("$signed(a_in) * $signed(b_in)"), "{v}");
    }
}
