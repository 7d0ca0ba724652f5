//! Cross-backend conformance with the RTL, for small cases: random fully connected and
//! convolution layers small enough to be one core tile are computed by the CPU reference
//! kernels, lowered by the driver (im2col, weight packing, zero-point folding), and run
//! through the compute core's RTL in Verilator and through the simulator's register-level
//! core model. All three must agree bit for bit, and the RTL's cycles must equal
//! `arch::timing`. Seed and case count: `TINYACCEL_RTL_CONFORMANCE_SEED`,
//! `TINYACCEL_RTL_CONFORMANCE_CASES` (default 1000 per dataflow).

use arch::{AccelConfig, Dataflow};
use driver::lower;
use hdl::cases::Tile;
use runtime::kernels::conv::conv2d;
use runtime::kernels::fully_connected::{fully_connected, FcGeometry};
use runtime::ConvGeometry;
use runtime::QuantParams;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
    fn i8s(&mut self, n: usize) -> Vec<i8> {
        (0..n).map(|_| self.range(-128, 127) as i8).collect()
    }
}

/// One random layer: its CPU output and the tile the driver lowers it to.
struct Case {
    what: String,
    cpu: Vec<i8>,
    tile: Tile,
}

fn quant(rng: &mut Rng, n: usize, k: usize) -> QuantParams {
    let (mut multipliers, mut shifts) = (Vec::new(), Vec::new());
    for _ in 0..n {
        // Effective scale around 1 / (K * 64) so outputs use the int8 range.
        let scale = (0.5 + rng.range(0, 1000) as f64 / 1000.0) / (k as f64 * 64.0);
        let (m, s) = arch::quant::quantize_multiplier(scale);
        multipliers.push(m);
        shifts.push(s);
    }
    let act_min = if rng.range(0, 2) == 0 {
        -128
    } else {
        rng.range(-128, 0) as i32
    };
    QuantParams {
        input_zero_point: rng.range(-128, 127) as i32,
        filter_zero_point: 0,
        output_zero_point: rng.range(-20, 20) as i32,
        act_min,
        act_max: 127,
        multipliers,
        shifts,
        bias: (0..n).map(|_| rng.range(-5000, 5000) as i32).collect(),
    }
}

fn tile_of(a: Vec<i8>, b_kn: Vec<i8>, m: usize, k: usize, n: usize, q: &QuantParams) -> Tile {
    let bias = lower::fold_bias(Some(&q.bias), &b_kn, k, n, q.input_zero_point);
    Tile {
        m,
        k,
        n,
        a,
        b: b_kn,
        bias,
        mult: q.multipliers.clone(),
        shift: q.shifts.clone(),
        zp: q.output_zero_point,
        act_min: q.act_min,
        act_max: q.act_max,
    }
}

