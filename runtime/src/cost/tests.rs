//! Unit tests of the CPU cost model: hand-checked layers, profile parsing and validation,
//! clock and library behaviour.

use super::*;

/// 1x4x4x8 -> 1x4x4x16, 1x1 kernel, stride 1, no padding.
fn small_1x1() -> OpShape {
    OpShape::Conv(ConvGeometry {
        batch: 1,
        in_h: 4,
        in_w: 4,
        in_c: 8,
        group_in_c: 8,
        out_h: 4,
        out_w: 4,
        out_c: 16,
        k_h: 1,
        k_w: 1,
        stride_h: 1,
        stride_w: 1,
        dilation_h: 1,
        dilation_w: 1,
        pad_top: 0,
        pad_left: 0,
        depth_multiplier: 1,
    })
}

/// 1x4x4x2 -> 1x4x4x4, 3x3 kernel, SAME padding (1 on each side), stride 1.
fn small_3x3_same() -> OpShape {
    OpShape::Conv(ConvGeometry {
        batch: 1,
        in_h: 4,
        in_w: 4,
        in_c: 2,
        group_in_c: 2,
        out_h: 4,
        out_w: 4,
        out_c: 4,
        k_h: 3,
        k_w: 3,
        stride_h: 1,
        stride_w: 1,
        dilation_h: 1,
        dilation_w: 1,
        pad_top: 1,
        pad_left: 1,
        depth_multiplier: 1,
    })
}

fn profile(spec: &str) -> CpuProfile {
    CpuProfile::resolve(spec).unwrap_or_else(|e| panic!("{spec}: {e}"))
}

/// A resolved spec with the profile's fitted constants removed: the tables and datasheet
/// curves as written, which the hand-checked tests derive by hand.
fn table_profile(spec: &str) -> CpuProfile {
    let p = profile(spec);
    CpuProfile::new(p.data().without_fit(), p.clock_mhz(), p.library_name()).unwrap()
}

#[test]
fn builtin_profiles_are_valid_and_complete() {
    let all = CpuProfileData::builtins();
    let names: Vec<&str> = all.iter().map(|p| p.name.as_str()).collect();
    for n in [
        "cortex-m0plus",
        "cortex-m4f",
        "cortex-m7",
        "cortex-m33",
        "rv32imc",
    ] {
        assert!(
            names.contains(&n),
            "missing built-in profile {n}: {names:?}"
        );
    }
    for p in &all {
        assert!(
            p.libraries.contains_key("reference"),
            "{}: no reference",
            p.name
        );
        assert!(
            p.libraries.contains_key("cmsis-nn"),
            "{}: no cmsis-nn",
            p.name
        );
        if p.simd {
            // SIMD libraries must actually use a SIMD block on the MAC kernels.
            let k = &p.libraries["cmsis-nn"];
            for (op, c) in [
                ("conv_1x1", &k.conv_1x1),
                ("conv", &k.conv),
                ("fully_connected", &k.fully_connected),
            ] {
                assert_eq!(c.simd_block, 4, "{} cmsis-nn {op}", p.name);
            }
        }
    }
}

#[test]
fn default_profile_is_m4f_120_reference() {
    let p = CpuProfile::default();
    assert_eq!(p.name(), "cortex-m4f");
    assert_eq!(p.clock_mhz(), 120.0);
    assert_eq!(p.library_name(), "reference");
    assert_eq!(p.wait_states(), 5);
    assert_eq!(p.spec(), "cortex-m4f@120MHz:reference");
}

