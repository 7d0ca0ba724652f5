//! Bounded resources: hostile inputs that declare absurd sizes are rejected with a clear
//! error *before* anything of that size is allocated, and a command stream that never
//! finishes is stopped with an error naming the command. The limits are listed in
//! docs/errors.md.
//!
//! A counting global allocator records the largest single allocation, so "before any
//! allocation" is checked, not assumed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use arch::device::{reg, Device, DeviceError};
use arch::isa::{self, Command, Compute, Deps, Load, Op, Scratchpad};
use arch::AccelConfig;

struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Tests that measure the largest allocation run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// No hostile input may make the process allocate more than this in one piece.
const ALLOC_BOUND: usize = 64 << 20;

/// Runs `f` and returns its result and the largest single allocation made meanwhile.
fn largest_alloc<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    LARGEST.store(0, Ordering::SeqCst);
    let r = f();
    (r, LARGEST.load(Ordering::SeqCst))
}

fn model_path(file: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/models/mlperf_tiny")
        .join(file);
    assert!(
        p.is_file(),
        "MLPerf Tiny model missing at {} (needed to craft hostile models)",
        p.display()
    );
    p
}

/// The KWS model with its input shape `[1, 49, 10, 1]` (a flatbuffer int32 vector
/// `len=4, 1, 49, 10, 1`) replaced by `dims`.
fn kws_with_input_shape(dims: [i32; 4]) -> Vec<u8> {
    let mut bytes = std::fs::read(model_path("kws_ref_model.tflite")).unwrap();
    let want: Vec<u8> = [4i32, 1, 49, 10, 1]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let at: Vec<usize> = (0..bytes.len() - want.len())
        .filter(|&i| bytes[i..i + want.len()] == want[..])
        .collect();
    assert_eq!(
        at.len(),
        1,
        "the input shape vector [1, 49, 10, 1] should occur once in the KWS model"
    );
    let new: Vec<u8> = std::iter::once(4i32)
        .chain(dims)
        .flat_map(|v| v.to_le_bytes())
        .collect();
    bytes[at[0]..at[0] + new.len()].copy_from_slice(&new);
    bytes
}

#[test]
fn tensor_of_2_pow_40_elements_is_rejected_before_allocation() {
    let bytes = kws_with_input_shape([1, 1 << 20, 1 << 20, 1]);
    let (r, largest) = largest_alloc(|| models::from_tflite_bytes(&bytes, "kws-2pow40"));
    let e = r
        .expect_err("a 2^40-element tensor must be rejected")
        .to_string();
    assert!(
        e.contains("kws-2pow40") && e.contains("tensor") && e.contains("elements"),
        "error should name the model, the tensor and the element limit: {e}"
    );
    assert!(
        e.contains(&models::tflite::MAX_TENSOR_ELEMENTS.to_string()),
        "error should state the limit: {e}"
    );
    assert!(largest < ALLOC_BOUND, "{largest} bytes allocated at once");
}

#[test]
fn negative_and_overflowing_dimensions_are_rejected() {
    for dims in [[1, -1, 10, 1], [i32::MAX, i32::MAX, i32::MAX, i32::MAX]] {
        let bytes = kws_with_input_shape(dims);
        let (r, largest) = largest_alloc(|| models::from_tflite_bytes(&bytes, "kws-bad"));
        let e = r.expect_err("bad dimensions must be rejected").to_string();
        assert!(e.contains("tensor") && e.contains("shape"), "{dims:?}: {e}");
        assert!(largest < ALLOC_BOUND, "{dims:?}: {largest} bytes at once");
    }
}

