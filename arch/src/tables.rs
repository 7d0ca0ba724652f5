//! Energy and area tables, per technology node, with their sources.
//!
//! ## Reference numbers (45 nm, 0.9 V)
//!
//! | quantity | value at 45 nm | source |
//! |---|---|---|
//! | 8-bit integer multiply | 0.2 pJ | M. Horowitz, "Computing's energy problem", ISSCC 2014, Fig. 1.1.9 |
//! | 32-bit integer add | 0.1 pJ | same |
//! | int8 MAC into int32 (multiply + add) | **0.3 pJ** | sum of the two above |
//! | 8 KB SRAM, 64-bit read | 10 pJ, i.e. **1.25 pJ/byte** | same |
//! | SRAM read and write, leakage and area | **the SRAM model** (`crate::sram`): capacity, width, banks, ports | fit to CACTI 7 runs at 45 nm (docs/energy.md); replaces the single sqrt rule (`sram_size_exponent` brings it back as an override) |
//! | system interconnect byte | **2.0 pJ/byte** | assumption: ~2 mm of bus wiring at ~0.1 pJ/bit/mm plus AHB/AXI multiplexers |
//! | main memory byte | system SRAM from the SRAM model (`main_memory_kib`), **LPDDR4 40 pJ/byte**, **QSPI flash 640 pJ/byte** | docs/energy.md (off-chip values not node-scaled) |
//! | flip-flop clock pin, per cycle | **6.3 fJ** | NanGate 45 nm OCL, D flip-flop with reset, CK internal energy 4.45 + 5.0 fJ at 1.1 V, x (0.9/1.1)^2 |
//! | flip-flop data switching, per working cycle | **1.6 fJ** | assumption: activity 0.25 x the clock-pin energy |
//! | clock tree per flip-flop, per cycle | **2.4 fJ** | assumption: wires and buffers ~2x the ~1 fF clock-pin load, 3 fF x 0.81 V^2 |
//! | PPU output | **3.5 pJ** | 32-bit multiply 3.1 pJ (Horowitz) + add, shift, clamp |
//! | command decode | **1.0 pJ** | assumption: 128-bit register load + ~8 adds/compares; the 16-byte fetch is charged at bus + main memory |
//! | DMA burst (address generation, request) | **0.5 pJ** | ~5 adds/compares at 0.1 pJ |
//! | 8-bit multiplier area | 282 um^2 | Horowitz, ISSCC 2014 (area table) |
//! | 32-bit adder area | 137 um^2 | same |
//! | PE registers (8+8+32 flip-flops at ~4.5 um^2) | 216 um^2 | 45 nm standard-cell DFF area, e.g. NanGate 45 nm Open Cell Library DFF_X1 = 4.52 um^2 |
//! | PE, first-principles sum (multiplier + adder + registers) | 635 um^2 | sum of the three above |
//! | **PE** (as synthesized) | **1670 um^2** | yosys 0.23 `synth -flatten` of one `hdl` PE, cells weighted with NanGate 45 nm X1 cell areas: OS 1688, WS 1644 um^2 (`tinyaccel hdl area`, docs/area.md) |
//! | SRAM area | **3,262 um^2/KiB + 298 um^2 per bank and byte of line** | the SRAM model (CACTI 7 fit; the old 4,050 um^2/KiB was a 0.346 um^2 cell / 70 % efficiency) |
//! | **PPU lane** (one per column) | **15,700 um^2** | per-column area of the synthesized core (32x32 high multiply, rounding shift, clamp), fitted over 2x2/4x2/4x4 (`tinyaccel hdl area`, docs/area.md) |
//! | controller and DMA | **20,000 um^2** | assumption (no system RTL yet) |
//! | leakage per PE | **1.0 uW** | assumption: ~5 % of the dynamic power of a PE at 200 MHz |
//! | SRAM leakage | **1.07 uW/KiB + 11.9 uW per bank** | the SRAM model (CACTI 7, `itrs-lstp` cells) |
//! | im2col address generator, one piece | **0.5 pJ** | ~5 16/32-bit adds and compares (position, tap, bounds, address) at 0.1 pJ each (Horowitz, ISSCC 2014, 32-bit add) |
//! | DMA request tracking, one bus burst | **0.4 pJ** | write + read of one ~80-bit tracking-FIFO entry (address, length, destination) in flip-flops; first-order estimate, charged only when `dma_outstanding > 1` |
//! | im2col address generator area | **9,308 um^2** | yosys 0.23 `synth -flatten` of `hdl/rtl/tinyaccel_im2col_agu.v` (6,652 cells, 86 flip-flops), cells weighted with NanGate 45 nm X1 areas (`tinyaccel hdl area --config edge-8x8-conv`, docs/area.md) |
//! | DMA tracking slot area (per outstanding request) | **751 um^2** | yosys 0.23 of `hdl/rtl/tinyaccel_dma_track.v` with 4 slots of 90 bits: 3,003 um^2 / 4 (same flow and weights); `N x` this when `dma_outstanding = N > 1` |
//! | leakage of the AGU and the tracking slots | area x (leakage per PE / PE area) | logic leakage density of a PE (assumption, as for the PE) |
//!
//! | vector unit `SUM`/`MAX` lane op | **0.1 pJ** | one 32-bit add or compare (Horowitz, ISSCC 2014) |
//! | vector unit `ADD` lane op | **6.4 pJ** | two 32-bit multiplies (3.1 pJ each, Horowitz, ISSCC 2014) and two adds; the depthwise `MAC` lane is a MAC (`mac_pj`) |
//! | vector unit lane areas (`MAC` / `SUM`+`MAX`+divide / `ADD`) | **1,780 / 7,037 / 12,194 um^2** | yosys 0.23 `synth -flatten` of `hdl/rtl/tinyaccel_vpu.v` with 8 lanes and one mode at a time (14,243 / 56,295 / 97,554 um^2), cells weighted with NanGate 45 nm X1 areas (`tinyaccel hdl area --config <config with the mode>`, docs/area.md); each includes its share of the unit's sequencer and mode registers, so all three together are over-estimated by ~10 % (synthesized together: 152,464 um^2 at 8 lanes, the sum of the three alone 168,092) |
//!
//! The im2col/DMA rows belong to the issue-16 features (hardware im2col, pipelined DMA):
//! with `im2col = false` and `dma_outstanding = 1` they contribute nothing.
//!
//! ## Scaling to other nodes
//!
//! First-order (Dennard) scaling, as used by Horowitz and by most architecture papers:
//! dynamic energy scales as C V^2 with C proportional to the feature size L, so
//! `E(node) = E(45) * (L / 45) * (V(node) / 0.9)^2`; area scales as `(L / 45)^2`; leakage is
//! scaled like dynamic energy. Supply voltages are typical nominal core voltages of each
//! node. Below 28 nm real processes scale less well than this rule (Stillmaker & Baas,
//! "Scaling equations for the accurate prediction of CMOS device performance from 180 nm to
//! 7 nm", Integration 58, 2017): treat those nodes as optimistic, or override the tables.