/// Hand-derived cycle count of a 1x1 convolution on cortex-m4f@120MHz, reference kernels:
///
/// ```text
/// outputs = 4*4*16 = 256, taps = 256*1 = 256, MACs = 256*8 = 2048, pixels = 16
/// call 600 + MACs 2048*4.5 = 9216 + taps 256*20 = 5120 + pixels 16*10 = 160
///   + outputs 256*45 = 11520                                  -> core = 26616
/// code stall: 26616 * 0.002/WS * 5 WS                         -> 266.16
/// weights 16*8 = 128 B <= 256 B data cache: read once = 16 lines of 8 B,
///   16 * 5 WS * (1 - 0.5 hidden)                              -> 40
/// total 26922.16 -> 26923 cycles; 26923 / 120 MHz = 224.358 us
/// power 3.0 V * 15.6 mA = 46.8 mW; energy = 26923 * 46.8/120 nJ = 26923 * 390 pJ
/// ```
#[test]
fn hand_checked_1x1_reference_m4f() {
    let p = table_profile("cortex-m4f@120MHz:reference");
    let c = p.layer_cost(&small_1x1());
    assert_eq!(c.kernel, "conv_1x1");
    assert_eq!(c.macs, 2048);
    assert_eq!(c.executed_macs, 2048);
    assert_eq!(c.flash_bytes, 128);
    assert_eq!(c.cycles, 26923, "{:?}", c.breakdown);
    assert!((c.time_us - 26923.0 / 120.0).abs() < 1e-9);
    assert_eq!(c.energy_pj, 26923 * 390);
    assert!((c.energy_uj - 26923.0 * 390.0 / 1e6).abs() < 1e-12);
}

/// The same layer with CMSIS-NN (`arm_convolve_1x1_s8_fast`):
///
/// ```text
/// in_c = 8 is a multiple of the SIMD block 4: all MACs in the main loop
/// call 900 + MACs 2048*2.9 = 5939.2 + outputs 256*16 = 4096  -> core = 10935.2
/// code stall 10935.2 * 0.002 * 5 = 109.352; flash as above = 40
/// total 11084.552 -> 11085 cycles
/// ```
#[test]
fn hand_checked_1x1_cmsis_m4f() {
    let p = table_profile("cortex-m4f@120MHz:cmsis-nn");
    let c = p.layer_cost(&small_1x1());
    assert_eq!(c.cycles, 11085, "{:?}", c.breakdown);
    assert_eq!(c.energy_pj, 11085 * 390);
}

/// SAME padding: along each axis of a 4-wide output with a 3-tap kernel and 1 pad, the
/// valid (position, tap) pairs are 2 + 3 + 3 + 2 = 10, so 100 of the 144 taps per channel
/// pair are inside the image. Reference kernels skip the rest; im2col kernels do not.
#[test]
fn padding_taps_are_skipped_only_by_reference() {
    let shape = small_3x3_same();
    let OpShape::Conv(c) = shape else {
        unreachable!()
    };
    assert_eq!(c.valid_taps_per_image(), 100);
    let r = table_profile("cortex-m4f:reference").layer_cost(&shape);
    let s = table_profile("cortex-m4f:cmsis-nn").layer_cost(&shape);
    assert_eq!(r.macs, 16 * 4 * 9 * 2);
    assert_eq!(r.executed_macs, 100 * 4 * 2);
    assert_eq!(s.executed_macs, r.macs);
    assert_eq!(s.kernel, "conv");
    // im2col: 16 pixels x 18 patch bytes x 1.2 cycles/byte.
    assert!((s.breakdown.im2col - 16.0 * 18.0 * 1.2).abs() < 1e-9);
    // Reduction length 18 = 4*4 + 2: 16/18 of the MACs in the SIMD loop at 3.1, the rest at 6.6.
    let expect = 1152.0 * (16.0 / 18.0 * 3.1 + 2.0 / 18.0 * 6.6);
    assert!(
        (s.breakdown.mac - expect).abs() < 1e-9,
        "{}",
        s.breakdown.mac
    );
}

