//! Property tests: random GEMMs with odd shapes on random small configurations, every
//! dataflow (OS, WS, IS): the cycle-level and functional outputs equal the naive GEMM, the analytic
//! bounds hold, and the tile-level model agrees with the cycle-level one.

mod common;
use arch::{AccelConfig, Dataflow};
use common::*;
use driver::gemm::{self, GemmProblem, Output};
use proptest::prelude::*;
use sim::report::check_bounds;
use sim::Fidelity;

#[allow(clippy::too_many_arguments)]
fn make_cfg(
    rows: u32,
    cols: u32,
    df: Dataflow,
    kib: [u32; 3],
    banks: [u32; 3],
    bus: u32,
    lat: u32,
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
        m in 1usize..=40, k in 1usize..=300, n in 1usize..=40,
        int32 in any::<bool>(), zp in -128i32..=127, seed in any::<u64>(),
    ) {
        let cfg = make_cfg(rows, cols, df, kib, banks, bus, lat);
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
        if c.bank_conflict_cycles == 0 {
            prop_assert_eq!(t.cycles, c.cycles);
            prop_assert_eq!(t.array_busy_cycles, c.array_busy_cycles);
            prop_assert_eq!(t.dma_stall_cycles, c.dma_stall_cycles);
        } else {
            // Bank conflicts are not in the tile-level model; they only happen when a
            // scratchpad has a single bank (and can then cost a lot: the DMA waits for
            // every core access).
            prop_assert!(banks.contains(&1), "conflicts with >= 2 banks everywhere");
        }
    }
}
