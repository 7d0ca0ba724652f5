//! Memory footprint of an offloaded model ([`footprint`]) and the command-stream policy
//! ([`CmdStreams`]) with its CPU cost ([`apply_cmd_streams`]).
//!
//! The accelerator's "device memory" is the microcontroller's SRAM: the accelerator is a
//! bus master reading and writing system SRAM (as the simulator's bus model assumes), so
//! everything the delegate writes to device memory at load is SRAM the application uses.
//!
//! Offloaded footprint = the CPU side ([`runtime::footprint::cpu_part`]: model flatbuffer,
//! runtime code, the kernels of the layers left on the CPU, arena, interpreter state, the
//! largest CPU scratch buffer of those layers) plus the driver's parts, taken from a real
//! load of the delegate ([`AccelDelegate::load`] on a memory-less device):
//! - SRAM: packed weights and parameter records (the driver copies and repacks every
//!   offloaded layer's weights), the A buffer (the largest im2col patch matrix the CPU
//!   writes, or input image the im2col unit reads), the C buffer (the largest output), and
//!   the command streams as the policy places them;
//! - flash: the driver's code ([`DRIVER_CODE_BYTES`], an estimate) and, under
//!   [`CmdStreams::Flash`], the command streams.

use arch::device::{Counters, Device, DeviceError};
use arch::isa::COMMAND_BYTES;
use arch::AccelConfig;
use runtime::cost::CpuProfile;
use runtime::footprint::{CpuMemory, Footprint};
use runtime::Interpreter;
use serde::Serialize;

use super::accounting::LayerRun;
use super::execution::{layer_regions, prepared_ops, vector_regions, AccelDelegate};
use super::partition::{Decision, ModelFacts, Placement};
use super::{DriverError, MAX_DEVICE_MEM};

/// Where the command streams live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CmdStreams {
    /// Every GEMM's stream is built at load and kept in SRAM (the driver's behaviour and
    /// numbers without the option).
    #[default]
    Sram,
    /// The streams are built ahead of time and stored in flash; the accelerator fetches
    /// them over the bus as it does from SRAM. The model ignores the extra flash latency
    /// of those fetches (one 16-byte command per several hundred data bytes moved).
    Flash,
    /// The CPU builds each layer's streams at invoke time into one SRAM buffer the size of
    /// the largest layer's streams, at [`GENERATE_CYCLES_PER_COMMAND`] CPU cycles per
    /// command; the per-GEMM descriptors the generator starts from stay in SRAM
    /// ([`GENERATE_DESCRIPTOR_BYTES`] each).
    Generate,
}

impl CmdStreams {
    pub fn as_str(self) -> &'static str {
        match self {
            CmdStreams::Sram => "sram",
            CmdStreams::Flash => "flash",
            CmdStreams::Generate => "generate",
        }
    }
}

impl std::str::FromStr for CmdStreams {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sram" => Ok(CmdStreams::Sram),
            "flash" => Ok(CmdStreams::Flash),
            "generate" => Ok(CmdStreams::Generate),
            _ => Err(format!(
                "unknown command-stream policy `{s}` (sram, flash, generate)"
            )),
        }
    }
}

impl std::fmt::Display for CmdStreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// CPU cycles to generate one 16-byte command at invoke time (derivation in
/// `docs/cpu-model.md`, "Command-stream policies": ~12 instructions of tile-loop and
/// address arithmetic, ~12 of field packing into four words, four word stores and the
/// loop branch, at about one cycle each on a Cortex-M with the loop in the ART / I-cache).
pub const GENERATE_CYCLES_PER_COMMAND: u64 = 40;

/// SRAM bytes per GEMM descriptor kept for [`CmdStreams::Generate`]: the GEMM problem
/// (sizes, zero points, output range), its memory layout (six addresses and strides) and
/// the chosen tiling, as 32-bit words (16 words).
pub const GENERATE_DESCRIPTOR_BYTES: u64 = 64;

/// Estimated flash bytes of the driver's code on Thumb-2 (partition tables, weight packing
/// at load, CPU im2col, command generation, submission); an estimate, see
/// `docs/cpu-model.md`, "Code size".
pub const DRIVER_CODE_BYTES: u64 = 8_000;

/// The command streams of one offloaded layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LayerStream {
    /// Op index.
    pub index: usize,
    /// GEMMs (submissions) of the layer.
    pub gemms: u64,
    /// Commands over all its GEMMs (each [`COMMAND_BYTES`] bytes).
    pub commands: u64,
    /// Bytes of its streams (`commands x COMMAND_BYTES`).
    pub bytes: u64,
}

/// The driver state a footprint is computed from: the device-memory regions of a real
/// load and each offloaded layer's command streams.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriverMemory {
    /// Packed weights + parameter records, bytes (64-byte aligned regions).
    pub weights: u64,
    /// A buffer (im2col patches / input image), bytes.
    pub a_buffer: u64,
    /// C buffer (output), bytes.
    pub c_buffer: u64,
    /// All command streams as laid out in device memory (64-byte aligned), bytes.
    pub commands: u64,
    /// Per offloaded layer.
    pub layers: Vec<LayerStream>,
}