#[test]
fn clock_changes_latency_inversely_and_cycles_only_through_wait_states() {
    for data in CpuProfileData::builtins() {
        for lib in data.library_names() {
            let hi = CpuProfile::new(data.clone(), data.max_clock_mhz, lib).unwrap();
            let lo = hi.with_clock(data.max_clock_mhz / 4.0).unwrap();
            for m in ["kws", "vww", "ic", "ad"] {
                let g = models::builtin(m).unwrap();
                let (a, b) = (graph_cost(&hi, &g).unwrap(), graph_cost(&lo, &g).unwrap());
                for (x, y) in a.layers.iter().zip(&b.layers) {
                    // Everything but the stall terms is clock-independent.
                    let (bx, by) = (x.breakdown, y.breakdown);
                    assert_eq!(bx.mac, by.mac);
                    assert_eq!(bx.output, by.output);
                    assert_eq!(bx.im2col, by.im2col);
                    assert_eq!(bx.call, by.call);
                    assert_eq!(x.flash_bytes, y.flash_bytes);
                    if hi.wait_states() == lo.wait_states() {
                        assert_eq!(x.cycles, y.cycles);
                    } else {
                        assert!(
                            x.cycles >= y.cycles,
                            "{} {m}: more WS, fewer cycles",
                            data.name
                        );
                    }
                    // time = cycles / clock.
                    assert!((x.time_us - x.cycles as f64 / hi.clock_mhz()).abs() < 1e-9);
                    assert!((y.time_us - y.cycles as f64 / lo.clock_mhz()).abs() < 1e-9);
                    // energy = power(clock) x time, from the profile's curve.
                    let e = (y.time_us * data.power_mw(lo.clock_mhz()) * 1000.0).round() as u64;
                    assert_eq!(y.energy_pj, e);
                }
                // Latency scales inversely with clock up to the wait-state change.
                let ratio = b.latency_ms() / a.latency_ms();
                let cyc_ratio = b.cycles as f64 / a.cycles as f64;
                assert!((ratio - 4.0 * cyc_ratio).abs() < 1e-9, "{} {m}", data.name);
                assert!(cyc_ratio <= 1.0);
            }
        }
    }
}

#[test]
fn wait_states_follow_datasheet_bands() {
    let m4 = CpuProfileData::builtin("cortex-m4f").unwrap();
    assert_eq!(m4.wait_states_at(16.0), 0);
    assert_eq!(m4.wait_states_at(20.0), 0);
    assert_eq!(m4.wait_states_at(20.5), 1);
    assert_eq!(m4.wait_states_at(80.0), 3);
    assert_eq!(m4.wait_states_at(120.0), 5);
    let m7 = CpuProfileData::builtin("cortex-m7").unwrap();
    assert_eq!(m7.wait_states_at(216.0), 7);
    assert_eq!(m7.wait_states_at(120.0), 3);
}

#[test]
fn power_curve_is_interpolated() {
    let m4 = CpuProfileData::builtin("cortex-m4f").unwrap();
    // Between 80 MHz (10.2 mA) and 120 MHz (15.6 mA).
    assert!((m4.run_current_ma(100.0) - 12.9).abs() < 1e-9);
    assert!((m4.datasheet_power_mw(120.0) - 46.8).abs() < 1e-9);
    assert!((m4.without_fit().power_mw(120.0) - 46.8).abs() < 1e-9);
    // The fitted supply power replaces the datasheet value at the fitted clock and scales
    // the curve elsewhere.
    let fit = m4.power.fit.clone().unwrap();
    let (mw, mhz) = (fit.mw.unwrap(), fit.mhz.unwrap());
    assert!((m4.power_mw(mhz) - mw).abs() < 1e-9);
    let scale = mw / 46.8;
    assert!((m4.power_mw(80.0) - 3.0 * 10.2 * scale).abs() < 1e-9);
    // Sleep mode (WFI) interpolates its own datasheet points, with the same scale.
    assert!((m4.wfi_current_ma(100.0) - (2.9 + 4.3) / 2.0).abs() < 1e-9);
    assert!((m4.wfi_power_mw(120.0) - 3.0 * 4.3 * scale).abs() < 1e-9);
    assert!(m4.wfi_power_mw(120.0) < m4.power_mw(120.0));
    // Below the first point: extrapolated along the first segment, never negative.
    assert!(m4.run_current_ma(1.0) >= 0.0);
}

#[test]
fn cmsis_nn_beats_reference_on_simd_cores() {
    for data in CpuProfileData::builtins().into_iter().filter(|d| d.simd) {
        let r = CpuProfile::new(data.clone(), data.default_clock_mhz, "reference").unwrap();
        let s = r.with_library("cmsis-nn").unwrap();
        for m in ["kws", "vww", "ic", "ad"] {
            let g = models::builtin(m).unwrap();
            let (a, b) = (graph_cost(&r, &g).unwrap(), graph_cost(&s, &g).unwrap());
            assert!(
                b.cycles < a.cycles,
                "{} {m}: cmsis {} vs ref {}",
                data.name,
                b.cycles,
                a.cycles
            );
            assert!(b.energy_pj < a.energy_pj);
            // Per layer where the inner loops matter: in layers of a few hundred MACs (the
            // final FCs) the fitted call overhead decides, and CMSIS-NN's is the larger.
            for (i, (x, y)) in a.layers.iter().zip(&b.layers).enumerate() {
                if x.macs >= 4096 {
                    assert!(y.cycles < x.cycles, "{} {m} layer {i}", data.name);
                }
            }
        }
    }
}