use crate::sram::{self, SramMacro};
use serde::{Deserialize, Serialize};

/// One supported technology node.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Node {
    /// Feature size in nm.
    pub node_nm: u32,
    /// Nominal core supply in volts.
    pub vdd: f64,
}

/// The supported nodes and their nominal supplies.
pub const NODE_TABLE: &[Node] = &[
    Node {
        node_nm: 65,
        vdd: 1.1,
    },
    Node {
        node_nm: 45,
        vdd: 0.9,
    },
    Node {
        node_nm: 40,
        vdd: 0.9,
    },
    Node {
        node_nm: 28,
        vdd: 0.9,
    },
    Node {
        node_nm: 22,
        vdd: 0.8,
    },
    Node {
        node_nm: 16,
        vdd: 0.8,
    },
    Node {
        node_nm: 12,
        vdd: 0.75,
    },
    Node {
        node_nm: 7,
        vdd: 0.7,
    },
];

/// Dynamic-energy factor of `node_nm` relative to 45 nm (1.0 for unknown nodes; unknown
/// nodes are rejected by validation before they get here).
pub fn energy_factor(node_nm: u32) -> f64 {
    match NODE_TABLE.iter().find(|n| n.node_nm == node_nm) {
        Some(n) => (n.node_nm as f64 / 45.0) * (n.vdd / 0.9).powi(2),
        None => 1.0,
    }
}

