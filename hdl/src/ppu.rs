//! The post-processing unit: one lane per array column, three pipeline stages, the exact
//! arithmetic of [`arch::quant::requantize`] (TFLite-Micro's per-channel requantization).
//!
//! - stage 1: `x = (acc + bias) << max(shift, 0)` (int32, wrapping, like the C code);
//! - stage 2: `h = SaturatingRoundingDoublingHighMul(x, multiplier)`: a signed 32 x 32
//!   -> 64-bit product, the `2^30` nudge, division by `2^31` truncated toward zero;
//! - stage 3: `RoundingDivideByPOT(h, max(-shift, 0))`, `+ zero_point`, clamp to
//!   `[act_min, act_max]`, int8.
//!
//! rust-hdl multiplies only 16 x 16 -> 32 bits, so the lane's Verilog is written by hand
//! (`Verilog::Custom`, below); its rust-hdl simulation model (`update`) calls the
//! `arch::quant` functions stage by stage. The Verilog is checked bit for bit against
//! `arch::quant::requantize` in Verilator (`hdl::verilator`, `tinyaccel hdl verify`),
//! including the extreme multipliers and shifts.
//!
//! The quantization inputs (`bias`, `mult`, `shift`, `zp`, `act_min`, `act_max`) are read
//! by the stage that uses them: they must be held stable while a vector is in the lane.

use crate::sreg::SReg;
use arch::quant;
use rust_hdl::prelude::*;

/// Pipeline depth of a [`PpuLane`]: a vector entering in cycle `c` leaves in `c + 3`.
pub const PPU_STAGES: u64 = 3;

/// One PPU lane (one output channel).
#[derive(LogicBlock, Default)]
pub struct PpuLane {
    pub clock: Signal<In, Clock>,
    pub rst: Signal<In, Bit>,
    pub acc: Signal<In, Signed<32>>,
    pub bias: Signal<In, Signed<32>>,
    pub mult: Signal<In, Signed<32>>,
    /// TFLite shift: > 0 left shift before the multiply, < 0 rounding right shift after.
    pub shift: Signal<In, Signed<8>>,
    /// The shift of the row in stage 3 (the rounding right shift): equal to `shift` when
    /// the parameters are held; a controller that streams rows with different
    /// parameters presents each row's shift here two cycles after `shift`.
    pub shift_r: Signal<In, Signed<8>>,
    pub zp: Signal<In, Signed<32>>,
    pub act_min: Signal<In, Signed<8>>,
    pub act_max: Signal<In, Signed<8>>,
    pub q: Signal<Out, Signed<8>>,
    s1: SReg<Signed<32>>,
    s2: SReg<Signed<32>>,
    s3: SReg<Signed<8>>,
}

fn to_i32<const N: usize>(x: Signed<N>) -> i32 {
    i64::try_from(x.bigint()).unwrap_or(0) as i32
}
fn s32(v: i32) -> Signed<32> {
    (v as i64).to_signed_bits()
}

impl Logic for PpuLane {
    fn update(&mut self) {
        for r in [&mut self.s1.clock, &mut self.s2.clock, &mut self.s3.clock] {
            r.next = self.clock.val();
        }
        for r in [&mut self.s1.rst, &mut self.s2.rst, &mut self.s3.rst] {
            r.next = self.rst.val();
        }
        let left = to_i32(self.shift.val()).clamp(0, 31);
        let right = (-to_i32(self.shift_r.val())).clamp(0, 31);
        let x = to_i32(self.acc.val()).wrapping_add(to_i32(self.bias.val()));
        self.s1.d.next = s32(x.wrapping_mul(1i32 << left));
        let h = quant::saturating_rounding_doubling_high_mul(
            to_i32(self.s1.q.val()),
            to_i32(self.mult.val()),
        );
        self.s2.d.next = s32(h);
        let v = quant::rounding_divide_by_pot(to_i32(self.s2.q.val()), right)
            .wrapping_add(to_i32(self.zp.val()));
        let lo = to_i32(self.act_min.val());
        let hi = to_i32(self.act_max.val());
        let c = if v < lo {
            lo
        } else if v > hi {
            hi
        } else {
            v
        };
        self.s3.d.next = (c as i64).to_signed_bits();
        self.q.next = self.s3.q.val();
    }
    fn connect(&mut self) {
        for r in [&mut self.s1, &mut self.s2] {
            r.clock.connect();
            r.rst.connect();
            r.d.connect();
        }
        self.s3.clock.connect();
        self.s3.rst.connect();
        self.s3.d.connect();
        self.q.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(PPU_LANE_VERILOG.to_string())
    }
}

