//! The CPU-only memory footprint (`runtime::footprint`) and the profile's capacities,
//! sleep power and code-size estimates (issue 26).

use runtime::cost::{CpuProfile, CpuProfileData};
use runtime::footprint::{self, Fit, KERNEL_CODE};
use runtime::Interpreter;

fn interp(model: &str) -> Interpreter {
    Interpreter::new(&models::builtin(model).unwrap()).unwrap()
}

#[test]
fn every_builtin_profile_has_capacities_sleep_power_and_sources() {
    for d in CpuProfileData::builtins() {
        assert!(d.flash_bytes() >= 64 * 1024, "{}", d.name);
        assert!(d.sram_bytes() >= 16 * 1024, "{}", d.name);
        assert!(d.sleep_uw() > 0.0, "{}", d.name);
        // Sleeping must cost far less than running at the lowest listed clock.
        let run_uw = d.power.supply_v * d.power.run_ma[0].ma * 1000.0;
        assert!(d.sleep_uw() < run_uw / 10.0, "{}", d.name);
        for s in [&d.memory.source, &d.power.sleep_source, &d.code.source] {
            assert!(s.len() > 20, "{}: source `{s}`", d.name);
        }
    }
    let m4 = CpuProfile::resolve("cortex-m4f").unwrap();
    assert_eq!(m4.flash_bytes(), 2048 * 1024);
    assert_eq!(m4.sram_bytes(), 640 * 1024);
    assert!((m4.sleep_uw() - 3.0 * m4.data().power.sleep_ua).abs() < 1e-9);
}

#[test]
fn code_bytes_per_kernel_and_library() {
    let m4 = CpuProfileData::builtin("cortex-m4f").unwrap();
    for k in KERNEL_CODE {
        assert_eq!(m4.code_bytes(k.kind, "reference"), Some(k.reference));
        assert_eq!(m4.code_bytes(k.kind, "cmsis-nn"), Some(k.cmsis_nn));
        assert!(k.cmsis_nn >= k.reference, "{}", k.kind);
    }
    // conv_1x1 is the CONV_2D registration.
    assert_eq!(
        m4.code_bytes("conv_1x1", "cmsis-nn"),
        m4.code_bytes("conv", "cmsis-nn")
    );
    assert_eq!(m4.code_bytes("svdf", "reference"), None);
    // Denser / sparser ISAs scale the table.
    let m0 = CpuProfileData::builtin("cortex-m0plus").unwrap();
    let conv = m4.code_bytes("conv", "reference").unwrap() as f64;
    assert_eq!(
        m0.code_bytes("conv", "reference").unwrap(),
        (conv * m0.code.scale).ceil() as u64
    );
}

#[test]
fn profile_memory_fields_are_validated_with_file_and_field() {
    let text = include_str!("../cpus/cortex-m4f.toml");
    for (from, to, field) in [
        ("flash_kib = 2048", "flash_kib = 0", "memory.flash_kib"),
        ("sram_kib = 640", "sram_kib = 0", "memory.sram_kib"),
        ("sleep_ua = 1.2", "sleep_ua = -1.0", "power.sleep_ua"),
        ("scale = 1.0", "scale = 0.0", "code.scale"),
    ] {
        assert!(text.contains(from), "{from}");
        let e = CpuProfileData::from_toml_str(&text.replacen(from, to, 1), "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.toml") && e.contains(field), "{e}");
    }
    // A profile without the new sections is refused, naming the missing one.
    let start = text.find("[memory]").unwrap();
    let end = text[start..].find("[code]").unwrap() + start;
    let without = format!("{}{}", &text[..start], &text[end..]);
    let e = CpuProfileData::from_toml_str(&without, "y.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("y.toml") && e.contains("memory"), "{e}");
}

