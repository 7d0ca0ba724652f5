//! `tinyaccel config init`: a configuration written out with every field and a one-line
//! comment each (meaning, unit, range). The text parses back to the same configuration.

use super::{
    AccelConfig, MAX_ARRAY_SIDE, MAX_BANKS, MAX_BUS_LATENCY, MAX_CLOCK_MHZ, MAX_CMD_QUEUE_DEPTH,
    MAX_DMA_OUTSTANDING, MAX_SRAM_KIB, MIN_CLOCK_MHZ,
};
use crate::tables::NODE_TABLE;

/// One line of comment per top-level field, in file order.
fn field_comments() -> Vec<(&'static str, String)> {
    let nodes: Vec<String> = NODE_TABLE.iter().map(|n| n.node_nm.to_string()).collect();
    vec![
        ("name", "Short name for reports and the emitted Verilog (text without control characters; default: the file name).".into()),
        ("rows", format!("Processing-element rows of the systolic array (count, 1..={MAX_ARRAY_SIDE}).")),
        ("cols", format!("Processing-element columns of the systolic array (count, 1..={MAX_ARRAY_SIDE}).")),
        ("dataflow", "Dataflow of the array: output-stationary (os), weight-stationary (ws) or input-stationary (is).".into()),
        ("acc_bits", "Accumulator width (bits; only 32: int8 kernels accumulate in int32).".into()),
        ("input_sram_kib", format!("Input (activation) scratchpad (KiB, 1..={MAX_SRAM_KIB}; half a bank must hold `rows` bytes).")),
        ("input_sram_banks", format!("Banks of the input scratchpad (count, a power of two, 1..={MAX_BANKS}).")),
        ("weight_sram_kib", format!("Weight scratchpad (KiB, 1..={MAX_SRAM_KIB}; half a bank must hold `cols` bytes).")),
        ("weight_sram_banks", format!("Banks of the weight scratchpad (count, a power of two, 1..={MAX_BANKS}).")),
        ("acc_sram_kib", format!("Accumulator scratchpad, int32 entries (KiB, 1..={MAX_SRAM_KIB}; half a bank must hold 4 x `cols` bytes).")),
        ("acc_sram_banks", format!("Banks of the accumulator scratchpad (count, a power of two, 1..={MAX_BANKS}).")),
        ("bus_bytes_per_cycle", "System bus width (bytes per cycle, a power of two, 1..=256).".into()),
        ("bus_latency_cycles", format!("From a DMA burst request to its first beat on the bus (cycles, 0..={MAX_BUS_LATENCY}).")),
        ("clock_mhz", format!("Accelerator clock (MHz, {MIN_CLOCK_MHZ}..={MAX_CLOCK_MHZ}).")),
        ("tech_node_nm", format!("Technology node; selects the energy and area tables (nm: {}).", nodes.join(", "))),
        ("im2col", "Hardware im2col address generator in the load engine (true or false; adds area and energy).".into()),
        ("dma_outstanding", format!("DMA bus requests in flight (count, 1..={MAX_DMA_OUTSTANDING}; 1 = one burst at a time).")),
        ("depthwise", "Vector unit with the depthwise MAC mode: depthwise convs channel-parallel on `rows` lanes (true or false; needs rows <= cols).".into()),
        ("pooling", "Vector unit with the SUM/MAX modes: average and max pooling on the accelerator (true or false; needs rows <= cols).".into()),
        ("eltwise", "Vector unit with the ADD mode: int8 residual add with TFLite's rescale (true or false; needs rows <= cols).".into()),
        ("clock_gating", "Clock gating of idle units (true or false; energy only).".into()),
        ("main_memory", "Memory behind the bus: sram (on-chip), lpddr4 or qspi-flash (weights; energy only).".into()),
        ("main_memory_kib", format!("On-chip system SRAM size (KiB, 1..={}; energy only).", super::MAX_MAIN_MEMORY_KIB)),
        ("cmd_queue_depth", format!("Entries per command queue, filled by the streaming command fetch (0 = unbounded, no fetch time; else a power of two, 2..={MAX_CMD_QUEUE_DEPTH}).")),
    ]
}