/// The hand-written body of the lane (ports and the three `SReg` instances `s1`, `s2`,
/// `s3` are declared by rust-hdl).
const PPU_LANE_VERILOG: &str = r#"// Shift amounts: TFLite clamps both to 0..31.
reg [4:0] left_amt;
reg [4:0] right_amt;
reg [7:0] neg_shift;
// Stage 1: bias, left shift.
reg signed [31:0] x0;
// Stage 2: saturating rounding doubling high multiply.
reg [63:0] prod;
reg [63:0] nudged;
reg [63:0] trunc;
reg sat;
// Stage 3: rounding divide by a power of two, zero point, clamp.
reg [31:0] mask;
reg [31:0] rem;
reg [31:0] thr;
reg signed [31:0] shifted;
reg signed [31:0] v;
always @(*) begin
    s1$clock = clock;
    s2$clock = clock;
    s3$clock = clock;
    s1$rst = rst;
    s2$rst = rst;
    s3$rst = rst;
    neg_shift = 8'd0 - shift_r;
    if (shift > 8'sd31) left_amt = 5'd31;
    else if (shift > 8'sd0) left_amt = shift[4:0];
    else left_amt = 5'd0;
    if (shift_r < -8'sd31) right_amt = 5'd31;
    else if (shift_r < 8'sd0) right_amt = neg_shift[4:0];
    else right_amt = 5'd0;
    x0 = acc + bias;
    s1$d = x0 <<< left_amt;
    prod = {{32{s1$q[31]}}, s1$q} * {{32{mult[31]}}, mult};
    nudged = prod + (prod[63] ? 64'hFFFF_FFFF_C000_0001 : 64'h0000_0000_4000_0000);
    trunc = nudged + (nudged[63] ? 64'h0000_0000_7FFF_FFFF : 64'h0);
    sat = (s1$q == 32'sh8000_0000) && (mult == 32'sh8000_0000);
    s2$d = sat ? 32'sh7FFF_FFFF : $signed(trunc[62:31]);
    mask = (32'd1 << right_amt) - 32'd1;
    rem = s2$q & mask;
    thr = (mask >> 1) + {31'd0, s2$q[31]};
    shifted = (s2$q >>> right_amt) + ((rem > thr) ? 32'sd1 : 32'sd0);
    v = shifted + zp;
    if (v < $signed({{24{act_min[7]}}, act_min})) s3$d = act_min;
    else if (v > $signed({{24{act_max[7]}}, act_max})) s3$d = act_max;
    else s3$d = v[7:0];
    q = s3$q;
end"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_matches_requantize_with_three_stage_latency() {
        let cases: Vec<(i32, i32, i32, i32, i32, i32, i32)> = vec![
            (1000, 5, 1 << 30, 1, -3, -128, 127),
            (-123456, 77, 1_518_500_250, -9, 10, -128, 127),
            (i32::MAX, 0, i32::MAX, 0, 0, -128, 127),
            (i32::MIN, 0, i32::MIN, 0, 0, -128, 127),
            (-1, 0, i32::MIN, -31, 127, -128, 127),
            (300, -20, 1_900_000_000, -4, -128, 0, 127),
            (12345, 0, 1 << 30, 31, 0, -128, 127),
        ];
        let expected: Vec<i8> = cases
            .iter()
            .map(|&(a, b, m, s, z, lo, hi)| quant::requantize(a, b, m, s, z, lo, hi))
            .collect();
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<PpuLane>| x.clock.next = !x.clock.val());
        sim.add_testbench(move |mut sim: Sim<PpuLane>| {
            let mut x = sim.init()?;
            x.rst.next = true;
            wait_clock_cycle!(sim, clock, x);
            x.rst.next = false;
            for (n, &(a, b, m, s, z, lo, hi)) in cases.iter().enumerate() {
                x.acc.next = s32(a);
                x.bias.next = s32(b);
                x.mult.next = s32(m);
                x.shift.next = (s as i64).to_signed_bits();
                x.shift_r.next = (s as i64).to_signed_bits();
                x.zp.next = s32(z);
                x.act_min.next = (lo as i64).to_signed_bits();
                x.act_max.next = (hi as i64).to_signed_bits();
                // Parameters are held for the whole pipeline: one vector at a time.
                for _ in 0..PPU_STAGES {
                    wait_clock_cycle!(sim, clock, x);
                }
                sim_assert_eq!(sim, to_i32(x.q.val()), expected[n] as i32, x);
            }
            sim.done(x)
        });
        sim.run(Box::new(PpuLane::default()), 2000).unwrap();
    }
}
