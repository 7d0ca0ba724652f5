//! [`SReg`]: a register with synchronous, active-high reset to zero, the building block of
//! the skew, de-skew and control pipelines.

use rust_hdl::prelude::*;

/// `q <= rst ? 0 : d` on the rising clock edge.
#[derive(Clone, Debug, LogicBlock, Default)]
pub struct SReg<T: Synth> {
    pub clock: Signal<In, Clock>,
    pub rst: Signal<In, Bit>,
    pub d: Signal<In, T>,
    pub q: Signal<Out, T>,
}

impl<T: Synth> Logic for SReg<T> {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            self.q.next = if self.rst.val() {
                T::default()
            } else {
                self.d.val()
            };
        }
    }
    fn connect(&mut self) {
        self.q.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(format!(
            "always @(posedge clock) begin
    if (rst) q <= {:x};
    else q <= d;
end",
            T::default().verilog()
        ))
    }
    fn timing(&self) -> Vec<TimingInfo> {
        vec![TimingInfo {
            name: "sreg".into(),
            clock: "clock".into(),
            inputs: vec!["d".into(), "rst".into()],
            outputs: vec!["q".into()],
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sreg_delays_one_cycle_and_resets() {
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<SReg<Bits<8>>>| {
            x.clock.next = !x.clock.val()
        });
        sim.add_testbench(move |mut sim: Sim<SReg<Bits<8>>>| {
            let mut x = sim.init()?;
            x.d.next = 0xA5.into();
            wait_clock_cycle!(sim, clock, x);
            sim_assert_eq!(sim, x.q.val(), Bits::<8>::from(0xA5), x);
            x.rst.next = true;
            wait_clock_cycle!(sim, clock, x);
            sim_assert_eq!(sim, x.q.val(), Bits::<8>::from(0), x);
            sim.done(x)
        });
        sim.run(Box::new(SReg::<Bits<8>>::default()), 100).unwrap();
    }
}