/// Area of one command-queue bit at 45 nm (um^2): a flip-flop with its write and read
/// multiplexing, taken from the synthesized DMA tracking FIFO (751 um^2 for a 90-bit
/// entry, `AreaTable::dma_slot_um2`). The queues hold `3 x cmd_queue_depth x 128` bits
/// (`AccelConfig::cmd_queue_area_um2`).
pub const CMD_QUEUE_UM2_PER_BIT_45NM: f64 = 751.0 / 90.0;

/// Area factor of `node_nm` relative to 45 nm.
pub fn area_factor(node_nm: u32) -> f64 {
    (node_nm as f64 / 45.0).powi(2)
}

/// Energy per action, in picojoules, and leakage, in microwatts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EnergyTable {
    /// One int8 x int8 multiply accumulated into int32.
    pub mac_pj: f64,
    /// One byte read from the reference macro of the SRAM model ([`crate::sram::REFERENCE`]:
    /// 8 KiB, 8 bytes wide, one bank, one port); other macros scale by the model.
    pub sram_read_pj_per_byte_8kib: f64,
    /// One byte written to the reference macro.
    pub sram_write_pj_per_byte_8kib: f64,
    /// `None`: capacity dependence from the SRAM model. `Some(x)` (an `[energy]`
    /// override): the old single rule `E(s) = E(8 KiB) * (s / 8 KiB)^x`, applied to the
    /// model's value at 8 KiB with the macro's width, banks and ports.
    #[serde(default)]
    pub sram_size_exponent: Option<f64>,
    /// One byte over the system interconnect (bus wires, AHB/AXI multiplexers, the
    /// accelerator's bus interface); the memory behind it is `main_memory_pj_per_byte`.
    pub bus_pj_per_byte: f64,
    /// One byte read or written in the on-chip system SRAM (`main_memory = "sram"`); set
    /// by [`crate::AccelConfig::energy_table`] from the SRAM model at `main_memory_kib`.
    #[serde(default)]
    pub main_memory_pj_per_byte: f64,
    /// One byte to or from off-chip LPDDR4 (device + interface), not node-scaled.
    #[serde(default)]
    pub lpddr4_pj_per_byte: f64,
    /// One byte read from off-chip quad-SPI NOR flash, not node-scaled.
    #[serde(default)]
    pub qspi_flash_pj_per_byte: f64,
    /// Leakage of one PE.
    pub leakage_uw_per_pe: f64,
    /// Leakage of one KiB of SRAM cells (the SRAM model's per-KiB term).
    pub leakage_uw_per_kib: f64,
    /// Leakage of the periphery of one SRAM bank.
    #[serde(default)]
    pub sram_bank_leakage_uw: f64,
    /// One piece (bus or pad) walked by the im2col address generator.
    pub agu_pj_per_piece: f64,
    /// Tracking one bus burst in the DMA's outstanding-request FIFO (charged only when
    /// `dma_outstanding > 1`).
    pub dma_slot_pj_per_burst: f64,
    /// One `SUM` or `MAX` lane operation of the vector unit (one tap of one lane).
    pub vpu_reduce_pj_per_op: f64,
    /// One `ADD` lane operation of the vector unit (two operand rescales and the add).
    pub vpu_add_pj_per_op: f64,
    /// One clock cycle of one flip-flop (its clock pin's internal energy), whether its
    /// data changes or not.
    #[serde(default)]
    pub ff_clock_pj: f64,
    /// Data switching of one flip-flop in a cycle its unit works (activity included).
    #[serde(default)]
    pub ff_data_pj: f64,
    /// The clock tree (wires and buffers) per flip-flop it drives, per cycle.
    #[serde(default)]
    pub clock_tree_pj_per_ff: f64,
    /// One output of the PPU (bias, 32x32 high multiply, rounding shift, clamp).
    #[serde(default)]
    pub ppu_pj_per_output: f64,
    /// Decoding one 128-bit command (register load and field decode).
    #[serde(default)]
    pub decode_pj_per_command: f64,
    /// The DMA engine's address generation and request of one bus burst.
    #[serde(default)]
    pub dma_pj_per_burst: f64,
}