fn value_text(v: &toml::Value) -> String {
    toml::Value::to_string(v)
}

impl AccelConfig {
    /// The configuration as a complete, commented TOML file: a header (`header` lines,
    /// each prefixed with `# `), every field with a one-line comment (meaning, unit,
    /// range), and the `[energy]` and `[area]` tables with the node's defaults commented
    /// out (overrides present in the configuration are written as values).
    pub fn to_commented_toml(&self, header: &[String]) -> String {
        let table: toml::Table =
            toml::Table::try_from(self).expect("AccelConfig always serializes to a table");
        let mut out = String::new();
        for h in header {
            out.push_str(&format!("# {h}\n"));
        }
        out.push_str(
            "# Every field below has a one-line comment: meaning (unit, range). A file may \
             instead start\n# from a preset or another file with `base = \"edge-8x8\"` and \
             list only the keys it changes.\n",
        );
        for (key, comment) in field_comments() {
            out.push_str(&format!("\n# {comment}\n"));
            let value = match (key, table.get(key)) {
                (_, Some(v)) => value_text(v),
                ("im2col", None) => self.im2col.to_string(),
                ("dma_outstanding", None) => self.dma_outstanding.to_string(),
                ("depthwise", None) => self.depthwise.to_string(),
                ("pooling", None) => self.pooling.to_string(),
                ("eltwise", None) => self.eltwise.to_string(),
                ("clock_gating", None) => self.clock_gating.to_string(),
                ("main_memory", None) => format!("\"{}\"", self.main_memory.as_str()),
                ("main_memory_kib", None) => self.main_memory_kib.to_string(),
                ("cmd_queue_depth", None) => self.cmd_queue_depth.to_string(),
                (_, None) => continue,
            };
            out.push_str(&format!("{key} = {value}\n"));
        }
        let e = self.energy_table();
        let energy_defaults = [
            ("mac_pj", e.mac_pj, "energy of one int8 MAC (pJ, >= 0)"),
            (
                "sram_read_pj_per_byte_8kib",
                e.sram_read_pj_per_byte_8kib,
                "SRAM read energy of an 8 KiB macro (pJ per byte, >= 0)",
            ),
            (
                "sram_write_pj_per_byte_8kib",
                e.sram_write_pj_per_byte_8kib,
                "SRAM write energy of an 8 KiB macro (pJ per byte, >= 0)",
            ),
            (
                "sram_size_exponent",
                0.5,
                "set to replace the SRAM model's size dependence by (KiB / 8) to this power (>= 0)",
            ),
            (
                "bus_pj_per_byte",
                e.bus_pj_per_byte,
                "system interconnect transfer, without the memory (pJ per byte, >= 0)",
            ),
            (
                "main_memory_pj_per_byte",
                e.main_memory_pj_per_byte,
                "on-chip system SRAM access (pJ per byte, >= 0; default from the SRAM model)",
            ),
            (
                "lpddr4_pj_per_byte",
                e.lpddr4_pj_per_byte,
                "off-chip LPDDR4 access, main_memory = \"lpddr4\" (pJ per byte, >= 0)",
            ),
            (
                "qspi_flash_pj_per_byte",
                e.qspi_flash_pj_per_byte,
                "off-chip QSPI flash read, main_memory = \"qspi-flash\" (pJ per byte, >= 0)",
            ),
            (
                "leakage_uw_per_pe",
                e.leakage_uw_per_pe,
                "static power per PE (uW, >= 0)",
            ),
            (
                "leakage_uw_per_kib",
                e.leakage_uw_per_kib,
                "static power per KiB of SRAM (uW, >= 0)",
            ),
            (
                "sram_bank_leakage_uw",
                e.sram_bank_leakage_uw,
                "static power of one SRAM bank's periphery (uW, >= 0)",
            ),
            (
                "ff_clock_pj",
                e.ff_clock_pj,
                "one flip-flop's clock pin, per cycle (pJ, >= 0)",
            ),
            (
                "ff_data_pj",
                e.ff_data_pj,
                "one flip-flop's data switching per working cycle (pJ, >= 0)",
            ),
            (
                "clock_tree_pj_per_ff",
                e.clock_tree_pj_per_ff,
                "clock tree per flip-flop, per cycle (pJ, >= 0)",
            ),
            (
                "ppu_pj_per_output",
                e.ppu_pj_per_output,
                "PPU requantization of one output (pJ, >= 0)",
            ),
            (
                "decode_pj_per_command",
                e.decode_pj_per_command,
                "controller decode of one command (pJ, >= 0)",
            ),
            (
                "dma_pj_per_burst",
                e.dma_pj_per_burst,
                "DMA address generation and request, per burst (pJ, >= 0)",
            ),
            (
                "agu_pj_per_piece",
                e.agu_pj_per_piece,
                "im2col address generator, per piece (pJ, >= 0)",
            ),
            (
                "dma_slot_pj_per_burst",
                e.dma_slot_pj_per_burst,
                "DMA tracking slot, per burst (pJ, >= 0)",
            ),
            (
                "vpu_reduce_pj_per_op",
                e.vpu_reduce_pj_per_op,
                "vector unit SUM/MAX lane operation (pJ, >= 0)",
            ),
            (
                "vpu_add_pj_per_op",
                e.vpu_add_pj_per_op,
                "vector unit ADD lane operation (pJ, >= 0)",
            ),
        ];
        let a = self.area_table();
        let area_defaults = [
            ("pe_um2", a.pe_um2, "one processing element (um^2, >= 0)"),
            (
                "ppu_um2_per_col",
                a.ppu_um2_per_col,
                "post-processing lane, one per column (um^2, >= 0)",
            ),
            (
                "sram_um2_per_kib",
                a.sram_um2_per_kib,
                "SRAM (um^2 per KiB, >= 0)",
            ),
            (
                "control_um2",
                a.control_um2,
                "controller and DMA (um^2, >= 0)",
            ),
            (
                "sram_bank_um2",
                a.sram_bank_um2,
                "SRAM periphery per bank (um^2, >= 0)",
            ),
            (
                "sram_bank_um2_per_byte",
                a.sram_bank_um2_per_byte,
                "SRAM periphery per bank and byte of line (um^2, >= 0)",
            ),
            (
                "agu_um2",
                a.agu_um2,
                "im2col address generator (um^2, >= 0)",
            ),
            (
                "dma_slot_um2",
                a.dma_slot_um2,
                "one DMA tracking slot (um^2, >= 0)",
            ),
            (
                "vpu_mac_lane_um2",
                a.vpu_mac_lane_um2,
                "vector unit depthwise MAC lane (um^2, >= 0)",
            ),
            (
                "vpu_pool_lane_um2",
                a.vpu_pool_lane_um2,
                "vector unit SUM/MAX/divide lane (um^2, >= 0)",
            ),
            (
                "vpu_add_lane_um2",
                a.vpu_add_lane_um2,
                "vector unit ADD lane (um^2, >= 0)",
            ),
        ];
        for (section, defaults) in [
            ("energy", &energy_defaults[..]),
            ("area", &area_defaults[..]),
        ] {
            let set = table.get(section).and_then(|v| v.as_table());
            out.push_str(&format!(
                "\n# Optional overrides of the {} nm node's {section} table (any subset; the \
                 values shown are the node's).\n",
                self.tech_node_nm
            ));
            out.push_str(&format!(
                "{}[{section}]\n",
                if set.is_some() { "" } else { "# " }
            ));
            for (key, default, comment) in defaults {
                match set.and_then(|t| t.get(*key)) {
                    Some(v) => out.push_str(&format!("{key} = {}  # {comment}\n", value_text(v))),
                    None => out.push_str(&format!(
                        "# {key} = {}  # {comment}\n",
                        value_text(&toml::Value::Float(*default))
                    )),
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_serialized_field_has_a_comment() {
        let names: Vec<&str> = field_comments().iter().map(|(k, _)| *k).collect();
        let mut c = AccelConfig::preset("edge-8x8-conv").unwrap();
        c.energy = Some(Default::default());
        c.area = Some(Default::default());
        let t = toml::Table::try_from(&c).unwrap();
        for k in t.keys() {
            assert!(
                names.contains(&k.as_str()) || k == "energy" || k == "area",
                "{k} has no comment"
            );
        }
    }
}