#[test]
fn graph_totals_are_sums_of_layers() {
    for spec in [
        "cortex-m7@216MHz",
        "cortex-m4f:cmsis-nn",
        "rv32imc@80MHz",
        "m0+",
    ] {
        let p = profile(spec);
        for m in ["kws", "vww", "ic", "ad"] {
            let g = models::builtin(m).unwrap();
            let c = graph_cost(&p, &g).unwrap();
            assert_eq!(c.layers.len(), g.ops.len());
            assert_eq!(c.cycles, c.layers.iter().map(|l| l.cycles).sum::<u64>());
            assert_eq!(
                c.energy_pj,
                c.layers.iter().map(|l| l.energy_pj).sum::<u64>()
            );
            assert_eq!(c.macs(), g.macs(), "{m}: MACs of the cost model vs the IR");
            // Analytic bound: no core does better than its best inner loop on every MAC.
            let best = p
                .kernels()
                .entries()
                .iter()
                .map(|(_, k)| k.per_mac)
                .filter(|&x| x > 0.0)
                .fold(f64::MAX, f64::min);
            let exec: u64 = c.layers.iter().map(|l| l.executed_macs).sum();
            assert!(c.cycles as f64 >= exec as f64 * best);
        }
    }
}

#[test]
fn spec_parsing() {
    let p = profile("cortex-m7@216MHz:cmsis-nn");
    assert_eq!(
        (p.name(), p.clock_mhz(), p.library_name()),
        ("cortex-m7", 216.0, "cmsis-nn")
    );
    let p = profile("M4F@80");
    assert_eq!(
        (p.name(), p.clock_mhz(), p.library_name()),
        ("cortex-m4f", 80.0, "reference")
    );
    let p = profile("cortex-m0+:cmsis-nn");
    assert_eq!((p.name(), p.clock_mhz()), ("cortex-m0plus", 64.0));
    let p = profile("cortex-m33@0.1GHz");
    assert!((p.clock_mhz() - 100.0).abs() < 1e-9);
    // Round trip.
    assert_eq!(profile(&p.spec()), p);
}

#[test]
fn spec_errors_name_the_problem() {
    let err = |s: &str| CpuProfile::resolve(s).unwrap_err().to_string();
    let e = err("cortex-m99");
    assert!(
        e.contains("unknown CPU profile `cortex-m99`") && e.contains("cortex-m4f"),
        "{e}"
    );
    let e = err("cortex-m4f:fastest");
    assert!(
        e.contains("no kernel library `fastest`") && e.contains("cmsis-nn"),
        "{e}"
    );
    let e = err("cortex-m4f@480MHz");
    assert!(e.contains("480") && e.contains("120"), "{e}");
    let e = err("cortex-m4f@fast");
    assert!(e.contains("clock `fast`"), "{e}");
    let e = err("cortex-m4f@-5MHz");
    assert!(e.contains("positive"), "{e}");
    let e = err("");
    assert!(e.contains("empty"), "{e}");
    let e = err("/nonexistent/dir/core.toml");
    assert!(
        e.contains("/nonexistent/dir/core.toml") && e.contains("cannot read"),
        "{e}"
    );
}

fn m4_text() -> String {
    include_str!("../../cpus/cortex-m4f.toml").to_string()
}

