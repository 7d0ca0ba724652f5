//! Property tests: random GEMMs with odd shapes on random small configurations, every
//! dataflow (OS, WS, IS), 1 to 16 DMA requests in flight, and random convolutions through
//! the accelerator's im2col unit (`GemmProblem.im2col`: strides, dilations, paddings,
//! channel counts not a multiple of the array): the cycle-level and functional outputs
//! equal the naive GEMM, the analytic bounds hold, the two executors count the same, and
//! the tile-level model equals the cycle-level one in every counter when no bank conflict
//! occurs.

mod common;
use arch::im2col::Window;
use arch::{AccelConfig, Dataflow};
use common::*;
use driver::gemm::{self, GemmProblem, MemLayout, Output};
use proptest::prelude::*;
use sim::report::check_bounds;
use sim::{Fidelity, SimDevice};

#[allow(clippy::too_many_arguments)]
fn make_cfg(
    rows: u32,
    cols: u32,
    df: Dataflow,
    kib: [u32; 3],
    banks: [u32; 3],
    bus: u32,
    lat: u32,
    outstanding: u32,
) -> AccelConfig {
    let mut c = AccelConfig::preset("edge-8x8").unwrap();
    c.rows = rows;
    c.cols = cols;
    c.dataflow = df;
    c.input_sram_kib = kib[0];
    c.weight_sram_kib = kib[1];
    c.acc_sram_kib = kib[2];
    c.input_sram_banks = banks[0];
    c.weight_sram_banks = banks[1];
    c.acc_sram_banks = banks[2];
    c.bus_bytes_per_cycle = bus;
    c.bus_latency_cycles = lat;
    c.dma_outstanding = outstanding;
    c.im2col = true;
    c.name = "prop".into();
    c.validate().expect("generated config is valid");
    c
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn random_gemm_is_exact_and_bounded(
        rows in 1u32..=8, cols in 1u32..=8, df in prop::sample::select(Dataflow::ALL.to_vec()),
        kib in prop::array::uniform3(1u32..=4), banks in prop::array::uniform3(prop::sample::select(vec![1u32, 2, 4])),
        bus in prop::sample::select(vec![1u32, 4, 8, 16]), lat in 0u32..=12,
        outstanding in prop::sample::select(vec![1u32, 1, 2, 4, 16]), im2col_unit in any::<bool>(),
        m in 1usize..=40, k in 1usize..=300, n in 1usize..=40,
        int32 in any::<bool>(), zp in -128i32..=127, seed in any::<u64>(),
    ) {
        let mut cfg = make_cfg(rows, cols, df, kib, banks, bus, lat, outstanding);
        // The unit, present or not, does not change a GEMM whose A is in memory.
        cfg.im2col = im2col_unit;
        let p = if int32 {
            GemmProblem { m, k, n, output: Output::Int32, im2col: None }
        } else {
            GemmProblem { m, k, n, output: Output::Int8 { zp_out: zp, act_min: -100, act_max: 120 }, im2col: None }
        };
        let ops = Operands::random(&p, seed);
        let want = gemm::reference(&p, &ops.data()).unwrap();
        let (got, c) = run(&cfg, Fidelity::Cycle, &p, &ops);
        prop_assert_eq!(&got, &want);
        let (got_f, cf) = run(&cfg, Fidelity::Functional, &p, &ops);
        prop_assert_eq!(&got_f, &want);
        prop_assert_eq!(cf.bus_bytes(), c.bus_bytes());
        prop_assert_eq!(c.macs, p.macs());
        if let Err(e) = check_bounds(&cfg, &c) {
            prop_assert!(false, "bounds: {:?}", e);
        }
        let t = sim::tile::estimate(&cfg, &p).unwrap();
        prop_assert_eq!(t.macs, c.macs);
        prop_assert_eq!(t.bus_read_bytes, c.bus_read_bytes);
        prop_assert_eq!(t.bus_write_bytes, c.bus_write_bytes);
        prop_assert_eq!(t.input_sp_read_bytes, c.input_sp_read_bytes);
        prop_assert_eq!(t.input_sp_write_bytes, c.input_sp_write_bytes);
        prop_assert_eq!(t.weight_sp_read_bytes, c.weight_sp_read_bytes);
        prop_assert_eq!(t.weight_sp_write_bytes, c.weight_sp_write_bytes);
        prop_assert_eq!(t.acc_sp_read_bytes, c.acc_sp_read_bytes);
        prop_assert_eq!(t.acc_sp_write_bytes, c.acc_sp_write_bytes);
        prop_assert_eq!(t.dma_bursts, c.dma_bursts);
        prop_assert_eq!(cf.dma_bursts, c.dma_bursts);
        if c.bank_conflict_cycles == 0 {
            prop_assert_eq!(t.to_array(), c.to_array());
        } else {
            // Bank conflicts are not in the tile-level model; they only happen when a
            // scratchpad has a single bank (and can then cost a lot: the DMA waits for
            // every core access).
            prop_assert!(banks.contains(&1), "conflicts with >= 2 banks everywhere");
        }
    }

    #[test]
    fn random_im2col_conv_is_exact_and_tile_equals_cycle(
        rows in 1u32..=8, cols in 1u32..=8, df in prop::sample::select(Dataflow::ALL.to_vec()),
        kib in prop::array::uniform3(1u32..=4), banks in prop::array::uniform3(prop::sample::select(vec![1u32, 2, 4])),
        bus in prop::sample::select(vec![1u32, 4, 8, 16]), lat in 0u32..=12,
        outstanding in prop::sample::select(vec![1u32, 2, 3, 4, 16]),
        in_hw in prop::array::uniform2(1u32..=12), in_c in 1u32..=20,
        k_hw in prop::array::uniform2(1u32..=5), s_hw in prop::array::uniform2(1u32..=3),
        d_hw in prop::array::uniform2(1u32..=3), pads in prop::array::uniform4(0u32..=3),
        n in 1usize..=24, int32 in any::<bool>(), zp in -128i32..=127, pad in any::<i8>(),
        seed in any::<u64>(),
    ) {
        // Output size (TFLite arithmetic): the dilated kernel must fit the padded input.
        let eff = |k: u32, d: u32| (k - 1) * d + 1;
        let span_h = (in_hw[0] + pads[0] + pads[2]) as i64 - eff(k_hw[0], d_hw[0]) as i64;
        let span_w = (in_hw[1] + pads[1] + pads[3]) as i64 - eff(k_hw[1], d_hw[1]) as i64;
        prop_assume!(span_h >= 0 && span_w >= 0);
        let out_h = span_h as u32 / s_hw[0] + 1;
        let out_w = span_w as u32 / s_hw[1] + 1;
        let w = Window {
            in_h: in_hw[0], in_w: in_hw[1], in_c, out_w,
            kh: k_hw[0], kw: k_hw[1], sh: s_hw[0], sw: s_hw[1], dh: d_hw[0], dw: d_hw[1],
            pad_t: pads[0], pad_l: pads[1],
        };
        let cfg = make_cfg(rows, cols, df, kib, banks, bus, lat, outstanding);
        let output = if int32 {
            Output::Int32
        } else {
            Output::Int8 { zp_out: zp, act_min: -100, act_max: 120 }
        };
        let p = GemmProblem {
            m: (out_h * out_w) as usize,
            k: w.patch_len() as usize,
            n,
            output,
            im2col: Some(w),
        };
        let ops = Operands::random(&p, seed);
        let want = gemm::reference_padded(&p, &ops.data(), pad).unwrap();
        let mut layout = MemLayout::packed(&p, 0x100);
        layout.a_pad = pad;
        let prog = gemm::build(&cfg, &p, &layout).unwrap();
        let mut results = Vec::new();
        for model in [Fidelity::Cycle, Fidelity::Functional] {
            let mut dev = SimDevice::new(&cfg, model, prog.mem_end() as usize + 64);
            results.push(gemm::run(&mut dev, &p, &ops.data(), &layout).unwrap());
        }
        let (got, c) = &results[0];
        let (got_f, cf) = &results[1];
        prop_assert_eq!(got, &want);
        prop_assert_eq!(got_f, &want);
        prop_assert_eq!(c.macs, p.macs());
        prop_assert!(c.im2col_pieces >= p.m as u64);
        if let Err(e) = check_bounds(&cfg, c) {
            prop_assert!(false, "bounds: {:?}", e);
        }
        // Same counts in both executors (the timing counters are the cycle model's).
        let mut cf = *cf;
        cf.cycles = c.cycles;
        cf.array_busy_cycles = c.array_busy_cycles;
        cf.dma_busy_cycles = c.dma_busy_cycles;
        cf.dma_stall_cycles = c.dma_stall_cycles;
        cf.bank_conflict_cycles = c.bank_conflict_cycles;
        prop_assert_eq!(cf.to_array(), c.to_array());
        let mut t = sim::tile::estimate(&cfg, &p).unwrap();
        if c.bank_conflict_cycles == 0 {
            prop_assert_eq!(t.to_array(), c.to_array());
        } else {
            prop_assert!(banks.contains(&1), "conflicts with >= 2 banks everywhere");
            t.cycles = c.cycles;
            t.array_busy_cycles = c.array_busy_cycles;
            t.dma_busy_cycles = c.dma_busy_cycles;
            t.dma_stall_cycles = c.dma_stall_cycles;
            t.bank_conflict_cycles = c.bank_conflict_cycles;
            prop_assert_eq!(t.to_array(), c.to_array());
        }
    }
}