/// Flip-flops behind one integrated clock gate (the gate's clock energy is that of one
/// flip-flop, shared by this many): synthesis gates register banks of 8-32 bits; 16 is the
/// middle.
pub const FFS_PER_CLOCK_GATE: f64 = 16.0;

impl EnergyTable {
    /// The 45 nm reference table (see the module documentation for sources).
    pub const HOROWITZ_45NM: EnergyTable = EnergyTable {
        mac_pj: 0.3,
        sram_read_pj_per_byte_8kib: 0.0,
        sram_write_pj_per_byte_8kib: 0.0,
        sram_size_exponent: None,
        bus_pj_per_byte: 2.0,
        main_memory_pj_per_byte: 0.0,
        lpddr4_pj_per_byte: 40.0,
        qspi_flash_pj_per_byte: 640.0,
        leakage_uw_per_pe: 1.0,
        leakage_uw_per_kib: 0.0,
        sram_bank_leakage_uw: 0.0,
        agu_pj_per_piece: 0.5,
        dma_slot_pj_per_burst: 0.4,
        vpu_reduce_pj_per_op: 0.1,
        vpu_add_pj_per_op: 6.4,
        ff_clock_pj: 0.0063,
        ff_data_pj: 0.0016,
        clock_tree_pj_per_ff: 0.0024,
        ppu_pj_per_output: 3.5,
        decode_pj_per_command: 1.0,
        dma_pj_per_burst: 0.5,
    };

    /// The 45 nm reference table with the SRAM model's values filled in.
    pub fn reference() -> Self {
        let mut t = Self::HOROWITZ_45NM;
        let r = sram::REFERENCE;
        t.sram_read_pj_per_byte_8kib = sram::read_pj(&r) / r.width_bytes as f64;
        t.sram_write_pj_per_byte_8kib = sram::write_pj(&r) / r.width_bytes as f64;
        t.leakage_uw_per_kib = sram::LEAKAGE[0];
        t.sram_bank_leakage_uw = sram::LEAKAGE[1];
        t
    }

    /// The reference table scaled to `node_nm` (off-chip memories are not scaled).
    pub fn for_node(node_nm: u32) -> Self {
        let f = energy_factor(node_nm);
        let r = Self::reference();
        EnergyTable {
            mac_pj: r.mac_pj * f,
            sram_read_pj_per_byte_8kib: r.sram_read_pj_per_byte_8kib * f,
            sram_write_pj_per_byte_8kib: r.sram_write_pj_per_byte_8kib * f,
            sram_size_exponent: r.sram_size_exponent,
            bus_pj_per_byte: r.bus_pj_per_byte * f,
            main_memory_pj_per_byte: r.main_memory_pj_per_byte * f,
            lpddr4_pj_per_byte: r.lpddr4_pj_per_byte,
            qspi_flash_pj_per_byte: r.qspi_flash_pj_per_byte,
            leakage_uw_per_pe: r.leakage_uw_per_pe * f,
            leakage_uw_per_kib: r.leakage_uw_per_kib * f,
            sram_bank_leakage_uw: r.sram_bank_leakage_uw * f,
            agu_pj_per_piece: r.agu_pj_per_piece * f,
            dma_slot_pj_per_burst: r.dma_slot_pj_per_burst * f,
            vpu_reduce_pj_per_op: r.vpu_reduce_pj_per_op * f,
            vpu_add_pj_per_op: r.vpu_add_pj_per_op * f,
            ff_clock_pj: r.ff_clock_pj * f,
            ff_data_pj: r.ff_data_pj * f,
            clock_tree_pj_per_ff: r.clock_tree_pj_per_ff * f,
            ppu_pj_per_output: r.ppu_pj_per_output * f,
            decode_pj_per_command: r.decode_pj_per_command * f,
            dma_pj_per_burst: r.dma_pj_per_burst * f,
        }
    }