#[test]
fn validation_errors_name_file_field_and_reason() {
    let check = |text: String, needle: &[&str]| {
        let e = match CpuProfileData::from_toml_str(&text, "my-core.toml") {
            Ok(_) => panic!("accepted a profile that should fail with {needle:?}"),
            Err(e) => e.to_string(),
        };
        assert!(e.starts_with("my-core.toml"), "{e}");
        for n in needle {
            assert!(e.contains(n), "`{n}` not in: {e}");
        }
    };
    let t = m4_text();
    check(
        t.replacen("per_mac = 4.5", "per_mac = -8.0", 1),
        &["libraries.reference.conv_1x1.per_mac", ">= 0", "-8"],
    );
    check(
        t.replacen(
            "per_mac = 2.9, simd_block = 4",
            "per_mac = 2.9, simd_block = 0",
            1,
        ),
        &["libraries.cmsis-nn.conv_1x1.simd_block", "at least 1"],
    );
    check(
        t.replacen("per_output = 45", "per_outptu = 45", 1),
        &["per_outptu"],
    );
    check(
        t.replacen(
            "default_library = \"reference\"",
            "default_library = \"fast\"",
            1,
        ),
        &["default_library", "fast"],
    );
    check(
        t.replacen("{ max_mhz = 120, ws = 5 }", "{ max_mhz = 110, ws = 5 }", 1),
        &["flash.wait_states", "110"],
    );
    check(
        t.replacen("{ max_mhz = 60, ws = 2 }", "{ max_mhz = 30, ws = 2 }", 1),
        &["flash.wait_states[2].max_mhz", "ascending"],
    );
    check(
        t.replacen("prefetch_hidden = 0.5", "prefetch_hidden = 1.5", 1),
        &["flash.prefetch_hidden", "0..1"],
    );
    check(
        t.replacen("supply_v = 3.0", "supply_v = 0.0", 1),
        &["power.supply_v"],
    );
    check(
        t.replacen("{ mhz = 80, ma = 10.2 }", "{ mhz = 80, ma = -1 }", 1),
        &["power.run_ma[1].ma"],
    );
    check(
        t.replacen("default_clock_mhz = 120", "default_clock_mhz = 200", 1),
        &["default_clock_mhz", "above"],
    );
    // A library missing an op kind is rejected by the schema.
    check(
        t.replacen(
            "tanh            = { per_call = 500, per_element = 110 }\n",
            "",
            1,
        ),
        &["tanh"],
    );
}