/// A random FC or conv layer that is one tile of `cfg` (OS: M <= rows, N <= cols;
/// WS: K <= rows, N <= cols).
fn case(cfg: &AccelConfig, rng: &mut Rng) -> Case {
    let (rows, cols) = (cfg.rows as i64, cfg.cols as i64);
    let ws = cfg.dataflow == Dataflow::WeightStationary;
    let n = rng.range(1, cols) as usize;
    if rng.range(0, 1) == 0 {
        let m = rng.range(1, if ws { 12 } else { rows }) as usize;
        let k = rng.range(1, if ws { rows } else { 300 }) as usize;
        let q = quant(rng, n, k);
        let input = rng.i8s(m * k);
        let filter = rng.i8s(n * k);
        let mut cpu = vec![0i8; m * n];
        let g = FcGeometry {
            batches: m,
            depth: k,
            units: n,
        };
        fully_connected(&g, &q, &input, &filter, &mut cpu);
        let b = lower::pack_ohwi(&filter, n, k);
        Case {
            what: format!("FC {m}x{k}x{n}"),
            cpu,
            tile: tile_of(input, b, m, k, n, &q),
        }
    } else {
        // A conv whose output has at most `rows` pixels (OS) and whose K fits (WS).
        let (kh, kw, c) = if ws {
            (1, 1, rng.range(1, rows) as usize)
        } else {
            (
                rng.range(1, 3) as usize,
                rng.range(1, 3) as usize,
                rng.range(1, 6) as usize,
            )
        };
        let stride = rng.range(1, 2) as usize;
        let pad = rng.range(0, 1) as usize;
        let (oh, ow) = if ws {
            (rng.range(1, 3) as usize, rng.range(1, 3) as usize)
        } else {
            (1, rng.range(1, rows) as usize)
        };
        let ih = ((oh - 1) * stride + kh).saturating_sub(2 * pad).max(1);
        let iw = ((ow - 1) * stride + kw).saturating_sub(2 * pad).max(1);
        // One geometry (explicit padding) for the CPU kernel and the driver's im2col.
        let g = ConvGeometry {
            batch: 1,
            in_h: ih,
            in_w: iw,
            in_c: c,
            out_h: oh,
            out_w: ow,
            out_c: n,
            k_h: kh,
            k_w: kw,
            group_in_c: c,
            stride_h: stride,
            stride_w: stride,
            dilation_h: 1,
            dilation_w: 1,
            pad_top: pad,
            pad_left: pad,
            depth_multiplier: 1,
        };
        let k = g.patch_len();
        let q = quant(rng, n, k);
        let input = rng.i8s(ih * iw * c);
        let filter = rng.i8s(n * k);
        let mut cpu = vec![0i8; oh * ow * n];
        conv2d(&g, &q, &input, &filter, &mut cpu);
        let a = lower::im2col(&input, &g, q.input_zero_point as i8);
        let b = lower::pack_ohwi(&filter, n, k);
        Case {
            what: format!("CONV {ih}x{iw}x{c} k{kh}x{kw} s{stride} p{pad} -> {oh}x{ow}x{n}"),
            cpu,
            tile: tile_of(a, b, g.pixels_per_image(), k, n, &q),
        }
    }
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn cpu_kernels_driver_lowering_rtl_and_simulator_agree() {
    let seed = env("TINYACCEL_RTL_CONFORMANCE_SEED", 0x5eed_1234);
    let cases = env("TINYACCEL_RTL_CONFORMANCE_CASES", 1000) as usize;
    let work = tempfile::tempdir().unwrap();
    for df in [Dataflow::OutputStationary, Dataflow::WeightStationary] {
        let mut cfg = AccelConfig::preset("tiny-4x4").unwrap();
        cfg.dataflow = df;
        cfg.name = format!("tiny-4x4-{df}");
        let mut rng = Rng(seed ^ (df as u64 + 1));
        let all: Vec<Case> = (0..cases).map(|_| case(&cfg, &mut rng)).collect();
        let tiles: Vec<Tile> = all.iter().map(|c| c.tile.clone()).collect();
        let build = hdl::verilator::build(&cfg).expect("Verilator build (make deps installs it)");
        let out =
            hdl::verilator::run(&cfg, &build, &tiles, &work.path().join(df.as_str())).unwrap();
        let mut checked = 0;
        for (i, c) in all.iter().enumerate() {
            let t = &c.tile;
            let obs = &out.tiles[i];
            // Rows leave an OS core bottom row first, a WS core in input order.
            let row_of = |m: usize| match df {
                Dataflow::OutputStationary => cfg.rows as usize - 1 - m,
                Dataflow::WeightStationary | Dataflow::InputStationary => m,
            };
            let mut rtl = Vec::with_capacity(t.m * t.n);
            for m in 0..t.m {
                rtl.extend_from_slice(&obs.q_rows[row_of(m)][..t.n]);
            }
            assert_eq!(
                rtl, c.cpu,
                "{df} case {i} ({}): RTL differs from the CPU kernel (seed {seed:#x})",
                c.what
            );
            let sim = cosim::core_verify::sim_tile(&cfg, t).unwrap();
            let exp = hdl::cases::expected(&cfg, t);
            assert_eq!(
                sim.acc_rows, exp.acc_rows,
                "{df} case {i} ({}): simulator",
                c.what
            );
            assert_eq!(
                obs.core_cycles,
                Some(exp.core_cycles),
                "{df} case {i} ({}): RTL cycles vs arch::timing",
                c.what
            );
            checked += 1;
        }
        assert_eq!(checked, cases);
    }
}