#[test]
fn patched_shape_inconsistent_with_the_ops_is_rejected_at_prepare() {
    // 2^28 elements: at the importer's limit, accepted; the first conv's output shape no
    // longer matches, and prepare says so before the arena is planned.
    let bytes = kws_with_input_shape([1, 1 << 14, 1 << 14, 1]);
    let (r, largest) = largest_alloc(|| {
        let g = models::from_tflite_bytes(&bytes, "kws-huge-input").map_err(|e| e.to_string())?;
        runtime::Interpreter::new(&g)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    let e = r.expect_err("inconsistent shapes must be rejected");
    assert!(
        e.contains("kws-huge-input") && e.contains("CONV_2D") && e.contains("shape"),
        "{e}"
    );
    assert!(largest < ALLOC_BOUND, "{largest} bytes allocated at once");
}

#[test]
fn arena_over_the_limit_is_rejected_before_allocation() {
    // A consistent graph: 2^28-element int8 input, 1x1 conv, same-size output: a 512 MiB
    // arena, over the 256 MiB limit.
    use models::builder::GraphBuilder;
    use models::{Activation, Padding};
    let (r, largest) = largest_alloc(|| {
        let mut b = GraphBuilder::new("huge-arena", "", 1);
        let x = b.input(&[1, 1 << 14, 1 << 14, 1], 0.05, 0);
        let y = b.conv(x, 1, 1, 1, 1, Padding::Same, Activation::None);
        let g = b.finish(&[y]);
        runtime::Interpreter::new(&g).map(|_| ())
    });
    let e = r.expect_err("a 512 MiB arena must be rejected").to_string();
    assert!(
        e.contains("huge-arena")
            && e.contains("arena")
            && e.contains(&(256usize << 20).to_string()),
        "{e}"
    );
    assert!(largest < ALLOC_BOUND, "{largest} bytes allocated at once");
}

fn config_with(extra: &str) -> String {
    let base = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/tiny-4x4.toml"),
    )
    .unwrap();
    let keys: Vec<&str> = extra
        .lines()
        .filter_map(|l| l.split('=').next())
        .map(str::trim)
        .collect();
    let mut out: String = base
        .lines()
        .filter(|l| {
            let k = l.split('=').next().unwrap_or("").trim();
            !keys.contains(&k)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    out.push_str(extra);
    out
}

#[test]
fn config_with_a_million_by_million_array_is_rejected_before_allocation() {
    let text = config_with("rows = 1000000\ncols = 1000000\n");
    let (r, largest) = largest_alloc(|| AccelConfig::from_toml_str(&text, "huge-array.toml"));
    let e = r.expect_err("1e6 x 1e6 must be rejected").to_string();
    for want in ["huge-array.toml", "rows", "cols", "1000000", "maximum"] {
        assert!(e.contains(want), "error should contain {want:?}: {e}");
    }
    assert!(largest < ALLOC_BOUND, "{largest} bytes allocated at once");
}

#[test]
fn config_with_a_1_tib_scratchpad_is_rejected_before_allocation() {
    // 1 TiB = 2^30 KiB (fits the u32 field).
    let text = config_with("input_sram_kib = 1073741824\n");
    let (r, largest) = largest_alloc(|| AccelConfig::from_toml_str(&text, "huge-sram.toml"));
    let e = r
        .expect_err("a 1 TiB scratchpad must be rejected")
        .to_string();
    for want in ["huge-sram.toml", "input_sram_kib", "1073741824", "maximum"] {
        assert!(e.contains(want), "error should contain {want:?}: {e}");
    }
    assert!(largest < ALLOC_BOUND, "{largest} bytes allocated at once");
    // 2^40 KiB does not even fit the field: a parse error naming the line.
    let text = config_with("acc_sram_kib = 1099511627776\n");
    let e = AccelConfig::from_toml_str(&text, "overflow.toml")
        .expect_err("out of range")
        .to_string();
    assert!(
        e.contains("overflow.toml") && e.contains("line"),
        "error should name the file and line: {e}"
    );
}

#[test]
fn sweep_grid_with_too_many_designs_is_rejected() {
    let text = "base = \"tiny-4x4\"\n[sweep]\nrows = [1,2,3,4,5,6,7,8,9,10]\ncols = [1,2,3,4,5,6,7,8,9,10]\n\
        bus_latency_cycles = [0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79,80,81,82,83,84,85,86,87,88,89,90,91,92,93,94,95,96,97,98,99]\n\
        input_sram_kib = [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79,80,81,82,83,84,85,86,87,88,89,90,91,92,93,94,95,96,97,98,99,100]\n\
        weight_sram_kib = [1,2,3,4,5,6,7,8,9,10,11]\n";
    let (r, largest) = largest_alloc(|| {
        reports::sweep::Grid::from_toml_str(text, "huge-grid.toml", Path::new("."))
    });
    let e = r.expect_err("10^7+ designs must be rejected").to_string();
    assert!(
        e.contains("huge-grid.toml") && e.contains("designs"),
        "error should name the file and the design limit: {e}"
    );
    assert!(largest < ALLOC_BOUND, "{largest} bytes allocated at once");
}

fn small_config(latency: u32) -> AccelConfig {
    let mut c = AccelConfig::preset("tiny-4x4").unwrap();
    c.rows = 2;
    c.cols = 2;
    c.input_sram_kib = 1;
    c.weight_sram_kib = 1;
    c.acc_sram_kib = 1;
    c.bus_latency_cycles = latency;
    c.validate().unwrap();
    c
}

fn compute(deps: Deps) -> Command {
    Command {
        op: Op::Compute(Compute {
            accumulate: false,
            a_line: 0,
            b_line: 0,
            c_line: 0,
            m: 1,
            k: 1,
            n: 2,
        }),
        deps,
    }
}

fn finish() -> Command {
    Command {
        op: Op::Finish,
        deps: Deps::NONE,
    }
}

fn run_on_device(
    cfg: &AccelConfig,
    cmds: &[Command],
) -> Result<arch::device::Counters, DeviceError> {
    let mut dev = sim::SimDevice::new(cfg, sim::Fidelity::Cycle, 64 << 10);
    let buf = isa::encode_all(cmds);
    dev.write_mem(0x8000, &buf)?;
    dev.write_reg(reg::CMD_BASE, 0x8000)?;
    dev.write_reg(reg::CMD_COUNT, cmds.len() as u32)?;
    dev.write_reg(reg::CTRL, reg::CTRL_START)?;
    dev.wait()
}

#[test]
fn compute_waiting_for_a_token_never_pushed_is_a_deadlock_error_naming_it() {
    let cfg = small_config(10);
    // Command 1 waits for a load->compute token; no load ever pushes one.
    let cmds = [
        compute(Deps::NONE),
        compute(Deps {
            pop_prev: true,
            ..Deps::NONE
        }),
        finish(),
    ];
    let e = run_on_device(&cfg, &cmds).expect_err("must not hang or succeed");
    match &e {
        DeviceError::Command { index, reason } => {
            assert_eq!(*index, 1, "{e}");
            assert!(
                reason.contains("COMPUTE") && reason.contains("deadlock"),
                "{e}"
            );
        }
        other => panic!("expected a command error, got {other}"),
    }
}

#[test]
fn a_stream_longer_than_the_cycle_limit_is_stopped_naming_the_command() {
    // Loads at the maximal bus latency: each row of each LOAD waits 100000 cycles.
    let cfg = small_config(arch::config::MAX_BUS_LATENCY);
    let load = |line: u32| Command {
        op: Op::Load(Load {
            sp: Scratchpad::Input,
            transpose: false,
            sp_line: line,
            mem_addr: 0,
            mem_stride: 2,
            nrows: 100,
            ncols: 2,
        }),
        deps: Deps::NONE,
    };
    let cmds = [load(0), load(100), load(200), finish()];
    for c in &cmds {
        c.check(&cfg).expect("a legal stream");
    }
    let mut m = sim::machine::Machine::new(&cfg);
    let mut mem = vec![0u8; 4096];
    let limit = 15_000_000; // ~1.5 LOADs
    let e = sim::cycle::run_with_limit(&cfg, &mut m, &mut mem, &cmds, limit)
        .expect_err("must stop at the limit");
    assert_eq!(e.index, 1, "the second LOAD is running at the limit: {e}");
    let text = e.to_string();
    assert!(
        text.contains("LOAD") && text.contains("cycle limit") && text.contains("15000000"),
        "{text}"
    );
    // Under the limit the same stream completes, and the default limit is far above it.
    let mut m = sim::machine::Machine::new(&cfg);
    let c = sim::cycle::run_with_limit(&cfg, &mut m, &mut mem, &cmds, 100_000_000).unwrap();
    assert!(c.cycles > 30_000_000 && c.cycles < sim::cycle::MAX_CYCLES);
}

#[test]
fn command_buffer_outside_device_memory_is_an_error() {
    let cfg = small_config(10);
    let mut dev = sim::SimDevice::new(&cfg, sim::Fidelity::Functional, 4096);
    dev.write_reg(reg::CMD_BASE, 4000).unwrap();
    dev.write_reg(reg::CMD_COUNT, u32::MAX).unwrap();
    let (r, largest) = largest_alloc(|| {
        dev.write_reg(reg::CTRL, reg::CTRL_START).unwrap();
        dev.wait()
    });
    let e = r.expect_err("4 G commands cannot fit").to_string();
    assert!(e.contains("outside"), "{e}");
    assert!(largest < ALLOC_BOUND, "{largest} bytes allocated at once");
}

#[test]
fn offloaded_run_with_a_wrong_size_input_names_the_model_and_input() {
    let g = models::builtin("ad").expect("built-in ad");
    let cfg = AccelConfig::preset("tiny-4x4").unwrap();
    let cpu = runtime::cost::CpuProfile::resolve("cortex-m4f").unwrap();
    let mut dev = sim::SimDevice::new(
        &cfg,
        sim::Fidelity::Functional,
        sim::device::DEFAULT_MEM_BYTES,
    );
    let mut interp = runtime::Interpreter::new(&g).unwrap();
    let e = driver::delegate::run_model(
        &mut interp,
        &mut dev,
        &cpu,
        driver::delegate::Policy::All,
        &[0u8; 3],
    )
    .expect_err("3 bytes is not the AD input")
    .to_string();
    assert!(
        e.contains("model `ad`") && e.contains("input 0") && e.contains("got 3"),
        "{e}"
    );
    assert!(!e.contains(&usize::MAX.to_string()), "{e}");
}