    /// The model's per-byte energy of `m` relative to the reference macro (`f` = read or
    /// write energy per access of the model), with the old size rule when
    /// `sram_size_exponent` is set.
    fn sram_shape(&self, m: &SramMacro, f: fn(&SramMacro) -> f64) -> f64 {
        let r = sram::REFERENCE;
        let per_byte = |m: &SramMacro| f(m) / m.width_bytes.max(1) as f64;
        let base = per_byte(&r);
        if base <= 0.0 {
            return 0.0;
        }
        match self.sram_size_exponent {
            None => per_byte(m) / base,
            Some(x) => {
                let at8 = SramMacro { kib: 8.0, ..*m };
                per_byte(&at8) / base * (m.kib.max(1.0) / 8.0).powf(x)
            }
        }
    }

    /// pJ per byte read from `m` (one access of `width_bytes` costs `width_bytes` x this).
    pub fn sram_read_pj_per_byte(&self, m: &SramMacro) -> f64 {
        self.sram_read_pj_per_byte_8kib * self.sram_shape(m, sram::read_pj)
    }

    /// pJ per byte written to `m`.
    pub fn sram_write_pj_per_byte(&self, m: &SramMacro) -> f64 {
        self.sram_write_pj_per_byte_8kib * self.sram_shape(m, sram::write_pj)
    }

    /// Leakage of `m`, uW: `leakage_uw_per_kib x KiB + sram_bank_leakage_uw x banks`.
    pub fn sram_leakage_uw(&self, m: &SramMacro) -> f64 {
        self.leakage_uw_per_kib * m.kib + self.sram_bank_leakage_uw * m.banks.max(1) as f64
    }

    /// One flip-flop's energy in a cycle its unit works: clock pin, data, clock tree.
    pub fn ff_active_pj(&self) -> f64 {
        self.ff_clock_pj + self.ff_data_pj + self.clock_tree_pj_per_ff
    }

    /// One flip-flop's energy in a cycle its unit idles: the clock pin and the tree
    /// without gating; with gating, its share of one clock gate
    /// ([`FFS_PER_CLOCK_GATE`] flip-flops per gate).
    pub fn ff_idle_pj(&self, clock_gating: bool) -> f64 {
        let clocked = self.ff_clock_pj + self.clock_tree_pj_per_ff;
        if clock_gating {
            clocked / FFS_PER_CLOCK_GATE
        } else {
            clocked
        }
    }
}

/// Vector-unit lane areas at 45 nm (see the module documentation).
const VPU_MAC_LANE_UM2: f64 = 1_780.0;
const VPU_POOL_LANE_UM2: f64 = 7_037.0;
const VPU_ADD_LANE_UM2: f64 = 12_194.0;

