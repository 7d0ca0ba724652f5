//! Helpers shared by the sim integration tests.
#![allow(dead_code)]

use arch::device::Counters;
use arch::{AccelConfig, Dataflow};
use driver::gemm::{self, GemmData, GemmProblem, GemmResult, MemLayout};
use sim::{Fidelity, SimDevice};

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
    /// Random operands (for an im2col problem, `a` is the NHWC image of its window).
    pub fn random(p: &GemmProblem, seed: u64) -> Self {
        let mut r = Rng(seed | 1);
        let a_len = p.im2col.map_or(p.m * p.k, |w| w.image_bytes() as usize);
        Operands {
            a: (0..a_len).map(|_| r.i8()).collect(),
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
    model: Fidelity,
    p: &GemmProblem,
    ops: &Operands,
) -> (GemmResult, Counters) {
    let layout = MemLayout::packed(p, 0x100);
    let prog = gemm::build(cfg, p, &layout).expect("build");
    let mut dev = SimDevice::new(cfg, model, prog.mem_end() as usize + 64);
    gemm::run(&mut dev, p, &ops.data(), &layout).expect("run")
}

/// The GEMM problems the driver offloads for the conv, depthwise and FC layers of
/// built-in model `model` on `cfg` (policy `all`; the problems the delegate judges and
/// runs, with the im2col window of the layers that use the accelerator's im2col unit),
/// one per distinct problem, named after the first layer that has it.
pub fn driver_problems(model: &str, cfg: &AccelConfig) -> Vec<(String, GemmProblem)> {
    use driver::delegate::{estimate_model, ModelFacts, Placement, Policy};
    let graph = models::builtin(model).unwrap_or_else(|| panic!("no built-in model {model}"));
    let interp = runtime::Interpreter::new(&graph).expect("interpreter");
    let prepared: Vec<&runtime::PreparedOp> = (0..graph.ops.len())
        .map(|i| interp.prepared(i).expect("prepared op"))
        .collect();
    let cpu = runtime::cost::CpuProfile::resolve("cortex-m4f").expect("cpu profile");
    let facts = ModelFacts::new(&graph, &prepared, &cpu);
    let seen = std::sync::Mutex::new(Vec::<GemmProblem>::new());
    let runs = estimate_model(&facts, cfg, Policy::All, |c, p| {
        seen.lock().unwrap().push(*p);
        sim::tile::estimate(c, p).ok()
    });
    let seen = seen.into_inner().unwrap();
    let offloaded: Vec<_> = runs
        .iter()
        .filter(|l| l.placement == Placement::Accel)
        .collect();
    assert_eq!(
        offloaded.len(),
        seen.len(),
        "{model}: one problem per offloaded layer"
    );
    let mut out: Vec<(String, GemmProblem)> = Vec::new();
    for (l, p) in offloaded.iter().zip(seen) {
        if !out.iter().any(|(_, q)| *q == p) {
            out.push((
                format!("{model}/op{}:{}", l.index, graph.ops[l.index].name()),
                p,
            ));
        }
    }
    out
}

/// One accelerated layer lowered to GEMM: `repeat` identical GEMMs (depthwise: one per
/// channel, `n = 1`).
#[derive(Debug, Clone)]
pub struct LayerGemm {
    pub name: String,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub repeat: u64,
}

/// The conv, depthwise and FC layers of an MLPerf Tiny model (`kws`, `vww`, `ic`, `ad`),
/// from the golden `ops.json`. Panics with a clear message if the golden data is missing.
pub fn mlperf_layers(model: &str) -> Vec<LayerGemm> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/models/mlperf_tiny/golden")
        .join(model)
        .join("ops.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: cannot read the MLPerf Tiny golden data ({e}); see /work/shared/models/mlperf_tiny/README.md",
            path.display()
        )
    });
    let v: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{}: invalid JSON: {e}", path.display()));
    let shape = |x: &serde_json::Value| -> Vec<usize> {
        x["shape"]
            .as_array()
            .expect("shape")
            .iter()
            .map(|d| d.as_u64().expect("dim") as usize)
            .collect()
    };
    let mut out = Vec::new();
    for op in v["ops"].as_array().expect("ops") {
        let kind = op["op"].as_str().expect("op");
        let idx = op["index"].as_u64().unwrap_or(0);
        let ins = op["inputs"].as_array().expect("inputs");
        let outs = op["outputs"].as_array().expect("outputs");
        let name = format!("{model}/op{idx}:{kind}");
        match kind {
            "CONV_2D" => {
                let f = shape(&ins[1]);
                let o = shape(&outs[0]);
                out.push(LayerGemm {
                    name,
                    m: o[1] * o[2],
                    k: f[1] * f[2] * f[3],
                    n: f[0],
                    repeat: 1,
                });
            }
            "DEPTHWISE_CONV_2D" => {
                let f = shape(&ins[1]);
                let o = shape(&outs[0]);
                out.push(LayerGemm {
                    name,
                    m: o[1] * o[2],
                    k: f[1] * f[2],
                    n: 1,
                    repeat: f[3] as u64,
                });
            }
            "FULLY_CONNECTED" => {
                let i = shape(&ins[0]);
                let f = shape(&ins[1]);
                let inner = f[1];
                out.push(LayerGemm {
                    name,
                    m: i.iter().product::<usize>() / inner,
                    k: inner,
                    n: f[0],
                    repeat: 1,
                });
            }
            _ => {}
        }
    }
    assert!(!out.is_empty(), "{}: no conv/FC layers", path.display());
    out
}