impl DriverMemory {
    /// The largest layer's command-stream bytes (the [`CmdStreams::Generate`] buffer).
    pub fn largest_layer_stream(&self) -> u64 {
        self.layers.iter().map(|l| l.bytes).max().unwrap_or(0)
    }

    /// GEMMs over all offloaded layers.
    pub fn gemms(&self) -> u64 {
        self.layers.iter().map(|l| l.gemms).sum()
    }
}

/// A device with no memory behind it: accepts the delegate's load-time writes within
/// [`MAX_DEVICE_MEM`] and nothing else. Used to lay out device memory without a simulator.
struct LayoutDevice {
    cfg: AccelConfig,
}

impl Device for LayoutDevice {
    fn config(&self) -> &AccelConfig {
        &self.cfg
    }
    fn mem_size(&self) -> u64 {
        MAX_DEVICE_MEM
    }
    fn write_mem(&mut self, addr: u64, data: &[u8]) -> Result<(), DeviceError> {
        if addr.saturating_add(data.len() as u64) > MAX_DEVICE_MEM {
            return Err(DeviceError::Buffer(format!(
                "write of {} bytes at {addr:#x} beyond {MAX_DEVICE_MEM} bytes",
                data.len()
            )));
        }
        Ok(())
    }
    fn read_mem(&mut self, _addr: u64, _out: &mut [u8]) -> Result<(), DeviceError> {
        Err(DeviceError::Buffer(
            "the layout device has no memory to read".into(),
        ))
    }
    fn write_reg(&mut self, _offset: u32, _value: u32) -> Result<(), DeviceError> {
        Err(DeviceError::Buffer(
            "the layout device has no registers".into(),
        ))
    }
    fn read_reg(&mut self, _offset: u32) -> Result<u32, DeviceError> {
        Err(DeviceError::Buffer(
            "the layout device has no registers".into(),
        ))
    }
    fn wait(&mut self) -> Result<Counters, DeviceError> {
        Err(DeviceError::Buffer("the layout device cannot run".into()))
    }
}

/// Loads the offloaded layers of `decisions` as [`AccelDelegate::load`] does (packing,
/// layout, every command stream) without a device, and returns the memory it uses.
pub fn driver_memory(
    interp: &Interpreter,
    cfg: &AccelConfig,
    cpu: &CpuProfile,
    decisions: &[Decision],
) -> Result<DriverMemory, DriverError> {
    let graph = interp.graph();
    let prepared = prepared_ops(interp)?;
    let mut dev = LayoutDevice { cfg: cfg.clone() };
    let d = AccelDelegate::load(graph, &prepared, decisions.to_vec(), &mut dev, cpu)?;
    let r = d.regions();
    let layers = d
        .offloaded_layers()
        .into_iter()
        .map(|index| {
            let jobs = d.stream_commands(index).unwrap_or_default();
            let commands: u64 = jobs.iter().map(|&j| j as u64).sum();
            LayerStream {
                index,
                gemms: jobs.len() as u64,
                commands,
                bytes: commands * COMMAND_BYTES as u64,
            }
        })
        .collect();
    Ok(DriverMemory {
        weights: r.weights,
        a_buffer: r.a,
        c_buffer: r.c,
        commands: r.commands,
        layers,
    })
}

/// The footprint of `interp`'s graph offloaded to `cfg` as `decisions` place it, with the
/// command streams placed by `streams`; `file_bytes` is the `.tflite` size (`None` for a
/// built-in model). With no layer offloaded it is the CPU-only footprint exactly.
pub fn footprint(
    interp: &Interpreter,
    cfg: &AccelConfig,
    cpu: &CpuProfile,
    decisions: &[Decision],
    streams: CmdStreams,
    file_bytes: Option<u64>,
) -> Result<Footprint, DriverError> {
    let mem = driver_memory(interp, cfg, cpu, decisions)?;
    footprint_from(interp, cpu, decisions, &mem, streams, file_bytes)
}

/// [`footprint`] from an already computed [`DriverMemory`] (one load, several policies).
pub fn footprint_from(
    interp: &Interpreter,
    cpu: &CpuProfile,
    decisions: &[Decision],
    mem: &DriverMemory,
    streams: CmdStreams,
    file_bytes: Option<u64>,
) -> Result<Footprint, DriverError> {
    let cpu_mem = CpuMemory::new(interp, cpu, file_bytes).map_err(|e| DriverError::Run {
        model: interp.graph().name.clone(),
        reason: e.to_string(),
    })?;
    let on_accel = |i: usize| {
        decisions
            .iter()
            .any(|d| d.index == i && d.placement == Placement::Accel)
    };
    Ok(footprint_of(&cpu_mem, &on_accel, mem, streams, cpu))
}