/// Area per component, in um^2.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AreaTable {
    /// One processing element (multiplier, adder, registers).
    pub pe_um2: f64,
    /// One post-processing (requantization) lane; the PPU has one lane per column.
    pub ppu_um2_per_col: f64,
    /// One KiB of SRAM cells (the SRAM model's per-KiB term).
    pub sram_um2_per_kib: f64,
    /// The periphery of one SRAM bank (decoders, sense amplifiers, control).
    #[serde(default)]
    pub sram_bank_um2: f64,
    /// The periphery of one SRAM bank per byte of access width (column circuitry).
    #[serde(default)]
    pub sram_bank_um2_per_byte: f64,
    /// Controller and DMA engine.
    pub control_um2: f64,
    /// The im2col address generator (present when `im2col = true`).
    pub agu_um2: f64,
    /// One DMA outstanding-request tracking slot (`dma_outstanding` of them when it is
    /// greater than 1).
    pub dma_slot_um2: f64,
    /// One lane of the vector unit's `MAC` datapath (`depthwise`).
    pub vpu_mac_lane_um2: f64,
    /// One lane of the `SUM`/`MAX` datapath with the divider (`pooling`).
    pub vpu_pool_lane_um2: f64,
    /// One lane of the `ADD` datapath (two 32x32 rescales) (`eltwise`).
    pub vpu_add_lane_um2: f64,
}

impl AreaTable {
    /// Area of SRAM macro `m` at this table's node, um^2 (one port; a second port
    /// multiplies by the SRAM model's two-port factor).
    pub fn sram_um2(&self, m: &SramMacro) -> f64 {
        let banks = m.banks.max(1) as f64;
        let a = self.sram_um2_per_kib * m.kib
            + banks * (self.sram_bank_um2 + self.sram_bank_um2_per_byte * m.width_bytes as f64);
        if m.ports >= 2 {
            a * sram::PORT2_AREA
        } else {
            a
        }
    }

    /// The 45 nm reference table (see the module documentation for sources).
    ///
    /// `pe_um2` and `control_um2` are calibrated by logic synthesis of the `hdl` core
    /// (`tinyaccel hdl area --config edge-8x8 --full`: yosys 0.23 `synth -flatten -top
    /// tinyaccel_core; stat`, cells weighted with NanGate FreePDK45 X1 areas): one PE is
    /// 1688 um^2 (OS) / 1644 um^2 (WS), 2.6x the first-principles 635 um^2; one PPU lane
    /// (32x32->64 multiply, rounding shift, clamp) is ~15,700 um^2. See docs/area.md.
    /// `control_um2` (controller + DMA) stays an assumption until the system RTL exists.
    /// `agu_um2` and `dma_slot_um2` are synthesized from the system RTL's address generator
    /// and tracking FIFO with the same flow (`hdl area --config edge-8x8-conv`).
    pub const REF_45NM: AreaTable = AreaTable {
        pe_um2: 1670.0,
        ppu_um2_per_col: 15_700.0,
        sram_um2_per_kib: sram::AREA[0],
        sram_bank_um2: 0.0,
        sram_bank_um2_per_byte: sram::AREA[1],
        control_um2: 20_000.0,
        agu_um2: 9_308.0,
        dma_slot_um2: 751.0,
        vpu_mac_lane_um2: VPU_MAC_LANE_UM2,
        vpu_pool_lane_um2: VPU_POOL_LANE_UM2,
        vpu_add_lane_um2: VPU_ADD_LANE_UM2,
    };

    /// The reference table scaled to `node_nm`.
    pub fn for_node(node_nm: u32) -> Self {
        let f = area_factor(node_nm);
        let r = Self::REF_45NM;
        AreaTable {
            pe_um2: r.pe_um2 * f,
            ppu_um2_per_col: r.ppu_um2_per_col * f,
            sram_um2_per_kib: r.sram_um2_per_kib * f,
            sram_bank_um2: r.sram_bank_um2 * f,
            sram_bank_um2_per_byte: r.sram_bank_um2_per_byte * f,
            control_um2: r.control_um2 * f,
            agu_um2: r.agu_um2 * f,
            dma_slot_um2: r.dma_slot_um2 * f,
            vpu_mac_lane_um2: r.vpu_mac_lane_um2 * f,
            vpu_pool_lane_um2: r.vpu_pool_lane_um2 * f,
            vpu_add_lane_um2: r.vpu_add_lane_um2 * f,
        }
    }
}