#[test]
fn user_profile_file_loads() {
    let dir = std::env::temp_dir().join(format!("tinyaccel-cpu-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("my-core.toml");
    let text = m4_text().replacen("name = \"cortex-m4f\"", "name = \"my-core\"", 1);
    std::fs::write(&path, text).unwrap();
    let spec = format!("{}@60MHz:cmsis-nn", path.display());
    let p = CpuProfile::resolve(&spec).unwrap();
    assert_eq!(
        (p.name(), p.clock_mhz(), p.library_name()),
        ("my-core", 60.0, "cmsis-nn")
    );
    assert_eq!(p.wait_states(), 2);
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "name = 3").unwrap();
    let e = CpuProfile::resolve(&bad.display().to_string())
        .unwrap_err()
        .to_string();
    assert!(e.contains("bad.toml"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The adapter derives output size and padding from the window (the one derivation in
/// `crate::geometry`) and rejects a graph whose output tensor disagrees, instead of
/// costing a shape no kernel would run.
#[test]
fn adapter_rejects_an_output_the_window_does_not_give() {
    let mut g = models::builtin("kws").unwrap();
    let y = g.ops[0].output().unwrap();
    // Layer 0 gives 25x5x64 (SAME, stride 2); claim 24 rows.
    g.tensors[y].shape = vec![1, 24, 5, 64];
    let e = op_shape(&g, 0).unwrap_err().to_string();
    assert!(e.contains("layer 0") && e.contains("[1, 25, 5, 64]"), "{e}");
    // A zero stride is a typed error, not a panic.
    let mut g = models::builtin("kws").unwrap();
    if let models::OpKind::Conv2d(o) = &mut g.ops[0].kind {
        o.stride_w = 0;
    }
    let e = op_shape(&g, 0).unwrap_err().to_string();
    assert!(e.contains("stride_w must be at least 1"), "{e}");
}

#[test]
fn adapter_rejects_bad_op_index() {
    let g = models::builtin("ad").unwrap();
    let e = op_shape(&g, 99).unwrap_err().to_string();
    assert!(e.contains("layer 99") && e.contains("10 ops"), "{e}");
}

#[test]
fn adapter_shapes_of_kws() {
    let g = models::builtin("kws").unwrap();
    // Layer 0: 49x10x1 -> 25x5x64, 10x4 kernel, stride 2, SAME.
    let OpShape::Conv(c) = op_shape(&g, 0).unwrap() else {
        panic!("layer 0 is a conv")
    };
    assert_eq!(
        (c.out_h, c.out_w, c.out_c, c.k_h, c.k_w),
        (25, 5, 64, 10, 4)
    );
    // TFLite SAME: pad_h = ((25-1)*2 + 10 - 49) / 2 = 4, pad_w = ((5-1)*2 + 4 - 10) / 2 = 1.
    assert_eq!((c.pad_top, c.pad_left), (4, 1));
    assert!(
        matches!(op_shape(&g, 1).unwrap(), OpShape::Depthwise(d) if d.depth_multiplier == 1 && d.pad_top == 1)
    );
    assert!(matches!(op_shape(&g, 2).unwrap(), OpShape::Conv(c) if c.is_pointwise()));
    assert!(matches!(
        op_shape(&g, 11).unwrap(),
        OpShape::FullyConnected {
            batch: 1,
            in_features: 64,
            out_features: 12
        }
    ));
    assert!(matches!(
        op_shape(&g, 12).unwrap(),
        OpShape::Softmax { rows: 1, depth: 12 }
    ));
}

#[test]
fn non_mac_ops_have_costs() {
    let p = CpuProfile::default();
    let shapes = [
        OpShape::Elementwise {
            kind: ElementwiseKind::Add,
            elems: 100,
        },
        OpShape::Elementwise {
            kind: ElementwiseKind::Mul,
            elems: 100,
        },
        OpShape::Elementwise {
            kind: ElementwiseKind::Quantize,
            elems: 100,
        },
        OpShape::Elementwise {
            kind: ElementwiseKind::Logistic,
            elems: 100,
        },
        OpShape::Elementwise {
            kind: ElementwiseKind::Tanh,
            elems: 100,
        },
        OpShape::Softmax {
            rows: 1,
            depth: 100,
        },
        OpShape::Reshape { bytes: 100 },
        OpShape::Pad {
            in_bytes: 100,
            out_bytes: 144,
        },
        OpShape::Concat { bytes: 100 },
        OpShape::Mean {
            in_elems: 100,
            out_elems: 4,
        },
    ];
    for s in shapes {
        let c = p.layer_cost(&s);
        assert!(c.cycles > 0 && c.energy_pj > 0, "{s:?}");
        assert_eq!(c.macs, 0);
        // Twice the data costs more.
        let bigger = match s {
            OpShape::Elementwise { kind, elems } => OpShape::Elementwise {
                kind,
                elems: elems * 2,
            },
            OpShape::Softmax { rows, depth } => OpShape::Softmax {
                rows: rows * 2,
                depth,
            },
            OpShape::Reshape { bytes } => OpShape::Reshape { bytes: bytes * 2 },
            OpShape::Pad {
                in_bytes,
                out_bytes,
            } => OpShape::Pad {
                in_bytes: in_bytes * 2,
                out_bytes: out_bytes * 2,
            },
            OpShape::Concat { bytes } => OpShape::Concat { bytes: bytes * 2 },
            OpShape::Mean {
                in_elems,
                out_elems,
            } => OpShape::Mean {
                in_elems: in_elems * 2,
                out_elems,
            },
            other => other,
        };
        assert!(p.layer_cost(&bigger).cycles > c.cycles, "{s:?}");
    }
}

#[test]
fn big_layer_weights_stream_from_flash_every_pass() {
    // 1x1 conv 256 -> 256 on 3x3: 64 KiB of weights, larger than any data cache.
    let shape = OpShape::Conv(ConvGeometry {
        batch: 1,
        in_h: 3,
        in_w: 3,
        in_c: 256,
        group_in_c: 256,
        out_h: 3,
        out_w: 3,
        out_c: 256,
        k_h: 1,
        k_w: 1,
        stride_h: 1,
        stride_w: 1,
        dilation_h: 1,
        dilation_w: 1,
        pad_top: 0,
        pad_left: 0,
        depth_multiplier: 1,
    });
    let r = profile("cortex-m7:reference").layer_cost(&shape);
    let s = profile("cortex-m7:cmsis-nn").layer_cost(&shape);
    // Reference: 9 passes over 65536 B; CMSIS-NN: ceil(9/2) = 5 passes.
    assert_eq!(r.flash_bytes, 9 * 65536);
    assert_eq!(s.flash_bytes, 5 * 65536);
    // 7 WS at 216 MHz, 32-byte lines, 25 % hidden.
    assert!((r.breakdown.flash_stall - (9.0 * 65536.0 / 32.0) * 7.0 * 0.75).abs() < 1e-6);
}

/// A profile that distinguishes flash-read energy adds `flash_bytes x read_pj_per_byte`.
#[test]
fn flash_read_energy_is_added_when_profiled() {
    let text = m4_text().replacen("read_pj_per_byte = 0.0", "read_pj_per_byte = 10.0", 1);
    let data = CpuProfileData::from_toml_str(&text, "flash-energy.toml").unwrap();
    let with = CpuProfile::new(data, 120.0, "reference").unwrap();
    let without = profile("cortex-m4f@120MHz:reference");
    let (a, b) = (
        with.layer_cost(&small_1x1()),
        without.layer_cost(&small_1x1()),
    );
    assert_eq!(a.cycles, b.cycles);
    assert_eq!(a.flash_bytes, 128);
    assert_eq!(a.energy_pj, b.energy_pj + 128 * 10);
}

/// The fitted factors multiply the written table: `mac` the per-MAC costs, `tap` the per-tap
/// costs, `overhead` every other cycle count; flags and block sizes are untouched.
/// The kernels of `FITTED_KERNELS` are the table times the library's factors; the others are
/// the table.
#[test]
fn fitted_kernels_are_the_table_times_the_factors() {
    for data in CpuProfileData::builtins() {
        for (lib, table) in &data.libraries {
            let f = table
                .fit
                .clone()
                .expect("every built-in library carries its fit");
            let p = CpuProfile::new(data.clone(), data.default_clock_mhz, lib).unwrap();
            for ((op, k), (_, t)) in p.kernels().entries().iter().zip(table.entries()) {
                // Kernels no fitted row runs keep their table.
                let f = if super::profile::FITTED_KERNELS.contains(op) {
                    f.clone()
                } else {
                    super::profile::LibraryFit {
                        mac: 1.0,
                        tap: 1.0,
                        overhead: 1.0,
                        ..f.clone()
                    }
                };
                let near = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
                assert!(
                    near(k.per_mac, t.per_mac * f.mac),
                    "{} {lib} {op}",
                    data.name
                );
                assert!(near(k.per_mac_tail, t.per_mac_tail * f.mac));
                assert!(near(k.per_tap, t.per_tap * f.tap));
                for (a, b) in [
                    (k.per_call, t.per_call),
                    (k.per_pixel, t.per_pixel),
                    (k.per_output, t.per_output),
                    (k.per_row, t.per_row),
                    (k.per_element, t.per_element),
                    (k.per_byte, t.per_byte),
                    (k.im2col_per_byte, t.im2col_per_byte),
                ] {
                    assert!(near(a, b * f.overhead), "{} {lib} {op}", data.name);
                }
                assert_eq!(k.simd_block, t.simd_block);
                assert_eq!(k.weight_reuse, t.weight_reuse);
                assert_eq!(k.skips_padding, t.skips_padding);
            }
        }
    }
}

/// A profile without `wfi_ma`, or with a fit missing its reason, is rejected naming the field.
#[test]
fn wfi_and_fit_fields_are_validated() {
    let text = include_str!("../../cpus/cortex-m4f.toml");
    let cases = [
        (text.replacen("wfi_ma = [", "wfi_ma_gone = [", 1), "wfi_ma"),
        (text.replacen("{ mhz = 16, ma = 0.75 }", "{ mhz = 16, ma = -0.75 }", 1), "power.wfi_ma[0].ma"),
        (text.replacen("mw = 43.99", "mw = -1.0", 1), "power.fit.mw"),
        (text.replacen("mac = 1.0648", "mac = 0.0", 1), "libraries.cmsis-nn.fit.mac"),
        (
            text.replacen(
                "unvalidated = \"no published run of cmsis-nn kernels on the Arm Cortex-M4F in the file; factors transferred from cortex-m33\"",
                "unvalidated = \"\"",
                1,
            ),
            "libraries.cmsis-nn.fit.unvalidated",
        ),
    ];
    for (bad, field) in cases {
        assert_ne!(bad, text, "{field}: the test edit did not apply");
        let e = CpuProfileData::from_toml_str(&bad, "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains(field), "{field}: {e}");
    }
}