/// The footprint from the model's CPU-side facts (computed once per model and profile),
/// which layers are offloaded (`on_accel(index)`) and the driver's memory (a real load's
/// [`driver_memory`] or a sweep's [`driver_memory_estimate`]).
pub fn footprint_of(
    cpu_mem: &CpuMemory,
    on_accel: &dyn Fn(usize) -> bool,
    mem: &DriverMemory,
    streams: CmdStreams,
    cpu: &CpuProfile,
) -> Footprint {
    let mut fp = cpu_mem.footprint(&|i| !on_accel(i));
    if mem.layers.is_empty() {
        return fp;
    }
    fp.flash
        .push(("driver code".to_string(), scaled(cpu, DRIVER_CODE_BYTES)));
    fp.sram
        .push(("packed weights (driver copy)".to_string(), mem.weights));
    fp.sram
        .push(("accel A buffer (im2col / input)".to_string(), mem.a_buffer));
    fp.sram
        .push(("accel C buffer (output)".to_string(), mem.c_buffer));
    match streams {
        CmdStreams::Sram => fp.sram.push(("command streams".to_string(), mem.commands)),
        CmdStreams::Flash => fp.flash.push(("command streams".to_string(), mem.commands)),
        CmdStreams::Generate => {
            fp.sram.push((
                "command buffer (largest layer)".to_string(),
                mem.largest_layer_stream(),
            ));
            fp.sram.push((
                "command descriptors".to_string(),
                mem.gemms() * GENERATE_DESCRIPTOR_BYTES,
            ));
        }
    }
    fp
}

/// The driver's memory for the offloaded layers of an estimate (`layers` from
/// [`super::estimate_model`] on `facts`), without building anything: the regions from each
/// layer's GEMM shapes as [`AccelDelegate::load`] lays them out, the streams from the
/// commands the tile-level model counts (`device_counters.commands`; each GEMM's stream
/// 64-byte aligned, the layer's commands shared evenly by its GEMMs). Equal to
/// [`driver_memory`] for the same placement when the estimate's command counts are the
/// programs' (tested).
pub fn driver_memory_estimate(
    facts: &ModelFacts,
    cfg: &AccelConfig,
    layers: &[LayerRun],
) -> DriverMemory {
    let mut mem = DriverMemory {
        weights: 0,
        a_buffer: 0,
        c_buffer: 0,
        commands: 0,
        layers: Vec::new(),
    };
    for l in layers.iter().filter(|l| l.placement == Placement::Accel) {
        let Some(f) = facts.layers.get(l.index) else {
            continue;
        };
        let (regions, gemms) = match (f.vector_on(cfg), &f.lowering) {
            (Some(v), _) => (vector_regions(cfg, v), v.batch() as u64),
            (None, Ok((lowering, shape))) => {
                (layer_regions(cfg, lowering, shape), shape.gemms() as u64)
            }
            (None, Err(_)) => continue,
        };
        let (w, a, c) = regions;
        mem.weights += w;
        mem.a_buffer = mem.a_buffer.max(a);
        mem.c_buffer = mem.c_buffer.max(c);
        let commands = l.device_counters.commands;
        if let Some(per) = commands.checked_div(gemms) {
            let extra = commands % gemms;
            let bytes = |n: u64| (n * COMMAND_BYTES as u64).div_ceil(64) * 64;
            mem.commands += extra * bytes(per + 1) + (gemms - extra) * bytes(per);
        }
        mem.layers.push(LayerStream {
            index: l.index,
            gemms,
            commands,
            bytes: commands * COMMAND_BYTES as u64,
        });
    }
    mem
}

fn scaled(cpu: &CpuProfile, thumb2_bytes: u64) -> u64 {
    (thumb2_bytes as f64 * cpu.data().code.scale).ceil() as u64
}

/// Charges the CPU cost of `streams` to the offloaded layers of `layers` (a run's or an
/// estimate's): under [`CmdStreams::Generate`] each offloaded layer's driver gains
/// [`GENERATE_CYCLES_PER_COMMAND`] per command it executes (`device_counters.commands`),
/// at the CPU's active power, with the accelerator leaking meanwhile; its `driver_us`,
/// `total_us`, `cpu_uj`, `device_idle_leakage_uj` and `total_uj` grow accordingly.
/// [`CmdStreams::Sram`] and [`CmdStreams::Flash`] change nothing.
pub fn apply_cmd_streams(
    layers: &mut [LayerRun],
    cfg: &AccelConfig,
    cpu: &CpuProfile,
    streams: CmdStreams,
) {
    if streams != CmdStreams::Generate {
        return;
    }
    for l in layers.iter_mut() {
        if l.placement != Placement::Accel {
            continue;
        }
        let cycles = GENERATE_CYCLES_PER_COMMAND * l.device_counters.commands;
        let us = cycles as f64 / cpu.clock_mhz();
        let cpu_uj = cpu.power_mw() * us / 1000.0;
        let leak_uj = cfg.leakage_uw() * us / 1e6;
        let clock_uj = arch::device::idle_clock_pj(cfg, us * cfg.clock_mhz) / 1e6;
        l.driver_cycles += cycles;
        l.driver_us += us;
        l.total_us += us;
        l.cpu_uj += cpu_uj;
        l.device_idle_leakage_uj += leak_uj;
        l.device_idle_clock_uj += clock_uj;
        l.total_uj += cpu_uj + leak_uj + clock_uj;
    }
}
