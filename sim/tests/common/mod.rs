//! Helpers shared by the sim integration tests.
#![allow(dead_code)]

use arch::device::Counters;
use arch::{AccelConfig, Dataflow};
use driver::gemm::{self, GemmData, GemmProblem, GemmResult, MemLayout};
use sim::{Model, SimDevice};

/// xorshift64* random numbers (deterministic per seed).
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn i8(&mut self) -> i8 {
        self.next() as i8
    }
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
}

/// Random operands for `p`.
pub struct Operands {
    pub a: Vec<i8>,
    pub b: Vec<i8>,
    pub bias: Vec<i32>,
    pub mult: Vec<i32>,
    pub shift: Vec<i32>,
}

impl Operands {
    pub fn random(p: &GemmProblem, seed: u64) -> Self {
        let mut r = Rng(seed | 1);
        Operands {
            a: (0..p.m * p.k).map(|_| r.i8()).collect(),
            b: (0..p.k * p.n).map(|_| r.i8()).collect(),
            bias: (0..p.n).map(|_| r.range(-20000, 20000) as i32).collect(),
            mult: (0..p.n)
                .map(|_| r.range(1 << 29, (1i64 << 31) - 1) as i32)
                .collect(),
            shift: (0..p.n).map(|_| r.range(-12, 0) as i32).collect(),
        }
    }
    pub fn data(&self) -> GemmData<'_> {
        GemmData {
            a: &self.a,
            b: &self.b,
            bias: &self.bias,
            mult: &self.mult,
            shift: &self.shift,
        }
    }
}

pub fn cfg(preset: &str, df: Dataflow) -> AccelConfig {
    let mut c = AccelConfig::preset(preset).unwrap_or_else(|| panic!("preset {preset}"));
    c.dataflow = df;
    c
}

/// Runs `p` on a simulated device with `model`; returns the result and counters.
pub fn run(
    cfg: &AccelConfig,
    model: Model,
    p: &GemmProblem,
    ops: &Operands,
) -> (GemmResult, Counters) {
    let layout = MemLayout::packed(p, 0x100);
    let prog = gemm::build(cfg, p, &layout).expect("build");
    let mut dev = SimDevice::new(cfg, model, prog.mem_end() as usize + 64);
    gemm::run(&mut dev, p, &ops.data(), &layout).expect("run")
}