#[test]
fn cpu_only_parts_add_up_and_come_from_the_model() {
    for model in models::BUILTIN_NAMES {
        let it = interp(model);
        let g = it.graph();
        for spec in ["cortex-m4f:reference", "cortex-m4f:cmsis-nn"] {
            let cpu = CpuProfile::resolve(spec).unwrap();
            let f = footprint::cpu_only(&it, &cpu, None).unwrap();
            assert_eq!(f.flash_total(), f.flash.iter().map(|(_, b)| b).sum::<u64>());
            assert_eq!(f.sram_total(), f.sram.iter().map(|(_, b)| b).sum::<u64>());
            assert_eq!(f.sram_part("arena"), it.arena_bytes() as u64);
            let model_bytes = f.flash[0].1;
            assert_eq!(
                model_bytes,
                g.const_bytes() as u64 + footprint::flatbuffer_overhead_bytes(g)
            );
            assert_eq!(f.flash_part("runtime code"), footprint::RUNTIME_CODE_BYTES);
            // One code entry per distinct kernel registration.
            let kernels: Vec<_> = f
                .flash
                .iter()
                .filter(|(n, _)| n.starts_with("kernel "))
                .collect();
            let mut names: Vec<_> = kernels.iter().map(|(n, _)| n).collect();
            names.dedup();
            assert_eq!(names.len(), kernels.len(), "{model} {spec}: {kernels:?}");
            assert!(!kernels.is_empty());
            // CMSIS-NN asks for im2col scratch on models with non-1x1 convs; reference never.
            let scratch = f.sram_part("kernel scratch (im2col)");
            if spec.ends_with("reference") {
                assert_eq!(scratch, 0, "{model}");
            } else if *model != "ad" {
                assert!(scratch > 0, "{model}");
            }
            // The .tflite size replaces the estimate when given.
            let with_file = footprint::cpu_only(&it, &cpu, Some(12_345)).unwrap();
            assert_eq!(with_file.flash[0].1, 12_345);
            assert_eq!(
                with_file.flash_total() + model_bytes,
                f.flash_total() + 12_345
            );
        }
    }
}

#[test]
fn flatbuffer_estimate_is_within_3_percent_of_the_reference_files() {
    let dir = models::mlperf_tiny::locate(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
    for (name, file) in models::mlperf_tiny::REFERENCE_FILES {
        let path = dir.join(file);
        let size = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (see its README.md)", path.display()))
            .len();
        let g = models::load_tflite(&path).unwrap();
        let real = size - g.const_bytes() as u64;
        let est = footprint::flatbuffer_overhead_bytes(&g);
        let err = (est as f64 - real as f64).abs() / real as f64;
        assert!(
            err < 0.03,
            "{name}: overhead estimate {est} vs {real} bytes in the file"
        );
    }
}

#[test]
fn a_model_too_big_for_the_part_is_flagged_with_the_shortfall() {
    // VWW's arena alone (64 KB) exceeds the 36 KB SRAM of the STM32G071 (Cortex-M0+).
    let it = interp("vww");
    let m0 = CpuProfile::resolve("cortex-m0plus").unwrap();
    let f = footprint::cpu_only(&it, &m0, None).unwrap();
    let fit = f.fit(&m0);
    assert!(!fit.fits() && !fit.fits_sram());
    assert_eq!(fit.sram_cap, 36 * 1024);
    assert_eq!(fit.shortfall_bytes().sram, f.sram_total() - 36 * 1024);
    // Its 128 KB flash cannot hold VWW's 219 KB of weights either.
    assert!(!fit.fits_flash());
    assert_eq!(fit.shortfall_bytes().flash, f.flash_total() - 128 * 1024);
    // The same model fits the STM32L4R5 with no shortfall.
    let m4 = CpuProfile::resolve("cortex-m4f").unwrap();
    let fit = footprint::cpu_only(&it, &m4, None).unwrap().fit(&m4);
    assert!(fit.fits());
    assert_eq!(fit.shortfall_bytes().flash + fit.shortfall_bytes().sram, 0);
    // Exactly at capacity fits; one byte more does not.
    let edge = Fit {
        flash_used: 10,
        flash_cap: 10,
        sram_used: 11,
        sram_cap: 10,
    };
    assert!(edge.fits_flash() && !edge.fits_sram());
    assert_eq!(edge.shortfall_bytes().sram, 1);
    // The one-line summary names what does not fit and by how much.
    let big = Fit {
        flash_used: 1024,
        flash_cap: 2048,
        sram_used: 3 * 1024 + 512,
        sram_cap: 2048,
    };
    assert_eq!(
        big.to_string(),
        "does not fit: SRAM over by 1.5 KiB (flash 1.0 / 2.0 KiB, SRAM 3.5 / 2.0 KiB)"
    );
    let ok = Fit {
        sram_used: 1024,
        ..big
    };
    assert_eq!(
        ok.to_string(),
        "fits (flash 1.0 / 2.0 KiB, SRAM 1.0 / 2.0 KiB)"
    );
}
